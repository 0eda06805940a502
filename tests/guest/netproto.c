/*
 * netproto.c: the raw-frame network client of the test guest (netproto.h).
 *
 * Frames are built in c->tx and read into c->rx. Every wait reads frames
 * one by one through recv_frame until the one waited for comes, the
 * callback reports a timeout, or NP_WAIT_FRAMES frames went by without
 * it (a chatty peer must not keep the guest waiting forever; the client
 * has no clock of its own). Frames that are not for us, or that fail a
 * length or checksum check, are counted and dropped.
 *
 * This file is compiled twice: freestanding into the guest (no libc at
 * all) and hosted into tests/unit/test_netproto, so it includes only the
 * headers a freestanding compiler has and copies bytes itself.
 */
#include "netproto.h"

#define NP_WAIT_FRAMES 512

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP  0x0806
#define ARP_LEN        28
#define IP_HDR_LEN     20
#define IP_PROTO_ICMP  1
#define IP_PROTO_TCP   6
#define TCP_HDR_LEN    20
#define ICMP_HDR_LEN   8
#define ICMP_MAX_DATA  1024
#define TCP_MSS_DFLT   536

static const uint8_t broadcast[NP_MAC_LEN] = {0xff, 0xff, 0xff,
                                              0xff, 0xff, 0xff};

/* ------------------------------------------------------------ bytes */

void np_copy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;

    for (size_t i = 0; i < n; i++)
        d[i] = s[i];
}

bool np_equal(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;

    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i])
            return false;
    }
    return true;
}

size_t np_strlen(const char *s)
{
    size_t n = 0;

    while (s[n])
        n++;
    return n;
}

static void zero(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = 0;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* RFC 1071 one's-complement sum, big-endian 16-bit words. */
static uint32_t sum_add(uint32_t s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += get16(p + i);
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    return s;
}

static uint16_t sum_fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static uint32_t pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto,
                           size_t len)
{
    return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto +
           (uint32_t)len;
}

/* ---------------------------------------------------------- strings */

void np_str_init(struct np_str *s, char *p, size_t cap)
{
    s->p = p;
    s->cap = cap;
    s->len = 0;
    s->cut = false;
    if (cap)
        p[0] = '\0';
}

void np_str_addn(struct np_str *s, const char *text, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s->len + 1 >= s->cap) {
            s->cut = true;
            break;
        }
        s->p[s->len++] = text[i];
    }
    if (s->cap)
        s->p[s->len] = '\0';
}

void np_str_add(struct np_str *s, const char *text)
{
    np_str_addn(s, text, np_strlen(text));
}

void np_str_dec(struct np_str *s, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    np_str_addn(s, tmp + sizeof(tmp) - n, n);
}

int np_parse_ipv4(const char *s, size_t n, uint32_t *ip)
{
    uint32_t v = 0, part = 0;
    size_t i, digits = 0, dots = 0;

    for (i = 0; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            part = part * 10 + (uint32_t)(s[i] - '0');
            if (++digits > 3 || part > 255)
                return -1;
        } else if (s[i] == '.' && digits && dots < 3) {
            v = v << 8 | part;
            part = 0;
            digits = 0;
            dots++;
        } else {
            return -1;
        }
    }
    if (dots != 3 || !digits)
        return -1;
    *ip = v << 8 | part;
    return 0;
}

/* ------------------------------------------------------------ frames */

void np_init(struct np_client *c, const uint8_t mac[NP_MAC_LEN], uint32_t ip,
             np_send_fn *send_frame, np_recv_fn *recv_frame, void *opaque)
{
    zero((uint8_t *)c, sizeof(*c));
    np_copy(c->mac, mac, NP_MAC_LEN);
    c->ip = ip;
    c->send_frame = send_frame;
    c->recv_frame = recv_frame;
    c->opaque = opaque;
    c->timeout_ms = 1000;
    c->ip_id = 1;
}

/* Send c->tx with an Ethernet header in front of payload_len bytes. */
static int send_eth(struct np_client *c, const uint8_t dst[NP_MAC_LEN],
                    uint16_t ethertype, size_t payload_len)
{
    np_copy(c->tx, dst, NP_MAC_LEN);
    np_copy(c->tx + NP_MAC_LEN, c->mac, NP_MAC_LEN);
    put16(c->tx + 12, ethertype);
    if (c->send_frame(c->opaque, c->tx, NP_ETH_HDR_LEN + payload_len) < 0)
        return NP_SEND;
    c->stats.tx_frames++;
    return NP_OK;
}

