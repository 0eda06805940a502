/*
 * mmio.c: virtio-mmio transport (mmio.h): registers, status state machine,
 * queue setup, QueueNotify ioeventfds and the interrupt eventfd.
 *
 * Register semantics follow upstream's MmioTransport: registers 0x00-0xff
 * take 4-byte accesses only; anything else is warned about (rate-limited,
 * the guest controls it) and ignored, and a read then leaves the bus's
 * zeroed buffer as is.
 */
#include "devices/virtio/mmio.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "obs/log.h"
#include "obs/metrics.h"

#define ST_ACK         SQ_VIRTIO_STATUS_ACK
#define ST_DRIVER      SQ_VIRTIO_STATUS_DRIVER
#define ST_DRIVER_OK   SQ_VIRTIO_STATUS_DRIVER_OK
#define ST_FEATURES_OK SQ_VIRTIO_STATUS_FEATURES_OK
#define ST_NEEDS_RESET SQ_VIRTIO_STATUS_NEEDS_RESET
#define ST_FAILED      SQ_VIRTIO_STATUS_FAILED

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Bits `set` present and bits `clr` absent (upstream check_device_status). */
static bool status_is(const struct virtio_mmio *t, uint32_t set, uint32_t clr)
{
    return (t->status & (set | clr)) == set;
}

static struct virtq *selected_queue(struct virtio_mmio *t)
{
    return t->queue_select < t->n_queues ? &t->queues[t->queue_select] : NULL;
}

