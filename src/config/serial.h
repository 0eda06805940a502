/*
 * serial.h: PUT /serial, upstream's SerialConfig (strict;
 * vmm_config/serial.rs).
 */
#ifndef SQUIB_CONFIG_SERIAL_H
#define SQUIB_CONFIG_SERIAL_H

#include <stdbool.h>
#include <stddef.h>

#include "config/rate_limiter.h"
#include "util/err.h"

struct serial_cfg {
    char *serial_out_path; /* owned; NULL = None */
    bool has_rate_limiter; /* a TokenBucketConfig, not a RateLimiterConfig */
    struct token_bucket_cfg rate_limiter;
};

int serial_cfg_parse(const char *body, size_t len, struct serial_cfg *out,
                     struct sq_err *err);
void serial_cfg_fini(struct serial_cfg *s);

#endif
