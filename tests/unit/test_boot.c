/*
 * test_boot.c: unit tests for vmm/boot (kernel loading, zero page, PVH start
 * info, e820, boot GDT/IDT/page tables, boot vCPU registers and MSRs).
 *
 * Kernels are synthetic ELF / PVH / bzImage images built in memory and
 * handed to the loader through a memfd. Hostile images (truncated headers,
 * segments below 1 MiB or in the MMIO hole, huge sizes, overflowing sums)
 * must fail with upstream's texts and never write outside guest RAM: RAM is
 * followed by a PROT_NONE guard page.
 */
#define PT_LOAD 1
#define PT_NOTE 4
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/boot.h"

#define RAM_SIZE (64ULL << 20)

#define PFX_KL                                                                 \
    "System configuration error: Cannot load kernel due to invalid memory "    \
    "configuration or invalid kernel image: Kernel Loader: "
#define PFX_ELF PFX_KL "failed to load ELF kernel image: Kernel Loader: "
#define PFX_BZ  PFX_KL "failed to load bzImage kernel image: Kernel Loader: "

struct ram {
    uint8_t *base; /* mapping incl. guard page */
    size_t map_len;
    struct boot_mem mem;
};

static void ram_init(struct ram *r, uint64_t len, uint64_t mem_size)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t up = ((size_t)len + pg - 1) & ~(pg - 1);

    /* The guard page follows the page holding the last byte of RAM. */
    r->map_len = up + pg;
    r->base = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    assert_true(r->base != MAP_FAILED);
    assert_int_equal(mprotect(r->base + up, pg, PROT_NONE), 0);
    r->mem.ram = r->base;
    r->mem.ram_len = len;
    r->mem.mem_size = mem_size;
}

static void ram_fini(struct ram *r)
{
    munmap(r->base, r->map_len);
}

static int mkfd(const void *data, size_t len)
{
    int fd = memfd_create("img", MFD_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    return fd;
}

static void p16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}
static void p32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static void p64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}
static uint16_t g16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}
static uint32_t g32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t g64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* ---- synthetic ELF ---- */

struct seg {
    uint32_t type;
    uint64_t offset, paddr, filesz, memsz;
};

/* An ELF image: header, phdrs at 64, payload from 0x1000 (pattern bytes). */
struct elf {
    uint8_t buf[0x3000];
    size_t len;
};

static void elf_init(struct elf *e, uint64_t entry, const struct seg *s,
                     size_t n)
{
    memset(e->buf, 0, sizeof(e->buf));
    memcpy(e->buf,
           "\x7f"
           "ELF",
           4);
    e->buf[4] = 2; /* ELFCLASS64 */
    e->buf[5] = 1; /* little endian */
    e->buf[6] = 1;
    p16(e->buf + 16, 2);  /* ET_EXEC */
    p16(e->buf + 18, 62); /* EM_X86_64 */
    p64(e->buf + 24, entry);
    p64(e->buf + 32, 64); /* e_phoff */
    p16(e->buf + 52, 64);
    p16(e->buf + 54, 56);
    p16(e->buf + 56, (uint16_t)n);
    for (size_t i = 0; i < n; i++) {
        uint8_t *ph = e->buf + 64 + 56 * i;
        p32(ph, s[i].type);
        p64(ph + 8, s[i].offset);
        p64(ph + 16, s[i].paddr);
        p64(ph + 24, s[i].paddr);
        p64(ph + 32, s[i].filesz);
        p64(ph + 40, s[i].memsz);
    }
    for (size_t i = 0x1000; i < 0x2000; i++)
        e->buf[i] = (uint8_t)(i * 7 + 3);
    e->len = 0x2000;
}

/* Put a note (name, type, 4-byte desc) at file offset off; returns size. */
static size_t put_note(uint8_t *p, const char *name, uint32_t namesz,
                       uint32_t descsz, uint32_t type, uint32_t desc)
{
    size_t nal = (namesz + 3) & ~3u;
    p32(p, namesz);
    p32(p + 4, descsz);
    p32(p + 8, type);
    memcpy(p + 12, name, namesz < 4 ? namesz : 4);
    p32(p + 12 + nal, desc);
    return 12 + nal + ((descsz + 3) & ~3u);
}

static int load(struct ram *r, const void *img, size_t len, int initrd_fd,
                const char *cmdline, struct boot_result *res,
                struct sq_err *err)
{
    int fd = mkfd(img, len), rc;

    sq_err_clear(err);
    rc = boot_load(&r->mem, fd, initrd_fd, cmdline, res, err);
    close(fd);
    return rc;
}

