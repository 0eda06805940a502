/*
 * test_acpi.c: fw_write_tables() parsed back the way a guest would.
 *
 * Each case writes the tables into a zeroed host buffer standing in for
 * guest RAM, then walks RSDP -> XSDT -> FADT/MADT/MCFG -> DSDT checking
 * signatures, lengths, revisions, checksums and contents, and disassembles
 * the DSDT with iasl to check the devices as an ACPI consumer sees them.
 * Hostile configurations must fail cleanly without writing anything, and
 * a buffer that ends right after the RSDP, followed by a guard page, must
 * not be overrun.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/acpi.h"
#include "vmm/mptable.h"

#define RAM_LEN (4u << 20)

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;

    while (n--)
        s = (uint8_t)(s + *p++);
    return s;
}

/* Check the common SDT header of the table at gpa; returns its length. */
static uint32_t check_sdt(const uint8_t *ram, uint64_t gpa, const char *sig,
                          uint8_t rev, const char *table_id)
{
    const uint8_t *t = ram + gpa;
    uint32_t len = rd32(t + 4);

    assert_true(gpa >= FW_SYSTEM_MEM_START);
    assert_memory_equal(t, sig, 4);
    assert_true(len >= 36);
    assert_true(gpa + len <= FW_RSDP_ADDR);
    assert_int_equal(t[8], rev);
    assert_int_equal(sum(t, len), 0);
    assert_memory_equal(t + 10, "FIRECK", 6);
    assert_memory_equal(t + 16, table_id, 8);
    assert_int_equal(rd32(t + 24), 0);
    assert_memory_equal(t + 28, "FCAT", 4);
    assert_int_equal(rd32(t + 32), 0x20240119);
    return len;
}

struct parsed {
    uint64_t xsdt, fadt, madt, mcfg, dsdt;
    uint32_t dsdt_len;
};

/* Walk the tables from the RSDP, asserting every structural property. */
static void walk(const uint8_t *ram, uint32_t vcpus, struct parsed *p)
{
    const uint8_t *rsdp = ram + FW_RSDP_ADDR;
    const uint8_t *t;
    uint32_t len;

    assert_memory_equal(rsdp, "RSD PTR ", 8);
    assert_int_equal(sum(rsdp, 20), 0);
    assert_int_equal(sum(rsdp, 36), 0);
    assert_memory_equal(rsdp + 9, "FIRECK", 6);
    assert_int_equal(rsdp[15], 2);
    assert_int_equal(rd32(rsdp + 16), 0); /* no RSDT */
    assert_int_equal(rd32(rsdp + 20), 36);
    p->xsdt = rd64(rsdp + 24);

    len = check_sdt(ram, p->xsdt, "XSDT", 1, "FCMVXSDT");
    assert_int_equal(len, 36 + 3 * 8);
    p->fadt = rd64(ram + p->xsdt + 36);
    p->madt = rd64(ram + p->xsdt + 44);
    p->mcfg = rd64(ram + p->xsdt + 52);

    /* FADT */
    len = check_sdt(ram, p->fadt, "FACP", 6, "FCVMFADT");
    assert_int_equal(len, 276);
    t = ram + p->fadt;
    assert_int_equal(rd32(t + 40), 0);        /* 32-bit DSDT unused */
    assert_int_equal(rd16(t + 109), 1u << 2); /* VGA not present */
    assert_int_equal(rd32(t + 112), (1u << 20) | (1u << 4) | (1u << 5));
    assert_int_equal(t[131], 5);
    assert_memory_equal(t + 268, "FIRECKVM", 8);
    p->dsdt = rd64(t + 140);

    /* MADT */
    len = check_sdt(ram, p->madt, "APIC", 6, "FCVMMADT");
    assert_int_equal(len, 36 + 8 + 12 + 8 * vcpus);
    t = ram + p->madt;
    assert_int_equal(rd32(t + 36), 0xfee00000u);
    assert_int_equal(rd32(t + 40), 0);
    {
        size_t off = 44;
        uint32_t n_lapic = 0, n_ioapic = 0;
        while (off < len) {
            const uint8_t *e = t + off;
            assert_true(e[1] >= 2 && off + e[1] <= len);
            if (e[0] == 1) {
                assert_int_equal(e[1], 12);
                assert_int_equal(e[2], 0);
                assert_int_equal(rd32(e + 4), 0xfec00000u);
                assert_int_equal(rd32(e + 8), 0);
                n_ioapic++;
            } else {
                assert_int_equal(e[0], 0);
                assert_int_equal(e[1], 8);
                assert_int_equal(e[2], n_lapic); /* processor uid */
                assert_int_equal(e[3], n_lapic); /* apic id */
                assert_int_equal(rd32(e + 4), 1);
                n_lapic++;
            }
            off += e[1];
        }
        assert_int_equal(n_ioapic, 1);
        assert_int_equal(n_lapic, vcpus);
    }

    /* MCFG */
    len = check_sdt(ram, p->mcfg, "MCFG", 1, "FCMVMCFG");
    assert_int_equal(len, 60);
    t = ram + p->mcfg;
    assert_int_equal(rd64(t + 44), 0xeec00000ull);
    assert_int_equal(rd16(t + 52), 0);
    assert_int_equal(t[54], 0);
    assert_int_equal(t[55], 0);

    p->dsdt_len = check_sdt(ram, p->dsdt, "DSDT", 2, "FCVMDSDT");
}

