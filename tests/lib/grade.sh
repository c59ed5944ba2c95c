#!/usr/bin/env bash
# Grades the lab: runs each lesson's bats tests against the programs in
# build/lessons (the student's code), or build/solutions with SOLUTIONS=1,
# shows every test as it runs, then a score table and a last line
# "N passed, N failed". Exit status 1 when any test failed.
#
#   bash tests/lib/grade.sh [--junit FILE]
#
# Environment: LESSON=NN (one lesson), SOLUTIONS=1, SANITIZE=1 (sanitizer
# builds of the references; any sanitizer report fails the run), VALGRIND=1
# (the clients run under valgrind memcheck; any error or leak fails the run).
# `make check`, `make grade`, `make sanitize` and `make valgrind` call it.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lessons.sh
source "$here/lessons.sh"
# shellcheck source=tests/lib/bats.sh
source "$here/bats.sh"
# shellcheck source=tests/lib/run.sh
source "$here/run.sh"
# shellcheck source=tests/lib/junit.sh
source "$here/junit.sh"
# shellcheck source=tests/lib/report.sh
source "$here/report.sh"
# shellcheck source=tests/lib/learner.sh
source "$here/learner.sh"

junit=""
if [[ ${1:-} == --junit ]]; then
    junit=${2:?--junit needs a file}
fi

# The programs that run under valgrind with VALGRIND=1: the lab's clients.
VALGRIND_PROGRAMS=" http_get hello_client udp_client "

which_programs() {
    if [[ ${SOLUTIONS:-} == 1 || ${SANITIZE:-} == 1 || ${VALGRIND:-} == 1 ]]; then
        echo solutions
    else
        echo lessons
    fi
}

# Folder of wrappers that run each client of a lesson under valgrind and
# links to the other programs.
valgrind_folder() {
    local lesson=$1 logs=$2 folder="$SOCKSTEP_BUILD/valgrind/$1" prog name
    rm -rf "$folder"
    mkdir -p "$folder"
    for prog in "$SOCKSTEP_BUILD/solutions/$lesson"/*; do
        name=${prog##*/}
        if [[ $VALGRIND_PROGRAMS == *" $name "* ]]; then
            cat >"$folder/$name" <<EOF
#!/bin/sh
exec valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,indirect \\
    --show-leak-kinds=definite,indirect --track-fds=no \\
    --error-exitcode=99 --log-file="$logs/$name.%p.log" "$prog" "\$@"
EOF
            chmod +x "$folder/$name"
        else
            ln -s "$prog" "$folder/$name"
        fi
    done
    printf '%s\n' "$folder"
}

# Sanitizer and valgrind reports are written to files: a server's report
# would otherwise vanish with its stderr. Any non-empty file fails the run.
# They are kept in build/grade/reports/ (the run's own folder goes at exit).
check_reports() {
    local logs=$1 what=$2 report kept="$SOCKSTEP_BUILD/grade/reports" found=0
    for report in "$logs"/*; do
        [[ -s $report ]] || continue
        found=1
        mkdir -p "$kept"
        cp "$report" "$kept/"
        echo "FAIL  $what report: ${kept#"$SOCKSTEP_ROOT"/}/${report##*/}"
        sed -n '1,30p' "$report" | sed 's/^/      /'
    done
    return "$found"
}

programs_folder() {
    local lesson=$1 logs=$2
    if [[ ${VALGRIND:-} == 1 ]]; then
        valgrind_folder "$lesson" "$logs"
    else
        printf '%s\n' "$SOCKSTEP_BUILD/$(which_programs)/$lesson"
    fi
}

