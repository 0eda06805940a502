/*
 * entropy.h: PUT /entropy, upstream's EntropyDeviceConfig (strict;
 * vmm_config/entropy.rs).
 */
#ifndef SQUIB_CONFIG_ENTROPY_H
#define SQUIB_CONFIG_ENTROPY_H

#include <stdbool.h>
#include <stddef.h>

#include "config/rate_limiter.h"
#include "util/buf.h"
#include "util/err.h"

struct entropy_cfg {
    bool has_rate_limiter;
    struct rate_limiter_cfg rate_limiter;
};

int entropy_cfg_parse(const char *body, size_t len, struct entropy_cfg *out,
                      struct sq_err *err);
void entropy_cfg_fini(struct entropy_cfg *e);
/* {"rate_limiter":..|null} */
void entropy_cfg_to_json(const struct entropy_cfg *e, struct buf *b);

#endif
