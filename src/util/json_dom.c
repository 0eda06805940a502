/*
 * json_dom.c: the JSON value tree (serde_json::Value with BTreeMap objects):
 * construction, comparison, compact serialization and its length, RFC 7396
 * merge patch, JSON Pointer lookup, and parsing through the decoder's
 * deserialize_any (see json.h).
 */
#include "util/json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_int.h"
#include "util/sort.h"
#include "util/xalloc.h"

/* ====================================================================== */
/* DOM                                                                     */

static struct json_value *new_value(enum json_type t)
{
    struct json_value *v = xcalloc(1, sizeof(*v));

    v->type = t;
    return v;
}

struct json_value *json_new_null(void)
{
    return new_value(JSON_NULL);
}

struct json_value *json_new_bool(bool b)
{
    struct json_value *v = new_value(JSON_BOOL);

    v->boolean = b;
    return v;
}

struct json_value *json_new_u64(uint64_t u)
{
    struct json_value *v = new_value(JSON_NUMBER);

    v->num.kind = JSON_NUM_U64;
    v->num.u = u;
    return v;
}

struct json_value *json_new_i64(int64_t i)
{
    struct json_value *v;

    if (i >= 0)
        return json_new_u64((uint64_t)i);
    v = new_value(JSON_NUMBER);
    v->num.kind = JSON_NUM_I64;
    v->num.i = i;
    return v;
}

struct json_value *json_new_f64(double f)
{
    struct json_value *v;

    if (!isfinite(f))
        return json_new_null();
    v = new_value(JSON_NUMBER);
    v->num.kind = JSON_NUM_F64;
    v->num.f = f;
    return v;
}

struct json_value *json_new_str(const char *s, size_t n)
{
    struct json_value *v = new_value(JSON_STRING);

    v->str.ptr = xmalloc(n + 1);
    if (n)
        memcpy(v->str.ptr, s, n);
    v->str.ptr[n] = '\0';
    v->str.len = n;
    return v;
}

struct json_value *json_new_array(void)
{
    return new_value(JSON_ARRAY);
}

struct json_value *json_new_object(void)
{
    return new_value(JSON_OBJECT);
}

void json_value_free(struct json_value *v)
{
    size_t i;

    if (!v)
        return;
    switch (v->type) {
    case JSON_STRING:
        free(v->str.ptr);
        break;
    case JSON_ARRAY:
        for (i = 0; i < v->arr.n; i++)
            json_value_free(v->arr.items[i]);
        free(v->arr.items);
        break;
    case JSON_OBJECT:
        for (i = 0; i < v->obj.n; i++) {
            free(v->obj.members[i].key);
            json_value_free(v->obj.members[i].value);
        }
        free(v->obj.members);
        break;
    default:
        break;
    }
    free(v);
}

struct json_value *json_value_clone(const struct json_value *v)
{
    struct json_value *c;
    size_t i;

    switch (v->type) {
    case JSON_STRING:
        return json_new_str(v->str.ptr, v->str.len);
    case JSON_ARRAY:
        c = json_new_array();
        for (i = 0; i < v->arr.n; i++)
            json_array_push(c, json_value_clone(v->arr.items[i]));
        return c;
    case JSON_OBJECT:
        c = json_new_object();
        c->obj.members =
            xmalloc((v->obj.n ? v->obj.n : 1) * sizeof(*c->obj.members));
        c->obj.cap = v->obj.n ? v->obj.n : 1;
        for (i = 0; i < v->obj.n; i++) {
            const struct json_member *m = &v->obj.members[i];

            c->obj.members[i].key = xmalloc(m->key_len + 1);
            memcpy(c->obj.members[i].key, m->key, m->key_len + 1);
            c->obj.members[i].key_len = m->key_len;
            c->obj.members[i].value = json_value_clone(m->value);
        }
        c->obj.n = v->obj.n;
        return c;
    default:
        c = new_value(v->type);
        *c = *v;
        return c;
    }
}

