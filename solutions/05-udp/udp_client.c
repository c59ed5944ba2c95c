/*
 * udp_client.c - says hello to a udp_server, one datagram per name, and
 * copes with what UDP does not promise: a datagram may be lost, duplicated
 * or late.
 *
 * Lesson 05 (05-udp) of sockstep. For each NAME the client sends one
 * datagram, waits up to -t milliseconds (default 1000) for the reply
 * "Hello, NAME!", sends again up to -r more times (default 3), and prints
 * the reply on its own line. Datagrams from any other sender, and late
 * replies to an earlier name, are ignored. No reply after the last try:
 * "udp_client: no reply from HOST:PORT" and exit status 1.
 *
 * Build: make                (-> build/solutions/05-udp/udp_client)
 * Run:   build/solutions/05-udp/udp_client [-t MS] [-r RETRIES] HOST PORT NAME...
 * Try:   build/solutions/05-udp/udp_client 127.0.0.1 9999 Michael Tracy Sarah
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PROG "udp_client"
#define USAGE "usage: udp_client [-t MS] [-r RETRIES] HOST PORT NAME..."

/* Bigger than any datagram can be (65527 bytes of UDP payload at most), so
 * a reply is never cut short by our buffer. */
#define RECV_BUFFER_SIZE 65536

#define MAX_TIMEOUT_MS 3600000UL /* one hour */
#define MAX_RETRIES 1000UL

/* What became of one question. */
enum outcome {
    REPLIED,  /* the expected reply arrived (and was printed) */
    NO_REPLY, /* nothing useful before the deadline */
    REFUSED   /* the kernel says nobody listens there (ICMP unreachable) */
};

struct options {
    unsigned long timeout_ms;
    unsigned long retries;
    const char *host;
    const char *port;
};

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

/* The contract's last word when every try went unanswered. An IPv6 address
 * is shown in brackets so that the port stays readable. */
static _Noreturn void die_no_reply(const struct options *o)
{
    if (strchr(o->host, ':') != NULL)
        fprintf(stderr, PROG ": no reply from [%s]:%s\n", o->host, o->port);
    else
        fprintf(stderr, PROG ": no reply from %s:%s\n", o->host, o->port);
    exit(1);
}

/* The server refused our datagram ("Error: datagram too long"). Shown with
 * anything unprintable replaced: network bytes never go raw to a terminal. */
static _Noreturn void die_server_error(const char *reply, size_t len)
{
    size_t i;

    fputs(PROG ": the server says: ", stderr);
    for (i = 0; i < len && i < 200; i++) {
        unsigned char c = (unsigned char)reply[i];
        fputc(c >= 0x20 && c < 0x7f ? c : '?', stderr);
    }
    fputc('\n', stderr);
    exit(1);
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/* A whole decimal number from min to max: no sign, no trailing junk, no
 * overflow (strtoul alone accepts " -1" and "12abc"). */
static int parse_number(const char *text, unsigned long min, unsigned long max,
                        unsigned long *out)
{
    char *end;
    unsigned long value;

    if (text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    value = strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < min || value > max)
        return -1;
    *out = value;
    return 0;
}

static void parse_options(int argc, char **argv, struct options *o)
{
    unsigned long port;
    int opt;

    o->timeout_ms = 1000;
    o->retries = 3;
    while ((opt = getopt(argc, argv, ":t:r:")) != -1) {
        switch (opt) {
        case 't':
            if (parse_number(optarg, 1, MAX_TIMEOUT_MS, &o->timeout_ms) < 0)
                usage_error("bad timeout '%s': milliseconds from 1 to %lu", optarg,
                            MAX_TIMEOUT_MS);
            break;
        case 'r':
            if (parse_number(optarg, 0, MAX_RETRIES, &o->retries) < 0)
                usage_error("bad retry count '%s': a number from 0 to %lu", optarg,
                            MAX_RETRIES);
            break;
        case ':':
            usage_error("option -%c needs a value", optopt);
            break;
        default:
            usage_error("unknown option -%c", optopt);
        }
    }
    if (argc - optind < 3)
        usage_error("expected HOST PORT and at least one NAME");
    o->host = argv[optind];
    o->port = argv[optind + 1];
    if (parse_number(o->port, 0, 65535, &port) < 0)
        usage_error("bad port '%s': a number from 0 to 65535", o->port);
}

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

/* "Hello, NAME!": the only reply that answers NAME. */
static char *expected_reply(const char *name, size_t *len)
{
    size_t name_len = strlen(name);
    char *text = malloc(name_len + sizeof "Hello, !");

    if (text == NULL)
        die_errno("malloc");
    memcpy(text, "Hello, ", 7);
    memcpy(text + 7, name, name_len);
    memcpy(text + 7 + name_len, "!", 2);
    *len = name_len + 8;
    return text;
}

/*
 * Step 5: send one datagram. Returns -1 when the kernel reports that nobody
 * listens (a connected UDP socket may report here the ICMP "port
 * unreachable" that an earlier datagram caused).
 */
static int send_name(int fd, const char *name)
{
    /* A signal that interrupts send() leaves nothing sent: send again. */
    while (send(fd, name, strlen(name), 0) < 0) {
        if (errno == EINTR)
            continue;
        if (errno == ECONNREFUSED)
            return -1;
        die_errno("send");
    }
    /* A datagram goes whole or not at all: no partial send to loop on. */
    return 0;
}

/*
 * Step 7: is this datagram the answer to the current name? Only
 * "Hello, NAME!" is. Anything else is a late reply to an earlier name (it
 * was resent, and both copies got answered): skip it. A late copy of this
 * name's own reply is the same bytes, so it is as good as the first.
 */
static enum outcome check_reply(const char *reply, size_t len, const char *expected,
                                size_t expected_len)
{
    if (len > 7 && memcmp(reply, "Error: ", 7) == 0)
        die_server_error(reply, len);
    if (len == expected_len && memcmp(reply, expected, len) == 0)
        return REPLIED;
    return NO_REPLY;
}

/* Prints a reply on its own line. It is "Hello, NAME!" with our own NAME,
 * so it holds no bytes we did not choose. */
static void print_reply(const char *reply, size_t len)
{
    fwrite(reply, 1, len, stdout);
    putchar('\n');
    if (fflush(stdout) == EOF)
        die_errno("write to stdout");
}

/*
 * Steps 5 and 6: wait until the deadline for the reply to this name, and
 * print it. poll() bounds the wait: a bare recv() would block forever once
 * a datagram is lost. The socket is connected, so the kernel already
 * dropped datagrams from any other sender.
 */
static enum outcome wait_for_reply(int fd, const char *expected, size_t expected_len,
                                   long long deadline)
{
    char buf[RECV_BUFFER_SIZE];

    for (;;) {
        long long left = deadline - now_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN, .revents = 0};
        int ready;
        ssize_t n;

        if (left <= 0)
            return NO_REPLY;
        ready = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            die_errno("poll");
        if (ready == 0)
            continue; /* the loop head checks the deadline */
        n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == ECONNREFUSED)
            return REFUSED;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die_errno("recv");
        if (check_reply(buf, (size_t)n, expected, expected_len) == REPLIED) {
            print_reply(buf, (size_t)n);
            return REPLIED;
        }
    }
}

