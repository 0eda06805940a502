/*
 * guest.c: the test guest's main program.
 *
 * guest_main() runs on the boot CPU in long mode with the guest's own page
 * tables, whatever the entry path. It reports how it was entered (registers,
 * zero page or PVH start info, memory map, command line), then runs the
 * test named by "squibtest=<name>" on the command line (default: report).
 * See README.md for the tests and the output format.
 */
#include "guest.h"
#include "pci.h"
#include "virtio.h"

#define LAPIC_BASE       0xfee00000ULL
#define LAPIC_ID         0x20
#define LAPIC_SVR        0xf0
#define LAPIC_ICR_LO     0x300
#define LAPIC_ICR_HI     0x310
#define LAPIC_LVT_TIMER  0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_DIV  0x3e0

#define CMDLINE_MAX 2048

struct boot_info {
    uint64_t zp;        /* boot_params address (Linux protocols), or 0 */
    uint64_t pvh;       /* hvm_start_info address (PVH), or 0 */
    uint64_t rsdp_hint; /* from the zero page or start info */
    char cmdline[CMDLINE_MAX];
    size_t cmdline_len;
};

/* Written by APs, read by the BSP. */
static volatile uint32_t ap_started;

/* Counted by isr_handler (device interrupts taken). */
static volatile uint64_t irq_count;

struct idt_gate {
    uint16_t off_lo, sel;
    uint8_t ist, type;
    uint16_t off_mid;
    uint32_t off_hi, zero;
} __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(16)));

static uint64_t er(int off)
{
    uint64_t v;

    memcpy(&v, entry_regs + off, 8);
    return v;
}

static uint16_t er16(int off)
{
    uint16_t v;

    memcpy(&v, entry_regs + off, 2);
    return v;
}

/* Page tables for the 64-bit entry (the 32-bit entries build them in asm):
 * identity map of 4 GiB with 2 MiB pages, MMIO (>= 3 GiB) uncached, all
 * user-accessible so the counter loop can run in ring 3. */
void paging_build(void)
{
    pml4[0] = (uint64_t)(uintptr_t)pdpt | 7;
    for (int i = 0; i < 4; i++)
        pdpt[i] = ((uint64_t)(uintptr_t)pd + 4096 * (uint64_t)i) | 7;
    for (uint64_t j = 0; j < 2048; j++)
        pd[j] = (j << 21) | 0x87 | (j >= 1536 ? 0x18 : 0);
}

static uint64_t counter_every;
static void counter_tick(void);

/*
 * Exceptions are reported and stop the CPU; anything else is a device
 * interrupt, acknowledged at the LAPIC (and the PIC for 0x20..0x2f).
 */
void isr_handler(uint64_t vector, uint64_t error, const uint64_t *frame)
{
    struct line l;

    if (vector < 32) {
        line_start(&l);
        line_str(&l, "exception");
        line_kv_dec(&l, "vector", vector);
        line_kv_hex(&l, "error", error);
        line_kv_hex(&l, "rip", frame[0]);
        line_kv_hex(&l, "cs", frame[1]);
        line_kv_hex(&l, "rflags", frame[2]);
        line_end_nolock(&l); /* the interrupted code may hold the lock */
        for (;;)
            __asm__ volatile("cli; hlt");
    }
    irq_count++;
    if (vector == 0x40 && counter_every)
        counter_tick();
    if (vector >= VIRTIO_VECTOR_BASE && vector <= VIRTIO_VECTOR_MAX)
        virtio_isr(vector);
    if (vector >= PCI_VECTOR_BASE && vector <= PCI_VECTOR_MAX)
        pci_isr(vector);
    if (vector >= ACPIDEV_VECTOR_BASE && vector <= ACPIDEV_VECTOR_MAX)
        acpidev_isr(vector);
    mmio_write32(0xfee000b0ULL, 0);
    if (vector >= 0x20 && vector < 0x30) {
        if (vector >= 0x28)
            outb(0xa0, 0x20);
        outb(0x20, 0x20);
    }
}

/*
 * Install an IDT and run with interrupts enabled. Besides catching stray
 * exceptions, this matters on the nested hypervisor the tests run on, where
 * guest kernel code that runs with interrupts off goes through KVM's
 * instruction emulator and is very slow. The legacy PIC is moved to vectors
 * 0x20..0x2f and masked; nothing else is programmed to interrupt.
 */