void json_array_push(struct json_value *arr, struct json_value *item)
{
    if (arr->arr.n == arr->arr.cap) {
        arr->arr.cap = arr->arr.cap ? arr->arr.cap * 2 : 4;
        arr->arr.items =
            xrealloc(arr->arr.items, arr->arr.cap * sizeof(*arr->arr.items));
    }
    arr->arr.items[arr->arr.n++] = item;
}

/* Bytewise key order (Rust's String Ord). */
int json_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;

    if (c)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* Binary search: index of key, or where it would go (*found = false). */
static size_t obj_find(const struct json_value *obj, const char *key,
                       size_t key_len, bool *found)
{
    size_t lo = 0, hi = obj->obj.n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct json_member *m = &obj->obj.members[mid];
        int c = json_key_cmp(m->key, m->key_len, key, key_len);

        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

void json_object_set(struct json_value *obj, const char *key, size_t key_len,
                     struct json_value *value)
{
    bool found;
    size_t i = obj_find(obj, key, key_len, &found);
    struct json_member *m;

    if (found) {
        json_value_free(obj->obj.members[i].value);
        obj->obj.members[i].value = value;
        return;
    }
    if (obj->obj.n == obj->obj.cap) {
        obj->obj.cap = obj->obj.cap ? obj->obj.cap * 2 : 4;
        obj->obj.members = xrealloc(obj->obj.members,
                                    obj->obj.cap * sizeof(*obj->obj.members));
    }
    memmove(&obj->obj.members[i + 1], &obj->obj.members[i],
            (obj->obj.n - i) * sizeof(*obj->obj.members));
    m = &obj->obj.members[i];
    m->key = xmalloc(key_len + 1);
    if (key_len)
        memcpy(m->key, key, key_len);
    m->key[key_len] = '\0';
    m->key_len = key_len;
    m->value = value;
    obj->obj.n++;
}

struct json_value *json_object_get(const struct json_value *obj,
                                   const char *key, size_t key_len)
{
    bool found;
    size_t i;

    if (!obj || obj->type != JSON_OBJECT)
        return NULL;
    i = obj_find(obj, key, key_len, &found);
    return found ? obj->obj.members[i].value : NULL;
}

bool json_object_remove(struct json_value *obj, const char *key, size_t key_len)
{
    bool found;
    size_t i;

    if (!obj || obj->type != JSON_OBJECT)
        return false;
    i = obj_find(obj, key, key_len, &found);
    if (!found)
        return false;
    free(obj->obj.members[i].key);
    json_value_free(obj->obj.members[i].value);
    memmove(&obj->obj.members[i], &obj->obj.members[i + 1],
            (obj->obj.n - i - 1) * sizeof(*obj->obj.members));
    obj->obj.n--;
    return true;
}

bool json_value_equal(const struct json_value *a, const struct json_value *b)
{
    size_t i;

    if (a->type != b->type)
        return false;
    switch (a->type) {
    case JSON_NULL:
        return true;
    case JSON_BOOL:
        return a->boolean == b->boolean;
    case JSON_NUMBER:
        if (a->num.kind != b->num.kind)
            return false;
        switch (a->num.kind) {
        case JSON_NUM_U64:
            return a->num.u == b->num.u;
        case JSON_NUM_I64:
            return a->num.i == b->num.i;
        case JSON_NUM_F64:
            return a->num.f == b->num.f;
        }
        return false;
    case JSON_STRING:
        return a->str.len == b->str.len &&
               memcmp(a->str.ptr, b->str.ptr, a->str.len) == 0;
    case JSON_ARRAY:
        if (a->arr.n != b->arr.n)
            return false;
        for (i = 0; i < a->arr.n; i++)
            if (!json_value_equal(a->arr.items[i], b->arr.items[i]))
                return false;
        return true;
    case JSON_OBJECT:
        if (a->obj.n != b->obj.n)
            return false;
        for (i = 0; i < a->obj.n; i++) {
            const struct json_member *x = &a->obj.members[i];
            const struct json_member *y = &b->obj.members[i];

            if (json_key_cmp(x->key, x->key_len, y->key, y->key_len) != 0 ||
                !json_value_equal(x->value, y->value))
                return false;
        }
        return true;
    }
    return false;
}

/* ---- serialization ---- */

void json_value_write(const struct json_value *v, struct buf *b)
{
    size_t i;

    switch (v->type) {
    case JSON_NULL:
        buf_puts(b, "null");
        break;
    case JSON_BOOL:
        json_write_bool(b, v->boolean);
        break;
    case JSON_NUMBER:
        if (v->num.kind == JSON_NUM_U64)
            json_write_u64(b, v->num.u);
        else if (v->num.kind == JSON_NUM_I64)
            json_write_i64(b, v->num.i);
        else
            json_write_f64(b, v->num.f);
        break;
    case JSON_STRING:
        json_write_str(b, v->str.ptr, v->str.len);
        break;
    case JSON_ARRAY:
        buf_putc(b, '[');
        for (i = 0; i < v->arr.n; i++) {
            if (i)
                buf_putc(b, ',');
            json_value_write(v->arr.items[i], b);
        }
        buf_putc(b, ']');
        break;
    case JSON_OBJECT:
        buf_putc(b, '{');
        for (i = 0; i < v->obj.n; i++) {
            if (i)
                buf_putc(b, ',');
            json_write_str(b, v->obj.members[i].key, v->obj.members[i].key_len);
            buf_putc(b, ':');
            json_value_write(v->obj.members[i].value, b);
        }
        buf_putc(b, '}');
        break;
    }
}

static size_t str_serialized_len(const char *s, size_t n)
{
    size_t len = 2, i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' ||
            c == '\r' || c == '\t')
            len += 2;
        else if (c < 0x20)
            len += 6;
        else
            len += 1;
    }
    return len;
}

