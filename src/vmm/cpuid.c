/*
 * cpuid.c: CPUID normalisation and CPU templates (see cpuid.h).
 *
 * This follows Firecracker's cpu_config/x86_64 step by step, in the same
 * order, so that the same host gives the guest the same CPUID and the same
 * error comes first when several things are wrong. The rules, by leaf:
 *
 *   all     0      vendor (EBX, ECX, EDX) from the host
 *           1      EBX[15:8]=8, EBX[23:16]=next pow2 >= vcpus, EBX[31:24]=
 *                  index; ECX PDCM(15)=0, TSC-deadline(24)=1,
 *                  hypervisor(31)=1; EDX HTT(28)= vcpus > 1
 *           0xB    subleaf 1 added if missing; each subleaf: EAX/EBX/ECX
 *                  cleared, EDX = x2APIC id = index; subleaf 0 (SMT):
 *                  EAX[4:0]=smt bits, EBX[15:0]=threads per core,
 *                  ECX[15:8]=1; subleaf 1 (core): EAX[4:0]=5 (32 vCPUs
 *                  max), EBX[15:0]=vcpus, ECX[7:0]=1, ECX[15:8]=2
 *           0x80000005/6  host's, 0x80000006 EDX[17:16] cleared
 *   Intel   4      per cache: EAX[25:14]= sharing (L1/L2: threads per
 *                  core - 1, L3: vcpus - 1), EAX[31:26]= cores - 1
 *           6      EAX turbo(1)=0, ECX EPB(3)=0
 *           7.0    EBX[6]=EBX[13]=1, ECX WAITPKG(5)=0
 *           0xA    zeroed (no PMU)
 *           0x1F   copy of 0xB when the leaf exists
 *           brand  "Intel(R) Xeon(R) Processor @ <host freq>" or without
 *   AMD     0x8000001E, 0x8000001D  taken from the host (cache topology)
 *           7.0    EDX ARCH_CAPABILITIES(29)=0
 *           0x80000001 ECX TOPOEXT(22)=1
 *           0x80000008 ECX[15:12]=7, ECX[7:0]= vcpus - 1
 *           0x8000001D EAX[25:14] sharing as leaf 4
 *           0x8000001E EAX=index, EBX[7:0]=core id, EBX[15:8]= threads per
 *                  core - 1, ECX[10:0]=0
 *           brand  "AMD EPYC"
 */
#include "vmm/cpuid.h"

#include <cpuid.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obs/log.h"
#include "util/sort.h"
#include "util/xalloc.h"
#include "vmm/cpu_templates_static.h"
#include "vmm/errors.h"

#define ERR_NORM                                                               \
    VMM_ERR_SYS_CONFIG "Error configuring the vcpu for boot: "                 \
                       "Failed to apply modifications to CPUID: "
#define ERR_GUEST_CONFIG VMM_ERR_SYS_CONFIG "Failed to create guest config: "
#define ERR_RANGE                                                              \
    "Given value is greater than maximum storable value in bit range."

/* KVM_CPUID_FLAG_SIGNIFCANT_INDEX (sic) in the uapi header. */
#define SQ_CPUID_FLAG_SIGNIFICANT_INDEX 1u

/* Firecracker's MAX_SUPPORTED_VCPUS; leaf 0xB core level shift = log2. */
#define MAX_SUPPORTED_VCPUS 32
#define MAX_VCPUS_SHIFT     5

enum vendor { VENDOR_INTEL, VENDOR_AMD };

void cpuid_host_native(void *opaque, uint32_t leaf, uint32_t subleaf,
                       struct cpuid_regs *out)
{
    unsigned a, b, c, d;

    (void)opaque;
    __cpuid_count(leaf, subleaf, a, b, c, d);
    out->eax = a;
    out->ebx = b;
    out->ecx = c;
    out->edx = d;
}

static const struct kvm_cpuid_entry2 *
find_const(const struct kvm_cpuid2 *cpuid, uint32_t function, uint32_t index)
{
    for (uint32_t i = 0; i < cpuid->nent; i++)
        if (cpuid->entries[i].function == function &&
            cpuid->entries[i].index == index)
            return &cpuid->entries[i];
    return NULL;
}

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *cpuid, uint32_t function,
                                    uint32_t index)
{
    for (uint32_t i = 0; i < cpuid->nent; i++)
        if (cpuid->entries[i].function == function &&
            cpuid->entries[i].index == index)
            return &cpuid->entries[i];
    return NULL;
}

/* Find (function, index), or append a zeroed entry with `flags`. NULL if
 * the table is full. *added tells which. */
static struct kvm_cpuid_entry2 *find_or_add(struct kvm_cpuid2 *cpuid,
                                            uint32_t max_entries,
                                            uint32_t function, uint32_t index,
                                            uint32_t flags, int *added)
{
    struct kvm_cpuid_entry2 *e = cpuid_find(cpuid, function, index);

    if (added)
        *added = 0;
    if (e)
        return e;
    if (cpuid->nent >= max_entries)
        return NULL;
    e = &cpuid->entries[cpuid->nent++];
    memset(e, 0, sizeof(*e));
    e->function = function;
    e->index = index;
    e->flags = flags;
    if (added)
        *added = 1;
    return e;
}

