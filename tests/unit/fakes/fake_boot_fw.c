/*
 * fake_boot_fw.c: weak stand-ins for the boot and firmware branches'
 * functions (boot_load, boot_vcpu_setup, boot_msrs, fw_write_tables,
 * cpuid_*), so that the machine tests link before those branches are
 * merged. Each group compiles only while the real header is missing from
 * src/, so after the merge the real code is what the tests exercise (a weak
 * definition linked as an object would otherwise stop the linker from
 * pulling the real one out of libsquib.a).
 *
 * They do the minimum the machine tests rely on, and nothing the real
 * functions would not also do: the loader accepts anything and loads
 * nothing (the tests place their own code and registers), the CPUID
 * normaliser sets the APIC id (leaf 1 EBX[31:24]) and the hypervisor bit
 * (leaf 1 ECX[31]) as digest 6.7 says, and the boot MSRs are digest 6.2's.
 */
#if !__has_include("../../../src/vmm/boot.h")
#include <string.h>

#include "vmm/boot.h"

__attribute__((weak)) int boot_load(const struct boot_mem *mem, int kernel_fd,
                                    int initrd_fd, const char *cmdline,
                                    struct boot_result *out, struct sq_err *err)
{
    (void)mem;
    (void)kernel_fd;
    (void)initrd_fd;
    (void)cmdline;
    (void)err;
    out->proto = BOOT_PROTO_LINUX64;
    out->entry = 0x100000;
    return 0;
}

__attribute__((weak)) void boot_vcpu_setup(const struct boot_result *res,
                                           struct kvm_regs *regs,
                                           struct kvm_sregs *sregs,
                                           struct kvm_fpu *fpu)
{
    (void)sregs;
    regs->rip = res->entry;
    regs->rflags = 0x2;
    fpu->fcw = 0x37f;
    fpu->mxcsr = 0x1f80;
}

__attribute__((weak)) size_t boot_msrs(struct kvm_msr_entry *entries,
                                       size_t max)
{
    static const struct {
        uint32_t index;
        uint64_t data;
    } list[] = {
        {0x174, 0},
        {0x175, 0},
        {0x176, 0}, /* SYSENTER_CS/ESP/EIP */
        {0xc0000081, 0},
        {0xc0000082, 0},
        {0xc0000083, 0}, /* STAR LSTAR CSTAR */
        {0xc0000102, 0},
        {0xc0000084, 0},         /* KERNEL_GS_BASE, SFMASK */
        {0x10, 0},               /* TSC */
        {0x1a0, 1},              /* MISC_ENABLE fast strings */
        {0x2ff, (1u << 11) | 6}, /* MTRRdefType */
    };
    size_t n = sizeof(list) / sizeof(list[0]);

    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++) {
        memset(&entries[i], 0, sizeof(entries[i]));
        entries[i].index = list[i].index;
        entries[i].data = list[i].data;
    }
    return n;
}
#endif

#if !__has_include("../../../src/vmm/cpuid.h")
#include <errno.h>
#include <string.h>

#include "vmm/acpi.h"
#include "vmm/cpuid.h"

__attribute__((weak)) int fw_write_tables(uint8_t *ram, uint64_t ram_len,
                                          const struct fw_config *cfg,
                                          struct sq_err *err)
{
    (void)ram;
    (void)ram_len;
    (void)cfg;
    (void)err;
    return 0;
}

__attribute__((weak)) int cpuid_normalize(struct kvm_cpuid2 *cpuid,
                                          uint32_t max_entries,
                                          const struct cpuid_ctx *ctx)
{
    (void)max_entries;
    for (uint32_t i = 0; i < cpuid->nent; i++) {
        struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

        if (e->function != 1)
            continue;
        e->ebx = (e->ebx & 0x00ffffffu) | (ctx->vcpu_index << 24);
        e->ecx |= 1u << 31;
    }
    return 0;
}