size_t json_value_serialized_len(const struct json_value *v)
{
    char tmp[64];
    size_t len = 0, i;

    switch (v->type) {
    case JSON_NULL:
        return 4;
    case JSON_BOOL:
        return v->boolean ? 4 : 5;
    case JSON_NUMBER:
        if (v->num.kind == JSON_NUM_U64)
            return (size_t)snprintf(tmp, sizeof(tmp), "%llu",
                                    (unsigned long long)v->num.u);
        if (v->num.kind == JSON_NUM_I64)
            return (size_t)snprintf(tmp, sizeof(tmp), "%lld",
                                    (long long)v->num.i);
        return isfinite(v->num.f) ? json_format_f64(v->num.f, tmp) : 4;
    case JSON_STRING:
        return str_serialized_len(v->str.ptr, v->str.len);
    case JSON_ARRAY:
        len = 2 + (v->arr.n ? v->arr.n - 1 : 0);
        for (i = 0; i < v->arr.n; i++)
            len += json_value_serialized_len(v->arr.items[i]);
        return len;
    case JSON_OBJECT:
        len = 2 + (v->obj.n ? v->obj.n - 1 : 0);
        for (i = 0; i < v->obj.n; i++)
            len += str_serialized_len(v->obj.members[i].key,
                                      v->obj.members[i].key_len) +
                   1 + json_value_serialized_len(v->obj.members[i].value);
        return len;
    }
    return 0;
}

/* ---- RFC 7396 merge patch ---- */

void json_merge_patch(struct json_value **target,
                      const struct json_value *patch)
{
    size_t i;

    if (patch->type != JSON_OBJECT) {
        json_value_free(*target);
        *target = json_value_clone(patch);
        return;
    }
    if (!*target || (*target)->type != JSON_OBJECT) {
        json_value_free(*target);
        *target = json_new_object();
    }
    for (i = 0; i < patch->obj.n; i++) {
        const struct json_member *m = &patch->obj.members[i];

        if (m->value->type == JSON_NULL) {
            json_object_remove(*target, m->key, m->key_len);
        } else {
            bool found;
            size_t j = obj_find(*target, m->key, m->key_len, &found);

            if (found) {
                json_merge_patch(&(*target)->obj.members[j].value, m->value);
            } else {
                struct json_value *nv = json_new_null();

                json_merge_patch(&nv, m->value);
                json_object_set(*target, m->key, m->key_len, nv);
            }
        }
    }
}

