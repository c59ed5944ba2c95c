#!/usr/bin/env bash
# Demo of lesson 07 (07-epoll-server, Linux only): hello_epoll raises its
# open-file limit, serves the tutorial's exchange (Michael, Tracy, Sarah),
# then holds 1,000 clients at once, every one welcomed and answered, in a
# few megabytes, and stops on SIGTERM with status 0.
set -euo pipefail
# shellcheck source=tests/demo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

server=$(demo_program hello_epoll)
load=${SOCKSTEP_BUILD:-$SOCKSTEP_ROOT/build}/bench/hello_load

say "Lesson 07: one thread and epoll; the kernel reports only the sockets that are ready."
demo_start_server SERVER "$server" -p 0
say "hello_epoll listens on 127.0.0.1, port $SERVER_PORT. Its first log line:"
head -n 1 "$SERVER_LOG" | sed 's/^/    /'
tutorial_exchange "$SERVER_PORT"

say ""
if [[ -x $load ]]; then
    say "1,000 clients at once (hello_load -H: it opens them all, checks every"
    say "welcome, then sends one line on each and checks every reply):"
    show_cmd "$load" -H -c 1000 -t 20 127.0.0.1 "$SERVER_PORT"
    peak=$(awk '$1 == "VmHWM:" { print $2 " kB" }' "/proc/$SERVER_PID/status" 2>/dev/null || echo unknown)
    say "The server's peak memory meanwhile: $peak (an idle connection costs only"
    say "its small struct: buffers exist only while bytes wait in them)."
else
    say "(build/bench/hello_load is not built: run make to see 1,000 clients at once)"
fi

say ""
kill -TERM "$SERVER_PID"
status=0
wait "$SERVER_PID" || status=$?
say "SIGTERM, delivered only inside epoll_pwait(): the loop ends; exit status $status."
