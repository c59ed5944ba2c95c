# shellcheck shell=bash
# Trace of lesson 07 (07-epoll-server), for `make trace LESSON=07`: three
# clients at once, their lines interleaved, served by hello_epoll's one
# thread (edge-triggered epoll): each reply leaves as soon as its line
# arrives. After each "exit" the server closes first (its FIN leads).
# Helpers: tests/trace/lib.sh.

exchange_default() {
    local server first second third
    server=$(demo_program hello_epoll)
    demo_start_server SERVER "$server" -p 0
    trace_role server "$SERVER_PORT"
    trace_capture
    say "hello_epoll listens on 127.0.0.1:$SERVER_PORT. Three clients connect; their lines alternate:"
    hello_open first "$SERVER_PORT"
    hello_open second "$SERVER_PORT"
    hello_open third "$SERVER_PORT"
    hello_say "$first" Michael
    hello_say "$second" Tracy
    hello_say "$third" Sarah
    hello_bye "$second"
    hello_bye "$first"
    hello_bye "$third"
    trace_time_wait
    demo_stop_server "$SERVER_PID"
}

expect_default() {
    cat <<'EXPECT'
handshake client server
handshake client_2 server
handshake client_3 server
data client server Michael\n
data server client Hello, Michael!\n
data client_2 server Tracy\n
data server client_2 Hello, Tracy!\n
data client_3 server Sarah\n
data server client_3 Hello, Sarah!\n
data client_2 server exit\n
fin server client_2
data client server exit\n
fin server client
data client_3 server exit\n
fin server client_3
fin client_3 server
no-rst server
EXPECT
}
