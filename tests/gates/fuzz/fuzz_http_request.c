/*
 * fuzz_http_request.c - fuzzes the request parsing of lesson 08:
 * solutions/08-http-server/http_serve.c, compiled here as it is (its main
 * renamed). Each input is what a client sends; the harness feeds it in
 * pieces of random sizes, as read() would return them, and checks, without
 * a memory error or a leak:
 *
 *   1. the framing: scan_head() fed piece by piece gives the same verdict
 *      and the same head length as scan_head() on all the bytes at once,
 *      and a complete head is within the limits (HEAD_LIMIT);
 *   2. parse_head() on a complete head: 0 or one of the statuses it may
 *      return; the method and target lie inside the head; an HTTP/1.1
 *      request it accepts has a Host;
 *   3. the target: percent_decode() of its path either refuses it (400) or
 *      gives a NUL-free string starting with '/'; whatever is_safe_path()
 *      accepts has no ".." segment and no backslash;
 *   4. parse_range() of its Range header against several file sizes: a
 *      satisfiable range lies inside the file;
 *   5. escape_for_log() of the request line: only printable ASCII, no '"';
 *   6. the connection as the event loop drives it: the pieces appended to a
 *      connection's input buffer and process_input() called after each, as
 *      read_from_client() does (ROOT a folder that does not exist, so every
 *      target is a 404 or an error), each response starting with a status
 *      line, pipelined requests answered one after the other.
 *
 * corpus: http_request
 * Run: bash tests/gates/fuzz.sh http_request     (see tests/gates/fuzz.sh)
 */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700 /* as the solution: realpath() */
#include "fuzz_prelude.h"

#define main http_serve_main
#include "../../../solutions/08-http-server/http_serve.c"
#undef main

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The verdict of scanning all of data[0..n) at once. */
static enum scan_result scan_at_once(const char *data, size_t n, size_t *head_len)
{
    struct head_scan s = {0};
    enum scan_result r = scan_head(&s, data, n);
    *head_len = s.scanned;
    return r;
}

static bool inside(struct span s, const char *head, size_t n)
{
    return s.n == 0 || (s.p >= head && s.p + s.n <= head + n);
}

static void check_target(const struct request *r)
{
    char decoded[REQUEST_LINE_LIMIT + 1];
    if (percent_decode(target_path(r->target), decoded, sizeof decoded) != 0) {
        return;
    }
    FUZZ_CHECK(decoded[0] == '/');
    if (is_safe_path(decoded)) {
        FUZZ_CHECK(strchr(decoded, '\\') == NULL);
        size_t len = strlen(decoded);
        for (size_t i = 0; i + 2 < len + 1; i++) {
            bool dotdot = decoded[i] == '/' && strncmp(decoded + i + 1, "..", 2) == 0 &&
                          (decoded[i + 3] == '/' || decoded[i + 3] == '\0');
            FUZZ_CHECK(!dotdot);
        }
    }
}

static void check_range(const struct request *r)
{
    static const long long sizes[] = {0, 1, 6, 1024, 1048576};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        long long first = -1, last = -1;
        if (parse_range(r->range, sizes[i], &first, &last) == RANGE_OK) {
            FUZZ_CHECK(0 <= first && first <= last && last < sizes[i]);
        }
    }
}

static void check_log_text(const char *head, size_t n)
{
    char text[LOG_LINE_MAX];
    escape_for_log((struct span){head, n}, text, sizeof text);
    for (const char *p = text; *p != '\0'; p++) {
        FUZZ_CHECK(*p >= 0x20 && *p < 0x7f && *p != '"');
    }
}

/* 6. As the loop does: append each piece, process, "send" each response. */
static void check_connection(uint8_t control, const char *stream, size_t n)
{
    const struct site site = {.root = "/nonexistent-fuzz-root", .timeout_ms = 1000};
    struct conn c = {.fd = -1, .file_fd = -1};
    wait_for_next_request(&c, &site);
    fuzz_input_init(&fuzz_in, control, (const uint8_t *)stream, n);
    char piece[READ_CHUNK];
    int responses = 0;
    while (c.state == CONN_READING && responses < 1000) {
        ssize_t got = fuzz_input_read(piece, sizeof piece);
        if (got < 0) {
            continue;
        }
        if (got == 0) {
            break;
        }
        FUZZ_CHECK(buffer_put(&c.in, piece, (size_t)got) == 0);
        FUZZ_CHECK(process_input(&c, &site) == 0);
        while (c.state == CONN_SENDING && responses < 1000) {
            FUZZ_CHECK(buffer_pending(&c.out) > 9 &&
                       memcmp(c.out.data + c.out.start, "HTTP/1.1 ", 9) == 0);
            FUZZ_CHECK(c.file_fd < 0); /* nothing exists under this ROOT */
            responses++;
            buffer_release(&c.out);
            buffer_release(&c.stream);
            if (!c.keep_alive) {
                break;
            }
            wait_for_next_request(&c, &site);
            FUZZ_CHECK(process_input(&c, &site) == 0);
        }
        if (c.state == CONN_SENDING) {
            break;
        }
        FUZZ_CHECK(buffer_pending(&c.in) <= (size_t)HEAD_LIMIT + READ_CHUNK + 2);
    }
    buffer_release(&c.in);
    buffer_release(&c.out);
    buffer_release(&c.stream);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    const char *stream = (const char *)data + 1;
    size_t stream_len = size - 1;
    size_t skip = leading_empty_lines(stream, stream_len);
    stream += skip;
    stream_len -= skip;

    /* 1. Piece by piece, as from the network, into a bounded buffer. */
    fuzz_input_init(&fuzz_in, data[0], (const uint8_t *)stream, stream_len);
    char *buf = malloc(stream_len + 1);
    FUZZ_CHECK(buf != NULL);
    struct head_scan s = {0};
    enum scan_result r = SCAN_MORE;
    size_t have = 0;
    while (r == SCAN_MORE) {
        ssize_t n = fuzz_input_read(buf + have, stream_len - have);
        if (n < 0) {
            continue; /* EINTR: read again, as the event loop would */
        }
        if (n == 0) {
            break;
        }
        have += (size_t)n;
        r = scan_head(&s, buf, have);
        FUZZ_CHECK(have <= (size_t)HEAD_LIMIT + READ_CHUNK + 4096 || r != SCAN_MORE);
    }
    size_t once_len;
    enum scan_result once = scan_at_once(stream, have, &once_len);
    FUZZ_CHECK(once == r);
    if (r == SCAN_DONE) {
        FUZZ_CHECK(once_len == s.scanned);
        FUZZ_CHECK(s.scanned <= (size_t)HEAD_LIMIT);
    }

    /* 2-5. A complete head. */
    if (r == SCAN_DONE) {
        struct request req;
        int status = parse_head(buf, s.scanned, &req);
        FUZZ_CHECK(status == 0 || status == 400 || status == 413 || status == 501 ||
                   status == 505);
        if (status == 0) {
            FUZZ_CHECK(inside(req.method, buf, s.scanned) &&
                       inside(req.target, buf, s.scanned));
            FUZZ_CHECK(req.minor == 0 || req.has_host);
            check_target(&req);
            check_range(&req);
        }
        const char *newline = memchr(buf, '\n', s.scanned);
        check_log_text(buf, newline != NULL ? (size_t)(newline - buf) : s.scanned);
    }
    free(buf);
    check_connection(data[0], (const char *)data + 1, size - 1);
    return 0;
}
