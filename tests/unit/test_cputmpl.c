/*
 * test_cputmpl.c: cpu-template-helper's parts that need no KVM: the
 * template and fingerprint JSON (written as serde_json::to_string_pretty
 * writes upstream's structs, read back), the dump conversion from a CPUID
 * table and MSR list written down by hand, strip and verify with upstream's
 * own test cases (template/strip/x86_64.rs, template/verify/ mod.rs and
 * x86_64.rs), the fingerprint host fields from files this test writes, the
 * comparison, the suffix rule, the mock kernel, and the command line (help,
 * clap errors, exit statuses) through cputmpl_run on memory streams.
 *
 * Expected texts are upstream's, copied from its tests or derived from its
 * format strings by hand, not produced by the code under test.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/cpu_template.h"
#include "config/fingerprint.h"
#include "config/vm_config.h"
#include "cputmpl/cputmpl.h"
#include "cputmpl/template_ops.h"
#include "vmm/boot.h"
#include "vmm/cpu_dump.h"

static void parse_ok(const char *json, struct cpu_template *t)
{
    struct sq_err err;

    sq_err_clear(&err);
    memset(t, 0, sizeof(*t));
    if (cpu_template_json_parse(json, strlen(json), t, &err))
        fail_msg("parse: %s", err.msg);
}

static char *to_json(const struct cpu_template *t)
{
    struct buf b = BUF_INIT;

    cpu_template_to_json(t, &b);
    return buf_steal(&b, NULL);
}

/* ---- JSON ---------------------------------------------------------------- */

static void test_template_pretty(void **state)
{
    struct cpu_template t, back;
    char *s;

    (void)state;
    parse_ok("{\"kvm_capabilities\":[\"171\",\"!172\"],"
             "\"cpuid_modifiers\":[{\"leaf\":\"0x8000001f\",\"subleaf\":"
             "\"0b10\",\"flags\":1,\"modifiers\":[{\"register\":\"edx\","
             "\"bitmap\":\"0b1x0\"}]}],\"msr_modifiers\":[{\"addr\":"
             "\"0x10a\",\"bitmap\":\"0b0_1\"}]}",
             &t);
    s = to_json(&t);
    assert_string_equal(
        s,
        "{\n"
        "  \"kvm_capabilities\": [\n"
        "    \"171\",\n"
        "    \"!172\"\n"
        "  ],\n"
        "  \"cpuid_modifiers\": [\n"
        "    {\n"
        "      \"leaf\": \"0x8000001f\",\n"
        "      \"subleaf\": \"0x2\",\n"
        "      \"flags\": 1,\n"
        "      \"modifiers\": [\n"
        "        {\n"
        "          \"register\": \"edx\",\n"
        "          \"bitmap\": \"0bxxxxxxxxxxxxxxxxxxxxxxxxxxxxx1x0\"\n"
        "        }\n"
        "      ]\n"
        "    }\n"
        "  ],\n"
        "  \"msr_modifiers\": [\n"
        "    {\n"
        "      \"addr\": \"0x10a\",\n"
        "      \"bitmap\": \"0bxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxx01\"\n"
        "    }\n"
        "  ]\n"
        "}");
    parse_ok(s, &back);
    assert_true(cpu_template_equal(&t, &back));
    back.msr[0].value ^= 1;
    assert_false(cpu_template_equal(&t, &back));
    free(s);
    cpu_template_fini(&back);
    cpu_template_fini(&t);

    /* An empty template writes every list. */
    memset(&t, 0, sizeof(t));
    s = to_json(&t);
    assert_string_equal(s, "{\n  \"kvm_capabilities\": [],\n  "
                           "\"cpuid_modifiers\": [],\n  \"msr_modifiers\": "
                           "[]\n}");
    free(s);
}

static const char *const fp_json =
    "{\n"
    "  \"firecracker_version\": \"1.17.0-dev\",\n"
    "  \"kernel_version\": \"6.1.0\",\n"
    "  \"microcode_version\": \"0x2b000603\",\n"
    "  \"bios_version\": \"1.0\",\n"
    "  \"bios_revision\": \"4.11\",\n"
    "  \"guest_cpu_config\": {\n"
    "    \"kvm_capabilities\": [],\n"
    "    \"cpuid_modifiers\": [],\n"
    "    \"msr_modifiers\": [\n"
    "      {\n"
    "        \"addr\": \"0x1\",\n"
    "        \"bitmap\": \"0b00000000000000000000000000000000000000000000000"
    "00000000000000011\"\n"
    "      }\n"
    "    ]\n"
    "  }\n"
    "}";