/* Send the l4_len bytes already at c->tx + 34 as an IPv4 packet. */
static int send_ip(struct np_client *c, const uint8_t dst_mac[NP_MAC_LEN],
                   uint32_t dst, uint8_t proto, size_t l4_len)
{
    uint8_t *ip = c->tx + NP_ETH_HDR_LEN;

    ip[0] = 0x45;
    ip[1] = 0;
    put16(ip + 2, (uint16_t)(IP_HDR_LEN + l4_len));
    put16(ip + 4, c->ip_id++);
    put16(ip + 6, 0x4000); /* DF */
    ip[8] = 64;
    ip[9] = proto;
    put16(ip + 10, 0);
    put32(ip + 12, c->ip);
    put32(ip + 16, dst);
    put16(ip + 10, sum_fold(sum_add(0, ip, IP_HDR_LEN)));
    return send_eth(c, dst_mac, ETHERTYPE_IPV4, IP_HDR_LEN + l4_len);
}

/* A received frame, parsed. */
enum rx_kind { RX_OTHER, RX_ARP, RX_ICMP, RX_TCP };

struct rx {
    enum rx_kind kind;
    /* ARP */
    uint16_t arp_op;
    uint8_t sha[NP_MAC_LEN];
    uint32_t spa, tpa;
    /* IPv4 */
    uint32_t src;
    /* ICMP */
    uint8_t icmp_type;
    uint16_t icmp_id, icmp_seq;
    /* TCP */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t window, mss;
    /* ICMP or TCP payload */
    const uint8_t *data;
    size_t data_len;
};

static void parse_tcp(struct np_client *c, const uint8_t *t, size_t len,
                      uint32_t src, struct rx *r)
{
    size_t doff;

    if (len < TCP_HDR_LEN) {
        c->stats.rx_bad++;
        return;
    }
    doff = (size_t)(t[12] >> 4) * 4;
    if (doff < TCP_HDR_LEN || doff > len ||
        sum_fold(sum_add(pseudo_sum(src, c->ip, IP_PROTO_TCP, len), t, len))) {
        c->stats.rx_bad++;
        return;
    }
    r->sport = get16(t);
    r->dport = get16(t + 2);
    r->seq = get32(t + 4);
    r->ack = get32(t + 8);
    r->flags = t[13];
    r->window = get16(t + 14);
    r->mss = 0;
    for (size_t i = TCP_HDR_LEN; i < doff;) {
        uint8_t kind = t[i];

        if (kind == 0)
            break;
        if (kind == 1) {
            i++;
            continue;
        }
        if (i + 1 >= doff || t[i + 1] < 2 || i + t[i + 1] > doff)
            break;
        if (kind == 2 && t[i + 1] == 4)
            r->mss = get16(t + i + 2);
        i += t[i + 1];
    }
    r->data = t + doff;
    r->data_len = len - doff;
    r->kind = RX_TCP;
}

static void parse_ipv4(struct np_client *c, const uint8_t *ip, size_t len,
                       struct rx *r)
{
    size_t ihl, total;

    if (len < IP_HDR_LEN || (ip[0] >> 4) != 4) {
        c->stats.rx_bad++;
        return;
    }
    ihl = (size_t)(ip[0] & 0xf) * 4;
    total = get16(ip + 2);
    if (ihl < IP_HDR_LEN || total < ihl || total > len ||
        sum_fold(sum_add(0, ip, ihl))) {
        c->stats.rx_bad++;
        return;
    }
    if (get32(ip + 16) != c->ip || (get16(ip + 6) & 0x3fff))
        return; /* not ours, or a fragment */
    r->src = get32(ip + 12);
    if (ip[9] == IP_PROTO_TCP) {
        parse_tcp(c, ip + ihl, total - ihl, r->src, r);
    } else if (ip[9] == IP_PROTO_ICMP) {
        const uint8_t *m = ip + ihl;
        size_t ml = total - ihl;

        if (ml < ICMP_HDR_LEN || sum_fold(sum_add(0, m, ml))) {
            c->stats.rx_bad++;
            return;
        }
        r->icmp_type = m[0];
        r->icmp_id = get16(m + 4);
        r->icmp_seq = get16(m + 6);
        r->data = m + ICMP_HDR_LEN;
        r->data_len = ml - ICMP_HDR_LEN;
        r->kind = RX_ICMP;
    }
}

/* An IPv4-over-Ethernet ARP packet at a: opcode op, from us, to tha
 * (NULL: unknown, zeros) at tpa. */
