# shellcheck shell=bash
# Trace of lesson 01 (01-http-get), for `make trace LESSON=01`: http_get
# fetches a page from the lab's fixture server, as the demo does, but a page
# of 200,000 bytes with no Content-Length: the request goes out in one
# segment, the body comes back in many, and its end is the server's FIN
# (Connection: close), which http_get answers with its own.
# Helpers: tests/trace/lib.sh.

exchange_default() {
    local get fixture page
    get=$(demo_program http_get)
    fixture=$(demo_fixture http_fixture)
    page="$DEMO_TMP/page.http"
    {
        printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n'
        awk 'BEGIN { for (i = 0; i < 22222; i++) printf "sockstep\n"; printf "so" }'
    } >"$page"
    demo_start_server PAGE "$fixture" -p 0 -f "$page"
    trace_role server "$PAGE_PORT"
    trace_capture
    say "http_fixture listens on 127.0.0.1:$PAGE_PORT and answers with 200,000 bytes of text,"
    say "without Content-Length: the body ends when the server closes the connection."
    show_cmd "$get" -o "$DEMO_TMP/page.txt" "http://127.0.0.1:$PAGE_PORT/page.txt"
    say "Saved $(wc -c <"$DEMO_TMP/page.txt") bytes."
    demo_stop_server "$PAGE_PID"
}

expect_default() {
    cat <<'EXPECT'
handshake client server
data client server GET /page.txt HTTP/1.1\r\n
data server client HTTP/1.1 200 OK\r\n
segments server client 3
fin server client
fin client server
no-rst client
no-rst server
EXPECT
}
