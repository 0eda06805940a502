/*
 * test_machine.c: the machine on real KVM, with tiny guests placed by hand.
 *
 * Each test builds a machine (machine_create, the full boot order), then
 * writes a few bytes of 64-bit code at GPA 0x10000 and its own page tables
 * (2 MiB pages, which this nested KVM needs) through guest_mem_translate,
 * sets vCPU 0's registers to long mode at that code, and runs it. The kernel
 * given to machine_create is a minimal ELF whose entry is never used, so
 * the tests behave the same with the real loader as with the stand-ins.
 *
 * Guest memory used by the tests: 0x5000 data, 0x6000 IDT, 0x10000 BSP
 * code, 0x30000..0x38000 page tables and GDT, 0x40000 AP real-mode code
 * (SIPI vector 0x40).
 *
 * Every test skips, saying why, when /dev/kvm cannot be opened.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kvm_usable.h"

#include "obs/log.h"
#include "util/evloop.h"
#include "vmm/guest_mem.h"
#include "vmm/kvm.h"
#include "vmm/machine.h"

#define CODE_GPA   0x10000
#define DATA_GPA   0x5000
#define PT_GPA     0x30000
#define AP_GPA     0x40000
#define TIMEOUT_MS 30000

/* ---- guests (assembled with GNU as; source in the comments) ------------- */

/* mov $0x3f8,%dx; lea msg(%rip),%rsi; mov $17,%ecx; rep outsb;
 * mov $'!',%al; out %al,%dx; mov $0xfe,%al; out %al,$0x64; 1: hlt; jmp 1b;
 * msg: "hello from guest\n" */
static const uint8_t g_serial[] = {
    0x66, 0xba, 0xf8, 0x03, 0x48, 0x8d, 0x35, 0x11, 0x00, 0x00, 0x00, 0xb9,
    0x11, 0x00, 0x00, 0x00, 0xf3, 0x6e, 0xb0, 0x21, 0xee, 0xb0, 0xfe, 0xe6,
    0x64, 0xf4, 0xeb, 0xfd, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x66, 0x72,
    0x6f, 0x6d, 0x20, 0x67, 0x75, 0x65, 0x73, 0x74, 0x0a};

/* 1: incq 0x5000; jmp 1b */
static const uint8_t g_count[] = {0x48, 0xff, 0x04, 0x25, 0x00,
                                  0x50, 0x00, 0x00, 0xeb, 0xf6};

/* mov $0x3f8,%dx; mov $'T',%al; out %al,%dx; ud2   (IDT limit 0) */
static const uint8_t g_triple_fault[] = {0x66, 0xba, 0xf8, 0x03, 0xb0,
                                         0x54, 0xee, 0x0f, 0x0b};

/* mov $0x3f8,%dx; mov $'H',%al; out %al,%dx; cli; hlt; jmp . */
static const uint8_t g_hlt[] = {0x66, 0xba, 0xf8, 0x03, 0xb0, 0x48,
                                0xee, 0xfa, 0xf4, 0xeb, 0xfe};

/* mov $0x3f8,%dx; mov $'R',%al; out %al,%dx; xor %ecx,%ecx;
 * poll: in $0x64,%al; test $1,%al; jz poll; in $0x60,%al; out %al,%dx;
 * inc %ecx; cmp $4,%ecx; jne poll; mov $0xfe,%al; out %al,$0x64; hlt */
static const uint8_t g_cad[] = {0x66, 0xba, 0xf8, 0x03, 0xb0, 0x52, 0xee, 0x31,
                                0xc9, 0xe4, 0x64, 0xa8, 0x01, 0x74, 0xfa, 0xe4,
                                0x60, 0xee, 0xff, 0xc1, 0x83, 0xf9, 0x04, 0x75,
                                0xf0, 0xb0, 0xfe, 0xe6, 0x64, 0xf4};

/* mov $0xc0000000,%edi; movb $123,(%rdi); mov $0xfe,%al; out %al,$0x64; hlt */
static const uint8_t g_boot_timer[] = {0xbf, 0x00, 0x00, 0x00, 0xc0, 0xc6, 0x07,
                                       0x7b, 0xb0, 0xfe, 0xe6, 0x64, 0xf4};

/* BSP: mov $0xfee00000,%edi; movl $0x1ff,0xf0(%rdi)  (APIC on);
 * movl $0xc4500,0x300(%rdi) (INIT to all but self); mov $2000,%ecx; loop .;
 * movl $0xc4640,0x300(%rdi) (SIPI, vector 0x40); mov $2000,%ecx; loop .;
 * movl $0xc4640,0x300(%rdi) (second SIPI);
 * 3: mov 0x5000,%eax; cmp 0x5004,%eax; jne 3b;
 * mov $0x3f8,%dx; mov $'S',%al; out %al,%dx; mov $0xfe,%al; out %al,$0x64; hlt
 */
static const uint8_t g_smp_bsp[] = {
    0xbf, 0x00, 0x00, 0xe0, 0xfe, 0xc7, 0x87, 0xf0, 0x00, 0x00, 0x00,
    0xff, 0x01, 0x00, 0x00, 0xc7, 0x87, 0x00, 0x03, 0x00, 0x00, 0x00,
    0x45, 0x0c, 0x00, 0xb9, 0xd0, 0x07, 0x00, 0x00, 0xe2, 0xfe, 0xc7,
    0x87, 0x00, 0x03, 0x00, 0x00, 0x40, 0x46, 0x0c, 0x00, 0xb9, 0xd0,
    0x07, 0x00, 0x00, 0xe2, 0xfe, 0xc7, 0x87, 0x00, 0x03, 0x00, 0x00,
    0x40, 0x46, 0x0c, 0x00, 0x8b, 0x04, 0x25, 0x00, 0x50, 0x00, 0x00,
    0x3b, 0x04, 0x25, 0x04, 0x50, 0x00, 0x00, 0x75, 0xf0, 0x66, 0xba,
    0xf8, 0x03, 0xb0, 0x53, 0xee, 0xb0, 0xfe, 0xe6, 0x64, 0xf4};

/* AP, real mode at 0x40000: xor %ax,%ax; mov %ax,%ds; lock incl 0x5000;
 * 1: cli; hlt; jmp 1b */
static const uint8_t g_smp_ap[] = {0x31, 0xc0, 0x8e, 0xd8, 0x66, 0xf0, 0xff,
                                   0x06, 0x00, 0x50, 0xfa, 0xf4, 0xeb, 0xfc};

