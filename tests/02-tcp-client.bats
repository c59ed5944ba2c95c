#!/usr/bin/env bats
# Lesson 02-tcp-client: hello_client HOST PORT [NAME...]
#
# The client talks to build/fixtures/hello_fake, a hello server that can be
# correct (normal), slow to deliver (split: one byte per write), eager
# (joined: every line in one write) or broken (close-early, cut, garbage,
# silent). The fake server records every byte it receives (-r FILE), so the
# tests also check what the client sent.
#
# Each test name starts with the step of lessons/02-tcp-client/README.md
# whose work it checks.

load 'lib/common'

setup() {
    CLIENT=$(program hello_client)
    FAKE=$(fixture hello_fake)
    RECORD="$BATS_TEST_TMPDIR/received"
    # A working client finishes each of these conversations in well under a
    # second; a broken one is stopped after CLIENT_SECONDS.
    CLIENT_SECONDS=3
    if [[ ${SOCKSTEP_VALGRIND:-} == 1 ]]; then
        CLIENT_SECONDS=20
    fi
    NAME_COUNT=10000
    CLIENT_PREFIX=()
    CLIENT_NOTE=""
}

# ---------------------------------------------------------------- helpers

# start_fake [-n N] MODE [NAME...]: starts hello_fake on 127.0.0.1, any
# free port, recording what it receives in $RECORD.
start_fake() {
    start_fake_on 127.0.0.1 "$@"
}

start_fake_on() {
    local address=$1
    shift
    FAKE_MODE="$*"
    start_server "$FAKE" -b "$address" -p 0 -r "$RECORD" "$@"
}

# run_client [--in FILE] [--seconds N] ARGS...: runs hello_client ARGS
# (stdin from FILE, else /dev/null), stopped after N seconds (default
# CLIENT_SECONDS). Sets SENT, a description for failure messages.
run_client() {
    local input=/dev/null seconds=$CLIENT_SECONDS
    while [[ $1 == --* ]]; do
        case $1 in
        --in) input=$2 ;;
        --seconds) seconds=$2 ;;
        esac
        shift 2
    done
    RUN_SECONDS=$seconds
    SENT="hello_client $* (server: hello_fake ${FAKE_MODE:-none})${CLIENT_NOTE:+ ($CLIENT_NOTE)}"
    [[ $input == /dev/null ]] || SENT+=" with stdin: $(head -c 60 "$input" | escape_bytes)"
    run --separate-stderr timeout "$seconds" "${CLIENT_PREFIX[@]}" "$CLIENT" "$@" <"$input"
}

# describe_run: what the client did, for the "got" part of a message.
describe_run() {
    if [[ $status == 124 ]]; then
        printf 'no end within %s s (stopped); stdout %s' "$RUN_SECONDS" "$output"
    else
        printf 'exit status %s; stdout %s; stderr %s' "$status" "$output" "$stderr"
    fi
}

# expect_success CAUSE: exit status 0, nothing on stderr.
expect_success() {
    if [[ $status != 0 ]]; then
        report_mismatch "$SENT" "exit status 0" "$(describe_run)" "$1"
    fi
}

# expect_output EXPECTED CAUSE: stdout is exactly EXPECTED (lines).
expect_output() {
    expect_equal "$SENT" "$1" "$output" "$2"
}