static void arp_fill(uint8_t *a, uint16_t op, const struct np_client *c,
                     const uint8_t *tha, uint32_t tpa)
{
    put16(a, 1);
    put16(a + 2, ETHERTYPE_IPV4);
    a[4] = NP_MAC_LEN;
    a[5] = 4;
    put16(a + 6, op);
    np_copy(a + 8, c->mac, NP_MAC_LEN);
    put32(a + 14, c->ip);
    if (tha)
        np_copy(a + 18, tha, NP_MAC_LEN);
    else
        zero(a + 18, NP_MAC_LEN);
    put32(a + 24, tpa);
}

/*
 * Answer an ARP request for our address, as any host on a LAN does: a peer
 * that lost its neighbour entry (a restored guest behind a new TAP, say)
 * asks before it answers. Built in its own buffer, so c->tx keeps the
 * frame a caller may still resend.
 */
static void arp_answer(struct np_client *c, const struct rx *r)
{
    uint8_t f[NP_ETH_HDR_LEN + ARP_LEN];

    np_copy(f, r->sha, NP_MAC_LEN);
    np_copy(f + NP_MAC_LEN, c->mac, NP_MAC_LEN);
    put16(f + 12, ETHERTYPE_ARP);
    arp_fill(f + NP_ETH_HDR_LEN, 2 /* reply */, c, r->sha, r->spa);
    if (c->send_frame(c->opaque, f, sizeof(f)) >= 0) {
        c->stats.tx_frames++;
        c->stats.arp_answered++;
    }
}

/*
 * Receive and parse one frame. NP_OK with r filled (kind RX_OTHER for
 * anything not for us), or NP_TIMEOUT. An ARP request for our address is
 * answered here.
 */
static int receive(struct np_client *c, struct rx *r)
{
    size_t len = c->recv_frame(c->opaque, c->rx, sizeof(c->rx), c->timeout_ms);
    const uint8_t *p = c->rx + NP_ETH_HDR_LEN;

    zero((uint8_t *)r, sizeof(*r));
    if (!len)
        return NP_TIMEOUT;
    c->stats.rx_frames++;
    if (len > sizeof(c->rx) || len < NP_ETH_HDR_LEN) {
        c->stats.rx_bad++;
        return NP_OK;
    }
    if (!np_equal(c->rx, c->mac, NP_MAC_LEN) &&
        !np_equal(c->rx, broadcast, NP_MAC_LEN))
        return NP_OK;
    len -= NP_ETH_HDR_LEN;
    switch (get16(c->rx + 12)) {
    case ETHERTYPE_ARP:
        if (len < ARP_LEN || get16(p) != 1 || get16(p + 2) != ETHERTYPE_IPV4 ||
            p[4] != NP_MAC_LEN || p[5] != 4) {
            c->stats.rx_bad++;
            break;
        }
        r->arp_op = get16(p + 6);
        np_copy(r->sha, p + 8, NP_MAC_LEN);
        r->spa = get32(p + 14);
        r->tpa = get32(p + 24);
        r->kind = RX_ARP;
        if (r->arp_op == 1 && r->tpa == c->ip && c->ip)
            arp_answer(c, r);
        break;
    case ETHERTYPE_IPV4:
        parse_ipv4(c, p, len, r);
        break;
    default:
        break;
    }
    return NP_OK;
}

/* ---------------------------------------------------------- ARP, ICMP */

int np_arp_resolve(struct np_client *c, uint32_t ip, uint8_t mac[NP_MAC_LEN])
{
    uint8_t *a = c->tx + NP_ETH_HDR_LEN;
    struct rx r;
    int rc;

    arp_fill(a, 1 /* request */, c, NULL, ip);
    rc = send_eth(c, broadcast, ETHERTYPE_ARP, ARP_LEN);
    if (rc)
        return rc;
    for (int i = 0; i < NP_WAIT_FRAMES; i++) {
        if (receive(c, &r))
            return NP_TIMEOUT;
        if (r.kind == RX_ARP && r.arp_op == 2)
            c->stats.arp_replies++;
        if (r.kind == RX_ARP && r.arp_op == 2 && r.spa == ip &&
            r.tpa == c->ip) {
            np_copy(mac, r.sha, NP_MAC_LEN);
            return NP_OK;
        }
        c->stats.rx_ignored++;
    }
    return NP_TIMEOUT;
}

