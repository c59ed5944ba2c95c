/*
 * http_serve.c - a static-file HTTP/1.1 server, one thread, poll(2) over
 * non-blocking sockets (sockstep lesson 08).
 *
 * Serves the files under ROOT to real clients (curl, wget, a browser,
 * lesson 01's http_get): GET and HEAD, keep-alive and pipelining,
 * If-Modified-Since, one Range, directory listings. Hostile clients can
 * neither crash it, stall it nor lead it out of ROOT:
 *
 *   - the request head is parsed from a byte stream that may arrive in any
 *     pieces, with limits on every line and on the whole head;
 *   - the target is percent-decoded once, `..` segments and backslashes are
 *     refused, and the path the kernel resolves (realpath) must lie inside
 *     ROOT, so a symbolic link cannot lead out either;
 *   - every connection has a deadline kept in the loop (header deadline,
 *     idle deadline, send deadline), so slow clients (slowloris) only hold
 *     their own connection, never the thread;
 *   - a file streams through a bounded buffer that is refilled only when
 *     the client has taken the last one (back-pressure): a client that
 *     never reads costs one buffer, not the file.
 *
 * The loop is lesson 06's (solutions/06-poll-server/hello_poll.c). Lesson
 * 07's epoll drops in at fill_poll_set() and serve_forever().
 *
 * Build:  make   (or: cc -std=c17 -Wall -Wextra -Wpedantic -O2 -g \
 *                  -o http_serve http_serve.c)
 * Run:    build/solutions/08-http-server/http_serve [-b ADDR] [-p PORT]
 *                 [-r ROOT] [-t SECONDS]
 *         then, in another terminal: curl -v http://127.0.0.1:9999/
 */
#define _POSIX_C_SOURCE 200809L
/* realpath() is POSIX, but glibc declares it only with the X/Open
 * extensions (XSI) on: */
#define _XOPEN_SOURCE 700

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PROG "http_serve"
#define USAGE "usage: http_serve [-b ADDR] [-p PORT] [-r ROOT] [-t SECONDS]"

/* Shared: the same text in every lesson that has it (make lint checks). */
/* Room for an address as format_address() writes it: "[IPv6%zone]:port". */
#define PEER_MAX 80

enum {
    REQUEST_LINE_LIMIT = 8192,  /* longest request line (without its ending) */
    HEADER_BYTES_LIMIT = 32768, /* all header lines together */
    HEADER_COUNT_LIMIT = 100,   /* header lines in one request */
    /* The whole head, with line endings, fits in this: */
    HEAD_LIMIT = REQUEST_LINE_LIMIT + HEADER_BYTES_LIMIT + 2 * (HEADER_COUNT_LIMIT + 2),
    READ_CHUNK = 16 * 1024,    /* bytes taken from a socket per read() */
    STREAM_CHUNK = 256 * 1024, /* the bounded buffer a file streams through */
    LISTING_MAX = 10000,       /* names shown in one directory listing */
    ACCEPT_BATCH = 256,        /* accept() calls per turn of the loop */
    TICK_MS = 250,             /* longest poll(): bounds the reaction to a signal */
    LINGER_MS = 1000,          /* reading what a client sent, before a close */
    LOG_LINE_MAX = 256,        /* request line in the log, escaped */
    LOG_BUFFER = 64 * 1024,    /* log lines written at once */
    DATE_MAX = 40,             /* "Sun, 06 Nov 1994 08:49:37 GMT" */
};

#define BODY_LIMIT (1024L * 1024L) /* largest request body read and discarded */

static volatile sig_atomic_t stop_requested;

/* ---- errors ------------------------------------------------------------ */

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
/* Like die_errno() without the exit: prints "PROG: MESSAGE: strerror(errno)"
 * and carries on, for a failure that ends one connection, not the server.
 * (A pthread function returns its error: put it in errno first.) */
static void log_errno(const char *fmt, ...)
{
    int saved_errno = errno;
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s\n", strerror(saved_errno));
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

/* ---- command line ------------------------------------------------------ */

struct options {
    const char *host;
    const char *port;
    const char *root;
    long timeout_ms;
};

/* Shared: the same text in every lesson that has it (make lint checks). */
/* A port is a decimal number from 0 to 65535, nothing else: strtoul alone
 * would accept " 80", "+80" and even "-1" (as a huge number). */
static bool is_valid_port(const char *text)
{
    if (*text < '0' || *text > '9') {
        return false;
    }
    char *end;
    errno = 0;
    unsigned long value = strtoul(text, &end, 10);
    return errno == 0 && *end == '\0' && value <= 65535;
}

/* A positive number of seconds (0.5 allowed), at most a day; -1 if not. */
static long parse_timeout_ms(const char *text)
{
    if ((*text < '0' || *text > '9') && *text != '.') {
        return -1;
    }
    char *end;
    errno = 0;
    double seconds = strtod(text, &end);
    if (errno != 0 || *end != '\0' || !(seconds > 0) || seconds > 86400) {
        return -1;
    }
    long ms = (long)(seconds * 1000);
    return ms > 0 ? ms : 1;
}

static struct options parse_options(int argc, char **argv)
{
    struct options opt = {"127.0.0.1", "9999", ".", 10000};
    int c;
    opterr = 0; /* we print our own one-line message */
    while ((c = getopt(argc, argv, ":b:p:r:t:")) != -1) {
        switch (c) {
        case 'b':
            opt.host = optarg;
            break;
        case 'p':
            if (!is_valid_port(optarg)) {
                usage_error("bad port '%s': expected a number from 0 to 65535", optarg);
            }
            opt.port = optarg;
            break;
        case 'r':
            opt.root = optarg;
            break;
        case 't':
            opt.timeout_ms = parse_timeout_ms(optarg);
            if (opt.timeout_ms < 0) {
                usage_error("bad timeout '%s': expected a positive number of seconds",
                            optarg);
            }
            break;
        case ':':
            usage_error("option -%c needs a value", optopt);
            break;
        default:
            usage_error("unknown option -%c", optopt);
        }
    }
    if (optind < argc) {
        usage_error("unexpected argument '%s'", argv[optind]);
    }
    return opt;
}

/* ---- signals and limits ------------------------------------------------ */

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

/* Every connection is a descriptor, and a file being sent one more: raise
 * the soft open-file limit to the hard one, as lesson 07 does. */
static void raise_open_file_limit_quietly(void)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) < 0) {
        log_errno("getrlimit RLIMIT_NOFILE");
        return;
    }
    if (lim.rlim_cur != lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &lim) < 0) {
            log_errno("setrlimit RLIMIT_NOFILE to %llu",
                      (unsigned long long)lim.rlim_max);
        }
    }
}

/* ---- time -------------------------------------------------------------- */

/* Shared: the same text in every lesson that has it (make lint checks). */
/* Milliseconds on a clock that never jumps (unlike the time of day): for
 * timeouts and deadlines. */
static long long now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0) {
        die_errno("clock_gettime");
    }
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The HTTP date format (IMF-fixdate), always in GMT and English. */
static void format_http_date(time_t t, char *out, size_t size)
{
    struct tm tm;
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (gmtime_r(&t, &tm) == NULL) {
        snprintf(out, size, "Thu, 01 Jan 1970 00:00:00 GMT");
        return;
    }
    snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
             tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm): timegm()
 * is not POSIX. */
