/*
 * fuzz_cputmpl.c: libFuzzer harness for cpu-template-helper's JSON: the
 * fingerprint reader (config/fingerprint.c, new) and the custom CPU
 * template reader, with the writers and the template operations behind
 * them (cputmpl/template_ops.c).
 *
 * The first byte picks the reader (even: fingerprint, odd: template); the
 * rest is the document. Whatever parses must survive the round trip (its
 * pretty JSON parses again to an equal value) and the invariants of the
 * operations: a template verifies against itself, and strip of two copies
 * leaves both empty.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/cpu_template.h"
#include "config/fingerprint.h"
#include "cputmpl/template_ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_template(const struct cpu_template *t)
{
    struct cpu_template back = {0}, two[2] = {{0}, {0}};
    struct buf b = BUF_INIT;
    struct sq_err err;

    cpu_template_to_json(t, &b);
    if (cpu_template_json_parse(b.data, b.len, &back, &err) != 0 ||
        !cpu_template_equal(t, &back))
        abort();
    if (cputmpl_verify(t, &back, &err) != 0)
        abort();
    cpu_template_copy(&two[0], t);
    cpu_template_copy(&two[1], t);
    if (cputmpl_strip(two, 2, &err) != 0 || two[0].n_cpuid || two[0].n_msr ||
        two[1].n_cpuid || two[1].n_msr)
        abort();
    cpu_template_fini(&two[0]);
    cpu_template_fini(&two[1]);
    cpu_template_fini(&back);
    buf_fini(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *json = (const char *)data + 1;
    struct sq_err err;

    if (size < 1)
        return 0;
    if (data[0] & 1) {
        struct cpu_template t;

        if (cpu_template_json_parse(json, size - 1, &t, &err) == 0) {
            check_template(&t);
            cpu_template_fini(&t);
        }
    } else {
        struct fingerprint f, back;
        struct buf b = BUF_INIT;

        if (fingerprint_parse(json, size - 1, &f, &err) == 0) {
            fingerprint_to_json(&f, &b);
            if (fingerprint_parse(b.data, b.len, &back, &err) != 0)
                abort();
            for (int i = 0; i < FINGERPRINT_GUEST_CPU_CONFIG; i++)
                if (f.str_len[i] != back.str_len[i] ||
                    memcmp(f.str[i], back.str[i], f.str_len[i]) != 0)
                    abort();
            if (!cpu_template_equal(&f.guest_cpu_config,
                                    &back.guest_cpu_config))
                abort();
            check_template(&f.guest_cpu_config);
            fingerprint_fini(&back);
            fingerprint_fini(&f);
        }
        buf_fini(&b);
    }
    return 0;
}
