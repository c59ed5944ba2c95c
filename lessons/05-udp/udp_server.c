/*
 * udp_server.c - the hello protocol over UDP: one datagram in, one datagram
 * out.
 *
 * Lesson 05 (05-udp) of sockstep. For each datagram D that arrives, the
 * server sends the datagram "Hello, D!" (no newline) back to whoever sent D.
 * There is no connection, no listen() and no accept(): one socket, bound to
 * one address and port, talks to every client.
 *
 * This is the starter: the steps of lessons/05-udp/README.md are cut out
 * and marked TODO(step N). It compiles and runs, and does nothing useful
 * until you fill them in; `make check LESSON=05` grades it.
 *
 * Build: make                (-> build/lessons/05-udp/udp_server)
 * Run:   build/lessons/05-udp/udp_server [-b ADDR] [-p PORT]
 *        (default 127.0.0.1:9999; -p 0 lets the kernel choose a free port)
 * Try:   build/lessons/05-udp/udp_client 127.0.0.1 9999 Michael
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define USAGE "usage: udp_server [-b ADDR] [-p PORT]"

/*
 * The largest UDP payload: the IP length field is 16 bits (65535 bytes).
 * IPv4 takes 20 bytes of IP header and 8 of UDP header: 65507 left.
 * IPv6 does not count its 40-byte header in that field: 65535 - 8 = 65527.
 */
#define MAX_UDP_PAYLOAD_IPV4 65507
#define MAX_UDP_PAYLOAD_IPV6 65527

/*
 * Bigger than any datagram can be, so recvfrom() never cuts one short. With a
 * smaller buffer the kernel would silently throw away the end of a long
 * datagram: UDP gives you one datagram per call, never "the rest" later.
 */
/* TODO(step 3): 1024 bytes is what the original tutorial read at a time.
 * A UDP datagram may be much longer: make the buffer big enough for any. */
#define RECV_BUFFER_SIZE 1024

#define HELLO_PREFIX "Hello, "
#define HELLO_SUFFIX "!"
#define TOO_LONG_REPLY "Error: datagram too long"

/* Room for a numeric host (an IPv6 address may carry a %scope suffix) and
 * a port: NI_MAXHOST and NI_MAXSERV are not POSIX. */
#define HOST_TEXT_SIZE 128
#define PORT_TEXT_SIZE 8
#define ADDRESS_TEXT_SIZE (HOST_TEXT_SIZE + PORT_TEXT_SIZE + 4)

/* Longest part of a datagram shown in the log (the rest is summarised). */
#define LOG_PREVIEW 60

static volatile sig_atomic_t stop_requested = 0;

static _Noreturn void die(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    fputs("udp_server: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s\n", strerror(saved));
    exit(1);
}

static _Noreturn void usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("udp_server: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (%s)\n", USAGE);
    exit(2);
}

/* A port is a whole number from 0 to 65535, nothing else (no sign, no
 * trailing junk): parsed like netcat does, strtoul plus checks. */
static int parse_port(const char *text)
{
    char *end;
    unsigned long value;

    if (text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    value = strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || value > 65535)
        return -1;
    return (int)value;
}

/* Prints ADDR:PORT (IPv6 as [ADDR]:PORT) for a socket address. */
static void format_address(const struct sockaddr *sa, socklen_t len, char *out,
                           size_t out_size)
{
    char host[HOST_TEXT_SIZE];
    char port[PORT_TEXT_SIZE];
    int rc = getnameinfo(sa, len, host, sizeof host, port, sizeof port,
                         NI_NUMERICHOST | NI_NUMERICSERV);

    if (rc != 0)
        snprintf(out, out_size, "(unknown address: %s)", gai_strerror(rc));
    else if (sa->sa_family == AF_INET6)
        snprintf(out, out_size, "[%s]:%s", host, port);
    else
        snprintf(out, out_size, "%s:%s", host, port);
}

