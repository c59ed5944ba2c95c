/*
 * http_get.c - fetch one URL with a raw HTTP/1.1 GET over a TCP socket.
 *
 * Lesson 01 of sockstep: YOUR copy. Follow lessons/01-http-get/README.md and
 * fill in each TODO(step N), in order; `make check LESSON=01` grades it.
 * Until then each missing step ends the program with "not implemented yet".
 *
 * What the finished program does: it resolves the host with getaddrinfo,
 * connects (trying each address, with a timeout), sends one GET request,
 * reads the status line and the headers line by line, and streams the body
 * to stdout or to a file, decoding Content-Length and chunked framing.
 * Memory use does not depend on the size of the body: everything goes
 * through one fixed buffer.
 *
 * Build:  make            (or: cc -std=c17 -Wall -Wextra -Wpedantic -O2 \
 *                              -o http_get http_get.c)
 * Run:    build/lessons/01-http-get/http_get http://127.0.0.1:8080/
 *         build/lessons/01-http-get/http_get -v -t 5 -o page.html \
 *             http://[::1]:8080/index.html
 *
 * Exit status: 0 for a complete 2xx response, 1 for any runtime failure
 * (network, protocol, non-2xx status, I/O), 2 for a bad command line.
 *
 * With stdout as the output, a failure in the middle of the body cannot take
 * back the bytes already written: the exit status says the body is
 * incomplete. With -o FILE the body goes to a temporary file beside FILE
 * that is renamed only when the whole body has arrived, so FILE is either
 * complete or untouched.
 *
 * The parsers (parse_url, parse_status_line, parse_header_line, the chunk
 * decoder) are pure functions over buffers: they never read the network,
 * print or exit, so they can be tested and fuzzed on their own.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define PROG "http_get"
#define USAGE "usage: http_get [-o FILE] [-t SECONDS] [-v] URL"

#define URL_MAX 8192            /* longest URL accepted (the request must fit) */
#define HOST_MAX 256            /* longest host name or address in a URL */
#define IO_BUFFER_SIZE 65536    /* the one buffer every response byte goes through */
#define LINE_MAX_BYTES 8192     /* longest status or header line */
#define HEAD_MAX_BYTES 65536    /* all the header lines together */
#define REASON_MAX 256          /* reason phrase kept for the error message */
#define CHUNK_EXT_MAX 4096      /* chunk extensions are skipped, up to this length */
#define TRAILER_MAX 65536       /* trailer lines are skipped, up to this length */
#define MAX_INTERIM_RESPONSES 8 /* 100 Continue and friends before the real one */
#define DEFAULT_TIMEOUT_S 30.0
#define MAX_TIMEOUT_S 1000000.0 /* ~11 days: keeps milliseconds in an int */
#define STOP_CHECK_MS 250       /* the longest a stop may go unseen in a wait */
#define LINK_HOPS_MAX 8 /* symbolic links followed from -o FILE, one to the next */

/* Set by SIGINT/SIGTERM so a transfer in progress stops and cleans up. */
static volatile sig_atomic_t stop_requested = 0;

/* ---------------------------------------------------------------------------
 * Errors: fail() prints one line "http_get: ..." and returns -1, so every
 * failure path reads `return fail(...)` and its callers clean up (the
 * temporary file). fail_errno() adds strerror(errno). die_errno() exits at
 * once: only for a failure before any work began, with nothing to clean up.
 */

/* Shared: the same text in every lesson that has it (make lint checks). */
/* Prints "PROG: MESSAGE" on stderr and returns -1: for a function that must
 * return (and let its caller clean up) instead of exiting, as in
 * `return fail("...")`. */
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/* Like fail(), with errno's text: prints "PROG: MESSAGE: strerror(errno)"
 * and returns -1. */