static void check_e820_zero_page(const uint8_t *zp, uint64_t mem_size)
{
    struct boot_e820_entry want[8];
    size_t n = boot_e820_map(mem_size, want, 8);

    assert_int_equal(zp[0x1e8], n);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *q = zp + 0x2d0 + 20 * i;
        assert_int_equal(g64(q), want[i].addr);
        assert_int_equal(g64(q + 8), want[i].size);
        assert_int_equal(g32(q + 16), want[i].type);
    }
    /* nothing after the last entry */
    for (size_t i = 0x2d0 + 20 * n; i < 0x2d0 + 20 * (n + 1); i++)
        assert_int_equal(zp[i], 0);
}

static void check_gdt(const uint8_t *ram, bool pvh)
{
    static const uint64_t lin[4] = {
        0, 0x00af9b000000ffffULL, 0x00cf93000000ffffULL, 0x008f8b000000ffffULL};
    static const uint64_t pv[4] = {
        0, 0x00cf9b000000ffffULL, 0x00cf93000000ffffULL, 0x00008b0000000067ULL};
    for (int i = 0; i < 4; i++)
        assert_int_equal(g64(ram + 0x500 + 8 * i), pvh ? pv[i] : lin[i]);
    assert_int_equal(g64(ram + 0x520), 0);
}

static void test_elf_linux64(void **state)
{
    struct seg s[] = {
        {PT_LOAD, 0x1000, 0x100000, 0x800, 0x10000},
        {PT_LOAD, 0x1800, 0x200000, 0x800, 0x800},
        {PT_LOAD, 0x1000, 0x300000, 0, 0x1000}, /* filesz 0: skipped */
        {6 /* PT_PHDR */, 0, 0, 0, 0},
    };
    struct ram r;
    struct elf e;
    struct boot_result res;
    struct sq_err err;
    const char *cl = "console=ttyS0 reboot=k";
    uint8_t *zp;

    (void)state;
    ram_init(&r, RAM_SIZE, RAM_SIZE);
    memset(r.base + 0x300000, 0xee, 16);
    elf_init(&e, 0x1000f0, s, 4);
    assert_int_equal(load(&r, e.buf, e.len, -1, cl, &res, &err), 0);
    assert_int_equal(res.proto, BOOT_PROTO_LINUX64);
    assert_int_equal(res.entry, 0x1000f0);
    assert_int_equal(res.kernel_end, 0x200800);
    assert_false(res.has_initrd);
    assert_memory_equal(r.base + 0x100000, e.buf + 0x1000, 0x800);
    assert_memory_equal(r.base + 0x200000, e.buf + 0x1800, 0x800);
    assert_int_equal(r.base[0x300000], 0xee); /* untouched */

    assert_string_equal((char *)r.base + 0x20000, cl);
    zp = r.base + 0x7000;
    assert_int_equal(zp[0x210], 0xff);                 /* type_of_loader */
    assert_int_equal(g16(zp + 0x1fe), 0xaa55);         /* boot_flag */
    assert_memory_equal(zp + 0x202, "HdrS", 4);        /* header */
    assert_int_equal(g32(zp + 0x228), 0x20000);        /* cmd_line_ptr */
    assert_int_equal(g32(zp + 0x238), strlen(cl) + 1); /* cmdline_size */
    assert_int_equal(g32(zp + 0x230), 0x1000000);      /* kernel_alignment */
    assert_int_equal(g32(zp + 0x218), 0);              /* ramdisk_image */
    assert_int_equal(g32(zp + 0x21c), 0);
    assert_int_equal(g64(zp + 0x70), 0xe0000); /* acpi_rsdp_addr */
    assert_int_equal(g16(zp + 0x206), 0);      /* no bzImage header */
    check_e820_zero_page(zp, RAM_SIZE);
    check_gdt(r.base, false);

    /* identity map of the first GiB with 2 MiB pages */
    assert_int_equal(g64(r.base + 0x9000), 0xa003);
    assert_int_equal(g64(r.base + 0x9008), 0);
    assert_int_equal(g64(r.base + 0xa000), 0xb003);
    for (uint64_t i = 0; i < 512; i++)
        assert_int_equal(g64(r.base + 0xb000 + 8 * i), (i << 21) | 0x83);
    ram_fini(&r);
}

