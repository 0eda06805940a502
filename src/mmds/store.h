/*
 * store.h: the MMDS data store, host side (digest 8.1; upstream's
 * mmds::data_store::Mmds without the token authority).
 *
 * One store per process, created lazily by the vmm thread on first MMDS use.
 * It holds an arbitrary JSON document (a util/json.h DOM, whose objects keep
 * their keys sorted, so every rendering lists keys alphabetically), plus the
 * MMDS version and IMDS-compat flag that PUT /mmds/config sets. The size
 * limit applies to the compact serialization of the *whole* document after
 * a PUT or PATCH; a request that would exceed it leaves the store unchanged.
 *
 * The guest-facing side (network stack, tokens) reads the store through
 * mmds_store_data() on the vmm thread; nothing here is thread-safe.
 *
 * As upstream's Mmds holds its TokenAuthority, the store owns the V2 token
 * authority (mmds/token.h), created on first use so that its random key is
 * drawn only by a process that serves the MMDS to a guest.
 */
#ifndef SQUIB_MMDS_STORE_H
#define SQUIB_MMDS_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "mmds/token.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/json.h"

/* Upstream's texts (MmdsDatastoreError's Display). */
#define MMDS_ERR_LIMIT_EXCEEDED  "The MMDS patch request doesn't fit."
#define MMDS_ERR_NOT_INITIALIZED "The MMDS data store is not initialized."

struct mmds_store;

/* A new, uninitialised store (document null) with `limit` bytes. */
struct mmds_store *mmds_store_new(size_t limit);
void mmds_store_free(struct mmds_store *s);

/*
 * PUT: replace the document with `data` (takes ownership of `data` in every
 * case). Returns 0, or -EFBIG (err->msg = MMDS_ERR_LIMIT_EXCEEDED) when its
 * compact serialization is longer than the limit; the store is unchanged.
 * A successful PUT marks the store initialised, even for `null`.
 */
int mmds_store_put(struct mmds_store *s, struct json_value *data,
                   struct sq_err *err);

/*
 * PATCH: RFC 7396 merge `patch` (borrowed) into a copy of the document and
 * keep it if it fits. Returns 0, -ENODATA (MMDS_ERR_NOT_INITIALIZED) before
 * any successful PUT, or -EFBIG (MMDS_ERR_LIMIT_EXCEEDED).
 */
int mmds_store_patch(struct mmds_store *s, const struct json_value *patch,
                     struct sq_err *err);

/* Append the GET /mmds body: the compact document, or "{}" when it is null
 * (also before any PUT), as upstream's API server does. */
void mmds_store_render(const struct mmds_store *s, struct buf *b);

/* The document (NULL before the first PUT); borrowed. */
const struct json_value *mmds_store_data(const struct mmds_store *s);
bool mmds_store_is_initialized(const struct mmds_store *s);

/* MMDS version (V1 until PUT /mmds/config says otherwise). */
void mmds_store_set_version(struct mmds_store *s, enum mmds_version v);
enum mmds_version mmds_store_version(const struct mmds_store *s);
/* IMDS compatibility: text output whatever the Accept header. */
void mmds_store_set_imds_compat(struct mmds_store *s, bool on);
bool mmds_store_imds_compat(const struct mmds_store *s);
/* The instance id for the token AAD ("microvmid={id}" is built by the token
 * code); copied. mmds_store_aad() is NULL until set; borrowed. */
void mmds_store_set_aad(struct mmds_store *s, const char *instance_id);
const char *mmds_store_aad(const struct mmds_store *s);
/*
 * The token authority, created with a fresh key on the first call. Returns
 * 0 and *out (borrowed; lives as long as the store), or the negative errno
 * of mmds_tokens_new() with err set ("The MMDS token authority could not be
 * created: ...").
 */
int mmds_store_tokens(struct mmds_store *s, struct mmds_tokens **out,
                      struct sq_err *err);
/* The size limit in bytes given at creation. */
size_t mmds_store_limit(const struct mmds_store *s);

#endif
