/*
 * pdu.h: the protocol data units the MMDS network stack speaks (Ethernet II,
 * ARP for IPv4 over Ethernet, IPv4, TCP), parsed and built in place, as
 * upstream's dumbo::pdu (ethernet.rs, arp.rs, ipv4.rs, tcp.rs, mod.rs).
 *
 * Parsers take a borrowed (p, len) view of guest bytes, check every length
 * before reading, and fill a view struct whose pointers borrow from `p`.
 * They return 0 or a negative errno; nothing is allocated. Writers take a
 * caller-owned buffer and its capacity and never write past it. Addresses
 * and ports are host byte order in the view structs; multi-byte fields on
 * the wire are big-endian. Upstream's error variants map to errnos as noted.
 */
#ifndef SQUIB_MMDS_PDU_H
#define SQUIB_MMDS_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PDU_MAC_LEN 6

/* Big-endian loads and stores (the callers have checked the bounds). */
static inline uint16_t pdu_get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t pdu_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}

static inline void pdu_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void pdu_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- Ethernet II (pdu_eth.c) ------------------------------------------ */

#define PDU_ETH_HDR_LEN    14
#define PDU_ETHERTYPE_ARP  0x0806
#define PDU_ETHERTYPE_IPV4 0x0800

struct pdu_eth {
    const uint8_t *dst_mac; /* PDU_MAC_LEN bytes, borrowed */
    const uint8_t *src_mac;
    uint16_t ethertype;
    const uint8_t *payload; /* everything after the header, borrowed */
    size_t payload_len;
};

/* Parse a frame. -EINVAL when shorter than the header (SliceTooShort). */
int pdu_eth_parse(const uint8_t *p, size_t len, struct pdu_eth *out);

/* Write the 14-byte header at buf. Returns PDU_ETH_HDR_LEN, or 0 when cap is
 * smaller than that. */
size_t pdu_eth_write_header(uint8_t *buf, size_t cap, const uint8_t *dst_mac,
                            const uint8_t *src_mac, uint16_t ethertype);

/* ---- ARP, Ethernet/IPv4 only (pdu_arp.c) ------------------------------ */

#define PDU_ARP_LEN        28 /* ETH_IPV4_FRAME_LEN */
#define PDU_ARP_OP_REQUEST 1
#define PDU_ARP_OP_REPLY   2

struct pdu_arp {
    uint16_t operation;
    uint8_t sha[PDU_MAC_LEN]; /* sender hardware address */
    uint32_t spa;             /* sender protocol address */
    uint8_t tha[PDU_MAC_LEN];
    uint32_t tpa;
};

/*
 * Parse an ARP *request* for IPv4 over Ethernet. The payload must be exactly
 * PDU_ARP_LEN bytes, as upstream's request_from_bytes() demands (so a frame
 * padded to the Ethernet minimum is not one). -EINVAL on a wrong length,
 * htype, ptype, hlen, plen or operation.
 */
int pdu_arp_parse_request(const uint8_t *p, size_t len, struct pdu_arp *out);

/* Write a reply (operation 2) of PDU_ARP_LEN bytes. Returns PDU_ARP_LEN, or 0
 * when cap is smaller. */
size_t pdu_arp_write_reply(uint8_t *buf, size_t cap, const uint8_t *sha,
                           uint32_t spa, const uint8_t *tha, uint32_t tpa);

/* Upstream's test_speculative_tpa(): true when the Ethernet *frame* is long
 * enough to hold an ARP body and its target protocol address is `addr`. */
bool pdu_arp_frame_has_tpa(const uint8_t *frame, size_t len, uint32_t addr);

/* ---- IPv4 (pdu_ipv4.c) ------------------------------------------------ */

#define PDU_IPV4_MIN_HDR_LEN 20
#define PDU_IPV4_PROTO_TCP   6
#define PDU_IPV4_PROTO_UDP   17
#define PDU_IPV4_DEFAULT_TTL 1 /* upstream's: replies never leave the host */

struct pdu_ipv4 {
    uint8_t header_len; /* bytes, options included */
    uint16_t total_len;
    uint8_t protocol;
    uint32_t src;
    uint32_t dst;
    const uint8_t *payload; /* borrowed */
    size_t payload_len;
};

/*
 * Parse a packet that must fill `len` exactly (total length == len; upstream
 * rejects trailing padding as SliceExactLen). -EINVAL for a short slice, a
 * version other than 4, a total length below the header length or different
 * from len, or a header shorter than 20 bytes; -EBADMSG for a wrong header
 * checksum when verify_checksum is set.
 */
int pdu_ipv4_parse(const uint8_t *p, size_t len, bool verify_checksum,
                   struct pdu_ipv4 *out);

/* The one's-complement sum over the first header_len bytes (even) of p,
 * complemented: 0 for a header whose checksum field is right. */
uint16_t pdu_ipv4_header_checksum(const uint8_t *p, size_t header_len);