static void interrupts_on(void)
{
    static const uint8_t pic_init[][2] = {
        {0x20, 0x11}, {0xa0, 0x11}, {0x21, 0x20}, {0xa1, 0x28}, {0x21, 0x04},
        {0xa1, 0x02}, {0x21, 0x01}, {0xa1, 0x01}, {0x21, 0xff}, {0xa1, 0xff},
    };
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) desc;

    for (int i = 0; i < 256; i++) {
        uint64_t a = (uint64_t)(uintptr_t)(isr_stubs + 16 * i);

        idt[i].off_lo = (uint16_t)a;
        idt[i].sel = 0x08;
        idt[i].ist = 0;
        idt[i].type = 0x8e; /* present, DPL 0, 64-bit interrupt gate */
        idt[i].off_mid = (uint16_t)(a >> 16);
        idt[i].off_hi = (uint32_t)(a >> 32);
        idt[i].zero = 0;
    }
    desc.limit = sizeof(idt) - 1;
    desc.base = (uint64_t)(uintptr_t)idt;
    __asm__ volatile("lidt %0" : : "m"(desc));
    for (unsigned i = 0; i < sizeof(pic_init) / sizeof(pic_init[0]); i++)
        outb(pic_init[i][0], pic_init[i][1]);
    __asm__ volatile("sti");
}

static uint32_t lapic_read(uint32_t reg);
static void lapic_write(uint32_t reg, uint32_t v);

static void report_entry(void)
{
    const char *kind;
    struct line l;

    switch (entry_kind) {
    case BOOT_KIND_PVH:
        kind = "pvh";
        break;
    case BOOT_KIND_BZ32:
        kind = "bzimage32";
        break;
    default:
        /* 64-bit entry: a bzImage's setup header seeds the zero page, an
         * ELF leaves it zero, so the header version tells them apart. */
        kind = *(volatile uint16_t *)(er(ER_RSI) + 0x206) ? "bzimage64"
                                                          : "linux64";
        break;
    }
    line_start(&l);
    line_str(&l, "boot=");
    line_str(&l, kind);
    line_end(&l);

    line_start(&l);
    line_str(&l, "entry");
    line_kv_hex(&l, "rip", er(ER_RIP));
    line_kv_hex(&l, "rax", er(ER_RAX));
    line_kv_hex(&l, "rbx", er(ER_RBX));
    line_kv_hex(&l, "rcx", er(ER_RCX));
    line_kv_hex(&l, "rdx", er(ER_RDX));
    line_kv_hex(&l, "rsi", er(ER_RSI));
    line_kv_hex(&l, "rdi", er(ER_RDI));
    line_kv_hex(&l, "rbp", er(ER_RBP));
    line_kv_hex(&l, "rsp", er(ER_RSP));
    line_kv_hex(&l, "rflags", er(ER_RFLAGS));
    line_end(&l);

    line_start(&l);
    line_str(&l, "entry-sregs");
    line_kv_hex(&l, "cr0", er(ER_CR0));
    line_kv_hex(&l, "cr3", er(ER_CR3));
    line_kv_hex(&l, "cr4", er(ER_CR4));
    if (entry_kind == BOOT_KIND_64)
        line_kv_hex(&l, "efer", er(ER_EFER));
    line_kv_hex(&l, "cs", er16(ER_CS));
    line_kv_hex(&l, "ds", er16(ER_DS));
    line_kv_hex(&l, "ss", er16(ER_SS));
    line_kv_hex(&l, "gdt_base", er(ER_GDT + 2));
    line_kv_hex(&l, "gdt_limit", er16(ER_GDT));
    line_kv_hex(&l, "idt_base", er(ER_IDT + 2));
    line_kv_hex(&l, "idt_limit", er16(ER_IDT));
    line_end(&l);

    if (entry_kind == BOOT_KIND_64 && er(ER_CR3) == 0x9000) {
        /* The VMM's identity map (digest 6.1), while it is still intact. */
        const volatile uint64_t *p4 = (const uint64_t *)0x9000;
        const volatile uint64_t *p3 = (const uint64_t *)0xa000;
        const volatile uint64_t *p2 = (const uint64_t *)0xb000;
        uint32_t good = 0;

        /* The CPU sets the accessed/dirty bits (0x60) as it walks. */
        for (uint64_t i = 0; i < 512; i++)
            good += (p2[i] & ~0x60ULL) == ((i << 21) | 0x83);
        line_start(&l);
        line_str(&l, "entry-pagetables");
        line_kv_hex(&l, "pml4_0", p4[0] & ~0x60ULL);
        line_kv_hex(&l, "pdpt_0", p3[0] & ~0x60ULL);
        line_kv_dec(&l, "pd_2m_identity", good);
        line_end(&l);
    }
}

