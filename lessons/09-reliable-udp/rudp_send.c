/*
 * rudp_send.c - sends one file over UDP, reliably: the sending half of a
 * small TCP built by hand (sockstep lesson 09).
 *
 *   rudp_send [-v] [-w WINDOW] [-t SECONDS] HOST PORT FILE
 *
 * The file is cut into packets of at most 1200 bytes, numbered from 0, and
 * followed by a FIN packet. Up to WINDOW packets (default 64) are in flight
 * at once; the receiver acknowledges cumulatively ("I have everything
 * before N") and names the packet that made it answer, so the sender also
 * learns which later packets arrived. A packet is sent again when its
 * retransmission timer runs out (RFC 6298: the timeout follows the measured
 * round-trip time, doubles after each timeout, and is never measured on a
 * packet that was sent twice: Karn's rule), or at once when three packets
 * sent after it have arrived and it has not. Exit 0 only once every byte
 * and the FIN are acknowledged. No acknowledgement for -t seconds (default
 * 10): "rudp_send: no reply from HOST:PORT", exit 1. -v logs every
 * retransmission with the timeout then in force.
 *
 * Build:  make   (-> build/lessons/09-reliable-udp/rudp_send)
 * Run:    build/lessons/09-reliable-udp/rudp_send 127.0.0.1 9999 FILE
 *         (start build/lessons/09-reliable-udp/rudp_recv -o COPY first)
 *
 * THE STARTER: this is your copy. Each TODO(step N) is a step of
 * lessons/09-reliable-udp/README.md; `make check LESSON=09` grades it.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
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

#define PROG "rudp_send"
#define USAGE "usage: rudp_send [-v] [-w WINDOW] [-t SECONDS] HOST PORT FILE"

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
    DEFAULT_WINDOW = 64,
    MAX_WINDOW = 1024, /* the receiver keeps this many out-of-order packets */
    REORDER_LIMIT = 3, /* later packets that must arrive before one is lost */
    TICK_MS = 250,     /* longest wait: bounds the reaction to a signal */
    CLOSE_COPIES = 3,  /* "I am done" is sent this many times (it may be lost) */
    RECV_BATCH = 256,  /* acknowledgements read per turn */
};

/* RFC 6298's constants, in microseconds. The RFC's 1 s floor and 60 s
 * ceiling suit connections that live for hours on the Internet; in the lab
 * a 20 ms floor lets the timer show that it follows the path, and a 1 s
 * ceiling leaves a sender about ten tries within -t's 10 s before it gives
 * up, even after the back-off peaked. */
#define RTO_INITIAL_US 1000000LL
#define RTO_MIN_US 20000LL
#define RTO_MAX_US 1000000LL
#define CLOCK_GRANULARITY_US 1000LL

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
/* Prints "PROG: MESSAGE" on stderr and exits 1: a failure that has no errno
 * behind it (a bad reply, a timeout). */
static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
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
    unsigned window;
    long long timeout_us;
    bool verbose;
    const char *host;
    const char *port;
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

static bool parse_window(const char *text, unsigned *window)
{
    if (*text < '0' || *text > '9') {
        return false;
    }
    char *end;
    errno = 0;
    unsigned long value = strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < 1 || value > MAX_WINDOW) {
        return false;
    }
    *window = (unsigned)value;
    return true;
}

