/*
 * hello_epoll.c - the hello server, one thread, epoll(7) over non-blocking
 * sockets, sized for ten thousand clients (sockstep lesson 07).
 *
 * LINUX ONLY: epoll, accept4() and epoll_pwait() are Linux system calls
 * (the BSDs and macOS have kqueue instead), hence _GNU_SOURCE below.
 *
 * Speaks the lab's hello protocol: `Welcome!\n` on accept, `Hello, L!\n` for
 * each line L, `exit` closes, a line over 4096 bytes gets
 * `Error: line too long\n` and the connection is closed.
 *
 * The same design as lesson 06's hello_poll, with three changes for many
 * connections: epoll reports only the sockets that are ready (poll() makes
 * the kernel look at every socket on every call); reads are edge-triggered,
 * so each report is followed by reads until EAGAIN; and an idle connection
 * costs only its small struct conn: its buffers are allocated when bytes
 * wait in them and freed when they empty. The open-file limit is raised to
 * its hard maximum at start, so the server can hold 10,000 connections.
 *
 * THE STARTER: this is your copy. Each TODO(step N) is a step of
 * lessons/07-epoll-server/README.md; `make check LESSON=07` grades it. The
 * parts lesson 06 taught (buffers, framing, flushing, closing) are given.
 *
 * Build:  make   (or: cc -std=c17 -Wall -Wextra -Wpedantic -O2 -g \
 *                  -o hello_epoll hello_epoll.c)
 * Run:    build/lessons/07-epoll-server/hello_epoll [-b ADDR] [-p PORT]
 *         then, in another terminal: nc 127.0.0.1 9999
 */
#define _GNU_SOURCE /* epoll, accept4, epoll_pwait: Linux only */

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
#include <sys/types.h>
#include <unistd.h>

#define PROG "hello_epoll"
#define USAGE "usage: hello_epoll [-b ADDR] [-p PORT]"

/* Shared: the same text in every lesson that has it (make lint checks). */
/* Room for an address as format_address() writes it: "[IPv6%zone]:port". */
#define PEER_MAX 80

/* Shared: the same text in every lesson that has it (make lint checks). */
/* The longest line of the hello protocol (not counting "\r\n"): a longer
 * one gets "Error: line too long" and the connection is closed. */
#define LINE_LIMIT 4096

enum {
    OUTPUT_LIMIT = 64 * 1024, /* stop reading a client with more pending */
    READ_CHUNK = 16 * 1024,   /* bytes taken from a socket per read() */
    READ_BUDGET = 16,         /* read() calls per client per turn: fairness */
    ACCEPT_BATCH = 256,       /* accept4() calls per turn of the loop */
    MAX_EVENTS = 256,         /* readiness reports taken per epoll_pwait() */
    PAUSE_MS = 250,           /* how long accepting pauses when out of fds */
};

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

/* Shared: the same text in every lesson that has it (make lint checks). */
/*
 * Stands in for the code a step adds: says which, and exits 1. Not static,
 * so that the compiler does not warn "defined but not used" once your last
 * step no longer calls it (delete it then, if you like).
 */
_Noreturn int not_implemented(const char *what)
{
    fprintf(stderr, PROG ": not implemented yet (%s)\n", what);
    exit(1);
}

/* ---- command line ------------------------------------------------------ */

struct options {
    const char *host;
    const char *port;
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

static struct options parse_options(int argc, char **argv)
{
    struct options opt = {"127.0.0.1", "9999"};
    int c;
    opterr = 0; /* we print our own one-line message */
    while ((c = getopt(argc, argv, ":b:p:")) != -1) {
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

/* Installs the handlers and blocks SIGINT and SIGTERM; *wait_mask gets the
 * mask for epoll_pwait(), which unblocks them only while waiting. A signal
 * can then never slip in between testing the flag and going to sleep. */
static void install_masked_signal_handlers(sigset_t *wait_mask)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop_signal;
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) {
        die_errno("sigaction");
    }
    /* A write to a client that has gone must be an EPIPE error we handle,
     * not a signal that kills the whole server. */
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) < 0) {
        die_errno("sigaction SIGPIPE");
    }
    sigset_t stops;
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &stops, wait_mask) < 0) {
        die_errno("sigprocmask");
    }
    sigdelset(wait_mask, SIGINT);
    sigdelset(wait_mask, SIGTERM);
}

/* Each connection is a file descriptor, and the default soft limit (often
 * 1024) would stop us long before 10,000: raise it to the hard limit, the
 * most an unprivileged process may ask for. */
