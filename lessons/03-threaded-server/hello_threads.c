/*
 * hello_threads: the hello protocol server, one detached thread per connection.
 *
 * Lesson 03-threaded-server: the starter. Each TODO(step N) is step N of
 * lessons/03-threaded-server/README.md; `make check LESSON=03` grades it.
 *
 *   build:  make                 (or: cc -std=c17 -Wall -Wextra -Wpedantic -O2 -pthread
 *                                      -o hello_threads hello_threads.c)
 *   run:    build/lessons/03-threaded-server/hello_threads [-b ADDR] [-p PORT]
 *   try:    build/solutions/02-tcp-client/hello_client 127.0.0.1 9999 Michael Tracy
 *
 * The hello protocol: on accept the server sends "Welcome!\n"; for each line L
 * the client sends, it replies "Hello, L!\n"; the line "exit" closes the
 * connection. TCP is a byte stream, not a sequence of messages, so a message
 * is a line: the server reads bytes into a buffer and cuts them at '\n',
 * however the bytes were split or grouped on the way.
 *
 * Options: -b ADDR  address to listen on (default 127.0.0.1: this machine only)
 *          -p PORT  port (default 9999; 0 lets the kernel choose a free one)
 * Exit status: 0 stopped by SIGINT/SIGTERM, 1 runtime error, 2 bad command line.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PROG "hello_threads"
#define USAGE "usage: hello_threads [-b ADDR] [-p PORT]"

/* Shared: the same text in every lesson that has it (make lint checks). */
/* Room for an address as format_address() writes it: "[IPv6%zone]:port". */
#define PEER_MAX 80

/* Shared: the same text in every lesson that has it (make lint checks). */
/* The longest line of the hello protocol (not counting "\r\n"): a longer
 * one gets "Error: line too long" and the connection is closed. */
#define LINE_LIMIT 4096

#define DEFAULT_ADDR "127.0.0.1"
#define DEFAULT_PORT "9999"

/* How many finished handshakes the kernel may queue while we are busy. */
#define LISTEN_BACKLOG 128

/* Room for a line plus the '\r' that may precede its '\n'. */
#define LINE_BUF_SIZE (LINE_LIMIT + 1)
/* "Hello, " + line + "!\n" */
#define REPLY_BUF_SIZE (LINE_LIMIT + 16)
/* Bytes read from the socket at a time. */
#define READ_BUF_SIZE 8192
/* Each connection thread's stack. serve_client needs about 20 KiB; the
 * default is the stack limit, usually 8 MiB, too big for glibc's cache of
 * finished threads' stacks, so nearly every new thread would map and fault
 * in a fresh one (README: "Why it is fast"). */
#define THREAD_STACK_SIZE (128 * 1024)

static const char WELCOME[] = "Welcome!\n";
static const char TOO_LONG[] = "Error: line too long\n";

/* Set by the SIGINT/SIGTERM handler, read by the accept loop. */
static volatile sig_atomic_t stop_requested = 0;

/* ---------- errors and logging ---------- */

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

/* ---------- command line ---------- */

struct options {
    const char *addr;
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
    struct options opt = {DEFAULT_ADDR, DEFAULT_PORT};
    int c;

