#!/usr/bin/env bats
# Lesson 06-poll-server: hello_poll [-b ADDR] [-p PORT]
#
# The hello protocol served by one thread with poll(2). Besides the protocol,
# these tests check what an event loop must get right: no client can stall
# the others (a silent one, one that sends half a line, one that never reads
# its replies), the memory stays bounded, 1,000 clients at once are served,
# and connections leave the table without disturbing the others.
#
# The protocol tests every hello server shares come from lib/hello_server
# (hello_test_*); the tests written here check what is particular to an
# event loop. Each test name starts with the step of
# lessons/06-poll-server/README.md whose work it checks.

# $stderr is set by bats' `run --separate-stderr`.
# shellcheck disable=SC2154
load 'lib/common'
load 'lib/hello_server'
load 'lib/event_server'

setup() {
    SERVER=$(program hello_poll)
    # shellcheck disable=SC2034 # read by lib/event_server
    LOAD=${SOCKSTEP_BUILD:-$SOCKSTEP_ROOT/build}/bench/hello_load
}

# ------------------------------------------------------------------ step 1

@test "step 1: two clients connected at the same time are both accepted and logged" {
    event_test_two_clients_logged "$SERVER" "step 1" \
        "the loop must poll the listener and accept every waiting client: see step 1"
}

@test "step 1: prints one line 'listening on 127.0.0.1:PORT'" {
    hello_test_listening "$SERVER" "step 1"
}

@test "step 1: bad command lines exit 2 with one line showing the usage" {
    hello_test_usage "$SERVER" "step 1"
}

@test "step 1: a port already in use is an error (exit 1, 'Address already in use')" {
    hello_test_port_in_use "$SERVER" "step 1"
}

@test "step 1: SIGTERM ends the server within 1 s with status 0, a client connected" {
    hello_test_stop "$SERVER" "step 1" TERM
}

@test "step 1: SIGINT ends the server within 1 s with status 0, a client connected" {
    hello_test_stop "$SERVER" "step 1" INT
}

@test "step 1: a SIGTERM just before the server blocks in poll still ends it within 1 s" {
    hello_test_stop_race "$SERVER" "step 1" TERM
}

# ------------------------------------------------------------------ step 2

@test "step 2: every client gets Welcome!, also while another one stays silent" {
    event_test_welcome_while_silent "$SERVER" "step 2" \
        "the welcome is queued in the output buffer: flush_output() must send it and poll() ask for POLLOUT while bytes wait (step 2)"
}

@test "step 2: a client that sends half a line and waits does not stall the others" {
    event_test_half_line "$SERVER" "step 2" \
        "reading must never wait for the rest of a line: read what is there, keep it, go back to poll() (step 2)"
}

@test "step 2: a restart on the same port works at once, right after a stop with a client connected" {
    hello_test_restart_time_wait "$SERVER" "step 2"
}

# ------------------------------------------------------------------ step 3

@test "step 3: the tutorial's exchange: Michael, Tracy, Sarah" {
    event_test_tutorial "$SERVER" "step 3"
}

@test "step 3: a line that arrives in pieces is answered once it is complete" {
    event_test_pieces "$SERVER" "step 3" "nothing may be answered before the newline arrives (step 3)" \
        "the start of a line must be kept in the connection's input buffer until its newline comes (step 3)"
}

@test "step 3: many lines in one write are all answered, in order" {
    start_hello
    open_client
    talk "" 'Welcome!\n'
    local i send="" expect=""
    for ((i = 0; i < 300; i++)); do
        send+="n$i\\n"
        expect+="Hello, n$i!\\n"
    done
    talk "$send" "$expect" "one read may hold many lines: answer every one of them, in order (step 3)"
}

@test "step 3: a trailing \\r is dropped, a NUL byte is passed through, an empty line is a line" {
    event_test_cr_nul_empty "$SERVER" "step 3" "a '\\\\r' just before the '\\\\n' is not part of the line (step 3)" \
        "a NUL byte is data: use memchr and lengths, not strchr and strlen (step 3)"
}

@test "step 3: a line of 4096 bytes is answered; 4097 bytes get 'Error: line too long'" {
    event_test_line_limit "$SERVER" "step 3" "a line of exactly 4096 bytes is allowed (step 3)" \
        "more than 4096 bytes: 'Error: line too long' (step 3)"
}

