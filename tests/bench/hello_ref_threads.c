/*
 * hello_ref_threads: a careful thread-per-connection hello server, the
 * yardstick of the lesson 03 and 04 benchmarks (tests/bench/03-threaded-server.sh
 * and 04-forking-server.sh). Not a lesson: a comparison written for the lab.
 *
 * Speaks the lab's hello protocol: "Welcome!\n" on accept, "Hello, L!\n" for
 * each line L, "exit" closes, a line over 4096 bytes gets
 * "Error: line too long\n" and the connection is closed.
 *
 * What makes it careful, the three things lesson 03's README measures:
 *   - TCP_NODELAY on every connection: a small reply leaves at once, it
 *     never waits behind Nagle's algorithm for the ACK of the previous one;
 *   - the replies to all the complete lines of one read() go out in one
 *     write(): one system call and one segment, not one per line;
 *   - each thread runs on a 128 KiB stack instead of the default 8 MiB.
 *
 * Build:  make benchtools  ->  build/bench/hello_ref_threads
 * Run:    build/bench/hello_ref_threads [-b ADDR] [-p PORT]
 * Exit status: 0 stopped by SIGINT/SIGTERM, 1 runtime error, 2 bad command line.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define PROG "hello_ref_threads"
#include "../fixtures/fixture.h"

#define USAGE "usage: hello_ref_threads [-b ADDR] [-p PORT]"

enum {
    LISTEN_BACKLOG = 128,
    MAX_LINE_LEN = 4096,      /* longest line answered (without "\r\n") */
    IN_BUF_SIZE = 16 * 1024,  /* an unfinished line plus what read() adds */
    OUT_BUF_SIZE = 16 * 1024, /* the replies of one read, written at once */
    THREAD_STACK_SIZE = 128 * 1024,
    ADDR_TEXT_SIZE = 160,
};

static const char WELCOME[] = "Welcome!\n";
static const char TOO_LONG[] = "Error: line too long\n";

/* Set by the SIGINT/SIGTERM handler, read by the accept loop. */
static volatile sig_atomic_t stop_requested = 0;

/* ---------- errors ---------- */

/* Logs "hello_ref_threads: <message>: <strerror(err)>" and carries on. */
static void log_error(int err, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", PROG);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s\n", strerror(err));
}

/* ---------- command line ---------- */

struct options {
    const char *addr;
    const char *port;
};

/* A port is a whole decimal number from 0 to 65535, nothing else. */
static int is_valid_port(const char *text)
{
    long long value;

    return text[0] >= '0' && text[0] <= '9' && parse_number(text, 0, 65535, &value);
}

static struct options parse_options(int argc, char **argv)
{
    struct options opt = {"127.0.0.1", "9999"};
    int c;

    opterr = 0;
    while ((c = getopt(argc, argv, ":b:p:")) != -1) {
        switch (c) {
        case 'b':
            opt.addr = optarg;
            break;
        case 'p':
            if (!is_valid_port(optarg)) {
                usage_error("invalid port '%s': expected a number from 0 to 65535 (" USAGE
                            ")",
                            optarg);
            }
            opt.port = optarg;
            break;
        case ':':
            usage_error("option -%c needs a value (" USAGE ")", optopt);
            break;
        default:
            usage_error("unknown option -%c (" USAGE ")", optopt);
        }
    }
    if (optind < argc) {
        usage_error("unexpected argument '%s' (" USAGE ")", argv[optind]);
    }
    return opt;
}

/* ---------- signals ---------- */

static void handle_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* SIGPIPE ignored (a write to a client that left fails with EPIPE); SIGINT
 * and SIGTERM raise the flag, without SA_RESTART so accept() sees EINTR. */
static void install_signal_handlers(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) < 0) {
        die_errno("sigaction SIGPIPE");
    }
    sa.sa_handler = handle_stop_signal;
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) {
        die_errno("sigaction SIGINT/SIGTERM");
    }
}

/* ---------- listening ---------- */

/* open_first's step: SO_REUSEADDR, bind, listen. */
static int listen_step(int fd, const struct addrinfo *ai, void *arg)
{
    int one = 1;

    (void)arg;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        return -1;
    }
    return listen(fd, LISTEN_BACKLOG);
}

/* Returns a socket listening on addr:port (the first address that works). */
static int listen_on(const char *addr, const char *port)
{
    struct addrinfo *list = resolve(addr, port, SOCK_STREAM, AI_PASSIVE);
    int fd = open_first(list, listen_step, NULL);

    freeaddrinfo(list);
    if (fd < 0) {
        die_errno("cannot listen on %s port %s", addr, port);
    }
    return fd;
}

/* ---------- one connection ---------- */

/* A connection's two buffers: bytes read but not answered yet, and the
 * replies to send with the next write. */
struct session {
    int fd;
    size_t in_len;
    size_t out_len;
    char in[IN_BUF_SIZE];
    char out[OUT_BUF_SIZE];
};