static uint8_t *new_ram(void)
{
    uint8_t *ram = calloc(1, RAM_LEN);

    assert_non_null(ram);
    return ram;
}

static void make_devs(struct fw_virtio_dev *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        d[i].addr = 0xc0001000ull + 0x1000ull * i;
        d[i].gsi = (uint32_t)(5 + i);
    }
}

/* The walk for 1, 2 and 32 vCPUs, and the first-fit placement. */
static void test_tables_per_vcpu_count(void **state)
{
    static const uint32_t counts[] = {1, 2, 32};
    struct fw_virtio_dev devs[3];

    (void)state;
    make_devs(devs, 3);
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        uint8_t *ram = new_ram();
        struct fw_config cfg = {.vcpu_count = counts[i],
                                .n_virtio = 3,
                                .virtio = devs,
                                .vmgenid_gsi = 8,
                                .vmclock_gsi = 9};
        struct fw_layout l;
        struct sq_err err;
        struct parsed p;

        assert_int_equal(fw_write_tables_layout(ram, RAM_LEN, &cfg, &l, &err),
                         0);
        walk(ram, counts[i], &p);

        /* MPTable first at 0x9fc00, then the ACPI tables back to back in
         * Firecracker's order (first fit, byte alignment). */
        assert_int_equal(l.mptable_addr, 0x9fc00);
        assert_int_equal(l.mptable_len, mptable_size(counts[i]));
        assert_memory_equal(ram + 0x9fc00, "_MP_", 4);
        assert_int_equal(p.dsdt, l.dsdt_addr);
        assert_int_equal(l.dsdt_addr, l.mptable_addr + l.mptable_len);
        assert_int_equal(p.fadt, l.dsdt_addr + p.dsdt_len);
        assert_int_equal(p.madt, p.fadt + 276);
        assert_int_equal(p.mcfg, p.madt + 36 + 8 + 12 + 8 * counts[i]);
        assert_int_equal(p.xsdt, p.mcfg + 60);
        /* VMGenID and VMClock from the top. */
        assert_int_equal(l.vmgenid_addr, 0xdfff0);
        assert_int_equal(l.vmclock_addr, 0xde000);
        free(ram);
    }
}

static void test_acpi_dev_addrs(void **state)
{
    struct fw_config cfg = {.vcpu_count = 1};
    uint64_t g, c;

    (void)state;
    cfg.vmgenid_gsi = 5;
    cfg.vmclock_gsi = 6;
    fw_acpi_dev_addrs(&cfg, &g, &c);
    assert_int_equal(g, 0xdfff0);
    assert_int_equal(c, 0xde000);
    cfg.vmgenid_gsi = 0;
    fw_acpi_dev_addrs(&cfg, &g, &c);
    assert_int_equal(g, 0);
    assert_int_equal(c, 0xdf000);
    cfg.vmgenid_gsi = 5;
    cfg.vmclock_gsi = 0;
    fw_acpi_dev_addrs(&cfg, &g, &c);
    assert_int_equal(g, 0xdfff0);
    assert_int_equal(c, 0);
}

