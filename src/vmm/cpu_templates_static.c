/*
 * cpu_templates_static.c: static CPU template data (see
 * cpu_templates_static.h).
 *
 * The masks are Firecracker's (static_cpu_templates/{c3,t2,t2s,t2cl,t2a}.rs
 * at the digest's commit), written as (mask, value) pairs: bits set in the
 * mask are forced to the value's bit, the others are kept as KVM reports
 * them. What each bit means is documented in those files and in the Intel
 * SDM / AMD APM; in short the templates hide features a given EC2 instance
 * family lacks (AVX-512, TSX, MPX, PKU, SGX, newer XSAVE forms ...), set
 * a fixed family/model/stepping, and (T2S, T2CL) pin
 * IA32_ARCH_CAPABILITIES to a migration-safe value.
 */
#include "vmm/cpu_templates_static.h"

#define LEAF(l, s, f, mods)                                                    \
    {                                                                          \
        (l), (s), (f), sizeof(mods) / sizeof((mods)[0]), (mods)                \
    }

/* C3 */
static const struct cpuid_reg_modifier c3_1_0[] = {
    {CPUID_EAX, 0x0fff3fff, 0x000306e4},
    {CPUID_ECX, 0x0040dd3c, 0x00000000},
    {CPUID_EDX, 0xa8641080, 0x00001080},
};
static const struct cpuid_reg_modifier c3_7_0[] = {
    {CPUID_EBX, 0xffafdd3c, 0x00000000},
    {CPUID_ECX, 0x4041481e, 0x00000000},
    {CPUID_EDX, 0x0000000c, 0x00000000},
};
static const struct cpuid_reg_modifier c3_d_0[] = {
    {CPUID_EAX, 0x000002f8, 0x00000000},
};
static const struct cpuid_reg_modifier c3_d_1[] = {
    {CPUID_EAX, 0x0000000e, 0x00000000},
};
static const struct cpuid_reg_modifier c3_80000001_0[] = {
    {CPUID_ECX, 0x00000120, 0x00000000},
    {CPUID_EDX, 0x04000000, 0x00000000},
};
static const struct cpu_static_leaf c3_cpuid[] = {
    LEAF(0x1, 0x0, 0, c3_1_0),
    LEAF(0x7, 0x0, 1, c3_7_0),
    LEAF(0xd, 0x0, 1, c3_d_0),
    LEAF(0xd, 0x1, 1, c3_d_1),
    LEAF(0x80000001, 0x0, 0, c3_80000001_0),
};

/* T2 */
static const struct cpuid_reg_modifier t2_1_0[] = {
    {CPUID_EAX, 0x0fff3fff, 0x000306f2},
    {CPUID_ECX, 0x0004cdfc, 0x00000000},
    {CPUID_EDX, 0xe8641080, 0x00001080},
};
static const struct cpuid_reg_modifier t2_7_0[] = {
    {CPUID_EBX, 0xffefda14, 0x00000200},
    {CPUID_ECX, 0x40415f5e, 0x00000000},
    {CPUID_EDX, 0x0000011c, 0x00000000},
};
static const struct cpuid_reg_modifier t2_d_0[] = {
    {CPUID_EAX, 0x000002f8, 0x00000000},
};
static const struct cpuid_reg_modifier t2_d_1[] = {
    {CPUID_EAX, 0x0000000e, 0x00000000},
};
static const struct cpuid_reg_modifier t2_80000001_0[] = {
    {CPUID_ECX, 0x20000100, 0x00000000},
    {CPUID_EDX, 0x04000000, 0x00000000},
};
static const struct cpuid_reg_modifier t2_80000008_0[] = {
    {CPUID_EBX, 0x00000200, 0x00000000},
};
static const struct cpu_static_leaf t2_cpuid[] = {
    LEAF(0x1, 0x0, 0, t2_1_0),
    LEAF(0x7, 0x0, 1, t2_7_0),
    LEAF(0xd, 0x0, 1, t2_d_0),
    LEAF(0xd, 0x1, 1, t2_d_1),
    LEAF(0x80000001, 0x0, 0, t2_80000001_0),
    LEAF(0x80000008, 0x0, 0, t2_80000008_0),
};

