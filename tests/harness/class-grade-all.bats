#!/usr/bin/env bats
# make grade-all on a folder of hostile submissions built from the lab
# itself (tests/harness/class.bash): the reference, the starter, two mutants,
# a file that does not compile, a server that never exits, a fork bomb, a
# flood of output, a process that holds 127.0.0.1:9999, and one that tries
# to delete the grading folder. Graded with JOBS=4, and the four that are
# not hostile graded again alone (JOBS=1), in setup_file (the tests below
# read the results), under small limits. How much faster JOBS=4 is, is
# measured by make bench (tests/bench/grade-all.sh), not here.

# Run by hand, the lab is two folders up.
: "${SOCKSTEP_ROOT:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
: "${SOCKSTEP_BUILD:=$SOCKSTEP_ROOT/build}"
export SOCKSTEP_ROOT SOCKSTEP_BUILD
# make test: about 120 s (its parts start first).
load '../lib/common'
load_assertions
load 'class'

setup_file() {
    # (Each test skips then, in setup: bats cannot skip a whole file here.)
    [[ -z $(class_cannot_contain) ]] || return 0
    export SUBS="$BATS_FILE_TMPDIR/submissions" OUT4="$BATS_FILE_TMPDIR/out4" OUT1="$BATS_FILE_TMPDIR/out1"
    export ALONE="$BATS_FILE_TMPDIR/alone"
    class_limits
    class_hostile_folder "$SUBS"
    # The submissions whose marks a neighbour could change, to grade alone.
    mkdir -p "$ALONE"
    cp -R "$SUBS"/{reference,starter,mutant-fixed-recv,mutant-leaks-fd} "$ALONE/"
    # And one with no file of the lab in it.
    mkdir -p "$SUBS/empty"
    echo "I will send it tomorrow" >"$SUBS/empty/README.txt"
    mkdir -p "$OUT4"
    echo "not to be touched" >"$OUT4/canary"
    local status=0
    GRADE_ALL_OUT=$OUT4 SUBMISSIONS=$SUBS JOBS=4 bash "$SOCKSTEP_ROOT/tests/lib/grade_all.sh" \
        >"$BATS_FILE_TMPDIR/run4.log" 2>&1 || status=$?
    echo "$status" >"$BATS_FILE_TMPDIR/run4.status"
    status=0
    GRADE_ALL_OUT=$OUT1 SUBMISSIONS=$ALONE JOBS=1 bash "$SOCKSTEP_ROOT/tests/lib/grade_all.sh" \
        >"$BATS_FILE_TMPDIR/run1.log" 2>&1 || status=$?
    echo "$status" >"$BATS_FILE_TMPDIR/run1.status"
    # The starter graded directly, as `make check` would: its marks.
    (
        source "$SOCKSTEP_ROOT/tests/lib/lessons.sh"
        source "$SOCKSTEP_ROOT/tests/lib/bats.sh"
        source "$SOCKSTEP_ROOT/tests/lib/run.sh"
        find_bats
        run_lesson_tests "$CLASS_LESSON" "$SOCKSTEP_BUILD/lessons/$CLASS_LESSON" \
            "$BATS_FILE_TMPDIR/starter.tsv" quiet
    ) || true # (the starter fails tests: that is what is measured)
}

setup() {
    local why
    why=$(class_cannot_contain)
    [[ -z $why ]] || skip "$why"
    class_limits
    CSV=$OUT4/results.csv
}

# expect_row STUDENT STATUS: the student has one row, with that status.
expect_row() {
    local rows status
    rows=$(grep -c "^$1," "$CSV") || true
    status=$(csv_value "$CSV" "$1" status) || true
    if [[ $rows != 1 || $status != "$2" ]]; then
        fail "$(printf 'submission %s: expected one row with status %s\ngot %s row(s), status %s\n%s' \
            "$1" "$2" "$rows" "${status:-none}" "$(cat "$CSV")")"
    fi
}

@test "grade-all finishes with status 0: the class with JOBS=4, four of it again with JOBS=1" {
    local jobs
    for jobs in 4 1; do
        [[ $(cat "$BATS_FILE_TMPDIR/run$jobs.status") == 0 ]] ||
            fail "$(printf 'JOBS=%s: grade-all exited with status %s:\n%s' "$jobs" \
                "$(cat "$BATS_FILE_TMPDIR/run$jobs.status")" "$(tail -n 20 "$BATS_FILE_TMPDIR/run$jobs.log")")"
    done
}

