/*
 * cpu_dump.h: the guest CPU configuration of a VM that is built but never
 * run (upstream's build_microvm_for_boot followed by Vmm::dump_cpu_config,
 * which cpu-template-helper uses).
 *
 * vmm_cpu_dump() builds the VM a --config-file document describes, through
 * the same code as squib's own --config-file (vmm_configure_from_file, then
 * vmm_build_machine: devices, memory, KVM, CPU template, CPUID
 * normalisation, MSRs, registers; the vCPUs are never started), reads back
 * vCPU 0's CPUID (KVM_GET_CPUID2) and every dumpable MSR KVM lists
 * (KVM_GET_MSR_INDEX_LIST minus cpu_msr_is_dumpable()), and tears it all
 * down. Needs /dev/kvm.
 */
#ifndef SQUIB_VMM_CPU_DUMP_H
#define SQUIB_VMM_CPU_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "config/cpu_template.h"
#include "config/vm_config.h"
#include "util/err.h"

/* What every error of the read-back itself starts with. */
#define CPU_DUMP_ERR_PREFIX "Failed to dump CPU config: "

struct cpu_dump_msr {
    uint32_t index;
    uint64_t data;
};

struct cpu_dump {
    struct kvm_cpuid2 *cpuid; /* owned: vCPU 0's table, as KVM holds it */
    size_t n_msrs;
    struct cpu_dump_msr *msrs; /* owned; ascending index (a BTreeMap) */
    struct cpu_template tmpl;  /* the template the VM was built with (a
                                  custom one, a static one's modifiers, or
                                  empty): what `template verify` checks */
};

/* Free what the dump owns; NULL-safe, idempotent. */
void cpu_dump_fini(struct cpu_dump *d);

/*
 * Build the VM of `cfg` (borrowed, as vmm_config_file_parse made it), with
 * `tmpl_override` (borrowed, may be NULL) replacing its CPU template as
 * upstream's set_custom_cpu_template does, and dump vCPU 0. Returns 0 and
 * *out (release with cpu_dump_fini), or a negative errno with err->msg =
 * upstream's text from cpu-template-helper:
 *   "Failed to create VmResources: {ResourcesError}"   (configuration)
 *   "Failed to build microVM: {StartMicrovmError}"      (the build)
 *   "Failed to dump CPU config: Failed to run action on vcpu: ..." (the
 *   read-back, e.g. "... Failed to get KVM vcpu msr: 0x{index}")
 */
int vmm_cpu_dump(const struct vmm_config_file *cfg,
                 const struct cpu_template *tmpl_override, struct cpu_dump *out,
                 struct sq_err *err);

/* Upstream's msr_is_dumpable: false for the MSR ranges KVM lists but cannot
 * read on every host (the PMU's, IA32_MCG_CTL, VMX, Hyper-V). */
bool cpu_msr_is_dumpable(uint32_t index);

#endif