static int fail_errno(const char *fmt, ...)
{
    int saved_errno = errno;
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s\n", strerror(saved_errno));
    return -1;
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/* Prints "PROG: MESSAGE: strerror(errno)" on stderr and exits 1. errno is
 * saved first: the stdio calls before strerror() may change it. */
static _Noreturn void die_errno(const char *fmt, ...)
{
    int saved_errno = errno;
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s\n", strerror(saved_errno));
    exit(1);
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/* A bad command line: prints "PROG: MESSAGE (usage: ...)", the problem and
 * the usage on one line, and exits 2. */
static _Noreturn void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (" USAGE ")\n", stderr);
    exit(2);
}

/* Network bytes never reach a terminal raw: control bytes become escapes. */
static void fput_escaped(FILE *f, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\')
            fputs("\\\\", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
}

/* A URL we cannot use: like usage_error, quoting the URL (escaped). */
_Noreturn static void url_error(const char *why, const char *url)
{
    fprintf(stderr, "%s: %s: '", PROG, why);
    fput_escaped(stderr, url, strlen(url) > 200 ? 200 : strlen(url));
    fprintf(stderr, "' (%s)\n", USAGE);
    exit(2);
}

/* Reports a protocol error that quotes a line from the server, escaped. */
static int fail_with_line(const char *what, const char *line, size_t len)
{
    fprintf(stderr, "%s: %s: '", PROG, what);
    fput_escaped(stderr, line, len > 200 ? 200 : len);
    fputs(len > 200 ? "'...\n" : "'\n", stderr);
    return -1;
}

/* ---------------------------------------------------------------------------
 * Step 1: the command line and the URL.
 */

struct options {
    const char *output_path; /* -o FILE, or NULL for stdout */
    int timeout_ms;          /* -t SECONDS, in milliseconds */
    bool verbose;            /* -v */
    const char *url;
};

struct url {
    char host[HOST_MAX]; /* without brackets: "::1", "example.com" */
    char port[6];        /* digits only: "80", "8080" */
    bool host_is_ipv6;   /* the URL had [brackets] */
    const char *path;    /* points into the URL string; "" means "/" */
};

/*
 * Parses a timeout like netcat parses numbers: strtod, then the end pointer
 * must be at the end, then a range check. Returns the milliseconds, or -1.
 */
static int parse_timeout(const char *text)
{
    char *end = NULL;
    if (text[0] != '.' && (text[0] < '0' || text[0] > '9'))
        return -1; /* no sign, no spaces, no "inf" or "nan" */
    errno = 0;
    double seconds = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0')
        return -1;
    if (!(seconds > 0.0 && seconds <= MAX_TIMEOUT_S)) /* also rejects NaN */
        return -1;
    double ms = seconds * 1000.0;
    return ms < 1.0 ? 1 : (int)(ms + 0.5);
}

/*
 * Splits "http://HOST[:PORT][/PATH]" into its parts. HOST is a name, an IPv4
 * address or an IPv6 address in brackets. Returns NULL on success, or a
 * sentence saying what is wrong with the URL.
 */
static const char *parse_url(const char *text, struct url *u)
{
    memset(u, 0, sizeof *u);
    /*
     * TODO(step 1): fill in *u from text, or return what is wrong:
     * - the scheme "http://" (in any case: strncasecmp); anything else is
     *   "only http:// URLs are supported";
     * - no spaces or control characters anywhere (they would break the
     *   request line), and no more than URL_MAX bytes;
     * - HOST: up to the first ':', '/', '?' or '#', or between [ and ] for
     *   an IPv6 address (u->host without the brackets, u->host_is_ipv6);
     * - an optional :PORT, digits only, 0 to 65535 (u->port, default "80");
     * - u->path points at whatever follows (may be "", "/x", "?q").
     */
    (void)text;
    return "not implemented yet (step 1)";
}

static struct options parse_options(int argc, char **argv)
{
    struct options opt = {NULL, (int)(DEFAULT_TIMEOUT_S * 1000), false, NULL};
    int c;
    opterr = 0; /* we print our own one-line messages */
    while ((c = getopt(argc, argv, ":o:t:v")) != -1) {
        if (c == 'o') {
            opt.output_path = optarg;
        } else if (c == 't') {
            opt.timeout_ms = parse_timeout(optarg);
            if (opt.timeout_ms < 0)
                usage_error("-t: '%s' is not a positive number of seconds", optarg);
        } else if (c == 'v') {
            opt.verbose = true;
        } else if (c == ':') {
            usage_error("option -%c needs a value", optopt);
        } else {
            usage_error("unknown option -%c", optopt);
        }
    }
    if (optind >= argc)
        usage_error("missing URL");
    if (optind + 1 < argc)
        usage_error("too many arguments: '%s'", argv[optind + 1]);
    if (opt.output_path != NULL && opt.output_path[0] == '\0')
        usage_error("-o needs a file name");
    opt.url = argv[optind];
    return opt;
}

/* ---------------------------------------------------------------------------
 * Step 2: resolve the name and connect, trying each address in turn.
 */

/*
 * Waits until fd is ready for `events` or timeout_ms passes (-1: no limit).
 * Returns 0 when ready, -1 with errno set (ETIMEDOUT when the time ran out,
 * EINTR when a stop was requested).
 *
 * A stop signal interrupts poll() with EINTR. But one that lands after the
 * last look at stop_requested and before poll() starts would go unseen for
 * the whole timeout: so poll() waits in slices of STOP_CHECK_MS, with a look
 * at the flag between them.
 */
static int wait_for(int fd, short events, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = events, .revents = 0};
    int left = timeout_ms;
    while (!stop_requested) {
        int slice = (left < 0 || left > STOP_CHECK_MS) ? STOP_CHECK_MS : left;
        int n = poll(&pfd, 1, slice);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
        if (n == 0 && left >= 0 && (left -= slice) <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        /* A slice is over, or a signal that is not a stop came: wait again
         * (an interrupted slice restarts, which only makes the wait a
         * little longer, never endless). */
    }
    errno = EINTR;
    return -1;
}

/*
 * Like CS:APP's open_clientfd: try each address getaddrinfo returns until
 * one connects. The socket stays non-blocking: every later wait goes through
 * poll with the timeout. Returns the socket, or -1 after printing why.
 */
static int connect_to_server(const struct url *u, int timeout_ms)
{
    /*
     * TODO(step 2): getaddrinfo(u->host, u->port) with AF_UNSPEC and
     * SOCK_STREAM; for each address: socket(), make it non-blocking
     * (fcntl O_NONBLOCK), connect(); on EINPROGRESS wait_for(POLLOUT,
     * timeout_ms) and read SO_ERROR with getsockopt. Keep the first socket
     * that connects; close the others; freeaddrinfo on every path. When
     * none connects: "connect to ADDR:PORT: <strerror>" and return -1.
     */
    (void)u;
    (void)timeout_ms;
    return fail("not implemented yet (step 2)");
}

/* ---------------------------------------------------------------------------
 * Step 3: send the request.
 */

/*
 * HTTP/1.1 requires Host: one address can serve many sites. Connection:
 * close asks the server to close after this one response, so that a body
 * without any length still has an end.
 */
static int build_request(const struct url *u, char *out, size_t cap)
{
    /*
     * TODO(step 3): write into out (at most cap bytes, snprintf):
     *   GET PATH HTTP/1.1\r\n         PATH "/" when empty, no #fragment
     *   Host: HOST[:PORT]\r\n         [brackets] for IPv6, :PORT unless 80
     *   Connection: close\r\n
     *   \r\n
     * Return the length, or fail(...) when it does not fit.
     */
    (void)u;
    (void)out;
    (void)cap;
    return fail("not implemented yet (step 3)");
}

/*
 * send() may take fewer bytes than asked (a full socket buffer): loop until
 * all of it is gone, waiting with poll when the socket would block.
 */
static int send_all(int fd, const char *buf, size_t len, int timeout_ms)
{
    /*
     * TODO(step 3): loop until len bytes are sent: send() may send fewer.
     * EINTR: try again. EAGAIN/EWOULDBLOCK: wait_for(fd, POLLOUT,
     * timeout_ms), then try again. Any other error: fail_errno.
     */
    (void)fd;
    (void)buf;
    (void)len;
    (void)timeout_ms;
    return fail("not implemented yet (step 3)");
}

/* ---------------------------------------------------------------------------
 * Step 4: read the reply as a byte stream, never waiting longer than the
 * timeout, and cut it into lines.
 */

/*
 * Everything the server sends lands in buf. The unread bytes are
 * buf[start, end): the header reader and the body copier take from there and
 * call conn_fill when it is empty.
 */
struct conn {
    int fd;
    int timeout_ms;
    size_t start;
    size_t end;
    char buf[IO_BUFFER_SIZE];
};

/*
 * Reads more bytes into the (empty) buffer. Returns the count, 0 when the
 * server closed the connection, -1 after printing why. The socket is
 * non-blocking, so read first and wait only when nothing is there yet: one
 * system call per buffer when data flows, and no wait longer than timeout.
 */
static ssize_t conn_fill(struct conn *c)
{
    c->start = 0;
    c->end = 0;
    /*
     * TODO(step 4): recv() into c->buf (the socket is non-blocking). Got
     * bytes: c->end = n, return n. Got 0: the server closed, return 0.
     * EINTR: again. EAGAIN/EWOULDBLOCK: wait_for(c->fd, POLLIN,
     * c->timeout_ms) and try again; when the wait times out, fail with a
     * line that says "timed out". Stop (fail "interrupted") when
     * stop_requested is set.
     */
    return fail("not implemented yet (step 4)");
}

/*
 * Reads one line into `line` (without the CRLF or LF), taking bytes from the
 * connection's buffer and refilling it as needed: a line may arrive in any
 * number of pieces. Returns the length, or -1 after printing why.
 * *closed is set when the connection ended before the line started.
 */
static ssize_t read_head_line(struct conn *c, char *line, size_t cap, bool *closed)
{
    /*
     * TODO(step 4): copy bytes from c->buf[c->start..c->end) into line
     * until '\n', calling conn_fill whenever the buffer is empty (a line
     * may come in many pieces). Drop the '\n' and a '\r' before it. More
     * than cap bytes: fail. conn_fill returned 0: set *closed (if no byte
     * of this line had arrived yet) and return -1.
     */
    (void)c;
    (void)line;
    (void)cap;
    *closed = false;
    return fail("not implemented yet (step 4)");
}

/* ---------------------------------------------------------------------------
 * Step 5: the status line and the headers.
 */

struct http_status {
    int major;
    int minor;
    int code;
    char reason[REASON_MAX]; /* as sent (may hold any byte; escape to print) */
    size_t reason_len;
};

struct header_field {
    const char *name; /* not NUL-terminated: use the lengths */
    size_t name_len;
    const char *value; /* without the spaces around it */
    size_t value_len;
};

enum body_framing { BODY_UNTIL_CLOSE, BODY_CONTENT_LENGTH, BODY_CHUNKED, BODY_NONE };

struct response_head {
    struct http_status status;
    enum body_framing framing;
    bool has_content_length;
    unsigned long long content_length;
    bool chunked;
};

/*
 * "HTTP/1.1 404 Not Found" -> version 1.1, code 404, reason "Not Found".
 * The line comes without its CRLF. Returns NULL or what is wrong.
 */
static const char *parse_status_line(const char *line, size_t len, struct http_status *st)
{
    memset(st, 0, sizeof *st);
    /*
     * TODO(step 5): check "HTTP/1.x", one space, three digits, then
     * nothing or a space and the reason phrase. Fill in st (the reason
     * may be cut to fit; keep its length). Anything else: return
     * "malformed status line".
     */
    (void)line;
    (void)len;
    return "not implemented yet (step 5)";
}

/* "Content-Type: text/html" -> name "Content-Type", value "text/html". */
static const char *parse_header_line(const char *line, size_t len, struct header_field *f)
{
    /*
     * TODO(step 5): find the colon (memchr: the line is not a C string).
     * No colon, an empty name, or a space in the name: return what is
     * wrong. Else point f->name and f->value into the line, with the
     * spaces and tabs around the value trimmed.
     */
    (void)line;
    (void)len;
    (void)f;
    return "not implemented yet (step 5)";
}

/* Records what a header means for the body. Returns NULL or what is wrong. */
static const char *apply_header(struct response_head *head, const struct header_field *f)
{
    /*
     * TODO(step 7): a "Content-Length" header (name in any case:
     * strncasecmp) sets head->has_content_length and head->content_length;
     * a value that is not a plain decimal number is an error: return
     * "Content-Length is not a number".
     * TODO(step 8): a "Transfer-Encoding: chunked" header sets
     * head->chunked.
     */
    (void)head;
    (void)f;
    return NULL;
}

static void print_verbose_line(bool verbose, const char *line, size_t len)
{
    if (!verbose)
        return;
    fputs("< ", stderr);
    fput_escaped(stderr, line, len);
    fputc('\n', stderr);
}

/* Reads header lines up to the empty line that ends them. */
static int read_headers(struct conn *c, struct response_head *head, bool verbose)
{
    char line[LINE_MAX_BYTES] = {0};
    size_t total = 0;
    bool closed = false;
    for (;;) {
        ssize_t len = read_head_line(c, line, sizeof line, &closed);
        if (len < 0)
            return closed ? fail("connection closed before the end of the headers") : -1;
        print_verbose_line(verbose, line, (size_t)len);
        if (len == 0)
            return 0; /* the empty line: the body starts right after it */
        total += (size_t)len;
        if (total > HEAD_MAX_BYTES)
            return fail("the headers are longer than %d bytes", HEAD_MAX_BYTES);
        struct header_field field;
        const char *why = parse_header_line(line, (size_t)len, &field);
        if (why == NULL)
            why = apply_header(head, &field);
        if (why != NULL)
            return fail_with_line(why, line, (size_t)len);
    }
}

/* Reads one response head: status line then headers. */
static int read_one_head(struct conn *c, struct response_head *head, bool verbose)
{
    char line[LINE_MAX_BYTES] = {0};
    bool closed = false;
    memset(head, 0, sizeof *head);
    ssize_t len = read_head_line(c, line, sizeof line, &closed);
    if (len < 0)
        return closed ? fail("empty reply: the server closed the connection without "
                             "sending anything")
                      : -1;
    print_verbose_line(verbose, line, (size_t)len);
    const char *why = parse_status_line(line, (size_t)len, &head->status);
    if (why != NULL)
        return fail_with_line(why, line, (size_t)len);
    return read_headers(c, head, verbose);
}

/*
 * Reads the status line and headers of the final response. An interim 1xx
 * response (100 Continue, 103 Early Hints) has no body and is followed by the
 * real one, so it is skipped. Then decides how the body is framed.
 */
static int read_response_head(struct conn *c, struct response_head *head, bool verbose)
{
    int interim = 0;
    do {
        if (++interim > MAX_INTERIM_RESPONSES)
            return fail("more than %d interim (1xx) responses", MAX_INTERIM_RESPONSES);
        if (read_one_head(c, head, verbose) < 0)
            return -1;
    } while (head->status.code >= 100 && head->status.code < 200 &&
             head->status.code != 101);
    int code = head->status.code;
    if (code == 204 || code == 304)
        head->framing = BODY_NONE; /* these never have a body */
    else if (head->chunked)
        head->framing = BODY_CHUNKED; /* wins over Content-Length (RFC 9112) */
    else if (head->has_content_length)
        head->framing = BODY_CONTENT_LENGTH;
    else
        head->framing = BODY_UNTIL_CLOSE;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Step 6: check the status before writing a single byte of the body.
 */

static int check_status(const struct http_status *st)
{
    /*
     * TODO(step 6): 2xx is a success: return 0. Anything else: print
     * "http_get: HTTP <code> <reason>" (the reason escaped with
     * fput_escaped) and return -1.
     */
    (void)st;
    return fail("not implemented yet (step 6)");
}

/* ---------------------------------------------------------------------------
 * Step 9 (used by step 7 and 8): where the body goes. With -o FILE, a
 * temporary file beside FILE (same directory, so rename is atomic) that
 * becomes FILE only when the body is complete.
 */

struct output {
    int fd;
    const char *final_path; /* FILE, or what its symbolic link points to; NULL: stdout */
    char *temp_path;        /* malloc'd; NULL once renamed or removed */
    char *link_target;      /* malloc'd when FILE is a symbolic link: where it points */
};

static int output_open(struct output *out, const char *path)
{
    out->fd = STDOUT_FILENO;
    out->final_path = path;
    out->temp_path = NULL;
    out->link_target = NULL;
    if (path == NULL)
        return 0;
    /*
     * TODO(step 9): lstat(PATH): a symbolic link is followed (readlink,
     * relative to the link's folder, at most LINK_HOPS_MAX links: the
     * malloc'd result in out->link_target, which becomes out->final_path);
     * a folder is an error. Then out->temp_path = a malloc'd "FINAL_PATH.XXXXXX"; out->fd
     * = mkstemp(out->temp_path) (it creates the file beside the one it
     * replaces, so that rename is atomic); fchmod it to the mode of the
     * file that is there (stat), or to 0666 minus the umask for a new one.
     */
    return fail("not implemented yet (step 9)");
}

/*
 * write() may also write less than asked: loop (as CS:APP rio_writen).
 * Writing to a full pipe (`http_get URL | less` with the pager not reading)
 * blocks; a stop signal ends that write early (EINTR, or a short count), and
 * the loop then looks at the flag before writing again: -1 with EINTR.
 */
static int write_output_until_stopped(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        if (stop_requested) {
            errno = EINTR;
            return -1;
        }
        ssize_t n = write(fd, buf, len);
        if (n >= 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue; /* the loop head looks at the stop flag */
        /* A non-blocking stdout (inherited) is not an error: wait until it drains. */
        bool would_block = errno == EAGAIN || errno == EWOULDBLOCK;
        if (!would_block || wait_for(fd, POLLOUT, -1) < 0)
            return -1;
    }
    return 0;
}

/* The body sink: every decoded body byte goes through here. */
static int output_write(void *ctx, const char *data, size_t len)
{
    struct output *out = ctx;
    if (write_output_until_stopped(out->fd, data, len) < 0) {
        if (errno == EINTR)
            return fail("interrupted");
        return fail_errno("write to %s", out->temp_path ? out->temp_path : "stdout");
    }
    return 0;
}

/* The body is complete: close and rename the temporary file into place. */
static int output_commit(struct output *out)
{
    if (out->temp_path == NULL)
        return 0;
    /*
     * TODO(step 9): close out->fd (check it: a full disk shows there),
     * rename temp_path to final_path; unlink the temporary file if either
     * failed; free temp_path and link_target.
     */
    return fail("not implemented yet (step 9)");
}

/* Something failed: remove the temporary file; FILE stays as it was. */
static void output_discard(struct output *out)
{
    /*
     * TODO(step 9): free link_target; if there is a temporary file: close
     * it, unlink it, free temp_path and set it to NULL. FILE itself is
     * never touched.
     */
    (void)out;
}

/* ---------------------------------------------------------------------------
 * Step 7: bodies with a Content-Length, and bodies that run to the close.
 */

/*
 * Writes exactly content_length bytes, straight from the receive buffer, and
 * stops there: the server may keep the connection open, so waiting for the
 * close would hang until the timeout.
 */
static int copy_counted_body(struct conn *c, unsigned long long length,
                             struct output *out)
{
    /*
     * TODO(step 7): write exactly `length` bytes with output_write, taking
     * them from c->buf[c->start..c->end) and calling conn_fill when it is
     * empty; then stop (do not wait for the close). conn_fill returning 0
     * first: fail("body shorter than Content-Length ...").
     */
    (void)c;
    (void)length;
    (void)out;
    return fail("not implemented yet (step 7)");
}

/* No length and not chunked: the body is everything until the server closes. */
static int copy_body_until_close(struct conn *c, struct output *out)
{
    /*
     * TODO(step 7): write what is left in the buffer, then conn_fill and
     * write again, until conn_fill returns 0 (done) or -1 (failed).
     */
    (void)c;
    (void)out;
    return fail("not implemented yet (step 7)");
}

/* ---------------------------------------------------------------------------
 * Step 8: chunked transfer encoding.
 *
 *   1a;name=value\r\n      size in hex, optional extensions (ignored)
 *   <0x1a bytes>\r\n
 *   0\r\n                  the last chunk
 *   Trailer: x\r\n         optional trailer lines (ignored)
 *   \r\n
 *
 * The decoder is a state machine fed with whatever bytes arrived: the input
 * can be cut anywhere (in the middle of the size, of the CRLF, of the data)
 * and the next call picks up where the last one stopped.
 */

enum chunk_state {
    CHUNK_SIZE,          /* reading hex digits */
    CHUNK_SIZE_SPACE,    /* spaces after the size, before ';' or CRLF */
    CHUNK_EXTENSION,     /* skipping ";name=value" up to CRLF */
    CHUNK_SIZE_LF,       /* got CR after the size line, need LF */
    CHUNK_DATA,          /* copying `remaining` data bytes */
    CHUNK_DATA_CR,       /* need the CR after the data */
    CHUNK_DATA_LF,       /* need the LF after the data */
    CHUNK_TRAILER_START, /* at the start of a trailer line (or the final CRLF) */
    CHUNK_TRAILER,       /* skipping a trailer line up to LF */
    CHUNK_FINAL_LF,      /* got the CR of the final empty line, need LF */
    CHUNK_DONE
};

enum chunk_result { CHUNK_NEED_MORE, CHUNK_FINISHED, CHUNK_MALFORMED, CHUNK_SINK_FAILED };

struct chunk_decoder {
    enum chunk_state state;
    unsigned long long remaining; /* chunk size being read, then bytes left */
    size_t digits;                /* hex digits seen in this size */
    size_t skipped;               /* bytes of extension or trailer skipped */
    const char *error;            /* why, after CHUNK_MALFORMED */
};

/* Where decoded bytes go: write(ctx, data, len) returns 0 or -1. */
struct body_sink {
    int (*write)(void *ctx, const char *data, size_t len);
    void *ctx;
};

static void chunk_decoder_init(struct chunk_decoder *d)
{
    memset(d, 0, sizeof *d);
    d->state = CHUNK_SIZE;
}

/*
 * Feeds len bytes of chunked body. Data bytes go to the sink in runs (never
 * byte by byte). Returns CHUNK_NEED_MORE, CHUNK_FINISHED after the last
 * chunk and its trailers (later bytes are ignored), CHUNK_MALFORMED with
 * d->error set, or CHUNK_SINK_FAILED when the sink returned -1.
 */
static enum chunk_result chunk_decoder_feed(struct chunk_decoder *d, const char *in,
                                            size_t len, const struct body_sink *sink)
{
    /*
     * TODO(step 8): walk through in[0..len) with the state machine: hex
     * digits of the size, optional spaces and ";extension" up to CRLF,
     * then `remaining` data bytes (to sink->write, as many at once as
     * there are), then CRLF, and again. Size 0 is the last chunk: skip
     * trailer lines up to the empty line, then return CHUNK_FINISHED.
     * Anything unexpected: d->error = "what", return CHUNK_MALFORMED.
     * The input can stop anywhere: keep everything you need in *d.
     */
    (void)in;
    (void)len;
    (void)sink;
    d->error = "not implemented yet (step 8)";
    return CHUNK_MALFORMED;
}

static int copy_chunked_body(struct conn *c, struct output *out)
{
    struct chunk_decoder decoder;
    struct body_sink sink = {output_write, out};
    chunk_decoder_init(&decoder);
    for (;;) {
        if (c->start == c->end) {
            ssize_t n = conn_fill(c);
            if (n < 0)
                return -1;
            if (n == 0)
                return fail("broken chunked encoding: the connection closed before the "
                            "last chunk");
        }
        enum chunk_result r =
            chunk_decoder_feed(&decoder, c->buf + c->start, c->end - c->start, &sink);
        c->start = c->end;
        if (r == CHUNK_FINISHED)
            return 0;
        if (r == CHUNK_MALFORMED)
            return fail("broken chunked encoding: %s", decoder.error);
        if (r == CHUNK_SINK_FAILED)
            return -1;
    }
}

static int copy_body(struct conn *c, const struct response_head *head, struct output *out)
{
    switch (head->framing) {
    case BODY_CONTENT_LENGTH:
        return copy_counted_body(c, head->content_length, out);
    case BODY_CHUNKED:
        return copy_chunked_body(c, out);
    case BODY_UNTIL_CLOSE:
        return copy_body_until_close(c, out);
    default:
        return 0;
    }
}

/* ---------------------------------------------------------------------------
 * main: the lesson's steps, top to bottom.
 */

/* Shared: the same text in every lesson that has it (make lint checks). */
/* SIGINT and SIGTERM only raise a flag (about all a handler may safely do);
 * the main loop sees it and stops. */
static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/* SIGINT and SIGTERM raise the stop flag, without SA_RESTART: a blocked
 * poll() returns EINTR and the loop sees the flag. SIGPIPE is ignored: a
 * write to a peer that has gone must be an EPIPE error we handle, not a
 * signal that kills the program. */
static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop_signal;
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) {
        die_errno("sigaction");
    }
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) < 0) {
        die_errno("sigaction SIGPIPE");
    }
}