static void test_fingerprint_json(void **state)
{
    struct fingerprint f;
    struct sq_err err;
    struct buf b = BUF_INIT;

    (void)state;
    sq_err_clear(&err);
    assert_int_equal(fingerprint_parse(fp_json, strlen(fp_json), &f, &err), 0);
    assert_string_equal(f.str[FINGERPRINT_MICROCODE_VERSION], "0x2b000603");
    assert_int_equal(f.guest_cpu_config.n_msr, 1);
    assert_true(f.guest_cpu_config.msr[0].value == 3);
    fingerprint_to_json(&f, &b);
    assert_string_equal(b.data, fp_json);
    buf_fini(&b);
    fingerprint_fini(&f);

    /* serde's errors: a missing field, an unknown key inside the template
     * (strict), a wrong type. Unknown keys at the top are ignored. */
    assert_int_equal(
        fingerprint_parse("{\"firecracker_version\":\"a\"}", 27, &f, &err),
        -EINVAL);
    assert_string_equal(err.msg,
                        "missing field `kernel_version` at line 1 column 27");
    {
        const char *j = "{\"x\":1,\"firecracker_version\":\"a\","
                        "\"kernel_version\":\"b\",\"microcode_version\":\"c\","
                        "\"bios_version\":\"d\",\"bios_revision\":\"e\","
                        "\"guest_cpu_config\":{\"foo\":[]}}";

        assert_int_equal(fingerprint_parse(j, strlen(j), &f, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "unknown field `foo`"));
    }
    assert_int_equal(fingerprint_parse("[1]", 3, &f, &err), -EINVAL);
    assert_string_equal(err.msg, "invalid type: integer `1`, expected a "
                                 "string at line 1 column 2");
}

/* ---- dump conversion ----------------------------------------------------- */

static void test_from_dump(void **state)
{
    struct {
        struct kvm_cpuid2 c;
        struct kvm_cpuid_entry2 e[3];
    } t;
    /* out of order, with excluded MSRs and a repeated index */
    const struct cpu_dump_msr msrs[] = {
        {0x5, 0xffffffff00000000ull},
        {0x10, 7},
        {0x1, UINT64_MAX},
        {0x6e0, 1},
        {0x10a, 9},
        {0x3, 0xffffffff},
        {0xc0010005, 1},
        {0x3, 4},
    };
    struct cpu_template out = {0};

    (void)state;
    memset(&t, 0, sizeof(t));
    t.c.nent = 3;
    t.e[0] = (struct kvm_cpuid_entry2){.function = 1,
                                       .index = 1,
                                       .flags = 1,
                                       .eax = 0xaaaaaaaa,
                                       .ebx = 0xaaaa5555,
                                       .ecx = 0x5555aaaa,
                                       .edx = 0x55555555};
    t.e[1] = (struct kvm_cpuid_entry2){
        .function = 0, .eax = 0xffffffff, .ebx = 0xffff, .ecx = 0xffff0000};
    t.e[2] = t.e[0];
    t.e[2].eax = 0x12345678; /* the same key again: the last one wins */

    cputmpl_from_dump(&t.c, msrs, sizeof(msrs) / sizeof(msrs[0]), false, &out);
    assert_int_equal(out.n_cpuid, 2);
    assert_int_equal(out.cpuid[0].leaf, 0);
    assert_int_equal(out.cpuid[0].flags, 0);
    assert_int_equal(out.cpuid[0].n_modifiers, 4);
    assert_int_equal(out.cpuid[0].modifiers[2].reg, CPUID_ECX);
    assert_true(out.cpuid[0].modifiers[2].value == 0xffff0000);
    assert_true(out.cpuid[0].modifiers[3].mask == UINT32_MAX);
    assert_int_equal(out.cpuid[1].leaf, 1);
    assert_int_equal(out.cpuid[1].subleaf, 1);
    assert_int_equal(out.cpuid[1].flags, 1);
    assert_true(out.cpuid[1].modifiers[0].value == 0x12345678);
    assert_true(out.cpuid[1].modifiers[1].value == 0xaaaa5555);
    /* 0x10 (TSC), 0x6e0 (TSC deadline), 0xc0010005 (AMD PMU) excluded;
     * sorted; 0x3 keeps its last value; 0x10a kept on Intel. */
    assert_int_equal(out.n_msr, 4);
    assert_int_equal(out.msr[0].addr, 1);
    assert_int_equal(out.msr[1].addr, 3);
    assert_true(out.msr[1].value == 4);
    assert_int_equal(out.msr[2].addr, 5);
    assert_int_equal(out.msr[3].addr, 0x10a);
    assert_true(out.msr[0].mask == UINT64_MAX);

    cputmpl_from_dump(&t.c, msrs, sizeof(msrs) / sizeof(msrs[0]), true, &out);
    assert_int_equal(out.n_msr, 3); /* IA32_ARCH_CAPABILITIES gone on AMD */
    cpu_template_fini(&out);

    assert_true(cputmpl_msr_excluded(0x3f2, false));
    assert_false(cputmpl_msr_excluded(0x3f3, false));
    assert_true(cputmpl_msr_excluded(0xc001020b, false));
    assert_false(cputmpl_msr_excluded(0xc001020c, false));
    assert_false(cpu_msr_is_dumpable(0x491));
    assert_true(cpu_msr_is_dumpable(0x492));
    assert_false(cpu_msr_is_dumpable(0x40000118));
    assert_true(cpu_msr_is_dumpable(0x4b564d00));
}

