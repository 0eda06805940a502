/*
 * mptable.c: Intel MP 1.4 table writer (see mptable.h).
 *
 * Entry layouts (all little-endian, packed):
 *   floating pointer (16): "_MP_", physptr u32, length u8 (16-byte units),
 *       spec rev u8, checksum u8, feature bytes 1..5
 *   table header (44): "PCMP", length u16, spec u8, checksum u8, oem[8],
 *       product[12], oem ptr u32, oem size u16, entry count u16, lapic u32,
 *       ext length u16, ext checksum u8, reserved u8
 *   processor (20): type 0, apic id, apic version, flags, signature u32,
 *       feature flags u32, reserved[8]
 *   bus (8): type 1, bus id, type string[6]
 *   ioapic (8): type 2, id, version, flags, address u32
 *   io interrupt (8): type 3, irq type, flags u16, bus, bus irq, apic, pin
 *   local interrupt (8): type 4, irq type, flags u16, bus, bus irq, apic, lint
 *
 * Two details copied from Firecracker on purpose, because a guest (or a
 * test comparing against Firecracker) can see them: the header's entry
 * count also counts the floating pointer, and the table checksum covers
 * the header and entries (not the floating pointer, which has its own).
 */
#include "vmm/mptable.h"

#include <errno.h>
#include <string.h>

#include "util/le.h"

#define MP_PROCESSOR 0
#define MP_BUS       1
#define MP_IOAPIC    2
#define MP_INTSRC    3
#define MP_LINTSRC   4

#define MP_IRQ_INT    0
#define MP_IRQ_NMI    1
#define MP_IRQ_EXTINT 3

#define CPU_ENABLED       1
#define CPU_BOOTPROCESSOR 2
#define APIC_VERSION      0x14
#define CPU_STEPPING      0x600
#define CPU_FEATURE_APIC  0x200
#define CPU_FEATURE_FPU   0x001

#define MPF_SIZE   16
#define MPC_SIZE   44
#define CPU_SIZE   20
#define SMALL_SIZE 8

size_t mptable_size(uint32_t n_cpus)
{
    return MPF_SIZE + MPC_SIZE + (size_t)CPU_SIZE * n_cpus + SMALL_SIZE +
           SMALL_SIZE + SMALL_SIZE * MPTABLE_NUM_IRQS + SMALL_SIZE * 2;
}

int mptable_write(uint8_t *out, size_t out_len, uint64_t gpa, uint32_t n_cpus,
                  struct sq_err *err)
{
    size_t size, off;
    uint8_t *mpc, *e;
    uint16_t n_entries = 0;
    uint8_t ioapic_id;

    if (n_cpus == 0 || n_cpus > MPTABLE_MAX_CPUS)
        return sq_errf(err, -EINVAL, MPTABLE_ERR_TOO_MANY_CPUS);
    size = mptable_size(n_cpus);
    if (out_len < size)
        return sq_errf(err, -ENOSPC, MPTABLE_ERR_NOT_ENOUGH_MEMORY);
    if (gpa + size > UINT32_MAX)
        return sq_errf(err, -EINVAL,
                       "The MP table has too little address "
                       "space to be stored.");
    ioapic_id = (uint8_t)(n_cpus + 1);
    memset(out, 0, size);

    /* Floating pointer structure. */
    memcpy(out, "_MP_", 4);
    le_put32(out + 4, (uint32_t)(gpa + MPF_SIZE));
    out[8] = 1; /* length in 16-byte paragraphs */
    out[9] = 4; /* MP spec 1.4 */
    out[10] = (uint8_t)-byte_sum8(out, MPF_SIZE);
    n_entries++;

    mpc = out + MPF_SIZE;
    off = MPF_SIZE + MPC_SIZE;

    for (uint32_t i = 0; i < n_cpus; i++) {
        e = out + off;
        e[0] = MP_PROCESSOR;
        e[1] = (uint8_t)i;
        e[2] = APIC_VERSION;
        e[3] = CPU_ENABLED | (i == 0 ? CPU_BOOTPROCESSOR : 0);
        le_put32(e + 4, CPU_STEPPING);
        le_put32(e + 8, CPU_FEATURE_APIC | CPU_FEATURE_FPU);
        off += CPU_SIZE;
        n_entries++;
    }

    e = out + off;
    e[0] = MP_BUS;
    e[1] = 0;
    memcpy(e + 2, "ISA   ", 6);
    off += SMALL_SIZE;
    n_entries++;

    e = out + off;
    e[0] = MP_IOAPIC;
    e[1] = ioapic_id;
    e[2] = APIC_VERSION;
    e[3] = 1; /* usable */
    le_put32(e + 4, MPTABLE_IOAPIC_ADDR);
    off += SMALL_SIZE;
    n_entries++;

    /* Same routing as the kernel's kvm_setup_default_irq_routing(). */
    for (unsigned irq = 0; irq < MPTABLE_NUM_IRQS; irq++) {
        e = out + off;
        e[0] = MP_INTSRC;
        e[1] = MP_IRQ_INT;
        le_put16(e + 2, 0); /* conforming polarity and trigger */
        e[4] = 0;           /* ISA bus */
        e[5] = (uint8_t)irq;
        e[6] = ioapic_id;
        e[7] = (uint8_t)irq;
        off += SMALL_SIZE;
        n_entries++;
    }

    e = out + off;
    e[0] = MP_LINTSRC;
    e[1] = MP_IRQ_EXTINT;
    e[6] = 0; /* destination: APIC 0 */
    e[7] = 0; /* LINT0 */
    off += SMALL_SIZE;
    n_entries++;

    e = out + off;
    e[0] = MP_LINTSRC;
    e[1] = MP_IRQ_NMI;
    e[6] = 0xff; /* all local APICs */
    e[7] = 1;    /* LINT1 */
    off += SMALL_SIZE;
    n_entries++;

    /* Configuration table header, now that its length is known. */
    memcpy(mpc, "PCMP", 4);
    le_put16(mpc + 4, (uint16_t)(off - MPF_SIZE));
    mpc[6] = 4;
    memcpy(mpc + 8, "FC      ", 8);
    memcpy(mpc + 16, "000000000000", 12);
    le_put16(mpc + 34, n_entries);
    le_put32(mpc + 36, MPTABLE_LAPIC_ADDR);
    mpc[7] = (uint8_t)-byte_sum8(mpc, off - MPF_SIZE);
    return 0;
}