/* ---- iasl ---------------------------------------------------------------- */

static int have_iasl(void)
{
    return system("iasl -v >/dev/null 2>&1") == 0;
}

/* Disassemble one table with iasl; returns the .dsl text (malloc'd) and,
 * in *log, what iasl printed (malloc'd). */
static char *disassemble_log(const uint8_t *table, size_t len, char **log)
{
    char dir[] = "/tmp/squib-acpi-XXXXXX";
    char path[128], cmd[512];
    const char *names[2] = {"table.dsl", "iasl.log"};
    char *out[2] = {NULL, NULL};
    FILE *f;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/table.dat", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(table, 1, len, f), len);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "cd %s && iasl -d table.dat >iasl.log 2>&1",
             dir);
    assert_int_equal(system(cmd), 0);
    for (int i = 0; i < 2; i++) {
        long n;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        f = fopen(path, "rb");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        fseek(f, 0, SEEK_SET);
        out[i] = calloc(1, (size_t)n + 1);
        assert_non_null(out[i]);
        assert_int_equal(fread(out[i], 1, (size_t)n, f), (size_t)n);
        fclose(f);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    if (log)
        *log = out[1];
    else
        free(out[1]);
    return out[0];
}

static char *disassemble(const uint8_t *dsdt, size_t len)
{
    return disassemble_log(dsdt, len, NULL);
}

/* The text of "Device (name)" up to the next device (malloc'd) or NULL. */
static char *device_block(const char *dsl, const char *name)
{
    char key[64];
    const char *s, *e;
    char *out;

    snprintf(key, sizeof(key), "Device (%s)", name);
    s = strstr(dsl, key);
    if (!s)
        return NULL;
    e = strstr(s + strlen(key), "Device (");
    if (!e)
        e = s + strlen(s);
    out = strndup(s, (size_t)(e - s));
    assert_non_null(out);
    return out;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("missing \"%s\" in:\n%s", needle, hay);
}