static long long days_from_civil(long long y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The number written with `n` digits at text, or -1 if one is not a digit. */
static int digits_at(const char *text, int n)
{
    int value = 0;
    for (int i = 0; i < n; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return -1;
        }
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

/* Parses "Sun, 06 Nov 1994 08:49:37 GMT" (IMF-fixdate: every field at a
 * fixed place); false if it is not that form (an unparsable
 * If-Modified-Since is ignored, as RFC 9110 says). */
static bool parse_http_date(const char *text, time_t *out)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (strlen(text) != 29 || text[3] != ',' || text[4] != ' ' || text[7] != ' ' ||
        text[11] != ' ' || text[16] != ' ' || text[19] != ':' || text[22] != ':' ||
        strcmp(text + 25, " GMT") != 0) {
        return false;
    }
    int month = 0;
    while (month < 12 && strncmp(months + 3 * month, text + 8, 3) != 0) {
        month++;
    }
    int day = digits_at(text + 5, 2), year = digits_at(text + 12, 4);
    int hour = digits_at(text + 17, 2), min = digits_at(text + 20, 2);
    int sec = digits_at(text + 23, 2);
    if (month == 12 || day < 1 || day > 31 || year < 0 || hour < 0 || hour > 23 ||
        min < 0 || min > 59 || sec < 0 || sec > 60) {
        return false;
    }
    long long days = days_from_civil(year, month + 1, day);
    *out = (time_t)(days * 86400 + hour * 3600 + min * 60 + sec);
    return true;
}

/* ---- sockets ----------------------------------------------------------- */

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

/* Shared: the same text in every lesson that has it (make lint checks). */
/* Like CS:APP open_listenfd: try each address until one binds. Exits 1 with
 * the last error if none does. */
static int open_nonblocking_listener(const char *host, const char *port)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    struct addrinfo *list;
    int rc = getaddrinfo(host, port, &hints, &list);
    if (rc != 0) {
        fprintf(stderr, PROG ": cannot resolve %s: %s\n", host, gai_strerror(rc));
        exit(1);
    }
    int fd = -1;
    int saved = 0;
    for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        /* Restarting the server must not wait for old connections in
         * TIME_WAIT to expire before the port can be bound again. */
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
            bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0) {
            break;
        }
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(list);
    if (fd < 0) {
        errno = saved;
        die_errno("cannot listen on %s port %s", host, port);
    }
    /* accept() on a non-blocking listener returns EAGAIN instead of
     * waiting when the client that poll() announced has already gone. */
    if (set_nonblocking(fd) < 0) {
        die_errno("fcntl O_NONBLOCK on the listener");
    }
    return fd;
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/* Prints "listening on ADDR:PORT", flushed (stdout may be a pipe: tests
 * read the port from it), with the port the kernel really chose (-p 0). */
static void announce_listener(int fd)
{
    struct sockaddr_storage addr = {0};
    socklen_t len = sizeof addr;
    if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0) {
        die_errno("getsockname");
    }
    char text[PEER_MAX];
    format_address((struct sockaddr *)&addr, len, text, sizeof text);
    printf("listening on %s\n", text);
    if (fflush(stdout) == EOF) {
        die_errno("write to stdout");
    }
}

/* ---- buffers ----------------------------------------------------------- */

/* Bytes waiting between data[start] and data[end]. `data` stays NULL while
 * the buffer is empty, so an idle connection costs no buffer memory. */
struct buffer {
    char *data;
    size_t start;
    size_t end;
    size_t cap;
};

/* Shared: the same text in every lesson that has it (make lint checks). */
static size_t buffer_pending(const struct buffer *b)
{
    return b->end - b->start;
}

/* The first pending byte. NULL while the buffer has no memory: NULL + 0,
 * even with nothing to read there, is undefined behaviour in C. */
static char *buffer_bytes(const struct buffer *b)
{
    return b->data == NULL ? NULL : b->data + b->start;
}

/* Shared: the same text in every lesson that has it (make lint checks). */
static void buffer_release(struct buffer *b)
{
    free(b->data);
    *b = (struct buffer){0};
}

/* Makes room for n more bytes at the end; -1 (errno ENOMEM) if memory ran out. */
static int buffer_reserve(struct buffer *b, size_t n)
{
    if (b->cap - b->end < n && b->start > 0) {
        memmove(b->data, b->data + b->start, buffer_pending(b));
        b->end -= b->start;
        b->start = 0;
    }
    if (b->cap - b->end < n) {
        size_t cap = b->cap > 0 ? b->cap : 256;
        while (cap - b->end < n) {
            cap *= 2;
        }
        char *grown = realloc(b->data, cap);
        if (grown == NULL) {
            return -1;
        }
        b->data = grown;
        b->cap = cap;
    }
    return 0;
}

/* Appends n bytes; returns -1 (errno ENOMEM) if memory ran out. */
static int buffer_put(struct buffer *b, const char *bytes, size_t n)
{
    if (n == 0) {
        return 0; /* (bytes may be NULL then, which memcpy must never get) */
    }
    if (buffer_reserve(b, n) < 0) {
        return -1;
    }
    memcpy(b->data + b->end, bytes, n);
    b->end += n;
    return 0;
}

/* Appends formatted text (never network bytes as the format). */
static int buffer_printf(struct buffer *b, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof text) {
        errno = EOVERFLOW;
        return -1;
    }
    return buffer_put(b, text, (size_t)n);
}

/* Drops the first n pending bytes. */
static void buffer_consume(struct buffer *b, size_t n)
{
    b->start += n;
    if (b->start == b->end) {
        b->start = b->end = 0;
    }
}

/* ---- the request head: scanning a byte stream -------------------------- */

/* How far the scan of a request head has come. The head may arrive in any
 * pieces: the scan goes on where it stopped, and reports a head too long
 * as soon as it is, without waiting for the rest. */
struct head_scan {
    size_t scanned;      /* bytes already looked at */
    size_t line_start;   /* where the current line starts */
    size_t lines;        /* complete lines (the request line counts) */
    size_t header_bytes; /* header lines so far, without their endings */
};

enum scan_result {
    SCAN_MORE = 0, /* the head is not complete yet */
    SCAN_DONE = 1, /* complete: its length is in `scanned` */
    SCAN_LINE_TOO_LONG = 414,
    SCAN_HEADERS_TOO_LARGE = 431,
};

/* Length of a line without its "\n" or "\r\n". */
static size_t line_length(const char *line, size_t with_newline)
{
    size_t len = with_newline - 1;
    return len > 0 && line[len - 1] == '\r' ? len - 1 : len;
}

/* Empty lines before a request line are skipped (RFC 9112 2.2): a client
 * may send one after a request body. Returns how many bytes they take. */
static size_t leading_empty_lines(const char *data, size_t n)
{
    size_t i = 0;
    while (i < n &&
           (data[i] == '\n' || (data[i] == '\r' && i + 1 < n && data[i + 1] == '\n'))) {
        i += data[i] == '\n' ? 1 : 2;
    }
    return i;
}

/* Is the unfinished line already over its limit? (One byte more is allowed
 * for a '\r' that may end it.) */
static enum scan_result check_partial_line(const struct head_scan *s, size_t partial)
{
    if (s->lines == 0) {
        return partial > REQUEST_LINE_LIMIT + 1 ? SCAN_LINE_TOO_LONG : SCAN_MORE;
    }
    return s->header_bytes + partial > HEADER_BYTES_LIMIT + 1 ? SCAN_HEADERS_TOO_LARGE
                                                              : SCAN_MORE;
}

