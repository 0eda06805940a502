/*
 * tables.c: the test guest's walk of the firmware tables it was given:
 * the Intel MP table (floating pointer "_MP_", table "PCMP") and ACPI
 * (RSDP -> XSDT/RSDT -> FADT, MADT, MCFG, DSDT via FADT). Every table is
 * reported with its signature, address, length and whether its checksum
 * is right; MADT and MPTable contents are summarised (CPU count, APIC ids,
 * IOAPIC) and kept in struct fw_info for the smp test.
 *
 * Pointers come from the VMM and are checked before use: tables must lie
 * below 3 GiB and have sane lengths, so a broken table is reported, not
 * followed into the MMIO hole.
 */
#include "guest.h"

#define RAM_LIMIT 0xc0000000ULL

static uint16_t rd16(uint64_t a)
{
    return *(volatile uint16_t *)a;
}
static uint32_t rd32(uint64_t a)
{
    return *(volatile uint32_t *)a;
}
static uint64_t rd64(uint64_t a)
{
    return (uint64_t)rd32(a) | ((uint64_t)rd32(a + 4) << 32);
}
static uint8_t rd8(uint64_t a)
{
    return *(volatile uint8_t *)a;
}

static int ok_range(uint64_t addr, uint64_t len)
{
    return addr && len && addr < RAM_LIMIT && len < RAM_LIMIT - addr;
}

static uint8_t sum8(uint64_t a, uint64_t n)
{
    uint8_t s = 0;

    for (uint64_t i = 0; i < n; i++)
        s = (uint8_t)(s + rd8(a + i));
    return s;
}

static void kv_ok(struct line *l, const char *k, int good)
{
    line_str(l, " ");
    line_str(l, k);
    line_str(l, good ? "=ok" : "=bad");
}

/* ---- MP table ---- */

static uint64_t find_mp(void)
{
    static const struct {
        uint64_t start, end;
    } areas[] = {{0x9fc00, 0xa0000}, {0xf0000, 0x100000}};

    for (unsigned a = 0; a < 2; a++) {
        for (uint64_t p = areas[a].start; p + 16 <= areas[a].end; p += 16) {
            if (memcmp((const void *)p, "_MP_", 4) == 0)
                return p;
        }
    }
    return 0;
}

void report_mptable(struct fw_info *fi)
{
    uint64_t fp = find_mp(), t, e, end;
    uint32_t n_cpu = 0, n_bus = 0, n_ioapic = 0, n_irq = 0, n_lint = 0;
    uint32_t bsp = 0xff, ioapic_id = 0xff, ioapic_addr = 0;
    uint16_t len, count;
    struct line l;

    line_start(&l);
    line_str(&l, "mptable");
    if (!fp) {
        line_str(&l, " found=no");
        line_end(&l);
        return;
    }
    t = rd32(fp + 4);
    line_kv_hex(&l, "fp", fp);
    line_kv_dec(&l, "fp_len", rd8(fp + 8) * 16ULL);
    line_kv_dec(&l, "spec", rd8(fp + 9));
    kv_ok(&l, "fp_checksum", sum8(fp, rd8(fp + 8) * 16ULL) == 0);
    line_kv_hex(&l, "table", t);
    if (!ok_range(t, 44) || memcmp((const void *)t, "PCMP", 4) != 0) {
        line_str(&l, " sig=bad");
        line_end(&l);
        return;
    }
    len = rd16(t + 4);
    count = rd16(t + 34);
    line_kv_dec(&l, "length", len);
    kv_ok(&l, "checksum", ok_range(t, len) && sum8(t, len) == 0);
    line_kv_str(&l, "oem", (const char *)(t + 8), 8);
    line_kv_str(&l, "product", (const char *)(t + 16), 12);
    line_kv_hex(&l, "lapic_addr", rd32(t + 36));
    line_kv_dec(&l, "entries", count);
    e = t + 44;
    end = t + len;
    for (uint32_t i = 0; i < count && e < end; i++) {
        uint8_t type = rd8(e);

        if (type == 0) {
            struct line c;
            uint8_t flags = rd8(e + 3);

            line_start(&c);
            line_str(&c, "mptable-cpu");
            line_kv_dec(&c, "apic_id", rd8(e + 1));
            line_kv_hex(&c, "version", rd8(e + 2));
            line_kv_dec(&c, "enabled", flags & 1);
            line_kv_dec(&c, "bsp", (flags >> 1) & 1);
            line_end(&c);
            if (flags & 2)
                bsp = rd8(e + 1);
            if (n_cpu < MAX_CPUS)
                fi->mp_cpu_ids[n_cpu] = rd8(e + 1);
            n_cpu++;
            e += 20;
            continue;
        }
        if (type == 1)
            n_bus++;
        else if (type == 2) {
            n_ioapic++;
            ioapic_id = rd8(e + 1);
            ioapic_addr = rd32(e + 4);
        } else if (type == 3)
            n_irq++;
        else if (type == 4)
            n_lint++;
        else
            break; /* unknown entry: length unknown, stop */
        e += 8;
    }
    fi->n_mp_cpus = n_cpu < MAX_CPUS ? n_cpu : MAX_CPUS;
    line_kv_dec(&l, "cpus", n_cpu);
    line_kv_dec(&l, "bsp", bsp);
    line_kv_dec(&l, "buses", n_bus);
    line_kv_dec(&l, "ioapics", n_ioapic);
    line_kv_dec(&l, "ioapic_id", ioapic_id);
    line_kv_hex(&l, "ioapic_addr", ioapic_addr);
    line_kv_dec(&l, "irqs", n_irq);
    line_kv_dec(&l, "lints", n_lint);
    line_end(&l);
}

