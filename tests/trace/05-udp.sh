# shellcheck shell=bash
# Trace of lesson 05 (05-udp), for `make trace LESSON=05`: as the demo, the
# hello protocol over UDP (no handshake, no FIN: one datagram each way per
# name), then the same through the lab's relay, which drops the client's
# first datagram: 300 ms later the client sends it again, and the resend is
# answered.
# Helpers: tests/trace/lib.sh.

exchange_default() {
    local server client relay
    server=$(demo_program udp_server)
    client=$(demo_program udp_client)
    relay=$(demo_fixture udp_relay)
    demo_start_server SERVER "$server" -p 0
    demo_start_server RELAY "$relay" -D 1 127.0.0.1 "$SERVER_PORT"
    trace_role server "$SERVER_PORT"
    trace_role_of relay "$RELAY_PID"
    trace_capture
    say "udp_server on 127.0.0.1:$SERVER_PORT; one datagram per name, one reply each:"
    show_cmd "$client" 127.0.0.1 "$SERVER_PORT" Michael Tracy Sarah
    say ""
    say "Through udp_relay on 127.0.0.1:$RELAY_PORT, which drops the client's first datagram:"
    show_cmd "$client" -t 300 -r 3 127.0.0.1 "$RELAY_PORT" Michael
    sed 's/^/    /' "$RELAY_LOG"
    demo_stop_server "$RELAY_PID"
    demo_stop_server "$SERVER_PID"
}

expect_default() {
    cat <<'EXPECT'
datagram client server Michael
datagram server client Hello, Michael!
datagram client server Tracy
datagram server client Hello, Tracy!
datagram client server Sarah
datagram server client Hello, Sarah!
datagram client_2 relay Michael
datagram client_2 relay Michael
datagram relay server Michael
datagram server relay Hello, Michael!
datagram relay client_2 Hello, Michael!
EXPECT
}
