#!/bin/sh
# build/bin/port FILE: waits (up to 10 s) for a server's "listening on
# ADDR:PORT" line in FILE, the server's standard output, and prints PORT.
# It is what a lesson's "Try it" uses after starting a server on -p 0:
#
#   build/solutions/03-threaded-server/hello_threads -p 0 >build/server.out &
#   server=$!
#   port=$(build/bin/port build/server.out)
#
# FILE is removed once read, so that the next server started with the same
# redirection cannot be mistaken for this one (its line is the only one a
# server prints on stdout). Exit status 1, with a line on stderr, when no
# such line came in time.
if [ $# -ne 1 ]; then
    echo "usage: port FILE  (FILE: the standard output of a server started with -p 0)" >&2
    exit 2
fi
tries=0
while [ "$tries" -lt 100 ]; do
    port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$1" 2>/dev/null | head -n 1)
    if [ -n "$port" ]; then
        rm -f "$1"
        echo "$port"
        exit 0
    fi
    tries=$((tries + 1))
    sleep 0.1
done
echo "port: no 'listening on ADDR:PORT' line in $1 after 10 s (did the server start? its errors are on your terminal)" >&2
exit 1
