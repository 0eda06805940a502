/*
 * common.c: helpers shared by the config/ files (the top-level decode,
 * vectors of described structs, Rust's unsigned from_str_radix; see
 * config_int.h).
 */
#include "config/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "util/xalloc.h"

/* ====================================================================== */
/* Generic helpers                                                         */

int schemas_top_struct(struct json_dec *d, void *ctx)
{
    struct top_ctx *t = ctx;

    return json_dec_struct(d, t->desc, t->out);
}

/* serde_json::from_slice::<T> as an API body: errors get upstream's
 * RequestError::SerdeJson text. */
int schemas_api_parse(const char *body, size_t len,
                      const struct json_struct_desc *desc, void *out,
                      struct sq_err *err)
{
    struct top_ctx t = {desc, out};

    return json_decode(body, len, schemas_top_struct, &t, SCHEMAS_SERDE_PREFIX,
                       ".", err);
}

/* Append a new zeroed element to a (ptr, count) vector; returns it. */
void *schemas_vec_push(void **arr, size_t *n, size_t elem_size)
{
    char *p;

    if (*n >= SIZE_MAX / elem_size - 1)
        xalloc_die(SIZE_MAX);
    *arr = xrealloc(*arr, (*n + 1) * elem_size);
    p = (char *)*arr + *n * elem_size;
    memset(p, 0, elem_size);
    (*n)++;
    return p;
}

/* A Vec<T> of described structs, for custom fields whose len_offset names
 * the count and whose offset names the array pointer. */
struct vec_ctx {
    void **arr;
    size_t *n;
    size_t elem_size;
    const struct json_struct_desc *desc;
    void (*init)(void *elem); /* defaults; NULL = all zero */
};

static int vec_struct_elem(struct json_dec *d, void *ctx, size_t index)
{
    struct vec_ctx *v = ctx;
    void *elem = schemas_vec_push(v->arr, v->n, v->elem_size);

    (void)index;
    if (v->init)
        v->init(elem);
    return json_dec_struct(d, v->desc, elem);
}

int schemas_dec_vec_struct(struct json_dec *d, void *field_ptr,
                           const struct json_field *f, size_t elem_size,
                           const struct json_struct_desc *desc,
                           void (*init)(void *))
{
    /* the count lives at len_offset relative to the same container */
    char *base = (char *)field_ptr - f->offset;
    struct vec_ctx v = {
        .arr = field_ptr,
        .n = (size_t *)(base + f->len_offset - 1),
        .elem_size = elem_size,
        .desc = desc,
        .init = init,
    };

    return json_dec_seq(d, "a sequence", vec_struct_elem, &v);
}

/* Rust's from_str_radix for unsigned types (see config_int.h). */
enum pie_kind schemas_parse_uint(const char *s, size_t n, unsigned radix,
                                 uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;

    if (n == 0)
        return PIE_EMPTY;
    if (s[0] == '+' || s[0] == '-') {
        if (n == 1)
            return PIE_INVALID_DIGIT;
        if (s[0] == '+')
            i = 1;
    }
    for (; i < n; i++) {
        unsigned c = (unsigned char)s[i], dv;

        if (c >= '0' && c <= '9')
            dv = c - '0';
        else if (c >= 'a' && c <= 'z')
            dv = c - 'a' + 10;
        else if (c >= 'A' && c <= 'Z')
            dv = c - 'A' + 10;
        else
            dv = 99;
        if (dv >= radix)
            return PIE_INVALID_DIGIT;
        if (v > (max - dv) / radix)
            return PIE_POS_OVERFLOW;
        v = v * radix + dv;
    }
    *out = v;
    return PIE_OK;
}