int virtio_mmio_init(struct virtio_mmio *t, const char *name,
                     const struct virtio_dev_ops *ops, void *dev,
                     uint64_t avail_features, size_t n_queues,
                     const uint16_t *max_sizes)
{
    memset(t, 0, sizeof(*t));
    t->irq_fd = -1;
    t->vm_fd = -1;
    for (size_t i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
        t->queue_fd[i] = -1;
    if (n_queues == 0 || n_queues > VIRTIO_MMIO_MAX_QUEUES)
        return -EINVAL;
    for (size_t i = 0; i < n_queues; i++)
        if (max_sizes[i] == 0 || max_sizes[i] > VIRTQ_MAX_SIZE)
            return -EINVAL;
    t->ops = ops;
    t->dev = dev;
    t->avail_features = avail_features | (1ULL << SQ_VIRTIO_F_VERSION_1);
    t->n_queues = n_queues;
    t->irq_fd = evloop_eventfd_new();
    if (t->irq_fd < 0) {
        int rc = t->irq_fd;

        t->irq_fd = -1;
        return rc;
    }
    for (size_t i = 0; i < n_queues; i++) {
        virtq_init(&t->queues[i], max_sizes[i]);
        t->queue_fd[i] = evloop_eventfd_new();
        if (t->queue_fd[i] < 0) {
            int rc = t->queue_fd[i];

            t->queue_fd[i] = -1;
            virtio_mmio_fini(t);
            return rc;
        }
    }
    bus_dev_init(&t->bus, name, virtio_mmio_read, virtio_mmio_write, t);
    return 0;
}

/* (De)register queue q's notify eventfd through the VMM's registrar. */
static int ioeventfd(const struct virtio_mmio *t, uint32_t q, bool deassign)
{
    return t->ioeventfd(t->vm_fd, t->queue_fd[q], t->addr + VIRTIO_MMIO_NOTIFY,
                        q, deassign);
}

void virtio_mmio_detach(struct virtio_mmio *t)
{
    for (size_t i = 0; i < t->n_queues; i++) {
        if (t->loop && t->queue_h[i].fn)
            evloop_del(t->loop, &t->queue_h[i]);
        t->queue_h[i].fn = NULL;
        if (t->ioeventfds_on && t->queue_fd[i] >= 0)
            ioeventfd(t, (uint32_t)i, true);
    }
    t->ioeventfds_on = false;
    t->loop = NULL;
}

void virtio_mmio_fini(struct virtio_mmio *t)
{
    bool had_bus = t->ops != NULL && t->bus.opaque == t;

    virtio_mmio_detach(t);
    for (size_t i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
        if (t->queue_fd[i] >= 0)
            close(t->queue_fd[i]);
        t->queue_fd[i] = -1;
    }
    if (t->irq_fd >= 0)
        close(t->irq_fd);
    t->irq_fd = -1;
    if (had_bus)
        bus_dev_fini(&t->bus);
    t->bus.opaque = NULL;
}

static void on_queue_event(struct evloop *loop, struct evloop_handler *h,
                           uint32_t events)
{
    struct virtio_mmio *t = h->opaque;
    uint16_t q = (uint16_t)(h - t->queue_h);

    (void)loop;
    (void)events;
    virtio_mmio_notify(t, q);
}

int virtio_mmio_attach(struct virtio_mmio *t, const struct guest_mem *gm,
                       int vm_fd, uint64_t addr, struct evloop *loop)
{
    int rc;

    t->gm = gm;
    t->addr = addr;
    t->vm_fd = vm_fd;
    if (vm_fd >= 0) {
        if (!t->ioeventfd)
            return -EINVAL;
        t->ioeventfds_on = true;
        for (size_t i = 0; i < t->n_queues; i++) {
            rc = ioeventfd(t, (uint32_t)i, false);
            if (rc < 0) {
                /* Undo only those registered. */
                for (size_t j = 0; j < i; j++)
                    ioeventfd(t, (uint32_t)j, true);
                t->ioeventfds_on = false;
                return rc;
            }
        }
    }
    if (loop) {
        t->loop = loop;
        for (size_t i = 0; i < t->n_queues; i++) {
            t->queue_h[i].fd = t->queue_fd[i];
            t->queue_h[i].fn = on_queue_event;
            t->queue_h[i].opaque = t;
            rc = evloop_add(loop, &t->queue_h[i], EPOLLIN);
            if (rc < 0) {
                t->queue_h[i].fn = NULL;
                virtio_mmio_detach(t);
                return rc;
            }
        }
    }
    return 0;
}

void virtio_mmio_notify(struct virtio_mmio *t, uint16_t q)
{
    if (q >= t->n_queues)
        return;
    evloop_eventfd_drain(t->queue_fd[q]);
    bus_dev_lock(&t->bus);
    if (t->activated && t->ops->queue_notify)
        t->ops->queue_notify(t->dev, q);
    else
        log_debug("virtio: notification for queue %u of an inactive device",
                  (unsigned)q);
    bus_dev_unlock(&t->bus);
}

static int trigger(struct virtio_mmio *t, uint32_t bit)
{
    uint64_t one = 1;

    metrics_inc(METRIC_interrupts_triggers);
    atomic_fetch_or(&t->irq_status, bit);
    if (t->irq_hook)
        return t->irq_hook(t->irq_opaque, bit);
    if (t->irq_fd < 0)
        return -EBADF;
    if (write(t->irq_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
        return -errno;
    return 0;
}

int virtio_mmio_signal_used(struct virtio_mmio *t)
{
    return trigger(t, SQ_VIRTIO_INT_VRING);
}

int virtio_mmio_signal_config(struct virtio_mmio *t)
{
    /* The config may have changed: the driver re-reads it when it sees
     * a new generation (virtio 1.x 2.4.1). */
    t->config_generation++;
    return trigger(t, SQ_VIRTIO_INT_CONFIG);
}

void virtio_mmio_set_needs_reset(struct virtio_mmio *t)
{
    t->status |= ST_NEEDS_RESET;
    trigger(t, SQ_VIRTIO_INT_CONFIG);
}

static void transport_reset(struct virtio_mmio *t)
{
    t->features_select = 0;
    t->acked_features_select = 0;
    t->queue_select = 0;
    atomic_store(&t->irq_status, 0);
    t->status = 0;
    t->acked_features = 0;
    t->activated = false;
    for (size_t i = 0; i < t->n_queues; i++)
        virtq_reset(&t->queues[i]);
    /* config_generation keeps increasing across resets (upstream). */
}

static void activate(struct virtio_mmio *t)
{
    int rc = 0;

    if (!t->gm) {
        rc = -ENODEV;
        goto fail;
    }
    for (size_t i = 0; i < t->n_queues; i++) {
        struct virtq *q = &t->queues[i];

        q->event_idx = virtio_mmio_has_feature(t, SQ_VIRTIO_F_RING_EVENT_IDX);
        q->indirect =
            virtio_mmio_has_feature(t, SQ_VIRTIO_F_RING_INDIRECT_DESC);
        rc = virtq_activate(q, t->gm);
        if (rc < 0) {
            log_error_rl("Failed to activate virtio device: queue %zu: "
                         "invalid layout (size %u, errno %d)",
                         i, (unsigned)q->size, -rc);
            goto fail;
        }
    }
    rc = t->ops->activate ? t->ops->activate(t->dev) : 0;
    if (rc < 0)
        goto fail;
    t->activated = true;
    /* A notification that came before DRIVER_OK was dropped as spurious:
     * look at every queue once now (upstream's notify_queue_events). */
    for (size_t i = 0; i < t->n_queues; i++)
        evloop_eventfd_signal(t->queue_fd[i]);
    return;
fail:
    for (size_t i = 0; i < t->n_queues; i++)
        t->queues[i].activated = false;
    t->status |= ST_NEEDS_RESET;
    trigger(t, SQ_VIRTIO_INT_CONFIG);
    log_error_rl("Failed to activate virtio device: errno %d", -rc);
}

static void set_status(struct virtio_mmio *t, uint32_t v)
{
    static const uint32_t valid[][2] = {
        {0, ST_ACK},
        {ST_ACK, ST_ACK | ST_DRIVER},
        {ST_ACK | ST_DRIVER, ST_ACK | ST_DRIVER | ST_FEATURES_OK},
        {ST_ACK | ST_DRIVER | ST_FEATURES_OK,
         ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK},
    };

    if (v & ST_FAILED) {
        t->status |= ST_FAILED;
        return;
    }
    if (v == 0) {
        if (t->status == 0)
            return;
        if (t->activated)
            log_warn_rl("reset device while it's still in active state");
        if (!t->ops->reset || t->ops->reset(t->dev))
            transport_reset(t);
        else
            t->status |= ST_FAILED;
        return;
    }
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        if (t->status == valid[i][0] && v == valid[i][1]) {
            t->status = v;
            if (v & ST_DRIVER_OK && !t->activated)
                activate(t);
            return;
        }
    }
    log_warn_rl("invalid virtio driver status transition: %#x -> %#x",
                t->status, v);
}

static void ack_features(struct virtio_mmio *t, uint32_t v)
{
    uint64_t f;

    if (t->acked_features_select == 0) {
        f = v;
    } else if (t->acked_features_select == 1) {
        f = (uint64_t)v << 32;
    } else {
        log_warn_rl("Cannot acknowledge unknown features page: %u",
                    t->acked_features_select);
        return;
    }
    if (f & ~t->avail_features) {
        log_warn_rl("Received acknowledge request for unknown feature: %#llx",
                    (unsigned long long)f);
        f &= t->avail_features;
    }
    t->acked_features |= f;
}

void virtio_mmio_read(struct bus_dev *bd, uint64_t off, uint8_t *data,
                      uint32_t len)
{
    struct virtio_mmio *t = bd->opaque;
    struct virtq *q = selected_queue(t);
    uint32_t v;

    if (off >= VIRTIO_MMIO_CONFIG && off < 0x1000) {
        if (t->ops->read_config)
            t->ops->read_config(t->dev, off - VIRTIO_MMIO_CONFIG, data, len);
        else
            memset(data, 0, len);
        return;
    }
    if (off >= VIRTIO_MMIO_CONFIG || len != 4) {
        log_warn_rl("invalid virtio mmio read: %#llx:%#llx:%#x",
                    (unsigned long long)t->addr, (unsigned long long)off, len);
        return;
    }
    switch (off) {
    case 0x00:
        v = VIRTIO_MMIO_MAGIC;
        break;
    case 0x04:
        v = VIRTIO_MMIO_VERSION;
        break;
    case 0x08:
        v = t->ops->device_type;
        break;
    case 0x0c: /* vendor */
        v = 0;
        break;
    case 0x10:
        if (t->features_select == 0)
            v = (uint32_t)t->avail_features;
        else if (t->features_select == 1)
            v = (uint32_t)(t->avail_features >> 32) | 1; /* VERSION_1 */
        else
            v = 0;
        break;
    case 0x34:
        v = q ? q->max_size : 0;
        break;
    case 0x44:
        v = q ? q->ready : 0;
        break;
    case 0x60:
        v = atomic_load(&t->irq_status);
        break;
    case 0x70:
        v = t->status;
        break;
    case 0xfc:
        v = t->config_generation;
        break;
    default:
        log_warn_rl("unknown virtio mmio register read: %#llx",
                    (unsigned long long)off);
        return;
    }
    put_le32(data, v);
}

/* Queue registers are writable in FEATURES_OK before DRIVER_OK only. */
static struct virtq *writable_queue(struct virtio_mmio *t)
{
    if (!status_is(t, ST_FEATURES_OK, ST_DRIVER_OK | ST_FAILED)) {
        log_warn_rl("update virtio queue in invalid state %#x", t->status);
        return NULL;
    }
    return selected_queue(t);
}

static void set_lo(uint64_t *a, uint32_t v)
{
    *a = (*a & ~0xffffffffULL) | v;
}

static void set_hi(uint64_t *a, uint32_t v)
{
    *a = (*a & 0xffffffffULL) | (uint64_t)v << 32;
}

void virtio_mmio_write(struct bus_dev *bd, uint64_t off, const uint8_t *data,
                       uint32_t len)
{
    struct virtio_mmio *t = bd->opaque;
    struct virtq *q;
    uint32_t v;

    if (off >= VIRTIO_MMIO_CONFIG && off < 0x1000) {
        if (!status_is(t, ST_DRIVER, ST_FAILED | ST_NEEDS_RESET)) {
            log_warn_rl("can not write to device config data area before "
                        "driver is ready");
            return;
        }
        if (t->ops->write_config)
            t->ops->write_config(t->dev, off - VIRTIO_MMIO_CONFIG, data, len);
        return;
    }
    if (off >= VIRTIO_MMIO_CONFIG || len != 4) {
        log_warn_rl("invalid virtio mmio write: %#llx:%#llx:%#x",
                    (unsigned long long)t->addr, (unsigned long long)off, len);
        return;
    }
    v = get_le32(data);
    switch (off) {
    case 0x14:
        t->features_select = v;
        return;
    case 0x20:
        if (status_is(t, ST_DRIVER,
                      ST_FEATURES_OK | ST_FAILED | ST_NEEDS_RESET))
            ack_features(t, v);
        else
            log_warn_rl("ack virtio features in invalid state %#x", t->status);
        return;
    case 0x24:
        t->acked_features_select = v;
        return;
    case 0x30:
        t->queue_select = v;
        return;
    case 0x64:
        if (status_is(t, ST_DRIVER_OK, 0))
            atomic_fetch_and(&t->irq_status, ~v);
        return;
    case 0x70:
        set_status(t, v);
        return;
    case 0x38:
    case 0x44:
    case 0x80:
    case 0x84:
    case 0x90:
    case 0x94:
    case 0xa0:
    case 0xa4:
        break;
    default:
        /* 0x50 lands here only without a matching ioeventfd. */
        log_warn_rl("unknown virtio mmio register write: %#llx",
                    (unsigned long long)off);
        return;
    }
    q = writable_queue(t);
    if (!q)
        return;
    switch (off) {
    case 0x38:
        q->size = (uint16_t)(v & 0xffff);
        break;
    case 0x44:
        q->ready = v == 1;
        break;
    case 0x80:
        set_lo(&q->desc_addr, v);
        break;
    case 0x84:
        set_hi(&q->desc_addr, v);
        break;
    case 0x90:
        set_lo(&q->avail_addr, v);
        break;
    case 0x94:
        set_hi(&q->avail_addr, v);
        break;
    case 0xa0:
        set_lo(&q->used_addr, v);
        break;
    case 0xa4:
        set_hi(&q->used_addr, v);
        break;
    }
}

void virtio_mmio_save(struct virtio_mmio *t, struct virtio_mmio_state *out)
{
    memset(out, 0, sizeof(*out));
    bus_dev_lock(&t->bus);
    out->acked_features = t->acked_features;
    out->features_select = t->features_select;
    out->acked_features_select = t->acked_features_select;
    out->queue_select = t->queue_select;
    out->status = t->status;
    out->config_generation = t->config_generation;
    out->irq_status = atomic_load(&t->irq_status);
    out->activated = t->activated;
    out->n_queues = (uint32_t)t->n_queues;
    for (size_t i = 0; i < t->n_queues; i++) {
        const struct virtq *q = &t->queues[i];
        struct virtio_mmio_queue_state *qs = &out->queues[i];

        qs->size = q->size;
        qs->ready = q->ready;
        qs->desc_addr = q->desc_addr;
        qs->avail_addr = q->avail_addr;
        qs->used_addr = q->used_addr;
        qs->next_avail = q->next_avail;
        qs->next_used = q->next_used;
    }
    bus_dev_unlock(&t->bus);
}

int virtio_mmio_restore(struct virtio_mmio *t,
                        const struct virtio_mmio_state *st)
{
    int rc = 0;

    if (st->n_queues != t->n_queues)
        return -EINVAL;
    bus_dev_lock(&t->bus);
    transport_reset(t);
    t->acked_features = st->acked_features & t->avail_features;
    t->features_select = st->features_select;
    t->acked_features_select = st->acked_features_select;
    t->queue_select = st->queue_select;
    t->status = st->status;
    t->config_generation = st->config_generation;
    for (size_t i = 0; i < t->n_queues; i++) {
        struct virtq *q = &t->queues[i];
        const struct virtio_mmio_queue_state *qs = &st->queues[i];

        q->size = qs->size;
        q->ready = qs->ready;
        q->desc_addr = qs->desc_addr;
        q->avail_addr = qs->avail_addr;
        q->used_addr = qs->used_addr;
    }
    if (st->activated) {
        /* As DRIVER_OK does; it also asks the loop to look at every
         * queue once, which picks up requests made before the snapshot
         * whose notification was not handled yet. */
        activate(t);
        if (!t->activated) {
            transport_reset(t);
            rc = -EINVAL;
        }
        for (size_t i = 0; rc == 0 && i < t->n_queues; i++) {
            t->queues[i].next_avail = st->queues[i].next_avail;
            t->queues[i].next_used = st->queues[i].next_used;
        }
    }
    /* Pending interrupt bits: the restored interrupt controllers hold
     * whether the line was raised. */
    if (rc == 0)
        atomic_store(&t->irq_status, st->irq_status);
    bus_dev_unlock(&t->bus);
    return rc;
}