static int cmp_entry(const void *a, const void *b)
{
    const struct kvm_cpuid_entry2 *x = a, *y = b;

    if (x->function != y->function)
        return x->function < y->function ? -1 : 1;
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return 0;
}

static void sort_entries(struct kvm_cpuid2 *cpuid)
{
    sq_sort(cpuid->entries, cpuid->nent, sizeof(cpuid->entries[0]), cmp_entry);
}

static void set_bit(uint32_t *x, unsigned bit, int v)
{
    *x = (*x & ~(1u << bit)) | ((v ? 1u : 0u) << bit);
}

/* Set bits [lo, hi] to v; -ERANGE (nothing changed) if v does not fit. */
static int set_range(uint32_t *x, unsigned lo, unsigned hi, uint32_t v)
{
    unsigned n = hi - lo + 1;
    uint32_t mask;

    if (n < 32 && v >= (1u << n))
        return -ERANGE;
    mask = n == 32 ? UINT32_MAX : ((1u << n) - 1) << lo;
    *x = (*x & ~mask) | (v << lo);
    return 0;
}

static uint32_t get_range(uint32_t x, unsigned lo, unsigned hi)
{
    unsigned n = hi - lo + 1;
    uint32_t mask = n == 32 ? UINT32_MAX : ((1u << n) - 1) << lo;

    return (x & mask) >> lo;
}

static void host_cpuid(const struct cpuid_ctx *ctx, uint32_t leaf,
                       uint32_t subleaf, struct cpuid_regs *r)
{
    if (ctx->host)
        ctx->host(ctx->host_opaque, leaf, subleaf, r);
    else
        cpuid_host_native(NULL, leaf, subleaf, r);
}

/* Vendor from leaf 0 of the table (Firecracker's Cpuid::try_from). */
static int table_vendor(struct kvm_cpuid2 *cpuid, enum vendor *v,
                        struct sq_err *err)
{
    struct kvm_cpuid_entry2 *e = cpuid_find(cpuid, 0, 0);
    char id[13];
    char shown[80];
    size_t n = 0;

    if (!e)
        return sq_errf(err, -EINVAL,
                       ERR_GUEST_CONFIG "Can create cpuid from "
                                        "raw: Leaf 0 not found in the given "
                                        "`kvm_bindings::CpuId`.");
    /* The vendor string is EBX, EDX, ECX: not a typo. */
    memcpy(id, &e->ebx, 4);
    memcpy(id + 4, &e->edx, 4);
    memcpy(id + 8, &e->ecx, 4);
    id[12] = '\0';
    if (!memcmp(id, "GenuineIntel", 12)) {
        *v = VENDOR_INTEL;
        return 0;
    }
    if (!memcmp(id, "AuthenticAMD", 12)) {
        *v = VENDOR_AMD;
        return 0;
    }
    /* Rust's Debug of [u8; 12]: "[71, 101, ...]". */
    n += (size_t)snprintf(shown + n, sizeof(shown) - n, "[");
    for (int i = 0; i < 12; i++)
        n += (size_t)snprintf(shown + n, sizeof(shown) - n, "%s%u",
                              i ? ", " : "", (unsigned char)id[i]);
    snprintf(shown + n, sizeof(shown) - n, "]");
    return sq_errf(err, -EINVAL,
                   ERR_GUEST_CONFIG
                   "Can create cpuid from raw: "
                   "Unsupported CPUID manufacturer id: \"%s\" (only "
                   "'GenuineIntel' and 'AuthenticAMD' are supported).",
                   shown);
}

/* ---- common normalisation ------------------------------------------------ */

static uint32_t next_pow2(uint32_t v)
{
    uint32_t p = 1;

    while (p < v)
        p <<= 1;
    return p;
}

static int norm_vendor_id(struct kvm_cpuid2 *cpuid, const struct cpuid_ctx *ctx,
                          struct sq_err *err)
{
    struct kvm_cpuid_entry2 *e = cpuid_find(cpuid, 0, 0);
    struct cpuid_regs h;

    if (!e)
        return sq_errf(err, -EINVAL,
                       ERR_NORM "Failed to set vendor ID in "
                                "leaf 0x0: Leaf 0x0 is missing from CPUID.");
    host_cpuid(ctx, 0, 0, &h);
    e->ebx = h.ebx;
    e->ecx = h.ecx;
    e->edx = h.edx;
    return 0;
}