/*
 * Step 1: a UDP socket bound to ADDR:PORT. Like CS:APP's open_listenfd, try
 * each address getaddrinfo gives until one binds. No listen(), no accept():
 * UDP has no connections to wait for. And no SO_REUSEADDR: TCP servers set
 * it to restart past TIME_WAIT, which UDP does not have; on a UDP socket it
 * would let a second server share the port silently instead of failing.
 */
static int open_udp_socket(const char *addr, const char *port)
{
    /* TODO(step 1): resolve addr and port with getaddrinfo() (hints:
     * AF_UNSPEC, SOCK_DGRAM, AI_PASSIVE | AI_NUMERICSERV; report a failure
     * with gai_strerror and exit 1). Try each address in turn: socket(),
     * then bind(); keep the first that binds, close the others. Free the
     * list on every path. If none binds, die("bind %s:%s", addr, port) with
     * errno from the last failure (it names "Address already in use"). */
    (void)addr;
    (void)port;
    fputs("udp_server: not implemented yet (step 1)\n", stderr);
    exit(1);
}

/* Tells the tests (and you) where we are: the port may have been chosen by
 * the kernel (-p 0), so ask the socket. Flushed: stdout may be a pipe. */
static void print_listening(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char where[ADDRESS_TEXT_SIZE];

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        die("getsockname");
    format_address((struct sockaddr *)&ss, len, where, sizeof where);
    printf("listening on %s\n", where);
    if (fflush(stdout) == EOF)
        die("write to stdout");
}

static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static void handle_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/*
 * Step 4: SIGINT and SIGTERM set a flag. No SA_RESTART: the blocked
 * recvfrom() must return with EINTR so the loop sees the flag at once.
 */
static void install_stop_handlers(sigset_t *wait_mask)
{
    /* TODO(step 4): sigaction() for SIGINT and SIGTERM with
     * handle_stop_signal, an empty sa_mask and sa_flags = 0 (NOT
     * SA_RESTART); check each call (die("sigaction")). Then block both
     * with sigprocmask(SIG_BLOCK, ..., wait_mask): the old mask, which
     * wait_for_datagram gives to pselect. Until then a signal kills the
     * server with the default action. */
    (void)handle_stop_signal;
    sigemptyset(wait_mask);
}

/*
 * Step 4: waits until a datagram is there, or a stop signal comes. Checking
 * stop_requested and then calling recvfrom() leaves a window: a signal that
 * lands between the two sets the flag, and recvfrom() sleeps on until the
 * next datagram, maybe forever. The stop signals are blocked everywhere but
 * inside pselect(), which unblocks them and starts waiting in one step: a
 * signal that came after the check is still pending, and ends the wait at
 * once. Returns 0 when a datagram waits, -1 on a signal.
 */
static int wait_for_datagram(int fd, const sigset_t *wait_mask)
{
    fd_set readable;

    FD_ZERO(&readable);
    FD_SET(fd, &readable); /* opened first: far below FD_SETSIZE */
    /* TODO(step 4): wait with pselect(..., wait_mask) instead: select()
     * leaves the window open. A failure other than EINTR: die("pselect"). */
    (void)wait_mask;
    return select(fd + 1, &readable, NULL, NULL, NULL) < 0 ? -1 : 0;
}

/* The largest reply we may send back to this sender: it depends on the IP
 * version the datagram travelled on (an IPv4 client reaching an IPv6 socket
 * shows up as an IPv4-mapped address ::ffff:a.b.c.d). */
static size_t max_payload_for(const struct sockaddr_storage *sender)
{
    /* TODO(step 3): return MAX_UDP_PAYLOAD_IPV6 for an IPv6 sender (but not
     * for an IPv4-mapped one: IN6_IS_ADDR_V4MAPPED), else the IPv4 limit. */
    (void)sender;
    return MAX_UDP_PAYLOAD_IPV4;
}

/*
 * Steps 2 and 3: build the reply to one datagram into reply (at least
 * RECV_BUFFER_SIZE + 8 bytes); returns its length. A reply that would not
 * fit in one datagram back to this sender becomes an error message instead:
 * UDP cannot split it, and sendto() would fail with EMSGSIZE.
 */
