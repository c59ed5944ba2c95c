/*
 * http_get.c - fetch one URL with a raw HTTP/1.1 GET over a TCP socket.
 *
 * Lesson 01 of sockstep (lessons/01-http-get/README.md): the reference
 * solution. It resolves the host with getaddrinfo, connects (trying each
 * address, with a timeout), sends one GET request, reads the status line and
 * the headers line by line, and streams the body to stdout or to a file,
 * decoding Content-Length and chunked framing. Memory use does not depend on
 * the size of the body: everything goes through one fixed buffer.
 *
 * Build:  make            (or: cc -std=c17 -Wall -Wextra -Wpedantic -O2 \
 *                              -o http_get http_get.c)
 * Run:    build/solutions/01-http-get/http_get http://127.0.0.1:8080/
 *         build/solutions/01-http-get/http_get -v -t 5 -o page.html \
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
 * The parsers (parse_url, parse_status_line, parse_header_line,
 * parse_content_length, the chunk_decoder) are pure functions over buffers:
 * they never read the network, print or exit, so they can be tested and
 * fuzzed on their own.
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

static bool is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_';
}

static bool is_ipv6_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
           c == ':' || c == '.';
}

/* Copies the host part [start, start+len) into u->host if every byte is allowed. */
static const char *store_host(struct url *u, const char *start, size_t len, bool ipv6)
{
    if (len == 0)
        return "the URL has no host";
    if (len >= sizeof u->host)
        return "the host name in the URL is too long";
    for (size_t i = 0; i < len; i++) {
        if (ipv6 ? !is_ipv6_char(start[i]) : !is_host_char(start[i]))
            return "the host in the URL has a character that is not allowed there";
    }
    memcpy(u->host, start, len);
    u->host[len] = '\0';
    u->host_is_ipv6 = ipv6;
    return NULL;
}

/* Stores the port digits [start, start+len): a number from 0 to 65535. */
static const char *store_port(struct url *u, const char *start, size_t len)
{
    unsigned long value = 0;
    if (len == 0 || len > 5)
        return "the port in the URL is not a number from 0 to 65535";
    for (size_t i = 0; i < len; i++) {
        if (start[i] < '0' || start[i] > '9')
            return "the port in the URL is not a number from 0 to 65535";
        value = value * 10 + (unsigned long)(start[i] - '0');
    }
    if (value > 65535)
        return "the port in the URL is not a number from 0 to 65535";
    snprintf(u->port, sizeof u->port, "%lu", value);
    return NULL;
}

/*
 * Splits "http://HOST[:PORT][/PATH]" into its parts. HOST is a name, an IPv4
 * address or an IPv6 address in brackets. Returns NULL on success, or a
 * sentence saying what is wrong with the URL.
 */
