/*
 * virtq_driver.h: a tiny virtio driver for unit tests, playing the guest:
 * it builds guest memory by hand (optionally ending right before a
 * PROT_NONE guard page, so any over-read past guest RAM crashes), drives
 * the virtio-mmio registers through the transport's bus handlers, lays out
 * a split ring and publishes descriptor chains. Include from one test file
 * per binary (static functions only).
 */
#ifndef SQUIB_TESTS_VIRTQ_DRIVER_H
#define SQUIB_TESTS_VIRTQ_DRIVER_H

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/virtio/mmio.h"
#include "devices/virtio/queue.h"
#include "util/evloop.h"
#include "vmm/guest_mem.h"

/* Guest layout used by every test. */
#define DRV_DESC  0x1000ULL
#define DRV_AVAIL 0x2000ULL
#define DRV_USED  0x3000ULL
#define DRV_DATA  0x10000ULL

/* Guest RAM [0, size) in one region whose mapping is followed by a
 * PROT_NONE page. */
struct drv_mem {
    struct guest_mem gm;
    uint8_t *map;
    size_t map_len;
};

static __attribute__((unused)) void drv_mem_init(struct drv_mem *m, size_t size)
{
    long pg = sysconf(_SC_PAGESIZE);

    memset(m, 0, sizeof(*m));
    m->map_len = size + (size_t)pg;
    m->map = mmap(NULL, m->map_len, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m->map != MAP_FAILED);
    assert_int_equal(mprotect(m->map + size, (size_t)pg, PROT_NONE), 0);
    m->gm.n_regions = 1;
    m->gm.regions[0].gpa = 0;
    m->gm.regions[0].size = size;
    m->gm.regions[0].hva = m->map;
}

static __attribute__((unused)) void drv_mem_fini(struct drv_mem *m)
{
    munmap(m->map, m->map_len);
}

static __attribute__((unused)) void *g2h(struct drv_mem *m, uint64_t gpa,
                                         uint64_t len)
{
    void *p = NULL;

    assert_int_equal(guest_mem_translate(&m->gm, gpa, len, &p), 0);
    return p;
}

static __attribute__((unused)) uint32_t reg_rd(struct virtio_mmio *t,
                                               uint64_t off)
{
    uint8_t b[4] = {0};

    bus_dev_lock(&t->bus);
    virtio_mmio_read(&t->bus, off, b, 4);
    bus_dev_unlock(&t->bus);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
           (uint32_t)b[3] << 24;
}

static __attribute__((unused)) void reg_wr(struct virtio_mmio *t, uint64_t off,
                                           uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                    (uint8_t)(v >> 24)};

    bus_dev_lock(&t->bus);
    virtio_mmio_write(&t->bus, off, b, 4);
    bus_dev_unlock(&t->bus);
}

/* Queue i's rings sit at DRV_DESC/AVAIL/USED + i * DRV_QSTRIDE. */
#define DRV_QSTRIDE 0x3000ULL
#define DRV_MAX_Q   4

struct drv {
    struct drv_mem *mem;
    struct virtio_mmio *t;
    uint16_t qsize;
    uint16_t avail_idx;
    uint16_t qi;   /* the queue this view drives (0 when zeroed) */
    uint64_t base; /* its rings: DRV_DESC/AVAIL/USED + base */
};

/* Program queue d->qi's layout (status must be FEATURES_OK). */
static __attribute__((unused)) void drv_queue_regs(struct drv *d,
                                                   uint16_t qsize)
{
    reg_wr(d->t, 0x30, d->qi);
    reg_wr(d->t, 0x38, qsize);
    reg_wr(d->t, 0x80, (uint32_t)(DRV_DESC + d->base));
    reg_wr(d->t, 0x84, 0);
    reg_wr(d->t, 0x90, (uint32_t)(DRV_AVAIL + d->base));
    reg_wr(d->t, 0x94, 0);
    reg_wr(d->t, 0xa0, (uint32_t)(DRV_USED + d->base));
    reg_wr(d->t, 0xa4, 0);
    reg_wr(d->t, 0x44, 1);
}

static __attribute__((unused)) void drv_view(struct drv *d, struct drv_mem *mem,
                                             struct virtio_mmio *t,
                                             uint16_t qsize, uint16_t qi)
{
    memset(d, 0, sizeof(*d));
    d->mem = mem;
    d->t = t;
    d->qsize = qsize;
    d->qi = qi;
    d->base = qi * DRV_QSTRIDE;
}

/* The Linux driver's init sequence up to DRIVER_OK, acking `features`
 * (VERSION_1 is always acked). Returns the final status register. */
