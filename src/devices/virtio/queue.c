/*
 * queue.c: split virtqueue, device side (queue.h).
 *
 * Every index read from guest memory is reduced or range-checked before it
 * is used, every length is translated as a whole by guest_mem_translate(),
 * and every walk is bounded by the queue size, so a guest can make a chain
 * fail but cannot make the VMM read or write outside guest RAM or spin.
 * Every write into the used ring is marked in the VMM's dirty-page log.
 */
#include "devices/virtio/queue.h"

#include <errno.h>
#include <string.h>

#define AVAIL_FLAGS 0
#define AVAIL_IDX   1
#define AVAIL_RING  2

static size_t desc_bytes(uint16_t size)
{
    return (size_t)size * sizeof(struct virtq_desc);
}

static size_t avail_bytes(uint16_t size)
{
    return 2 + 2 + 2 * (size_t)size + 2;
}

static size_t used_bytes(uint16_t size)
{
    return 2 + 2 + 8 * (size_t)size + 2;
}

void virtq_init(struct virtq *q, uint16_t max_size)
{
    memset(q, 0, sizeof(*q));
    q->max_size = max_size;
    q->size = max_size;
}

void virtq_reset(struct virtq *q)
{
    virtq_init(q, q->max_size);
}

static int ring_ptr(const struct guest_mem *gm, uint64_t gpa, size_t len,
                    uint64_t align, void **out)
{
    if (gpa & (align - 1))
        return -EFAULT;
    return guest_mem_translate(gm, gpa, len, out);
}

int virtq_activate(struct virtq *q, const struct guest_mem *gm)
{
    void *d, *a, *u;
    int rc;

    if (!q->ready)
        return -ENODEV;
    if (q->size == 0 || q->size > q->max_size || (q->size & (q->size - 1)))
        return -EINVAL;
    rc = ring_ptr(gm, q->desc_addr, desc_bytes(q->size), 16, &d);
    if (rc == 0)
        rc = ring_ptr(gm, q->avail_addr, avail_bytes(q->size), 2, &a);
    if (rc == 0)
        rc = ring_ptr(gm, q->used_addr, used_bytes(q->size), 4, &u);
    if (rc < 0)
        return rc;
    q->gm = gm;
    q->desc = d;
    q->avail = a;
    q->used = u;
    q->next_avail = 0;
    q->next_used = 0;
    q->num_added = 0;
    q->activated = true;
    return 0;
}

static uint16_t avail_idx(const struct virtq *q)
{
    return q->avail[AVAIL_IDX];
}

uint16_t virtq_pending(const struct virtq *q)
{
    if (!q->activated)
        return 0;
    return (uint16_t)(avail_idx(q) - q->next_avail);
}

static void read_desc(const struct virtq *q, uint16_t i, struct virtq_desc *out)
{
    out->addr = q->desc[i].addr;
    out->len = q->desc[i].len;
    out->flags = q->desc[i].flags;
    out->next = q->desc[i].next;
}

/* Append one buffer; false when the chain would exceed the queue size. */
static bool add_buf(const struct virtq *q, struct virtq_chain *c,
                    const struct virtq_desc *d)
{
    struct virtq_buf *b;
    void *hva = NULL;

    if (c->n >= q->size || c->n >= VIRTQ_CHAIN_MAX) {
        c->err = VIRTQ_CHAIN_TOO_LONG;
        return false;
    }
    b = &c->bufs[c->n++];
    b->gpa = d->addr;
    b->len = d->len;
    b->is_write = (d->flags & SQ_VIRTQ_DESC_F_WRITE) != 0;
    b->hva =
        guest_mem_translate(q->gm, d->addr, d->len, &hva) == 0 ? hva : NULL;
    return true;
}

/* Walk an indirect table (virtio 1.x 2.6.5.3); it ends the chain. */
static void walk_indirect(const struct virtq *q, struct virtq_chain *c,
                          const struct virtq_desc *ind)
{
    const uint8_t *table;
    void *hva = NULL;
    uint32_t n_entries;
    uint16_t j = 0;

    if (ind->flags & SQ_VIRTQ_DESC_F_NEXT || ind->len == 0 ||
        ind->len % sizeof(struct virtq_desc) || (ind->addr & 15)) {
        c->err = VIRTQ_CHAIN_BAD_INDIRECT;
        return;
    }
    n_entries = ind->len / sizeof(struct virtq_desc);
    if (n_entries > q->size ||
        guest_mem_translate(q->gm, ind->addr, ind->len, &hva) < 0) {
        c->err = VIRTQ_CHAIN_BAD_INDIRECT;
        return;
    }
    table = hva;
    for (uint32_t seen = 0;; seen++) {
        struct virtq_desc e;

        if (seen >= n_entries) {
            c->err = VIRTQ_CHAIN_TOO_LONG;
            return;
        }
        memcpy(&e, table + (size_t)j * sizeof(e), sizeof(e));
        if (e.flags & SQ_VIRTQ_DESC_F_INDIRECT) {
            c->err = VIRTQ_CHAIN_NESTED_INDIRECT;
            return;
        }
        if (!add_buf(q, c, &e))
            return;
        if (!(e.flags & SQ_VIRTQ_DESC_F_NEXT))
            return;
        if (e.next >= n_entries) {
            c->err = VIRTQ_CHAIN_BAD_NEXT;
            return;
        }
        j = e.next;
    }
}

