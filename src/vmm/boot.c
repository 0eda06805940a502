/*
 * boot.c: x86_64 kernel loading and boot state (see boot.h).
 *
 * The loaders follow the observable behaviour of linux-loader 0.14 as
 * Firecracker uses it (same checks in the same order, same error texts),
 * with one addition: ELF PT_LOAD segments must start at or above 1 MiB
 * (HIMEM_START, digest 6.1), so a hostile vmlinux cannot overwrite the boot
 * structures below it. All file reads are pread()s into a bounds-checked
 * window of guest RAM; all header arithmetic is overflow-checked.
 *
 * Structures written to guest memory are little-endian packed layouts from
 * the Linux boot protocol (Documentation/x86/boot.rst, zero-page.rst) and the
 * Xen PVH ABI (xen/include/public/arch-x86/hvm/start_info.h). They are
 * written field by field at their documented offsets rather than through C
 * structs, so no packing attribute or host layout can shift them.
 */
#include "vmm/boot.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "obs/log.h"
#include "util/le.h"
#include "vmm/errors.h"

/* ---- error texts (linux-loader, Firecracker ConfigurationError) ---- */

#define PFX_SYS VMM_ERR_SYS_CONFIG
#define PFX_KL                                                                 \
    PFX_SYS "Cannot load kernel due to invalid memory configuration or "       \
            "invalid kernel image: Kernel Loader: "
#define PFX_ELF PFX_KL "failed to load ELF kernel image: Kernel Loader: "
#define PFX_BZ  PFX_KL "failed to load bzImage kernel image: Kernel Loader: "

#define E_ELF_ENDIAN   "Trying to load big-endian binary on little-endian machine"
#define E_ELF_PHSIZE   "Invalid program header size"
#define E_ELF_PHOFF    "Invalid program header offset"
#define E_ELF_PHADDR   "Invalid Program Header Address"
#define E_ELF_ENTRY    "Invalid entry address"
#define E_ELF_OVERFLOW "Overflow occurred during an arithmetic operation"
#define E_ELF_READHDR  "Unable to read elf header"
#define E_ELF_READIMG  "Unable to read kernel image"
#define E_ELF_READPH   "Unable to read program header"
#define E_ELF_READNOTE "Unable to read note header"
#define E_ELF_PVHNOTE  "Invalid PVH note header"
#define E_BZ_INVALID   "Invalid bzImage"
#define E_BZ_UNDERFLOW "Underflow occurred during an arithmetic operation"
#define E_BZ_READKERN  "Unable to read bzImage compressed kernel"
#define E_KL_START     "invalid kernel start address"
#define E_KL_MEMORY    "memory to load kernel image is not enough"
#define E_BZ_NO64      PFX_SYS "bzImage does not provide a 64-bit entry point"
#define PFX_INITRD     "Error with initrd initialization: "

/* ---- ELF64 and boot protocol constants ---- */

#define EHDR_SIZE                64
#define PHDR_SIZE                56
#define NHDR_SIZE                12
#define PT_LOAD                  1
#define PT_NOTE                  4
#define XEN_ELFNOTE_PHYS32_ENTRY 18

#define SETUP_HDR_OFF    0x1f1 /* in the bzImage file and in boot_params */
#define SETUP_HDR_SIZE   0x7b  /* up to kernel_info_offset, as linux-loader */
#define HDRS_MAGIC       0x53726448U /* "HdrS" */
#define XLF_KERNEL_64    0x1
#define BZ_ENTRY_64_OFF  0x200
#define ZERO_PAGE_SIZE   4096
#define KERNEL_ALIGN_ELF 0x1000000U
#define GUEST_PAGE_SIZE  4096ULL

/* boot_params offsets (arch/x86/include/uapi/asm/bootparam.h). */
#define BP_ACPI_RSDP      0x070
#define BP_E820_ENTRIES   0x1e8
#define BP_E820_TABLE     0x2d0
#define BP_BOOT_FLAG      0x1fe
#define BP_HEADER         0x202
#define BP_VERSION        0x206
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS      0x211
#define BP_CODE32_START   0x214
#define BP_RAMDISK_IMAGE  0x218
#define BP_RAMDISK_SIZE   0x21c
#define BP_CMD_LINE_PTR   0x228
#define BP_KERNEL_ALIGN   0x230
#define BP_XLOADFLAGS     0x236
#define BP_CMDLINE_SIZE   0x238
#define BP_SETUP_SECTS    0x1f1

