#!/usr/bin/env bats
# Lesson 07-epoll-server: hello_epoll [-b ADDR] [-p PORT] (Linux only)
#
# The hello protocol served by one thread with epoll(7), edge-triggered.
# Besides the protocol, these tests check what such a server must get right:
# the open-file limit is raised, every read goes on until EAGAIN (a burst
# larger than one read is answered completely), no client can stall the
# others or grow the memory (one that never reads its replies), and 10,000
# clients at once are held in less than 32 MiB.
#
# The protocol tests every hello server shares come from lib/hello_server
# (hello_test_*); the tests written here check what is particular to an
# epoll server. Each test name starts with the step of
# lessons/07-epoll-server/README.md whose work it checks.

# $stderr is set by bats' `run --separate-stderr`; each test runs in a
# subshell of its own, on purpose.
# shellcheck disable=SC2154,SC2030,SC2031
load 'lib/common'
load 'lib/hello_server'
load 'lib/event_server'

setup() {
    SERVER=$(program hello_epoll)
    LOAD=${SOCKSTEP_BUILD:-$SOCKSTEP_ROOT/build}/bench/hello_load
}

# ------------------------------------------------------------------ step 1

@test "step 1: raises its soft open-file limit to the hard limit, and says so on stderr" {
    local hard
    hard=$(ulimit -Hn)
    [[ $hard != 1024 ]] || skip "the hard limit is 1024: nothing to raise"
    ulimit -Sn 1024
    start_background "$SERVER" -p 0
    wait_until 3 grep -q "open-file limit $hard " "$BG_ERR" ||
        report_mismatch "(started with a soft open-file limit of 1024, hard limit $hard)" \
            "a line 'hello_epoll: open-file limit $hard (was 1024)' on stderr" \
            "$(head -c 300 "$BG_ERR")" \
            "setrlimit(RLIMIT_NOFILE) with rlim_cur = rlim_max, then log it: see step 1"
    wait_until 3 grep -q '^listening on ' "$BG_OUT" || true
    if is_running "$BG_PID" && [[ -r /proc/$BG_PID/limits ]]; then
        local limits
        limits=$(awk '/^Max open files/ { print $4, $5 }' "/proc/$BG_PID/limits")
        expect_equal "(started with a soft open-file limit of 1024)" \
            "soft and hard limit: $hard $hard" "soft and hard limit: $limits" \
            "setrlimit(RLIMIT_NOFILE) with rlim_cur = rlim_max: see step 1"
    fi
}

# ------------------------------------------------------------------ step 2

# stop_test SIGNAL: SIGNAL ends the server (no client) within 1 s, status 0.
stop_test() {
    start_hello
    local started elapsed
    started=$(now_ms)
    signal_server "$1" "SIG$1 to the server" || return 1
    wait_exit "$SERVER_PID" 3 ||
        report_mismatch "SIG$1" "the server exits within 1 s with status 0" "still running after 3 s" \
            "epoll_pwait() must return EINTR and the loop look at the flag (step 2)" || return 1
    elapsed=$(($(now_ms) - started))
    expect_equal "SIG$1" "exit status 0" "exit status $EXIT_STATUS" \
        "the stop handler is given: serve_forever must return once stop_requested is set, so that main returns 0 (step 2)" ||
        return 1
    ((elapsed < 1000)) ||
        report_mismatch "SIG$1" "the server exits within 1000 ms" "it took $elapsed ms" \
            "epoll_pwait() must return EINTR and the loop look at the flag (step 2)"
}

@test "step 2: SIGTERM ends the server within 1 s with status 0" {
    stop_test TERM
}

@test "step 2: SIGINT ends the server within 1 s with status 0" {
    stop_test INT
}

@test "step 2: prints one line 'listening on 127.0.0.1:PORT'" {
    hello_test_listening "$SERVER" "step 2"
}

@test "step 2: bad command lines exit 2 with one line showing the usage" {
    hello_test_usage "$SERVER" "step 2"
}

