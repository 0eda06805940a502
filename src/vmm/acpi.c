/*
 * acpi.c: MPTable + ACPI tables in system memory (see acpi.h).
 *
 * Table layouts are those of ACPI 6.5 as Firecracker fills them:
 *   every SDT starts with the 36-byte header: signature, length, revision,
 *   checksum, OEM id "FIRECK", OEM table id, OEM revision 0, creator id
 *   "FCAT", creator revision 0x20240119.
 *   DSDT rev 2: header + AML.
 *   FACP rev 6 (276 bytes, minor version 5): flags = HW_REDUCED_ACPI |
 *       PWR_BUTTON | SLP_BUTTON, IAPC boot arch = VGA not present, X_DSDT,
 *       hypervisor vendor "FIRECKVM"; everything else 0.
 *   APIC rev 6: LAPIC address, flags 0, one IOAPIC (id 0, GSI base 0), one
 *       processor local APIC per vCPU (uid = id = index, enabled).
 *   MCFG rev 1: one allocation: ECAM base, segment 0, buses 0..0.
 *   XSDT rev 1: FADT, MADT, MCFG.
 *   RSDP rev 2 (36 bytes): no RSDT, XSDT pointer, both checksums.
 *
 * Placement mimics Firecracker's vm-allocator on the system-memory range:
 * VMGenID and VMClock are "last match" (highest aligned fit), everything
 * else "first match" with 1-byte alignment. Addresses are all computed
 * before the first byte is written, so a configuration that does not fit
 * leaves guest memory untouched.
 */
#include "vmm/acpi.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/le.h"
#include "vmm/aml.h"
#include "vmm/errors.h"
#include "vmm/mptable.h"

#define OEM_ID           "FIRECK"
#define CREATOR_ID       "FCAT"
#define CREATOR_REVISION 0x20240119u
#define SDT_HEADER_LEN   36

#define FADT_LEN                            276
#define FADT_F_PWR_BUTTON                   4
#define FADT_F_SLP_BUTTON                   5
#define FADT_F_HW_REDUCED_ACPI              20
#define IAPC_BOOT_ARG_FLAGS_VGA_NOT_PRESENT 2

#define MCFG_LEN (SDT_HEADER_LEN + 8 + 16)

#define ERR_SYS     VMM_ERR_SYS_CONFIG
#define ERR_MPTABLE ERR_SYS "Error writing MP table to memory: "
#define ERR_ACPI    ERR_SYS "Error configuring ACPI: "

/* ---- system memory allocator ------------------------------------------ */

#define SYSMEM_MAX_RANGES 16

struct sysmem {
    uint64_t start, end; /* [start, end) */
    size_t n;
    struct {
        uint64_t start, end;
    } used[SYSMEM_MAX_RANGES];
};

static void sysmem_init(struct sysmem *m)
{
    memset(m, 0, sizeof(*m));
    m->start = FW_SYSTEM_MEM_START;
    m->end = FW_RSDP_ADDR;
}

static int sysmem_free_at(const struct sysmem *m, uint64_t a, uint64_t size)
{
    if (a < m->start || size > m->end - a)
        return 0;
    for (size_t i = 0; i < m->n; i++)
        if (a < m->used[i].end && m->used[i].start < a + size)
            return 0;
    return 1;
}

static void sysmem_take(struct sysmem *m, uint64_t a, uint64_t size)
{
    m->used[m->n].start = a;
    m->used[m->n].end = a + size;
    m->n++;
}

/* Lowest aligned free address that fits `size` bytes; a free block always
 * starts at the range start or at the end of a used block. */
static int sysmem_first(struct sysmem *m, uint64_t size, uint64_t align,
                        uint64_t *out)
{
    uint64_t best = UINT64_MAX;

    if (size == 0 || m->n >= SYSMEM_MAX_RANGES)
        return -ENOSPC;
    for (size_t i = 0; i <= m->n; i++) {
        uint64_t a = i == m->n ? m->start : m->used[i].end;
        a = (a + align - 1) & ~(align - 1);
        if (a < best && sysmem_free_at(m, a, size))
            best = a;
    }
    if (best == UINT64_MAX)
        return -ENOSPC;
    sysmem_take(m, best, size);
    *out = best;
    return 0;
}