static void copy_cmdline(struct boot_info *bi, uint64_t addr, uint64_t max)
{
    const volatile char *s = (const volatile char *)addr;
    size_t n = 0;

    if (!addr || addr >= 0xc0000000ULL) {
        bi->cmdline_len = 0;
        return;
    }
    if (max > CMDLINE_MAX - 1 || max == 0)
        max = CMDLINE_MAX - 1;
    while (n < max && s[n]) {
        bi->cmdline[n] = s[n];
        n++;
    }
    bi->cmdline[n] = 0;
    bi->cmdline_len = n;
}

static void report_zero_page(struct boot_info *bi)
{
    uint64_t zp = bi->zp;
    uint8_t n_e820;
    struct line l;

    line_start(&l);
    line_str(&l, "zp");
    line_kv_hex(&l, "addr", zp);
    line_kv_hex(&l, "setup_sects", *(volatile uint8_t *)(zp + 0x1f1));
    line_kv_hex(&l, "boot_flag", *(volatile uint16_t *)(zp + 0x1fe));
    line_kv_str(&l, "header", (const char *)(zp + 0x202), 4);
    line_kv_hex(&l, "version", *(volatile uint16_t *)(zp + 0x206));
    line_kv_hex(&l, "type_of_loader", *(volatile uint8_t *)(zp + 0x210));
    line_kv_hex(&l, "loadflags", *(volatile uint8_t *)(zp + 0x211));
    line_kv_hex(&l, "code32_start", *(volatile uint32_t *)(zp + 0x214));
    line_kv_hex(&l, "ramdisk_image", *(volatile uint32_t *)(zp + 0x218));
    line_kv_hex(&l, "ramdisk_size", *(volatile uint32_t *)(zp + 0x21c));
    line_kv_hex(&l, "cmd_line_ptr", *(volatile uint32_t *)(zp + 0x228));
    line_kv_hex(&l, "kernel_alignment", *(volatile uint32_t *)(zp + 0x230));
    line_kv_hex(&l, "xloadflags", *(volatile uint16_t *)(zp + 0x236));
    line_kv_dec(&l, "cmdline_size", *(volatile uint32_t *)(zp + 0x238));
    line_kv_hex(&l, "acpi_rsdp_addr", *(volatile uint64_t *)(zp + 0x70));
    n_e820 = *(volatile uint8_t *)(zp + 0x1e8);
    line_kv_dec(&l, "e820_entries", n_e820);
    line_end(&l);
    for (unsigned i = 0; i < n_e820 && i < 128; i++) {
        uint64_t e = zp + 0x2d0 + 20 * i;

        line_start(&l);
        line_str(&l, "e820");
        line_kv_dec(&l, "i", i);
        line_kv_hex(&l, "addr", *(volatile uint64_t *)e);
        line_kv_hex(&l, "size", *(volatile uint64_t *)(e + 8));
        line_kv_dec(&l, "type", *(volatile uint32_t *)(e + 16));
        line_end(&l);
    }
    bi->rsdp_hint = *(volatile uint64_t *)(zp + 0x70);
    copy_cmdline(bi,
                 *(volatile uint32_t *)(zp + 0x228) |
                     ((uint64_t) * (volatile uint32_t *)(zp + 0xc8) << 32),
                 *(volatile uint32_t *)(zp + 0x238));
}

