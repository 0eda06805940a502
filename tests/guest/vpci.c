/*
 * vpci.c: virtio-pci (modern) as a transport for virtio.c's drivers
 * (README.md "virtio tests", "virtio over PCI").
 *
 * vpci_scan() finds ECAM through the ACPI MCFG table, walks bus 0 for
 * modern virtio functions (vendor 0x1af4, device 0x1040 + id), reads the
 * common, notify, ISR and device-configuration capabilities and the MSI-X
 * capability, maps the BARs they name (2 MiB pages, uncached) and adds one
 * struct vdev each. vr()/vw() (virtio_int.h) send a PCI device's register
 * accesses here: vpci_read()/vpci_write() take the virtio-mmio register
 * offsets the drivers use and turn them into the common configuration's
 * fields, so the same driver code runs over both transports. Differences:
 * QueueNotify is a 16-bit write at the queue's notify address, the ISR is
 * read-to-clear (InterruptACK does nothing), and interrupts are MSI-X
 * (vpci_msix) instead of an IOAPIC pin.
 */
#include "guest.h"
#include "virtio_int.h"

#define VENDOR_VIRTIO 0x1af4
#define GIB           (1ULL << 30)

#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR    3
#define CAP_DEVICE 4

/* common configuration (virtio 1.x 4.1.4.3) */
#define C_DFSELECT 0x00
#define C_DF       0x04
#define C_GFSELECT 0x08
#define C_GF       0x0c
#define C_MSIX     0x10
#define C_STATUS   0x14
#define C_QSELECT  0x16
#define C_QSIZE    0x18
#define C_QMSIX    0x1a
#define C_QENABLE  0x1c
#define C_QNOTIFY  0x1e
#define C_QDESC    0x20
#define C_QAVAIL   0x28
#define C_QUSED    0x30
#define NO_VECTOR  0xffff
#define MAX_QUEUES 8
#define MAX_PCI    8
#define MAX_MAPPED 8

struct vpci {
    uint64_t common, notify, isr, device; /* addresses */
    uint64_t msix_table;
    uint64_t fn; /* the function's ECAM configuration space */
    uint32_t notify_mult, msix_cap;
    uint16_t qsel, qvec;
    uint16_t noff[MAX_QUEUES];
};

static struct vpci pcis[MAX_PCI];
static uint32_t n_pcis;
/* Page tables for BARs past the boot identity map (4 GiB). */
static uint64_t bar_pdpt[2][512] __attribute__((aligned(4096)));
static uint64_t bar_pd[MAX_MAPPED][512] __attribute__((aligned(4096)));
static uint64_t mapped_gib[MAX_MAPPED];
static uint32_t n_mapped, n_pdpt;

static uint8_t rd8(uint64_t a)
{
    return *(volatile uint8_t *)(uintptr_t)a;
}

static uint16_t rd16(uint64_t a)
{
    return *(volatile uint16_t *)(uintptr_t)a;
}

static void wr8(uint64_t a, uint8_t v)
{
    *(volatile uint8_t *)(uintptr_t)a = v;
}

static void wr16(uint64_t a, uint16_t v)
{
    *(volatile uint16_t *)(uintptr_t)a = v;
}

/* Map the GiB holding a (uncached 2 MiB pages) unless it is below 4 GiB
 * or already mapped: 0, or -1 when the tables ran out. */
static int map_gib(uint64_t a)
{
    uint64_t gib = a & ~(GIB - 1), *dir;
    uint32_t i4 = (uint32_t)(a >> 39) & 511;

    if (a < 4 * GIB)
        return 0;
    for (uint32_t i = 0; i < n_mapped; i++)
        if (mapped_gib[i] == gib)
            return 0;
    if (n_mapped == MAX_MAPPED)
        return -1;
    if (i4 == 0) {
        dir = pdpt;
    } else if (pml4[i4] & 1) {
        dir = (uint64_t *)(uintptr_t)(pml4[i4] & ~0xfffULL);
    } else {
        if (n_pdpt == 2)
            return -1;
        dir = bar_pdpt[n_pdpt++];
        pml4[i4] = addr_of(dir) | 3;
    }
    for (uint64_t j = 0; j < 512; j++)
        bar_pd[n_mapped][j] = (gib + (j << 21)) | 0x83 | 0x18;
    dir[(a >> 30) & 511] = addr_of(bar_pd[n_mapped]) | 3;
    mapped_gib[n_mapped++] = gib;
    __asm__ volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" ::: "rax", "memory");
    return 0;
}

