/*
 * fuzz_udp_reply.c - fuzzes the reply of the UDP server (lesson 05):
 * make_reply() and log_datagram() of solutions/05-udp/udp_server.c, compiled
 * here as they are. Each input is one datagram; the first two bytes choose
 * the largest payload the reply may have (so the "too long" boundary is
 * reached with small inputs; the real limits are 65507 and 65527) and the
 * sender's address family. The reply must be exactly "Hello, D!" or, when
 * that would not fit, "Error: datagram too long", written into a buffer of
 * exactly the reply's size (a byte more and AddressSanitizer stops it).
 *
 * corpus: udp_datagrams
 * Run: bash tests/gates/fuzz.sh udp_reply     (see tests/gates/fuzz.sh)
 */
#define _POSIX_C_SOURCE 200809L
#include "fuzz_prelude.h"

#define main udp_server_main
#include "../../../solutions/05-udp/udp_server.c"
#undef main

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A loopback sender of the family the control byte picks. */
static socklen_t fake_sender(uint8_t control, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (control & 1) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_loopback;
        s6->sin6_port = htons(40000);
        return sizeof *s6;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s4->sin_port = htons(40000);
    return sizeof *s4;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char hello[] = "Hello, ";
    static const char too_long[] = "Error: datagram too long";
    if (size < 2)
        return 0;
    uint8_t control = data[0];
    size_t max_payload = sizeof too_long - 1 + data[1]; /* 24..279 bytes */
    const char *datagram = (const char *)data + 2;
    size_t len = size - 2;

    struct sockaddr_storage sender;
    socklen_t sender_len = fake_sender(control, &sender);
    log_datagram(&sender, sender_len, datagram, len);

    /* What the reply must be. */
    size_t fits = sizeof hello - 1 + len + 1 <= max_payload;
    size_t expect_len = fits ? sizeof hello - 1 + len + 1 : sizeof too_long - 1;
    char *reply = malloc(expect_len);
    FUZZ_CHECK(reply != NULL);
    size_t reply_len = make_reply(datagram, len, max_payload, reply);
    FUZZ_CHECK(reply_len == expect_len);
    FUZZ_CHECK(reply_len <= max_payload);
    if (fits) {
        FUZZ_CHECK(memcmp(reply, hello, sizeof hello - 1) == 0);
        FUZZ_CHECK(len == 0 || memcmp(reply + sizeof hello - 1, datagram, len) == 0);
        FUZZ_CHECK(reply[reply_len - 1] == '!');
    } else {
        FUZZ_CHECK(memcmp(reply, too_long, sizeof too_long - 1) == 0);
    }
    free(reply);

    /* The real limits, for the sender's family. */
    size_t limit = max_payload_for(&sender);
    FUZZ_CHECK(limit == ((control & 1) ? 65527u : 65507u));
    return 0;
}
