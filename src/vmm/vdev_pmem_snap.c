/*
 * vdev_pmem_snap.c: the pmem device's own state in a snapshot
 * (vdev_kind_snap.h). Layout 1, after the u32 layout number:
 *
 *   u64 window guest address, u64 window size (upstream's config space),
 *   rate limiter: bandwidth bucket, ops bucket, each u8 present (0/1),
 *   u64 size, one-time burst left, refill time (ms), budget, ns since its
 *   last update, all 0 when absent (upstream's RateLimiterState)
 *
 * The backing file's path, read_only, root_device and the limiter as
 * configured are the configuration's (the VDEV section's JSON).
 */
#include <errno.h>
#include <string.h>

#include "vmm/vdev_kind_snap.h"
#include "vmm/vdev_state.h"

static void put_bucket(struct buf *out, bool has,
                       const struct token_bucket_state *t)
{
    vdev_state_put_u8(out, has);
    vdev_state_put_u64(out, has ? t->size : 0);
    vdev_state_put_u64(out, has ? t->one_time_burst : 0);
    vdev_state_put_u64(out, has ? t->refill_time_ms : 0);
    vdev_state_put_u64(out, has ? t->budget : 0);
    vdev_state_put_u64(out, has ? t->elapsed_ns : 0);
}

/* An absent bucket must be all zeros (one encoding per state). */
static void get_bucket(struct vdev_state_reader *r, bool *has,
                       struct token_bucket_state *t)
{
    *has = vdev_state_get_bool(r);
    t->size = vdev_state_get_u64(r);
    t->one_time_burst = vdev_state_get_u64(r);
    t->refill_time_ms = vdev_state_get_u64(r);
    t->budget = vdev_state_get_u64(r);
    t->elapsed_ns = vdev_state_get_u64(r);
    if (!*has && (t->size | t->one_time_burst | t->refill_time_ms | t->budget |
                  t->elapsed_ns))
        r->bad = true;
}

void vdev_pmem_state_encode(const struct pmem_state *s, struct buf *out)
{
    vdev_state_put_u32(out, VDEV_PMEM_STATE_LAYOUT);
    vdev_state_put_u64(out, s->gpa);
    vdev_state_put_u64(out, s->size);
    put_bucket(out, s->rl.has_bandwidth, &s->rl.bandwidth);
    put_bucket(out, s->rl.has_ops, &s->rl.ops);
}

int vdev_pmem_state_decode(const uint8_t *p, size_t len, struct pmem_state *out,
                           struct sq_err *err)
{
    struct vdev_state_reader r = {p, len, 0, false};

    memset(out, 0, sizeof(*out));
    if (vdev_state_get_layout(&r, VDEV_PMEM_STATE_LAYOUT, "pmem", err) < 0)
        return err->code;
    out->gpa = vdev_state_get_u64(&r);
    out->size = vdev_state_get_u64(&r);
    get_bucket(&r, &out->rl.has_bandwidth, &out->rl.bandwidth);
    get_bucket(&r, &out->rl.has_ops, &out->rl.ops);
    if (!vdev_state_done(&r)) {
        memset(out, 0, sizeof(*out));
        return sq_errf(err, -EBADMSG, "pmem state: " VDEV_STATE_ERR_DECODE);
    }
    return 0;
}
