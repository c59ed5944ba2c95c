/*
 * fuzz_hello_epoll.c - fuzzes the framing of the epoll server (lesson 07):
 * feed_input() of solutions/07-epoll-server/hello_epoll.c, compiled here as it
 * is, gets a client's byte stream in pieces of random sizes (as read()
 * would return them) and must queue exactly the replies the protocol says
 * (hello_model.h), whatever the pieces, without a memory error or a leak.
 *
 * corpus: hello_lines
 * Run: bash tests/gates/fuzz.sh hello_epoll    (see tests/gates/fuzz.sh)
 */
#define _GNU_SOURCE
#include "fuzz_prelude.h"

#define main hello_epoll_main
#include "../../../solutions/07-epoll-server/hello_epoll.c"
#undef main

#include "event_loop_harness.h"
