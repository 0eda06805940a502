/*
 * virtio.c: the test guest's virtio-mmio (version 2) drivers and hostile
 * mode.
 *
 * Discovery reads the "virtio_mmio.device=<size>@<addr>:<gsi>" words of the
 * command line and the LNRO0005 devices of the ACPI DSDT (Memory32Fixed and
 * Interrupt resources), then probes every window (magic "virt", version,
 * device id, vendor). The drivers use one split virtqueue each, placed in
 * the guest's own .bss, negotiate VIRTIO_F_VERSION_1 (plus RO and FLUSH for
 * block) and detect completions by polling the used ring or by the device
 * interrupt routed through the IOAPIC (pin = GSI, edge, active high, fixed
 * delivery to the boot CPU). The hostile mode resets and re-initialises the
 * device around each malformed request and reports what the device did.
 * Everything the guest reads from the VMM (addresses, lengths, indices) is
 * bounds-checked before use. See README.md for the tests and line format.
 */
#include "virtio.h"
#include "guest.h"
#include "virtio_int.h"

#define F_BLK_RO    (1ULL << 5)
#define F_BLK_FLUSH (1ULL << 9)
#define F_INDIRECT  (1ULL << 28)

#define D_INDIRECT 4

#define BLK_T_IN     0
#define BLK_T_OUT    1
#define BLK_T_FLUSH  4
#define BLK_T_GET_ID 8
#define BLK_S_NONE   0xff /* preset: the device wrote no status */

#define QMEM_SIZE (3 * 4096)
#define DATA_SIZE 65536

#define IOAPIC_BASE 0xfec00000ULL
#define LAPIC_BASE  0xfee00000ULL

struct blk_req_hdr {
    uint32_t type, reserved;
    uint64_t sector;
};

/* Guest memory the devices use (identity-mapped, below 3 GiB). */
static uint8_t qmem[QMEM_SIZE] __attribute__((aligned(4096)));
static uint8_t data_buf[DATA_SIZE] __attribute__((aligned(4096)));
static uint8_t aux_buf[4096] __attribute__((aligned(4096)));
static struct blk_req_hdr req_hdr __attribute__((aligned(16)));
static volatile uint8_t req_status __attribute__((aligned(16)));

/* Interrupt bookkeeping, written by virtio_isr(). */
static struct vdrv *volatile irq_drv;

/* TSC ticks between two Status reads while polling (about 1 ms): every
 * read is a VM exit that competes with the device for its lock. */
static uint64_t status_poll_ticks = 1000000;
static volatile uint64_t irq_seen;
static volatile uint32_t irq_isr_bits;

static int word_eq(const char *a, const char *b)
{
    size_t n = strlen(b);

    return strlen(a) == n && memcmp(a, b, n) == 0;
}

/* ------------------------------------------------------------ parameters */

static const char *param(const struct venv *e, const char *key, size_t *len)
{
    size_t kl = strlen(key);

    for (size_t i = 0; i + kl <= e->cmdline_len; i++) {
        if ((i == 0 || e->cmdline[i - 1] == ' ') &&
            memcmp(e->cmdline + i, key, kl) == 0) {
            size_t n = 0;

            while (i + kl + n < e->cmdline_len && e->cmdline[i + kl + n] != ' ')
                n++;
            *len = n;
            return e->cmdline + i + kl;
        }
    }
    return NULL;
}

