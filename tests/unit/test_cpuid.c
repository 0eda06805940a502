/*
 * test_cpuid.c: CPUID normalisation and CPU templates.
 *
 * The synthetic tables are KVM_GET_SUPPORTED_CPUID outputs written down by
 * hand: the Intel one from a Cascade Lake host (Xeon Platinum 8275CL, with
 * a few bits flipped so every rule visibly changes something), the AMD one
 * from an EPYC (Zen 4) host. A fake host CPUID stands in for the
 * instruction so that the passthrough rules (vendor, 0x80000005/6, brand
 * frequency, AMD cache topology) are checked against known values.
 * Expected values are worked out by hand from the rules in cpuid.c's
 * header comment, not computed by the code under test.
 *
 * The last test normalises the real KVM_GET_SUPPORTED_CPUID of this
 * machine, skipped (with the reason) when /dev/kvm is unusable.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/cpu_templates_static.h"
#include "vmm/cpuid.h"
#include "vmm/kvm.h"

#define F_IDX 1u /* KVM_CPUID_FLAG_SIGNIFCANT_INDEX */

struct ent {
    uint32_t fn, idx, flags, eax, ebx, ecx, edx;
};

/* Cascade Lake (family 6, model 0x55, stepping 7). */
static const struct ent intel_table[] = {
    {0x0, 0, 0, 0x00000016, 0x756e6547, 0x6c65746e, 0x49656e69},
    {0x1, 0, 0, 0x00050657, 0x00000800, 0x7efab203, 0x0f8bfbff},
    {0x4, 0, F_IDX, 0x7c004121, 0x01c0003f, 0x0000003f, 0x00000000},
    {0x4, 1, F_IDX, 0x7c004122, 0x01c0003f, 0x0000003f, 0x00000000},
    {0x4, 2, F_IDX, 0x7c004143, 0x03c0003f, 0x000003ff, 0x00000000},
    {0x4, 3, F_IDX, 0x7c0fc163, 0x0280003f, 0x0000dfff, 0x00000004},
    {0x4, 4, F_IDX, 0x00000000, 0x00000000, 0x00000000, 0x00000000},
    {0x6, 0, 0, 0x00000077, 0x00000002, 0x00000009, 0x00000000},
    {0x7, 0, F_IDX, 0x00000000, 0xd19f4fbb, 0x0000082c, 0xbc000400},
    {0xa, 0, 0, 0x07300402, 0x00000000, 0x00000000, 0x00000603},
    {0xb, 0, F_IDX, 0x00000001, 0x00000002, 0x00000100, 0x00000000},
    {0xd, 0, F_IDX, 0x000002ff, 0x00000a80, 0x00000a88, 0x00000000},
    {0xd, 1, F_IDX, 0x0000000f, 0x00000000, 0x00000000, 0x00000000},
    {0x1f, 0, F_IDX, 0x11111111, 0x22222222, 0x33333333, 0x44444444},
    {0x80000000, 0, 0, 0x80000008, 0x00000000, 0x00000000, 0x00000000},
    {0x80000001, 0, 0, 0x00000000, 0x00000000, 0x00000121, 0x2c100800},
    {0x80000002, 0, 0, 0x65746e49, 0x2952286c, 0x6f655820, 0x2952286e},
    {0x80000003, 0, 0, 0x616c5020, 0x756e6974, 0x3238206d, 0x4c433537},
    {0x80000004, 0, 0, 0x55504320, 0x33204020, 0x4730302e, 0x00007a48},
    {0x80000005, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000},
    {0x80000006, 0, 0, 0x00000000, 0x00000000, 0x01006040, 0x00000000},
    {0x80000008, 0, 0, 0x0000302e, 0x00000000, 0x00000000, 0x00000000},
};

