/*
 * pci.c: the test guest's PCI probe (squibtest=pci; README.md "PCI test").
 *
 * It scans bus 0 through ECAM (0xeec00000) and through the 0xcf8/0xcfc
 * ports, walks the capabilities of the virtio-rng function, sizes its
 * BAR, maps the BAR (64-bit window, above the guest's 4 GiB identity map),
 * drives the device as a modern virtio-pci driver with MSI-X (vector 0 for
 * configuration changes, 1 for the queue, delivered to IDT vectors
 * PCI_VECTOR_BASE and +1), reads entropy with the queue's interrupt,
 * checks that a masked vector is left pending in the PBA and delivered on
 * unmask, then makes hostile accesses (crossing a dword, writes to
 * read-only registers, CONFIG_DATA with the enable bit clear, the BAR's
 * gaps, a vector pointing at a non-APIC address) and reads entropy again
 * to show the VMM still answers. One line per fact.
 *
 * squibtest=pci-loop (pci_run_loop) is work to snapshot in the middle of:
 * the same set-up, then `n` entropy requests one after the other, each
 * waited for with its MSI-X interrupt, a tick line every 256.
 *
 * squibtest=pci-hotplug watches bus 0 instead, as a guest that rescans
 * (`echo 1 > /sys/bus/pci/rescan`) would: it reads every slot's IDs over
 * and over and prints each function that appears or disappears; a
 * virtio-blk function that appears is driven at once and sector 0 read
 * from it (polling the used ring: no interrupt is needed).
 */
#include "pci.h"

#include "guest.h"

#define ECAM         0xeec00000ULL
#define BAR_PD_INDEX 256 /* pdpt entry of 0x40_0000_0000 */
#define QSIZE        8
#define TIMEOUT      20000000000ULL /* TSC cycles: seconds at any rate */

#define CAP_COMMON  1
#define CAP_NOTIFY  2
#define CAP_ISR     3
#define CAP_DEVICE  4
#define CAP_PCI_CFG 5

#define ST_ACK         1
#define ST_DRIVER      2
#define ST_DRIVER_OK   4
#define ST_FEATURES_OK 8

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

/* The driver's view of the function. */
struct pdev {
    uint32_t slot;
    uint64_t bar, bar_size;
    uint32_t common, notify, isr, device, notify_mult;
    uint32_t msix_cap, table, pba;
    uint32_t cfgwin; /* the VIRTIO_PCI_CAP_PCI_CFG capability, 0: none */
};

static uint64_t bar_pd[512] __attribute__((aligned(4096)));
static struct desc ring_desc[QSIZE] __attribute__((aligned(4096)));
static volatile uint16_t ring_avail[3 + QSIZE] __attribute__((aligned(4096)));
static volatile uint8_t ring_used[6 + 8 * QSIZE] __attribute__((aligned(4096)));
static uint8_t entropy[64] __attribute__((aligned(64)));
static uint8_t sector[512] __attribute__((aligned(512)));
static volatile uint32_t irqs[2];
static uint16_t avail_idx;

void pci_isr(uint64_t vector)
{
    irqs[vector - PCI_VECTOR_BASE]++;
}

static uint64_t ecam(uint32_t slot, uint32_t off)
{
    return ECAM + ((uint64_t)slot << 15) + off;
}

static uint32_t cfg32(uint32_t slot, uint32_t off)
{
    return mmio_read32(ecam(slot, off));
}

static uint8_t cfg8(uint32_t slot, uint32_t off)
{
    return *(volatile uint8_t *)ecam(slot, off);
}

static uint16_t rd16(uint64_t a)
{
    return *(volatile uint16_t *)a;
}

static void wr16(uint64_t a, uint16_t v)
{
    *(volatile uint16_t *)a = v;
}

static void wr8(uint64_t a, uint8_t v)
{
    *(volatile uint8_t *)a = v;
}

static uint8_t rd8(uint64_t a)
{
    return *(volatile uint8_t *)a;
}

