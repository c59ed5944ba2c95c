/*
 * fuzz_http_response.c - fuzzes the HTTP response parsing of lesson 01:
 * solutions/01-http-get/http_get.c, compiled here as it is (its main
 * renamed), with recv() replaced by a stand-in that returns the fuzzer's
 * bytes in pieces of random sizes (and EINTR now and then). Each input is a
 * server's reply; the harness checks, without a memory error or a leak:
 *
 *   1. the whole reply path: read_response_head() reads the status line and
 *      the headers, check_status(), then copy_body() decodes the body
 *      (Content-Length, chunked or until the close) into /dev/null;
 *   2. the pure parsers on each line of the input, with their promises:
 *      parse_status_line (code 100-999, reason bounded and terminated),
 *      parse_header_line (name and value inside the line, value trimmed),
 *      parse_content_length (agrees with a plain decimal conversion);
 *   3. the chunked decoder: fed the input at once and in random pieces, it
 *      must give the same bytes and the same verdict;
 *   4. parse_url on the first line, and build_request on what it accepts:
 *      the request has exactly its own CRLFs (no header injection).
 *
 * corpus: http_response
 * Run: bash tests/gates/fuzz.sh http_response     (see tests/gates/fuzz.sh)
 */
#define _POSIX_C_SOURCE 200809L
#include "fuzz_prelude.h"

static ssize_t fuzz_recv(int fd, void *buf, size_t count, int flags)
{
    (void)fd;
    (void)flags;
    return fuzz_input_read(buf, count);
}

#define recv fuzz_recv
#define main http_get_main
#include "../../../solutions/01-http-get/http_get.c"
#undef main
#undef recv

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1. The reply as http_get reads it from the network. */
static void check_reply_path(uint8_t control, const uint8_t *data, size_t size)
{
    static int devnull = -1;
    if (devnull < 0)
        devnull = open("/dev/null", O_WRONLY);
    FUZZ_CHECK(devnull >= 0);

    struct conn *c = calloc(1, sizeof *c);
    FUZZ_CHECK(c != NULL);
    c->fd = -1;
    c->timeout_ms = 1000;
    fuzz_input_init(&fuzz_in, control, data, size);

    struct response_head head;
    bool verbose = (control & 0x01) != 0;
    if (read_response_head(c, &head, verbose) == 0) {
        FUZZ_CHECK(head.status.code >= 100 && head.status.code <= 999);
        FUZZ_CHECK(head.status.reason_len < sizeof head.status.reason);
        if (check_status(&head.status) == 0) {
            struct output out = {devnull, NULL, NULL};
            (void)copy_body(c, &head, &out);
        }
    }
    FUZZ_CHECK(c->start <= c->end && c->end <= sizeof c->buf);
    free(c);
}

/* 2. The line parsers, on every line of the input (CRLF or LF cut). */
static void check_line_parsers(const char *line, size_t len)
{
    struct http_status st;
    if (parse_status_line(line, len, &st) == NULL) {
        FUZZ_CHECK(st.code >= 100 && st.code <= 999);
        FUZZ_CHECK(st.reason_len < sizeof st.reason);
        FUZZ_CHECK(st.reason[st.reason_len] == '\0');
    }
    struct header_field f;
    if (parse_header_line(line, len, &f) == NULL) {
        FUZZ_CHECK(f.name == line && f.name_len > 0 && f.name_len < len);
        FUZZ_CHECK(memchr(f.name, ':', f.name_len) == NULL);
        FUZZ_CHECK(f.value >= line && f.value + f.value_len <= line + len);
        if (f.value_len > 0) {
            FUZZ_CHECK(!is_space_or_tab(f.value[0]));
            FUZZ_CHECK(!is_space_or_tab(f.value[f.value_len - 1]));
        }
        unsigned long long length = 0;
        if (parse_content_length(f.value, f.value_len, &length) == NULL) {
            /* Digits only, no overflow: the same number as by hand. */
            unsigned long long expect = 0;
            for (size_t i = 0; i < f.value_len; i++) {
                FUZZ_CHECK(f.value[i] >= '0' && f.value[i] <= '9');
                expect = expect * 10 + (unsigned long long)(f.value[i] - '0');
            }
            FUZZ_CHECK(length == expect);
        }
    }
}