/* Highest aligned free address that fits; a free block always ends at the
 * range end or at the start of a used block. */
static int sysmem_last(struct sysmem *m, uint64_t size, uint64_t align,
                       uint64_t *out)
{
    uint64_t best = 0;
    int found = 0;

    if (size == 0 || m->n >= SYSMEM_MAX_RANGES)
        return -ENOSPC;
    for (size_t i = 0; i <= m->n; i++) {
        uint64_t e = i == m->n ? m->end : m->used[i].start;
        uint64_t a;
        if (e < m->start + size)
            continue;
        a = (e - size) & ~(align - 1);
        if (sysmem_free_at(m, a, size) && (!found || a > best)) {
            best = a;
            found = 1;
        }
    }
    if (!found)
        return -ENOSPC;
    sysmem_take(m, best, size);
    *out = best;
    return 0;
}

/* Reserve the VMGenID and VMClock buffers, in Firecracker's attach order. */
static int place_acpi_devs(struct sysmem *m, const struct fw_config *cfg,
                           uint64_t *vmgenid, uint64_t *vmclock)
{
    int rc;

    *vmgenid = 0;
    *vmclock = 0;
    if (cfg->vmgenid_gsi) {
        rc = sysmem_last(m, FW_VMGENID_SIZE, 8, vmgenid);
        if (rc)
            return rc;
    }
    if (cfg->vmclock_gsi) {
        rc = sysmem_last(m, FW_VMCLOCK_SIZE, FW_VMCLOCK_SIZE, vmclock);
        if (rc)
            return rc;
    }
    return 0;
}

int fw_acpi_dev_addrs(const struct fw_config *cfg, uint64_t *vmgenid_addr,
                      uint64_t *vmclock_addr)
{
    struct sysmem m;

    sysmem_init(&m);
    /* An empty range always holds both buffers. */
    return place_acpi_devs(&m, cfg, vmgenid_addr, vmclock_addr);
}

/* ---- DSDT ---------------------------------------------------------------- */

static int gsi_ok(uint32_t gsi)
{
    return gsi >= FW_GSI_LEGACY_START && gsi <= FW_GSI_LEGACY_END;
}

static int validate(const struct fw_config *cfg, struct sq_err *err)
{
    uint32_t used = 0; /* bit per GSI */

    if (cfg->vcpu_count == 0 || cfg->vcpu_count > FW_MAX_VCPUS)
        return sq_errf(err, -EINVAL, ERR_MPTABLE MPTABLE_ERR_TOO_MANY_CPUS);
    if (cfg->pci_enabled && cfg->n_virtio)
        return sq_errf(err, -EINVAL,
                       ERR_ACPI "Error creating AML bytecode: "
                                "virtio-mmio devices with PCI enabled");
    if (cfg->n_virtio > FW_GSI_LEGACY_END - FW_GSI_LEGACY_START + 1 ||
        (cfg->n_virtio && !cfg->virtio))
        return sq_errf(err, -EINVAL, VMM_ERR_NO_RESOURCE);
    for (size_t i = 0; i < cfg->n_virtio; i++) {
        const struct fw_virtio_dev *d = &cfg->virtio[i];
        if (!gsi_ok(d->gsi) || (used & (1u << d->gsi)))
            return sq_errf(err, -EINVAL,
                           ERR_ACPI
                           "Error creating AML "
                           "bytecode: virtio device %zu has invalid GSI %u",
                           i, d->gsi);
        if (d->addr > UINT32_MAX - FW_VIRTIO_MMIO_LEN + 1)
            return sq_errf(err, -EINVAL,
                           ERR_ACPI
                           "Error creating AML "
                           "bytecode: virtio device %zu address 0x%llx is "
                           "not 32-bit",
                           i, (unsigned long long)d->addr);
        used |= 1u << d->gsi;
    }
    if (cfg->vmgenid_gsi &&
        (!gsi_ok(cfg->vmgenid_gsi) || (used & (1u << cfg->vmgenid_gsi))))
        return sq_errf(err, -EINVAL,
                       "VMGenID: Could not allocate GSI: "
                       "The requested resource is not available.");
    if (cfg->vmgenid_gsi)
        used |= 1u << cfg->vmgenid_gsi;
    if (cfg->vmclock_gsi &&
        (!gsi_ok(cfg->vmclock_gsi) || (used & (1u << cfg->vmclock_gsi))))
        return sq_errf(err, -EINVAL,
                       "VMClock: Could not allocate GSI: "
                       "The requested resource is not available.");
    return 0;
}