@test "step 2: a port already in use is an error (exit 1, 'Address already in use')" {
    hello_test_port_in_use "$SERVER" "step 2"
}

# ------------------------------------------------------------------ step 3

@test "step 3: SIGTERM ends the server within 1 s with status 0, a client connected" {
    hello_test_stop "$SERVER" "step 3" TERM
}

@test "step 3: SIGINT ends the server within 1 s with status 0, a client connected" {
    hello_test_stop "$SERVER" "step 3" INT
}

@test "step 3: a SIGTERM just before the server blocks in epoll_pwait still ends it within 1 s" {
    hello_test_stop_race "$SERVER" "step 3" TERM
}

@test "step 3: a restart on the same port works at once, right after a stop with a client connected" {
    hello_test_restart_time_wait "$SERVER" "step 3"
}

@test "step 3: logs each client it accepts, with its address" {
    event_test_two_clients_logged "$SERVER" "step 3" \
        "accept4() every waiting client when epoll reports the listener: see step 3"
}

@test "step 3: every client gets Welcome!, also while another one stays silent" {
    event_test_welcome_while_silent "$SERVER" "step 3" \
        "each accepted socket goes into the epoll set, and add_connection() sends the welcome (step 3)"
}

@test "step 3: a client that sends half a line and waits does not stall the others" {
    event_test_half_line "$SERVER" "step 3" \
        "accept4() with SOCK_NONBLOCK: a read must never wait for the rest of a line (step 3)"
}

# ------------------------------------------------------------------ step 4

@test "step 4: the tutorial's exchange: Michael, Tracy, Sarah" {
    event_test_tutorial "$SERVER" "step 4"
}

@test "step 4: a line that arrives in pieces is answered once it is complete" {
    event_test_pieces "$SERVER" "step 4"
}

@test "step 4: a burst far larger than one read, in one write, is answered completely" {
    start_hello
    open_client
    talk "" 'Welcome!\n'
    local input="$BATS_TEST_TMPDIR/input" expected="$BATS_TEST_TMPDIR/expected" got="$BATS_TEST_TMPDIR/got"
    seq 1 6000 | sed 's/^/n/' >"$input"
    sed 's/.*/Hello, &!/' "$input" >"$expected"
    { cat "$input" >&"$CLIENT_FD"; } 2>/dev/null || true
    collect "$CLIENT_FD" "$got" "$(wc -c <"$expected")" 5
    expect_file_equal "6,000 lines 'n1\\n'...'n6000\\n' in one write (about 40 KB)" "$expected" "$got" \
        "edge-triggered epoll reports new bytes once: read until EAGAIN, not once per report (step 4)"
}

@test "step 4: a trailing \\r is dropped, a NUL byte is passed through, an empty line is a line" {
    event_test_cr_nul_empty "$SERVER" "step 4"
}

@test "step 4: a line of 4096 bytes is answered; 4097 bytes get 'Error: line too long'" {
    event_test_line_limit "$SERVER" "step 4" "" "" closes
}

@test "step 4: clients that leave do not disturb the others, and no descriptor leaks" {
    event_test_leavers "$SERVER" "step 4" "" "every connection that ends must be closed"
}

@test "step 4: Welcome!, then the end of the stream closes the connection" {
    hello_test_welcome "$SERVER" "step 4"
}

@test "step 4: the tutorial's exchange: Michael, Tracy, Sarah, exit" {
    hello_test_replies "$SERVER" "step 4"
}

@test "step 4: 'exit' closes the connection, later lines get no reply" {
    hello_test_exit "$SERVER" "step 4"
}

@test "step 4: the end of the stream closes; an unfinished last line gets no reply" {
    hello_test_end_of_stream "$SERVER" "step 4"
}

# bats test_tags=heavy
@test "step 4: 1000 lines and exit in one write: replies in order, then close" {
    hello_test_pipelined "$SERVER" "step 4"
}

