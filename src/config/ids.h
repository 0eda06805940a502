/*
 * ids.h: the resource-id rules of PUT/PATCH /drives/{id}, /pmem/{id} and
 * /network-interfaces/{id} (digest 1.3).
 */
#ifndef SQUIB_CONFIG_IDS_H
#define SQUIB_CONFIG_IDS_H

#include <stddef.h>

#include "util/err.h"

/*
 * Upstream's checked_id() on the path token, done before the body is
 * parsed: empty (or missing: pass len 0) -> "The ID cannot be empty.";
 * any character other than '_' and Rust's char::is_alphanumeric() (Unicode
 * letters and numbers, so "-" and "." are refused) -> "API Resource IDs can
 * only contain alphanumeric characters and underscores.". Bytes that are
 * not UTF-8 are refused the same way. Returns 0 or -EINVAL.
 */
int schemas_check_path_id(const char *id, size_t len, struct sq_err *err);

/* After parsing, drives and pmem: "The id from the path does not match the
 * id from the body!" unless the two are byte-equal. */
int schemas_check_body_id(const char *path_id, size_t path_len,
                          const char *body_id, size_t body_len,
                          struct sq_err *err);

/* After parsing, network interfaces: "The id from the path [{path}] does
 * not match the id from the body [{body}]!" unless byte-equal. */
int schemas_check_iface_id(const char *path_id, size_t path_len,
                           const char *body_id, size_t body_len,
                           struct sq_err *err);

#endif