@test "every submission gets exactly one row, and the header is the documented one" {
    expect_equal "head of $CSV" "student,lesson,score,max,passed,failed,skipped,status,seconds,reason" \
        "$(head -n 1 "$CSV")"
    expect_equal "rows of $CSV" 11 "$(($(wc -l <"$CSV") - 1))"
}

@test "a submission without any file of the lab: one row, lesson '-'" {
    expect_row empty build-failed
    expect_equal "empty's lesson" - "$(csv_value "$CSV" empty lesson)"
    assert_regex "$(csv_value "$CSV" empty reason)" "no .c file"
}

@test "the reference gets full marks, status ok" {
    expect_row reference ok
    expect_equal "reference score" "$(csv_value "$CSV" reference max)" "$(csv_value "$CSV" reference score)"
    expect_equal "reference max" 5 "$(csv_value "$CSV" reference max)"
}

@test "the starter gets the marks of what it does (as graded directly)" {
    expect_row starter ok
    local direct
    direct=$(awk -F'\t' -v filter="$CLASS_FILTER" '$1 == "ok" && $3 ~ filter' "$BATS_FILE_TMPDIR/starter.tsv" | wc -l)
    expect_equal "starter score" "$direct" "$(csv_value "$CSV" starter score)"
}

@test "each mutant gets some marks but not all" {
    local m score
    for m in mutant-fixed-recv mutant-leaks-fd; do
        expect_row "$m" ok
        score=$(csv_value "$CSV" "$m" score)
        ((score > 0 && score < 5)) || fail "$m: score $score, expected between 0 and 5 (exclusive)"
    done
}

@test "a file that does not compile: build-failed, 0, the compiler's error as reason" {
    expect_row no-compile build-failed
    expect_equal "no-compile score" 0 "$(csv_value "$CSV" no-compile score)"
    assert_regex "$(csv_value "$CSV" no-compile reason)" "does not compile: .*hello_threads.c:[0-9]+:[0-9]+: error"
}

@test "a server that never exits: timeout" {
    expect_row never-exits timeout
    expect_equal "never-exits score" 0 "$(csv_value "$CSV" never-exits score)"
}

@test "a fork bomb is stopped at the process limit: limit" {
    expect_row fork-bomb limit
    assert_regex "$(csv_value "$CSV" fork-bomb reason)" "process limit"
}

@test "a flood of output stops at the file-size limit: limit" {
    expect_row flood limit
    assert_regex "$(csv_value "$CSV" flood reason)" "file-size limit"
    local size
    size=$(stat -c %s "$OUT4/flood/log.txt")
    ((size <= 1048576)) || fail "the flood's log is $size bytes: it should be cut at 1 MiB"
}

@test "holding 127.0.0.1:9999 harms nobody: ok, and the process left is named and killed" {
    expect_row holds-9999 ok
    expect_equal "holds-9999 score" 5 "$(csv_value "$CSV" holds-9999 score)"
    assert_regex "$(csv_value "$CSV" holds-9999 reason)" "left 1 process"
}

@test "deleting the grading folder fails: only its own grading is lost (crashed)" {
    expect_row deletes crashed
    [[ -f $OUT4/canary && ! -e $OUT4/pwned ]] ||
        fail "the grading folder was written to or deleted from: $(ls -la "$OUT4")"
    local student
    for student in reference starter flood never-exits; do
        [[ -s $OUT4/$student/report.json ]] || fail "the report of $student is gone"
    done
}