/* One complete line of the head, without its ending. */
static enum scan_result count_line(struct head_scan *s, size_t len)
{
    if (s->lines == 0) {
        s->lines = 1;
        return len > REQUEST_LINE_LIMIT ? SCAN_LINE_TOO_LONG : SCAN_MORE;
    }
    if (len == 0) {
        return SCAN_DONE;
    }
    s->lines++;
    s->header_bytes += len;
    if (s->header_bytes > HEADER_BYTES_LIMIT || s->lines - 1 > HEADER_COUNT_LIMIT) {
        return SCAN_HEADERS_TOO_LARGE;
    }
    return SCAN_MORE;
}

/* The framing: looks at the bytes of data[0..n) not seen yet (data starts
 * at the request line: leading empty lines already skipped). */
static enum scan_result scan_head(struct head_scan *s, const char *data, size_t n)
{
    while (s->scanned < n) {
        const char *newline = memchr(data + s->scanned, '\n', n - s->scanned);
        if (newline == NULL) {
            s->scanned = n;
            return check_partial_line(s, n - s->line_start);
        }
        size_t end = (size_t)(newline - data) + 1;
        size_t len = line_length(data + s->line_start, end - s->line_start);
        s->scanned = end;
        s->line_start = end;
        enum scan_result r = count_line(s, len);
        if (r != SCAN_MORE) {
            return r;
        }
    }
    return SCAN_MORE;
}

/* ---- the request head: parsing a complete one -------------------------- */

/* A text inside the head (not NUL-terminated). */
struct span {
    const char *p;
    size_t n;
};

struct request {
    struct span method;
    struct span target;
    int minor; /* HTTP/1.<minor> */
    bool has_host;
    bool conn_close;      /* "Connection: close" */
    bool conn_keep_alive; /* "Connection: keep-alive" */
    bool has_length;
    unsigned long long content_length;
    bool has_transfer_encoding;
    struct span if_modified_since;
    struct span range;
};

static bool span_is(struct span s, const char *text)
{
    return s.n == strlen(text) && memcmp(s.p, text, s.n) == 0;
}

static bool span_is_nocase(struct span s, const char *text)
{
    return s.n == strlen(text) && strncasecmp(s.p, text, s.n) == 0;
}

/* Copies a span into a NUL-terminated buffer (cut to fit). */
static void span_copy(struct span s, char *out, size_t size)
{
    size_t n = s.n < size - 1 ? s.n : size - 1;
    memcpy(out, s.p, n);
    out[n] = '\0';
}

static struct span trim_spaces(struct span s)
{
    while (s.n > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.n--;
    }
    while (s.n > 0 && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t')) {
        s.n--;
    }
    return s;
}

/* A token character (RFC 9110 5.6.2): what methods and header names are. */
static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static bool is_token(struct span s)
{
    for (size_t i = 0; i < s.n; i++) {
        if (!is_tchar((unsigned char)s.p[i])) {
            return false;
        }
    }
    return s.n > 0;
}

/* The target has no spaces and no control bytes. */
static bool is_target(struct span s)
{
    for (size_t i = 0; i < s.n; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        if (ch <= ' ' || ch == 0x7f) {
            return false;
        }
    }
    return s.n > 0;
}

/* "METHOD SP TARGET SP HTTP/x.y": 0, or the status to answer with. */
static int parse_request_line(struct span line, struct request *r)
{
    const char *sp1 = memchr(line.p, ' ', line.n);
    if (sp1 == NULL) {
        return 400;
    }
    r->method = (struct span){line.p, (size_t)(sp1 - line.p)};
    struct span rest = {sp1 + 1, line.n - r->method.n - 1};
    const char *sp2 = memchr(rest.p, ' ', rest.n);
    if (sp2 == NULL) {
        return 400;
    }
    r->target = (struct span){rest.p, (size_t)(sp2 - rest.p)};
    struct span version = {sp2 + 1, rest.n - r->target.n - 1};
    if (!is_token(r->method) || !is_target(r->target) || version.n != 8 ||
        memcmp(version.p, "HTTP/", 5) != 0 || version.p[5] < '0' || version.p[5] > '9' ||
        version.p[6] != '.' || version.p[7] < '0' || version.p[7] > '9') {
        return 400;
    }
    if (version.p[5] != '1') {
        return 505;
    }
    r->minor = version.p[7] - '0';
    return r->minor <= 1 ? 0 : 505;
}

/* Content-Length: digits only, and two of them must agree. */
static int parse_body_length(struct span value, struct request *r)
{
    unsigned long long n = 0;
    if (value.n == 0) {
        return 400;
    }
    for (size_t i = 0; i < value.n; i++) {
        if (value.p[i] < '0' || value.p[i] > '9' || n > (ULLONG_MAX - 9) / 10) {
            return 400;
        }
        n = n * 10 + (unsigned long long)(value.p[i] - '0');
    }
    if (r->has_length && r->content_length != n) {
        return 400;
    }
    r->has_length = true;
    r->content_length = n;
    return 0;
}

/* "Connection: close" or "keep-alive", possibly in a list. */
static void parse_connection(struct span value, struct request *r)
{
    while (value.n > 0) {
        const char *comma = memchr(value.p, ',', value.n);
        size_t n = comma != NULL ? (size_t)(comma - value.p) : value.n;
        struct span option = trim_spaces((struct span){value.p, n});
        r->conn_close |= span_is_nocase(option, "close");
        r->conn_keep_alive |= span_is_nocase(option, "keep-alive");
        value.p += n < value.n ? n + 1 : n;
        value.n -= n < value.n ? n + 1 : n;
    }
}

/* "Name: value": names are case-insensitive; no space before the colon. */
static int parse_request_header(struct span line, struct request *r)
{
    const char *colon = memchr(line.p, ':', line.n);
    if (colon == NULL) {
        return 400;
    }
    struct span name = {line.p, (size_t)(colon - line.p)};
    struct span value = trim_spaces((struct span){colon + 1, line.n - name.n - 1});
    if (!is_token(name)) {
        return 400; /* empty, or space before the colon (RFC 9112 5.1) */
    }
    if (span_is_nocase(name, "Host")) {
        r->has_host = true;
    } else if (span_is_nocase(name, "Connection")) {
        parse_connection(value, r);
    } else if (span_is_nocase(name, "Content-Length")) {
        return parse_body_length(value, r);
    } else if (span_is_nocase(name, "Transfer-Encoding")) {
        r->has_transfer_encoding = true;
    } else if (span_is_nocase(name, "If-Modified-Since")) {
        r->if_modified_since = value;
    } else if (span_is_nocase(name, "Range")) {
        r->range = value;
    }
    return 0;
}

/* Parses a complete head (as scan_head() found it): 0 if it is a request
 * to answer, else the error status. The spans point into `head`. */
static int parse_head(const char *head, size_t n, struct request *r)
{
    *r = (struct request){.minor = 1};
    bool first = true;
    while (n > 0) {
        const char *newline = memchr(head, '\n', n);
        if (newline == NULL) {
            return 400;
        }
        size_t with_newline = (size_t)(newline - head) + 1;
        struct span line = {head, line_length(head, with_newline)};
        head += with_newline;
        n -= with_newline;
        if (line.n == 0) {
            break;
        }
        int status = first ? parse_request_line(line, r) : parse_request_header(line, r);
        if (status != 0) {
            return status;
        }
        first = false;
    }
    if (r->minor == 1 && !r->has_host) {
        return 400; /* RFC 9112 3.2: a 1.1 request must say which host */
    }
    if (r->has_transfer_encoding) {
        return 501;
    }
    if (r->has_length && r->content_length > (unsigned long long)BODY_LIMIT) {
        return 413;
    }
    return 0;
}

