/*
 * mptable.h: the Intel MultiProcessor Specification 1.4 table.
 *
 * Linux finds the vCPUs, the IOAPIC and the legacy IRQ routing of a
 * Firecracker guest through this table (written in the last KiB below
 * 640 KiB) as well as through ACPI. The layout is Firecracker's exactly:
 * floating pointer `_MP_`, then the `PCMP` configuration table with one
 * processor entry per vCPU, one ISA bus, one IOAPIC, 24 I/O interrupt
 * entries (IRQ n -> IOAPIC pin n) and two local interrupt entries (ExtINT
 * and NMI). See digest 6.6.
 */
#ifndef SQUIB_VMM_MPTABLE_H
#define SQUIB_VMM_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* xAPIC ids are 8 bits and the IOAPIC takes one: Firecracker's limit. */
#define MPTABLE_MAX_CPUS 254

/* Upstream's MptableError texts that acpi.c's checks share. */
#define MPTABLE_ERR_TOO_MANY_CPUS                                              \
    "Number of CPUs exceeds the maximum supported CPUs"
#define MPTABLE_ERR_NOT_ENOUGH_MEMORY                                          \
    "There was too little guest memory to store the entire MP table."
/* Number of 1:1 legacy IRQ entries (GSI 0..23). */
#define MPTABLE_NUM_IRQS    24
#define MPTABLE_IOAPIC_ADDR 0xfec00000u
#define MPTABLE_LAPIC_ADDR  0xfee00000u

/* Bytes the table takes for n_cpus vCPUs (floating pointer included). */
size_t mptable_size(uint32_t n_cpus);

/*
 * Write the MP table for n_cpus vCPUs into `out` (the host view of the
 * guest bytes at guest-physical `gpa`; out_len bytes are writable). The
 * floating pointer's physptr is gpa + 16. Returns 0, or on error sets `err`
 * to Firecracker's text (the part after "Error writing MP table to memory:
 * ") and returns -EINVAL (0 or too many CPUs, gpa too high) or -ENOSPC
 * (out_len < mptable_size()); nothing is written on error.
 */
int mptable_write(uint8_t *out, size_t out_len, uint64_t gpa, uint32_t n_cpus,
                  struct sq_err *err);

#endif
