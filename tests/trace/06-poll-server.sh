# shellcheck shell=bash
# Trace of lesson 06 (06-poll-server), for `make trace LESSON=06`: two
# clients at once, their lines interleaved, served by hello_poll's one
# thread: each reply leaves as soon as its line arrives, whoever sent it.
# After each "exit" the server closes first (its FIN leads).
# Helpers: tests/trace/lib.sh.

exchange_default() {
    local server first second
    server=$(demo_program hello_poll)
    demo_start_server SERVER "$server" -p 0
    trace_role server "$SERVER_PORT"
    trace_capture
    say "hello_poll listens on 127.0.0.1:$SERVER_PORT. Two clients connect; their lines alternate:"
    hello_open first "$SERVER_PORT"
    hello_open second "$SERVER_PORT"
    hello_say "$first" Michael
    hello_say "$second" Tracy
    hello_say "$first" Sarah
    hello_bye "$second"
    hello_bye "$first"
    trace_time_wait
    demo_stop_server "$SERVER_PID"
}

expect_default() {
    cat <<'EXPECT'
handshake client server
data server client Welcome!\n
handshake client_2 server
data server client_2 Welcome!\n
data client server Michael\n
data server client Hello, Michael!\n
data client_2 server Tracy\n
data server client_2 Hello, Tracy!\n
data client server Sarah\n
data server client Hello, Sarah!\n
data client_2 server exit\n
fin server client_2
fin client_2 server
data client server exit\n
fin server client
fin client server
no-rst server
EXPECT
}
