/*
 * virtio_pci_common.c: the virtio-pci common configuration structure
 * (virtio 1.x 4.1.4.3), translated to the virtio-mmio register of the same
 * meaning wherever one exists, so that mmio.c's status state machine and
 * its feature and queue rules apply unchanged (virtio_pci.h).
 *
 *   off  size  field                 virtio-mmio register
 *   0x00  4    device_feature_select  0x14 DeviceFeaturesSel
 *   0x04  4    device_feature         0x10 DeviceFeatures (read)
 *   0x08  4    driver_feature_select  0x24 DriverFeaturesSel
 *   0x0c  4    driver_feature         0x20 DriverFeatures (write)
 *   0x10  2    config_msix_vector     (PCI only)
 *   0x12  2    num_queues             (read only)
 *   0x14  1    device_status          0x70 Status
 *   0x15  1    config_generation      0xfc ConfigGeneration (read)
 *   0x16  2    queue_select           0x30 QueueSel
 *   0x18  2    queue_size             0x38 QueueNum (reads the size)
 *   0x1a  2    queue_msix_vector      (PCI only)
 *   0x1c  2    queue_enable           0x44 QueueReady
 *   0x1e  2    queue_notify_off       (read only: the queue index)
 *   0x20  8    queue_desc             0x80/0x84 QueueDescLow/High
 *   0x28  8    queue_driver           0x90/0x94 QueueDriverLow/High
 *   0x30  8    queue_device           0xa0/0xa4 QueueDeviceLow/High
 */
#include "devices/pci/virtio_pci_int.h"

#include <string.h>

#include "obs/log.h"

/* The field at `off` and its size, or 0 when `off` starts none. */
static uint32_t field_size(uint32_t off)
{
    if (off < 0x10)
        return off % 4 ? 0 : 4;
    if (off == 0x14 || off == 0x15)
        return 1;
    if (off < 0x20)
        return off % 2 ? 0 : 2;
    return off % 8 ? 0 : 8;
}

/* Whether an access of `len` bytes at `off` is one the structure takes:
 * a whole field, or a 4-byte half of a 64-bit queue address. */
static bool access_ok(uint32_t off, uint32_t len)
{
    if (off >= VIRTIO_PCI_COMMON_SIZE)
        return false;
    if (off >= 0x20 && len == 4 && off % 4 == 0)
        return true;
    return field_size(off) == len;
}

static struct virtq *selected(struct virtio_pci *p)
{
    struct virtio_mmio *t = p->t;

    return t->queue_select < t->n_queues ? &t->queues[t->queue_select] : NULL;
}

static uint32_t mmio_read(struct virtio_pci *p, uint64_t reg)
{
    uint8_t b[4] = {0};

    virtio_mmio_read(&p->t->bus, reg, b, 4);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
           (uint32_t)b[3] << 24;
}

static void mmio_write(struct virtio_pci *p, uint64_t reg, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                    (uint8_t)(v >> 24)};

    virtio_mmio_write(&p->t->bus, reg, b, 4);
}

static uint64_t read_field(struct virtio_pci *p, uint32_t off)
{
    struct virtio_mmio *t = p->t;
    struct virtq *q = selected(p);
    uint16_t qi = (uint16_t)t->queue_select;

    switch (off) {
    case 0x00:
        return t->features_select;
    case 0x04:
        return mmio_read(p, 0x10);
    case 0x08:
        return t->acked_features_select;
    case 0x0c:
        return t->acked_features_select < 2
                   ? (uint32_t)(t->acked_features >>
                                (32 * t->acked_features_select))
                   : 0;
    case 0x10:
        return p->config_vector;
    case 0x12:
        return t->n_queues;
    case 0x14:
        return t->status;
    case 0x15:
        return (uint8_t)t->config_generation;
    case 0x16:
        return t->queue_select;
    case 0x18:
        return q ? q->size : 0;
    case 0x1a:
        return q ? p->queue_vector[qi] : MSIX_NO_VECTOR;
    case 0x1c:
        return q ? q->ready : 0;
    case 0x1e:
        return q ? qi : 0;
    case 0x20:
        return q ? q->desc_addr : 0;
    case 0x28:
        return q ? q->avail_addr : 0;
    default: /* 0x30 */
        return q ? q->used_addr : 0;
    }
}

void virtio_pci_common_read(struct virtio_pci *p, uint32_t off, uint8_t *data,
                            uint32_t len)
{
    uint64_t v;

    memset(data, 0, len > 8 ? 8 : len);
    if (!access_ok(off, len)) {
        log_warn_rl("virtio-pci: invalid common config read: %#x:%u",
                    (unsigned)off, (unsigned)len);
        return;
    }
    /* A queue address read in halves: shift the 64-bit field. */
    if (off >= 0x20)
        v = read_field(p, off & ~7u) >> (8 * (off % 8));
    else
        v = read_field(p, off);
    for (uint32_t i = 0; i < len; i++)
        data[i] = (uint8_t)(v >> (8 * i));
}

/* A vector the driver may set: one of ours, or NO_VECTOR for anything
 * else (the driver reads it back to see the mapping failed). */
static uint16_t checked_vector(const struct virtio_pci *p, uint16_t v)
{
    return v < p->msix.n_vectors ? v : MSIX_NO_VECTOR;
}

/* The 64-bit queue address fields: the virtio-mmio low register for each
 * (high is low + 4). */
static uint64_t addr_reg(uint32_t field)
{
    return field == 0x20 ? 0x80 : field == 0x28 ? 0x90 : 0xa0;
}

void virtio_pci_common_write(struct virtio_pci *p, uint32_t off,
                             const uint8_t *data, uint32_t len)
{
    uint64_t v = 0;

    if (!access_ok(off, len)) {
        log_warn_rl("virtio-pci: invalid common config write: %#x:%u",
                    (unsigned)off, (unsigned)len);
        return;
    }
    for (uint32_t i = 0; i < len; i++)
        v |= (uint64_t)data[i] << (8 * i);
    if (off >= 0x20) {
        uint64_t lo = addr_reg(off & ~7u);

        if (len == 8) {
            mmio_write(p, lo, (uint32_t)v);
            mmio_write(p, lo + 4, (uint32_t)(v >> 32));
        } else {
            mmio_write(p, lo + (off % 8), (uint32_t)v);
        }
        return;
    }
    switch (off) {
    case 0x00:
        mmio_write(p, 0x14, (uint32_t)v);
        break;
    case 0x08:
        mmio_write(p, 0x24, (uint32_t)v);
        break;
    case 0x0c:
        mmio_write(p, 0x20, (uint32_t)v);
        break;
    case 0x10:
        p->config_vector = checked_vector(p, (uint16_t)v);
        break;
    case 0x14:
        mmio_write(p, 0x70, (uint32_t)v);
        if (p->t->status == 0) /* reset: the rings start over */
            memset(p->last_used, 0, sizeof(p->last_used));
        break;
    case 0x16:
        mmio_write(p, 0x30, (uint32_t)v);
        break;
    case 0x18:
        mmio_write(p, 0x38, (uint32_t)v);
        break;
    case 0x1a:
        if (selected(p))
            p->queue_vector[p->t->queue_select] =
                checked_vector(p, (uint16_t)v);
        break;
    case 0x1c:
        mmio_write(p, 0x44, (uint32_t)v);
        break;
    default: /* device_feature, num_queues, generation, notify_off: RO */
        log_warn_rl("virtio-pci: write to read-only common config field "
                    "%#x",
                    (unsigned)off);
        break;
    }
}