static void test_vcpu_setup(void **state)
{
    struct boot_result res = {.proto = BOOT_PROTO_LINUX64, .entry = 0x1000f0};
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_fpu fpu;

    (void)state;
    memset(&regs, 0xaa, sizeof(regs));
    memset(&sregs, 0, sizeof(sregs));
    sregs.cr0 = 0x60000010; /* as KVM_GET_SREGS reports after reset */
    sregs.apic_base = 0xfee00900;
    boot_vcpu_setup(&res, &regs, &sregs, &fpu);
    assert_int_equal(regs.rip, 0x1000f0);
    assert_int_equal(regs.rsi, 0x7000);
    assert_int_equal(regs.rsp, 0x8ff0);
    assert_int_equal(regs.rbp, 0x8ff0);
    assert_int_equal(regs.rflags, 2);
    assert_int_equal(regs.rax | regs.rbx | regs.rcx | regs.rdx | regs.rdi, 0);
    assert_int_equal(sregs.cr3, 0x9000);
    assert_int_equal(sregs.cr0, 0x60000010 | 0x80000001);
    assert_true(sregs.cr4 & 0x20);
    assert_int_equal(sregs.efer & 0x500, 0x500);
    assert_int_equal(sregs.apic_base, 0xfee00900); /* preserved */
    assert_int_equal(sregs.gdt.base, 0x500);
    assert_int_equal(sregs.gdt.limit, 31);
    assert_int_equal(sregs.idt.base, 0x520);
    assert_int_equal(sregs.idt.limit, 7);
    assert_int_equal(sregs.cs.selector, 8);
    assert_int_equal(sregs.cs.l, 1);
    assert_int_equal(sregs.cs.db, 0);
    assert_int_equal(sregs.cs.type, 0xb);
    assert_int_equal(sregs.cs.limit, 0xffffffff);
    assert_int_equal(sregs.cs.present, 1);
    assert_int_equal(sregs.cs.s, 1);
    assert_int_equal(sregs.cs.g, 1);
    assert_int_equal(sregs.ds.selector, 16);
    assert_int_equal(sregs.ss.selector, 16);
    assert_int_equal(sregs.ds.type, 3);
    assert_int_equal(sregs.ds.db, 1);
    assert_int_equal(sregs.tr.selector, 24);
    assert_int_equal(sregs.tr.type, 0xb);
    assert_int_equal(sregs.tr.s, 0);
    assert_int_equal(fpu.fcw, 0x37f);
    assert_int_equal(fpu.mxcsr, 0x1f80);

    /* bzImage uses the same 64-bit state */
    res.proto = BOOT_PROTO_BZIMAGE;
    res.entry = 0x100200;
    boot_vcpu_setup(&res, &regs, &sregs, &fpu);
    assert_int_equal(regs.rip, 0x100200);
    assert_int_equal(regs.rsi, 0x7000);

    /* PVH: 32-bit protected mode, paging off, flat 4 GiB */
    res.proto = BOOT_PROTO_PVH;
    res.entry = 0x1000000;
    memset(&sregs, 0, sizeof(sregs));
    sregs.cr0 = 0x60000010;
    sregs.cr4 = 0x20;
    boot_vcpu_setup(&res, &regs, &sregs, &fpu);
    assert_int_equal(regs.rip, 0x1000000);
    assert_int_equal(regs.rbx, 0x6000);
    assert_int_equal(regs.rsi, 0);
    assert_int_equal(regs.rsp, 0);
    assert_int_equal(regs.rflags, 2);
    assert_int_equal(sregs.cr0, 0x11);
    assert_int_equal(sregs.cr4, 0);
    assert_int_equal(sregs.efer, 0);
    assert_int_equal(sregs.cs.l, 0);
    assert_int_equal(sregs.cs.db, 1);
    assert_int_equal(sregs.cs.limit, 0xffffffff);
    assert_int_equal(sregs.ds.limit, 0xffffffff);
    assert_int_equal(sregs.tr.limit, 0x67);
    assert_int_equal(sregs.tr.g, 0);
}

static void test_msrs(void **state)
{
    struct kvm_msr_entry m[16];
    static const uint32_t idx[] = {
        0x174,      0x175,      0x176, 0xc0000081, 0xc0000083, 0xc0000102,
        0xc0000084, 0xc0000082, 0x10,  0x1a0,      0x2ff};
    (void)state;
    assert_int_equal(boot_msrs(m, 16), 11);
    for (int i = 0; i < 11; i++) {
        assert_int_equal(m[i].index, idx[i]);
        assert_int_equal(m[i].data, i == 9 ? 1 : i == 10 ? 0x806 : 0);
    }
    assert_int_equal(boot_msrs(m, 3), 3);
    assert_int_equal(boot_msrs(m, 0), 0);
}