static void check_each_line(const char *text, size_t size)
{
    size_t pos = 0;
    while (pos < size) {
        const char *nl = memchr(text + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - text) : size;
        size_t len = end - pos;
        if (len > 0 && text[pos + len - 1] == '\r')
            len--;
        /* A copy of exactly the line: ASan sees any read past its end. */
        char *line = malloc(len ? len : 1);
        FUZZ_CHECK(line != NULL);
        memcpy(line, text + pos, len);
        check_line_parsers(line, len);
        free(line);
        pos = end + 1;
    }
}

/* 3. The chunked decoder: the same answer however the input is cut. */
static int sink_to_bytes(void *ctx, const char *data, size_t len)
{
    fuzz_bytes_append(ctx, data, len);
    return 0;
}

static enum chunk_result decode_chunked(uint8_t control, const uint8_t *data, size_t size,
                                        struct fuzz_bytes *out, const char **error)
{
    struct chunk_decoder d;
    struct body_sink sink = {sink_to_bytes, out};
    enum chunk_result r = CHUNK_NEED_MORE;
    chunk_decoder_init(&d);
    fuzz_input_init(&fuzz_in, control, data, size);
    fuzz_in.faults = 0;
    while (fuzz_in.pos < size && r == CHUNK_NEED_MORE) {
        size_t n = fuzz_next_piece(&fuzz_in, size - fuzz_in.pos);
        /* A copy of exactly the piece, so a read past it is caught. */
        char *piece = malloc(n);
        FUZZ_CHECK(piece != NULL);
        memcpy(piece, data + fuzz_in.pos, n);
        fuzz_in.pos += n;
        r = chunk_decoder_feed(&d, piece, n, &sink);
        free(piece);
    }
    *error = d.error;
    return r;
}

static void check_chunk_decoder(uint8_t control, const uint8_t *data, size_t size)
{
    struct fuzz_bytes whole = {0};
    struct fuzz_bytes pieces = {0};
    const char *whole_error = NULL;
    const char *pieces_error = NULL;
    enum chunk_result a = decode_chunked(0, data, size, &whole, &whole_error);
    enum chunk_result b = decode_chunked(control, data, size, &pieces, &pieces_error);
    FUZZ_CHECK(a == b);
    FUZZ_CHECK(whole.len == pieces.len);
    FUZZ_CHECK(whole.len == 0 || memcmp(whole.data, pieces.data, whole.len) == 0);
    FUZZ_CHECK(whole.len <= size);
    FUZZ_CHECK((a == CHUNK_MALFORMED) == (whole_error != NULL));
    FUZZ_CHECK(whole_error == pieces_error);
    fuzz_bytes_free(&whole);
    fuzz_bytes_free(&pieces);
}

/* 4. The first line as a URL, and the request built from it. */
static void check_url(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t len = nl ? (size_t)(nl - data) : size;
    char *text = malloc(len + 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, len);
    text[len] = '\0';
    struct url u;
    if (parse_url(text, &u) == NULL) {
        FUZZ_CHECK(u.host[0] != '\0' && strlen(u.host) < sizeof u.host);
        FUZZ_CHECK(u.port[0] != '\0' && strtoul(u.port, NULL, 10) <= 65535);
        FUZZ_CHECK(u.path >= text && u.path <= text + len);
        char request[URL_MAX + 512];
        int n = build_request(&u, request, sizeof request);
        if (n >= 0) {
            int crlf = 0;
            for (int i = 0; i + 1 < n; i++)
                crlf += request[i] == '\r' && request[i + 1] == '\n';
            FUZZ_CHECK(crlf == 4);
            FUZZ_CHECK(memchr(request, '\0', (size_t)n) == NULL);
        }
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t control = data[0];
    data++;
    size--;
    check_reply_path(control, data, size);
    check_each_line((const char *)data, size);
    check_chunk_decoder(control, data, size);
    check_url(data, size);
    return 0;
}
