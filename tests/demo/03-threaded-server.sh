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
start_silent_client "$SERVER_PORT" 3000
show_input 'Bob\nexit\n' "$peer" -k 127.0.0.1 "$SERVER_PORT"
threads=$(thread_count "$SERVER_PID")
say "The server now runs $threads threads: the main one in accept(), one for the silent client."
stop_silent_client
wait_for_log "closed." || true

say ""
say "The server's log (stderr): one Accept line and one closed line per client."
sed 's/^/    /' "$SERVER_LOG"

kill -TERM "$SERVER_PID"
status=0
wait "$SERVER_PID" || status=$?
say "SIGTERM: the accept loop saw the stop flag; exit status $status."