static void report_pvh(struct boot_info *bi)
{
    uint64_t si = bi->pvh, mm, ml;
    uint32_t n_mm, n_mod;
    struct line l;

    line_start(&l);
    line_str(&l, "pvh");
    line_kv_hex(&l, "addr", si);
    line_kv_hex(&l, "magic", *(volatile uint32_t *)si);
    line_kv_dec(&l, "version", *(volatile uint32_t *)(si + 4));
    line_kv_hex(&l, "flags", *(volatile uint32_t *)(si + 8));
    n_mod = *(volatile uint32_t *)(si + 12);
    line_kv_dec(&l, "nr_modules", n_mod);
    ml = *(volatile uint64_t *)(si + 16);
    line_kv_hex(&l, "modlist_paddr", ml);
    line_kv_hex(&l, "cmdline_paddr", *(volatile uint64_t *)(si + 24));
    line_kv_hex(&l, "rsdp_paddr", *(volatile uint64_t *)(si + 32));
    mm = *(volatile uint64_t *)(si + 40);
    line_kv_hex(&l, "memmap_paddr", mm);
    n_mm = *(volatile uint32_t *)(si + 48);
    line_kv_dec(&l, "memmap_entries", n_mm);
    line_end(&l);
    for (uint32_t i = 0; mm && mm < 0xc0000000ULL && i < n_mm && i < 128; i++) {
        uint64_t e = mm + 24 * i;

        line_start(&l);
        line_str(&l, "memmap");
        line_kv_dec(&l, "i", i);
        line_kv_hex(&l, "addr", *(volatile uint64_t *)e);
        line_kv_hex(&l, "size", *(volatile uint64_t *)(e + 8));
        line_kv_dec(&l, "type", *(volatile uint32_t *)(e + 16));
        line_end(&l);
    }
    for (uint32_t i = 0; ml && ml < 0xc0000000ULL && i < n_mod && i < 16; i++) {
        uint64_t e = ml + 32 * i;

        line_start(&l);
        line_str(&l, "module");
        line_kv_dec(&l, "i", i);
        line_kv_hex(&l, "paddr", *(volatile uint64_t *)e);
        line_kv_hex(&l, "size", *(volatile uint64_t *)(e + 8));
        line_kv_hex(&l, "cmdline_paddr", *(volatile uint64_t *)(e + 16));
        line_end(&l);
    }
    bi->rsdp_hint = *(volatile uint64_t *)(si + 32);
    copy_cmdline(bi, *(volatile uint64_t *)(si + 24), 0);
}

/* Value of "key=" on the command line (whitespace-separated), or NULL. */
static const char *cmdline_get(const struct boot_info *bi, const char *key,
                               size_t *len)
{
    size_t kl = strlen(key);

    for (size_t i = 0; i + kl <= bi->cmdline_len; i++) {
        if ((i == 0 || bi->cmdline[i - 1] == ' ') &&
            memcmp(bi->cmdline + i, key, kl) == 0) {
            size_t n = 0;

            while (i + kl + n < bi->cmdline_len &&
                   bi->cmdline[i + kl + n] != ' ')
                n++;
            *len = n;
            return bi->cmdline + i + kl;
        }
    }
    return NULL;
}

static int word_is(const char *v, size_t n, const char *w)
{
    return v && n == strlen(w) && memcmp(v, w, n) == 0;
}

static uint64_t parse_u64(const char *v, size_t n, uint64_t dflt)
{
    uint64_t x = 0;

    if (!v || !n)
        return dflt;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return dflt;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    return x;
}

/* i8042 "pulse reset line" (Firecracker: clean stop, exit 0). Where there is
 * no i8042 (QEMU microvm), fall back to a triple fault, which QEMU run with
 * -no-reboot also treats as the end of the run. */
static void triple_fault(void) __attribute__((noreturn));
static void triple_fault(void)
{
    static const struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) null_idt = {0, 0};

    __asm__ volatile("lidt %0; ud2" : : "m"(null_idt));
    for (;;)
        __asm__ volatile("cli; hlt");
}

static void reset(void) __attribute__((noreturn));
static void reset(void)
{
    say("reset method=i8042");
    outb(0x64, 0xfe);
    delay_cycles(100000000ULL);
    say("reset method=triplefault");
    triple_fault();
}