static struct options parse_options(int argc, char **argv)
{
    struct options opt = {DEFAULT_WINDOW, 10000000LL, false, NULL, NULL, NULL};
    int c;
    opterr = 0; /* we print our own one-line message */
    while ((c = getopt(argc, argv, ":vw:t:")) != -1) {
        switch (c) {
        case 'v':
            opt.verbose = true;
            break;
        case 'w':
            if (!parse_window(optarg, &opt.window)) {
                usage_error("bad window '%s': expected a number from 1 to %d", optarg,
                            MAX_WINDOW);
            }
            break;
        case 't':
            if (!parse_seconds(optarg, &opt.timeout_us)) {
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
    if (argc - optind != 3) {
        usage_error("expected HOST PORT FILE");
    }
    opt.host = argv[optind];
    opt.port = argv[optind + 1];
    opt.path = argv[optind + 2];
    if (!is_valid_port(opt.port)) {
        usage_error("bad port '%s': expected a number from 0 to 65535", opt.port);
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

/* ---- time -------------------------------------------------------------- */

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

/* ---- the retransmission timeout (RFC 6298) ------------------------------ */

struct rto_estimator {
    bool measured;    /* a first sample came in */
    long long srtt;   /* smoothed round-trip time */
    long long rttvar; /* its variation */
    long long rto;    /* the timeout in force */
};

static long long clamp_rto(long long rto)
{
    return rto < RTO_MIN_US ? RTO_MIN_US : rto > RTO_MAX_US ? RTO_MAX_US : rto;
}

/* RTO = SRTT + max(G, 4 RTTVAR), within the floor and the ceiling. */
static long long rto_from_estimate(const struct rto_estimator *e)
{
    /* TODO(step 5): clamp_rto(srtt + the larger of CLOCK_GRANULARITY_US
     * and 4 rttvar). For now: the timeout in force, whatever was measured. */
    (void)clamp_rto;
    return e->rto;
}

/* One round-trip time measured on a packet sent only once (Karn). */
static void rto_sample(struct rto_estimator *e, long long rtt)
{
    /* TODO(step 5): RFC 6298 (2.2, 2.3). First sample: srtt = rtt,
     * rttvar = rtt / 2, measured = true. Later ones: rttvar = (3 rttvar +
     * |srtt - rtt|) / 4, then srtt = (7 srtt + rtt) / 8. Then rto =
     * clamp_rto(srtt + max(CLOCK_GRANULARITY_US, 4 rttvar)).
     * For now the timeout stays RTO_INITIAL_US whatever the path. */
    (void)e;
    (void)rtt;
}

/* A timeout: the path may be congested or broken, so wait twice as long
 * next time (until a new sample says otherwise). */
static void rto_back_off(struct rto_estimator *e)
{
    /* TODO(step 5): double the timeout (clamp_rto(2 * e->rto)). */
    (void)e;
}

/* New data acknowledged: the path works again, so the doubling is over
 * (as Linux does). Without this, Karn's rule keeps a doubled RTO for as
 * long as every packet needs a second try, and on a very lossy path the
 * RTO ratchets up to seconds. */
static void rto_end_back_off(struct rto_estimator *e)
{
    if (e->measured) {
        e->rto = rto_from_estimate(e);
    }
}

/* ---- the socket -------------------------------------------------------- */

/* "127.0.0.1:9999", or "[::1]:9999" for an address with colons. */
static void format_peer(const struct options *opt, char *out, size_t size)
{
    if (strchr(opt->host, ':') != NULL) {
        snprintf(out, size, "[%s]:%s", opt->host, opt->port);
    } else {
        snprintf(out, size, "%s:%s", opt->host, opt->port);
    }
}

/* A UDP socket connected to HOST:PORT: send() needs no address, and the
 * kernel hands us only datagrams from that very address and port. */
static int open_connected_socket(const char *host, const char *port)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    struct addrinfo *list;
    int rc = getaddrinfo(host, port, &hints, &list);
    if (rc != 0) {
        die("cannot resolve %s: %s", host, gai_strerror(rc));
    }
    int fd = -1;
    int saved = 0;
    for (struct addrinfo *ai = list; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
        } else if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(list);
    if (fd < 0) {
        errno = saved;
        die_errno("connect %s:%s", host, port);
    }
    return fd;
}

/* ---- the sender's state ------------------------------------------------ */

/* One packet of the window: what was sent, when, and what we know of it. */
struct slot {
    uint8_t type;
    uint16_t len;
    bool sacked;        /* the receiver named it: it arrived */
    bool retransmitted; /* sent more than once: no RTT sample (Karn) */
    long long sent_us;  /* its last transmission */
    uint64_t order;     /* which transmission that was, counting all */
    uint8_t payload[MAX_PAYLOAD];
};

struct sender {
    int sock;
    int file;
    long long file_size;
    uint32_t last_seq; /* the FIN's sequence number (= the data packets) */
    uint32_t base;     /* the oldest packet not yet acknowledged */
    uint32_t next;     /* the next new packet to send */
    unsigned window;
    struct slot *slots; /* slots[seq % window] */
    struct rto_estimator rto;
    long long timer_us; /* when the retransmission timer fires; 0: off */
    long long heard_us; /* the last acknowledgement */
    uint64_t sent;      /* transmissions so far */
    unsigned long retransmissions;
    bool verbose;
};

static struct slot *slot_of(struct sender *s, uint32_t seq)
{
    return &s->slots[seq % s->window];
}

/* The file's size in bytes (a regular file, small enough to number). */
static long long file_size(int file, const char *path)
{
    struct stat st;
    if (fstat(file, &st) < 0) {
        die_errno("stat %s", path);
    }
    if (!S_ISREG(st.st_mode)) {
        die("%s: not a regular file", path);
    }
    long long packets = ((long long)st.st_size + MAX_PAYLOAD - 1) / MAX_PAYLOAD;
    if (packets >= UINT32_MAX) {
        die("%s: too large for 32-bit sequence numbers", path);
    }
    return (long long)st.st_size;
}

/* The number of data packets; the FIN follows them. */
static uint32_t count_packets(long long size)
{
    return (uint32_t)((size + MAX_PAYLOAD - 1) / MAX_PAYLOAD);
}

/* pread() until len bytes are in: a regular file may return fewer. */
static void read_chunk(struct sender *s, uint8_t *into, size_t len, off_t offset)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(s->file, into + done, len - done, offset + (off_t)done);
        if (n < 0 && errno == EINTR && !stop_requested) {
            continue;
        }
        if (n < 0) {
            die_errno("read the file");
        }
        if (n == 0) {
            die("the file became shorter while it was sent");
        }
        done += (size_t)n;
    }
}

/* ---- sending ----------------------------------------------------------- */

/* One transmission of a packet of the window. A refusal (nobody listens
 * yet, reported by ICMP) is not fatal: the timer will send it again. */
static void transmit(struct sender *s, uint32_t seq)
{
    struct slot *slot = slot_of(s, seq);
    struct packet p = {slot->type, slot->len, seq, 0, slot->payload};
    uint8_t datagram[MAX_PACKET];
    size_t n = encode_packet(&p, datagram);
    while (send(s->sock, datagram, n, 0) < 0) {
        if (errno == EINTR && !stop_requested) {
            continue;
        }
        if (errno == EINTR || errno == ECONNREFUSED || errno == ENOBUFS) {
            break;
        }
        die_errno("send");
    }
    slot->sent_us = now_us();
    slot->order = ++s->sent;
    if (s->timer_us == 0) {
        s->timer_us = slot->sent_us + s->rto.rto; /* RFC 6298 (5.1) */
    }
}

/* Step 2 (and 4): a packet sent for the first time: the next piece of the
 * file, or the FIN after the last one. */
static void send_new_packet(struct sender *s)
{
    uint32_t seq = s->next++;
    struct slot *slot = slot_of(s, seq);
    slot->sacked = false;
    slot->retransmitted = false;
    if (seq == s->last_seq) {
        slot->type = PKT_FIN;
        slot->len = 0;
    } else {
        slot->type = PKT_DATA;
        off_t offset = (off_t)seq * MAX_PAYLOAD;
        long long left = s->file_size - (long long)offset;
        slot->len = (uint16_t)(left < MAX_PAYLOAD ? left : MAX_PAYLOAD);
        read_chunk(s, slot->payload, slot->len, offset);
    }
    transmit(s, seq);
}

/* Step 4: keep up to `window` packets in flight. */
static void fill_window(struct sender *s)
{
    /* TODO(step 4): send new packets (send_new_packet) while there are
     * some left (s->next <= s->last_seq) and fewer than s->window are in
     * flight (s->next - s->base). For now: stop-and-wait, whatever -w. */
    if (s->next <= s->last_seq && s->next == s->base) {
        send_new_packet(s);
    }
}

static void retransmit(struct sender *s, uint32_t seq, const char *why)
{
    slot_of(s, seq)->retransmitted = true;
    s->retransmissions++;
    if (s->verbose) {
        fprintf(stderr, PROG ": retransmit seq %lu (%s), rto %lld ms\n",
                (unsigned long)seq, why, s->rto.rto / 1000);
    }
    transmit(s, seq);
}

/* ---- acknowledgements -------------------------------------------------- */

/* Step 5: the receiver named packet `seq`: it arrived. Its round trip is a
 * sample unless it was sent more than once (Karn's rule: we could not tell
 * which copy the answer is for). */
static void note_arrival(struct sender *s, uint32_t seq, long long now)
{
    /* TODO(step 5): mark the slot of seq as sacked (once), and, unless it
     * was retransmitted (Karn's rule), feed now - its sent_us to
     * rto_sample(). */
    slot_of(s, seq)->sacked = true;
    (void)now;
    (void)rto_sample;
}

/* Step 4: a packet sent well before one that arrived, and still missing,
 * was lost: send it again now rather than wait for the timer. */
static void retransmit_overtaken(struct sender *s, uint32_t arrived)
{
    /* TODO(step 4): each packet from s->base up to `arrived` that has not
     * arrived (sacked) and was sent more than REORDER_LIMIT transmissions
     * before it (slot->order + REORDER_LIMIT < the order of `arrived`) was
     * lost: retransmit(s, seq, "overtaken"). */
    (void)s;
    (void)arrived;
}

/* Step 3: the cumulative acknowledgement `ack` says "everything before ack
 * arrived": slide the window's base up to it. Only a larger value is news;
 * a duplicate or an old one says nothing new. */
static void slide_window(struct sender *s, uint32_t ack, long long now)
{
    /* TODO(step 2): ack is cumulative: everything before it arrived. If it
     * is beyond s->base, move s->base to it and restart the timer
     * (s->timer_us = now + s->rto.rto) if packets are still in flight
     * (s->base < s->next), else turn it off (0). An older or equal ack
     * says nothing new. (Once step 5 is done, also rto_end_back_off().) */
    (void)s;
    (void)ack;
    (void)now;
    (void)rto_end_back_off;
}

static void handle_ack(struct sender *s, const struct packet *p)
{
    long long now = now_us();
    /* An acknowledgement of a packet never sent is not one of ours. */
    if (p->type != PKT_ACK || p->ack > s->next || p->seq >= s->next) {
        return;
    }
    s->heard_us = now;
    if (p->seq >= s->base) {
        note_arrival(s, p->seq, now);
        retransmit_overtaken(s, p->seq);
    }
    slide_window(s, p->ack, now);
}

/* Reads every acknowledgement waiting (up to a batch), without blocking. */
static void read_acks(struct sender *s)
{
    for (int i = 0; i < RECV_BATCH; i++) {
        uint8_t datagram[MAX_PACKET + 1];
        ssize_t n = recv(s->sock, datagram, sizeof datagram, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                errno == ECONNREFUSED) {
                return; /* nothing more now; a refusal: nobody there yet */
            }
            die_errno("recv");
        }
        struct packet p;
        if (decode_packet(datagram, (size_t)n, &p) == 0) {
            handle_ack(s, &p);
        }
    }
}

/* ---- timers ------------------------------------------------------------ */

/* Step 5: the timer ran out: send again what is in flight and has not
 * arrived for a whole timeout, oldest first, and double the timeout. */
static void on_timeout(struct sender *s, long long now)
{
    /* TODO(step 2): the timer ran out: retransmit(s, seq, "timeout") the
     * packets in flight (s->base to s->next) that have not arrived, then
     * restart the timer: s->timer_us = now + s->rto.rto.
     * TODO(step 5): back off first (rto_back_off), and of the packets after
     * s->base retransmit only those sent at least rto / 2 ago. */
    (void)retransmit;
    (void)rto_back_off;
    s->timer_us = now + s->rto.rto;
}

/* How long poll() may wait: until the timer, the -t deadline or a tick. */
static int wait_ms(const struct sender *s, long long deadline, long long now)
{
    long long until = deadline;
    if (s->timer_us != 0 && s->timer_us < until) {
        until = s->timer_us;
    }
    long long ms = (until - now + 999) / 1000; /* round up: never spin */
    return ms < 0 ? 0 : ms > TICK_MS ? TICK_MS : (int)ms;
}

/* ---- the transfer ------------------------------------------------------ */

_Noreturn static void die_peer_silent(const struct options *opt)
{
    char peer[300];
    format_peer(opt, peer, sizeof peer);
    die("no reply from %s", peer);
}

/* Steps 2 to 6: until the FIN is acknowledged. */
static void transfer(struct sender *s, const struct options *opt)
{
    while (s->base <= s->last_seq) {
        /* TODO(step 2): a stop request ends the transfer: if stop_requested,
         * die("interrupted"). */
        fill_window(s);
        long long now = now_us();
        if (now - s->heard_us >= opt->timeout_us) {
            die_peer_silent(opt);
        }
        struct pollfd pfd = {.fd = s->sock, .events = POLLIN, .revents = 0};
        int ready = poll(&pfd, 1, wait_ms(s, s->heard_us + opt->timeout_us, now));
        if (ready < 0 && errno != EINTR) {
            die_errno("poll");
        }
        if (ready > 0) {
            read_acks(s);
        }
        now = now_us();
        if (s->timer_us != 0 && now >= s->timer_us) {
            on_timeout(s, now);
        }
    }
}

/* Step 6: the receiver confirmed the end and waits (lingers) in case its
 * confirmation was lost. Tell it that it was not, so that it can go now;
 * a few copies, since any one may be lost (if all are, it leaves after its
 * linger time anyway). */
static void say_done(struct sender *s)
{
    /* TODO(step 6): send CLOSE_COPIES copies of an ACK packet with seq and
     * ack s->last_seq + 1 (encode_packet, send), so the receiver can stop
     * lingering. ECONNREFUSED is no error here; a send interrupted by a
     * signal (EINTR) is sent again, unless a stop was requested. */
    (void)s;
}

int main(int argc, char **argv)
{
    struct options opt = parse_options(argc, argv);
    install_signal_handlers();
    int file = open(opt.path, O_RDONLY);
    if (file < 0) {
        die_errno("open %s", opt.path);
    }
    struct sender s = {
        .sock = open_connected_socket(opt.host, opt.port),
        .file = file,
        .file_size = file_size(file, opt.path),
        .window = opt.window,
        .slots = calloc(opt.window, sizeof(struct slot)),
        .rto = {.rto = RTO_INITIAL_US},
        .heard_us = now_us(),
        .verbose = opt.verbose,
    };
    if (s.slots == NULL) {
        die_errno("calloc");
    }
    s.last_seq = count_packets(s.file_size);
    transfer(&s, &opt);
    say_done(&s);
    if (opt.verbose) {
        fprintf(stderr, PROG ": done: %lu packets, %lu retransmissions, srtt %lld us\n",
                (unsigned long)s.last_seq + 1, s.retransmissions, s.rto.srtt);
    }
    free(s.slots);
    close(s.sock);
    close(file);
    return 0;
}
