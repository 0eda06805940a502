/*
 * fuzz_mmds_frame.c: libFuzzer harness for the MMDS network stack
 * (src/mmds/ns.c, pdu_*.c, tcp_*.c).
 *
 * The input is a sequence of guest frames, each preceded by a 2-byte
 * big-endian length (the last one takes whatever is left), and each
 * followed by one byte that advances a fake clock (value * 100 ms, so
 * retransmission timeouts and eviction happen) before the stack drains
 * what it wants to send. Every frame is copied to an exact-size heap
 * buffer so ASan sees any over-read. Checks: what the stack writes fits
 * the buffer, is an ARP reply or IPv4/TCP from the MMDS address with
 * correct checksums, and carries the MMDS MAC; the number of connections
 * never passes 30. Lengths are taken modulo 2048. The stack checks no
 * checksums on input, so the fuzzer need not find them; the seed corpus
 * (tests/fuzz/corpus/mmds_frame/) has ARP, a handshake and HTTP requests.
 *
 * Build: `make fuzz-build` (build/fuzz/fuzz_mmds_frame).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mmds/ns.h"
#include "mmds/pdu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

struct ctx {
    uint64_t now;
};

static uint64_t clock_fn(void *opaque)
{
    return ((struct ctx *)opaque)->now;
}

/* Answer with a length taken from the request, up to 4 KiB, so responses
 * span several segments. */
static void http_fn(void *opaque, const uint8_t *req, size_t len,
                    struct buf *resp)
{
    size_t n = len ? (size_t)req[0] * 16 : 0;

    (void)opaque;
    CHECK(len >= 2 && req[len - 1] == '\n');
    for (size_t i = 0; i < n; i++)
        buf_putc(resp, (char)('0' + i % 10));
}

static void check_out(const uint8_t *f, size_t n, size_t cap)
{
    static const uint8_t mac[6] = {0x06, 0x01, 0x23, 0x45, 0x67, 0x01};
    struct pdu_eth eth;
    struct pdu_ipv4 ip;
    struct pdu_tcp tcp;
    struct pdu_arp arp;
    uint32_t addrs[2];

    CHECK(n <= cap);
    CHECK(pdu_eth_parse(f, n, &eth) == 0);
    CHECK(memcmp(eth.src_mac, mac, 6) == 0);
    if (eth.ethertype == PDU_ETHERTYPE_ARP) {
        CHECK(eth.payload_len == PDU_ARP_LEN);
        CHECK(f[PDU_ETH_HDR_LEN + 7] == PDU_ARP_OP_REPLY);
        /* a reply does not parse as a request */
        CHECK(pdu_arp_parse_request(eth.payload, eth.payload_len, &arp) < 0);
        return;
    }
    CHECK(eth.ethertype == PDU_ETHERTYPE_IPV4);
    CHECK(pdu_ipv4_parse(eth.payload, eth.payload_len, true, &ip) == 0);
    CHECK(ip.src == MMDS_NS_DEFAULT_IPV4);
    CHECK(ip.protocol == PDU_IPV4_PROTO_TCP);
    addrs[0] = ip.src;
    addrs[1] = ip.dst;
    CHECK(pdu_tcp_parse(ip.payload, ip.payload_len, addrs, &tcp) == 0);
    CHECK(tcp.src_port == MMDS_NS_TCP_PORT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ctx c = {.now = 1};
    struct mmds_ns *ns = mmds_ns_new(MMDS_NS_DEFAULT_IPV4, NULL, http_fn, NULL);
    uint8_t out[1600];
    size_t pos = 0;

    mmds_ns_set_clock(ns, clock_fn, &c, 1);
    while (pos + 2 <= size) {
        size_t len = (size_t)data[pos] << 8 | data[pos + 1];
        uint8_t *frame;

        pos += 2;
        len &= 0x7ff;
        if (len > size - pos)
            len = size - pos;
        frame = malloc(len ? len : 1);
        if (!frame)
            break;
        memcpy(frame, data + pos, len);
        pos += len;
        (void)mmds_ns_is_mmds_frame(ns, frame, len);
        (void)mmds_ns_detour_frame(ns, frame, len);
        free(frame);
        if (pos < size)
            c.now += (uint64_t)data[pos++] * 100000000ull;
        for (int i = 0; i < 64; i++) {
            size_t cap = sizeof(out) - (size_t)(i % 3) * 700;
            size_t n = mmds_ns_write_next_frame(ns, out, cap);

            if (!n)
                break;
            check_out(out, n, cap);
        }
        CHECK(mmds_ns_n_conns(ns) <= MMDS_NS_MAX_CONNS);
    }
    mmds_ns_free(ns);
    return 0;
}
