/*
 * cpuid.h (stand-in): the firmware branch's CPUID interface, copied from
 * the agreed interface text so that the machine code builds before that
 * branch is merged. mk/machine.mk adds this directory to the include path
 * only while src/vmm/cpuid.h does not exist.
 */
#ifndef SQUIB_VMM_CPUID_H
#define SQUIB_VMM_CPUID_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "util/err.h"
#include "vmm/cpu_template.h"

struct cpuid_ctx {
    uint32_t vcpu_index, vcpu_count;
    bool smt;
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
int cpuid_apply_static(struct kvm_cpuid2 *cpuid, uint32_t max_entries,
                       enum cpu_static_template t, struct sq_err *err);
int cpuid_apply_custom(struct kvm_cpuid2 *cpuid, uint32_t max_entries,
                       const struct cpu_template *t, struct sq_err *err);

#endif
