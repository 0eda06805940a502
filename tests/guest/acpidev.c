/*
 * acpidev.c: the acpi-devs test (README.md, "ACPI devices test"): finds
 * VMGenID (VMGENCTR), VMClock (AMZNC10C) and the GED (ACPI0013) in the
 * DSDT, routes the GED's interrupts, then watches the generation id, the
 * VMClock page and the interrupt counts forever, printing a line whenever
 * one of them changes (a snapshot restore changes all of them).
 */
#include "guest.h"
#include "virtio.h"
#include "virtio_int.h"

#define MAX_GED_GSIS 2

static volatile uint64_t
    acpi_irqs[ACPIDEV_VECTOR_MAX - ACPIDEV_VECTOR_BASE + 1];

void acpidev_isr(uint64_t vector)
{
    acpi_irqs[vector - ACPIDEV_VECTOR_BASE]++;
}

static uint32_t rd32(uint64_t a)
{
    return *(volatile uint32_t *)a;
}

static uint64_t rd64(uint64_t a)
{
    return (uint64_t)rd32(a) | ((uint64_t)rd32(a + 4) << 32);
}

/* Offset of pattern in a[from, n), or n. */
static uint32_t find(const uint8_t *a, uint32_t from, uint32_t n,
                     const char *pat, uint32_t pn)
{
    for (uint32_t i = from; i + pn <= n; i++)
        if (memcmp(a + i, pat, pn) == 0)
            return i;
    return n;
}

/* An AML integer (ZeroOp, OneOp, OnesOp, Byte/Word/DWord/QWordConst) at
 * *at; advances *at. -1 when it is none of those. */
static int aml_int(const uint8_t *a, uint32_t n, uint32_t *at, uint64_t *v)
{
    static const uint8_t widths[] = {
        [0x0a] = 1, [0x0b] = 2, [0x0c] = 4, [0x0e] = 8};
    uint32_t i = *at, w;

    if (i >= n)
        return -1;
    if (a[i] == 0x00 || a[i] == 0x01 || a[i] == 0xff) {
        *v = a[i] == 0xff ? ~0ULL : a[i];
        *at = i + 1;
        return 0;
    }
    w = a[i] < sizeof(widths) ? widths[a[i]] : 0;
    if (!w || i + 1 + w > n)
        return -1;
    *v = 0;
    for (uint32_t k = 0; k < w; k++)
        *v |= (uint64_t)a[i + 1 + k] << (8 * k);
    *at = i + 1 + w;
    return 0;
}

struct acpidev {
    uint64_t genid_addr, clock_addr;
    uint32_t gsis[MAX_GED_GSIS], n_gsis;
};

/* VGEN's Name(ADDR, Package() {low, high}) after its _HID. */
static void find_genid(const uint8_t *a, uint32_t n, struct acpidev *d)
{
    uint32_t i = find(a, 36, n, "VMGENCTR", 8);
    uint64_t lo, hi;

    i = find(a, i, n, "ADDR\x12", 5);
    if (i + 6 >= n)
        return;
    i += 5;
    i += 1 + (uint32_t)(a[i] >> 6); /* PkgLength */
    i++;                            /* NumElements */
    if (aml_int(a, n, &i, &lo) == 0 && aml_int(a, n, &i, &hi) == 0)
        d->genid_addr = (hi << 32) | (lo & 0xffffffffULL);
}

/* VCLK's QWord memory descriptor (0x8a, length 0x2b, type 0): its min. */
static void find_clock(const uint8_t *a, uint32_t n, struct acpidev *d)
{
    for (uint32_t i = find(a, 36, n, "AMZNC10C", 8); i + 22 <= n; i++) {
        if (a[i] == 0x8a && a[i + 1] == 0x2b && a[i + 2] == 0 &&
            a[i + 3] == 0) {
            d->clock_addr = rd64((uint64_t)(uintptr_t)(a + i + 14));
            return;
        }
    }
}

/* The GED's extended interrupt descriptors (0x89), in order. */
static void find_ged(const uint8_t *a, uint32_t n, struct acpidev *d)
{
    uint32_t i = find(a, 36, n, "ACPI0013", 8);

    for (; i + 9 <= n && d->n_gsis < MAX_GED_GSIS; i++) {
        if (a[i] == 0x89 && a[i + 1] >= 6 && a[i + 2] == 0 && a[i + 4] >= 1) {
            d->gsis[d->n_gsis++] = rd32((uint64_t)(uintptr_t)(a + i + 5));
            i += 8;
        }
    }
}