/* ---- the target: decoding and staying inside ROOT ---------------------- */

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

/* The path part of a target: "/a/b" of "/a/b?q" or of "http://host/a/b?q". */
static struct span target_path(struct span target)
{
    if (target.n >= 7 && strncasecmp(target.p, "http://", 7) == 0) {
        const char *slash = memchr(target.p + 7, '/', target.n - 7);
        if (slash == NULL) {
            return (struct span){"/", 1};
        }
        target.n -= (size_t)(slash - target.p);
        target.p = slash;
    }
    const char *query = memchr(target.p, '?', target.n);
    if (query != NULL) {
        target.n = (size_t)(query - target.p);
    }
    return target;
}

/* Percent-decodes once into out (NUL-terminated). 0, or 400 for an invalid
 * escape, a decoded NUL byte, or a path that does not start with '/'. */
static int percent_decode(struct span path, char *out, size_t size)
{
    size_t len = 0;
    if (path.n == 0 || path.p[0] != '/') {
        return 400;
    }
    for (size_t i = 0; i < path.n; i++) {
        char ch = path.p[i];
        if (ch == '%') {
            if (i + 2 >= path.n) {
                return 400; /* "%4" at the end */
            }
            int h = hex_value(path.p[i + 1]);
            int l = hex_value(path.p[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                return 400;
            }
            ch = (char)(h * 16 + l);
            i += 2;
        }
        if (len + 1 >= size) {
            return 400;
        }
        out[len++] = ch;
    }
    out[len] = '\0';
    return 0;
}

/* After decoding: no ".." segment (even one that would stay inside ROOT)
 * and no backslash (a separator on other systems). */
static bool is_safe_path(const char *path)
{
    if (strchr(path, '\\') != NULL) {
        return false;
    }
    for (const char *seg = path; seg != NULL; seg = strchr(seg + 1, '/')) {
        if (seg[0] == '/' && seg[1] == '.' && seg[2] == '.' &&
            (seg[3] == '/' || seg[3] == '\0')) {
            return false;
        }
    }
    return true;
}

/* Is `resolved` ROOT itself or a path under it? The '/' matters: ROOT
 * /srv/www must not accept /srv/www2. */
static bool is_inside(const char *root, const char *resolved)
{
    size_t n = strlen(root);
    if (strncmp(resolved, root, n) != 0) {
        return false;
    }
    return resolved[n] == '\0' || resolved[n] == '/' || (n == 1 && root[0] == '/');
}

/* Resolves ROOT + path with realpath(), which follows every symbolic link,
 * and checks that the result is inside ROOT. 0 with the resolved path in
 * out, else 403 (outside) or 404. */
static int resolve_inside_root(const char *root, const char *path, char *out)
{
    char joined[PATH_MAX];
    if ((size_t)snprintf(joined, sizeof joined, "%s%s", root, path) >= sizeof joined) {
        return 404;
    }
    if (realpath(joined, out) == NULL) {
        return errno == EACCES ? 403 : 404;
    }
    return is_inside(root, out) ? 0 : 403;
}

/* ---- responses --------------------------------------------------------- */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 416:
        return "Range Not Satisfiable";
    case 431:
        return "Request Header Fields Too Large";
    case 501:
        return "Not Implemented";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Internal Server Error";
    }
}

/* After these the connection is closed: the stream may be out of step. */
static bool status_closes(int status)
{
    return status == 400 || status == 408 || status == 413 || status == 414 ||
           status == 431 || status == 501 || status == 505 || status == 500;
}

static const char *content_type(const char *path)
{
    static const char *const types[][2] = {
        {".html", "text/html; charset=utf-8"},
        {".htm", "text/html; charset=utf-8"},
        {".txt", "text/plain; charset=utf-8"},
        {".css", "text/css"},
        {".js", "text/javascript"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".ico", "image/x-icon"},
        {".pdf", "application/pdf"},
        {".wasm", "application/wasm"},
    };
    const char *dot = strrchr(path, '.');
    if (dot != NULL && strchr(dot, '/') == NULL) {
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
            if (strcasecmp(dot, types[i][0]) == 0) {
                return types[i][1];
            }
        }
    }
    return "application/octet-stream";
}

/* ---- one connection ---------------------------------------------------- */

enum conn_state {
    CONN_READING, /* waiting for (the rest of) a request head */
    CONN_SENDING, /* a response is going out */
    CONN_LINGER,  /* response sent, writing shut: reading what is left */
    CONN_CLOSED,  /* closed; removed from the table after this turn */
};

struct conn {
    int fd;
    enum conn_state state;
    struct buffer in;     /* bytes of requests not answered yet */
    struct buffer out;    /* the response head (and a small body) */
    struct buffer stream; /* the part of a file read, not yet sent */
    struct head_scan scan;
    bool keep_alive;                    /* read the next request after this response */
    bool http10;                        /* the request said HTTP/1.0 */
    unsigned long long body_to_discard; /* request body bytes still coming */
    int file_fd;                        /* the file being sent, or -1 */
    off_t file_pos;                     /* next byte of it to read */
    off_t file_left;                    /* bytes of it still to read */
    size_t head_len;                    /* bytes of `out` that are the head (not body) */
    unsigned long long sent;            /* bytes of this response sent */
    int status;
    char request_line[LOG_LINE_MAX];
    long long deadline; /* now_ms() past which the connection ends */
    bool head_started;  /* a byte of the next request arrived */
    char peer[PEER_MAX];
};

/* Everything a request needs that is not the connection's. */
struct site {
    const char *root; /* realpath() of ROOT */
    long timeout_ms;
};

/* The request line as the log shows it: printable ASCII, other bytes (and
 * quotes, backslashes) as \xNN, cut to fit. */
static void escape_for_log(struct span s, char *out, size_t size)
{
    size_t len = 0;
    size_t i = 0;
    /* Room, at each byte, for its escape (4) and for "..." and the NUL (4). */
    for (; i < s.n && len + 8 < size; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
            out[len++] = (char)ch;
        } else {
            len += (size_t)snprintf(out + len, size - len, "\\x%02x", ch);
        }
    }
    if (i < s.n) {
        memcpy(out + len, "...", 4);
        len += 3;
    }
    out[len] = '\0';
}

/* Keeps the request line (the first line of p[0..n)) for the log. The
 * bytes may not end in a NUL: memchr, not strcspn. */
static void note_request_line(struct conn *c, const char *p, size_t n)
{
    const char *newline = memchr(p, '\n', n);
    size_t len = newline != NULL ? (size_t)(newline - p) : n;
    if (len > 0 && p[len - 1] == '\r') {
        len--;
    }
    escape_for_log((struct span){p, len}, c->request_line, sizeof c->request_line);
}

static void log_request(const struct conn *c)
{
    unsigned long long body = c->sent > c->head_len ? c->sent - c->head_len : 0;
    fprintf(stderr, "%s \"%s\" %d %llu\n", c->peer, c->request_line, c->status, body);
}

/* The status line and the headers every response has. */
static int start_head(struct conn *c, int status)
{
    char date[DATE_MAX];
    format_http_date(time(NULL), date, sizeof date);
    c->status = status;
    return buffer_printf(&c->out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status,
                         reason_phrase(status), date);
}