static const char *parse_url(const char *text, struct url *u)
{
    static const char scheme[] = "http://";
    memset(u, 0, sizeof *u);
    if (strlen(text) > URL_MAX)
        return "the URL is too long";
    for (const char *p = text; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            return "the URL has a space or a control character in it";
    }
    if (strncasecmp(text, scheme, sizeof scheme - 1) != 0)
        return "only http:// URLs are supported";
    const char *host = text + sizeof scheme - 1;
    const char *host_end;
    const char *after;
    bool ipv6 = host[0] == '[';
    if (ipv6) {
        host++;
        host_end = strchr(host, ']');
        if (host_end == NULL)
            return "the IPv6 address in the URL has no closing ']'";
        after = host_end + 1;
    } else {
        host_end = host + strcspn(host, ":/?#");
        after = host_end;
    }
    const char *why = store_host(u, host, (size_t)(host_end - host), ipv6);
    if (why != NULL)
        return why;
    snprintf(u->port, sizeof u->port, "80");
    if (*after == ':') {
        const char *port = after + 1;
        after = port + strcspn(port, "/?#");
        why = store_port(u, port, (size_t)(after - port));
        if (why != NULL)
            return why;
    }
    if (*after != '\0' && *after != '/' && *after != '?' && *after != '#')
        return "unexpected characters after the host in the URL";
    u->path = after; /* the fragment (#...) is cut when the request is built */
    return NULL;
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

/* Shared: the same text in every lesson that has it (make lint checks). */
/* Writes "127.0.0.1:40123" or "[::1]:40123" into out (numeric: no DNS
 * lookup for a log line); an address getnameinfo() cannot print says why. */
static void format_address(const struct sockaddr *sa, socklen_t len, char *out,
                           size_t size)
{
    char host[64]; /* a numeric IPv6 address with a zone fits */
    char port[8];
    int rc = getnameinfo(sa, len, host, sizeof host, port, sizeof port,
                         NI_NUMERICHOST | NI_NUMERICSERV);
    if (rc != 0) {
        snprintf(out, size, "(unknown address: %s)", gai_strerror(rc));
    } else if (sa->sa_family == AF_INET6) {
        snprintf(out, size, "[%s]:%s", host, port);
    } else {
        snprintf(out, size, "%s:%s", host, port);
    }
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/* O_NONBLOCK: a read, write or accept that would wait fails with EAGAIN
 * instead. 0, or -1 with errno set. */
static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) {
        return -1;
    }
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

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
 * A non-blocking connect, so that the wait can be bounded by poll: connect()
 * returns EINPROGRESS at once, the socket becomes writable when the handshake
 * is over, and SO_ERROR then says whether it worked.
 */
static int connect_with_timeout(int fd, const struct sockaddr *sa, socklen_t len,
                                int timeout_ms)
{
    if (connect(fd, sa, len) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return -1;
    if (wait_for(fd, POLLOUT, timeout_ms) < 0)
        return -1;
    int err = 0;
    socklen_t err_len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) < 0)
        return -1;
    if (err != 0) {
        errno = err;
        return -1;
    }
    return 0;
}

/*
 * Like CS:APP's open_clientfd: try each address getaddrinfo returns until
 * one connects. The socket stays non-blocking: every later wait goes through
 * poll with the timeout. Returns the socket, or -1 after printing why.
 */
