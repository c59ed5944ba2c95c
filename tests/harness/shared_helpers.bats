#!/usr/bin/env bats
# The shared helpers (tests/gates/shared_helpers.sh, run by `make lint`):
# the references as committed pass; a one-line change to one copy of a
# shared helper fails, naming the helper, both files and the line; a copy
# whose marker is gone fails too. Each change is made in a throwaway copy.

: "${SOCKSTEP_ROOT:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
export SOCKSTEP_ROOT
load '../lib/common'
load_assertions

# tree_copy: what the check reads, in $COPY.
tree_copy() {
    COPY=$BATS_TEST_TMPDIR/lab
    mkdir -p "$COPY/tests"
    cp -R "$SOCKSTEP_ROOT/solutions" "$SOCKSTEP_ROOT/lessons" "$COPY/"
    cp -R "$SOCKSTEP_ROOT/tests/fixtures" "$SOCKSTEP_ROOT/tests/gates" "$COPY/tests/"
}

@test "every copy of every shared helper is alike" {
    run bash "$SOCKSTEP_ROOT/tests/gates/shared_helpers.sh"
    assert_success
    assert_output --regexp 'shared_helpers: [0-9]+ shared helpers and constants, [0-9]+ copies, all alike'
}

@test "a one-line change to one copy of format_address fails, naming both files and the line" {
    tree_copy
    local file=$COPY/solutions/06-poll-server/hello_poll.c
    grep -qF 'snprintf(out, size, "(unknown address: %s)", gai_strerror(rc));' "$file" ||
        fail "the line this test changes is gone from hello_poll.c: choose another"
    sed -i 's|snprintf(out, size, "(unknown address: %s)", gai_strerror(rc));|snprintf(out, size, "?:?");|' "$file"
    run bash "$COPY/tests/gates/shared_helpers.sh" "$COPY"
    assert_failure
    assert_output --partial "format_address differs between"
    assert_output --partial "solutions/06-poll-server/hello_poll.c"
    assert_output --regexp 'solutions/06-poll-server/hello_poll\.c:[0-9]+: +snprintf\(out, size, "\?:\?"\);'
    assert_output --regexp 'solutions/[0-9a-z-]+/[a-z_]+\.c:[0-9]+: +snprintf\(out, size, "\(unknown address: %s\)", gai_strerror\(rc\)\);'
}

@test "a shared helper without its marker fails, naming it" {
    tree_copy
    local file=$COPY/solutions/05-udp/udp_client.c
    local at marker
    # The marker is the last one above die_errno's signature.
    at=$(grep -n '^static _Noreturn void die_errno(' "$file" | cut -d: -f1)
    marker=$(head -n "$at" "$file" | grep -n '^/\* Shared: ' | tail -n 1 | cut -d: -f1)
    [[ -n $at && -n $marker ]] || fail "die_errno or its marker is gone from udp_client.c"
    sed -i "${marker}d" "$file"
    run bash "$COPY/tests/gates/shared_helpers.sh" "$COPY"
    assert_failure
    assert_output --partial "die_errno in solutions/05-udp/udp_client.c"
    assert_output --partial "has a shared name but no marker line above it"
}

@test "a retired name of the old vocabulary fails" {
    tree_copy
    sed -i 's/^#define PROG "hello_fork"$/#define PROGRAM_NAME "hello_fork"\n#define PROG PROGRAM_NAME/' \
        "$COPY/solutions/04-forking-server/hello_fork.c"
    run bash "$COPY/tests/gates/shared_helpers.sh" "$COPY"
    assert_failure
    assert_output --partial "solutions/04-forking-server/hello_fork.c does not define PROG as its name"
    assert_output --partial "PROGRAM_NAME is a retired name"
}