/* MSR indices. */
#define MSR_IA32_TSC            0x10
#define MSR_IA32_SYSENTER_CS    0x174
#define MSR_IA32_SYSENTER_ESP   0x175
#define MSR_IA32_SYSENTER_EIP   0x176
#define MSR_IA32_MISC_ENABLE    0x1a0
#define MSR_MTRR_DEF_TYPE       0x2ff
#define MSR_STAR                0xc0000081
#define MSR_LSTAR               0xc0000082
#define MSR_CSTAR               0xc0000083
#define MSR_SYSCALL_MASK        0xc0000084
#define MSR_KERNEL_GS_BASE      0xc0000102
#define MISC_ENABLE_FAST_STRING 0x1

#define X86_CR0_PE  0x1ULL
#define X86_CR0_ET  0x10ULL
#define X86_CR0_PG  0x80000000ULL
#define X86_CR4_PAE 0x20ULL
#define EFER_LME    0x100ULL
#define EFER_LMA    0x400ULL

/* ---- little-endian accessors ---- */

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32);
}

/* ---- guest memory and file helpers ---- */

/* Host pointer for [gpa, gpa + len) in the first RAM region, or NULL. */
static uint8_t *gpa_ptr(const struct boot_mem *m, uint64_t gpa, uint64_t len)
{
    uint64_t end;

    if (__builtin_add_overflow(gpa, len, &end) || end > m->ram_len)
        return NULL;
    return m->ram + gpa;
}

/*
 * Read exactly len bytes at file offset off into dst. Returns 0, -ENODATA
 * on a short file, or -errno.
 */