static int norm_feature_info(struct kvm_cpuid2 *cpuid,
                             const struct cpuid_ctx *ctx, struct sq_err *err)
{
    struct kvm_cpuid_entry2 *e = cpuid_find(cpuid, 1, 0);
    const char *pre = ERR_NORM "Failed to set feature information leaf: ";

    if (!e)
        return sq_errf(err, -EINVAL, "%sLeaf 0x1 is missing from CPUID.", pre);
    set_range(&e->ebx, 8, 15, 8); /* CLFLUSH line size: 8 * 8 bytes */
    if (ctx->vcpu_count == 0)
        return sq_errf(err, -EINVAL,
                       "%sFailed to get max CPUs per package: "
                       "Failed to get max CPUs per package as "
                       "`cpu_count == 0`",
                       pre);
    if (ctx->vcpu_count > 128)
        return sq_errf(err, -EINVAL,
                       "%sFailed to get max CPUs per package: "
                       "Failed to get max CPUs per package as "
                       "`cpu_count > 128`",
                       pre);
    set_range(&e->ebx, 16, 23, next_pow2(ctx->vcpu_count));
    if (set_range(&e->ebx, 24, 31, ctx->vcpu_index))
        return sq_errf(err, -EINVAL,
                       "%sFailed to set `Initial APIC ID`: " ERR_RANGE, pre);
    set_bit(&e->ecx, 15, 0); /* PDCM: no IA32_PERF_CAPABILITIES */
    set_bit(&e->ecx, 24, 1); /* TSC-deadline */
    set_bit(&e->ecx, 31, 1); /* hypervisor present */
    set_bit(&e->edx, 28, ctx->vcpu_count > 1); /* HTT */
    return 0;
}

static int norm_ext_topology(struct kvm_cpuid2 *cpuid, uint32_t max_entries,
                             const struct cpuid_ctx *ctx, unsigned cpu_bits,
                             unsigned cpus_per_core, struct sq_err *err)
{
    /* KVM_GET_SUPPORTED_CPUID stopped reporting subleaf 1 (Linux 6.2,
     * backported); Firecracker puts it back. */
    if (!find_or_add(cpuid, max_entries, 0xb, 1,
                     SQ_CPUID_FLAG_SIGNIFICANT_INDEX, NULL))
        return -ENOSPC;
    for (uint32_t idx = 0;; idx++) {
        struct kvm_cpuid_entry2 *e = cpuid_find(cpuid, 0xb, idx);
        if (!e)
            break;
        e->eax = e->ebx = e->ecx = 0;
        e->edx = ctx->vcpu_index; /* x2APIC id */
        e->flags = SQ_CPUID_FLAG_SIGNIFICANT_INDEX;
        switch (idx) {
        case 0: /* logical processor (SMT) level */
            set_range(&e->eax, 0, 4, cpu_bits);
            set_range(&e->ebx, 0, 15, cpus_per_core);
            set_range(&e->ecx, 8, 15, 1);
            break;
        case 1: /* core level: the socket holds every vCPU */
            set_range(&e->eax, 0, 4, MAX_VCPUS_SHIFT);
            if (set_range(&e->ebx, 0, 15, ctx->vcpu_count))
                return sq_errf(
                    err, -EINVAL,
                    ERR_NORM
                    "Failed to set extended "
                    "topology leaf: Failed to set number of logical "
                    "processors (CPUID.(EAX=0xB,ECX=1):EBX[15:0]): " ERR_RANGE);
            set_range(&e->ecx, 0, 7, idx);
            set_range(&e->ecx, 8, 15, 2);
            break;
        default:
            /* KVM no longer reports these; keep going as Firecracker does. */
            log_warn("Subleaf %u not expected for CPUID leaf 0xB.", idx);
            e->ecx = idx;
            break;
        }
    }
    return 0;
}

static int norm_ext_cache(struct kvm_cpuid2 *cpuid, const struct cpuid_ctx *ctx,
                          struct sq_err *err)
{
    const char *pre = ERR_NORM "Failed to set extended cache features leaf: ";
    struct kvm_cpuid_entry2 *e5 = cpuid_find(cpuid, 0x80000005, 0);
    struct kvm_cpuid_entry2 *e6;
    struct cpuid_regs h;

    if (!e5)
        return sq_errf(err, -EINVAL, "%sLeaf 0x80000005 is missing from CPUID.",
                       pre);
    host_cpuid(ctx, 0x80000005, 0, &h);
    e5->eax = h.eax;
    e5->ebx = h.ebx;
    e5->ecx = h.ecx;
    e5->edx = h.edx;
    e6 = cpuid_find(cpuid, 0x80000006, 0);
    if (!e6)
        return sq_errf(err, -EINVAL, "%sLeaf 0x80000006 is missing from CPUID.",
                       pre);
    host_cpuid(ctx, 0x80000006, 0, &h);
    e6->eax = h.eax;
    e6->ebx = h.ebx;
    e6->ecx = h.ecx;
    e6->edx = h.edx & ~0x00030000u; /* bits 17:16 are reserved */
    return 0;
}

