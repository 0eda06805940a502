/*
 * cpu_template.h: a custom CPU template (PUT /cpu-config, x86_64):
 * upstream's CustomCpuTemplate (strict; cpu_config/x86_64/
 * custom_cpu_template.rs) and its JSON form.
 *
 * This is the validated form the API layer produces from the request body
 * and the vmm applies at boot, before CPUID normalisation (digest 6.7).
 * A bitmap "0b1x0..." becomes (mask, value): bits whose character was 0 or 1
 * are set in `mask`, and their value in `value`; 'x' bits are kept as KVM
 * gave them: result = (orig & ~mask) | value.
 */
#ifndef SQUIB_CONFIG_CPU_TEMPLATE_H
#define SQUIB_CONFIG_CPU_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/json.h"

enum cpuid_reg { CPUID_EAX = 0, CPUID_EBX = 1, CPUID_ECX = 2, CPUID_EDX = 3 };

struct cpuid_reg_modifier {
    enum cpuid_reg reg;
    uint32_t mask;
    uint32_t value;
};

struct cpuid_leaf_modifier {
    uint32_t leaf;
    uint32_t subleaf;
    uint32_t flags; /* KVM_CPUID_FLAG_* */
    size_t n_modifiers;
    struct cpuid_reg_modifier *modifiers; /* owned */
};

struct msr_modifier {
    uint32_t addr;
    uint64_t mask;
    uint64_t value;
};

struct kvm_cap_modifier {
    uint32_t cap; /* KVM_CAP_* number */
    bool remove;  /* "!N": the capability must not be required */
};

struct cpu_template {
    size_t n_kvm_caps;
    struct kvm_cap_modifier *kvm_caps; /* owned */
    size_t n_cpuid;
    struct cpuid_leaf_modifier *cpuid; /* owned */
    size_t n_msr;
    struct msr_modifier *msr; /* owned */
};

/* Free everything the template owns (not the struct itself); NULL-safe. */
void cpu_template_fini(struct cpu_template *t);
/* Replace *dst (finished first) with a deep copy of *src. Aborts on OOM. */
void cpu_template_copy(struct cpu_template *dst,
                       const struct cpu_template *src);

/* API form: the error text carries upstream's RequestError::SerdeJson
 * prefix ("An error occurred when deserializing the json body of a request:
 * ", then "."). Release with cpu_template_fini(). */
int cpu_config_parse(const char *body, size_t len, struct cpu_template *out,
                     struct sq_err *err);
/* Same parser, bare serde_json message (no prefix, no final "."): for a
 * template read from a file named by the config file's "cpu-config". */
int cpu_template_json_parse(const char *json, size_t len,
                            struct cpu_template *out, struct sq_err *err);

/*
 * Writing (cpu_template_json.c): upstream's Serialize of CustomCpuTemplate
 * through serde_json::to_string_pretty. Keys in declaration order:
 * kvm_capabilities ("N" / "!N"), cpuid_modifiers (leaf and subleaf as
 * "0x{lower hex}", flags as a number, modifiers: register "eax".."edx" and
 * bitmap "0b" + 32 characters from bit 31 down, '0'/'1' where the mask has
 * the bit, 'x' where not), msr_modifiers (addr "0x..", bitmap of 64). Every
 * list is written, empty ones as []. No trailing newline.
 */
void cpu_template_write_pretty(const struct cpu_template *t,
                               struct json_pretty *p);
/* The same into b, as a whole document. */
void cpu_template_to_json(const struct cpu_template *t, struct buf *b);
/* The bitmap string of one (mask, value) of `bits` bits (32 or 64):
 * out needs bits + 3 bytes. */
void cpu_template_bitmap_str(uint64_t mask, uint64_t value, unsigned bits,
                             char *out);

/* Rust's derived PartialEq: same lists, same order, same contents. */
bool cpu_template_equal(const struct cpu_template *a,
                        const struct cpu_template *b);

#endif