/* Config read through the legacy ports. */
static uint32_t port_cfg32(uint32_t slot, uint32_t off)
{
    outl(0xcf8, 0x80000000u | slot << 11 | (off & 0xfc));
    return inl(0xcfc);
}

static void scan(uint32_t *rng_slot)
{
    struct line l;

    *rng_slot = 0;
    for (uint32_t s = 0; s < 32; s++) {
        uint32_t id = cfg32(s, 0);

        if ((id & 0xffff) == 0xffff)
            continue;
        line_start(&l);
        line_str(&l, "pci dev");
        line_kv_dec(&l, "slot", s);
        line_kv_hex(&l, "id", id);
        line_kv_hex(&l, "class", cfg32(s, 8));
        line_str(&l, port_cfg32(s, 0) == id ? " ports=same" : " ports=differ");
        line_end(&l);
        if (id == 0x10441af4)
            *rng_slot = s;
    }
}

/* Walk the capability list; fill the virtio structures' places. */
static void caps(struct pdev *d)
{
    uint32_t p = cfg8(d->slot, 0x34);
    struct line l;

    for (int n = 0; p && n < 48; n++) {
        uint8_t id = cfg8(d->slot, p);

        line_start(&l);
        line_str(&l, "pci cap");
        line_kv_hex(&l, "at", p);
        line_kv_hex(&l, "id", id);
        if (id == 0x09) {
            uint8_t type = cfg8(d->slot, p + 3);
            uint32_t off = cfg32(d->slot, p + 8);

            line_kv_dec(&l, "type", type);
            line_kv_dec(&l, "bar", cfg8(d->slot, p + 4));
            line_kv_hex(&l, "offset", off);
            line_kv_hex(&l, "length", cfg32(d->slot, p + 12));
            if (type == CAP_COMMON)
                d->common = off;
            else if (type == CAP_ISR)
                d->isr = off;
            else if (type == CAP_DEVICE)
                d->device = off;
            else if (type == CAP_NOTIFY) {
                d->notify = off;
                d->notify_mult = cfg32(d->slot, p + 16);
                line_kv_dec(&l, "mult", d->notify_mult);
            } else if (type == CAP_PCI_CFG) {
                d->cfgwin = p;
            }
        } else if (id == 0x11) {
            d->msix_cap = p;
            d->table = cfg32(d->slot, p + 4);
            d->pba = cfg32(d->slot, p + 8);
            line_kv_dec(&l, "vectors", (cfg32(d->slot, p) >> 16 & 0x7ff) + 1);
            line_kv_hex(&l, "table", d->table);
            line_kv_hex(&l, "pba", d->pba);
        }
        line_end(&l);
        p = cfg8(d->slot, p + 1);
    }
}

/* Size BAR 0 (64-bit) the way Linux does, and map it. */
static void bar0(struct pdev *d)
{
    uint64_t a0 = ecam(d->slot, 0x10), a1 = ecam(d->slot, 0x14);
    uint32_t lo = mmio_read32(a0), hi = mmio_read32(a1), slo, shi;
    struct line l;

    mmio_write32(a0, 0xffffffffu);
    slo = mmio_read32(a0);
    mmio_write32(a0, lo);
    mmio_write32(a1, 0xffffffffu);
    shi = mmio_read32(a1);
    mmio_write32(a1, hi);
    d->bar = ((uint64_t)hi << 32) | (lo & ~0xfu);
    d->bar_size = ~(((uint64_t)shi << 32) | (slo & ~0xfu)) + 1;
    line_start(&l);
    line_str(&l, "pci bar0");
    line_kv_hex(&l, "addr", d->bar);
    line_kv_hex(&l, "size", d->bar_size);
    line_kv_hex(&l, "flags", lo & 0xf);
    line_kv_hex(&l, "after", mmio_read32(a0));
    line_end(&l);
    /* 2 MiB pages, uncached, for the 1 GiB from 0x40_0000_0000. */
    for (uint64_t j = 0; j < 512; j++)
        bar_pd[j] = (0x4000000000ULL + (j << 21)) | 0x87 | 0x18;
    pdpt[BAR_PD_INDEX] = (uint64_t)(uintptr_t)bar_pd | 7;
    __asm__ volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" ::: "rax", "memory");
    mmio_write32(ecam(d->slot, 4), 0x6); /* memory space, bus master */
}

