/*
 * hello_client: a client for the hello protocol (lesson 02-tcp-client).
 *
 * THE STARTER: the parts marked TODO(step N) are yours to write, following
 * step N of lessons/02-tcp-client/README.md. Until then the program stops
 * with "not implemented yet (step N)". Check your work with
 * `make check LESSON=02`.
 *
 * Connects to HOST PORT, prints the server's welcome line, then sends each
 * NAME (or, with no NAME, each line of standard input) as one line, checks
 * that the reply is exactly "Hello, NAME!" and prints it. Finally it sends
 * "exit" and closes the connection.
 *
 * TCP is a byte stream, not a sequence of messages: a reply may arrive in
 * pieces, or several replies in one read. So every message is a line ending
 * in "\n", and lines are read through a buffer that keeps what arrived after
 * the end of the current line for the next call.
 *
 * Build: make                  (or: cc -std=c17 -Wall -Wextra -Wpedantic -O2 -g
 *                                   -o hello_client hello_client.c)
 * Run:   build/lessons/02-tcp-client/hello_client 127.0.0.1 9999 Michael Tracy Sarah
 *        printf 'Michael\nTracy\n' | build/lessons/02-tcp-client/hello_client ::1 9999
 *
 * Exit status: 0 done, 1 network or protocol failure, 2 bad command line.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <netdb.h>
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

#define PROG "hello_client"
#define USAGE "usage: hello_client HOST PORT [NAME...]"

/* Shared: the same text in every lesson that has it (make lint checks). */
/* The longest line of the hello protocol (not counting "\r\n"): a longer
 * one gets "Error: line too long" and the connection is closed. */
#define LINE_LIMIT 4096

/* A reply is "Hello, NAME!": a little longer than the longest name. */
enum { MAX_REPLY = LINE_LIMIT + 16 };
/* How long one wait for the server may last before we give up on it. */
enum { REPLY_TIMEOUT_SECONDS = 10 };
/* How many bytes one read() may bring in (any size works; bigger = fewer calls). */
enum { READ_BUFFER_SIZE = 8192 };
/* Room for "[HOST]:PORT" in messages (a longer HOST is cut short there). */
enum { ENDPOINT_SIZE = 300 };
/* How many bytes of a bad reply an error message quotes. */
enum { QUOTED_BYTES = 100 };
/* Room for QUOTED_BYTES escaped bytes (at most 4 characters each) and "...". */
enum { QUOTE_SIZE = QUOTED_BYTES * 4 + 4 };

/* ---- errors -------------------------------------------------------------- */

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

/*
 * Writes LEN bytes as printable text into OUT ("\n", "\x1b", ...), so that
 * bytes from the network can never drive the terminal that shows our error
 * message. Quotes at most QUOTED_BYTES bytes, then "...".
 */
