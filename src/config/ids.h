/*
 * ids.h: upstream's id rules: the resource ids of PUT/PATCH /drives/{id},
 * /pmem/{id} and /network-interfaces/{id} (digest 1.3), and the character
 * rule they share with the --id command-line flag.
 *
 * Firecracker validates ids with Rust's char::is_alphanumeric(): the
 * resource ids (checked_id()) and --id (validate_instance_id(), in squib's
 * command line and the jailer's). All use utf8_is_alphanumeric()
 * (util/utf8.h), so they agree with upstream and with each other.
 */
#ifndef SQUIB_CONFIG_IDS_H
#define SQUIB_CONFIG_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Upstream's texts for the rules below. */
#define IDS_ERR_EMPTY "The ID cannot be empty."
#define IDS_ERR_CHARS                                                          \
    "API Resource IDs can only contain alphanumeric characters and "           \
    "underscores."
#define IDS_ERR_BODY_MISMATCH                                                  \
    "The id from the path does not match the id from the body!"
/* printf format: path id, then body id, each as "%.*s" (int len, ptr). */
#define IDS_ERR_IFACE_MISMATCH_FMT                                             \
    "The id from the path [%.*s] does not match the id from the body [%.*s]!"

/*
 * Upstream's checked_id() on the path token, done before the body is
 * parsed: empty (or missing: pass len 0) -> IDS_ERR_EMPTY; any character
 * other than '_' and Rust's char::is_alphanumeric() (Unicode letters and
 * numbers, so "-" and "." are refused) -> IDS_ERR_CHARS. Bytes that are not
 * UTF-8 are refused the same way. Returns 0 or -EINVAL.
 */
int schemas_check_path_id(const char *id, size_t len, struct sq_err *err);

/* After parsing, drives and pmem: IDS_ERR_BODY_MISMATCH unless the two are
 * byte-equal. */
int schemas_check_body_id(const char *path_id, size_t path_len,
                          const char *body_id, size_t body_len,
                          struct sq_err *err);

/* After parsing, network interfaces: IDS_ERR_IFACE_MISMATCH_FMT unless
 * byte-equal. */
int schemas_check_iface_id(const char *path_id, size_t path_len,
                           const char *body_id, size_t body_len,
                           struct sq_err *err);

#endif