static void test_pvh(void **state)
{
    struct seg s[] = {
        {PT_LOAD, 0x1000, 0x1000000, 0x100, 0x100},
        {PT_NOTE, 0x2000, 0, 0, 0},
    };
    struct ram r;
    struct elf e;
    struct boot_result res;
    struct sq_err err;
    static const uint8_t initrd[5000] = {1, 2, 3};
    size_t nlen;
    uint8_t *si;
    int ifd;

    (void)state;
    ram_init(&r, RAM_SIZE, RAM_SIZE);
    elf_init(&e, 0x1000100, s, 2);
    /* an unrelated note first, then the PVH entry note */
    nlen = put_note(e.buf + 0x2000, "GNU", 4, 8, 3, 0x12345678);
    nlen += put_note(e.buf + 0x2000 + nlen, "Xen", 4, 4, 18, 0x1000040);
    p64(e.buf + 64 + 56 + 32, nlen);
    e.len = 0x2000 + nlen;
    ifd = mkfd(initrd, sizeof(initrd));
    assert_int_equal(load(&r, e.buf, e.len, ifd, "pvh", &res, &err), 0);
    close(ifd);
    assert_int_equal(res.proto, BOOT_PROTO_PVH);
    assert_int_equal(res.entry, 0x1000040);
    assert_true(res.has_initrd);
    assert_int_equal(res.initrd_addr, (RAM_SIZE - 5000) & ~0xfffULL);
    assert_int_equal(res.initrd_size, 5000);
    assert_memory_equal(r.base + res.initrd_addr, initrd, sizeof(initrd));

    si = r.base + 0x6000;
    assert_int_equal(g32(si), 0x336ec578);
    assert_int_equal(g32(si + 4), 1);
    assert_int_equal(g32(si + 8), 0);        /* flags */
    assert_int_equal(g32(si + 12), 1);       /* nr_modules */
    assert_int_equal(g64(si + 16), 0x6040);  /* modlist_paddr */
    assert_int_equal(g64(si + 24), 0x20000); /* cmdline_paddr */
    assert_int_equal(g64(si + 32), 0);       /* rsdp_paddr */
    assert_int_equal(g64(si + 40), 0x7000);  /* memmap_paddr */
    assert_int_equal(g32(si + 48), 4);       /* memmap_entries */
    assert_int_equal(g64(r.base + 0x6040), res.initrd_addr);
    assert_int_equal(g64(r.base + 0x6048), 5000);
    assert_int_equal(g64(r.base + 0x7000), 0);
    assert_int_equal(g64(r.base + 0x7008), 0x9fc00);
    assert_int_equal(g32(r.base + 0x7010), 1);
    assert_int_equal(g64(r.base + 0x7018), 0x9fc00);
    assert_int_equal(g64(r.base + 0x7020), 0xe0000 - 0x9fc00);
    assert_int_equal(g32(r.base + 0x7028), 2);
    assert_int_equal(g64(r.base + 0x7030), 0xeec00000);
    assert_int_equal(g64(r.base + 0x7038), 256 << 20);
    assert_int_equal(g32(r.base + 0x7040), 2);
    assert_int_equal(g64(r.base + 0x7048), 0x100000);
    assert_int_equal(g64(r.base + 0x7050), RAM_SIZE - 0x100000);
    assert_int_equal(g32(r.base + 0x7058), 1);
    assert_string_equal((char *)r.base + 0x20000, "pvh");
    check_gdt(r.base, true);
    assert_int_equal(g64(r.base + 0x9000), 0); /* no page tables for PVH */

    /* without initrd: no modules and no modlist pointer */
    assert_int_equal(load(&r, e.buf, e.len, -1, "", &res, &err), 0);
    assert_int_equal(g32(si + 12), 0);
    assert_int_equal(g64(si + 16), 0);

    /* a later PT_NOTE without the PVH note wins (as upstream) */
    {
        struct seg s3[] = {s[0], s[1], {PT_NOTE, 0x2800, 0, 16, 0}};
        elf_init(&e, 0x1000100, s3, 3);
        nlen = put_note(e.buf + 0x2000, "Xen", 4, 4, 18, 0x1000040);
        p64(e.buf + 64 + 56 + 32, nlen);
        put_note(e.buf + 0x2800, "GNU", 4, 0, 1, 0);
        e.len = 0x2810;
        assert_int_equal(load(&r, e.buf, e.len, -1, "", &res, &err), 0);
        assert_int_equal(res.proto, BOOT_PROTO_LINUX64);
        assert_int_equal(res.entry, 0x1000100);
    }
    ram_fini(&r);
}

/* ---- bzImage ---- */

struct bz {
    uint8_t buf[0x3000];
    size_t len;
};

static void bz_init(struct bz *b, uint16_t version, uint16_t xlf)
{
    uint8_t *h = b->buf;

    memset(b->buf, 0, sizeof(b->buf));
    h[0x1f1] = 3; /* setup_sects: setup = 4 * 512 bytes */
    p16(h + 0x1fe, 0xaa55);
    p32(h + 0x202, 0x53726448); /* HdrS */
    p16(h + 0x206, version);
    h[0x211] = 0x01;          /* LOADED_HIGH */
    p32(h + 0x214, 0x100000); /* code32_start */
    p32(h + 0x230, 0x200000); /* kernel_alignment */
    h[0x234] = 1;             /* relocatable */
    p16(h + 0x236, xlf);
    p32(h + 0x260, 0x123000); /* init_size */
    for (size_t i = 0x800; i < 0x2800; i++)
        b->buf[i] = (uint8_t)(i ^ 0x5a);
    b->len = 0x2800;
}

