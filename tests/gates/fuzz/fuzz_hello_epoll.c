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
