/*
 * hello_load.c - load generator for the lab's hello servers (make bench,
 * and the 10,000-connection tests of lessons 06 and 07).
 *
 * Linux only (epoll). Loopback only: it refuses any other address.
 *
 * Load mode (default): N connections, each waits for `Welcome!\n`, then
 * repeats request/reply: sends `load<i>\n`, waits for `Hello, load<i>!\n`
 * (checked byte for byte), sends the next. With -l LINES, each request is
 * LINES such lines in one send() (a pipelining client), and the next one
 * leaves when all LINES replies are in. After DURATION seconds, counted
 * from the moment every connection was welcomed, it prints one line
 * (replies and rps count lines answered; the latencies are per request):
 *
 *   conns=10 lines=1 seconds=3.00 replies=12345 rps=4115 p50_us=210 p99_us=900 errors=0
 *
 * Hold mode (-H): opens N connections (at most RAMP waiting for their
 * welcome at a time, so the server's accept queue never overflows), checks
 * every welcome, then sends one line on each and checks every reply:
 *
 *   held=10000 answered=10000 errors=0 seconds=2.41
 *
 * With -s SECONDS it then keeps every connection open, idle, for SECONDS
 * more (the line above is printed first, so a script can start another load
 * beside these idle clients), and exits.
 *
 * Exit status: 0 when nothing went wrong, 1 on any mismatch, refused or
 * closed connection or timeout (the first few are described on stderr),
 * 2 on a bad command line.
 *
 * Usage: hello_load [-H [-s SECONDS]] [-c CONNS] [-d SECONDS] [-l LINES] [-t TIMEOUT]
 *                   HOST PORT
 *   -c CONNS    connections (default 10, at most 60000)
 *   -d SECONDS  load mode: how long to measure (default 5, at most 600)
 *   -l LINES    load mode: lines per request, sent at once (default 1, at most 64)
 *   -t TIMEOUT  seconds allowed to connect and be welcomed, and (hold mode)
 *               for the replies (default 30, at most 600)
 *   -H          hold mode
 *   -s SECONDS  hold mode: stay connected, idle, that long after the check
 *               (default 0, at most 600)
 */
#define _GNU_SOURCE /* epoll */

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROG "hello_load"
#include "../fixtures/fixture.h"
#define USAGE                                                                            \
    "usage: hello_load [-H [-s SECONDS]] [-c CONNS] [-d SECONDS] [-l LINES] "            \
    "[-t TIMEOUT] HOST PORT"

enum {
    MAX_CONNS = 60000,
    RAMP = 256, /* connections waiting for their welcome at once */
    MAX_EVENTS = 512,
    ERRORS_SHOWN = 5,      /* problems described on stderr, then only counted */
    FINE_BUCKETS = 10000,  /* latency histogram: 1 us steps up to 10 ms */
    COARSE_BUCKETS = 9990, /* then 1 ms steps up to 10 s */
    EXPECT_MAX = 48,
    MAX_LINES = 64, /* -l: lines per request */
};

enum phase {
    PH_CONNECTING, /* connect() in progress */
    PH_WELCOME,    /* waiting for "Welcome!\n" */
    PH_READY,      /* welcomed; hold mode waits here for the others */
    PH_REPLY,      /* a line sent, waiting for its reply */
    PH_DONE,       /* hold mode: answered */
    PH_FAILED,
};

struct client {
    int fd;
    enum phase phase;
    size_t got;       /* bytes of `expect` already received */
    uint64_t sent_ns; /* when the pending line was sent */
    char request[24]; /* "load123\n" */
    size_t request_len;
    char expect[EXPECT_MAX]; /* what the server must send next */
    size_t expect_len;
    long replies_due; /* replies of the pending request not received yet */
};

struct run {
    bool hold;
    long conns;
    long lines; /* per request */
    long seconds;
    long stay; /* hold mode: seconds to stay connected after the check */
    long timeout;
    int epoll_fd;
    struct client *clients;
    long connecting; /* in PH_CONNECTING or PH_WELCOME */
    long next_to_open;
    long welcomed;
    long answered;
    long errors;
    uint64_t replies;  /* counted inside the measured window */
    uint64_t requests; /* the same, in requests of r->lines lines */
    uint64_t window_start_ns;
    uint64_t *histogram;
};

/* ---- errors and options ------------------------------------------------- */

static long option_number(const char *text, const char *what, long lo, long hi)
{
    char *end;
    errno = 0;
    long value = (*text >= '0' && *text <= '9') ? strtol(text, &end, 10) : -1;
    if (value < 0 || errno != 0 || *end != '\0' || value < lo || value > hi) {
        usage_error("bad %s '%s': expected a number from %ld to %ld (" USAGE ")", what,
                    text, lo, hi);
    }
    return value;
}

