/*
 * ids.c: the resource-id rules of the drives, pmem and network
 * interface routes (digest 1.3): upstream's checked_id() on the path token,
 * run before the body is parsed, and the path-id / body-id comparison run
 * after it (see ids.h).
 */
#include "config/ids.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "config/ids.h"
#include "util/utf8.h"

int schemas_check_path_id(const char *id, size_t len, struct sq_err *err)
{
    const unsigned char *p = (const unsigned char *)id;
    size_t i = 0;

    if (!id || len == 0)
        return sq_errf(err, -EINVAL, IDS_ERR_EMPTY);
    while (i < len) {
        uint32_t c;
        size_t l = utf8_decode(p + i, len - i, &c);

        if (l == 0 || (c != '_' && !utf8_is_alphanumeric(c)))
            return sq_errf(err, -EINVAL, IDS_ERR_CHARS);
        i += l;
    }
    return 0;
}

static bool same_id(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

int schemas_check_body_id(const char *path_id, size_t path_len,
                          const char *body_id, size_t body_len,
                          struct sq_err *err)
{
    if (same_id(path_id, path_len, body_id, body_len))
        return 0;
    return sq_errf(err, -EINVAL, IDS_ERR_BODY_MISMATCH);
}

int schemas_check_iface_id(const char *path_id, size_t path_len,
                           const char *body_id, size_t body_len,
                           struct sq_err *err)
{
    if (same_id(path_id, path_len, body_id, body_len))
        return 0;
    return sq_errf(err, -EINVAL, IDS_ERR_IFACE_MISMATCH_FMT, (int)path_len,
                   path_id, (int)body_len, body_id);
}
