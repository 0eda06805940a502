/*
 * vmclock.h: the VMClock device's page (ACPI "AMZNC10C", \_SB_.VCLK), as
 * Firecracker fills it: Linux's struct vmclock_abi (include/uapi/linux/
 * vmclock-abi.h), 112 bytes at the start of a 4 KiB page of system
 * memory, little-endian:
 *
 *   off size field                  off size field
 *     0  4   magic "VCLK"            38  1   leap_indicator
 *     4  4   size (0x1000)           39  1   counter_period_shift
 *     8  2   version (1)             40  8   counter_value
 *    10  1   counter_id              48  8   counter_period_frac_sec
 *    11  1   time_type               56  8   counter_period_esterror_rate
 *    12  4   seq_count               64  8   counter_period_maxerror_rate
 *    16  8   disruption_marker       72  8   time_sec
 *    24  8   flags                   80  8   time_frac_sec
 *    32  2   pad                     88  8   time_esterror_nanosec
 *    34  1   clock_status            96  8   time_maxerror_nanosec
 *    35  1   leap_second_smearing   104  8   vm_generation_counter
 *    36  2   tai_offset_sec
 *
 * A new machine gets upstream's page (vmclock_abi_init): magic, size,
 * version 1, clock status UNKNOWN, counter INVALID, flags
 * VM_GEN_COUNTER_PRESENT | NOTIFICATION_PRESENT, everything else 0. The
 * VMM keeps its own copy of the page (what a snapshot saves) and writes
 * it to the guest whole; a restore then bumps disruption_marker and
 * vm_generation_counter under the seq_count protocol (vmclock_post_restore).
 */
#ifndef SQUIB_VMM_VMCLOCK_H
#define SQUIB_VMM_VMCLOCK_H

#include <stdint.h>

#include "vmm/guest_mem.h"

#define VMCLOCK_ABI_SIZE 112u
#define VMCLOCK_PAGE     0x1000u

#define SQ_VMCLOCK_MAGIC               0x4b4c4356u /* "VCLK" */
#define SQ_VMCLOCK_COUNTER_INVALID     255u
#define SQ_VMCLOCK_STATUS_UNKNOWN      0u
#define SQ_VMCLOCK_FLAG_VM_GEN_COUNTER (1ull << 8)
#define SQ_VMCLOCK_FLAG_NOTIFICATION   (1ull << 9)

/* Byte offsets of the fields the VMM updates in place. */
#define VMCLOCK_OFF_SEQ_COUNT     12u
#define VMCLOCK_OFF_DISRUPTION    16u
#define VMCLOCK_OFF_VM_GENERATION 104u

struct vmclock_abi {
    uint32_t magic, size;
    uint16_t version;
    uint8_t counter_id, time_type;
    uint32_t seq_count;
    uint64_t disruption_marker, flags;
    uint8_t pad[2];
    uint8_t clock_status, leap_second_smearing_hint;
    uint16_t tai_offset_sec;
    uint8_t leap_indicator, counter_period_shift;
    uint64_t counter_value, counter_period_frac_sec;
    uint64_t counter_period_esterror_rate_frac_sec;
    uint64_t counter_period_maxerror_rate_frac_sec;
    uint64_t time_sec, time_frac_sec;
    uint64_t time_esterror_nanosec, time_maxerror_nanosec;
    uint64_t vm_generation_counter;
};

/* *a := the page of a newly booted machine (upstream's VmClock::new). */
void vmclock_abi_init(struct vmclock_abi *a);

/* *a as its 112 ABI bytes, and back. Every byte pattern decodes. */
void vmclock_abi_encode(const struct vmclock_abi *a,
                        uint8_t out[VMCLOCK_ABI_SIZE]);
void vmclock_abi_decode(const uint8_t in[VMCLOCK_ABI_SIZE],
                        struct vmclock_abi *a);

/*
 * Write *a (its 112 bytes) at guest address `gpa` and mark them dirty.
 * Returns 0, or -EFAULT when [gpa, gpa + 112) is not guest RAM (nothing
 * written) or gpa is not 8-aligned.
 */
int vmclock_write(const struct vmclock_abi *a, struct guest_mem *gm,
                  uint64_t gpa);

/*
 * After a snapshot restore, with *a already written at `gpa`: tell the
 * guest its clock was disrupted, as upstream's do_post_restore. seq_count
 * is made odd (an update in progress), then disruption_marker and
 * vm_generation_counter go up by one (wrapping), then seq_count goes up
 * by one more (even again); each field is stored whole, with release
 * fences between the three steps, both in *a and in the guest. Returns 0,
 * or -EFAULT as vmclock_write (nothing changed).
 */
int vmclock_post_restore(struct vmclock_abi *a, struct guest_mem *gm,
                         uint64_t gpa);

#endif