/* Decimal, or hex with 0x; *end set past the digits. */
static int parse_num(const char *s, size_t n, size_t *used, uint64_t *out)
{
    uint64_t x = 0;
    size_t i = 0;
    int base = 10, digits = 0;

    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    }
    for (; i < n; i++) {
        char c = s[i];
        uint64_t dv;

        if (c >= '0' && c <= '9')
            dv = (uint64_t)(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            dv = (uint64_t)(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F')
            dv = (uint64_t)(c - 'A' + 10);
        else
            break;
        if (x > (~0ULL - dv) / (uint64_t)base)
            return -1;
        x = x * (uint64_t)base + dv;
        digits++;
    }
    if (!digits)
        return -1;
    *used = i;
    *out = x;
    return 0;
}

static uint64_t param_u64(const struct venv *e, const char *key, uint64_t dflt)
{
    size_t n, used;
    uint64_t v;
    const char *s = param(e, key, &n);

    if (!s || parse_num(s, n, &used, &v) || used != n)
        return dflt;
    return v;
}

/* ------------------------------------------------------------- discovery */

static void add_dev(struct venv *e, uint64_t base, uint64_t size, uint32_t gsi,
                    uint32_t source)
{
    for (uint32_t i = 0; i < e->n_devs; i++) {
        if (e->devs[i].base == base) {
            e->devs[i].source |= source;
            return;
        }
    }
    if (e->n_devs >= MAX_DEVS)
        return;
    e->devs[e->n_devs].base = base;
    e->devs[e->n_devs].size = size;
    e->devs[e->n_devs].gsi = gsi;
    e->devs[e->n_devs].source = source;
    e->n_devs++;
}

/* "virtio_mmio.device=<size>[K|M]@<addr>:<gsi>[:<id>]" words. */
static void scan_cmdline(struct venv *e)
{
    static const char key[] = "virtio_mmio.device=";
    size_t kl = sizeof(key) - 1;

    for (size_t i = 0; i + kl <= e->cmdline_len; i++) {
        const char *s;
        size_t n = 0, used;
        uint64_t size, addr, gsi;
        struct line l;

        if ((i && e->cmdline[i - 1] != ' ') ||
            memcmp(e->cmdline + i, key, kl) != 0)
            continue;
        s = e->cmdline + i + kl;
        while (i + kl + n < e->cmdline_len && s[n] != ' ')
            n++;
        line_start(&l);
        line_str(&l, "virtio-cmdline");
        if (parse_num(s, n, &used, &size))
            goto bad;
        if (used < n && (s[used] == 'K' || s[used] == 'k')) {
            size <<= 10;
            used++;
        } else if (used < n && (s[used] == 'M' || s[used] == 'm')) {
            size <<= 20;
            used++;
        }
        if (used >= n || s[used] != '@')
            goto bad;
        s += used + 1;
        n -= used + 1;
        if (parse_num(s, n, &used, &addr) || used >= n || s[used] != ':')
            goto bad;
        s += used + 1;
        n -= used + 1;
        if (parse_num(s, n, &used, &gsi))
            goto bad;
        line_kv_hex(&l, "addr", addr);
        line_kv_hex(&l, "size", size);
        line_kv_dec(&l, "gsi", gsi);
        line_end(&l);
        e->n_cmdline++;
        add_dev(e, addr, size, (uint32_t)gsi, 1);
        continue;
    bad:
        line_str(&l, " parse=bad");
        line_end(&l);
    }
}

static int ram_ok(uint64_t addr, uint64_t len)
{
    return addr && len && addr < RAM_LIMIT && len < RAM_LIMIT - addr;
}

static uint32_t rd32(uint64_t a)
{
    return *(volatile uint32_t *)a;
}

static uint64_t rd64(uint64_t a)
{
    return (uint64_t)rd32(a) | ((uint64_t)rd32(a + 4) << 32);
}

uint64_t virtio_find_sdt(const struct venv *e, const char *sig)
{
    uint64_t rsdp = 0, sdt;
    uint32_t len, esz;

    if (e->rsdp_hint && ram_ok(e->rsdp_hint, 36) &&
        memcmp((const void *)e->rsdp_hint, "RSD PTR ", 8) == 0)
        rsdp = e->rsdp_hint;
    for (uint64_t p = 0xe0000; !rsdp && p < 0x100000; p += 16) {
        if (memcmp((const void *)p, "RSD PTR ", 8) == 0)
            rsdp = p;
    }
    if (!rsdp)
        return 0;
    if (*(volatile uint8_t *)(rsdp + 15) >= 2 && rd64(rsdp + 24)) {
        sdt = rd64(rsdp + 24);
        esz = 8;
    } else {
        sdt = rd32(rsdp + 16);
        esz = 4;
    }
    if (!ram_ok(sdt, 36))
        return 0;
    len = rd32(sdt + 4);
    if (len < 36 || !ram_ok(sdt, len) || len > 4096)
        return 0;
    for (uint64_t p = sdt + 36; p + esz <= sdt + len; p += esz) {
        uint64_t t = esz == 8 ? rd64(p) : rd32(p);

        if (ram_ok(t, 36) && memcmp((const void *)t, sig, 4) == 0)
            return t;
    }
    return 0;
}

uint64_t virtio_find_dsdt(const struct venv *e)
{
    uint64_t fadt = virtio_find_sdt(e, "FACP");
    uint32_t len;

    if (!fadt)
        return 0;
    len = rd32(fadt + 4);
    if (len >= 148 && rd64(fadt + 140))
        return rd64(fadt + 140);
    return len >= 44 ? rd32(fadt + 40) : 0;
}

static int find_bytes(const uint8_t *p, size_t n, const void *pat, size_t pn,
                      size_t *at)
{
    for (size_t i = 0; i + pn <= n; i++) {
        if (memcmp(p + i, pat, pn) == 0) {
            *at = i;
            return 0;
        }
    }
    return -1;
}

/*
 * Scan the DSDT's AML for Device() objects (ExtOp 0x5b 0x82, PkgLength,
 * NameSeg) whose body holds the string "LNRO0005"; take the window from a
 * Memory32Fixed descriptor (0x86 0x09 0x00 rw base len) and the GSI from an
 * extended Interrupt descriptor (0x89 len16 flags count irq32).
 */
static void scan_dsdt(struct venv *e)
{
    uint64_t dsdt = virtio_find_dsdt(e);
    const uint8_t *a;
    uint32_t len, found = 0;
    struct line l;

    line_start(&l);
    line_str(&l, "virtio-dsdt");
    if (!dsdt || !ram_ok(dsdt, 36) || memcmp((const void *)dsdt, "DSDT", 4)) {
        line_str(&l, " found=no");
        line_end(&l);
        return;
    }
    len = rd32(dsdt + 4);
    if (len < 36 || len > (1U << 20) || !ram_ok(dsdt, len)) {
        line_kv_hex(&l, "addr", dsdt);
        line_str(&l, " found=bad-length");
        line_end(&l);
        return;
    }
    a = (const uint8_t *)dsdt;
    for (uint32_t i = 36; i + 8 < len; i++) {
        uint32_t pl, nb, body, end, j;
        size_t at;
        char name[4];
        uint64_t base = 0, size = 0, gsi = ~0ULL;

        if (a[i] != 0x5b || a[i + 1] != 0x82)
            continue;
        nb = (uint32_t)(a[i + 2] >> 6);
        pl = nb ? (a[i + 2] & 0x0fU) : (a[i + 2] & 0x3fU);
        for (j = 0; j < nb; j++)
            pl |= (uint32_t)a[i + 3 + j] << (4 + 8 * j);
        body = i + 2 + 1 + nb;
        end = i + 2 + pl;
        if (pl < 1 + nb + 4 || end > len)
            continue;
        while (body < end && (a[body] == '\\' || a[body] == '^'))
            body++;
        if (body + 2 <= end && a[body] == 0x2e) /* DualNamePath */
            body += 1 + 4;
        else if (body + 2 <= end && a[body] == 0x2f && a[body + 1]) /* Multi */
            body += 2 + 4 * (uint32_t)(a[body + 1] - 1);
        if (body + 4 > end)
            continue;
        memcpy(name, a + body, 4);
        /* Only this device's own objects: stop at a nested Device(). */
        if (!find_bytes(a + body, end - body, "\x5b\x82", 2, &at))
            end = body + (uint32_t)at;
        if (find_bytes(a + body, end - body, "LNRO0005", 8, &at))
            continue;
        if (!find_bytes(a + body, end - body, "\x86\x09\x00", 3, &at) &&
            body + at + 12 <= end) {
            base = rd32(dsdt + body + at + 4);
            size = rd32(dsdt + body + at + 8);
        }
        for (j = body; j + 9 <= end; j++) {
            if (a[j] == 0x89 && a[j + 1] >= 6 && a[j + 2] == 0 &&
                a[j + 4] >= 1) {
                gsi = rd32(dsdt + j + 5);
                break;
            }
        }
        found++;
        line_start(&l);
        line_str(&l, "virtio-dsdt-dev");
        line_kv_str(&l, "name", name, 4);
        line_kv_hex(&l, "addr", base);
        line_kv_hex(&l, "size", size);
        line_kv_dec(&l, "gsi", gsi);
        line_end(&l);
        if (base && gsi != ~0ULL)
            add_dev(e, base, size, (uint32_t)gsi, 2);
    }
    e->n_dsdt = found;
    line_start(&l);
    line_str(&l, "virtio-dsdt");
    line_kv_hex(&l, "addr", dsdt);
    line_kv_dec(&l, "length", len);
    line_kv_dec(&l, "devices", found);
    line_end(&l);
}

static void probe(struct venv *e)
{
    for (uint32_t i = 0; i < e->n_devs; i++) {
        struct vdev *d = &e->devs[i];
        uint32_t magic = 0;
        struct line l;

        line_start(&l);
        line_str(&l, "virtio-dev");
        line_kv_hex(&l, "addr", d->base);
        line_kv_dec(&l, "gsi", d->gsi);
        /* Only windows in the MMIO hole below 4 GiB are touched. */
        if (d->base < RAM_LIMIT || d->base >= 0x100000000ULL || (d->base & 3)) {
            line_str(&l, " probe=skipped");
            line_end(&l);
            continue;
        }
        magic = vr(d, VM_MAGIC);
        d->version = vr(d, VM_VERSION);
        d->id = vr(d, VM_DEVICE_ID);
        d->vendor = vr(d, VM_VENDOR_ID);
        d->good = magic == 0x74726976 && d->version == 2;
        line_kv_dec(&l, "id", d->id);
        line_kv_dec(&l, "version", d->version);
        line_kv_hex(&l, "vendor", d->vendor);
        line_str(&l, magic == 0x74726976 ? " magic=virt" : " magic=bad");
        line_str(&l, d->source == 3   ? " source=both"
                     : d->source == 1 ? " source=cmdline"
                                      : " source=dsdt");
        line_end(&l);
    }
}

static void discover(struct venv *e)
{
    struct line l;

    scan_cmdline(e);
    scan_dsdt(e);
    probe(e);
    vpci_scan(e);
    line_start(&l);
    line_str(&l, "virtio");
    line_kv_dec(&l, "devices", e->n_devs);
    line_kv_dec(&l, "cmdline", e->n_cmdline);
    line_kv_dec(&l, "dsdt", e->n_dsdt);
    if (e->n_pci)
        line_kv_dec(&l, "pci", e->n_pci);
    line_end(&l);
}

static const struct vdev *find_dev(const struct venv *e, uint32_t id)
{
    for (uint32_t i = 0; i < e->n_devs; i++) {
        if (e->devs[i].good && e->devs[i].id == id)
            return &e->devs[i];
    }
    return NULL;
}

/* ----------------------------------------------------------------- timing */

/*
 * TSC frequency from the LAPIC timer, whose clock is 1 GHz under KVM (and
 * Firecracker/squib) and QEMU: count a masked one-shot timer down while
 * the TSC advances by a fixed amount.
 */
static uint64_t calibrate_tsc(void)
{
    volatile uint32_t *lvt = (volatile uint32_t *)(LAPIC_BASE + 0x320);
    volatile uint32_t *init = (volatile uint32_t *)(LAPIC_BASE + 0x380);
    volatile uint32_t *cur = (volatile uint32_t *)(LAPIC_BASE + 0x390);
    volatile uint32_t *div = (volatile uint32_t *)(LAPIC_BASE + 0x3e0);
    uint32_t saved_lvt = *lvt, c0, c1;
    uint64_t t0, t1, hz;
    struct line l;

    *div = 0xb;            /* divide by 1 */
    *lvt = 0x10000 | 0xff; /* masked, one-shot */
    *init = 0xffffffffU;
    c0 = *cur;
    t0 = rdtsc();
    while (rdtsc() - t0 < 50000000ULL)
        cpu_relax();
    c1 = *cur;
    t1 = rdtsc();
    *init = 0;
    *lvt = saved_lvt;
    hz = c0 > c1 ? (t1 - t0) * 1000000000ULL / (c0 - c1) : 0;
    line_start(&l);
    line_str(&l, "tsc");
    line_kv_dec(&l, "hz", hz);
    line_kv_dec(&l, "tsc_ticks", t1 - t0);
    line_kv_dec(&l, "lapic_ticks", c0 - c1);
    line_end(&l);
    if (hz < 10000000ULL || hz > 100000000000ULL)
        hz = 2000000000ULL; /* unusable: assume 2 GHz for timeouts */
    return hz;
}

/* --------------------------------------------------------- IOAPIC, LAPIC */

static void ioapic_write(uint32_t reg, uint32_t v)
{
    mmio_write32(IOAPIC_BASE, reg);
    mmio_write32(IOAPIC_BASE + 0x10, v);
}

static uint32_t ioapic_read(uint32_t reg)
{
    mmio_write32(IOAPIC_BASE, reg);
    return mmio_read32(IOAPIC_BASE + 0x10);
}

/* Route IOAPIC pin gsi to vector on this CPU: fixed delivery, physical
 * destination, active high, edge triggered (as the DSDT describes it). */
int virtio_ioapic_route(uint32_t gsi, uint32_t vector)
{
    uint32_t pins = ((ioapic_read(1) >> 16) & 0xff) + 1;
    uint32_t apic_id = mmio_read32(LAPIC_BASE + 0x20) >> 24;
    struct line l;

    line_start(&l);
    line_str(&l, "ioapic");
    line_kv_hex(&l, "version", ioapic_read(1) & 0xff);
    line_kv_dec(&l, "pins", pins);
    line_kv_dec(&l, "gsi", gsi);
    line_kv_hex(&l, "vector", vector);
    line_kv_dec(&l, "dest", apic_id);
    if (gsi >= pins) {
        line_str(&l, " routed=no");
        line_end(&l);
        return -1;
    }
    mmio_write32(LAPIC_BASE + 0xf0, mmio_read32(LAPIC_BASE + 0xf0) | 0x100);
    ioapic_write(0x10 + 2 * gsi + 1, apic_id << 24);
    ioapic_write(0x10 + 2 * gsi, vector);
    line_kv_hex(&l, "redir_lo", ioapic_read(0x10 + 2 * gsi));
    line_kv_hex(&l, "redir_hi", ioapic_read(0x10 + 2 * gsi + 1));
    line_str(&l, " routed=yes");
    line_end(&l);
    return 0;
}

static void ioapic_mask(uint32_t gsi)
{
    uint32_t pins = ((ioapic_read(1) >> 16) & 0xff) + 1;

    if (gsi < pins)
        ioapic_write(0x10 + 2 * gsi, 0x10000);
}

void virtio_isr(uint64_t vector)
{
    struct vdrv *d = irq_drv;
    uint32_t isr;

    if (!d || vector != d->vector)
        return;
    if (d->dev->pci) { /* MSI-X: no ISR to read (as Linux's driver) */
        irq_seen = irq_seen + 1;
        return;
    }
    isr = vr(d->dev, VM_ISR);
    vw(d->dev, VM_ISR_ACK, isr);
    irq_isr_bits |= isr;
    irq_seen = irq_seen + 1;
}

/* ------------------------------------------------------------ transport */

static uint64_t dev_features(const struct vdev *d)
{
    uint64_t f;

    vw(d, VM_DEV_FEAT_SEL, 0);
    f = vr(d, VM_DEV_FEAT);
    vw(d, VM_DEV_FEAT_SEL, 1);
    f |= (uint64_t)vr(d, VM_DEV_FEAT) << 32;
    return f;
}

/* Status 0 and wait for the device to show 0. Returns 0 when it did. */
static int dev_reset(const struct vdev *d)
{
    vw(d, VM_STATUS, 0);
    for (int i = 0; i < 1000; i++) {
        if (vr(d, VM_STATUS) == 0)
            return 0;
        cpu_relax();
    }
    return -1;
}

/* Queue placement and size for init; hostile cases override them. */
struct qsetup {
    uint32_t num;               /* 0: min(max, want) */
    uint64_t desc, avail, used; /* 0: inside qmem */
    int no_driver_ok;           /* stop at FEATURES_OK + queue ready */
};

int virtio_negotiate(const struct vdev *d, uint64_t want, struct line *l,
                     uint64_t *dev_feat, uint64_t *drv_feat)
{
    uint32_t st;

    *dev_feat = *drv_feat = 0;
    if (dev_reset(d)) {
        line_str(l, " reset=stuck");
        return -1;
    }
    vw(d, VM_STATUS, ST_ACK);
    vw(d, VM_STATUS, ST_ACK | ST_DRIVER);
    *dev_feat = dev_features(d);
    *drv_feat = *dev_feat & (want | F_VERSION_1);
    vw(d, VM_DRV_FEAT_SEL, 0);
    vw(d, VM_DRV_FEAT, (uint32_t)*drv_feat);
    vw(d, VM_DRV_FEAT_SEL, 1);
    vw(d, VM_DRV_FEAT, (uint32_t)(*drv_feat >> 32));
    line_kv_hex(l, "dev_features", *dev_feat);
    if (!(*dev_feat & F_VERSION_1)) {
        line_str(l, " version_1=no");
        vw(d, VM_STATUS, ST_ACK | ST_DRIVER | ST_FAILED);
        return -1;
    }
    vw(d, VM_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
    st = vr(d, VM_STATUS);
    if (!(st & ST_FEATURES_OK)) {
        line_kv_hex(l, "features_ok", st);
        return -1;
    }
    return 0;
}

/*
 * Reset, ACKNOWLEDGE, DRIVER, features (want & offered, plus VERSION_1),
 * FEATURES_OK (checked), queue 0 set up and ready, DRIVER_OK. Returns 0,
 * or -1 when the device refused a step (reported in the line).
 */
static int drv_init(struct vdrv *v, const struct vdev *dev, uint64_t want,
                    uint32_t qwant, const struct qsetup *qs, int quiet)
{
    const struct vdev *d = dev;
    uint64_t acc;
    uint32_t n, st;
    struct line l;
    int rc = 0;

    memset(v, 0, sizeof(*v));
    v->dev = dev;
    line_start(&l);
    line_str(&l, "virtio-init");
    line_kv_hex(&l, "addr", d->base);
    if (dev_reset(d)) {
        line_str(&l, " reset=stuck");
        rc = -1;
        goto out;
    }
    vw(d, VM_STATUS, ST_ACK);
    vw(d, VM_STATUS, ST_ACK | ST_DRIVER);
    v->dev_features = dev_features(d);
    acc = (v->dev_features & want) | (v->dev_features & F_VERSION_1);
    v->drv_features = acc;
    vw(d, VM_DRV_FEAT_SEL, 0);
    vw(d, VM_DRV_FEAT, (uint32_t)acc);
    vw(d, VM_DRV_FEAT_SEL, 1);
    vw(d, VM_DRV_FEAT, (uint32_t)(acc >> 32));
    line_kv_hex(&l, "dev_features", v->dev_features);
    line_kv_hex(&l, "drv_features", acc);
    if (!(v->dev_features & F_VERSION_1)) {
        line_str(&l, " version_1=no");
        vw(d, VM_STATUS, ST_ACK | ST_DRIVER | ST_FAILED);
        rc = -1;
        goto out;
    }
    vw(d, VM_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
    st = vr(d, VM_STATUS);
    if (!(st & ST_FEATURES_OK)) {
        line_kv_hex(&l, "features_ok", st);
        rc = -1;
        goto out;
    }
    vw(d, VM_QUEUE_SEL, 0);
    v->queue_max = vr(d, VM_QUEUE_MAX);
    line_kv_dec(&l, "queue_max", v->queue_max);
    if (vr(d, VM_QUEUE_READY)) {
        line_str(&l, " queue_ready_after_reset=yes");
        rc = -1;
        goto out;
    }
    n = qwant < v->queue_max ? qwant : v->queue_max;
    if (qs && qs->num)
        n = qs->num;
    if (n == 0 || v->queue_max == 0) {
        line_str(&l, " queue=none");
        rc = -1;
        goto out;
    }
    memset(qmem, 0, sizeof(qmem));
    v->q.size = (uint16_t)(n <= 256 ? n : 256);
    v->q.desc = (volatile struct vdesc *)qmem;
    v->q.avail = (volatile uint16_t *)(qmem + 4096);
    v->q.used = (volatile uint32_t *)(qmem + 8192);
    vw(d, VM_QUEUE_NUM, n);
    {
        uint64_t da = qs && qs->desc ? qs->desc : addr_of(v->q.desc);
        uint64_t aa = qs && qs->avail ? qs->avail : addr_of(v->q.avail);
        uint64_t ua = qs && qs->used ? qs->used : addr_of(v->q.used);

        vw(d, VM_DESC_LO, (uint32_t)da);
        vw(d, VM_DESC_HI, (uint32_t)(da >> 32));
        vw(d, VM_AVAIL_LO, (uint32_t)aa);
        vw(d, VM_AVAIL_HI, (uint32_t)(aa >> 32));
        vw(d, VM_USED_LO, (uint32_t)ua);
        vw(d, VM_USED_HI, (uint32_t)(ua >> 32));
    }
    vw(d, VM_QUEUE_READY, 1);
    line_kv_dec(&l, "queue_size", n);
    if (qs && qs->no_driver_ok)
        goto out;
    vw(d, VM_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
    st = vr(d, VM_STATUS);
    line_kv_hex(&l, "status", st);
    if (st & (ST_NEEDS_RESET | ST_FAILED))
        rc = -1;
out:
    line_str(&l, rc ? " ok=no" : " ok=yes");
    if (!quiet || rc)
        line_end(&l);
    return rc;
}

static void vq_publish(struct vq *q, uint16_t head)
{
    q->avail[2 + q->avail_idx % q->size] = head;
    mb();
    q->avail_idx++;
    q->avail[1] = q->avail_idx;
    mb();
}

static void notify(const struct vdrv *v)
{
    vw(v->dev, VM_QUEUE_NOTIFY, 0);
}

static uint16_t used_idx(const struct vq *q)
{
    return (uint16_t)(q->used[0] >> 16);
}

/*
 * Wait up to timeout TSC ticks for the used index to move (polling, or,
 * with v->irq, for the interrupt handler to count an interrupt first) or
 * for NEEDS_RESET. Takes the used element when there is one.
 */
static void vq_wait(struct vdrv *v, uint64_t t0, uint64_t timeout,
                    uint64_t irq_before, struct vres *r)
{
    struct vq *q = &v->q;
    uint64_t next_status = t0 + status_poll_ticks;

    memset(r, 0, sizeof(*r));
    for (;;) {
        int moved = used_idx(q) != q->last_used;

        if (v->irq)
            moved = moved && irq_seen != irq_before;
        if (moved) {
            uint32_t slot = q->last_used % q->size;

            mb();
            r->answered = 1;
            r->id = q->used[1 + 2 * slot];
            r->len = q->used[2 + 2 * slot];
            q->last_used++;
            break;
        }
        if (rdtsc() - next_status < (1ULL << 63)) {
            next_status += status_poll_ticks;
            r->status = vr(v->dev, VM_STATUS);
            if (r->status & ST_NEEDS_RESET) {
                r->needs_reset = 1;
                break;
            }
        }
        if (rdtsc() - t0 > timeout)
            break;
        cpu_relax();
    }
    r->ticks = rdtsc() - t0;
    r->status = vr(v->dev, VM_STATUS);
    r->needs_reset |= !!(r->status & ST_NEEDS_RESET);
    if (!v->irq && irq_drv != v) {
        uint32_t isr = vr(v->dev, VM_ISR);

        if (isr && (r->status & ST_DRIVER_OK))
            vw(v->dev, VM_ISR_ACK, isr);
    }
}

static void set_desc(struct vq *q, uint16_t i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next)
{
    q->desc[i].addr = addr;
    q->desc[i].len = len;
    q->desc[i].flags = flags;
    q->desc[i].next = next;
}

/* ------------------------------------------------------------ virtio-blk */

static uint64_t blk_capacity(const struct vdev *d)
{
    return (uint64_t)vr(d, VM_CONFIG) | ((uint64_t)vr(d, VM_CONFIG + 4) << 32);
}

/*
 * One request: header, optional data buffer (device-writable for IN and
 * GET_ID), status byte. Returns the status byte (BLK_S_NONE when the
 * device wrote none) and fills r.
 */
static uint32_t blk_request(struct vdrv *v, uint64_t timeout, uint32_t type,
                            uint64_t sector, void *buf, uint32_t len,
                            struct vres *r)
{
    struct vq *q = &v->q;
    uint64_t before = irq_seen, t0;
    uint16_t i = 0;

    req_hdr.type = type;
    req_hdr.reserved = 0;
    req_hdr.sector = sector;
    req_status = BLK_S_NONE;
    set_desc(q, 0, addr_of(&req_hdr), sizeof(req_hdr), D_NEXT, 1);
    if (buf) {
        set_desc(q, 1, addr_of(buf), len,
                 D_NEXT | (type == BLK_T_OUT ? 0 : D_WRITE), 2);
        i = 2;
    } else {
        q->desc[0].next = 1;
        i = 1;
    }
    set_desc(q, i, addr_of(&req_status), 1, D_WRITE, 0);
    if (v->irq && (v->drv_features & F_EVENT_IDX))
        q->avail[2 + q->size] = q->last_used; /* interrupt for this one */
    vq_publish(q, 0);
    t0 = rdtsc();
    notify(v);
    vq_wait(v, t0, timeout, before, r);
    return req_status;
}

static void line_status(struct line *l, const char *k, uint32_t st)
{
    if (st == BLK_S_NONE) {
        line_str(l, " ");
        line_str(l, k);
        line_str(l, "=none");
    } else {
        line_kv_hex(l, k, st);
    }
}

static void line_res(struct line *l, const struct vres *r)
{
    line_str(l, r->answered ? " answered=yes" : " answered=no");
    line_kv_dec(l, "used_len", r->len);
    line_str(l, r->needs_reset ? " needs_reset=yes" : " needs_reset=no");
    line_kv_hex(l, "dev_status", r->status);
}

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261U;

    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619U;
    }
    return h;
}

static void line_hexbytes(struct line *l, const char *k, const uint8_t *p,
                          size_t n)
{
    line_str(l, " ");
    line_str(l, k);
    line_str(l, "=");
    for (size_t i = 0; i < n && l->len < sizeof(l->buf) - 4; i++) {
        l->buf[l->len++] = "0123456789abcdef"[p[i] >> 4];
        l->buf[l->len++] = "0123456789abcdef"[p[i] & 15];
    }
}

/* Byte i of the pattern written to sector s (README: blk-rw). */
static uint8_t pattern_byte(uint64_t s, uint32_t i)
{
    return (uint8_t)((i * 7U) + (uint32_t)(s * 3U) + 0x5aU);
}

static int blk_open(struct venv *e, struct vdrv *v, int irq, int event_idx)
{
    const struct vdev *d = find_dev(e, ID_BLK);
    struct line l;

    if (!d) {
        say("virtio-blk found=no");
        return -1;
    }
    /* PCI: the queue's MSI-X vector is set when the queue is enabled. */
    if (irq && d->pci && vpci_msix(d, VIRTIO_VECTOR_BASE)) {
        say("virtio-blk msix=none");
        return -1;
    }
    if (drv_init(v, d, F_BLK_RO | F_BLK_FLUSH | (event_idx ? F_EVENT_IDX : 0),
                 128, NULL, 0))
        return -1;
    line_start(&l);
    line_str(&l, "virtio-blk");
    line_kv_hex(&l, "addr", d->base);
    line_kv_dec(&l, "capacity", blk_capacity(d));
    line_kv_dec(&l, "ro", !!(v->drv_features & F_BLK_RO));
    line_kv_dec(&l, "flush", !!(v->drv_features & F_BLK_FLUSH));
    line_kv_dec(&l, "event_idx_offered", !!(v->dev_features & F_EVENT_IDX));
    line_kv_dec(&l, "event_idx", !!(v->drv_features & F_EVENT_IDX));
    line_kv_dec(&l, "indirect_offered", !!(v->dev_features & F_INDIRECT));
    line_str(&l, irq ? " mode=irq" : " mode=poll");
    line_end(&l);
    if (irq) {
        v->vector = VIRTIO_VECTOR_BASE;
        if (!d->pci && virtio_ioapic_route(d->gsi, v->vector))
            return -1;
        irq_drv = v;
        v->irq = 1;
    }
    return 0;
}

static void blk_close(struct vdrv *v)
{
    if (v->irq) {
        if (!v->dev->pci)
            ioapic_mask(v->dev->gsi);
        irq_drv = NULL;
    }
    dev_reset(v->dev);
}

static void blk_get_id(struct vdrv *v, uint64_t timeout)
{
    struct vres r;
    uint32_t st;
    struct line l;
    size_t n = 0;

    memset(aux_buf, 0, 20);
    st = blk_request(v, timeout, BLK_T_GET_ID, 0, aux_buf, 20, &r);
    while (n < 20 && aux_buf[n])
        n++;
    line_start(&l);
    line_str(&l, "blk-id");
    line_status(&l, "status", st);
    line_res(&l, &r);
    line_kv_dec(&l, "id_len", n);
    line_kv_str(&l, "id", (const char *)aux_buf, n);
    line_end(&l);
}

/* Read sectors 0..count-1, write/read back/flush sector s, get-id. */
static void blk_rw(struct venv *e, struct vdrv *v, uint64_t timeout)
{
    uint64_t cap = blk_capacity(v->dev);
    uint64_t count = param_u64(e, "squibcount=", 8);
    uint64_t s = param_u64(e, "squibsector=", 1);
    uint32_t st;
    struct vres r;
    struct line l;
    int match;

    if (count < 1)
        count = 1;
    if (count > DATA_SIZE / 512)
        count = DATA_SIZE / 512;
    if (count > cap)
        count = cap;
    if (count) {
        memset(data_buf, 0xee, DATA_SIZE);
        st = blk_request(v, timeout, BLK_T_IN, 0, data_buf,
                         (uint32_t)(count * 512), &r);
        line_start(&l);
        line_str(&l, "blk-read");
        line_kv_dec(&l, "sector", 0);
        line_kv_dec(&l, "count", count);
        line_status(&l, "status", st);
        line_res(&l, &r);
        line_kv_hex(&l, "fnv1a", fnv1a(data_buf, count * 512));
        line_hexbytes(&l, "first", data_buf, 16);
        line_end(&l);
    }
    if (s >= cap) {
        line_start(&l);
        line_str(&l, "blk-write skipped=sector-out-of-range");
        line_kv_dec(&l, "sector", s);
        line_end(&l);
    } else {
        for (uint32_t i = 0; i < 512; i++)
            data_buf[i] = pattern_byte(s, i);
        st = blk_request(v, timeout, BLK_T_OUT, s, data_buf, 512, &r);
        line_start(&l);
        line_str(&l, "blk-write");
        line_kv_dec(&l, "sector", s);
        line_status(&l, "status", st);
        line_res(&l, &r);
        line_kv_hex(&l, "fnv1a", fnv1a(data_buf, 512));
        line_end(&l);
        memset(data_buf, 0, 512);
        st = blk_request(v, timeout, BLK_T_IN, s, data_buf, 512, &r);
        match = 1;
        for (uint32_t i = 0; i < 512; i++)
            match &= data_buf[i] == pattern_byte(s, i);
        line_start(&l);
        line_str(&l, "blk-readback");
        line_kv_dec(&l, "sector", s);
        line_status(&l, "status", st);
        line_res(&l, &r);
        line_str(&l, match ? " match=yes" : " match=no");
        line_hexbytes(&l, "first", data_buf, 16);
        line_end(&l);
    }
    line_start(&l);
    line_str(&l, "blk-flush");
    if (v->drv_features & F_BLK_FLUSH) {
        st = blk_request(v, timeout, BLK_T_FLUSH, 0, NULL, 0, &r);
        line_status(&l, "status", st);
        line_res(&l, &r);
    } else {
        line_str(&l, " skipped=not-offered");
    }
    line_end(&l);
    blk_get_id(v, timeout);
}

/*
 * Diff snapshots (README: blk-hold): each round reads 16 KiB from the next
 * place on the disk into data_buf, then checks it `squibchecks=` times,
 * `squibms=` apart, printing its FNV-1a each time. Only the device writes
 * data_buf here (no memset before the read), so after a restore the data
 * is there only if the snapshot held the pages squib wrote.
 */
static void blk_hold(struct venv *e, struct vdrv *v, uint64_t timeout)
{
    const uint32_t len = 16384, secs = len / 512;
    uint64_t cap = blk_capacity(v->dev);
    uint64_t checks = param_u64(e, "squibchecks=", 20);
    uint64_t gap = e->tsc_hz * param_u64(e, "squibms=", 50) / 1000;
    struct vres r;
    struct line l;

    if (cap < 2 * secs) {
        say("blk-hold skipped=disk-too-small");
        return;
    }
    for (uint64_t round = 1;; round++) {
        uint64_t sector = (round * secs) % (cap - secs + 1);
        uint32_t st =
            blk_request(v, timeout, BLK_T_IN, sector, data_buf, len, &r);

        line_start(&l);
        line_str(&l, "blk-hold read");
        line_kv_dec(&l, "round", round);
        line_kv_dec(&l, "sector", sector);
        line_status(&l, "status", st);
        line_kv_hex(&l, "fnv1a", fnv1a(data_buf, len));
        line_end(&l);
        for (uint64_t k = 0; k < checks; k++) {
            delay_cycles(gap);
            line_start(&l);
            line_str(&l, "blk-hold check");
            line_kv_dec(&l, "round", round);
            line_kv_dec(&l, "sector", sector);
            line_kv_hex(&l, "fnv1a", fnv1a(data_buf, len));
            line_end(&l);
        }
    }
}

/* A read-only disk: the write must fail with IOERR and change nothing. */
static void blk_ro(struct venv *e, struct vdrv *v, uint64_t timeout)
{
    uint64_t s = param_u64(e, "squibsector=", 1);
    uint32_t st, st2;
    struct vres r;
    struct line l;
    uint32_t before, after;

    memset(data_buf, 0, 512);
    blk_request(v, timeout, BLK_T_IN, s, data_buf, 512, &r);
    before = fnv1a(data_buf, 512);
    /* The inverse of what is there, so a write that got through shows. */
    for (uint32_t i = 0; i < 512; i++)
        data_buf[i] = (uint8_t)~data_buf[i];
    st = blk_request(v, timeout, BLK_T_OUT, s, data_buf, 512, &r);
    line_start(&l);
    line_str(&l, "blk-ro");
    line_kv_dec(&l, "ro_feature", !!(v->dev_features & F_BLK_RO));
    line_kv_dec(&l, "sector", s);
    line_status(&l, "write_status", st);
    line_res(&l, &r);
    line_str(&l, st == 1 ? " ioerr=yes" : " ioerr=no");
    memset(data_buf, 0, 512);
    st2 = blk_request(v, timeout, BLK_T_IN, s, data_buf, 512, &r);
    after = fnv1a(data_buf, 512);
    line_status(&l, "read_status", st2);
    line_str(&l, before == after ? " unchanged=yes" : " unchanged=no");
    line_end(&l);
}

/* A batch of reads, to count completions and interrupts. */
static void blk_batch(struct venv *e, struct vdrv *v, uint64_t timeout)
{
    uint64_t reqs = param_u64(e, "squibreqs=", 32), ok = 0, ticks = 0;
    uint64_t irq0 = irq_seen;
    uint64_t cap = blk_capacity(v->dev);
    struct line l;

    for (uint64_t i = 0; i < reqs; i++) {
        struct vres r;
        uint32_t st = blk_request(v, timeout, BLK_T_IN, cap ? i % cap : 0,
                                  data_buf, 512, &r);

        ok += st == 0 && r.answered && r.len == 513;
        ticks += r.ticks;
        if (!r.answered)
            break;
    }
    line_start(&l);
    line_str(&l, v->irq ? "blk-irq" : "blk-poll");
    line_kv_dec(&l, "reqs", reqs);
    line_kv_dec(&l, "ok", ok);
    line_kv_dec(&l, "irqs", irq_seen - irq0);
    line_kv_hex(&l, "isr_bits", irq_isr_bits);
    line_kv_dec(&l, "tsc_ticks", ticks);
    line_end(&l);
}

/* ------------------------------------------------------------ blk-bench */

/*
 * Throughput: squibbench=seqread|seqwrite|randread|randwrite moves
 * squibmib= MiB with squibqd= requests in flight (128 KiB requests for the
 * sequential modes, 4 KiB at xorshift64-chosen 4 KiB-aligned offsets from a
 * fixed seed for the random ones, so every VMM sees the same I/O). Slot i
 * owns descriptors 3i (header), 3i+1 (data), 3i+2 (status); all slots share
 * one data buffer (contents do not matter here). Completions by interrupt
 * (the CPU halts between them) or, with squibpoll=1, by spinning on the used
 * index with VIRTQ_AVAIL_F_NO_INTERRUPT set. Notifications follow the
 * device's VIRTQ_USED_F_NO_NOTIFY hint. Work per request is kept small: the
 * descriptors are written once, a resubmission only changes the sector.
 */
#define BENCH_MAX_QD   32
#define BENCH_SEQ_SIZE (128U * 1024U)
#define BENCH_RND_SIZE 4096U
#define BENCH_SEED     0x9e3779b97f4a7c15ULL

static uint8_t bench_buf[BENCH_SEQ_SIZE] __attribute__((aligned(4096)));
static struct blk_req_hdr bench_hdr[BENCH_MAX_QD] __attribute__((aligned(64)));
static volatile uint8_t bench_status[BENCH_MAX_QD] __attribute__((aligned(64)));

struct bench_state {
    int write, rnd;
    uint32_t size;   /* bytes per request */
    uint64_t blocks; /* request-sized blocks on the disk */
    uint64_t next;   /* requests submitted so far */
    uint64_t seed;   /* xorshift64 state */
};

static uint64_t bench_sector(struct bench_state *b)
{
    uint64_t blk;

    if (b->rnd) {
        b->seed ^= b->seed << 13;
        b->seed ^= b->seed >> 7;
        b->seed ^= b->seed << 17;
        blk = b->seed % b->blocks;
    } else {
        blk = b->next % b->blocks;
    }
    b->next++;
    return blk * (b->size / 512);
}

static void bench_submit(struct vq *q, struct bench_state *b, uint32_t slot)
{
    uint16_t head = (uint16_t)(3 * slot);

    bench_hdr[slot].sector = bench_sector(b);
    bench_status[slot] = BLK_S_NONE;
    q->avail[2 + q->avail_idx % q->size] = head;
    q->avail_idx++;
}

static void bench_kick(struct vdrv *v, uint64_t *kicks)
{
    mb();
    v->q.avail[1] = v->q.avail_idx;
    mb();
    if (!(v->q.used[0] & 1)) { /* VIRTQ_USED_F_NO_NOTIFY */
        notify(v);
        (*kicks)++;
    }
}

/* Halt until the used index moves past last_used (an interrupt wakes us). */
static void bench_wait_irq(const struct vq *q)
{
    while (used_idx(q) == q->last_used) {
        __asm__ volatile("cli" ::: "memory");
        if (used_idx(q) != q->last_used) {
            __asm__ volatile("sti" ::: "memory");
            break;
        }
        __asm__ volatile("sti; hlt" ::: "memory");
    }
}

static void blk_bench(struct venv *e, struct vdrv *v, const char *mode,
                      size_t mode_len, int poll)
{
    static const char *const modes[] = {"seqread", "seqwrite", "randread",
                                        "randwrite"};
    struct vq *q = &v->q;
    struct bench_state b;
    uint64_t cap = blk_capacity(v->dev), mib = param_u64(e, "squibmib=", 64);
    uint64_t qd = param_u64(e, "squibqd=", 1), total, done = 0, errors = 0;
    uint64_t kicks = 0, irq0, t0, t1, ticks, bytes, hz = e->tsc_hz;
    uint64_t limit = e->tsc_hz * param_u64(e, "squibtimeout=", 60000) / 1000;
    int which = -1;
    struct line l;

    for (int i = 0; i < 4; i++)
        if (mode && mode_len == strlen(modes[i]) &&
            memcmp(mode, modes[i], mode_len) == 0)
            which = i;
    line_start(&l);
    line_str(&l, "blk-bench");
    if (which < 0) {
        line_str(&l, " mode=unknown");
        line_end(&l);
        return;
    }
    memset(&b, 0, sizeof(b));
    b.write = which == 1 || which == 3;
    b.rnd = which >= 2;
    b.size = b.rnd ? BENCH_RND_SIZE : BENCH_SEQ_SIZE;
    b.seed = BENCH_SEED;
    b.blocks = cap * 512 / b.size;
    if (qd < 1)
        qd = 1;
    if (qd > BENCH_MAX_QD)
        qd = BENCH_MAX_QD;
    if (qd > q->size / 3U)
        qd = q->size / 3U;
    total = mib * 1024 * 1024 / b.size;
    if (b.blocks == 0 || total == 0 || qd == 0 ||
        (b.write && (v->drv_features & F_BLK_RO))) {
        line_kv_str(&l, "mode", modes[which], strlen(modes[which]));
        line_str(&l, b.blocks == 0 ? " error=disk-too-small"
                     : total == 0  ? " error=nothing-to-move"
                     : qd == 0     ? " error=queue-too-small"
                                   : " error=read-only");
        line_end(&l);
        return;
    }
    for (uint32_t i = 0; i < BENCH_SEQ_SIZE; i++)
        bench_buf[i] = (uint8_t)(i * 7U + 0x5aU);
    for (uint32_t s = 0; s < qd; s++) {
        bench_hdr[s].type = b.write ? BLK_T_OUT : BLK_T_IN;
        bench_hdr[s].reserved = 0;
        set_desc(q, (uint16_t)(3 * s), addr_of(&bench_hdr[s]),
                 sizeof(bench_hdr[s]), D_NEXT, (uint16_t)(3 * s + 1));
        set_desc(q, (uint16_t)(3 * s + 1), addr_of(bench_buf), b.size,
                 D_NEXT | (b.write ? 0 : D_WRITE), (uint16_t)(3 * s + 2));
        set_desc(q, (uint16_t)(3 * s + 2), addr_of(&bench_status[s]), 1,
                 D_WRITE, 0);
    }
    q->avail[0] = poll ? 1 : 0; /* VIRTQ_AVAIL_F_NO_INTERRUPT */
    line_kv_str(&l, "mode", modes[which], strlen(modes[which]));
    line_kv_dec(&l, "size", b.size);
    line_kv_dec(&l, "qd", qd);
    line_kv_dec(&l, "reqs", total);
    line_str(&l, poll ? " completion=poll" : " completion=irq");
    line_end(&l);
    /* The host may timestamp this line and the end line itself. */
    say("blk-bench-start");
    irq0 = irq_seen;
    t0 = rdtsc();
    for (uint32_t s = 0; s < qd && b.next < total; s++)
        bench_submit(q, &b, s);
    bench_kick(v, &kicks);
    while (done < total) {
        int more = 0;

        if (poll) {
            while (used_idx(q) == q->last_used) {
                if (rdtsc() - t0 > limit)
                    break;
                cpu_relax();
            }
        } else {
            bench_wait_irq(q);
        }
        if (used_idx(q) == q->last_used)
            break; /* timed out */
        mb();
        while (used_idx(q) != q->last_used) {
            uint32_t slot = q->used[1 + 2 * (q->last_used % q->size)] / 3;

            q->last_used++;
            done++;
            if (slot >= qd || bench_status[slot] != 0)
                errors++;
            if (slot < qd && b.next < total) {
                bench_submit(q, &b, slot);
                more = 1;
            }
        }
        if (more)
            bench_kick(v, &kicks);
        if (rdtsc() - t0 > limit)
            break;
    }
    t1 = rdtsc();
    say("blk-bench-end");
    ticks = t1 - t0;
    bytes = done * b.size;
    line_start(&l);
    line_str(&l, "blk-bench");
    line_kv_str(&l, "mode", modes[which], strlen(modes[which]));
    line_kv_dec(&l, "bytes", bytes);
    line_kv_dec(&l, "reqs", done);
    line_kv_dec(&l, "errors", errors);
    line_str(&l, done == total ? " complete=yes" : " complete=no");
    line_kv_dec(&l, "qd", qd);
    line_kv_dec(&l, "kicks", kicks);
    line_kv_dec(&l, "irqs", irq_seen - irq0);
    line_kv_dec(&l, "tsc_ticks", ticks);
    line_kv_dec(&l, "tsc_hz", hz);
    /* bytes * hz / ticks without overflowing: ticks and hz stay below 2^40
     * for any run shorter than ~10 minutes at a few GHz. */
    line_kv_dec(&l, "mib_per_s",
                ticks ? (bytes >> 10) * (hz >> 10) / ticks : 0);
    line_kv_dec(&l, "kib_per_s", ticks ? bytes * (hz >> 10) / ticks : 0);
    line_kv_dec(&l, "iops", ticks ? done * hz / ticks : 0);
    line_end(&l);
}

/* Let a late interrupt land (about 10 ms). */
static void settle(uint64_t tsc_hz)
{
    delay_cycles(tsc_hz / 100);
}

/*
 * VIRTIO_RING_F_EVENT_IDX: with used_event far from the used index the
 * device must not interrupt; with used_event = the current used index it
 * interrupts for every completion. Completions are polled; the interrupt
 * handler only counts. Also shows the avail_event the device published.
 */
static void blk_eventidx(struct venv *e, struct vdrv *v, uint64_t timeout)
{
    uint64_t reqs = param_u64(e, "squibreqs=", 32);
    volatile uint16_t *used_event = &v->q.avail[2 + v->q.size];
    const volatile uint16_t *avail_event =
        (const volatile uint16_t *)&v->q.used[1 + 2 * v->q.size];
    uint64_t ok[2] = {0, 0}, irqs[2] = {0, 0};
    struct line l;

    line_start(&l);
    line_str(&l, "blk-eventidx");
    line_kv_dec(&l, "negotiated", !!(v->drv_features & F_EVENT_IDX));
    if (!(v->drv_features & F_EVENT_IDX)) {
        line_end(&l);
        return;
    }
    v->irq = 0; /* poll; the handler (irq_drv) still acknowledges */
    {
        /* One request first: a device may interrupt for the first used
         * buffer after a reset whatever used_event says (QEMU does). */
        struct vres r;

        blk_request(v, timeout, BLK_T_IN, 0, data_buf, 512, &r);
    }
    for (int phase = 0; phase < 2; phase++) {
        uint64_t irq0;

        settle(e->tsc_hz);
        irq0 = irq_seen;
        for (uint64_t i = 0; i < reqs; i++) {
            struct vres r;
            uint64_t before;
            uint32_t st;

            *used_event =
                phase ? v->q.last_used : (uint16_t)(v->q.last_used + 0x8000);
            mb();
            before = irq_seen;
            st = blk_request(v, timeout, BLK_T_IN, 0, data_buf, 512, &r);
            ok[phase] += st == 0 && r.answered && r.len == 513;
            if (!r.answered)
                break;
            /* Enabled: wait for this completion's interrupt (up to 50 ms)
             * so that two interrupts never merge into one. */
            for (uint64_t t0 = rdtsc();
                 phase && irq_seen == before && rdtsc() - t0 < e->tsc_hz / 20;)
                cpu_relax();
        }
        settle(e->tsc_hz);
        irqs[phase] = irq_seen - irq0;
    }
    line_kv_dec(&l, "reqs", reqs);
    line_kv_dec(&l, "ok_suppressed", ok[0]);
    line_kv_dec(&l, "irqs_suppressed", irqs[0]);
    line_kv_dec(&l, "ok_enabled", ok[1]);
    line_kv_dec(&l, "irqs_enabled", irqs[1]);
    line_kv_dec(&l, "avail_idx", v->q.avail_idx);
    line_kv_dec(&l, "avail_event", *avail_event);
    line_end(&l);
}

/* ------------------------------------------------------------ virtio-rng */

static int rng_open(struct venv *e, struct vdrv *v)
{
    const struct vdev *d = find_dev(e, ID_RNG);
    struct line l;

    if (!d) {
        say("virtio-rng found=no");
        return -1;
    }
    if (drv_init(v, d, 0, 64, NULL, 0))
        return -1;
    line_start(&l);
    line_str(&l, "virtio-rng");
    line_kv_hex(&l, "addr", d->base);
    line_kv_dec(&l, "queue_size", v->q.size);
    line_end(&l);
    return 0;
}

static uint32_t rng_read(struct vdrv *v, uint64_t timeout, uint8_t *buf,
                         uint32_t n, struct vres *r)
{
    uint64_t t0;

    set_desc(&v->q, 0, addr_of(buf), n, D_WRITE, 0);
    vq_publish(&v->q, 0);
    t0 = rdtsc();
    notify(v);
    vq_wait(v, t0, timeout, irq_seen, r);
    return r->answered ? r->len : 0;
}

static void rng_test(struct venv *e, struct vdrv *v, uint64_t timeout)
{
    uint64_t want = param_u64(e, "squibbytes=", 64), got;
    struct vres r;
    struct line l;
    int nonzero = 0;

    if (want > DATA_SIZE)
        want = DATA_SIZE;
    memset(data_buf, 0, DATA_SIZE);
    got = rng_read(v, timeout, data_buf, (uint32_t)want, &r);
    if (got > want)
        got = want; /* a device claiming more than the buffer */
    for (uint64_t off = 0; off < got; off += 64) {
        line_start(&l);
        line_str(&l, "rng-data");
        line_kv_dec(&l, "off", off);
        line_hexbytes(&l, "hex", data_buf + off,
                      got - off < 64 ? got - off : 64);
        line_end(&l);
    }
    for (uint64_t i = 0; i < got; i++)
        nonzero |= data_buf[i] != 0;
    line_start(&l);
    line_str(&l, "rng");
    line_kv_dec(&l, "requested", want);
    line_kv_dec(&l, "bytes", got);
    line_res(&l, &r);
    line_str(&l, nonzero ? " nonzero=yes" : " nonzero=no");
    line_end(&l);
}

static void rng_rate(struct venv *e, struct vdrv *v, uint64_t timeout)
{
    uint64_t ms = param_u64(e, "squibms=", 1000);
    uint64_t chunk = param_u64(e, "squibbytes=", 4096);
    uint64_t dur = e->tsc_hz / 1000 * ms, total = 0, reqs = 0, fails = 0;
    uint64_t t0 = rdtsc(), last = t0, now;
    struct line l;

    if (chunk == 0 || chunk > DATA_SIZE)
        chunk = 4096;
    for (;;) {
        struct vres r;
        uint32_t got = rng_read(v, timeout, data_buf, (uint32_t)chunk, &r);

        reqs++;
        total += got < chunk ? got : chunk;
        fails += !r.answered;
        now = rdtsc();
        if (now - last >= e->tsc_hz / 10) {
            last = now;
            line_start(&l);
            line_str(&l, "rng-rate-tick");
            line_kv_dec(&l, "bytes", total);
            line_kv_dec(&l, "tsc", now - t0);
            line_end(&l);
        }
        if (now - t0 >= dur || r.needs_reset)
            break;
    }
    line_start(&l);
    line_str(&l, "rng-rate");
    line_kv_dec(&l, "bytes", total);
    line_kv_dec(&l, "reqs", reqs);
    line_kv_dec(&l, "timeouts", fails);
    line_kv_dec(&l, "chunk", chunk);
    line_kv_dec(&l, "tsc_ticks", now - t0);
    line_kv_dec(&l, "tsc_hz", e->tsc_hz);
    ms = (now - t0) / (e->tsc_hz / 1000);
    line_kv_dec(&l, "ms", ms);
    line_kv_dec(&l, "bytes_per_sec", ms ? total / ms * 1000 : 0);
    line_end(&l);
}

/* -------------------------------------------------------------- hostile */

#define OUTSIDE_RAM 0x100000000000ULL /* 16 TiB: no guest RAM there */
#define MMIO_HOLE   0xd0000000ULL     /* between RAM and the devices */

enum hkind { H_BLK = 1, H_RNG = 2, H_BOTH = 3 };

struct hcase {
    const char *name;
    int kinds;
    int explicit_only; /* upstream Firecracker exits: run only by name */
};

static const struct hcase hcases[] = {
    {"addr-outside-ram", H_BOTH, 0},
    {"addr-mmio-hole", H_BOTH, 0},
    {"len-wrap", H_BOTH, 0},
    {"desc-loop", H_BOTH, 0},
    {"chain-too-long", H_BOTH, 0},
    {"next-out-of-range", H_BOTH, 0},
    {"indirect-oversized", H_BOTH, 0},
    {"indirect-misaligned", H_BOTH, 0},
    {"indirect-nested", H_BOTH, 0},
    {"wrong-dir-data", H_BOTH, 0},
    {"wrong-dir-header", H_BLK, 0},
    {"zero-len-data", H_BOTH, 0},
    {"head-out-of-range", H_BOTH, 0},
    {"queue-size-npot", H_BOTH, 0},
    {"queue-size-over-max", H_BOTH, 0},
    {"notify-before-driver-ok", H_BOTH, 0},
    {"avail-outside-ram", H_BOTH, 0},
    {"used-outside-ram", H_BOTH, 0},
    {"used-misaligned", H_BOTH, 0},
    {"avail-idx-ahead", H_BOTH, 1},
};

/* The request the case corrupts: blk IN of sector 0 (header, 512-byte
 * data, status) or rng (one 64-byte writable buffer), in descriptors 0.. */
static void h_normal(struct vq *q, int blk)
{
    if (blk) {
        req_hdr.type = BLK_T_IN;
        req_hdr.reserved = 0;
        req_hdr.sector = 0;
        set_desc(q, 0, addr_of(&req_hdr), 16, D_NEXT, 1);
        set_desc(q, 1, addr_of(data_buf), 512, D_NEXT | D_WRITE, 2);
        set_desc(q, 2, addr_of(&req_status), 1, D_WRITE, 0);
    } else {
        set_desc(q, 0, addr_of(data_buf), 64, D_WRITE, 0);
    }
}

/* The data descriptor: 1 for block, 0 for rng. */
static uint16_t h_data(int blk)
{
    return blk ? 1 : 0;
}

/*
 * Run one case on a freshly reset device. Returns 1 when the device could
 * be reset and re-initialised cleanly afterwards.
 */
static int h_case(const struct vdev *d, int blk, const char *name,
                  uint64_t timeout)
{
    struct vdrv v;
    struct qsetup qs;
    struct vres r;
    struct line l;
    uint16_t head = 0, dd = h_data(blk);
    int setup_fail = 0, early = -1;
    volatile struct vdesc *ind = (volatile struct vdesc *)aux_buf;

    memset(&qs, 0, sizeof(qs));
    if (word_eq(name, "queue-size-npot"))
        qs.num = 6;
    else if (word_eq(name, "avail-outside-ram"))
        qs.avail = OUTSIDE_RAM;
    else if (word_eq(name, "used-outside-ram"))
        qs.used = OUTSIDE_RAM;
    else if (word_eq(name, "used-misaligned"))
        qs.used = addr_of(qmem + 8192 + 2);
    else if (word_eq(name, "notify-before-driver-ok"))
        qs.no_driver_ok = 1;
    if (word_eq(name, "queue-size-over-max")) {
        /* Twice the device's maximum (learnt by a clean init). */
        struct vdrv probe_v;

        if (drv_init(&probe_v, d, blk ? F_BLK_RO | F_BLK_FLUSH : 0, 8, NULL, 1))
            setup_fail = 1;
        qs.num = probe_v.queue_max ? probe_v.queue_max * 2 : 512;
    }
    req_status = BLK_S_NONE;
    memset(data_buf, 0, 4096);
    if (!setup_fail &&
        drv_init(
            &v, d, blk ? F_BLK_RO | F_BLK_FLUSH : 0, 8,
            (qs.num || qs.avail || qs.used || qs.no_driver_ok) ? &qs : NULL, 1))
        setup_fail = 1;
    line_start(&l);
    line_str(&l, "hostile-case");
    line_str(&l, blk ? " dev=blk" : " dev=rng");
    line_str(&l, " case=");
    line_str(&l, name);
    if (setup_fail) {
        /* Expected for the queue-layout cases: activation refused. */
        uint32_t st = vr(d, VM_STATUS);

        line_str(&l, " setup=refused");
        line_str(&l,
                 st & ST_NEEDS_RESET ? " needs_reset=yes" : " needs_reset=no");
        line_kv_hex(&l, "dev_status", st);
        goto reset;
    }
    if (qs.avail || qs.used || qs.num) {
        /* The device accepted a layout it should have refused: see whether
         * it processes a request (writes go to our real rings only when it
         * ignored the bad address). */
        uint64_t t0;

        h_normal(&v.q, blk);
        vq_publish(&v.q, 0);
        t0 = rdtsc();
        notify(&v);
        vq_wait(&v, t0, timeout, irq_seen, &r);
        line_str(&l, " setup=accepted");
        goto report;
    }
    h_normal(&v.q, blk);
    if (word_eq(name, "addr-outside-ram")) {
        v.q.desc[dd].addr = OUTSIDE_RAM;
    } else if (word_eq(name, "addr-mmio-hole")) {
        v.q.desc[dd].addr = MMIO_HOLE;
    } else if (word_eq(name, "len-wrap")) {
        v.q.desc[dd].addr = 0xffffffffffffff00ULL;
        v.q.desc[dd].len = 512;
    } else if (word_eq(name, "desc-loop")) {
        if (blk) {
            v.q.desc[1].next = 0; /* header -> data -> header */
        } else {
            set_desc(&v.q, 0, addr_of(data_buf), 64, D_WRITE | D_NEXT, 1);
            set_desc(&v.q, 1, addr_of(data_buf + 64), 64, D_WRITE | D_NEXT, 0);
        }
    } else if (word_eq(name, "chain-too-long")) {
        /* Every descriptor of the table in one ring: 0 -> 1 -> ... -> 0. */
        uint16_t first = blk ? 2 : 0;

        for (uint16_t i = first; i < v.q.size; i++)
            set_desc(&v.q, i, addr_of(data_buf + 1024 + 64 * i), 64,
                     D_WRITE | D_NEXT, (uint16_t)((i + 1) % v.q.size));
        if (blk) /* the status descriptor, with NEXT on */
            set_desc(&v.q, 2, addr_of(&req_status), 1, D_WRITE | D_NEXT, 3);
    } else if (word_eq(name, "next-out-of-range")) {
        v.q.desc[dd].flags |= D_NEXT;
        v.q.desc[dd].next = (uint16_t)(v.q.size + 5);
    } else if (word_eq(name, "indirect-oversized") ||
               word_eq(name, "indirect-misaligned") ||
               word_eq(name, "indirect-nested")) {
        /* An indirect table holding the whole request; INDIRECT_DESC is
         * not negotiated. */
        uint32_t n = blk ? 3 : 1;
        uint64_t at = addr_of(ind);

        memset(aux_buf, 0, sizeof(aux_buf));
        if (word_eq(name, "indirect-misaligned")) {
            at += 8;
            ind = (volatile struct vdesc *)(aux_buf + 8);
        }
        for (uint32_t i = 0; i < n; i++) {
            ind[i].addr = v.q.desc[i].addr;
            ind[i].len = v.q.desc[i].len;
            ind[i].flags = v.q.desc[i].flags;
            ind[i].next = v.q.desc[i].next;
        }
        if (word_eq(name, "indirect-nested")) {
            ind[0].addr = addr_of(aux_buf + 1024);
            ind[0].len = 16 * n;
            ind[0].flags = D_INDIRECT;
            n = 1;
        }
        set_desc(&v.q, 0, at,
                 word_eq(name, "indirect-oversized") ? 16U * (v.q.size + 1U)
                                                     : 16U * n,
                 D_INDIRECT, 0);
    } else if (word_eq(name, "wrong-dir-data")) {
        v.q.desc[dd].flags &= (uint16_t)~D_WRITE;
    } else if (word_eq(name, "wrong-dir-header")) {
        v.q.desc[0].flags |= D_WRITE;
    } else if (word_eq(name, "zero-len-data")) {
        v.q.desc[dd].len = 0;
    } else if (word_eq(name, "head-out-of-range")) {
        head = (uint16_t)(v.q.size + 3);
    } else if (word_eq(name, "avail-idx-ahead")) {
        v.q.avail_idx = (uint16_t)(v.q.size + 4);
    }
    {
        uint64_t t0;

        vq_publish(&v.q, head);
        t0 = rdtsc();
        notify(&v);
        if (qs.no_driver_ok) {
            /* Nothing may happen before DRIVER_OK; then the buffer must be
             * processed (upstream re-signals the queues on activation). */
            vq_wait(&v, t0, timeout / 4, irq_seen, &r);
            early = r.answered;
            vw(d, VM_STATUS,
               ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
            if (!early) {
                t0 = rdtsc();
                vq_wait(&v, t0, timeout, irq_seen, &r);
            }
        } else {
            vq_wait(&v, t0, timeout, irq_seen, &r);
        }
    }
report:
    if (early >= 0)
        line_str(&l, early ? " early=yes" : " early=no");
    line_res(&l, &r);
    if (r.answered)
        line_kv_dec(&l, "used_id", r.id);
    if (blk)
        line_status(&l, "status", req_status);
reset : {
    int rok = dev_reset(d) == 0;
    struct vdrv again;
    int reinit = rok && drv_init(&again, d, blk ? F_BLK_RO | F_BLK_FLUSH : 0, 8,
                                 NULL, 1) == 0;

    line_str(&l, rok ? " reset_ok=yes" : " reset_ok=no");
    line_str(&l, reinit ? " reinit_ok=yes" : " reinit_ok=no");
    line_end(&l);
    dev_reset(d);
    return rok && reinit;
}
}

static void hostile(struct venv *e, int blk, uint64_t timeout)
{
    const struct vdev *d = find_dev(e, blk ? ID_BLK : ID_RNG);
    size_t onlen = 0;
    const char *only = param(e, "squibcase=", &onlen);
    uint32_t cases = 0, ok = 0;
    struct vdrv v;
    struct vres r;
    struct line l;
    int final = 0;

    if (!d) {
        say(blk ? "virtio-blk found=no" : "virtio-rng found=no");
        return;
    }
    for (size_t i = 0; i < sizeof(hcases) / sizeof(hcases[0]); i++) {
        const struct hcase *c = &hcases[i];

        if (!(c->kinds & (blk ? H_BLK : H_RNG)))
            continue;
        if (only ? !(onlen == strlen(c->name) &&
                     memcmp(only, c->name, onlen) == 0)
                 : c->explicit_only)
            continue;
        cases++;
        ok += (uint32_t)h_case(d, blk, c->name, timeout);
    }
    /* A normal request on a clean device. */
    if (drv_init(&v, d, blk ? F_BLK_RO | F_BLK_FLUSH : 0, 8, NULL, 1) == 0) {
        if (blk) {
            uint32_t st =
                blk_request(&v, timeout, BLK_T_IN, 0, data_buf, 512, &r);

            final = st == 0 && r.answered && r.len == 513;
        } else {
            final = rng_read(&v, timeout, data_buf, 64, &r) > 0;
        }
    }
    dev_reset(d);
    line_start(&l);
    line_str(&l, "hostile done");
    line_str(&l, blk ? " dev=blk" : " dev=rng");
    line_kv_dec(&l, "cases", cases);
    line_kv_dec(&l, "ok", ok);
    line_str(&l, final ? " final=ok" : " final=fail");
    line_end(&l);
}

/* ------------------------------------------------- shared with net.c */

const char *virtio_param(const struct venv *e, const char *key, size_t *len)
{
    return param(e, key, len);
}

uint64_t virtio_param_u64(const struct venv *e, const char *key, uint64_t dflt)
{
    return param_u64(e, key, dflt);
}

const struct vdev *virtio_find_dev(const struct venv *e, uint32_t id)
{
    return find_dev(e, id);
}

int virtio_dev_reset(const struct vdev *d)
{
    return dev_reset(d);
}

uint64_t virtio_dev_features(const struct vdev *d)
{
    return dev_features(d);
}

int virtio_drv_open(struct vdrv *v, const struct vdev *d, uint64_t want,
                    uint32_t qwant)
{
    return drv_init(v, d, want, qwant, NULL, 0);
}

void virtio_set_desc(struct vq *q, uint16_t i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next)
{
    set_desc(q, i, addr, len, flags, next);
}

int virtio_submit(struct vdrv *v, uint16_t head, uint64_t timeout,
                  struct vres *r)
{
    uint64_t t0;

    vq_publish(&v->q, head);
    t0 = rdtsc();
    notify(v);
    vq_wait(v, t0, timeout, irq_seen, r);
    return r->answered;
}

void virtio_line_res(struct line *l, const struct vres *r)
{
    line_res(l, r);
}

void virtio_line_hexbytes(struct line *l, const char *k, const uint8_t *p,
                          size_t n)
{
    line_hexbytes(l, k, p, n);
}

uint32_t virtio_fnv1a(const uint8_t *p, size_t n)
{
    return fnv1a(p, n);
}

/* ---------------------------------------------------------------- entry */

int virtio_run_test(const char *name, size_t name_len, const char *cmdline,
                    size_t cmdline_len, uint64_t rsdp_hint)
{
    static const char *const names[] = {
        "virtio",         "blk-rw",         "blk-ro",       "blk-id",
        "blk-poll",       "blk-irq",        "rng",          "rng-rate",
        "hostile-blk",    "hostile-rng",    "blk-eventidx", "blk-bench",
        "net-mmds",       "net-ping",       "hostile-net",  "vsock-echo",
        "hostile-vsock",  "net-mmds-bench", "balloon",      "hostile-balloon",
        "pmem",           "hostile-pmem",   "virtio-mem",   "blk-hold",
        "acpi-devs",      "memsnap",        "balloon-hint", "hostile-hint",
        "balloon-follow", "mem-follow",
    };
    static struct venv env;
    static struct vdrv drv;
    struct venv *e = &env;
    uint64_t timeout;
    int which = -1, eidx;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (name_len == strlen(names[i]) &&
            memcmp(name, names[i], name_len) == 0)
            which = (int)i;
    }
    if (which < 0)
        return 0;
    memset(e, 0, sizeof(*e));
    e->cmdline = cmdline;
    e->cmdline_len = cmdline_len;
    e->rsdp_hint = rsdp_hint;
    e->tsc_hz = calibrate_tsc();
    status_poll_ticks = e->tsc_hz / 1000;
    timeout = e->tsc_hz * param_u64(e, "squibtimeout=", 2000) / 1000;
    eidx = param_u64(e, "squibeventidx=", 0) != 0;
    discover(e);
    switch (which) {
    case 0:
        break;
    case 1:
    case 3:
    case 4:
    case 5:
        if (blk_open(e, &drv, which == 5, eidx))
            break;
        if (which == 3)
            blk_get_id(&drv, timeout);
        else
            blk_rw(e, &drv, timeout);
        if (which >= 4)
            blk_batch(e, &drv, timeout);
        blk_close(&drv);
        break;
    case 2:
        if (blk_open(e, &drv, 0, eidx) == 0) {
            blk_ro(e, &drv, timeout);
            blk_close(&drv);
        }
        break;
    case 6:
    case 7:
        if (rng_open(e, &drv) == 0) {
            if (which == 6)
                rng_test(e, &drv, timeout);
            else
                rng_rate(e, &drv, timeout);
            dev_reset(drv.dev);
        }
        break;
    case 10:
        if (blk_open(e, &drv, 1, 1))
            break;
        blk_eventidx(e, &drv, timeout);
        blk_close(&drv);
        break;
    case 11: {
        size_t ml = 0;
        const char *m = param(e, "squibbench=", &ml);
        int poll = param_u64(e, "squibpoll=", 0) != 0;

        /* No EVENT_IDX: the loop relies on an interrupt per used-ring
         * update and on VIRTQ_USED_F_NO_NOTIFY. */
        if (blk_open(e, &drv, !poll, 0))
            break;
        blk_bench(e, &drv, m, ml, poll);
        blk_close(&drv);
        break;
    }
    case 8:
    case 9:
        hostile(e, which == 8,
                param_u64(e, "squibtimeout=", 300) * e->tsc_hz / 1000);
        break;
    case 12:
    case 13:
    case 14:
        net_run_test(e, which - 12);
        break;
    case 17:
        net_run_test(e, 3);
        break;
    case 18:
    case 19:
        balloon_run_test(e, which - 18);
        break;
    case 26:
    case 27:
    case 28:
        balloon_run_test(e, which - 24); /* 28 runs until the machine stops */
        break;
    case 15:
    case 16:
        vsock_run_test(e, which - 15);
        break;
    case 20:
    case 21:
    case 22:
        memdev_run_test(e, which - 20, timeout);
        break;
    case 25:
    case 29:
        /* memsnap, mem-follow: run until the machine stops */
        memdev_run_test(e, which == 25 ? 3 : 4, timeout);
        break;
    case 23:
        if (blk_open(e, &drv, 0, 0) == 0)
            blk_hold(e, &drv, timeout); /* runs until the machine stops */
        break;
    case 24:
        acpidev_run_test(e); /* runs until the machine stops */
        break;
    }
    return 1;
}
