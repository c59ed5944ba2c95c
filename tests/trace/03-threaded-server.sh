# shellcheck shell=bash
# Trace of lesson 03 (03-threaded-server), for `make trace LESSON=03`: the
# tutorial's exchange (Michael, Tracy, Sarah) with hello_threads, line by
# line; after "exit" the server closes first, so its FIN leads and the
# server's side waits in TIME_WAIT.
# scenarios: unread-close - a server that closes with unread input is answered by a reset (RST); yours should close with a FIN
# Helpers: tests/trace/lib.sh.

exchange_default() {
    local server
    server=$(demo_program hello_threads)
    demo_start_server SERVER "$server" -p 0
    trace_role server "$SERVER_PORT"
    trace_capture
    say "hello_threads listens on 127.0.0.1:$SERVER_PORT; a client says the tutorial's lines:"
    hello_tutorial "$SERVER_PORT"
    trace_time_wait
    demo_stop_server "$SERVER_PID"
}

expect_default() {
    expect_hello_tutorial client server
    echo "no-rst server"
    echo "no-rst client"
}

# The same bytes, "Michael\nexit\nTracy\n" in one write after the welcome,
# to two servers: the variant that reads one byte at a time (it leaves
# "Tracy\n" unread when it closes), then the program under test (yours, or
# the reference).
exchange_unread_close() {
    local careless server conn
    careless=$(trace_variant hello_threads byte-at-a-time)
    server=$(demo_program hello_threads)
    demo_start_server CARELESS "$careless" -p 0
    demo_start_server SERVER "$server" -p 0
    trace_role "careless server" "$CARELESS_PORT"
    trace_role server "$SERVER_PORT"
    trace_capture
    say "A server that reads one byte at a time (port $CARELESS_PORT) gets three lines in one"
    say "write. It answers Michael, reads exit, and closes with 'Tracy' still unread:"
    hello_open conn "$CARELESS_PORT"
    hello_send_all "$conn" 'Michael\nexit\nTracy\n'
    say ""
    say "The same bytes to $(demo_path "$server") (port $SERVER_PORT):"
    hello_open conn "$SERVER_PORT"
    hello_send_all "$conn" 'Michael\nexit\nTracy\n'
    demo_stop_server "$CARELESS_PID"
    demo_stop_server "$SERVER_PID"
}

expect_unread_close() {
    cat <<'EOF'
handshake client careless_server
data careless_server client Welcome!\n
data client careless_server Michael\nexit\nTracy\n
rst careless_server client
handshake client_2 server
data server client_2 Welcome!\n
data client_2 server Michael\nexit\nTracy\n
data server client_2 Hello, Michael!\n
fin server client_2
fin client_2 server
no-rst server
no-rst client_2
EOF
}