static void raise_open_file_limit(void)
{
    /* TODO(step 1): getrlimit(RLIMIT_NOFILE, ...); if the soft limit
     * (rlim_cur) is below the hard one (rlim_max), set it to the hard one
     * with setrlimit(). A failure is logged (log_errno), not fatal: the
     * server can still serve fewer clients. Log the result on stderr:
     * "hello_epoll: open-file limit NEW (was OLD)". */
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

/* Like CS:APP open_listenfd: try each address until one binds. Exits 1 with
 * the last error if none does. */
static int open_listener_for_epoll(const char *host, const char *port)
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
        /* Non-blocking: accept4() on it returns EAGAIN instead of waiting
         * when the client that epoll announced has already gone. */
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
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

/* Shared: the same text in every lesson that has it (make lint checks). */
static void buffer_release(struct buffer *b)
{
    free(b->data);
    *b = (struct buffer){0};
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/* Appends n bytes; returns -1 (errno ENOMEM) if memory ran out. */
static int buffer_append(struct buffer *b, const char *bytes, size_t n)
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
    memcpy(b->data + b->end, bytes, n);
    b->end += n;
    return 0;
}

/* ---- one connection ---------------------------------------------------- */

enum conn_state {
    CONN_OPEN,    /* reading lines and answering them */
    CONN_CLOSING, /* no more reading: close once the replies are sent */
    CONN_CLOSED,  /* to be closed before the next event is looked at */
};

/* About 180 bytes while idle: with 10,000 clients every byte here counts
 * ten thousand times. */
struct conn {
    int fd;
    enum conn_state state;
    uint32_t events;   /* what epoll watches for now */
    struct buffer in;  /* the start of a line whose newline has not come */
    struct buffer out; /* replies the kernel has not taken yet */
    struct conn *prev; /* the list of every open connection */
    struct conn *next;
    char peer[PEER_MAX];
};

/* Shared: the same text in every lesson that has it (make lint checks). */
static int queue_text(struct conn *c, const char *text)
{
    return buffer_append(&c->out, text, strlen(text));
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/* The line was too long: say so, then close once that is sent. */
static int reject_long_line(struct conn *c)
{
    c->state = CONN_CLOSING;
    buffer_release(&c->in);
    return queue_text(c, "Error: line too long\n");
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/* One complete line, without its "\n": queue its reply. */
static int answer_line(struct conn *c, const char *line, size_t len)
{
    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }
    if (len > LINE_LIMIT) {
        return reject_long_line(c);
    }
    if (len == 4 && memcmp(line, "exit", 4) == 0) {
        c->state = CONN_CLOSING;
        return 0;
    }
    if (queue_text(c, "Hello, ") < 0 || buffer_append(&c->out, line, len) < 0) {
        return -1;
    }
    return queue_text(c, "!\n");
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/* Keeps the start of a line until its newline arrives, unless it is already
 * too long (LINE_LIMIT bytes, plus one for a '\r' that may end it). */
static int keep_partial_line(struct conn *c, const char *bytes, size_t n)
{
    size_t total = buffer_pending(&c->in) + n;
    if (total > LINE_LIMIT + 1 || (total == LINE_LIMIT + 1 && bytes[n - 1] != '\r')) {
        return reject_long_line(c);
    }
    return buffer_append(&c->in, bytes, n);
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/* The framing: splits the bytes just read into lines (TCP keeps no message
 * boundaries: a read may hold half a line, or many) and queues a reply for
 * each complete one, in order. Returns -1 if memory ran out. */
static int feed_input(struct conn *c, const char *bytes, size_t n)
{
    while (n > 0 && c->state == CONN_OPEN) {
        const char *newline = memchr(bytes, '\n', n);
        if (newline == NULL) {
            return keep_partial_line(c, bytes, n);
        }
        size_t len = (size_t)(newline - bytes);
        int rc;
        if (buffer_pending(&c->in) == 0) {
            rc = answer_line(c, bytes, len); /* whole line in this read */
        } else if (buffer_pending(&c->in) + len > LINE_LIMIT + 1) {
            rc = reject_long_line(c);
        } else if (buffer_append(&c->in, bytes, len) < 0) {
            rc = -1;
        } else {
            rc = answer_line(c, c->in.data + c->in.start, buffer_pending(&c->in));
            buffer_release(&c->in);
        }
        if (rc < 0) {
            return -1;
        }
        bytes += len + 1;
        n -= len + 1;
    }
    return 0;
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/* Sends what the kernel takes now, like OpenBSD netcat's drainbuf: EAGAIN
 * only means "later". Returns -1 if the connection is broken. */
static int flush_output(struct conn *c)
{
    while (buffer_pending(&c->out) > 0) {
        ssize_t n = write(c->fd, c->out.data + c->out.start, buffer_pending(&c->out));
        if (n >= 0) {
            c->out.start += (size_t)n;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return 0;
        } else if (errno != EINTR) {
            return -1;
        }
    }
    buffer_release(&c->out); /* empty: give the memory back */
    return 0;
}

/* Reads what the client sent and queues the replies. Returns true if it
 * stopped with bytes possibly left unread. */
static bool read_from_client(struct conn *c)
{
    char chunk[READ_CHUNK];
    /* TODO(step 4): edge-triggered epoll reports new bytes once, not again
     * while they wait: this reads one chunk, and the rest of a long burst
     * waits forever. Make it a loop of at most READ_BUDGET reads that:
     *  - stops (return false) when c->state is not CONN_OPEN, or while more
     *    than OUTPUT_LIMIT bytes of replies wait (step 5 wakes it again);
     *  - after each chunk, feed_input() it and flush_output() (-1 from
     *    either: c->state = CONN_CLOSED, return false);
     *  - returns false at the end of the stream (CONN_CLOSING), at EAGAIN
     *    or EWOULDBLOCK (all read: the next edge will come) and on an error
     *    (CONN_CLOSED); goes on at EINTR;
     *  - returns true when the budget is spent: bytes may be left, and the
     *    caller asks epoll to report this socket again (fairness). */
    ssize_t n = read(c->fd, chunk, sizeof chunk);
    if (n > 0) {
        if (feed_input(c, chunk, (size_t)n) < 0) {
            log_errno("%s: reply", c->peer);
            c->state = CONN_CLOSED;
        }
    } else if (n == 0) {
        c->state = CONN_CLOSING;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        c->state = CONN_CLOSED;
    }
    return false;
}

/* ---- the server -------------------------------------------------------- */

struct server {
    int epoll_fd;
    int listener;
    bool accept_paused; /* out of file descriptors: wait a moment */
    struct conn *first; /* every open connection, to close them at the end */
};

/* What to be told about, in edge-triggered mode: input only while the
 * client reads its replies, output only while replies wait. */
static uint32_t wanted_events(const struct conn *c)
{
    /* TODO(step 5): EPOLLET always; EPOLLIN while the connection is
     * CONN_OPEN and no more than OUTPUT_LIMIT bytes of replies wait;
     * EPOLLOUT while any reply waits (buffer_pending(&c->out) > 0). */
    (void)c;
    return EPOLLIN | EPOLLET;
}

/* Tells epoll what this connection now waits for. EPOLL_CTL_MOD also
 * re-arms: if the socket is ready already, the next epoll_pwait() reports
 * it, which `rearm` uses to come back to a client with unread bytes. */
static int update_interest(struct server *s, struct conn *c, bool rearm)
{
    /* TODO(step 5): compute wanted_events(c). If it differs from c->events,
     * or rearm is true, tell epoll with EPOLL_CTL_MOD (data.ptr = c) and
     * remember it in c->events. Return -1 if epoll_ctl fails, else 0. */
    (void)s;
    (void)c;
    (void)rearm;
    return 0;
}

/* Closing the descriptor also removes it from the epoll set. Freeing the
 * connection here is safe: epoll_pwait() reports each descriptor at most
 * once per call, so no later report in this batch points to it. */
static void close_connection(struct server *s, struct conn *c)
{
    /* Read what the client already sent: closing a socket with unread
     * input makes the kernel send a reset, which can destroy the last
     * reply before the client reads it. */
    char discard[512];
    for (int i = 0; i < 64 && read(c->fd, discard, sizeof discard) > 0; i++) {
    }
    close(c->fd);
    fprintf(stderr, "Connection from %s closed.\n", c->peer);
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        s->first = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    buffer_release(&c->in);
    buffer_release(&c->out);
    free(c);
}

/* Returns true if the connection was closed. */
static bool serve_connection(struct server *s, struct conn *c, uint32_t events)
{
    bool unread = false;
    if (events & EPOLLERR) {
        c->state = CONN_CLOSED;
    }
    if (c->state == CONN_OPEN && (events & EPOLLIN)) {
        unread = read_from_client(c);
    }
    /* EPOLLHUP: the peer can no longer receive; nothing left to do. */
    if (events & EPOLLHUP) {
        c->state = CONN_CLOSED;
    }
    if (c->state != CONN_CLOSED && flush_output(c) < 0) {
        c->state = CONN_CLOSED;
    }
    if (c->state == CONN_CLOSING && buffer_pending(&c->out) == 0) {
        c->state = CONN_CLOSED;
    }
    if (c->state != CONN_CLOSED && update_interest(s, c, unread) < 0) {
        log_errno("epoll_ctl %s", c->peer);
        c->state = CONN_CLOSED;
    }
    if (c->state == CONN_CLOSED) {
        close_connection(s, c);
        return true;
    }
    return false;
}

static void add_connection(struct server *s, int fd, const struct sockaddr *addr,
                           socklen_t len)
{
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        log_errno("accept: new connection dropped");
        close(fd);
        return;
    }
    c->fd = fd;
    c->state = CONN_OPEN;
    format_address(addr, len, c->peer, sizeof c->peer);
    c->events = wanted_events(c);
    struct epoll_event ev = {.events = c->events, .data.ptr = c};
    if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        log_errno("epoll_ctl add %s: new connection dropped", c->peer);
        close(fd);
        free(c);
        return;
    }
    fprintf(stderr, "Accept new connection from %s...\n", c->peer);
    c->next = s->first;
    if (s->first != NULL) {
        s->first->prev = c;
    }
    s->first = c;
    if (queue_text(c, "Welcome!\n") < 0) {
        log_errno("%s: welcome", c->peer);
        c->state = CONN_CLOSED;
    }
    serve_connection(s, c, 0); /* send the welcome now */
}

static void pause_accepting(struct server *s, bool pause)
{
    struct epoll_event ev = {.events = pause ? 0 : EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, s->listener, &ev) < 0) {
        die_errno("epoll_ctl listener");
    }
    s->accept_paused = pause;
}

/* Accepts every waiting client (until EAGAIN), a batch at a time; the
 * listener is level-triggered, so epoll reports it again if some are left. */
static void accept_clients(struct server *s)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage addr = {0};
        socklen_t len = sizeof addr;
        /* TODO(step 3): accept4() a client on s->listener, its address into
         * addr and len, with SOCK_NONBLOCK | SOCK_CLOEXEC so the new socket
         * is non-blocking from the start. Replace the next line. */
        int fd = not_implemented("step 3: accept_clients");
        if (fd >= 0) {
            add_connection(s, fd, (struct sockaddr *)&addr, len);
        }
        /* TODO(step 3): when accept4() fails: EAGAIN or EWOULDBLOCK means
         * nobody else is waiting: return. EMFILE, ENFILE, ENOBUFS, ENOMEM:
         * log_errno(...), pause_accepting(s, true) and return. EINTR: go
         * on. Any other error: log_errno(...) and go on. */
    }
}