static void test_bzimage(void **state)
{
    struct ram r;
    struct bz b;
    struct boot_result res;
    struct sq_err err;
    uint8_t *zp;
    static const uint8_t initrd[100] = {9, 8, 7};
    int ifd;

    (void)state;
    ram_init(&r, RAM_SIZE, RAM_SIZE);
    bz_init(&b, 0x020f, 0x1);
    ifd = mkfd(initrd, sizeof(initrd));
    assert_int_equal(load(&r, b.buf, b.len, ifd, "bz", &res, &err), 0);
    close(ifd);
    assert_int_equal(res.proto, BOOT_PROTO_BZIMAGE);
    assert_int_equal(res.entry, 0x100200);
    assert_int_equal(res.kernel_end, 0x100000 + 0x2000);
    assert_memory_equal(r.base + 0x100000, b.buf + 0x800, 0x2000);
    zp = r.base + 0x7000;
    /* header seeded from the image ... */
    assert_int_equal(zp[0x1f1], 3);
    assert_int_equal(g16(zp + 0x206), 0x020f);
    assert_int_equal(g32(zp + 0x230), 0x200000);
    assert_int_equal(zp[0x234], 1);
    assert_int_equal(g16(zp + 0x236), 1);
    assert_int_equal(g32(zp + 0x260), 0x123000);
    assert_int_equal(g32(zp + 0x214), 0x100000);
    /* ... with the loader's fields on top */
    assert_int_equal(zp[0x210], 0xff);
    assert_int_equal(g16(zp + 0x1fe), 0xaa55);
    assert_int_equal(g32(zp + 0x228), 0x20000);
    assert_int_equal(g32(zp + 0x238), 3);
    assert_int_equal(g32(zp + 0x218), (RAM_SIZE - 100) & ~0xfffULL);
    assert_int_equal(g32(zp + 0x21c), 100);
    assert_int_equal(g64(zp + 0x70), 0xe0000);
    check_e820_zero_page(zp, RAM_SIZE);
    check_gdt(r.base, false);
    assert_int_equal(g64(r.base + 0x9000), 0xa003);
    /* the protected-mode part goes to code32_start, the entry follows it;
     * setup code after the header (0x26c on) does not reach the zero page */
    p32(b.buf + 0x214, 0x400000);
    memset(b.buf + 0x26c, 0xcc, 0x800 - 0x26c);
    assert_int_equal(load(&r, b.buf, b.len, -1, "", &res, &err), 0);
    assert_int_equal(res.entry, 0x400200);
    assert_memory_equal(r.base + 0x400000, b.buf + 0x800, 0x2000);
    assert_int_equal(g32(zp + 0x214), 0x400000);
    for (size_t i = 0x26c; i < 0x2d0; i++)
        assert_int_equal(zp[i], 0);
    ram_fini(&r);
}

struct err_case {
    const char *name;
    int kind; /* 0 = bzImage version/xlf, 1 = bzImage mutate, 2 = raw */
    uint16_t version, xlf;
    void (*mutate)(struct bz *b);
    const char *want;
};

static void bz_no_hdrs(struct bz *b)
{
    b->buf[0x202] = 'X';
}
static void bz_not_high(struct bz *b)
{
    b->buf[0x211] = 0;
}
static void bz_low_start(struct bz *b)
{
    p32(b->buf + 0x214, 0xff000);
}
static void bz_short(struct bz *b)
{
    b->len = 0x700;
}
static void bz_too_short(struct bz *b)
{
    b->len = 0x204;
}
static void bz_hole(struct bz *b)
{
    p32(b->buf + 0x214, 0xc0000000);
}
static void bz_edge(struct bz *b)
{
    p32(b->buf + 0x214, RAM_SIZE - 0x1fff);
}
static void bz_zero_sects(struct bz *b)
{
    b->buf[0x1f1] = 0;
    b->len = 0x9ff;
}

static void test_bzimage_errors(void **state)
{
    static const struct err_case cases[] = {
        {"protocol 2.11", 0, 0x020b, 1, NULL,
         "System configuration error: bzImage does not provide a 64-bit "
         "entry point"},
        {"no XLF_KERNEL_64", 0, 0x020f, 0x2, NULL,
         "System configuration error: bzImage does not provide a 64-bit "
         "entry point"},
        {"no HdrS", 1, 0, 0, bz_no_hdrs, PFX_BZ "Invalid bzImage"},
        {"not loaded high", 1, 0, 0, bz_not_high, PFX_BZ "Invalid bzImage"},
        {"code32 below 1 MiB", 1, 0, 0, bz_low_start,
         PFX_KL "invalid kernel start address"},
        {"file shorter than setup", 1, 0, 0, bz_short,
         PFX_BZ "Underflow occurred during an arithmetic operation"},
        {"header cut short", 1, 0, 0, bz_too_short, PFX_BZ "Invalid bzImage"},
        {"setup_sects 0 means 4", 1, 0, 0, bz_zero_sects,
         PFX_BZ "Underflow occurred during an arithmetic operation"},
        {"load into MMIO hole", 1, 0, 0, bz_hole,
         PFX_BZ "Unable to read bzImage compressed kernel"},
        {"load past end of RAM", 1, 0, 0, bz_edge,
         PFX_BZ "Unable to read bzImage compressed kernel"},
    };
    struct ram r;

    (void)state;
    ram_init(&r, RAM_SIZE, RAM_SIZE);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct boot_result res;
        struct sq_err err;
        struct bz b;
        int rc;

        bz_init(&b, cases[i].kind == 0 ? cases[i].version : 0x020f,
                cases[i].kind == 0 ? cases[i].xlf : 1);
        if (cases[i].mutate)
            cases[i].mutate(&b);
        rc = load(&r, b.buf, b.len, -1, "", &res, &err);
        if (rc >= 0 || strcmp(err.msg, cases[i].want) != 0) {
            fprintf(stderr, "case '%s': rc %d msg '%s'\n", cases[i].name, rc,
                    err.msg);
            fail();
        }
    }
    ram_fini(&r);
}

