/*
 * pdu_eth.c: Ethernet II headers (upstream dumbo/pdu/ethernet.rs). No VLAN
 * tags and no FCS: virtio-net frames carry neither.
 */
#include "mmds/pdu.h"

#include <errno.h>
#include <string.h>

int pdu_eth_parse(const uint8_t *p, size_t len, struct pdu_eth *out)
{
    if (len < PDU_ETH_HDR_LEN)
        return -EINVAL;
    out->dst_mac = p;
    out->src_mac = p + 6;
    out->ethertype = pdu_get16(p + 12);
    out->payload = p + PDU_ETH_HDR_LEN;
    out->payload_len = len - PDU_ETH_HDR_LEN;
    return 0;
}

size_t pdu_eth_write_header(uint8_t *buf, size_t cap, const uint8_t *dst_mac,
                            const uint8_t *src_mac, uint16_t ethertype)
{
    if (cap < PDU_ETH_HDR_LEN)
        return 0;
    memcpy(buf, dst_mac, PDU_MAC_LEN);
    memcpy(buf + 6, src_mac, PDU_MAC_LEN);
    pdu_put16(buf + 12, ethertype);
    return PDU_ETH_HDR_LEN;
}