/* AMD EPYC (family 0x19, model 0x11). */
static const struct ent amd_table[] = {
    {0x0, 0, 0, 0x0000001c, 0x68747541, 0x444d4163, 0x69746e65},
    {0x1, 0, 0, 0x00a10f11, 0x01020800, 0x81202000, 0x078bfbff},
    {0x6, 0, 0, 0x00000004, 0x00000000, 0x00000000, 0x00000000},
    {0x7, 0, F_IDX, 0x00000001, 0x01800002, 0x00000104, 0x20000000},
    {0xa, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000},
    {0xb, 0, F_IDX, 0x00000000, 0x00000000, 0x00000000, 0x00000001},
    {0xd, 0, F_IDX, 0x000000e7, 0x00000980, 0x00000980, 0x00000000},
    {0xd, 1, F_IDX, 0x00000000, 0x00000000, 0x00000000, 0x00000000},
    {0x80000000, 0, 0, 0x80000021, 0x68747541, 0x444d4163, 0x69746e65},
    {0x80000001, 0, 0, 0x00a10f11, 0x40000000, 0x00000393, 0x23d3fbff},
    {0x80000002, 0, 0, 0x20444d41, 0x43595045, 0x52372020, 0x50203331},
    {0x80000003, 0, 0, 0x65636f72, 0x726f7373, 0x00000000, 0x00000000},
    {0x80000004, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000},
    {0x80000005, 0, 0, 0xff48ff40, 0xff48ff40, 0x20080140, 0x20080140},
    {0x80000006, 0, 0, 0x5c002200, 0x6c004200, 0x04006140, 0x0a009140},
    {0x80000008, 0, 0, 0x00003030, 0x50020005, 0x00007001, 0x00000000},
    {0x8000001d, 0, F_IDX, 0x00000121, 0x01c0003f, 0x0000003f, 0x00000000},
    {0x8000001d, 1, F_IDX, 0x00000122, 0x01c0003f, 0x0000003f, 0x00000000},
    {0x8000001d, 2, F_IDX, 0x00000143, 0x01c0003f, 0x000007ff, 0x00000002},
    {0x8000001d, 3, F_IDX, 0x00004163, 0x03c0003f, 0x00007fff, 0x00000001},
    {0x8000001d, 4, F_IDX, 0x00000000, 0x00000000, 0x00000000, 0x00000000},
    {0x8000001e, 0, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- fake host ----------------------------------------------------------- */

struct fake_host {
    const char *vendor; /* 12 chars */
    const char *brand;  /* up to 48 chars */
    struct cpuid_regs l80000005, l80000006, l8000001e;
    const struct cpuid_regs *l8000001d; /* terminated by eax & 0xf == 0 */
    size_t n_8000001d;
    unsigned calls;
};

static void fake_cpuid(void *opaque, uint32_t leaf, uint32_t subleaf,
                       struct cpuid_regs *out)
{
    struct fake_host *h = opaque;
    char brand[48] = {0};

    h->calls++;
    memset(out, 0, sizeof(*out));
    switch (leaf) {
    case 0:
        out->eax = 0x16;
        memcpy(&out->ebx, h->vendor, 4);
        memcpy(&out->edx, h->vendor + 4, 4);
        memcpy(&out->ecx, h->vendor + 8, 4);
        break;
    case 0x80000002:
    case 0x80000003:
    case 0x80000004:
        memcpy(brand, h->brand, strnlen(h->brand, sizeof(brand)));
        memcpy(out, brand + 16 * (leaf - 0x80000002), 16);
        break;
    case 0x80000005:
        *out = h->l80000005;
        break;
    case 0x80000006:
        *out = h->l80000006;
        break;
    case 0x8000001d:
        if (subleaf < h->n_8000001d)
            *out = h->l8000001d[subleaf];
        break;
    case 0x8000001e:
        *out = h->l8000001e;
        break;
    default:
        break;
    }
}

static struct fake_host intel_host(void)
{
    struct fake_host h = {
        .vendor = "GenuineIntel",
        .brand = "Intel(R) Xeon(R) Platinum 8275CL CPU @ 3.00GHz",
        .l80000005 = {0x01020304, 0x05060708, 0x090a0b0c, 0x0d0e0f10},
        .l80000006 = {0x00000000, 0x00000000, 0x01006040, 0x00038040},
    };
    return h;
}

static const struct cpuid_regs amd_host_1d[] = {
    {0x00000121, 0x01c0003f, 0x0000003f, 0x00000000},
    {0x00000122, 0x01c0003f, 0x0000003f, 0x00000000},
    {0x00000143, 0x01c0003f, 0x000007ff, 0x00000002},
    {0x00004163, 0x03c0003f, 0x00007fff, 0x00000001},
    {0x00000000, 0x00000000, 0x00000000, 0x00000000},
};

static struct fake_host amd_host(void)
{
    struct fake_host h = {
        .vendor = "AuthenticAMD",
        .brand = "AMD EPYC 7R13 Processor",
        .l80000005 = {0xff40ff18, 0xff40ff30, 0x20080140, 0x20080140},
        .l80000006 = {0x48002200, 0x68004200, 0x02006140, 0x01039140},
        .l8000001e = {0x0000000e, 0x0000010a, 0x00000103, 0x00000000},
        .l8000001d = amd_host_1d,
        .n_8000001d = N(amd_host_1d),
    };
    return h;
}

/* ---- table helpers ------------------------------------------------------- */

static struct kvm_cpuid2 *table_new(const struct ent *src, size_t n,
                                    uint32_t cap)
{
    struct kvm_cpuid2 *c =
        calloc(1, sizeof(*c) + cap * sizeof(struct kvm_cpuid_entry2));

    assert_non_null(c);
    assert_true(n <= cap);
    c->nent = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];
        e->function = src[i].fn;
        e->index = src[i].idx;
        e->flags = src[i].flags;
        e->eax = src[i].eax;
        e->ebx = src[i].ebx;
        e->ecx = src[i].ecx;
        e->edx = src[i].edx;
    }
    return c;
}

static struct kvm_cpuid_entry2 *get(struct kvm_cpuid2 *c, uint32_t fn,
                                    uint32_t idx)
{
    struct kvm_cpuid_entry2 *e = cpuid_find(c, fn, idx);

    if (!e)
        fail_msg("leaf 0x%x.%u missing", fn, idx);
    return e;
}

static void expect(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx,
                   uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx)
{
    struct kvm_cpuid_entry2 *e = get(c, fn, idx);

    if (e->eax != eax || e->ebx != ebx || e->ecx != ecx || e->edx != edx)
        fail_msg("leaf 0x%x.%u: got %08x %08x %08x %08x, want %08x %08x "
                 "%08x %08x",
                 fn, idx, e->eax, e->ebx, e->ecx, e->edx, eax, ebx, ecx, edx);
}

static void expect_sorted(struct kvm_cpuid2 *c)
{
    for (uint32_t i = 1; i < c->nent; i++) {
        const struct kvm_cpuid_entry2 *a = &c->entries[i - 1];
        const struct kvm_cpuid_entry2 *b = &c->entries[i];
        assert_true(a->function < b->function ||
                    (a->function == b->function && a->index < b->index));
    }
}

static void expect_brand(struct kvm_cpuid2 *c, const char *want)
{
    uint8_t got[48], exp[48] = {0};

    for (uint32_t i = 0; i < 3; i++) {
        struct kvm_cpuid_entry2 *e = get(c, 0x80000002 + i, 0);
        memcpy(got + 16 * i, &e->eax, 4);
        memcpy(got + 16 * i + 4, &e->ebx, 4);
        memcpy(got + 16 * i + 8, &e->ecx, 4);
        memcpy(got + 16 * i + 12, &e->edx, 4);
    }
    memcpy(exp, want, strlen(want));
    assert_memory_equal(got, exp, 48);
}

static int normalize(struct kvm_cpuid2 *c, uint32_t cap, struct fake_host *h,
                     uint32_t index, uint32_t count, bool smt,
                     struct sq_err *err)
{
    struct cpuid_ctx ctx = {.vcpu_index = index,
                            .vcpu_count = count,
                            .smt = smt,
                            .host = fake_cpuid,
                            .host_opaque = h};