static int pread_exact(int fd, void *dst, uint64_t len, uint64_t off)
{
    uint8_t *p = dst;

    while (len) {
        size_t chunk = len > (1U << 30) ? (1U << 30) : (size_t)len;
        ssize_t n;

        if (off > (uint64_t)INT64_MAX)
            return -EINVAL;
        n = pread(fd, p, chunk, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -ENODATA;
        p += n;
        len -= (uint64_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* As pread_exact, but a short read is not an error; returns bytes read. */
static ssize_t pread_some(int fd, void *dst, size_t len, uint64_t off)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n =
            pread(fd, (uint8_t *)dst + got, len - got, (off_t)(off + got));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* ---- ELF vmlinux ---- */

enum elf_rc { ELF_OK = 0, ELF_NOT_ELF = 1 };

/*
 * Scan one PT_NOTE segment for the PVH entry note, as linux-loader's
 * parse_elf_note does. *entry is set and *found true when present.
 */
static int elf_pvh_note(int fd, uint64_t p_offset, uint64_t p_filesz,
                        bool *found, uint64_t *entry, struct sq_err *err)
{
    uint8_t nh[NHDR_SIZE], name[4], desc[4];
    uint64_t read_size = 0;
    uint32_t namesz = 0, descsz = 0;

    *found = false;
    while (read_size < p_filesz) {
        uint64_t pos, name_al, desc_al;

        if (__builtin_add_overflow(p_offset, read_size, &pos) ||
            pread_exact(fd, nh, NHDR_SIZE, pos))
            return sq_errf(err, -EINVAL, PFX_ELF E_ELF_READNOTE);
        namesz = get32(nh);
        descsz = get32(nh + 4);
        if (get32(nh + 8) == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4) {
            if (pread_exact(fd, name, 4, pos + NHDR_SIZE))
                return sq_errf(err, -EINVAL, PFX_ELF E_ELF_READNOTE);
            if (memcmp(name, "Xen", 4) == 0) {
                *found = true;
                break;
            }
        }
        name_al = ((uint64_t)namesz + 3) & ~3ULL;
        desc_al = ((uint64_t)descsz + 3) & ~3ULL;
        if (name_al > UINT32_MAX || desc_al > UINT32_MAX)
            return sq_errf(err, -EOVERFLOW, PFX_ELF E_ELF_OVERFLOW);
        read_size += NHDR_SIZE + name_al + desc_al; /* < 2^34 per step */
    }
    if (!*found)
        return 0;
    if (descsz < 4)
        return sq_errf(err, -EINVAL, PFX_ELF E_ELF_PVHNOTE);
    /* name is exactly 4 bytes, so the descriptor follows it directly */
    if (pread_exact(fd, desc, 4, p_offset + read_size + NHDR_SIZE + 4))
        return sq_errf(err, -EINVAL, PFX_ELF E_ELF_READNOTE);
    *entry = get32(desc);
    return 0;
}

/*
 * Load an ELF64 vmlinux. Returns ELF_OK, ELF_NOT_ELF (no ELF magic: try
 * bzImage), or a negative errno with err set.
 */
static int elf_load(const struct boot_mem *m, int fd, struct boot_result *out,
                    struct sq_err *err)
{
    uint8_t eh[EHDR_SIZE], ph[PHDR_SIZE];
    uint64_t e_entry, e_phoff, kernel_end = 0, pvh_entry = 0;
    uint16_t e_phnum;
    bool pvh = false;
    int rc;

    if (pread_exact(fd, eh, EHDR_SIZE, 0))
        return sq_errf(err, -EINVAL, PFX_ELF E_ELF_READHDR);
    if (memcmp(eh,
               "\x7f"
               "ELF",
               4) != 0)
        return ELF_NOT_ELF;
    if (eh[5] != 1) /* EI_DATA != ELFDATA2LSB */
        return sq_errf(err, -EINVAL, PFX_ELF E_ELF_ENDIAN);
    if (get16(eh + 54) != PHDR_SIZE) /* e_phentsize */
        return sq_errf(err, -EINVAL, PFX_ELF E_ELF_PHSIZE);
    e_phoff = get64(eh + 32);
    if (e_phoff < EHDR_SIZE)
        return sq_errf(err, -EINVAL, PFX_ELF E_ELF_PHOFF);
    e_entry = get64(eh + 24);
    if (e_entry < BOOT_HIMEM_START)
        return sq_errf(err, -EINVAL, PFX_ELF E_ELF_ENTRY);
    e_phnum = get16(eh + 56);

    /* Upstream reads every program header before loading any segment. */
    for (uint32_t i = 0; i < e_phnum; i++) {
        uint64_t off = e_phoff + (uint64_t)i * PHDR_SIZE;

        if (off < e_phoff || pread_exact(fd, ph, PHDR_SIZE, off))
            return sq_errf(err, -EINVAL, PFX_ELF E_ELF_READPH);
    }
    for (uint32_t i = 0; i < e_phnum; i++) {
        uint64_t off = e_phoff + (uint64_t)i * PHDR_SIZE;
        uint64_t p_offset, p_paddr, p_filesz, p_memsz, end;
        uint32_t p_type;
        uint8_t *dst;

        if (pread_exact(fd, ph, PHDR_SIZE, off))
            return sq_errf(err, -EINVAL, PFX_ELF E_ELF_READPH);
        p_type = get32(ph);
        p_offset = get64(ph + 8);
        p_paddr = get64(ph + 24);
        p_filesz = get64(ph + 32);
        p_memsz = get64(ph + 40);
        if (p_type != PT_LOAD || p_filesz == 0) {
            if (p_type == PT_NOTE) {
                /* the last PT_NOTE decides, as upstream */
                rc =
                    elf_pvh_note(fd, p_offset, p_filesz, &pvh, &pvh_entry, err);
                if (rc)
                    return rc;
            }
            continue;
        }
        if (p_paddr < BOOT_HIMEM_START)
            return sq_errf(err, -EINVAL, PFX_ELF E_ELF_PHADDR);
        dst = gpa_ptr(m, p_paddr, p_filesz);
        if (!dst || __builtin_add_overflow(p_offset, p_filesz, &end) ||
            pread_exact(fd, dst, p_filesz, p_offset))
            return sq_errf(err, -EINVAL, PFX_ELF E_ELF_READIMG);
        if (__builtin_add_overflow(p_paddr, p_memsz, &end))
            return sq_errf(err, -EOVERFLOW, PFX_KL E_KL_MEMORY);
        if (end > kernel_end)
            kernel_end = end;
    }
    out->kernel_end = kernel_end;
    if (pvh) {
        out->proto = BOOT_PROTO_PVH;
        out->entry = pvh_entry;
    } else {
        out->proto = BOOT_PROTO_LINUX64;
        out->entry = e_entry;
    }
    return ELF_OK;
}

/* ---- bzImage ---- */

/*
 * Load a bzImage's protected-mode part at code32_start. hdr receives the
 * setup header (SETUP_HDR_SIZE bytes, zero-filled past a short file).
 */
static int bz_load(const struct boot_mem *m, int fd, uint8_t *hdr,
                   struct boot_result *out, struct sq_err *err)
{
    struct stat st;
    uint64_t setup_size, kernel_size, code32, end;
    uint8_t *dst;
    ssize_t n;

    if (fstat(fd, &st) < 0)
        return sq_errf(err, -errno, PFX_BZ "Unable to seek bzImage end");
    memset(hdr, 0, SETUP_HDR_SIZE);
    n = pread_some(fd, hdr, SETUP_HDR_SIZE, SETUP_HDR_OFF);
    if (n < 0)
        return sq_errf(err, (int)n, PFX_BZ "Unable to read bzImage header");
#define H(off) (hdr + (off)-SETUP_HDR_OFF)
    if (get32(H(BP_HEADER)) != HDRS_MAGIC)
        return sq_errf(err, -EINVAL, PFX_BZ E_BZ_INVALID);
    if (get16(H(BP_VERSION)) < 0x200 || !(*H(BP_LOADFLAGS) & 0x1))
        return sq_errf(err, -EINVAL, PFX_BZ E_BZ_INVALID);
    setup_size = *H(BP_SETUP_SECTS);
    if (setup_size == 0)
        setup_size = 4;
    setup_size = (setup_size + 1) * 512;
    if ((uint64_t)st.st_size < setup_size)
        return sq_errf(err, -EINVAL, PFX_BZ E_BZ_UNDERFLOW);
    kernel_size = (uint64_t)st.st_size - setup_size;
    code32 = get32(H(BP_CODE32_START));
    if (code32 < BOOT_HIMEM_START)
        return sq_errf(err, -EINVAL, PFX_KL E_KL_START);
    dst = gpa_ptr(m, code32, kernel_size);
    if (!dst || pread_exact(fd, dst, kernel_size, setup_size))
        return sq_errf(err, -EINVAL, PFX_BZ E_BZ_READKERN);
    if (__builtin_add_overflow(code32, kernel_size, &end))
        return sq_errf(err, -EOVERFLOW, PFX_KL E_KL_MEMORY);
    /* Firecracker jumps to the 64-bit entry, present from protocol 2.12
     * with XLF_KERNEL_64. */
    if (get16(H(BP_VERSION)) < 0x20c ||
        !(get16(H(BP_XLOADFLAGS)) & XLF_KERNEL_64))
        return sq_errf(err, -EINVAL, E_BZ_NO64);
#undef H
    out->proto = BOOT_PROTO_BZIMAGE;
    out->entry = code32 + BZ_ENTRY_64_OFF;
    out->kernel_end = end;
    return 0;
}

/* ---- initrd ---- */

static int initrd_load(const struct boot_mem *m, int fd,
                       struct boot_result *out, struct sq_err *err)
{
    char os[128];
    struct stat st;
    uint64_t size, addr;
    uint8_t *dst;
    int rc;

    if (fstat(fd, &st) < 0) {
        rc = -errno;
        return sq_errf(err, rc, PFX_INITRD "Cannot image metadata: %s.",
                       sq_os_error(rc, os, sizeof(os)));
    }
    size = (uint64_t)st.st_size;
    if (m->ram_len < size)
        return sq_errf(err, -ENOMEM,
                       PFX_INITRD "Failed to compute the initrd address..");
    addr = (m->ram_len - size) & ~(GUEST_PAGE_SIZE - 1);
    dst = gpa_ptr(m, addr, size);
    if (!dst)
        return sq_errf(err, -ENOMEM,
                       PFX_INITRD "Cannot load initrd due to "
                                  "an invalid memory configuration..");
    rc = pread_exact(fd, dst, size, 0);
    if (rc)
        return sq_errf(err, rc,
                       PFX_INITRD "Cannot load initrd due to an "
                                  "invalid image: %s.",
                       rc == -ENODATA ? "failed to fill whole buffer"
                                      : sq_os_error(rc, os, sizeof(os)));
    out->has_initrd = true;
    out->initrd_addr = addr;
    out->initrd_size = size;
    return 0;
}

/* ---- memory map ---- */

size_t boot_e820_map(uint64_t mem_size, struct boot_e820_entry *e, size_t max)
{
    struct boot_e820_entry all[6];
    uint64_t low = mem_size < BOOT_LOWMEM_MAX ? mem_size : BOOT_LOWMEM_MAX;
    uint64_t rest = mem_size - low;
    size_t n = 0;

    all[n++] = (struct boot_e820_entry){0, BOOT_SYSTEM_MEM, BOOT_E820_RAM};
    all[n++] = (struct boot_e820_entry){
        BOOT_SYSTEM_MEM, BOOT_RSDP_ADDR - BOOT_SYSTEM_MEM, BOOT_E820_RESERVED};
    all[n++] = (struct boot_e820_entry){
        BOOT_PCI_MMCFG_START, BOOT_PCI_MMCFG_SIZE, BOOT_E820_RESERVED};
    /* The first 1 MiB is reserved for the kernel: RAM starts at HIMEM. */
    if (low > BOOT_HIMEM_START)
        all[n++] = (struct boot_e820_entry){
            BOOT_HIMEM_START, low - BOOT_HIMEM_START, BOOT_E820_RAM};
    if (rest) {
        uint64_t r2 = BOOT_MMIO64_START - (4ULL << 30);
        if (rest < r2)
            r2 = rest;
        all[n++] = (struct boot_e820_entry){4ULL << 30, r2, BOOT_E820_RAM};
        rest -= r2;
    }
    if (rest)
        all[n++] =
            (struct boot_e820_entry){BOOT_MMIO64_END, rest, BOOT_E820_RAM};
    for (size_t i = 0; i < n && i < max; i++)
        e[i] = all[i];
    return n;
}

/* ---- boot structures ---- */

/* Pack a GDT entry as upstream's gdt_entry(flags, base, limit). */
static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
    return (((uint64_t)base & 0xff000000ULL) << (56 - 24)) |
           (((uint64_t)flags & 0x0000f0ffULL) << 40) |
           (((uint64_t)limit & 0x000f0000ULL) << (48 - 16)) |
           (((uint64_t)base & 0x00ffffffULL) << 16) |
           ((uint64_t)limit & 0x0000ffffULL);
}

static void boot_gdt(enum boot_protocol p, uint64_t gdt[4])
{
    gdt[0] = gdt_entry(0, 0, 0);
    if (p == BOOT_PROTO_PVH) {
        gdt[1] = gdt_entry(0xc09b, 0, 0xffffffff);
        gdt[2] = gdt_entry(0xc093, 0, 0xffffffff);
        gdt[3] = gdt_entry(0x008b, 0, 0x67);
    } else {
        gdt[1] = gdt_entry(0xa09b, 0, 0xfffff);
        gdt[2] = gdt_entry(0xc093, 0, 0xfffff);
        gdt[3] = gdt_entry(0x808b, 0, 0xfffff);
    }
}

static struct kvm_segment seg_from_gdt(uint64_t e, uint8_t index)
{
    struct kvm_segment s;
    uint32_t limit =
        (uint32_t)(((e & 0x000f000000000000ULL) >> 32) | (e & 0xffffULL));

    memset(&s, 0, sizeof(s));
    s.base = ((e & 0xff00000000000000ULL) >> 32) |
             ((e & 0x000000ff00000000ULL) >> 16) |
             ((e & 0x00000000ffff0000ULL) >> 16);
    s.g = (uint8_t)((e >> 55) & 1);
    s.limit = s.g ? (limit << 12) | 0xfff : limit;
    s.selector = (uint16_t)(index * 8);
    s.type = (uint8_t)((e >> 40) & 0xf);
    s.present = (uint8_t)((e >> 47) & 1);
    s.dpl = (uint8_t)((e >> 45) & 3);
    s.db = (uint8_t)((e >> 54) & 1);
    s.s = (uint8_t)((e >> 44) & 1);
    s.l = (uint8_t)((e >> 53) & 1);
    s.avl = (uint8_t)((e >> 52) & 1);
    s.unusable = s.present ? 0 : 1;
    return s;
}

/* Fixed low-memory structures: all below 1 MiB, so after a successful
 * kernel load (which needs RAM above 1 MiB) they are always in range. */
static int write_low(const struct boot_mem *m, uint64_t gpa, uint64_t len,
                     uint8_t **p, const char *what, struct sq_err *err)
{
    *p = gpa_ptr(m, gpa, len);
    if (!*p)
        return sq_errf(err, -ENOMEM, PFX_SYS "%s", what);
    return 0;
}

static int write_gdt_idt_pt(const struct boot_mem *m, enum boot_protocol p,
                            struct sq_err *err)
{
    uint64_t gdt[4];
    uint8_t *q;
    int rc;

    boot_gdt(p, gdt);
    rc = write_low(m, BOOT_GDT_ADDR, sizeof(gdt), &q,
                   "Error configuring the vcpu for boot: Writing the GDT to "
                   "RAM failed.",
                   err);
    if (rc)
        return rc;
    for (int i = 0; i < 4; i++)
        le_put64(q + 8 * i, gdt[i]);
    rc = write_low(m, BOOT_IDT_ADDR, 8, &q,
                   "Error configuring the vcpu for boot: Writing the IDT to "
                   "RAM failed",
                   err);
    if (rc)
        return rc;
    le_put64(q, 0);
    if (p == BOOT_PROTO_PVH)
        return 0; /* PVH enters with paging off */
    rc =
        write_low(m, BOOT_PML4_ADDR, BOOT_PD_ADDR + 4096 - BOOT_PML4_ADDR, &q,
                  "Error configuring the vcpu for boot: WritePML4Address", err);
    if (rc)
        return rc;
    /* PML4[0] -> PDPT, PDPT[0] -> PD, PD: 512 x 2 MiB = identity 1 GiB.
     * Only the entries upstream writes are touched. */
    le_put64(q, BOOT_PDPT_ADDR | 0x03);
    le_put64(q + (BOOT_PDPT_ADDR - BOOT_PML4_ADDR), BOOT_PD_ADDR | 0x03);
    for (uint64_t i = 0; i < 512; i++)
        le_put64(q + (BOOT_PD_ADDR - BOOT_PML4_ADDR) + i * 8, (i << 21) + 0x83);
    return 0;
}

static int write_zero_page(const struct boot_mem *m, const uint8_t *bz_hdr,
                           size_t cmdline_size, const struct boot_result *r,
                           struct sq_err *err)
{
    struct boot_e820_entry e820[BOOT_E820_MAX];
    size_t n;
    uint8_t *zp;
    int rc;

    rc = write_low(m, BOOT_ZERO_PAGE_ADDR, ZERO_PAGE_SIZE, &zp,
                   "Error writing the zero page of guest memory.", err);
    if (rc)
        return rc;
    memset(zp, 0, ZERO_PAGE_SIZE);
    if (bz_hdr)
        memcpy(zp + SETUP_HDR_OFF, bz_hdr, SETUP_HDR_SIZE);
    else
        le_put32(zp + BP_KERNEL_ALIGN, KERNEL_ALIGN_ELF);
    zp[BP_TYPE_OF_LOADER] = 0xff;
    le_put16(zp + BP_BOOT_FLAG, 0xaa55);
    le_put32(zp + BP_HEADER, HDRS_MAGIC);
    le_put32(zp + BP_CMD_LINE_PTR, (uint32_t)BOOT_CMDLINE_ADDR);
    le_put32(zp + BP_CMDLINE_SIZE, (uint32_t)cmdline_size);
    if (r->has_initrd) {
        le_put32(zp + BP_RAMDISK_IMAGE, (uint32_t)r->initrd_addr);
        le_put32(zp + BP_RAMDISK_SIZE, (uint32_t)r->initrd_size);
    }
    le_put64(zp + BP_ACPI_RSDP, BOOT_RSDP_ADDR);
    n = boot_e820_map(m->mem_size, e820, BOOT_E820_MAX);
    if (n > BOOT_E820_MAX)
        return sq_errf(err, -ENOSPC, PFX_SYS "Invalid e820 setup params.");
    zp[BP_E820_ENTRIES] = (uint8_t)n;
    for (size_t i = 0; i < n; i++) {
        uint8_t *q = zp + BP_E820_TABLE + 20 * i;
        le_put64(q, e820[i].addr);
        le_put64(q + 8, e820[i].size);
        le_put32(q + 16, e820[i].type);
    }
    return 0;
}

static int write_pvh(const struct boot_mem *m, const struct boot_result *r,
                     struct sq_err *err)
{
    struct boot_e820_entry map[8];
    size_t n = boot_e820_map(m->mem_size, map, 8);
    uint8_t *si, *mm, *ml;
    int rc;

    rc = write_low(m, BOOT_PVH_INFO_ADDR, 56, &si,
                   "Error writing hvm_start_info to guest memory.", err);
    if (!rc)
        rc = write_low(m, BOOT_PVH_MEMMAP_ADDR, 24 * n, &mm,
                       "Error writing hvm_start_info to guest memory.", err);
    if (!rc)
        rc = write_low(m, BOOT_PVH_MODLIST, 32, &ml,
                       "Error writing hvm_start_info to guest memory.", err);
    if (rc)
        return rc;
    memset(si, 0, 56);
    le_put32(si + 0, BOOT_PVH_MAGIC);
    le_put32(si + 4, 1);                      /* version */
    le_put32(si + 12, r->has_initrd ? 1 : 0); /* nr_modules */
    le_put64(si + 16, r->has_initrd ? BOOT_PVH_MODLIST : 0);
    le_put64(si + 24, BOOT_CMDLINE_ADDR);
    le_put64(si + 40, BOOT_PVH_MEMMAP_ADDR);
    le_put32(si + 48, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        uint8_t *q = mm + 24 * i;
        le_put64(q, map[i].addr);
        le_put64(q + 8, map[i].size);
        le_put32(q + 16, map[i].type);
        le_put32(q + 20, 0);
    }
    if (r->has_initrd) {
        memset(ml, 0, 32);
        le_put64(ml, r->initrd_addr);
        le_put64(ml + 8, r->initrd_size);
    }
    return 0;
}

const char *boot_protocol_name(enum boot_protocol p)
{
    switch (p) {
    case BOOT_PROTO_PVH:
        return "PVH boot protocol";
    case BOOT_PROTO_BZIMAGE:
        return "Linux 64-bit boot protocol (bzImage)";
    case BOOT_PROTO_LINUX64:
    default:
        return "Linux 64-bit boot protocol";
    }
}

int boot_load(const struct boot_mem *mem, int kernel_fd, int initrd_fd,
              const char *cmdline, struct boot_result *out, struct sq_err *err)
{
    uint8_t bz_hdr[SETUP_HDR_SIZE];
    bool is_bz = false;
    size_t cl_len;
    uint8_t *q;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!mem || !mem->ram || mem->ram_len > BOOT_LOWMEM_MAX ||
        mem->mem_size < mem->ram_len)
        return sq_errf(err, -EINVAL,
                       PFX_KL "memory to load kernel image is not enough");
    rc = elf_load(mem, kernel_fd, out, err);
    if (rc == ELF_NOT_ELF) {
        rc = bz_load(mem, kernel_fd, bz_hdr, out, err);
        is_bz = true;
    }
    if (rc)
        return rc;
    log_debug("Kernel loaded using %s", boot_protocol_name(out->proto));

    if (initrd_fd >= 0) {
        rc = initrd_load(mem, initrd_fd, out, err);
        if (rc)
            return rc;
    }

    if (!cmdline)
        cmdline = "";
    cl_len = strnlen(cmdline, BOOT_CMDLINE_MAX);
    if (cl_len >= BOOT_CMDLINE_MAX)
        return sq_errf(err, -E2BIG,
                       PFX_SYS "Cannot load command line string: Kernel "
                               "Loader: command line overflowed guest memory");
    rc = write_low(mem, BOOT_CMDLINE_ADDR, cl_len + 1, &q,
                   "Cannot load command line string: Kernel Loader: command "
                   "line overflowed guest memory",
                   err);
    if (rc)
        return rc;
    memcpy(q, cmdline, cl_len + 1);

    rc = write_gdt_idt_pt(mem, out->proto, err);
    if (rc)
        return rc;
    if (out->proto == BOOT_PROTO_PVH)
        return write_pvh(mem, out, err);
    return write_zero_page(mem, is_bz ? bz_hdr : NULL, cl_len + 1, out, err);
}

void boot_vcpu_setup(const struct boot_result *res, struct kvm_regs *regs,
                     struct kvm_sregs *sregs, struct kvm_fpu *fpu)
{
    uint64_t gdt[4];
    struct kvm_segment data;

    memset(fpu, 0, sizeof(*fpu));
    fpu->fcw = 0x37f;
    fpu->mxcsr = 0x1f80;

    memset(regs, 0, sizeof(*regs));
    regs->rflags = 0x2;
    regs->rip = res->entry;
    if (res->proto == BOOT_PROTO_PVH) {
        regs->rbx = BOOT_PVH_INFO_ADDR;
    } else {
        regs->rsp = BOOT_STACK_POINTER;
        regs->rbp = BOOT_STACK_POINTER;
        regs->rsi = BOOT_ZERO_PAGE_ADDR;
    }

    boot_gdt(res->proto, gdt);
    data = seg_from_gdt(gdt[2], 2);
    sregs->gdt.base = BOOT_GDT_ADDR;
    sregs->gdt.limit = sizeof(gdt) - 1;
    sregs->idt.base = BOOT_IDT_ADDR;
    sregs->idt.limit = 8 - 1;
    sregs->cs = seg_from_gdt(gdt[1], 1);
    sregs->ds = data;
    sregs->es = data;
    sregs->fs = data;
    sregs->gs = data;
    sregs->ss = data;
    sregs->tr = seg_from_gdt(gdt[3], 3);
    if (res->proto == BOOT_PROTO_PVH) {
        sregs->cr0 = X86_CR0_PE | X86_CR0_ET;
        sregs->cr4 = 0;
    } else {
        sregs->cr0 |= X86_CR0_PE | X86_CR0_PG;
        sregs->efer |= EFER_LME | EFER_LMA;
        sregs->cr3 = BOOT_PML4_ADDR;
        sregs->cr4 |= X86_CR4_PAE;
    }
}

size_t boot_msrs(struct kvm_msr_entry *entries, size_t max)
{
    static const struct {
        uint32_t index;
        uint64_t data;
    } list[] = {
        {MSR_IA32_SYSENTER_CS, 0},
        {MSR_IA32_SYSENTER_ESP, 0},
        {MSR_IA32_SYSENTER_EIP, 0},
        {MSR_STAR, 0},
        {MSR_CSTAR, 0},
        {MSR_KERNEL_GS_BASE, 0},
        {MSR_SYSCALL_MASK, 0},
        {MSR_LSTAR, 0},
        {MSR_IA32_TSC, 0},
        {MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING},
        {MSR_MTRR_DEF_TYPE, (1 << 11) | 0x6},
    };
    size_t n = sizeof(list) / sizeof(list[0]);

    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++) {
        memset(&entries[i], 0, sizeof(entries[i]));
        entries[i].index = list[i].index;
        entries[i].data = list[i].data;
    }
    return n;
}