/* Write a 48-byte brand string into 0x80000002..4. */
static int apply_brand(struct kvm_cpuid2 *cpuid, const uint8_t *brand)
{
    for (uint32_t i = 0; i < 3; i++) {
        struct kvm_cpuid_entry2 *e = cpuid_find(cpuid, 0x80000002 + i, 0);
        if (!e)
            return -EINVAL;
        memcpy(&e->eax, brand + 16 * i, 4);
        memcpy(&e->ebx, brand + 16 * i + 4, 4);
        memcpy(&e->ecx, brand + 16 * i + 8, 4);
        memcpy(&e->edx, brand + 16 * i + 12, 4);
    }
    return 0;
}

#define MISSING_BRAND                                                          \
    "Missing brand string leaves 0x80000002, 0x80000003 and 0x80000004."

/* ---- Intel --------------------------------------------------------------- */

int cpuid_intel_brand_string(const uint8_t host[CPUID_BRAND_LEN],
                             uint8_t out[CPUID_BRAND_LEN])
{
    static const char base[] = "Intel(R) Xeon(R) Processor @";
    size_t unit = CPUID_BRAND_LEN, sp = 0, freq_len, after_len, len;
    int found_space = 0;

    for (size_t i = 0; i + 2 < CPUID_BRAND_LEN; i++) {
        if ((host[i] == 'T' || host[i] == 'G' || host[i] == 'M') &&
            host[i + 1] == 'H' && host[i + 2] == 'z') {
            unit = i;
            break;
        }
    }
    if (unit == CPUID_BRAND_LEN)
        return -EINVAL;
    for (size_t j = unit; j-- > 0;) {
        if (host[j] == ' ') {
            sp = j;
            found_space = 1;
            break;
        }
        if (!((host[j] >= '0' && host[j] <= '9') || host[j] == '.'))
            break;
    }
    if (!found_space)
        return -EINVAL;
    freq_len = unit - sp; /* includes the space */
    after_len = CPUID_BRAND_LEN - unit;
    len = sizeof(base) - 1 + freq_len + after_len;
    if (len > CPUID_BRAND_LEN)
        return -EINVAL;
    memset(out, 0, CPUID_BRAND_LEN);
    memcpy(out, base, sizeof(base) - 1);
    memcpy(out + sizeof(base) - 1, host + sp, freq_len);
    memcpy(out + sizeof(base) - 1 + freq_len, host + unit, after_len);
    return 0;
}

static int norm_intel(struct kvm_cpuid2 *cpuid, uint32_t max_entries,
                      const struct cpuid_ctx *ctx, unsigned cpus_per_core,
                      struct sq_err *err)
{
    const char *pre = ERR_NORM "Failed to apply modifications to Intel CPUID: ";
    struct kvm_cpuid_entry2 *e;
    uint8_t host_brand[CPUID_BRAND_LEN], brand[CPUID_BRAND_LEN];

    /* Leaf 4: deterministic cache parameters, one subleaf per cache,
     * ending at the first all-zero subleaf. */
    for (uint32_t i = 0; (e = cpuid_find(cpuid, 4, i)); i++) {
        uint32_t cores = ctx->vcpu_count / cpus_per_core;
        if (!e->eax && !e->ebx && !e->ecx && !e->edx)
            break;
        switch (get_range(e->eax, 5, 7)) {
        case 1:
        case 2: /* L1/L2: shared by the hyperthreads of a core */
            set_range(&e->eax, 14, 25, cpus_per_core - 1);
            break;
        case 3: /* L3: shared by every vCPU */
            if (set_range(&e->eax, 14, 25, ctx->vcpu_count - 1))
                return sq_errf(err, -EINVAL,
                               "%sFailed to set deterministic "
                               "cache leaf: Failed to set max addressable "
                               "processor ID sharing cache (CPUID.04H:"
                               "EAX[25:14]): " ERR_RANGE ".",
                               pre);
            break;
        default:
            break;
        }
        if (cores == 0)
            return sq_errf(err, -EINVAL,
                           "%sFailed to set deterministic cache "
                           "leaf: Failed to set max addressable core ID in "
                           "physical package (CPUID.04H:EAX[31:26]) due to "
                           "underflow in cores.",
                           pre);
        if (set_range(&e->eax, 26, 31, cores - 1))
            return sq_errf(err, -EINVAL,
                           "%sFailed to set deterministic cache "
                           "leaf: Failed to set max addressable core ID in "
                           "physical package (CPUID.04H:EAX[31:26]): " ERR_RANGE
                           ".",
                           pre);
    }

    e = cpuid_find(cpuid, 6, 0);
    if (!e)
        return sq_errf(err, -EINVAL, "%sLeaf 0x6 is missing from CPUID.", pre);
    set_bit(&e->eax, 1, 0); /* Turbo Boost */
    set_bit(&e->ecx, 3, 0); /* energy/performance bias */

    e = cpuid_find(cpuid, 7, 0);
    if (!e)
        return sq_errf(err, -EINVAL,
                       "%sLeaf 0x7 / subleaf 0 is missing from CPUID.", pre);
    set_bit(&e->ebx, 6, 1);  /* FDP_EXCPTN_ONLY */
    set_bit(&e->ebx, 13, 1); /* FPU CS/DS deprecated */
    set_bit(&e->ecx, 5, 0);  /* WAITPKG: no umwait/tpause in guests */