/* The last headers: how the connection goes on, and the blank line. (An
 * HTTP/1.0 client closes unless it is told the connection stays open.) */
static int end_head(struct conn *c)
{
    const char *connection = !c->keep_alive ? "Connection: close\r\n"
                             : c->http10    ? "Connection: keep-alive\r\n"
                                            : "";
    if (buffer_printf(&c->out, "%s\r\n", connection) < 0) {
        return -1;
    }
    c->head_len = buffer_pending(&c->out);
    return 0;
}

/* A small HTML body naming the status (400, 404, ...); `extra` is one
 * more header line with its "\r\n", or "". */
static int queue_error_with(struct conn *c, int status, const char *extra, bool head_only)
{
    char body[256];
    int n = snprintf(body, sizeof body,
                     "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>"
                     "<body><h1>%d %s</h1></body></html>\n",
                     status, reason_phrase(status), status, reason_phrase(status));
    if (status_closes(status)) {
        c->keep_alive = false;
    }
    if (start_head(c, status) < 0 ||
        buffer_printf(&c->out,
                      "Content-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n",
                      n) < 0 ||
        buffer_put(&c->out, extra, strlen(extra)) < 0 || end_head(c) < 0) {
        return -1;
    }
    return head_only ? 0 : buffer_put(&c->out, body, (size_t)n);
}

static int queue_error(struct conn *c, int status, bool head_only)
{
    return queue_error_with(c, status, status == 405 ? "Allow: GET, HEAD\r\n" : "",
                            head_only);
}

/* 301 to the same path with a '/' added (the path as the client wrote it,
 * still percent-encoded). */
static int queue_redirect(struct conn *c, struct span path, bool head_only)
{
    static const char body[] =
        "<!DOCTYPE html>\n<html><body><h1>301 Moved Permanently</h1>"
        "</body></html>\n";
    if (start_head(c, 301) < 0 || buffer_put(&c->out, "Location: ", 10) < 0 ||
        buffer_put(&c->out, path.p, path.n) < 0 ||
        buffer_printf(&c->out,
                      "/\r\nContent-Type: text/html; charset=utf-8\r\n"
                      "Content-Length: %zu\r\n",
                      sizeof body - 1) < 0 ||
        end_head(c) < 0) {
        return -1;
    }
    return head_only ? 0 : buffer_put(&c->out, body, sizeof body - 1);
}

/* ---- directory listings ------------------------------------------------ */

/* A name inside HTML text or an attribute: & < > " ' escaped. */
static int append_html_escaped(struct buffer *b, const char *name)
{
    for (const char *p = name; *p != '\0'; p++) {
        const char *entity = NULL;
        switch (*p) {
        case '&':
            entity = "&amp;";
            break;
        case '<':
            entity = "&lt;";
            break;
        case '>':
            entity = "&gt;";
            break;
        case '"':
            entity = "&quot;";
            break;
        case '\'':
            entity = "&#39;";
            break;
        default:
            break;
        }
        int rc =
            entity != NULL ? buffer_put(b, entity, strlen(entity)) : buffer_put(b, p, 1);
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

/* A name inside a link: every byte but the unreserved ones percent-encoded,
 * so '#', '?', '%', spaces and quotes stay part of the name. */
static int append_percent_encoded(struct buffer *b, const char *name)
{
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL;
        int rc =
            plain ? buffer_put(b, (const char *)p, 1) : buffer_printf(b, "%%%02X", *p);
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(names[i]);
    }
    free(names);
}

/* The names in a directory, sorted (at most LISTING_MAX); -1 on error. */
static int read_names(const char *dir_path, char ***names, size_t *count)
{
    DIR *dir = opendir(dir_path);
    if (dir == NULL) {
        return -1;
    }
    *names = NULL;
    *count = 0;
    while (*count < LISTING_MAX) {
        /* readdir() is safe here: one thread (readdir_r is deprecated). */
        // cppcheck-suppress readdirCalled
        const struct dirent *entry = readdir(dir);
        if (entry == NULL) {
            break;
        }
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) {
            continue;
        }
        char **grown = realloc(*names, (*count + 1) * sizeof *grown);
        if (grown != NULL) {
            *names = grown;
        }
        char *copy = grown != NULL ? strdup(entry->d_name) : NULL;
        if (copy == NULL) {
            free_names(*names, *count);
            closedir(dir);
            return -1;
        }
        (*names)[(*count)++] = copy;
    }
    closedir(dir);
    if (*count > 0) {
        qsort(*names, *count, sizeof **names, compare_names);
    }
    return 0;
}