@test "step 4: lines sent one byte at a time" {
    hello_test_dribble "$SERVER" "step 4"
}

@test "step 4: a \\r before the \\n is dropped, another \\r is kept" {
    hello_test_crlf "$SERVER" "step 4"
}

@test "step 4: NUL bytes are passed through" {
    hello_test_nul "$SERVER" "step 4"
}

@test "step 4: 4096 bytes answered, 4097 get the error and the close, the others go on" {
    hello_test_long_lines "$SERVER" "step 4"
}

@test "step 4: logs 'Accept new connection from ADDR:PORT...' and 'Connection from ADDR:PORT closed.'" {
    hello_test_log_lines "$SERVER" "step 4"
}

@test "step 4: a client that stays silent does not keep the others waiting" {
    hello_test_silent_client "$SERVER" "step 4"
}

@test "step 4: a client that says exit is closed at once, while another stays silent" {
    hello_test_exit_while_busy "$SERVER" "step 4"
}

# bats test_tags=heavy
@test "step 4: 100 clients at once, each answered and closed" {
    hello_test_many_clients "$SERVER" "step 4" 100
}

@test "step 4: clients that reset their connection do not harm the server" {
    hello_test_reset "$SERVER" "step 4"
}

@test "step 4: 300 clients come and go: no descriptor is left open" {
    hello_test_no_leaks "$SERVER" "step 4"
}

@test "step 4: -b ::1 serves IPv6 clients" {
    hello_test_ipv6 "$SERVER" "step 4"
}

@test "step 4: works with nc" {
    hello_test_netcat "$SERVER" "step 4"
}

@test "step 4: works with socat" {
    hello_test_socat "$SERVER" "step 4"
}

# ------------------------------------------------------------------ step 5

@test "step 5: a slow reader gets 4 MB of replies, byte for byte, in order" {
    hello_test_slow_reader "$SERVER" "step 5"
}

@test "step 5: 1,000,000 lines sent in one go, replies read late, all arrive in order" {
    event_test_million_lines "$SERVER" "step 5" \
        "replies the kernel cannot take now wait for EPOLLOUT; reading that stopped must be re-armed once they drain (step 5)"
}

@test "step 5: a client that never reads its replies does not grow the server's memory" {
    event_test_non_reader_memory "$SERVER" "step 5" \
        "drop EPOLLIN from a client while more than OUTPUT_LIMIT bytes of its replies wait: see step 5"
}

@test "step 5: a client that never reads its replies does not stall the others" {
    event_test_non_reader_stall "$SERVER" "step 5" "one client's full socket must never block the server (step 5)"
}

@test "step 5: 1,000 clients at once are all welcomed and answered" {
    event_test_thousand_clients "$SERVER" "step 5"
}

@test "step 5: 10,000 clients at once are all answered, in less than 32 MiB" {
    require_load
    local hard
    hard=$(ulimit -Hn)
    [[ $hard == unlimited || $hard -ge 10100 ]] || skip "needs a hard open-file limit of 10100 (here: $hard)"
    ulimit -Sn 1024 # the server must raise its own limit (step 1)
    start_hello
    run timeout 60 "$LOAD" -H -c 10000 -t 30 "$SERVER_HOST" "$SERVER_PORT"
    [[ $status -eq 0 && $output == *"held=10000 answered=10000"* ]] ||
        report_mismatch "10,000 connections (hello_load -H -c 10000), one line on each" \
            "held=10000 answered=10000 errors=0" "$output" \
            "raise the open-file limit (step 1); accept every waiting client (step 3)"
    [[ ${SANITIZE:-} != 1 ]] || return 0
    local peak
    peak=$(rss_kib "$SERVER_PID" peak)
    ((peak < 32768)) ||
        report_mismatch "10,000 connections" "peak memory (VmHWM) under 32768 KiB" "$peak KiB" \
            "an idle connection must cost only its struct conn: allocate buffers when bytes wait, free them when they empty"
}
