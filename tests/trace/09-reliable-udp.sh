# shellcheck shell=bash
# Trace of lesson 09 (09-reliable-udp), for `make trace LESSON=09`: rudp_send
# sends a 1,000-byte file (one data packet, then the end, FIN) to rudp_recv
# through the lab's relay, which drops the first datagram: the receiver gets
# the FIN first and acknowledges "still waiting for 0"; the sender's timer
# fires and it sends packet 0 again; the receiver acknowledges both.
# Helpers: tests/trace/lib.sh.

exchange_default() {
    local sender receiver relay file copy
    sender=$(demo_program rudp_send)
    receiver=$(demo_program rudp_recv)
    relay=$(demo_fixture udp_relay)
    file="$DEMO_TMP/file"
    copy="$DEMO_TMP/copy"
    head -c 1000 /dev/zero | tr '\0' 's' >"$file"
    demo_start_server RECV "$receiver" -p 0 -o "$copy"
    demo_start_server RELAY "$relay" -D 1 127.0.0.1 "$RECV_PORT"
    trace_role receiver "$RECV_PORT"
    trace_role_of relay "$RELAY_PID"
    trace_capture
    say "rudp_recv on 127.0.0.1:$RECV_PORT; udp_relay on 127.0.0.1:$RELAY_PORT drops the first datagram."
    show_cmd "$sender" -v 127.0.0.1 "$RELAY_PORT" "$file"
    wait "$RECV_PID" 2>/dev/null || true
    say "Received $(wc -c <"$copy") bytes."
    demo_stop_server "$RELAY_PID"
}

expect_default() {
    cat <<'EXPECT'
datagram client relay \x01\0\x03\xe8\0\0\0\0
datagram client relay \x03\0\0\0\0\0\0\x01
datagram relay receiver \x03\0\0\0\0\0\0\x01
datagram receiver relay \x02\0\0\0\0\0\0\x01\0\0\0\0
datagram client relay \x01\0\x03\xe8\0\0\0\0
datagram relay receiver \x01\0\x03\xe8\0\0\0\0
datagram receiver relay \x02\0\0\0\0\0\0\0\0\0\0\x02
EXPECT
}
