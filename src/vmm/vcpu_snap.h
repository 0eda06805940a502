/*
 * vcpu_snap.h: everything KVM holds for one x86_64 vCPU, read out for a
 * snapshot and written back on restore (docs/snapshot.md).
 *
 * The state is KVM's uapi structures as they are: registers, special
 * registers, XSAVE area (which includes the FPU and SSE state), XCRs, debug
 * registers, local APIC, MP state, pending events, the CPUID table, the MSRs
 * KVM reports as saveable (the TSC and kvmclock ones among them) and the TSC
 * frequency. No policy lives here: the machine decides on which thread each
 * call runs (saving on the vCPU's own thread while it is paused, restoring
 * before the thread starts).
 */
#ifndef SQUIB_VMM_VCPU_SNAP_H
#define SQUIB_VMM_VCPU_SNAP_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "util/err.h"

/* Upper bounds a snapshot may carry (KVM's own limits are lower). */
#define VCPU_SNAP_MAX_CPUID 256
#define VCPU_SNAP_MAX_MSRS  1024
/* The legacy XSAVE area, sizeof(struct kvm_xsave): what KVM_GET_XSAVE
 * moves, and the least an area holds. */
#define VCPU_SNAP_XSAVE_LEGACY 4096u

struct vcpu_snap_msr {
    uint32_t index;
    uint64_t data;
};

struct vcpu_snap {
    struct kvm_mp_state mp_state;
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_xcrs xcrs;
    struct kvm_debugregs debugregs;
    struct kvm_lapic_state lapic;
    struct kvm_vcpu_events events;
    uint32_t tsc_khz; /* 0 = unknown */
    /* The XSAVE area: struct kvm_xsave's 4 KiB region and, from
     * KVM_GET_XSAVE2, its `extra` words (AMX tile data). xsave_size is
     * vcpu_snap_xsave_size_ok(). */
    uint32_t xsave_size;
    struct kvm_xsave *xsave; /* owned; xsave_size bytes */
    uint32_t n_cpuid;
    struct kvm_cpuid_entry2 *cpuid; /* owned; n_cpuid entries */
    uint32_t n_msrs;
    struct vcpu_snap_msr *msrs; /* owned; n_msrs entries */
};

/* Free the owned arrays; the struct may be reused. NULL-safe. */
void vcpu_snap_fini(struct vcpu_snap *s);

/*
 * The bytes of the XSAVE area of a VM whose KVM_CHECK_EXTENSION
 * (KVM_CAP_XSAVE2) answered `cap` (0: no such capability): 4096, or 4096
 * plus `cap - 4096` rounded up to whole u32 words (upstream's FAM length),
 * at most UINT32_MAX rounded down to a word.
 */
uint32_t vcpu_snap_xsave_size(uint32_t cap);

/* Whether a snapshot may hold an XSAVE area of `size` bytes: 4096 plus
 * whole u32 words, as upstream's Xsave (kvm_xsave2) can hold. */
bool vcpu_snap_xsave_size_ok(uint64_t size);

/*
 * Read vCPU `vcpu_fd`'s state into *out (zeroed first). `xsave2` is the
 * VM's KVM_CAP_XSAVE2 (0: none): with it the XSAVE area is read with
 * KVM_GET_XSAVE2 into vcpu_snap_xsave_size(xsave2) bytes, without it with
 * KVM_GET_XSAVE (4 KiB). `msr_list` (borrowed, n_msr_list entries) names
 * the MSRs to save; those KVM refuses to read are left out. The vCPU must
 * not be running. Returns 0, or -errno with err set to "Failed to get
 * {what}: {os error}" (the XSAVE area's are upstream's: "Failed to get KVM
 * vcpu xsave via KVM_GET_XSAVE2: ..."); *out then holds nothing owned.
 */
int vcpu_snap_save(int vcpu_fd, uint32_t xsave2, const uint32_t *msr_list,
                   uint32_t n_msr_list, struct vcpu_snap *out,
                   struct sq_err *err);

/*
 * Write *s back into a vCPU that has not run yet, in the order KVM needs:
 * CPUID (then the TSC frequency if it differs), MP state, registers,
 * special registers, XSAVE, XCRs, debug registers, LAPIC (after sregs,
 * which set the APIC base), MSRs (after the LAPIC, for the TSC deadline)
 * and pending events last (SET_REGS clears them). The XSAVE area goes in
 * whole with KVM_SET_XSAVE, which reads as many bytes as this VM's
 * KVM_CAP_XSAVE2 (`xsave2`, 0: 4096) says: a shorter saved area is given
 * to it followed by zeros (no component past it is in its header), a
 * longer one whole (KVM checks its header). Returns 0, or -errno with err
 * set to "Failed to set {what}: {os error}" (upstream's "Failed to set KVM
 * vcpu xsave: ..." for the XSAVE area).
 */
int vcpu_snap_restore(int vcpu_fd, uint32_t xsave2, const struct vcpu_snap *s,
                      struct sq_err *err);

/*
 * The MSRs KVM can save and restore (KVM_GET_MSR_INDEX_LIST on the system
 * fd), into a new array (*out, caller frees) of *n entries. 0 or -errno.
 */
int vcpu_snap_msr_list(int kvm_fd, uint32_t **out, uint32_t *n);

#endif
