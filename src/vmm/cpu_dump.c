/*
 * cpu_dump.c: build a VM without running it and read vCPU 0's CPUID and
 * MSRs back (see cpu_dump.h).
 */
#include "vmm/cpu_dump.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/evloop.h"
#include "util/sort.h"
#include "util/xalloc.h"
#include "vmm/machine.h"
#include "vmm/vcpu_snap.h"
#include "vmm/vmm.h"

/* KVM reads at most this many MSRs per KVM_GET_MSRS (KVM_MAX_MSR_ENTRIES). */
#define MSR_CHUNK  255
#define CPUID_ROOM 256

struct msr_range {
    uint32_t base, n;
};

/* Upstream's UNDUMPABLE_MSR_RANGES (arch/x86_64/msr.rs). */
static const struct msr_range undumpable[] = {
    {0x309, 4},      /* MSR_ARCH_PERFMON_FIXED_CTRn */
    {0x38d, 4},      /* MSR_CORE_PERF_FIXED_CTR_CTRL .. GLOBAL_OVF_CTRL */
    {0xc1, 8},       /* MSR_ARCH_PERFMON_PERFCTRn */
    {0x186, 8},      /* MSR_ARCH_PERFMON_EVENTSELn */
    {0x17b, 1},      /* MSR_IA32_MCG_CTL */
    {0x480, 18},     /* MSR_IA32_VMX_BASIC .. VMX_VMFUNC */
    {0x40000000, 4}, /* HV_X64_MSR_GUEST_OS_ID .. RESET */
    {0x40000010, 1}, /* HV_X64_MSR_VP_RUNTIME */
    {0x40000020, 4}, /* HV_X64_MSR_TIME_REF_COUNT .. APIC_FREQUENCY */
    {0x40000080, 1}, /* HV_X64_MSR_SCONTROL */
    {0x40000073, 1}, /* HV_X64_MSR_VP_ASSIST_PAGE */
    {0x400000b0, 1}, /* HV_X64_MSR_STIMER0_CONFIG */
    {0x400000f1, 5}, /* HV_X64_MSR_SYNDBG_* */
    {0x400000ff, 1}, /* HV_X64_MSR_SYNDBG_OPTIONS */
    {0x40000100, 6}, /* HV_X64_MSR_CRASH_Pn, CRASH_CTL */
    {0x40000106, 3}, /* HV_X64_MSR_REENLIGHTENMENT_CONTROL .. */
    {0x40000118, 1}, /* HV_X64_MSR_TSC_INVARIANT_CONTROL */
};

bool cpu_msr_is_dumpable(uint32_t index)
{
    for (size_t i = 0; i < sizeof(undumpable) / sizeof(undumpable[0]); i++)
        if (index >= undumpable[i].base &&
            index - undumpable[i].base < undumpable[i].n)
            return false;
    return true;
}

void cpu_dump_fini(struct cpu_dump *d)
{
    if (!d)
        return;
    free(d->cpuid);
    free(d->msrs);
    cpu_template_fini(&d->tmpl);
    memset(d, 0, sizeof(*d));
}

static int cmp_msr(const void *a, const void *b)
{
    uint32_t x = ((const struct cpu_dump_msr *)a)->index;
    uint32_t y = ((const struct cpu_dump_msr *)b)->index;

    return x < y ? -1 : x > y;
}

/* KvmVcpu::get_msrs over the dumpable list: chunk by chunk, failing on the
 * first MSR KVM does not read; duplicates collapse (BTreeMap insert). */
static int read_msrs(struct machine *m, struct cpu_dump *out,
                     struct sq_err *err)
{
    struct kvm_msrs *chunk =
        xcalloc(1, sizeof(*chunk) + MSR_CHUNK * sizeof(chunk->entries[0]));
    uint32_t *list = NULL, n_list = 0, n = 0;
    char os[128];
    int rc = vcpu_snap_msr_list(machine_kvm_fd(m), &list, &n_list);

