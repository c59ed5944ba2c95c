# shellcheck shell=bash
# Shared tests for any server of the hello protocol (lessons 03, 04, 06, 07).
#
# Load it after lib/common:
#
#     load 'lib/common'
#     load 'lib/hello_server'
#     @test "step 3: pipelined lines are answered in order" {
#         hello_test_pipelined "$(program hello_threads)" "step 3"
#     }
#
# Every hello_test_* function is one complete test: it starts the server
# (PROG -p 0, plus any extra arguments after STEP), talks to it with the C
# peers build/fixtures/tcp_peer and build/fixtures/hello_swarm, checks, and
# on failure says what was sent, what was expected, what came back and the
# likely cause, pointing to STEP ("step 3": the lesson step to read again).
# Servers and peers started here are stopped by lib/common's teardown.
#
#     hello_test_FUNCTION PROG STEP [SERVER_ARGS...]
#
# Time limits are short so that a broken server fails fast; HELLO_SLOW=N
# multiplies them (e.g. under valgrind or sanitizers).
#
# status, output, stderr and stderr_lines are set by bats' `run`.
# shellcheck disable=SC2154

: "${HELLO_SLOW:=1}"
if [[ ${SANITIZE:-} == 1 && $HELLO_SLOW == 1 ]]; then
    HELLO_SLOW=2
fi

# ------------------------------------------------------------------ helpers