/* ---- hostile ELF table ---- */

struct elf_case {
    const char *name;
    uint64_t entry;
    struct seg seg;
    void (*mutate)(struct elf *e);
    const char *want;
};

static void e_trunc(struct elf *e)
{
    e->len = 10;
}
static void e_big_endian(struct elf *e)
{
    e->buf[5] = 2;
}
static void e_phentsize(struct elf *e)
{
    p16(e->buf + 54, 32);
}
static void e_phoff_low(struct elf *e)
{
    p64(e->buf + 32, 63);
}
static void e_phoff_eof(struct elf *e)
{
    p64(e->buf + 32, 0x100000);
}
static void e_phoff_huge(struct elf *e)
{
    p64(e->buf + 32, UINT64_MAX - 8);
}
static void e_phnum_many(struct elf *e)
{
    p16(e->buf + 56, 0xffff);
}
static void e_file_short(struct elf *e)
{
    e->len = 0x1100;
}
static void e_pvh_small_desc(struct elf *e)
{
    put_note(e->buf + 0x1000, "Xen", 4, 2, 18, 0);
}
static void e_note_overflow(struct elf *e)
{
    put_note(e->buf + 0x1000, "Xen", 0xffffffff, 4, 1, 0);
}
static void e_note_trunc(struct elf *e)
{
    put_note(e->buf + 0x1000, "Xen", 4, 0x10000, 1, 0);
}

static void test_elf_errors(void **state)
{
    static const struct elf_case cases[] = {
        {"truncated header",
         0x100000,
         {PT_LOAD, 0x1000, 0x100000, 16, 16},
         e_trunc,
         PFX_ELF "Unable to read elf header"},
        {"big endian",
         0x100000,
         {PT_LOAD, 0x1000, 0x100000, 16, 16},
         e_big_endian,
         PFX_ELF "Trying to load big-endian binary on little-endian machine"},
        {"phentsize",
         0x100000,
         {PT_LOAD, 0x1000, 0x100000, 16, 16},
         e_phentsize,
         PFX_ELF "Invalid program header size"},
        {"phoff inside ehdr",
         0x100000,
         {PT_LOAD, 0x1000, 0x100000, 16, 16},
         e_phoff_low,
         PFX_ELF "Invalid program header offset"},
        {"entry below 1 MiB",
         0xfffff,
         {PT_LOAD, 0x1000, 0x100000, 16, 16},
         NULL,
         PFX_ELF "Invalid entry address"},
        {"phdrs past EOF",
         0x100000,
         {PT_LOAD, 0x1000, 0x100000, 16, 16},
         e_phoff_eof,
         PFX_ELF "Unable to read program header"},
        {"phoff overflows",
         0x100000,
         {PT_LOAD, 0x1000, 0x100000, 16, 16},
         e_phoff_huge,
         PFX_ELF "Unable to read program header"},
        {"65535 phdrs",
         0x100000,
         {PT_LOAD, 0x1000, 0x100000, 16, 16},
         e_phnum_many,
         PFX_ELF "Unable to read program header"},
        {"segment below 1 MiB",
         0x100000,
         {PT_LOAD, 0x1000, 0x7000, 16, 16},
         NULL,
         PFX_ELF "Invalid Program Header Address"},
        {"segment at 0",
         0x100000,
         {PT_LOAD, 0x1000, 0, 16, 16},
         NULL,
         PFX_ELF "Invalid Program Header Address"},
        {"segment in MMIO hole",
         0x100000,
         {PT_LOAD, 0x1000, 0xc0000000, 16, 16},
         NULL,
         PFX_ELF "Unable to read kernel image"},
        {"segment straddles end of RAM",
         0x100000,
         {PT_LOAD, 0x1000, RAM_SIZE - 8, 16, 16},
         NULL,
         PFX_ELF "Unable to read kernel image"},
        {"huge p_filesz",
         0x100000,
         {PT_LOAD, 0x1000, 0x100000, UINT64_MAX, UINT64_MAX},
         NULL,
         PFX_ELF "Unable to read kernel image"},
        {"paddr + filesz overflows",
         0x100000,
         {PT_LOAD, 0x1000, UINT64_MAX - 4, 16, 16},
         NULL,
         PFX_ELF "Unable to read kernel image"},
        {"p_offset + filesz overflows",
         0x100000,
         {PT_LOAD, UINT64_MAX - 4, 0x100000, 16, 16},
         NULL,
         PFX_ELF "Unable to read kernel image"},
        {"segment past EOF",
         0x100000,
         {PT_LOAD, 0x1000, 0x100000, 0x1000, 0x1000},
         e_file_short,
         PFX_ELF "Unable to read kernel image"},
        {"memsz overflows",
         0x100000,
         {PT_LOAD, 0x1000, 0x100000, 16, UINT64_MAX},
         NULL,
         PFX_KL "memory to load kernel image is not enough"},
        {"PVH desc too small",
         0x100000,
         {PT_NOTE, 0x1000, 0, 20, 0},
         e_pvh_small_desc,
         PFX_ELF "Invalid PVH note header"},
        {"note namesz overflows",
         0x100000,
         {PT_NOTE, 0x1000, 0, 20, 0},
         e_note_overflow,
         PFX_ELF "Overflow occurred during an arithmetic operation"},
        {"note runs past EOF",
         0x100000,
         {PT_NOTE, 0x1000, 0, 0x100000, 0},
         e_note_trunc,
         PFX_ELF "Unable to read note header"},
        {"note segment past EOF",
         0x100000,
         {PT_NOTE, 0x9000, 0, 20, 0},
         NULL,
         PFX_ELF "Unable to read note header"},
    };
    struct ram r;

    (void)state;
    ram_init(&r, RAM_SIZE, RAM_SIZE);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct boot_result res;
        struct sq_err err;
        struct elf e;
        int rc;

        elf_init(&e, cases[i].entry, &cases[i].seg, 1);
        if (cases[i].mutate)
            cases[i].mutate(&e);
        rc = load(&r, e.buf, e.len, -1, "", &res, &err);
        if (rc >= 0 || strcmp(err.msg, cases[i].want) != 0) {
            fprintf(stderr, "case '%s': rc %d msg '%s'\n", cases[i].name, rc,
                    err.msg);
            fail();
        }
    }
    ram_fini(&r);
}

