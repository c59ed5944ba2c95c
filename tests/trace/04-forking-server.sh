# shellcheck shell=bash
# Trace of lesson 04 (04-forking-server), for `make trace LESSON=04`: the
# tutorial's exchange (Michael, Tracy, Sarah) with hello_fork, line by line.
# A child process serves the connection, but the wire cannot tell: the
# packets are those of lesson 03. After "exit" the child closes first, so
# the server's FIN leads and its side waits in TIME_WAIT.
# Helpers: tests/trace/lib.sh.

exchange_default() {
    local server
    server=$(demo_program hello_fork)
    demo_start_server SERVER "$server" -p 0
    trace_role server "$SERVER_PORT"
    trace_capture
    say "hello_fork listens on 127.0.0.1:$SERVER_PORT; a client says the tutorial's lines:"
    hello_tutorial "$SERVER_PORT"
    trace_time_wait
    demo_stop_server "$SERVER_PID"
}

expect_default() {
    expect_hello_tutorial client server
    echo "no-rst server"
    echo "no-rst client"
}
