/*
 * udp_server.c - the hello protocol over UDP: one datagram in, one datagram
 * out.
 *
 * Lesson 05 (05-udp) of sockstep. For each datagram D that arrives, the
 * server sends the datagram "Hello, D!" (no newline) back to whoever sent D.
 * There is no connection, no listen() and no accept(): one socket, bound to
 * one address and port, talks to every client.
 *
 * Build: make                (-> build/solutions/05-udp/udp_server)
 * Run:   build/solutions/05-udp/udp_server [-b ADDR] [-p PORT]
 *        (default 127.0.0.1:9999; -p 0 lets the kernel choose a free port)
 * Try:   build/solutions/05-udp/udp_client 127.0.0.1 9999 Michael
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

#define PROG "udp_server"
#define USAGE "usage: udp_server [-b ADDR] [-p PORT]"

/* Shared: the same text in every lesson that has it (make lint checks). */
/* Room for an address as format_address() writes it: "[IPv6%zone]:port". */
#define PEER_MAX 80

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
#define RECV_BUFFER_SIZE 65536

#define HELLO_PREFIX "Hello, "
#define HELLO_SUFFIX "!"
#define TOO_LONG_REPLY "Error: datagram too long"

/* Longest part of a datagram shown in the log (the rest is summarised). */
#define LOG_PREVIEW 60

static volatile sig_atomic_t stop_requested = 0;

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
/*
 * A UDP socket bound to HOST:PORT: like CS:APP's open_listenfd, try each
 * address getaddrinfo gives until one binds. No listen(), no accept(): UDP
 * has no connections to wait for. And no SO_REUSEADDR: TCP servers set it
 * to restart past TIME_WAIT, which UDP does not have; on a UDP socket it
 * would let a second server share the port silently instead of failing.
 */
static int open_udp_socket(const char *host, const char *port)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    struct addrinfo *list;
    int rc = getaddrinfo(host, port, &hints, &list);
    if (rc != 0) {
        fprintf(stderr, PROG ": cannot resolve %s: %s\n", host, gai_strerror(rc));
        exit(1);
    }
    int fd = -1;
    int saved_errno = 0;
    for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            saved_errno = errno;
            continue;
        }
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            break;
        }
        saved_errno = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(list);
    if (fd < 0) {
        errno = saved_errno;
        die_errno("cannot bind %s port %s", host, port);
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
/* SIGINT and SIGTERM only raise a flag (about all a handler may safely do);
 * the main loop sees it and stops. */
static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/*
 * Installs on_stop_signal for SIGINT and SIGTERM, then blocks both: from
 * here on they can only arrive inside the main loop's pselect(), which
 * unblocks them (with *wait_mask, the mask from before) for just as long as
 * it waits. No SA_RESTART: that pselect() must fail with EINTR when we are
 * asked to stop, so the loop gets a chance to look at the flag.
 */
static void install_stop_handlers(sigset_t *wait_mask)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) {
        die_errno("sigaction SIGINT/SIGTERM");
    }
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &stop_signals, wait_mask) < 0) {
        die_errno("sigprocmask");
    }
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
    if (pselect(fd + 1, &readable, NULL, NULL, NULL, wait_mask) < 0) {
        if (errno != EINTR)
            die_errno("pselect");
        return -1;
    }
    return 0;
}

/* The largest reply we may send back to this sender: it depends on the IP
 * version the datagram travelled on (an IPv4 client reaching an IPv6 socket
 * shows up as an IPv4-mapped address ::ffff:a.b.c.d). */
static size_t max_payload_for(const struct sockaddr_storage *sender)
{
    if (sender->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sender;
        if (!IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
            return MAX_UDP_PAYLOAD_IPV6;
    }
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
    size_t prefix = strlen(HELLO_PREFIX);
    size_t suffix = strlen(HELLO_SUFFIX);

    if (prefix + len + suffix > max_payload) {
        memcpy(reply, TOO_LONG_REPLY, strlen(TOO_LONG_REPLY));
        return strlen(TOO_LONG_REPLY);
    }
    memcpy(reply, HELLO_PREFIX, prefix);
    memcpy(reply + prefix, data, len);
    memcpy(reply + prefix + len, HELLO_SUFFIX, suffix);
    return prefix + len + suffix;
}

/* Logs one datagram on stderr: who sent it and its first bytes, escaped so
 * that network data can never play tricks on the terminal. */
static void log_datagram(const struct sockaddr_storage *sender, socklen_t sender_len,
                         const char *data, size_t len)
{
    char who[PEER_MAX];
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

    /* pselect() may say "readable" for a datagram the kernel then drops (a
     * bad checksum): non-blocking, recvfrom() fails with EAGAIN instead of
     * waiting, with the stop signals blocked, for the next one. */
    if (set_nonblocking(fd) < 0)
        die_errno("fcntl O_NONBLOCK");
    while (!stop_requested) {
        struct sockaddr_storage sender;
        socklen_t sender_len = sizeof sender;
        const struct sockaddr *to;
        ssize_t n;
        size_t reply_len;

        if (wait_for_datagram(fd, wait_mask) < 0)
            continue; /* a signal: the loop condition checks the stop flag */
        n = recvfrom(fd, data, sizeof data, 0, (struct sockaddr *)&sender, &sender_len);
        if (n < 0) {
            if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
                log_errno("recvfrom");
            continue; /* EINTR: a signal; EAGAIN: nothing there after all */
        }
        log_datagram(&sender, sender_len, data, (size_t)n);
        reply_len = make_reply(data, (size_t)n, max_payload_for(&sender), reply);
        /* A signal that interrupts sendto() leaves nothing sent: send
         * again, unless that signal asked us to stop. */
        to = (const struct sockaddr *)&sender;
        while (sendto(fd, reply, reply_len, 0, to, sender_len) < 0) {
            if (errno != EINTR) {
                log_errno("sendto");
                break;
            }
            if (stop_requested)
                break;
        }
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
    announce_listener(fd);
    serve(fd, &wait_mask);
    fputs(PROG ": stopping\n", stderr);
    close(fd);
    return 0;
}
