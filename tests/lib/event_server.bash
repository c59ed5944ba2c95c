# shellcheck shell=bash
# Helpers for the tests of the single-thread event-loop servers (lessons 06
# and 07): a client held open from bash, reading with a deadline, a client
# that never reads, and the open-file limit; and the tests both lessons
# share (event_test_*, at the end). Load after lib/common, and set SERVER
# (the program under test) and LOAD (the load generator) in setup.
# shellcheck disable=SC2154 # SERVER and LOAD: set by the caller

# How long a read from a server may wait.
CLIENT_SECONDS=3

start_hello() {
    start_server "$SERVER" -p 0
}

# open_client: connects to the server; the new descriptor is in CLIENT_FD.
# A refused connection fails the test, saying so (and, when the server has
# ended, how).
open_client() {
    local err
    err="$BATS_TEST_TMPDIR/connect.err"
    if { exec {CLIENT_FD}<>"/dev/tcp/$SERVER_HOST/$SERVER_PORT"; } 2>"$err"; then
        return 0
    fi
    report_mismatch "(a new client connects to $SERVER_HOST:$SERVER_PORT)" "the connection accepted" \
        "connect: $(sed -n 's/.*: //p' "$err" | tail -n 1)" \
        "the server must go on listening, and accept every client"
}

# send_client TEXT: writes TEXT (printf %b escapes) to the open client; fails
# (without a message) when the connection is gone, instead of dying of
# SIGPIPE.
send_client() {
    (
        trap '' PIPE
        printf '%b' "$1" >&"$CLIENT_FD"
    ) 2>/dev/null
}

close_client() {
    exec {CLIENT_FD}>&-
}

# collect FD FILE BYTES [SECONDS]: copies what arrives on FD into FILE until
# BYTES bytes came, the server closed, or SECONDS passed. Sets COLLECT_EOF=1
# when the server closed the connection.
collect() {
    local fd=$1 file=$2 bytes=$3 seconds=${4:-$CLIENT_SECONDS} pid
    : >"$file"
    cat <&"$fd" >"$file" 3>&- &
    pid=$!
    COLLECT_EOF=0
    wait_until "$seconds" _collect_done "$pid" "$file" "$bytes" || true
    if is_running "$pid"; then
        kill "$pid" 2>/dev/null || true
    else
        COLLECT_EOF=1
    fi
    wait "$pid" 2>/dev/null || true
}

_collect_done() {
    ! is_running "$1" || file_size_at_least "$2" "$3"
}

# talk SEND EXPECT [CAUSE]: on the open client, sends SEND (printf %b
# escapes) and checks that exactly EXPECT (the same escapes) comes back.
talk() {
    local sent=$1 expected="$BATS_TEST_TMPDIR/expected" got="$BATS_TEST_TMPDIR/got"
    printf '%b' "$2" >"$expected"
    if [[ -n $sent ]] && ! send_client "$sent"; then
        report_mismatch "$sent" "$2" "(nothing: sending failed, the connection was closed)" "${3:-}"
        return 1
    fi
    collect "$CLIENT_FD" "$got" "$(wc -c <"$expected")"
    expect_file_equal "'${sent:-nothing}'" "$expected" "$got" "${3:-}"
}

# expect_closed [CAUSE]: the server closes the open client within a few
# seconds, sending nothing more.
expect_closed() {
    collect "$CLIENT_FD" "$BATS_TEST_TMPDIR/after" 1
    if [[ $COLLECT_EOF != 1 || -s $BATS_TEST_TMPDIR/after ]]; then
        report_mismatch "(waited for the server to close)" "end of stream" \
            "$(head -c 100 "$BATS_TEST_TMPDIR/after")$([[ $COLLECT_EOF == 1 ]] || echo ' (still open)')" \
            "${1:-}"
    fi
}

# raise_fd_limit N: this test and the servers it starts may open N files.
raise_fd_limit() {
    local hard
    hard=$(ulimit -Hn)
    if [[ $hard != unlimited ]] && ((hard < $1)); then
        skip "needs an open-file limit of $1 (hard limit here: $hard)"
    fi
    ulimit -Sn "$1"
}

require_load() {
    [[ -x $LOAD ]] || fail "the load generator $LOAD is not built: run make"
}

# A client that sends lines without end and never reads a reply.
start_non_reader() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    start_background bash -c 'exec 5<>"/dev/tcp/$1/$2" && yes Michael | head -c 50000000 >&5' \
        _ "$SERVER_HOST" "$SERVER_PORT"
}

