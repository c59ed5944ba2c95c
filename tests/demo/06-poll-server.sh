#!/usr/bin/env bash
# Demo of lesson 06 (06-poll-server): hello_poll serves the tutorial's
# exchange (Michael, Tracy, Sarah) with one thread, serves a second client
# while a first one stays silent, keeps its memory small while a client
# sends lines and never reads the replies, and stops on SIGTERM with
# status 0.
set -euo pipefail
# shellcheck source=tests/demo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

server=$(demo_program hello_poll)
peer=$(demo_fixture tcp_peer)

memory() { # memory PID: its resident memory, from /proc
    awk '$1 == "VmRSS:" { print $2 " kB" }' "/proc/$1/status" 2>/dev/null || echo "unknown"
}

say "Lesson 06: one thread serves every client; poll() says which socket is ready."
demo_start_server SERVER "$server" -p 0
say "hello_poll listens on 127.0.0.1, port $SERVER_PORT (chosen by the kernel: -p 0)."
tutorial_exchange "$SERVER_PORT"

say ""
say "A first client connects and stays silent. With one thread, a read() that"
say "waited for it would stall everybody; this loop only reads what poll()"
say "reports ready, so a second client is served at once:"
start_silent_client "$SERVER_PORT" 5000
show_input 'Bob\nexit\n' "$peer" -k 127.0.0.1 "$SERVER_PORT"
threads=$(thread_count "$SERVER_PID")
say "The server still runs $threads thread(s)."

say ""
say "A client that sends lines for 2 seconds and never reads a reply. The server"
say "stops reading from it while 64 KiB of its replies wait (back-pressure):"
say "server memory before: $(memory "$SERVER_PID")"
# shellcheck disable=SC2016 # expanded by the inner bash
timeout 2 bash -c 'exec 5<>"/dev/tcp/127.0.0.1/$1" && yes Michael >&5' _ "$SERVER_PORT" 2>/dev/null || true
say "server memory after:  $(memory "$SERVER_PID")"
stop_silent_client

say ""
kill -TERM "$SERVER_PID"
status=0
wait "$SERVER_PID" || status=$?
say "SIGTERM: poll() returned EINTR, the loop saw the stop flag; exit status $status."
say "The server's log (stderr), first lines:"
head -n 6 "$SERVER_LOG" | sed 's/^/    /'