static void check_dsdt_iasl(size_t n_virtio, int with_acpi_devs)
{
    struct fw_virtio_dev devs[19];
    uint8_t *ram = new_ram();
    struct fw_config cfg = {
        .vcpu_count = 2, .n_virtio = n_virtio, .virtio = devs};
    struct fw_layout l;
    struct sq_err err;
    struct parsed p;
    char *dsl, *blk, *log, want[128];

    make_devs(devs, n_virtio);
    if (with_acpi_devs) {
        cfg.vmgenid_gsi = (uint32_t)(5 + n_virtio);
        cfg.vmclock_gsi = (uint32_t)(6 + n_virtio);
    }
    assert_int_equal(fw_write_tables_layout(ram, RAM_LEN, &cfg, &l, &err), 0);
    walk(ram, 2, &p);
    dsl = disassemble_log(ram + p.dsdt, p.dsdt_len, &log);
    /* No checksum complaint, no unresolved reference. */
    assert_null(strstr(log, "Warning"));
    assert_null(strstr(dsl, "External ("));
    free(log);

    for (size_t i = 0; i < n_virtio; i++) {
        snprintf(want, sizeof(want), "V%03zu", i);
        blk = device_block(dsl, want);
        if (!blk)
            fail_msg("no device %s in:\n%s", want, dsl);
        assert_contains(blk, "Name (_HID, \"LNRO0005\")");
        snprintf(want, sizeof(want), "Name (_UID, 0x%08zX)", i);
        assert_contains(blk, want);
        assert_contains(blk, "Name (_CCA, One)");
        assert_contains(blk, "Memory32Fixed (ReadWrite,");
        snprintf(want, sizeof(want), "0x%08llX,         // Address Base",
                 (unsigned long long)devs[i].addr);
        assert_contains(blk, want);
        assert_contains(blk, "0x00001000,         // Address Length");
        assert_contains(blk, "Interrupt (ResourceConsumer, Edge, ActiveHigh, "
                             "Exclusive, ,, )");
        snprintf(want, sizeof(want), "0x%08X,", devs[i].gsi);
        assert_contains(blk, want);
        free(blk);
    }
    snprintf(want, sizeof(want), "V%03zu", n_virtio);
    assert_null(device_block(dsl, want));

    if (with_acpi_devs) {
        blk = device_block(dsl, "_SB.VGEN");
        assert_non_null(blk);
        assert_contains(blk, "Name (_HID, \"VMGENCTR\")");
        assert_contains(blk, "Name (_CID, \"VM_Gen_Counter\")");
        snprintf(want, sizeof(want), "0x%08llX,",
                 (unsigned long long)l.vmgenid_addr);
        assert_contains(blk, want);
        free(blk);
        blk = device_block(dsl, "_SB.VCLK");
        assert_non_null(blk);
        assert_contains(blk, "Name (_HID, \"AMZNC10C\")");
        assert_contains(blk, "Name (_CID, \"VMCLOCK\")");
        assert_contains(blk, "Return (0x0F)");
        snprintf(want, sizeof(want), "0x%016llX, // Range Minimum",
                 (unsigned long long)l.vmclock_addr);
        assert_contains(blk, want);
        assert_contains(blk, "0x0000000000001000, // Length");
        free(blk);
        blk = device_block(dsl, "_SB.GED");
        assert_non_null(blk);
        assert_contains(blk, "Name (_HID, \"ACPI0013\"");
        assert_contains(blk, "Method (_EVT, 1, Serialized)");
        snprintf(want, sizeof(want), "If ((Arg0 == 0x%02X))", cfg.vmgenid_gsi);
        assert_contains(blk, want);
        snprintf(want, sizeof(want), "If ((Arg0 == 0x%02X))", cfg.vmclock_gsi);
        assert_contains(blk, want);
        assert_contains(blk, "Notify (\\_SB.VGEN, 0x80)");
        assert_contains(blk, "Notify (\\_SB.VCLK, 0x80)");
        free(blk);
    } else {
        assert_null(strstr(dsl, "VGEN"));
        assert_null(strstr(dsl, "GED"));
    }

    blk = device_block(dsl, "_SB.COM1");
    assert_non_null(blk);
    assert_contains(blk, "EisaId (\"PNP0501\")");
    assert_contains(blk, "0x00000004,");
    assert_contains(blk, "0x03F8,             // Range Minimum");
    assert_contains(blk, "0x08,               // Length");
    free(blk);
    blk = device_block(dsl, "_SB.PS2");
    assert_non_null(blk);
    assert_contains(blk, "EisaId (\"PNP0303\")");
    assert_contains(blk, "Return (0x0F)");
    assert_contains(blk, "0x0060,             // Range Minimum");
    assert_contains(blk, "0x0064,             // Range Minimum");
    assert_contains(blk, "0x00000001,");
    free(blk);
    /* Order: virtio devices, VGEN, VCLK, GED, COM1, PS2. */
    if (with_acpi_devs) {
        assert_true(strstr(dsl, "Device (_SB.VGEN)") <
                    strstr(dsl, "Device (_SB.VCLK)"));
        assert_true(strstr(dsl, "Device (_SB.GED)") <
                    strstr(dsl, "Device (_SB.COM1)"));
        if (n_virtio)
            assert_true(strstr(dsl, "Device (V000)") <
                        strstr(dsl, "Device (_SB.VGEN)"));
    }
    assert_true(strstr(dsl, "Device (_SB.COM1)") <
                strstr(dsl, "Device (_SB.PS2)"));
    free(dsl);
    free(ram);
}