    sq_err_clear(err);
    return cpuid_normalize_err(c, cap, &ctx, err);
}

/* ---- Intel --------------------------------------------------------------- */

/* vCPU 3 of 4 with SMT: 2 threads per core, 2 cores. */
static void test_intel_smt(void **state)
{
    struct fake_host h = intel_host();
    struct kvm_cpuid2 *c = table_new(intel_table, N(intel_table), 80);
    struct sq_err err;

    (void)state;
    assert_int_equal(normalize(c, 80, &h, 3, 4, true, &err), 0);
    expect_sorted(c);

    expect(c, 0x0, 0, 0x16, 0x756e6547, 0x6c65746e, 0x49656e69);
    /* EBX: CLFLUSH 8, 4 logical ids, APIC id 3. ECX: PDCM off, TSC-deadline
     * and hypervisor on. EDX: HTT on. */
    expect(c, 0x1, 0, 0x00050657, 0x03040800, 0xfffa3203, 0x1f8bfbff);
    /* L1d, L1i, L2: 2 threads per cache; L3: 4; 2 cores per package. */
    expect(c, 0x4, 0, 0x04004121, 0x01c0003f, 0x0000003f, 0x00000000);
    expect(c, 0x4, 1, 0x04004122, 0x01c0003f, 0x0000003f, 0x00000000);
    expect(c, 0x4, 2, 0x04004143, 0x03c0003f, 0x000003ff, 0x00000000);
    expect(c, 0x4, 3, 0x0400c163, 0x0280003f, 0x0000dfff, 0x00000004);
    expect(c, 0x4, 4, 0, 0, 0, 0);
    /* Turbo and EPB off. */
    expect(c, 0x6, 0, 0x00000075, 0x00000002, 0x00000001, 0x00000000);
    /* FDP_EXCPTN_ONLY and FCS/FDS deprecation on, WAITPKG off; EDX kept. */
    expect(c, 0x7, 0, 0x00000000, 0xd19f6ffb, 0x0000080c, 0xbc000400);
    expect(c, 0xa, 0, 0, 0, 0, 0);
    /* SMT level: shift 1, 2 threads; core level: shift 5, 4 threads. */
    expect(c, 0xb, 0, 0x00000001, 0x00000002, 0x00000100, 3);
    expect(c, 0xb, 1, 0x00000005, 0x00000004, 0x00000201, 3);
    assert_int_equal(get(c, 0xb, 1)->flags, F_IDX);
    /* 0x1F mirrors 0xB, subleaf 1 added. */
    expect(c, 0x1f, 0, 0x00000001, 0x00000002, 0x00000100, 3);
    expect(c, 0x1f, 1, 0x00000005, 0x00000004, 0x00000201, 3);
    assert_int_equal(get(c, 0x1f, 1)->flags, F_IDX);
    /* Host cache leaves, 0x80000006 EDX[17:16] cleared. */
    expect(c, 0x80000005, 0, 0x01020304, 0x05060708, 0x090a0b0c, 0x0d0e0f10);
    expect(c, 0x80000006, 0, 0x00000000, 0x00000000, 0x01006040, 0x00008040);
    expect_brand(c, "Intel(R) Xeon(R) Processor @ 3.00GHz");
    /* Untouched leaves. */
    expect(c, 0xd, 0, 0x000002ff, 0x00000a80, 0x00000a88, 0x00000000);
    expect(c, 0x80000001, 0, 0x00000000, 0x00000000, 0x00000121, 0x2c100800);
    expect(c, 0x80000008, 0, 0x0000302e, 0, 0, 0);
    assert_int_equal(c->nent, N(intel_table) + 2);
    free(c);
}

/* vCPU 0 of 1: no SMT bits, single core, HTT off. */
static void test_intel_single(void **state)
{
    struct fake_host h = intel_host();
    struct kvm_cpuid2 *c = table_new(intel_table, N(intel_table), 80);
    struct sq_err err;

    (void)state;
    assert_int_equal(normalize(c, 80, &h, 0, 1, true, &err), 0);
    expect(c, 0x1, 0, 0x00050657, 0x00010800, 0xfffa3203, 0x0f8bfbff);
    expect(c, 0x4, 0, 0x00000121, 0x01c0003f, 0x0000003f, 0x00000000);
    expect(c, 0x4, 3, 0x00000163, 0x0280003f, 0x0000dfff, 0x00000004);
    expect(c, 0xb, 0, 0x00000000, 0x00000001, 0x00000100, 0);
    expect(c, 0xb, 1, 0x00000005, 0x00000001, 0x00000201, 0);
    free(c);
}

/* 32 vCPUs without SMT, vCPU 17: one thread per core, 32 cores. */
static void test_intel_32_nosmt(void **state)
{
    struct fake_host h = intel_host();
    struct kvm_cpuid2 *c = table_new(intel_table, N(intel_table), 80);
    struct sq_err err;

    (void)state;
    assert_int_equal(normalize(c, 80, &h, 17, 32, false, &err), 0);
    expect(c, 0x1, 0, 0x00050657, 0x11200800, 0xfffa3203, 0x1f8bfbff);
    expect(c, 0x4, 1, 0x7c000122, 0x01c0003f, 0x0000003f, 0x00000000);
    expect(c, 0x4, 3, 0x7c07c163, 0x0280003f, 0x0000dfff, 0x00000004);
    expect(c, 0xb, 0, 0x00000000, 0x00000001, 0x00000100, 17);
    expect(c, 0xb, 1, 0x00000005, 0x00000020, 0x00000201, 17);
    /* 5 vCPUs rounds up to 8 logical ids. */
    free(c);
    c = table_new(intel_table, N(intel_table), 80);
    assert_int_equal(normalize(c, 80, &h, 4, 5, false, &err), 0);
    expect(c, 0x1, 0, 0x00050657, 0x04080800, 0xfffa3203, 0x1f8bfbff);
    free(c);
}

