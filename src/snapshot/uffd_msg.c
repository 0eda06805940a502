/*
 * uffd_msg.c: the Uffd handshake's JSON region list, written by squib and
 * read by squib-uffd-handler (uffd_msg.h).
 */
#include "snapshot/uffd_msg.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "util/json.h"

void uffd_msg_write(const struct uffd_region_map *maps, size_t n, struct buf *b)
{
    /* upstream's field order; page_size_kib is its deprecated duplicate,
     * in bytes (persist.rs). */
    static const char *const keys[] = {"base_host_virt_addr", "size", "offset",
                                       "page_size", "page_size_kib"};

    buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        const uint64_t vals[] = {maps[i].base_host_virt_addr, maps[i].size,
                                 maps[i].offset, maps[i].page_size,
                                 maps[i].page_size};

        buf_puts(b, i ? ",{" : "{");
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            if (k)
                buf_putc(b, ',');
            json_write_key(b, keys[k]);
            json_write_u64(b, vals[k]);
        }
        buf_putc(b, '}');
    }
    buf_putc(b, ']');
}

int uffd_msg_complete(const char *text, size_t len)
{
    size_t i = 0, depth = 0;
    bool in_str = false, esc = false;

    while (i < len && text[i] && strchr(" \t\r\n", text[i]))
        i++;
    if (i == len)
        return 0;
    if (text[i] != '[')
        return -1;
    for (; i < len; i++) {
        char c = text[i];

        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"')
            in_str = true;
        else if (c == '[' || c == '{')
            depth++;
        else if ((c == ']' || c == '}') && depth > 0 && --depth == 0)
            return 1;
    }
    return 0;
}

/* One required u64 member of entry i. */
static int get_u64(const struct json_value *obj, size_t i, const char *key,
                   uint64_t *out, struct sq_err *err)
{
    const struct json_value *v = json_object_get(obj, key, strlen(key));

    if (!v)
        return sq_errf(err, -EINVAL, "region %zu: missing field `%s`", i, key);
    if (v->type != JSON_NUMBER || v->num.kind != JSON_NUM_U64)
        return sq_errf(err, -EINVAL,
                       "region %zu: `%s` is not an unsigned integer", i, key);
    *out = v->num.u;
    return 0;
}

static int read_entry(const struct json_value *obj, size_t i,
                      struct uffd_region_map *m, struct sq_err *err)
{
    if (obj->type != JSON_OBJECT)
        return sq_errf(err, -EINVAL, "region %zu is not an object", i);
    if (get_u64(obj, i, "base_host_virt_addr", &m->base_host_virt_addr, err) <
            0 ||
        get_u64(obj, i, "size", &m->size, err) < 0 ||
        get_u64(obj, i, "offset", &m->offset, err) < 0 ||
        get_u64(obj, i, "page_size", &m->page_size, err) < 0)
        return -EINVAL;
    return 0;
}

/* The rules a single entry must follow on its own. */
static int check_entry(const struct uffd_region_map *m, size_t i,
                       uint64_t page_size, struct sq_err *err)
{
    uint64_t end;

    if (m->page_size != page_size)
        return sq_errf(err, -EINVAL,
                       "region %zu: page_size %llu differs from the first "
                       "region's %llu",
                       i, (unsigned long long)m->page_size,
                       (unsigned long long)page_size);
    if (m->size == 0 || m->size % page_size)
        return sq_errf(err, -EINVAL,
                       "region %zu: size %llu is not a positive multiple of "
                       "the page size",
                       i, (unsigned long long)m->size);
    if (m->base_host_virt_addr % page_size)
        return sq_errf(err, -EINVAL,
                       "region %zu: base_host_virt_addr is not aligned to "
                       "the page size",
                       i);
    if (__builtin_add_overflow(m->base_host_virt_addr, m->size, &end) ||
        __builtin_add_overflow(m->offset, m->size, &end))
        return sq_errf(err, -EINVAL,
                       "region %zu: the region wraps around the address "
                       "space or the file offset",
                       i);
    return 0;
}

static int check_all(const struct uffd_region_map *maps, size_t n,
                     struct sq_err *err)
{
    uint64_t ps = maps[0].page_size;

    if (ps < 4096 || (ps & (ps - 1)))
        return sq_errf(err, -EINVAL,
                       "page_size %llu is not a power of two of at least "
                       "4096",
                       (unsigned long long)ps);
    for (size_t i = 0; i < n; i++) {
        if (check_entry(&maps[i], i, ps, err) < 0)
            return -EINVAL;
        for (size_t j = 0; j < i; j++) {
            const struct uffd_region_map *a = &maps[i], *b = &maps[j];

            /* Both ends are known not to wrap (check_entry). */
            if (a->base_host_virt_addr < b->base_host_virt_addr + b->size &&
                b->base_host_virt_addr < a->base_host_virt_addr + a->size)
                return sq_errf(err, -EINVAL, "regions %zu and %zu overlap", j,
                               i);
        }
    }
    return 0;
}

int uffd_msg_parse(const char *text, size_t len, struct uffd_region_map *out,
                   size_t *n, struct sq_err *err)
{
    struct json_value *doc = NULL;
    int rc;

    *n = 0;
    if (len > UFFD_MSG_MAX_LEN)
        return sq_errf(err, -EINVAL, "the message is longer than %d bytes",
                       UFFD_MSG_MAX_LEN);
    rc = json_parse(text, len, &doc, err);
    if (rc < 0)
        return rc;
    if (doc->type != JSON_ARRAY)
        rc = sq_errf(err, -EINVAL, "the message is not a JSON array");
    else if (doc->arr.n == 0)
        rc = sq_errf(err, -EINVAL, "the message lists no region");
    else if (doc->arr.n > UFFD_MSG_MAX_REGIONS)
        rc = sq_errf(err, -EINVAL, "the message lists more than %d regions",
                     UFFD_MSG_MAX_REGIONS);
    for (size_t i = 0; rc == 0 && i < doc->arr.n; i++)
        rc = read_entry(doc->arr.items[i], i, &out[i], err);
    if (rc == 0)
        rc = check_all(out, doc->arr.n, err);
    if (rc == 0)
        *n = doc->arr.n;
    json_value_free(doc);
    return rc;
}