static bool is_directory_at(const char *dir_path, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    return (size_t)snprintf(path, sizeof path, "%s/%s", dir_path, name) < sizeof path &&
           stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* One <li> per name: the link percent-encoded, the text HTML-escaped. */
static int append_listing_entries(struct buffer *body, const char *dir_path, char **names,
                                  size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const char *slash = is_directory_at(dir_path, names[i]) ? "/" : "";
        if (buffer_printf(body, "<li><a href=\"") < 0 ||
            append_percent_encoded(body, names[i]) < 0 ||
            buffer_printf(body, "%s\">", slash) < 0 ||
            append_html_escaped(body, names[i]) < 0 ||
            buffer_printf(body, "%s</a></li>\n", slash) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The HTML listing of a directory, into body; -1 on error. */
static int build_listing(struct buffer *body, const char *dir_path, const char *url_path)
{
    char **names;
    size_t count;
    if (read_names(dir_path, &names, &count) < 0) {
        return -1;
    }
    int rc = 0;
    if (buffer_printf(body, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                            "<title>Index of ") < 0 ||
        append_html_escaped(body, url_path) < 0 ||
        buffer_printf(body, "</title></head>\n<body><h1>Index of ") < 0 ||
        append_html_escaped(body, url_path) < 0 ||
        buffer_printf(body, "</h1>\n<ul>\n") < 0 ||
        append_listing_entries(body, dir_path, names, count) < 0 ||
        buffer_printf(body, "</ul></body></html>\n") < 0) {
        rc = -1;
    }
    free_names(names, count);
    return rc;
}

static int queue_listing(struct conn *c, const char *dir_path, const char *url_path,
                         bool head_only)
{
    struct buffer body = {0};
    if (build_listing(&body, dir_path, url_path) < 0) {
        buffer_release(&body);
        return queue_error(c, errno == EACCES ? 403 : 500, head_only);
    }
    int rc = 0;
    if (start_head(c, 200) < 0 ||
        buffer_printf(&c->out,
                      "Content-Type: text/html; charset=utf-8\r\n"
                      "Content-Length: %zu\r\n",
                      buffer_pending(&body)) < 0 ||
        end_head(c) < 0 ||
        (!head_only &&
         buffer_put(&c->out, buffer_bytes(&body), buffer_pending(&body)) < 0)) {
        rc = -1;
    }
    buffer_release(&body);
    return rc;
}

/* ---- files: conditions and ranges -------------------------------------- */

/* If-Modified-Since at or after the file's time: not modified. */
static bool not_modified(const struct request *r, const struct stat *st)
{
    char text[64];
    time_t since;
    if (r->if_modified_since.n == 0 || r->if_modified_since.n >= sizeof text) {
        return false;
    }
    span_copy(r->if_modified_since, text, sizeof text);
    return parse_http_date(text, &since) && st->st_mtime <= since;
}

/* A decimal number in [p, end); false if there is none or it overflows. */
static bool parse_offset(const char *p, const char *end, long long *out)
{
    long long n = 0;
    if (p == end) {
        return false;
    }
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || n > (LLONG_MAX - 9) / 10) {
            return false;
        }
        n = n * 10 + (*p - '0');
    }
    *out = n;
    return true;
}

enum range_result { RANGE_NONE, RANGE_OK, RANGE_UNSATISFIABLE };

/* "bytes=A-B", "bytes=A-" or "bytes=-N" against a file of `size` bytes:
 * the first and last byte in *first, *last. Several ranges, or anything
 * else we do not understand, mean the whole file (RANGE_NONE). */
static enum range_result parse_range(struct span range, long long size, long long *first,
                                     long long *last)
{
    if (range.n < 7 || strncasecmp(range.p, "bytes=", 6) != 0 ||
        memchr(range.p, ',', range.n) != NULL) {
        return RANGE_NONE;
    }
    const char *p = range.p + 6, *end = range.p + range.n;
    const char *dash = memchr(p, '-', (size_t)(end - p));
    long long a, b;
    if (dash == NULL) {
        return RANGE_NONE;
    }
    if (dash == p) { /* the last N bytes */
        if (!parse_offset(dash + 1, end, &b)) {
            return RANGE_NONE;
        }
        if (b == 0 || size == 0) {
            return RANGE_UNSATISFIABLE;
        }
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return RANGE_OK;
    }
    if (!parse_offset(p, dash, &a)) {
        return RANGE_NONE;
    }
    if (dash + 1 == end) {
        b = size - 1;
    } else if (!parse_offset(dash + 1, end, &b) || b < a) {
        return RANGE_NONE;
    }
    if (a >= size) {
        return RANGE_UNSATISFIABLE;
    }
    *first = a;
    *last = b < size ? b : size - 1;
    return RANGE_OK;
}

/* The headers of a file's response, and the part of it to send. */
static int queue_file(struct conn *c, const struct request *r, int fd,
                      const struct stat *st, const char *path, bool head_only)
{
    char modified[DATE_MAX];
    format_http_date(st->st_mtime, modified, sizeof modified);
    if (not_modified(r, st)) {
        close(fd);
        return start_head(c, 304) < 0 ||
                       buffer_printf(&c->out, "Last-Modified: %s\r\n", modified) < 0 ||
                       end_head(c) < 0
                   ? -1
                   : 0;
    }
    long long size = (long long)st->st_size, first = 0, last = size - 1;
    enum range_result range = parse_range(r->range, size, &first, &last);
    if (range == RANGE_UNSATISFIABLE) {
        close(fd);
        char content_range[64];
        snprintf(content_range, sizeof content_range, "Content-Range: bytes */%lld\r\n",
                 size);
        return queue_error_with(c, 416, content_range, head_only);
    }
    long long length = last - first + 1;
    if (start_head(c, range == RANGE_OK ? 206 : 200) < 0 ||
        buffer_printf(&c->out,
                      "Content-Type: %s\r\nContent-Length: %lld\r\n"
                      "Last-Modified: %s\r\nAccept-Ranges: bytes\r\n",
                      content_type(path), length, modified) < 0 ||
        (range == RANGE_OK &&
         buffer_printf(&c->out, "Content-Range: bytes %lld-%lld/%lld\r\n", first, last,
                       size) < 0) ||
        end_head(c) < 0) {
        close(fd);
        return -1;
    }
    if (head_only || length == 0) {
        close(fd);
        return 0;
    }
    c->file_fd = fd;
    c->file_pos = (off_t)first;
    c->file_left = (off_t)length;
    return 0;
}

/* Opens a resolved path that is a regular file; on failure -1 with its
 * status, or with status 0 (and st filled) if it is a directory. One open
 * and one fstat: no separate stat() of the name.
 * O_NONBLOCK: opening a FIFO must not wait for a writer. */
static int open_regular_file(const char *path, struct stat *st, int *status)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *status = errno == EACCES ? 403 : 404;
        return -1;
    }
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        *status = S_ISDIR(st->st_mode) ? 0 : 403;
        close(fd);
        return -1;
    }
    return fd;
}

/* A directory with its '/': its index.html if there is one (and it too is
 * inside ROOT), else a listing. */
static int answer_directory(struct conn *c, const struct request *r,
                            const struct site *site, const char *dir_path,
                            const char *url_path, bool head_only)
{
    char index_path[PATH_MAX], resolved[PATH_MAX];
    struct stat st = {0};
    int status;
    if ((size_t)snprintf(index_path, sizeof index_path, "%s/index.html", dir_path) <
            sizeof index_path &&
        realpath(index_path, resolved) != NULL && is_inside(site->root, resolved)) {
        int fd = open_regular_file(resolved, &st, &status);
        if (fd >= 0) {
            return queue_file(c, r, fd, &st, resolved, head_only);
        }
    }
    return queue_listing(c, dir_path, url_path, head_only);
}

/* GET or HEAD of a target: decode, check, resolve, answer. */
static int answer_target(struct conn *c, const struct request *r, const struct site *site,
                         bool head_only)
{
    char decoded[REQUEST_LINE_LIMIT + 1], resolved[PATH_MAX];
    struct span path = target_path(r->target);
    int status = percent_decode(path, decoded, sizeof decoded);
    if (status == 0 && !is_safe_path(decoded)) {
        status = 400;
    }
    if (status == 0) {
        status = resolve_inside_root(site->root, decoded, resolved);
    }
    if (status != 0) {
        return queue_error(c, status, head_only);
    }
    struct stat st = {0};
    int fd = open_regular_file(resolved, &st, &status);
    if (fd >= 0) {
        return queue_file(c, r, fd, &st, resolved, head_only);
    }
    if (status != 0) {
        return queue_error(c, status, head_only);
    }
    if (decoded[strlen(decoded) - 1] != '/') { /* a directory */
        return queue_redirect(c, path, head_only);
    }
    return answer_directory(c, r, site, resolved, decoded, head_only);
}

/* A complete head: parse it and queue the whole response. */
static int answer_request(struct conn *c, const char *head, size_t n,
                          const struct site *site)
{
    struct request r;
    int status = parse_head(head, n, &r);
    note_request_line(c, head, n);
    c->http10 = r.minor == 0;
    c->keep_alive = r.minor == 1 ? !r.conn_close : r.conn_keep_alive && !r.conn_close;
    c->body_to_discard = r.has_length ? r.content_length : 0;
    bool head_only = span_is(r.method, "HEAD");
    if (status != 0) {
        return queue_error(c, status, head_only);
    }
    if (!span_is(r.method, "GET") && !head_only) {
        return queue_error(c, 405, false);
    }
    return answer_target(c, &r, site, head_only);
}

/* ---- one connection: reading and sending ------------------------------- */

static void close_connection(struct conn *c)
{
    if (c->file_fd >= 0) {
        close(c->file_fd);
        c->file_fd = -1;
    }
    close(c->fd);
    c->fd = -1;
    c->state = CONN_CLOSED;
    buffer_release(&c->in);
    buffer_release(&c->out);
    buffer_release(&c->stream);
}

/* Closing a socket with unread input makes the kernel send a reset, which
 * can destroy the response before the client reads it. So: shut down our
 * side (the client sees the end), read what it still sends for a moment,
 * then close. */
