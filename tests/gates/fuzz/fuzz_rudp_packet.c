/*
 * fuzz_rudp_packet.c - fuzzes the packet codec of lesson 09: decode_packet()
 * and encode_packet() of solutions/09-reliable-udp/rudp_recv.c, compiled
 * here as they are (rudp_send.c carries the same block). Each input is one
 * datagram. Properties:
 *   - a datagram the decoder accepts has a valid type and length and
 *     encodes back to exactly the same bytes (nothing is accepted that the
 *     format does not define: reserved byte 0, length = size - 16, CRC);
 *   - the same datagram with any one bit flipped is refused (CRC-32 catches
 *     every single-bit error);
 *   - a packet built from the input's bytes (type, seq, ack, payload)
 *     encodes to a datagram the decoder accepts with the same fields;
 *   - CRC-32 of "123456789" is 0xcbf43926 (the standard check value).
 *
 * corpus: rudp_packets
 * Run: bash tests/gates/fuzz.sh rudp_packet     (see tests/gates/fuzz.sh)
 */
#define _POSIX_C_SOURCE 200809L
#include "fuzz_prelude.h"

#define main rudp_recv_main
#include "../../../solutions/09-reliable-udp/rudp_recv.c"
#undef main

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_accepted(const uint8_t *data, size_t size, const struct packet *p)
{
    uint8_t again[MAX_PACKET];
    FUZZ_CHECK(p->type == PKT_DATA || p->type == PKT_ACK || p->type == PKT_FIN);
    FUZZ_CHECK((size_t)p->len + HEADER_SIZE == size);
    FUZZ_CHECK(p->len <= MAX_PAYLOAD);
    FUZZ_CHECK(p->type == PKT_DATA ? p->len > 0 : p->len == 0);
    FUZZ_CHECK(encode_packet(p, again) == size);
    FUZZ_CHECK(memcmp(again, data, size) == 0);
}

/* Every single-bit error in an accepted datagram is refused. */
static void check_bit_flip(const uint8_t *data, size_t size, size_t bit)
{
    uint8_t copy[MAX_PACKET];
    struct packet p;
    memcpy(copy, data, size);
    copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    FUZZ_CHECK(decode_packet(copy, size, &p) < 0);
}

/* A packet made of the input's bytes goes through encode and decode. */
static void check_round_trip(const uint8_t *data, size_t size)
{
    if (size < 9) {
        return;
    }
    struct packet in = {
        .type = (uint8_t)(data[0] % 3 + 1),
        .seq = get_u32(data + 1),
        .ack = get_u32(data + 5),
        .payload = data + 9,
    };
    size_t payload = size - 9 > MAX_PAYLOAD ? MAX_PAYLOAD : size - 9;
    in.len = in.type == PKT_DATA ? (uint16_t)payload : 0;
    if (in.type == PKT_DATA && in.len == 0) {
        return;
    }
    uint8_t datagram[MAX_PACKET];
    size_t n = encode_packet(&in, datagram);
    struct packet out;
    FUZZ_CHECK(n == HEADER_SIZE + (size_t)in.len);
    FUZZ_CHECK(decode_packet(datagram, n, &out) == 0);
    FUZZ_CHECK(out.type == in.type && out.seq == in.seq && out.ack == in.ack &&
               out.len == in.len);
    FUZZ_CHECK(in.len == 0 || memcmp(out.payload, in.payload, in.len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t check[] = "123456789";
    FUZZ_CHECK(crc32_update(0, check, 9) == 0xcbf43926UL);

    struct packet p;
    if (decode_packet(data, size, &p) == 0) {
        check_accepted(data, size, &p);
        check_bit_flip(data, size, (size * 7919u + data[size - 1]) % (size * 8));
        check_bit_flip(data, size, 0);
        check_bit_flip(data, size, size * 8 - 1);
    }
    check_round_trip(data, size);
    return 0;
}
