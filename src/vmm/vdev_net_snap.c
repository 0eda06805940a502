/*
 * vdev_net_snap.c: the net kind's snapshot hooks and its payload
 * (vdev_net_snap.h), upstream's Net::save / Net::restore less what the
 * configuration and the transport carry.
 */
#include "vmm/vdev_net_snap.h"

#include <errno.h>
#include <string.h>

#include "mmds/ns.h"
#include "util/le.h"
#include "vmm/vdev_net_int.h"

/* ---- payload ------------------------------------------------------------ */

static void put_bucket(struct buf *b, bool has,
                       const struct token_bucket_state *t)
{
    const uint64_t v[5] = {t->size, t->one_time_burst, t->refill_time_ms,
                           t->budget, t->elapsed_ns};
    uint8_t p[NET_SNAP_BUCKET_LEN];

    memset(p, 0, sizeof(p));
    p[0] = has;
    for (int i = 0; has && i < 5; i++)
        le_put64(p + 1 + 8 * i, v[i]);
    buf_append(b, p, sizeof(p));
}

void net_snap_encode(const struct net_snap *s, struct buf *out)
{
    const struct rate_limiter_state *rl[2] = {&s->rx, &s->tx};
    uint8_t m[NET_SNAP_MMDS_LEN];

    for (int i = 0; i < 2; i++) {
        put_bucket(out, rl[i]->has_bandwidth, &rl[i]->bandwidth);
        put_bucket(out, rl[i]->has_ops, &rl[i]->ops);
    }
    memset(m, 0, sizeof(m));
    if (s->has_mmds) {
        m[0] = 1;
        memcpy(m + 1, s->mmds_mac, 6);
        le_put32(m + 7, s->mmds_ipv4);
        le_put16(m + 11, s->mmds_tcp_port);
    }
    buf_append(out, m, sizeof(m));
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* One bucket at p; false for a flag other than 0 or 1, or an absent
 * bucket with non-zero fields. */
static bool get_bucket(const uint8_t *p, bool *has,
                       struct token_bucket_state *t)
{
    uint64_t v[5];

    for (int i = 0; i < 5; i++)
        v[i] = get_le(p + 1 + 8 * i, 8);
    *has = p[0] == 1;
    t->size = v[0];
    t->one_time_burst = v[1];
    t->refill_time_ms = v[2];
    t->budget = v[3];
    t->elapsed_ns = v[4];
    return p[0] == 1 || (p[0] == 0 && !(v[0] | v[1] | v[2] | v[3] | v[4]));
}

int net_snap_decode(const uint8_t *p, size_t len, struct net_snap *out,
                    struct sq_err *err)
{
    struct rate_limiter_state *rl[2] = {&out->rx, &out->tx};
    const uint8_t *m = p + 2 * NET_SNAP_LIMITER_LEN;
    bool ok = true;

    memset(out, 0, sizeof(*out));
    if (len != NET_SNAP_LEN)
        return sq_errf(err, -EBADMSG, "net state: %zu bytes, %u expected", len,
                       (unsigned)NET_SNAP_LEN);
    for (int i = 0; i < 2; i++) {
        const uint8_t *q = p + i * NET_SNAP_LIMITER_LEN;

        ok &= get_bucket(q, &rl[i]->has_bandwidth, &rl[i]->bandwidth);
        ok &= get_bucket(q + NET_SNAP_BUCKET_LEN, &rl[i]->has_ops, &rl[i]->ops);
    }
    out->has_mmds = m[0] == 1;
    memcpy(out->mmds_mac, m + 1, 6);
    out->mmds_ipv4 = (uint32_t)get_le(m + 7, 4);
    out->mmds_tcp_port = (uint16_t)get_le(m + 11, 2);
    if (m[0] > 1 || (m[0] == 0 && (get_le(m + 1, 6) || out->mmds_ipv4 ||
                                   out->mmds_tcp_port)))
        ok = false;
    if (!ok) {
        memset(out, 0, sizeof(*out));
        return sq_errf(err, -EBADMSG, "net state: bad flag");
    }
    return 0;
}

/* ---- hooks -------------------------------------------------------------- */

int net_vsave(void *dev, struct buf *out, struct sq_err *err)
{
    struct vnet *vn = dev;
    struct net_snap s;

    (void)err;
    memset(&s, 0, sizeof(s));
    /* The held-back RX frame goes to the guest, parsed RX chains back to
     * the avail ring: the transport is saved after this. */
    net_prepare_save(vn->net);
    rate_limiter_save(net_rx_rate_limiter(vn->net), &s.rx);
    rate_limiter_save(net_tx_rate_limiter(vn->net), &s.tx);
    if (vn->mmds) {
        s.has_mmds = true;
        memcpy(s.mmds_mac, mmds_ns_default_mac, 6);
        s.mmds_ipv4 = mmds_nic_ipv4(vn->mmds);
        s.mmds_tcp_port = MMDS_NS_TCP_PORT;
    }
    net_snap_encode(&s, out);
    return 0;
}

/* Upstream's NetPersistError texts. */
#define ERR_NO_MMDS "Indicator that no MMDS is associated with this device."
#define ERR_RATE_LIMITER                                                       \
    "Failed to create a rate limiter: invalid input parameter"

int net_vrestore(void *dev, const uint8_t *p, size_t len, struct sq_err *err)
{
    struct vnet *vn = dev;
    struct net_snap s;
    int rc = net_snap_decode(p, len, &s, err);

    if (rc < 0)
        return rc;
    /* The MMDS section of the state said which NICs answer and where;
     * a device saved with an MMDS must have got one. */
    if (s.has_mmds && !vn->mmds)
        return sq_errf(err, -EINVAL, ERR_NO_MMDS);
    if (s.has_mmds && s.mmds_ipv4 != mmds_nic_ipv4(vn->mmds))
        return sq_errf(err, -EINVAL,
                       "the MMDS address saved with the device is not the "
                       "MMDS section's");
    if (rate_limiter_restore(net_rx_rate_limiter(vn->net), &s.rx) < 0 ||
        rate_limiter_restore(net_tx_rate_limiter(vn->net), &s.tx) < 0)
        return sq_errf(err, -EINVAL, ERR_RATE_LIMITER);
    return 0;
}