/* ---- strip ----------------------------------------------------------------
 */

/* upstream's test_strip_cpuid_modifiers and test_strip_msr_modifiers. */
static void test_strip(void **state)
{
    struct cpu_template t[3];
    struct sq_err err;
    char *s;

    (void)state;
    parse_ok("{\"cpuid_modifiers\":["
             "{\"leaf\":\"0x0\",\"subleaf\":\"0x0\",\"flags\":0,\"modifiers\":"
             "[{\"register\":\"eax\",\"bitmap\":\"0b" /* 32 zeros */
             "00000000000000000000000000000000\"}]},"
             "{\"leaf\":\"0x2\",\"subleaf\":\"0x1\",\"flags\":1,\"modifiers\":"
             "[{\"register\":\"eax\",\"bitmap\":\"0b0\"},"
             "{\"register\":\"ebx\",\"bitmap\":\"0b00\"}]}],"
             "\"msr_modifiers\":[{\"addr\":\"0x0\",\"bitmap\":\"0b00\"},"
             "{\"addr\":\"0x1\",\"bitmap\":\"0b01\"}]}",
             &t[0]);
    parse_ok("{\"cpuid_modifiers\":["
             "{\"leaf\":\"0x0\",\"subleaf\":\"0x0\",\"flags\":0,\"modifiers\":"
             "[{\"register\":\"eax\",\"bitmap\":\"0b"
             "00000000000000000000000000000000\"}]},"
             "{\"leaf\":\"0x1\",\"subleaf\":\"0x0\",\"flags\":0,\"modifiers\":"
             "[{\"register\":\"eax\",\"bitmap\":\"0b0\"}]},"
             "{\"leaf\":\"0x2\",\"subleaf\":\"0x1\",\"flags\":1,\"modifiers\":"
             "[{\"register\":\"eax\",\"bitmap\":\"0b0\"},"
             "{\"register\":\"ebx\",\"bitmap\":\"0b01\"}]}],"
             "\"msr_modifiers\":[{\"addr\":\"0x0\",\"bitmap\":\"0b01\"},"
             "{\"addr\":\"0x1\",\"bitmap\":\"0b01\"}]}",
             &t[1]);
    parse_ok("{\"cpuid_modifiers\":["
             "{\"leaf\":\"0x0\",\"subleaf\":\"0x0\",\"flags\":0,\"modifiers\":"
             "[{\"register\":\"eax\",\"bitmap\":\"0b"
             "00000000000000000000000000000000\"}]},"
             "{\"leaf\":\"0x2\",\"subleaf\":\"0x1\",\"flags\":1,\"modifiers\":"
             "[{\"register\":\"eax\",\"bitmap\":\"0b0\"},"
             "{\"register\":\"ebx\",\"bitmap\":\"0b10\"}]}],"
             "\"msr_modifiers\":[{\"addr\":\"0x0\",\"bitmap\":\"0b10\"},"
             "{\"addr\":\"0x1\",\"bitmap\":\"0b01\"},"
             "{\"addr\":\"0x2\",\"bitmap\":\"0b1\"}]}",
             &t[2]);
    assert_int_equal(cputmpl_strip(t, 1, &err), -EINVAL);
    assert_string_equal(err.msg, "The number of inputs should be two or more.");
    assert_int_equal(cputmpl_strip(t, 3, &err), 0);

    /* leaf 0x0 (same everywhere) and 0x2/eax are gone; 0x2/ebx keeps the
     * two bits that differ; 0x1 exists only in the second. */
    assert_int_equal(t[0].n_cpuid, 1);
    assert_int_equal(t[0].cpuid[0].leaf, 2);
    assert_int_equal(t[0].cpuid[0].n_modifiers, 1);
    assert_int_equal(t[0].cpuid[0].modifiers[0].reg, CPUID_EBX);
    assert_int_equal(t[0].cpuid[0].modifiers[0].mask, 3);
    assert_int_equal(t[1].n_cpuid, 2);
    assert_int_equal(t[1].cpuid[0].leaf, 1);
    assert_int_equal(t[1].cpuid[0].modifiers[0].mask, 1);
    assert_int_equal(t[1].cpuid[1].modifiers[0].value, 1);
    assert_int_equal(t[2].cpuid[0].modifiers[0].value, 2);
    /* MSR 0x1 (same) is gone, 0x0 keeps 0b11, 0x2 only in the third. */
    assert_int_equal(t[0].n_msr, 1);
    assert_int_equal(t[0].msr[0].addr, 0);
    assert_true(t[0].msr[0].mask == 3);
    assert_int_equal(t[2].n_msr, 2);
    assert_int_equal(t[2].msr[1].addr, 2);
    assert_true(t[2].msr[1].mask == 1);
    s = to_json(&t[1]);
    assert_non_null(
        strstr(s, "\"bitmap\": \"0bxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx01\""));
    free(s);
    for (int i = 0; i < 3; i++)
        cpu_template_fini(&t[i]);
}