int virtq_read_chain(const struct virtq *q, uint16_t head,
                     struct virtq_chain *c)
{
    uint16_t i = head;

    if (head >= q->size)
        return -EPROTO;
    c->head = head;
    c->n = 0;
    c->err = VIRTQ_CHAIN_OK;
    for (uint32_t seen = 0;; seen++) {
        struct virtq_desc d;

        if (seen >= q->size) {
            c->err = VIRTQ_CHAIN_TOO_LONG;
            break;
        }
        read_desc(q, i, &d);
        if (q->indirect && (d.flags & SQ_VIRTQ_DESC_F_INDIRECT)) {
            walk_indirect(q, c, &d);
            break;
        }
        if (!add_buf(q, c, &d))
            break;
        if (!(d.flags & SQ_VIRTQ_DESC_F_NEXT))
            break;
        if (d.next >= q->size) {
            c->err = VIRTQ_CHAIN_BAD_NEXT;
            break;
        }
        i = d.next;
    }
    return 0;
}

int virtq_pop(struct virtq *q, struct virtq_chain *chain)
{
    uint16_t pending, head;

    if (!q->activated)
        return 0;
    pending = virtq_pending(q);
    if (pending > q->size)
        return -EPROTO;
    if (pending == 0)
        return 0;
    /* Read the ring entry only after seeing the index that published it. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    head = q->avail[AVAIL_RING + (q->next_avail % q->size)];
    if (virtq_read_chain(q, head, chain) < 0)
        return -EPROTO;
    q->next_avail++;
    return 1;
}

static volatile uint16_t *used_u16(const struct virtq *q, size_t off)
{
    return (volatile uint16_t *)(q->used + off);
}

/* The device wrote n bytes at offset off of the used ring: a Diff snapshot
 * must hold them (guest_mem_mark_dirty; a no-op without dirty tracking). */
static void used_written(const struct virtq *q, size_t off, size_t n)
{
    guest_mem_mark_dirty(q->gm, q->used_addr + off, n);
}

int virtq_pop_or_enable_notification(struct virtq *q, struct virtq_chain *chain)
{
    uint16_t pending;

    if (!q->event_idx || !q->activated)
        return virtq_pop(q, chain);
    pending = virtq_pending(q);
    if (pending > q->size)
        return -EPROTO;
    if (pending == 0) {
        /* avail_event = next_avail, then look again (the driver may have
         * published between our read and its read of avail_event). */
        *used_u16(q, 4 + 8 * (size_t)q->size) = q->next_avail;
        used_written(q, 4 + 8 * (size_t)q->size, 2);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (avail_idx(q) == q->next_avail)
            return 0;
    }
    return virtq_pop(q, chain);
}

void virtq_enable_notification(struct virtq *q)
{
    if (!q->event_idx || !q->activated)
        return;
    *used_u16(q, 4 + 8 * (size_t)q->size) = q->next_avail;
    used_written(q, 4 + 8 * (size_t)q->size, 2);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void virtq_undo_pop(struct virtq *q)
{
    q->next_avail--;
}

int virtq_add_used(struct virtq *q, uint16_t id, uint32_t len)
{
    volatile uint32_t *elem;
    size_t slot;

    if (!q->activated || id >= q->size)
        return -EINVAL;
    slot = q->next_used % q->size;
    elem = (volatile uint32_t *)(q->used + 4 + 8 * slot);
    elem[0] = id;
    elem[1] = len;
    used_written(q, 4 + 8 * slot, 8);
    q->next_used++;
    q->num_added++;
    return 0;
}

void virtq_flush_used(struct virtq *q)
{
    if (!q->activated)
        return;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    *used_u16(q, 2) = q->next_used;
    used_written(q, 2, 2);
}

bool virtq_should_notify(struct virtq *q)
{
    uint16_t new_idx, old_idx, used_event;

    if (!q->event_idx) {
        q->num_added = 0;
        return true;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    new_idx = q->next_used;
    old_idx = (uint16_t)(q->next_used - q->num_added);
    used_event = q->avail[AVAIL_RING + q->size];
    q->num_added = 0;
    return (uint16_t)(new_idx - used_event - 1) < (uint16_t)(new_idx - old_idx);
}

void virtq_chain_written(const struct virtq *q, const struct virtq_chain *c,
                         uint64_t len)
{
    for (uint16_t i = 0; i < c->n && len > 0; i++) {
        const struct virtq_buf *b = &c->bufs[i];
        uint64_t n;

        if (!b->is_write)
            continue;
        n = b->len < len ? b->len : len;
        guest_mem_mark_dirty(q->gm, b->gpa, n);
        len -= n;
    }
}