struct acpi_view {
    uint8_t id[16];
    uint32_t magic, size, seq;
    uint16_t version;
    uint8_t counter_id, time_type, clock_status;
    uint64_t flags, disruption, generation;
    uint64_t irqs[MAX_GED_GSIS];
};

/* The VMClock fields under the seq_count protocol (as Linux's driver and
 * upstream's test tool read them): an even count that did not change. */
static void read_view(const struct acpidev *d, struct acpi_view *v)
{
    const uint64_t c = d->clock_addr;

    memset(v, 0, sizeof(*v));
    if (d->genid_addr)
        for (int i = 0; i < 16; i++)
            v->id[i] = *(volatile uint8_t *)(d->genid_addr + i);
    for (int k = 0; k < MAX_GED_GSIS; k++)
        v->irqs[k] = acpi_irqs[k];
    if (!c)
        return;
    for (;;) {
        uint32_t seq = rd32(c + 12);

        if (seq & 1) {
            cpu_relax();
            continue;
        }
        mb();
        v->magic = rd32(c);
        v->size = rd32(c + 4);
        v->version = (uint16_t)rd32(c + 8);
        v->counter_id = *(volatile uint8_t *)(c + 10);
        v->time_type = *(volatile uint8_t *)(c + 11);
        v->disruption = rd64(c + 16);
        v->flags = rd64(c + 24);
        v->clock_status = *(volatile uint8_t *)(c + 34);
        v->generation = rd64(c + 104);
        mb();
        if (rd32(c + 12) == seq) {
            v->seq = seq;
            return;
        }
    }
}

static void print_view(uint32_t round, const struct acpi_view *v)
{
    struct line l;

    line_start(&l);
    line_str(&l, "acpidev-state");
    line_kv_dec(&l, "round", round);
    virtio_line_hexbytes(&l, "id", v->id, 16);
    line_kv_hex(&l, "magic", v->magic);
    line_kv_hex(&l, "size", v->size);
    line_kv_dec(&l, "version", v->version);
    line_kv_dec(&l, "counter_id", v->counter_id);
    line_kv_dec(&l, "time_type", v->time_type);
    line_kv_dec(&l, "clock_status", v->clock_status);
    line_kv_hex(&l, "flags", v->flags);
    line_kv_dec(&l, "seq", v->seq);
    line_kv_dec(&l, "disruption", v->disruption);
    line_kv_dec(&l, "generation", v->generation);
    line_kv_dec(&l, "irqs0", v->irqs[0]);
    line_kv_dec(&l, "irqs1", v->irqs[1]);
    line_end(&l);
}

void acpidev_run_test(struct venv *e)
{
    static struct acpidev d;
    struct acpi_view last, now;
    uint64_t dsdt = virtio_find_dsdt(e);
    uint32_t n = 0, round = 0;
    const uint8_t *a = (const uint8_t *)(uintptr_t)dsdt;
    struct line l;

    memset(&d, 0, sizeof(d));
    if (dsdt && memcmp(a, "DSDT", 4) == 0)
        n = rd32(dsdt + 4);
    if (n >= 36 && n < (1U << 20)) {
        find_genid(a, n, &d);
        find_clock(a, n, &d);
        find_ged(a, n, &d);
    }
    line_start(&l);
    line_str(&l, "acpidev");
    line_kv_hex(&l, "vmgenid", d.genid_addr);
    line_kv_hex(&l, "vmclock", d.clock_addr);
    line_kv_dec(&l, "ged_gsis", d.n_gsis);
    for (uint32_t k = 0; k < d.n_gsis; k++) {
        char key[] = "gsi0";

        key[3] = (char)('0' + k);
        line_kv_dec(&l, key, d.gsis[k]);
    }
    line_end(&l);
    for (uint32_t k = 0; k < d.n_gsis; k++)
        (void)virtio_ioapic_route(d.gsis[k], ACPIDEV_VECTOR_BASE + k);
    read_view(&d, &last);
    print_view(round, &last);
    for (;;) {
        delay_cycles(e->tsc_hz / 100);
        read_view(&d, &now);
        if (memcmp(&now, &last, sizeof(now)) != 0) {
            print_view(++round, &now);
            last = now;
        }
    }
}