/* ---- verify ---------------------------------------------------------------
 */

static void test_verify(void **state)
{
    struct cpu_template tmpl, config;
    struct sq_err err;

    (void)state;
    /* upstream's test_verify_non_existing_cpuid */
    parse_ok("{\"cpuid_modifiers\":[{\"leaf\":\"0x0\",\"subleaf\":\"0x0\","
             "\"flags\":0,\"modifiers\":[{\"register\":\"eax\",\"bitmap\":"
             "\"0b1010xxxx\"},{\"register\":\"ebx\",\"bitmap\":\"0bxxxx0101\"}"
             "]}]}",
             &tmpl);
    parse_ok("{\"cpuid_modifiers\":[{\"leaf\":\"0x0\",\"subleaf\":\"0x0\","
             "\"flags\":0,\"modifiers\":[{\"register\":\"eax\",\"bitmap\":"
             "\"0b10101010\"}]}]}",
             &config);
    assert_int_equal(cputmpl_verify(&tmpl, &config, &err), -EINVAL);
    assert_string_equal(err.msg, "leaf=0x0, subleaf=0x0, flags=0b0, "
                                 "register=ebx not found in CPU "
                                 "configuration.");
    cpu_template_fini(&tmpl);
    cpu_template_fini(&config);

    /* upstream's test_verify_mismatched_cpuid */
    parse_ok("{\"cpuid_modifiers\":[{\"leaf\":\"0x0\",\"subleaf\":\"0x0\","
             "\"flags\":0,\"modifiers\":[{\"register\":\"eax\",\"bitmap\":"
             "\"0b1010xxxx\"}]}]}",
             &tmpl);
    parse_ok("{\"cpuid_modifiers\":[{\"leaf\":\"0x0\",\"subleaf\":\"0x0\","
             "\"flags\":0,\"modifiers\":[{\"register\":\"eax\",\"bitmap\":"
             "\"0b00000000000000000000000011111111\"}]}]}",
             &config);
    assert_int_equal(cputmpl_verify(&tmpl, &config, &err), -EINVAL);
    assert_string_equal(
        err.msg, "Value for leaf=0x0, subleaf=0x0, flags=0b0, register=eax "
                 "mismatched.\n"
                 "* CPU template     : 0b00000000000000000000000010100000\n"
                 "* CPU configuration: 0b00000000000000000000000011110000\n"
                 "* Diff             :                            ^ ^    ");
    cpu_template_fini(&tmpl);
    cpu_template_fini(&config);

    /* upstream's test_verify_non_existing_msr / mismatched_msr */
    parse_ok("{\"msr_modifiers\":[{\"addr\":\"0x0\",\"bitmap\":\"0b0\"},"
             "{\"addr\":\"0x1\",\"bitmap\":\"0b11111111\"}]}",
             &tmpl);
    parse_ok("{\"msr_modifiers\":[{\"addr\":\"0x0\",\"bitmap\":\"0b0\"}]}",
             &config);
    assert_int_equal(cputmpl_verify(&tmpl, &config, &err), -EINVAL);
    assert_string_equal(err.msg, "index=0x1 not found in CPU configuration.");
    cpu_template_fini(&tmpl);
    cpu_template_fini(&config);
    parse_ok("{\"msr_modifiers\":[{\"addr\":\"0x0\",\"bitmap\":"
             "\"0b1010xxxx\"}]}",
             &tmpl);
    parse_ok("{\"msr_modifiers\":[{\"addr\":\"0x0\",\"bitmap\":"
             "\"0b01010101\"}]}",
             &config);
    assert_int_equal(cputmpl_verify(&tmpl, &config, &err), -EINVAL);
    assert_string_equal(
        err.msg,
        "Value for index=0x0 mismatched.\n"
        "* CPU template     : 0b00000000000000000000000000000000000000000000"
        "00000000000010100000\n"
        "* CPU configuration: 0b00000000000000000000000000000000000000000000"
        "00000000000001010000\n"
        "* Diff             :                                              "
        "             ^^^^    ");
    cpu_template_fini(&tmpl);
    cpu_template_fini(&config);

    /* a match under the mask; flags in binary in the key */
    parse_ok("{\"cpuid_modifiers\":[{\"leaf\":\"0x7\",\"subleaf\":\"0x0\","
             "\"flags\":6,\"modifiers\":[{\"register\":\"edx\",\"bitmap\":"
             "\"0b1xx0\"}]}]}",
             &tmpl);
    parse_ok("{\"cpuid_modifiers\":[{\"leaf\":\"0x7\",\"subleaf\":\"0x0\","
             "\"flags\":6,\"modifiers\":[{\"register\":\"edx\",\"bitmap\":"
             "\"0b11111111111111111111111111111010\"}]}]}",
             &config);
    assert_int_equal(cputmpl_verify(&tmpl, &config, &err), 0);
    config.cpuid[0].flags = 1;
    assert_int_equal(cputmpl_verify(&tmpl, &config, &err), -EINVAL);
    assert_string_equal(err.msg, "leaf=0x7, subleaf=0x0, flags=0b110, "
                                 "register=edx not found in CPU "
                                 "configuration.");
    cpu_template_fini(&tmpl);
    cpu_template_fini(&config);
}