int np_ping(struct np_client *c, const uint8_t mac[NP_MAC_LEN], uint32_t ip,
            uint16_t id, uint16_t seq, const uint8_t *data, size_t len)
{
    uint8_t *m = c->tx + NP_ETH_HDR_LEN + IP_HDR_LEN;
    struct rx r;
    int rc;

    if (len > ICMP_MAX_DATA)
        len = ICMP_MAX_DATA;
    m[0] = 8; /* echo request */
    m[1] = 0;
    put16(m + 2, 0);
    put16(m + 4, id);
    put16(m + 6, seq);
    np_copy(m + ICMP_HDR_LEN, data, len);
    put16(m + 2, sum_fold(sum_add(0, m, ICMP_HDR_LEN + len)));
    rc = send_ip(c, mac, ip, IP_PROTO_ICMP, ICMP_HDR_LEN + len);
    if (rc)
        return rc;
    for (int i = 0; i < NP_WAIT_FRAMES; i++) {
        if (receive(c, &r))
            return NP_TIMEOUT;
        if (r.kind == RX_ICMP && r.icmp_type == 0 && r.src == ip &&
            r.icmp_id == id && r.icmp_seq == seq && r.data_len == len &&
            np_equal(r.data, data, len))
            return NP_OK;
        c->stats.rx_ignored++;
    }
    return NP_TIMEOUT;
}

/* --------------------------------------------------------------- TCP */

/* Send a segment of t with flags and len bytes of data (MSS option on a
 * SYN). Sequence numbers are the caller's business. */
static int send_seg(struct np_client *c, const struct np_tcp *t, uint32_t seq,
                    uint8_t flags, const void *data, size_t len)
{
    uint8_t *s = c->tx + NP_ETH_HDR_LEN + IP_HDR_LEN;
    size_t hl = (flags & NP_TCP_SYN) ? TCP_HDR_LEN + 4 : TCP_HDR_LEN;

    put16(s, t->sport);
    put16(s + 2, t->dport);
    put32(s + 4, seq);
    put32(s + 8, (flags & NP_TCP_ACK) ? t->rcv_nxt : 0);
    s[12] = (uint8_t)((hl / 4) << 4);
    s[13] = flags;
    put16(s + 14, NP_RCV_WINDOW);
    put16(s + 16, 0);
    put16(s + 18, 0);
    if (hl > TCP_HDR_LEN) {
        s[20] = 2;
        s[21] = 4;
        put16(s + 22, NP_MSS);
    }
    np_copy(s + hl, data, len);
    put16(s + 16,
          sum_fold(sum_add(pseudo_sum(c->ip, t->dst_ip, IP_PROTO_TCP, hl + len),
                           s, hl + len)));
    return send_ip(c, t->dst_mac, t->dst_ip, IP_PROTO_TCP, hl + len);
}

static int send_ack(struct np_client *c, struct np_tcp *t)
{
    c->stats.acks_sent++;
    return send_seg(c, t, t->snd_nxt, NP_TCP_ACK, NULL, 0);
}

static bool for_conn(const struct np_tcp *t, const struct rx *r)
{
    return r->kind == RX_TCP && r->src == t->dst_ip && r->sport == t->dport &&
           r->dport == t->sport;
}

/* Sequence a is after b (modulo 2^32). */
static bool seq_after(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}

/*
 * Take a segment of t: RST, the SYN-ACK, ACKs, data in order (out of
 * order: dropped and re-acknowledged), the peer's FIN. Returns send
 * errors only.
 */
