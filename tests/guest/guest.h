/*
 * guest.h: shared definitions of the freestanding test guest (C and asm).
 *
 * The guest is one program linked at 1 MiB and packaged three ways (ELF
 * entered by the Linux 64-bit boot protocol, ELF with a PVH note, bzImage).
 * It reports what it finds on the serial port, one fact per line; the line
 * format is documented in README.md.
 */
#ifndef SQUIB_GUEST_H
#define SQUIB_GUEST_H

/* How the guest was entered (entry_kind). */
#define BOOT_KIND_64                                                           \
    1                    /* startup_64: Linux 64-bit protocol (ELF or bzImage) \
                          */
#define BOOT_KIND_BZ32 2 /* startup_32: 32-bit protocol (bzImage) */
#define BOOT_KIND_PVH  3 /* pvh_start: PVH */

#define MAX_CPUS      64
#define AP_TRAMPOLINE 0x3000 /* SIPI vector 0x03 */

/* Offsets in entry_regs (8 bytes per register). */
#define ER_RAX    0
#define ER_RBX    8
#define ER_RCX    16
#define ER_RDX    24
#define ER_RSI    32
#define ER_RDI    40
#define ER_RBP    48
#define ER_RSP    56
#define ER_R8     64
#define ER_R9     72
#define ER_R10    80
#define ER_R11    88
#define ER_R12    96
#define ER_R13    104
#define ER_R14    112
#define ER_R15    120
#define ER_RFLAGS 128
#define ER_CR0    136
#define ER_CR3    144
#define ER_CR4    152
#define ER_EFER   160
#define ER_RIP    168
#define ER_CS     176
#define ER_DS     178
#define ER_SS     180
#define ER_GDT    184 /* sgdt: limit (2) + base (8) */
#define ER_IDT    200 /* sidt: limit (2) + base (8) */
#define ER_SIZE   216

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

extern uint8_t entry_regs[ER_SIZE];
extern uint32_t entry_kind;
extern volatile uint32_t ap_next;
extern uint64_t pml4[512], pdpt[512], pd[4 * 512];
extern const uint8_t ap_tramp_start[], ap_tramp_end[];
extern uint64_t gdt64_tss[2];

/* lib.c: port I/O, serial output, formatting, memory helpers. */
static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
static inline void cpu_relax(void)
{
    __asm__ volatile("pause" ::: "memory");
}
static inline uint32_t mmio_read32(uint64_t addr)
{
    return *(volatile uint32_t *)addr;
}
static inline void mmio_write32(uint64_t addr, uint32_t v)
{
    *(volatile uint32_t *)addr = v;
}
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(sub));
}

void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* One output line is built in a buffer and written under a lock, so lines
 * from several CPUs never interleave. */
struct line {
    char buf[512];
    size_t len;
};
void line_start(struct line *l); /* "SQUIB-GUEST " */
void line_str(struct line *l, const char *s);
void line_strn(struct line *l, const char *s, size_t n); /* printable only */
void line_hex(struct line *l, uint64_t v);               /* 0x... */
void line_dec(struct line *l, uint64_t v);
void line_kv_hex(struct line *l, const char *k, uint64_t v); /* " k=0x.." */
void line_kv_dec(struct line *l, const char *k, uint64_t v);
/* " k=<n bytes of s>": spaces become '_', other unprintables '?' */
void line_kv_str(struct line *l, const char *k, const char *s, size_t n);
void line_end(struct line *l);        /* newline + write out */
void line_end_nolock(struct line *l); /* for a dying CPU */
void say(const char *text);           /* whole line */

void delay_cycles(uint64_t n);

/* tables.c */
struct fw_info {
    int have_madt;
    uint32_t n_lapic;
    uint8_t lapic_ids[MAX_CPUS];
    uint32_t n_mp_cpus;
    uint8_t mp_cpu_ids[MAX_CPUS];
};
void report_mptable(struct fw_info *fi);
void report_acpi(uint64_t rsdp_hint, struct fw_info *fi);

/* interrupts (guest.c, entry.S) */
extern const uint8_t isr_stubs[];
void isr_handler(uint64_t vector, uint64_t error, const uint64_t *frame);

/* guest.c */
void guest_main(void);
void ap_main(void);
void paging_build(void);
#endif
#endif