static void start_lingering_close(struct conn *c)
{
    buffer_release(&c->in);
    if (shutdown(c->fd, SHUT_WR) < 0) {
        close_connection(c);
        return;
    }
    c->state = CONN_LINGER;
    c->deadline = now_ms() + LINGER_MS;
}

/* Discards request body bytes that are already in the input buffer. */
static void discard_body(struct conn *c)
{
    size_t n = buffer_pending(&c->in);
    if ((unsigned long long)n > c->body_to_discard) {
        n = (size_t)c->body_to_discard;
    }
    buffer_consume(&c->in, n);
    c->body_to_discard -= n;
}

static void wait_for_next_request(struct conn *c, const struct site *site)
{
    c->state = CONN_READING;
    c->scan = (struct head_scan){0};
    c->head_started = false;
    c->deadline = now_ms() + site->timeout_ms; /* the idle deadline */
}

/* Answers the complete request heads in the input buffer, one at a time:
 * pipelined requests are answered in order, each after the one before it
 * has been sent. Returns -1 if memory ran out. */
static int process_input(struct conn *c, const struct site *site)
{
    discard_body(c);
    if (c->state != CONN_READING || c->body_to_discard > 0) {
        return 0;
    }
    size_t skip = leading_empty_lines(buffer_bytes(&c->in), buffer_pending(&c->in));
    if (c->scan.lines == 0 && c->scan.scanned == 0) {
        buffer_consume(&c->in, skip);
    }
    if (buffer_pending(&c->in) == 0) {
        return 0;
    }
    if (!c->head_started) {
        /* The header deadline: the whole head within -t of its first byte. */
        c->head_started = true;
        c->deadline = now_ms() + site->timeout_ms;
    }
    const char *head = buffer_bytes(&c->in);
    enum scan_result r = scan_head(&c->scan, head, buffer_pending(&c->in));
    if (r == SCAN_MORE) {
        return 0;
    }
    c->state = CONN_SENDING;
    c->sent = 0;
    c->deadline = now_ms() + site->timeout_ms; /* the send deadline */
    if (r != SCAN_DONE) {
        note_request_line(c, head, buffer_pending(&c->in));
        c->keep_alive = false;
        return queue_error(c, (int)r, false);
    }
    int rc = answer_request(c, head, c->scan.scanned, site);
    buffer_consume(&c->in, c->scan.scanned);
    return rc;
}

/* Refills the stream buffer from the file, when it is empty: the file is
 * read only as fast as the client takes it (back-pressure). -1 if the file
 * could not be read or ended early (it shrank). */
static int refill_stream(struct conn *c)
{
    if (c->file_left == 0 || buffer_pending(&c->stream) > 0) {
        return 0;
    }
    size_t want = c->file_left < STREAM_CHUNK ? (size_t)c->file_left : STREAM_CHUNK;
    if (c->stream.cap < want) {
        buffer_release(&c->stream);
        c->stream.data = malloc(want);
        if (c->stream.data == NULL) {
            return -1;
        }
        c->stream.cap = want;
    }
    c->stream.start = c->stream.end = 0;
    ssize_t n;
    do {
        n = pread(c->file_fd, c->stream.data, want, c->file_pos);
    } while (n < 0 && errno == EINTR && !stop_requested);
    if (n <= 0) {
        if (n == 0) {
            errno = EIO; /* the file is shorter than its Content-Length said */
        }
        return -1;
    }
    c->stream.end = (size_t)n;
    c->file_pos += n;
    c->file_left -= n;
    return 0;
}

/* Sends what the kernel takes now: the head and the part of the file read,
 * in one writev(). 1 once the whole response is out, 0 for "later", -1 if
 * the connection is broken. */
static int flush_response(struct conn *c)
{
    for (;;) {
        if (refill_stream(c) < 0) {
            log_errno("%s: read %s", c->peer, c->request_line);
            return -1;
        }
        struct iovec iov[2] = {
            {buffer_bytes(&c->out), buffer_pending(&c->out)},
            {buffer_bytes(&c->stream), buffer_pending(&c->stream)},
        };
        if (iov[0].iov_len + iov[1].iov_len == 0) {
            return 1;
        }
        ssize_t n = writev(c->fd, iov, 2);
        if (n < 0) {
            if (errno == EINTR && !stop_requested) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        }
        size_t from_out = (size_t)n < iov[0].iov_len ? (size_t)n : iov[0].iov_len;
        buffer_consume(&c->out, from_out);
        buffer_consume(&c->stream, (size_t)n - from_out);
        c->sent += (unsigned long long)n;
    }
}

/* The response is out: log it, then the next request or the close. */
static void finish_response(struct conn *c, const struct site *site)
{
    log_request(c);
    if (c->file_fd >= 0) {
        close(c->file_fd);
        c->file_fd = -1;
    }
    buffer_release(&c->out);
    buffer_release(&c->stream);
    if (!c->keep_alive) {
        start_lingering_close(c);
        return;
    }
    wait_for_next_request(c, site);
}

/* Sends, and while responses complete, answers the next pipelined one. */
static void send_responses(struct conn *c, const struct site *site)
{
    while (c->state == CONN_SENDING) {
        long long before = (long long)c->sent;
        int rc = flush_response(c);
        if (rc < 0) {
            log_request(c);
            close_connection(c);
            return;
        }
        if ((long long)c->sent > before) {
            c->deadline = now_ms() + site->timeout_ms; /* progress: a new send deadline */
        }
        if (rc == 0) {
            return;
        }
        finish_response(c, site);
        if (c->state == CONN_READING && process_input(c, site) < 0) {
            log_errno("%s: response", c->peer);
            close_connection(c);
            return;
        }
    }
}

/* Reads what the client sent. The input buffer never holds more than one
 * head's worth: while a response is going out, or a head is complete, it
 * is not read from (poll stops asking), so pipelining cannot grow it. */
static void read_from_client(struct conn *c, const struct site *site)
{
    char chunk[READ_CHUNK];
    ssize_t n = read(c->fd, chunk, sizeof chunk);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            close_connection(c); /* reset by the peer, for instance */
        }
        return;
    }
    if (c->state == CONN_LINGER) {
        if (n == 0) {
            close_connection(c);
        }
        return; /* what a client sends after an error is dropped */
    }
    if (n == 0) {
        close_connection(c); /* end of stream: nobody to answer */
        return;
    }
    if (c->state == CONN_READING && !c->head_started && c->body_to_discard == 0) {
        c->deadline = now_ms() + site->timeout_ms; /* body bytes: still idle-timed */
    }
    if (buffer_put(&c->in, chunk, (size_t)n) < 0 || process_input(c, site) < 0) {
        log_errno("%s: request", c->peer);
        close_connection(c);
    }
}

/* What to wait for. Input: while reading a head (the buffer is bounded by
 * the head limits), or lingering. Output: while a response is going out. */
static short wanted_events(const struct conn *c)
{
    switch (c->state) {
    case CONN_READING:
        return buffer_pending(&c->in) < HEAD_LIMIT + READ_CHUNK ? POLLIN : 0;
    case CONN_SENDING:
        return POLLOUT;
    case CONN_LINGER:
        return POLLIN;
    default:
        return 0;
    }
}

/* A deadline passed: a head that came too slowly gets 408; an idle
 * connection, a client that takes nothing, a linger: closed. */