static void test_cpuid(void)
{
    static const uint32_t leaves[][2] = {{0, 0}, {1, 0}, {0xb, 0}, {0xb, 1}};

    for (unsigned i = 0; i < 4; i++) {
        uint32_t r[4];
        struct line l;

        cpuid(leaves[i][0], leaves[i][1], r);
        line_start(&l);
        line_str(&l, "cpuid");
        line_kv_hex(&l, "leaf", leaves[i][0]);
        line_kv_hex(&l, "subleaf", leaves[i][1]);
        line_kv_hex(&l, "eax", r[0]);
        line_kv_hex(&l, "ebx", r[1]);
        line_kv_hex(&l, "ecx", r[2]);
        line_kv_hex(&l, "edx", r[3]);
        line_end(&l);
    }
}

static uint32_t lapic_read(uint32_t reg)
{
    return mmio_read32(LAPIC_BASE + reg);
}

static void lapic_write(uint32_t reg, uint32_t v)
{
    mmio_write32(LAPIC_BASE + reg, v);
}

static void lapic_ipi(uint8_t apic_id, uint32_t lo)
{
    lapic_write(LAPIC_ICR_HI, (uint32_t)apic_id << 24);
    lapic_write(LAPIC_ICR_LO, lo);
    for (int i = 0; i < 100000 && (lapic_read(LAPIC_ICR_LO) & (1 << 12)); i++)
        cpu_relax();
}

void ap_main(void)
{
    struct line l;
    uint32_t r[4];

    cpuid(1, 0, r);
    line_start(&l);
    line_str(&l, "ap");
    line_kv_dec(&l, "apic_id", lapic_read(LAPIC_ID) >> 24);
    line_kv_dec(&l, "cpuid_apic_id", r[1] >> 24);
    line_end(&l);
    __atomic_add_fetch(&ap_started, 1, __ATOMIC_SEQ_CST);
}

static void test_smp(const struct fw_info *fi)
{
    const uint8_t *ids = fi->have_madt ? fi->lapic_ids : fi->mp_cpu_ids;
    uint32_t n = fi->have_madt ? fi->n_lapic : fi->n_mp_cpus;
    uint32_t self, expected = 0;
    size_t tlen = (size_t)(ap_tramp_end - ap_tramp_start);
    struct line l;
    uint64_t t0;

    lapic_write(LAPIC_SVR, lapic_read(LAPIC_SVR) | 0x100);
    self = lapic_read(LAPIC_ID) >> 24;
    memcpy((void *)AP_TRAMPOLINE, ap_tramp_start, tlen);
    if (n == 0) {
        /* No MADT or MP table: wake every other CPU with the "all excluding
         * self" shorthand and count whoever answers within the wait. */
        lapic_ipi(0, 0xc4500);
        delay_cycles(10000000ULL);
        for (int k = 0; k < 2; k++) {
            lapic_ipi(0, 0xc4600 | (AP_TRAMPOLINE >> 12));
            delay_cycles(1000000ULL);
        }
        delay_cycles(2000000000ULL);
    }
    for (uint32_t i = 0; i < n; i++) {
        if (ids[i] == self)
            continue;
        expected++;
        lapic_ipi(ids[i], 0x4500); /* INIT, assert */
        delay_cycles(10000000ULL);
        for (int k = 0; k < 2; k++) {
            lapic_ipi(ids[i], 0x4600 | (AP_TRAMPOLINE >> 12)); /* SIPI */
            delay_cycles(1000000ULL);
        }
    }
    t0 = rdtsc();
    while (__atomic_load_n(&ap_started, __ATOMIC_SEQ_CST) < expected &&
           rdtsc() - t0 < 20000000000ULL)
        cpu_relax();
    line_start(&l);
    line_str(&l, "smp");
    line_str(&l, n == 0          ? " mode=broadcast"
                 : fi->have_madt ? " mode=madt"
                                 : " mode=mptable");
    line_kv_dec(&l, "bsp_apic_id", self);
    line_kv_dec(&l, "expected", expected);
    line_kv_dec(&l, "started", __atomic_load_n(&ap_started, __ATOMIC_SEQ_CST));
    line_end(&l);
}

struct tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3, iomap_base;
} __attribute__((packed));

static struct tss64 tss;
static uint8_t irq_stack[8192] __attribute__((aligned(16)));
static uint8_t user_stack[8192] __attribute__((aligned(16)));

/*
 * Continue in ring 3 at fn (which must not return), with IOPL 3 so it can
 * use the serial port, and interrupts on. On the nested hypervisor the tests
 * run on, ring-0 guest code can be left in KVM's instruction emulator (slow
 * by orders of magnitude) while user-mode code runs on the CPU, so the
 * long-running counter loop runs there.
 */
