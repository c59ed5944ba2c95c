#!/usr/bin/env bats
# The Gradescope autograder (make gradescope-autograder) in a fake
# /autograder tree: the zip unpacked into source/, run_autograder beside it,
# a submission in submission/, results read from results/results.json.
# Five submissions: the reference (a whole repository), the starter (just
# the .c file), a mutant (the .c file in a folder), a file that does not
# compile, a program that hangs. Graded at once, in setup_file.

: "${SOCKSTEP_ROOT:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
: "${SOCKSTEP_BUILD:=$SOCKSTEP_ROOT/build}"
export SOCKSTEP_ROOT SOCKSTEP_BUILD
# make test: about 60 s (its parts start first).
load '../lib/common'
load_assertions
load 'class'

# fake_image: the autograder's image, made once as Gradescope makes it: the
# zip unpacked into source/, and its setup.sh run there (without installing
# packages: the lab's tests need them already).
fake_image() {
    local source="$BATS_FILE_TMPDIR/image/source"
    mkdir -p "$source"
    unzip -q "$BATS_FILE_TMPDIR/autograder.zip" -d "$source"
    clean_env GRADESCOPE_NO_INSTALL=1 bash "$source/setup.sh" >"$BATS_FILE_TMPDIR/setup.log" 2>&1
}

# fake_autograder NAME: a fresh /autograder tree for one submission, a copy
# of the image; prints the path of its submission folder.
fake_autograder() {
    local root="$BATS_FILE_TMPDIR/$1"
    mkdir -p "$root/submission"
    cp -R -p "$BATS_FILE_TMPDIR/image/source" "$root/source"
    cp "$root/source/run_autograder" "$root/run_autograder"
    printf '%s\n' "$root/submission"
}

setup_file() {
    local sub name
    LESSON=03 TEST_FILTER=$CLASS_FILTER GRADE_SECONDS=20 GRADE_TEST_SECONDS=8 \
        bash "$SOCKSTEP_ROOT/tests/lib/gradescope/build.sh" "$BATS_FILE_TMPDIR/autograder.zip" >/dev/null
    fake_image || return 0 # (the test of setup.sh says why)
    sub=$(fake_autograder reference)
    mkdir -p "$sub/my-repo/lessons/$CLASS_LESSON"
    cp "$SOCKSTEP_ROOT/solutions/$CLASS_LESSON/$CLASS_PROG.c" "$sub/my-repo/lessons/$CLASS_LESSON/"
    sub=$(fake_autograder starter)
    cp "$SOCKSTEP_ROOT/lessons/$CLASS_LESSON/$CLASS_PROG.c" "$sub/"
    sub=$(fake_autograder mutant)
    mkdir -p "$sub/work"
    cp "$(class_mutant fixed-recv)" "$sub/work/"
    sub=$(fake_autograder no-compile)
    class_from_reference "$sub/$CLASS_PROG.c" 'this is not C;' ''
    local names=(reference starter mutant no-compile)
    if [[ -z $(class_cannot_contain) ]]; then
        sub=$(fake_autograder hangs)
        class_from_reference "$sub/$CLASS_PROG.c" "$CLASS_NEVER_EXITS" 'hostile();'
        names+=(hangs)
    fi
    for name in "${names[@]}"; do
        clean_env AUTOGRADER_ROOT="$BATS_FILE_TMPDIR/$name" bash "$BATS_FILE_TMPDIR/$name/run_autograder" \
            >"$BATS_FILE_TMPDIR/$name.log" 2>&1 &
    done
    wait
}

# results NAME: the path of a submission's results.json (fails when it is
# not valid JSON).
results() {
    local file="$BATS_FILE_TMPDIR/$1/results/results.json"
    jq -e . "$file" >/dev/null 2>&1 ||
        fail "$1: results.json is missing or not JSON: $(head -c 400 "$file" 2>/dev/null); log: $(tail -n 5 "$BATS_FILE_TMPDIR/$1.log")"
    printf '%s\n' "$file"
}

# expect_jq FILE FILTER WHAT: FILTER (a jq test) holds for FILE.
expect_jq() {
    jq -e "$2" "$1" >/dev/null ||
        fail "$(printf '%s\nexpected: %s\ngot: %s' "$3" "$2" "$(head -c 1500 "$1")")"
}