/* Connect, send the request, read the head, check it, then the body. */
static int download(const struct options *opt, const struct url *url, struct conn *c,
                    struct output *out)
{
    char request[URL_MAX + 512];
    struct response_head head;

    c->fd = connect_to_server(url, opt->timeout_ms); /* step 2 */
    if (c->fd < 0)
        return -1;
    int len = build_request(url, request, sizeof request); /* step 3 */
    if (len < 0 || send_all(c->fd, request, (size_t)len, opt->timeout_ms) < 0)
        return -1;
    if (read_response_head(c, &head, opt->verbose) < 0) /* steps 4 and 5 */
        return -1;
    if (check_status(&head.status) < 0) /* step 6 */
        return -1;
    return copy_body(c, &head, out); /* steps 7 and 8 */
}

/*
 * The output is opened first (step 9): a FILE that cannot be written (a
 * missing folder, a folder) fails at once, not after the whole download.
 */
static int fetch(const struct options *opt, const struct url *url, struct conn *c)
{
    struct output out = {-1, NULL, NULL, NULL};
    if (output_open(&out, opt->output_path) < 0 || download(opt, url, c, &out) < 0) {
        output_discard(&out);
        return -1;
    }
    return output_commit(&out);
}

int main(int argc, char **argv)
{
    struct options opt = parse_options(argc, argv);
    struct url url;
    const char *why = parse_url(opt.url, &url); /* step 1 */
    if (why != NULL)
        url_error(why, opt.url);
    install_signal_handlers();

    /* The receive buffer is the program's only sizeable memory, allocated
     * once: the body streams through it whatever its size. */
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        fail_errno("allocate the receive buffer");
        return 1;
    }
    c->fd = -1;
    c->timeout_ms = opt.timeout_ms;
    int rc = fetch(&opt, &url, c);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
    return rc == 0 ? 0 : 1;
}
