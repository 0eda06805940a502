/*
 * fingerprint.h: the host fingerprint of upstream's cpu-template-helper
 * (its Fingerprint struct: serde derive, not strict), read and written as
 * JSON.
 *
 * Keys, in declaration order: firecracker_version, kernel_version,
 * microcode_version, bios_version, bios_revision (strings) and
 * guest_cpu_config (a custom CPU template, strict as cpu-config is).
 * Every key is required; unknown keys are ignored.
 */
#ifndef SQUIB_CONFIG_FINGERPRINT_H
#define SQUIB_CONFIG_FINGERPRINT_H

#include <stddef.h>

#include "config/cpu_template.h"
#include "util/buf.h"
#include "util/err.h"

/* The fields, in order; FINGERPRINT_GUEST_CPU_CONFIG is the last. */
enum fingerprint_field {
    FINGERPRINT_FIRECRACKER_VERSION,
    FINGERPRINT_KERNEL_VERSION,
    FINGERPRINT_MICROCODE_VERSION,
    FINGERPRINT_BIOS_VERSION,
    FINGERPRINT_BIOS_REVISION,
    FINGERPRINT_GUEST_CPU_CONFIG,
    FINGERPRINT_N_FIELDS,
};

struct fingerprint {
    /* The five strings, indexed by enum fingerprint_field (owned,
     * NUL-terminated; the length beside each, as a string may hold NUL). */
    char *str[FINGERPRINT_GUEST_CPU_CONFIG];
    size_t str_len[FINGERPRINT_GUEST_CPU_CONFIG];
    struct cpu_template guest_cpu_config;
};

/* The JSON key of a field ("kernel_version", ...); NULL when out of range. */
const char *fingerprint_field_name(enum fingerprint_field f);

/*
 * serde_json::from_str::<Fingerprint>: 0 and *out (release with
 * fingerprint_fini), or -EINVAL with serde's bare message in err
 * ("missing field `bios_version` at line 7 column 1", ...).
 */
int fingerprint_parse(const char *json, size_t len, struct fingerprint *out,
                      struct sq_err *err);
/* Free what the fingerprint owns; NULL-safe, idempotent. */
void fingerprint_fini(struct fingerprint *f);

/* serde_json::to_string_pretty of it, appended to b (no final newline). */
void fingerprint_to_json(const struct fingerprint *f, struct buf *b);

#endif