static void test_intel_brand_strings(void **state)
{
    static const struct {
        const char *host, *want;
    } cases[] = {
        {"Intel(R) Xeon(R) Platinum 8275CL CPU @ 3.00GHz",
         "Intel(R) Xeon(R) Processor @ 3.00GHz"},
        {"Intel(R) Xeon(R) Gold 6132 CPU @ 2.60GHz  ",
         "Intel(R) Xeon(R) Processor @ 2.60GHz  "},
        {"Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz",
         "Intel(R) Xeon(R) Processor @ 2.30GHz"},
        /* The space before the number at index 28: exactly 48 bytes. */
        {"AAAAAAAAAAAAAAAAAAAAAAAAAAAA 1.5MHz",
         "Intel(R) Xeon(R) Processor @ 1.5MHz"},
        {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA 4THz",
         "Intel(R) Xeon(R) Processor @ 4THz"},
    };
    static const char *bad[] = {
        "Intel(R) Xeon(R) Platinum 8275CL CPU", /* no frequency */
        "Intel(R) Core(TM) i7 @3.00GHz",        /* no space before it */
        "abc x3.0GHz",
        /* Upstream keeps everything from the unit to byte 48, NULs
         * included, so a short host string does not fit. */
        "Some CPU 800MHz",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAA 1.5MHz",
    };
    uint8_t host[48], out[48], want[48];

    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        memset(host, 0, sizeof(host));
        memcpy(host, cases[i].host, strlen(cases[i].host));
        memset(want, 0, sizeof(want));
        memcpy(want, cases[i].want, strlen(cases[i].want));
        assert_int_equal(cpuid_intel_brand_string(host, out), 0);
        assert_memory_equal(out, want, 48);
    }
    for (size_t i = 0; i < N(bad); i++) {
        memset(host, 0, sizeof(host));
        memcpy(host, bad[i], strlen(bad[i]));
        assert_int_equal(cpuid_intel_brand_string(host, out), -EINVAL);
    }
    /* A unit at the very start leaves no room for the number. */
    memset(host, 0, sizeof(host));
    memcpy(host, "GHz", 3);
    assert_int_equal(cpuid_intel_brand_string(host, out), -EINVAL);
    /* Too long to fit: "@ " + 17 digits + 18 trailing characters. */
    memset(host, 'x', sizeof(host));
    memcpy(host + 10, " 12345678901234567GHz", 21);
    assert_int_equal(cpuid_intel_brand_string(host, out), -EINVAL);

    /* Without a frequency, normalisation falls back to the plain name. */
    {
        struct fake_host h = intel_host();
        struct kvm_cpuid2 *c = table_new(intel_table, N(intel_table), 80);
        struct sq_err err;
        h.brand = "Intel(R) Xeon(R) CPU";
        assert_int_equal(normalize(c, 80, &h, 0, 1, false, &err), 0);
        expect_brand(c, "Intel(R) Xeon(R) Processor");
        free(c);
    }
}

/* ---- AMD ----------------------------------------------------------------- */

static void test_amd_smt(void **state)
{
    struct fake_host h = amd_host();
    struct kvm_cpuid2 *c = table_new(amd_table, N(amd_table), 80);
    struct sq_err err;

    (void)state;
    assert_int_equal(normalize(c, 80, &h, 3, 4, true, &err), 0);
    expect_sorted(c);
    expect(c, 0x1, 0, 0x00a10f11, 0x03040800, 0x81202000, 0x178bfbff);
    /* Intel-only rules do not run. */
    expect(c, 0x6, 0, 0x00000004, 0, 0, 0);
    /* ARCH_CAPABILITIES off. */
    expect(c, 0x7, 0, 0x00000001, 0x01800002, 0x00000104, 0x00000000);
    expect(c, 0xb, 0, 0x00000001, 0x00000002, 0x00000100, 3);
    expect(c, 0xb, 1, 0x00000005, 0x00000004, 0x00000201, 3);
    /* TOPOEXT on. */
    expect(c, 0x80000001, 0, 0x00a10f11, 0x40000000, 0x00400393, 0x23d3fbff);
    expect(c, 0x80000005, 0, 0xff40ff18, 0xff40ff30, 0x20080140, 0x20080140);
    expect(c, 0x80000006, 0, 0x48002200, 0x68004200, 0x02006140, 0x01009140);
    /* APIC id size 7, 4 threads. */
    expect(c, 0x80000008, 0, 0x00003030, 0x50020005, 0x00007003, 0x00000000);
    /* Host cache topology, sharing rewritten: L1/L2 2 threads, L3 4. */
    expect(c, 0x8000001d, 0, 0x00004121, 0x01c0003f, 0x0000003f, 0x00000000);
    expect(c, 0x8000001d, 1, 0x00004122, 0x01c0003f, 0x0000003f, 0x00000000);
    expect(c, 0x8000001d, 2, 0x00004143, 0x01c0003f, 0x000007ff, 0x00000002);
    expect(c, 0x8000001d, 3, 0x0000c163, 0x03c0003f, 0x00007fff, 0x00000001);
    expect(c, 0x8000001d, 4, 0, 0, 0, 0);
    /* Extended APIC id 3, core 1, 2 threads per core, node 0. */
    expect(c, 0x8000001e, 0, 0x00000003, 0x00000101, 0x00000000, 0x00000000);
    assert_int_equal(get(c, 0x8000001e, 0)->flags, 0);
    expect_brand(c, "AMD EPYC");
    assert_null(cpuid_find(c, 0x1f, 0));
    assert_int_equal(c->nent, N(amd_table) + 1);
    free(c);
}

