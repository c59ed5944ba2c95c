#!/usr/bin/env bash
# Demo of lesson 03 (03-threaded-server): hello_threads serves the tutorial's
# exchange (Michael, Tracy, Sarah), answers lines sent all at once one by one,
# serves a second client while a first one stays silent, and stops on
# SIGTERM with status 0.
set -euo pipefail
# shellcheck source=tests/demo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

server=$(demo_program hello_threads)
peer=$(demo_fixture tcp_peer)

# wait_for_log TEXT: waits (2 s at most) until the server has logged TEXT.
wait_for_log() {
    local _
    for _ in $(seq 40); do
        grep -qF -- "$1" "$SERVER_LOG" && return 0
        sleep 0.05
    done
}

say "Lesson 03: a threaded server. One detached thread per connection."
demo_start_server SERVER "$server" -p 0
say "hello_threads listens on 127.0.0.1, port $SERVER_PORT (chosen by the kernel: -p 0)."
tutorial_exchange "$SERVER_PORT"

say ""
say "TCP keeps no message boundaries: four lines sent in one write still get"
say "one reply each, in order (the original tutorial's recv(1024) would answer"
say "them as one message). After 'exit' the server closes the connection:"
show_input 'Michael\nTracy\r\nSarah\nexit\n' "$peer" -k 127.0.0.1 "$SERVER_PORT"

say ""
say "A first client connects and stays silent; its thread waits for its line."
say "A second client is served at once all the same:"
"$peer" -k -t 3000 127.0.0.1 "$SERVER_PORT" </dev/null >"$DEMO_TMP/silent.out" 2>&1 &
silent=$!
DEMO_PIDS+=("$silent")
for _ in $(seq 40); do
    grep -q 'Welcome!' "$DEMO_TMP/silent.out" && break
    sleep 0.05
done
show_input 'Bob\nexit\n' "$peer" -k 127.0.0.1 "$SERVER_PORT"
threads=$(find "/proc/$SERVER_PID/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
say "The server now runs $threads threads: the main one in accept(), one for the silent client."
kill "$silent" 2>/dev/null || true
wait "$silent" 2>/dev/null || true
wait_for_log "closed." || true

say ""
say "The server's log (stderr): one Accept line and one closed line per client."
sed 's/^/    /' "$SERVER_LOG"

kill -TERM "$SERVER_PID"
status=0
wait "$SERVER_PID" || status=$?
say "SIGTERM: the accept loop saw the stop flag; exit status $status."