static void serve_forever(struct server *s, const sigset_t *wait_mask)
{
    struct epoll_event events[MAX_EVENTS];
    while (!stop_requested) {
        int timeout = s->accept_paused ? PAUSE_MS : -1;
        /* TODO(step 2): wait with epoll_pwait() on s->epoll_fd for up to
         * MAX_EVENTS reports in events[], `timeout` milliseconds at most,
         * with wait_mask as the signal mask (SIGINT and SIGTERM can only
         * arrive while waiting). EINTR: `continue` (the loop condition
         * reads the flag). Another error: die_errno("epoll_pwait"). Replace the
         * next four lines. */
        (void)timeout;
        (void)wait_mask;
        (void)events;
        int ready = not_implemented("step 2: epoll_pwait");
        bool closed_any = false;
        for (int i = 0; i < ready; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == NULL) {
                accept_clients(s);
            } else if (serve_connection(s, c, events[i].events)) {
                closed_any = true;
            }
        }
        if (s->accept_paused && (closed_any || ready == 0)) {
            pause_accepting(s, false); /* a descriptor is free, or time passed */
        }
    }
}

static int open_epoll(int listener)
{
    /* TODO(step 2): create the epoll instance with epoll_create1
     * (EPOLL_CLOEXEC) and add the listener to it with epoll_ctl
     * (EPOLL_CTL_ADD, events EPOLLIN, data.ptr NULL: that is how
     * serve_forever() tells the listener from a connection). die_errno() on a
     * failure. Return the epoll descriptor. Replace the next two lines. */
    (void)listener;
    return not_implemented("step 2: open_epoll");
}

static void close_all(struct server *s)
{
    struct conn *c = s->first;
    while (c != NULL) {
        struct conn *next = c->next;
        close(c->fd);
        buffer_release(&c->in);
        buffer_release(&c->out);
        free(c);
        c = next;
    }
    close(s->epoll_fd);
    close(s->listener);
}

int main(int argc, char **argv)
{
    struct options opt = parse_options(argc, argv);
    sigset_t wait_mask;
    install_masked_signal_handlers(&wait_mask);
    raise_open_file_limit();
    struct server s = {.listener = open_listener_for_epoll(opt.host, opt.port)};
    announce_listener(s.listener); /* clients may connect: the backlog holds them */
    s.epoll_fd = open_epoll(s.listener);
    serve_forever(&s, &wait_mask);
    close_all(&s);
    return 0;
}
