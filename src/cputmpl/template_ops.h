/*
 * template_ops.h: what cpu-template-helper does with custom CPU templates
 * (upstream's src/cpu-template-helper/src/template/ and utils/x86_64.rs),
 * on struct cpu_template values, without KVM:
 *
 *   - cputmpl_from_dump(): a guest CPU configuration (vCPU 0's CPUID table
 *     and MSRs, vmm/cpu_dump.h) as a template whose every bitmap is fully
 *     specified ('0'/'1', no 'x'): one leaf modifier per CPUID entry in
 *     (leaf, subleaf) order with eax, ebx, ecx, edx, and one MSR modifier
 *     per MSR in index order, minus upstream's exclusion list;
 *   - cputmpl_strip(): removes what all the templates share;
 *   - cputmpl_verify(): checks a template against a dumped configuration.
 *
 * Templates are compared as upstream's "modifier maps": one entry per CPUID
 * (leaf, subleaf, flags, register) or MSR index, holding (mask, value); a
 * key repeated in one template keeps its last modifier.
 */
#ifndef SQUIB_CPUTMPL_TEMPLATE_OPS_H
#define SQUIB_CPUTMPL_TEMPLATE_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "config/cpu_template.h"
#include "util/err.h"
#include "vmm/cpu_dump.h"

/* Upstream's MSR_EXCLUSION_LIST (template/dump/x86_64.rs): MSRs left out
 * of a dump because they change with time or belong to features
 * Firecracker disables; with amd_host also IA32_ARCH_CAPABILITIES. */
bool cputmpl_msr_excluded(uint32_t index, bool amd_host);

/*
 * config_to_template: fill *out (which must be zeroed or finished) from
 * `cpuid` (nent entries) and `msrs` (n_msrs, any order). Entries with the
 * same (function, index) or MSR index keep the last. Never fails.
 */
void cputmpl_from_dump(const struct kvm_cpuid2 *cpuid,
                       const struct cpu_dump_msr *msrs, size_t n_msrs,
                       bool amd_host, struct cpu_template *out);

/*
 * strip: n >= 2 templates, rewritten in place. A CPUID register or MSR
 * present in all of them with the same masked value is removed from all;
 * one present in all with differing values keeps, in each, only the bits
 * that differ somewhere (its mask &= the OR of the differences); the rest
 * stays. The results hold no KVM capabilities, leaves sorted by (leaf,
 * subleaf, flags) with registers in eax..edx order, MSRs by index.
 * Returns 0, or -EINVAL with "The number of inputs should be two or more."
 */
int cputmpl_strip(struct cpu_template *t, size_t n, struct sq_err *err);

/*
 * verify: every modifier of `tmpl` must be in `config` (else "{key} not
 * found in CPU configuration.") with the same value under the template's
 * mask (else "Value for {key} mismatched.\n* CPU template     : 0b...\n*
 * CPU configuration: 0b...\n* Diff             :   ^..."), CPUID first,
 * then MSRs, each in key order. Keys print as "leaf=0x1, subleaf=0x0,
 * flags=0b0, register=eax" and "index=0x10a". Returns 0 or -EINVAL.
 */
int cputmpl_verify(const struct cpu_template *tmpl,
                   const struct cpu_template *config, struct sq_err *err);

#endif