static int connect_to_server(const struct url *u, int timeout_ms)
{
    struct addrinfo hints = {0};
    struct addrinfo *list = NULL;
    hints.ai_family = AF_UNSPEC;     /* IPv4 or IPv6, whatever the name has */
    hints.ai_socktype = SOCK_STREAM; /* TCP */
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(u->host, u->port, &hints, &list);
    if (rc != 0)
        return fail("resolve %s: %s", u->host, gai_strerror(rc));

    int fd = -1;
    int last_errno = 0;
    char where[96] = "";
    /* A stop ends the search: the next address would wait its own timeout. */
    for (const struct addrinfo *ai = list; ai != NULL && fd < 0 && !stop_requested;
         ai = ai->ai_next) {
        format_address(ai->ai_addr, ai->ai_addrlen, where, sizeof where);
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        if (set_nonblocking(fd) < 0 ||
            connect_with_timeout(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms) < 0) {
            last_errno = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(list);
    if (fd < 0 && stop_requested)
        return fail("interrupted");
    if (fd < 0) {
        errno = last_errno;
        return fail_errno("connect to %s", where);
    }
    return fd;
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
    size_t path_len = strcspn(u->path, "#");
    const char *path = path_len == 0 ? "/" : u->path;
    int path_width = path_len == 0 ? 1 : (int)path_len;
    /* A path that starts with '?' still needs its '/': "http://h?q" -> "/?q". */
    const char *slash = (path_len > 0 && u->path[0] == '?') ? "/" : "";
    const char *open = u->host_is_ipv6 ? "[" : "";
    const char *close_ = u->host_is_ipv6 ? "]" : "";
    bool default_port = strcmp(u->port, "80") == 0;
    int n = snprintf(out, cap,
                     "GET %s%.*s HTTP/1.1\r\n"
                     "Host: %s%s%s%s%s\r\n"
                     "Connection: close\r\n"
                     "\r\n",
                     slash, path_width, path, open, u->host, close_,
                     default_port ? "" : ":", default_port ? "" : u->port);
    if (n < 0 || (size_t)n >= cap)
        return fail("the request does not fit in %zu bytes", cap);
    return n;
}

/*
 * send() may take fewer bytes than asked (a full socket buffer): loop until
 * all of it is gone, waiting with poll when the socket would block.
 */
static int send_all(int fd, const char *buf, size_t len, int timeout_ms)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, 0);
        if (n >= 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (errno == EINTR && !stop_requested)
            continue; /* a signal that is not a stop: send again */
        bool would_block = errno == EAGAIN || errno == EWOULDBLOCK;
        if (would_block && wait_for(fd, POLLOUT, timeout_ms) == 0)
            continue;
        return errno == EINTR ? fail("interrupted") : fail_errno("send the request");
    }
    return 0;
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
    for (;;) {
        if (stop_requested)
            return fail("interrupted");
        ssize_t n = recv(c->fd, c->buf, sizeof c->buf, 0);
        if (n >= 0) {
            c->end = (size_t)n;
            return n;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return fail_errno("receive");
        if (wait_for(c->fd, POLLIN, c->timeout_ms) < 0) {
            if (errno == ETIMEDOUT)
                return fail("timed out: no data from the server for %.3g s",
                            c->timeout_ms / 1000.0);
            return errno == EINTR ? fail("interrupted") : fail_errno("receive");
        }
    }
}

/*
 * Reads one line into `line` (without the CRLF or LF), taking bytes from the
 * connection's buffer and refilling it as needed: a line may arrive in any
 * number of pieces. Returns the length, or -1 after printing why.
 * *closed is set when the connection ended before the line started.
 */
static ssize_t read_head_line(struct conn *c, char *line, size_t cap, bool *closed)
{
    size_t len = 0;
    *closed = false;
    for (;;) {
        if (c->start == c->end) {
            ssize_t n = conn_fill(c);
            if (n < 0)
                return -1;
            if (n == 0) {
                *closed = len == 0;
                return len == 0 ? -1 : fail("connection closed in the middle of a line");
            }
        }
        char ch = c->buf[c->start++];
        if (ch == '\n')
            break;
        if (len == cap)
            return fail("a status or header line is longer than %zu bytes", cap);
        line[len++] = ch;
    }
    if (len > 0 && line[len - 1] == '\r')
        len--;
    return (ssize_t)len;
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

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/*
 * "HTTP/1.1 404 Not Found" -> version 1.1, code 404, reason "Not Found".
 * The line comes without its CRLF. Returns NULL or what is wrong.
 */
static const char *parse_status_line(const char *line, size_t len, struct http_status *st)
{
    memset(st, 0, sizeof *st);
    if (len < 12 || memcmp(line, "HTTP/", 5) != 0 || !is_digit(line[5]) ||
        line[6] != '.' || !is_digit(line[7]) || line[8] != ' ')
        return "malformed status line";
    if (!is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]))
        return "malformed status line";
    if (len > 12 && line[12] != ' ')
        return "malformed status line";
    st->major = line[5] - '0';
    st->minor = line[7] - '0';
    if (st->major != 1)
        return "malformed status line (not HTTP/1.x)";
    st->code = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (st->code < 100)
        return "malformed status line (status code below 100)";
    size_t reason_len = len > 13 ? len - 13 : 0;
    if (reason_len >= sizeof st->reason)
        reason_len = sizeof st->reason - 1;
    if (reason_len > 0)
        memcpy(st->reason, line + 13, reason_len);
    st->reason[reason_len] = '\0';
    st->reason_len = reason_len;
    return NULL;
}

static bool is_space_or_tab(char c)
{
    return c == ' ' || c == '\t';
}

