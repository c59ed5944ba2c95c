# shellcheck shell=bash
# Trace of lesson 08 (08-http-server), for `make trace LESSON=08`: a client
# sends two requests in one write (pipelining), the second one asking to
# close. http_serve answers them in order, then closes first (its FIN
# leads), after reading what the client sent: no reset.
# Helpers: tests/trace/lib.sh.

exchange_default() {
    local server root conn
    server=$(demo_program http_serve)
    root="$DEMO_TMP/www"
    mkdir -p "$root"
    printf 'hello from http_serve\n' >"$root/hello.txt"
    printf '<p>second page</p>\n' >"$root/two.html"
    demo_start_server SERVER "$server" -p 0 -r "$root"
    trace_role server "$SERVER_PORT"
    trace_capture
    say "http_serve listens on 127.0.0.1:$SERVER_PORT with ROOT $root."
    say "One client writes two requests at once; the second says Connection: close:"
    exec {conn}<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
    hello_send_all "$conn" 'GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /two.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
    trace_time_wait
    demo_stop_server "$SERVER_PID"
}

expect_default() {
    cat <<'EXPECT'
handshake client server
data client server GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\nGET
data server client HTTP/1.1 200 OK\r\n
data server client HTTP/1.1 200 OK\r\n
fin server client
fin client server
no-rst server
no-rst client
EXPECT
}