/* T2S */
static const struct cpuid_reg_modifier t2s_1_0[] = {
    {CPUID_EAX, 0x0fff3fff, 0x000306f2},
    {CPUID_ECX, 0x0004cdfc, 0x00000000},
    {CPUID_EDX, 0xe8641080, 0x00001080},
};
static const struct cpuid_reg_modifier t2s_7_0[] = {
    {CPUID_EBX, 0xffefda14, 0x00000200},
    {CPUID_ECX, 0x40415f5e, 0x00000000},
    {CPUID_EDX, 0x0000011c, 0x00000000},
};
static const struct cpuid_reg_modifier t2s_d_0[] = {
    {CPUID_EAX, 0x000002f8, 0x00000000},
};
static const struct cpuid_reg_modifier t2s_d_1[] = {
    {CPUID_EAX, 0x0000000e, 0x00000000},
};
static const struct cpuid_reg_modifier t2s_80000001_0[] = {
    {CPUID_ECX, 0x20000100, 0x00000000},
    {CPUID_EDX, 0x04000000, 0x00000000},
};
static const struct cpuid_reg_modifier t2s_80000008_0[] = {
    {CPUID_EBX, 0x00000200, 0x00000000},
};
static const struct cpu_static_leaf t2s_cpuid[] = {
    LEAF(0x1, 0x0, 0, t2s_1_0),
    LEAF(0x7, 0x0, 1, t2s_7_0),
    LEAF(0xd, 0x0, 1, t2s_d_0),
    LEAF(0xd, 0x1, 1, t2s_d_1),
    LEAF(0x80000001, 0x0, 0, t2s_80000001_0),
    LEAF(0x80000008, 0x0, 0, t2s_80000008_0),
};
static const struct msr_modifier t2s_msr[] = {
    {0x10a, 0xffffffffffffffffull, 0x000000000c0a0c4cull},
};

/* T2CL */
static const struct cpuid_reg_modifier t2cl_1_0[] = {
    {CPUID_EAX, 0x0fff3fff, 0x000306f2},
    {CPUID_ECX, 0x0004cdfc, 0x00000000},
    {CPUID_EDX, 0xe8641080, 0x00001080},
};
static const struct cpuid_reg_modifier t2cl_7_0[] = {
    {CPUID_EBX, 0xffefda14, 0x00000200},
    {CPUID_ECX, 0x40415f5e, 0x00000000},
    {CPUID_EDX, 0x0000011c, 0x00000000},
};
static const struct cpuid_reg_modifier t2cl_d_0[] = {
    {CPUID_EAX, 0x000002f8, 0x00000000},
};
static const struct cpuid_reg_modifier t2cl_d_1[] = {
    {CPUID_EAX, 0x0000000e, 0x00000000},
};
static const struct cpuid_reg_modifier t2cl_80000001_0[] = {
    {CPUID_ECX, 0x200001c0, 0x00000000},
    {CPUID_EDX, 0x07c00000, 0x00000000},
};
static const struct cpuid_reg_modifier t2cl_80000008_0[] = {
    {CPUID_EBX, 0x00000200, 0x00000000},
};
static const struct cpu_static_leaf t2cl_cpuid[] = {
    LEAF(0x1, 0x0, 0, t2cl_1_0),
    LEAF(0x7, 0x0, 1, t2cl_7_0),
    LEAF(0xd, 0x0, 1, t2cl_d_0),
    LEAF(0xd, 0x1, 1, t2cl_d_1),
    LEAF(0x80000001, 0x0, 0, t2cl_80000001_0),
    LEAF(0x80000008, 0x0, 0, t2cl_80000008_0),
};
static const struct msr_modifier t2cl_msr[] = {
    {0x10a, 0xffffffffe2f51e00ull, 0x0000000000000000ull},
};

