/*
 * fuzz_hello_threads.c - fuzzes the conversation of the threaded server
 * (lesson 03): serve_client() of solutions/03-threaded-server/hello_threads.c,
 * compiled here as it is, with its read() and write() replaced by stand-ins.
 * read() returns the client's bytes in pieces of random sizes, and now and
 * then fails with EINTR; write() takes only part of a buffer now and then,
 * or fails with EINTR. The bytes written must be exactly "Welcome!\n" and
 * the replies the protocol says (hello_model.h), without a memory error.
 *
 * corpus: hello_lines
 * Run: bash tests/gates/fuzz.sh hello_threads     (see tests/gates/fuzz.sh)
 */
#define _POSIX_C_SOURCE 200809L
#include "fuzz_prelude.h"

static struct fuzz_bytes fuzz_written;

static ssize_t fuzz_read(int fd, void *buf, size_t count)
{
    (void)fd;
    return fuzz_input_read(buf, count);
}

static ssize_t fuzz_write(int fd, const void *buf, size_t count)
{
    (void)fd;
    if (fuzz_interrupt(&fuzz_in))
        return -1;
    size_t n = count;
    if (fuzz_in.faults && count > 1)
        n = 1 + fuzz_rand(&fuzz_in) % count; /* a partial write */
    fuzz_bytes_append(&fuzz_written, buf, n);
    return (ssize_t)n;
}

#define read fuzz_read
#define write fuzz_write
#define main hello_threads_main
#include "../../../solutions/03-threaded-server/hello_threads.c"
#undef main
#undef read
#undef write

#include "hello_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char welcome[] = "Welcome!\n";
    if (size == 0)
        return 0;
    fuzz_input_init(&fuzz_in, data[0], data + 1, size - 1);
    fuzz_written.len = 0;

    serve_client(-1, "fuzz");

    FUZZ_CHECK(fuzz_written.len >= sizeof welcome - 1);
    FUZZ_CHECK(memcmp(fuzz_written.data, welcome, sizeof welcome - 1) == 0);
    hello_model_check((const char *)data + 1, size - 1,
                      fuzz_written.data + (sizeof welcome - 1),
                      fuzz_written.len - (sizeof welcome - 1));
    return 0;
}