/* ---- host fields and compare -----------------------------------------------
 */

static char dir[64];

static char *write_tmp(const char *name, const char *text)
{
    static char path[4][128];
    static int k;
    char *p = path[k++ % 4];
    FILE *f;

    snprintf(p, 128, "%s/%s", dir, name);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static int setup_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_cputmpl.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_host_fields(void **state)
{
    struct cputmpl_host_paths p;
    struct fingerprint f;
    struct sq_err err;
    char missing[160];

    (void)state;
    memset(&f, 0, sizeof(f));
    p.cpuinfo = write_tmp("cpuinfo", "processor\t: 0\nmicrocodex: 1\r\n"
                                     "microcode\t: 0xf0  \r\n"
                                     "microcode\t: 0x1\n");
    p.bios_version = write_tmp("bv", "SeaBIOS 1.16\n\n");
    p.bios_release = write_tmp("br", "0.0");
    assert_int_equal(cputmpl_host_fields(&p, &f, &err), 0);
    assert_string_equal(f.str[FINGERPRINT_FIRECRACKER_VERSION], "1.17.0-dev");
    assert_true(f.str_len[FINGERPRINT_KERNEL_VERSION] > 0);
    assert_string_equal(f.str[FINGERPRINT_MICROCODE_VERSION], "0xf0");
    assert_string_equal(f.str[FINGERPRINT_BIOS_VERSION], "SeaBIOS 1.16");
    assert_string_equal(f.str[FINGERPRINT_BIOS_REVISION], "0.0");

    p.cpuinfo = write_tmp("cpuinfo2", "processor : 0\n");
    assert_int_equal(cputmpl_host_fields(&p, &f, &err), -ENOENT);
    assert_string_equal(err.msg,
                        "Failed to find microcode version in /proc/cpuinfo");
    snprintf(missing, sizeof(missing), "%s/none", dir);
    p.cpuinfo = missing;
    assert_int_equal(cputmpl_host_fields(&p, &f, &err), -ENOENT);
    assert_string_equal(err.msg, "Failed to read /proc/cpuinfo: No such file "
                                 "or directory (os error 2)");
    p.cpuinfo = write_tmp("cpuinfo3", "microcode:0x2\n");
    p.bios_release = missing;
    assert_int_equal(cputmpl_host_fields(&p, &f, &err), -ENOENT);
    assert_true(strstr(err.msg, "Failed to read ") == err.msg);
    assert_non_null(strstr(err.msg, "/none: No such file or directory"));
    fingerprint_fini(&f);
}

static void test_compare(void **state)
{
    struct fingerprint a, b;
    struct sq_err err;
    struct buf out = BUF_INIT;
    const enum fingerprint_field kernel = FINGERPRINT_KERNEL_VERSION;
    enum fingerprint_field all[FINGERPRINT_N_FIELDS];

    (void)state;
    for (int i = 0; i < FINGERPRINT_N_FIELDS; i++)
        all[i] = (enum fingerprint_field)i;
    assert_int_equal(fingerprint_parse(fp_json, strlen(fp_json), &a, &err), 0);
    assert_int_equal(fingerprint_parse(fp_json, strlen(fp_json), &b, &err), 0);
    assert_int_equal(cputmpl_compare(&a, &b, all, FINGERPRINT_N_FIELDS, &out),
                     0);
    assert_int_equal(out.len, 0);

    /* upstream's test_compare_different_fingerprints */
    free(b.str[FINGERPRINT_KERNEL_VERSION]);
    b.str[FINGERPRINT_KERNEL_VERSION] = strdup("different_kernel_version");
    b.str_len[FINGERPRINT_KERNEL_VERSION] = 24;
    free(b.str[FINGERPRINT_MICROCODE_VERSION]);
    b.str[FINGERPRINT_MICROCODE_VERSION] = strdup("x");
    b.str_len[FINGERPRINT_MICROCODE_VERSION] = 1;
    assert_int_equal(cputmpl_compare(&a, &b, &kernel, 1, &out), 1);
    assert_string_equal(out.data,
                        "Difference detected between source and target: \n"
                        "{\n"
                        "  \"name\": \"kernel_version\",\n"
                        "  \"prev\": \"6.1.0\",\n"
                        "  \"curr\": \"different_kernel_version\"\n"
                        "}");
    buf_reset(&out);
    assert_int_equal(cputmpl_compare(&a, &b, all + 3, 2, &out), 0);

    /* guest_cpu_config: both sides stripped of what they share */
    b.guest_cpu_config.msr[0].value = 2;
    assert_int_equal(cputmpl_compare(&a, &b, all + 5, 1, &out), 1);
    assert_non_null(strstr(out.data, "\"name\": \"guest_cpu_config\",\n"
                                     "  \"prev\": {\n"
                                     "    \"kvm_capabilities\": [],\n"));
    /* 0b11 against 0b10: only bit 0 differs */
    assert_non_null(strstr(out.data, "xxxxxxxxx1\"\n"));
    assert_non_null(strstr(out.data, "xxxxxxxxx0\"\n"));
    assert_null(strstr(out.data, "1x\"\n"));
    buf_fini(&out);
    fingerprint_fini(&a);
    fingerprint_fini(&b);
}

/* ---- files ------------------------------------------------------------------
 */

static void suffix_is(const char *path, const char *expect)
{
    struct buf b = BUF_INIT;

    cputmpl_add_suffix(path, "_suffix", &b);
    assert_string_equal(b.data, expect);
    buf_fini(&b);
}

static void test_files(void **state)
{
    struct sq_err err;
    struct buf b = BUF_INIT;
    char *s, path[160];
    size_t n;

    (void)state;
    /* upstream's add_suffix tests, and Rust's stem/extension edge cases */
    suffix_is("file.ext", "file_suffix.ext");
    suffix_is("file_no_ext", "file_no_ext_suffix");
    suffix_is("relative/path/to/file.ext", "relative/path/to/file_suffix.ext");
    suffix_is("/absolute/path/to/file.ext",
              "/absolute/path/to/file_suffix.ext");
    suffix_is("a.tar.gz", "a.tar_suffix.gz");
    suffix_is("dir.d/.hidden", "dir.d/.hidden_suffix");

    assert_int_equal(cputmpl_read_text(write_tmp("bad", "\xff"), &s, &n, &err),
                     -EILSEQ);
    assert_string_equal(err.msg, "stream did not contain valid UTF-8");
    snprintf(path, sizeof(path), "%s/out.json", dir);
    buf_puts(&b, "{}");
    assert_int_equal(cputmpl_write_text(path, &b, &err), 0);
    assert_int_equal(cputmpl_read_text(path, &s, &n, &err), 0);
    assert_string_equal(s, "{}");
    free(s);
    snprintf(path, sizeof(path), "%s/no/such/dir/out.json", dir);
    assert_int_equal(cputmpl_write_text(path, &b, &err), -ENOENT);
    assert_string_equal(err.msg, "No such file or directory (os error 2)");
    buf_fini(&b);
}

static void test_mock_kernel(void **state)
{
    uint8_t k[CPUTMPL_MOCK_KERNEL_SIZE];
    const size_t ram_len = 32u << 20;
    uint8_t *ram = calloc(1, ram_len);
    struct boot_mem mem = {ram, ram_len, ram_len};
    struct boot_result res;
    struct sq_err err;
    int fd = memfd_create("kernel", MFD_CLOEXEC);

    (void)state;
    cputmpl_mock_kernel(k);
    /* squib's own kernel loader takes it: a 64-bit Linux entry at 16 MiB
     * running `jmp .` */
    assert_true(fd >= 0 && ram);
    assert_int_equal(write(fd, k, sizeof(k)), (ssize_t)sizeof(k));
    sq_err_clear(&err);
    if (boot_load(&mem, fd, -1, "console=ttyS0", &res, &err))
        fail_msg("boot_load: %s", err.msg);
    assert_int_equal(res.proto, BOOT_PROTO_LINUX64);
    assert_true(res.entry == 0x1000000);
    assert_int_equal(ram[0x1000000], 0xeb);
    assert_int_equal(ram[0x1000001], 0xfe);
    close(fd);
    free(ram);
    assert_memory_equal(k,
                        "\x7f"
                        "ELF\x02\x01\x01",
                        7);
    assert_int_equal(k[24 + 3], 0x01); /* entry 0x1000000 */
    assert_int_equal(k[120], 0xeb);
    assert_int_equal(k[121], 0xfe);
}

/* ---- command line -------------------------------------------------------- */

struct run {
    int rc;
    char *out, *err;
};

static struct run run(const char *first, ...)
{
    char *argv[32];
    int argc = 0;
    struct run r;
    size_t on, en;
    FILE *o = open_memstream(&r.out, &on);
    FILE *e = open_memstream(&r.err, &en);
    va_list ap;

    argv[argc++] = strdup("cpu-template-helper");
    va_start(ap, first);
    for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = strdup(a);
    va_end(ap);
    argv[argc] = NULL;
    r.rc = cputmpl_run(argc, argv, o, e);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    fclose(o);
    fclose(e);
    return r;
}

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

static void test_cli(void **state)
{
    struct run r;

    (void)state;
    r = run("--version", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "cpu-template-helper v1.17.0-dev\n");
    run_free(&r);

    r = run("template", "dump", "--help", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(
        r.out,
        "Dump guest CPU configuration in the custom CPU template format\n\n"
        "Usage: cpu-template-helper template dump [OPTIONS]\n\n"
        "Options:\n"
        "  -c, --config <PATH>    Path of firecracker config file\n"
        "  -t, --template <PATH>  Path of CPU template to apply\n"
        "  -o, --output <PATH>    Path of output file [default: "
        "cpu_config.json]\n"
        "  -h, --help             Print help\n");
    run_free(&r);

    r = run("help", "fingerprint", NULL);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "Usage: cpu-template-helper fingerprint "
                                  "<COMMAND>\n"));
    assert_non_null(strstr(r.out, "  compare  Compare two fingerprint files "
                                  "with queries\n"));
    run_free(&r);

    /* no subcommand: the help on stderr, status 2 */
    r = run("template", NULL);
    assert_int_equal(r.rc, 2);
    assert_string_equal(r.out, "");
    assert_true(strncmp(r.err, "Template-related operations\n\nUsage:", 35) ==
                0);
    run_free(&r);

    r = run("template", "dump", "--bogus=1", NULL);
    assert_int_equal(r.rc, 2);
    assert_string_equal(r.err,
                        "error: unexpected argument '--bogus' found\n\n"
                        "Usage: cpu-template-helper template dump [OPTIONS]"
                        "\n\nFor more information, try '--help'.\n");
    run_free(&r);

    r = run("fingerprint", "compare", "-p", "x", NULL);
    assert_int_equal(r.rc, 2);
    assert_string_equal(r.err,
                        "error: the following required arguments were not "
                        "provided:\n  --curr <PATH>\n\n"
                        "Usage: cpu-template-helper fingerprint compare "
                        "[OPTIONS] --prev <PATH> --curr <PATH>\n\n"
                        "For more information, try '--help'.\n");
    run_free(&r);

    r = run("fingerprint", "compare", "-p", "x", "-c", "y", "--filters", "nope",
            NULL);
    assert_int_equal(r.rc, 2);
    assert_true(strncmp(r.err,
                        "error: invalid value 'nope' for '--filters "
                        "<FILTERS>...'\n  [possible values: "
                        "firecracker_version,",
                        90) == 0);
    run_free(&r);

    r = run("template", "strip", "--paths", "one", NULL);
    assert_int_equal(r.rc, 2);
    assert_true(strncmp(r.err,
                        "error: 2 values required by '--paths <PATH> "
                        "<PATH>...'; only 1 was provided\n",
                        75) == 0);
    run_free(&r);

    r = run("template", "dump", "-o", NULL);
    assert_int_equal(r.rc, 2);
    assert_string_equal(r.err, "error: a value is required for '--output "
                               "<PATH>' but none was supplied\n\n"
                               "For more information, try '--help'.\n");
    run_free(&r);

    r = run("template", "dump", "-c", "a", "--config=b", NULL);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "error: the argument '--config <PATH>' "
                                  "cannot be used multiple times\n"));
    run_free(&r);

    r = run("frob", NULL);
    assert_int_equal(r.rc, 2);
    assert_true(strncmp(r.err, "error: unrecognized subcommand 'frob'\n", 38) ==
                0);
    run_free(&r);

    /* strip without --paths: the tool's own error, status 1 */
    r = run("template", "strip", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "The number of inputs should be two or more.\n");
    run_free(&r);
}

