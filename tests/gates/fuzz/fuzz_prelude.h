/*
 * fuzz_prelude.h - included by every fuzz harness BEFORE the solution file
 * it tests (tests/gates/fuzz/fuzz_*.c; driven by tests/gates/fuzz.sh).
 *
 * A harness compiles the reference solution itself (`#include` of the .c
 * file, with its main renamed), so the code under test is the code students
 * read, not a copy. This prelude prepares three things before that:
 *
 *   - the system headers the solutions use, included once here with the
 *     same feature-test macro, so that the macros below only rename calls;
 *   - stderr: the solutions report every bad input on stderr, which would
 *     print millions of lines while fuzzing. `stderr` is redirected to
 *     /dev/null (set FUZZ_VERBOSE=1 to see the messages). Sanitizer reports
 *     do not go through stdio and are never hidden;
 *   - the input: fuzz_input_* hands out the fuzzer's bytes in pieces whose
 *     sizes come from the first input byte, as a network would (a line in
 *     many reads, many lines in one read), and can make calls fail with
 *     EINTR or write only part of a buffer, so the solutions' loops are
 *     exercised too.
 */
#ifndef SOCKSTEP_FUZZ_PRELUDE_H
#define SOCKSTEP_FUZZ_PRELUDE_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

/* ---- stderr goes to /dev/null unless FUZZ_VERBOSE is set ---------------- */

static FILE *fuzz_log_stream(void)
{
    static FILE *sink;
    if (sink == NULL) {
        const char *verbose = getenv("FUZZ_VERBOSE");
        if (verbose != NULL && verbose[0] != '\0' && verbose[0] != '0')
            sink = stderr;
        else
            sink = fopen("/dev/null", "w");
        if (sink == NULL)
            sink = stderr;
    }
    return sink;
}

#undef stderr
#define stderr (fuzz_log_stream())

/* ---- the input, cut into network-like pieces ------------------------------ */

/*
 * The first byte of every fuzz input is the control byte:
 *   bits 0-5  largest piece size: 0 = everything at once, else 1..63 bytes
 *   bit 6     pieces 64 times larger (up to 4032 bytes: around the
 *             4096-byte line limit)
 *   bit 7     faults: some calls fail with EINTR, some writes are partial
 * The rest is the byte stream the peer sends.
 */
struct fuzz_input {
    const uint8_t *data;
    size_t size;
    size_t pos;
    uint32_t rng;
    size_t max_piece;
    int faults;
};

static struct fuzz_input fuzz_in;

static uint32_t fuzz_rand(struct fuzz_input *in)
{
    /* xorshift32: deterministic, so every crash replays exactly. */
    uint32_t x = in->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    in->rng = x;
    return x;
}

static void fuzz_input_init(struct fuzz_input *in, uint8_t control, const uint8_t *data,
                            size_t size)
{
    in->data = data;
    in->size = size;
    in->pos = 0;
    in->rng = 0x9e3779b9u ^ ((uint32_t)control << 8) ^ (uint32_t)size;
    if (in->rng == 0)
        in->rng = 1;
    in->max_piece = control & 0x3f;
    if (control & 0x40)
        in->max_piece *= 64;
    in->faults = (control & 0x80) != 0;
}

/* The size of the next piece, at most `room`; 0 only at the end. */
static size_t fuzz_next_piece(struct fuzz_input *in, size_t room)
{
    size_t left = in->size - in->pos;
    size_t piece = left;
    if (in->max_piece > 0)
        piece = 1 + fuzz_rand(in) % in->max_piece;
    if (piece > left)
        piece = left;
    if (piece > room)
        piece = room;
    return piece;
}

/* True now and then when faults are on: the call fails with EINTR. */
static int fuzz_interrupt(struct fuzz_input *in)
{
    if (in->faults && fuzz_rand(in) % 4 == 0) {
        errno = EINTR;
        return 1;
    }
    return 0;
}

/* A read(2) or recv(2) stand-in: the next piece, 0 at the end. */
static ssize_t fuzz_input_read(void *buf, size_t count)
{
    if (count == 0)
        return 0;
    if (fuzz_interrupt(&fuzz_in))
        return -1;
    size_t n = fuzz_next_piece(&fuzz_in, count);
    memcpy(buf, fuzz_in.data + fuzz_in.pos, n);
    fuzz_in.pos += n;
    return (ssize_t)n;
}

/* ---- a growing byte buffer, for what the program under test writes -------- */

struct fuzz_bytes {
    char *data;
    size_t len;
    size_t cap;
};

static void fuzz_bytes_append(struct fuzz_bytes *b, const void *data, size_t n)
{
    if (n == 0)
        return;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (grown == NULL)
            abort();
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

static void fuzz_bytes_free(struct fuzz_bytes *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* A failed property: say which, then abort so the fuzzer keeps the input. */
#define FUZZ_CHECK(cond)                                                                 \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(fuzz_real_stderr(), "fuzz property failed: %s (%s:%d)\n", #cond,     \
                    __FILE__, __LINE__);                                                 \
            abort();                                                                     \
        }                                                                                \
    } while (0)

static FILE *fuzz_real_stderr(void)
{
#undef stderr
    FILE *real = stderr;
#define stderr (fuzz_log_stream())
    return real;
}

#endif