static void test_amd_adds_host_leaves(void **state)
{
    struct fake_host h = amd_host();
    /* Without 0x8000001D/E in the table: the host's are added. */
    struct kvm_cpuid2 *c = table_new(amd_table, N(amd_table) - 6, 80);
    struct sq_err err;

    (void)state;
    assert_null(cpuid_find(c, 0x8000001e, 0));
    assert_int_equal(normalize(c, 80, &h, 0, 1, false, &err), 0);
    expect(c, 0x8000001d, 0, 0x00000121, 0x01c0003f, 0x0000003f, 0x00000000);
    expect(c, 0x8000001d, 3, 0x00000163, 0x03c0003f, 0x00007fff, 0x00000001);
    assert_null(cpuid_find(c, 0x8000001d, 4));
    assert_int_equal(get(c, 0x8000001d, 2)->flags, F_IDX);
    expect(c, 0x8000001e, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000);
    expect(c, 0x80000008, 0, 0x00003030, 0x50020005, 0x00007000, 0x00000000);
    expect_sorted(c);
    free(c);
}

static void test_errors(void **state)
{
    struct fake_host h = amd_host();
    struct kvm_cpuid2 *c;
    struct sq_err err;

    (void)state;
    /* An AMD table on a host that is not AMD. */
    h.vendor = "GenuineIntel";
    c = table_new(amd_table, N(amd_table), 80);
    assert_int_equal(normalize(c, 80, &h, 0, 1, false, &err), -EINVAL);
    assert_string_equal(err.msg,
                        "System configuration error: Error configuring the "
                        "vcpu for boot: Failed to apply modifications to "
                        "CPUID: Failed to apply modifications to AMD CPUID: "
                        "Failed to passthrough cache topology: The host "
                        "vendor id does not match AMD.");
    free(c);

    /* Missing leaf 1. */
    h = intel_host();
    c = table_new(intel_table, N(intel_table), 80);
    get(c, 1, 0)->function = 0x55;
    assert_int_equal(normalize(c, 80, &h, 0, 1, false, &err), -EINVAL);
    assert_string_equal(err.msg,
                        "System configuration error: Error configuring the "
                        "vcpu for boot: Failed to apply modifications to "
                        "CPUID: Failed to set feature information leaf: Leaf "
                        "0x1 is missing from CPUID.");
    free(c);

    /* Missing leaf 0xA on Intel. */
    c = table_new(intel_table, N(intel_table), 80);
    get(c, 0xa, 0)->function = 0x55;
    assert_int_equal(normalize(c, 80, &h, 0, 1, false, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "Failed to apply modifications to Intel "
                                    "CPUID: Leaf 0xA is missing from CPUID."));
    free(c);

    /* Missing brand leaves. */
    c = table_new(intel_table, N(intel_table), 80);
    get(c, 0x80000003, 0)->function = 0x55;
    assert_int_equal(normalize(c, 80, &h, 0, 1, false, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "Failed to set brand string: Missing brand "
                                    "string leaves 0x80000002, 0x80000003 and "
                                    "0x80000004."));
    free(c);

    /* Unknown vendor in the table. */
    c = table_new(intel_table, N(intel_table), 80);
    memcpy(&get(c, 0, 0)->ebx, "Hygo", 4);
    assert_int_equal(normalize(c, 80, &h, 0, 1, false, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "Unsupported CPUID manufacturer id"));
    free(c);

    /* No room for leaf 0xB subleaf 1. */
    c = table_new(intel_table, N(intel_table), N(intel_table));
    assert_int_equal(normalize(c, N(intel_table), &h, 0, 1, false, &err),
                     -ENOSPC);
    assert_int_equal(c->nent, N(intel_table));
    free(c);

    /* Bad vCPU counts and indices. */
    c = table_new(intel_table, N(intel_table), 80);
    assert_int_equal(normalize(c, 80, &h, 0, 0, false, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "`cpu_count == 0`"));
    free(c);
    c = table_new(intel_table, N(intel_table), 80);
    assert_int_equal(normalize(c, 80, &h, 0, 129, false, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "`cpu_count > 128`"));
    free(c);
    c = table_new(intel_table, N(intel_table), 80);
    assert_int_equal(normalize(c, 80, &h, 300, 2, false, &err), -EINVAL);
    free(c);
    c = table_new(intel_table, N(intel_table), 80);
    assert_int_equal(normalize(c, 10, &h, 0, 2, false, &err), -EINVAL);
    free(c);
}

/* The vendor is passed through from the host, whatever the table says. */
static void test_vendor_passthrough(void **state)
{
    struct fake_host h = intel_host();
    struct kvm_cpuid2 *c = table_new(intel_table, N(intel_table), 80);
    struct sq_err err;

    (void)state;
    h.vendor = "GenuineIotel";
    assert_int_equal(normalize(c, 80, &h, 0, 1, false, &err), 0);
    assert_memory_equal(&get(c, 0, 0)->ecx, "otel", 4);
    assert_int_equal(get(c, 0, 0)->eax, 0x16); /* max leaf kept */
    free(c);
}

/* ---- templates ----------------------------------------------------------- */

static void test_static_t2s(void **state)
{
    struct kvm_cpuid2 *c = table_new(intel_table, N(intel_table), 80);
    struct cpu_template t;
    struct kvm_msr_entry msrs[1] = {{.index = 0x10a, .data = ~0ull}};
    uint32_t idx[4];
    struct sq_err err;

    (void)state;
    assert_int_equal(cpuid_apply_static(c, 80, CPU_TEMPLATE_T2S, &err), 0);
    /* Family/model/stepping forced to 0x306f2. */
    assert_int_equal(get(c, 1, 0)->eax, 0x000306f2);
    /* ECX: the template's mask 0x0004cdfc cleared. */
    assert_int_equal(get(c, 1, 0)->ecx, 0x7efa3203);
    /* EDX: MCE and MTRR forced on, PSN/DS/ACPI/SS/TM/PBE... off. */
    assert_int_equal(get(c, 1, 0)->edx, 0x078bfbff);
    assert_int_equal(get(c, 7, 0)->ebx, 0x001007ab);
    assert_int_equal(get(c, 7, 0)->flags, 1);
    assert_int_equal(get(c, 0xd, 1)->eax, 0x00000001);
    free(c);

    c = table_new(intel_table, N(intel_table), 80);
    assert_int_equal(cpu_static_template_get(CPU_TEMPLATE_T2S, c, &t, &err), 0);
    assert_int_equal(cpu_template_msr_indices(&t, idx, 4), 1);
    assert_int_equal(idx[0], 0x10a);
    assert_int_equal(cpu_template_apply_msrs(&t, msrs, 1, &err), 0);
    assert_int_equal(msrs[0].data, 0x0c0a0c4cull);
    msrs[0].index = 0x10b;
    assert_int_equal(cpu_template_apply_msrs(&t, msrs, 1, &err), -EINVAL);
    assert_string_equal(err.msg,
                        "System configuration error: Failed to create guest "
                        "config: Template changes an MSR entry not supported "
                        "by KVM: Register Address: 10a");
    cpu_template_fini(&t);
    free(c);
}

