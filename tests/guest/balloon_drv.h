/*
 * balloon_drv.h: the test guest's virtio-balloon driver as balloon.c
 * (balloon, hostile-balloon) and balloon_hint.c (balloon-hint,
 * hostile-hint) share it. Not for other files.
 *
 * Queues follow the features negotiated, as Linux numbers them: 0 inflate,
 * 1 deflate, then stats, free page hinting and free page reporting, each
 * only when negotiated (stats_q, hint_q, report_q; -1 when absent). Every
 * queue is a vring.h ring polled by the caller.
 */
#ifndef SQUIB_GUEST_BALLOON_DRV_H
#define SQUIB_GUEST_BALLOON_DRV_H

#include <stdint.h>

#include "virtio_int.h"

#define BAL_F_STATS_VQ       (1ULL << 1)
#define BAL_F_DEFLATE_ON_OOM (1ULL << 2)
#define BAL_F_FREE_PAGE_HINT (1ULL << 3)
#define BAL_F_REPORTING      (1ULL << 5)

#define BAL_INFLATEQ   0
#define BAL_DEFLATEQ   1
#define BAL_MAX_QUEUES 5
#define BAL_PAGE       4096ULL

/* config space (little-endian u32s) */
#define BAL_CFG_NUM_PAGES 0
#define BAL_CFG_ACTUAL    4
#define BAL_CFG_HINT_CMD  8 /* free_page_hint_cmd_id */

/* free_page_hint_cmd_id values with a meaning of their own */
#define BAL_HINT_STOP 0u
#define BAL_HINT_DONE 1u

struct bdrv {
    const struct vdev *dev;
    struct vq q[BAL_MAX_QUEUES];
    int stats_q, hint_q, report_q;
    uint64_t features;
    uint64_t tsc_hz;
    uint64_t refreshes; /* stats buffers the device gave back */
    uint32_t mem_mib;   /* what the stats report as total */
};

/* One buffer of a chain bal_send_chain() builds. */
struct bal_seg {
    uint64_t addr;
    uint32_t len;
    uint16_t flags; /* 0 or D_WRITE */
};

/*
 * Reset, ACKNOWLEDGE, DRIVER, features (STATS_VQ, DEFLATE_ON_OOM,
 * FREE_PAGE_HINT, REPORTING when offered), FEATURES_OK, the queues,
 * DRIVER_OK, the stats buffer. Prints balloon-init. 0, or -1.
 */
int bal_init(struct bdrv *b, const struct vdev *d, const struct venv *e,
             uint32_t mem_mib);

uint32_t bal_cfg_read(const struct bdrv *b, uint32_t off);
void bal_cfg_write(const struct bdrv *b, uint32_t off, uint32_t v);

/* Give the stats buffer back with fresh numbers when the device used it
 * (nothing without the stats queue). */
void bal_stats_service(struct bdrv *b);

/*
 * Publish n (1..8) buffers as one chain on queue qi (descriptors 0..n-1),
 * kick, and wait (serving stats) for the device to use it: 1 when it did
 * within `timeout` TSC cycles, else 0.
 */
int bal_send_chain(struct bdrv *b, int qi, const struct bal_seg *segs,
                   uint32_t n, uint64_t timeout);

/* Inflate (BAL_INFLATEQ) or deflate the pages of [base, base + pages),
 * 256 PFNs a chain, counting chains: 0, or -1 on a time-out. */
int bal_move_pages(struct bdrv *b, uint32_t qi, uint64_t base, uint32_t pages,
                   uint64_t timeout, uint32_t *chains);

/* balloon_hint.c: balloon-hint (hostile 0) or hostile-hint (1) on the
 * balloon device d; prints its lines. */
void bal_hint_test(struct venv *e, const struct vdev *d, int hostile);

#endif
