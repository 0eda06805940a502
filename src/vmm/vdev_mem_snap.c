/*
 * vdev_mem_snap.c: the virtio-mem device's own state in a snapshot
 * (vdev_kind_snap.h), upstream's VirtioMemState less the transport's part.
 * Layout 1, after the u32 layout number:
 *
 *   u64 region address, u64 region size, u64 block size, u64 slot size,
 *   u64 usable region size, u64 requested size, u64 n = number of blocks,
 *   (n + 63) / 64 u64 words of the plugged-block bitmap (bit b % 64 of word
 *   b / 64 = block b; the bits past n are 0)
 *
 * The plugged size is not stored: it is the bitmap's count times the
 * block size, as upstream's restore computes it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "vmm/vdev_kind_snap.h"
#include "vmm/vdev_state.h"

void vdev_mem_state_encode(const struct virtio_mem_state *s, struct buf *out)
{
    vdev_state_put_u32(out, VDEV_MEM_STATE_LAYOUT);
    vdev_state_put_u64(out, s->addr);
    vdev_state_put_u64(out, s->region_size);
    vdev_state_put_u64(out, s->block_size);
    vdev_state_put_u64(out, s->slot_size);
    vdev_state_put_u64(out, s->usable_region_size);
    vdev_state_put_u64(out, s->requested_size);
    vdev_state_put_u64(out, s->n_blocks);
    for (uint64_t i = 0; i < (s->n_blocks + 63) / 64; i++)
        vdev_state_put_u64(out, s->plugged[i]);
}

/* The sizes hang together: blocks divide slots divide the region, and n
 * is the region's block count. */
static bool sizes_ok(const struct virtio_mem_state *s)
{
    return s->block_size && s->slot_size && s->region_size &&
           s->slot_size % s->block_size == 0 &&
           s->region_size % s->slot_size == 0 &&
           s->n_blocks == s->region_size / s->block_size;
}

int vdev_mem_state_decode(const uint8_t *p, size_t len,
                          struct virtio_mem_state *out, struct sq_err *err)
{
    struct vdev_state_reader r = {p, len, 0, false};
    uint64_t words;

    memset(out, 0, sizeof(*out));
    if (vdev_state_get_layout(&r, VDEV_MEM_STATE_LAYOUT, "virtio-mem", err) < 0)
        return err->code;
    out->addr = vdev_state_get_u64(&r);
    out->region_size = vdev_state_get_u64(&r);
    out->block_size = vdev_state_get_u64(&r);
    out->slot_size = vdev_state_get_u64(&r);
    out->usable_region_size = vdev_state_get_u64(&r);
    out->requested_size = vdev_state_get_u64(&r);
    out->n_blocks = vdev_state_get_u64(&r);
    words = out->n_blocks / 64 + (out->n_blocks % 64 != 0);
    /* The words must be there before anything is allocated for them. */
    if (r.bad || !sizes_ok(out) || words != (len - r.off) / 8)
        r.bad = true;
    if (!r.bad) {
        out->plugged = xcalloc((size_t)(words ? words : 1), 8);
        for (uint64_t i = 0; i < words; i++)
            out->plugged[i] = vdev_state_get_u64(&r);
        if (out->n_blocks % 64 &&
            out->plugged[words - 1] >> (out->n_blocks % 64))
            r.bad = true; /* a block past the region */
    }
    if (!vdev_state_done(&r)) {
        virtio_mem_state_fini(out);
        memset(out, 0, sizeof(*out));
        return sq_errf(err, -EBADMSG,
                       "virtio-mem state: " VDEV_STATE_ERR_DECODE);
    }
    return 0;
}