    e = cpuid_find(cpuid, 0xa, 0);
    if (!e)
        return sq_errf(err, -EINVAL, "%sLeaf 0xA is missing from CPUID.", pre);
    e->eax = e->ebx = e->ecx = e->edx = 0; /* no PMU */

    /* Leaf 0x1F (v2 topology) mirrors 0xB when the CPU has it. */
    if (cpuid_find(cpuid, 0x1f, 0)) {
        for (uint32_t i = 0;; i++) {
            struct kvm_cpuid_entry2 *b = cpuid_find(cpuid, 0xb, i);
            struct kvm_cpuid_entry2 copy, *d;
            if (!b)
                break;
            copy = *b;
            d = find_or_add(cpuid, max_entries, 0x1f, i, 0, NULL);
            if (!d)
                return -ENOSPC;
            *d = copy;
            d->function = 0x1f;
        }
    }

    for (uint32_t i = 0; i < 3; i++) {
        struct cpuid_regs h;
        host_cpuid(ctx, 0x80000002 + i, 0, &h);
        memcpy(host_brand + 16 * i, &h.eax, 4);
        memcpy(host_brand + 16 * i + 4, &h.ebx, 4);
        memcpy(host_brand + 16 * i + 8, &h.ecx, 4);
        memcpy(host_brand + 16 * i + 12, &h.edx, 4);
    }
    if (cpuid_intel_brand_string(host_brand, brand)) {
        memset(brand, 0, sizeof(brand));
        memcpy(brand, "Intel(R) Xeon(R) Processor", 26);
    }
    if (apply_brand(cpuid, brand))
        return sq_errf(err, -EINVAL,
                       "%sFailed to set brand string: " MISSING_BRAND, pre);
    return 0;
}

/* ---- AMD ----------------------------------------------------------------- */

static int norm_amd(struct kvm_cpuid2 *cpuid, uint32_t max_entries,
                    const struct cpuid_ctx *ctx, unsigned cpus_per_core,
                    struct sq_err *err)
{
    const char *pre = ERR_NORM "Failed to apply modifications to AMD CPUID: ";
    static const uint8_t brand[CPUID_BRAND_LEN] = "AMD EPYC";
    struct kvm_cpuid_entry2 *e;
    struct cpuid_regs h;

    /* Cache topology comes from the host; only valid on an AMD host. */
    host_cpuid(ctx, 0, 0, &h);
    if (!h.eax && !h.ebx && !h.ecx && !h.edx)
        return sq_errf(err, -EINVAL,
                       "%sFailed to passthrough cache topology: "
                       "Failed to get the host vendor id: Invalid subleaf: 0",
                       pre);
    if (memcmp(&h.ebx, "Auth", 4) || memcmp(&h.edx, "enti", 4) ||
        memcmp(&h.ecx, "cAMD", 4))
        return sq_errf(err, -EINVAL,
                       "%sFailed to passthrough cache topology: "
                       "The host vendor id does not match AMD.",
                       pre);
    e = find_or_add(cpuid, max_entries, 0x8000001e, 0, 0, NULL);
    if (!e)
        return -ENOSPC;
    host_cpuid(ctx, 0x8000001e, 0, &h);
    e->flags = 0;
    e->eax = h.eax;
    e->ebx = h.ebx;
    e->ecx = h.ecx;
    e->edx = h.edx;
    /* One subleaf per cache until a null cache type; bounded in case the
     * host (or a stand-in) never reports the end. */
    for (uint32_t sub = 0; sub < 64; sub++) {
        host_cpuid(ctx, 0x8000001d, sub, &h);
        if ((h.eax & 0xf) == 0)
            break;
        e = find_or_add(cpuid, max_entries, 0x8000001d, sub,
                        SQ_CPUID_FLAG_SIGNIFICANT_INDEX, NULL);
        if (!e)
            return -ENOSPC;
        e->flags = SQ_CPUID_FLAG_SIGNIFICANT_INDEX;
        e->eax = h.eax;
        e->ebx = h.ebx;
        e->ecx = h.ecx;
        e->edx = h.edx;
    }

    e = cpuid_find(cpuid, 7, 0);
    if (!e)
        return sq_errf(err, -EINVAL, "%sMissing leaf 0x7 / subleaf 0.", pre);
    set_bit(&e->edx, 29, 0); /* ARCH_CAPABILITIES is an Intel MSR */

    e = cpuid_find(cpuid, 0x80000001, 0);
    if (!e)
        return sq_errf(err, -EINVAL, "%sMissing leaf 0x80000001.", pre);
    set_bit(&e->ecx, 22, 1); /* topology extensions (0x8000001D/E) */