# report_skips: each distinct reason a test was skipped for, once, with its
# count (a skipped test tested nothing: the reason says what to install).
report_skips() {
    skip_summary "$results_dir"/*.tsv
}

# tested_something PASS FAIL: a grade over no test that ran is no grade.
tested_something() {
    (($1 + $2 > 0)) && return 0
    echo "FAIL  no test ran: there is nothing to grade (see above)"
    return 1
}

main() {
    find_bats || exit 2
    local lessons lesson logs table="" total_pass=0 total_fail=0 total_skip=0
    lessons=$(list_lessons) || exit 2
    # A folder per run, so that two runs at once do not mix their results.
    # (results_dir is global: the EXIT trap removes it.)
    results_dir="$SOCKSTEP_BUILD/grade/run.$$"
    logs="$results_dir/reports"
    mkdir -p "$logs"
    trap 'rm -rf "$results_dir"' EXIT
    if [[ ${SANITIZE:-} == 1 ]]; then
        export ASAN_OPTIONS="log_path=$logs/asan:detect_leaks=1"
        export UBSAN_OPTIONS="log_path=$logs/ubsan:print_stacktrace=1:halt_on_error=1"
        export TSAN_OPTIONS="log_path=$logs/tsan:second_deadlock_stack=1"
    fi
    [[ ${VALGRIND:-} == 1 ]] && export SOCKSTEP_VALGRIND=1

    echo "Grading $(which_programs)/ ${SANITIZE:+(sanitizers) }${VALGRIND:+(valgrind) }with $("$BATS" --version)"
    local runs=()
    for lesson in $lessons; do
        runs+=("$lesson:$(programs_folder "$lesson" "$logs")")
        if [[ ${SANITIZE:-} == 1 && -d $SOCKSTEP_ROOT/build/tsan/solutions/$lesson ]]; then
            runs+=("$lesson:$SOCKSTEP_ROOT/build/tsan/solutions/$lesson")
        fi
    done

    local run programs label pass fail skip n=0
    for run in "${runs[@]}"; do
        lesson=${run%%:*}
        programs=${run#*:}
        label=$lesson
        [[ $programs == */tsan/* ]] && label="$lesson (tsan)"
        n=$((n + 1))
        echo
        echo "== $label"
        run_lesson_tests "$lesson" "$programs" "$results_dir/$n-$lesson.tsv"
        pass=$(count_results "$results_dir/$n-$lesson.tsv" ok)
        fail=$(count_results "$results_dir/$n-$lesson.tsv" fail)
        skip=$(count_results "$results_dir/$n-$lesson.tsv" skip)
        # The student's score is remembered; a green lesson shows its reference.
        [[ $(which_programs) == lessons ]] && after_lesson "$lesson" "$results_dir/$n-$lesson.tsv"
        table+=$(printf '%-26s %6s %6s %7s %6s' "$label" "$pass" "$fail" "$skip" "$((pass + fail + skip))")$'\n'
        total_pass=$((total_pass + pass))
        total_fail=$((total_fail + fail))
        total_skip=$((total_skip + skip))
    done

    if [[ ${SANITIZE:-} == 1 ]]; then
        check_reports "$logs" sanitizer || total_fail=$((total_fail + 1))
    elif [[ ${VALGRIND:-} == 1 ]]; then
        check_reports "$logs" valgrind || total_fail=$((total_fail + 1))
    fi

    echo
    printf '%-26s %6s %6s %7s %6s\n' lesson passed failed skipped total
    printf '%s' "$table"
    if [[ -n $junit ]]; then
        write_junit "$junit" "$results_dir"
        echo "JUnit report: ${junit#"$SOCKSTEP_ROOT"/}"
    fi
    # More reports from the same results: SOCKSTEP_REPORTS (tests/lib/report.sh).
    write_reports "$results_dir" || total_fail=$((total_fail + 1))
    if ((total_fail > 0)) && [[ $(which_programs) == lessons ]]; then
        echo "Next: read the first FAIL above; its name says which step of the lesson it checks."
    fi
    report_skips
    tested_something "$total_pass" "$total_fail" || total_fail=$((total_fail + 1))
    echo "$total_pass passed, $total_fail failed, $total_skip skipped"
    ((total_fail == 0))
}

main "$@"