    if (rc < 0) {
        free(chunk);
        return sq_errf(err, rc,
                       CPU_DUMP_ERR_PREFIX
                       "Failed to run action on vcpu: Failed to "
                       "get dumpable MSR index list: Failed to "
                       "get MSR index list: %s",
                       sq_os_error(-rc, os, sizeof(os)));
    }
    for (uint32_t i = 0; i < n_list; i++)
        if (cpu_msr_is_dumpable(list[i]))
            list[n++] = list[i];
    out->msrs = xcalloc(n ? n : 1, sizeof(*out->msrs));
    for (uint32_t i = 0; i < n && rc == 0; i += MSR_CHUNK) {
        uint32_t k = n - i < MSR_CHUNK ? n - i : MSR_CHUNK;

        memset(chunk, 0, sizeof(*chunk) + k * sizeof(chunk->entries[0]));
        chunk->nmsrs = k;
        for (uint32_t j = 0; j < k; j++)
            chunk->entries[j].index = list[i + j];
        rc = machine_vcpu_get_msrs(m, 0, chunk);
        if (rc < 0) {
            sq_errf(err, rc,
                    CPU_DUMP_ERR_PREFIX
                    "Failed to run action on vcpu: Failed to get "
                    "KVM vcpu msrs: %s",
                    sq_os_error(-rc, os, sizeof(os)));
            break;
        }
        if ((uint32_t)rc != k) {
            rc = sq_errf(err, -EIO,
                         CPU_DUMP_ERR_PREFIX
                         "Failed to run action on vcpu: Failed to "
                         "get KVM vcpu msr: 0x%x",
                         chunk->entries[rc].index);
            break;
        }
        for (uint32_t j = 0; j < k; j++) {
            out->msrs[out->n_msrs].index = chunk->entries[j].index;
            out->msrs[out->n_msrs].data = chunk->entries[j].data;
            out->n_msrs++;
        }
        rc = 0;
    }
    free(chunk);
    free(list);
    if (rc)
        return rc;
    sq_sort(out->msrs, out->n_msrs, sizeof(*out->msrs), cmp_msr);
    /* Keep the last of equal indices, as repeated BTreeMap inserts do. */
    n = 0;
    for (size_t i = 0; i < out->n_msrs; i++) {
        if (n && out->msrs[n - 1].index == out->msrs[i].index)
            n--;
        out->msrs[n++] = out->msrs[i];
    }
    out->n_msrs = n;
    return 0;
}

static int dump_machine(struct machine *m, struct cpu_dump *out,
                        struct sq_err *err)
{
    const struct cpu_template *t = machine_cpu_template(m);
    char os[128];
    int rc;

    out->cpuid = xcalloc(1, sizeof(*out->cpuid) +
                                CPUID_ROOM * sizeof(out->cpuid->entries[0]));
    rc = machine_vcpu_get_cpuid(m, 0, out->cpuid, CPUID_ROOM);
    if (rc < 0)
        return sq_errf(err, rc,
                       CPU_DUMP_ERR_PREFIX
                       "Failed to run action on vcpu: Failed to "
                       "get KVM vcpu cpuid: %s",
                       sq_os_error(-rc, os, sizeof(os)));
    rc = read_msrs(m, out, err);
    if (rc == 0 && t)
        cpu_template_copy(&out->tmpl, t);
    return rc;
}

int vmm_cpu_dump(const struct vmm_config_file *cfg,
                 const struct cpu_template *tmpl_override, struct cpu_dump *out,
                 struct sq_err *err)
{
    struct evloop *loop = evloop_new();
    struct vmm *v;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!loop)
        return sq_errf(err, -errno, "Failed to build microVM: event loop: %s",
                       strerror(errno));
    v = vmm_new(loop, NULL);
    rc = vmm_configure_from_file(v, cfg, NULL, err);
    if (rc) {
        sq_err_prefix(err, "Failed to create VmResources: ");
        goto out;
    }
    if (tmpl_override)
        res_set_custom_cpu_template(&v->res, tmpl_override);
    rc = vmm_build_machine(v, err);
    if (rc) {
        sq_err_prefix(err, "Failed to build microVM: ");
        goto out;
    }
    rc = dump_machine(vmm_machine(v), out, err);
out:
    vmm_free(v);
    evloop_free(loop);
    if (rc)
        cpu_dump_fini(out);
    return rc;
}
