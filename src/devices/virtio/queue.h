/*
 * queue.h: split virtqueues (virtio 1.x section 2.6) seen from the device,
 * with every guest-supplied value treated as hostile.
 *
 * The transport (mmio.c) fills size/ready/addresses from the guest's
 * register writes; virtq_activate() then validates the layout (size a
 * power of two <= max_size, rings aligned 16/2/4 and wholly inside guest
 * RAM, as upstream's Queue::initialize) and caches the ring pointers.
 * Devices pop descriptor chains, complete them with virtq_add_used(),
 * publish with virtq_flush_used() and ask virtq_should_notify() whether to
 * interrupt (EVENT_IDX rules when negotiated).
 *
 * Chains: virtq_pop() walks a chain into a bounded array of buffers. Each
 * buffer's range is translated with guest_mem_translate(); a range that
 * does not translate leaves hva NULL and the device decides what that
 * means for its request (block: IOERR or a failed parse, as upstream).
 * Structural violations are reported in chain->err, and the chain is still
 * handed to the device so that it can return the head to the guest:
 * a `next` out of range, a chain longer than the queue (a loop), and, when
 * indirect descriptors were negotiated, an indirect table that is empty,
 * not a multiple of 16 bytes, misaligned, outside RAM, larger than the
 * queue, nested, or combined with F_NEXT. Without the feature the
 * INDIRECT flag is ignored, as upstream does (it offers no such feature).
 * A head index out of range, or an avail index that claims more entries
 * than the queue holds, cannot be answered: virtq_pop() returns -EPROTO
 * and the device sets DEVICE_NEEDS_RESET.
 *
 * Ring pointers are host pointers into guest memory, kept from activation
 * to reset; the guest_mem outlives every device. All calls happen on the
 * vmm thread with the transport's lock held.
 */
#ifndef SQUIB_DEVICES_VIRTIO_QUEUE_H
#define SQUIB_DEVICES_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/guest_mem.h"

#define VIRTQ_MAX_SIZE  256 /* FIRECRACKER_MAX_QUEUE_SIZE */
#define VIRTQ_CHAIN_MAX VIRTQ_MAX_SIZE

#define SQ_VIRTQ_DESC_F_NEXT     1
#define SQ_VIRTQ_DESC_F_WRITE    2
#define SQ_VIRTQ_DESC_F_INDIRECT 4

/* Why a chain is malformed (chain->err). */
enum virtq_chain_err {
    VIRTQ_CHAIN_OK = 0,
    VIRTQ_CHAIN_BAD_NEXT,        /* next index >= queue size */
    VIRTQ_CHAIN_TOO_LONG,        /* more descriptors than the queue: loop */
    VIRTQ_CHAIN_BAD_INDIRECT,    /* bad indirect table (see above) */
    VIRTQ_CHAIN_NESTED_INDIRECT, /* INDIRECT inside an indirect table */
};

/* The guest's descriptor, as laid out in memory (little-endian host). */
struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

/* One buffer of a chain. */
struct virtq_buf {
    gpa_t gpa;
    uint32_t len;
    bool is_write; /* device-writable */
    void *hva;     /* borrowed; NULL if [gpa, gpa+len) is not guest RAM */
};

struct virtq_chain {
    uint16_t head; /* index to return in the used ring */
    uint16_t n;    /* buffers in bufs[] */
    enum virtq_chain_err err;
    struct virtq_buf bufs[VIRTQ_CHAIN_MAX];
};

struct virtq {
    /* Set by the transport from the guest's register writes. */
    uint16_t max_size;
    uint16_t size;
    bool ready;
    uint64_t desc_addr, avail_addr, used_addr;

    /* Features the device negotiated, set before activation. */
    bool event_idx;
    bool indirect;

    /* Valid while activated (virtq_activate .. virtq_reset). */
    bool activated;
    const struct guest_mem *gm; /* borrowed */
    volatile struct virtq_desc *desc;
    volatile uint16_t *avail; /* flags, idx, ring[size], used_event */
    volatile uint8_t *used;   /* flags, idx, ring[size], avail_event */
    uint16_t next_avail;
    uint16_t next_used;
    uint16_t num_added; /* used entries since the last kick */
};

/* A fresh queue: size = max_size, not ready, addresses 0. */
void virtq_init(struct virtq *q, uint16_t max_size);

/*
 * Return to the state of virtq_init() (device reset), keeping max_size.
 */
void virtq_reset(struct virtq *q);

/*
 * Validate the guest's layout against `gm` and cache the ring pointers.
 * Returns 0; -ENODEV if not ready; -EINVAL for a size that is 0, above
 * max_size or not a power of two; -EFAULT for a misaligned ring or one not
 * wholly inside guest RAM. Nothing changes on failure.
 */
int virtq_activate(struct virtq *q, const struct guest_mem *gm);

/* Entries the driver made available that we have not popped (mod 2^16). */
uint16_t virtq_pending(const struct virtq *q);

/*
 * Pop the next chain into *chain. Returns 1 (chain filled; chain->err may
 * flag a malformed chain, which still has to be completed), 0 if the ring
 * is empty, -EPROTO if the driver broke the ring (avail idx more than
 * `size` ahead, or a head index >= size; nothing was popped).
 */
int virtq_pop(struct virtq *q, struct virtq_chain *chain);

/*
 * Like virtq_pop(), but with EVENT_IDX, when the ring is empty publish
 * avail_event = next_avail (ask the driver to notify on the next entry)
 * and look again, closing the race with a driver that added an entry
 * meanwhile (upstream's pop_or_enable_notification).
 */
int virtq_pop_or_enable_notification(struct virtq *q,
                                     struct virtq_chain *chain);

/*
 * With EVENT_IDX, publish avail_event = next_avail so that the driver
 * notifies on its next entry (upstream's enable_notification, for a queue
 * popped without virtq_pop_or_enable_notification, like vsock's event
 * queue). No-op without EVENT_IDX or when not activated.
 */
void virtq_enable_notification(struct virtq *q);

/* Put back the chain popped last (a throttled request). */
void virtq_undo_pop(struct virtq *q);

/*
 * Write a used element for head `id` with `len` bytes written into the
 * chain. Returns 0, or -EINVAL if id >= size (nothing written).
 * The used index is not published until virtq_flush_used().
 */
int virtq_add_used(struct virtq *q, uint16_t id, uint32_t len);

/* Publish the used index (release barrier first). */
void virtq_flush_used(struct virtq *q);

/*
 * Whether the driver wants an interrupt for the entries added since the
 * last call: always without EVENT_IDX, else vring_need_event() against the
 * driver's used_event. Resets the count of added entries.
 */
bool virtq_should_notify(struct virtq *q);

/*
 * The device wrote the first `len` bytes of the chain's device-writable
 * buffers (the used length it reports): mark them in the VMM's dirty-page
 * log (guest_mem_mark_dirty), so a Diff snapshot holds them. Every device
 * that writes into guest memory marks what it wrote, this way or with
 * guest_mem_mark_dirty*() directly; the used ring marks itself.
 */
void virtq_chain_written(const struct virtq *q, const struct virtq_chain *c,
                         uint64_t len);

/* Walk a chain starting at descriptor `head` (the pop step without the
 * avail ring), for tests and the fuzzer. Returns 0 or -EPROTO (head out of
 * range). */
int virtq_read_chain(const struct virtq *q, uint16_t head,
                     struct virtq_chain *chain);

#endif