static void test_static_checks(void **state)
{
    struct kvm_cpuid2 *intel = table_new(intel_table, N(intel_table), 80);
    struct kvm_cpuid2 *amd = table_new(amd_table, N(amd_table), 80);
    struct cpu_template t;
    struct sq_err err;

    (void)state;
    assert_int_equal(cpuid_apply_static(intel, 80, CPU_TEMPLATE_T2A, &err),
                     -EINVAL);
    assert_string_equal(err.msg, "Failed to get CPU template: CPU vendor "
                                 "mismatched between actual CPU and CPU "
                                 "template.");
    assert_int_equal(cpuid_apply_static(amd, 80, CPU_TEMPLATE_C3, &err),
                     -EINVAL);
    assert_string_equal(err.msg, "Failed to get CPU template: CPU vendor "
                                 "mismatched between actual CPU and CPU "
                                 "template.");
    /* Zen 4 is not Milan. */
    assert_int_equal(cpuid_apply_static(amd, 80, CPU_TEMPLATE_T2A, &err),
                     -EINVAL);
    assert_string_equal(err.msg, "Failed to get CPU template: The current CPU "
                                 "model is not permitted to apply the CPU "
                                 "template.");
    /* Cascade Lake may not use C3? It may; T2CL too; T2S too. Ice Lake
     * may not use T2S. */
    assert_int_equal(cpu_static_template_get(CPU_TEMPLATE_C3, intel, &t, &err),
                     0);
    cpu_template_fini(&t);
    assert_int_equal(
        cpu_static_template_get(CPU_TEMPLATE_T2CL, intel, &t, &err), 0);
    assert_int_equal(t.n_msr, 1);
    cpu_template_fini(&t);
    get(intel, 1, 0)->eax = 0x000606a6; /* Ice Lake */
    assert_int_equal(cpu_static_template_get(CPU_TEMPLATE_T2S, intel, &t, &err),
                     -EINVAL);
    assert_int_equal(cpu_static_template_get(CPU_TEMPLATE_T2, intel, &t, &err),
                     0);
    cpu_template_fini(&t);
    assert_int_equal(
        cpu_static_template_get(CPU_TEMPLATE_NONE, intel, &t, &err), -EINVAL);
    assert_string_equal(err.msg, "Failed to get CPU template: Invalid static "
                                 "CPU template: None");
    assert_int_equal(cpuid_apply_static(intel, 80, CPU_TEMPLATE_NONE, &err), 0);

    /* Milan may use T2A: 0x80000001 ECX/EDX and leaf 7 masked. */
    get(amd, 1, 0)->eax = 0x00a00f11;
    assert_int_equal(cpuid_apply_static(amd, 80, CPU_TEMPLATE_T2A, &err), 0);
    /* T2A presents the T2 family/model/stepping, as upstream's does. */
    assert_int_equal(get(amd, 1, 0)->eax, 0x000306f2);
    assert_int_equal(cpu_static_def(CPU_TEMPLATE_T2A)->n_cpuid, 6);
    assert_string_equal(cpu_static_template_name(CPU_TEMPLATE_T2CL), "T2CL");
    assert_string_equal(cpu_static_template_name(CPU_TEMPLATE_NONE), "None");
    free(intel);
    free(amd);
}

/* The static templates' data: each mask/value pair is well formed, the
 * vendors are right, and a few values are Firecracker's. */
static void test_static_data(void **state)
{
    static const struct {
        enum cpu_static_template t;
        const char *vendor;
        size_t n_cpuid, n_msr;
        uint32_t leaf1_eax; /* forced family/model/stepping */
    } want[] = {
        {CPU_TEMPLATE_C3, "GenuineIntel", 5, 0, 0x000306e4},
        {CPU_TEMPLATE_T2, "GenuineIntel", 6, 0, 0x000306f2},
        {CPU_TEMPLATE_T2S, "GenuineIntel", 6, 1, 0x000306f2},
        {CPU_TEMPLATE_T2CL, "GenuineIntel", 6, 1, 0x000306f2},
        {CPU_TEMPLATE_T2A, "AuthenticAMD", 6, 0, 0x000306f2},
    };

    (void)state;
    assert_null(cpu_static_def(CPU_TEMPLATE_NONE));
    for (size_t i = 0; i < N(want); i++) {
        const struct cpu_static_def *d = cpu_static_def(want[i].t);
        assert_non_null(d);
        assert_string_equal(d->vendor, want[i].vendor);
        assert_int_equal(d->n_cpuid, want[i].n_cpuid);
        assert_int_equal(d->n_msr, want[i].n_msr);
        assert_int_equal(d->cpuid[0].leaf, 1);
        assert_int_equal(d->cpuid[0].modifiers[0].reg, CPUID_EAX);
        assert_int_equal(d->cpuid[0].modifiers[0].mask, 0x0fff3fff);
        assert_int_equal(d->cpuid[0].modifiers[0].value, want[i].leaf1_eax);
        for (size_t j = 0; j < d->n_cpuid; j++)
            for (size_t k = 0; k < d->cpuid[j].n_modifiers; k++) {
                const struct cpuid_reg_modifier *m = &d->cpuid[j].modifiers[k];
                assert_int_equal(m->value & ~m->mask, 0);
            }
        for (size_t j = 0; j < d->n_msr; j++) {
            assert_int_equal(d->msr[j].addr, 0x10a);
            assert_int_equal(d->msr[j].value & ~d->msr[j].mask, 0);
        }
    }
    /* T2CL keeps the ARCH_CAPABILITIES bits outside its mask, clears the rest.
     */
    assert_int_equal(cpu_static_def(CPU_TEMPLATE_T2CL)->msr[0].mask,
                     0xffffffffe2f51e00ull);
    assert_int_equal(cpu_static_def(CPU_TEMPLATE_T2S)->msr[0].value,
                     0x0c0a0c4cull);
}

