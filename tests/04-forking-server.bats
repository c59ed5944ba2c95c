#!/usr/bin/env bats
# Lesson 04-forking-server: hello_fork [-b ADDR] [-p PORT]
#
# The hello protocol served by one child process per connection. The checks
# live in lib/hello_server.bash, shared with the other hello servers; each
# test name starts with the step of lessons/04-forking-server/README.md
# whose work it checks. What lesson 03 built (listening, the line protocol)
# is checked again under step 1, where the children take it over.

load 'lib/common'
load 'lib/hello_server'

setup() {
    PROG=$(program hello_fork)
}

# What the starter already does (lesson 03)
@test "step 1: prints 'listening on 127.0.0.1:PORT' on stdout" {
    hello_test_listening "$PROG" "step 1"
}
@test "step 1: a bad command line exits 2 with one line on stderr" {
    hello_test_usage "$PROG" "step 1"
}
@test "step 1: a port already in use is an error (exit 1, Address already in use)" {
    hello_test_port_in_use "$PROG" "step 1"
}

# Step 1: a child per connection, the parent closes its copy
@test "step 1: answers Michael, Tracy and Sarah, closes after exit" {
    hello_test_replies "$PROG" "step 1"
}
@test "step 1: exit closes the connection at once" {
    hello_test_exit "$PROG" "step 1"
}
@test "step 1: end of stream closes; an unfinished last line gets no reply" {
    hello_test_end_of_stream "$PROG" "step 1"
}
@test "step 1: logs 'Accept new connection from ...' and 'Connection from ... closed.'" {
    hello_test_log_lines "$PROG" "step 1"
}
@test "step 1: a silent client does not delay a second one" {
    hello_test_silent_client "$PROG" "step 1"
}
@test "step 1: a client is closed after exit while another one stays connected" {
    hello_test_exit_while_busy "$PROG" "step 1"
}
# bats test_tags=heavy
@test "step 1: 100 clients at once are all answered" {
    hello_test_many_clients "$PROG" "step 1" 100
}
# bats test_tags=heavy
@test "step 1: the parent holds no more descriptors after 300 connections" {
    hello_test_no_leaks "$PROG" "step 1"
}
# bats test_tags=heavy
@test "step 1: 1000 lines in one write are answered in order" {
    hello_test_pipelined "$PROG" "step 1"
}
@test "step 1: a line sent one byte at a time is answered once" {
    hello_test_dribble "$PROG" "step 1"
}
@test "step 1: CRLF line ends are accepted" {
    hello_test_crlf "$PROG" "step 1"
}
@test "step 1: NUL bytes pass through" {
    hello_test_nul "$PROG" "step 1"
}
# bats test_tags=heavy
@test "step 1: a 4096-byte line is answered, a 4097-byte one refused" {
    hello_test_long_lines "$PROG" "step 1"
}
@test "step 1: 4 MB of replies to a slow reader arrive whole and in order" {
    hello_test_slow_reader "$PROG" "step 1"
}
@test "step 1: clients that reset their connection do not harm the server" {
    hello_test_reset "$PROG" "step 1"
}
@test "step 1: listens on IPv6 with -b ::1" {
    hello_test_ipv6 "$PROG" "step 1"
}
@test "step 1: nc can talk to the server" {
    hello_test_netcat "$PROG" "step 1"
}
@test "step 1: socat can talk to the server" {
    hello_test_socat "$PROG" "step 1"
}

# Step 2: the child closes the listening socket
@test "step 2: a child holds only its own client's socket" {
    hello_test_child_sockets "$PROG" "step 2"
}
@test "step 2: the port is free once the parent is killed, even while a child serves" {
    hello_test_port_free_after_parent_dies "$PROG" "step 2"
}

# Step 3: reap the children
# bats test_tags=heavy
@test "step 3: no zombie is left after 300 connections" {
    hello_test_no_zombies "$PROG" "step 3"
}

# Step 4: stop cleanly
@test "step 4: SIGINT ends the server and its children within 1 s, status 0" {
    hello_test_stop "$PROG" "step 4" INT
}
@test "step 4: SIGTERM ends the server and its children within 1 s, status 0" {
    hello_test_stop "$PROG" "step 4" TERM
}
@test "step 4: a SIGTERM just before the parent blocks in its wait still ends it within 1 s" {
    hello_test_stop_race "$PROG" "step 4" TERM
}

# (It needs step 4: the children serving clients must end with the parent,
# or they keep the port.)
@test "step 4: restarts on the same port at once, with connections in TIME_WAIT" {
    hello_test_restart_time_wait "$PROG" "step 4"
}
