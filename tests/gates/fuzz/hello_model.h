/*
 * hello_model.h - what a hello server must answer, computed the simplest
 * way (the whole input at once), to check a server's framing against.
 * Used by the hello fuzz harnesses (tests/gates/fuzz/fuzz_hello_*.c).
 *
 * The rules (docs/contract.md, "The hello protocol"): each line ends with
 * '\n'; one '\r' before it is dropped; "exit" ends the conversation; a line
 * of more than 4096 bytes gets "Error: line too long\n" and ends it; any
 * other line L gets "Hello, L!\n", byte for byte (NUL included); an
 * unfinished last line at the end of the stream gets no reply.
 *
 * One freedom: a server may reject an unfinished line as soon as it is
 * certain to be too long, before its '\n' arrives. With 4098 bytes or more
 * it is certain (even a final '\r' leaves 4097), so the error is required;
 * with exactly 4097 bytes it depends on whether the last one is '\r', so a
 * server may send the error or wait.
 */
#ifndef SOCKSTEP_HELLO_MODEL_H
#define SOCKSTEP_HELLO_MODEL_H

#define HELLO_MODEL_LINE_LIMIT 4096

static const char hello_model_too_long[] = "Error: line too long\n";

/*
 * Fills `expected` with the replies to `input` (after the welcome line).
 * Returns 1 when the server may also append hello_model_too_long (the
 * optional early rejection described above), else 0.
 */
static int hello_model_replies(const char *input, size_t size,
                               struct fuzz_bytes *expected)
{
    size_t pos = 0;
    for (;;) {
        const char *nl = memchr(input + pos, '\n', size - pos);
        if (nl == NULL) {
            size_t tail = size - pos;
            if (tail > HELLO_MODEL_LINE_LIMIT + 1) {
                fuzz_bytes_append(expected, hello_model_too_long,
                                  sizeof hello_model_too_long - 1);
                return 0;
            }
            return tail == HELLO_MODEL_LINE_LIMIT + 1;
        }
        size_t len = (size_t)(nl - (input + pos));
        const char *line = input + pos;
        if (len > 0 && line[len - 1] == '\r')
            len--;
        if (len > HELLO_MODEL_LINE_LIMIT) {
            fuzz_bytes_append(expected, hello_model_too_long,
                              sizeof hello_model_too_long - 1);
            return 0;
        }
        if (len == 4 && memcmp(line, "exit", 4) == 0)
            return 0;
        fuzz_bytes_append(expected, "Hello, ", 7);
        fuzz_bytes_append(expected, line, len);
        fuzz_bytes_append(expected, "!\n", 2);
        pos = (size_t)(nl - input) + 1;
    }
}

/* Reports where `got` and the model differ, on the real stderr. */
static void hello_model_report(const struct fuzz_bytes *expected, const char *got,
                               size_t got_len)
{
    size_t i = 0;
    while (i < expected->len && i < got_len && expected->data[i] == got[i])
        i++;
    fprintf(fuzz_real_stderr(),
            "hello replies differ from the protocol: expected %zu bytes, got %zu; "
            "first difference at byte %zu\n",
            expected->len, got_len, i);
}

/* Checks `got` against the model; aborts (a finding) when they differ. */
static void hello_model_check(const char *input, size_t size, const char *got,
                              size_t got_len)
{
    struct fuzz_bytes expected = {0};
    int may_reject = hello_model_replies(input, size, &expected);
    int same = got_len == expected.len &&
               (got_len == 0 || memcmp(got, expected.data, got_len) == 0);
    if (!same && may_reject) {
        size_t t = sizeof hello_model_too_long - 1;
        fuzz_bytes_append(&expected, hello_model_too_long, t);
        same = got_len == expected.len && memcmp(got, expected.data, got_len) == 0;
        expected.len -= t;
    }
    if (!same) {
        hello_model_report(&expected, got, got_len);
        abort();
    }
    fuzz_bytes_free(&expected);
}

#endif