/* --enable-pci: PCI segment 0 instead of virtio-mmio devices. */
static void check_pci_iasl(void)
{
    uint8_t *ram = new_ram();
    struct fw_config cfg = {.vcpu_count = 4,
                            .vmgenid_gsi = 5,
                            .vmclock_gsi = 6,
                            .pci_enabled = true};
    struct fw_layout l;
    struct sq_err err;
    struct parsed p;
    char *dsl, *blk, want[64];

    assert_int_equal(fw_write_tables_layout(ram, RAM_LEN, &cfg, &l, &err), 0);
    walk(ram, 4, &p);
    dsl = disassemble(ram + p.dsdt, p.dsdt_len);
    blk = device_block(dsl, "_SB.PC00");
    assert_non_null(blk);
    assert_contains(blk, "Name (_HID, EisaId (\"PNP0A08\")");
    assert_contains(blk, "Name (_CID, EisaId (\"PNP0A03\")");
    assert_contains(blk, "Name (_SEG, 0x0000)");
    assert_contains(blk, "ToUUID (\"e5c937d0-3553-4d7a-9117-ea4d19c3434d\")");
    assert_contains(blk, "WordBusNumber (ResourceProducer");
    assert_contains(blk, "0xEEC00000,         // Address Base");
    assert_contains(blk, "0x00100000,         // Address Length");
    assert_contains(blk, "0x00000000C0001000, // Range Minimum");
    assert_contains(blk, "0x00000000EEBFFFFF, // Range Maximum");
    assert_contains(blk, "0x0000004000000000, // Range Minimum");
    assert_contains(blk, "0x0000007FFFFFFFFF, // Range Maximum");
    assert_contains(blk, "0xF300,             // Length");
    free(blk);
    for (unsigned i = 0; i < 32; i++) {
        snprintf(want, sizeof(want), "S%03u", i);
        blk = device_block(dsl, want);
        if (!blk)
            fail_msg("no slot %s", want);
        snprintf(want, sizeof(want), "Name (_ADR, 0x%08X)", i << 16);
        assert_contains(blk, want);
        assert_contains(blk, "\\_SB.PHPR.PCEJ (_SUN, _SEG)");
        free(blk);
    }
    assert_null(device_block(dsl, "S032"));
    assert_contains(dsl, "Notify (S031, Arg1)");
    assert_contains(dsl, "DVNT (\\_SB.PHPR.PCID, 0x03)");
    assert_contains(dsl, "0x001FFFFF,");
    assert_null(device_block(dsl, "V000"));
    blk = device_block(dsl, "_SB.GED");
    assert_non_null(blk);
    free(blk);
    free(dsl);
    free(ram);
}

/* The fixed tables as iasl's table parser decodes them. */
static void test_tables_iasl(void **state)
{
    uint8_t *ram;
    struct fw_config cfg = {
        .vcpu_count = 3, .vmgenid_gsi = 5, .vmclock_gsi = 6};
    struct fw_layout l;
    struct sq_err err;
    char *dsl, *log, want[96];

    (void)state;
    if (!have_iasl()) {
        print_message("skipped: iasl (acpica-tools) not installed\n");
        skip();
    }
    ram = new_ram();
    assert_int_equal(fw_write_tables_layout(ram, RAM_LEN, &cfg, &l, &err), 0);

    dsl = disassemble_log(ram + l.fadt_addr, l.fadt_len, &log);
    assert_null(strstr(log, "Warning"));
    assert_contains(dsl, "Hardware Reduced (V5) : 1");
    assert_contains(dsl, "Control Method Power Button (V1) : 1");
    assert_contains(dsl, "Control Method Sleep Button (V1) : 1");
    assert_contains(dsl, "VGA Not Present (V4) : 1");
    assert_contains(dsl, "FADT Minor Revision : 05");
    assert_contains(dsl, "Hypervisor ID : 4D564B4345524946"); /* FIRECKVM */
    snprintf(want, sizeof(want),
             "[08Ch 0140   8]                 DSDT "
             "Address : %016llX",
             (unsigned long long)l.dsdt_addr);
    assert_contains(dsl, want);
    free(dsl);
    free(log);

    dsl = disassemble_log(ram + l.madt_addr, l.madt_len, &log);
    assert_null(strstr(log, "Warning"));
    assert_contains(dsl, "Local Apic Address : FEE00000");
    assert_contains(dsl, "Subtable Type : 01 [I/O APIC]");
    assert_contains(dsl, "Address : FEC00000");
    assert_contains(dsl, "Local Apic ID : 02");
    assert_null(strstr(dsl, "Local Apic ID : 03"));
    free(dsl);
    free(log);

    dsl = disassemble_log(ram + l.mcfg_addr, l.mcfg_len, &log);
    assert_null(strstr(log, "Warning"));
    assert_contains(dsl, "Base Address : 00000000EEC00000");
    assert_contains(dsl, "End Bus Number : 00");
    free(dsl);
    free(log);

    dsl = disassemble_log(ram + l.xsdt_addr, l.xsdt_len, &log);
    assert_null(strstr(log, "Warning"));
    snprintf(want, sizeof(want), "ACPI Table Address   2 : %016llX",
             (unsigned long long)l.mcfg_addr);
    assert_contains(dsl, want);
    free(dsl);
    free(log);

    /* A corrupted checksum is what iasl would complain about. */
    ram[l.mcfg_addr + 9] ^= 1;
    dsl = disassemble_log(ram + l.mcfg_addr, l.mcfg_len, &log);
    assert_non_null(strstr(log, "Incorrect checksum"));
    free(dsl);
    free(log);
    free(ram);
}