static void quote_bytes(const char *bytes, size_t len, char out[QUOTE_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    size_t shown = len;
    size_t o = 0;

    if (shown > QUOTED_BYTES)
        shown = QUOTED_BYTES;

    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)bytes[i];
        if (c == '\n' || c == '\r' || c == '\t' || c == '\\' || c == '\'') {
            out[o++] = '\\';
            out[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0xf];
        }
    }
    if (shown < len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

/* ---- the command line ---------------------------------------------------- */

struct command_line {
    const char *host;
    const char *port;
    char **names; /* the NAME arguments; none: read names from stdin */
    int name_count;
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

/* A NAME travels as one line: it cannot hold a line break or exceed the limit. */
static void check_name_argument(const char *name)
{
    if (strpbrk(name, "\r\n") != NULL)
        usage_error("a NAME cannot contain a line break");
    if (strlen(name) > LINE_LIMIT)
        usage_error("a NAME cannot be longer than %d bytes", LINE_LIMIT);
}

static struct command_line parse_command_line(int argc, char **argv)
{
    struct command_line cmd = {0};
    int first = 1;

    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("%s\n", USAGE);
        exit(0);
    }
    if (argc > 1 && strcmp(argv[1], "--") == 0)
        first = 2;
    else if (argc > 1 && argv[1][0] == '-' && argv[1][1] != '\0')
        usage_error("unknown option '%s'", argv[1]);
    if (argc - first < 1)
        usage_error("missing HOST and PORT");
    if (argc - first < 2)
        usage_error("missing PORT");
    cmd.host = argv[first];
    cmd.port = argv[first + 1];
    if (!is_valid_port(cmd.port))
        usage_error("PORT must be a number from 0 to 65535, not '%s'", cmd.port);
    cmd.names = argv + first + 2;
    cmd.name_count = argc - first - 2;
    for (int i = 0; i < cmd.name_count; i++)
        check_name_argument(cmd.names[i]);
    return cmd;
}

/* ---- step 1: connecting ---------------------------------------------------- */

/* "127.0.0.1:9999", or "[::1]:9999" for an IPv6 address, for messages. */
static void format_endpoint(const char *host, const char *port, char *out, size_t size)
{
    if (strchr(host, ':') != NULL)
        snprintf(out, size, "[%s]:%s", host, port);
    else
        snprintf(out, size, "%s:%s", host, port);
}

/*
 * Resolves HOST and PORT and connects to the first address that accepts
 * (a name such as "localhost" may give both ::1 and 127.0.0.1, and only one
 * of them may have a server behind it). Returns the connected socket.
 */
static int connect_to(const char *host, const char *port, const char *endpoint)
{
    /*
     * TODO(step 1): connect to HOST PORT.
     * - getaddrinfo(host, port, &hints, &addresses) with hints AF_UNSPEC
     *   (IPv4 or IPv6), SOCK_STREAM (TCP) and AI_NUMERICSERV; on failure,
     *   die("cannot resolve %s: %s", host, gai_strerror(rc)).
     * - For each address in the list: socket(), then connect(); keep the first
     *   socket that connects, close() the others and remember errno.
     * - freeaddrinfo(addresses) whatever happened.
     * - None connected: set errno back to the last error and
     *   die_errno("connect to %s", endpoint).
     */
    (void)host;
    (void)port;
    (void)endpoint;
    die("not implemented yet (step 1): connect_to");
    return -1;
}

/* ---- step 2: reading lines through a buffer -------------------------------- */

/*
 * A buffered line reader (like rio_readlineb in CS:APP). One read() may bring
 * part of a line, or several lines; the bytes not yet handed out wait in
 * buf[start..end) for the next call.
 */
struct line_reader {
    int fd;
    int timeout_ms; /* the longest one wait for data may last; -1: no limit */
    size_t start;
    size_t end;
    char buf[READ_BUFFER_SIZE];
};

enum read_result {
    READ_LINE,     /* a whole line, without its "\n" (and a "\r" before it) */
    READ_EOF,      /* the stream ended between two lines */
    READ_CUT,      /* the stream ended in the middle of a line (returned as is) */
    READ_TOO_LONG, /* the line does not fit: the rest of it is still unread */
    READ_TIMEOUT,  /* nothing arrived within timeout_ms */
    READ_ERROR,    /* poll() or read() failed: see errno */
    READ_MORE      /* (fill_buffer only) new bytes are in the buffer */
};

static void init_reader(struct line_reader *r, int fd, int timeout_ms)
{
    r->fd = fd;
    r->timeout_ms = timeout_ms;
    r->start = 0;
    r->end = 0;
}

/* Waits for more bytes (at most timeout_ms) and reads what is there. */
static enum read_result fill_buffer(struct line_reader *r)
{
    ssize_t n;

    /*
     * TODO(step 4): read() alone waits forever for a server that never
     * answers. When r->timeout_ms >= 0, first poll() r->fd for POLLIN with
     * that timeout (again on EINTR): -1 is READ_ERROR, 0 is READ_TIMEOUT.
     */
    do
        n = read(r->fd, r->buf, sizeof r->buf);
    while (n == -1 && errno == EINTR); /* a signal is not an error: try again */
    if (n == -1)
        return READ_ERROR;
    if (n == 0)
        return READ_EOF;
    r->start = 0;
    r->end = (size_t)n;
    return READ_MORE;
}

/*
 * Reads one line into LINE (room for CAP bytes; no NUL is added: a line may
 * contain NUL bytes, so *LEN says how long it is).
 */
/* NOLINTNEXTLINE(readability-non-const-parameter): LINE is written in step 2 */
static enum read_result read_bounded_line(struct line_reader *r, char *line, size_t cap,
                                          size_t *len)
{
    /*
     * TODO(step 2): hand out one line from the buffer.
     * Loop:
     * - if the buffer is empty (r->start == r->end), refill it with
     *   fill_buffer(r); READ_EOF with some bytes already copied is READ_CUT;
     *   any result but READ_MORE: set *len and return it;
     * - look for '\n' in r->buf[r->start .. r->end) with memchr (not strchr:
     *   a line may hold NUL bytes);
     * - copy the bytes before it (or all of them if there is none) to the
     *   end of LINE; more than CAP bytes in all: return READ_TOO_LONG;
     * - advance r->start past what you took (and past the '\n');
     * - found the '\n': drop a '\r' just before it, set *len, return
     *   READ_LINE. Not found: loop for more bytes.
     */
    (void)r;
    (void)line;
    (void)cap;
    *len = 0;
    (void)fill_buffer; /* (silences "unused function" until you call it) */
    die("not implemented yet (step 2): read_bounded_line");
    return READ_ERROR;
}

/* ---- the conversation -------------------------------------------------------- */

struct connection {
    int fd;
    const char *endpoint; /* "HOST:PORT", for messages */
    struct line_reader in;
};

/* Prints one line on stdout; the bytes are the program's output, as they came. */
static void print_line(const char *line, size_t len)
{
    if (fwrite(line, 1, len, stdout) != len || putchar('\n') == EOF ||
        fflush(stdout) == EOF)
        die_errno("writing to standard output");
}

/* Reads one line from the server, or exits with a line saying what went wrong. */
static size_t expect_line(struct connection *c, char *line, size_t cap, const char *what)
{
    char quoted[QUOTE_SIZE];
    size_t len; /* read_bounded_line sets it, whatever it returns */

    switch (read_bounded_line(&c->in, line, cap, &len)) {
    case READ_LINE:
        return len;
    case READ_EOF:
        die("%s closed the connection before sending %s", c->endpoint, what);
        break;
    case READ_CUT:
        quote_bytes(line, len, quoted);
        die("%s closed the connection in the middle of %s (got '%s' and no newline)",
            c->endpoint, what, quoted);
        break;
    case READ_TOO_LONG:
        die("%s sent a line longer than %zu bytes as %s", c->endpoint, cap, what);
        break;
    case READ_TIMEOUT:
        die("no reply from %s within %d seconds (waiting for %s)", c->endpoint,
            REPLY_TIMEOUT_SECONDS, what);
        break;
    case READ_ERROR:
    case READ_MORE:
        die_errno("reading %s from %s", what, c->endpoint);
        break;
    }
    return 0;
}

static void print_welcome(struct connection *c)
{
    char line[MAX_REPLY];
    size_t len = expect_line(c, line, sizeof line, "the welcome line");
    print_line(line, len);
}

/* ---- step 3: sending lines, whole ------------------------------------------ */

/* Writes all len bytes, however many calls it takes (like CS:APP's
 * rio_writen): write() may take fewer bytes than asked (a full socket
 * buffer, a signal). 0 when all are out, -1 with errno set on an error. */
static int write_all(int fd, const char *buf, size_t len)
{
    /*
     * TODO(step 3): write() all LEN bytes. write() may write fewer bytes than
     * asked: advance BUF, subtract from LEN and loop until LEN is 0. On
     * -1 with errno EINTR try again; on any other error return -1.
     */
    (void)fd;
    (void)buf;
    (void)len;
    die("not implemented yet (step 3): write_all");
    return -1;
}

/* Sends LINE followed by "\n" in one write, so the server sees one whole line. */
static void send_line(struct connection *c, const char *line, size_t len)
{
    char out[LINE_LIMIT + 1];

    memcpy(out, line, len);
    out[len] = '\n';
    if (write_all(c->fd, out, len + 1) == -1)
        die_errno("sending to %s", c->endpoint);
}

/* ---- step 4: trusting nothing the server sends ------------------------------ */

/* True when REPLY is exactly "Hello, " NAME "!" (byte for byte, NUL bytes too). */
static bool is_hello_for(const char *reply, size_t reply_len, const char *name,
                         size_t name_len)
{
    /*
     * TODO(step 4): the reply must be exactly "Hello, " NAME "!": compare the
     * length first, then the bytes with memcmp (not strcmp: a name may hold
     * NUL bytes). Until then every reply is taken as right.
     */
    (void)reply;
    (void)reply_len;
    (void)name;
    (void)name_len;
    return true;
}

/* ---- one name, one reply (steps 3 and 4) ----------------------------------- */

/* Sends NAME, reads the reply, checks it and prints it. */
static void greet(struct connection *c, const char *name, size_t name_len)
{
    char quoted_name[QUOTE_SIZE];
    char what[QUOTE_SIZE + 32];
    char reply[MAX_REPLY];

    quote_bytes(name, name_len, quoted_name);
    snprintf(what, sizeof what, "the reply to '%s'", quoted_name);
    send_line(c, name, name_len);
    size_t reply_len = expect_line(c, reply, sizeof reply, what);
    if (!is_hello_for(reply, reply_len, name, name_len)) {
        char quoted_reply[QUOTE_SIZE];
        quote_bytes(reply, reply_len, quoted_reply);
        die("unexpected reply from %s to '%s': expected 'Hello, %s!', got '%s'",
            c->endpoint, quoted_name, quoted_name, quoted_reply);
    }
    print_line(reply, reply_len);
}

/* The protocol's own word for "goodbye": a NAME "exit" ends the conversation. */
static bool is_exit(const char *name, size_t len)
{
    return len == 4 && memcmp(name, "exit", 4) == 0;
}

static void greet_names(struct connection *c, char **names, int count)
{
    for (int i = 0; i < count; i++) {
        size_t len = strlen(names[i]);
        if (is_exit(names[i], len))
            return;
        greet(c, names[i], len);
    }
}

/* Tells the server we are done, as the protocol asks, and closes our end. */
static void say_goodbye(struct connection *c)
{
    send_line(c, "exit", 4);
    if (close(c->fd) == -1)
        die_errno("closing the connection to %s", c->endpoint);
}

/* ---- step 5: names from standard input ------------------------------------- */

/* Greets each line of stdin; a last line without "\n" counts too. */
static void greet_names_from_stdin(struct connection *c)
{
    /*
     * TODO(step 5): with no NAME on the command line, each line of standard
     * input is a name. Use a second struct line_reader on STDIN_FILENO with
     * no timeout (-1) and read_bounded_line() into a buffer of LINE_LIMIT + 1 bytes:
     * READ_EOF: done; READ_ERROR: die_errno("reading standard input"); a line
     * longer than LINE_LIMIT: die(...) with its line number; "exit" (is_exit):
     * done; otherwise greet(c, name, len). A last line without '\n'
     * (READ_CUT) is greeted too, then you are done.
     */
    (void)c;
    die("not implemented yet (step 5): names from standard input");
}

/* Shared: the same text in every lesson that has it (make lint checks). */
/* A write to a peer that has gone must fail with EPIPE, an error we handle,
 * not kill the whole program with SIGPIPE. */
static void ignore_sigpipe(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPIPE, &sa, NULL) < 0) {
        die_errno("sigaction SIGPIPE");
    }
}

int main(int argc, char **argv)
{
    struct command_line cmd = parse_command_line(argc, argv);
    char endpoint[ENDPOINT_SIZE];
    struct connection c;

    ignore_sigpipe();
    format_endpoint(cmd.host, cmd.port, endpoint, sizeof endpoint);
    c.endpoint = endpoint;
    c.fd = connect_to(cmd.host, cmd.port, endpoint); /* step 1 */
    init_reader(&c.in, c.fd, REPLY_TIMEOUT_SECONDS * 1000);
    print_welcome(&c); /* step 2 */
    if (cmd.name_count > 0)
        greet_names(&c, cmd.names, cmd.name_count); /* steps 3, 4 */
    else
        greet_names_from_stdin(&c); /* step 5 */
    say_goodbye(&c);                /* step 3 */
    return 0;
}