/*
 * Write a 20-byte header (no options, id 0, no fragmentation, TTL 1) for a
 * payload of payload_len bytes already placed after it, with its checksum.
 * Returns PDU_IPV4_MIN_HDR_LEN, or 0 when cap is too small for the header
 * or header + payload exceeds cap or 65535.
 */
size_t pdu_ipv4_write_header(uint8_t *buf, size_t cap, uint8_t protocol,
                             uint32_t src, uint32_t dst, size_t payload_len);

/* Upstream's test_speculative_dst_addr(): true when the Ethernet *frame* is
 * long enough to hold a minimal IPv4 header whose destination is `addr`. */
bool pdu_ipv4_frame_has_dst(const uint8_t *frame, size_t len, uint32_t addr);

/* The TCP/UDP checksum over the pseudo header and `len` bytes at p (the
 * checksum field included): 0 for a segment whose checksum is right. */
uint16_t pdu_l4_checksum(const uint8_t *p, size_t len, uint32_t src,
                         uint32_t dst, uint8_t protocol);

/* ---- TCP (pdu_tcp.c) -------------------------------------------------- */

#define PDU_TCP_FIN 0x01
#define PDU_TCP_SYN 0x02
#define PDU_TCP_RST 0x04
#define PDU_TCP_PSH 0x08
#define PDU_TCP_ACK 0x10
#define PDU_TCP_URG 0x20
#define PDU_TCP_ECE 0x40
#define PDU_TCP_CWR 0x80

#define PDU_TCP_MIN_HDR_LEN 20
#define PDU_TCP_MAX_HDR_LEN 60
#define PDU_TCP_MSS_MIN     100
/* The largest segment an IPv4 packet can carry, and its payload. */
#define PDU_TCP_MAX_SEGMENT_LEN (65535 - PDU_IPV4_MIN_HDR_LEN)
#define PDU_TCP_MSS_MAX         (PDU_TCP_MAX_SEGMENT_LEN - PDU_TCP_MIN_HDR_LEN)

struct pdu_tcp {
    uint16_t src_port;
    uint16_t dst_port;
    uint32_t seq;
    uint32_t ack;
    uint8_t header_len;
    uint8_t flags; /* PDU_TCP_* (NS is not reported) */
    uint16_t window;
    const uint8_t *options; /* borrowed, header_len - 20 bytes */
    size_t options_len;
    const uint8_t *payload; /* borrowed */
    uint16_t payload_len;
};

/*
 * Parse a segment of `len` bytes (at most 65535). -EINVAL for fewer than 20
 * bytes or a header length outside 20..min(60, len) (upstream's
 * SliceTooShort and HeaderLen); -EBADMSG for a wrong checksum when `addrs`
 * is non-NULL ({source, destination} of the enclosing IPv4 packet).
 */
int pdu_tcp_parse(const uint8_t *p, size_t len, const uint32_t *addrs,
                  struct pdu_tcp *out);

/*
 * The MSS option of a parsed segment: 0 with *mss = 0 when absent, 0 with
 * *mss set when present and within PDU_TCP_MSS_MIN..PDU_TCP_MSS_MAX, -EINVAL
 * when out of range or an option length is below 2. Upstream's scan: it
 * stops at EOL and looks at an option only while 4 bytes of it remain.
 */
int pdu_tcp_parse_mss(const struct pdu_tcp *s, uint16_t *mss);

/* What pdu_tcp_write() puts in a segment. */
struct pdu_tcp_out {
    uint32_t seq;
    uint32_t ack;
    uint8_t flags;
    uint16_t window;
    uint16_t mss_option;    /* 0: no MSS option; else its value */
    uint16_t mss_remaining; /* upper bound for option bytes + payload */
    const uint8_t *payload; /* may be NULL: no payload */
    size_t payload_max;     /* read at most this many payload bytes */
};

/*
 * Write a segment at buf (cap bytes): header, the MSS option when asked,
 * then as much payload as fits in cap, in 65515 - header, in mss_remaining
 * less the option and in payload_max. Ports and checksum stay zero until
 * pdu_tcp_finalize(). Returns 0 with *seg_len set; -EINVAL when the MSS
 * option does not fit mss_remaining (MssRemaining), -ENOSPC when cap cannot
 * hold the header (SliceTooShort), -ENODATA when a payload was given but
 * room for none of it is left (EmptyPayload).
 */
int pdu_tcp_write(uint8_t *buf, size_t cap, const struct pdu_tcp_out *o,
                  size_t *seg_len);

/* Set the ports of a written segment and its checksum for src -> dst. */
void pdu_tcp_finalize(uint8_t *seg, size_t seg_len, uint16_t src_port,
                      uint16_t dst_port, uint32_t src, uint32_t dst);

/* Replace the flags byte of a written segment (the checksum is computed
 * afterwards, by pdu_tcp_finalize()). */
void pdu_tcp_set_flags(uint8_t *seg, uint8_t flags);

#endif
