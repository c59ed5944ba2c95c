#!/usr/bin/env bash
# Demo of lesson 05 (05-udp): the hello protocol over UDP, then a lost
# datagram recovered by the client's retry (through the lab's relay).
set -euo pipefail
# shellcheck source=tests/demo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

server=$(demo_program udp_server)
client=$(demo_program udp_client)

say "Lesson 05: UDP. One datagram in, one datagram out; nothing is resent for us."
demo_start_server SERVER "$server" -p 0
say "udp_server has bound a UDP socket on 127.0.0.1, port $SERVER_PORT (chosen by the"
say "kernel with -p 0). No listen(), no accept(): one socket serves every client."
say "The client sends one datagram per name and prints each reply:"
show_cmd "$client" 127.0.0.1 "$SERVER_PORT" Michael Tracy Sarah
say "Three datagrams out, three back. The server's log (stderr) saw:"
sed 's/^/    /' "$SERVER_LOG"

if relay=$(demo_fixture udp_relay 2>/dev/null); then
    demo_start_server RELAY "$relay" -D 1 127.0.0.1 "$SERVER_PORT"
    say ""
    say "Now through udp_relay on 127.0.0.1:$RELAY_PORT, which drops the first datagram"
    say "it receives, as a real network may. The client waits 300 ms, then resends:"
    show_cmd "$client" -t 300 -r 3 127.0.0.1 "$RELAY_PORT" Michael
    say "What the relay did:"
    sed 's/^/    /' "$RELAY_LOG"
    say "The first 'Michael' was lost; the retry got through and was answered."
    demo_stop_server "$RELAY_PID"
fi

demo_stop_server "$SERVER_PID"
say "udp_server stopped on SIGTERM."
