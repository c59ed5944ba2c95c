# shellcheck shell=bash
# Helpers for the tests of the single-thread event-loop servers (lessons 06
# and 07): a client held open from bash, reading with a deadline, a client
# that never reads, and the open-file limit. Load after lib/common, and set
# SERVER (the program under test) and LOAD (the load generator) in setup.
# shellcheck disable=SC2154 # SERVER and LOAD: set by the caller

# How long a read from a server may wait.
CLIENT_SECONDS=3

start_hello() {
    start_server "$SERVER" -p 0
}

# open_client: connects to the server; the new descriptor is in CLIENT_FD.
open_client() {
    exec {CLIENT_FD}<>"/dev/tcp/$SERVER_HOST/$SERVER_PORT"
}

close_client() {
    exec {CLIENT_FD}>&-
}

_file_size_at_least() {
    [[ $(wc -c <"$1") -ge $2 ]]
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
    ! is_running "$1" || _file_size_at_least "$2" "$3"
}

# talk SEND EXPECT [CAUSE]: on the open client, sends SEND (printf %b
# escapes) and checks that exactly EXPECT (the same escapes) comes back.
talk() {
    local sent=$1 expected="$BATS_TEST_TMPDIR/expected" got="$BATS_TEST_TMPDIR/got"
    printf '%b' "$2" >"$expected"
    [[ -z $sent ]] || printf '%b' "$sent" >&"$CLIENT_FD"
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