static void test_dsdt_iasl(void **state)
{
    (void)state;
    if (!have_iasl()) {
        print_message("skipped: iasl (acpica-tools) not installed\n");
        skip();
    }
    check_dsdt_iasl(0, 1);
    check_dsdt_iasl(1, 1);
    check_dsdt_iasl(17, 1);
    check_dsdt_iasl(19, 0);
    check_dsdt_iasl(0, 0);
    check_pci_iasl();
}

/* ---- hostile input ------------------------------------------------------- */

/* RAM ending exactly after the RSDP, with a PROT_NONE page behind it and a
 * pattern everywhere, so overruns fault and stray writes show. */
struct guarded {
    uint8_t *map;
    size_t map_len;
    uint8_t *ram;
    size_t ram_len;
};

static void guarded_new(struct guarded *g)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t need = FW_RSDP_ADDR + FW_RSDP_SIZE;
    size_t data = (need + page - 1) / page * page;

    g->map_len = data + page;
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->map != MAP_FAILED);
    assert_int_equal(mprotect(g->map + data, page, PROT_NONE), 0);
    g->ram = g->map + data - need;
    g->ram_len = need;
    memset(g->ram, 0xa5, need);
}

static int untouched(const struct guarded *g)
{
    for (size_t i = 0; i < g->ram_len; i++)
        if (g->ram[i] != 0xa5)
            return 0;
    return 1;
}

static void test_guarded_exact_ram(void **state)
{
    struct fw_virtio_dev devs[17];
    struct fw_config cfg = {.vcpu_count = 254,
                            .n_virtio = 17,
                            .virtio = devs,
                            .vmgenid_gsi = 22,
                            .vmclock_gsi = 23};
    struct guarded g;
    struct fw_layout l;
    struct sq_err err;
    struct parsed p;

    (void)state;
    make_devs(devs, 17);
    guarded_new(&g);
    assert_int_equal(fw_write_tables_layout(g.ram, g.ram_len, &cfg, &l, &err),
                     0);
    walk(g.ram, 254, &p);
    /* Nothing outside the tables and the RSDP changed. */
    for (size_t i = 0; i < g.ram_len; i++) {
        int in = (i >= l.mptable_addr && i < l.xsdt_addr + l.xsdt_len) ||
                 i >= FW_RSDP_ADDR;
        if (!in && g.ram[i] != 0xa5)
            fail_msg("stray write at 0x%zx", i);
    }
    /* One byte short: refused, nothing written. */
    memset(g.ram, 0xa5, g.ram_len);
    assert_int_equal(fw_write_tables(g.ram + 1, g.ram_len - 1, &cfg, &err),
                     -ENOSPC);
    assert_true(untouched(&g));
    munmap(g.map, g.map_len);
}