static void user_enter(void (*fn)(void)) __attribute__((noreturn));
static void user_enter(void (*fn)(void))
{
    uint64_t base = (uint64_t)(uintptr_t)&tss, limit = sizeof(tss) - 1;

    memset(&tss, 0, sizeof(tss));
    tss.rsp[0] = (uint64_t)(uintptr_t)(irq_stack + sizeof(irq_stack));
    tss.iomap_base = sizeof(tss);
    gdt64_tss[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
                   (0x89ULL << 40) | (((limit >> 16) & 0xf) << 48) |
                   (((base >> 24) & 0xff) << 56);
    gdt64_tss[1] = base >> 32;
    __asm__ volatile("ltr %w0" : : "r"(0x30));
    __asm__ volatile(
        "pushq $0x2b\n\t"
        "pushq %0\n\t"
        "pushq $0x3202\n\t" /* IF, IOPL 3 */
        "pushq $0x23\n\t"
        "pushq %1\n\t"
        "iretq"
        :
        : "r"((uint64_t)(uintptr_t)(user_stack + sizeof(user_stack))),
          "r"((uint64_t)(uintptr_t)fn)
        : "memory");
    __builtin_unreachable();
}

static volatile uint64_t counter_value; /* written in ring 3 */
static uint64_t counter_printed;        /* last multiple reported */

/* squibfill=MIB: before counting, ring 3 writes every byte of RAM from
 * FILL_START up to MIB MiB (a pattern that differs per 8 bytes, never
 * zero), so a snapshot holds no page the VMM could skip as zero. */
#define FILL_START (16ULL << 20)
#define FILL_LIMIT (3072ULL << 20) /* 3 GiB and above: MMIO, uncached */
static uint64_t fill_end;
static volatile uint64_t fill_done_pages; /* written in ring 3 */
static int fill_reported;

/* Ring 3: fill (if asked), then count, and nothing else (port I/O would
 * need IOPL 3, which the nested hypervisor does not give user mode). */
static void counter_loop(void) __attribute__((noreturn));
static void counter_loop(void)
{
    uint64_t pages = 0;

    for (uint64_t a = FILL_START; a < fill_end; a += 4096, pages++) {
        volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)a;

        for (unsigned i = 0; i < 512; i++)
            p[i] = ((a + 8 * i) * 0x9e3779b97f4a7c15ULL) | 1;
    }
    fill_done_pages = pages;
    for (;;)
        counter_value = counter_value + 1;
}

/* Timer tick (ring 0): report the latest multiple of counter_every. */
static void counter_tick(void)
{
    uint64_t v = counter_value / counter_every * counter_every;
    struct line l;

    if (fill_end && !fill_reported && fill_done_pages) {
        fill_reported = 1;
        line_start(&l);
        line_str(&l, "fill");
        line_kv_hex(&l, "start", FILL_START);
        line_kv_hex(&l, "end", fill_end);
        line_kv_dec(&l, "pages", fill_done_pages);
        line_end(&l);
    }
    if (v == counter_printed)
        return;
    counter_printed = v;
    line_start(&l);
    line_str(&l, "counter");
    line_kv_dec(&l, "value", v);
    line_end(&l);
}

static void test_counter(const struct boot_info *bi)
{
    size_t n;
    const char *v = cmdline_get(bi, "squibevery=", &n);
    uint64_t every = parse_u64(v, n, 1ULL << 24);
    uint64_t fill_mib;

    counter_every = every ? every : 1;
    v = cmdline_get(bi, "squibfill=", &n);
    fill_mib = parse_u64(v, n, 0);
    fill_end = fill_mib << 20;
    if (fill_end > FILL_LIMIT)
        fill_end = FILL_LIMIT;
    if (fill_end <= FILL_START)
        fill_end = 0;
    /* A periodic LAPIC timer (vector 0x40, about 10 ms at KVM's and QEMU's
     * 1 GHz APIC clock) drives the reporting. */
    lapic_write(LAPIC_SVR, lapic_read(LAPIC_SVR) | 0x100);
    lapic_write(LAPIC_TIMER_DIV, 0xb);              /* divide by 1 */
    lapic_write(LAPIC_LVT_TIMER, 0x40 | (1 << 17)); /* periodic */
    lapic_write(LAPIC_TIMER_INIT, 10000000);
    user_enter(counter_loop);
}