peak_grew_over() { # peak_grew_over PID BASE_KIB LIMIT_KIB
    local now
    now=$(rss_kib "$1" peak) || return 1
    ((now - $2 > $3))
}

# ------------------------------------------------- tests both lessons share
# Each event_test_* PROG STEP ... starts PROG itself (as SERVER); STEP is the
# step of the lesson's README whose work the test checks, and the CAUSE
# arguments are the "likely cause" lines of its failure messages (empty:
# none).

# event_test_two_clients_logged PROG STEP CAUSE: two clients connected at the
# same time are both accepted, and each logged.
event_test_two_clients_logged() {
    local SERVER=$1
    shift 2
    start_hello
    expect_equal "(started with -p 0)" 127.0.0.1 "$SERVER_HOST"
    open_client
    local first=$CLIENT_FD
    open_client
    # shellcheck disable=SC2016 # expanded by the inner bash
    if ! wait_until 3 bash -c '[[ $(grep -c "^Accept new connection from 127\.0\.0\.1:[0-9]*\.\.\.$" "$1") -ge 2 ]]' _ "$SERVER_ERR"; then
        report_mismatch "(two clients connected at the same time)" \
            "two lines 'Accept new connection from 127.0.0.1:PORT...' on stderr" \
            "$(cat "$SERVER_ERR")" "$1"
    fi
    exec {first}>&-
}

# event_test_welcome_while_silent PROG STEP CAUSE: a client gets Welcome!
# while another one, connected first, stays silent.
event_test_welcome_while_silent() {
    local SERVER=$1
    shift 2
    start_hello
    open_client
    local silent=$CLIENT_FD
    open_client
    talk "" 'Welcome!\n' "$1"
    exec {silent}>&-
}

# event_test_half_line PROG STEP CAUSE: a client that sent half a line and
# waits does not keep the next one from its welcome.
event_test_half_line() {
    local SERVER=$1
    shift 2
    start_hello
    open_client
    local slow=$CLIENT_FD
    talk "Mich" 'Welcome!\n'
    open_client
    talk "" 'Welcome!\n' "$1"
    exec {slow}>&-
}

# event_test_tutorial PROG STEP: Michael, Tracy, Sarah, one line at a time.
event_test_tutorial() {
    local SERVER=$1 step=$2
    shift 2
    start_hello
    open_client
    talk "" 'Welcome!\n'
    talk 'Michael\n' 'Hello, Michael!\n' "each complete line gets 'Hello, LINE!\\\\n': see $step"
    talk 'Tracy\n' 'Hello, Tracy!\n'
    talk 'Sarah\n' 'Hello, Sarah!\n'
}

# event_test_pieces PROG STEP [CAUSE_EARLY CAUSE_KEPT]: a line that arrives in
# pieces is answered once, when its newline comes.
event_test_pieces() {
    local SERVER=$1
    shift 2
    start_hello
    open_client
    talk "" 'Welcome!\n'
    talk 'Mi' '' "${1:-}"
    talk 'cha' ''
    talk 'el\nTra' 'Hello, Michael!\n' "${2:-}"
    talk 'cy\n' 'Hello, Tracy!\n'
}

# event_test_cr_nul_empty PROG STEP [CAUSE_CR CAUSE_NUL]: a trailing \r is
# dropped, a NUL byte is data, an empty line is a line.
event_test_cr_nul_empty() {
    local SERVER=$1
    shift 2
    start_hello
    open_client
    talk "" 'Welcome!\n'
    talk 'Tracy\r\n' 'Hello, Tracy!\n' "${1:-}"
    talk 'a\0b\n' 'Hello, a\0b!\n' "${2:-}"
    talk '\n' 'Hello, !\n'
}

# event_test_line_limit PROG STEP CAUSE_4096 CAUSE_4097 [closes]: 4096 bytes
# are a line, 4097 get 'Error: line too long' (and, with "closes", the close).
event_test_line_limit() {
    local SERVER=$1
    shift 2
    start_hello
    open_client
    talk "" 'Welcome!\n'
    local line
    line=$(head -c 4096 /dev/zero | tr '\0' x)
    talk "$line\\n" "Hello, $line!\\n" "$1"
    talk "${line}y\\n" 'Error: line too long\n' "$2"
    [[ ${3:-} != closes ]] || expect_closed "after 'Error: line too long' the server closes the connection"
}

