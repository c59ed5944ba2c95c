#!/usr/bin/env bash
# The maintainers' self-test behind `make test`: proves the tests test
# something. For every lesson (LESSON=NN for one):
#   1. every test passes against the reference in solutions/;
#   2. every test name says its step ("step N: ..."), and for every
#      TODO(step N) left in the starter, at least one "step N:" test fails
#      against the starter (build/lessons/, as committed);
#   3. every known-bad program in tests/mutants/ fails at least one test;
# then the lab's own tools (every tests/harness/*.bats: grading, reports,
# the learner's commands), and the fast quality gates (lint, fuzz corpus
# replay) when present. LESSON=harness runs only the tools' tests.
# Last line: "N passed, N failed" over all those checks.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/lessons.sh
source "$here/lessons.sh"
# shellcheck source=tests/lib/bats.sh
source "$here/bats.sh"
# shellcheck source=tests/lib/run.sh
source "$here/run.sh"

passed=0
failed=0
skipped=0
# A folder per run, so that two runs at once do not mix their results.
work="$SOCKSTEP_BUILD/selftest/run.$$"
trap 'rm -rf "$work"' EXIT

pass() {
    passed=$((passed + 1))
    printf '  ok    %s\n' "$1"
}

skipped_check() {
    skipped=$((skipped + 1))
    printf '  skip  %s\n' "$1"
}

flunk() {
    failed=$((failed + 1))
    printf '  FAIL  %s\n' "$1"
    [[ -z ${2:-} ]] || printf '%s\n' "$2" | sed 's/^/          /'
}

# Names of the tests of RESULTS with STATUS, one per line.
tests_with_status() {
    awk -F'\t' -v s="$2" '$1 == s { print $3 }' "$1"
}

# Names of the tests of RESULTS that failed, leaving out the rows that say
# the run itself went wrong (run_failures): those catch nothing.
test_failures() {
    tests_with_status "$1" fail | grep -vxF -f <(run_failures "$1"; echo "//none//")
}

failure_details() {
    local results=$1 name diag
    while IFS=$'\t' read -r status _ name diag; do
        [[ $status == fail ]] || continue
        echo "$name"
        [[ -f $diag ]] && sed -n '1,12p' "$diag" | sed 's/^/    /'
    done <"$results"
}

check_solutions() {
    local lesson=$1 results="$work/$1.solution.tsv" total
    run_lesson_tests "$lesson" "$SOCKSTEP_BUILD/solutions/$lesson" "$results" quiet
    total=$(wc -l <"$results" | tr -d ' ')
    if [[ $(count_results "$results" fail) == 0 ]]; then
        pass "$lesson: the reference passes all $total tests ($(count_results "$results" skip) skipped)"
    else
        flunk "$lesson: the reference fails $(count_results "$results" fail) of $total tests" \
            "$(failure_details "$results")"
    fi
}

check_test_names() {
    local lesson=$1 unnamed
    unnamed=$(grep -E '^@test ' "$SOCKSTEP_ROOT/tests/$lesson.bats" |
        grep -vE '^@test "step [0-9]+: ') || true
    if [[ -z $unnamed ]]; then
        pass "$lesson: every test name starts with its step"
    else
        flunk "$lesson: tests without a 'step N: ' name" "$unnamed"
    fi
}

check_starter() {
    local lesson=$1 results="$work/$1.starter.tsv" steps step caught
    steps=$(starter_steps "$lesson")
    if [[ -z $steps ]]; then
        flunk "$lesson: the starter in lessons/$lesson has no TODO(step N)"
        return
    fi
    run_lesson_tests "$lesson" "$SOCKSTEP_BUILD/lessons/$lesson" "$results" quiet
    for step in $steps; do
        caught=$(tests_with_status "$results" fail | grep -c "^step $step: ") || true
        if ((caught > 0)); then
            pass "$lesson: step $step left undone fails $caught test(s)"
        else
            flunk "$lesson: no 'step $step:' test fails against the starter (TODO(step $step))"
        fi
    done
}

# The test a mutant's header names after "Caught by" (the first one, quoted or
# up to the end of the line), as a regular expression for bats --filter.
expected_catcher() {
    awk '
        !found && /Caught by:? *"?step [0-9]+: / {
            name = $0
            sub(/.*Caught by:? */, "", name)
            anchor = "$"
            if (name ~ /^"/) {
                name = substr(name, 2)
                if (index(name, "\"")) name = substr(name, 1, index(name, "\"") - 1)
                else anchor = ""
            } else {
                sub(/ *\*\/ *$/, "", name)
            }
            print name "\t" anchor
            found = 1
        }' "$1" |
        sed -e 's/[][\\.^$*+?(){}|/]/\\&/g' -e 's/^/^/' -e 's/\\\$$/$/' -e 's/\t//'
}

# run_mutant LESSON FOLDER SOURCE RESULTS: runs the test the mutant's header
# names first (fast), and the whole file when that one does not catch it.
run_mutant() {
    local lesson=$1 folder=$2 source=$3 results=$4 catcher
    catcher=$(expected_catcher "$source")
    if [[ -n $catcher ]]; then
        TEST_FILTER=$catcher run_lesson_tests "$lesson" "$folder" "$results" quiet && :
        [[ -n $(test_failures "$results") ]] && return
    fi
    run_lesson_tests "$lesson" "$folder" "$results" quiet
}

