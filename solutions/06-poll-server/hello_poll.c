/*
 * hello_poll.c - the hello server, one thread, poll(2) over non-blocking
 * sockets (sockstep lesson 06).
 *
 * Speaks the lab's hello protocol: `Welcome!\n` on accept, `Hello, L!\n` for
 * each line L, `exit` closes, a line over 4096 bytes gets
 * `Error: line too long\n` and the connection is closed.
 *
 * One thread serves every client. No call may block: every socket is
 * non-blocking, and poll() says which ones can be read or written. Each
 * connection keeps two buffers: the start of a line whose newline has not
 * arrived yet, and the replies the kernel has not taken yet. A client that
 * sends and never reads is not read from while its pending replies are over
 * OUTPUT_LIMIT, so it cannot make the server's memory grow without bound.
 *
 * Build:  make   (or: cc -std=c17 -Wall -Wextra -Wpedantic -O2 -g \
 *                  -o hello_poll hello_poll.c)
 * Run:    build/solutions/06-poll-server/hello_poll [-b ADDR] [-p PORT]
 *         then, in another terminal: nc 127.0.0.1 9999
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define PROG "hello_poll"
#define USAGE "usage: hello_poll [-b ADDR] [-p PORT]"

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
    ACCEPT_BATCH = 256,       /* accept() calls per turn of the loop */
    TICK_MS = 250,            /* poll() timeout: bounds the reaction to a signal */
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

/* ---- signals ----------------------------------------------------------- */

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
    CONN_CLOSED,  /* closed; removed from the table after this turn */
};

struct conn {
    int fd;
    enum conn_state state;
    struct buffer in;  /* the start of a line whose newline has not come */
    struct buffer out; /* replies the kernel has not taken yet */
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

static void close_connection(struct conn *c)
{
    /* Read what the client already sent: closing a socket with unread
     * input makes the kernel send a reset, which can destroy the last
     * reply before the client reads it. */
    char discard[512];
    for (int i = 0; i < 64 && read(c->fd, discard, sizeof discard) > 0; i++) {
    }
    close(c->fd);
    c->fd = -1;
    c->state = CONN_CLOSED;
    buffer_release(&c->in);
    buffer_release(&c->out);
    fprintf(stderr, "Connection from %s closed.\n", c->peer);
}

/* One read() per readiness report: poll() says again if more is there. */
static void read_from_client(struct conn *c)
{
    char chunk[READ_CHUNK];
    ssize_t n = read(c->fd, chunk, sizeof chunk);
    if (n > 0) {
        if (feed_input(c, chunk, (size_t)n) < 0) {
            log_errno("%s: reply", c->peer);
            close_connection(c);
        }
    } else if (n == 0) {
        c->state = CONN_CLOSING; /* end of stream: send what is queued, close */
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        close_connection(c); /* reset by the peer, for instance */
    }
}

/* What to wait for: input only while the client reads its replies. */
static short wanted_events(const struct conn *c)
{
    short events = 0;
    if (c->state == CONN_OPEN && buffer_pending(&c->out) <= OUTPUT_LIMIT) {
        events |= POLLIN;
    }
    if (buffer_pending(&c->out) > 0) {
        events |= POLLOUT;
    }
    return events;
}

static void serve_connection(struct conn *c, short revents)
{
    if (revents & (POLLERR | POLLNVAL)) {
        close_connection(c);
        return;
    }
    if (revents & POLLIN) {
        read_from_client(c);
    }
    /* POLLHUP: the peer can no longer receive; nothing left to do. */
    if (c->state != CONN_CLOSED && (revents & POLLHUP)) {
        close_connection(c);
        return;
    }
    if (c->state != CONN_CLOSED && flush_output(c) < 0) {
        close_connection(c);
        return;
    }
    if (c->state == CONN_CLOSING && buffer_pending(&c->out) == 0) {
        close_connection(c);
    }
}

/* ---- the server -------------------------------------------------------- */

struct server {
    int listener;
    bool accept_paused; /* out of file descriptors: wait for a close */
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
    *c = (struct conn){.fd = fd, .state = CONN_OPEN};
    format_address(addr, len, c->peer, sizeof c->peer);
    fprintf(stderr, "Accept new connection from %s...\n", c->peer);
    if (queue_text(c, "Welcome!\n") < 0 || flush_output(c) < 0) {
        close_connection(c);
    }
}

/* Accepts every waiting client (until EAGAIN), a batch at a time. */
static void accept_clients(struct server *s)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
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
        int ready = poll(s->pfds, (nfds_t)nfds, TICK_MS);
        if (ready < 0) {
            if (errno == EINTR) {
                continue; /* a signal: the loop condition looks at it */
            }
            die_errno("poll");
        }
        /* Only the connections that were in this poll set (nfds - 1):
         * accept_clients() appends new ones after them. */
        for (size_t i = 0; i + 1 < nfds; i++) {
            if (s->pfds[i + 1].revents != 0) {
                serve_connection(&s->conns[i], s->pfds[i + 1].revents);
            }
        }
        if (s->pfds[0].revents & POLLIN) {
            accept_clients(s);
        }
        if (remove_closed_connections(s) > 0 || ready == 0) {
            s->accept_paused = false; /* a descriptor is free again, or time passed */
        }
    }
}

static void close_all(struct server *s)
{
    for (size_t i = 0; i < s->count; i++) {
        close(s->conns[i].fd);
        buffer_release(&s->conns[i].in);
        buffer_release(&s->conns[i].out);
    }
    close(s->listener);
    free(s->conns);
    free(s->pfds);
}

int main(int argc, char **argv)
{
    struct options opt = parse_options(argc, argv);
    install_signal_handlers();
    struct server s = {.listener = open_nonblocking_listener(opt.host, opt.port)};
    announce_listener(s.listener);
    serve_forever(&s);
    close_all(&s);
    return 0;
}
