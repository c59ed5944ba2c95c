#!/usr/bin/env bats
# The yardstick of the lesson 03 and 04 benchmarks, build/bench/hello_ref_threads
# (tests/bench/hello_ref_threads.c), speaks the hello protocol as the
# contract says: a comparison with a server that answers less, or wrongly,
# would mean nothing. And hello_load -l, the pipelined load of those
# benchmarks, sends LINES lines at once and counts every reply.
# status, output and stderr_lines are set by bats' `run`.
# shellcheck disable=SC2154

: "${SOCKSTEP_ROOT:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
load '../lib/common'
load '../lib/hello_server'

setup() {
    BENCH=${SOCKSTEP_BUILD:-$SOCKSTEP_ROOT/build}/bench
    REF=$BENCH/hello_ref_threads
    LOAD=$BENCH/hello_load
    WHERE=tests/bench/hello_ref_threads.c
    [[ -x $REF && -x $LOAD ]] || fail "build/bench/hello_ref_threads or hello_load is not built: run make"
}

@test "hello_ref_threads: replies, exit, end of stream" {
    hello_test_replies "$REF" "$WHERE"
    hello_test_exit "$REF" "$WHERE"
    hello_test_end_of_stream "$REF" "$WHERE"
}
@test "hello_ref_threads: 1000 lines in one write, and a line one byte at a time" {
    hello_test_pipelined "$REF" "$WHERE"
    hello_test_dribble "$REF" "$WHERE"
}
@test "hello_ref_threads: CRLF, NUL bytes, 4096 and 4097-byte lines" {
    hello_test_crlf "$REF" "$WHERE"
    hello_test_nul "$REF" "$WHERE"
    hello_test_long_lines "$REF" "$WHERE"
}
@test "hello_ref_threads: 4 MB of replies to a slow reader, 100 clients at once" {
    hello_test_slow_reader "$REF" "$WHERE"
    hello_test_many_clients "$REF" "$WHERE"
}
@test "hello_load -l 5: every line of every request answered and counted" {
    start_server "$REF" -p 0
    run "$LOAD" -c 3 -l 5 -d 1 -t 10 "$SERVER_HOST" "$SERVER_PORT"
    [[ $status == 0 && $output == "conns=3 lines=5 "*" errors=0" ]] ||
        report_mismatch "hello_load -c 3 -l 5 -d 1 against hello_ref_threads" \
            "exit 0, 'conns=3 lines=5 ... errors=0'" "exit $status, '$output'" \
            "hello_load's pipelined mode does not match the server's replies" || return 1
    local replies
    replies=$(sed -n 's/.* replies=\([0-9]*\) .*/\1/p' <<<"$output")
    ((replies > 0 && replies % 5 == 0)) ||
        report_mismatch "hello_load -c 3 -l 5" "a positive multiple of 5 replies" "$replies" \
            "hello_load counts the replies of a request when all 5 are in"
}
@test "hello_load -l is refused in hold mode (-H): exit 2, one line" {
    run --separate-stderr "$LOAD" -H -l 2 127.0.0.1 9
    [[ $status == 2 && ${#stderr_lines[@]} == 1 && ${stderr_lines[0]} == *"-l is for load mode"* ]] ||
        report_mismatch "hello_load -H -l 2 127.0.0.1 9" "exit 2, one line about -l" \
            "exit $status, '${stderr_lines[*]}'" "the usage check of -l"
}