check_mutants() {
    local lesson=$1 mutant slug results caught source
    for mutant in "$SOCKSTEP_BUILD/mutants/$lesson"/*/; do
        [[ -d $mutant ]] || continue
        slug=$(basename "$mutant")
        source=$(compgen -G "$SOCKSTEP_ROOT/tests/mutants/$lesson/*--$slug.patch" | head -n 1)
        results="$work/$lesson.mutant-$slug.tsv"
        run_mutant "$lesson" "${mutant%/}" "$source" "$results"
        caught=$(test_failures "$results")
        if [[ -n $(run_failures "$results") ]]; then
            flunk "$lesson: mutant '$slug': $(run_failures "$results" | head -n 1)" \
                "$(failure_details "$results")"
        elif [[ -n $caught ]]; then
            pass "$lesson: mutant '$slug' is caught by: $(head -n 3 <<<"$caught" | paste -sd ';' - | sed 's/;/; /g')"
        else
            flunk "$lesson: mutant '$slug' passes every test"
        fi
    done
}

# check_gate NAME SCRIPT ARGS...: a gate passes, fails, or is skipped when
# its tools are missing. A gate says so in its last line:
# "NAME: skipped (TOOL, TOOL not installed)" when nothing ran, or
# "... part skipped (TOOL not installed)" when some of it did.
check_gate() {
    local name=$1 last why
    shift
    if [[ ! -f $SOCKSTEP_ROOT/${2:-$1} ]]; then
        return
    fi
    if "$@" >"$work/gate.log" 2>&1; then
        last=$(tail -n 1 "$work/gate.log")
        why=$(gate_skip_reason "$last")
        if [[ -z $why ]]; then
            pass "gate: $name"
        elif [[ $last == *"part skipped ("* ]]; then
            pass "gate: $name, part skipped ($why)"
        else
            skipped_check "gate: $name: skipped ($why)"
        fi
    else
        flunk "gate: $name" "$(tail -n 25 "$work/gate.log")"
    fi
}

# gate_skip_reason LINE: the "(...)" after "skipped" in a gate's last line.
gate_skip_reason() {
    [[ $1 == *"skipped ("*")" ]] || return 0
    local why=${1##*skipped (}
    printf '%s\n' "${why%)}"
}

# check_harness: every test of every tests/harness/*.bats file passes. These
# test the lab's own tools (the grader, its reports, the learner's commands)
# rather than a lesson's program, so they run once, not per program.
check_harness() {
    local file name results total
    for file in "$SOCKSTEP_ROOT"/tests/harness/*.bats; do
        [[ -f $file ]] || continue
        name=$(basename "$file" .bats)
        results="$work/harness.$name.tsv"
        run_bats_file "$file" "$SOCKSTEP_BUILD/solutions" "$results" quiet
        total=$(wc -l <"$results" | tr -d ' ')
        if [[ $(count_results "$results" fail) == 0 ]]; then
            pass "harness/$name: all $total tests pass ($(count_results "$results" skip) skipped)"
        else
            flunk "harness/$name: $(count_results "$results" fail) of $total tests fail" \
                "$(failure_details "$results")"
        fi
    done
}

# report_skips: why tests were skipped in the references' and the tools'
# runs, each distinct reason once (the starters and mutants skip the same).
report_skips() {
    local files=("$work"/*.solution.tsv "$work"/harness.*.tsv) present=() f
    for f in "${files[@]}"; do
        [[ -f $f ]] && present+=("$f")
    done
    ((${#present[@]} > 0)) || return 0
    skip_summary "${present[@]}"
}

main() {
    find_bats || exit 2
    local lessons="" lesson
    if [[ ${LESSON:-} != harness ]]; then
        lessons=$(list_lessons) || exit 2
    fi
    mkdir -p "$work"
    echo "Self-test with $("$BATS" --version), CC=${CC:-cc}"
    for lesson in $lessons; do
        echo
        echo "== $lesson"
        check_test_names "$lesson"
        check_solutions "$lesson"
        check_starter "$lesson"
        check_mutants "$lesson"
    done
    if [[ -z ${LESSON:-} || ${LESSON:-} == harness ]] && compgen -G "$SOCKSTEP_ROOT/tests/harness/*.bats" >/dev/null; then
        echo
        echo "== harness"
        check_harness
    fi
    if [[ -z ${LESSON:-} ]]; then
        echo
        echo "== gates"
        check_gate lint bash tests/gates/lint.sh
        check_gate "fuzz corpus replay" bash tests/gates/fuzz.sh --replay
    fi
    echo
    report_skips
    if ((skipped > 0)); then
        echo "selftest: $passed passed, $failed failed, $skipped skipped"
    else
        echo "selftest: $passed passed, $failed failed"
    fi
    ((failed == 0))
}

cd "$SOCKSTEP_ROOT" || exit 2
main "$@"