    e = cpuid_find(cpuid, 0x80000008, 0);
    if (!e)
        return sq_errf(err, -EINVAL,
                       "%sFailed to set feature entry leaf: "
                       "Missing leaf 0x80000008.",
                       pre);
    set_range(&e->ecx, 12, 15, 7); /* APIC id size: up to 128 threads */
    if (set_range(&e->ecx, 0, 7, ctx->vcpu_count - 1))
        return sq_errf(err, -EINVAL,
                       "%sFailed to set feature entry leaf: "
                       "Failed to set number of physical threads "
                       "(CPUID.80000008H:ECX[7:0]): " ERR_RANGE,
                       pre);

    for (uint32_t i = 0; (e = cpuid_find(cpuid, 0x8000001d, i)); i++) {
        switch (get_range(e->eax, 5, 7)) {
        case 1:
        case 2:
            set_range(&e->eax, 14, 25, cpus_per_core - 1);
            break;
        case 3:
            if (set_range(&e->eax, 14, 25, ctx->vcpu_count - 1))
                return sq_errf(err, -EINVAL,
                               "%sFailed to set extended cache "
                               "topology leaf: Failed to set number of logical "
                               "processors sharing cache(CPUID.(EAX=8000001DH,"
                               "ECX=%u):EAX[25:14]): " ERR_RANGE,
                               pre, i);
            break;
        default:
            break;
        }
    }

    e = cpuid_find(cpuid, 0x8000001e, 0);
    if (!e)
        return sq_errf(err, -EINVAL,
                       "%sFailed to set extended APIC ID leaf: "
                       "Missing leaf 0x8000001e.",
                       pre);
    e->eax = ctx->vcpu_index; /* extended APIC id */
    if (set_range(&e->ebx, 0, 7, ctx->vcpu_index / cpus_per_core))
        return sq_errf(err, -EINVAL,
                       "%sFailed to set extended APIC ID leaf: "
                       "Failed to set compute unit ID (CPUID.8000001EH:"
                       "EBX[7:0]): " ERR_RANGE,
                       pre);
    set_range(&e->ebx, 8, 15, cpus_per_core - 1);
    set_range(&e->ecx, 8, 10, 0); /* one node per processor */
    set_range(&e->ecx, 0, 7, 0);  /* node id 0 */

    if (apply_brand(cpuid, brand))
        return sq_errf(err, -EINVAL,
                       "%sFailed to set brand string: " MISSING_BRAND, pre);
    return 0;
}

int cpuid_normalize_err(struct kvm_cpuid2 *cpuid, uint32_t max_entries,
                        const struct cpuid_ctx *ctx, struct sq_err *err)
{
    unsigned cpu_bits, cpus_per_core;
    enum vendor v;
    int rc;

    if (!cpuid || !ctx || cpuid->nent > max_entries)
        return sq_errf(err, -EINVAL, ERR_NORM "invalid CPUID table");
    if (ctx->vcpu_count > 255 || ctx->vcpu_index >= 256)
        return sq_errf(
            err, -EINVAL,
            ERR_NORM
            "Failed to set feature "
            "information leaf: Failed to set `Initial APIC ID`: " ERR_RANGE);
    rc = table_vendor(cpuid, &v, err);
    if (rc)
        return rc;
    cpu_bits = ctx->vcpu_count > 1 && ctx->smt ? 1 : 0;
    cpus_per_core = 1u << cpu_bits;

    rc = norm_vendor_id(cpuid, ctx, err);
    if (!rc)
        rc = norm_feature_info(cpuid, ctx, err);
    if (!rc)
        rc = norm_ext_topology(cpuid, max_entries, ctx, cpu_bits, cpus_per_core,
                               err);
    if (!rc)
        rc = norm_ext_cache(cpuid, ctx, err);
    if (!rc)
        rc = v == VENDOR_INTEL
                 ? norm_intel(cpuid, max_entries, ctx, cpus_per_core, err)
                 : norm_amd(cpuid, max_entries, ctx, cpus_per_core, err);
    if (rc == -ENOSPC)
        sq_errf(err, rc,
                VMM_ERR_SYS_CONFIG
                "Error configuring the "
                "vcpu for boot: Failed to convert `Cpuid` to "
                "`kvm_bindings::CpuId`: The max size has been exceeded");
    sort_entries(cpuid);
    return rc;
}

int cpuid_normalize(struct kvm_cpuid2 *cpuid, uint32_t max_entries,
                    const struct cpuid_ctx *ctx)
{
    return cpuid_normalize_err(cpuid, max_entries, ctx, NULL);
}

/* ---- templates ----------------------------------------------------------- */

const char *cpu_static_template_name(enum cpu_static_template t)
{
    const struct cpu_static_def *d = cpu_static_def(t);

    return d ? d->name : "None";
}

int cpu_static_template_get(enum cpu_static_template t,
                            const struct kvm_cpuid2 *cpuid,
                            struct cpu_template *out, struct sq_err *err)
{
    const char *pre = "Failed to get CPU template: ";
    const struct cpu_static_def *d = cpu_static_def(t);
    const struct kvm_cpuid_entry2 *e0, *e1;
    struct cpu_model m;
    char vendor[12];
    int model_ok = 0;

