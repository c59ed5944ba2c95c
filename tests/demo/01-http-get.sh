#!/usr/bin/env bash
# Demo of lesson 01 (01-http-get): a raw HTTP/1.1 GET against the lab's
# fixture server: a small page to stdout, the same with -v, saved with -o,
# a chunked page sent one byte at a time, and a 404 that saves nothing.
set -euo pipefail
# shellcheck source=tests/demo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

get=$(demo_program http_get)
fixture=$(demo_fixture http_fixture)

page="$DEMO_TMP/index.http"
body='<!doctype html>
<title>sockstep</title>
<p>Hello from the fixture server.</p>
'
printf 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s' \
    "${#body}" "$body" >"$page"

say "Lesson 01: HTTP by hand. http_get opens a TCP connection, writes a GET request"
say "and reads the reply: status line, headers, an empty line, then the body."
demo_start_server PAGE "$fixture" -p 0 -f "$page"
say "http_fixture listens on 127.0.0.1, port $PAGE_PORT (chosen by the kernel with -p 0),"
say "and answers every request with a small HTML page of ${#body} bytes."
show_cmd "$get" "http://127.0.0.1:$PAGE_PORT/index.html"
say "Only the body reached stdout: exactly Content-Length bytes. With -v, the status"
say "line and the headers go to stderr (escaped, never raw):"
show_cmd "$get" -v "http://localhost:$PAGE_PORT/index.html"
say "'localhost' was resolved with getaddrinfo, like any name. Now save it with -o:"
show_cmd "$get" -o "$DEMO_TMP/saved.html" "http://127.0.0.1:$PAGE_PORT/index.html"
show_cmd ls "$DEMO_TMP/saved.html"
say "The body went to a temporary file beside saved.html, renamed only when complete."
demo_stop_server "$PAGE_PID"

chunked="$DEMO_TMP/chunked.http"
printf 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6;lang=en\r\nhello \r\n6\r\nworld\n\r\n0\r\nX-Checksum: 42\r\n\r\n' >"$chunked"
demo_start_server CHUNKED "$fixture" -p 0 -f "$chunked" -d 1000
say ""
say "Port $CHUNKED_PORT sends a chunked reply ('6;lang=en', 'hello ', '6', 'world', '0',"
say "a trailer), one byte per write, 1 ms apart. TCP keeps no message boundaries, so"
say "http_get must find every line and chunk wherever the reads cut them:"
show_cmd "$get" "http://127.0.0.1:$CHUNKED_PORT/"
demo_stop_server "$CHUNKED_PID"

missing="$DEMO_TMP/missing.http"
printf 'HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\nnot found\n' >"$missing"
demo_start_server MISSING "$fixture" -p 0 -f "$missing"
say ""
say "Port $MISSING_PORT answers 404. The error page is not the file we asked for:"
show_cmd "$get" -o "$DEMO_TMP/page.html" "http://127.0.0.1:$MISSING_PORT/page.html" || true
say "Exit status 1, and no page.html was written:"
show_cmd ls "$DEMO_TMP/page.html" || true
demo_stop_server "$MISSING_PID"
say "The fixture servers stopped on SIGTERM; nothing is left running."
