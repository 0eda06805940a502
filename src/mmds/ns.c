/*
 * ns.c: the MMDS network stack (see ns.h; upstream mmds/ns.rs).
 *
 * ARP: a request for our address records the asker (its MAC and IPv4
 * address); one reply is pending at a time, a newer request replaces an
 * older one, and it goes out before anything else. IPv4: any well-formed
 * packet to our address is consumed; TCP goes to the handler (tcp.h), the
 * rest is only counted. Replies are addressed to the MAC the last frame
 * came from: one stack serves one NIC, so that is the guest's.
 */
#include "mmds/ns.h"

#include <stdlib.h>
#include <string.h>

#include "mmds/pdu.h"
#include "mmds/tcp.h"
#include "util/time.h"
#include "util/xalloc.h"

const uint8_t mmds_ns_default_mac[6] = {0x06, 0x01, 0x23, 0x45, 0x67, 0x01};

struct mmds_ns {
    uint8_t mac[PDU_MAC_LEN];
    uint8_t remote_mac[PDU_MAC_LEN];
    uint32_t ipv4_addr;
    bool has_arp_reply;
    uint32_t arp_reply_dest; /* the asker's IPv4 address */
    struct tcp_handler *tcp; /* owned */
    mmds_http_fn *http;
    void *http_opaque;
    mmds_clock_fn *clock;
    void *clock_opaque;
    struct mmds_ns_stats stats;
};

static uint64_t mono_clock(void *opaque)
{
    (void)opaque;
    return time_mono_ns();
}

struct mmds_ns *mmds_ns_new(uint32_t ipv4_addr, const uint8_t *mac,
                            mmds_http_fn *http, void *opaque)
{
    struct mmds_ns *ns = xcalloc(1, sizeof(*ns));

    memcpy(ns->mac, mac ? mac : mmds_ns_default_mac, PDU_MAC_LEN);
    memcpy(ns->remote_mac, ns->mac, PDU_MAC_LEN); /* as upstream, until told */
    ns->ipv4_addr = ipv4_addr;
    ns->http = http;
    ns->http_opaque = opaque;
    ns->clock = mono_clock;
    ns->tcp = tcp_handler_new(ipv4_addr, MMDS_NS_TCP_PORT, MMDS_NS_MAX_CONNS,
                              MMDS_NS_MAX_PENDING_RST,
                              (uint32_t)(time_mono_ns() ^ (uintptr_t)ns));
    return ns;
}

void mmds_ns_free(struct mmds_ns *ns)
{
    if (!ns)
        return;
    tcp_handler_free(ns->tcp);
    free(ns);
}

void mmds_ns_set_ipv4_addr(struct mmds_ns *ns, uint32_t ipv4_addr)
{
    ns->ipv4_addr = ipv4_addr;
    tcp_handler_set_addr(ns->tcp, ipv4_addr);
}

uint32_t mmds_ns_ipv4_addr(const struct mmds_ns *ns)
{
    return ns->ipv4_addr;
}

void mmds_ns_set_clock(struct mmds_ns *ns, mmds_clock_fn *clock, void *opaque,
                       uint32_t isn_seed)
{
    /* only before any connection exists: a new handler takes the seed */
    tcp_handler_free(ns->tcp);
    ns->tcp =
        tcp_handler_new(ns->ipv4_addr, MMDS_NS_TCP_PORT, MMDS_NS_MAX_CONNS,
                        MMDS_NS_MAX_PENDING_RST, isn_seed);
    ns->clock = clock ? clock : mono_clock;
    ns->clock_opaque = opaque;
}

bool mmds_ns_is_mmds_frame(const struct mmds_ns *ns, const uint8_t *frame,
                           size_t len)
{
    struct pdu_eth eth;

    if (pdu_eth_parse(frame, len, &eth) < 0)
        return false;
    switch (eth.ethertype) {
    case PDU_ETHERTYPE_ARP:
        return pdu_arp_frame_has_tpa(frame, len, ns->ipv4_addr);
    case PDU_ETHERTYPE_IPV4:
        return pdu_ipv4_frame_has_dst(frame, len, ns->ipv4_addr);
    default:
        return false;
    }
}

static bool detour_arp(struct mmds_ns *ns, const struct pdu_eth *eth)
{
    struct pdu_arp arp;

    if (pdu_arp_parse_request(eth->payload, eth->payload_len, &arp) < 0)
        return false;
    memcpy(ns->remote_mac, arp.sha, PDU_MAC_LEN);
    ns->arp_reply_dest = arp.spa;
    ns->has_arp_reply = true;
    return true;
}

