/*
 * rate_limiter.h: TokenBucketConfig (non-strict) and RateLimiterConfig
 * (strict), the rate limiter shared by drives, pmem, network interfaces
 * and entropy (upstream vmm_config/mod.rs). The serial port takes a bare
 * TokenBucketConfig.
 */
#ifndef SQUIB_CONFIG_RATE_LIMITER_H
#define SQUIB_CONFIG_RATE_LIMITER_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"

struct token_bucket_cfg {
    uint64_t size;
    bool has_one_time_burst; /* Option<u64>: absent/null -> false */
    uint64_t one_time_burst;
    uint64_t refill_time; /* ms */
};

struct rate_limiter_cfg {
    bool has_bandwidth; /* Option<TokenBucketConfig> */
    struct token_bucket_cfg bandwidth;
    bool has_ops;
    struct token_bucket_cfg ops;
};

/* {"size":N,"one_time_burst":N|null,"refill_time":N} */
void token_bucket_cfg_to_json(const struct token_bucket_cfg *tb, struct buf *b);
/* {"bandwidth":{..}|null,"ops":{..}|null} */
void rate_limiter_cfg_to_json(const struct rate_limiter_cfg *rl, struct buf *b);

#endif
