/*
 * cpu_template.c: struct cpu_template: its lifetime and its JSON decoder
 * (see cpu_template.h). The custom decoders reproduce upstream's
 * hand-written Deserialize impls, raising their errors where upstream does
 * (inside or after serde_json's deserialize_str), which decides the
 * reported column.
 */
#include "config/cpu_template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "util/xalloc.h"

void cpu_template_fini(struct cpu_template *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_cpuid; i++)
        free(t->cpuid[i].modifiers);
    free(t->cpuid);
    free(t->kvm_caps);
    free(t->msr);
    memset(t, 0, sizeof(*t));
}

/* A copy of n elements of `size` bytes, or NULL for none. */
static void *dup_array(const void *src, size_t n, size_t size)
{
    void *d;

    if (!n)
        return NULL;
    d = xcalloc(n, size);
    memcpy(d, src, n * size);
    return d;
}

void cpu_template_copy(struct cpu_template *dst, const struct cpu_template *src)
{
    cpu_template_fini(dst);
    dst->n_kvm_caps = src->n_kvm_caps;
    dst->kvm_caps =
        dup_array(src->kvm_caps, src->n_kvm_caps, sizeof(*src->kvm_caps));
    dst->n_msr = src->n_msr;
    dst->msr = dup_array(src->msr, src->n_msr, sizeof(*src->msr));
    dst->n_cpuid = src->n_cpuid;
    dst->cpuid = dup_array(src->cpuid, src->n_cpuid, sizeof(*src->cpuid));
    for (size_t i = 0; i < src->n_cpuid; i++)
        dst->cpuid[i].modifiers =
            dup_array(src->cpuid[i].modifiers, src->cpuid[i].n_modifiers,
                      sizeof(*src->cpuid[i].modifiers));
}

static const char *pie_display(enum pie_kind k)
{
    switch (k) {
    case PIE_EMPTY:
        return "cannot parse integer from empty string";
    case PIE_INVALID_DIGIT:
        return "invalid digit found in string";
    case PIE_POS_OVERFLOW:
        return "number too large to fit in target type";
    default:
        return "";
    }
}

static const char *pie_debug(enum pie_kind k)
{
    switch (k) {
    case PIE_EMPTY:
        return "ParseIntError { kind: Empty }";
    case PIE_INVALID_DIGIT:
        return "ParseIntError { kind: InvalidDigit }";
    case PIE_POS_OVERFLOW:
        return "ParseIntError { kind: PosOverflow }";
    default:
        return "";
    }
}

/* A custom error message with one embedded (possibly NUL-containing) user
 * string: pre + s + post. */
static int custom3(struct json_dec *d, const char *pre, const char *s, size_t n,
                   const char *post)
{
    struct buf m = BUF_INIT;
    int rc;

    buf_puts(&m, pre);
    buf_append(&m, s, n);
    buf_puts(&m, post);
    /* json_dec_custom formats; pass the text through "%s" (a NUL inside
     * the user string ends the message there, see config.h). */
    rc = json_dec_custom(d, "%s", m.data);
    buf_fini(&m);
    return rc;
}

/* deserialize_from_str_u32: "0b..." (binary) or "0x..." (hex). */
static int dec_prefixed_u32(struct json_dec *d, void *field_ptr,
                            const struct json_field *f)
{
    char *s;
    size_t n;
    uint64_t v = 0;
    enum pie_kind k;
    int rc = 0;

    (void)f;
    if (json_dec_string(d, "a string", &s, &n) < 0)
        return -1;
    if (n >= 2 && s[0] == '0' && s[1] == 'b')
        k = schemas_parse_uint(s + 2, n - 2, 2, UINT32_MAX, &v);
    else if (n >= 2 && s[0] == '0' && s[1] == 'x')
        k = schemas_parse_uint(s + 2, n - 2, 16, UINT32_MAX, &v);
    else {
        rc = custom3(d, "No supported number system prefix found in value [", s,
                     n,
                     "]. Make sure to prefix the number with '0x' for "
                     "hexadecimal numbers or '0b' for binary numbers.");
        free(s);
        return rc;
    }
    if (k != PIE_OK) {
        struct buf post = BUF_INIT;

        buf_printf(&post, "] as a number for CPU template - %s", pie_debug(k));
        rc = custom3(d, "Failed to parse string [", s, n, post.data);
        buf_fini(&post);
    } else {
        *(uint32_t *)field_ptr = (uint32_t)v;
    }
    free(s);
    return rc;
}