/* Interrupt-driven keyboard: mask the 8259 PIC (out 0xff to 0x21 and 0xa1:
 * an unprogrammed PIC would deliver IRQ 1 as vector 1 through LINT0, which
 * KVM leaves as ExtINT on the BSP), build an IDT gate at 0x6000 for vector
 * 0x21, lidt, enable the LAPIC (SVR 0x1ff), route IOAPIC pin 1 to vector 0x21
 * on APIC 0 (edge, unmasked), print 'R', sti; hlt loop. The handler reads one
 * byte from 0x60, prints it, EOIs, counts at 0x5000 and resets after 4:
 *   handler: in $0x60,%al; mov $0x3f8,%dx; out %al,%dx;
 *            movl $0,0xfee000b0; incl 0x5000; cmpl $4,0x5000; jne 1f;
 *            mov $0xfe,%al; out %al,$0x64; 1: iretq
 *   idtr: .word 4095; .quad 0x6000 */
static const uint8_t g_kbd_irq[] = {
    0xb0, 0xff, 0xe6, 0x21, 0xe6, 0xa1, 0x48, 0x8d, 0x05, 0x6a, 0x00, 0x00,
    0x00, 0xbf, 0x10, 0x62, 0x00, 0x00, 0x66, 0x89, 0x07, 0x66, 0xc7, 0x47,
    0x02, 0x08, 0x00, 0x66, 0xc7, 0x47, 0x04, 0x00, 0x8e, 0x48, 0xc1, 0xe8,
    0x10, 0x66, 0x89, 0x47, 0x06, 0x48, 0xc1, 0xe8, 0x10, 0x89, 0x47, 0x08,
    0xc7, 0x47, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x01, 0x1d, 0x66, 0x00,
    0x00, 0x00, 0xbf, 0x00, 0x00, 0xe0, 0xfe, 0xc7, 0x87, 0xf0, 0x00, 0x00,
    0x00, 0xff, 0x01, 0x00, 0x00, 0xbe, 0x00, 0x00, 0xc0, 0xfe, 0xc7, 0x06,
    0x12, 0x00, 0x00, 0x00, 0xc7, 0x46, 0x10, 0x21, 0x00, 0x00, 0x00, 0xc7,
    0x06, 0x13, 0x00, 0x00, 0x00, 0xc7, 0x46, 0x10, 0x00, 0x00, 0x00, 0x00,
    0x66, 0xba, 0xf8, 0x03, 0xb0, 0x52, 0xee, 0xfb, 0xf4, 0xeb, 0xfd, 0xe4,
    0x60, 0x66, 0xba, 0xf8, 0x03, 0xee, 0xbf, 0x00, 0x00, 0xe0, 0xfe, 0xc7,
    0x87, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x04, 0x25,
    0x00, 0x50, 0x00, 0x00, 0x83, 0x3c, 0x25, 0x00, 0x50, 0x00, 0x00, 0x04,
    0x75, 0x04, 0xb0, 0xfe, 0xe6, 0x64, 0x48, 0xcf, 0xff, 0x0f, 0x00, 0x60,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

/* Serial echo: mask the PIC, IDT gate for vector 0x24, LAPIC on, IOAPIC
 * pin 4 -> vector 0x24, IER = received data, print 'R', sti; hlt loop.
 * Handler: read IIR; while LSR has data: read RBR, echo it to THR, reset
 * (0xfe to 0x64) after a 'q'; EOI; iretq. */
static const uint8_t g_serial_echo[] = {
    0xb0, 0xff, 0xe6, 0x21, 0xe6, 0xa1, 0x48, 0x8d, 0x05, 0x71, 0x00, 0x00,
    0x00, 0xbf, 0x40, 0x62, 0x00, 0x00, 0x66, 0x89, 0x07, 0x66, 0xc7, 0x47,
    0x02, 0x08, 0x00, 0x66, 0xc7, 0x47, 0x04, 0x00, 0x8e, 0x48, 0xc1, 0xe8,
    0x10, 0x66, 0x89, 0x47, 0x06, 0x48, 0xc1, 0xe8, 0x10, 0x89, 0x47, 0x08,
    0xc7, 0x47, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x01, 0x1d, 0x6d, 0x00,
    0x00, 0x00, 0xbf, 0x00, 0x00, 0xe0, 0xfe, 0xc7, 0x87, 0xf0, 0x00, 0x00,
    0x00, 0xff, 0x01, 0x00, 0x00, 0xbe, 0x00, 0x00, 0xc0, 0xfe, 0xc7, 0x06,
    0x18, 0x00, 0x00, 0x00, 0xc7, 0x46, 0x10, 0x24, 0x00, 0x00, 0x00, 0xc7,
    0x06, 0x19, 0x00, 0x00, 0x00, 0xc7, 0x46, 0x10, 0x00, 0x00, 0x00, 0x00,
    0x66, 0xba, 0xf9, 0x03, 0xb0, 0x01, 0xee, 0x66, 0xba, 0xf8, 0x03, 0xb0,
    0x52, 0xee, 0xfb, 0xf4, 0xeb, 0xfd, 0x66, 0xba, 0xfa, 0x03, 0xec, 0x66,
    0xba, 0xfd, 0x03, 0xec, 0xa8, 0x01, 0x74, 0x0e, 0x66, 0xba, 0xf8, 0x03,
    0xec, 0xee, 0x3c, 0x71, 0x75, 0xed, 0xb0, 0xfe, 0xe6, 0x64, 0xbf, 0x00,
    0x00, 0xe0, 0xfe, 0xc7, 0x87, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x48, 0xcf, 0xff, 0x0f, 0x00, 0x60, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00};

/* A virtio-mmio window from the guest's side: mask the PIC, IDT gate for
 * vector 0x25, LAPIC on, IOAPIC pin 5 -> 0x25; read the 32-bit register at
 * 0xc0001000 and write the value back at 0xc0001050 (QueueNotify's offset);
 * sti; hlt loop. Handler: EOI, print 'I', reset. */
static const uint8_t g_mmio_dev[] = {
    0xb0, 0xff, 0xe6, 0x21, 0xe6, 0xa1, 0x48, 0x8d, 0x05, 0x6d, 0x00, 0x00,
    0x00, 0xbf, 0x50, 0x62, 0x00, 0x00, 0x66, 0x89, 0x07, 0x66, 0xc7, 0x47,
    0x02, 0x08, 0x00, 0x66, 0xc7, 0x47, 0x04, 0x00, 0x8e, 0x48, 0xc1, 0xe8,
    0x10, 0x66, 0x89, 0x47, 0x06, 0x48, 0xc1, 0xe8, 0x10, 0x89, 0x47, 0x08,
    0xc7, 0x47, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x01, 0x1d, 0x58, 0x00,
    0x00, 0x00, 0xbf, 0x00, 0x00, 0xe0, 0xfe, 0xc7, 0x87, 0xf0, 0x00, 0x00,
    0x00, 0xff, 0x01, 0x00, 0x00, 0xbe, 0x00, 0x00, 0xc0, 0xfe, 0xc7, 0x06,
    0x1a, 0x00, 0x00, 0x00, 0xc7, 0x46, 0x10, 0x25, 0x00, 0x00, 0x00, 0xc7,
    0x06, 0x1b, 0x00, 0x00, 0x00, 0xc7, 0x46, 0x10, 0x00, 0x00, 0x00, 0x00,
    0xbf, 0x00, 0x10, 0x00, 0xc0, 0x8b, 0x07, 0x89, 0x47, 0x50, 0xfb, 0xf4,
    0xeb, 0xfd, 0xbf, 0x00, 0x00, 0xe0, 0xfe, 0xc7, 0x87, 0xb0, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x66, 0xba, 0xf8, 0x03, 0xb0, 0x49, 0xee,
    0xb0, 0xfe, 0xe6, 0x64, 0x48, 0xcf, 0xff, 0x0f, 0x00, 0x60, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00};

/* movabs $0x100000000,%rdi; movl $0x12345678,(%rdi);
 * movabs $0xbffff000,%rsi; movl $0x9abcdef0,(%rsi);
 * mov $0xfe,%al; out %al,$0x64; hlt */
static const uint8_t g_high_mem[] = {
    0x48, 0xbf, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0xc7, 0x07, 0x78, 0x56, 0x34, 0x12, 0x48, 0xbe, 0x00, 0xf0,
    0xff, 0xbf, 0x00, 0x00, 0x00, 0x00, 0xc7, 0x06, 0xf0, 0xde,
    0xbc, 0x9a, 0xb0, 0xfe, 0xe6, 0x64, 0xf4};

/* ---- fixture ------------------------------------------------------------ */

struct fx {
    struct machine *m;
    int out_r, out_w; /* serial output pipe */
    int kernel_fd;
    char log_path[64];
    struct evloop *loop;
    int exit_seen;      /* on_exit callback count */
    bool destroy_in_cb; /* on_exit destroys the machine, as a controller may */
    int exit_code_seen;
};

/* A minimal ELF64 vmlinux: one PT_LOAD at 1 MiB holding `hlt`. */
static int make_kernel(void)
{
    uint8_t img[0x200];
    Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
    Elf64_Phdr *ph = (Elf64_Phdr *)(img + sizeof(*eh));
    int fd = memfd_create("vmlinux", MFD_CLOEXEC);

    assert_true(fd >= 0);
    memset(img, 0, sizeof(img));
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_ident[EI_VERSION] = EV_CURRENT;
    eh->e_type = ET_EXEC;
    eh->e_machine = EM_X86_64;
    eh->e_version = EV_CURRENT;
    eh->e_entry = 0x100100;
    eh->e_phoff = sizeof(*eh);
    eh->e_ehsize = sizeof(*eh);
    eh->e_phentsize = sizeof(*ph);
    eh->e_phnum = 1;
    ph->p_type = PT_LOAD;
    ph->p_flags = PF_R | PF_X;
    ph->p_offset = 0;
    ph->p_vaddr = ph->p_paddr = 0x100000;
    ph->p_filesz = ph->p_memsz = sizeof(img);
    ph->p_align = 0x1000;
    img[0x100] = 0xf4; /* hlt */
    assert_int_equal(write(fd, img, sizeof(img)), (ssize_t)sizeof(img));
    return fd;
}

static void on_exit_cb(void *opaque, int code)
{
    struct fx *f = opaque;

    f->exit_seen++;
    f->exit_code_seen = code;
    if (f->destroy_in_cb) {
        machine_destroy(f->m);
        f->m = NULL;
    }
}

static void fx_open_full(struct fx *f, uint32_t vcpus, bool boot_timer,
                         bool with_loop, bool track_dirty, bool serial_stdin)
{
    struct machine_config cfg;
    struct sq_err err;
    int p[2];
    int fd;

    memset(f, 0, sizeof(*f));
    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    f->out_r = p[0];
    f->out_w = p[1];
    f->kernel_fd = make_kernel();
    snprintf(f->log_path, sizeof(f->log_path), "/tmp/squib-machine-log-XXXXXX");
    fd = mkstemp(f->log_path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(log_set_target(f->log_path), 0);
    if (with_loop) {
        f->loop = evloop_new();
        assert_non_null(f->loop);
    }

    memset(&cfg, 0, sizeof(cfg));
    cfg.vcpu_count = vcpus;
    cfg.mem_size_mib = 64;
    cfg.kernel_fd = f->kernel_fd;
    cfg.initrd_fd = -1;
    cfg.cmdline = "console=ttyS0 reboot=k panic=1";
    cfg.serial_out_fd = f->out_w;
    cfg.boot_timer = boot_timer;
    cfg.track_dirty_pages = track_dirty;
    cfg.serial_stdin = serial_stdin;
    cfg.on_exit = on_exit_cb;
    cfg.exit_opaque = f;
    sq_err_clear(&err);
    if (machine_create(&cfg, f->loop, &f->m, &err) != 0)
        fail_msg("machine_create: %s", err.msg);
}

static void fx_open(struct fx *f, uint32_t vcpus, bool boot_timer,
                    bool with_loop)
{
    fx_open_full(f, vcpus, boot_timer, with_loop, false, false);
}

static void fx_close(struct fx *f)
{
    machine_destroy(f->m);
    if (f->loop)
        evloop_free(f->loop);
    close(f->out_r);
    close(f->out_w);
    close(f->kernel_fd);
}

/* Remove the test's log file (after its lines were checked). */
static void fx_done(struct fx *f)
{
    unlink(f->log_path);
}

static void *gpa_ptr(struct fx *f, uint64_t gpa, uint64_t len)
{
    void *p = NULL;

    assert_int_equal(guest_mem_translate(machine_guest_mem(f->m), gpa, len, &p),
                     0);
    return p;
}

static void put(struct fx *f, uint64_t gpa, const void *data, size_t len)
{
    memcpy(gpa_ptr(f, gpa, len), data, len);
}

static void set_seg(struct kvm_segment *s, uint16_t sel, uint8_t type,
                    bool code64)
{
    memset(s, 0, sizeof(*s));
    s->selector = sel;
    s->base = 0;
    s->limit = 0xffffffff;
    s->type = type;
    s->present = 1;
    s->s = 1;
    s->g = 1;
    s->l = code64;
    s->db = !code64;
}

/* Identity-map 0..1 GiB and 3..4 GiB with 2 MiB pages; vCPU 0 in long mode. */
static void enter_long_mode(struct fx *f, uint64_t rflags)
{
    /* PML4, PDPT, then one PD per GiB for 0..5 GiB, then the GDT. */
    uint64_t *pml4 = gpa_ptr(f, PT_GPA, 0x8000);
    uint64_t *pdpt = pml4 + 512;
    uint64_t *gdt = pml4 + 7 * 512;
    struct kvm_sregs s;
    struct kvm_regs r;

    memset(pml4, 0, 0x8000);
    pml4[0] = (PT_GPA + 0x1000) | 3;
    for (uint64_t g = 0; g < 5; g++) {
        uint64_t *pd = pml4 + (2 + g) * 512;

        pdpt[g] = (PT_GPA + 0x2000 + g * 0x1000) | 3;
        for (uint64_t i = 0; i < 512; i++) {
            uint64_t gpa = (g << 30) + (i << 21);

            /* 2 MiB pages; the 3..4 GiB MMIO hole uncached (PCD). */
            pd[i] = gpa | 0x83 | (g == 3 ? 0x10 : 0);
        }
    }
    gdt[1] = 0x00af9b000000ffffULL; /* 64-bit code */
    gdt[2] = 0x00cf93000000ffffULL; /* data */

    assert_int_equal(machine_vcpu_get_regs(f->m, 0, NULL, &s), 0);
    s.cr3 = PT_GPA;
    s.cr4 = 0x20;       /* PAE */
    s.cr0 = 0x80050033; /* PG WP NE ET MP PE */
    s.efer = 0x500;     /* LME LMA */
    set_seg(&s.cs, 0x8, 0xb, true);
    set_seg(&s.ds, 0x10, 0x3, false);
    s.es = s.fs = s.gs = s.ss = s.ds;
    s.gdt.base = PT_GPA + 0x7000;
    s.gdt.limit = 3 * 8 - 1;
    s.idt.base = 0;
    s.idt.limit = 0; /* any exception escalates to a triple fault */
    memset(&r, 0, sizeof(r));
    r.rip = CODE_GPA;
    r.rsp = 0x8000;
    r.rflags = rflags;
    assert_int_equal(machine_vcpu_set_regs(f->m, 0, &r, &s), 0);
}

static void start(struct fx *f)
{
    struct sq_err err;

    sq_err_clear(&err);
    if (machine_start(f->m, &err) != 0)
        fail_msg("machine_start: %s", err.msg);
}

/* Wait for the machine's exit request; returns its code or -1 on timeout. */
static int wait_exit(struct fx *f, int timeout_ms)
{
    struct pollfd p = {.fd = machine_exit_fd(f->m), .events = POLLIN};

    if (f->loop) {
        for (int waited = 0; !f->exit_seen && waited < timeout_ms;
             waited += 100)
            evloop_run_once(f->loop, 100);
        return f->exit_seen ? f->exit_code_seen : -1;
    }
    if (poll(&p, 1, timeout_ms) != 1)
        return -1;
    return machine_exit_code(f->m);
}

/* Read up to `len` bytes of serial output, waiting up to timeout_ms for them.
 */
static size_t read_out(struct fx *f, char *buf, size_t len, int timeout_ms)
{
    size_t got = 0;

    for (int waited = 0; got < len && waited <= timeout_ms; waited += 10) {
        ssize_t n = read(f->out_r, buf + got, len - got);

        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        usleep(10000);
    }
    return got;
}

static bool log_contains(struct fx *f, const char *needle)
{
    char buf[65536];
    int fd = open(f->log_path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    assert_true(fd >= 0);
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return false;
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- tests -------------------------------------------------------------- */

static void test_memory_error_text(void **state)
{
    struct machine_config cfg;
    struct machine *m = NULL;
    struct sq_err err;

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.vcpu_count = 1;
    cfg.mem_size_mib = 1ULL << 30; /* 1 PiB: more than the address space */
    cfg.kernel_fd = -1;
    cfg.initrd_fd = -1;
    cfg.serial_out_fd = -1;
    sq_err_clear(&err);
    assert_int_equal(machine_create(&cfg, NULL, &m, &err), -ENOMEM);
    assert_null(m);
    assert_string_equal(err.msg, "Invalid Memory Configuration: Cannot create "
                                 "mmap region: Out of memory (os error 12)");
}

static void test_serial_then_reset(void **state)
{
    struct fx f;
    char out[64] = {0};
    const char *want = "hello from guest\n!";

    (void)state;
    if (!kvm_usable())
        skip();
    fx_open(&f, 1, false, false);
    put(&f, CODE_GPA, g_serial, sizeof(g_serial));
    enter_long_mode(&f, 0x2);
    start(&f);
    assert_int_equal(wait_exit(&f, TIMEOUT_MS), 0);
    assert_int_equal(read_out(&f, out, strlen(want), 1000), strlen(want));
    assert_string_equal(out, want);
    fx_close(&f);
    fx_done(&f);
}

static void test_triple_fault_exits_1(void **state)
{
    struct fx f;
    char out[8] = {0};

    (void)state;
    if (!kvm_usable())
        skip();
    fx_open(&f, 1, false, false);
    put(&f, CODE_GPA, g_triple_fault, sizeof(g_triple_fault));
    enter_long_mode(&f, 0x2);
    start(&f);
    assert_int_equal(wait_exit(&f, TIMEOUT_MS), 1);
    assert_int_equal(read_out(&f, out, 1, 1000), 1);
    assert_string_equal(out, "T");
    fx_close(&f);
    /* A triple fault is KVM_EXIT_SHUTDOWN; a nested emulator that cannot
     * run ud2 reports an internal error instead. Both are fatal, logged. */
    assert_true(
        log_contains(&f, "Unexpected exit reason on vcpu run: Shutdown") ||
        log_contains(&f, "Received KVM_EXIT_INTERNAL_ERROR signal"));
    fx_done(&f);
}

static void test_halted_guest_never_hangs_teardown(void **state)
{
    struct fx f;
    char out[8] = {0};
    uint64_t t0;

    (void)state;
    if (!kvm_usable())
        skip();
    fx_open(&f, 1, false, false);
    put(&f, CODE_GPA, g_hlt, sizeof(g_hlt));
    enter_long_mode(&f, 0x2);
    start(&f);
    assert_int_equal(read_out(&f, out, 1, TIMEOUT_MS), 1);
    assert_string_equal(out, "H");
    /* hlt with interrupts off sleeps inside KVM (in-kernel LAPIC): no exit. */
    assert_int_equal(wait_exit(&f, 200), -1);
    assert_int_equal(machine_exit_code(f.m), -1);
    t0 = now_ms();
    machine_destroy(f.m); /* must kick the vCPU out of the halted KVM_RUN */
    f.m = NULL;
    assert_true(now_ms() - t0 < 10000);
    fx_close(&f);
    assert_true(log_contains(&f, "Killing vCPU threads"));
    fx_done(&f);
}

static uint64_t read_counter(struct fx *f)
{
    return __atomic_load_n((uint64_t *)gpa_ptr(f, DATA_GPA, 8),
                           __ATOMIC_SEQ_CST);
}

static void test_pause_resume_stops_counting(void **state)
{
    struct fx f;
    struct sq_err err;
    uint64_t c0, c1, c2, t0;

    (void)state;
    if (!kvm_usable())
        skip();
    fx_open(&f, 1, false, false);
    put(&f, CODE_GPA, g_count, sizeof(g_count));
    enter_long_mode(&f, 0x2);
    start(&f);
    t0 = now_ms();
    while (read_counter(&f) == 0 && now_ms() - t0 < TIMEOUT_MS)
        usleep(1000);
    assert_true(read_counter(&f) > 0);

    for (int round = 0; round < 3; round++) {
        assert_int_equal(machine_pause(f.m, &err), 0);
        assert_true(machine_is_paused(f.m));
        c1 = read_counter(&f);
        usleep(100000);
        c2 = read_counter(&f);
        assert_true(c1 == c2); /* nothing runs while paused */
        /* Registers are readable only while paused. */
        {
            struct kvm_regs r;

            assert_int_equal(machine_vcpu_get_regs(f.m, 0, &r, NULL), 0);
            assert_true(r.rip >= CODE_GPA &&
                        r.rip < CODE_GPA + sizeof(g_count));
        }
        assert_int_equal(machine_resume(f.m, &err), 0);
        assert_false(machine_is_paused(f.m));
        t0 = now_ms();
        while (read_counter(&f) == c2 && now_ms() - t0 < TIMEOUT_MS)
            usleep(1000);
        c0 = read_counter(&f);
        assert_true(c0 > c2); /* and it counts again */
        {
            struct kvm_regs r;

            assert_int_equal(machine_vcpu_get_regs(f.m, 0, &r, NULL), -EBUSY);
        }
    }
    assert_int_equal(machine_exit_code(f.m), -1);
    fx_close(&f);
    fx_done(&f);
}

/* Pause must also reach vCPUs the guest never started (APs inside KVM_RUN
 * waiting for INIT), and dirty-page logging is on exactly when asked. */
static void test_pause_with_idle_aps_and_dirty_log(void **state)
{
    for (int track = 0; track < 2; track++) {
        struct fx f;
        struct sq_err err;
        uint8_t bitmap[64 * 256 / 8]; /* 64 MiB of 4 KiB pages */
        uint64_t c1, t0;
        int rc;

        (void)state;
        if (!kvm_usable())
            skip();
        fx_open_full(&f, 2, false, false, track, false);
        put(&f, CODE_GPA, g_count, sizeof(g_count));
        enter_long_mode(&f, 0x2);
        start(&f);
        t0 = now_ms();
        while (read_counter(&f) == 0 && now_ms() - t0 < TIMEOUT_MS)
            usleep(1000);
        assert_int_equal(machine_pause(f.m, &err), 0);
        c1 = read_counter(&f);
        usleep(50000);
        assert_true(read_counter(&f) == c1);

        memset(bitmap, 0, sizeof(bitmap));
        rc = kvm_get_dirty_log(machine_vm_fd(f.m), 0, bitmap);
        if (track) {
            assert_int_equal(rc, 0);
            /* The guest wrote its counter at 0x5000: page 5 is dirty. */
            assert_true(bitmap[0] & (1u << 5));
        } else {
            assert_int_equal(rc, -ENOENT);
        }
        assert_int_equal(machine_resume(f.m, &err), 0);
        t0 = now_ms();
        while (read_counter(&f) == c1 && now_ms() - t0 < TIMEOUT_MS)
            usleep(1000);
        assert_true(read_counter(&f) > c1);
        fx_close(&f);
        fx_done(&f);
    }
}

static void test_smp_aps_start_via_sipi(void **state)
{
    const uint32_t n = 4;
    struct fx f;
    char out[8] = {0};
    uint32_t expect = n - 1;

    (void)state;
    if (!kvm_usable())
        skip();
    fx_open(&f, n, false, false);
    assert_int_equal(machine_vcpu_count(f.m), n);
    put(&f, CODE_GPA, g_smp_bsp, sizeof(g_smp_bsp));
    put(&f, AP_GPA, g_smp_ap, sizeof(g_smp_ap));
    memset(gpa_ptr(&f, DATA_GPA, 4), 0, 4);
    put(&f, DATA_GPA + 4, &expect, 4);
    enter_long_mode(&f, 0x2);
    start(&f);
    assert_int_equal(wait_exit(&f, TIMEOUT_MS), 0);
    assert_int_equal(read_out(&f, out, 1, 1000), 1);
    assert_string_equal(out, "S");
    assert_int_equal(*(uint32_t *)gpa_ptr(&f, DATA_GPA, 4), n - 1);
    fx_close(&f);
    fx_done(&f);
}

static void test_ctrl_alt_del_reaches_guest(void **state)
{
    struct fx f;
    struct sq_err err;
    unsigned char out[8] = {0};
    static const unsigned char want[] = {'R', 0x14, 0x11, 0xe0, 0x71};

    (void)state;
    if (!kvm_usable())
        skip();
    fx_open(&f, 1, false, false);
    put(&f, CODE_GPA, g_cad, sizeof(g_cad));
    enter_long_mode(&f, 0x2);
    start(&f);
    assert_int_equal(read_out(&f, (char *)out, 1, TIMEOUT_MS), 1);
    assert_int_equal(out[0], 'R');
    assert_int_equal(machine_send_ctrl_alt_del(f.m, &err), 0);
    assert_int_equal(wait_exit(&f, TIMEOUT_MS), 0);
    assert_int_equal(read_out(&f, (char *)out + 1, 4, 1000), 4);
    assert_memory_equal(out, want, sizeof(want));
    fx_close(&f);
    fx_done(&f);
}

/* The i8042's interrupt travels eventfd -> KVM irqfd (GSI 1) -> IOAPIC ->
 * LAPIC -> the guest's IDT handler, once per scan code. */
static void test_keyboard_interrupt_delivered(void **state)
{
    struct fx f;
    struct sq_err err;
    unsigned char out[8] = {0};
    static const unsigned char want[] = {'R', 0x14, 0x11, 0xe0, 0x71};

    (void)state;
    if (!kvm_usable())
        skip();
    fx_open(&f, 1, false, false);
    put(&f, CODE_GPA, g_kbd_irq, sizeof(g_kbd_irq));
    enter_long_mode(&f, 0x2);
    start(&f);
    assert_int_equal(read_out(&f, (char *)out, 1, TIMEOUT_MS), 1);
    assert_int_equal(out[0], 'R');
    assert_int_equal(machine_send_ctrl_alt_del(f.m, &err), 0);
    assert_int_equal(wait_exit(&f, TIMEOUT_MS), 0);
    assert_int_equal(read_out(&f, (char *)out + 1, 4, 1000), 4);
    assert_memory_equal(out, want, sizeof(want));
    assert_int_equal(*(uint32_t *)gpa_ptr(&f, DATA_GPA, 4), 4);
    fx_close(&f);
    fx_done(&f);
}

/* Host input reaches the guest: stdin (a FIFO here) is read by the vmm loop
 * into the UART, whose interrupt goes out on GSI 4 to the guest's handler,
 * which echoes each byte. */
static void test_stdin_to_guest_serial_interrupt(void **state)
{
    char dir[] = "/tmp/squib-stdin-XXXXXX";
    char path[64];
    char out[8] = {0};
    struct fx f;
    int fifo, saved_stdin, fl;

    (void)state;
    if (!kvm_usable())
        skip();
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/in", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    fifo = open(path, O_RDWR | O_CLOEXEC);
    assert_true(fifo >= 0);
    saved_stdin = dup(STDIN_FILENO);
    assert_true(saved_stdin >= 0);
    assert_int_equal(dup2(fifo, STDIN_FILENO), STDIN_FILENO);
    fl = fcntl(STDIN_FILENO, F_GETFL);

    fx_open_full(&f, 1, false, true, false, true);
    put(&f, CODE_GPA, g_serial_echo, sizeof(g_serial_echo));
    enter_long_mode(&f, 0x2);
    start(&f);
    assert_true(fcntl(STDIN_FILENO, F_GETFL) & O_NONBLOCK);
    for (int waited = 0; waited < TIMEOUT_MS && out[0] != 'R'; waited += 10)
        if (read(f.out_r, out, 1) != 1)
            evloop_run_once(f.loop, 10);
    assert_int_equal(out[0], 'R');
    assert_int_equal(write(fifo, "abq", 3), 3);
    assert_int_equal(wait_exit(&f, TIMEOUT_MS), 0); /* runs the loop */
    assert_int_equal(read_out(&f, out + 1, 3, 1000), 3);
    assert_string_equal(out, "Rabq");
    fx_close(&f);
    fx_done(&f);
    /* The machine gave stdin back as it found it. */
    assert_int_equal(fcntl(STDIN_FILENO, F_GETFL), fl);
    assert_int_equal(dup2(saved_stdin, STDIN_FILENO), STDIN_FILENO);
    close(saved_stdin);
    close(fifo);
    unlink(path);
    rmdir(dir);
}

/* A device plugged in the way virtio-mmio devices will be: a register
 * window from mmio_alloc_device() and an interrupt eventfd. */
struct fake_mmio {
    struct bus_dev bus;
    uint64_t last_write_off;
    uint32_t last_write_val;
    int writes;
};

static void fake_mmio_read(struct bus_dev *d, uint64_t off, uint8_t *data,
                           uint32_t len)
{
    uint32_t magic = 0x74726976; /* "virt" */

    (void)d;
    if (off == 0 && len == 4)
        memcpy(data, &magic, 4);
}

static void fake_mmio_write(struct bus_dev *d, uint64_t off,
                            const uint8_t *data, uint32_t len)
{
    struct fake_mmio *f = d->opaque;

    f->last_write_off = off;
    f->last_write_val = 0;
    memcpy(&f->last_write_val, data, len < 4 ? len : 4);
    f->writes++;
}

/*
 * With use_ioeventfd, QueueNotify (offset 0x50) is registered with
 * KVM_IOEVENTFD as virtio-mmio devices will do: the guest's write then
 * signals the eventfd inside KVM and never reaches the register handler.
 */
static void run_mmio_device(bool use_ioeventfd)
{
    struct machine_config cfg;
    struct machine_mmio_dev dev;
    struct fake_mmio fm;
    struct mmio_alloc a;
    struct sq_err err;
    struct machine *m = NULL;
    int p[2], kernel, irq, notify = -1, writes = 0;
    char out = 0;
    struct pollfd pfd;

    memset(&fm, 0, sizeof(fm));
    bus_dev_init(&fm.bus, "fake-virtio", fake_mmio_read, fake_mmio_write, &fm);
    irq = evloop_eventfd_new();
    assert_true(irq >= 0);
    mmio_alloc_init(&a);
    memset(&dev, 0, sizeof(dev));
    assert_int_equal(mmio_alloc_device(&a, &dev.addr, &dev.gsi, &err), 0);
    dev.regs = &fm.bus;
    dev.irq_fd = irq;

    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    kernel = make_kernel();
    memset(&cfg, 0, sizeof(cfg));
    cfg.vcpu_count = 1;
    cfg.mem_size_mib = 64;
    cfg.kernel_fd = kernel;
    cfg.initrd_fd = -1;
    cfg.cmdline = "";
    cfg.serial_out_fd = p[1];
    cfg.n_mmio = 1;
    cfg.mmio = &dev;
    sq_err_clear(&err);
    if (machine_create(&cfg, NULL, &m, &err) != 0)
        fail_msg("machine_create: %s", err.msg);
    {
        struct fx f; /* reuse the long-mode helpers */

        memset(&f, 0, sizeof(f));
        f.m = m;
        put(&f, CODE_GPA, g_mmio_dev, sizeof(g_mmio_dev));
        enter_long_mode(&f, 0x2);
    }
    if (use_ioeventfd) {
        notify = evloop_eventfd_new();
        assert_true(notify >= 0);
        assert_int_equal(
            kvm_ioeventfd(machine_vm_fd(m), notify, dev.addr + 0x50, 4, 0, 0),
            0);
    }
    if (machine_start(m, &err) != 0)
        fail_msg("machine_start: %s", err.msg);
    if (use_ioeventfd) {
        /* KVM signalled the eventfd; the handler never saw the write. */
        pfd.fd = notify;
        pfd.events = POLLIN;
        assert_int_equal(poll(&pfd, 1, TIMEOUT_MS), 1);
        assert_int_equal(evloop_eventfd_drain(notify), 1);
        bus_dev_lock(&fm.bus);
        writes = fm.writes;
        bus_dev_unlock(&fm.bus);
        assert_int_equal(writes, 0);
    } else {
        /* The guest's MMIO read got the magic and its write came back. */
        for (uint64_t t0 = now_ms();
             writes == 0 && now_ms() - t0 < TIMEOUT_MS;) {
            bus_dev_lock(&fm.bus);
            writes = fm.writes;
            bus_dev_unlock(&fm.bus);
            usleep(1000);
        }
        assert_int_equal(writes, 1);
        assert_int_equal(fm.last_write_off, 0x50);
        assert_int_equal(fm.last_write_val, 0x74726976);
    }
    /* The device interrupts: eventfd -> irqfd (GSI 5) -> guest handler.
     * The IOAPIC route was set before the write we saw, so the edge is
     * latched even if the guest has not reached sti yet. */
    evloop_eventfd_signal(irq);
    pfd.fd = machine_exit_fd(m);
    pfd.events = POLLIN;
    assert_int_equal(poll(&pfd, 1, TIMEOUT_MS), 1);
    assert_int_equal(machine_exit_code(m), 0);
    assert_int_equal(read(p[0], &out, 1), 1);
    assert_int_equal(out, 'I');
    machine_destroy(m);
    bus_dev_fini(&fm.bus);
    close(irq);
    if (notify >= 0)
        close(notify);
    close(kernel);
    close(p[0]);
    close(p[1]);
}

static void test_mmio_device_window_and_irq(void **state)
{
    (void)state;
    if (!kvm_usable())
        skip();
    run_mmio_device(false);
    run_mmio_device(true);
}

/* A terminal on stdin goes raw while the machine runs, even when it is not
 * the serial input, and gets its mode back at teardown. */
static void test_tty_raw_while_running(void **state)
{
    struct termios t;
    struct fx f;
    int master, slave, saved;

    (void)state;
    if (!kvm_usable())
        skip();
    master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
        printf("SKIP: no pseudo-terminals here\n");
        skip();
    }
    slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    assert_true(slave >= 0);
    saved = dup(STDIN_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(slave, STDIN_FILENO), STDIN_FILENO);

    fx_open(&f, 1, false, false); /* serial_stdin off */
    put(&f, CODE_GPA, g_hlt, sizeof(g_hlt));
    enter_long_mode(&f, 0x2);
    assert_int_equal(tcgetattr(STDIN_FILENO, &t), 0);
    assert_true(t.c_lflag & ICANON);
    start(&f);
    assert_int_equal(tcgetattr(STDIN_FILENO, &t), 0);
    assert_false(t.c_lflag & (ICANON | ECHO | ISIG));
    fx_close(&f);
    fx_done(&f);
    assert_int_equal(tcgetattr(STDIN_FILENO, &t), 0);
    assert_true(t.c_lflag & ICANON);
    assert_true(t.c_lflag & ECHO);

    assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
    close(saved);
    close(slave);
    close(master);
}

/* More than 3 GiB: the rest of RAM sits above the MMIO hole at 4 GiB, in
 * its own KVM slot, and the guest reaches both ends. */
static void test_memory_above_4g(void **state)
{
    struct machine_config cfg;
    struct sq_err err;
    struct fx f;
    uint32_t v;

    (void)state;
    if (!kvm_usable())
        skip();
    memset(&f, 0, sizeof(f));
    f.kernel_fd = make_kernel();
    memset(&cfg, 0, sizeof(cfg));
    cfg.vcpu_count = 1;
    cfg.mem_size_mib = 3072 + 64;
    cfg.kernel_fd = f.kernel_fd;
    cfg.initrd_fd = -1;
    cfg.cmdline = "";
    cfg.serial_out_fd = -1;
    sq_err_clear(&err);
    if (machine_create(&cfg, NULL, &f.m, &err) != 0)
        fail_msg("machine_create: %s", err.msg);
    assert_int_equal(machine_guest_mem(f.m)->n_regions, 2);
    assert_int_equal(machine_guest_mem(f.m)->regions[1].gpa, 0x100000000ULL);
    put(&f, CODE_GPA, g_high_mem, sizeof(g_high_mem));
    enter_long_mode(&f, 0x2);
    start(&f);
    {
        struct pollfd p = {.fd = machine_exit_fd(f.m), .events = POLLIN};

        assert_int_equal(poll(&p, 1, TIMEOUT_MS), 1);
    }
    assert_int_equal(machine_exit_code(f.m), 0);
    memcpy(&v, gpa_ptr(&f, 0x100000000ULL, 4), 4);
    assert_int_equal(v, 0x12345678);
    memcpy(&v, gpa_ptr(&f, 0xbffff000ULL, 4), 4);
    assert_int_equal(v, 0x9abcdef0);
    machine_destroy(f.m);
    close(f.kernel_fd);
}

static void test_boot_timer_line_and_loop_exit(void **state)
{
    struct fx f;

    (void)state;
    if (!kvm_usable())
        skip();
    fx_open(&f, 1, true, true);
    put(&f, CODE_GPA, g_boot_timer, sizeof(g_boot_timer));
    enter_long_mode(&f, 0x2);
    f.destroy_in_cb = true;
    start(&f);
    /* The exit reaches the vmm loop: "Vmm is stopping." and on_exit(0),
     * which tears the machine down from inside the loop callback. */
    assert_int_equal(wait_exit(&f, TIMEOUT_MS), 0);
    assert_int_equal(f.exit_seen, 1);
    assert_null(f.m);
    evloop_run_once(f.loop, 10); /* nothing left registered that fires */
    assert_int_equal(f.exit_seen, 1);
    fx_close(&f);
    assert_true(log_contains(&f, "Killing vCPU threads"));
    assert_true(log_contains(&f, "Guest-boot-time = "));
    assert_true(log_contains(&f, " CPU us "));
    assert_true(log_contains(&f, "Vmm is stopping."));
    fx_done(&f);
}

static void test_no_boot_timer_without_flag(void **state)
{
    struct fx f;

    (void)state;
    if (!kvm_usable())
        skip();
    fx_open(&f, 1, false, false);
    put(&f, CODE_GPA, g_boot_timer, sizeof(g_boot_timer));
    enter_long_mode(&f, 0x2);
    start(&f);
    /* The write lands on no device (logged) and the guest still resets. */
    assert_int_equal(wait_exit(&f, TIMEOUT_MS), 0);
    fx_close(&f);
    assert_false(log_contains(&f, "Guest-boot-time"));
    assert_true(log_contains(&f, "Invalid MMIO read @ 0xc0000000:0x1"));
    fx_done(&f);
}

static void test_cpuid_and_msrs_per_vcpu(void **state)
{
    const uint32_t n = 3;
    struct fx f;
    struct kvm_cpuid2 *c;
    uint64_t v;

    (void)state;
    if (!kvm_usable())
        skip();
    c = calloc(1, sizeof(*c) + 256 * sizeof(c->entries[0]));
    assert_non_null(c);
    fx_open(&f, n, false, false);
    for (uint32_t i = 0; i < n; i++) {
        bool found = false;

        assert_int_equal(machine_vcpu_get_cpuid(f.m, i, c, 256), 0);
        assert_true(c->nent > 0);
        for (uint32_t e = 0; e < c->nent; e++) {
            if (c->entries[e].function != 1)
                continue;
            found = true;
            /* Normalised per vCPU: initial APIC id and hypervisor bit. */
            assert_int_equal(c->entries[e].ebx >> 24, i);
            assert_true(c->entries[e].ecx & (1u << 31));
        }
        assert_true(found);
        /* Boot MSRs (digest 6.2). */
        assert_int_equal(machine_vcpu_get_msr(f.m, i, 0x2ff, &v), 0);
        assert_int_equal(v, (1u << 11) | 6);
        assert_int_equal(machine_vcpu_get_msr(f.m, i, 0x1a0, &v), 0);
        assert_true(v & 1);
        /* LAPIC: LINT0 delivers ExtINT (7), LINT1 NMI (4). */
        {
            struct kvm_lapic_state l;
            uint32_t lvt0, lvt1;

            assert_int_equal(machine_vcpu_get_lapic(f.m, i, &l), 0);
            memcpy(&lvt0, &l.regs[0x350], 4);
            memcpy(&lvt1, &l.regs[0x360], 4);
            assert_int_equal((lvt0 >> 8) & 7, 7);
            assert_int_equal((lvt1 >> 8) & 7, 4);
        }
    }
    assert_int_equal(machine_vcpu_get_cpuid(f.m, n, c, 256), -EINVAL);
    free(c);
    fx_close(&f);
    fx_done(&f);
}

static void test_mmio_allocator(void **state)
{
    struct mmio_alloc a;
    struct sq_err err;
    uint64_t addr;
    uint32_t gsi;

    (void)state;
    mmio_alloc_init(&a);
    assert_int_equal(mmio_alloc_device(&a, &addr, &gsi, &err), 0);
    assert_int_equal(addr, 0xc0001000);
    assert_int_equal(gsi, 5);
    assert_int_equal(mmio_alloc_device(&a, &addr, &gsi, &err), 0);
    assert_int_equal(addr, 0xc0002000);
    assert_int_equal(gsi, 6);
    for (int i = 2; i < 17; i++)
        assert_int_equal(mmio_alloc_device(&a, &addr, &gsi, &err), 0);
    assert_int_equal(gsi, 21); /* 17 devices: GSIs 5..21 */
    assert_int_equal(mmio_alloc_gsi(&a, &gsi, &err), 0);
    assert_int_equal(gsi, 22); /* VMGenID */
    assert_int_equal(mmio_alloc_gsi(&a, &gsi, &err), 0);
    assert_int_equal(gsi, 23); /* VMClock */
    assert_int_equal(mmio_alloc_gsi(&a, &gsi, &err), -ENOSPC);
    assert_string_equal(err.msg, "Could not allocate GSI: The requested "
                                 "resource is not available.");
    assert_int_equal(mmio_alloc_device(&a, &addr, &gsi, &err), -ENOSPC);
    assert_string_equal(err.msg, "Failed to allocate requested resource: The "
                                 "requested resource is not available.");
}

/* Build with only the custom CPU template set; returns machine_create's rc. */
static int create_with_template(const struct cpu_template *t,
                                struct machine **m, struct sq_err *err)
{
    struct machine_config cfg;
    int kernel = make_kernel();
    int rc;

    memset(&cfg, 0, sizeof(cfg));
    cfg.vcpu_count = 2;
    cfg.mem_size_mib = 32;
    cfg.kernel_fd = kernel;
    cfg.initrd_fd = -1;
    cfg.cmdline = "";
    cfg.serial_out_fd = -1;
    cfg.custom_template = t;
    sq_err_clear(err);
    rc = machine_create(&cfg, NULL, m, err);
    close(kernel);
    return rc;
}

static void test_template_caps_and_msrs(void **state)
{
    struct kvm_cap_modifier caps_missing[] = {{9999, false}};
    struct kvm_cap_modifier caps_removed[] = {{KVM_CAP_XSAVE, true}};
    /* PAT (0x277): the template makes entry 1 write-combining (0x01). */
    struct msr_modifier pat_msrs[] = {{0x277, 0xff00, 0x0100}};
    struct msr_modifier bad_msrs[] = {{0xdeadbeef, 1, 1}};
    struct cpu_template t;
    struct machine *m = NULL;
    struct sq_err err;
    uint64_t pat0 = 0, pat;

    (void)state;
    if (!kvm_usable())
        skip();
    memset(&t, 0, sizeof(t));

    t.n_kvm_caps = 1;
    t.kvm_caps = caps_missing;
    assert_int_equal(create_with_template(&t, &m, &err), -ENOTSUP);
    assert_null(m);
    assert_string_equal(err.msg, "Kvm error: Missing KVM capabilities: 0x270f");

    t.kvm_caps = caps_removed; /* removing a required one is allowed */
    assert_int_equal(create_with_template(&t, &m, &err), 0);
    assert_int_equal(machine_vcpu_get_msr(m, 0, 0x277, &pat0), 0);
    machine_destroy(m);

    t.n_kvm_caps = 0;
    t.n_msr = 1;
    t.msr = pat_msrs;
    assert_int_equal(create_with_template(&t, &m, &err), 0);
    for (uint32_t i = 0; i < 2; i++) {
        assert_int_equal(machine_vcpu_get_msr(m, i, 0x277, &pat), 0);
        assert_int_equal(pat, (pat0 & ~0xff00ULL) | 0x0100);
    }
    machine_destroy(m);

    /* An MSR KVM does not know: upstream's text, nothing left behind. */
    t.msr = bad_msrs;
    assert_int_equal(create_with_template(&t, &m, &err), -EINVAL);
    assert_null(m);
    assert_string_equal(err.msg, "System configuration error: Failed to "
                                 "create guest config: KVM vcpu ioctl failed: "
                                 "Failed to get KVM vcpu msr: 0xdeadbeef");
}

/* The largest machine: 32 vCPU threads start, pause, resume and are joined. */
static void test_max_vcpus(void **state)
{
    struct machine_config cfg;
    struct machine *m = NULL;
    struct sq_err err;
    struct fx f;
    char out[32] = {0};

    (void)state;
    if (!kvm_usable())
        skip();
    memset(&cfg, 0, sizeof(cfg));
    cfg.vcpu_count = MACHINE_MAX_VCPUS + 1;
    cfg.mem_size_mib = 32;
    cfg.kernel_fd = -1;
    cfg.initrd_fd = -1;
    assert_int_equal(machine_create(&cfg, NULL, &m, &err), -EINVAL);
    assert_null(m);

    fx_open(&f, MACHINE_MAX_VCPUS, false, false);
    assert_int_equal(machine_vcpu_count(f.m), MACHINE_MAX_VCPUS);
    put(&f, CODE_GPA, g_hlt, sizeof(g_hlt));
    enter_long_mode(&f, 0x2);
    start(&f);
    assert_int_equal(read_out(&f, out, 1, TIMEOUT_MS), 1);
    assert_int_equal(machine_pause(f.m, &err), 0);
    assert_int_equal(machine_resume(f.m, &err), 0);
    fx_close(&f);
    fx_done(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_error_text),
        cmocka_unit_test(test_mmio_allocator),
        cmocka_unit_test(test_serial_then_reset),
        cmocka_unit_test(test_triple_fault_exits_1),
        cmocka_unit_test(test_halted_guest_never_hangs_teardown),
        cmocka_unit_test(test_pause_resume_stops_counting),
        cmocka_unit_test(test_pause_with_idle_aps_and_dirty_log),
        cmocka_unit_test(test_smp_aps_start_via_sipi),
        cmocka_unit_test(test_ctrl_alt_del_reaches_guest),
        cmocka_unit_test(test_keyboard_interrupt_delivered),
        cmocka_unit_test(test_stdin_to_guest_serial_interrupt),
        cmocka_unit_test(test_mmio_device_window_and_irq),
        cmocka_unit_test(test_tty_raw_while_running),
        cmocka_unit_test(test_memory_above_4g),
        cmocka_unit_test(test_boot_timer_line_and_loop_exit),
        cmocka_unit_test(test_no_boot_timer_without_flag),
        cmocka_unit_test(test_cpuid_and_msrs_per_vcpu),
        cmocka_unit_test(test_template_caps_and_msrs),
        cmocka_unit_test(test_max_vcpus),
    };

    log_init();
    log_set_thread_name("main");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
