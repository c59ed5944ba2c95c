#!/usr/bin/env bats
# Lesson 03-threaded-server: hello_threads [-b ADDR] [-p PORT]
#
# The hello protocol (a line in, "Hello, LINE!" out) served by one detached
# thread per connection. The checks themselves live in lib/hello_server.bash,
# shared with the other hello servers; each test name starts with the step
# of lessons/03-threaded-server/README.md whose work it checks.

load 'lib/common'
load 'lib/hello_server'

setup() {
    PROG=$(program hello_threads)
}

# Step 1: listen
@test "step 1: prints 'listening on 127.0.0.1:PORT' on stdout" {
    hello_test_listening "$PROG" "step 1"
}
@test "step 1: a bad command line exits 2 with one line on stderr" {
    hello_test_usage "$PROG" "step 1"
}

# Step 2: accept and welcome (a server that stays up: the tests of a port
# already taken and of a restart need that as much as bind)
@test "step 2: a port already in use is an error (exit 1, Address already in use)" {
    hello_test_port_in_use "$PROG" "step 1"
}
@test "step 2: restarts on the same port at once, with connections in TIME_WAIT" {
    hello_test_restart_time_wait "$PROG" "step 1"
}
@test "step 2: a client gets 'Welcome!' and is closed at end of stream" {
    hello_test_welcome "$PROG" "step 2"
}
@test "step 2: logs 'Accept new connection from ...' and 'Connection from ... closed.'" {
    hello_test_log_lines "$PROG" "step 2"
}

# Step 3: lines in, replies out
@test "step 3: listens on IPv6 with -b ::1 and answers there" {
    hello_test_ipv6 "$PROG" "step 1"
}
@test "step 3: answers Michael, Tracy and Sarah, closes after exit" {
    hello_test_replies "$PROG" "step 3"
}
@test "step 3: exit closes the connection at once" {
    hello_test_exit "$PROG" "step 3"
}
@test "step 3: end of stream closes; an unfinished last line gets no reply" {
    hello_test_end_of_stream "$PROG" "step 3"
}
# bats test_tags=heavy
@test "step 3: 1000 lines in one write are answered in order" {
    hello_test_pipelined "$PROG" "step 3"
}
@test "step 3: a line sent one byte at a time is answered once" {
    hello_test_dribble "$PROG" "step 3"
}
@test "step 3: CRLF line ends are accepted" {
    hello_test_crlf "$PROG" "step 3"
}
@test "step 3: NUL bytes pass through" {
    hello_test_nul "$PROG" "step 3"
}
@test "step 3: a 4096-byte line is answered, a 4097-byte one refused" {
    hello_test_long_lines "$PROG" "step 3"
}
@test "step 3: 4 MB of replies to a slow reader arrive whole and in order" {
    hello_test_slow_reader "$PROG" "step 3"
}
@test "step 3: clients that reset their connection do not harm the server" {
    hello_test_reset "$PROG" "step 3"
}
@test "step 3: nc can talk to the server" {
    hello_test_netcat "$PROG" "step 3"
}
@test "step 3: socat can talk to the server" {
    hello_test_socat "$PROG" "step 3"
}

# Step 4: a thread per connection
@test "step 4: a silent client does not delay a second one" {
    hello_test_silent_client "$PROG" "step 4"
}
# bats test_tags=heavy
@test "step 4: 100 clients at once are all answered" {
    hello_test_many_clients "$PROG" "step 4" 100
}
# bats test_tags=heavy
@test "step 4: no descriptor or thread is left after 300 connections" {
    hello_test_no_leaks "$PROG" "step 4"
}

# Step 5: stop cleanly
@test "step 5: SIGINT ends the server within 1 s with status 0" {
    hello_test_stop "$PROG" "step 5" INT
}
@test "step 5: SIGTERM ends the server within 1 s with status 0" {
    hello_test_stop "$PROG" "step 5" TERM
}
@test "step 5: a SIGTERM just before the server blocks in its wait still ends it within 1 s" {
    hello_test_stop_race "$PROG" "step 5" TERM
}