@test "every submission has its report.txt, report.xml (JUnit) and report.json" {
    local student name
    for student in "$SUBS"/*/; do
        name=$(basename "$student")
        [[ -s $OUT4/$name/report.txt ]] || fail "$name: no report.txt"
        xmllint --noout --schema "$BATS_TEST_DIRNAME/junit.xsd" "$OUT4/$name/report.xml" 2>/dev/null ||
            fail "$name: report.xml is not JUnit: $(xmllint --noout --schema "$BATS_TEST_DIRNAME/junit.xsd" "$OUT4/$name/report.xml" 2>&1)"
        [[ $(xmllint --xpath 'count(/testsuites/testsuite/testcase)' "$OUT4/$name/report.xml") -ge 1 ]] ||
            fail "$name: report.xml has no testcase"
        jq -e --arg s "$name" '.student == $s and (.score | type == "number") and (.max_score | type == "number")' \
            "$OUT4/$name/report.json" >/dev/null || fail "$name: report.json: $(head -c 300 "$OUT4/$name/report.json")"
    done
}

@test "a progress line as each submission finishes" {
    local n
    n=$(grep -cE '^grade-all: \[[0-9]+/11\] ' "$BATS_FILE_TMPDIR/run4.log") || true
    expect_equal "progress lines in the JOBS=4 run" 11 "$n"
}

@test "nothing is left running, and the grading users own no process" {
    local left
    left=$(uid_processes_left)
    [[ -z $left ]] || fail "processes of the grading users still run: $left"
}

@test "graded alone (JOBS=1), the four that are not hostile get the rows they got beside the hostile ones" {
    local four one
    one=$(cat "$OUT1/results.csv")
    four=$(grep -E '^(student|reference|starter|mutant-fixed-recv|mutant-leaks-fd),' "$OUT4/results.csv")
    expect_equal "rows graded alone" 4 "$(($(wc -l <<<"$one") - 1))"
    # Every column but the seconds (the ninth).
    [[ $(cut -d, -f1-8,10- <<<"$four") == "$(cut -d, -f1-8,10- <<<"$one")" ]] ||
        fail "$(diff <(echo "$one") <(echo "$four"))"
}

@test "JOBS=4 grades several at once: the submissions' seconds add up to more than the run took" {
    local sum four
    sum=$(cat "$OUT4"/*/seconds | awk '{ s += $1 } END { print s }')
    four=$(sed -n -E 's/^grade-all: done in ([0-9.]+) s.*/\1/p' "$BATS_FILE_TMPDIR/run4.log")
    # One after another, the run would take at least their sum.
    awk -v f="$four" -v s="$sum" 'BEGIN { exit !(f != "" && s > f) }' ||
        fail "JOBS=4: the run took ${four:-?} s, the submissions $sum s in all: they were graded one after another"
}

@test "a second run grades only what changed; FORCE=1 grades everything again" {
    local n before
    before=$(cut -d, -f1-8 "$OUT4/results.csv")
    # Nothing changed since setup_file's run: nobody is graded again.
    run env GRADE_ALL_OUT="$OUT4" SUBMISSIONS="$SUBS" JOBS=4 bash "$SOCKSTEP_ROOT/tests/lib/grade_all.sh"
    n=$(grep -c 'not graded again' <<<"$output") || true
    expect_equal "submissions skipped when nothing changed" 11 "$n"
    # As root, nor is the lab copied and built again.
    [[ $(id -u) != 0 ]] || assert_output --partial 'the lab has not changed since the last run: its copy is kept'
    expect_equal "results.csv after a run that graded nothing" \
        "$before" "$(cut -d, -f1-8 "$OUT4/results.csv")"
    # One file changed: that submission only.
    echo "/* changed */" >>"$SUBS/starter/hello_threads.c"
    run env GRADE_ALL_OUT="$OUT4" SUBMISSIONS="$SUBS" JOBS=4 bash "$SOCKSTEP_ROOT/tests/lib/grade_all.sh"
    n=$(grep -c 'not graded again' <<<"$output") || true
    expect_equal "submissions skipped when one changed" 10 "$n"
    assert_output --regexp '\] starter: 03-threaded-server 1/5 ok'
    # FORCE=1, on a folder of one that is quick to grade (it does not compile).
    mkdir -p "$BATS_TEST_TMPDIR/one"
    cp -R "$SUBS/no-compile" "$BATS_TEST_TMPDIR/one/"
    run env GRADE_ALL_OUT="$BATS_TEST_TMPDIR/out" SUBMISSIONS="$BATS_TEST_TMPDIR/one" bash "$SOCKSTEP_ROOT/tests/lib/grade_all.sh"
    assert_output --regexp '\] no-compile: .*build-failed'
    run env GRADE_ALL_OUT="$BATS_TEST_TMPDIR/out" SUBMISSIONS="$BATS_TEST_TMPDIR/one" bash "$SOCKSTEP_ROOT/tests/lib/grade_all.sh"
    assert_output --partial 'no-compile: unchanged since the last run, not graded again'
    run env GRADE_ALL_OUT="$BATS_TEST_TMPDIR/out" SUBMISSIONS="$BATS_TEST_TMPDIR/one" FORCE=1 bash "$SOCKSTEP_ROOT/tests/lib/grade_all.sh"
    refute_output --partial 'not graded again'
    assert_output --regexp '\] no-compile: .*build-failed'
}
