/*
 * vdev_net_snap.h: a virtio-net device's own state in a snapshot (the
 * part its kind's save hook appends after the transport: docs/snapshot.md,
 * "Sections"), as upstream's NetState keeps it beside its config: both
 * rate limiters with their buckets' state, and the MMDS network stack of
 * the interface when it has one (MmdsNetworkStackState: MAC, IPv4 address,
 * TCP port). The iface id, the TAP's name, the guest MAC and the MTU
 * travel in the device's configuration (the API's JSON form).
 *
 * Payload, fixed size (NET_SNAP_LEN bytes), little-endian:
 *
 *   rx limiter, tx limiter: each { bandwidth bucket, ops bucket }, a
 *       bucket being u8 present (0/1), u64 size, one-time burst left,
 *       refill time (ms), budget, ns since its last update (all 0 when
 *       absent)
 *   u8 MMDS present (0/1), 6 bytes MAC, u32 IPv4 address (host order:
 *       169.254.169.254 = 0xa9fea9fe), u16 TCP port (all 0 when absent)
 */
#ifndef SQUIB_VMM_VDEV_NET_SNAP_H
#define SQUIB_VMM_VDEV_NET_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/rate_limiter_snap.h"
#include "util/buf.h"
#include "util/err.h"

#define NET_SNAP_BUCKET_LEN  (1 + 5 * 8)
#define NET_SNAP_LIMITER_LEN (2 * NET_SNAP_BUCKET_LEN)
#define NET_SNAP_MMDS_LEN    (1 + 6 + 4 + 2)
#define NET_SNAP_LEN         (2 * NET_SNAP_LIMITER_LEN + NET_SNAP_MMDS_LEN)

struct net_snap {
    struct rate_limiter_state rx, tx;
    bool has_mmds;
    uint8_t mmds_mac[6];
    uint32_t mmds_ipv4;
    uint16_t mmds_tcp_port;
};

/* Append s's payload (NET_SNAP_LEN bytes) to out. */
void net_snap_encode(const struct net_snap *s, struct buf *out);

/*
 * Decode a payload into *out. Returns 0, or -EBADMSG with err set ("net
 * state: 12 bytes, 177 expected", "net state: bad flag") and *out zeroed.
 */
int net_snap_decode(const uint8_t *p, size_t len, struct net_snap *out,
                    struct sq_err *err);

#endif