/* "Content-Type: text/html" -> name "Content-Type", value "text/html". */
static const char *parse_header_line(const char *line, size_t len, struct header_field *f)
{
    const char *colon = memchr(line, ':', len);
    if (len > 0 && is_space_or_tab(line[0]))
        return "header line starts with a space (folded headers are not supported)";
    if (colon == NULL)
        return "malformed header line (no colon)";
    if (colon == line)
        return "malformed header line (empty name)";
    for (const char *p = line; p < colon; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ' || c >= 0x7f)
            return "malformed header line (bad character in the name)";
    }
    const char *value = colon + 1;
    const char *value_end = line + len;
    while (value < value_end && is_space_or_tab(*value))
        value++;
    while (value_end > value && is_space_or_tab(value_end[-1]))
        value_end--;
    f->name = line;
    f->name_len = (size_t)(colon - line);
    f->value = value;
    f->value_len = (size_t)(value_end - value);
    return NULL;
}

/* Decimal digits only, no sign, no spaces, no overflow. */
static const char *parse_content_length(const char *text, size_t len,
                                        unsigned long long *out)
{
    unsigned long long value = 0;
    if (len == 0)
        return "Content-Length is not a number";
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(text[i]))
            return "Content-Length is not a number";
        unsigned digit = (unsigned)(text[i] - '0');
        if (value > (~0ULL - digit) / 10)
            return "Content-Length is too large";
        value = value * 10 + digit;
    }
    *out = value;
    return NULL;
}

static bool name_is(const struct header_field *f, const char *name)
{
    return f->name_len == strlen(name) && strncasecmp(f->name, name, f->name_len) == 0;
}

