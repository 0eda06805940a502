/*
 * compare.c: fingerprint comparison (upstream's fingerprint/compare.rs;
 * see cputmpl.h).
 */
#include <string.h>

#include "cputmpl/cputmpl.h"
#include "cputmpl/template_ops.h"

static bool str_equal(const struct fingerprint *a, const struct fingerprint *b,
                      enum fingerprint_field i)
{
    return a->str_len[i] == b->str_len[i] &&
           (a->str_len[i] == 0 ||
            memcmp(a->str[i], b->str[i], a->str_len[i]) == 0);
}

/* The Diff struct through to_string_pretty. */
static void diff_open(struct json_pretty *p, enum fingerprint_field i)
{
    json_pretty_open(p, '{');
    json_pretty_key(p, "name");
    json_write_cstr(p->b, fingerprint_field_name(i));
}

static void diff_str(const struct fingerprint *prev,
                     const struct fingerprint *curr, enum fingerprint_field i,
                     struct buf *b)
{
    struct json_pretty p;

    json_pretty_init(&p, b);
    diff_open(&p, i);
    json_pretty_key(&p, "prev");
    json_write_str(b, prev->str[i] ? prev->str[i] : "", prev->str_len[i]);
    json_pretty_key(&p, "curr");
    json_write_str(b, curr->str[i] ? curr->str[i] : "", curr->str_len[i]);
    json_pretty_close(&p, '}');
}

static void diff_cpu_config(const struct fingerprint *prev,
                            const struct fingerprint *curr, struct buf *b)
{
    struct cpu_template t[2] = {{0}, {0}};
    struct json_pretty p;
    struct sq_err err;

    cpu_template_copy(&t[0], &prev->guest_cpu_config);
    cpu_template_copy(&t[1], &curr->guest_cpu_config);
    /* Two inputs: strip cannot fail. */
    (void)cputmpl_strip(t, 2, &err);
    json_pretty_init(&p, b);
    diff_open(&p, FINGERPRINT_GUEST_CPU_CONFIG);
    json_pretty_key(&p, "prev");
    cpu_template_write_pretty(&t[0], &p);
    json_pretty_key(&p, "curr");
    cpu_template_write_pretty(&t[1], &p);
    json_pretty_close(&p, '}');
    cpu_template_fini(&t[0]);
    cpu_template_fini(&t[1]);
}

int cputmpl_compare(const struct fingerprint *prev,
                    const struct fingerprint *curr,
                    const enum fingerprint_field *filters, size_t n,
                    struct buf *out)
{
    size_t found = 0;

    for (size_t k = 0; k < n; k++) {
        enum fingerprint_field i = filters[k];
        bool same = i == FINGERPRINT_GUEST_CPU_CONFIG
                        ? cpu_template_equal(&prev->guest_cpu_config,
                                             &curr->guest_cpu_config)
                        : str_equal(prev, curr, i);

        if (same)
            continue;
        buf_puts(out, found++ ? "\n"
                              : "Difference detected between source and "
                                "target: \n");
        if (i == FINGERPRINT_GUEST_CPU_CONFIG)
            diff_cpu_config(prev, curr, out);
        else
            diff_str(prev, curr, i, out);
    }
    return found ? 1 : 0;
}