/* Name(_CRS, ResourceTemplate() { Interrupt(consumer, edge, high,
 * exclusive) {gsi} }) pieces are shared by several devices. */
static void irq_res(struct buf *b, uint32_t gsi)
{
    aml_interrupt(b, 1, 1, 0, 0, gsi);
}

static int virtio_aml(struct buf *b, const struct fw_virtio_dev *d)
{
    uint32_t dev_id = d->gsi - FW_GSI_LEGACY_START;
    char name[8];
    size_t dev, rt;
    int rc;

    snprintf(name, sizeof(name), "V%03u", dev_id);
    rc = aml_device_begin(b, name, &dev);
    if (rc)
        return rc;
    aml_name_string(b, "_HID", "LNRO0005");
    aml_name(b, "_UID");
    aml_dword(b, dev_id);
    aml_name(b, "_CCA");
    aml_one(b);
    aml_name(b, "_CRS");
    rt = aml_restemplate_begin(b);
    aml_memory32_fixed(b, 1, (uint32_t)d->addr, FW_VIRTIO_MMIO_LEN);
    irq_res(b, d->gsi);
    aml_restemplate_end(b, rt);
    aml_device_end(b, dev);
    return 0;
}

static int sta_present(struct buf *b)
{
    size_t m;
    int rc = aml_method_begin(b, "_STA", 0, 0, &m);

    if (rc)
        return rc;
    aml_return(b);
    aml_byte(b, 0x0f);
    aml_method_end(b, m);
    return 0;
}

static void vmgenid_aml(struct buf *b, uint64_t addr)
{
    size_t dev, pkg;

    aml_device_begin(b, "_SB_.VGEN", &dev);
    aml_name_string(b, "_HID", "VMGENCTR");
    aml_name_string(b, "_CID", "VM_Gen_Counter");
    aml_name_string(b, "_DDN", "VM_Gen_Counter");
    aml_name(b, "ADDR");
    pkg = aml_package_begin(b);
    aml_dword(b, (uint32_t)addr);
    aml_dword(b, (uint32_t)(addr >> 32));
    aml_package_end(b, pkg, 2);
    aml_device_end(b, dev);
}

static void vmclock_aml(struct buf *b, uint64_t addr)
{
    size_t dev, rt;

    aml_device_begin(b, "_SB_.VCLK", &dev);
    aml_name_string(b, "_HID", "AMZNC10C");
    aml_name_string(b, "_CID", "VMCLOCK");
    aml_name_string(b, "_DDN", "VMCLOCK");
    sta_present(b);
    aml_name(b, "_CRS");
    rt = aml_restemplate_begin(b);
    aml_qword_memory(b, 1, 0, addr, addr + FW_VMCLOCK_SIZE - 1);
    aml_restemplate_end(b, rt);
    aml_device_end(b, dev);
}

/* If (Arg0 == gsi) { Notify(path, 0x80) } */
static void ged_notify(struct buf *b, uint32_t gsi, const char *path)
{
    size_t m = aml_if_begin(b);

    aml_lequal(b);
    aml_arg(b, 0);
    aml_byte(b, (uint8_t)gsi);
    aml_notify(b);
    aml_path(b, path);
    aml_uint(b, 0x80);
    aml_if_end(b, m);
}

static void ged_aml(struct buf *b, const struct fw_config *cfg)
{
    size_t dev, rt, evt;

    aml_device_begin(b, "_SB_.GED_", &dev);
    aml_name_string(b, "_HID", "ACPI0013");
    aml_name(b, "_CRS");
    rt = aml_restemplate_begin(b);
    if (cfg->vmgenid_gsi)
        irq_res(b, cfg->vmgenid_gsi);
    if (cfg->vmclock_gsi)
        irq_res(b, cfg->vmclock_gsi);
    aml_restemplate_end(b, rt);
    aml_method_begin(b, "_EVT", 1, 1, &evt);
    if (cfg->vmgenid_gsi)
        ged_notify(b, cfg->vmgenid_gsi, "\\_SB_.VGEN");
    if (cfg->vmclock_gsi)
        ged_notify(b, cfg->vmclock_gsi, "\\_SB_.VCLK");
    aml_method_end(b, evt);
    aml_device_end(b, dev);
}