/* ---- ACPI ---- */

static uint64_t find_rsdp(uint64_t hint)
{
    if (hint && ok_range(hint, 36) &&
        memcmp((const void *)hint, "RSD PTR ", 8) == 0)
        return hint;
    for (uint64_t p = 0xe0000; p < 0x100000; p += 16) {
        if (memcmp((const void *)p, "RSD PTR ", 8) == 0)
            return p;
    }
    return 0;
}

/* Report one SDT header; returns its length, or 0 if unusable. */
static uint32_t report_sdt(uint64_t a, const char *via)
{
    struct line l;
    uint32_t len;

    line_start(&l);
    line_str(&l, "acpi");
    if (!ok_range(a, 36)) {
        line_kv_hex(&l, "addr", a);
        line_str(&l, " valid=no");
        line_end(&l);
        return 0;
    }
    len = rd32(a + 4);
    line_kv_str(&l, "sig", (const char *)a, 4);
    line_kv_hex(&l, "addr", a);
    line_kv_dec(&l, "length", len);
    line_kv_dec(&l, "revision", rd8(a + 8));
    line_kv_str(&l, "oem", (const char *)(a + 10), 6);
    line_kv_str(&l, "table", (const char *)(a + 16), 8);
    line_kv_dec(&l, "oem_revision", rd32(a + 24));
    kv_ok(&l, "checksum", len >= 36 && ok_range(a, len) && sum8(a, len) == 0);
    line_str(&l, " via=");
    line_str(&l, via);
    line_end(&l);
    return (len >= 36 && len < (1U << 20) && ok_range(a, len)) ? len : 0;
}

static void report_madt(uint64_t a, uint32_t len, struct fw_info *fi)
{
    uint32_t n_lapic = 0, n_ioapic = 0, n_other = 0, ioapic_id = 0xff;
    uint32_t ioapic_addr = 0, gsi_base = 0;
    uint64_t e = a + 44, end = a + len;
    struct line l;

    while (e + 2 <= end) {
        uint8_t type = rd8(e), elen = rd8(e + 1);

        if (elen < 2 || e + elen > end)
            break;
        if (type == 0 && elen >= 8) {
            struct line c;

            line_start(&c);
            line_str(&c, "madt-lapic");
            line_kv_dec(&c, "uid", rd8(e + 2));
            line_kv_dec(&c, "apic_id", rd8(e + 3));
            line_kv_hex(&c, "flags", rd32(e + 4));
            line_end(&c);
            if (n_lapic < MAX_CPUS)
                fi->lapic_ids[n_lapic] = rd8(e + 3);
            n_lapic++;
        } else if (type == 1 && elen >= 12) {
            n_ioapic++;
            ioapic_id = rd8(e + 2);
            ioapic_addr = rd32(e + 4);
            gsi_base = rd32(e + 8);
        } else {
            n_other++;
        }
        e += elen;
    }
    fi->have_madt = 1;
    fi->n_lapic = n_lapic < MAX_CPUS ? n_lapic : MAX_CPUS;
    line_start(&l);
    line_str(&l, "madt");
    line_kv_hex(&l, "lapic_addr", rd32(a + 36));
    line_kv_hex(&l, "flags", rd32(a + 40));
    line_kv_dec(&l, "lapics", n_lapic);
    line_kv_dec(&l, "ioapics", n_ioapic);
    line_kv_dec(&l, "ioapic_id", ioapic_id);
    line_kv_hex(&l, "ioapic_addr", ioapic_addr);
    line_kv_dec(&l, "gsi_base", gsi_base);
    line_kv_dec(&l, "other", n_other);
    line_end(&l);
}