/* T2A */
static const struct cpuid_reg_modifier t2a_1_0[] = {
    {CPUID_EAX, 0x0fff3fff, 0x000306f2},
    {CPUID_ECX, 0x0004cdfc, 0x00000000},
    {CPUID_EDX, 0xe8641080, 0x00001080},
};
static const struct cpuid_reg_modifier t2a_7_0[] = {
    {CPUID_EBX, 0xffefda14, 0x00000200},
    {CPUID_ECX, 0x40415f5e, 0x00000000},
    {CPUID_EDX, 0x0000011c, 0x00000000},
};
static const struct cpuid_reg_modifier t2a_d_0[] = {
    {CPUID_EAX, 0x000002f8, 0x00000000},
};
static const struct cpuid_reg_modifier t2a_d_1[] = {
    {CPUID_EAX, 0x0000000e, 0x00000000},
};
static const struct cpuid_reg_modifier t2a_80000001_0[] = {
    {CPUID_ECX, 0x200001c4, 0x00000000},
    {CPUID_EDX, 0x06400000, 0x00000000},
};
static const struct cpuid_reg_modifier t2a_80000008_0[] = {
    {CPUID_EBX, 0x001c0205, 0x001c0004},
};
static const struct cpu_static_leaf t2a_cpuid[] = {
    LEAF(0x1, 0x0, 0, t2a_1_0),
    LEAF(0x7, 0x0, 1, t2a_7_0),
    LEAF(0xd, 0x0, 1, t2a_d_0),
    LEAF(0xd, 0x1, 1, t2a_d_1),
    LEAF(0x80000001, 0x0, 0, t2a_80000001_0),
    LEAF(0x80000008, 0x0, 0, t2a_80000008_0),
};
#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct cpu_model c3_t2_models[3] = {
    {0x0, 0x5, 0x6, 0x5, 0x4}, /* Skylake */
    {0x0, 0x5, 0x6, 0x5, 0x7}, /* Cascade Lake */
    {0x0, 0x6, 0x6, 0xa, 0x6}, /* Ice Lake */
};
static const struct cpu_model t2s_models[2] = {
    {0x0, 0x5, 0x6, 0x5, 0x4}, /* Skylake */
    {0x0, 0x5, 0x6, 0x5, 0x7}, /* Cascade Lake */
};
static const struct cpu_model t2cl_models[2] = {
    {0x0, 0x5, 0x6, 0x5, 0x7}, /* Cascade Lake */
    {0x0, 0x6, 0x6, 0xa, 0x6}, /* Ice Lake */
};
static const struct cpu_model t2a_models[1] = {
    {0xa, 0x0, 0xf, 0x1, 0x1}, /* Milan */
};

static const struct cpu_static_def defs[] = {
    {"C3", "GenuineIntel", N(c3_t2_models), c3_t2_models, N(c3_cpuid), c3_cpuid,
     0, NULL},
    {"T2", "GenuineIntel", N(c3_t2_models), c3_t2_models, N(t2_cpuid), t2_cpuid,
     0, NULL},
    {"T2S", "GenuineIntel", N(t2s_models), t2s_models, N(t2s_cpuid), t2s_cpuid,
     N(t2s_msr), t2s_msr},
    {"T2CL", "GenuineIntel", N(t2cl_models), t2cl_models, N(t2cl_cpuid),
     t2cl_cpuid, N(t2cl_msr), t2cl_msr},
    {"T2A", "AuthenticAMD", N(t2a_models), t2a_models, N(t2a_cpuid), t2a_cpuid,
     0, NULL},
};

const struct cpu_static_def *cpu_static_def(enum cpu_static_template t)
{
    switch (t) {
    case CPU_TEMPLATE_C3:
        return &defs[0];
    case CPU_TEMPLATE_T2:
        return &defs[1];
    case CPU_TEMPLATE_T2S:
        return &defs[2];
    case CPU_TEMPLATE_T2CL:
        return &defs[3];
    case CPU_TEMPLATE_T2A:
        return &defs[4];
    case CPU_TEMPLATE_NONE:
        break;
    }
    return NULL;
}

struct cpu_model cpu_model_from_eax(uint32_t eax)
{
    struct cpu_model m = {
        .extended_family = (uint8_t)((eax >> 20) & 0xff),
        .extended_model = (uint8_t)((eax >> 16) & 0xf),
        .family = (uint8_t)((eax >> 8) & 0xf),
        .model = (uint8_t)((eax >> 4) & 0xf),
        .stepping = (uint8_t)(eax & 0xf),
    };
    return m;
}
