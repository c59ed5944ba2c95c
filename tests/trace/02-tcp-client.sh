# shellcheck shell=bash
# Trace of lesson 02 (02-tcp-client), for `make trace LESSON=02`: the
# tutorial's exchange, as the demo runs it: hello_client Michael Tracy Sarah
# against the lab's hello server (hello_fake, normal mode). The client sends
# "exit" and closes at once, and the server closes as soon as it reads
# "exit": the two FINs cross, either may leave first, and the side whose FIN
# left first waits in TIME_WAIT (the trace says which).
# Helpers: tests/trace/lib.sh.

exchange_default() {
    local client fake
    client=$(demo_program hello_client)
    fake=$(demo_fixture hello_fake)
    demo_start_server SERVER "$fake" -p 0 normal
    trace_role server "$SERVER_PORT"
    trace_capture
    say "A hello server listens on 127.0.0.1:$SERVER_PORT. The client:"
    show_cmd "$client" 127.0.0.1 "$SERVER_PORT" Michael Tracy Sarah
    trace_time_wait
    demo_stop_server "$SERVER_PID"
}

expect_default() {
    cat <<'EXPECT'
handshake client server
data server client Welcome!\n
data client server Michael\n
data server client Hello, Michael!\n
data client server Tracy\n
data server client Hello, Tracy!\n
data client server Sarah\n
data server client Hello, Sarah!\n
data client server exit\n
fins client server
no-rst client
no-rst server
EXPECT
}