static void test_cad(void)
{
    /* Firecracker's SendCtrlAltDel queues the set-2 scancodes of Ctrl, Alt
     * and Del: 0x14, 0x11, 0xe0 0x71. The kbd interrupt must be enabled in
     * the controller's command byte for it to accept them. Translation to
     * set 1 is switched off so a PC-style i8042 (QEMU) delivers the same
     * bytes; Firecracker's controller never translates. */
    static const uint8_t want[4] = {0x14, 0x11, 0xe0, 0x71};
    uint8_t got[4] = {0};
    uint8_t ctr;

    outb(0x64, 0x20); /* read command byte */
    ctr = inb(0x60);
    outb(0x64, 0x60); /* write command byte */
    outb(0x60,
         (uint8_t)((ctr | 0x01) & ~0x40)); /* kbd irq on, no translation */
    say("cad waiting");
    for (;;) {
        struct line l;
        uint8_t b;

        if (!(inb(0x64) & 0x01)) {
            cpu_relax();
            continue;
        }
        b = inb(0x60);
        line_start(&l);
        line_str(&l, "kbd");
        line_kv_hex(&l, "byte", b);
        line_end(&l);
        memcpy(got, got + 1, 3);
        got[3] = b;
        if (memcmp(got, want, 4) == 0) {
            say("cad seen=yes");
            return;
        }
    }
}

void guest_main(void)
{
    static struct boot_info bi;
    static struct fw_info fi;
    const char *test;
    size_t tlen = 0;
    struct line l;

    say("hello");
    report_entry();
    if (entry_kind == BOOT_KIND_PVH) {
        bi.pvh = er(ER_RBX) & 0xffffffffULL;
        report_pvh(&bi);
    } else {
        bi.zp =
            er(ER_RSI) & (entry_kind == BOOT_KIND_64 ? ~0ULL : 0xffffffffULL);
        report_zero_page(&bi);
    }
    line_start(&l);
    line_str(&l, "cmdline=");
    line_strn(&l, bi.cmdline, bi.cmdline_len);
    line_end(&l);

    test = cmdline_get(&bi, "squibtest=", &tlen);
    if (!test) {
        test = "report";
        tlen = 6;
    }
    line_start(&l);
    line_str(&l, "test=");
    line_strn(&l, test, tlen);
    line_end(&l);

    /* hlt and triplefault keep the boot state (interrupts off). */
    if (!word_is(test, tlen, "hlt") && !word_is(test, tlen, "triplefault"))
        interrupts_on();

    if (word_is(test, tlen, "hlt")) {
        say("hlt");
        __asm__ volatile("cli; hlt");
        say("hlt returned");
        for (;;)
            __asm__ volatile("cli; hlt");
    }
    if (word_is(test, tlen, "triplefault")) {
        say("triplefault");
        triple_fault();
    }
    if (word_is(test, tlen, "cpuid")) {
        test_cpuid();
        say("done");
        reset();
    }
    if (word_is(test, tlen, "boottimer")) {
        *(volatile uint8_t *)0xc0000000ULL = 123;
        say("boottimer written=123");
        reset();
    }
    if (word_is(test, tlen, "counter"))
        test_counter(&bi);
    if (word_is(test, tlen, "cad")) {
        test_cad();
        reset();
    }

    report_mptable(&fi);
    report_acpi(bi.rsdp_hint, &fi);
    if (word_is(test, tlen, "smp"))
        test_smp(&fi);
    else if (word_is(test, tlen, "pci"))
        pci_run_test();
    else if (word_is(test, tlen, "pci-hotplug"))
        pci_hotplug_test();
    else if (word_is(test, tlen, "pci-loop")) {
        size_t n = 0;
        const char *v = cmdline_get(&bi, "squibn=", &n);

        pci_run_loop(parse_u64(v, n, 100000));
    } else if (virtio_run_test(test, tlen, bi.cmdline, bi.cmdline_len,
                               bi.rsdp_hint))
        ;
    else if (!word_is(test, tlen, "report"))
        say("unknown-test");
    say("done");
    reset();
}
