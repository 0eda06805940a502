/*
 * rate_limiter_snap.h: a rate limiter's buckets for a snapshot, as
 * upstream's RateLimiterState keeps them (rate_limiter/persist.rs): per
 * bucket its size, what is left of its one-time burst, its refill time,
 * its budget and the time since its last update. The timer is not part of
 * it: a restored limiter is not blocked (upstream makes a new timerfd).
 */
#ifndef SQUIB_DEVICES_RATE_LIMITER_SNAP_H
#define SQUIB_DEVICES_RATE_LIMITER_SNAP_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/rate_limiter.h"

/* Upstream's TokenBucketState. */
struct token_bucket_state {
    uint64_t size;
    uint64_t one_time_burst; /* what was left of it */
    uint64_t refill_time_ms;
    uint64_t budget;
    uint64_t elapsed_ns; /* since the bucket's last update */
};

/* Upstream's RateLimiterState: an absent bucket is has_* = false. */
struct rate_limiter_state {
    bool has_bandwidth, has_ops;
    struct token_bucket_state bandwidth, ops;
};

/* The buckets of rl at its clock's now. */
void rate_limiter_save(const struct rate_limiter *rl,
                       struct rate_limiter_state *out);

/*
 * Replace rl's buckets (rl initialised, its timerfd kept) with the saved
 * ones, as upstream's TokenBucket::restore: a bucket built from size,
 * one-time burst and refill time, then its budget (at most its size) and
 * a last update `elapsed_ns` before now (now itself if the clock is not
 * that old). A saved bucket that cannot be built (size or refill time 0)
 * is -EINVAL, upstream's InvalidInput; rl is then unchanged. The limiter
 * is left unblocked.
 */
int rate_limiter_restore(struct rate_limiter *rl,
                         const struct rate_limiter_state *s);

#endif