/* ---- time and latency ---------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t bucket_of(uint64_t us)
{
    if (us < FINE_BUCKETS) {
        return (size_t)us;
    }
    uint64_t coarse = (us - FINE_BUCKETS) / 1000;
    return FINE_BUCKETS + (size_t)(coarse < COARSE_BUCKETS ? coarse : COARSE_BUCKETS - 1);
}

static uint64_t us_of_bucket(size_t b)
{
    return b < FINE_BUCKETS ? b : FINE_BUCKETS + (uint64_t)(b - FINE_BUCKETS) * 1000;
}

static uint64_t percentile_us(const uint64_t *histogram, uint64_t total, double p)
{
    if (total == 0) {
        return 0;
    }
    uint64_t rank = (uint64_t)(p * (double)total);
    uint64_t seen = 0;
    for (size_t b = 0; b < FINE_BUCKETS + COARSE_BUCKETS; b++) {
        seen += histogram[b];
        if (seen > rank) {
            return us_of_bucket(b);
        }
    }
    return us_of_bucket(FINE_BUCKETS + COARSE_BUCKETS - 1);
}

/* ---- connections ------------------------------------------------------- */

/* Describes the first few problems; counts them all. */
static void client_failed(struct run *r, struct client *c, const char *fmt, ...)
{
    if (r->errors < ERRORS_SHOWN) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, PROG ": connection %ld: ", (long)(c - r->clients));
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
    r->errors++;
    if (c->phase == PH_CONNECTING || c->phase == PH_WELCOME) {
        r->connecting--;
    }
    c->phase = PH_FAILED;
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}

static void expect_text(struct client *c, const char *text)
{
    c->expect_len = strlen(text);
    memcpy(c->expect, text, c->expect_len);
    c->got = 0;
}

/* Sends r->lines copies of the client's line in one send(). */
static void send_request(struct run *r, struct client *c)
{
    char reply[EXPECT_MAX];
    char batch[MAX_LINES * sizeof c->request];
    size_t len = 0;
    snprintf(reply, sizeof reply, "Hello, %.*s!\n", (int)(c->request_len - 1),
             c->request);
    expect_text(c, reply);
    c->replies_due = r->lines;
    for (long i = 0; i < r->lines; i++) {
        memcpy(batch + len, c->request, c->request_len);
        len += c->request_len;
    }
    c->phase = PH_REPLY;
    c->sent_ns = now_ns();
    ssize_t n = send(c->fd, batch, len, MSG_NOSIGNAL);
    if (n != (ssize_t)len) {
        /* A few bytes into an empty socket buffer are taken whole. */
        client_failed(r, c, "send: %s", n < 0 ? strerror(errno) : "short write");
    }
}

static void open_one(struct run *r, const struct addrinfo *ai)
{
    long i = r->next_to_open++;
    struct client *c = &r->clients[i];
    c->request_len = (size_t)snprintf(c->request, sizeof c->request, "load%ld\n", i);
    c->phase = PH_CONNECTING;
    r->connecting++;
    c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        client_failed(r, c, "socket: %s", strerror(errno));
        return;
    }
    if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
        client_failed(r, c, "connect: %s", strerror(errno));
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(r->epoll_fd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        client_failed(r, c, "epoll_ctl: %s", strerror(errno));
    }
}

static void on_connected(struct run *r, struct client *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
        client_failed(r, c, "connect: %s", strerror(err != 0 ? err : errno));
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(r->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
        client_failed(r, c, "epoll_ctl: %s", strerror(errno));
        return;
    }
    c->phase = PH_WELCOME;
    expect_text(c, "Welcome!\n");
}

static void on_message(struct run *r, struct client *c, uint64_t t)
{
    if (c->phase == PH_WELCOME) {
        r->connecting--;
        r->welcomed++;
        c->phase = PH_READY;
        if (!r->hold && r->window_start_ns != 0) {
            send_request(r, c);
        }
        return;
    }
    if (r->hold) {
        r->answered++;
        c->phase = PH_DONE;
        return;
    }
    if (--c->replies_due > 0) {
        c->got = 0; /* the same reply again, for the next line of the request */
        return;
    }
    if (r->window_start_ns != 0 && c->sent_ns >= r->window_start_ns) {
        r->requests++;
        r->replies += (uint64_t)r->lines;
        r->histogram[bucket_of((t - c->sent_ns) / 1000)]++;
    }
    send_request(r, c);
}