enum verdict { KEEP_GOING, CLOSE_NOW, BROKEN };

/* Sends the replies gathered so far, in one write when the kernel takes it. */
static int flush_replies(struct session *s)
{
    int rc = write_all(s->fd, s->out, s->out_len);

    s->out_len = 0;
    return rc;
}

/* Appends bytes to the replies, flushing first if they would not fit. */
static int add_reply(struct session *s, const char *bytes, size_t len)
{
    if (s->out_len + len > sizeof s->out && flush_replies(s) < 0) {
        return -1;
    }
    memcpy(s->out + s->out_len, bytes, len);
    s->out_len += len;
    return 0;
}

/* Queues the answer to one line (len bytes, without its '\n'). */
static enum verdict answer_line(struct session *s, const char *line, size_t len)
{
    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }
    if (len > MAX_LINE_LEN) {
        return add_reply(s, TOO_LONG, sizeof TOO_LONG - 1) < 0 ? BROKEN : CLOSE_NOW;
    }
    if (len == 4 && memcmp(line, "exit", 4) == 0) {
        return CLOSE_NOW;
    }
    if (add_reply(s, "Hello, ", 7) < 0 || add_reply(s, line, len) < 0 ||
        add_reply(s, "!\n", 2) < 0) {
        return BROKEN;
    }
    return KEEP_GOING;
}

/* Answers every complete line in s->in and keeps the unfinished rest. */
static enum verdict answer_lines(struct session *s)
{
    size_t start = 0;
    enum verdict v = KEEP_GOING;

    while (v == KEEP_GOING) {
        const char *newline = memchr(s->in + start, '\n', s->in_len - start);

        if (newline == NULL) {
            break;
        }
        v = answer_line(s, s->in + start, (size_t)(newline - (s->in + start)));
        start = (size_t)(newline - s->in) + 1;
    }
    s->in_len -= start;
    memmove(s->in, s->in + start, s->in_len);
    if (v == KEEP_GOING && s->in_len > MAX_LINE_LEN + 1) { /* + a '\r' */
        v = add_reply(s, TOO_LONG, sizeof TOO_LONG - 1) < 0 ? BROKEN : CLOSE_NOW;
    }
    return v;
}

/* Speaks the hello protocol on s->fd until the client leaves. */
static void serve_client(struct session *s)
{
    enum verdict v = KEEP_GOING;

    if (write_all(s->fd, WELCOME, sizeof WELCOME - 1) < 0) {
        return;
    }
    while (v == KEEP_GOING) {
        ssize_t n = read(s->fd, s->in + s->in_len, sizeof s->in - s->in_len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return; /* end of stream, or the client is gone */
        }
        s->in_len += (size_t)n;
        v = answer_lines(s);
        if (v != BROKEN && flush_replies(s) < 0) {
            return;
        }
    }
}

static void *connection_thread(void *arg)
{
    struct session *s = arg;
    int one = 1;

    if (setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) {
        log_error(errno, "setsockopt TCP_NODELAY");
    }
    serve_client(s);
    if (close(s->fd) < 0) {
        log_error(errno, "close");
    }
    free(s);
    return NULL;
}

/* Starts a detached thread on a small stack, SIGINT and SIGTERM blocked in
 * it (the main thread takes them). Returns 0, or an error number. */
static int start_connection_thread(struct session *s)
{
    pthread_attr_t attr;
    pthread_t thread;
    sigset_t stop_signals;
    sigset_t old_mask;
    int rc;

    rc = pthread_attr_init(&attr);
    if (rc != 0) {
        return rc;
    }
    rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (rc == 0) {
        rc = pthread_attr_setstacksize(&attr, THREAD_STACK_SIZE);
    }
    if (rc == 0) {
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGINT);
        sigaddset(&stop_signals, SIGTERM);
        rc = pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
        if (rc == 0) {
            rc = pthread_create(&thread, &attr, connection_thread, s);
            pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
        }
    }
    pthread_attr_destroy(&attr);
    return rc;
}

/* Accepts connections until SIGINT or SIGTERM, each served by a thread. */
static void serve_forever(int listener)
{
    while (!stop_requested) {
        struct session *s;
        int fd = accept(listener, NULL, NULL);
        int rc;

        if (fd < 0) {
            if (errno != EINTR) {
                log_error(errno, "accept");
            }
            continue;
        }
        s = malloc(sizeof *s);
        if (s == NULL) {
            log_error(errno, "malloc");
            close(fd);
            continue;
        }
        s->fd = fd;
        s->in_len = 0;
        s->out_len = 0;
        rc = start_connection_thread(s);
        if (rc != 0) {
            log_error(rc, "pthread_create");
            close(fd);
            free(s);
        }
    }
}

int main(int argc, char **argv)
{
    struct options opt = parse_options(argc, argv);
    int listener;

    install_signal_handlers();
    listener = listen_on(opt.addr, opt.port);
    announce_listener(listener);
    serve_forever(listener);
    close(listener);
    return EXIT_SUCCESS;
}