__attribute__((weak)) int cpuid_normalize_err(struct kvm_cpuid2 *cpuid,
                                              uint32_t max_entries,
                                              const struct cpuid_ctx *ctx,
                                              struct sq_err *err)
{
    (void)err;
    return cpuid_normalize(cpuid, max_entries, ctx);
}

/* Static templates are empty here (no CPUID or MSR changes). */
__attribute__((weak)) int
cpu_static_template_get(enum cpu_static_template t,
                        const struct kvm_cpuid2 *cpuid,
                        struct cpu_template *out, struct sq_err *err)
{
    (void)cpuid;
    memset(out, 0, sizeof(*out));
    if (t == CPU_TEMPLATE_NONE)
        return sq_errf(err, -EINVAL,
                       "Failed to get CPU template: Invalid "
                       "static CPU template: None");
    return 0;
}

__attribute__((weak)) size_t
cpu_template_msr_indices(const struct cpu_template *t, uint32_t *out,
                         size_t max)
{
    for (size_t i = 0; t && i < t->n_msr && i < max; i++)
        out[i] = t->msr[i].addr;
    return t ? t->n_msr : 0;
}

__attribute__((weak)) int cpu_template_apply_msrs(const struct cpu_template *t,
                                                  struct kvm_msr_entry *entries,
                                                  size_t n, struct sq_err *err)
{
    for (size_t i = 0; t && i < t->n_msr; i++) {
        size_t j;

        for (j = 0; j < n && entries[j].index != t->msr[i].addr; j++)
            ;
        if (j == n)
            return sq_errf(err, -EINVAL,
                           "System configuration error: Failed "
                           "to create guest config: Template "
                           "changes an MSR entry not supported "
                           "by KVM: Register Address: %#x",
                           t->msr[i].addr);
        entries[j].data = (entries[j].data & ~t->msr[i].mask) | t->msr[i].value;
    }
    return 0;
}

/* Firecracker's defaults, then add (append) / remove (swap_remove). */
__attribute__((weak)) int cpu_template_kvm_caps(const struct cpu_template *t,
                                                uint32_t *out, size_t max,
                                                size_t *n_out)
{
    static const uint32_t defaults[] = {
        KVM_CAP_IRQCHIP,     KVM_CAP_IOEVENTFD,    KVM_CAP_IRQFD,
        KVM_CAP_USER_MEMORY, KVM_CAP_SET_TSS_ADDR, KVM_CAP_PIT2,
        KVM_CAP_PIT_STATE2,  KVM_CAP_ADJUST_CLOCK, KVM_CAP_DEBUGREGS,
        KVM_CAP_MP_STATE,    KVM_CAP_VCPU_EVENTS,  KVM_CAP_XCRS,
        KVM_CAP_XSAVE,       KVM_CAP_EXT_CPUID,
    };
    size_t n = sizeof(defaults) / sizeof(defaults[0]);

    *n_out = 0;
    if (max < n)
        return -ENOSPC;
    memcpy(out, defaults, sizeof(defaults));
    for (size_t i = 0; t && i < t->n_kvm_caps; i++) {
        size_t pos = n;

        for (size_t j = 0; j < n; j++)
            if (out[j] == t->kvm_caps[i].cap)
                pos = j;
        if (t->kvm_caps[i].remove) {
            if (pos < n)
                out[pos] = out[--n];
        } else if (pos == n) {
            if (n >= max)
                return -ENOSPC;
            out[n++] = t->kvm_caps[i].cap;
        }
    }
    *n_out = n;
    return 0;
}

__attribute__((weak)) int cpuid_apply_static(struct kvm_cpuid2 *cpuid,
                                             uint32_t max_entries,
                                             enum cpu_static_template t,
                                             struct sq_err *err)
{
    (void)cpuid;
    (void)max_entries;
    (void)t;
    (void)err;
    return 0;
}

__attribute__((weak)) int cpuid_apply_custom(struct kvm_cpuid2 *cpuid,
                                             uint32_t max_entries,
                                             const struct cpu_template *t,
                                             struct sq_err *err)
{
    (void)cpuid;
    (void)max_entries;
    (void)t;
    (void)err;
    return 0;
}
#endif