static int tcp_input(struct np_client *c, struct np_tcp *t, const struct rx *r)
{
    bool need_ack = false;

    if (r->flags & NP_TCP_RST) {
        c->stats.rsts_seen++;
        t->reset = true;
        t->rst_seq = r->seq;
        t->rst_ack = r->ack;
        t->rst_flags = r->flags;
        return NP_OK;
    }
    if (r->flags & NP_TCP_SYN) {
        if (!(r->flags & NP_TCP_ACK) ||
            (t->established ? r->seq + 1 != t->irs_next
                            : r->ack != t->snd_nxt)) {
            c->stats.rx_ignored++;
            return NP_OK;
        }
        if (!t->established) {
            t->established = true;
            t->snd_una = r->ack;
            t->rcv_nxt = r->seq + 1;
            t->irs_next = r->seq + 1;
            t->peer_wnd = r->window;
            t->peer_mss = r->mss ? r->mss : TCP_MSS_DFLT;
        }
        return send_ack(c, t); /* again, if ours was lost */
    }
    if (!t->established) {
        c->stats.rx_ignored++;
        return NP_OK;
    }
    if (r->flags & NP_TCP_ACK) {
        if (seq_after(r->ack, t->snd_una) && !seq_after(r->ack, t->snd_nxt))
            t->snd_una = r->ack;
        t->peer_wnd = r->window;
    }
    if (r->data_len) {
        if (r->seq == t->rcv_nxt) {
            size_t room = t->rcap - t->rlen;
            size_t n = r->data_len < room ? r->data_len : room;

            if (n)
                np_copy(t->rbuf + t->rlen, r->data, n);
            t->rlen += n;
            t->overflow |= n < r->data_len;
            t->rcv_nxt += (uint32_t)r->data_len;
            c->stats.segments_in++;
            if (r->data_len > c->stats.max_seg_data)
                c->stats.max_seg_data = r->data_len;
        } else {
            c->stats.rx_dup++;
        }
        need_ack = true;
    }
    if ((r->flags & NP_TCP_FIN) && !t->fin_received) {
        if (r->seq + (uint32_t)r->data_len == t->rcv_nxt) {
            t->fin_received = true;
            t->rcv_nxt++;
        }
        need_ack = true;
    }
    return need_ack ? send_ack(c, t) : NP_OK;
}

enum wait_for { W_ESTABLISHED, W_ACKED, W_CLOSED, W_RESET };

static bool waited(const struct np_tcp *t, enum wait_for w)
{
    switch (w) {
    case W_ESTABLISHED:
        return t->established;
    case W_ACKED:
        return t->snd_una == t->snd_nxt;
    case W_CLOSED:
        return t->fin_received && t->snd_una == t->snd_nxt;
    default:
        return false;
    }
}

/* Read t's segments until w holds, a RST comes or nothing more does. */
static int tcp_wait(struct np_client *c, struct np_tcp *t, enum wait_for w)
{
    struct rx r;
    int rc;

    for (int i = 0; i < NP_WAIT_FRAMES; i++) {
        if (t->reset)
            return NP_RST;
        if (waited(t, w))
            return NP_OK;
        if (receive(c, &r))
            return NP_TIMEOUT;
        if (!for_conn(t, &r)) {
            c->stats.rx_ignored++;
            continue;
        }
        rc = tcp_input(c, t, &r);
        if (rc)
            return rc;
    }
    return t->reset ? NP_RST : NP_TIMEOUT;
}

void np_tcp_prepare(struct np_tcp *t, const uint8_t mac[NP_MAC_LEN],
                    uint32_t ip, uint16_t dport, uint16_t sport, uint32_t seq,
                    uint32_t ack)
{
    zero((uint8_t *)t, sizeof(*t));
    np_copy(t->dst_mac, mac, NP_MAC_LEN);
    t->dst_ip = ip;
    t->dport = dport;
    t->sport = sport;
    t->snd_una = seq;
    t->snd_nxt = seq;
    t->rcv_nxt = ack;
}

int np_tcp_connect(struct np_client *c, struct np_tcp *t,
                   const uint8_t mac[NP_MAC_LEN], uint32_t ip, uint16_t dport,
                   uint16_t sport, uint32_t iss)
{
    int rc;

    np_tcp_prepare(t, mac, ip, dport, sport, iss, 0);
    rc = send_seg(c, t, iss, NP_TCP_SYN, NULL, 0);
    if (rc)
        return rc;
    t->snd_nxt = iss + 1;
    return tcp_wait(c, t, W_ESTABLISHED);
}

int np_tcp_send(struct np_client *c, struct np_tcp *t, const void *data,
                size_t len, size_t seg_max)
{
    const uint8_t *p = data;
    size_t off = 0;
    int rc;

    if (!t->established || t->fin_sent)
        return NP_STATE;
    if (seg_max == 0 || seg_max > t->peer_mss)
        seg_max = t->peer_mss;
    while (off < len) {
        size_t n = len - off < seg_max ? len - off : seg_max;

        if (t->reset)
            return NP_RST;
        if (t->peer_wnd == 0)
            return NP_WINDOW;
        if (n > t->peer_wnd)
            n = t->peer_wnd;
        rc = send_seg(c, t, t->snd_nxt, NP_TCP_ACK | NP_TCP_PSH, p + off, n);
        if (rc)
            return rc;
        t->snd_nxt += (uint32_t)n;
        off += n;
        rc = tcp_wait(c, t, W_ACKED);
        if (rc)
            return rc;
    }
    return NP_OK;
}