/* _DSM of the PCI root: the PCI Firmware spec's "device labeling" UUID
 * e5c937d0-3553-4d7a-9117-ea4d19c3434d in ACPI's mixed-endian layout;
 * function 0 reports functions 0 and 5, function 5
 * (DSM_PCI_PRESERVE_BOOT_CONFIG) returns 0 so Linux keeps squib's BARs. */
static void pci_dsm_aml(struct buf *b)
{
    static const uint8_t uuid[16] = {0xd0, 0x37, 0xc9, 0xe5, 0x53, 0x35,
                                     0x7a, 0x4d, 0x91, 0x17, 0xea, 0x4d,
                                     0x19, 0xc3, 0x43, 0x4d};
    static const uint8_t funcs = 0x21, none = 0x00;
    size_t m, outer, inner;

    aml_method_begin(b, "_DSM", 4, 0, &m);
    outer = aml_if_begin(b);
    aml_lequal(b);
    aml_arg(b, 0);
    aml_buffer(b, uuid, sizeof(uuid));
    inner = aml_if_begin(b);
    aml_lequal(b);
    aml_arg(b, 2);
    aml_zero(b);
    aml_return(b);
    aml_buffer(b, &funcs, 1);
    aml_if_end(b, inner);
    inner = aml_if_begin(b);
    aml_lequal(b);
    aml_arg(b, 2);
    aml_byte(b, 0x05);
    aml_return(b);
    aml_zero(b);
    aml_if_end(b, inner);
    aml_if_end(b, outer);
    aml_return(b);
    aml_buffer(b, &none, 1);
    aml_method_end(b, m);
}

/*
 * PCI segment 0 as Firecracker describes it with --enable-pci: the host
 * bridge, its resources, 32 hot-pluggable slots S000..S031 whose eject and
 * notify methods call into \_SB_.PHPR (the hot-plug controller object the
 * guest resolves at run time), and a routing table with every slot's INTx
 * on GSI 0 (devices use MSI-X).
 */
