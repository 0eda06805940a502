/*
 * store.c: the MMDS data store (see store.h).
 *
 * The limit check measures the serialized length of the candidate document
 * without building the string (json_value_serialized_len), so an oversized
 * PATCH costs one tree copy and one walk, and nothing is kept on failure.
 */
#include "mmds/store.h"

#include <errno.h>
#include <stdlib.h>

#include "util/xalloc.h"

struct mmds_store {
    struct json_value *data; /* owned; NULL until the first PUT */
    bool initialized;
    size_t limit;
    enum mmds_version version;
    bool imds_compat;
    char *aad;                  /* owned; NULL until PUT /mmds/config */
    struct mmds_tokens *tokens; /* owned; NULL until mmds_store_tokens() */
};

struct mmds_store *mmds_store_new(size_t limit)
{
    struct mmds_store *s = xcalloc(1, sizeof(*s));

    s->limit = limit;
    s->version = MMDS_VERSION_V1;
    return s;
}

void mmds_store_free(struct mmds_store *s)
{
    if (!s)
        return;
    json_value_free(s->data);
    free(s->aad);
    mmds_tokens_free(s->tokens);
    free(s);
}

int mmds_store_put(struct mmds_store *s, struct json_value *data,
                   struct sq_err *err)
{
    if (json_value_serialized_len(data) > s->limit) {
        json_value_free(data);
        return sq_errf(err, -EFBIG, MMDS_ERR_LIMIT_EXCEEDED);
    }
    json_value_free(s->data);
    s->data = data;
    s->initialized = true;
    return 0;
}

int mmds_store_patch(struct mmds_store *s, const struct json_value *patch,
                     struct sq_err *err)
{
    struct json_value *copy;

    if (!s->initialized)
        return sq_errf(err, -ENODATA, MMDS_ERR_NOT_INITIALIZED);
    copy = s->data ? json_value_clone(s->data) : json_new_null();
    json_merge_patch(&copy, patch);
    if (json_value_serialized_len(copy) > s->limit) {
        json_value_free(copy);
        return sq_errf(err, -EFBIG, MMDS_ERR_LIMIT_EXCEEDED);
    }
    json_value_free(s->data);
    s->data = copy;
    return 0;
}

void mmds_store_render(const struct mmds_store *s, struct buf *b)
{
    if (!s || !s->data || s->data->type == JSON_NULL) {
        buf_puts(b, "{}");
        return;
    }
    json_value_write(s->data, b);
}

const struct json_value *mmds_store_data(const struct mmds_store *s)
{
    return s->data;
}

bool mmds_store_is_initialized(const struct mmds_store *s)
{
    return s->initialized;
}

void mmds_store_set_version(struct mmds_store *s, enum mmds_version v)
{
    s->version = v;
}

enum mmds_version mmds_store_version(const struct mmds_store *s)
{
    return s->version;
}

void mmds_store_set_imds_compat(struct mmds_store *s, bool on)
{
    s->imds_compat = on;
}

bool mmds_store_imds_compat(const struct mmds_store *s)
{
    return s->imds_compat;
}

void mmds_store_set_aad(struct mmds_store *s, const char *instance_id)
{
    free(s->aad);
    s->aad = xstrdup(instance_id ? instance_id : "");
}

const char *mmds_store_aad(const struct mmds_store *s)
{
    return s->aad;
}

size_t mmds_store_limit(const struct mmds_store *s)
{
    return s->limit;
}

int mmds_store_tokens(struct mmds_store *s, struct mmds_tokens **out,
                      struct sq_err *err)
{
    if (!s->tokens) {
        char os[128];
        int rc = mmds_tokens_new(&s->tokens);

        if (rc < 0)
            return sq_errf(err, rc,
                           "The MMDS token authority could not be created: "
                           "%s",
                           sq_os_error(-rc, os, sizeof(os)));
    }
    *out = s->tokens;
    return 0;
}
