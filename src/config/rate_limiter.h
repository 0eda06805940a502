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

/* Normalise a rate limiter the way upstream reports it: a bucket with size 0
 * or refill_time 0 (or whose refill time in nanoseconds overflows a u64:
 * TokenBucket::new returns None) is disabled (removed), a one_time_burst of
 * 0 is absent. Returns false when no bucket is left (the limiter is
 * reported as null). */
bool rate_limiter_cfg_normalise(struct rate_limiter_cfg *rl);

/*
 * Apply a PATCH rate limiter (RateLimiterUpdate semantics) to a stored,
 * normalised one: an absent update changes nothing; in a present update, an
 * absent or null bucket is unchanged, a bucket with size 0 or refill_time 0
 * is removed, any other bucket replaces the current one. *has is cleared
 * when no bucket is left. For the devices' PATCH handlers, which update
 * the running device and then the stored configuration.
 */
void rate_limiter_cfg_update(bool *has, struct rate_limiter_cfg *cur,
                             bool upd_has, const struct rate_limiter_cfg *upd);

/* Store a limiter as the device reports it back: *dst becomes a normalised
 * copy of *src (zeroed when !src_has), and *has says whether any bucket is
 * left. */
void rate_limiter_cfg_store(bool *has, struct rate_limiter_cfg *dst,
                            bool src_has, const struct rate_limiter_cfg *src);

#endif