# bats test_tags=heavy
@test "step 3: 1,000,000 lines sent in one go, replies read late, all arrive in order" {
    event_test_million_lines "$SERVER" "step 3" \
        "replies that the kernel cannot take now must wait in the output buffer and go out on POLLOUT; reading must go on after that (steps 2 and 3)"
}

# bats test_tags=heavy
@test "step 3: 1,000 clients at once are all welcomed and answered" {
    event_test_thousand_clients "$SERVER" "step 3" \
        "every connection needs its own buffers and its own entry in the poll set (steps 1 to 3)"
}

# ------------------------------------------------------------------ step 4

# bats test_tags=heavy
@test "step 4: a client that never reads its replies does not grow the server's memory" {
    event_test_non_reader_memory "$SERVER" "step 4" \
        "stop reading from a client (no POLLIN) while more than OUTPUT_LIMIT bytes of its replies wait: see step 4"
}

# bats test_tags=heavy
@test "step 4: a client that never reads its replies does not stall the others" {
    event_test_non_reader_stall "$SERVER" "step 4" \
        "one client's full socket must never block the server: non-blocking sockets, and write only what the kernel takes (steps 1, 2 and 4)"
}

# ------------------------------------------------------------------ step 5
# The whole protocol, every exchange ending with the server closing.

@test "step 5: Welcome!, then the end of the stream closes the connection" {
    hello_test_welcome "$SERVER" "step 5"
}

@test "step 5: the tutorial's exchange: Michael, Tracy, Sarah, exit" {
    hello_test_replies "$SERVER" "step 5"
}

@test "step 5: 'exit' closes the connection, later lines get no reply" {
    hello_test_exit "$SERVER" "step 5"
}

@test "step 5: the end of the stream closes; an unfinished last line gets no reply" {
    hello_test_end_of_stream "$SERVER" "step 5"
}

# bats test_tags=heavy
@test "step 5: 1000 lines and exit in one write: replies in order, then close" {
    hello_test_pipelined "$SERVER" "step 5"
}

@test "step 5: lines sent one byte at a time" {
    hello_test_dribble "$SERVER" "step 5"
}

@test "step 5: a \\r before the \\n is dropped, another \\r is kept" {
    hello_test_crlf "$SERVER" "step 5"
}

@test "step 5: NUL bytes are passed through" {
    hello_test_nul "$SERVER" "step 5"
}

@test "step 5: 4096 bytes answered, 4097 get the error and the close, the others go on" {
    hello_test_long_lines "$SERVER" "step 5"
}

@test "step 5: logs 'Accept new connection from ADDR:PORT...' and 'Connection from ADDR:PORT closed.'" {
    hello_test_log_lines "$SERVER" "step 5"
}

@test "step 5: a client that stays silent does not keep the others waiting" {
    hello_test_silent_client "$SERVER" "step 5"
}

@test "step 5: a client that says exit is closed at once, while another stays silent" {
    hello_test_exit_while_busy "$SERVER" "step 5"
}

# bats test_tags=heavy
@test "step 5: 100 clients at once, each answered and closed" {
    hello_test_many_clients "$SERVER" "step 5" 100
}

@test "step 5: clients that reset their connection do not harm the server" {
    hello_test_reset "$SERVER" "step 5"
}

@test "step 5: a slow reader gets 4 MB of replies, byte for byte, in order" {
    hello_test_slow_reader "$SERVER" "step 5"
}

@test "step 5: 300 clients come and go: no descriptor is left open" {
    hello_test_no_leaks "$SERVER" "step 5"
}

@test "step 5: -b ::1 serves IPv6 clients" {
    hello_test_ipv6 "$SERVER" "step 5"
}

@test "step 5: works with nc" {
    hello_test_netcat "$SERVER" "step 5"
}

@test "step 5: works with socat" {
    hello_test_socat "$SERVER" "step 5"
}


@test "step 5: clients that leave do not disturb the others, and no descriptor leaks" {
    event_test_leavers "$SERVER" "step 5" \
        "closing one connection must not disturb the others: mark it closed during the walk, remove it after (step 5)" \
        "close() each connection's socket when it ends (step 5)"
}