static void pci_segment_aml(struct buf *b)
{
    size_t dev, rt, m, slot, pkg, inner;
    char name[8];

    aml_device_begin(b, "_SB_.PC00", &dev);
    aml_name(b, "_HID");
    aml_eisa_id(b, "PNP0A08");
    aml_name(b, "_CID");
    aml_eisa_id(b, "PNP0A03");
    aml_name(b, "_ADR");
    aml_zero(b);
    aml_name(b, "_SEG");
    aml_word(b, 0);
    aml_name(b, "_UID");
    aml_zero(b);
    aml_name(b, "_CCA");
    aml_one(b);
    aml_name(b, "SUPP");
    aml_zero(b);
    aml_method_begin(b, "_PXM", 0, 0, &m);
    aml_return(b);
    aml_dword(b, 0); /* proximity domain */
    aml_method_end(b, m);
    pci_dsm_aml(b);

    aml_name(b, "_CRS");
    rt = aml_restemplate_begin(b);
    aml_word_bus_number(b, 0, 0);
    aml_io(b, 0xcf8, 0xcf8, 1, 8);
    aml_memory32_fixed(b, 1, (uint32_t)FW_PCI_MMCONFIG_START,
                       FW_PCI_ECAM_SEGMENT_SIZE);
    aml_qword_memory(b, 0, 1, FW_PCI_MEM32_START, FW_PCI_MEM32_END);
    aml_qword_memory(b, 0, 1, FW_PCI_MEM64_START, FW_PCI_MEM64_END);
    aml_word_io(b, 0, 0x0cf7);
    aml_word_io(b, 0x0d00, 0xffff);
    aml_restemplate_end(b, rt);

    for (unsigned i = 0; i < 32; i++) {
        snprintf(name, sizeof(name), "S%03u", i);
        aml_device_begin(b, name, &slot);
        aml_name(b, "_SUN");
        aml_byte(b, (uint8_t)i);
        aml_name(b, "_ADR");
        aml_dword(b, i << 16);
        aml_method_begin(b, "_EJ0", 1, 1, &m);
        aml_path(b, "\\_SB_.PHPR.PCEJ");
        aml_path(b, "_SUN");
        aml_path(b, "_SEG");
        aml_method_end(b, m);
        aml_device_end(b, slot);
    }

    /* DVNT (slot bitmap, event): notify every slot whose bit is set. */
    aml_method_begin(b, "DVNT", 2, 1, &m);
    for (unsigned i = 0; i < 32; i++) {
        aml_and(b);
        aml_arg(b, 0);
        aml_dword(b, 1u << i);
        aml_local(b, 0);
        inner = aml_if_begin(b);
        aml_lequal(b);
        aml_local(b, 0);
        aml_dword(b, 1u << i);
        aml_notify(b);
        snprintf(name, sizeof(name), "S%03u", i);
        aml_path(b, name);
        aml_arg(b, 1);
        aml_if_end(b, inner);
    }
    aml_method_end(b, m);

    /* PCNT: device check for plugged slots, eject request for unplugged. */
    aml_method_begin(b, "PCNT", 0, 1, &m);
    aml_acquire(b, "\\_SB_.PHPR.BLCK", 0xffff);
    aml_store(b);
    aml_path(b, "_SEG");
    aml_path(b, "\\_SB_.PHPR.PSEG");
    aml_path(b, "DVNT");
    aml_path(b, "\\_SB_.PHPR.PCIU");
    aml_one(b);
    aml_path(b, "DVNT");
    aml_path(b, "\\_SB_.PHPR.PCID");
    aml_uint(b, 3);
    aml_release(b, "\\_SB_.PHPR.BLCK");
    aml_method_end(b, m);

    aml_name(b, "_PRT");
    pkg = aml_package_begin(b);
    for (unsigned i = 0; i < 32; i++) {
        size_t e = aml_package_begin(b);
        aml_dword(b, (i & 0x1f) << 16 | 0xffff); /* any function of slot i */
        aml_byte(b, 0);
        aml_byte(b, 0);
        aml_dword(b, 0); /* GSI */
        aml_package_end(b, e, 4);
    }
    aml_package_end(b, pkg, 32);
    aml_device_end(b, dev);
}

static void legacy_aml(struct buf *b)
{
    size_t dev, rt;

    /* COM1: 16550A at 0x3f8, IRQ 4. */
    aml_device_begin(b, "_SB_.COM1", &dev);
    aml_name(b, "_HID");
    aml_eisa_id(b, "PNP0501");
    aml_name(b, "_UID");
    aml_byte(b, 0);
    aml_name_string(b, "_DDN", "COM1");
    aml_name(b, "_CRS");
    rt = aml_restemplate_begin(b);
    irq_res(b, 4);
    aml_io(b, 0x3f8, 0x3f8, 1, 8);
    aml_restemplate_end(b, rt);
    aml_device_end(b, dev);

    /* i8042: data port 0x60, a command port at 0x64 so Linux is content,
     * keyboard IRQ 1. */
    aml_device_begin(b, "_SB_.PS2_", &dev);
    aml_name(b, "_HID");
    aml_eisa_id(b, "PNP0303");
    sta_present(b);
    aml_name(b, "_CRS");
    rt = aml_restemplate_begin(b);
    aml_io(b, 0x60, 0x60, 1, 1);
    aml_io(b, 0x64, 0x64, 1, 1);
    irq_res(b, 1);
    aml_restemplate_end(b, rt);
    aml_device_end(b, dev);
}

int fw_build_dsdt_aml(const struct fw_config *cfg, uint64_t vmgenid_addr,
                      uint64_t vmclock_addr, struct buf *aml,
                      struct sq_err *err)
{
    int rc = validate(cfg, err);

    if (rc)
        return rc;
    if (cfg->pci_enabled)
        pci_segment_aml(aml);
    for (size_t i = 0; i < cfg->n_virtio; i++) {
        rc = virtio_aml(aml, &cfg->virtio[i]);
        if (rc)
            return sq_errf(err, rc,
                           ERR_ACPI "Error creating AML bytecode: "
                                    "Invalid part length");
    }
    if (cfg->vmgenid_gsi)
        vmgenid_aml(aml, vmgenid_addr);
    if (cfg->vmclock_gsi)
        vmclock_aml(aml, vmclock_addr);
    if (cfg->vmgenid_gsi || cfg->vmclock_gsi)
        ged_aml(aml, cfg);
    legacy_aml(aml);
    return 0;
}