static void report_fadt(uint64_t a, uint32_t len)
{
    uint64_t dsdt = 0;
    struct line l;

    line_start(&l);
    line_str(&l, "fadt");
    if (len >= 44)
        line_kv_hex(&l, "dsdt", rd32(a + 40));
    if (len >= 116) {
        line_kv_hex(&l, "iapc_boot_arch", rd16(a + 109));
        line_kv_hex(&l, "flags", rd32(a + 112));
    }
    if (len >= 148)
        line_kv_hex(&l, "x_dsdt", rd64(a + 140));
    if (len >= 276)
        line_kv_str(&l, "hypervisor", (const char *)(a + 268), 8);
    line_end(&l);
    if (len >= 148)
        dsdt = rd64(a + 140);
    if (!dsdt && len >= 44)
        dsdt = rd32(a + 40);
    if (dsdt)
        report_sdt(dsdt, "fadt");
}

static void report_mcfg(uint64_t a, uint32_t len)
{
    for (uint64_t e = a + 44; e + 16 <= a + len; e += 16) {
        struct line l;

        line_start(&l);
        line_str(&l, "mcfg");
        line_kv_hex(&l, "base", rd64(e));
        line_kv_dec(&l, "segment", rd16(e + 8));
        line_kv_dec(&l, "bus_start", rd8(e + 10));
        line_kv_dec(&l, "bus_end", rd8(e + 11));
        line_end(&l);
    }
}

void report_acpi(uint64_t rsdp_hint, struct fw_info *fi)
{
    uint64_t r = find_rsdp(rsdp_hint), root;
    uint32_t root_len, esize;
    uint8_t rev;
    struct line l;

    line_start(&l);
    line_str(&l, "rsdp");
    if (!r) {
        line_str(&l, " found=no");
        line_end(&l);
        return;
    }
    rev = rd8(r + 15);
    line_kv_hex(&l, "addr", r);
    line_kv_str(&l, "oem", (const char *)(r + 9), 6);
    line_kv_dec(&l, "revision", rev);
    kv_ok(&l, "checksum", sum8(r, 20) == 0);
    line_kv_hex(&l, "rsdt", rd32(r + 16));
    if (rev >= 2) {
        line_kv_dec(&l, "length", rd32(r + 20));
        line_kv_hex(&l, "xsdt", rd64(r + 24));
        kv_ok(&l, "xchecksum",
              rd32(r + 20) >= 36 && rd32(r + 20) < 4096 &&
                  sum8(r, rd32(r + 20)) == 0);
    }
    line_end(&l);

    if (rev >= 2 && rd64(r + 24)) {
        root = rd64(r + 24);
        esize = 8;
    } else {
        root = rd32(r + 16);
        esize = 4;
    }
    root_len = report_sdt(root, "rsdp");
    if (!root_len)
        return;
    for (uint64_t e = root + 36; e + esize <= root + root_len; e += esize) {
        uint64_t t = esize == 8 ? rd64(e) : rd32(e);
        uint32_t len = report_sdt(t, esize == 8 ? "xsdt" : "rsdt");

        if (!len)
            continue;
        if (memcmp((const void *)t, "APIC", 4) == 0 && len >= 44)
            report_madt(t, len, fi);
        else if (memcmp((const void *)t, "FACP", 4) == 0)
            report_fadt(t, len);
        else if (memcmp((const void *)t, "MCFG", 4) == 0)
            report_mcfg(t, len);
    }
}