/* RegisterValueFilter: optional "0b", then one of 0/1/x per bit from the
 * least significant end; '_' is skipped; at most `bits` bits. */
static int parse_bitmap(struct json_dec *d, unsigned bits, uint64_t *mask,
                        uint64_t *value)
{
    char *s;
    size_t n, i, start = 0;
    unsigned bit = 0;
    int rc = 0;

    if (json_dec_string(d, "a string", &s, &n) < 0)
        return -1;
    *mask = 0;
    *value = 0;
    if (n >= 2 && s[0] == '0' && s[1] == 'b')
        start = 2;
    for (i = n; i > start; i--) {
        unsigned char c = (unsigned char)s[i - 1];

        if (bit == bits) {
            rc = custom3(d, "Failed to parse string [", s, n,
                         "] as a bitmap - string is too long");
            break;
        }
        if (c == '_')
            continue;
        if (c == '0') {
            *mask |= (uint64_t)1 << bit;
        } else if (c == '1') {
            *mask |= (uint64_t)1 << bit;
            *value |= (uint64_t)1 << bit;
        } else if (c != 'x') {
            char post[64];

            snprintf(post, sizeof(post),
                     "] as a bitmap - unknown character: %u", c);
            rc = custom3(d, "Failed to parse string [", s, n, post);
            break;
        }
        bit++;
    }
    free(s);
    return rc;
}

static int dec_bitmap32(struct json_dec *d, void *field_ptr,
                        const struct json_field *f)
{
    uint64_t mask, value;
    uint32_t *mv = field_ptr; /* mask, value adjacent (cpuid_reg_modifier) */

    (void)f;
    if (parse_bitmap(d, 32, &mask, &value) < 0)
        return -1;
    mv[0] = (uint32_t)mask;
    mv[1] = (uint32_t)value;
    return 0;
}

static int dec_bitmap64(struct json_dec *d, void *field_ptr,
                        const struct json_field *f)
{
    uint64_t *mv = field_ptr; /* mask, value adjacent (msr_modifier) */

    (void)f;
    return parse_bitmap(d, 64, &mv[0], &mv[1]);
}

static int dec_cpuid_register(struct json_dec *d, void *field_ptr,
                              const struct json_field *f)
{
    static const char *const names[] = {"eax", "ebx", "ecx", "edx"};
    char *s;
    size_t n, i;

    (void)f;
    if (json_dec_string(d, "a string", &s, &n) < 0)
        return -1;
    for (i = 0; i < ARRAY_LEN(names); i++) {
        if (n == 3 && memcmp(s, names[i], 3) == 0) {
            *(enum cpuid_reg *)field_ptr = (enum cpuid_reg)i;
            free(s);
            return 0;
        }
    }
    free(s);
    return json_dec_custom(
        d, "Invalid CPUID register. Must be one of [eax, ebx, ecx, edx]");
}

static const struct json_field cpuid_reg_fields[] = {
    {FLD(struct cpuid_reg_modifier, "register", JSON_F_CUSTOM, 0, reg),
     .custom = dec_cpuid_register},
    {FLD(struct cpuid_reg_modifier, "bitmap", JSON_F_CUSTOM, 0, mask),
     .custom = dec_bitmap32},
};
DESC(cpuid_reg_desc, "CpuidRegisterModifier", cpuid_reg_fields, false);

static int dec_cpuid_reg_vec(struct json_dec *d, void *field_ptr,
                             const struct json_field *f)
{
    return schemas_dec_vec_struct(d, field_ptr, f,
                                  sizeof(struct cpuid_reg_modifier),
                                  &cpuid_reg_desc, NULL);
}

static const struct json_field cpuid_leaf_fields[] = {
    {FLD(struct cpuid_leaf_modifier, "leaf", JSON_F_CUSTOM, 0, leaf),
     .custom = dec_prefixed_u32},
    {FLD(struct cpuid_leaf_modifier, "subleaf", JSON_F_CUSTOM, 0, subleaf),
     .custom = dec_prefixed_u32},
    /* deserialize_kvm_cpuid_flags = u32::deserialize */
    {FLD(struct cpuid_leaf_modifier, "flags", JSON_F_U32, 0, flags)},
    {FLD(struct cpuid_leaf_modifier, "modifiers", JSON_F_CUSTOM, 0, modifiers),
     LEN(struct cpuid_leaf_modifier, n_modifiers), .custom = dec_cpuid_reg_vec},
};
DESC(cpuid_leaf_desc, "CpuidLeafModifier", cpuid_leaf_fields, false);