/* ---- SDTs ---------------------------------------------------------------- */

/* Fill the 36-byte SDT header (checksum left 0). */
static void sdt_header(uint8_t *p, const char sig[4], uint32_t len, uint8_t rev,
                       const char table_id[8])
{
    memcpy(p, sig, 4);
    le_put32(p + 4, len);
    p[8] = rev;
    p[9] = 0;
    memcpy(p + 10, OEM_ID, 6);
    memcpy(p + 16, table_id, 8);
    le_put32(p + 24, 0); /* OEM revision */
    memcpy(p + 28, CREATOR_ID, 4);
    le_put32(p + 32, CREATOR_REVISION);
}

static void sdt_checksum(uint8_t *p, size_t len)
{
    p[9] = 0;
    p[9] = (uint8_t)-byte_sum8(p, len);
}

int fw_write_tables(uint8_t *ram, uint64_t ram_len, const struct fw_config *cfg,
                    struct sq_err *err)
{
    return fw_write_tables_layout(ram, ram_len, cfg, NULL, err);
}

int fw_write_tables_layout(uint8_t *ram, uint64_t ram_len,
                           const struct fw_config *cfg, struct fw_layout *out,
                           struct sq_err *err)
{
    struct buf dsdt = BUF_INIT;
    struct sysmem m;
    struct fw_layout l;
    uint8_t fadt[FADT_LEN], mcfg[MCFG_LEN], xsdt[SDT_HEADER_LEN + 3 * 8];
    uint8_t rsdp[FW_RSDP_SIZE];
    uint8_t *madt = NULL;
    uint8_t hdr[SDT_HEADER_LEN];
    int rc;

    memset(&l, 0, sizeof(l));
    rc = validate(cfg, err);
    if (rc)
        return rc;
    if (!ram || ram_len < FW_RSDP_ADDR + FW_RSDP_SIZE)
        return sq_errf(err, -ENOSPC, ERR_MPTABLE MPTABLE_ERR_NOT_ENOUGH_MEMORY);

    sysmem_init(&m);
    rc = place_acpi_devs(&m, cfg, &l.vmgenid_addr, &l.vmclock_addr);
    if (rc)
        return sq_errf(err, rc,
                       "Could not allocate guest memory: The "
                       "requested resource is not available.");

    /* Sizes first, then first-fit placement in Firecracker's order. */
    l.mptable_len = mptable_size(cfg->vcpu_count);
    if (sysmem_first(&m, l.mptable_len, 1, &l.mptable_addr))
        return sq_errf(err, -ENOSPC,
                       ERR_MPTABLE "Failure to allocate memory for MPTable");

    if (err)
        sq_err_clear(err);
    rc = fw_build_dsdt_aml(cfg, l.vmgenid_addr, l.vmclock_addr, &dsdt, err);
    if (rc)
        goto out;
    l.dsdt_len = SDT_HEADER_LEN + dsdt.len;
    l.fadt_len = FADT_LEN;
    l.madt_len = SDT_HEADER_LEN + 8 + 12 + 8 * (size_t)cfg->vcpu_count;
    l.mcfg_len = MCFG_LEN;
    l.xsdt_len = sizeof(xsdt);
    if (l.dsdt_len > UINT32_MAX ||
        sysmem_first(&m, l.dsdt_len, 1, &l.dsdt_addr) ||
        sysmem_first(&m, l.fadt_len, 1, &l.fadt_addr) ||
        sysmem_first(&m, l.madt_len, 1, &l.madt_addr) ||
        sysmem_first(&m, l.mcfg_len, 1, &l.mcfg_addr) ||
        sysmem_first(&m, l.xsdt_len, 1, &l.xsdt_addr)) {
        rc = sq_errf(err, -ENOSPC,
                     ERR_ACPI "Could not allocate resources: "
                              "The requested resource is not available.");
        goto out;
    }
    l.rsdp_addr = FW_RSDP_ADDR;