    memset(out, 0, sizeof(*out));
    if (!d)
        return sq_errf(err, -EINVAL, "%sInvalid static CPU template: None",
                       pre);
    e0 = find_const(cpuid, 0, 0);
    e1 = find_const(cpuid, 1, 0);
    if (!e0)
        return sq_errf(err, -EINVAL,
                       "%sFailed to get CPU vendor information: "
                       "Invalid subleaf: 0",
                       pre);
    memcpy(vendor, &e0->ebx, 4);
    memcpy(vendor + 4, &e0->edx, 4);
    memcpy(vendor + 8, &e0->ecx, 4);
    if (memcmp(vendor, d->vendor, 12))
        return sq_errf(err, -EINVAL,
                       "%sCPU vendor mismatched between actual "
                       "CPU and CPU template.",
                       pre);
    if (e1) {
        m = cpu_model_from_eax(e1->eax);
        for (size_t i = 0; i < d->n_models; i++)
            if (!memcmp(&m, &d->models[i], sizeof(m)))
                model_ok = 1;
    }
    if (!model_ok)
        return sq_errf(err, -EINVAL,
                       "%sThe current CPU model is not permitted "
                       "to apply the CPU template.",
                       pre);
    if (t == CPU_TEMPLATE_C3 && e1 &&
        !memcmp(&m, &d->models[0], sizeof(m))) /* Skylake */
        log_warn("On processors that do not enumerate FBSDP_NO, PSDP_NO and "
                 "SBDR_SSDP_NO on IA32_ARCH_CAPABILITIES MSR, the guest kernel "
                 "does not apply the mitigation against MMIO stale data "
                 "vulnerability.");

    out->n_cpuid = d->n_cpuid;
    out->cpuid = xcalloc(d->n_cpuid, sizeof(*out->cpuid));
    for (size_t i = 0; i < d->n_cpuid; i++) {
        const struct cpu_static_leaf *s = &d->cpuid[i];
        struct cpuid_leaf_modifier *l = &out->cpuid[i];
        l->leaf = s->leaf;
        l->subleaf = s->subleaf;
        l->flags = s->flags;
        l->n_modifiers = s->n_modifiers;
        l->modifiers = xcalloc(s->n_modifiers, sizeof(*l->modifiers));
        memcpy(l->modifiers, s->modifiers,
               s->n_modifiers * sizeof(*l->modifiers));
    }
    if (d->n_msr) {
        out->n_msr = d->n_msr;
        out->msr = xcalloc(d->n_msr, sizeof(*out->msr));
        memcpy(out->msr, d->msr, d->n_msr * sizeof(*out->msr));
    }
    return 0;
}

int cpuid_apply_static(struct kvm_cpuid2 *cpuid, uint32_t max_entries,
                       enum cpu_static_template t, struct sq_err *err)
{
    struct cpu_template tmpl;
    int rc;

    if (t == CPU_TEMPLATE_NONE)
        return 0;
    rc = cpu_static_template_get(t, cpuid, &tmpl, err);
    if (rc)
        return rc;
    rc = cpuid_apply_custom(cpuid, max_entries, &tmpl, err);
    cpu_template_fini(&tmpl);
    return rc;
}

static uint32_t *reg_of(struct kvm_cpuid_entry2 *e, enum cpuid_reg r)
{
    switch (r) {
    case CPUID_EAX:
        return &e->eax;
    case CPUID_EBX:
        return &e->ebx;
    case CPUID_ECX:
        return &e->ecx;
    case CPUID_EDX:
        return &e->edx;
    }
    return NULL;
}

int cpuid_apply_custom(struct kvm_cpuid2 *cpuid, uint32_t max_entries,
                       const struct cpu_template *t, struct sq_err *err)
{
    enum vendor v;
    int rc;

    if (!cpuid || cpuid->nent > max_entries)
        return sq_errf(err, -EINVAL, ERR_GUEST_CONFIG "invalid CPUID table");
    /* Firecracker checks the vendor before applying anything. */
    rc = table_vendor(cpuid, &v, err);
    if (rc || !t)
        return rc;
    for (size_t i = 0; i < t->n_cpuid; i++) {
        const struct cpuid_leaf_modifier *m = &t->cpuid[i];
        struct kvm_cpuid_entry2 *e = cpuid_find(cpuid, m->leaf, m->subleaf);
        if (!e)
            return sq_errf(err, -EINVAL,
                           ERR_GUEST_CONFIG
                           "Template changes a "
                           "CPUID entry not supported by KVM: Leaf: %x, "
                           "Subleaf: %x",
                           m->leaf, m->subleaf);
        e->flags = m->flags;
        for (size_t j = 0; j < m->n_modifiers; j++) {
            uint32_t *r = reg_of(e, m->modifiers[j].reg);
            if (!r)
                return sq_errf(err, -EINVAL,
                               ERR_GUEST_CONFIG
                               "invalid CPUID register in template");
            *r = (*r & ~m->modifiers[j].mask) | m->modifiers[j].value;
        }
    }
    return 0;
}