/* Records what a header means for the body. Returns NULL or what is wrong. */
static const char *apply_header(struct response_head *head, const struct header_field *f)
{
    if (name_is(f, "Content-Length")) {
        unsigned long long length = 0;
        const char *why = parse_content_length(f->value, f->value_len, &length);
        if (why != NULL)
            return why;
        if (head->has_content_length && head->content_length != length)
            return "two different Content-Length headers";
        head->has_content_length = true;
        head->content_length = length;
    } else if (name_is(f, "Transfer-Encoding")) {
        /* We send no TE header, so "chunked" is the only coding to expect. */
        if (f->value_len != 7 || strncasecmp(f->value, "chunked", 7) != 0)
            return "unsupported Transfer-Encoding (only chunked is)";
        head->chunked = true;
    }
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
    if (st->code >= 200 && st->code <= 299)
        return 0;
    fprintf(stderr, "%s: HTTP %d", PROG, st->code);
    if (st->reason_len > 0) {
        fputc(' ', stderr);
        fput_escaped(stderr, st->reason, st->reason_len);
    }
    fputc('\n', stderr);
    return -1;
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

/*
 * Where a symbolic link points: its text (readlink), taken relative to the
 * link's own folder unless it starts with '/'. Returns a malloc'd path, or
 * NULL with errno set.
 */
static char *link_destination(const char *link)
{
    char text[4096];
    ssize_t n = readlink(link, text, sizeof text);
    if (n < 0)
        return NULL;
    if ((size_t)n == sizeof text) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    const char *slash = strrchr(link, '/');
    size_t folder_len =
        (text[0] == '/' || slash == NULL) ? 0 : (size_t)(slash - link) + 1;
    char *destination = malloc(folder_len + (size_t)n + 1);
    if (destination == NULL)
        return NULL;
    memcpy(destination, link, folder_len);
    memcpy(destination + folder_len, text, (size_t)n);
    destination[folder_len + (size_t)n] = '\0';
    return destination;
}

/*
 * Where the body really goes, and what is there now (*st, when *exists).
 * A symbolic link at FILE is followed, as `curl -o` and the shell's `>` do:
 * renaming onto the link would replace the link itself with a regular file.
 * (A link to nothing: the file it names is created.) FILE may not be a
 * folder: rename() could never put a file there.
 */
static int find_output_file(struct output *out, const char *path, struct stat *st,
                            bool *exists)
{
    *exists = false;
    out->final_path = path;
    for (int hops = 0;; hops++) {
        if (lstat(out->final_path, st) < 0)
            return errno == ENOENT ? 0 : fail_errno("-o %s", path);
        if (!S_ISLNK(st->st_mode))
            break;
        char *destination =
            hops < LINK_HOPS_MAX ? link_destination(out->final_path) : NULL;
        if (destination == NULL) {
            if (hops == LINK_HOPS_MAX)
                errno = ELOOP;
            return fail_errno("follow the symbolic link %s", path);
        }
        free(out->link_target);
        out->link_target = destination;
        out->final_path = destination;
    }
    if (S_ISDIR(st->st_mode))
        return fail("-o %s: is a folder, not a file", path);
    *exists = true;
    return 0;
}

/*
 * A FILE that exists keeps its permission bits: a private 0600 file stays
 * private. A new one gets the usual 0666 minus the umask. (mkstemp made the
 * temporary file 0600.)
 */
static mode_t output_file_mode(bool exists, const struct stat *st)
{
    if (exists)
        return st->st_mode & 0777;
    mode_t mask = umask(0);
    umask(mask);
    return 0666 & ~mask;
}

static int output_open(struct output *out, const char *path)
{
    out->fd = STDOUT_FILENO;
    out->final_path = path;
    out->temp_path = NULL;
    out->link_target = NULL;
    if (path == NULL)
        return 0;
    struct stat st;
    bool exists = false;
    if (find_output_file(out, path, &st, &exists) < 0)
        return -1;
    /* Beside the file it replaces: rename() is atomic within one folder. */
    size_t len = strlen(out->final_path) + sizeof ".XXXXXX";
    out->temp_path = malloc(len);
    if (out->temp_path == NULL)
        return fail_errno("allocate a file name");
    snprintf(out->temp_path, len, "%s.XXXXXX", out->final_path);
    out->fd = mkstemp(out->temp_path);
    if (out->fd < 0) {
        fail_errno("create a temporary file for %s", path);
        free(out->temp_path);
        out->temp_path = NULL;
        return -1;
    }
    if (fchmod(out->fd, output_file_mode(exists, &st)) < 0)
        return fail_errno("set the mode of %s", out->temp_path);
    return 0;
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
    int rc = 0;
    if (close(out->fd) < 0)
        rc = fail_errno("write %s", out->temp_path);
    out->fd = -1;
    if (rc == 0 && rename(out->temp_path, out->final_path) < 0)
        rc = fail_errno("rename %s to %s", out->temp_path, out->final_path);
    if (rc < 0)
        unlink(out->temp_path);
    free(out->temp_path);
    out->temp_path = NULL;
    free(out->link_target);
    out->link_target = NULL;
    return rc;
}

/* Something failed: remove the temporary file; FILE stays as it was. */
static void output_discard(struct output *out)
{
    free(out->link_target);
    out->link_target = NULL;
    if (out->temp_path == NULL)
        return;
    if (out->fd >= 0)
        close(out->fd);
    unlink(out->temp_path);
    free(out->temp_path);
    out->temp_path = NULL;
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
    unsigned long long left = length;
    while (left > 0) {
        if (c->start == c->end) {
            ssize_t n = conn_fill(c);
            if (n < 0)
                return -1;
            if (n == 0)
                return fail("body shorter than Content-Length: got %llu of %llu bytes",
                            length - left, length);
        }
        size_t avail = c->end - c->start;
        size_t take = avail < left ? avail : (size_t)left;
        if (output_write(out, c->buf + c->start, take) < 0)
            return -1;
        c->start += take;
        left -= take;
    }
    return 0;
}

/* No length and not chunked: the body is everything until the server closes. */
static int copy_body_until_close(struct conn *c, struct output *out)
{
    for (;;) {
        if (c->start < c->end) {
            if (output_write(out, c->buf + c->start, c->end - c->start) < 0)
                return -1;
            c->start = c->end;
        }
        ssize_t n = conn_fill(c);
        if (n <= 0)
            return (int)n;
    }
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

/* Shared: the same text in every lesson that has it (make lint checks). */
/* The value of one hexadecimal digit, either case; -1 for any other byte. */
static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static enum chunk_result chunk_malformed(struct chunk_decoder *d, const char *why)
{
    d->error = why;
    return CHUNK_MALFORMED;
}

/* The size line is over: a data chunk follows, or (size 0) the trailers. */
static void end_size_line(struct chunk_decoder *d)
{
    d->state = d->remaining == 0 ? CHUNK_TRAILER_START : CHUNK_DATA;
    d->digits = 0;
    d->skipped = 0;
}

/* One byte of the size line: "1a", spaces, ";name=value", CRLF. */
static enum chunk_result chunk_size_byte(struct chunk_decoder *d, char ch)
{
    if (d->state == CHUNK_SIZE) {
        int hex = hex_value(ch);
        if (hex >= 0) {
            if (d->remaining > (~0ULL >> 4))
                return chunk_malformed(d, "chunk size too large");
            d->remaining = d->remaining * 16 + (unsigned)hex;
            d->digits++;
            return CHUNK_NEED_MORE;
        }
        if (d->digits == 0)
            return chunk_malformed(d, "chunk size is not a hex number");
        d->state = CHUNK_SIZE_SPACE; /* the digits are over */
    }
    if (d->state == CHUNK_SIZE_LF) {
        if (ch != '\n')
            return chunk_malformed(d, "no LF after a chunk size line");
        end_size_line(d);
    } else if (ch == '\r') {
        d->state = CHUNK_SIZE_LF;
    } else if (ch == '\n') {
        end_size_line(d); /* tolerate a bare LF, as for the header lines */
    } else if (d->state == CHUNK_EXTENSION) {
        if (++d->skipped > CHUNK_EXT_MAX)
            return chunk_malformed(d, "chunk extension too long");
    } else if (ch == ';') {
        d->state = CHUNK_EXTENSION;
    } else if (!is_space_or_tab(ch)) {
        return chunk_malformed(d, "bad character after a chunk size");
    }
    return CHUNK_NEED_MORE;
}

/* The CRLF after a chunk's data is over: the next size line starts. */
static void start_size_line(struct chunk_decoder *d)
{
    d->state = CHUNK_SIZE;
    d->remaining = 0;
}

/* One byte after the data, or of the trailer section. */
static enum chunk_result chunk_framing_byte(struct chunk_decoder *d, char ch)
{
    switch (d->state) {
    case CHUNK_DATA_CR:
        if (ch == '\n') /* tolerate a bare LF */
            start_size_line(d);
        else if (ch == '\r')
            d->state = CHUNK_DATA_LF;
        else
            return chunk_malformed(d, "chunk data is longer than its size");
        break;
    case CHUNK_DATA_LF:
        if (ch != '\n')
            return chunk_malformed(d, "chunk data is not followed by CRLF");
        start_size_line(d);
        break;
    case CHUNK_TRAILER_START:
        d->state = ch == '\r' ? CHUNK_FINAL_LF : ch == '\n' ? CHUNK_DONE : CHUNK_TRAILER;
        break;
    case CHUNK_TRAILER:
        if (ch == '\n')
            d->state = CHUNK_TRAILER_START;
        break;
    default: /* CHUNK_FINAL_LF */
        if (ch != '\n')
            return chunk_malformed(d, "no CRLF after the last chunk");
        d->state = CHUNK_DONE;
        break;
    }
    if (d->state == CHUNK_TRAILER && ++d->skipped > TRAILER_MAX)
        return chunk_malformed(d, "chunked trailer too long");
    return d->state == CHUNK_DONE ? CHUNK_FINISHED : CHUNK_NEED_MORE;
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
    size_t i = 0;
    while (i < len && d->state != CHUNK_DONE) {
        if (d->state == CHUNK_DATA) {
            size_t avail = len - i;
            size_t take = avail < d->remaining ? avail : (size_t)d->remaining;
            if (sink->write(sink->ctx, in + i, take) < 0)
                return CHUNK_SINK_FAILED;
            i += take;
            d->remaining -= take;
            if (d->remaining == 0)
                d->state = CHUNK_DATA_CR;
            continue;
        }
        enum chunk_result r = d->state <= CHUNK_SIZE_LF ? chunk_size_byte(d, in[i])
                                                        : chunk_framing_byte(d, in[i]);
        i++;
        if (r == CHUNK_MALFORMED)
            return r;
    }
    return d->state == CHUNK_DONE ? CHUNK_FINISHED : CHUNK_NEED_MORE;
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
