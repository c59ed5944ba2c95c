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
# CAUSE_SLOW: the server, sent a stop signal at STARTED (_hello_now_ms),
# exits within 1 s (scaled) with status 0. SENT and BRIEF say what was sent.
_hello_expect_quick_stop() {
    local started=$1 sent=$2 brief=$3 elapsed
    if ! wait_exit "$SERVER_PID" 3; then
        report_mismatch "$sent" "the server exits within 1 s with status 0" "still running after 3 s" "$4"
        return 1
    fi
    elapsed=$(($(_hello_now_ms) - started))
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

_hello_file_size_at_least() {
    [[ -f $1 && $(wc -c <"$1") -ge $2 ]]
}

# _hello_now_ms: a clock in milliseconds.
_hello_now_ms() {
    local t=${EPOCHREALTIME/,/.}
    if [[ -n $t ]]; then
        local s=${t%.*} f=${t#*.}000
        echo $((s * 1000 + 10#${f:0:3}))
    else
        echo $(($(date +%s) * 1000))
    fi
}

# _hello_proc_stats: the stat lines of every process (Linux /proc). Through
# cat, because awk (mawk) gives up at the first process that vanished
# between the glob and the read. The name field "(...)" may hold spaces:
# it is squeezed to one word so that the fields after it keep their place.
_hello_proc_stats() {
    cat /proc/[0-9]*/stat 2>/dev/null | sed 's/ (.*) / (name) /' || true
}

# _hello_children PID: the process ids of PID's children.
_hello_children() {
    _hello_proc_stats | awk -v parent="$1" '$4 == parent { print $1 }'
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
        sleep 0.1
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
        "print the address getsockname returns, IPv4 as ADDR:PORT, then fflush(stdout) $(_hello_see "$step")" ||
        return 1
    if ((SERVER_PORT == 0)); then
        report_mismatch "(nothing)" "a port chosen by the kernel" "port 0" \
            "read the real port with getsockname after bind $(_hello_see "$step")"
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
                "check the options with getopt and the port with strtoul + end pointer + range $(_hello_see "$step")"
            return 1
        fi
        if [[ ${#stderr_lines[@]} != 1 || -n $output ]]; then
            report_mismatch "$prog $args" "exactly one line on stderr, nothing on stdout" \
                "stderr '$stderr', stdout '$output'" \
                "print the problem and the usage in one line, to stderr $(_hello_see "$step")"
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
            "check bind's result and report it with strerror(errno), exit 1 $(_hello_see "$step")"
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
            "the server does not welcome its client $(_hello_see "$step")"
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
            "set SO_REUSEADDR on the listening socket before bind: without it a port with connections in TIME_WAIT cannot be bound for a minute $(_hello_see "$step")"
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
        "resolve -b with getaddrinfo (AF_UNSPEC, AI_PASSIVE) and print IPv6 addresses in brackets $(_hello_see "$step")" ||
        return 1
    input=$(_hello_input v6 'Michael\nexit\n')
    _hello_peer v6 "$input" -k -t "$(_hello_ms 3000)"
    _hello_expect_reply "Michael\nexit\n" $'Welcome!\nHello, Michael!\n' v6 \
        "the server does not serve IPv6 clients $(_hello_see "$step")" || return 1
    wait_until 3 grep -q -E '^Accept new connection from \[::1\]:[0-9]+\.\.\.$' "$SERVER_ERR" || {
        report_mismatch "a connection from ::1" "a log line 'Accept new connection from [::1]:PORT...'" \
            "$(head -c 300 "$SERVER_ERR")" \
            "format the peer address with getnameinfo, IPv6 in brackets $(_hello_see "$step")"
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
        "send \"Welcome!\\n\" as soon as accept returns $(_hello_see "$step")" \
        "when read returns 0 the client is gone: close the connection $(_hello_see "$step")"
}

# hello_test_replies PROG STEP: the tutorial's exchange, one line at a time.
hello_test_replies() {
    local prog=$1 step=$2
    shift 2
    _hello_start "$prog" "$@" || return 1
    _hello_conversation replies 'Michael\nTracy\nSarah\nexit\n' "Michael\nTracy\nSarah\nexit\n" \
        $'Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\n' \
        "read a line, answer \"Hello, LINE!\\n\", repeat until \"exit\" $(_hello_see "$step")" \
        "after the line \"exit\" the server must close the connection $(_hello_see "$step")" -k
}

# hello_test_exit PROG STEP: "exit" closes at once; later lines get nothing.
hello_test_exit() {
    local prog=$1 step=$2
    shift 2
    _hello_start "$prog" "$@" || return 1
    _hello_conversation exit 'Michael\nexit\nTracy\n' "Michael\nexit\nTracy\n (and the connection kept open)" \
        $'Welcome!\nHello, Michael!\n' \
        "the line \"exit\" ends the conversation: no reply, close $(_hello_see "$step")" \
        "after \"exit\" close the connection: every copy of its descriptor $(_hello_see "$step")" -k
}

# hello_test_end_of_stream PROG STEP: end of stream after a line: the reply,
# then the server closes; an unfinished last line gets no reply.
hello_test_end_of_stream() {
    local prog=$1 step=$2
    shift 2
    _hello_start "$prog" "$@" || return 1
    _hello_conversation eos 'Michael\nTra' "Michael\nTra then end of stream" $'Welcome!\nHello, Michael!\n' \
        "answer only complete lines; read returning 0 means the client is done $(_hello_see "$step")" \
        "when read returns 0, close the connection $(_hello_see "$step")"
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
        "TCP keeps no message boundaries: one read may bring many lines (or half of one); buffer the bytes and answer each line, at once $(_hello_see "$step")" ||
        return 1
    _hello_expect_status "1000 lines, then exit" 0 pipelined \
        "the last line was \"exit\": close the connection $(_hello_see "$step")"
}

# hello_test_dribble PROG STEP: a line that arrives one byte at a time.
hello_test_dribble() {
    local prog=$1 step=$2
    shift 2
    _hello_start "$prog" "$@" || return 1
    _hello_conversation dribble 'Michael\nTracy\nexit\n' "Michael\nTracy\nexit\n, one byte per write" \
        $'Welcome!\nHello, Michael!\nHello, Tracy!\n' \
        "a read returns whatever has arrived, maybe one byte: keep reading until the '\\n' $(_hello_see "$step")" \
        "after \"exit\" close the connection $(_hello_see "$step")" -k -d 3
}

# hello_test_crlf PROG STEP: "\r\n" ends a line like "\n"; a '\r' inside a
# line stays.
hello_test_crlf() {
    local prog=$1 step=$2
    shift 2
    _hello_start "$prog" "$@" || return 1
    _hello_conversation crlf 'Michael\r\nTr\racy\r\nexit\r\n' "Michael\r\nTr\racy\r\nexit\r\n" \
        $'Welcome!\nHello, Michael!\nHello, Tr\racy!\n' \
        "drop one '\\r' just before the '\\n' (telnet and nc -C send \"\\r\\n\"), keep the others $(_hello_see "$step")" \
        "\"exit\\r\\n\" is the line \"exit\": close the connection $(_hello_see "$step")" -k
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
        "a line is bytes and a length, not a C string: copy it with memcpy, never with %s or strcpy $(_hello_see "$step")"
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
        "a line of exactly 4096 bytes is allowed: make the line buffer hold 4096 bytes and a '\\r' $(_hello_see "$step")" ||
        return 1

    input=$(_hello_input long4097 '%sx\nMichael\n' "$long")
    _hello_peer long4097 "$input" -k -t "$(_hello_ms 3000)"
    _hello_expect_reply "a line of 4097 x, then Michael\n" $'Welcome!\nError: line too long\n' long4097 \
        "past 4096 bytes without a '\\n', send \"Error: line too long\\n\" and close $(_hello_see "$step")" ||
        return 1
    _hello_expect_status "a line of 4097 x" 0 long4097 \
        "after \"Error: line too long\\n\" close the connection $(_hello_see "$step")" || return 1

    wait_exit "$other" "$((6 * HELLO_SLOW))" || true
    _hello_read "$BG_OUT"
    expect_equal "Bob\n from a client connected before the long lines" \
        $'Welcome!\nHello, Bob!\n' "$HELLO_TEXT" \
        "a long line must end only its own connection, never the server $(_hello_see "$step")" ||
        return 1
    if ! is_running "$SERVER_PID"; then
        report_mismatch "long lines" "the server still running" "it exited" \
            "a too-long line ends one connection, not the server $(_hello_see "$step")"
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
            "log both lines on stderr with the client's address from accept $(_hello_see "$step")"
        return 1
    fi
    if ! grep -qxF "Accept new connection from 127.0.0.1:$port..." "$SERVER_ERR"; then
        report_mismatch "a client from 127.0.0.1:$port" \
            "on stderr: 'Accept new connection from 127.0.0.1:$port...'" \
            "stderr '$(head -c 300 "$SERVER_ERR")'" \
            "log the accepted client's address and port $(_hello_see "$step")"
        return 1
    fi
    expect_equal "a client" "listening on 127.0.0.1:$SERVER_PORT" "$(tr -d '\n' <"$SERVER_OUT")" \
        "stdout holds only the listening line: log to stderr $(_hello_see "$step")"
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
            "$HELLO_TEXT" "send the welcome as soon as a client is accepted $(_hello_see "$step")"
        return 1
    fi
    input=$(_hello_input second 'Bob\n')
    _hello_peer second "$input" -k -c 21 -t "$(_hello_ms 2000)"
    _hello_expect_reply "Bob\n from a second client while the first stays silent" \
        $'Welcome!\nHello, Bob!\n' second \
        "the server is still busy with the silent first client: serve each client on its own (a thread, a process or an event loop) $(_hello_see "$step")" ||
        return 1
    if ! is_running "$silent"; then
        report_mismatch "(a first client stays silent)" "its connection still open" \
            "it ended: '$(cat "$BG_ERR")'" "a silent client must not be cut off $(_hello_see "$step")"
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
        "serve each client on its own, so that a silent one does not hold up the others $(_hello_see "$step")" ||
        return 1
    _hello_expect_status "Bob\nexit\n while another client stays connected" 0 busy \
        "a connection ends only when every process holding its descriptor closes it: the parent must close its copy right after fork $(_hello_see "$step")"
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
    wait_until 3 eval 'child=$(_hello_children "$SERVER_PID" | head -n 1); [[ -n $child ]]' || true
    if [[ -z $child ]]; then
        report_mismatch "(a client connects and stays)" "a child process serving it" \
            "no child process" "fork a child for each accepted connection $(_hello_see "$step")"
        return 1
    fi
    sockets=$(find "/proc/$child/fd" -mindepth 1 -maxdepth 1 -lname 'socket:*' 2>/dev/null | wc -l)
    if ((sockets != 1)); then
        report_mismatch "(a client connects and stays)" "the child holds 1 socket (its client's)" \
            "it holds $sockets sockets" \
            "the child must close its copy of the listening socket: it never accepts $(_hello_see "$step")"
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
            "the child still holds the listening socket, so the port stays taken: close it in the child right after fork $(_hello_see "$step")"
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
            "every client must be served at the same time as the others $(_hello_see "$step")"
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
        "the server does not answer $(_hello_see "$step")" || return 1
    input="$BATS_TEST_TMPDIR/reset2.in"
    seq -f 'name-%g' 1 100000 >"$input"
    _hello_peer reset2 "$input" -k -x -c 9 -t "$(_hello_ms 3000)"
    # Give the server a moment to meet the reset, then try a new client.
    input=$(_hello_input after 'Sarah\nexit\n')
    _hello_peer after "$input" -k -t "$(_hello_ms 3000)"
    _hello_expect_reply "Sarah\nexit\n after two clients reset their connections" \
        $'Welcome!\nHello, Sarah!\n' after \
        "a reset connection makes read or write fail with ECONNRESET or EPIPE: log it and close that connection only; ignore SIGPIPE $(_hello_see "$step")" ||
        return 1
    if ! is_running "$SERVER_PID"; then
        report_mismatch "two resets" "the server still running" "it exited" \
            "ignore SIGPIPE and treat ECONNRESET/EPIPE as the end of one connection $(_hello_see "$step")"
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
        "write may send fewer bytes than asked when the socket buffer is full: loop until all is written (write_all) $(_hello_see "$step")" ||
        return 1
    _hello_expect_status "200000 lines, then exit" 0 slow \
        "after \"exit\" close the connection $(_hello_see "$step")"
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
    children=$(_hello_children "$SERVER_PID")
    started=$(_hello_now_ms)
    kill -s "$signal" "$SERVER_PID"
    _hello_expect_quick_stop "$started" "SIG$signal to the server (a client connected)" \
        "SIG$signal to the server" \
        "handle SIG$signal with sigaction without SA_RESTART: set a stop flag, so the blocked accept returns EINTR and the loop ends $(_hello_see "$step")" \
        "without a handler, SIG$signal kills the process (status 128+signal): install one that sets a stop flag $(_hello_see "$step")" \
        "leave the accept loop as soon as the flag is set $(_hello_see "$step")" || return 1
    children=${children//$'\n'/ }
    if [[ -n $children ]] && ! wait_until 2 eval "! _hello_any_running $children"; then
        report_mismatch "SIG$signal to the server (a client connected)" \
            "no child process left" "child processes $children still running" \
            "on stop, end the children (kill SIGTERM) and reap them before exiting $(_hello_see "$step")"
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
    _hello_swarm_rounds "serve each client on its own and close its connection at the end $(_hello_see "$step")" || return 1
    if ! wait_until 3 eval '(($(fd_count "$SERVER_PID") <= fds))'; then
        report_mismatch "300 connections, all closed by now" "$fds open descriptors, as before" \
            "$(fd_count "$SERVER_PID") open descriptors" \
            "close each connection's descriptor when its client leaves (in every process that has a copy) $(_hello_see "$step")"
        return 1
    fi
    if ! wait_until 3 eval '(($(thread_count "$SERVER_PID") <= threads))'; then
        report_mismatch "300 connections, all closed by now" "$threads threads, as before" \
            "$(thread_count "$SERVER_PID") threads" \
            "a connection thread must return once its client has left (detached, so that nobody has to join it) $(_hello_see "$step")"
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
    _hello_swarm_rounds "serve each client in a child process, the parent closes its copy of the connection $(_hello_see "$step")" || return 1
    if ! wait_until 3 eval '(($(zombie_count "$SERVER_PID") == 0))'; then
        report_mismatch "300 connections, all closed by now" "no zombie child" \
            "$(zombie_count "$SERVER_PID") zombies" \
            "reap ended children in a SIGCHLD handler: waitpid(-1, NULL, WNOHANG) in a loop $(_hello_see "$step")"
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
        "the server must answer lines and close after exit $(_hello_see "$step")" || return 1
    if ((status != 0)); then
        report_mismatch "printf 'Michael\\nTracy\\nexit\\n' | nc ..." "nc ends (the server closed)" \
            "status $status" "close the connection after \"exit\" $(_hello_see "$step")"
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
        "the server must drop the '\\r' of \"\\r\\n\" and close after exit $(_hello_see "$step")"
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
    started=$(_hello_now_ms)
    kill -s "$signal" "$SERVER_PID"
    _hello_expect_quick_stop "$started" \
        "SIG$signal to the server just before it blocked in ${call:-its wait} (no client)" \
        "SIG$signal to the server" \
        "the signal came after the loop had looked at the stop flag: the flag is set, but ${call:-the wait} blocks anyway until the next client comes. Keep SIGINT and SIGTERM blocked outside the wait and wait with pselect() (ppoll, epoll_pwait), which unblocks them only while it waits; or never wait longer than a fraction of a second at a time $(_hello_see "$step")" \
        "install a handler that sets a stop flag $(_hello_see "$step")" \
        "the wait must end as soon as the signal arrives $(_hello_see "$step")"
}
