#!/usr/bin/env bash
# Demo of lesson 08 (08-http-server): http_serve serves a generated folder
# to lesson 01's http_get and to curl: a file, a listing with an odd name
# escaped, a 404, a refused traversal, a 304, a 206; 300 slow clients do
# not delay a new request; SIGTERM ends it with status 0.
set -euo pipefail
# shellcheck source=tests/demo/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

server=$(demo_program http_serve)
get=$(demo_program http_get)
slow=$(demo_fixture slow_clients)

site="$DEMO_TMP/site"
mkdir -p "$site/docs" "$DEMO_TMP/outside"
printf 'hello from http_serve\n' >"$site/hello.txt"
printf '<h1>docs</h1>\n' >"$site/docs/notes.html"
printf 'odd name\n' >"$site/docs/<b>&co.txt"
printf 'not for you\n' >"$DEMO_TMP/outside/secret.txt"

say "Lesson 08: a static-file HTTP/1.1 server, one thread and a poll loop."
demo_start_server WEB "$server" -p 0 -r "$site"
say "http_serve serves $(demo_path "$site") on 127.0.0.1, port $WEB_PORT (-p 0)."
base="http://127.0.0.1:$WEB_PORT"

say ""
say "Lesson 01's client fetches a file:"
show_cmd "$get" "$base/hello.txt"
say "curl shows the head: Date, Content-Type from the extension, Content-Length, Last-Modified:"
show_cmd curl -s -i "$base/hello.txt"

say ""
say "A folder without index.html gets a listing; the name '<b>&co.txt' is HTML-escaped"
say "in the text and percent-encoded in the link:"
show_cmd curl -s "$base/docs/"

say ""
say "A missing file is a 404 with a small HTML body:"
show_cmd curl -s -o /dev/null -w '%{http_code}\n' "$base/nothing.txt"
say "Traversal attempts (curl --path-as-is sends '..' as it is): refused, nothing served:"
show_cmd curl -s -o /dev/null -o /dev/null -o /dev/null -w '%{http_code} ' --path-as-is "$base/../outside/secret.txt" \
    "$base/%2e%2e/outside/secret.txt" "$base/..%2foutside%2fsecret.txt"
echo

say ""
say "If-Modified-Since the file's own time: 304, no body. A Range: 206, only those bytes:"
show_cmd curl -s -o /dev/null -w '%{http_code}\n' -z "$site/hello.txt" "$base/hello.txt"
show_cmd curl -s -i -r 0-4 "$base/hello.txt"

say ""
say "300 clients each send one byte a second (slowloris). A new request still gets"
say "its answer at once: no client holds the one thread, only its own connection."
"$slow" -n 300 -i 1000 -t 4000 127.0.0.1 "$WEB_PORT" >"$DEMO_TMP/slow.out" 2>&1 &
DEMO_PIDS+=("$!")
for _ in $(seq 100); do
    grep -q '^connected' "$DEMO_TMP/slow.out" && break
    sleep 0.05
done
show_cmd curl -s -o /dev/null -w 'answered in %{time_total} s\n' "$base/hello.txt"

say ""
kill -TERM "$WEB_PID"
status=0
wait "$WEB_PID" || status=$?
say "SIGTERM: exit status $status. The server's log (stderr), one line per request:"
head -n 12 "$WEB_LOG" | sed 's/^/    /'
