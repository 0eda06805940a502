/*
 * vring.h: the split virtqueue as the test guest's polled drivers use it
 * (net.c, vsock.c, balloon.c): a ring of at most `size` descriptors in
 * three 4 KiB pages of the guest's .bss, set up through the virtio-mmio
 * version 2 queue registers. Driver side only, no EVENT_IDX.
 *
 *   page 0: descriptors      page 1: avail (flags, idx, ring[size], ...)
 *   page 2: used (flags|idx, {id, len}[size], ...)
 *
 * vring_setup() selects queue qi, sizes it (want, capped by QueueNumMax),
 * points the device at the pages and makes it ready: 0, or -1 when the
 * device has no such queue or it is already ready. The rest only touch
 * memory: vring_publish() makes a chain head available (the caller kicks),
 * vring_take() takes the next used element.
 */
#ifndef SQUIB_GUEST_VRING_H
#define SQUIB_GUEST_VRING_H

#include <stdint.h>

#include "virtio_int.h"

#define VRING_MEM_SIZE (3 * 4096)

struct vring {
    uint16_t size;
    volatile struct vdesc *desc;
    volatile uint16_t *avail; /* flags, idx, ring[size], used_event */
    volatile uint32_t *used;  /* flags|idx, {id, len}[size], avail_event */
    uint16_t avail_idx, last_used;
};

static inline int vring_setup(const struct vdev *d, uint32_t qi,
                              struct vring *q, uint8_t *mem, uint32_t want)
{
    uint32_t max;

    vw(d, VM_QUEUE_SEL, qi);
    max = vr(d, VM_QUEUE_MAX);
    if (max == 0 || vr(d, VM_QUEUE_READY))
        return -1;
    memset(mem, 0, VRING_MEM_SIZE);
    q->size = (uint16_t)(want < max ? want : max);
    q->desc = (volatile struct vdesc *)mem;
    q->avail = (volatile uint16_t *)(mem + 4096);
    q->used = (volatile uint32_t *)(mem + 8192);
    q->avail_idx = 0;
    q->last_used = 0;
    vw(d, VM_QUEUE_NUM, q->size);
    vw(d, VM_DESC_LO, (uint32_t)addr_of(q->desc));
    vw(d, VM_DESC_HI, (uint32_t)(addr_of(q->desc) >> 32));
    vw(d, VM_AVAIL_LO, (uint32_t)addr_of(q->avail));
    vw(d, VM_AVAIL_HI, (uint32_t)(addr_of(q->avail) >> 32));
    vw(d, VM_USED_LO, (uint32_t)addr_of(q->used));
    vw(d, VM_USED_HI, (uint32_t)(addr_of(q->used) >> 32));
    vw(d, VM_QUEUE_READY, 1);
    return 0;
}

static inline uint16_t vring_used_idx(const struct vring *q)
{
    return (uint16_t)(q->used[0] >> 16);
}

static inline void vring_set_desc(struct vring *q, uint16_t i, uint64_t addr,
                                  uint32_t len, uint16_t flags, uint16_t next)
{
    q->desc[i].addr = addr;
    q->desc[i].len = len;
    q->desc[i].flags = flags;
    q->desc[i].next = next;
}

static inline void vring_publish(struct vring *q, uint16_t head)
{
    q->avail[2 + q->avail_idx % q->size] = head;
    mb();
    q->avail_idx++;
    q->avail[1] = q->avail_idx;
    mb();
}

/* The next used element: 1 with its id and len, or 0 when none is new. */
static inline int vring_take(struct vring *q, uint32_t *id, uint32_t *len)
{
    uint32_t slot;

    if (vring_used_idx(q) == q->last_used)
        return 0;
    mb();
    slot = q->last_used % q->size;
    *id = q->used[1 + 2 * slot];
    *len = q->used[2 + 2 * slot];
    q->last_used++;
    return 1;
}

static inline void vring_kick(const struct vdev *d, uint32_t qi)
{
    vw(d, VM_QUEUE_NOTIFY, qi);
}

static inline void vring_ack_isr(const struct vdev *d)
{
    uint32_t isr = vr(d, VM_ISR);

    if (isr)
        vw(d, VM_ISR_ACK, isr);
}

#endif