static void expect_refused(const struct fw_config *cfg, int code,
                           const char *msg_part)
{
    struct guarded g;
    struct sq_err err;

    guarded_new(&g);
    sq_err_clear(&err);
    assert_int_equal(fw_write_tables(g.ram, g.ram_len, cfg, &err), code);
    assert_int_equal(err.code, code);
    if (!strstr(err.msg, msg_part))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, msg_part);
    assert_true(untouched(&g));
    munmap(g.map, g.map_len);
}

static void test_hostile_configs(void **state)
{
    struct fw_virtio_dev devs[25];
    struct fw_config cfg;

    (void)state;
    make_devs(devs, 25);

    cfg = (struct fw_config){.vcpu_count = 0};
    expect_refused(&cfg, -EINVAL, "Number of CPUs exceeds the maximum");
    cfg.vcpu_count = 255;
    expect_refused(&cfg, -EINVAL, "Number of CPUs exceeds the maximum");
    cfg.vcpu_count = 100000;
    expect_refused(&cfg, -EINVAL, "Number of CPUs exceeds the maximum");

    /* More virtio devices than legacy GSIs. */
    cfg = (struct fw_config){.vcpu_count = 1, .n_virtio = 20, .virtio = devs};
    expect_refused(&cfg, -EINVAL, "The requested resource is not available.");
    cfg.n_virtio = (size_t)-1;
    expect_refused(&cfg, -EINVAL, "The requested resource is not available.");
    cfg.n_virtio = 1;
    cfg.virtio = NULL;
    expect_refused(&cfg, -EINVAL, "The requested resource is not available.");

    /* virtio-mmio devices cannot be described together with PCI. */
    cfg = (struct fw_config){
        .vcpu_count = 1, .n_virtio = 1, .virtio = devs, .pci_enabled = true};
    expect_refused(&cfg, -EINVAL, "virtio-mmio devices with PCI enabled");

    /* GSIs outside 5..23, duplicates, addresses above 4 GiB. */
    devs[0].gsi = 4;
    cfg = (struct fw_config){.vcpu_count = 1, .n_virtio = 1, .virtio = devs};
    expect_refused(&cfg, -EINVAL, "invalid GSI 4");
    devs[0].gsi = 24;
    expect_refused(&cfg, -EINVAL, "invalid GSI 24");
    make_devs(devs, 25);
    devs[1].gsi = 5;
    cfg.n_virtio = 2;
    expect_refused(&cfg, -EINVAL, "invalid GSI 5");
    make_devs(devs, 25);
    devs[0].addr = 0xfffff001ull;
    cfg.n_virtio = 1;
    expect_refused(&cfg, -EINVAL, "not 32-bit");
    devs[0].addr = 0x100000000ull;
    expect_refused(&cfg, -EINVAL, "not 32-bit");
    make_devs(devs, 25);

    /* VMGenID / VMClock GSIs clashing or out of range. */
    cfg = (struct fw_config){
        .vcpu_count = 1, .n_virtio = 19, .virtio = devs, .vmgenid_gsi = 23};
    expect_refused(&cfg, -EINVAL, "VMGenID: Could not allocate GSI");
    cfg = (struct fw_config){.vcpu_count = 1,
                             .n_virtio = 18,
                             .virtio = devs,
                             .vmgenid_gsi = 23,
                             .vmclock_gsi = 23};
    expect_refused(&cfg, -EINVAL, "VMClock: Could not allocate GSI");
    cfg.vmclock_gsi = 99;
    expect_refused(&cfg, -EINVAL, "VMClock: Could not allocate GSI");

    /* RAM that does not reach the RSDP. */
    {
        uint8_t small[4096];
        struct sq_err err;
        cfg = (struct fw_config){.vcpu_count = 1};
        assert_int_equal(fw_write_tables(small, sizeof(small), &cfg, &err),
                         -ENOSPC);
        assert_int_equal(fw_write_tables(NULL, RAM_LEN, &cfg, &err), -ENOSPC);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables_per_vcpu_count),
        cmocka_unit_test(test_acpi_dev_addrs),
        cmocka_unit_test(test_dsdt_iasl),
        cmocka_unit_test(test_tables_iasl),
        cmocka_unit_test(test_guarded_exact_ram),
        cmocka_unit_test(test_hostile_configs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
