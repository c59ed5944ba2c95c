#!/usr/bin/env bats
# The one source of the starters (tests/lib/steps.sh, `make starters`): the
# committed starters are what the patches make of the references; a change
# to a reference outside any step reaches its starter; a starter edited by
# hand is named; and the ladder fails, naming the test, when a test named
# for step 1 needs step 4. Each change is made in a throwaway copy.

: "${SOCKSTEP_ROOT:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
: "${SOCKSTEP_BUILD:=$SOCKSTEP_ROOT/build}"
export SOCKSTEP_ROOT SOCKSTEP_BUILD
load '../lib/common'
load_assertions

setup() {
    # steps.sh and the ladder read LESSON: `make test LESSON=harness` sets it.
    unset LESSON
}

# lab_copy: a copy of what the starters and the ladder need, in $COPY, its
# build folder borrowing the real one's test peers and references.
lab_copy() {
    COPY=$BATS_TEST_TMPDIR/lab
    mkdir -p "$COPY/build"
    cp -R "$SOCKSTEP_ROOT/Makefile" "$SOCKSTEP_ROOT/solutions" "$SOCKSTEP_ROOT/lessons" \
        "$SOCKSTEP_ROOT/tests" "$COPY/"
    local part
    for part in fixtures bin solutions; do
        ln -s "$SOCKSTEP_BUILD/$part" "$COPY/build/$part"
    done
}

# in_copy CMD...: CMD run with the copy as the lab.
in_copy() {
    SOCKSTEP_ROOT=$COPY SOCKSTEP_BUILD=$COPY/build "$@"
}

@test "every committed starter is what make starters makes" {
    run bash "$SOCKSTEP_ROOT/tests/lib/steps.sh" check
    assert_success
    assert_output --regexp 'all [0-9]+ starters are what'
}

@test "a one-line change to a reference outside any step reaches its starter" {
    lab_copy
    local line='/* A NAME travels as one line: it cannot hold a line break or exceed the limit. */'
    grep -qxF "$line" "$COPY/lessons/02-tcp-client/hello_client.c" ||
        fail "the line this test changes is gone from the starter: choose another"
    sed -i 's|^/\* A NAME travels as one line: it cannot hold a line break or exceed the limit\. \*/$|/* A NAME is sent as one line: no line break in it, and not too long. */|' \
        "$COPY/solutions/02-tcp-client/hello_client.c"
    run in_copy bash "$COPY/tests/lib/steps.sh" starters
    assert_success
    assert_output --partial 'wrote lessons/02-tcp-client/hello_client.c'
    grep -qxF '/* A NAME is sent as one line: no line break in it, and not too long. */' \
        "$COPY/lessons/02-tcp-client/hello_client.c" ||
        fail "make starters did not carry the reference's new line into the starter"
    run in_copy bash "$COPY/tests/lib/steps.sh" check
    assert_success
}

@test "a starter edited by hand fails the check, which names the file" {
    lab_copy
    echo "/* a student's note */" >>"$COPY/lessons/03-threaded-server/hello_threads.c"
    run in_copy bash "$COPY/tests/lib/steps.sh" check
    assert_failure
    assert_output --partial "lessons/03-threaded-server/hello_threads.c differs from what 'make starters' makes"
}

@test "the ladder names a test called step 1 that needs step 4" {
    lab_copy
    local bats=$COPY/tests/04-forking-server.bats
    # Only two tests kept: one of step 4, and step 4's SIGTERM test renamed
    # to step 1 (ending the children on SIGTERM needs step 4's list of them;
    # after step 1 the children outlive the server).
    awk '
        /^@test / { keep = ($0 ~ /"step 4: (SIGTERM ends the server|restarts on the same port)/) }
        /^@test / || keep || !started { if (/^@test /) started = 1; if (keep || !started) print; next }
        keep { print }' "$SOCKSTEP_ROOT/tests/04-forking-server.bats" |
        sed 's/^@test "step 4: SIGTERM ends the server/@test "step 1: SIGTERM ends the server/' >"$bats"
    grep -q '^@test "step 1: SIGTERM ends the server' "$bats" || fail "the renamed test is missing: $(grep '^@test' "$bats")"
    run in_copy bash "$COPY/tests/lib/selftest.sh" ladder 04
    assert_failure
    assert_output --partial "04-forking-server: after step 1: fails 1 of 1 tests of steps 1-1"
    assert_output --partial "step 1: SIGTERM ends the server and its children"
    assert_output --partial "ladder: 0 passed, 1 failed"
}