/*
 * Step 7: UDP never resends by itself, so we do: up to 1 + retries tries,
 * each with its own full timeout. A refusal ends the question at once:
 * resending to a port where nobody listens would not help.
 */
static enum outcome ask(int fd, const char *name, const struct options *o)
{
    size_t expected_len;
    char *expected = expected_reply(name, &expected_len);
    enum outcome result = NO_REPLY;
    unsigned long try;

    for (try = 0; try <= o->retries && result == NO_REPLY; try++) {
        if (send_name(fd, name) < 0)
            result = REFUSED;
        else
            result = wait_for_reply(fd, expected, expected_len,
                                    now_ms() + (long long)o->timeout_ms);
    }
    free(expected);
    return result;
}

/*
 * Step 5: resolve HOST and PORT, then, like CS:APP's open_clientfd, try each
 * address in turn. connect() on a UDP socket sends nothing: it only records
 * the peer, so that send() needs no address and the kernel hands us only
 * datagrams coming from that very address and port. Because it sends
 * nothing, connect() cannot tell whether anybody listens: the first question
 * does. If the kernel reports "refused" (an ICMP port unreachable came back,
 * for example from ::1 when the server only listens on 127.0.0.1), the next
 * address is tried. Returns the socket once the first name got its reply.
 */
static int connect_and_ask_first(const char *name, const struct options *o)
{
    struct addrinfo hints;
    struct addrinfo *list;
    struct addrinfo *ai;
    enum outcome result = REFUSED;
    int connect_errno = 0;
    int asked = 0;
    int fd = -1;
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(o->host, o->port, &hints, &list);
    if (rc != 0) {
        fprintf(stderr, PROG ": cannot resolve %s: %s\n", o->host, gai_strerror(rc));
        exit(1);
    }
    for (ai = list; ai != NULL && result == REFUSED; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            connect_errno = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            connect_errno = errno;
            close(fd);
            fd = -1;
            continue;
        }
        asked = 1;
        result = ask(fd, name, o);
        if (result != REPLIED) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(list);
    if (!asked) {
        errno = connect_errno;
        die_errno("connect %s:%s", o->host, o->port);
    }
    if (fd < 0)
        die_no_reply(o);
    return fd;
}

int main(int argc, char **argv)
{
    struct options o;
    int fd;
    int i;

    parse_options(argc, argv, &o);
    fd = connect_and_ask_first(argv[optind + 2], &o);
    for (i = optind + 3; i < argc; i++) {
        if (ask(fd, argv[i], &o) != REPLIED) {
            close(fd);
            die_no_reply(&o);
        }
    }
    close(fd);
    return 0;
}