    opterr = 0; /* we print our own one-line messages */
    while ((c = getopt(argc, argv, ":b:p:")) != -1) {
        switch (c) {
        case 'b':
            opt.addr = optarg;
            break;
        case 'p':
            if (!is_valid_port(optarg)) {
                usage_error("invalid port '%s': expected a number from 0 to 65535",
                            optarg);
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

/* ---------- signals (steps 3 and 5) ---------- */

/* A write to a peer that has gone must fail with EPIPE, an error we handle,
 * not kill the whole program with SIGPIPE. */
static void ignore_sigpipe(void)
{
    /* TODO(step 3): ignore SIGPIPE with sigaction (SIG_IGN), so that writing
     * to a client that is gone fails with EPIPE instead of killing us. */
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/* SIGINT and SIGTERM only raise a flag (about all a handler may safely do);
 * the main loop sees it and stops. */
static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/*
 * Installs the handler, then blocks SIGINT and SIGTERM: from here on they
 * can only arrive inside wait_for_client(), whose pselect() unblocks them
 * (with *wait_mask, the mask from before) for just as long as it waits.
 */
static void install_thread_stop_handlers(sigset_t *wait_mask)
{
    /* TODO(step 5): install on_stop_signal for SIGINT and SIGTERM with
     * sigaction, sa_flags 0 (no SA_RESTART: the wait must return EINTR).
     * Then block both with pthread_sigmask(SIG_BLOCK, ..., wait_mask): the
     * old mask, which wait_for_client gives to pselect. */
    (void)on_stop_signal;
    sigemptyset(wait_mask);
}

/* ---------- descriptors ---------- */

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
/* The BSDs hand the listener's O_NONBLOCK on to an accepted socket (Linux
 * does not); a connection served on its own (a thread, a child) wants its
 * reads and writes to wait. */
static int set_blocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) {
        return -1;
    }
    return fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

/* ---------- addresses ---------- */

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

/* ---------- step 1: listen ---------- */

/*
 * Returns a socket listening on addr:port, trying each address getaddrinfo
 * gives until one works (like CS:APP's open_listenfd). Exits on failure.
 */
static int open_listener(const char *addr, const char *port)
{
    /* TODO(step 1): resolve addr and port with getaddrinfo (AF_UNSPEC,
     * SOCK_STREAM, AI_PASSIVE); for each result: socket, setsockopt
     * SO_REUSEADDR (why? see the README), bind, listen with LISTEN_BACKLOG;
     * keep the first that works, close the others, freeaddrinfo. If none
     * works: die_errno("cannot listen on %s port %s", addr, port). */
    (void)addr;
    (void)port;
    (void)die_errno;
    not_implemented("step 1: open_listener");
    return -1;
}

/* Prints "listening on ADDR:PORT", flushed (stdout may be a pipe: tests
 * read the port from it), with the port the kernel really chose (-p 0). */
static void announce_listener(int fd)
{
    /* TODO(step 1): getsockname, format_address, then print
     * "listening on ADDR:PORT" and fflush(stdout). */
    (void)fd;
    (void)format_address;
}

/* ---------- step 3: lines in, replies out ---------- */

/* Writes all len bytes, however many calls it takes (like CS:APP's
 * rio_writen): write() may take fewer bytes than asked (a full socket
 * buffer, a signal). 0 when all are out, -1 with errno set on an error. */
static int write_all(int fd, const char *buf, size_t len)
{
    /* TODO(step 3): loop until all len bytes are written: write may take
     * fewer than asked; retry when it fails with EINTR. For now: one write. */
    ssize_t n = write(fd, buf, len);

    return n == (ssize_t)len ? 0 : -1;
}

/*
 * A buffered reader that cuts a byte stream into lines (like CS:APP's rio).
 * One read() may bring half a line or ten lines; the bytes not used yet
 * wait in buf for the next call.
 */
struct line_reader {
    int fd;
    size_t next; /* index of the first byte not handed out yet */
    size_t end;  /* number of valid bytes in buf */
    char buf[READ_BUF_SIZE];
};

enum line_status { LINE_OK, LINE_EOF, LINE_TOO_LONG, LINE_ERROR };

/* Shared: the same text in every lesson that has it (make lint checks). */
static void line_reader_init(struct line_reader *r, int fd)
{
    r->fd = fd;
    r->next = 0;
    r->end = 0;
}

/* Refills an empty buffer: >0 bytes read, 0 end of stream, -1 error. */
static ssize_t line_reader_fill(struct line_reader *r)
{
    /* TODO(step 3): read into r->buf (retry on EINTR); on success set
     * r->next and r->end. */
    (void)r;
    return 0;
}

/*
 * Reads the next line into line (LINE_BUF_SIZE bytes), without its '\n' and
 * without a '\r' just before it; *len is its length (it may hold NUL bytes,
 * so it is not a C string). LINE_EOF: the stream ended (an unfinished last
 * line is dropped); LINE_TOO_LONG: more than LINE_LIMIT bytes.
 */
static enum line_status read_line(struct line_reader *r, char *line, size_t *len)
{
    /* TODO(step 3): copy bytes from r->buf (refilling it with
     * line_reader_fill when it is used up) into line until a '\n'; drop a
     * '\r' just before it; LINE_TOO_LONG past LINE_LIMIT bytes; LINE_EOF
     * when the stream ends; LINE_ERROR when read fails. For now: no lines. */
    (void)line;
    (void)len;
    return line_reader_fill(r) < 0 ? LINE_ERROR : LINE_EOF;
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/* Sends "Hello, <line>!\n" in one write (the line may contain NUL bytes). */
static int send_hello(int fd, const char *line, size_t len)
{
    static const char prefix[] = "Hello, ";
    static const char suffix[] = "!\n";
    char reply[REPLY_BUF_SIZE];
    size_t n = 0;

    memcpy(reply + n, prefix, sizeof prefix - 1);
    n += sizeof prefix - 1;
    memcpy(reply + n, line, len);
    n += len;
    memcpy(reply + n, suffix, sizeof suffix - 1);
    n += sizeof suffix - 1;
    return write_all(fd, reply, n);
}

/* Shared: the same text in every lesson that has it (make lint checks). */
static int is_exit_line(const char *line, size_t len)
{
    return len == 4 && memcmp(line, "exit", 4) == 0;
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/*
 * Lets each reply leave the moment it is written. By default TCP follows
 * Nagle's algorithm: a small segment waits while an earlier one is not
 * acknowledged yet, and the client's kernel delays that acknowledgement
 * (up to 40 ms on Linux) hoping to send it with data. A client that sends
 * two lines at once would get the second reply 40 ms late. An interactive
 * protocol sets TCP_NODELAY (README: "Why it is fast").
 */
static void send_without_delay(int fd, const char *peer)
{
    int one = 1;

    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) {
        /* Only slower without it: serve the client anyway. */
        log_errno("setsockopt TCP_NODELAY for %s", peer);
    }
}

/* Speaks the hello protocol on fd until the client leaves. */
static void serve_client(int fd, const char *peer)
{
    struct line_reader reader;
    char line[LINE_BUF_SIZE];
    size_t len;

    send_without_delay(fd, peer);

    /* TODO(step 2): send WELCOME with write_all; if that fails, log_errno
     * and return. */
    (void)WELCOME;
    line_reader_init(&reader, fd);
    /* TODO(step 3): for each line from read_line: LINE_EOF: return;
     * LINE_ERROR: log_errno and return; LINE_TOO_LONG: send TOO_LONG and
     * return; "exit" (is_exit_line): return; otherwise send_hello. */
    if (read_line(&reader, line, &len) == LINE_OK && !is_exit_line(line, len)) {
        (void)send_hello;
        (void)TOO_LONG;
        (void)peer;
    }
}

/* ---------- step 4: one thread per connection ---------- */

/* What a connection thread needs: its own copy, freed by the thread. */
struct connection {
    int fd;
    char peer[PEER_MAX];
};

static void *connection_thread(void *arg)
{
    struct connection *conn = arg;

    serve_client(conn->fd, conn->peer);
    if (close(conn->fd) < 0) {
        log_errno("close connection from %s", conn->peer);
    }
    fprintf(stderr, "Connection from %s closed.\n", conn->peer);
    free(conn);
    return NULL;
}

/*
 * Starts a detached thread that serves conn and frees it. The thread gets a
 * pointer to its own heap copy, never to a variable of the accept loop that
 * the next accept() would overwrite. Returns 0, or an error number.
 */
static int start_connection_thread(struct connection *conn)
{
    /* TODO(step 4): start a detached thread running connection_thread(conn)
     * (pthread_attr_setdetachstate), with SIGINT and SIGTERM blocked while
     * creating it (pthread_sigmask) so that they reach the main thread.
     * Return 0, or the error number pthread_create returned.
     * For now the accept loop serves the client itself, one at a time: */
    connection_thread(conn);
    return 0;
}

/* ---------- step 2: accept connections ---------- */

/* Shared: the same text in every lesson that has it (make lint checks). */
/*
 * Out of descriptors or memory, accept() fails again at once while the
 * pending connection waits: pause a moment instead of spinning and logging.
 */
static void pause_after_failed_accept(int err)
{
    struct timespec pause = {0, 100 * 1000 * 1000}; /* 100 ms */

    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        nanosleep(&pause, NULL);
    }
}

/*
 * Waits until a client is waiting to be accepted, or a stop signal comes.
 * Checking stop_requested and then calling accept() leaves a window: a
 * signal that lands between the two sets the flag, and accept() sleeps on
 * until the next client, maybe forever. Here the stop signals are blocked
 * everywhere but inside pselect(), which unblocks them (wait_mask) and starts
 * waiting in one step: a signal that came after the check is still pending,
 * and ends this wait at once. Returns 0 when a client waits, -1 on a signal.
 */
static int wait_for_client(int listener, const sigset_t *wait_mask)
{
    fd_set readable;

    FD_ZERO(&readable);
    FD_SET(listener, &readable); /* opened first: far below FD_SETSIZE */
    /* TODO(step 5): wait with pselect(..., wait_mask) instead: select()
     * leaves the window open. A failure other than EINTR: die_errno. */
    (void)wait_mask;
    return select(listener + 1, &readable, NULL, NULL, NULL) < 0 ? -1 : 0;
}

/* Accepts connections until SIGINT or SIGTERM, each served by a thread. */
static void serve_forever(int listener, const sigset_t *wait_mask)
{
    /* TODO(step 2): make the listener non-blocking (set_nonblocking; die_errno on
     * failure), then until stop_requested: wait_for_client (-1: a signal,
     * loop); accept a connection (on failure: EINTR means a signal and
     * EAGAIN a client that left, just loop; anything else: log_errno,
     * pause_after_failed_accept, loop); set_blocking on it; malloc a struct
     * connection, fill in fd and peer (format_address), log "Accept new
     * connection from PEER...", then start_connection_thread (on failure:
     * log, close, free). */
    (void)listener;
    (void)wait_mask;
    (void)wait_for_client;
    (void)set_nonblocking;
    (void)set_blocking;
    (void)pause_after_failed_accept;
    (void)start_connection_thread;
    not_implemented("step 2: serve_forever");
}

int main(int argc, char **argv)
{
    struct options opt = parse_options(argc, argv);
    sigset_t wait_mask;
    int listener;

    ignore_sigpipe();
    install_thread_stop_handlers(&wait_mask);
    listener = open_listener(opt.addr, opt.port);
    announce_listener(listener);
    serve_forever(listener, &wait_mask);

    /* Threads still serving clients end with the process. */
    close(listener);
    return EXIT_SUCCESS;
}