static void test_cli_files(void **state)
{
    char prev[160], *cur;
    struct run r;

    (void)state;
    snprintf(prev, sizeof(prev), "%s", write_tmp("prev.json", fp_json));
    cur = write_tmp("bad.json", "{\"firecracker_version\": 1}");
    r = run("fingerprint", "compare", "--prev", prev, "--curr", cur, NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "Failed to serialize/deserialize JSON file: "
                               "invalid type: integer `1`, expected a string "
                               "at line 1 column 25\n");
    run_free(&r);

    r = run("fingerprint", "compare", "--prev", "/nonexistent/fp", "--curr",
            prev, NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "Failed to operate file: No such file or "
                               "directory (os error 2)\n");
    run_free(&r);

    r = run("fingerprint", "compare", "--prev", prev, "--curr", prev,
            "--filters", "kernel_version", "guest_cpu_config", NULL);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.err, "");
    run_free(&r);

    r = run("template", "verify", "--template", "/nonexistent/t", NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "Failed to operate file: No such file or "
                               "directory (os error 2)\n");
    run_free(&r);

    cur = write_tmp("cfg.json", "{\"boot-source\": 5}");
    r = run("template", "dump", "--config", cur, NULL);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "Failed to create VmResources: Invalid JSON: "
                               "invalid type: integer `5`, expected struct "
                               "BootSourceConfig at line 1 column 17\n");
    run_free(&r);
}

