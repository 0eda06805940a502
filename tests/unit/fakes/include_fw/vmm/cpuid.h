/*
 * cpuid.h (stand-in): the part of the firmware branch's CPUID interface the
 * machine uses (declarations as in that branch), so that the machine code
 * builds before that branch is merged. mk/machine.mk adds this directory to the
 * include path only while src/vmm/cpuid.h does not exist.
 */
#ifndef SQUIB_VMM_CPUID_H
#define SQUIB_VMM_CPUID_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "util/err.h"
#include "vmm/cpu_template.h"

#define CPUID_MAX_ENTRIES 80

struct cpuid_regs {
    uint32_t eax, ebx, ecx, edx;
};

typedef void cpuid_host_fn(void *opaque, uint32_t leaf, uint32_t subleaf,
                           struct cpuid_regs *out);

struct cpuid_ctx {
    uint32_t vcpu_index, vcpu_count;
    bool smt;
    cpuid_host_fn *host; /* NULL = the CPUID instruction */
    void *host_opaque;
};

enum cpu_static_template {
    CPU_TEMPLATE_NONE,
    CPU_TEMPLATE_C3,
    CPU_TEMPLATE_T2,
    CPU_TEMPLATE_T2S,
    CPU_TEMPLATE_T2CL,
    CPU_TEMPLATE_T2A
};

int cpuid_normalize(struct kvm_cpuid2 *cpuid, uint32_t max_entries,
                    const struct cpuid_ctx *ctx);
int cpuid_normalize_err(struct kvm_cpuid2 *cpuid, uint32_t max_entries,
                        const struct cpuid_ctx *ctx, struct sq_err *err);
int cpuid_apply_static(struct kvm_cpuid2 *cpuid, uint32_t max_entries,
                       enum cpu_static_template t, struct sq_err *err);
int cpuid_apply_custom(struct kvm_cpuid2 *cpuid, uint32_t max_entries,
                       const struct cpu_template *t, struct sq_err *err);

/* The custom-template form of static template t (caller frees it with
 * cpu_template_fini). 0 or -EINVAL with err set. */
int cpu_static_template_get(enum cpu_static_template t,
                            const struct kvm_cpuid2 *cpuid,
                            struct cpu_template *out, struct sq_err *err);
/* MSR indices the template modifies; returns the total count. */
size_t cpu_template_msr_indices(const struct cpu_template *t, uint32_t *out,
                                size_t max);
/* data = (data & ~mask) | value per modifier; -EINVAL with err if an index
 * is not among the entries. */
int cpu_template_apply_msrs(const struct cpu_template *t,
                            struct kvm_msr_entry *entries, size_t n,
                            struct sq_err *err);
/* The 14 default capabilities with the template's additions/removals. */
int cpu_template_kvm_caps(const struct cpu_template *t, uint32_t *out,
                          size_t max, size_t *n_out);

#endif