static void test_misc_errors(void **state)
{
    struct seg s = {PT_LOAD, 0x1000, 0x100000, 16, 16};
    struct ram r;
    struct elf e;
    struct boot_result res;
    struct sq_err err;
    char *big;
    int ifd;

    (void)state;
    ram_init(&r, 2 << 20, 2 << 20);
    elf_init(&e, 0x100000, &s, 1);

    /* an initrd larger than RAM */
    big = calloc(1, (2 << 20) + 1);
    assert_non_null(big);
    ifd = mkfd(big, (2 << 20) + 1);
    assert_int_equal(load(&r, e.buf, e.len, ifd, "", &res, &err), -ENOMEM);
    assert_string_equal(err.msg, "Error with initrd initialization: Failed "
                                 "to compute the initrd address..");
    close(ifd);
    free(big);

    /* an initrd that fills RAM exactly lands at 0 (upstream does not check
     * overlap with the kernel) */
    ifd = memfd_create("i", MFD_CLOEXEC);
    assert_int_equal(ftruncate(ifd, 2 << 20), 0);
    assert_int_equal(load(&r, e.buf, e.len, ifd, "", &res, &err), 0);
    assert_int_equal(res.initrd_addr, 0);
    close(ifd);

    /* an initrd fd that is not open */
    assert_int_equal(load(&r, e.buf, e.len, 999999, "", &res, &err), -EBADF);
    assert_string_equal(err.msg, "Error with initrd initialization: Cannot "
                                 "image metadata: Bad file descriptor (os "
                                 "error 9).");

    /* command line longer than the capacity */
    big = malloc(3000);
    assert_non_null(big);
    memset(big, 'a', 2999);
    big[2999] = '\0';
    assert_true(load(&r, e.buf, e.len, -1, big, &res, &err) < 0);
    assert_string_equal(err.msg, "System configuration error: Cannot load "
                                 "command line string: Kernel Loader: "
                                 "command line overflowed guest memory");
    big[2047] = '\0';
    assert_int_equal(load(&r, e.buf, e.len, -1, big, &res, &err), 0);
    assert_int_equal(g32(r.base + 0x7000 + 0x238), 2048);
    free(big);

    /* an empty file is not an ELF and too short for a header read */
    assert_int_equal(load(&r, "", 0, -1, "", &res, &err), -EINVAL);
    assert_string_equal(err.msg, PFX_ELF "Unable to read elf header");

    /* 64 bytes of garbage: not ELF, so bzImage, which has no HdrS */
    {
        uint8_t junk[64];
        memset(junk, 0x41, sizeof(junk));
        assert_int_equal(load(&r, junk, sizeof(junk), -1, "", &res, &err),
                         -EINVAL);
        assert_string_equal(err.msg, PFX_BZ "Invalid bzImage");
    }
    ram_fini(&r);
}

