/*
 * cpuid.h: the guest's CPUID and the CPU templates (digest 6.7, 1.5).
 *
 * The machine builds each vCPU's CPUID the way Firecracker does:
 *
 *   1. cpuid = KVM_GET_SUPPORTED_CPUID
 *   2. cpuid_apply_static() or cpuid_apply_custom() with the configured
 *      template, once, on that shared table (a static template is first
 *      turned into a custom one by cpu_static_template_get());
 *   3. per vCPU: a copy of it, cpuid_normalize() for that vCPU, then
 *      KVM_SET_CPUID2;
 *   4. MSRs: read the template's MSRs (cpu_template_msr_indices()) from
 *      vCPU 0 with KVM_GET_MSRS, cpu_template_apply_msrs() over what KVM
 *      returned, and write the result plus the boot MSRs on every vCPU.
 *
 * KVM capabilities the VM requires (the defaults plus the template's
 * additions, minus its removals) come from cpu_template_kvm_caps().
 *
 * Error texts are Firecracker's, as the full detail that follows
 * "Start microvm error: " (e.g. "System configuration error: Failed to
 * create guest config: Template changes a CPUID entry not supported by
 * KVM: Leaf: 80000001, Subleaf: 0").
 */
#ifndef SQUIB_VMM_CPUID_H
#define SQUIB_VMM_CPUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "config/cpu_template.h"
#include "util/err.h"

/* Largest table squib asks KVM for (KVM_MAX_CPUID_ENTRIES in Firecracker). */
#define CPUID_MAX_ENTRIES 80
/* Brand string length (leaves 0x80000002..4). */
#define CPUID_BRAND_LEN 48

struct cpuid_regs {
    uint32_t eax, ebx, ecx, edx;
};

/* Executes CPUID(leaf, subleaf) on the host (or a stand-in in tests). */
typedef void cpuid_host_fn(void *opaque, uint32_t leaf, uint32_t subleaf,
                           struct cpuid_regs *out);

/* The real CPUID instruction; usable as a cpuid_host_fn (opaque unused). */
void cpuid_host_native(void *opaque, uint32_t leaf, uint32_t subleaf,
                       struct cpuid_regs *out);

struct cpuid_ctx {
    uint32_t vcpu_index, vcpu_count; /* index < count; count 1..128 */
    bool smt;
    /* Host CPUID for the passthrough parts (vendor, cache leaves, brand
     * frequency, AMD cache topology); NULL = cpuid_host_native. */
    cpuid_host_fn *host;
    void *host_opaque;
};

/*
 * Normalise `cpuid` (nent entries, room for max_entries) for one vCPU, in
 * place, as Firecracker's Cpuid::normalize(); entries may be added (leaf
 * 0xB subleaf 1, 0x1F copies, AMD 0x8000001D/E) and the table is left
 * sorted by (function, index). The vendor is read from leaf 0 of the table.
 * Returns 0 or a negative errno: -EINVAL for a missing required leaf, an
 * unsupported vendor or a bad ctx, -ENOSPC if max_entries is too small.
 */
int cpuid_normalize(struct kvm_cpuid2 *cpuid, uint32_t max_entries,
                    const struct cpuid_ctx *ctx);
/* The same, with the reason in `err` (may be NULL). */
int cpuid_normalize_err(struct kvm_cpuid2 *cpuid, uint32_t max_entries,
                        const struct cpuid_ctx *ctx, struct sq_err *err);

enum cpu_static_template {
    CPU_TEMPLATE_NONE,
    CPU_TEMPLATE_C3,
    CPU_TEMPLATE_T2,
    CPU_TEMPLATE_T2S,
    CPU_TEMPLATE_T2CL,
    CPU_TEMPLATE_T2A,
};

/* "C3", "T2", "T2S", "T2CL", "T2A", "None". */
const char *cpu_static_template_name(enum cpu_static_template t);

/*
 * The custom-template form of static template `t` (its CPUID and MSR
 * modifiers), after Firecracker's checks against the host, which it reads
 * from `cpuid` = KVM_GET_SUPPORTED_CPUID (leaf 0 vendor, leaf 1 EAX
 * family/model/stepping, both the host's own):
 *   - "Failed to get CPU template: Invalid static CPU template: None"
 *   - "Failed to get CPU template: CPU vendor mismatched between actual CPU
 *      and CPU template."
 *   - "Failed to get CPU template: The current CPU model is not permitted
 *      to apply the CPU template."
 * On success *out is filled (owned by the caller: cpu_template_fini()).
 * Returns 0 or -EINVAL.
 */
