#!/usr/bin/env bats
# The report formats of one grading run (tests/lib/report.sh): JUnit,
# Gradescope, TAP, the lab's JSON, text and Markdown, all written from the
# same results; weights; hidden tests; make grade FORMAT=...; the CI
# templates. The starter of lesson 03 is graded on a few quick tests (it
# passes some and fails some), once in the lab and once in a copy whose
# lesson declares weights and has a hidden test.

: "${SOCKSTEP_ROOT:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
: "${SOCKSTEP_BUILD:=$SOCKSTEP_ROOT/build}"
export SOCKSTEP_ROOT SOCKSTEP_BUILD
load '../lib/common'
load_assertions
load 'class'

REPORT_FILTER="^step [15]: "
FORMATS="junit gradescope tap json text markdown"

# steps_tests STEP...: how many tests of the lesson those steps have (the
# counts follow the lesson's test file, not a number written here).
steps_tests() {
    local step n=0
    for step in "$@"; do
        n=$((n + $(grep -c "^@test \"step $step: " "$SOCKSTEP_ROOT/tests/$CLASS_LESSON.bats")))
    done
    printf '%s\n' "$n"
}

# grade_starter LAB OUTDIR: one grading run of the built starter against
# LAB's tests, every format written to OUTDIR/report.FORMAT.
grade_starter() {
    local lab=$1 dir=$2 reports="" format
    mkdir -p "$dir"
    for format in $FORMATS; do reports+="$format=$dir/report.$format;"; done
    clean_env SOCKSTEP_ROOT="$lab" LESSON=03 TEST_FILTER="$3" SOCKSTEP_REPORTS="$reports" \
        bash "$lab/tests/lib/grade.sh" >"$dir/grade.log" 2>&1 || true
}

setup_file() {
    local lab="$BATS_FILE_TMPDIR/lab"
    grade_starter "$SOCKSTEP_ROOT" "$BATS_FILE_TMPDIR/plain" "$REPORT_FILTER"
    # A copy of the lab whose lesson 03 weights step 1 three times and step 5
    # twice, plus one hidden test.
    mkdir -p "$lab" "$BATS_FILE_TMPDIR/hidden"
    tar -C "$SOCKSTEP_ROOT" --exclude=./build --exclude=./.git -cf - . | tar -C "$lab" -xf -
    sed -i '1a # weights: step 1=3 step 5=2' "$lab/tests/$CLASS_LESSON.bats"
    # (printf, not a here-document: bats would take an @test line in this
    # file for one of its own tests.)
    printf '%s\n' '@test "step 1: (hidden) the program exists" {' '    [[ -x $PROG ]]' '}' \
        >"$BATS_FILE_TMPDIR/hidden/$CLASS_LESSON.bats"
    (source "$lab/tests/lib/submission.sh" && add_hidden_tests "$BATS_FILE_TMPDIR/hidden" "$lab")
    grade_starter "$lab" "$BATS_FILE_TMPDIR/weighted" "$REPORT_FILTER"
}

plain() { printf '%s\n' "$BATS_FILE_TMPDIR/plain/report.$1"; }
weighted() { printf '%s\n' "$BATS_FILE_TMPDIR/weighted/report.$1"; }

# expect_jq FILE FILTER WHAT
expect_jq() {
    jq -e "$2" "$1" >/dev/null ||
        fail "$(printf '%s\nexpected: %s\ngot: %s' "$3" "$2" "$(head -c 1500 "$1")")"
}

@test "one grading run writes every format" {
    local format
    for format in $FORMATS; do
        [[ -s $(plain "$format") ]] || fail "no $format report; log: $(tail -n 5 "$BATS_FILE_TMPDIR/plain/grade.log")"
    done
    assert_regex "$(cat "$BATS_FILE_TMPDIR/plain/grade.log")" "gradescope report: "
}

@test "junit: valid against the required elements of the JUnit schema, counts agree" {
    local xml
    xml=$(plain junit)
    run xmllint --noout --schema "$BATS_TEST_DIRNAME/junit.xsd" "$xml"
    assert_success
    expect_equal "tests attribute" "$(xmllint --xpath 'count(//testcase)' "$xml")" \
        "$(xmllint --xpath 'string(//testsuite/@tests)' "$xml")"
    expect_equal "failures attribute" "$(xmllint --xpath 'count(//testcase[failure])' "$xml")" \
        "$(xmllint --xpath 'string(//testsuite/@failures)' "$xml")"
}

@test "gradescope: results.json, field by field" {
    local r n
    r=$(plain gradescope)
    n=$(steps_tests 1 5)
    expect_jq "$r" '(.score | type == "number") and (.max_score | type == "number") and (.execution_time | type == "number") and (.output | type == "string")' "top-level fields"
    expect_jq "$r" ".tests | type == \"array\" and length == $n" "$n tests (steps 1 and 5)"
    expect_jq "$r" 'all(.tests[]; (.name | type == "string") and (.number | test("^3\\.[15]$")) and (.score | type == "number") and (.max_score | type == "number") and (.status == "passed" or .status == "failed") and (.output | type == "string") and (.visibility == "visible"))' "each test's fields"
    expect_jq "$r" '.score == ([.tests[].score] | add) and .max_score == ([.tests[].max_score] | add)' "score = the sum of the tests' scores"
    expect_jq "$r" 'all(.tests[] | select(.status == "failed"); .score == 0 and (.output | test("expected") and test("likely cause")))' "a failure's output: expected, got, likely cause"
    expect_jq "$r" '.output | test("lesson +score +max")' "output is the score table"
}