/* vmm_cpu_dump's failures before any KVM call: the replay's ResourcesError
 * under "Failed to create VmResources: ", nothing left behind. */
static void test_vmm_dump_config_errors(void **state)
{
    const char *j = "{\"boot-source\": {\"kernel_image_path\": "
                    "\"/nonexistent/vmlinux\"}, \"drives\": []}";
    struct vmm_config_file cfg;
    struct cpu_dump d;
    struct sq_err err;

    (void)state;
    sq_err_clear(&err);
    assert_int_equal(vmm_config_file_parse(j, strlen(j), &cfg, &err), 0);
    assert_true(vmm_cpu_dump(&cfg, NULL, &d, &err) < 0);
    assert_string_equal(err.msg, "Failed to create VmResources: Boot source "
                                 "error: The kernel file cannot be opened: No "
                                 "such file or directory (os error 2)");
    assert_null(d.cpuid);
    assert_null(d.msrs);
    vmm_config_file_fini(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_template_pretty),
        cmocka_unit_test(test_fingerprint_json),
        cmocka_unit_test(test_from_dump),
        cmocka_unit_test(test_strip),
        cmocka_unit_test(test_verify),
        cmocka_unit_test(test_host_fields),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_mock_kernel),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_cli_files),
        cmocka_unit_test(test_vmm_dump_config_errors),
    };

    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