# event_test_million_lines PROG STEP CAUSE: 1,000,000 lines in one go while
# the replies are read late; all of them arrive, in order.
event_test_million_lines() {
    local SERVER=$1
    shift 2
    start_hello
    open_client
    talk "" 'Welcome!\n'
    local input="$BATS_TEST_TMPDIR/input" expected="$BATS_TEST_TMPDIR/expected" got="$BATS_TEST_TMPDIR/got"
    seq 1 1000000 | sed 's/^/n/' >"$input"
    sed 's/.*/Hello, &!/' "$input" >"$expected"
    # The writer runs on its own: the server stops reading while the
    # replies pile up, so a single-threaded test would wait for ever.
    { cat "$input" >&"$CLIENT_FD"; } 2>/dev/null 3>&- &
    local writer=$!
    wait_until 1 bash -c "! kill -0 $writer 2>/dev/null" || true
    collect "$CLIENT_FD" "$got" "$(wc -c <"$expected")" 15
    kill "$writer" 2>/dev/null || true
    wait "$writer" 2>/dev/null || true
    expect_file_equal "1,000,000 lines 'n1\\n'...'n1000000\\n' (8 MB) in one go" "$expected" "$got" "$1"
}

# event_test_non_reader_memory PROG STEP CAUSE: a client that never reads its
# replies does not grow the server's memory, and the others are served.
event_test_non_reader_memory() {
    local SERVER=$1 step=$2
    shift 2
    [[ ${SANITIZE:-} != 1 ]] || skip "memory is measured without sanitizers"
    start_hello
    open_client
    talk "" 'Welcome!\n'
    local base
    base=$(rss_kib "$SERVER_PID" peak)
    start_non_reader
    if wait_until 3 peak_grew_over "$SERVER_PID" "$base" 16384; then
        report_mismatch "up to 50 MB of 'Michael\\n' lines from a client that never reads" \
            "the server's peak memory stays within 16 MiB of ${base} KiB" \
            "$(rss_kib "$SERVER_PID" peak) KiB" "$1"
    fi
    talk 'Sarah\n' 'Hello, Sarah!\n' "the other clients must still be served ($step)"
}

# event_test_non_reader_stall PROG STEP CAUSE: a client that never reads its
# replies does not keep the others waiting.
event_test_non_reader_stall() {
    local SERVER=$1
    shift 2
    start_hello
    start_non_reader
    open_client
    talk "" 'Welcome!\n' "$1"
    talk 'Tracy\n' 'Hello, Tracy!\n'
    open_client
    talk "" 'Welcome!\n'
}

# event_test_thousand_clients PROG STEP [CAUSE]: 1,000 connections held at
# once, each welcomed and answered (hello_load -H).
event_test_thousand_clients() {
    local SERVER=$1
    shift 2
    require_load
    raise_fd_limit 4096
    start_hello
    run timeout 30 "$LOAD" -H -c 1000 -t 15 "$SERVER_HOST" "$SERVER_PORT"
    [[ $status -eq 0 && $output == *"held=1000 answered=1000"* ]] ||
        report_mismatch "1,000 connections (hello_load -H -c 1000), one line on each" \
            "held=1000 answered=1000 errors=0" "$output" "${1:-}"
}

# event_test_leavers PROG STEP CAUSE_OTHERS CAUSE_LEAK: of 10 clients, half
# leave (some say exit, some just close); the others are still answered, and
# every descriptor of those that left is closed.
event_test_leavers() {
    local SERVER=$1
    shift 2
    start_hello
    local base i fds=()
    base=$(fd_count "$SERVER_PID")
    for ((i = 0; i < 10; i++)); do
        open_client
        fds+=("$CLIENT_FD")
        talk "" 'Welcome!\n'
    done
    # Half of them leave at once: some say exit, some just close.
    for ((i = 1; i < 10; i += 2)); do
        CLIENT_FD=${fds[i]}
        if ((i % 4 == 1)); then
            send_client 'exit\n' ||
                report_mismatch "exit\n on client $i of 10" "the line sent" \
                    "(nothing: sending failed, the connection was closed)" "${1:-}" || return 1
        fi
        close_client
    done
    for ((i = 0; i < 10; i += 2)); do
        CLIENT_FD=${fds[i]}
        talk "name$i\\n" "Hello, name$i!\\n" "$1"
    done
    for ((i = 0; i < 10; i += 2)); do
        CLIENT_FD=${fds[i]}
        close_client
    done
    wait_until 3 eval '(($(fd_count "$SERVER_PID") <= base))' ||
        report_mismatch "(10 clients came and went)" "$base open descriptors, as before" \
            "$(fd_count "$SERVER_PID")" "$2"
}