static const struct json_field msr_fields[] = {
    {FLD(struct msr_modifier, "addr", JSON_F_CUSTOM, 0, addr),
     .custom = dec_prefixed_u32},
    {FLD(struct msr_modifier, "bitmap", JSON_F_CUSTOM, 0, mask),
     .custom = dec_bitmap64},
};
DESC(msr_desc, "RegisterModifier", msr_fields, false);

/* KvmCapability: "N" (add) or "!N" (remove), N a u32 (str::parse). */
static int kvm_cap_elem(struct json_dec *d, void *ctx, size_t index)
{
    struct cpu_template *t = ctx;
    struct kvm_cap_modifier *m;
    char *s;
    size_t n, off = 0;
    uint64_t v = 0;
    enum pie_kind k;
    int rc = 0;

    (void)index;
    if (json_dec_string(d, "a string", &s, &n) < 0)
        return -1;
    if (n >= 1 && s[0] == '!')
        off = 1;
    k = schemas_parse_uint(s + off, n - off, 10, UINT32_MAX, &v);
    if (k != PIE_OK) {
        struct buf post = BUF_INIT;

        buf_printf(&post,
                   "] as a kvm capability - can not convert to numeric: %s",
                   pie_display(k));
        rc = custom3(d, "Failed to parse string [", s, n, post.data);
        buf_fini(&post);
    } else {
        m = schemas_vec_push((void **)&t->kvm_caps, &t->n_kvm_caps, sizeof(*m));
        m->cap = (uint32_t)v;
        m->remove = off == 1;
    }
    free(s);
    return rc;
}

static int dec_kvm_caps(struct json_dec *d, void *field_ptr,
                        const struct json_field *f)
{
    struct cpu_template *t =
        (struct cpu_template *)((char *)field_ptr - f->offset);

    return json_dec_seq(d, "a sequence", kvm_cap_elem, t);
}

static int dec_cpuid_leaf_vec(struct json_dec *d, void *field_ptr,
                              const struct json_field *f)
{
    return schemas_dec_vec_struct(d, field_ptr, f,
                                  sizeof(struct cpuid_leaf_modifier),
                                  &cpuid_leaf_desc, NULL);
}

static int dec_msr_vec(struct json_dec *d, void *field_ptr,
                       const struct json_field *f)
{
    return schemas_dec_vec_struct(d, field_ptr, f, sizeof(struct msr_modifier),
                                  &msr_desc, NULL);
}

static const struct json_field cpu_template_fields[] = {
    {FLD(struct cpu_template, "kvm_capabilities", JSON_F_CUSTOM, DEF, kvm_caps),
     .custom = dec_kvm_caps},
    {FLD(struct cpu_template, "cpuid_modifiers", JSON_F_CUSTOM, DEF, cpuid),
     LEN(struct cpu_template, n_cpuid), .custom = dec_cpuid_leaf_vec},
    {FLD(struct cpu_template, "msr_modifiers", JSON_F_CUSTOM, DEF, msr),
     LEN(struct cpu_template, n_msr), .custom = dec_msr_vec},
};
EDESC(schemas_cpu_template_desc, "CustomCpuTemplate", cpu_template_fields,
      true);

static int cpu_template_decode(const char *json, size_t len,
                               struct cpu_template *out, const char *prefix,
                               const char *suffix, struct sq_err *err)
{
    struct top_ctx t = {&schemas_cpu_template_desc, out};
    int rc;

    memset(out, 0, sizeof(*out));
    rc = json_decode(json, len, schemas_top_struct, &t, prefix, suffix, err);
    if (rc)
        cpu_template_fini(out);
    return rc;
}

int cpu_config_parse(const char *body, size_t len, struct cpu_template *out,
                     struct sq_err *err)
{
    return cpu_template_decode(body, len, out, SCHEMAS_SERDE_PREFIX, ".", err);
}

int cpu_template_json_parse(const char *json, size_t len,
                            struct cpu_template *out, struct sq_err *err)
{
    return cpu_template_decode(json, len, out, NULL, NULL, err);
}
