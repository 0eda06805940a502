/*
 * pdu_ipv4.c: IPv4 headers and the Internet checksum (RFC 791, RFC 1071;
 * upstream dumbo/pdu/ipv4.rs and the checksum of dumbo/pdu/mod.rs).
 *
 * Options are skipped on input and never written; fragments are not
 * reassembled (upstream neither looks at the flags nor the offset: a TCP
 * stream to the MMDS never needs them, its segments are MSS-sized).
 */
#include "mmds/pdu.h"

#include <errno.h>

#define OFF_VER_IHL  0
#define OFF_TOS      1
#define OFF_TOTAL    2
#define OFF_ID       4
#define OFF_FRAG     6
#define OFF_TTL      8
#define OFF_PROTOCOL 9
#define OFF_CSUM     10
#define OFF_SRC      12
#define OFF_DST      16

static uint16_t fold(uint64_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

uint16_t pdu_ipv4_header_checksum(const uint8_t *p, size_t header_len)
{
    uint64_t sum = 0;

    for (size_t i = 0; i + 1 < header_len; i += 2)
        sum += pdu_get16(p + i);
    return fold(sum);
}

uint16_t pdu_l4_checksum(const uint8_t *p, size_t len, uint32_t src,
                         uint32_t dst, uint8_t protocol)
{
    uint64_t sum = 0;
    uint16_t csum;

    sum += (src & 0xffff) + (src >> 16);
    sum += (dst & 0xffff) + (dst >> 16);
    sum += protocol;
    sum += len;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += pdu_get16(p + i);
    if (len % 2)
        sum += (uint64_t)p[len - 1] << 8;
    csum = fold(sum);
    /* UDP sends an all-ones checksum for a computed zero (RFC 768) */
    if (protocol == PDU_IPV4_PROTO_UDP && csum == 0)
        csum = 0xffff;
    return csum;
}

int pdu_ipv4_parse(const uint8_t *p, size_t len, bool verify_checksum,
                   struct pdu_ipv4 *out)
{
    uint8_t version, header_len;
    uint16_t total_len;

    if (len < PDU_IPV4_MIN_HDR_LEN)
        return -EINVAL;
    version = p[OFF_VER_IHL] >> 4;
    header_len = (uint8_t)((p[OFF_VER_IHL] & 0x0f) << 2);
    total_len = pdu_get16(p + OFF_TOTAL);
    /* upstream's order of checks */
    if (version != 4)
        return -EINVAL;
    if (total_len < header_len)
        return -EINVAL;
    if (total_len != len)
        return -EINVAL;
    if (header_len < PDU_IPV4_MIN_HDR_LEN)
        return -EINVAL;
    if (verify_checksum && pdu_ipv4_header_checksum(p, header_len) != 0)
        return -EBADMSG;
    out->header_len = header_len;
    out->total_len = total_len;
    out->protocol = p[OFF_PROTOCOL];
    out->src = pdu_get32(p + OFF_SRC);
    out->dst = pdu_get32(p + OFF_DST);
    out->payload = p + header_len;
    out->payload_len = len - header_len;
    return 0;
}

size_t pdu_ipv4_write_header(uint8_t *buf, size_t cap, uint8_t protocol,
                             uint32_t src, uint32_t dst, size_t payload_len)
{
    size_t total = PDU_IPV4_MIN_HDR_LEN + payload_len;

    if (cap < PDU_IPV4_MIN_HDR_LEN || payload_len > 65535 || total > 65535 ||
        total > cap)
        return 0;
    buf[OFF_VER_IHL] = (4 << 4) | (PDU_IPV4_MIN_HDR_LEN >> 2);
    buf[OFF_TOS] = 0;
    pdu_put16(buf + OFF_TOTAL, (uint16_t)total);
    pdu_put16(buf + OFF_ID, 0);
    pdu_put16(buf + OFF_FRAG, 0);
    buf[OFF_TTL] = PDU_IPV4_DEFAULT_TTL;
    buf[OFF_PROTOCOL] = protocol;
    pdu_put16(buf + OFF_CSUM, 0);
    pdu_put32(buf + OFF_SRC, src);
    pdu_put32(buf + OFF_DST, dst);
    pdu_put16(buf + OFF_CSUM,
              pdu_ipv4_header_checksum(buf, PDU_IPV4_MIN_HDR_LEN));
    return PDU_IPV4_MIN_HDR_LEN;
}

bool pdu_ipv4_frame_has_dst(const uint8_t *frame, size_t len, uint32_t addr)
{
    if (len < PDU_ETH_HDR_LEN + PDU_IPV4_MIN_HDR_LEN)
        return false;
    return pdu_get32(frame + PDU_ETH_HDR_LEN + OFF_DST) == addr;
}