static __attribute__((unused)) uint32_t
drv_setup_n(struct drv *ds, size_t nq, struct drv_mem *mem,
            struct virtio_mmio *t, uint16_t qsize, uint64_t features)
{
    for (size_t i = 0; i < nq; i++)
        drv_view(&ds[i], mem, t, qsize, (uint16_t)i);
    memset(g2h(mem, DRV_DESC, DRV_QSTRIDE * nq), 0, DRV_QSTRIDE * nq);
    features |= 1ULL << SQ_VIRTIO_F_VERSION_1;
    reg_wr(t, 0x70, 0);
    reg_wr(t, 0x70, SQ_VIRTIO_STATUS_ACK);
    reg_wr(t, 0x70, SQ_VIRTIO_STATUS_ACK | SQ_VIRTIO_STATUS_DRIVER);
    reg_wr(t, 0x24, 0);
    reg_wr(t, 0x20, (uint32_t)features);
    reg_wr(t, 0x24, 1);
    reg_wr(t, 0x20, (uint32_t)(features >> 32));
    reg_wr(t, 0x70,
           SQ_VIRTIO_STATUS_ACK | SQ_VIRTIO_STATUS_DRIVER |
               SQ_VIRTIO_STATUS_FEATURES_OK);
    for (size_t i = 0; i < nq; i++)
        drv_queue_regs(&ds[i], qsize);
    reg_wr(t, 0x70,
           SQ_VIRTIO_STATUS_ACK | SQ_VIRTIO_STATUS_DRIVER |
               SQ_VIRTIO_STATUS_FEATURES_OK | SQ_VIRTIO_STATUS_DRIVER_OK);
    /* Activation re-signals the queue eventfds; start from a clean slate. */
    for (size_t i = 0; i < nq; i++)
        evloop_eventfd_drain(t->queue_fd[i]);
    return reg_rd(t, 0x70);
}

/* drv_setup_n() for a one-queue device. */
static __attribute__((unused)) uint32_t
drv_setup(struct drv *d, struct drv_mem *mem, struct virtio_mmio *t,
          uint16_t qsize, uint64_t features)
{
    return drv_setup_n(d, 1, mem, t, qsize, features);
}

static __attribute__((unused)) void drv_desc(struct drv *d, uint16_t i,
                                             uint64_t addr, uint32_t len,
                                             uint16_t flags, uint16_t next)
{
    struct virtq_desc *t = g2h(d->mem, DRV_DESC + d->base, 16ULL * d->qsize);

    t[i].addr = addr;
    t[i].len = len;
    t[i].flags = flags;
    t[i].next = next;
}

static __attribute__((unused)) void drv_publish(struct drv *d, uint16_t head)
{
    uint16_t *a = g2h(d->mem, DRV_AVAIL + d->base, 4 + 2ULL * d->qsize + 2);

    a[2 + d->avail_idx % d->qsize] = head;
    d->avail_idx++;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    a[1] = d->avail_idx;
}

/* Set the raw avail index (hostile tests). */
static __attribute__((unused)) void drv_set_avail_idx(struct drv *d,
                                                      uint16_t idx)
{
    uint16_t *a = g2h(d->mem, DRV_AVAIL + d->base, 4);

    a[1] = idx;
}

/* used_event, the last word of the avail ring (EVENT_IDX). */
static __attribute__((unused)) void drv_set_used_event(struct drv *d,
                                                       uint16_t v)
{
    uint16_t *a = g2h(d->mem, DRV_AVAIL + d->base, 4 + 2ULL * d->qsize + 2);

    a[2 + d->qsize] = v;
}

static __attribute__((unused)) uint16_t drv_avail_event(struct drv *d)
{
    uint8_t *u = g2h(d->mem, DRV_USED + d->base, 4 + 8ULL * d->qsize + 2);
    uint16_t v;

    memcpy(&v, u + 4 + 8 * (size_t)d->qsize, 2);
    return v;
}

static __attribute__((unused)) uint16_t drv_used_idx(struct drv *d)
{
    uint16_t *u = g2h(d->mem, DRV_USED + d->base, 4);

    return u[1];
}

static __attribute__((unused)) void drv_used_elem(struct drv *d, uint16_t i,
                                                  uint32_t *id, uint32_t *len)
{
    uint32_t *e =
        g2h(d->mem, DRV_USED + d->base + 4 + 8ULL * (i % d->qsize), 8);

    *id = e[0];
    *len = e[1];
}

/* Interrupts raised since the last call (the irqfd's counter). */
static __attribute__((unused)) uint64_t drv_irqs(struct drv *d)
{
    return evloop_eventfd_drain(d->t->irq_fd);
}

#endif