/* BAR `bar` of the function at config address fn, or 0. */
static uint64_t bar_addr(uint64_t fn, uint32_t bar)
{
    uint32_t lo;

    if (bar > 5)
        return 0;
    lo = mmio_read32(fn + 0x10 + 4 * bar);
    if (lo & 1)
        return 0; /* I/O space */
    if ((lo & 6) == 4 && bar < 5)
        return ((uint64_t)mmio_read32(fn + 0x14 + 4 * bar) << 32) |
               (lo & ~0xfu);
    return lo & ~0xfu;
}

/* One function's capabilities into p; 0 when the four virtio structures
 * were found and mapped. */
static int read_caps(uint64_t fn, struct vpci *p)
{
    uint32_t at = rd8(fn + 0x34);
    int have = 0;

    for (int n = 0; at && n < 48; n++, at = rd8(fn + at + 1)) {
        uint8_t id = rd8(fn + at);

        if (id == 0x11) {
            uint32_t t = mmio_read32(fn + at + 4);
            uint64_t b = bar_addr(fn, t & 7);

            p->msix_cap = at;
            p->msix_table = b ? b + (t & ~7u) : 0;
            continue;
        }
        if (id != 0x09)
            continue;
        {
            uint8_t type = rd8(fn + at + 3);
            uint64_t b = bar_addr(fn, rd8(fn + at + 4));
            uint64_t a = b + mmio_read32(fn + at + 8);

            if (!b || map_gib(a))
                continue;
            if (type == CAP_COMMON && !p->common) {
                p->common = a;
                have |= 1;
            } else if (type == CAP_NOTIFY && !p->notify) {
                p->notify = a;
                p->notify_mult = mmio_read32(fn + at + 16);
                have |= 2;
            } else if (type == CAP_ISR && !p->isr) {
                p->isr = a;
                have |= 4;
            } else if (type == CAP_DEVICE && !p->device) {
                p->device = a;
                have |= 8;
            }
        }
    }
    if (p->msix_table && map_gib(p->msix_table))
        p->msix_table = 0;
    return have == 15 ? 0 : -1;
}

/* The first MCFG allocation's base (bus 0 of segment 0), or 0. */
static uint64_t ecam_base(const struct venv *e)
{
    uint64_t mcfg = virtio_find_sdt(e, "MCFG");
    uint32_t len;

    if (!mcfg)
        return 0;
    len = mmio_read32(mcfg + 4);
    if (len < 44 + 16)
        return 0;
    return (uint64_t)mmio_read32(mcfg + 44) | (uint64_t)mmio_read32(mcfg + 48)
                                                  << 32;
}

void vpci_scan(struct venv *e)
{
    uint64_t ecam = ecam_base(e);
    struct line l;

    if (!ecam || ecam >= 4 * GIB)
        return;
    for (uint32_t s = 0; s < 32 && n_pcis < MAX_PCI && e->n_devs < MAX_DEVS;
         s++) {
        uint64_t fn = ecam + ((uint64_t)s << 15);
        uint32_t id = mmio_read32(fn);
        struct vpci *p = &pcis[n_pcis];
        struct vdev *d = &e->devs[e->n_devs];

        if ((id & 0xffff) != VENDOR_VIRTIO || (id >> 16) < 0x1040 ||
            (id >> 16) > 0x107f)
            continue;
        memset(p, 0, sizeof(*p));
        memset(d, 0, sizeof(*d));
        /* memory space and bus mastering on */
        wr16(fn + 4, (uint16_t)(rd16(fn + 4) | 0x6));
        line_start(&l);
        line_str(&l, "virtio-pci-dev");
        line_kv_dec(&l, "slot", s);
        line_kv_dec(&l, "id", (id >> 16) - 0x1040);
        if (read_caps(fn, p)) {
            line_str(&l, " caps=bad");
            line_end(&l);
            continue;
        }
        p->fn = fn;
        p->qvec = NO_VECTOR;
        d->pci = p;
        d->base = p->common;
        d->id = (id >> 16) - 0x1040;
        d->version = 2;
        d->vendor = VENDOR_VIRTIO;
        d->good = 1;
        d->source = 4;
        line_kv_hex(&l, "common", p->common);
        line_kv_hex(&l, "notify", p->notify);
        line_kv_dec(&l, "mult", p->notify_mult);
        line_kv_hex(&l, "msix_table", p->msix_table);
        line_end(&l);
        n_pcis++;
        e->n_devs++;
        e->n_pci++;
    }
}

