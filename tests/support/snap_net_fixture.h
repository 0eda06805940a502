/*
 * snap_net_fixture.h: the fixture state of snap_state_fixture.h with a
 * virtio-net device ("eth0", its own state with both rate limiters and an
 * MMDS stack) in place of its block device (so that a load gets as far as
 * opening the TAP) and the MMDS section that lists it, for tests, the test
 * state-file generator and the state fuzzer's seed. Free with
 * microvm_state_fini().
 */
#ifndef SQUIB_TESTS_SNAP_NET_FIXTURE_H
#define SQUIB_TESTS_SNAP_NET_FIXTURE_H

#include <stdlib.h>

#include "snap_state_fixture.h"
#include "vmm/vdev_net_snap.h"

#define NET_FIXTURE_CONFIG                                                     \
    "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"guest_mac\":"         \
    "\"06:00:ac:10:00:02\",\"mtu\":null,\"rx_rate_limiter\":{\"bandwidth\":"   \
    "{\"size\":1000,\"one_time_burst\":null,\"refill_time\":100},\"ops\":"     \
    "null},\"tx_rate_limiter\":null}"

/* Every field of a net device's own state set, each to its own value. */
static inline void make_net_snap(struct net_snap *n)
{
    static const uint8_t mac[6] = {6, 1, 0x23, 0x45, 0x67, 1};

    memset(n, 0, sizeof(*n));
    n->rx.has_bandwidth = true;
    n->rx.bandwidth = (struct token_bucket_state){1000, 0, 100, 640, 12345};
    n->rx.has_ops = true;
    n->rx.ops = (struct token_bucket_state){10, 5, 1000, 3, 999};
    n->tx.has_ops = true;
    n->tx.ops = (struct token_bucket_state){20, 7, 2000, 19, 1u << 31};
    n->has_mmds = true;
    memcpy(n->mmds_mac, mac, 6);
    n->mmds_ipv4 = 0xa9fea9fe;
    n->mmds_tcp_port = 80;
}

static inline void make_net_state(struct microvm_state *s)
{
    struct vdev_snap *d;
    struct net_snap n;

    make_state(s);
    d = &s->vdevs[0];
    free(d->kind);
    free(d->id);
    buf_fini(&d->device);
    free(s->vdev_configs[0]);
    memset(d, 0, sizeof(*d));
    d->kind = xstrdup("virtio-net");
    d->id = xstrdup("eth0");
    d->addr = 0xc0001000;
    d->gsi = 5;
    d->transport.acked_features = 1ULL << 32 | 1ULL << 5;
    d->transport.status = 15;
    d->transport.activated = true;
    d->transport.n_queues = 2;
    for (int q = 0; q < 2; q++) {
        d->transport.queues[q].size = 256;
        d->transport.queues[q].ready = true;
        d->transport.queues[q].desc_addr = 0x200000 + 0x10000 * (uint64_t)q;
        d->transport.queues[q].next_avail = (uint16_t)(3 + q);
        d->transport.queues[q].next_used = (uint16_t)(2 + q);
    }
    buf_init(&d->device);
    make_net_snap(&n);
    net_snap_encode(&n, &d->device);
    s->vdev_configs[0] = xstrdup(NET_FIXTURE_CONFIG);
    s->mmds = xcalloc(1, sizeof(*s->mmds));
    s->mmds->version = 1;
    s->mmds->imds_compat = true;
    memcpy(s->mmds->ipv4, (const uint8_t[4]){169, 254, 170, 2}, 4);
    s->mmds->n_ifaces = 1;
    s->mmds->ifaces = xcalloc(1, sizeof(*s->mmds->ifaces));
    s->mmds->ifaces[0] = xstrdup("eth0");
}

#endif
