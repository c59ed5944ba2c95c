/*
 * event_loop_harness.h - the fuzz target of the single-thread servers
 * (fuzz_hello_poll.c, fuzz_hello_epoll.c), included AFTER the solution file:
 * both servers frame a client's bytes with the same feed_input(), struct
 * conn and buffers, so one LLVMFuzzerTestOneInput serves both. It feeds the
 * stream in pieces of random sizes (as read() would return them) and checks
 * that exactly the replies the protocol says (hello_model.h) are queued,
 * without a memory error or a leak.
 */
#ifndef SOCKSTEP_EVENT_LOOP_HARNESS_H
#define SOCKSTEP_EVENT_LOOP_HARNESS_H

#include "hello_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *stream = (const char *)data + 1;
    size_t stream_len = size - 1;
    struct conn c;
    memset(&c, 0, sizeof c);
    c.fd = -1;
    c.state = CONN_OPEN;

    fuzz_input_init(&fuzz_in, data[0], data + 1, stream_len);
    char piece[READ_CHUNK];
    while (c.state == CONN_OPEN) {
        ssize_t n = fuzz_input_read(piece, sizeof piece);
        if (n < 0)
            continue; /* EINTR: read again, as the event loop would */
        if (n == 0)
            break;
        FUZZ_CHECK(feed_input(&c, piece, (size_t)n) == 0);
        /* The input buffer only ever holds one unfinished line. */
        FUZZ_CHECK(buffer_pending(&c.in) <= LINE_LIMIT + 1);
    }
    const char *replies = c.out.data != NULL ? c.out.data + c.out.start : "";
    hello_model_check(stream, stream_len, replies, buffer_pending(&c.out));
    buffer_release(&c.in);
    buffer_release(&c.out);
    return 0;
}

#endif /* SOCKSTEP_EVENT_LOOP_HARNESS_H */
