/*
 * virtio_pci.c: the virtio-pci transport (virtio_pci.h): the PCI function
 * and its capabilities, BAR dispatch, per-queue MSI-X interrupts and the
 * notification ioeventfds. The common configuration is
 * virtio_pci_common.c.
 */
#include "devices/pci/virtio_pci.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "devices/pci/virtio_pci_int.h"
#include "obs/log.h"
#include "util/evloop.h"

/* virtio_pci_cap.cfg_type (virtio 1.x 4.1.4). */
#define CAP_COMMON  1u
#define CAP_NOTIFY  2u
#define CAP_ISR     3u
#define CAP_DEVICE  4u
#define CAP_PCI_CFG 5u

#define CAP_BODY_SIZE        14u /* struct virtio_pci_cap after id, next */
#define NOTIFY_CAP_BODY_SIZE 18u /* ... plus notify_off_multiplier */
#define CFG_CAP_BODY_SIZE    18u /* ... or plus pci_cfg_data */

uint16_t virtio_pci_n_vectors(const struct virtio_mmio *t)
{
    return (uint16_t)(t->n_queues + 1);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* One vendor capability pointing at [off, off + len) of BAR 0. */
static int add_virtio_cap(struct pci_config *c, uint8_t type, uint32_t off,
                          uint32_t len)
{
    uint8_t body[NOTIFY_CAP_BODY_SIZE] = {0};
    size_t n = type == CAP_NOTIFY    ? NOTIFY_CAP_BODY_SIZE
               : type == CAP_PCI_CFG ? CFG_CAP_BODY_SIZE
                                     : CAP_BODY_SIZE;

    body[0] = (uint8_t)(n + 2); /* cap_len counts id and next */
    body[1] = type;
    body[2] = 0; /* BAR 0 */
    put32(body + 6, off);
    put32(body + 10, len);
    if (type == CAP_NOTIFY)
        put32(body + 14, VIRTIO_PCI_NOTIFY_MULT);
    return pci_config_add_cap(c, PCI_CAP_ID_VENDOR, body, n, NULL);
}

/* The class upstream gives each kind: network and mass storage for net
 * and block, "unassigned" for the rest. */
static void ids_for(uint32_t type, struct pci_ids *ids)
{
    uint16_t id = (uint16_t)(VIRTIO_PCI_DEVICE_ID_BASE + type);

    memset(ids, 0, sizeof(*ids));
    ids->vendor_id = VIRTIO_PCI_VENDOR_ID;
    ids->device_id = id;
    ids->revision = 1; /* modern (non-transitional) device */
    ids->subsys_vendor_id = VIRTIO_PCI_VENDOR_ID;
    ids->subsys_id = id;
    if (type == SQ_VIRTIO_ID_NET) {
        ids->class_code = 0x02; /* network, Ethernet */
        ids->subclass = 0x00;
    } else if (type == SQ_VIRTIO_ID_BLOCK) {
        ids->class_code = 0x01; /* mass storage, other */
        ids->subclass = 0x80;
    } else {
        ids->class_code = 0xff;
        ids->subclass = 0xff;
    }
}

/* Message Control of the MSI-X capability changed (device lock held). */
static void on_config_written(struct pci_dev *d, uint32_t reg)
{
    struct virtio_pci *p = d->opaque;

    if (reg == p->msix_cap / 4u)
        msix_set_msg_ctl(&p->msix,
                         (uint16_t)(pci_config_raw(&d->cfg, reg) >> 16));
}

/* Add vector v (unless NO_VECTOR) to the set to raise. */
static void mark(uint64_t *set, uint16_t v)
{
    if (v < 64)
        *set |= 1ull << v;
}

/*
 * The device raised an interrupt (t->irq_hook; device lock held): the
 * config vector for a config change; for used buffers, the vector of each
 * queue whose used index moved since its last interrupt, or every queue's
 * if none did. Each vector once.
 */
static int on_interrupt(void *opaque, uint32_t bit)
{
    struct virtio_pci *p = opaque;
    struct virtio_mmio *t = p->t;
    uint64_t set = 0;
    int rc = 0;

    if (bit & SQ_VIRTIO_INT_CONFIG)
        mark(&set, p->config_vector);
    if (bit & SQ_VIRTIO_INT_VRING) {
        uint64_t queues = 0;

        for (size_t q = 0; q < t->n_queues; q++) {
            if (t->queues[q].next_used != p->last_used[q]) {
                p->last_used[q] = t->queues[q].next_used;
                mark(&queues, p->queue_vector[q]);
            }
        }
        if (!queues)
            for (size_t q = 0; q < t->n_queues; q++)
                mark(&queues, p->queue_vector[q]);
        set |= queues;
    }
    for (uint16_t v = 0; v < p->msix.n_vectors; v++) {
        if (set & (1ull << v)) {
            int r = msix_signal(&p->msix, v);

            if (r < 0)
                rc = r;
        }
    }
    return rc;
}

/* The window's capability: offset and length 0 until the driver sets them
 * (virtio_pci_cfgcap.c). */
static int add_cfg_cap(struct virtio_pci *p)
{
    int off = add_virtio_cap(&p->pci.cfg, CAP_PCI_CFG, 0, 0);

    if (off < 0)
        return off;
    p->cfg_cap_off = (uint16_t)(off + 2);
    memcpy(p->cfg_cap, (const uint8_t *)p->pci.cfg.regs + p->cfg_cap_off,
           sizeof(p->cfg_cap));
    virtio_pci_cfg_cap_hook(p);
    return 0;
}

int virtio_pci_init(struct virtio_pci *p, struct virtio_mmio *t,
                    uint64_t bar_addr, uint32_t first_gsi)
{
    struct pci_ids ids;
    uint8_t body[MSIX_CAP_BODY_SIZE], wmask[MSIX_CAP_BODY_SIZE];
    int rc, off;

    memset(p, 0, sizeof(*p));
    p->vm_fd = -1;
    ids_for(t->ops->device_type, &ids);
    pci_config_init(&p->pci.cfg, &ids);
    rc = pci_config_set_bar64(&p->pci.cfg, 0, bar_addr, VIRTIO_PCI_BAR_SIZE,
                              false);
    if (rc < 0)
        return rc;
    rc = msix_init(&p->msix, virtio_pci_n_vectors(t), first_gsi);
    if (rc < 0)
        return rc;
    if (add_virtio_cap(&p->pci.cfg, CAP_COMMON, VIRTIO_PCI_COMMON,
                       VIRTIO_PCI_COMMON_SIZE) < 0 ||
        add_virtio_cap(&p->pci.cfg, CAP_ISR, VIRTIO_PCI_ISR, 1) < 0 ||
        add_virtio_cap(&p->pci.cfg, CAP_DEVICE, VIRTIO_PCI_DEVICE_CFG,
                       VIRTIO_PCI_DEVICE_SIZE) < 0 ||
        add_virtio_cap(&p->pci.cfg, CAP_NOTIFY, VIRTIO_PCI_NOTIFY,
                       VIRTIO_PCI_NOTIFY_SIZE) < 0 ||
        add_cfg_cap(p) < 0) {
        msix_fini(&p->msix);
        return -ENOSPC;
    }
    msix_cap_body(&p->msix, 0, VIRTIO_PCI_MSIX_TABLE, VIRTIO_PCI_MSIX_PBA, body,
                  wmask);
    off = pci_config_add_cap(&p->pci.cfg, PCI_CAP_ID_MSIX, body, sizeof(body),
                             wmask);
    if (off < 0) {
        msix_fini(&p->msix);
        return off;
    }
    p->msix_cap = (uint16_t)off;
    p->config_vector = MSIX_NO_VECTOR;
    for (size_t q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++)
        p->queue_vector[q] = MSIX_NO_VECTOR;
    p->t = t;
    p->bar_addr = bar_addr;
    p->pci.lock = &t->bus.lock;
    p->pci.config_written = on_config_written;
    p->pci.opaque = p;
    bus_dev_init(&p->bar, "virtio-pci", virtio_pci_bar_read,
                 virtio_pci_bar_write, p);
    t->irq_hook = on_interrupt;
    t->irq_opaque = p;
    return 0;
}

void virtio_pci_fini(struct virtio_pci *p)
{
    if (!p->t)
        return;
    virtio_pci_detach(p);
    if (p->t->irq_opaque == p) {
        p->t->irq_hook = NULL;
        p->t->irq_opaque = NULL;
    }
    msix_fini(&p->msix);
    bus_dev_fini(&p->bar);
    p->t = NULL;
}

static uint64_t notify_addr(const struct virtio_pci *p, size_t q)
{
    return p->bar_addr + VIRTIO_PCI_NOTIFY + q * VIRTIO_PCI_NOTIFY_MULT;
}

int virtio_pci_attach(struct virtio_pci *p, int vm_fd,
                      virtio_pci_ioeventfd_fn *fn)
{
    struct virtio_mmio *t = p->t;

    for (size_t q = 0; q < t->n_queues; q++) {
        int rc = fn(vm_fd, t->queue_fd[q], notify_addr(p, q), false);

        if (rc < 0) {
            for (size_t j = 0; j < q; j++)
                (void)fn(vm_fd, t->queue_fd[j], notify_addr(p, j), true);
            return rc;
        }
    }
    p->ioeventfd = fn;
    p->vm_fd = vm_fd;
    return 0;
}

void virtio_pci_detach(struct virtio_pci *p)
{
    if (!p->ioeventfd)
        return;
    for (size_t q = 0; q < p->t->n_queues; q++)
        (void)p->ioeventfd(p->vm_fd, p->t->queue_fd[q], notify_addr(p, q),
                           true);
    p->ioeventfd = NULL;
    p->vm_fd = -1;
}

/* Whether [off, off + len) lies inside [base, base + size). */
static bool in(uint64_t off, uint32_t len, uint64_t base, uint64_t size)
{
    return off >= base && off - base < size && len <= size - (off - base);
}

void virtio_pci_bar_read(struct bus_dev *bd, uint64_t off, uint8_t *data,
                         uint32_t len)
{
    struct virtio_pci *p = bd->opaque;

    bus_dev_lock(&p->t->bus);
    virtio_pci_bar_read_locked(p, off, data, len);
    bus_dev_unlock(&p->t->bus);
}

void virtio_pci_bar_read_locked(struct virtio_pci *p, uint64_t off,
                                uint8_t *data, uint32_t len)
{
    struct virtio_mmio *t = p->t;

    memset(data, 0, len > 8 ? 8 : len);
    if (len == 0 || len > 8)
        return;
    if (in(off, len, VIRTIO_PCI_COMMON, VIRTIO_PCI_COMMON_SIZE)) {
        virtio_pci_common_read(p, (uint32_t)off, data, len);
    } else if (off == VIRTIO_PCI_ISR && len == 1) {
        /* Reading the ISR clears it (INTx semantics; MSI-X drivers do not
         * read it). */
        data[0] = (uint8_t)atomic_exchange(&t->irq_status, 0);
    } else if (in(off, len, VIRTIO_PCI_DEVICE_CFG, VIRTIO_PCI_DEVICE_SIZE)) {
        uint64_t o = off - VIRTIO_PCI_DEVICE_CFG;

        /* The device's config as virtio-mmio shows it from 0x100. */
        if (o + len <= 0x1000 - VIRTIO_MMIO_CONFIG)
            virtio_mmio_read(&t->bus, VIRTIO_MMIO_CONFIG + o, data, len);
    } else if (in(off, len, VIRTIO_PCI_MSIX_TABLE, VIRTIO_PCI_MSIX_TABLE_MAX)) {
        msix_table_read(&p->msix, off - VIRTIO_PCI_MSIX_TABLE, data, len);
    } else if (in(off, len, VIRTIO_PCI_MSIX_PBA, VIRTIO_PCI_MSIX_PBA_MAX)) {
        msix_pba_read(&p->msix, off - VIRTIO_PCI_MSIX_PBA, data, len);
    } else if (!in(off, len, VIRTIO_PCI_NOTIFY, VIRTIO_PCI_NOTIFY_SIZE)) {
        log_warn_rl("virtio-pci: read outside the BAR's regions: %#llx:%u",
                    (unsigned long long)off, (unsigned)len);
    }
}

void virtio_pci_bar_write(struct bus_dev *bd, uint64_t off, const uint8_t *data,
                          uint32_t len)
{
    struct virtio_pci *p = bd->opaque;

    bus_dev_lock(&p->t->bus);
    virtio_pci_bar_write_locked(p, off, data, len);
    bus_dev_unlock(&p->t->bus);
}

void virtio_pci_bar_write_locked(struct virtio_pci *p, uint64_t off,
                                 const uint8_t *data, uint32_t len)
{
    struct virtio_mmio *t = p->t;

    if (len == 0 || len > 8)
        return;
    if (in(off, len, VIRTIO_PCI_COMMON, VIRTIO_PCI_COMMON_SIZE)) {
        virtio_pci_common_write(p, (uint32_t)off, data, len);
    } else if (in(off, len, VIRTIO_PCI_DEVICE_CFG, VIRTIO_PCI_DEVICE_SIZE)) {
        uint64_t o = off - VIRTIO_PCI_DEVICE_CFG;

        if (o + len <= 0x1000 - VIRTIO_MMIO_CONFIG)
            virtio_mmio_write(&t->bus, VIRTIO_MMIO_CONFIG + o, data, len);
    } else if (in(off, len, VIRTIO_PCI_NOTIFY, VIRTIO_PCI_NOTIFY_SIZE)) {
        /* Reached only without an ioeventfd: do what KVM would. */
        uint64_t q = (off - VIRTIO_PCI_NOTIFY) / VIRTIO_PCI_NOTIFY_MULT;

        if ((off - VIRTIO_PCI_NOTIFY) % VIRTIO_PCI_NOTIFY_MULT == 0 &&
            q < t->n_queues)
            evloop_eventfd_signal(t->queue_fd[q]);
    } else if (in(off, len, VIRTIO_PCI_MSIX_TABLE, VIRTIO_PCI_MSIX_TABLE_MAX)) {
        msix_table_write(&p->msix, off - VIRTIO_PCI_MSIX_TABLE, data, len);
    } else {
        /* ISR, PBA (read-only) and the gaps. */
        log_warn_rl("virtio-pci: write outside the BAR's writable regions: "
                    "%#llx:%u",
                    (unsigned long long)off, (unsigned)len);
    }
}
