/*
 * json_derive.c: what serde derive generates for a struct, driven by a
 * field table (struct json_struct_desc, see json.h): the object form with
 * unknown/duplicate/missing field checks in serde's order, and the array
 * form (fields in declaration order) that serde also accepts.
 */
#include "util/json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_int.h"
#include "util/xalloc.h"

/* ---- derived structs ---- */

static const char *field_expected(enum json_field_type t)
{
    switch (t) {
    case JSON_F_BOOL: return "a boolean";
    case JSON_F_U8: return "u8";
    case JSON_F_U16: return "u16";
    case JSON_F_U32: return "u32";
    case JSON_F_U64: return "u64";
    case JSON_F_USIZE: return "usize";
    case JSON_F_STRING: return "a string";
    case JSON_F_PATH: return "path string";
    default: return "";
    }
}

static int decode_field(struct json_dec *d, const struct json_field *f,
                        void *out)
{
    char *base = out;
    void *ptr = base + f->offset;
    uint64_t u;
    char *s;
    size_t slen;
    int e;

    if (f->flags & JSON_FIELD_OPTION) {
        bool is_null;

        if (json_dec_option(d, &is_null) < 0)
            return -1;
        if (is_null) {
            if (f->has_offset)
                *(bool *)(base + f->has_offset - 1) = false;
            return 0;
        }
    }
    switch (f->type) {
    case JSON_F_BOOL:
        if (json_dec_bool(d, ptr) < 0)
            return -1;
        break;
    case JSON_F_U8:
        if (json_dec_uint(d, UINT8_MAX, "u8", &u) < 0)
            return -1;
        *(uint8_t *)ptr = (uint8_t)u;
        break;
    case JSON_F_U16:
        if (json_dec_uint(d, UINT16_MAX, "u16", &u) < 0)
            return -1;
        *(uint16_t *)ptr = (uint16_t)u;
        break;
    case JSON_F_U32:
        if (json_dec_uint(d, UINT32_MAX, "u32", &u) < 0)
            return -1;
        *(uint32_t *)ptr = (uint32_t)u;
        break;
    case JSON_F_U64:
    case JSON_F_USIZE:
        if (json_dec_uint(d, UINT64_MAX, field_expected(f->type), &u) < 0)
            return -1;
        *(uint64_t *)ptr = u;
        break;
    case JSON_F_STRING:
    case JSON_F_PATH:
        if (json_dec_string(d, field_expected(f->type), &s, &slen) < 0)
            return -1;
        free(*(char **)ptr);
        *(char **)ptr = s;
        if (f->len_offset)
            *(size_t *)(base + f->len_offset - 1) = slen;
        break;
    case JSON_F_ENUM:
        if (json_dec_enum(d, f->variants, f->n_variants, &e) < 0)
            return -1;
        *(int *)ptr = e;
        break;
    case JSON_F_STRUCT:
        if (json_dec_struct(d, f->sub, ptr) < 0)
            return -1;
        break;
    case JSON_F_CUSTOM:
        if (f->custom(d, ptr, f) < 0)
            return -1;
        break;
    }
    if (f->has_offset)
        *(bool *)(base + f->has_offset - 1) = true;
    return 0;
}

static bool field_required(const struct json_field *f)
{
    return !(f->flags & (JSON_FIELD_OPTION | JSON_FIELD_DEFAULT));
}

/* The visit_map serde derive generates. */
static int visit_struct_map(struct json_dec *d,
                            const struct json_struct_desc *desc, void *out)
{
    bool seen[JSON_MAX_FIELDS] = {false};
    bool first = true;
    size_t i;

    for (;;) {
        int r = json_has_next_key(d, &first);
        const struct json_field *f = NULL;

        if (r < 0)
            return -1;
        if (r == 0)
            break;
        if (json_parse_key(d) < 0)
            return -1;
        for (i = 0; i < desc->n_fields; i++) {
            const char *name = desc->fields[i].name;

            if (strlen(name) == d->scratch.len &&
                memcmp(name, d->scratch.data, d->scratch.len) == 0) {
                f = &desc->fields[i];
                break;
            }
        }
        if (!f) {
            if (desc->deny_unknown_fields) {
                if (json_custom_begin(d)) {
                    buf_puts(&d->msg, "unknown field `");
                    buf_append(&d->msg, d->scratch.data, d->scratch.len);
                    buf_puts(&d->msg, "`, ");
                    if (desc->n_fields == 0) {
                        buf_puts(&d->msg, "there are no fields");
                    } else {
                        const char *names[JSON_MAX_FIELDS];

                        for (i = 0; i < desc->n_fields; i++)
                            names[i] = desc->fields[i].name;
                        buf_puts(&d->msg, "expected ");
                        json_append_one_of(&d->msg, names, desc->n_fields);
                    }
                }
                return -1;
            }
            if (json_parse_object_colon(d) < 0 || json_dec_ignore(d) < 0)
                return -1;
            continue;
        }
        if (seen[i])
            return json_dec_custom(d, "duplicate field `%s`", f->name);
        seen[i] = true;
        if (json_parse_object_colon(d) < 0)
            return -1;
        if (decode_field(d, f, out) < 0)
            return -1;
    }
    for (i = 0; i < desc->n_fields; i++)
        if (!seen[i] && field_required(&desc->fields[i]))
            return json_dec_custom(d, "missing field `%s`",
                                   desc->fields[i].name);
    return 0;
}

/* The visit_seq serde derive generates: the fields in declaration order;
 * a missing trailing element is an error unless the field has a default. */
static int visit_struct_seq(struct json_dec *d,
                            const struct json_struct_desc *desc, void *out)
{
    bool first = true;
    size_t i;

    for (i = 0; i < desc->n_fields; i++) {
        const struct json_field *f = &desc->fields[i];
        int r = json_has_next_element(d, &first);

        if (r < 0)
            return -1;
        if (r == 0) {
            if (f->flags & JSON_FIELD_DEFAULT)
                continue;
            return json_dec_custom(d,
                                   "invalid length %zu, expected struct %s "
                                   "with %zu element%s",
                                   i, desc->rust_name, desc->n_fields,
                                   desc->n_fields == 1 ? "" : "s");
        }
        if (decode_field(d, f, out) < 0)
            return -1;
    }
    return 0;
}

int json_dec_struct(struct json_dec *d, const struct json_struct_desc *desc,
                    void *out)
{
    int c = json_dec_peek_ws(d);
    int rc;

    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    if (c == '[') {
        if (json_enter(d) < 0)
            return -1;
        json_eat(d);
        rc = visit_struct_seq(d, desc, out);
        json_leave(d);
        if (json_end_seq(d) < 0)
            rc = -1;
    } else if (c == '{') {
        if (json_enter(d) < 0)
            return -1;
        json_eat(d);
        rc = visit_struct_map(d, desc, out);
        json_leave(d);
        if (json_end_map(d) < 0)
            rc = -1;
    } else {
        char exp[128];

        snprintf(exp, sizeof(exp), "struct %s", desc->rust_name);
        rc = json_peek_invalid_type(d, exp);
    }
    if (rc < 0)
        json_dec_fix_position(d);
    return rc;
}