int vpci_msix(const struct vdev *d, uint32_t vector)
{
    struct vpci *p = d->pci;

    if (!p || !p->msix_table || !p->msix_cap)
        return -1;
    mmio_write32(0xfee000f0ULL, mmio_read32(0xfee000f0ULL) | 0x100);
    mmio_write32(p->msix_table, 0xfee00000u); /* this CPU (APIC id 0) */
    mmio_write32(p->msix_table + 4, 0);
    mmio_write32(p->msix_table + 8, vector);
    mmio_write32(p->msix_table + 12, 0);   /* unmasked */
    wr16(p->fn + p->msix_cap + 2, 0x8000); /* enabled, function unmasked */
    p->qvec = 0;
    return 0;
}

uint32_t vpci_read(const struct vdev *d, uint32_t off)
{
    const struct vpci *p = d->pci;

    if (off >= VM_CONFIG)
        return mmio_read32(p->device + off - VM_CONFIG);
    switch (off) {
    case VM_MAGIC:
        return 0x74726976;
    case VM_VERSION:
        return 2;
    case VM_DEVICE_ID:
        return d->id;
    case VM_VENDOR_ID:
        return VENDOR_VIRTIO;
    case VM_DEV_FEAT:
        return mmio_read32(p->common + C_DF);
    case VM_QUEUE_MAX:
        return rd16(p->common + C_QSIZE);
    case VM_QUEUE_READY:
        return rd16(p->common + C_QENABLE);
    case VM_ISR:
        return rd8(p->isr);
    case VM_STATUS:
        return rd8(p->common + C_STATUS);
    }
    return 0;
}

void vpci_write(const struct vdev *d, uint32_t off, uint32_t v)
{
    struct vpci *p = d->pci;
    uint64_t c = p->common;

    if (off >= VM_CONFIG) {
        mmio_write32(p->device + off - VM_CONFIG, v);
        return;
    }
    switch (off) {
    case VM_QUEUE_NOTIFY:
        wr16(p->notify + (uint64_t)p->noff[v % MAX_QUEUES] * p->notify_mult,
             (uint16_t)v);
        break;
    case VM_DEV_FEAT_SEL:
        mmio_write32(c + C_DFSELECT, v);
        break;
    case VM_DRV_FEAT_SEL:
        mmio_write32(c + C_GFSELECT, v);
        break;
    case VM_DRV_FEAT:
        mmio_write32(c + C_GF, v);
        break;
    case VM_QUEUE_SEL:
        p->qsel = (uint16_t)v;
        wr16(c + C_QSELECT, (uint16_t)v);
        break;
    case VM_QUEUE_NUM:
        wr16(c + C_QSIZE, (uint16_t)v);
        break;
    case VM_QUEUE_READY:
        /* Before enabling: the queue's MSI-X vector (vpci_msix) and where
         * its notifications go. */
        if (v) {
            wr16(c + C_MSIX, NO_VECTOR);
            wr16(c + C_QMSIX, p->qvec);
            p->noff[p->qsel % MAX_QUEUES] = rd16(c + C_QNOTIFY);
        }
        wr16(c + C_QENABLE, (uint16_t)v);
        break;
    case VM_STATUS:
        wr8(c + C_STATUS, (uint8_t)v);
        break;
    case VM_DESC_LO:
    case VM_DESC_HI:
        mmio_write32(c + C_QDESC + (off - VM_DESC_LO), v);
        break;
    case VM_AVAIL_LO:
    case VM_AVAIL_HI:
        mmio_write32(c + C_QAVAIL + (off - VM_AVAIL_LO), v);
        break;
    case VM_USED_LO:
    case VM_USED_HI:
        mmio_write32(c + C_QUSED + (off - VM_USED_LO), v);
        break;
    default:
        break; /* InterruptACK: the ISR was cleared when it was read */
    }
}
