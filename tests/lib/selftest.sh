#!/usr/bin/env bash
# The maintainers' self-test behind `make test`: proves the tests test
# something. For every lesson (LESSON=NN for one):
#   1. every test passes against the reference in solutions/;
#   2. every test name says its step ("step N: ..."), the committed
#      starter is what `make starters` makes of the reference, and for every
#      TODO(step N) left in the starter, at least one "step N:" test fails
#      against the starter (build/lessons/, as committed);
#   3. the ladder: for every step N, the reference with only the steps
#      after N cut builds warning-free and passes every test of steps 1-N;
#   4. every known-bad program in tests/mutants/ fails at least one test;
# then the lab's own tools (every tests/harness/*.bats: grading, reports,
# the learner's commands), and the fast quality gates (lint, fuzz corpus
# replay) when present. LESSON=harness runs only the tools' tests;
# `selftest.sh ladder NN` only the ladder of lesson NN.
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

# check_starter LESSON: every TODO(step N) of the starter fails a test of
# step N. The proof needs one failure per step, so a step's first tests run
# one at a time until one fails, and the rest together only when the first
# six pass (a student's `make check` runs them all; against a starter
# many of them wait out their time limits).
check_starter() {
    local lesson=$1 results="$work/$1.starter.tsv" steps step names caught i
    steps=$(starter_steps "$lesson")
    if [[ -z $steps ]]; then
        flunk "$lesson: the starter in lessons/$lesson has no TODO(step N)"
        return
    fi
    : >"$results"
    for step in $steps; do
        mapfile -t names < <(step_test_names "$lesson" "$step")
        caught=""
        for ((i = 0; i < ${#names[@]} && i < 6; i++)); do
            caught=$(starter_failure "$lesson" "$results" "${names[i]}")
            [[ -z $caught ]] || break
        done
        if [[ -z $caught && ${#names[@]} -gt 6 ]]; then
            caught=$(starter_failure "$lesson" "$results" "${names[@]:6}")
        fi
        if [[ -n $caught ]]; then
            pass "$lesson: step $step left undone fails: $caught"
        else
            flunk "$lesson: no 'step $step:' test fails against the starter (TODO(step $step))"
        fi
    done
}

# step_test_names LESSON N: the names of the tests of step N, in file order,
# as written (a quote inside a name keeps its backslash).
step_test_names() {
    sed -n -E "s/^@test \"(step $2: ([^\"\\\\]|\\\\.)*)\" \{.*/\1/p" "$SOCKSTEP_ROOT/tests/$1.bats"
}

# names_filter NAME...: a bats filter matching exactly these test names (an
# escaped quote matches with or without its backslash, as bats versions
# differ in which of the two they match).
names_filter() {
    local name out=""
    for name in "$@"; do
        out+="|$(printf '%s' "$name" | sed -e 's/[][\\.^$*+?(){}|/]/\\&/g' -e 's/\\\\"/\\\\?"/g')"
    done
    printf '^(%s)$' "${out#|}"
}

# starter_failure LESSON RESULTS NAME...: runs the named tests against the
# starter, adds their rows to RESULTS, and prints the first that failed.
starter_failure() {
    local lesson=$1 results=$2 part="$work/$1.starter.part"
    shift 2
    TEST_FILTER=$(names_filter "$@") run_lesson_tests "$lesson" "$SOCKSTEP_BUILD/lessons/$lesson" "$part" quiet && :
    cat "$part" >>"$results"
    test_failures "$part" | head -n 1
}

# check_starter_source LESSON: the committed starters are what
# `make starters` makes of the references (tests/steps/).
check_starter_source() {
    local lesson=$1
    if LESSON=$lesson bash "$here/steps.sh" check >"$work/$lesson.starters.log" 2>&1; then
        pass "$lesson: the starters are what 'make starters' makes of the references"
    else
        flunk "$lesson: a starter differs from its source (edit the reference and tests/steps/, then make starters)" \
            "$(head -n 30 "$work/$lesson.starters.log")"
    fi
}

# rung_filter LESSON N: a bats filter for the tests a rung runs: every test of
# steps 1 to N, but a heavy one (tagged `# bats test_tags=heavy`: much
# traffic, or seconds of waiting) only on its own step's rung; the
# reference runs them all.
rung_filter() {
    local lesson=$1 n=$2 k names=() heavy
    heavy=$(heavy_tests "$lesson")
    for ((k = 1; k <= n; k++)); do
        mapfile -t -O "${#names[@]}" names < <(step_test_names "$lesson" "$k" |
            if ((k < n)); then grep -vxF -f <(printf '%s\n' "$heavy" "//none//"); else cat; fi)
    done
    names_filter "${names[@]}"
}

# heavy_note LESSON N: how many heavy tests of earlier steps the rung left
# to their own rungs, for its ok line.
heavy_note() {
    local k count=0
    for ((k = 1; k < $2; k++)); do
        count=$((count + $(step_test_names "$1" "$k" | grep -cxF -f <(heavy_tests "$1"; echo "//none//")))) || true
    done
    ((count == 0)) || printf ' (and %d heavy one(s) of earlier steps on their own rungs)' "$count"
}

# heavy_tests LESSON: the names of the tests tagged heavy.
heavy_tests() {
    awk '/^# bats test_tags=(.*,)? *heavy *(,.*)?$/ { tagged = 1; next }
        tagged && match($0, /^@test "([^"\\]|\\.)*"/) { print substr($0, 8, RLENGTH - 8) }
        { tagged = 0 }' "$SOCKSTEP_ROOT/tests/$1.bats"
}

# write_rung LESSON N FOLDER: FOLDER/<prog>.c for each program, the rung
# after step N (rewritten only when it changed, so make rebuilds only what
# did); fails when a step patch does not apply.
write_rung() {
    local lesson=$1 n=$2 folder=$3 prog
    mkdir -p "$folder"
    for prog in $(bash "$here/steps.sh" programs "$lesson"); do
        bash "$here/steps.sh" rung "$lesson" "$prog" "$n" "$folder/$prog.c.new" || return 1
        if cmp -s "$folder/$prog.c.new" "$folder/$prog.c"; then
            rm -f "$folder/$prog.c.new"
        else
            mv "$folder/$prog.c.new" "$folder/$prog.c"
        fi
    done
}

# check_ladder LESSON: for each step N but the last, the program as a
# student has it after step N (the reference with the steps after N cut)
# builds warning-free and passes every test of steps 1 to N: a test named
# for step N that needs a later step fails here. A rung listed in
# tests/steps/LESSON/pending ("N: why") is built but its tests are not run
# (a skip, with the reason): the rungs whose code is still to be written.
check_ladder() {
    local lesson=$1 steps top n folder results prog targets total why
    steps=$(bash "$here/steps.sh" steps "$lesson")
    top=$(tail -n 1 <<<"$steps")
    for n in $steps; do
        ((n < top)) || continue
        folder="$SOCKSTEP_BUILD/steps/$lesson/step-$n"
        if ! write_rung "$lesson" "$n" "$folder" 2>"$work/$lesson.rung.log"; then
            flunk "$lesson: after step $n: the step patches do not apply" "$(cat "$work/$lesson.rung.log")"
            continue
        fi
        targets=()
        for prog in $(bash "$here/steps.sh" programs "$lesson"); do
            targets+=("$folder/$prog")
        done
        if ! make -C "$SOCKSTEP_ROOT" --no-print-directory WERROR=1 BUILD="$SOCKSTEP_BUILD" \
            "${targets[@]}" >"$work/$lesson.rung.log" 2>&1; then
            flunk "$lesson: after step $n: does not build warning-free" \
                "$(grep -E 'error|warning' "$work/$lesson.rung.log" | head -n 8)"
            continue
        fi
        why=$(sed -n -E "s/^$n: //p" "$SOCKSTEP_ROOT/tests/steps/$lesson/pending" 2>/dev/null)
        if [[ -n $why ]]; then
            skipped_check "$lesson: after step $n: builds warning-free; its tests are not run yet: $why"
            continue
        fi
        results="$work/$lesson.step-$n.tsv"
        TEST_FILTER=$(rung_filter "$lesson" "$n") run_lesson_tests "$lesson" "$folder" "$results" quiet && :
        total=$(wc -l <"$results" | tr -d ' ')
        if [[ $(count_results "$results" fail) == 0 && $total -gt 0 ]]; then
            pass "$lesson: after step $n: builds warning-free and passes all $total tests of steps 1-$n$(heavy_note "$lesson" "$n")"
        else
            flunk "$lesson: after step $n: fails $(count_results "$results" fail) of $total tests of steps 1-$n (a test that needs a later step is named for the wrong step)" \
                "$(failure_details "$results")"
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

# names_a_test LESSON FILTER: whether FILTER matches a test of the lesson.
names_a_test() {
    local name
    [[ -n $2 ]] || return 1
    while IFS= read -r name; do
        [[ ! $name =~ $2 ]] || return 0
    done < <(sed -n -E 's/^@test "(([^"\\]|\\.)*)" \{.*/\1/p' "$SOCKSTEP_ROOT/tests/$1.bats")
    return 1
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
    # From the patches, not the build folder: a mutant renamed or removed
    # leaves its old build behind.
    for source in "$SOCKSTEP_ROOT/tests/mutants/$lesson"/*--*.patch; do
        [[ -f $source ]] || continue
        slug=${source##*--}
        slug=${slug%.patch}
        mutant="$SOCKSTEP_BUILD/mutants/$lesson/$slug/"
        results="$work/$lesson.mutant-$slug.tsv"
        if ! names_a_test "$lesson" "$(expected_catcher "$source")"; then
            flunk "$lesson: mutant '$slug': its header names no test of the lesson after 'Caught by:'" \
                "(name the test that catches it, in full, in quotes, on the line of 'Caught by:': make test runs that test first)"
            continue
        fi
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

# check_harness FILE: every test of one tests/harness/*.bats file passes.
# These test the lab's own tools (the grader, its reports, the learner's
# commands) rather than a lesson's program, so they run once, not per
# program.
check_harness() {
    local file=$1 name results total
    name=$(basename "$file" .bats)
    results="$work/harness.$name.tsv"
    run_bats_file "$file" "$SOCKSTEP_BUILD/solutions" "$results" quiet
    total=$(wc -l <"$results" | tr -d ' ')
    # A tool this machine cannot run is skipped whole, with the reason (a
    # lesson's program is never: the grader fails a lesson whose every test
    # skipped).
    if [[ $(count_results "$results" fail) == 1 && $(count_results "$results" ok) == 0 &&
        $(run_failures "$results") == "the test run: every test was skipped"* ]]; then
        skipped_check "harness/$name: every test skipped: $(awk -F'\t' '$1 == "skip" { print $4; exit }' "$results" | xargs head -n 1)"
        return
    fi
    if [[ $(count_results "$results" fail) == 0 ]]; then
        pass "harness/$name: all $total tests pass ($(count_results "$results" skip) skipped)"
    else
        flunk "harness/$name: $(count_results "$results" fail) of $total tests fail" \
            "$(failure_details "$results")"
    fi
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

# A lesson is three units, which can run at once: its reference and
# starter, its ladder, its mutants (their lines follow in that order).
check_lesson() {
    local lesson=$1
    echo
    echo "== $lesson"
    check_test_names "$lesson"
    check_solutions "$lesson"
    check_starter_source "$lesson"
    check_starter "$lesson"
}

check_harness_file() {
    local file="$SOCKSTEP_ROOT/tests/harness/$1.bats"
    [[ ${2:-} != first ]] || printf '\n== harness\n'
    check_harness "$file"
}

check_gates() {
    echo
    echo "== gates"
    check_gate lint bash tests/gates/lint.sh
    check_gate "fuzz corpus replay" bash tests/gates/fuzz.sh --replay
}

# ---------------------------------------------------------------- the run
# A unit (a lesson, a file of tool tests, the gates) shares nothing with the
# others, so JOBS of them run at once (default: one per core; JOBS=1 runs
# them one after another). Each writes its lines to a file of its own, and
# its counts last; the files are shown in order, so the output reads the
# same whatever JOBS is.

units=()

plan_units() {
    local lesson file first=first
    if [[ ${LESSON:-} != harness ]]; then
        for lesson in $(list_lessons) ; do
            units+=("check_lesson $lesson" "check_ladder $lesson" "check_mutants $lesson")
        done
    fi
    if [[ -z ${LESSON:-} || ${LESSON:-} == harness ]]; then
        for file in "$SOCKSTEP_ROOT"/tests/harness/*.bats; do
            [[ -f $file ]] || continue
            units+=("check_harness_file $(basename "$file" .bats) $first")
            first=""
        done
    fi
    [[ -n ${LESSON:-} ]] || units+=(check_gates)
}

# run_unit N: runs unit N, its output in unit.N.out, its counts in unit.N.count.
run_unit() {
    local n=$1
    # shellcheck disable=SC2030 # each unit counts in a subshell of its own, on purpose
    (
        passed=0 failed=0 skipped=0
        began=$SECONDS
        # shellcheck disable=SC2086 # a unit is a function and its words
        ${units[n]}
        cpu_seconds >"$work/unit.$n.cpu"
        printf '%s\t%s\t%s\n' "$((SECONDS - began))" "$(cat "$work/unit.$n.cpu")" "${units[n]}" >"$work/unit.$n.seconds"
        printf '%s %s %s\n' "$passed" "$failed" "$skipped" >"$work/unit.$n.count"
    ) >"$work/unit.$n.out" 2>&1
}

# cpu_seconds: the processor time (user and system) this shell's finished
# children used, in whole seconds: a part's cost whatever else runs (called
# without $(...), whose own subshell would have no children).
cpu_seconds() {
    local user system
    times >"$work/times.$BASHPID"
    { read -r _ _ && read -r user system; } <"$work/times.$BASHPID"
    rm -f "$work/times.$BASHPID"
    awk -v u="$user" -v s="$system" '
        function sec(t, m) { m = t; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", t); sub(/s$/, "", t); return m * 60 + t }
        BEGIN { printf "%d\n", sec(u) + sec(s) + 0.5 }'
}

# show_unit N: prints unit N's lines and adds its counts to the totals.
show_unit() {
    local n=$1 p f s
    cat "$work/unit.$n.out"
    if read -r p f s <"$work/unit.$n.count" 2>/dev/null; then
        # shellcheck disable=SC2031 # the unit's own counts, read back from its file
        passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
    else
        flunk "${units[n]}: did not finish (see the lines above)"
    fi
}

# unit_cost N: a rough cost of unit N, so that the long units start first
# and the run ends sooner: its seconds in the last run when known
# (build/selftest/parts.tsv), else a guess from the tests it runs (a tool
# test file can say "# make test: about N s").
unit_cost() {
    local words last
    last=$(awk -F'\t' -v unit="${units[$1]}" '$3 == unit { print $1; exit }' \
        "$SOCKSTEP_BUILD/selftest/parts.tsv" 2>/dev/null)
    if [[ -n $last ]]; then
        echo "$last"
        return
    fi
    read -ra words <<<"${units[$1]}"
    local file="$SOCKSTEP_ROOT/tests/${words[1]:-}.bats" tests=0
    case ${words[0]} in
    check_lesson | check_ladder | check_mutants)
        tests=$(grep -c '^@test ' "$SOCKSTEP_ROOT/tests/${words[1]}.bats")
        ;;
    check_harness_file)
        file="$SOCKSTEP_ROOT/tests/harness/${words[1]}.bats"
        tests=$(grep -c '^@test ' "$file")
        last=$(sed -n -E 's/^# make test: about ([0-9]+) s.*/\1/p' "$file" | head -n 1)
        ;;
    esac
    case ${words[0]} in
    check_lesson) echo "$tests" ;;
    check_ladder) echo $((tests * $(bash "$here/steps.sh" steps "${words[1]}" | wc -l) / 2)) ;;
    check_mutants) echo $((tests * $(compgen -G "$SOCKSTEP_ROOT/tests/mutants/${words[1]}/*.patch" | wc -l) / 4)) ;;
    check_harness_file) echo "${last:-$((tests * 2))}" ;;
    *) echo 60 ;;
    esac
}

# run_units JOBS MAX: runs the units, the costliest first, JOBS at a time,
# and up to MAX while the processors are more than a tenth idle (most
# parts spend most of their time waiting on time limits and the network).
run_units() {
    local jobs=$1 max=$2 shown=0 running=0 k=0 n=${#units[@]} i order=()
    mapfile -t order < <(for ((i = 0; i < n; i++)); do echo "$(unit_cost "$i") $i"; done |
        sort -k1,1rn -k2,2n | cut -d' ' -f2)
    cpu_idle_percent >/dev/null
    while ((shown < n)); do
        while ((running < jobs && k < n)); do
            run_unit "${order[k]}" &
            running=$((running + 1)) k=$((k + 1))
        done
        # One more at most each second, as the last second's idle time says.
        if ((running < max && k < n)) && (($(cpu_idle_percent) > 10)); then
            run_unit "${order[k]}" &
            running=$((running + 1)) k=$((k + 1))
        fi
        if ((max > jobs && k < n)); then
            sleep 1 # to look at the processors again
        elif ((running > 0)); then
            wait -n 2>/dev/null || true
        fi
        running=$(jobs -rp | wc -l)
        # In order: a unit is shown once it and every one before it ended.
        while ((shown < n)) && { [[ -f $work/unit.$shown.count ]] || ((k == n && running == 0)); }; do
            show_unit "$shown"
            shown=$((shown + 1))
        done
    done
}

# cpu_idle_percent: how idle the processors were since the last call (Linux
# /proc/stat; 0, so that no unit is added, elsewhere). The last counts are
# kept in a file: the caller's loop runs in this shell, the call in $(...).
cpu_idle_percent() {
    local fields total=0 idle last_total last_idle i
    read -ra fields </proc/stat 2>/dev/null || fields=()
    if [[ ${fields[0]:-} != cpu || ${#fields[@]} -lt 6 ]]; then
        echo 0
        return
    fi
    for ((i = 1; i < ${#fields[@]}; i++)); do
        total=$((total + fields[i]))
    done
    idle=$((fields[4] + fields[5]))
    read -r last_total last_idle 2>/dev/null <"$work/cpu.last" || { last_total=0 last_idle=0; }
    echo "$total $idle" >"$work/cpu.last"
    if ((total > last_total)); then
        echo $((100 * (idle - last_idle) / (total - last_total)))
    else
        echo 0
    fi
}

# report_timing: the ten slowest tests of the whole run, so that the next
# slow test is seen, and the longest parts (they bound the run's time).
# Every part and every test are kept in build/selftest/parts.tsv (the
# parts of earlier runs too: the next run starts the long ones first) and
# tests.tsv, slowest first.
report_timing() {
    local f
    cat "$work"/unit.*.seconds 2>/dev/null | sort -t$'\t' -k1,1rn >"$work/parts.list"
    # The parts this run did not run keep their last figures (unit_cost).
    cat "$work/parts.list" "$SOCKSTEP_BUILD/selftest/parts.tsv" 2>/dev/null |
        awk -F'\t' '!seen[$3]++' | sort -t$'\t' -k1,1rn >"$work/parts.all"
    mv "$work/parts.all" "$SOCKSTEP_BUILD/selftest/parts.tsv"
    head -n 5 "$work/parts.list" |
        awk -F'\t' 'NR == 1 { print "The longest parts (seconds, and processor seconds):" } { printf "  %7d %5d  %s\n", $1, $2, $3 }'
    awk -F'\t' '{ wall += $1; cpu += $2 } END { printf "All parts: %d s one after another, %d processor seconds\n", wall, cpu }' \
        "$work/parts.list"
    for f in "$work"/*.tsv; do
        [[ -f $f ]] && awk -F'\t' -v run="$(basename "$f" .tsv)" '{ print $2 "\t" run ": " $3 }' "$f"
    done | sort -t$'\t' -k1,1 -rn >"$SOCKSTEP_BUILD/selftest/tests.tsv"
    head -n 10 "$SOCKSTEP_BUILD/selftest/tests.tsv" |
        awk -F'\t' 'NR == 1 { print "The ten slowest tests (seconds):" } { printf "  %7.2f  %s\n", $1, $2 }'
}

main() {
    find_bats || exit 2
    local jobs=${JOBS:-} max cores
    cores=$(nproc 2>/dev/null || echo 1)
    if [[ $jobs =~ ^[1-9][0-9]*$ ]]; then
        max=$jobs
    else
        jobs=$cores max=$((3 * cores))
    fi
    [[ ${LESSON:-} == harness ]] || list_lessons >/dev/null || exit 2
    mkdir -p "$work"
    plan_units
    if ((max > jobs)); then
        echo "Self-test with $("$BATS" --version), CC=${CC:-cc}: ${#units[@]} parts, $jobs at a time, up to $max while the processors are idle (JOBS=N for N at a time)"
    else
        echo "Self-test with $("$BATS" --version), CC=${CC:-cc}: ${#units[@]} parts, $jobs at a time (JOBS=N to change)"
    fi
    local started=$SECONDS
    run_units "$jobs" "$max"
    echo
    report_timing
    echo
    report_skips
    echo "selftest took $((SECONDS - started)) s"
    if ((skipped > 0)); then
        echo "selftest: $passed passed, $failed failed, $skipped skipped"
    else
        echo "selftest: $passed passed, $failed failed"
    fi
    ((failed == 0))
}

# ladder LESSON: only the ladder of one lesson (selftest.sh ladder NN).
ladder_only() {
    find_bats || exit 2
    local lesson
    lesson=$(LESSON=$1 list_lessons) || exit 2
    mkdir -p "$work"
    check_ladder "$lesson"
    echo "ladder: $passed passed, $failed failed, $skipped skipped"
    ((failed == 0))
}

cd "$SOCKSTEP_ROOT" || exit 2
if [[ ${1:-} == ladder ]]; then
    ladder_only "${2:?selftest.sh ladder LESSON}"
else
    main "$@"
fi