static bool detour_ipv4(struct mmds_ns *ns, const struct pdu_eth *eth)
{
    struct tcp_counters ctr = {0};
    enum tcp_recv_event ev;
    struct pdu_ipv4 ip;

    /* No header checksum check, as upstream: the guest may rely on
     * checksum offload. */
    if (pdu_ipv4_parse(eth->payload, eth->payload_len, false, &ip) < 0)
        return false;
    if (ip.protocol != PDU_IPV4_PROTO_TCP) {
        ns->stats.rx_accepted_unusual++;
        return true;
    }
    memcpy(ns->remote_mac, eth->src_mac, PDU_MAC_LEN);
    if (tcp_handler_receive(ns->tcp, &ip, ns->clock(ns->clock_opaque), ns->http,
                            ns->http_opaque, &ctr, &ev) < 0) {
        ns->stats.rx_accepted_err++;
    } else {
        ns->stats.rx_count++;
        if (ev == TCP_RECV_EV_NEW_CONN || ev == TCP_RECV_EV_NEW_CONN_REPLACING)
            ns->stats.connections_created++;
        if (ev == TCP_RECV_EV_NEW_CONN_REPLACING ||
            ev == TCP_RECV_EV_ENDPOINT_DONE)
            ns->stats.connections_destroyed++;
    }
    ns->stats.rx_accepted_err += ctr.rx_accepted_err;
    ns->stats.rx_accepted_unusual += ctr.rx_accepted_unusual;
    ns->stats.tx_errors += ctr.tx_errors;
    return true;
}

bool mmds_ns_detour_frame(struct mmds_ns *ns, const uint8_t *frame, size_t len)
{
    struct pdu_eth eth;
    bool taken = false;

    if (pdu_eth_parse(frame, len, &eth) < 0) {
        ns->stats.rx_bad_eth++;
        return false;
    }
    if (!mmds_ns_is_mmds_frame(ns, frame, len))
        return false;
    if (eth.ethertype == PDU_ETHERTYPE_ARP)
        taken = detour_arp(ns, &eth);
    else if (eth.ethertype == PDU_ETHERTYPE_IPV4)
        taken = detour_ipv4(ns, &eth);
    if (taken)
        ns->stats.rx_accepted++;
    return taken;
}

static size_t write_arp_reply(struct mmds_ns *ns, uint8_t *buf, size_t cap)
{
    if (!pdu_eth_write_header(buf, cap, ns->remote_mac, ns->mac,
                              PDU_ETHERTYPE_ARP) ||
        !pdu_arp_write_reply(buf + PDU_ETH_HDR_LEN, cap - PDU_ETH_HDR_LEN,
                             ns->mac, ns->ipv4_addr, ns->remote_mac,
                             ns->arp_reply_dest))
        return 0;
    return PDU_ETH_HDR_LEN + PDU_ARP_LEN;
}

static bool tcp_due(struct mmds_ns *ns)
{
    uint64_t t = 0;

    switch (tcp_handler_next_status(ns->tcp, &t)) {
    case TCP_NEXT_AVAILABLE:
        return true;
    case TCP_NEXT_TIMEOUT:
        return ns->clock(ns->clock_opaque) >= t;
    default:
        return false;
    }
}

size_t mmds_ns_write_next_frame(struct mmds_ns *ns, uint8_t *buf, size_t cap)
{
    struct tcp_counters ctr = {0};
    size_t n = 0;
    bool done = false;

    if (ns->has_arp_reply) {
        n = write_arp_reply(ns, buf, cap);
        if (!n) {
            ns->stats.tx_errors++;
            return 0;
        }
        ns->stats.tx_count++;
        ns->has_arp_reply = false;
        return n;
    }
    if (!tcp_due(ns))
        return 0;
    if (!pdu_eth_write_header(buf, cap, ns->remote_mac, ns->mac,
                              PDU_ETHERTYPE_IPV4) ||
        tcp_handler_write_next(
            ns->tcp, buf + PDU_ETH_HDR_LEN, cap - PDU_ETH_HDR_LEN,
            ns->clock(ns->clock_opaque), &ctr, &n, &done) < 0) {
        ns->stats.tx_errors++;
        return 0;
    }
    ns->stats.tx_errors += ctr.tx_errors;
    /* upstream counts a successful call, even one that wrote nothing */
    ns->stats.tx_count++;
    if (done)
        ns->stats.connections_destroyed++;
    return n ? PDU_ETH_HDR_LEN + n : 0;
}

bool mmds_ns_has_frame(struct mmds_ns *ns)
{
    return ns->has_arp_reply || tcp_due(ns);
}

const struct mmds_ns_stats *mmds_ns_stats(const struct mmds_ns *ns)
{
    return &ns->stats;
}

size_t mmds_ns_n_conns(const struct mmds_ns *ns)
{
    return tcp_handler_n_conns(ns->tcp);
}
