/*
 * fuzz_hello_poll.c - fuzzes the framing of the poll server (lesson 06):
 * feed_input() of solutions/06-poll-server/hello_poll.c, compiled here as it
 * is, gets a client's byte stream in pieces of random sizes (as read()
 * would return them) and must queue exactly the replies the protocol says
 * (hello_model.h), whatever the pieces, without a memory error or a leak.
 *
 * corpus: hello_lines
 * Run: bash tests/gates/fuzz.sh hello_poll     (see tests/gates/fuzz.sh)
 */
#define _POSIX_C_SOURCE 200809L
#include "fuzz_prelude.h"

#define main hello_poll_main
#include "../../../solutions/06-poll-server/hello_poll.c"
#undef main

#include "event_loop_harness.h"
