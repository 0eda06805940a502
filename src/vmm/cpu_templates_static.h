/*
 * cpu_templates_static.h: the data of Firecracker's deprecated static CPU
 * templates C3, T2, T2S, T2CL (Intel) and T2A (AMD).
 *
 * Each is a fixed set of CPUID modifiers (and for T2S/T2CL one MSR
 * modifier, IA32_ARCH_CAPABILITIES) meant to make the guest look like an
 * EC2 instance family, plus the vendor and CPU models it may be applied on.
 * cpuid.c turns one into a struct cpu_template (cpu_static_template_get());
 * nothing else should need this header except tests.
 */
#ifndef SQUIB_VMM_CPU_TEMPLATES_STATIC_H
#define SQUIB_VMM_CPU_TEMPLATES_STATIC_H

#include <stddef.h>
#include <stdint.h>

#include "config/cpu_template.h"
#include "vmm/cpuid.h"

/* Family/model/stepping fields of CPUID.1:EAX. */
struct cpu_model {
    uint8_t extended_family, extended_model, family, model, stepping;
};

struct cpu_static_leaf {
    uint32_t leaf, subleaf, flags;
    size_t n_modifiers;
    const struct cpuid_reg_modifier *modifiers;
};

struct cpu_static_def {
    const char *name;   /* "C3", ... */
    const char *vendor; /* "GenuineIntel" / "AuthenticAMD" */
    size_t n_models;
    const struct cpu_model *models;
    size_t n_cpuid;
    const struct cpu_static_leaf *cpuid;
    size_t n_msr;
    const struct msr_modifier *msr;
};

/* The definition of `t`; NULL for CPU_TEMPLATE_NONE or an unknown value.
 * Points to static data. */
const struct cpu_static_def *cpu_static_def(enum cpu_static_template t);

/* Decode CPUID.1:EAX. */
struct cpu_model cpu_model_from_eax(uint32_t eax);

#endif