@test "the zip holds setup.sh, run_autograder and the lab, at its top" {
    run unzip -Z1 "$BATS_FILE_TMPDIR/autograder.zip"
    assert_line setup.sh
    assert_line run_autograder
    assert_line settings.env
    assert_line "lab/tests/lib/grade.sh"
    assert_line "lab/lessons/$CLASS_LESSON/$CLASS_PROG.c"
    refute_line --regexp '^lab/build/'
    run unzip -Z "$BATS_FILE_TMPDIR/autograder.zip" run_autograder
    assert_output --regexp '^-rwx'
}

@test "setup.sh builds the test peers once, and a submission's grading builds only its own programs" {
    [[ -x $BATS_FILE_TMPDIR/image/source/lab/build/fixtures/tcp_peer ]] ||
        fail "setup.sh did not build the test peers: $(tail -n 20 "$BATS_FILE_TMPDIR/setup.log")"
    local built
    built=$(grep -c -- '^build: .* -o build/' "$BATS_FILE_TMPDIR/reference.log") || true
    expect_equal "programs the reference's grading built (the lessons' programs; it built: $(grep -o -- ' -o build/[^ ]*' "$BATS_FILE_TMPDIR/reference.log" | tr '\n' ' '))" \
        "$(find "$SOCKSTEP_ROOT/lessons" -name '*.c' | wc -l | tr -d ' ')" "$built"
}

@test "setup.sh installs without questions (apt-get -y, noninteractive)" {
    run grep -E 'DEBIAN_FRONTEND=noninteractive|apt-get install -y' "$SOCKSTEP_ROOT/tests/lib/gradescope/setup.sh"
    ((${#lines[@]} >= 2)) || fail "setup.sh must install non-interactively: $(cat "$SOCKSTEP_ROOT/tests/lib/gradescope/setup.sh")"
}

@test "the reference (a whole repository): full marks, every field of results.json" {
    local r
    r=$(results reference)
    expect_jq "$r" '(.score | type == "number") and (.max_score | type == "number") and .score == .max_score and .max_score == 5' "score"
    expect_jq "$r" '(.execution_time | type == "number") and (.output | type == "string") and (.output | test("03-threaded-server"))' "execution_time, output (the score table)"
    expect_jq "$r" '.tests | type == "array" and length == 5' "tests[]"
    expect_jq "$r" 'all(.tests[]; (.name | test("^03-threaded-server: step [0-9]+: ")) and (.number | test("^3\\.[0-9]+$")) and .score == 1 and .max_score == 1 and .status == "passed" and (.output | type == "string") and .visibility == "visible")' "each test's name, number, score, max_score, status, output, visibility"
}

@test "the starter (just the .c file): the marks of the tests it passes, failures explained" {
    local r
    r=$(results starter)
    expect_jq "$r" '.score == ([.tests[] | select(.status == "passed") | .score] | add // 0)' "score = sum of passed tests"
    expect_jq "$r" '.score < .max_score and .max_score == 5' "score below max"
    expect_jq "$r" 'all(.tests[] | select(.status == "failed"); .score == 0 and (.output | test("likely cause")))' "failed tests: 0 points, the failure text"
}

@test "a mutant (a .c file in a folder): some marks, not all" {
    local r
    r=$(results mutant)
    expect_jq "$r" '.score > 0 and .score < .max_score' "0 < score < max"
}

@test "a file that does not compile: a valid results file that says so" {
    local r
    r=$(results no-compile)
    expect_jq "$r" '.score == 0 and (.output | test("does not compile")) and (.output | test("error:"))' "score 0, the compiler's error in output"
    expect_jq "$r" 'all(.tests[]; .status == "failed")' "every test failed"
}

@test "a program that hangs: a valid results file that says grading stopped" {
    local r why
    why=$(class_cannot_contain)
    [[ -z $why ]] || skip "$why"
    r=$(results hangs)
    expect_jq "$r" '.score == 0 and (.output | test("stopped after 20 s")) and (.tests | type == "array")' "score 0 and the reason"
}
