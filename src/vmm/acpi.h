/*
 * acpi.h: the guest's firmware tables (MPTable and ACPI) and the layout of
 * "system memory", the reserved range [0x9fc00, 0xe0000) they live in.
 *
 * fw_write_tables() is called once per boot, after all devices are placed
 * (their MMIO windows and GSIs are final) and before the vCPUs run. It
 * writes, exactly as Firecracker does (digest 6.1 and 6.6):
 *   - the MPTable first-fit from 0x9fc00,
 *   - the ACPI DSDT, FADT, MADT, MCFG and XSDT first-fit after it, in that
 *     order, byte-aligned,
 *   - the RSDP at 0xe0000.
 * The VMGenID (16 bytes, 8-aligned) and VMClock (one 4 KiB page, aligned)
 * buffers are taken from the top of system memory, VMGenID first, the way
 * Firecracker's allocator places them when the devices are attached. This
 * module only reserves them and describes them in the DSDT; the machine
 * writes their contents (fw_acpi_dev_addrs() says where).
 */
#ifndef SQUIB_VMM_ACPI_H
#define SQUIB_VMM_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

#define FW_SYSTEM_MEM_START   0x9fc00ull
#define FW_RSDP_ADDR          0xe0000ull
#define FW_SYSTEM_MEM_SIZE    (FW_RSDP_ADDR - FW_SYSTEM_MEM_START)
#define FW_RSDP_SIZE          36
#define FW_PCI_MMCONFIG_START 0xeec00000ull
#define FW_IOAPIC_ADDR        0xfec00000u
#define FW_LAPIC_ADDR         0xfee00000u
/* Legacy GSIs usable by devices (virtio-mmio, VMGenID, VMClock). */
#define FW_GSI_LEGACY_START 5
#define FW_GSI_LEGACY_END   23
/* Every virtio-mmio window is this long. */
#define FW_VIRTIO_MMIO_LEN 0x1000u
#define FW_VMGENID_SIZE    16
#define FW_VMCLOCK_SIZE    0x1000
/* Largest vcpu_count fw_write_tables accepts (MADT processor ids are u8). */
#define FW_MAX_VCPUS 254
/* PCI segment 0 windows (--enable-pci), as Firecracker's allocator has
 * them: 32-bit BARs between the boot-timer page and the ECAM window,
 * 64-bit BARs in [256 GiB, 512 GiB). */
#define FW_PCI_MEM32_START       0xc0001000ull
#define FW_PCI_MEM32_END         0xeebfffffull
#define FW_PCI_MEM64_START       0x4000000000ull
#define FW_PCI_MEM64_END         0x7fffffffffull
#define FW_PCI_ECAM_SEGMENT_SIZE 0x100000u

struct fw_virtio_dev {
    uint64_t addr; /* guest-physical base of the 4 KiB MMIO window */
    uint32_t gsi;  /* 5..23 */
};

struct fw_config {
    uint32_t vcpu_count;                /* 1..FW_MAX_VCPUS */
    size_t n_virtio;                    /* virtio-mmio, in attach order */
    const struct fw_virtio_dev *virtio; /* borrowed; n_virtio entries */
    uint32_t vmgenid_gsi, vmclock_gsi;  /* 0 = device not present */
    /* --enable-pci: the DSDT describes PCI segment 0 (\_SB_.PC00) instead
     * of virtio-mmio devices (n_virtio must then be 0). */
    bool pci_enabled;
};

/* Where fw_write_tables put everything (guest-physical addresses; 0 for
 * what was not written). */
struct fw_layout {
    uint64_t mptable_addr;
    size_t mptable_len;
    uint64_t dsdt_addr, fadt_addr, madt_addr, mcfg_addr, xsdt_addr;
    size_t dsdt_len, fadt_len, madt_len, mcfg_len, xsdt_len;
    uint64_t rsdp_addr;
    uint64_t vmgenid_addr; /* 16 bytes, 8-aligned */
    uint64_t vmclock_addr; /* 4 KiB, page-aligned */
};

/*
 * Guest-physical addresses of the VMGenID and VMClock buffers for `cfg`
 * (0 for a device that is not present). Pure; the same values
 * fw_write_tables() uses. Returns 0.
 */
int fw_acpi_dev_addrs(const struct fw_config *cfg, uint64_t *vmgenid_addr,
                      uint64_t *vmclock_addr);

/*
 * Write the MPTable and the ACPI tables into guest RAM. `ram` is the host
 * pointer of guest-physical 0 and `ram_len` how many bytes from there are
 * RAM (the first region, contiguous). Nothing is written outside
 * [0x9fc00, 0xe0000 + 36); the VMGenID/VMClock buffers are not touched.
 *
 * Errors (err set, text as Firecracker's "System configuration error: ..."
 * detail, i.e. what follows "Start microvm error: "):
 *   -EINVAL  vcpu_count 0 or > FW_MAX_VCPUS, virtio-mmio devices with
 *            pci_enabled, a virtio GSI outside 5..23 or
 *            an address not 32-bit, more virtio devices than GSIs, a
 *            VMGenID/VMClock GSI outside 5..23;
 *   -ENOSPC  ram_len does not cover system memory and the RSDP, or the
 *            tables do not fit in system memory.
 * All placement is computed before anything is written: on error guest
 * memory is untouched.
 */
int fw_write_tables(uint8_t *ram, uint64_t ram_len, const struct fw_config *cfg,
                    struct sq_err *err);

/* As fw_write_tables(), also reporting the layout in *out (may be NULL). */
int fw_write_tables_layout(uint8_t *ram, uint64_t ram_len,
                           const struct fw_config *cfg, struct fw_layout *out,
                           struct sq_err *err);

/*
 * Build just the DSDT definition block (the AML after the 36-byte table
 * header) for `cfg` into `aml` (appended). vmgenid_addr/vmclock_addr are
 * the buffers' guest addresses (see fw_acpi_dev_addrs()). Returns 0 or
 * -EINVAL with err set for a bad device description (as above).
 */
int fw_build_dsdt_aml(const struct fw_config *cfg, uint64_t vmgenid_addr,
                      uint64_t vmclock_addr, struct buf *aml,
                      struct sq_err *err);

#endif