/* ---- JSON Pointer (serde_json::Value::pointer) ---- */

/* Unescape one token as `.replace("~1", "/").replace("~0", "~")`. */
static size_t pointer_unescape(const char *s, size_t n, char *out)
{
    char *tmp = xmalloc(n + 1);
    size_t i, o = 0, t = 0;

    for (i = 0; i < n; i++) {
        if (s[i] == '~' && i + 1 < n && s[i + 1] == '1') {
            tmp[t++] = '/';
            i++;
        } else {
            tmp[t++] = s[i];
        }
    }
    for (i = 0; i < t; i++) {
        if (tmp[i] == '~' && i + 1 < t && tmp[i + 1] == '0') {
            out[o++] = '~';
            i++;
        } else {
            out[o++] = tmp[i];
        }
    }
    free(tmp);
    return o;
}

static bool pointer_index(const char *s, size_t n, size_t *out)
{
    size_t v = 0, i;

    if (n == 0 || s[0] == '+' || (s[0] == '0' && n != 1))
        return false;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v > (SIZE_MAX - (size_t)(s[i] - '0')) / 10)
            return false;
        v = v * 10 + (size_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

const struct json_value *json_pointer(const struct json_value *root,
                                      const char *ptr, size_t len)
{
    const struct json_value *cur = root;
    char *tok;
    size_t pos = 1;

    if (len == 0)
        return root;
    if (ptr[0] != '/')
        return NULL;
    tok = xmalloc(len + 1);
    for (;;) {
        size_t end = pos, tlen, idx;

        while (end < len && ptr[end] != '/')
            end++;
        tlen = pointer_unescape(ptr + pos, end - pos, tok);
        if (cur->type == JSON_OBJECT) {
            cur = json_object_get(cur, tok, tlen);
        } else if (cur->type == JSON_ARRAY) {
            cur = (pointer_index(tok, tlen, &idx) && idx < cur->arr.n)
                      ? cur->arr.items[idx]
                      : NULL;
        } else {
            cur = NULL;
        }
        if (!cur || end >= len)
            break;
        pos = end + 1;
    }
    free(tok);
    return cur;
}

/* ---- parse: Value's Deserialize through deserialize_any ---- */

static int parse_any(struct json_dec *d, struct json_value **out);

static int parse_any_array(struct json_dec *d, struct json_value *arr)
{
    bool first = true;

    for (;;) {
        struct json_value *item = NULL;
        int r = json_has_next_element(d, &first);

        if (r <= 0)
            return r;
        if (parse_any(d, &item) < 0)
            return -1;
        json_array_push(arr, item);
    }
}

/* Order members by key, equal keys by arrival (the index kept in tmp). */
struct member_sort {
    struct json_member m;
    size_t seq;
};

static int member_sort_cmp(const void *a, const void *b)
{
    const struct member_sort *x = a, *y = b;
    int c = json_key_cmp(x->m.key, x->m.key_len, y->m.key, y->m.key_len);

    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Members are collected in arrival order and sorted once at the end (a
 * sorted insert per key would be quadratic for large objects); of equal
 * keys the last one wins, as with BTreeMap::insert.
 */
static void finish_object(struct json_value *obj, struct member_sort *ms,
                          size_t n)
{
    size_t i, o = 0;

    if (n > 1)
        sq_sort(ms, n, sizeof(*ms), member_sort_cmp);
    obj->obj.members = xmalloc((n ? n : 1) * sizeof(*obj->obj.members));
    obj->obj.cap = n ? n : 1;
    for (i = 0; i < n; i++) {
        if (i + 1 < n &&
            json_key_cmp(ms[i].m.key, ms[i].m.key_len, ms[i + 1].m.key,
                         ms[i + 1].m.key_len) == 0) {
            free(ms[i].m.key);
            json_value_free(ms[i].m.value);
            continue;
        }
        obj->obj.members[o++] = ms[i].m;
    }
    obj->obj.n = o;
}

static int parse_any_object(struct json_dec *d, struct json_value *obj)
{
    struct member_sort *ms = NULL;
    size_t n = 0, cap = 0, i;
    bool first = true;
    int rc;

    for (;;) {
        struct json_value *val = NULL;
        char *key;
        size_t klen;
        int r = json_has_next_key(d, &first);

        if (r <= 0) {
            rc = r;
            break;
        }
        if (json_parse_key(d) < 0) {
            rc = -1;
            break;
        }
        klen = d->scratch.len;
        key = xmalloc(klen + 1);
        memcpy(key, d->scratch.data, klen + 1);
        if (json_parse_object_colon(d) < 0 || parse_any(d, &val) < 0) {
            free(key);
            rc = -1;
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            ms = xrealloc(ms, cap * sizeof(*ms));
        }
        ms[n].m.key = key;
        ms[n].m.key_len = klen;
        ms[n].m.value = val;
        ms[n].seq = n;
        n++;
    }
    if (rc == 0) {
        finish_object(obj, ms, n);
    } else {
        for (i = 0; i < n; i++) {
            free(ms[i].m.key);
            json_value_free(ms[i].m.value);
        }
    }
    free(ms);
    return rc;
}

static int parse_any(struct json_dec *d, struct json_value **out)
{
    struct json_number n;
    struct json_value *v = NULL;
    int c = json_dec_peek_ws(d);
    int rc = 0;

    *out = NULL;
    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    switch (c) {
    case 'n':
        json_eat(d);
        if (json_parse_ident(d, "ull") < 0)
            return -1;
        v = json_new_null();
        break;
    case 't':
        json_eat(d);
        if (json_parse_ident(d, "rue") < 0)
            return -1;
        v = json_new_bool(true);
        break;
    case 'f':
        json_eat(d);
        if (json_parse_ident(d, "alse") < 0)
            return -1;
        v = json_new_bool(false);
        break;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        if (c == '-')
            json_eat(d);
        if (json_parse_integer(d, c != '-', &n) < 0)
            return -1;
        if (n.kind == JSON_NUM_U64)
            v = json_new_u64(n.u);
        else if (n.kind == JSON_NUM_I64)
            v = json_new_i64(n.i);
        else
            v = json_new_f64(n.f);
        break;
    case '"':
        json_eat(d);
        if (json_parse_str(d) < 0)
            return -1;
        v = json_new_str(d->scratch.data, d->scratch.len);
        break;
    case '[':
        if (json_enter(d) < 0)
            return -1;
        json_eat(d);
        v = json_new_array();
        rc = parse_any_array(d, v);
        json_leave(d);
        if (json_end_seq(d) < 0)
            rc = -1;
        break;
    case '{':
        if (json_enter(d) < 0)
            return -1;
        json_eat(d);
        v = json_new_object();
        rc = parse_any_object(d, v);
        json_leave(d);
        if (json_end_map(d) < 0)
            rc = -1;
        break;
    default:
        return json_dec_peek_error(d, JSON_E_EXPECTED_VALUE);
    }
    if (rc < 0) {
        json_dec_fix_position(d);
        json_value_free(v);
        return -1;
    }
    *out = v;
    return 0;
}

int json_dec_value(struct json_dec *d, struct json_value **out)
{
    return parse_any(d, out);
}

struct parse_ctx {
    struct json_value *v;
};

static int parse_top(struct json_dec *d, void *ctx)
{
    struct parse_ctx *pc = ctx;

    return parse_any(d, &pc->v);
}

int json_parse(const char *text, size_t len, struct json_value **out,
               struct sq_err *err)
{
    struct parse_ctx pc = {NULL};
    int rc = json_decode(text, len, parse_top, &pc, NULL, NULL, err);

    if (rc < 0) {
        json_value_free(pc.v);
        *out = NULL;
        return rc;
    }
    *out = pc.v;
    return 0;
}