static void msix_entry(const struct pdev *d, uint32_t v, uint64_t addr,
                       uint32_t data, uint32_t ctl)
{
    uint64_t e = d->bar + (d->table & ~7u) + 16 * v;

    mmio_write32(e, (uint32_t)addr);
    mmio_write32(e + 4, (uint32_t)(addr >> 32));
    mmio_write32(e + 8, data);
    mmio_write32(e + 12, ctl);
}

static void msix_ctl(const struct pdev *d, uint16_t ctl)
{
    wr16(ecam(d->slot, d->msix_cap + 2), ctl);
}

static uint64_t common(const struct pdev *d, uint32_t off)
{
    return d->bar + d->common + off;
}

static int virtio_init(const struct pdev *d)
{
    uint64_t c = d->bar + d->common;
    struct line l;
    uint16_t qmax;
    uint8_t st;

    wr8(c + 0x14, 0);
    while (rd8(c + 0x14) != 0)
        cpu_relax();
    wr8(c + 0x14, ST_ACK);
    wr8(c + 0x14, ST_ACK | ST_DRIVER);
    mmio_write32(c + 0x00, 1);
    line_start(&l);
    line_str(&l, "pci virtio");
    line_kv_hex(&l, "features_hi", mmio_read32(c + 0x04));
    mmio_write32(c + 0x08, 0);
    mmio_write32(c + 0x0c, 0);
    mmio_write32(c + 0x08, 1);
    mmio_write32(c + 0x0c, 1); /* VERSION_1 */
    wr8(c + 0x14, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
    wr16(c + 0x10, 0);
    line_kv_hex(&l, "config_vector", rd16(c + 0x10));
    line_kv_dec(&l, "num_queues", rd16(c + 0x12));
    wr16(c + 0x16, 0);
    qmax = rd16(c + 0x18);
    line_kv_dec(&l, "queue_max", qmax);
    wr16(c + 0x18, QSIZE);
    wr16(c + 0x1a, 1);
    line_kv_hex(&l, "queue_vector", rd16(c + 0x1a));
    /* Rings of a device driven before (a hot-plugged one) start empty. */
    ring_avail[0] = ring_avail[1] = 0;
    *(volatile uint16_t *)(ring_used + 2) = 0;
    mmio_write32(c + 0x20, (uint32_t)(uintptr_t)ring_desc);
    mmio_write32(c + 0x24, 0);
    mmio_write32(c + 0x28, (uint32_t)(uintptr_t)ring_avail);
    mmio_write32(c + 0x2c, 0);
    mmio_write32(c + 0x30, (uint32_t)(uintptr_t)ring_used);
    mmio_write32(c + 0x34, 0);
    wr16(c + 0x1c, 1);
    wr8(c + 0x14, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
    st = rd8(c + 0x14);
    line_kv_hex(&l, "status", st);
    line_end(&l);
    avail_idx = 0;
    return st == (ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK) ? 0 : -1;
}

static uint16_t used_idx(void)
{
    return *(volatile uint16_t *)(ring_used + 2);
}

/* Post one 16-byte request and notify; does not wait. */
static void post(const struct pdev *d)
{
    uint16_t slot = avail_idx % QSIZE;

    ring_desc[slot].addr = (uint64_t)(uintptr_t)entropy;
    ring_desc[slot].len = 16;
    ring_desc[slot].flags = 2; /* device-writable */
    ring_desc[slot].next = 0;
    ring_avail[2 + slot] = slot;
    __asm__ volatile("mfence" ::: "memory");
    avail_idx++;
    ring_avail[1] = avail_idx;
    __asm__ volatile("mfence" ::: "memory");
    wr16(d->bar + d->notify + 0 * d->notify_mult, 0);
}

/* Wait until `cond` holds or the timeout passes; 1 if it held. */
static int wait_used(uint16_t want)
{
    uint64_t t0 = rdtsc();

    while (used_idx() != want && rdtsc() - t0 < TIMEOUT)
        cpu_relax();
    return used_idx() == want;
}

static int wait_irq(uint32_t v, uint32_t want)
{
    uint64_t t0 = rdtsc();

    while (irqs[v] < want && rdtsc() - t0 < TIMEOUT)
        cpu_relax();
    return irqs[v] >= want;
}

/* One request with its interrupt: prints "pci rng ...". */
static void request(const struct pdev *d, const char *what)
{
    uint32_t before = irqs[1];
    uint16_t want = (uint16_t)(avail_idx + 1);
    struct line l;
    uint32_t len;

    post(d);
    line_start(&l);
    line_str(&l, "pci rng");
    line_str(&l, " ");
    line_str(&l, what);
    line_kv_dec(&l, "used", wait_used(want));
    line_kv_dec(&l, "irq", wait_irq(1, before + 1));
    __builtin_memcpy(
        &len, (const void *)(ring_used + 4 + 8 * ((want - 1) % QSIZE) + 4), 4);
    line_kv_dec(&l, "len", len);
    line_kv_dec(&l, "config_irqs", irqs[0]);
    line_end(&l);
}

static void masking(const struct pdev *d)
{
    uint16_t want = (uint16_t)(avail_idx + 1);
    uint32_t before = irqs[1];
    uint64_t pba = d->bar + (d->pba & ~7u);
    struct line l;

    msix_entry(d, 1, 0xfee00000ULL, PCI_VECTOR_BASE + 1, 1); /* masked */
    post(d);
    line_start(&l);
    line_str(&l, "pci mask vector");
    line_kv_dec(&l, "used", wait_used(want));
    line_kv_dec(&l, "irq", irqs[1] - before);
    line_kv_hex(&l, "pba", mmio_read32(pba));
    msix_entry(d, 1, 0xfee00000ULL, PCI_VECTOR_BASE + 1, 0);
    line_kv_dec(&l, "unmasked_irq", wait_irq(1, before + 1));
    line_kv_hex(&l, "pba_after", mmio_read32(pba));
    line_end(&l);

    want = (uint16_t)(avail_idx + 1);
    before = irqs[1];
    msix_ctl(d, 0xc000); /* function mask */
    post(d);
    line_start(&l);
    line_str(&l, "pci mask function");
    line_kv_dec(&l, "used", wait_used(want));
    line_kv_dec(&l, "irq", irqs[1] - before);
    line_kv_hex(&l, "pba", mmio_read32(pba));
    msix_ctl(d, 0x8000);
    line_kv_dec(&l, "unmasked_irq", wait_irq(1, before + 1));
    line_end(&l);
}

static void hostile(const struct pdev *d)
{
    uint32_t id = cfg32(d->slot, 0);
    struct line l;

    line_start(&l);
    line_str(&l, "pci hostile");
    /* A read crossing a dword, an empty slot, function 1. */
    line_kv_hex(&l, "cross", rd16(ecam(d->slot, 3)));
    line_kv_hex(&l, "empty", cfg32(31, 0));
    line_kv_hex(&l, "fn1", mmio_read32(ecam(d->slot, 0) + 0x1000));
    /* Writes to read-only registers. */
    mmio_write32(ecam(d->slot, 0), 0xdeadbeef);
    mmio_write32(ecam(d->slot, 8), 0);
    wr16(ecam(d->slot, 6), 0xffff);
    *(volatile uint8_t *)ecam(d->slot, 0x34) = 0;
    line_kv_dec(&l, "id_kept", cfg32(d->slot, 0) == id);
    line_kv_hex(&l, "cap_ptr", cfg8(d->slot, 0x34));
    /* CONFIG_DATA with the enable bit clear. */
    outl(0xcf8, d->slot << 11);
    line_kv_hex(&l, "disabled", inl(0xcfc));
    /* The BAR's gaps, the PBA, past the table. */
    mmio_write32(d->bar + 0x1000, 0xffffffffu);
    mmio_write32(d->bar + (d->pba & ~7u), 0xffffffffu);
    line_kv_hex(&l, "gap", mmio_read32(d->bar + 0x1000));
    line_kv_hex(&l, "past_table", mmio_read32(d->bar + (d->table & ~7u) + 32));
    /* Common config: a wrong size, a vector out of range. */
    mmio_write32(common(d, 0x14), 0xffffffffu);
    wr16(common(d, 0x10), 77);
    line_kv_hex(&l, "bad_vector", rd16(common(d, 0x10)));
    wr16(common(d, 0x10), 0);
    /* The config vector pointing at a non-APIC address, unmasked. */
    msix_entry(d, 0, 0xdead0000ULL, 0x31, 0);
    msix_entry(d, 0, 0xfee00000ULL, PCI_VECTOR_BASE, 0);
    line_end(&l);
}

/* Find the entropy function, map its BAR, MSI-X on (config vector 0 and
 * queue vector 1 to this CPU), the device up. 0, or -1 after saying why. */
static int bring_up(struct pdev *d)
{
    __builtin_memset(d, 0, sizeof(*d));
    scan(&d->slot);
    if (!d->slot) {
        say("pci rng=none");
        return -1;
    }
    caps(d);
    bar0(d);
    mmio_write32(0xfee000f0ULL, mmio_read32(0xfee000f0ULL) | 0x100);
    msix_entry(d, 0, 0xfee00000ULL, PCI_VECTOR_BASE, 0);
    msix_entry(d, 1, 0xfee00000ULL, PCI_VECTOR_BASE + 1, 0);
    msix_ctl(d, 0x8000);
    if (virtio_init(d) < 0) {
        say("pci virtio init=failed");
        return -1;
    }
    return 0;
}

void pci_run_loop(uint64_t n)
{
    uint64_t timeouts = 0;
    struct pdev d;
    struct line l;

    if (bring_up(&d) < 0)
        return;
    for (uint64_t i = 1; i <= n; i++) {
        uint32_t before = irqs[1];
        uint16_t want = (uint16_t)(avail_idx + 1);

        post(&d);
        if (!wait_used(want) || !wait_irq(1, before + 1))
            timeouts++;
        if (i % 256 == 0 || i == n) {
            line_start(&l);
            line_str(&l, i == n ? "pci loop-done" : "pci loop-tick");
            line_kv_dec(&l, "requests", i);
            line_kv_dec(&l, "irqs", irqs[1]);
            line_kv_dec(&l, "timeouts", timeouts);
            line_end(&l);
        }
    }
}

/* BAR 0 at `off` through the VIRTIO_PCI_CAP_PCI_CFG window, `len` bytes:
 * read (write 0) or write `v`. */
static uint32_t window(const struct pdev *d, uint32_t off, uint32_t len,
                       int write, uint32_t v)
{
    mmio_write32(ecam(d->slot, d->cfgwin + 8), off);
    mmio_write32(ecam(d->slot, d->cfgwin + 12), len);
    if (write) {
        mmio_write32(ecam(d->slot, d->cfgwin + 16), v);
        return 0;
    }
    return cfg32(d->slot, d->cfgwin + 16);
}

/* The common configuration read and written through the window, against
 * direct BAR reads. */
static void cfg_window(const struct pdev *d)
{
    uint32_t nq, st, sel;
    struct line l;

    line_start(&l);
    line_str(&l, "pci cfgwin");
    line_kv_hex(&l, "at", d->cfgwin);
    if (!d->cfgwin) {
        line_end(&l);
        return;
    }
    nq = window(d, d->common + 0x12, 2, 0, 0);
    st = window(d, d->common + 0x14, 1, 0, 0);
    window(d, d->common + 0x16, 2, 1, 1); /* queue_select */
    sel = rd16(common(d, 0x16));
    window(d, d->common + 0x16, 2, 1, 0);
    line_kv_dec(&l, "num_queues", nq);
    line_kv_dec(&l, "same",
                nq == rd16(common(d, 0x12)) && st == rd8(common(d, 0x14)) &&
                    window(d, d->common, 4, 0, 0) == mmio_read32(common(d, 0)));
    line_kv_hex(&l, "status", st);
    line_kv_dec(&l, "select", sel);
    line_kv_dec(&l, "select_after", rd16(common(d, 0x16)));
    line_end(&l);
}

void pci_run_test(void)
{
    struct pdev d;
    struct line l;

    if (bring_up(&d) < 0)
        return;
    request(&d, "first");
    cfg_window(&d);
    masking(&d);
    hostile(&d);
    request(&d, "after-hostile");
    line_start(&l);
    line_str(&l, "pci done");
    line_kv_dec(&l, "queue_irqs", irqs[1]);
    line_end(&l);
}

/* A virtio-blk read of sector 0 into `sector` through a three-descriptor
 * chain (header, data, status); prints "pci-hotplug read ...". */
static void blk_read(const struct pdev *d)
{
    static struct {
        uint32_t type, reserved;
        uint64_t sector;
    } hdr __attribute__((aligned(16)));
    static volatile uint8_t status;
    uint16_t want = (uint16_t)(avail_idx + 1);
    uint64_t first8;
    struct line l;

    hdr.type = 0; /* VIRTIO_BLK_T_IN */
    hdr.reserved = 0;
    hdr.sector = 0;
    status = 0xff;
    ring_desc[0] = (struct desc){(uint64_t)(uintptr_t)&hdr, 16, 1, 1};
    ring_desc[1] = (struct desc){(uint64_t)(uintptr_t)sector, 512, 3, 2};
    ring_desc[2] = (struct desc){(uint64_t)(uintptr_t)&status, 1, 2, 0};
    ring_avail[2 + avail_idx % QSIZE] = 0;
    __asm__ volatile("mfence" ::: "memory");
    avail_idx++;
    ring_avail[1] = avail_idx;
    __asm__ volatile("mfence" ::: "memory");
    wr16(d->bar + d->notify, 0);
    line_start(&l);
    line_str(&l, "pci-hotplug read");
    line_kv_dec(&l, "slot", d->slot);
    line_kv_dec(&l, "used", wait_used(want));
    line_kv_dec(&l, "status", status);
    __builtin_memcpy(&first8, sector, 8);
    line_kv_hex(&l, "data", first8);
    line_end(&l);
}

void pci_hotplug_test(void)
{
    uint32_t known[32];
    struct line l;
    uint32_t unused;

    scan(&unused);
    for (uint32_t s = 0; s < 32; s++)
        known[s] = cfg32(s, 0);
    say("pci-hotplug watching");
    for (;;) {
        for (uint32_t s = 1; s < 32; s++) {
            uint32_t id = cfg32(s, 0);
            struct pdev d;

            if (id == known[s])
                continue;
            known[s] = id;
            line_start(&l);
            line_str(&l, "pci-hotplug");
            line_kv_dec(&l, "slot", s);
            line_kv_hex(&l, "id", id);
            line_kv_dec(&l, "present", (id & 0xffff) != 0xffff);
            line_end(&l);
            if (id != 0x10421af4)
                continue;
            __builtin_memset(&d, 0, sizeof(d));
            d.slot = s;
            caps(&d);
            bar0(&d);
            if (virtio_init(&d) < 0)
                say("pci-hotplug init=failed");
            else
                blk_read(&d);
        }
        for (uint64_t t0 = rdtsc(); rdtsc() - t0 < 20000000ULL;)
            cpu_relax();
    }
}