# expect_failure_line CAUSE [PATTERN...]: exit status 1 and exactly one line
# on stderr, which contains every PATTERN (grep -E, case-insensitive).
expect_failure_line() {
    local cause=$1 pattern
    shift
    if [[ $status != 1 ]]; then
        report_mismatch "$SENT" "exit status 1 and one line on stderr" "$(describe_run)" "$cause"
        return 1
    fi
    if [[ ${#stderr_lines[@]} != 1 ]]; then
        report_mismatch "$SENT" "exactly one line on stderr" "${#stderr_lines[@]} lines: $stderr" \
            "every failure prints one clear line (see the common mistakes of the lesson)"
        return 1
    fi
    for pattern in "$@"; do
        if ! grep -Eqi -- "$pattern" <<<"$stderr"; then
            report_mismatch "$SENT" "a line on stderr matching /$pattern/" "$stderr" "$cause"
            return 1
        fi
    done
}

# expect_usage_error ARGS...: exit status 2 and one line naming the usage.
expect_usage_error() {
    run_client "$@"
    if [[ $status != 2 || ${#stderr_lines[@]} != 1 || $stderr != *[Uu]sage* ]]; then
        report_mismatch "$SENT" "exit status 2 and one line on stderr with the usage" \
            "$(describe_run)" "the command line is not checked: see step 1 of the lesson"
    fi
}

# expect_record EXPECTED CAUSE: once the fake server has seen the connection
# close, what it received is exactly EXPECTED (printf format).
expect_record() {
    local expected="$BATS_TEST_TMPDIR/expected-record"
    # shellcheck disable=SC2059 # the format is the point
    printf "$1" >"$expected"
    # The client may be gone before the server has read everything: wait for
    # the server's "closed" line (not long when no connection came at all).
    if wait_until 2 grep -q 'Accept new connection' "$SERVER_ERR"; then
        wait_until 3 grep -q 'closed\.$' "$SERVER_ERR" || true
    fi
    expect_file_equal "$SENT (bytes the server received)" "$expected" "$RECORD" "$2"
}

# find_free_port: sets FREE_PORT to a port nothing listens on (a fake
# server's, once it has stopped).
find_free_port() {
    start_fake normal
    stop_process "$SERVER_PID"
    FREE_PORT=$SERVER_PORT
}

# ------------------------------------------------------------------- step 1

@test "step 1: a missing argument or a bad port is a usage error (exit 2, one line)" {
    expect_usage_error
    expect_usage_error 127.0.0.1
    expect_usage_error 127.0.0.1 port
    expect_usage_error 127.0.0.1 65536
    expect_usage_error 127.0.0.1 -1
    expect_usage_error 127.0.0.1 ' 80'
    expect_usage_error 127.0.0.1 80x
    expect_usage_error -x 127.0.0.1 80
    expect_usage_error 127.0.0.1 80 "$(printf 'two\nlines')"
}

@test "step 1: nothing listening: exit 1 with a line naming 'Connection refused'" {
    find_free_port
    local port=$FREE_PORT
    FAKE_MODE=none
    run_client 127.0.0.1 "$port" Michael
    expect_failure_line "connect() failed and the message does not say so: see step 1 of the lesson" \
        'connection refused' "$port"
}

@test "step 1: connects over IPv6 to ::1" {
    [[ -e /proc/net/if_inet6 ]] || [[ $(uname) != Linux ]] || skip "this machine has no IPv6"
    start_fake_on ::1 normal
    run_client ::1 "$SERVER_PORT"
    wait_until 2 grep -q 'Accept new connection from \[::1\]' "$SERVER_ERR" ||
        report_mismatch "$SENT" "a connection to [::1]:$SERVER_PORT" "$(describe_run)" \
            "the address is not resolved with getaddrinfo (AF_UNSPEC), or only its IPv4 addresses are tried: see step 1 of the lesson"
}

@test "step 1: connects to localhost (a name, not an address)" {
    start_fake normal
    run_client localhost "$SERVER_PORT"
    wait_until 2 grep -q 'Accept new connection from 127\.0\.0\.1' "$SERVER_ERR" ||
        report_mismatch "$SENT" "a connection to 127.0.0.1:$SERVER_PORT" "$(describe_run)" \
            "the name is not resolved, or only the first getaddrinfo result is tried (localhost may be ::1 first): see step 1 of the lesson"
}

# ------------------------------------------------------------------- step 2

@test "step 2: prints the welcome line" {
    start_fake normal
    run_client 127.0.0.1 "$SERVER_PORT"
    expect_equal "$SENT" "Welcome!" "${lines[0]:-}" \
        "the welcome line is not read and printed: see step 2 of the lesson"
}

@test "step 2: a welcome line that arrives one byte at a time is printed whole" {
    start_fake split
    run_client 127.0.0.1 "$SERVER_PORT"
    expect_equal "$SENT" "Welcome!" "${lines[0]:-}" \
        "one recv() is taken for a whole message; TCP delivers bytes, read until the newline: see step 2 of the lesson"
}

@test "step 2: the server closes before the welcome: exit 1 with one clear line" {
    start_fake -n 0 close-early
    run_client 127.0.0.1 "$SERVER_PORT" Michael
    expect_failure_line "end of stream (read() returning 0) is not handled: see step 2 of the lesson" \
        'closed|end of (stream|file|connection)|EOF'
}

# ------------------------------------------------------------------- step 3

@test "step 3: each NAME gets its reply printed, in order" {
    start_fake normal
    run_client 127.0.0.1 "$SERVER_PORT" Michael Tracy Sarah
    expect_output $'Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!' \
        "each name must be sent as one line and its reply line read and printed: see step 3 of the lesson"
    expect_success "see step 3 of the lesson"
}

@test "step 3: sends exactly one line per NAME, then exit" {
    start_fake normal
    run_client 127.0.0.1 "$SERVER_PORT" Michael Tracy Sarah
    expect_record 'Michael\nTracy\nSarah\nexit\n' \
        "every message is a line: NAME then \\n, and exit\\n at the end (TCP keeps no boundaries): see step 3 of the lesson"
}

@test "step 3: a line that write() takes only in part is finished with more writes" {
    start_fake normal
    # unlucky.so: every write() or send() on the socket takes at most 3
    # bytes, as it may when the socket buffer is nearly full.
    unlucky_prefix UNLUCKY_SHORT=3
    CLIENT_PREFIX=("${UNLUCKY_PREFIX[@]}")
    CLIENT_NOTE="each write() takes at most 3 bytes"
    run_client 127.0.0.1 "$SERVER_PORT" Michael Tracy Sarah
    expect_record 'Michael\nTracy\nSarah\nexit\n' \
        "write() returns how many bytes it took, maybe fewer than asked: write the rest in a loop (write_all): see step 3 of the lesson"
    expect_output $'Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!' \
        "each whole line gets its reply: see step 3 of the lesson"
    expect_success "see step 3 of the lesson"
}

@test "step 3: replies that arrive one byte at a time are reassembled" {
    start_fake split
    run_client 127.0.0.1 "$SERVER_PORT" Michael Tracy Sarah
    expect_output $'Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!' \
        "one recv() is taken for a whole reply; read through the line buffer until the newline: see steps 2 and 3 of the lesson"
    expect_success "see step 3 of the lesson"
}

@test "step 3: several lines that arrive in one read are all used, in order" {
    start_fake joined Michael Tracy Sarah
    run_client 127.0.0.1 "$SERVER_PORT" Michael Tracy Sarah
    expect_output $'Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!' \
        "bytes after the first newline are thrown away; keep them in the buffer for the next line: see step 2 of the lesson"
    expect_success "one read brought every line: taken as one message, the client then waits for replies that already came; read lines through the buffer: see step 2 of the lesson"
}

@test "step 3: works with a shell server behind socat" {
    require_command socat
    local script="$BATS_TEST_TMPDIR/hello.sh" port
    cat >"$script" <<'EOF'
#!/bin/sh
printf 'Welcome!\n'
while IFS= read -r line; do
    [ "$line" = exit ] && exit 0
    printf 'Hello, %s!\n' "$line"
done
EOF
    chmod +x "$script"
    find_free_port
    port=$FREE_PORT
    FAKE_MODE="none: socat TCP-LISTEN:$port with a shell script"
    start_background socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" "EXEC:$script"
    wait_until 5 bash -c "exec 9<>/dev/tcp/127.0.0.1/$port" 2>/dev/null ||
        skip "socat did not start listening on 127.0.0.1:$port: $(escape_bytes <"$BG_ERR")"
    run_client 127.0.0.1 "$port" Michael Tracy
    expect_output $'Welcome!\nHello, Michael!\nHello, Tracy!' \
        "the client works with hello_fake but not with another server: see step 3 of the lesson"
    expect_success "see step 3 of the lesson"
}

# ------------------------------------------------------------------- step 4

@test "step 4: a reply that is not 'Hello, NAME!': exit 1, the reply quoted and escaped" {
    start_fake -n 1 garbage
    run_client 127.0.0.1 "$SERVER_PORT" Michael
    expect_failure_line "each reply must be checked against 'Hello, NAME!': see step 4 of the lesson" \
        'Hello, Michael!' 'Hi, Michael\.'
    if [[ $stderr == *$'\e'* ]]; then
        report_mismatch "$SENT" "the reply escaped on stderr (\\x1b, not the raw byte)" "$stderr" \
            "network bytes go raw to the terminal: escape them: see step 4 of the lesson"
    fi
    expect_equal "$SENT" "Welcome!" "$output" \
        "a wrong reply must not be printed as if it were right: see step 4 of the lesson"
}

@test "step 4: the server closes instead of replying: exit 1 with one clear line" {
    start_fake -n 2 close-early
    run_client 127.0.0.1 "$SERVER_PORT" Michael Tracy Sarah
    expect_failure_line "end of stream while waiting for a reply is not reported: see step 4 of the lesson" \
        'closed|end of (stream|file|connection)|EOF' 'Tracy'
    expect_output $'Welcome!\nHello, Michael!' "see step 4 of the lesson"
}

@test "step 4: the server closes in the middle of a reply: exit 1 with one clear line" {
    start_fake -n 1 cut
    run_client 127.0.0.1 "$SERVER_PORT" Michael
    expect_failure_line "a partial line at the end of the stream is not a reply: see step 4 of the lesson" \
        'closed|end of (stream|file|connection)|EOF'
    expect_output 'Welcome!' "a partial line must not be printed as a reply: see step 4 of the lesson"
}

@test "step 4: a silent server: exit 1 after about 10 seconds" {
    start_fake -n 1 silent
    local started=$SECONDS took
    run_client --seconds 15 127.0.0.1 "$SERVER_PORT" Michael
    took=$((SECONDS - started))
    if [[ $status == 124 ]]; then
        report_mismatch "$SENT" "exit status 1 after about 10 s" "still waiting after 15 s (stopped)" \
            "the wait for a reply has no timeout (poll() before read()): see step 4 of the lesson"
    fi
    expect_failure_line "see step 4 of the lesson"
    if ((took < 9)); then
        report_mismatch "$SENT" "a wait of about 10 s" "gave up after $took s" \
            "the timeout must be 10 seconds per wait: see step 4 of the lesson"
    fi
}

# ------------------------------------------------------------------- step 5

@test "step 5: with no NAME, each line of stdin is a name" {
    start_fake normal
    printf 'Michael\nTracy\r\nSarah' >"$BATS_TEST_TMPDIR/names"
    run_client --in "$BATS_TEST_TMPDIR/names" 127.0.0.1 "$SERVER_PORT"
    expect_output $'Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!' \
        "names are not read from stdin (strip the \\n and a \\r before it; the last line may lack its \\n): see step 5 of the lesson"
    expect_success "see step 5 of the lesson"
    expect_record 'Michael\nTracy\nSarah\nexit\n' \
        "each stdin line must be sent as NAME\\n (without a \\r), then exit\\n: see step 5 of the lesson"
}

@test "step 5: a name with a NUL byte in it is passed through whole" {
    start_fake normal
    printf 'a\0b\n' >"$BATS_TEST_TMPDIR/names"
    printf 'Welcome!\nHello, a\0b!\n' >"$BATS_TEST_TMPDIR/expected"
    SENT="hello_client 127.0.0.1 $SERVER_PORT with stdin 'a\\0b\\n'"
    timeout "$CLIENT_SECONDS" "$CLIENT" 127.0.0.1 "$SERVER_PORT" \
        <"$BATS_TEST_TMPDIR/names" >"$BATS_TEST_TMPDIR/got" 2>"$BATS_TEST_TMPDIR/err" || true
    expect_file_equal "$SENT" "$BATS_TEST_TMPDIR/expected" "$BATS_TEST_TMPDIR/got" \
        "a string function (strlen, strcpy, printf %s) stops at the NUL byte; use lengths and memcpy/fwrite: see step 5 of the lesson"
}

@test "step 5: a long stream of names from stdin is all answered" {
    start_fake normal
    local names="$BATS_TEST_TMPDIR/names" expected="$BATS_TEST_TMPDIR/expected"
    seq -f 'name%g' 1 "$NAME_COUNT" >"$names"
    { echo 'Welcome!'; sed 's/.*/Hello, &!/' "$names"; } >"$expected"
    SENT="hello_client 127.0.0.1 $SERVER_PORT with $NAME_COUNT names on stdin"
    timeout 20 "$CLIENT" 127.0.0.1 "$SERVER_PORT" <"$names" \
        >"$BATS_TEST_TMPDIR/got" 2>"$BATS_TEST_TMPDIR/err" || true
    expect_file_equal "$SENT" "$expected" "$BATS_TEST_TMPDIR/got" \
        "lines are lost or mixed up between reads (keep what follows a newline in the buffer): see step 5 of the lesson"
}
