/*
 * boot.h: x86_64 kernel loading and boot protocols (digest 6.1, 6.2).
 *
 * boot_load() puts a guest kernel into guest RAM the way Firecracker does:
 * an ELF vmlinux (tried first; PVH when it carries a XEN_ELFNOTE_PHYS32_ENTRY
 * note, else the Linux 64-bit boot protocol) or a bzImage (64-bit entry at
 * load + 0x200), the initrd at the top of the first RAM region, the command
 * line at 0x20000, the zero page (boot_params) or the PVH hvm_start_info
 * with its memory map, the boot GDT/IDT and the identity page tables.
 * boot_vcpu_setup() and boot_msrs() then give the boot vCPU's registers.
 *
 * The kernel and initrd files are hostile input: every header field, offset
 * and length is checked, and nothing is written outside [ram, ram + ram_len).
 * The MPTable and ACPI tables are not written here (vmm/mptable, vmm/acpi).
 */
#ifndef SQUIB_VMM_BOOT_H
#define SQUIB_VMM_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "util/err.h"

/* Guest-physical layout used by the boot code (digest 6.1). */
#define BOOT_GDT_ADDR        0x500ULL
#define BOOT_IDT_ADDR        0x520ULL
#define BOOT_PVH_INFO_ADDR   0x6000ULL
#define BOOT_PVH_MODLIST     0x6040ULL
#define BOOT_ZERO_PAGE_ADDR  0x7000ULL
#define BOOT_PVH_MEMMAP_ADDR 0x7000ULL
#define BOOT_STACK_POINTER   0x8ff0ULL
#define BOOT_PML4_ADDR       0x9000ULL
#define BOOT_PDPT_ADDR       0xa000ULL
#define BOOT_PD_ADDR         0xb000ULL
#define BOOT_CMDLINE_ADDR    0x20000ULL
#define BOOT_CMDLINE_MAX     2048
#define BOOT_SYSTEM_MEM      0x9fc00ULL
#define BOOT_RSDP_ADDR       0xe0000ULL
#define BOOT_HIMEM_START     0x100000ULL
#define BOOT_MMIO32_START    0xc0000000ULL
#define BOOT_PCI_MMCFG_START 0xeec00000ULL
#define BOOT_PCI_MMCFG_SIZE  (256ULL << 20)
#define BOOT_MMIO64_START    (256ULL << 30)
#define BOOT_MMIO64_END      (512ULL << 30)
#define BOOT_LOWMEM_MAX      BOOT_MMIO32_START /* first region <= 3 GiB */
#define BOOT_PVH_MAGIC       0x336ec578U

#define BOOT_E820_RAM      1
#define BOOT_E820_RESERVED 2
#define BOOT_E820_MAX      128 /* entries in the zero page */

/*
 * Guest RAM as the loader sees it: the first RAM region, which starts at
 * GPA 0 and is contiguous in host memory ([0, min(mem_size, 3 GiB))).
 * mem_size is the total RAM size (for the e820 map). Borrowed.
 */
struct boot_mem {
    uint8_t *ram;
    uint64_t ram_len;
    uint64_t mem_size;
};

enum boot_protocol { BOOT_PROTO_LINUX64, BOOT_PROTO_PVH, BOOT_PROTO_BZIMAGE };

struct boot_result {
    enum boot_protocol proto;
    uint64_t entry;      /* RIP of the boot vCPU */
    uint64_t kernel_end; /* first byte after the highest loaded segment */
    bool has_initrd;
    uint64_t initrd_addr; /* valid when has_initrd */
    uint64_t initrd_size;
};

struct boot_e820_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
};

/*
 * Load the kernel from kernel_fd (ELF vmlinux tried first, PVH note
 * preferred when present, else bzImage), the initrd (initrd_fd, -1 = none),
 * write the command line (NUL-terminated, < BOOT_CMDLINE_MAX bytes) at
 * 0x20000, the zero page / PVH start info, e820 / memmap, the boot GDT/IDT
 * at 0x500/0x520 and (Linux protocol) the identity page tables at
 * 0x9000..0xb000, as digest 6.1/6.2. The fds are borrowed and read with
 * pread (their offsets are not used). Returns 0 with *out filled, or a
 * negative errno with err->msg set to upstream's text, as the detail that
 * follows "Start microvm error: " (e.g. "System configuration error: bzImage
 * does not provide a 64-bit entry point"). Guest RAM may be partly written
 * on failure.
 */
int boot_load(const struct boot_mem *mem, int kernel_fd, int initrd_fd,
              const char *cmdline, struct boot_result *out, struct sq_err *err);

/*
 * Register state of the boot vCPU for res->proto (digest 6.2). Upstream
 * applies the same state to every vCPU; the application processors then
 * sit in wait-for-SIPI (in-kernel LAPIC) and the guest restarts them with
 * INIT-SIPI-SIPI, which replaces this state. regs and fpu
 * are overwritten entirely. *sregs is in/out: pass what KVM_GET_SREGS
 * returned (as upstream does); only the boot fields are changed (segments,
 * GDT/IDT, CR0, CR3, CR4, EFER). FPU: fcw 0x37f, mxcsr 0x1f80. Pure.
 */
void boot_vcpu_setup(const struct boot_result *res, struct kvm_regs *regs,
                     struct kvm_sregs *sregs, struct kvm_fpu *fpu);

/*
 * The boot MSR list (digest 6.2) for KVM_SET_MSRS, in upstream's order.
 * Writes min(max, 11) entries and returns how many were written. Pure.
 */
size_t boot_msrs(struct kvm_msr_entry *entries, size_t max);

/*
 * The e820 map (and PVH memmap) for mem_size bytes of RAM: [0, 0x9fc00)
 * RAM, [0x9fc00, 0xe0000) reserved, the PCI MMCONFIG window reserved, then
 * each DRAM region as RAM (the first from 1 MiB). Writes at most max
 * entries; returns the number of entries the map has (may exceed max).
 */
size_t boot_e820_map(uint64_t mem_size, struct boot_e820_entry *e, size_t max);

/* Name used in the debug log line "Kernel loaded using ...". */
const char *boot_protocol_name(enum boot_protocol p);

#endif
