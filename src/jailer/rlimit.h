/*
 * rlimit.h: --resource-limit, as upstream's resource_limits.rs and
 * Env::parse_resource_limits.
 *
 * Each argument is "name=value", split at the first '='; the value is a
 * u64 as Rust's str::parse reads it, and the name is "fsize"
 * (RLIMIT_FSIZE) or "no-file" (RLIMIT_NOFILE). RLIMIT_NOFILE is always
 * set (2048 unless given); RLIMIT_FSIZE only when given. Both soft and
 * hard limits take the value. A later argument for the same name wins.
 */
#ifndef SQUIB_JAILER_RLIMIT_H
#define SQUIB_JAILER_RLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jailer/error.h"

#define JAIL_RLIMIT_NO_FILE_DEFAULT 2048

struct jail_rlimits {
    bool has_file_size;
    uint64_t file_size;
    uint64_t no_file; /* JAIL_RLIMIT_NO_FILE_DEFAULT unless given */
};

/* The defaults: no file size limit, 2048 file descriptors. */
void jail_rlimits_init(struct jail_rlimits *r);

/*
 * Parse the n "name=value" strings into *r, in order, stopping at the
 * first bad one. Returns 0, or -EINVAL with *err set to upstream's
 * ResLimitFormat ("Invalid format for resources limits: {arg}", no '='),
 * ResLimitValue ("Invalid limit value for resource: {value}: {why}", why
 * being Rust's ParseIntError text) or ResLimitArgument ("Invalid resource
 * argument: {name}"), checked in that order.
 */
int jail_rlimits_parse(struct jail_rlimits *r, const char *const *args,
                       size_t n, struct jail_err *err);

/* setrlimit() them: RLIMIT_FSIZE first if set, then RLIMIT_NOFILE.
 * Returns 0, or -errno with *err set to upstream's Setrlimit ("Failed to
 * set limit for resource: size of file" / "number of file descriptors"). */
int jail_rlimits_install(const struct jail_rlimits *r, struct jail_err *err);

/*
 * Rust's str::parse::<u64>() on s: an optional '+' then ASCII digits.
 * Returns 0 with *out set, or -EINVAL with *why set to ParseIntError's
 * text: "cannot parse integer from empty string", "invalid digit found in
 * string" or "number too large to fit in target type". max bounds the
 * value (UINT64_MAX for u64, 255 for u8, ...).
 */
int jail_parse_uint(const char *s, uint64_t max, uint64_t *out,
                    const char **why);

#endif