int cpu_static_template_get(enum cpu_static_template t,
                            const struct kvm_cpuid2 *cpuid,
                            struct cpu_template *out, struct sq_err *err);

/* cpu_static_template_get() + cpuid_apply_custom(). CPU_TEMPLATE_NONE is a
 * no-op returning 0. */
int cpuid_apply_static(struct kvm_cpuid2 *cpuid, uint32_t max_entries,
                       enum cpu_static_template t, struct sq_err *err);

/*
 * Apply a template's CPUID modifiers: for each, the entry with the same
 * function and index must exist (else "System configuration error: Failed
 * to create guest config: Template changes a CPUID entry not supported by
 * KVM: Leaf: {leaf hex}, Subleaf: {subleaf hex}", -EINVAL, table partly
 * modified); its flags become the modifier's and each register becomes
 * (reg & ~mask) | value, modifiers in order. Never adds entries
 * (max_entries is accepted for symmetry). Returns 0 or -EINVAL.
 */
int cpuid_apply_custom(struct kvm_cpuid2 *cpuid, uint32_t max_entries,
                       const struct cpu_template *t, struct sq_err *err);

/*
 * MSR indices the template modifies, in template order (what to ask
 * KVM_GET_MSRS for on vCPU 0 after KVM_SET_CPUID2). Writes up to max and
 * returns the total count (call with max 0 to size). If KVM_GET_MSRS
 * reads fewer than asked, Firecracker fails with "System configuration
 * error: Failed to create guest config: KVM vcpu ioctl failed: Failed to
 * get KVM vcpu msr: 0x{index of the first unread, lowercase hex}".
 */
size_t cpu_template_msr_indices(const struct cpu_template *t, uint32_t *out,
                                size_t max);

/*
 * Apply the template's MSR modifiers to the values KVM returned (entries
 * [0, n): index + data): data = (data & ~mask) | value for the entry with
 * the modifier's index. An index not among the entries fails with
 * "System configuration error: Failed to create guest config: Template
 * changes an MSR entry not supported by KVM: Register Address: {hex}" and
 * -EINVAL. The caller writes the entries (plus the boot MSRs) to every
 * vCPU.
 */
int cpu_template_apply_msrs(const struct cpu_template *t,
                            struct kvm_msr_entry *entries, size_t n,
                            struct sq_err *err);

/*
 * KVM capabilities the VM must have: Firecracker's 14 defaults, then the
 * template's modifiers in order (add: appended if absent; remove: taken
 * out by swapping in the last element, as Rust's swap_remove does, which
 * decides which missing capability is reported first). `t` may be NULL.
 * Writes *n_out entries to out (max >= 14 + t->n_kvm_caps is always
 * enough). Returns 0 or -ENOSPC. The machine checks each with
 * KVM_CHECK_EXTENSION and fails on the first missing one with
 * "Kvm error: Missing KVM capabilities: 0x{cap lowercase hex}".
 */
int cpu_template_kvm_caps(const struct cpu_template *t, uint32_t *out,
                          size_t max, size_t *n_out);

/*
 * MSRs a snapshot must save because of what the final CPUID enables
 * (Firecracker's msrs_to_save_by_cpuid: BNDCFGS with MPX, the MTRRs and
 * PAT with MTRR, 32 MCE banks with MCE). Writes up to max and returns the
 * total count.
 */
size_t cpuid_msrs_to_save(const struct kvm_cpuid2 *cpuid, uint32_t *out,
                          size_t max);

/*
 * The Intel guest brand string Firecracker derives from the host's (48
 * bytes each): "Intel(R) Xeon(R) Processor @" + the host frequency with its
 * leading space (" 3.00") + the rest of the host string from the unit on
 * ("GHz", NUL padding ...), NUL-padded. Returns 0, or -EINVAL when the host
 * string has no "<space><digits and dots><T|G|M>Hz" or the result would not
 * fit (normalisation then uses "Intel(R) Xeon(R) Processor").
 */
int cpuid_intel_brand_string(const uint8_t host[CPUID_BRAND_LEN],
                             uint8_t out[CPUID_BRAND_LEN]);

/* Find the entry (function, index); NULL if absent. */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *cpuid, uint32_t function,
                                    uint32_t index);

#endif
