/*
 * pdu_arp.c: ARP for IPv4 over Ethernet (RFC 826; upstream
 * dumbo/pdu/arp.rs). The MMDS only answers requests, so only requests are
 * parsed and only replies are written.
 */
#include "mmds/pdu.h"

#include <errno.h>
#include <string.h>

#define HTYPE_ETHERNET 1
#define IPV4_ADDR_LEN  4

/* Field offsets inside the 28-byte body. */
#define OFF_HTYPE 0
#define OFF_PTYPE 2
#define OFF_HLEN  4
#define OFF_PLEN  5
#define OFF_OPER  6
#define OFF_SHA   8
#define OFF_SPA   14
#define OFF_THA   18
#define OFF_TPA   24

int pdu_arp_parse_request(const uint8_t *p, size_t len, struct pdu_arp *out)
{
    /* upstream checks in this order; the first failure is the error */
    if (len != PDU_ARP_LEN)
        return -EINVAL;
    if (pdu_get16(p + OFF_HTYPE) != HTYPE_ETHERNET ||
        pdu_get16(p + OFF_PTYPE) != PDU_ETHERTYPE_IPV4 ||
        p[OFF_HLEN] != PDU_MAC_LEN || p[OFF_PLEN] != IPV4_ADDR_LEN ||
        pdu_get16(p + OFF_OPER) != PDU_ARP_OP_REQUEST)
        return -EINVAL;
    out->operation = PDU_ARP_OP_REQUEST;
    memcpy(out->sha, p + OFF_SHA, PDU_MAC_LEN);
    out->spa = pdu_get32(p + OFF_SPA);
    memcpy(out->tha, p + OFF_THA, PDU_MAC_LEN);
    out->tpa = pdu_get32(p + OFF_TPA);
    return 0;
}

size_t pdu_arp_write_reply(uint8_t *buf, size_t cap, const uint8_t *sha,
                           uint32_t spa, const uint8_t *tha, uint32_t tpa)
{
    if (cap < PDU_ARP_LEN)
        return 0;
    pdu_put16(buf + OFF_HTYPE, HTYPE_ETHERNET);
    pdu_put16(buf + OFF_PTYPE, PDU_ETHERTYPE_IPV4);
    buf[OFF_HLEN] = PDU_MAC_LEN;
    buf[OFF_PLEN] = IPV4_ADDR_LEN;
    pdu_put16(buf + OFF_OPER, PDU_ARP_OP_REPLY);
    memcpy(buf + OFF_SHA, sha, PDU_MAC_LEN);
    pdu_put32(buf + OFF_SPA, spa);
    memcpy(buf + OFF_THA, tha, PDU_MAC_LEN);
    pdu_put32(buf + OFF_TPA, tpa);
    return PDU_ARP_LEN;
}

bool pdu_arp_frame_has_tpa(const uint8_t *frame, size_t len, uint32_t addr)
{
    if (len < PDU_ETH_HDR_LEN + PDU_ARP_LEN)
        return false;
    return pdu_get32(frame + PDU_ETH_HDR_LEN + OFF_TPA) == addr;
}