static void expire_connection(struct conn *c, const struct site *site)
{
    if (c->state == CONN_READING && c->head_started) {
        note_request_line(c, buffer_bytes(&c->in), buffer_pending(&c->in));
        c->state = CONN_SENDING;
        c->sent = 0;
        c->deadline = now_ms() + site->timeout_ms;
        c->keep_alive = false;
        if (queue_error(c, 408, false) < 0) {
            close_connection(c);
            return;
        }
        send_responses(c, site);
        return;
    }
    if (c->state == CONN_SENDING) {
        log_request(c); /* the client stopped reading: what it got is logged */
    }
    close_connection(c);
}

static void serve_connection(struct conn *c, short revents, const struct site *site)
{
    if (revents & (POLLERR | POLLNVAL)) {
        close_connection(c);
        return;
    }
    if (revents & (POLLIN | POLLHUP)) {
        read_from_client(c, site);
    }
    if (c->state == CONN_SENDING) {
        send_responses(c, site);
    }
}

/* ---- the server -------------------------------------------------------- */

struct server {
    int listener;
    bool accept_paused; /* out of file descriptors: wait for a close */
    struct site site;
    struct conn *conns;
    size_t count;
    size_t cap;
    struct pollfd *pfds; /* pfds[0] the listener, pfds[i + 1] conns[i] */
    size_t pfds_cap;
};

/* Shared: the same text in every lesson that has it (make lint checks). */
/* Makes room for one more connection; -1 if memory ran out. */
static int reserve_connection(struct server *s)
{
    if (s->count < s->cap) {
        return 0;
    }
    size_t cap = s->cap > 0 ? s->cap * 2 : 64;
    struct conn *grown = realloc(s->conns, cap * sizeof *grown);
    if (grown == NULL) {
        return -1;
    }
    s->conns = grown;
    s->cap = cap;
    return 0;
}

static void add_connection(struct server *s, int fd, const struct sockaddr *addr,
                           socklen_t len)
{
    if (set_nonblocking(fd) < 0 || reserve_connection(s) < 0) {
        log_errno("accept: new connection dropped");
        close(fd);
        return;
    }
    struct conn *c = &s->conns[s->count++];
    *c = (struct conn){.fd = fd, .file_fd = -1};
    format_address(addr, len, c->peer, sizeof c->peer);
    wait_for_next_request(c, &s->site);
}

/* Accepts every waiting client (until EAGAIN), a batch at a time. */
static void accept_clients(struct server *s)
{
    for (int i = 0; i < ACCEPT_BATCH && !stop_requested; i++) {
        struct sockaddr_storage addr = {0};
        socklen_t len = sizeof addr;
        int fd = accept(s->listener, (struct sockaddr *)&addr, &len);
        if (fd >= 0) {
            add_connection(s, fd, (struct sockaddr *)&addr, len);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                   errno == ENOMEM) {
            /* The listener stays readable while the client waits, so poll()
             * would wake us again at once: stop polling it for a while. */
            log_errno("accept (pausing new connections)");
            s->accept_paused = true;
            return;
        } else if (errno != EINTR) {
            log_errno("accept"); /* that client gave up: serve the next */
        }
    }
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/* Rebuilds the poll set: the listener, then every connection. */
static size_t fill_poll_set(struct server *s)
{
    if (s->pfds_cap < s->count + 1) {
        size_t cap = s->cap + 1;
        struct pollfd *grown = realloc(s->pfds, cap * sizeof *grown);
        if (grown == NULL) {
            die_errno("poll set");
        }
        s->pfds = grown;
        s->pfds_cap = cap;
    }
    s->pfds[0] = (struct pollfd){.fd = s->listener, .events = POLLIN};
    if (s->accept_paused) {
        s->pfds[0].events = 0;
    }
    for (size_t i = 0; i < s->count; i++) {
        s->pfds[i + 1] =
            (struct pollfd){.fd = s->conns[i].fd, .events = wanted_events(&s->conns[i])};
    }
    return s->count + 1;
}

/* How long poll() may wait: until the nearest deadline, at most TICK_MS. */
static int poll_timeout(const struct server *s, long long now)
{
    long long wait = TICK_MS;
    for (size_t i = 0; i < s->count; i++) {
        long long left = s->conns[i].deadline - now;
        if (left < wait) {
            wait = left > 0 ? left : 0;
        }
    }
    return (int)wait;
}

/* Ends (or answers with 408) every connection whose deadline has passed. */
static void expire_connections(struct server *s, long long now)
{
    for (size_t i = 0; i < s->count; i++) {
        struct conn *c = &s->conns[i];
        if (c->state != CONN_CLOSED && c->deadline <= now) {
            expire_connection(c, &s->site);
        }
    }
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/* Removing an entry while walking the table would skip or repeat others:
 * connections are only marked CONN_CLOSED during the walk, and swept here
 * afterwards. Returns how many were removed. */
static size_t remove_closed_connections(struct server *s)
{
    size_t kept = 0;
    for (size_t i = 0; i < s->count; i++) {
        if (s->conns[i].state != CONN_CLOSED) {
            s->conns[kept++] = s->conns[i];
        }
    }
    size_t removed = s->count - kept;
    s->count = kept;
    return removed;
}

static void serve_forever(struct server *s)
{
    while (!stop_requested) {
        size_t nfds = fill_poll_set(s);
        int ready = poll(s->pfds, (nfds_t)nfds, poll_timeout(s, now_ms()));
        if (ready < 0) {
            if (errno == EINTR) {
                continue; /* a signal: the loop condition looks at it */
            }
            die_errno("poll");
        }
        /* Only the connections that were in this poll set (nfds - 1):
         * accept_clients() appends new ones after them. */
        for (size_t i = 0; i + 1 < nfds && !stop_requested; i++) {
            if (s->pfds[i + 1].revents != 0) {
                serve_connection(&s->conns[i], s->pfds[i + 1].revents, &s->site);
            }
        }
        if (s->pfds[0].revents & POLLIN) {
            accept_clients(s);
        }
        expire_connections(s, now_ms());
        if (remove_closed_connections(s) > 0 || ready == 0) {
            s->accept_paused = false; /* a descriptor is free again, or time passed */
        }
        fflush(stderr); /* this turn's log lines, in one write */
    }
}

static void close_all(struct server *s)
{
    for (size_t i = 0; i < s->count; i++) {
        close_connection(&s->conns[i]);
    }
    close(s->listener);
    free(s->conns);
    free(s->pfds);
}

/* ROOT as realpath() gives it: the prefix every served path must have. */
static char *resolve_root(const char *root)
{
    char *resolved = realpath(root, NULL);
    struct stat st;
    if (resolved == NULL) {
        die_errno("root %s", root);
    }
    if (stat(resolved, &st) < 0 || !S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        die_errno("root %s", root);
    }
    return resolved;
}

int main(int argc, char **argv)
{
    struct options opt = parse_options(argc, argv);
    install_signal_handlers();
    raise_open_file_limit_quietly();
    /* One log line per request: buffered, and written once per turn of the
     * loop (serve_forever), not with one write() per line. */
    if (setvbuf(stderr, NULL, _IOFBF, LOG_BUFFER) != 0) {
        die_errno("setvbuf stderr");
    }
    char *root = resolve_root(opt.root);
    struct server s = {.listener = open_nonblocking_listener(opt.host, opt.port),
                       .site = {.root = root, .timeout_ms = opt.timeout_ms}};
    announce_listener(s.listener);
    serve_forever(&s);
    close_all(&s);
    free(root);
    return 0;
}