    /* Everything fits inside [0x9fc00, 0xe0000) by construction and
     * ram_len covers that range (checked above). */
    rc = mptable_write(ram + l.mptable_addr, l.mptable_len, l.mptable_addr,
                       cfg->vcpu_count, err);
    if (rc) {
        if (err)
            sq_err_prefix(err, ERR_MPTABLE);
        goto out;
    }

    /* DSDT: header checksum covers header and AML. */
    sdt_header(hdr, "DSDT", (uint32_t)l.dsdt_len, 2, "FCVMDSDT");
    hdr[9] =
        (uint8_t) - (uint8_t)(byte_sum8(hdr, sizeof(hdr)) +
                              byte_sum8((const uint8_t *)dsdt.data, dsdt.len));
    memcpy(ram + l.dsdt_addr, hdr, sizeof(hdr));
    memcpy(ram + l.dsdt_addr + SDT_HEADER_LEN, dsdt.data, dsdt.len);

    memset(fadt, 0, sizeof(fadt));
    sdt_header(fadt, "FACP", FADT_LEN, 6, "FCVMFADT");
    le_put16(fadt + 109, 1u << IAPC_BOOT_ARG_FLAGS_VGA_NOT_PRESENT);
    le_put32(fadt + 112, (1u << FADT_F_HW_REDUCED_ACPI) |
                             (1u << FADT_F_PWR_BUTTON) |
                             (1u << FADT_F_SLP_BUTTON));
    fadt[131] = 5;                     /* FADT minor version */
    le_put64(fadt + 140, l.dsdt_addr); /* X_DSDT */
    memcpy(fadt + 268, "FIRECKVM", 8);
    sdt_checksum(fadt, sizeof(fadt));
    memcpy(ram + l.fadt_addr, fadt, sizeof(fadt));

    madt = ram + l.madt_addr;
    memset(madt, 0, l.madt_len);
    sdt_header(madt, "APIC", (uint32_t)l.madt_len, 6, "FCVMMADT");
    le_put32(madt + 36, FW_LAPIC_ADDR);
    le_put32(madt + 40, 0);
    madt[44] = 1; /* I/O APIC */
    madt[45] = 12;
    madt[46] = 0; /* IOAPIC id */
    le_put32(madt + 48, FW_IOAPIC_ADDR);
    le_put32(madt + 52, 0); /* GSI base */
    for (uint32_t i = 0; i < cfg->vcpu_count; i++) {
        uint8_t *e = madt + 56 + 8 * i;
        e[0] = 0; /* processor local APIC */
        e[1] = 8;
        e[2] = (uint8_t)i;
        e[3] = (uint8_t)i;
        le_put32(e + 4, 1); /* enabled */
    }
    sdt_checksum(madt, l.madt_len);

    memset(mcfg, 0, sizeof(mcfg));
    sdt_header(mcfg, "MCFG", MCFG_LEN, 1, "FCMVMCFG");
    le_put64(mcfg + 44, FW_PCI_MMCONFIG_START);
    sdt_checksum(mcfg, sizeof(mcfg));
    memcpy(ram + l.mcfg_addr, mcfg, sizeof(mcfg));

    sdt_header(xsdt, "XSDT", sizeof(xsdt), 1, "FCMVXSDT");
    le_put64(xsdt + 36, l.fadt_addr);
    le_put64(xsdt + 44, l.madt_addr);
    le_put64(xsdt + 52, l.mcfg_addr);
    sdt_checksum(xsdt, sizeof(xsdt));
    memcpy(ram + l.xsdt_addr, xsdt, sizeof(xsdt));

    memset(rsdp, 0, sizeof(rsdp));
    memcpy(rsdp, "RSD PTR ", 8);
    memcpy(rsdp + 9, OEM_ID, 6);
    rsdp[15] = 2;
    le_put32(rsdp + 20, FW_RSDP_SIZE);
    le_put64(rsdp + 24, l.xsdt_addr);
    rsdp[8] = (uint8_t)-byte_sum8(rsdp, 20);
    rsdp[32] = (uint8_t)-byte_sum8(rsdp, FW_RSDP_SIZE);
    memcpy(ram + FW_RSDP_ADDR, rsdp, sizeof(rsdp));
    rc = 0;
out:
    buf_fini(&dsdt);
    if (out)
        *out = l;
    return rc;
}
