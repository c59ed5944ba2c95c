#!/usr/bin/env bash
# Demo of lesson 02 (02-tcp-client): hello_client talks the hello protocol to
# a server, first a well-behaved one, then one that sends its replies one
# byte at a time (TCP keeps no message boundaries; the client reads lines).
set -euo pipefail
# shellcheck source=tests/demo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

client=$(demo_program hello_client)
fake=$(demo_fixture hello_fake)

say "Lesson 02: a TCP client. Connect, read the welcome line, send names, read replies."
demo_start_server SERVER "$fake" -p 0 normal
say "A hello server (the lab's test peer hello_fake, in its normal mode) listens on"
say "127.0.0.1, port $SERVER_PORT (chosen by the kernel with -p 0). The client connects,"
say "prints the welcome, sends each name as one line and prints each reply:"
show_cmd "$client" 127.0.0.1 "$SERVER_PORT" Michael Tracy Sarah
say "Four lines came back, each checked to be exactly 'Hello, NAME!'. The server's log:"
# The client may be gone before the server logs the end: wait for it (2 s at most).
for _ in $(seq 40); do
    grep -q 'closed\.$' "$SERVER_LOG" && break
    sleep 0.05
done
sed 's/^/    /' "$SERVER_LOG"
demo_stop_server "$SERVER_PID"

demo_start_server SPLIT "$fake" -p 0 split
say ""
say "Now a server on port $SPLIT_PORT that writes every line one byte at a time."
say "One recv() per message would print 'W', then 'e', ...; reading up to the"
say "newline through a buffer gives the same four lines as before:"
show_cmd "$client" 127.0.0.1 "$SPLIT_PORT" Michael Tracy Sarah
demo_stop_server "$SPLIT_PID"
say "Both servers stopped on SIGTERM."