# _hello_skip_under_tsan: ThreadSanitizer takes every signal itself and hands
# it to the program's handler later, only while the thread's signal mask lets
# it through; a server that unblocks its stop signals only inside pselect
# (lesson 03) never gets it there. The stop is tested in every other build
# (plain, ASan and UBSan, valgrind); the TSan build is for data races.
_hello_skip_under_tsan() {
    if [[ $SOCKSTEP_PROGRAMS == */tsan/* ]]; then
        skip "ThreadSanitizer delivers a signal only outside pselect's mask; the stop is tested in the other builds"
    fi
}


# _hello_ms MS: MS scaled by HELLO_SLOW.
_hello_ms() {
    echo $(($1 * HELLO_SLOW))
}

# _hello_see STEP: the pointer appended to each likely cause.
_hello_see() {
    printf '(see %s of the lesson)' "$1"
}

# ------------------------------------------------------------ likely causes
# Every "likely cause" of these tests comes from the tables below, by KEY
# (FUNCTION.WHAT: hello_test_FUNCTION's check WHAT). A lesson whose starter
# has its own names for the work (or gives that part ready-made) has its own
# text; the others get the default, which names no function: a cause must
# never send a student to a function or a step their lesson does not have.
# tests/harness/causes.bats checks every text against the lesson's README
# and the TODO(step N) comments of its starter.

# _hello_cause KEY STEP [NAME=VALUE...]: the cause for KEY in this lesson
# (SOCKSTEP_LESSON), each {NAME} replaced by VALUE, then "(see STEP of the
# lesson)" unless the text ends with the step it means ("(step 3)").
_hello_cause() {
    local key=$1 step=$2 text pair
    shift 2
    text=$(_hello_lesson_cause "${SOCKSTEP_LESSON%%-*}" "$key") ||
        text=$(_hello_default_cause "$key") ||
        text="(no likely cause is written for '$key')"
    for pair in "$@"; do
        text=${text//"{${pair%%=*}}"/${pair#*=}}
    done
    # A text that names the step of the function it names keeps it.
    if [[ $text == *"(step "[0-9]")" || $text == *"(steps "*")" ]]; then
        printf '%s\n' "$text"
    else
        printf '%s %s\n' "$text" "$(_hello_see "$step")"
    fi
}

# _say TEXT: prints TEXT as it is (the tables' texts hold backslashes).
_say() {
    printf '%s\n' "$1"
}

# _hello_given WHAT: the cause of a test of a part the lesson's starter
# already has.
_hello_given() {
    printf '%s' "$1 is given in this lesson's starter: if you changed that code, compare it with the committed starter (git diff lessons/)"
}

# _hello_default_cause KEY: the text for any lesson (no function names).
_hello_default_cause() {
    case $1 in
    listening.line) _say "print the address the listening socket is bound to, IPv4 as ADDR:PORT, on stdout, then flush stdout" ;;
    listening.port) _say "print the port the kernel chose, not the one asked for (0)" ;;
    usage.status) _say "a bad option, a port that is not a number from 0 to 65535, or an extra argument: exit status 2" ;;
    usage.one_line) _say "print the problem and the usage in one line, to stderr" ;;
    port_in_use.error) _say "when no address can be bound, print why on stderr (the system's error text) and exit 1" ;;
    restart_time_wait.welcome) _say "the server does not welcome its client" ;;
    restart_time_wait.reuse) _say "set the option that lets a port with connections in TIME_WAIT be bound again at once, before binding" ;;
    ipv6.listening) _say "-b ::1 must listen on the IPv6 loopback, and print IPv6 addresses in brackets" ;;
    ipv6.serve) _say "the server does not serve IPv6 clients" ;;
    ipv6.log) _say "log an IPv6 peer in brackets: [::1]:PORT" ;;
    welcome.welcome) _say "send \"Welcome!\\n\" as soon as a client is accepted" ;;
    welcome.close) _say "when the client ends its stream (a read returns 0), close the connection" ;;
    replies.reply) _say "read a line, answer \"Hello, LINE!\\n\", repeat until \"exit\"" ;;
    replies.close) _say "after the line \"exit\" the server must close the connection" ;;
    exit.exit) _say "the line \"exit\" ends the conversation: no reply, close" ;;
    exit.close) _say "after \"exit\" close the connection" ;;
    end_of_stream.reply) _say "answer only complete lines; the end of the stream means the client is done" ;;
    end_of_stream.close) _say "at the end of the stream, close the connection" ;;
    pipelined.reply) _say "TCP keeps no message boundaries: one read may bring many lines (or half of one); buffer the bytes and answer each line, at once" ;;
    pipelined.close) _say "the last line was \"exit\": close the connection" ;;
    dribble.reply) _say "a read returns whatever has arrived, maybe one byte: keep the bytes until the '\\n' comes" ;;
    dribble.close) _say "after \"exit\" close the connection" ;;
    crlf.reply) _say "drop one '\\r' just before the '\\n' (telnet and nc -C send \"\\r\\n\"), keep the others" ;;
    crlf.close) _say "\"exit\\r\\n\" is the line \"exit\": close the connection" ;;
    nul.reply) _say "a line is bytes and a length, not a C string: a NUL byte is data" ;;
    long_lines.4096) _say "a line of exactly 4096 bytes is allowed (and a '\\r' after it)" ;;
    long_lines.4097) _say "past 4096 bytes without a '\\n', send \"Error: line too long\\n\" and close" ;;
    long_lines.close) _say "after \"Error: line too long\\n\" close the connection" ;;
    long_lines.others) _say "a long line must end only its own connection, never the server" ;;
    long_lines.survive) _say "a too-long line ends one connection, not the server" ;;
    log_lines.both) _say "log both lines on stderr with the client's address and port" ;;
    log_lines.accept) _say "log the accepted client's address and port" ;;
    log_lines.stdout) _say "stdout holds only the listening line: log to stderr" ;;
    silent_client.welcome) _say "send the welcome as soon as a client is accepted" ;;
    silent_client.second) _say "the server is still busy with the silent first client: serve each client on its own" ;;
    silent_client.kept) _say "a silent client must not be cut off" ;;
    exit_while_busy.reply) _say "serve each client on its own, so that a silent one does not hold up the others" ;;
    exit_while_busy.close) _say "after \"exit\" close the connection at once, while the other client stays" ;;
    child_sockets.fork) _say "serve each accepted connection in a child process" ;;
    child_sockets.listener) _say "the child must close its copy of the listening socket: it never accepts" ;;
    port_free_after_parent_dies.listener) _say "the child still holds the listening socket, so the port stays taken: the child must close it" ;;
    many_clients.served) _say "every client must be served at the same time as the others" ;;
    reset.answer) _say "the server does not answer" ;;
    reset.next) _say "a reset connection makes a read or a write fail: end that connection only" ;;
    reset.survive) _say "a reset must end one connection, never the server" ;;
    slow_reader.whole) _say "a write may take fewer bytes than asked when the socket buffer is full: every byte of every reply must go out, in order" ;;
    slow_reader.close) _say "after \"exit\" close the connection" ;;
    stop.running) _say "SIG{signal} must end the wait of the loop, and the loop end at once" ;;
    stop.status) _say "without a handler, SIG{signal} kills the process (status 128+signal): the server must catch it and exit with status 0" ;;
    stop.slow) _say "leave the loop as soon as the stop flag is set" ;;
    stop.children) _say "on stop, end the children and reap them before exiting" ;;
    no_leaks.served) _say "serve each client on its own and close its connection at the end" ;;
    no_leaks.fds) _say "close each connection's descriptor when its client leaves" ;;
    no_leaks.threads) _say "nothing may be left running for a client that has left" ;;
    no_zombies.served) _say "serve each client in a child process, and close the parent's copy of the connection" ;;
    no_zombies.reap) _say "reap each child as soon as it ends" ;;
    netcat.reply) _say "the server must answer lines and close after exit" ;;
    netcat.close) _say "close the connection after \"exit\"" ;;
    socat.reply) _say "the server must drop the '\\r' of \"\\r\\n\" and close after exit" ;;
    stop_race.race) _say "the signal came after the loop had looked at the stop flag: the flag is set, but {call} blocks anyway until the next client comes. The wait must end when a stop signal arrives just before it starts" ;;
    stop_race.status) _say "the server must catch the stop signal and exit with status 0" ;;
    stop_race.slow) _say "the wait must end as soon as the signal arrives" ;;
    *) return 1 ;;
    esac
}

# _hello_lesson_cause LESSON KEY: the text lesson LESSON (03, 04...) has for
# KEY, in the words of its own README and starter; fails when it has none.
_hello_lesson_cause() {
    case $1:$2 in
    # Lesson 03 writes all of it: the listener (step 1), the welcome (2),
    # lines and replies (3), a thread per connection (4), the stop (5).
    03:listening.line) _say "after bind and listen: getsockname, format_address, then print \"listening on ADDR:PORT\" and fflush(stdout) (step 1)" ;;
    03:listening.port) _say "print the port getsockname returns, not the one asked for (0) (step 1)" ;;
    03:port_in_use.error) _say "keep the first address that binds; when none does: die_errno(\"cannot listen on %s port %s\", ...), which prints strerror(errno) and exits 1 (step 1)" ;;
    03:restart_time_wait.welcome | 03:welcome.welcome | 03:silent_client.welcome) _say "send WELCOME with write_all as soon as a client is accepted (step 2)" ;;
    03:restart_time_wait.reuse) _say "setsockopt SO_REUSEADDR on the listening socket before bind: without it a port with connections in TIME_WAIT cannot be bound for a minute (step 1)" ;;
    03:ipv6.listening) _say "resolve -b with getaddrinfo (AF_UNSPEC, AI_PASSIVE); format_address puts IPv6 addresses in brackets (step 1)" ;;
    03:ipv6.log) _say "log the peer with format_address, IPv6 in brackets (step 1)" ;;
    03:welcome.close | 03:end_of_stream.close) _say "read_line returns LINE_EOF when the client ends its stream: return, and the connection is closed (step 3)" ;;
    03:replies.reply) _say "for each line from read_line, send_hello; the line \"exit\" (is_exit_line) ends the loop (step 3)" ;;
    03:end_of_stream.reply) _say "read_line hands out complete lines only: at the end of the stream an unfinished line is dropped (LINE_EOF) (step 3)" ;;
    03:pipelined.reply | 03:dribble.reply) _say "read_line cuts lines out of the bytes in r->buf, refilling it with line_reader_fill when it is used up: one read may bring many lines, or one byte (step 3)" ;;
    03:nul.reply) _say "a line is bytes and a length, not a C string: copy it with memcpy, never with %s or strcpy (step 3)" ;;
    03:long_lines.4096 | 03:long_lines.4097) _say "read_line returns LINE_TOO_LONG past LINE_LIMIT bytes, no sooner; then send TOO_LONG and return (step 3)" ;;
    03:silent_client.second | 03:exit_while_busy.reply | 03:many_clients.served) _say "start a detached thread per connection (start_connection_thread): the accept loop must not serve the client itself (step 4)" ;;
    03:reset.next | 03:reset.survive) _say "ignore SIGPIPE with sigaction (SIG_IGN): a write to a client that is gone then fails with EPIPE, and only that connection ends (step 3)" ;;
    03:slow_reader.whole) _say "write_all: loop until all len bytes are written: write may take fewer than asked (step 3)" ;;
    03:stop.running) _say "install on_stop_signal for SIG{signal} with sigaction, sa_flags 0 (no SA_RESTART): the wait then fails with EINTR and the loop sees the flag (step 5)" ;;
    03:stop.status | 03:stop_race.status) _say "without a handler, SIG{signal} kills the process (status 128+signal): install on_stop_signal with sigaction (step 5)" ;;
    03:stop.slow) _say "leave the accept loop as soon as stop_requested is set (step 5)" ;;
    03:stop_race.race | 04:stop_race.race | 05:stop_race.race) _say "the signal came after the loop had looked at the stop flag: the flag is set, but {call} blocks anyway. Keep SIGINT and SIGTERM blocked outside the wait, and wait with pselect(..., wait_mask), which unblocks them only while it waits" ;;
    03:no_leaks.threads) _say "connection_thread must return once its client has left, and be started detached (pthread_attr_setdetachstate) so that nobody has to join it (step 4)" ;;
    # Lesson 04 is given lesson 03's server (listening, the protocol, the
    # stop signals) and adds a child per connection (step 1), the child
    # closing the listener (2), reaping (3), the children's stop (4).
    04:listening.line | 04:listening.port) _hello_given "the listener and its 'listening on' line" ;;
    04:usage.status | 04:usage.one_line | 06:usage.status | 06:usage.one_line | 07:usage.status | 07:usage.one_line | 08:usage.status | 08:usage.one_line | 03:usage.status | 03:usage.one_line) _hello_given "the command line" ;;
    04:port_in_use.error | 04:ipv6.listening | 04:restart_time_wait.reuse) _hello_given "opening the listener" ;;
    04:silent_client.second | 04:exit_while_busy.reply | 04:many_clients.served | 04:no_leaks.served | 04:no_zombies.served) _say "block_signals, then fork(): the child calls serve_in_child, the parent goes back to accept at once (step 1)" ;;
    04:welcome.close | 04:replies.close | 04:exit.close | 04:end_of_stream.close | 04:pipelined.close | 04:dribble.close | 04:crlf.close | 04:long_lines.close | 04:slow_reader.close | 04:netcat.close | 04:exit_while_busy.close | 04:no_leaks.fds) _say "a connection ends only when every process holding its descriptor closes it: the parent must close its copy right after fork (step 1)" ;;
    04:child_sockets.fork) _say "fork() a child for each accepted connection, and call serve_in_child in it (step 1)" ;;
    04:child_sockets.listener | 04:port_free_after_parent_dies.listener) _say "the child never accepts: close its copy of listener first, in serve_in_child (step 2)" ;;
    04:no_zombies.reap) _say "reap_children: waitpid(-1, NULL, WNOHANG) until it returns 0 or -1; install it for SIGCHLD with sigaction (SA_NOCLDSTOP) (step 3)" ;;
    04:stop.running) _say "after the loop, kill(pid, SIGTERM) each child left before waitpid(-1, NULL, 0): a child serving a client does not end by itself (step 4)" ;;
    04:stop.children) _say "on stop: forget_finished_children, kill(pid, SIGTERM) each child left, then waitpid(-1, NULL, 0) until it fails with ECHILD (step 4)" ;;
    # Lesson 05 (the UDP server) shares only the stop race.
    05:stop_race.status) _say "without a handler, SIG{signal} kills the process: sigaction() for SIGINT and SIGTERM with on_stop_signal" ;;
    # Lessons 06 and 07 are given the listener, the command line and the
    # signal handlers; 07 also lesson 06's line framing (feed_input).
    06:listening.line | 06:listening.port | 07:listening.line | 07:listening.port | 08:listening.line | 08:listening.port) _hello_given "the listener and its 'listening on' line" ;;
    06:port_in_use.error | 06:ipv6.listening | 06:restart_time_wait.reuse | 07:port_in_use.error | 07:ipv6.listening | 07:restart_time_wait.reuse | 08:port_in_use.error) _hello_given "opening the listener" ;;
    06:log_lines.accept | 06:log_lines.stdout | 06:ipv6.log | 07:log_lines.accept | 07:log_lines.stdout | 07:ipv6.log) _hello_given "the log line of each accepted client (add_connection)" ;;
    07:log_lines.both) _hello_given "logging each client's arrival and end (add_connection)" ;;
    06:restart_time_wait.welcome | 06:welcome.welcome | 06:silent_client.welcome) _say "add_connection queues Welcome!: flush_output must send it, and wanted_events ask for POLLOUT while bytes wait (step 2)" ;;
    06:welcome.close | 06:end_of_stream.close | 06:replies.close | 06:exit.close | 06:pipelined.close | 06:dribble.close | 06:crlf.close | 06:long_lines.close | 06:slow_reader.close | 06:netcat.close | 06:exit_while_busy.close) _say "once the replies are out, a CONN_CLOSING connection goes to close_connection, which closes the socket and logs it (step 5)" ;;
    06:replies.reply | 06:end_of_stream.reply | 06:pipelined.reply | 06:dribble.reply | 06:netcat.reply) _say "feed_input: answer each complete line, keep the start of an unfinished one in c->in until its newline comes (step 3)" ;;
    06:exit.exit) _say "feed_input: the line \"exit\" gets no reply and sets CONN_CLOSING (step 3)" ;;
    06:crlf.reply | 06:socat.reply) _say "feed_input: drop one '\\r' just before the '\\n', keep the others (step 3)" ;;
    06:nul.reply) _say "feed_input: find the newline with memchr and copy with lengths (buffer_append), never strchr or strlen: a NUL byte is data (step 3)" ;;
    06:long_lines.4096 | 06:long_lines.4097) _say "feed_input: up to LINE_LIMIT bytes (and a '\\r') are a line; more: queue \"Error: line too long\\n\" and set CONN_CLOSING (step 3)" ;;
    06:long_lines.others | 06:long_lines.survive | 06:reset.survive) _say "an error on one connection goes to close_connection for that one only; the loop goes on (step 5)" ;;
    06:log_lines.both) _say "close_connection logs \"Connection from PEER closed.\" on stderr (step 5)" ;;
    06:silent_client.second | 06:exit_while_busy.reply | 06:many_clients.served | 06:no_leaks.served | 06:reset.answer) _say "no call may wait for one client: set_nonblocking on each socket, one read per POLLIN, and flush_output stops at EAGAIN (steps 1 and 2)" ;;
    06:reset.next) _say "flush_output returns -1 on EPIPE or ECONNRESET, read_from_client closes on a read error: close_connection for that client only (step 2)" ;;
    06:slow_reader.whole) _say "flush_output: write what the kernel takes, advance c->out.start by that, keep the rest for the next POLLOUT (EAGAIN is no error) (step 2)" ;;
    06:no_leaks.fds) _say "close_connection must close() the socket, and remove_closed_connections drop its entry (step 5)" ;;
    06:stop.running | 06:stop.slow) _say "poll() returns -1 with EINTR on SIG{signal} (the handler is given): continue, so that the loop condition reads stop_requested (step 1)" ;;
    06:stop.status | 06:stop_race.status | 07:stop.status | 07:stop_race.status) _say "the stop handler is given: serve_forever must return once stop_requested is set, so that main returns 0" ;;
    06:stop_race.race | 06:stop_race.slow) _say "the signal came after the loop had looked at stop_requested and before poll() started: poll() must wait at most TICK_MS, so that the flag is looked at again within 250 ms (step 1)" ;;
    07:restart_time_wait.welcome | 07:welcome.welcome | 07:silent_client.welcome) _say "accept_clients: accept4() every waiting client and hand it to add_connection, which sends the welcome (step 3)" ;;
    07:welcome.close | 07:end_of_stream.close | 07:replies.close | 07:exit.close | 07:pipelined.close | 07:dribble.close | 07:crlf.close | 07:long_lines.close | 07:slow_reader.close | 07:netcat.close | 07:exit_while_busy.close) _say "read_from_client: a read of 0 is the end of the stream (CONN_CLOSING); feed_input sets CONN_CLOSING after \"exit\": return false then (step 4)" ;;
    07:replies.reply | 07:end_of_stream.reply | 07:pipelined.reply | 07:dribble.reply | 07:exit.exit | 07:crlf.reply | 07:nul.reply | 07:long_lines.4096 | 07:long_lines.4097 | 07:netcat.reply | 07:socat.reply) _say "read_from_client: read until EAGAIN (at most READ_BUDGET reads), give each chunk to feed_input (given), then flush_output (step 4)" ;;
    07:long_lines.others | 07:long_lines.survive | 07:reset.survive | 07:reset.next) _say "a failed read or write ends that connection only (CONN_CLOSED); the loop goes on (step 4)" ;;
    07:silent_client.second | 07:exit_while_busy.reply | 07:many_clients.served | 07:no_leaks.served | 07:reset.answer) _say "accept4() with SOCK_NONBLOCK, and read_from_client returns at EAGAIN: no call may wait for one client (steps 3 and 4)" ;;
    07:slow_reader.whole) _say "replies the kernel cannot take now wait in c->out: update_interest must ask for EPOLLOUT while they wait (wanted_events), and re-arm reading once they drain (step 5)" ;;
    07:no_leaks.fds) _say "every connection that ends (CONN_CLOSED) must be closed (step 4)" ;;
    07:stop.running | 07:stop.slow) _say "epoll_pwait returns -1 with EINTR on SIG{signal}: continue, so that the loop condition reads stop_requested (step 2)" ;;
    07:stop_race.race | 07:stop_race.slow) _say "the signal came after the loop had looked at stop_requested: wait with epoll_pwait(..., wait_mask), which unblocks SIGINT and SIGTERM only while it waits (step 2)" ;;
    *) return 1 ;;
    esac
}

# _hello_start PROG [ARGS...]: starts the server on an ephemeral port.
_hello_start() {
    local prog=$1
    shift
    start_server "$prog" -p 0 "$@"
}

# _hello_peer NAME INPUT_FILE [TCP_PEER_OPTIONS...]: runs tcp_peer against
# the server with INPUT_FILE as the bytes to send. The bytes received go to
# $BATS_TEST_TMPDIR/NAME.out, its messages to NAME.err; sets PEER_STATUS
# (0 closed by the server or -c reached, 3 timeout, 4 reset, 1 error).
_hello_peer() {
    local name=$1 input=$2 peer
    shift 2
    peer=$(fixture tcp_peer) || return 1
    PEER_STATUS=0
    "$peer" "$@" "$SERVER_HOST" "$SERVER_PORT" <"$input" \
        >"$BATS_TEST_TMPDIR/$name.out" 2>"$BATS_TEST_TMPDIR/$name.err" ||
        PEER_STATUS=$?
}

# _hello_input NAME FORMAT [ARGS...]: writes printf FORMAT ARGS to a file and
# prints its path.
_hello_input() {
    local file="$BATS_TEST_TMPDIR/$1.in"
    shift
    # shellcheck disable=SC2059 # the format is the point
    printf "$@" >"$file"
    printf '%s\n' "$file"
}

# _hello_read FILE: sets HELLO_TEXT to the contents of FILE, trailing
# newlines included (a command substitution would drop them).
_hello_read() {
    HELLO_TEXT=""
    [[ -f $1 ]] || return 0
    IFS= read -r -d '' HELLO_TEXT <"$1" || true
}

# _hello_status_text STATUS: what a tcp_peer exit status means.
_hello_status_text() {
    case $1 in
    0) echo "the server closed the connection" ;;
    3) echo "the connection was still open at the time limit" ;;
    4) echo "the server reset the connection" ;;
    *) echo "the test client failed (status $1)" ;;
    esac
}

# _hello_expect_reply SENT EXPECTED NAME CAUSE: the bytes peer NAME received
# must be EXPECTED (a string without NUL bytes).
_hello_expect_reply() {
    _hello_read "$BATS_TEST_TMPDIR/$3.out"
    expect_equal "$1" "$2" "$HELLO_TEXT" "$4"
}

# _hello_expect_status SENT WANTED_STATUS NAME CAUSE: tcp_peer's exit status.
_hello_expect_status() {
    if [[ $PEER_STATUS != "$2" ]]; then
        report_mismatch "$1" "$(_hello_status_text "$2")" \
            "$(_hello_status_text "$PEER_STATUS"); received '$(escape_bytes <"$BATS_TEST_TMPDIR/$3.out")'" \
            "$4"
        return 1
    fi
}

# _hello_conversation NAME FORMAT SENT EXPECTED REPLY_CAUSE STATUS_CAUSE
# [TCP_PEER_OPTIONS...]: sends printf FORMAT to the running server with
# tcp_peer (3 s, scaled), expects EXPECTED back, then the server closing.
# SENT says what was sent in the failure messages.
_hello_conversation() {
    local name=$1 format=$2 sent=$3 expected=$4 reply_cause=$5 status_cause=$6 input
    shift 6
    input=$(_hello_input "$name" "$format")
    _hello_peer "$name" "$input" "$@" -t "$(_hello_ms 3000)"
    _hello_expect_reply "$sent" "$expected" "$name" "$reply_cause" || return 1
    _hello_expect_status "$sent" 0 "$name" "$status_cause"
}

# _hello_expect_quick_stop STARTED SENT BRIEF CAUSE_RUNNING CAUSE_STATUS
# CAUSE_SLOW: the server, sent a stop signal at STARTED (now_ms),
# exits within 1 s (scaled) with status 0. SENT and BRIEF say what was sent.
_hello_expect_quick_stop() {
    local started=$1 sent=$2 brief=$3 elapsed
    if ! wait_exit "$SERVER_PID" 3; then
        report_mismatch "$sent" "the server exits within 1 s with status 0" "still running after 3 s" "$4"
        return 1
    fi
    elapsed=$(($(now_ms) - started))
    if ((EXIT_STATUS != 0)); then
        report_mismatch "$brief" "exit status 0" "exit status $EXIT_STATUS" "$5"
        return 1
    fi
    if ((elapsed > $(_hello_ms 1300))); then
        report_mismatch "$sent" "the server exits within 1 s" "it took $elapsed ms" "$6"
        return 1
    fi
}

# _hello_numbered NAME FORMAT COUNT: writes NAME.in, COUNT lines (seq -f
# FORMAT) and then "exit", and NAME.expected, "Welcome!" and their replies.
_hello_numbered() {
    local base="$BATS_TEST_TMPDIR/$1"
    seq -f "$2" 1 "$3" >"$base.in"
    echo exit >>"$base.in"
    {
        echo 'Welcome!'
        seq -f "Hello, $2!" 1 "$3"
    } >"$base.expected"
}

# _hello_swarm_rounds CAUSE: 6 rounds of 50 clients at once (hello_swarm),
# each answered and closed.
_hello_swarm_rounds() {
    run --separate-stderr "$(fixture hello_swarm)" -q -n 50 -r 6 -t "$(_hello_ms 8000)" \
        "$SERVER_HOST" "$SERVER_PORT"
    if ((status != 0)); then
        report_mismatch "6 rounds of 50 clients" "every client answered, then closed" "$stderr" "$1"
        return 1
    fi
}

# _hello_file_has FILE TEXT: true when FILE holds the bytes of TEXT.
_hello_file_has() {
    grep -qF -- "$2" "$1" 2>/dev/null
}

_hello_any_running() {
    local pid
    for pid in "$@"; do
        if is_running "$pid"; then
            return 0
        fi
    done
    return 1
}

# _hello_settle COUNTER PID: sets HELLO_SETTLED to COUNTER's value for PID
# once it has stayed the same for 3 samples 100 ms apart (2 s at most).
_hello_settle() {
    local value same=0 i
    HELLO_SETTLED=$("$1" "$2")
    for ((i = 0; i < 20 && same < 3; i++)); do
        nap 0.1
        value=$("$1" "$2")
        if [[ $value == "$HELLO_SETTLED" ]]; then
            same=$((same + 1))
        else
            HELLO_SETTLED=$value
            same=0
        fi
    done
}

# hello_have_ipv6_loopback: true when ::1 is configured.
hello_have_ipv6_loopback() {
    [[ -r /proc/net/if_inet6 ]] && grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 && return 0
    command -v ip >/dev/null && ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/'
}

# ------------------------------------------------------- listening, usage

# hello_test_listening PROG STEP: one "listening on 127.0.0.1:PORT" line on
# stdout, bound to 127.0.0.1 by default.
hello_test_listening() {
    local prog=$1 step=$2
    shift 2
    _hello_start "$prog" "$@" || return 1
    expect_equal "(nothing: the server was started with -p 0)" \
        "listening on 127.0.0.1:$SERVER_PORT" "$(head -n 1 "$SERVER_OUT")" \
        "$(_hello_cause listening.line "$step")" ||
        return 1
    if ((SERVER_PORT == 0)); then
        report_mismatch "(nothing)" "a port chosen by the kernel" "port 0" \
            "$(_hello_cause listening.port "$step")"
        return 1
    fi
}

# hello_test_usage PROG STEP: bad command lines exit 2 with one stderr line.
hello_test_usage() {
    local prog=$1 step=$2 args
    local -a cases=("-p abc" "-p 70000" "-p -1" "-p 12x" "-p" "-z" "extra")
    for args in "${cases[@]}"; do
        # shellcheck disable=SC2086 # the words of each case are separate arguments
        run --separate-stderr timeout 5 "$prog" $args
        if ((status != 2)); then
            report_mismatch "$prog $args" "exit status 2 (usage error)" \
                "exit status $status, stderr '$stderr'" \
                "$(_hello_cause usage.status "$step")"
            return 1
        fi
        if [[ ${#stderr_lines[@]} != 1 || -n $output ]]; then
            report_mismatch "$prog $args" "exactly one line on stderr, nothing on stdout" \
                "stderr '$stderr', stdout '$output'" \
                "$(_hello_cause usage.one_line "$step")"
            return 1
        fi
    done
}

# hello_test_port_in_use PROG STEP: a second server on a busy port exits 1
# and stderr names "Address already in use".
hello_test_port_in_use() {
    local prog=$1 step=$2
    shift 2
    _hello_start "$prog" "$@" || return 1
    run --separate-stderr timeout 5 "$prog" -p "$SERVER_PORT" "$@"
    if ((status != 1)) || [[ $stderr != *"Address already in use"* ]]; then
        report_mismatch "$prog -p $SERVER_PORT (a port another server listens on)" \
            "exit status 1, stderr naming 'Address already in use'" \
            "exit status $status, stderr '$stderr'" \
            "$(_hello_cause port_in_use.error "$step")"
        return 1
    fi
}

# hello_test_restart_time_wait PROG STEP: stopped while a client was
# connected (its side of the connection lingers in TIME_WAIT), the server
# can listen on the same port again at once.
hello_test_restart_time_wait() {
    local prog=$1 step=$2 port client
    shift 2
    _hello_start "$prog" "$@" || return 1
    port=$SERVER_PORT
    start_background "$(fixture tcp_peer)" -k -t "$(_hello_ms 8000)" "$SERVER_HOST" "$port"
    client=$BG_PID
    wait_until 3 _hello_file_has "$BG_OUT" "Welcome!" || {
        _hello_read "$BG_OUT"
        report_mismatch "(nothing)" $'Welcome!\n' "$HELLO_TEXT" \
            "$(_hello_cause restart_time_wait.welcome "$step")"
        return 1
    }
    # The server closes first, so its side of the connection waits in
    # TIME_WAIT (or FIN_WAIT) holding the port.
    stop_process "$SERVER_PID" TERM || true
    wait_exit "$client" 3 || true
    if command -v ss >/dev/null && ! ss -tan "( sport = :$port )" | grep -q -E 'TIME-WAIT|FIN-WAIT'; then
        skip "no connection lingered in TIME_WAIT on port $port: nothing to test"
    fi
    if ! start_server "$prog" -p "$port" "$@" 2>/dev/null; then
        report_mismatch "restart: $prog -p $port right after a stop" \
            "listening on 127.0.0.1:$port" \
            "$(tail -n 1 "$SERVER_ERR" 2>/dev/null)" \
            "$(_hello_cause restart_time_wait.reuse "$step")"
        return 1
    fi
}

# hello_test_ipv6 PROG STEP: -b ::1 listens on [::1]:PORT and serves.
hello_test_ipv6() {
    local prog=$1 step=$2 input
    shift 2
    hello_have_ipv6_loopback || skip "this machine has no IPv6 loopback address ::1"
    start_server "$prog" -b ::1 -p 0 "$@" || return 1
    expect_equal "(nothing: started with -b ::1 -p 0)" "listening on [::1]:$SERVER_PORT" \
        "$(head -n 1 "$SERVER_OUT")" \
        "$(_hello_cause ipv6.listening "$step")" ||
        return 1
    input=$(_hello_input v6 'Michael\nexit\n')
    _hello_peer v6 "$input" -k -t "$(_hello_ms 3000)"
    _hello_expect_reply "Michael\nexit\n" $'Welcome!\nHello, Michael!\n' v6 \
        "$(_hello_cause ipv6.serve "$step")" || return 1
    wait_until 3 grep -q -E '^Accept new connection from \[::1\]:[0-9]+\.\.\.$' "$SERVER_ERR" || {
        report_mismatch "a connection from ::1" "a log line 'Accept new connection from [::1]:PORT...'" \
            "$(head -c 300 "$SERVER_ERR")" \
            "$(_hello_cause ipv6.log "$step")"
        return 1
    }
}

# ------------------------------------------------------------ the protocol

# hello_test_welcome PROG STEP: a client that sends nothing and ends its
# stream gets "Welcome!\n" and then the server closes.
hello_test_welcome() {
    local prog=$1 step=$2
    shift 2
    _hello_start "$prog" "$@" || return 1
    _hello_conversation welcome '' "(nothing, then end of stream)" $'Welcome!\n' \
        "$(_hello_cause welcome.welcome "$step")" \
        "$(_hello_cause welcome.close "$step")"
}

# hello_test_replies PROG STEP: the tutorial's exchange, one line at a time.
hello_test_replies() {
    local prog=$1 step=$2
    shift 2
    _hello_start "$prog" "$@" || return 1
    _hello_conversation replies 'Michael\nTracy\nSarah\nexit\n' "Michael\nTracy\nSarah\nexit\n" \
        $'Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\n' \
        "$(_hello_cause replies.reply "$step")" \
        "$(_hello_cause replies.close "$step")" -k
}

# hello_test_exit PROG STEP: "exit" closes at once; later lines get nothing.
hello_test_exit() {
    local prog=$1 step=$2
    shift 2
    _hello_start "$prog" "$@" || return 1
    _hello_conversation exit 'Michael\nexit\nTracy\n' "Michael\nexit\nTracy\n (and the connection kept open)" \
        $'Welcome!\nHello, Michael!\n' \
        "$(_hello_cause exit.exit "$step")" \
        "$(_hello_cause exit.close "$step")" -k
}

# hello_test_end_of_stream PROG STEP: end of stream after a line: the reply,
# then the server closes; an unfinished last line gets no reply.
hello_test_end_of_stream() {
    local prog=$1 step=$2
    shift 2
    _hello_start "$prog" "$@" || return 1
    _hello_conversation eos 'Michael\nTra' "Michael\nTra then end of stream" $'Welcome!\nHello, Michael!\n' \
        "$(_hello_cause end_of_stream.reply "$step")" \
        "$(_hello_cause end_of_stream.close "$step")"
}

# hello_test_pipelined PROG STEP: 1000 lines in one write, answered in order.
hello_test_pipelined() {
    local prog=$1 step=$2 input expected
    shift 2
    _hello_start "$prog" "$@" || return 1
    _hello_numbered pipelined 'name-%g' 1000
    input="$BATS_TEST_TMPDIR/pipelined.in"
    expected="$BATS_TEST_TMPDIR/pipelined.expected"
    _hello_peer pipelined "$input" -k -t "$(_hello_ms 4000)"
    expect_file_equal "1000 lines 'name-1\\n' ... 'name-1000\\n' then 'exit\\n', in one write" \
        "$expected" "$BATS_TEST_TMPDIR/pipelined.out" \
        "$(_hello_cause pipelined.reply "$step")" ||
        return 1
    _hello_expect_status "1000 lines, then exit" 0 pipelined \
        "$(_hello_cause pipelined.close "$step")"
}

# hello_test_dribble PROG STEP: a line that arrives one byte at a time.
hello_test_dribble() {
    local prog=$1 step=$2
    shift 2
    _hello_start "$prog" "$@" || return 1
    _hello_conversation dribble 'Michael\nTracy\nexit\n' "Michael\nTracy\nexit\n, one byte per write" \
        $'Welcome!\nHello, Michael!\nHello, Tracy!\n' \
        "$(_hello_cause dribble.reply "$step")" \
        "$(_hello_cause dribble.close "$step")" -k -d 3
}

# hello_test_crlf PROG STEP: "\r\n" ends a line like "\n"; a '\r' inside a
# line stays.
hello_test_crlf() {
    local prog=$1 step=$2
    shift 2
    _hello_start "$prog" "$@" || return 1
    _hello_conversation crlf 'Michael\r\nTr\racy\r\nexit\r\n' "Michael\r\nTr\racy\r\nexit\r\n" \
        $'Welcome!\nHello, Michael!\nHello, Tr\racy!\n' \
        "$(_hello_cause crlf.reply "$step")" \
        "$(_hello_cause crlf.close "$step")" -k
}

# hello_test_nul PROG STEP: NUL bytes pass through the reply.
hello_test_nul() {
    local prog=$1 step=$2 input expected
    shift 2
    _hello_start "$prog" "$@" || return 1
    input=$(_hello_input nul 'a\0b\n\0\nexit\n')
    expected="$BATS_TEST_TMPDIR/nul.expected"
    printf 'Welcome!\nHello, a\0b!\nHello, \0!\n' >"$expected"
    _hello_peer nul "$input" -k -t "$(_hello_ms 3000)"
    expect_file_equal "'a\\0b\\n\\0\\nexit\\n'" "$expected" "$BATS_TEST_TMPDIR/nul.out" \
        "$(_hello_cause nul.reply "$step")"
}

# hello_test_long_lines PROG STEP: a 4096-byte line is answered; a 4097-byte
# line gets "Error: line too long\n" and the connection is closed, while a
# client connected meanwhile keeps being served.
hello_test_long_lines() {
    local prog=$1 step=$2 input expected other long
    shift 2
    _hello_start "$prog" "$@" || return 1
    # A client that connects now and speaks only after the long lines.
    input=$(_hello_input other 'Bob\n')
    # (start_background gives its command /dev/null: bash -c feeds the line)
    start_background bash -c '"$1" -H "$2" -k -c 21 -t "$3" "$4" "$5" <"$6"' _ \
        "$(fixture tcp_peer)" "$(_hello_ms 1200)" "$(_hello_ms 5000)" \
        "$SERVER_HOST" "$SERVER_PORT" "$input"
    other=$BG_PID

    long=$(head -c 4096 /dev/zero | tr '\0' x)
    input=$(_hello_input long4096 '%s\nexit\n' "$long")
    _hello_peer long4096 "$input" -k -t "$(_hello_ms 3000)"
    _hello_expect_reply "a line of 4096 x, then exit" $'Welcome!\nHello, '"$long"$'!\n' long4096 \
        "$(_hello_cause long_lines.4096 "$step")" ||
        return 1

    input=$(_hello_input long4097 '%sx\nMichael\n' "$long")
    _hello_peer long4097 "$input" -k -t "$(_hello_ms 3000)"
    _hello_expect_reply "a line of 4097 x, then Michael\n" $'Welcome!\nError: line too long\n' long4097 \
        "$(_hello_cause long_lines.4097 "$step")" ||
        return 1
    _hello_expect_status "a line of 4097 x" 0 long4097 \
        "$(_hello_cause long_lines.close "$step")" || return 1

    wait_exit "$other" "$((6 * HELLO_SLOW))" || true
    _hello_read "$BG_OUT"
    expect_equal "Bob\n from a client connected before the long lines" \
        $'Welcome!\nHello, Bob!\n' "$HELLO_TEXT" \
        "$(_hello_cause long_lines.others "$step")" ||
        return 1
    if ! is_running "$SERVER_PID"; then
        report_mismatch "long lines" "the server still running" "it exited" \
            "$(_hello_cause long_lines.survive "$step")"
        return 1
    fi
}

# hello_test_log_lines PROG STEP: "Accept new connection from ADDR:PORT..."
# and "Connection from ADDR:PORT closed." on stderr, nothing more on stdout.
hello_test_log_lines() {
    local prog=$1 step=$2 input port
    shift 2
    _hello_start "$prog" "$@" || return 1
    input=$(_hello_input logs 'Michael\nexit\n')
    _hello_peer logs "$input" -k -v -t "$(_hello_ms 3000)"
    port=$(sed -n 's/^tcp_peer: connected from 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$BATS_TEST_TMPDIR/logs.err")
    if ! wait_until 3 _hello_file_has "$SERVER_ERR" "Connection from 127.0.0.1:$port closed."; then
        report_mismatch "a client from 127.0.0.1:$port that says Michael, then exit" \
            "on stderr: 'Accept new connection from 127.0.0.1:$port...' and 'Connection from 127.0.0.1:$port closed.'" \
            "stderr '$(head -c 300 "$SERVER_ERR")'" \
            "$(_hello_cause log_lines.both "$step")"
        return 1
    fi
    if ! grep -qxF "Accept new connection from 127.0.0.1:$port..." "$SERVER_ERR"; then
        report_mismatch "a client from 127.0.0.1:$port" \
            "on stderr: 'Accept new connection from 127.0.0.1:$port...'" \
            "stderr '$(head -c 300 "$SERVER_ERR")'" \
            "$(_hello_cause log_lines.accept "$step")"
        return 1
    fi
    expect_equal "a client" "listening on 127.0.0.1:$SERVER_PORT" "$(tr -d '\n' <"$SERVER_OUT")" \
        "$(_hello_cause log_lines.stdout "$step")"
}

# ------------------------------------------------------------- concurrency

# hello_test_silent_client PROG STEP: a client that connects and says
# nothing does not delay a second client: the second one gets its welcome
# AND its reply within 2 s while the first stays connected.
hello_test_silent_client() {
    local prog=$1 step=$2 input silent
    shift 2
    _hello_start "$prog" "$@" || return 1
    start_background "$(fixture tcp_peer)" -k -t "$(_hello_ms 10000)" "$SERVER_HOST" "$SERVER_PORT"
    silent=$BG_PID
    if ! wait_until 3 _hello_file_has "$BG_OUT" "Welcome!"; then
        _hello_read "$BG_OUT"
        report_mismatch "(a first client connects and stays silent)" $'Welcome!\n' \
            "$HELLO_TEXT" "$(_hello_cause silent_client.welcome "$step")"
        return 1
    fi
    input=$(_hello_input second 'Bob\n')
    _hello_peer second "$input" -k -c 21 -t "$(_hello_ms 2000)"
    _hello_expect_reply "Bob\n from a second client while the first stays silent" \
        $'Welcome!\nHello, Bob!\n' second \
        "$(_hello_cause silent_client.second "$step")" ||
        return 1
    if ! is_running "$silent"; then
        report_mismatch "(a first client stays silent)" "its connection still open" \
            "it ended: '$(cat "$BG_ERR")'" "$(_hello_cause silent_client.kept "$step")"
        return 1
    fi
}

# hello_test_exit_while_busy PROG STEP: while a first client stays connected
# and silent, a second one says "exit" and sees its connection closed (with
# a process per connection: only when the parent closed its copy too).
hello_test_exit_while_busy() {
    local prog=$1 step=$2 input
    shift 2
    _hello_start "$prog" "$@" || return 1
    start_background "$(fixture tcp_peer)" -k -t "$(_hello_ms 10000)" "$SERVER_HOST" "$SERVER_PORT"
    wait_until 3 _hello_file_has "$BG_OUT" "Welcome!" || true
    input=$(_hello_input busy 'Bob\nexit\n')
    _hello_peer busy "$input" -k -t "$(_hello_ms 2000)"
    _hello_expect_reply "Bob\nexit\n while another client stays connected" \
        $'Welcome!\nHello, Bob!\n' busy \
        "$(_hello_cause exit_while_busy.reply "$step")" ||
        return 1
    _hello_expect_status "Bob\nexit\n while another client stays connected" 0 busy \
        "$(_hello_cause exit_while_busy.close "$step")"
}

# hello_test_child_sockets PROG STEP: the child serving a client holds one
# socket, its client's (not the listening socket). Linux /proc only.
hello_test_child_sockets() {
    local prog=$1 step=$2 child sockets
    shift 2
    [[ -d /proc/self/fd ]] || skip "needs /proc (Linux)"
    _hello_start "$prog" "$@" || return 1
    start_background "$(fixture tcp_peer)" -k -t "$(_hello_ms 10000)" "$SERVER_HOST" "$SERVER_PORT"
    wait_until 3 _hello_file_has "$BG_OUT" "Welcome!" || true
    child=""
    wait_until 3 eval 'child=$(child_pids "$SERVER_PID" | head -n 1); [[ -n $child ]]' || true
    if [[ -z $child ]]; then
        report_mismatch "(a client connects and stays)" "a child process serving it" \
            "no child process" "$(_hello_cause child_sockets.fork "$step")"
        return 1
    fi
    sockets=$(find "/proc/$child/fd" -mindepth 1 -maxdepth 1 -lname 'socket:*' 2>/dev/null | wc -l)
    if ((sockets != 1)); then
        report_mismatch "(a client connects and stays)" "the child holds 1 socket (its client's)" \
            "it holds $sockets sockets" \
            "$(_hello_cause child_sockets.listener "$step")"
        return 1
    fi
}

# hello_test_port_free_after_parent_dies PROG STEP: the parent is killed
# (SIGKILL, no clean stop) while a child serves a client: a new server can
# listen on the port at once, because no child holds a copy of the
# listening socket.
hello_test_port_free_after_parent_dies() {
    local prog=$1 step=$2 port
    shift 2
    _hello_start "$prog" "$@" || return 1
    port=$SERVER_PORT
    start_background "$(fixture tcp_peer)" -k -t "$(_hello_ms 10000)" "$SERVER_HOST" "$port"
    wait_until 3 _hello_file_has "$BG_OUT" "Welcome!" || true
    stop_process "$SERVER_PID" KILL || true
    if ! start_server "$prog" -p "$port" "$@" 2>/dev/null; then
        report_mismatch "SIGKILL to the parent while a child serves a client, then $prog -p $port" \
            "listening on 127.0.0.1:$port" "$(tail -n 1 "$SERVER_ERR" 2>/dev/null)" \
            "$(_hello_cause port_free_after_parent_dies.listener "$step")"
        return 1
    fi
}

# hello_test_many_clients PROG STEP [N]: N clients (default 100) connected at
# once all get their welcome, their reply, and the close after exit. (The
# third argument is the number of clients, not a server argument.)
hello_test_many_clients() {
    local prog=$1 step=$2 n=${3:-100}
    _hello_start "$prog" || return 1
    run --separate-stderr "$(fixture hello_swarm)" -n "$n" -t "$(_hello_ms 8000)" \
        "$SERVER_HOST" "$SERVER_PORT"
    if ((status != 0)); then
        report_mismatch "$n clients at once: each 'client-1-I\\n' then 'exit\\n'" \
            "each: Welcome!\\n, Hello, client-1-I!\\n, then the server closes" "$stderr" \
            "$(_hello_cause many_clients.served "$step")"
        return 1
    fi
}

# hello_test_reset PROG STEP: clients that reset their connection (RST),
# one after its reply and one while the server is writing many replies:
# the server survives and serves the next client.
hello_test_reset() {
    local prog=$1 step=$2 input
    shift 2
    _hello_start "$prog" "$@" || return 1
    input=$(_hello_input reset1 'Michael\n')
    _hello_peer reset1 "$input" -k -c 25 -x -t "$(_hello_ms 3000)"
    _hello_expect_reply "Michael\n then a reset" $'Welcome!\nHello, Michael!\n' reset1 \
        "$(_hello_cause reset.answer "$step")" || return 1
    input="$BATS_TEST_TMPDIR/reset2.in"
    seq -f 'name-%g' 1 100000 >"$input"
    _hello_peer reset2 "$input" -k -x -c 9 -t "$(_hello_ms 3000)"
    # Give the server a moment to meet the reset, then try a new client.
    input=$(_hello_input after 'Sarah\nexit\n')
    _hello_peer after "$input" -k -t "$(_hello_ms 3000)"
    _hello_expect_reply "Sarah\nexit\n after two clients reset their connections" \
        $'Welcome!\nHello, Sarah!\n' after \
        "$(_hello_cause reset.next "$step")" ||
        return 1
    if ! is_running "$SERVER_PID"; then
        report_mismatch "two resets" "the server still running" "it exited" \
            "$(_hello_cause reset.survive "$step")"
        return 1
    fi
}

# hello_test_slow_reader PROG STEP: 200,000 pipelined lines while the client
# first does not read at all, then reads in small pieces: 4 MB of replies,
# more than the socket buffers hold, arrive whole and in order.
hello_test_slow_reader() {
    local prog=$1 step=$2 input expected
    shift 2
    _hello_start "$prog" "$@" || return 1
    _hello_numbered slow 'line-%06g' 200000
    input="$BATS_TEST_TMPDIR/slow.in"
    expected="$BATS_TEST_TMPDIR/slow.expected"
    _hello_peer slow "$input" -k -P 500 -n 4096 -t "$(_hello_ms 20000)"
    expect_file_equal "200000 lines 'line-000001\\n' ... then exit, read slowly" \
        "$expected" "$BATS_TEST_TMPDIR/slow.out" \
        "$(_hello_cause slow_reader.whole "$step")" ||
        return 1
    _hello_expect_status "200000 lines, then exit" 0 slow \
        "$(_hello_cause slow_reader.close "$step")"
}

# ----------------------------------------------------------------- signals

# hello_test_stop PROG STEP SIGNAL: SIGNAL (INT or TERM) ends the server within
# 1 s with status 0, while a client is connected, and no child is left.
hello_test_stop() {
    local prog=$1 step=$2 signal=$3 started children
    shift 3
    _hello_skip_under_tsan
    _hello_start "$prog" "$@" || return 1
    start_background "$(fixture tcp_peer)" -k -t "$(_hello_ms 10000)" "$SERVER_HOST" "$SERVER_PORT"
    wait_until 3 _hello_file_has "$BG_OUT" "Welcome!" || true
    children=$(child_pids "$SERVER_PID")
    started=$(now_ms)
    signal_server "$signal" "SIG$signal to the server (a client connected)" || return 1
    _hello_expect_quick_stop "$started" "SIG$signal to the server (a client connected)" \
        "SIG$signal to the server" \
        "$(_hello_cause stop.running "$step" signal="$signal")" \
        "$(_hello_cause stop.status "$step" signal="$signal")" \
        "$(_hello_cause stop.slow "$step" signal="$signal")" || return 1
    children=${children//$'\n'/ }
    if [[ -n $children ]] && ! wait_until 2 eval "! _hello_any_running $children"; then
        report_mismatch "SIG$signal to the server (a client connected)" \
            "no child process left" "child processes $children still running" \
            "$(_hello_cause stop.children "$step")"
        return 1
    fi
}

# ------------------------------------------------------------------- leaks

# hello_test_no_leaks PROG STEP: after 300 connections (6 rounds of 50 at
# once) the server's descriptors and threads come back to what they were.
hello_test_no_leaks() {
    local prog=$1 step=$2 fds threads
    shift 2
    [[ -d /proc/self/fd ]] || skip "needs /proc (Linux)"
    _hello_start "$prog" "$@" || return 1
    # A few clients first: a runtime may start threads or open files of its
    # own on first use (ThreadSanitizer does); the baseline comes after.
    "$(fixture hello_swarm)" -q -n 5 -t "$(_hello_ms 5000)" "$SERVER_HOST" "$SERVER_PORT" \
        >/dev/null 2>&1 || true
    _hello_settle fd_count "$SERVER_PID"
    fds=$HELLO_SETTLED
    _hello_settle thread_count "$SERVER_PID"
    threads=$HELLO_SETTLED
    _hello_swarm_rounds "$(_hello_cause no_leaks.served "$step")" || return 1
    if ! wait_until 3 eval '(($(fd_count "$SERVER_PID") <= fds))'; then
        report_mismatch "300 connections, all closed by now" "$fds open descriptors, as before" \
            "$(fd_count "$SERVER_PID") open descriptors" \
            "$(_hello_cause no_leaks.fds "$step")"
        return 1
    fi
    if ! wait_until 3 eval '(($(thread_count "$SERVER_PID") <= threads))'; then
        report_mismatch "300 connections, all closed by now" "$threads threads, as before" \
            "$(thread_count "$SERVER_PID") threads" \
            "$(_hello_cause no_leaks.threads "$step")"
        return 1
    fi
}

# hello_test_no_zombies PROG STEP: after 300 connections of 50 at once, no
# child is left unreaped, without waiting for another accept.
hello_test_no_zombies() {
    local prog=$1 step=$2
    shift 2
    [[ -d /proc/self/fd ]] || skip "needs /proc (Linux)"
    _hello_start "$prog" "$@" || return 1
    _hello_swarm_rounds "$(_hello_cause no_zombies.served "$step")" || return 1
    if ! wait_until 3 eval '(($(zombie_count "$SERVER_PID") == 0))'; then
        report_mismatch "300 connections, all closed by now" "no zombie child" \
            "$(zombie_count "$SERVER_PID") zombies" \
            "$(_hello_cause no_zombies.reap "$step")"
        return 1
    fi
}

# ------------------------------------------------------- everyday clients

# hello_test_netcat PROG STEP: talks to the server with nc (any version).
hello_test_netcat() {
    local prog=$1 step=$2
    shift 2
    require_command nc
    _hello_start "$prog" "$@" || return 1
    run timeout 5 bash -c 'printf "Michael\nTracy\nexit\n" | nc "$1" "$2"' _ "$SERVER_HOST" "$SERVER_PORT"
    expect_equal "printf 'Michael\\nTracy\\nexit\\n' | nc $SERVER_HOST $SERVER_PORT" \
        $'Welcome!\nHello, Michael!\nHello, Tracy!' "$output" \
        "$(_hello_cause netcat.reply "$step")" || return 1
    if ((status != 0)); then
        report_mismatch "printf 'Michael\\nTracy\\nexit\\n' | nc ..." "nc ends (the server closed)" \
            "status $status" "$(_hello_cause netcat.close "$step")"
        return 1
    fi
}

# hello_test_socat PROG STEP: talks to the server with socat.
hello_test_socat() {
    local prog=$1 step=$2
    shift 2
    require_command socat
    _hello_start "$prog" "$@" || return 1
    run timeout 5 bash -c 'printf "Michael\r\nexit\r\n" | socat -t 3 - "TCP:$1:$2"' _ "$SERVER_HOST" "$SERVER_PORT"
    expect_equal "printf 'Michael\\r\\nexit\\r\\n' | socat - TCP:$SERVER_HOST:$SERVER_PORT" \
        $'Welcome!\nHello, Michael!' "$output" \
        "$(_hello_cause socat.reply "$step")"
}

# ------------------------------------------------------------ the stop race

# hello_test_stop_race PROG STEP SIGNAL: SIGNAL lands after the server last
# looked at its stop flag and before it blocks. The LD_PRELOAD library
# unlucky.so holds the server for up to 5 s at the entrance of each waiting
# call (accept, recvfrom, poll, select, pselect, epoll_wait...) and writes its name to
# a file; the signal is sent once that name is there. A server that checks
# the flag and then calls accept() sleeps through the signal; one that keeps
# the stop signals blocked outside its wait (pselect) or wakes on a
# self-pipe still ends within 1 s.
# _hello_marked_or_gone MARK: the preload marked a wait, or the server ended.
_hello_marked_or_gone() {
    [[ -s $1 ]] || ! is_running "$SERVER_PID"
}

hello_test_stop_race() {
    local prog=$1 step=$2 signal=$3 mark="$BATS_TEST_TMPDIR/waiting-calls" started call
    shift 3
    _hello_skip_under_tsan
    unlucky_prefix UNLUCKY_WINDOW_MS=5000 "UNLUCKY_MARK=$mark" || return 1
    start_server "${UNLUCKY_PREFIX[@]}" "$prog" -p 0 "$@" || return 1
    # A server that never waits in one of those calls gets the signal anyway
    # (after 15 s; at once when it has ended). On a loaded machine the server
    # may need seconds to reach its wait: a signal sent before that would
    # wait out the whole widened window and look like the race.
    wait_until 15 _hello_marked_or_gone "$mark" || true
    call=$(head -n 1 "$mark" 2>/dev/null) || true
    started=$(now_ms)
    signal_server "$signal" "SIG$signal to the server just before it blocked in ${call:-its wait} (no client)" || return 1
    _hello_expect_quick_stop "$started" \
        "SIG$signal to the server just before it blocked in ${call:-its wait} (no client)" \
        "SIG$signal to the server" \
        "$(_hello_cause stop_race.race "$step" call="${call:-the wait}")" \
        "$(_hello_cause stop_race.status "$step" signal="$signal")" \
        "$(_hello_cause stop_race.slow "$step")"
}