static void test_custom(void **state)
{
    struct cpuid_reg_modifier mods1[] = {
        {CPUID_EBX, 0x0000ff00, 0x00004200}, /* bits 15:8 = 0x42 */
        {CPUID_EBX, 0x00000001, 0x00000001}, /* then bit 0 */
        {CPUID_EDX, 0xffffffff, 0x12345678},
    };
    struct cpuid_leaf_modifier leaves[] = {
        {.leaf = 1,
         .subleaf = 0,
         .flags = 1,
         .n_modifiers = 3,
         .modifiers = mods1},
        {.leaf = 0x80000021, .subleaf = 5, .flags = 0, .n_modifiers = 0},
    };
    struct msr_modifier msr[] = {{0x3a, 0x1, 0x1}, {0x48, 0xff00, 0x1200}};
    struct cpu_template t = {
        .n_cpuid = 1, .cpuid = leaves, .n_msr = 2, .msr = msr};
    struct kvm_cpuid2 *c = table_new(intel_table, N(intel_table), 80);
    struct kvm_msr_entry e[2] = {{.index = 0x48, .data = 0xabcd},
                                 {.index = 0x3a, .data = 0x4}};
    uint32_t idx[1];
    struct sq_err err;

    (void)state;
    assert_int_equal(cpuid_apply_custom(c, 80, &t, &err), 0);
    assert_int_equal(get(c, 1, 0)->ebx, 0x00004201);
    assert_int_equal(get(c, 1, 0)->edx, 0x12345678);
    assert_int_equal(get(c, 1, 0)->flags, 1);
    /* A leaf KVM does not report is an error, not an insertion. */
    t.n_cpuid = 2;
    assert_int_equal(cpuid_apply_custom(c, 80, &t, &err), -EINVAL);
    assert_string_equal(err.msg,
                        "System configuration error: Failed to create guest "
                        "config: Template changes a CPUID entry not supported "
                        "by KVM: Leaf: 80000021, Subleaf: 5");
    assert_int_equal(c->nent, N(intel_table));
    /* Subleaf must match exactly. */
    leaves[1].leaf = 4;
    leaves[1].subleaf = 7;
    assert_int_equal(cpuid_apply_custom(c, 80, &t, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "Leaf: 4, Subleaf: 7"));
    leaves[1].subleaf = 3;
    assert_int_equal(cpuid_apply_custom(c, 80, &t, &err), 0);
    assert_int_equal(get(c, 4, 3)->flags, 0);

    /* MSRs: indices in template order, modifiers over KVM's values. */
    assert_int_equal(cpu_template_msr_indices(&t, idx, 1), 2);
    assert_int_equal(idx[0], 0x3a);
    assert_int_equal(cpu_template_apply_msrs(&t, e, 2, &err), 0);
    assert_int_equal(e[0].data, 0x12cd);
    assert_int_equal(e[1].data, 0x5);
    assert_int_equal(cpu_template_apply_msrs(&t, e, 1, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "Register Address: 3a"));
    free(c);
}

static void test_kvm_caps(void **state)
{
    struct kvm_cap_modifier mods[] = {
        {KVM_CAP_IRQCHIP, true}, /* swap_remove: last moves here */
        {200, false},            /* new */
        {KVM_CAP_XSAVE, false},  /* already there */
        {999, true},             /* absent: nothing */
        {KVM_CAP_PIT2, true},
    };
    struct cpu_template t = {.n_kvm_caps = 5, .kvm_caps = mods};
    uint32_t caps[32];
    size_t n;

    (void)state;
    assert_int_equal(cpu_template_kvm_caps(NULL, caps, 32, &n), 0);
    assert_int_equal(n, 14);
    assert_int_equal(caps[0], KVM_CAP_IRQCHIP);
    assert_int_equal(caps[13], KVM_CAP_EXT_CPUID);

    assert_int_equal(cpu_template_kvm_caps(&t, caps, 32, &n), 0);
    assert_int_equal(n, 13);
    /* IRQCHIP out, EXT_CPUID took its place; 200 appended then PIT2
     * (index 5) replaced by 200, the last. */
    assert_int_equal(caps[0], KVM_CAP_EXT_CPUID);
    assert_int_equal(caps[5], 200);
    for (size_t i = 0; i < n; i++) {
        assert_int_not_equal(caps[i], KVM_CAP_IRQCHIP);
        assert_int_not_equal(caps[i], KVM_CAP_PIT2);
        assert_int_not_equal(caps[i], 999);
    }
    assert_int_equal(cpu_template_kvm_caps(&t, caps, 13, &n), -ENOSPC);
    /* Two additions need 16 slots. */
    mods[0] = (struct kvm_cap_modifier){201, false};
    mods[4] = (struct kvm_cap_modifier){202, false};
    assert_int_equal(cpu_template_kvm_caps(&t, caps, 15, &n), -ENOSPC);
    assert_int_equal(cpu_template_kvm_caps(&t, caps, 17, &n), 0);
    assert_int_equal(n, 17);
    assert_int_equal(caps[14], 201);
    assert_int_equal(caps[16], 202);
}