static void show_bytes(char *out, size_t size, const char *bytes, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used + 5 < size; i++) {
        unsigned char b = (unsigned char)bytes[i];
        int w = (b >= 32 && b < 127 && b != '\\')
                    ? snprintf(out + used, size - used, "%c", b)
                : b == '\n' ? snprintf(out + used, size - used, "\\n")
                            : snprintf(out + used, size - used, "\\x%02x", b);
        used += (size_t)w;
    }
}

static void on_readable(struct run *r, struct client *c)
{
    char buf[4096];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            client_failed(
                r, c,
                "server closed the connection (%s) while %zu bytes of '%s' were due",
                n == 0 ? "end of stream" : strerror(errno), c->expect_len - c->got,
                c->phase == PH_WELCOME ? "Welcome!" : "Hello, ...!");
            return;
        }
        if (n < 0) {
            return; /* EAGAIN: level-triggered, so nothing is lost */
        }
        uint64_t t = now_ns();
        for (size_t i = 0; i < (size_t)n;) {
            if (c->phase != PH_WELCOME && c->phase != PH_REPLY) {
                char shown[64];
                show_bytes(shown, sizeof shown, buf + i, (size_t)n - i);
                client_failed(r, c, "unexpected bytes from the server: '%s'", shown);
                return;
            }
            size_t want = c->expect_len - c->got;
            size_t take = (size_t)n - i < want ? (size_t)n - i : want;
            if (memcmp(buf + i, c->expect + c->got, take) != 0) {
                char shown[64];
                char expected[64];
                show_bytes(shown, sizeof shown, buf + i, take);
                show_bytes(expected, sizeof expected, c->expect + c->got, take);
                client_failed(r, c, "expected '%s', got '%s'", expected, shown);
                return;
            }
            c->got += take;
            i += take;
            if (c->got == c->expect_len) {
                on_message(r, c, t);
                if (c->phase == PH_FAILED) {
                    return;
                }
            }
        }
    }
}

static void on_event(struct run *r, struct client *c, uint32_t events)
{
    if (c->phase == PH_CONNECTING) {
        on_connected(r, c);
        if (c->phase == PH_FAILED || !(events & EPOLLIN)) {
            return;
        }
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        on_readable(r, c);
    }
}

/* ---- the run ------------------------------------------------------------ */

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

static struct addrinfo *resolve_loopback(const char *host, const char *port)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    struct addrinfo *list;
    int rc = getaddrinfo(host, port, &hints, &list);
    if (rc != 0) {
        fprintf(stderr, PROG ": resolve %s port %s: %s\n", host, port, gai_strerror(rc));
        exit(1);
    }
    if (!is_loopback(list->ai_addr)) {
        freeaddrinfo(list);
        list = NULL;
        usage_error("refusing %s: this tool only loads loopback addresses (" USAGE ")",
                    host);
    }
    return list;
}

static void raise_open_file_limit(long conns)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) < 0) {
        die_errno("getrlimit");
    }
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) < 0) {
        die_errno("setrlimit");
    }
    if (lim.rlim_cur != RLIM_INFINITY && (rlim_t)conns + 16 > lim.rlim_cur) {
        fprintf(stderr,
                PROG ": %ld connections need more than the open-file limit %llu\n", conns,
                (unsigned long long)lim.rlim_cur);
        exit(1);
    }
}