@test "tap: version line, plan, one numbered line per test, failures with a YAML block" {
    local tap n
    tap=$(plain tap)
    n=$(steps_tests 1 5)
    expect_equal "first line" "TAP version 13" "$(head -n 1 "$tap")"
    expect_equal "plan" "1..$n" "$(sed -n 2p "$tap")"
    expect_equal "test lines numbered 1..$n" "$(seq -s ' ' 1 "$n")" \
        "$(grep -E '^(not )?ok [0-9]+ - ' "$tap" | sed -E 's/^(not )?ok ([0-9]+) .*/\2/' | paste -sd' ' -)"
    expect_equal "YAML blocks (one per failure)" "$(grep -c '^not ok' "$tap")" "$(grep -c '^  ---$' "$tap")"
}

@test "json: the lab's report agrees with the Gradescope one" {
    local j g
    j=$(plain json)
    g=$(plain gradescope)
    expect_jq "$j" '.format == "sockstep-report" and .version == 1 and (.lessons | length == 1) and .lessons[0].lesson == "03-threaded-server"' "header"
    expect_jq "$j" 'all(.lessons[].tests[]; (.name | test("^step [0-9]+: ")) and (.step | type == "number") and .weight == 1 and (.status | test("^(ok|fail|skip)$")) and (.seconds | type == "number") and (.hidden == false))' "tests"
    expect_equal "score" "$(jq .score "$g")" "$(jq .score "$j")"
    expect_equal "passed" "$(jq '[.tests[] | select(.status == "passed")] | length' "$g")" "$(jq .passed "$j")"
}

@test "text and markdown: the score table" {
    local n
    n=$(steps_tests 1 5)
    run cat "$(plain text)"
    assert_line --regexp '^lesson +score +max +share +passed +failed +skipped$'
    assert_line --regexp "^03-threaded-server +[0-9]+ +$n "
    assert_line --regexp '^FAIL  03-threaded-server: step '
    run cat "$(plain markdown)"
    assert_line '| lesson | score | max | share | passed | failed | skipped |'
    assert_line --regexp "^\\| 03-threaded-server \\| [0-9]+ \\| $n \\| "
}

@test "weights: a step weighted 3 is worth 3 points a test; the score is the weighted share" {
    local j
    j=$(weighted json)
    expect_jq "$j" 'all(.lessons[0].tests[]; .weight == (if .step == 1 then 3 elif .step == 5 then 2 else 1 end))' "weights per step"
    expect_jq "$j" '.max_score == ([.lessons[0].tests[] | select(.status != "skip") | .weight] | add)' "max = the sum of the weights"
    expect_jq "$j" '.score == ([.lessons[0].tests[] | select(.status == "ok") | .weight] | add // 0)' "score = the weights of the tests passed"
    expect_jq "$(weighted gradescope)" ".max_score == 3 * $(steps_tests 1) + 2 * $(steps_tests 5) + 3" \
        "Gradescope max ($(steps_tests 1) tests of step 1 and the hidden one weighted 3, $(steps_tests 5) of step 5 weighted 2)"
}

@test "hidden tests: run, and marked after_published for Gradescope" {
    expect_jq "$(weighted gradescope)" '[.tests[] | select(.name | test("\\(hidden\\)"))] | length == 1 and .[0].visibility == "after_published" and .[0].status == "passed"' "the hidden test"
    expect_jq "$(weighted json)" '[.lessons[0].tests[] | select(.hidden)] | length == 1' "hidden in the lab's report"
}

@test "make grade FORMAT=... picks the report's file; junit stays the default" {
    run make -s -n -C "$SOCKSTEP_ROOT" grade
    assert_output --partial 'SOCKSTEP_REPORTS="junit='
    assert_output --partial '/grade/report.xml"'
    run make -s -n -C "$SOCKSTEP_ROOT" grade FORMAT=gradescope
    assert_output --partial '/grade/results.json"'
    run make -s -n -C "$SOCKSTEP_ROOT" grade FORMAT=tap REPORT=/x/out.tap
    assert_output --partial 'SOCKSTEP_REPORTS="tap=/x/out.tap"'
}

@test "an unknown format is an error that names the formats" {
    SOCKSTEP_REPORTS="yaml=$BATS_TEST_TMPDIR/r" run bash -c 'source "$SOCKSTEP_ROOT/tests/lib/junit.sh"; source "$SOCKSTEP_ROOT/tests/lib/report.sh"; write_reports "$1"' _ "$BATS_TEST_TMPDIR"
    assert_failure
    assert_output --partial "unknown report format 'yaml' (junit, gradescope, tap, json"
}

@test "the CI templates are valid YAML" {
    command -v yamllint >/dev/null || skip "yamllint is not installed (Debian/Ubuntu: sudo apt-get install yamllint)"
    run yamllint -c "$SOCKSTEP_ROOT/.yamllint" "$SOCKSTEP_ROOT/docs/github-workflow.yml" "$SOCKSTEP_ROOT/docs/gitlab-ci.yml"
    assert_success
}

@test "make github-workflow copies the workflow, which grades, reports and summarises" {
    run make -s -C "$SOCKSTEP_ROOT" github-workflow DEST="$BATS_TEST_TMPDIR/student"
    assert_success
    cmp "$SOCKSTEP_ROOT/docs/github-workflow.yml" "$BATS_TEST_TMPDIR/student/.github/workflows/grade.yml"
    run grep -E 'GITHUB_STEP_SUMMARY|upload-artifact|make grade' "$SOCKSTEP_ROOT/docs/github-workflow.yml"
    ((${#lines[@]} >= 3)) || fail "the workflow must grade, upload the JUnit report and write the job summary"
    run grep -E 'junit: build/grade/report.xml' "$SOCKSTEP_ROOT/docs/gitlab-ci.yml"
    assert_success
}
