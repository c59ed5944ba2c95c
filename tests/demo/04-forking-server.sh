#!/usr/bin/env bash
# Demo of lesson 04 (04-forking-server): hello_fork serves the tutorial's
# exchange (Michael, Tracy, Sarah) with a child process per connection,
# shows the children while clients are connected, shows that none is left
# as a zombie after they leave, and stops on SIGTERM, children included.
set -euo pipefail
# shellcheck source=tests/demo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

server=$(demo_program hello_fork)
peer=$(demo_fixture tcp_peer)

# children PID: "pid state" of each child of PID.
children() {
    { cat /proc/[0-9]*/stat 2>/dev/null || true; } | sed 's/ (.*) / (name) /' |
        awk -v p="$1" '$4 == p { print "pid " $1 ", state " $3 }'
}

# start_silent NAME: a client that connects, gets the welcome, says nothing.
start_silent() {
    "$peer" -k -t 4000 127.0.0.1 "$SERVER_PORT" </dev/null >"$DEMO_TMP/$1.out" 2>&1 &
    DEMO_PIDS+=("$!")
    for _ in $(seq 40); do
        grep -q 'Welcome!' "$DEMO_TMP/$1.out" && break
        sleep 0.05
    done
}

say "Lesson 04: a forking server. One child process per connection."
demo_start_server SERVER "$server" -p 0
say "hello_fork (pid $SERVER_PID) listens on 127.0.0.1, port $SERVER_PORT."
tutorial_exchange "$SERVER_PORT"

say ""
say "Two clients connect and stay silent. Each is served by a child of the"
say "server (state S: sleeping in read):"
start_silent first
start_silent second
children "$SERVER_PID" | sed 's/^/    /'
say "A third client is served all the same:"
show_input 'Bob\nexit\n' "$peer" -k 127.0.0.1 "$SERVER_PORT"

say ""
say "Its child has ended, and the SIGCHLD handler reaped it at once: no zombie"
say "(state Z) among the children left:"
for _ in $(seq 40); do
    (($(children "$SERVER_PID" | wc -l) <= 2)) && break
    sleep 0.05
done
children "$SERVER_PID" | sed 's/^/    /'

say ""
say "SIGTERM to the parent: it ends its two children, reaps them, and exits."
kill -TERM "$SERVER_PID"
status=0
wait "$SERVER_PID" || status=$?
left=$(children "$SERVER_PID" | wc -l)
say "Exit status $status; children left: $left."
say "The server's log (stderr; the two silent clients' children were ended"
say "by the stop, before they could log their end):"
sed 's/^/    /' "$SERVER_LOG"
