/*
 * pdu_tcp.c: TCP segments (RFC 793; upstream dumbo/pdu/tcp.rs). Of the
 * options only MSS is read and written; the NS bit, URG and the urgent
 * pointer are ignored on input and zero on output.
 */
#include "mmds/pdu.h"

#include <errno.h>
#include <string.h>

#define OFF_SRC_PORT 0
#define OFF_DST_PORT 2
#define OFF_SEQ      4
#define OFF_ACK      8
#define OFF_DATAOFF  12
#define OFF_FLAGS    13
#define OFF_WINDOW   14
#define OFF_CSUM     16
#define OFF_URG      18

#define OPT_EOL     0
#define OPT_NOP     1
#define OPT_MSS     2
#define OPT_MSS_LEN 4

int pdu_tcp_parse(const uint8_t *p, size_t len, const uint32_t *addrs,
                  struct pdu_tcp *out)
{
    uint8_t header_len;
    size_t max_hdr;

    if (len < PDU_TCP_MIN_HDR_LEN || len > 65535)
        return -EINVAL;
    header_len = (uint8_t)((p[OFF_DATAOFF] >> 4) * 4);
    max_hdr = len < PDU_TCP_MAX_HDR_LEN ? len : PDU_TCP_MAX_HDR_LEN;
    if (header_len < PDU_TCP_MIN_HDR_LEN || header_len > max_hdr)
        return -EINVAL;
    if (addrs &&
        pdu_l4_checksum(p, len, addrs[0], addrs[1], PDU_IPV4_PROTO_TCP) != 0)
        return -EBADMSG;
    out->src_port = pdu_get16(p + OFF_SRC_PORT);
    out->dst_port = pdu_get16(p + OFF_DST_PORT);
    out->seq = pdu_get32(p + OFF_SEQ);
    out->ack = pdu_get32(p + OFF_ACK);
    out->header_len = header_len;
    out->flags = p[OFF_FLAGS];
    out->window = pdu_get16(p + OFF_WINDOW);
    out->options = p + PDU_TCP_MIN_HDR_LEN;
    out->options_len = header_len - PDU_TCP_MIN_HDR_LEN;
    out->payload = p + header_len;
    out->payload_len = (uint16_t)(len - header_len);
    return 0;
}

int pdu_tcp_parse_mss(const struct pdu_tcp *s, uint16_t *mss)
{
    const uint8_t *b = s->options;
    size_t n = s->options_len, i = 0;

    *mss = 0;
    /* upstream's loop condition: an option is looked at only while at
     * least 4 bytes remain from it, so a trailing NOP or short option is
     * never read */
    while (i + 3 < n) {
        uint16_t v;

        switch (b[i]) {
        case OPT_EOL:
            return 0;
        case OPT_NOP:
            i++;
            continue;
        case OPT_MSS:
            /* upstream does not check the length byte of MSS itself */
            v = pdu_get16(b + i + 2);
            if (v < PDU_TCP_MSS_MIN || v > PDU_TCP_MSS_MAX)
                return -EINVAL;
            *mss = v;
            return 0;
        default:
            if (b[i + 1] < 2)
                return -EINVAL;
            i += b[i + 1];
            continue;
        }
    }
    return 0;
}

int pdu_tcp_write(uint8_t *buf, size_t cap, const struct pdu_tcp_out *o,
                  size_t *seg_len)
{
    size_t mss_left = o->mss_remaining;
    size_t hdr = PDU_TCP_MIN_HDR_LEN, n = 0;

    if (o->mss_option) {
        if (mss_left < OPT_MSS_LEN)
            return -EINVAL;
        mss_left -= OPT_MSS_LEN;
        hdr += OPT_MSS_LEN;
    }
    if (cap < hdr)
        return -ENOSPC;
    pdu_put16(buf + OFF_SRC_PORT, 0);
    pdu_put16(buf + OFF_DST_PORT, 0);
    pdu_put32(buf + OFF_SEQ, o->seq);
    pdu_put32(buf + OFF_ACK, o->ack);
    buf[OFF_DATAOFF] = (uint8_t)(hdr << 2); /* (hdr / 4) << 4, NS clear */
    buf[OFF_FLAGS] = o->flags;
    pdu_put16(buf + OFF_WINDOW, o->window);
    pdu_put16(buf + OFF_CSUM, 0);
    pdu_put16(buf + OFF_URG, 0);
    if (o->mss_option) {
        buf[PDU_TCP_MIN_HDR_LEN] = OPT_MSS;
        buf[PDU_TCP_MIN_HDR_LEN + 1] = OPT_MSS_LEN;
        pdu_put16(buf + PDU_TCP_MIN_HDR_LEN + 2, o->mss_option);
    }
    if (o->payload) {
        size_t room =
            cap < PDU_TCP_MAX_SEGMENT_LEN ? cap : PDU_TCP_MAX_SEGMENT_LEN;

        room -= hdr;
        if (room > mss_left)
            room = mss_left;
        if (room > o->payload_max)
            room = o->payload_max;
        if (room == 0)
            return -ENODATA;
        memcpy(buf + hdr, o->payload, room);
        n = room;
    }
    *seg_len = hdr + n;
    return 0;
}

void pdu_tcp_finalize(uint8_t *seg, size_t seg_len, uint16_t src_port,
                      uint16_t dst_port, uint32_t src, uint32_t dst)
{
    pdu_put16(seg + OFF_SRC_PORT, src_port);
    pdu_put16(seg + OFF_DST_PORT, dst_port);
    pdu_put16(seg + OFF_CSUM, 0);
    pdu_put16(seg + OFF_CSUM,
              pdu_l4_checksum(seg, seg_len, src, dst, PDU_IPV4_PROTO_TCP));
}

void pdu_tcp_set_flags(uint8_t *seg, uint8_t flags)
{
    seg[OFF_FLAGS] = flags;
}
