/*
 * rudp_recv.c - receives one file sent by rudp_send over UDP, reliably:
 * the receiving half of a small TCP built by hand (sockstep lesson 09).
 *
 *   rudp_recv [-b ADDR] [-p PORT] [-t SECONDS] -o FILE
 *
 * Prints "listening on ADDR:PORT", then takes the first datagram whose
 * checksum holds as the start of the transfer and its source as the
 * sender; datagrams from anyone else, and datagrams whose checksum fails,
 * are dropped. Packets that arrive out of order are kept until the gap
 * before them is filled; every packet is answered with a cumulative
 * acknowledgement (the next packet expected) that also names the packet
 * answered. The bytes go to a temporary file beside FILE, renamed to FILE
 * only once the FIN and everything before it arrived. The receiver then
 * confirms the end and lingers (at most 5 s, like TCP's TIME_WAIT) to
 * repeat its confirmation should it be lost, and exits 0. Once a transfer
 * began, no datagram for -t seconds (default 10): "rudp_recv: the sender
 * went silent", exit 1, no FILE written and no temporary file left.
 * SIGINT/SIGTERM: exit 0 before a transfer began, 1 during one.
 *
 * Build:  make   (-> build/lessons/09-reliable-udp/rudp_recv)
 * Run:    build/lessons/09-reliable-udp/rudp_recv -p 9999 -o COPY
 *         then: build/lessons/09-reliable-udp/rudp_send 127.0.0.1 9999 FILE
 *
 * THE STARTER: this is your copy. Each TODO(step N) is a step of
 * lessons/09-reliable-udp/README.md; `make check LESSON=09` grades it.
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PROG "rudp_recv"
#define USAGE "usage: rudp_recv [-b ADDR] [-p PORT] [-t SECONDS] -o FILE"

/* Shared: the same text in every lesson that has it (make lint checks). */
/* Room for an address as format_address() writes it: "[IPv6%zone]:port". */
#define PEER_MAX 80

static volatile sig_atomic_t stop_requested;

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

/* ---- the packet format (the same block in rudp_send.c and rudp_recv.c) --
 *
 *   byte 0      type: 1 DATA, 2 ACK, 3 FIN
 *   byte 1      reserved, always 0
 *   bytes 2-3   payload length, 0..1200 (DATA: 1..1200, ACK and FIN: 0)
 *   bytes 4-7   sequence number (a packet number, from 0)
 *   bytes 8-11  cumulative acknowledgement: the next packet expected
 *   bytes 12-15 CRC-32 of the whole packet, computed with these 4 bytes 0
 *   bytes 16-   payload
 *
 * Every number is big-endian (network byte order). */

enum {
    HEADER_SIZE = 16,
    MAX_PAYLOAD = 1200, /* fits a 1280-byte IPv6 minimum MTU with headers */
    MAX_PACKET = HEADER_SIZE + MAX_PAYLOAD,
};

enum packet_type { PKT_DATA = 1, PKT_ACK = 2, PKT_FIN = 3 };

struct packet {
    uint8_t type;
    uint16_t len;
    uint32_t seq;
    uint32_t ack;
    const uint8_t *payload; /* len bytes; points into the datagram */
};

/* CRC-32 (IEEE 802.3, as in zlib and Ethernet), four bits at a time from a
 * 16-entry table: small enough to read, fast enough for 100 Mbit/s. */