static void test_bad_memory(void **state)
{
    struct seg s = {PT_LOAD, 0x1000, 0x100000, 16, 16};
    struct boot_result res;
    struct sq_err err;
    struct boot_mem m;
    struct elf e;
    struct ram r;
    int fd;

    (void)state;
    elf_init(&e, 0x100000, &s, 1);
    fd = mkfd(e.buf, e.len);

    /* 64 KiB of RAM: the kernel does not fit, nothing is written past it */
    ram_init(&r, 64 << 10, 64 << 10);
    sq_err_clear(&err);
    assert_int_equal(boot_load(&r.mem, fd, -1, "", &res, &err), -EINVAL);
    assert_string_equal(err.msg, PFX_ELF "Unable to read kernel image");
    ram_fini(&r);

    /* exactly up to the end of the segment is enough */
    ram_init(&r, 0x100000 + 16, 0x100000 + 16);
    sq_err_clear(&err);
    assert_int_equal(boot_load(&r.mem, fd, -1, "x", &res, &err), 0);
    ram_fini(&r);

    /* inconsistent views are refused */
    m.ram = NULL;
    m.ram_len = 1 << 20;
    m.mem_size = 1 << 20;
    assert_true(boot_load(&m, fd, -1, "", &res, &err) < 0);
    ram_init(&r, 2 << 20, 1 << 20); /* mem_size < ram_len */
    assert_true(boot_load(&r.mem, fd, -1, "", &res, &err) < 0);
    ram_fini(&r);
    close(fd);

    /* an ELF without program headers loads nothing and still boots */
    ram_init(&r, 2 << 20, 2 << 20);
    elf_init(&e, 0x100000, &s, 0);
    assert_int_equal(load(&r, e.buf, e.len, -1, "", &res, &err), 0);
    assert_int_equal(res.kernel_end, 0);
    assert_int_equal(res.entry, 0x100000);
    ram_fini(&r);
}

struct e820_case {
    uint64_t mem;
    size_t n;
    struct boot_e820_entry want[6];
};

static void test_e820(void **state)
{
    static const struct e820_case cases[] = {
        {128ULL << 20,
         4,
         {{0, 0x9fc00, 1},
          {0x9fc00, 0x40400, 2},
          {0xeec00000, 256 << 20, 2},
          {0x100000, (128ULL << 20) - 0x100000, 1}}},
        {3ULL << 30,
         4,
         {{0, 0x9fc00, 1},
          {0x9fc00, 0x40400, 2},
          {0xeec00000, 256 << 20, 2},
          {0x100000, (3ULL << 30) - 0x100000, 1}}},
        {4ULL << 30,
         5,
         {{0, 0x9fc00, 1},
          {0x9fc00, 0x40400, 2},
          {0xeec00000, 256 << 20, 2},
          {0x100000, (3ULL << 30) - 0x100000, 1},
          {4ULL << 30, 1ULL << 30, 1}}},
        {300ULL << 30,
         6,
         {{0, 0x9fc00, 1},
          {0x9fc00, 0x40400, 2},
          {0xeec00000, 256 << 20, 2},
          {0x100000, (3ULL << 30) - 0x100000, 1},
          {4ULL << 30, 252ULL << 30, 1},
          {512ULL << 30, 45ULL << 30, 1}}},
        {1ULL << 20,
         3,
         {{0, 0x9fc00, 1}, {0x9fc00, 0x40400, 2}, {0xeec00000, 256 << 20, 2}}},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct boot_e820_entry got[8];
        size_t n = boot_e820_map(cases[i].mem, got, 8);

        assert_int_equal(n, cases[i].n);
        for (size_t j = 0; j < n; j++) {
            assert_int_equal(got[j].addr, cases[i].want[j].addr);
            assert_int_equal(got[j].size, cases[i].want[j].size);
            assert_int_equal(got[j].type, cases[i].want[j].type);
        }
    }
    /* a short output array gets a prefix, the count is still the total */
    {
        struct boot_e820_entry two[2];
        assert_int_equal(boot_e820_map(128ULL << 20, two, 2), 4);
        assert_int_equal(two[1].addr, 0x9fc00);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elf_linux64),
        cmocka_unit_test(test_vcpu_setup),
        cmocka_unit_test(test_msrs),
        cmocka_unit_test(test_pvh),
        cmocka_unit_test(test_bzimage),
        cmocka_unit_test(test_bzimage_errors),
        cmocka_unit_test(test_elf_errors),
        cmocka_unit_test(test_misc_errors),
        cmocka_unit_test(test_e820),
        cmocka_unit_test(test_bad_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