size_t cpu_template_msr_indices(const struct cpu_template *t, uint32_t *out,
                                size_t max)
{
    if (!t)
        return 0;
    for (size_t i = 0; i < t->n_msr && i < max; i++)
        out[i] = t->msr[i].addr;
    return t->n_msr;
}

int cpu_template_apply_msrs(const struct cpu_template *t,
                            struct kvm_msr_entry *entries, size_t n,
                            struct sq_err *err)
{
    if (!t)
        return 0;
    for (size_t i = 0; i < t->n_msr; i++) {
        const struct msr_modifier *m = &t->msr[i];
        struct kvm_msr_entry *e = NULL;
        for (size_t j = 0; j < n; j++)
            if (entries[j].index == m->addr)
                e = &entries[j];
        if (!e)
            return sq_errf(err, -EINVAL,
                           ERR_GUEST_CONFIG
                           "Template changes an "
                           "MSR entry not supported by KVM: Register Address: "
                           "%x",
                           m->addr);
        e->data = (e->data & ~m->mask) | m->value;
    }
    return 0;
}

static const uint32_t default_caps[] = {
    KVM_CAP_IRQCHIP,     KVM_CAP_IOEVENTFD,    KVM_CAP_IRQFD,
    KVM_CAP_USER_MEMORY, KVM_CAP_SET_TSS_ADDR, KVM_CAP_PIT2,
    KVM_CAP_PIT_STATE2,  KVM_CAP_ADJUST_CLOCK, KVM_CAP_DEBUGREGS,
    KVM_CAP_MP_STATE,    KVM_CAP_VCPU_EVENTS,  KVM_CAP_XCRS,
    KVM_CAP_XSAVE,       KVM_CAP_EXT_CPUID,
};

int cpu_template_kvm_caps(const struct cpu_template *t, uint32_t *out,
                          size_t max, size_t *n_out)
{
    size_t n = sizeof(default_caps) / sizeof(default_caps[0]);

    *n_out = 0;
    if (max < n)
        return -ENOSPC;
    memcpy(out, default_caps, sizeof(default_caps));
    for (size_t i = 0; t && i < t->n_kvm_caps; i++) {
        uint32_t cap = t->kvm_caps[i].cap;
        size_t pos = n;
        for (size_t j = 0; j < n; j++)
            if (out[j] == cap) {
                pos = j;
                break;
            }
        if (t->kvm_caps[i].remove) {
            if (pos < n)
                out[pos] = out[--n]; /* swap_remove */
        } else if (pos == n) {
            if (n >= max)
                return -ENOSPC;
            out[n++] = cap;
        }
    }
    *n_out = n;
    return 0;
}

static int feature_set(const struct kvm_cpuid2 *cpuid, uint32_t leaf,
                       uint32_t index, enum cpuid_reg r, unsigned bit)
{
    const struct kvm_cpuid_entry2 *e = find_const(cpuid, leaf, index);
    uint32_t v;

    if (!e)
        return 0;
    v = r == CPUID_EAX   ? e->eax
        : r == CPUID_EBX ? e->ebx
        : r == CPUID_ECX ? e->ecx
                         : e->edx;
    return v >> bit & 1;
}

size_t cpuid_msrs_to_save(const struct kvm_cpuid2 *cpuid, uint32_t *out,
                          size_t max)
{
    static const uint32_t mtrr_other[] = {
        0x250, /* MTRRfix64K_00000 */
        0x258, /* MTRRfix16K_80000 */
        0x259, /* MTRRfix16K_A0000 */
        0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f, /* fix4K */
        0x277, /* IA32_CR_PAT */
        0x2ff, /* MTRRdefType */
    };
    const struct kvm_cpuid2 *c = cpuid;
    size_t n = 0;

#define PUSH(v)                                                                \
    do {                                                                       \
        if (n < max)                                                           \
            out[n] = (v);                                                      \
        n++;                                                                   \
    } while (0)
    if (feature_set(c, 7, 0, CPUID_EBX, 14))     /* MPX */
        PUSH(0xd90);                             /* IA32_BNDCFGS */
    if (feature_set(c, 1, 0, CPUID_EDX, 12)) {   /* MTRR */
        for (uint32_t m = 0x200; m < 0x210; m++) /* PHYSBASE/PHYSMASK */
            PUSH(m);
        for (size_t i = 0; i < sizeof(mtrr_other) / sizeof(mtrr_other[0]); i++)
            PUSH(mtrr_other[i]);
    }
    if (feature_set(c, 1, 0, CPUID_EDX, 7)) /* MCE: 32 banks */
        for (uint32_t m = 0x400; m < 0x480; m++)
            PUSH(m);
#undef PUSH
    return n;
}