static void wait_and_dispatch(struct run *r, int timeout_ms)
{
    struct epoll_event events[MAX_EVENTS];
    int n = epoll_wait(r->epoll_fd, events, MAX_EVENTS, timeout_ms);
    if (n < 0 && errno != EINTR) {
        die_errno("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
        struct client *c = events[i].data.ptr;
        if (c->phase != PH_FAILED) {
            on_event(r, c, events[i].events);
        }
    }
}

/* Opens every connection, RAMP at a time, until all are welcomed (or
 * failed) or the timeout passes. */
static void open_all(struct run *r, const struct addrinfo *ai, uint64_t deadline)
{
    while (r->welcomed + r->errors < r->conns && now_ns() < deadline) {
        while (r->next_to_open < r->conns && r->connecting < RAMP) {
            open_one(r, ai);
        }
        wait_and_dispatch(r, 50);
    }
    for (long i = 0; i < r->conns; i++) {
        struct client *c = &r->clients[i];
        bool never_opened = i >= r->next_to_open;
        if (never_opened || c->phase == PH_CONNECTING || c->phase == PH_WELCOME) {
            if (never_opened) {
                c->phase = PH_READY; /* not counted in r->connecting */
            }
            client_failed(r, c, "not welcomed within %ld s", r->timeout);
        }
    }
}

static int run_hold(struct run *r, const struct addrinfo *ai)
{
    uint64_t start = now_ns();
    uint64_t deadline = start + (uint64_t)r->timeout * 1000000000u;
    open_all(r, ai, deadline);
    long held = r->welcomed;
    for (long i = 0; i < r->conns; i++) {
        if (r->clients[i].phase == PH_READY) {
            send_request(r, &r->clients[i]);
        }
    }
    while (r->answered + r->errors < r->conns && now_ns() < deadline) {
        wait_and_dispatch(r, 50);
    }
    for (long i = 0; i < r->conns; i++) {
        if (r->clients[i].phase == PH_REPLY) {
            client_failed(r, &r->clients[i], "no reply within %ld s", r->timeout);
        }
    }
    printf("held=%ld answered=%ld errors=%ld seconds=%.2f\n", held, r->answered,
           r->errors, (double)(now_ns() - start) / 1e9);
    if (fflush(stdout) == EOF) {
        die_errno("write to stdout");
    }
    uint64_t leave = now_ns() + (uint64_t)r->stay * 1000000000u;
    while (now_ns() < leave) {
        wait_and_dispatch(r, 100); /* anything the server sends now is a mismatch */
    }
    return r->errors == 0 && r->answered == r->conns ? 0 : 1;
}

static int run_load(struct run *r, const struct addrinfo *ai)
{
    uint64_t deadline = now_ns() + (uint64_t)r->timeout * 1000000000u;
    open_all(r, ai, deadline);
    r->window_start_ns = now_ns();
    for (long i = 0; i < r->conns; i++) {
        if (r->clients[i].phase == PH_READY) {
            send_request(r, &r->clients[i]);
        }
    }
    uint64_t end = r->window_start_ns + (uint64_t)r->seconds * 1000000000u;
    for (uint64_t t = now_ns(); t < end; t = now_ns()) {
        uint64_t left_ms = (end - t) / 1000000u;
        wait_and_dispatch(r, left_ms < 100 ? (int)left_ms + 1 : 100);
    }
    double seconds = (double)(now_ns() - r->window_start_ns) / 1e9;
    printf("conns=%ld lines=%ld seconds=%.2f replies=%llu rps=%.0f p50_us=%llu "
           "p99_us=%llu errors=%ld\n",
           r->conns, r->lines, seconds, (unsigned long long)r->replies,
           (double)r->replies / seconds,
           (unsigned long long)percentile_us(r->histogram, r->requests, 0.50),
           (unsigned long long)percentile_us(r->histogram, r->requests, 0.99), r->errors);
    return r->errors == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct run r = {.conns = 10, .lines = 1, .seconds = 5, .timeout = 30};
    int opt;
    opterr = 0;
    while ((opt = getopt(argc, argv, ":Hc:d:l:s:t:")) != -1) {
        switch (opt) {
        case 'H':
            r.hold = true;
            break;
        case 'c':
            r.conns = option_number(optarg, "connection count", 1, MAX_CONNS);
            break;
        case 'd':
            r.seconds = option_number(optarg, "duration", 1, 600);
            break;
        case 'l':
            r.lines = option_number(optarg, "lines per request", 1, MAX_LINES);
            break;
        case 't':
            r.timeout = option_number(optarg, "timeout", 1, 600);
            break;
        case 's':
            r.stay = option_number(optarg, "stay", 0, 600);
            break;
        case ':':
            usage_error("option -%c needs a value (" USAGE ")", optopt);
            break;
        default:
            usage_error("unknown option -%c (" USAGE ")", optopt);
        }
    }
    if (r.hold && r.lines != 1) {
        usage_error("-l is for load mode, not -H (" USAGE ")");
    }
    if (argc - optind != 2) {
        usage_error("expected HOST and PORT (" USAGE ")");
    }
    option_number(argv[optind + 1], "port", 1, 65535);
    struct addrinfo *ai = resolve_loopback(argv[optind], argv[optind + 1]);
    raise_open_file_limit(r.conns);
    r.clients = calloc((size_t)r.conns, sizeof *r.clients);
    r.histogram = calloc(FINE_BUCKETS + COARSE_BUCKETS, sizeof *r.histogram);
    if (r.clients == NULL || r.histogram == NULL) {
        die_errno("calloc");
    }
    for (long i = 0; i < r.conns; i++) {
        r.clients[i].fd = -1;
    }
    r.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (r.epoll_fd < 0) {
        die_errno("epoll_create1");
    }
    int status = r.hold ? run_hold(&r, ai) : run_load(&r, ai);
    for (long i = 0; i < r.conns; i++) {
        if (r.clients[i].fd >= 0) {
            close(r.clients[i].fd);
        }
    }
    close(r.epoll_fd);
    freeaddrinfo(ai);
    free(r.clients);
    free(r.histogram);
    return status;
}