static size_t make_reply(const char *data, size_t len, size_t max_payload, char *reply)
{
    /* TODO(step 2): copy HELLO_PREFIX, the len bytes of data (memcpy: a
     * datagram may hold a NUL byte) and HELLO_SUFFIX into reply, and return
     * the reply's length. */
    /* TODO(step 3): before that, if the reply would be longer than
     * max_payload, put TOO_LONG_REPLY into reply instead. */
    (void)data;
    (void)len;
    (void)max_payload;
    (void)reply;
    return 0;
}

/* Logs one datagram on stderr: who sent it and its first bytes, escaped so
 * that network data can never play tricks on the terminal. */
static void log_datagram(const struct sockaddr_storage *sender, socklen_t sender_len,
                         const char *data, size_t len)
{
    char who[ADDRESS_TEXT_SIZE];
    char shown[LOG_PREVIEW * 4 + 1];
    size_t used = 0;
    size_t i;

    format_address((const struct sockaddr *)sender, sender_len, who, sizeof who);
    for (i = 0; i < len && i < LOG_PREVIEW; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
            shown[used++] = (char)c;
        else
            used += (size_t)snprintf(shown + used, sizeof shown - used, "\\x%02x", c);
    }
    shown[used] = '\0';
    fprintf(stderr, "Datagram from %s: '%s'%s (%zu bytes)\n", who, shown,
            len > LOG_PREVIEW ? "..." : "", len);
}

/*
 * Step 2: one socket serves everybody. recvfrom() hands us one whole
 * datagram and the address it came from; sendto() sends the reply there.
 * A failure concerns one datagram only: log it and go on serving.
 */
static void serve(int fd, const sigset_t *wait_mask)
{
    char data[RECV_BUFFER_SIZE];
    char reply[RECV_BUFFER_SIZE + sizeof HELLO_PREFIX + sizeof HELLO_SUFFIX];

    while (!stop_requested) {
        struct sockaddr_storage sender;
        socklen_t sender_len = sizeof sender;
        ssize_t n = 0;
        size_t reply_len;

        /* TODO(step 2): before the loop, make fd non-blocking
         * (set_nonblocking; die on failure). In the loop: wait_for_datagram
         * (-1: a signal, continue); n = recvfrom() one datagram into data,
         * with the sender's address in sender and sender_len. On an error,
         * log it (unless errno is EINTR, a signal, or EAGAIN, nothing there
         * after all) and continue. Then delete the lines below. */
        (void)wait_mask;
        (void)wait_for_datagram;
        (void)set_nonblocking;
        fputs("udp_server: not implemented yet (step 2)\n", stderr);
        exit(1);

        log_datagram(&sender, sender_len, data, (size_t)n);
        reply_len = make_reply(data, (size_t)n, max_payload_for(&sender), reply);
        /* TODO(step 2): sendto() reply_len bytes of reply to the sender.
         * EINTR (a signal came, nothing was sent): send again, unless
         * stop_requested is set. On another error, log it and go on: one
         * bad datagram must not stop the server. Then delete the two
         * lines below. */
        (void)reply_len;
        (void)fd;
    }
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1";
    const char *port = "9999";
    sigset_t wait_mask;
    int opt;
    int fd;

    while ((opt = getopt(argc, argv, ":b:p:")) != -1) {
        switch (opt) {
        case 'b':
            addr = optarg;
            break;
        case 'p':
            if (parse_port(optarg) < 0)
                usage_error("bad port '%s': a number from 0 to 65535", optarg);
            port = optarg;
            break;
        case ':':
            usage_error("option -%c needs a value", optopt);
            break;
        default:
            usage_error("unknown option -%c", optopt);
        }
    }
    if (optind != argc)
        usage_error("unexpected argument '%s'", argv[optind]);

    /* Before the listening line: whoever reads it may signal us at once. */
    install_stop_handlers(&wait_mask);
    fd = open_udp_socket(addr, port);
    print_listening(fd);
    serve(fd, &wait_mask);
    fputs("udp_server: stopping\n", stderr);
    close(fd);
    return 0;
}