int np_tcp_request(struct np_client *c, struct np_tcp *t, const void *req,
                   size_t req_len, size_t seg_max, uint8_t *resp, size_t cap,
                   size_t *resp_len, struct np_http *hp)
{
    struct np_http h;
    struct rx r;
    int rc;

    t->rbuf = resp;
    t->rcap = cap;
    t->rlen = 0;
    t->overflow = false;
    *resp_len = 0;
    rc = np_tcp_send(c, t, req, req_len, seg_max);
    for (int i = 0; rc == NP_OK; i++) {
        np_http_parse(resp, t->rlen, &h);
        if (h.complete)
            break;
        if (t->overflow)
            rc = NP_NOSPACE;
        else if (t->reset)
            rc = NP_RST;
        else if (t->fin_received || i >= NP_WAIT_FRAMES)
            rc = NP_STATE;
        else if (receive(c, &r))
            rc = NP_TIMEOUT;
        else if (!for_conn(t, &r))
            c->stats.rx_ignored++;
        else
            rc = tcp_input(c, t, &r);
    }
    *resp_len = t->rlen;
    if (hp)
        np_http_parse(resp, t->rlen, hp);
    return rc;
}

int np_tcp_close(struct np_client *c, struct np_tcp *t)
{
    int rc;

    if (!t->established)
        return NP_STATE;
    if (!t->fin_sent) {
        rc = send_seg(c, t, t->snd_nxt, NP_TCP_FIN | NP_TCP_ACK, NULL, 0);
        if (rc)
            return rc;
        t->snd_nxt++;
        t->fin_sent = true;
    }
    return tcp_wait(c, t, W_CLOSED);
}

int np_tcp_probe(struct np_client *c, struct np_tcp *t, uint8_t flags)
{
    int rc;

    t->reset = false;
    rc = send_seg(c, t, t->snd_nxt, flags, NULL, 0);
    if (rc)
        return rc;
    rc = tcp_wait(c, t, W_RESET);
    return rc == NP_RST ? NP_RST : NP_TIMEOUT;
}

/* -------------------------------------------------------------- HTTP */

static char lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch + ('a' - 'A')) : ch;
}

/* The end of the head (past "\r\n\r\n"), or 0. */
static size_t head_end(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 4 <= len; i++) {
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' &&
            p[i + 3] == '\n')
            return i + 4;
    }
    return 0;
}

bool np_http_header(const uint8_t *p, size_t len, const char *name,
                    const char **val, size_t *val_len)
{
    size_t nl = np_strlen(name), end = head_end(p, len), i = 0;

    if (!end)
        return false;
    /* skip the status line */
    while (i + 1 < end && !(p[i] == '\r' && p[i + 1] == '\n'))
        i++;
    i += 2;
    while (i + 2 <= end) {
        size_t eol = i, k;

        while (eol + 1 < end && !(p[eol] == '\r' && p[eol + 1] == '\n'))
            eol++;
        if (eol == i)
            break; /* the blank line */
        for (k = 0; k < nl && i + k < eol; k++) {
            if (lower((char)p[i + k]) != lower(name[k]))
                break;
        }
        if (k == nl && i + nl < eol && p[i + nl] == ':') {
            size_t v = i + nl + 1;

            while (v < eol && p[v] == ' ')
                v++;
            *val = (const char *)p + v;
            *val_len = eol - v;
            return true;
        }
        i = eol + 2;
    }
    return false;
}

bool np_http_parse(const uint8_t *p, size_t len, struct np_http *h)
{
    const char *v;
    size_t vl, cl = 0;

    zero((uint8_t *)h, sizeof(*h));
    h->header_len = head_end(p, len);
    if (!h->header_len || h->header_len < 13 || !np_equal(p, "HTTP/1.", 7) ||
        p[8] != ' ') {
        h->header_len = 0;
        return false;
    }
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9') {
            h->header_len = 0;
            return false;
        }
        h->status = h->status * 10 + (p[i] - '0');
    }
    if (np_http_header(p, len, "Content-Length", &v, &vl)) {
        for (size_t i = 0; i < vl && v[i] >= '0' && v[i] <= '9'; i++)
            cl = cl * 10 + (size_t)(v[i] - '0');
    }
    h->content_length = cl;
    if (np_http_header(p, len, "Content-Type", &v, &vl)) {
        h->content_type = v;
        h->content_type_len = vl;
    }
    h->body = p + h->header_len;
    h->complete = len >= h->header_len + cl;
    return true;
}