static void test_msrs_to_save(void **state)
{
    struct kvm_cpuid2 *c = table_new(intel_table, N(intel_table), 80);
    uint32_t out[200];

    (void)state;
    /* MPX (7.0 EBX[14]), MTRR (1 EDX[12]) and MCE (1 EDX[7]) all set. */
    assert_int_equal(cpuid_msrs_to_save(c, out, 200), 1 + 16 + 13 + 128);
    assert_int_equal(out[0], 0xd90);
    assert_int_equal(out[1], 0x200);
    assert_int_equal(out[29], 0x2ff);
    assert_int_equal(out[30], 0x400);
    assert_int_equal(out[157], 0x47f);
    assert_int_equal(cpuid_msrs_to_save(c, out, 3), 158);
    get(c, 1, 0)->edx &= ~((1u << 12) | (1u << 7));
    get(c, 7, 0)->ebx &= ~(1u << 14);
    assert_int_equal(cpuid_msrs_to_save(c, out, 200), 0);
    free(c);
}

/* ---- the real thing ------------------------------------------------------ */

static void test_real_kvm(void **state)
{
    static const uint32_t counts[] = {1, 2, 32};
    struct kvm_cpuid2 *sup;
    int fd;

    (void)state;
    fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        print_message("skipped: /dev/kvm not usable\n");
        skip();
    }
    sup = calloc(1, sizeof(*sup) +
                        CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
    assert_non_null(sup);
    sup->nent = CPUID_MAX_ENTRIES;
    if (ioctl(fd, KVM_GET_SUPPORTED_CPUID, sup) < 0) {
        close(fd);
        free(sup);
        print_message("skipped: KVM_GET_SUPPORTED_CPUID failed\n");
        skip();
    }
    close(fd);

    for (size_t i = 0; i < N(counts); i++) {
        for (int smt = 0; smt <= 1; smt++) {
            for (uint32_t idx = 0; idx < counts[i]; idx++) {
                size_t sz = sizeof(*sup) +
                            CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
                struct kvm_cpuid2 *c = malloc(sz);
                struct cpuid_ctx ctx = {
                    .vcpu_index = idx, .vcpu_count = counts[i], .smt = smt};
                struct sq_err err;
                assert_non_null(c);
                memcpy(c, sup, sz);
                sq_err_clear(&err);
                if (cpuid_normalize_err(c, CPUID_MAX_ENTRIES, &ctx, &err))
                    fail_msg("%u/%u smt=%d: %s", idx, counts[i], smt, err.msg);
                assert_int_equal(get(c, 1, 0)->ebx >> 24, idx);
                assert_int_equal(get(c, 0xb, 0)->edx, idx);
                assert_int_equal(get(c, 0xb, 1)->ebx & 0xffff, counts[i]);
                assert_int_equal(get(c, 1, 0)->ecx >> 31, 1);
                expect_sorted(c);
                free(c);
            }
        }
    }
    free(sup);
}

/* Slots the kernel did not write keep the marker bytes; the count stops
 * at the first of them, whatever nent says. */
static void test_cpuid2_written(void **state)
{
    struct kvm_cpuid_entry2 e[4];

    (void)state;
    memset(e, KVM_CPUID2_UNWRITTEN, sizeof(e));
    assert_int_equal(kvm_cpuid2_written(e, 4), 0);
    memset(&e[0], 0, sizeof(e[0])); /* leaf 0 with all-zero registers */
    e[1] = e[0];
    e[1].function = 0xffffffffu; /* one field of 0xff is not the mark */
    e[1].eax = e[1].ebx = e[1].ecx = e[1].edx = 0xffffffffu;
    assert_int_equal(kvm_cpuid2_written(e, 4), 2);
    assert_int_equal(kvm_cpuid2_written(e, 1), 1);
    e[2] = e[0];
    e[3] = e[0];
    assert_int_equal(kvm_cpuid2_written(e, 4), 4);
}

/* On this machine's KVM: a vCPU given three entries gives back three, in
 * a room of 64 (kernels that leave nent at 64 included). */
static void test_real_get_cpuid2(void **state)
{
    struct kvm_cpuid2 *c;
    int kvm, vm, vcpu;

    (void)state;
    kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) {
        print_message("skipped: /dev/kvm not usable\n");
        skip();
    }
    vm = ioctl(kvm, KVM_CREATE_VM, 0);
    vcpu = vm < 0 ? -1 : ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0) {
        if (vm >= 0)
            close(vm);
        close(kvm);
        print_message("skipped: no KVM vCPU\n");
        skip();
    }
    c = calloc(1, sizeof(*c) + 64 * sizeof(c->entries[0]));
    assert_non_null(c);
    c->nent = 3;
    c->entries[0].eax = 1; /* leaf 0: highest basic leaf 1 */
    c->entries[1].function = 1;
    c->entries[1].eax = 0x806f8;
    c->entries[2].function = 0x80000000u;
    c->entries[2].eax = 0x80000000u;
    assert_int_equal(ioctl(vcpu, KVM_SET_CPUID2, c), 0);
    assert_int_equal(kvm_get_cpuid2(vcpu, c, 64), 0);
    assert_true(c->nent >= 1 && c->nent < 64);
    assert_int_equal(kvm_cpuid2_written(c->entries, c->nent), c->nent);
    assert_int_equal(c->entries[0].function, 0);
    free(c);
    close(vcpu);
    close(vm);
    close(kvm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intel_smt),
        cmocka_unit_test(test_intel_single),
        cmocka_unit_test(test_intel_32_nosmt),
        cmocka_unit_test(test_intel_brand_strings),
        cmocka_unit_test(test_amd_smt),
        cmocka_unit_test(test_amd_adds_host_leaves),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_vendor_passthrough),
        cmocka_unit_test(test_static_t2s),
        cmocka_unit_test(test_static_checks),
        cmocka_unit_test(test_static_data),
        cmocka_unit_test(test_custom),
        cmocka_unit_test(test_kvm_caps),
        cmocka_unit_test(test_msrs_to_save),
        cmocka_unit_test(test_real_kvm),
        cmocka_unit_test(test_cpuid2_written),
        cmocka_unit_test(test_real_get_cpuid2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