static uint32_t crc32_update(uint32_t crc, const uint8_t *bytes, size_t n)
{
    /* TODO(step 1): CRC-32 as in zlib: start from ~crc; for each byte, xor
     * it into the low bits, then twice: crc = (crc >> 4) ^ table[crc & 0x0f]
     * (the table above holds the CRC of each 4-bit value); return ~crc.
     * Check: the CRC-32 of the 9 bytes "123456789" is 0xcbf43926. */
    static const uint32_t table[16] = {
        0x00000000UL, 0x1db71064UL, 0x3b6e20c8UL, 0x26d930acUL,
        0x76dc4190UL, 0x6b6b51f4UL, 0x4db26158UL, 0x5005713cUL,
        0xedb88320UL, 0xf00f9344UL, 0xd6d6a3e8UL, 0xcb61b38cUL,
        0x9b64c2b0UL, 0x86d3d2d4UL, 0xa00ae278UL, 0xbdbdf21cUL,
    };
    (void)table;
    (void)crc;
    (void)bytes;
    (void)n;
    not_implemented("step 1: crc32_update");
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/* The checksum of a packet: its header with the checksum field zero, then
 * its payload. */
static uint32_t packet_checksum(const uint8_t *header, const uint8_t *payload, size_t len)
{
    static const uint8_t zero[4] = {0, 0, 0, 0};
    uint32_t crc = crc32_update(0, header, 12);
    crc = crc32_update(crc, zero, sizeof zero);
    return crc32_update(crc, payload, len);
}

/* Shared: the same text in every lesson that has it (make lint checks). */
static void put_u16(uint8_t *at, uint16_t v)
{
    at[0] = (uint8_t)(v >> 8);
    at[1] = (uint8_t)v;
}

/* Shared: the same text in every lesson that has it (make lint checks). */
static void put_u32(uint8_t *at, uint32_t v)
{
    at[0] = (uint8_t)(v >> 24);
    at[1] = (uint8_t)(v >> 16);
    at[2] = (uint8_t)(v >> 8);
    at[3] = (uint8_t)v;
}

/* Shared: the same text in every lesson that has it (make lint checks). */
static uint16_t get_u16(const uint8_t *at)
{
    return (uint16_t)(at[0] << 8 | at[1]);
}

/* Shared: the same text in every lesson that has it (make lint checks). */
static uint32_t get_u32(const uint8_t *at)
{
    return (uint32_t)at[0] << 24 | (uint32_t)at[1] << 16 | (uint32_t)at[2] << 8 | at[3];
}

/* Writes p into out (MAX_PACKET bytes at least); returns its size. */
static size_t encode_packet(const struct packet *p, uint8_t *out)
{
    /* TODO(step 1): lay the packet out as the table above says: type,
     * a 0 byte, the length (put_u16), seq and ack (put_u32), the payload
     * at HEADER_SIZE; then the checksum (packet_checksum) at byte 12.
     * Return HEADER_SIZE + the length. */
    (void)p;
    (void)out;
    (void)put_u16;
    (void)put_u32;
    not_implemented("step 1: encode_packet");
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/* DATA carries 1 to 1200 bytes; ACK and FIN carry none. */
static bool length_fits_type(uint8_t type, uint16_t len)
{
    switch (type) {
    case PKT_DATA:
        return len >= 1 && len <= MAX_PAYLOAD;
    case PKT_ACK:
    case PKT_FIN:
        return len == 0;
    default:
        return false;
    }
}

/* Reads a datagram of n bytes into p. Returns -1 for anything that is not
 * a well-formed packet whose checksum holds: the caller drops it. */
static int decode_packet(const uint8_t *buf, size_t n, struct packet *p)
{
    /* TODO(step 1): return -1 unless n is from HEADER_SIZE to MAX_PACKET;
     * read the fields (get_u16, get_u32) into p, p->payload = buf +
     * HEADER_SIZE; return -1 unless byte 1 is 0, the length field is
     * n - HEADER_SIZE, length_fits_type() agrees, and the checksum at
     * byte 12 equals packet_checksum(); else return 0. */
    (void)buf;
    (void)n;
    (void)p;
    (void)get_u16;
    (void)get_u32;
    (void)length_fits_type;
    (void)packet_checksum;
    return -1;
}

enum {
    RECV_WINDOW = 1024, /* out-of-order packets kept (rudp_send's largest -w) */
    TICK_MS = 250,      /* longest wait: bounds the reaction to a signal */
};

#define LINGER_US 5000000LL /* how long the end is confirmed again, at most */

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
    long long timeout_us;
    const char *path;
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

/* Shared: the same text in every lesson that has it (make lint checks). */
/* Seconds, a positive number ("10", "0.5"), at most an hour. */
static bool parse_seconds(const char *text, long long *us)
{
    if ((*text < '0' || *text > '9') && *text != '.') {
        return false;
    }
    char *end;
    errno = 0;
    double value = strtod(text, &end);
    if (errno != 0 || *end != '\0' || !(value > 0) || value > 3600) {
        return false;
    }
    *us = (long long)(value * 1e6);
    return *us > 0;
}

static struct options parse_options(int argc, char **argv)
{
    struct options opt = {"127.0.0.1", "9999", 10000000LL, NULL};
    int c;
    opterr = 0; /* we print our own one-line message */
    while ((c = getopt(argc, argv, ":b:p:t:o:")) != -1) {
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
        case 't':
            if (!parse_seconds(optarg, &opt.timeout_us)) {
                usage_error("bad timeout '%s': expected a positive number of seconds",
                            optarg);
            }
            break;
        case 'o':
            opt.path = optarg;
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
    if (opt.path == NULL || opt.path[0] == '\0') {
        usage_error("expected -o FILE");
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

/* Shared: the same text in every lesson that has it (make lint checks). */
/* Microseconds on a clock that never jumps (unlike the time of day). */
static long long now_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0) {
        die_errno("clock_gettime");
    }
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
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

/* Same address family, address and port. */
static bool same_peer(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    /* TODO(step 1): true if a and b have the same family, address and
     * port: compare sin_port and sin_addr (AF_INET) or sin6_port and
     * sin6_addr (AF_INET6, with memcmp). */
    (void)a;
    (void)b;
    return true;
}

/* ---- the output file --------------------------------------------------- */

/* A file that appears whole or not at all: the bytes go to a temporary
 * file in FILE's own folder (rename() is atomic only within a file
 * system), renamed to FILE at the end. */
struct output {
    const char *path;
    char *temp_path;
    int fd;
};

/* Step 7: made before the transfer, so that an unusable folder is
 * reported at once, not after a whole transfer. */
static void open_output(struct output *out, const char *path)
{
    /* TODO(step 7): write to a temporary file beside FILE, never to FILE
     * itself: out->temp_path = malloc'ed "PATH.rudp-XXXXXX", out->fd =
     * mkstemp(out->temp_path); die_errno() if that fails. For now the bytes go
     * straight into FILE, so a failed transfer leaves half a file. */
    out->path = path;
    out->temp_path = NULL;
    out->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (out->fd < 0) {
        die_errno("open %s", path);
    }
}

/* On any failure: no temporary file left behind, FILE untouched. */
static void discard_output(struct output *out)
{
    /* TODO(step 7): also unlink(out->temp_path) and free it (set it to
     * NULL), so that a failure leaves no temporary file and FILE as it
     * was. */
    if (out->fd >= 0) {
        close(out->fd);
        out->fd = -1;
    }
}

/* Prints the message (with errno's text when `with_errno`), discards the
 * output and exits 1. */
_Noreturn static void abandon(struct output *out, bool with_errno, const char *what)
{
    int saved = errno;
    discard_output(out);
    if (with_errno) {
        fprintf(stderr, PROG ": %s: %s\n", what, strerror(saved));
    } else {
        fprintf(stderr, PROG ": %s\n", what);
    }
    exit(1);
}

/* write() until every byte is taken; returns -1 on an error or a stop. A
 * stop is looked at before every write, the first one and each after a
 * short count or an EINTR, so that a stop ends a long write too. */
static int write_until_stopped(int fd, const uint8_t *bytes, size_t n)
{
    while (n > 0) {
        if (stop_requested) {
            errno = EINTR;
            return -1;
        }
        ssize_t done = write(fd, bytes, n);
        if (done < 0 && errno == EINTR) {
            continue; /* the loop head looks at the stop flag */
        }
        if (done < 0) {
            return -1;
        }
        bytes += done;
        n -= (size_t)done;
    }
    return 0;
}

/* The mode FILE will have: an existing FILE's own (a private file stays
 * private), else what the umask allows a new file. */
static mode_t output_mode(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        return st.st_mode & 07777;
    }
    mode_t mask = umask(0);
    umask(mask);
    return 0666 & ~mask;
}

/* Step 7: everything arrived: on disk first (fsync), then in place. */
static void commit_output(struct output *out)
{
    /* TODO(step 7): fchmod() the temporary file to output_mode(FILE),
     * fsync() it, close() it, then rename() it to FILE (abandon() if any
     * of these fails), and free out->temp_path. */
    (void)output_mode;
    close(out->fd);
    out->fd = -1;
}

/* ---- the receiver's state ---------------------------------------------- */

/* A packet that came before its turn, kept until the gap is filled. */
struct early {
    bool present;
    uint16_t len;
    uint8_t payload[MAX_PAYLOAD];
};

struct receiver {
    int sock;
    struct output out;
    bool started;                 /* a first good datagram came */
    struct sockaddr_storage peer; /* ... from this sender */
    socklen_t peer_len;
    uint32_t next; /* the next packet expected in order */
    bool fin_seen;
    uint32_t fin_seq;    /* the FIN's number: the end */
    bool complete;       /* FILE is in place */
    struct early *early; /* early[seq % RECV_WINDOW] */
    long long heard_us;  /* the sender's last datagram */
};

/* ---- receiving --------------------------------------------------------- */

/* Step 3: the answer to every packet: "I have everything before `next`"
 * (cumulative), and which packet this answers. A lost answer is not
 * repeated: the sender's timer sends the packet again, and that is
 * answered. */
static void send_ack(struct receiver *r, uint32_t answered)
{
    struct packet p = {PKT_ACK, 0, answered, r->next, NULL};
    uint8_t datagram[MAX_PACKET];
    size_t n = encode_packet(&p, datagram);
    while (sendto(r->sock, datagram, n, 0, (struct sockaddr *)&r->peer, r->peer_len) <
           0) {
        if (errno == EINTR && !stop_requested) {
            continue;
        }
        if (errno != EINTR && errno != ENOBUFS && errno != ECONNREFUSED) {
            abandon(&r->out, true, "sendto");
        }
        return; /* a lost ack is like any other: the sender asks again */
    }
}

/* TODO(step 4): write deliver_in_order(struct receiver *r) here: the
 * packets whose turn has come go to the file, in order. While
 * r->early[r->next % RECV_WINDOW] is present: write its payload to
 * r->out.fd (write_until_stopped; abandon() on an error), mark it absent
 * and move r->next on. */

/* Steps 3 and 4: keep a new packet (even one that came early); a copy of
 * one we have, or one beyond what we can keep, changes nothing. */
static void accept_data(struct receiver *r, const struct packet *p)
{
    /* TODO(step 3): a packet before r->next is a copy of one already
     * written: do not write it again. Write the packet whose turn it is
     * (p->seq == r->next) and move r->next on; for now (Go-Back-N) drop
     * the others, the sender will send them again.
     * TODO(step 4): keep a packet that came early (r->next < seq <
     * r->next + RECV_WINDOW, before the FIN) in r->early[seq %
     * RECV_WINDOW], then deliver_in_order().
     * For now every packet is written as it comes, and the ack says
     * "everything up to this one arrived", which is not true. */
    if (write_until_stopped(r->out.fd, p->payload, p->len) < 0) {
        abandon(&r->out, true, "write the temporary file");
    }
    r->next = p->seq + 1;
}

/* Step 6: the FIN says where the file ends; it is complete once everything
 * before it arrived. */
static void accept_fin(struct receiver *r, const struct packet *p)
{
    if (!r->fin_seen && p->seq >= r->next) {
        r->fin_seen = true;
        r->fin_seq = p->seq;
    }
}

/* A packet of the transfer, answered. Is the file complete now? */
static void handle_packet(struct receiver *r, const struct packet *p)
{
    bool in_window = p->seq < r->next || p->seq - r->next < RECV_WINDOW;
    if (p->type == PKT_DATA) {
        accept_data(r, p);
    } else if (p->type == PKT_FIN) {
        accept_fin(r, p);
    } else {
        return; /* an ACK is the sender saying it is done: see linger() */
    }
    if (!r->complete && r->fin_seen && r->next == r->fin_seq) {
        commit_output(&r->out);
        r->complete = true;
        r->next = r->fin_seq + 1; /* the FIN itself counts, as in TCP */
    }
    if (in_window) {
        send_ack(r, p->seq);
    }
}

/* Step 1: one datagram, if it is a good packet from our sender. The first
 * good one chooses the sender. Returns true if it was taken. */
static bool receive_one(struct receiver *r, struct packet *p, uint8_t *datagram)
{
    struct sockaddr_storage from;
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(r->sock, datagram, MAX_PACKET + 1, MSG_DONTWAIT,
                         (struct sockaddr *)&from, &from_len);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
            errno == ECONNREFUSED) {
            return false;
        }
        abandon(&r->out, true, "recvfrom");
    }
    if (decode_packet(datagram, (size_t)n, p) < 0) {
        return false; /* damaged or not ours: as if it never came */
    }
    if (!r->started) {
        if (p->type == PKT_ACK) {
            return false; /* a transfer starts with DATA or FIN */
        }
        r->started = true;
        r->peer = from;
        r->peer_len = from_len;
    } else if (!same_peer(&from, &r->peer)) {
        return false;
    }
    r->heard_us = now_us();
    return true;
}

/* Waits up to `ms` for a datagram; false on a timeout or a signal. */
static bool wait_readable(struct receiver *r, int ms)
{
    struct pollfd pfd = {.fd = r->sock, .events = POLLIN, .revents = 0};
    int ready = poll(&pfd, 1, ms);
    if (ready < 0 && errno != EINTR) {
        abandon(&r->out, true, "poll");
    }
    return ready > 0;
}

/* Step 2: a stop before the transfer began is a normal end (exit 0);
 * during one it is a failure (exit 1), and FILE is not written. */
static void stop_if_requested(struct receiver *r)
{
    /* TODO(step 2): if stop_requested is set: before the transfer began
     * (!r->started) discard the output and exit(0); during one, abandon()
     * with "interrupted" (exit 1, no FILE). */
    (void)r;
}

/* Step 6: a sender that has gone (crashed, unplugged) would leave us
 * waiting for ever: -t seconds without a datagram end the transfer. */
static void give_up_if_silent(struct receiver *r, long long timeout_us)
{
    /* TODO(step 6): once started, if nothing came from the sender for
     * timeout_us (now_us() - r->heard_us), abandon() with "the sender went
     * silent". */
    (void)r;
    (void)timeout_us;
}

/* Steps 2 to 6: until FILE is complete. */
static void receive_transfer(struct receiver *r, long long timeout_us)
{
    uint8_t datagram[MAX_PACKET + 1];
    while (!r->complete) {
        stop_if_requested(r);
        give_up_if_silent(r, timeout_us);
        if (!wait_readable(r, TICK_MS)) {
            continue;
        }
        struct packet p;
        while (!r->complete && receive_one(r, &p, datagram)) {
            handle_packet(r, &p);
        }
    }
}

/* Step 6: the end is confirmed, but that confirmation may be lost: the
 * sender would then send its FIN again, and nobody would answer. So stay
 * a while and answer it, as TCP's TIME_WAIT does, until the sender says it
 * is done or LINGER_US passed. */
static void linger(struct receiver *r)
{
    /* TODO(step 6): for at most LINGER_US, answer every packet of the
     * sender again (send_ack) while waiting (wait_readable with TICK_MS at
     * most, receive_one), and return early on a stop request or on the
     * sender's goodbye: an ACK whose ack is r->fin_seq + 1. */
    (void)r;
}

int main(int argc, char **argv)
{
    struct options opt = parse_options(argc, argv);
    install_signal_handlers();
    struct receiver r = {.early = calloc(RECV_WINDOW, sizeof(struct early))};
    if (r.early == NULL) {
        die_errno("calloc");
    }
    r.sock = open_udp_socket(opt.host, opt.port);
    announce_listener(r.sock);
    open_output(&r.out, opt.path);
    receive_transfer(&r, opt.timeout_us);
    linger(&r);
    free(r.early);
    close(r.sock);
    return 0;
}
