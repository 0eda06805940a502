/*
 * rate_limiter.h: token buckets for block, entropy (and later net) devices,
 * and the bare bucket of the serial port's output.
 *
 * Upstream's RateLimiter (digest 1.5): up to two buckets, one counting
 * bytes ("bandwidth") and one counting operations ("ops"). A bucket holds
 * `size` tokens, starts full, refills `size` tokens per `refill_time_ms`
 * continuously, and may carry a one-time burst that is spent first and
 * never comes back. A bucket with size 0 or refill_time 0 is disabled
 * (everything passes).
 *
 * When a bucket runs dry the limiter arms its timerfd (100 ms, or, for a
 * request larger than the whole bucket, the time needed to pay the debt)
 * and reports "blocked" until the owner saw the timer fire and called
 * rate_limiter_timer_event(). Devices stop taking requests from their
 * queue while blocked and resume from the timer's callback on the vmm
 * loop: nothing busy-waits.
 *
 * A rate limiter is used by one thread (the vmm thread) and is not locked.
 * The clock is CLOCK_MONOTONIC unless a test installs its own.
 *
 * A token bucket can also be used on its own, as upstream's serial port
 * uses its TokenBucket: token_bucket_init() and token_bucket_reduce() with
 * the caller's clock, no timer; its owner does the locking.
 */
#ifndef SQUIB_DEVICES_RATE_LIMITER_H
#define SQUIB_DEVICES_RATE_LIMITER_H

#include <stdbool.h>
#include <stdint.h>

/* How long the limiter waits before retrying after a plain shortage. */
#define RATE_LIMITER_REFILL_TIMER_MS 100

/* User-facing bucket parameters (TokenBucket in the API). */
struct token_bucket_params {
    uint64_t size;
    uint64_t one_time_burst; /* 0 = none */
    uint64_t refill_time_ms;
};

/* RateLimiter in the API: an absent bucket is has_* = false. */
struct rate_limiter_params {
    bool has_bandwidth;
    struct token_bucket_params bandwidth;
    bool has_ops;
    struct token_bucket_params ops;
};

struct token_bucket {
    uint64_t size;
    uint64_t initial_one_time_burst;
    uint64_t refill_time_ms;
    uint64_t one_time_burst; /* what is left of it */
    uint64_t budget;
    uint64_t last_update_ns;
    /* size / refill_time_ns reduced by their gcd, so that replenishing
     * needs no floating point and loses no tokens to rounding. */
    uint64_t processed_capacity;
    uint64_t processed_refill_time;
};

enum rate_limiter_token { RL_TOKEN_BYTES, RL_TOKEN_OPS };

typedef uint64_t rate_limiter_clock_fn(void *opaque);

struct rate_limiter {
    bool has_bandwidth, has_ops;
    struct token_bucket bandwidth, ops;
    int timer_fd;                 /* owned timerfd; -1 after fini */
    bool timer_active;            /* blocked until the timer fires */
    rate_limiter_clock_fn *clock; /* NULL = CLOCK_MONOTONIC */
    void *clock_opaque;
};

/*
 * Build a bucket: returns false (bucket disabled) when size or refill time
 * is 0 or the refill time overflows in ns. `now_ns` is the start time.
 */
bool token_bucket_init(struct token_bucket *b, uint64_t size,
                       uint64_t one_time_burst, uint64_t refill_time_ms,
                       uint64_t now_ns);

/* What token_bucket_reduce() did (upstream's BucketReduction). */
enum token_bucket_reduction {
    TOKEN_BUCKET_FAILURE,          /* too few tokens now; nothing taken */
    TOKEN_BUCKET_SUCCESS,          /* taken */
    TOKEN_BUCKET_OVER_CONSUMPTION, /* more than `size`: bucket emptied */
};

/*
 * Upstream's TokenBucket::reduce: take `tokens` from an initialized
 * bucket at time `now_ns` (the clock token_bucket_init was given). The
 * one-time burst pays first; a budget that falls short is refilled for the
 * time since the last update, and the last update then advances only by
 * the time the new tokens cost, so the fractions in between are kept. A
 * request larger than the whole bucket empties it and returns
 * OVER_CONSUMPTION with *debt_ns set to the time the rest takes to refill.
 */
enum token_bucket_reduction token_bucket_reduce(struct token_bucket *b,
                                                uint64_t tokens,
                                                uint64_t now_ns,
                                                uint64_t *debt_ns);

/*
 * Set up `rl` from `p` (NULL = no limits) and open its timerfd. Returns 0
 * or -errno (timerfd creation failed; nothing is left open).
 */
int rate_limiter_init(struct rate_limiter *rl,
                      const struct rate_limiter_params *p);
/* Close the timerfd. Safe on a zeroed or already finished limiter whose
 * timer_fd is -1. */
void rate_limiter_fini(struct rate_limiter *rl);

/* The limiter's clock now, in ns (its test clock when one is set). */
uint64_t rate_limiter_now(const struct rate_limiter *rl);

/* Use `fn` (with `opaque`) as the clock, for tests. Re-bases the buckets'
 * last update to the new clock's now. */
void rate_limiter_set_clock(struct rate_limiter *rl, rate_limiter_clock_fn *fn,
                            void *opaque);

/*
 * Take `tokens` of the given kind. Returns true if the caller may go on.
 * False while blocked, or if the bucket cannot pay now (the timer is then
 * armed). A request larger than the whole bucket is let through once and
 * blocks the limiter for the time its debt takes to refill (upstream's
 * over-consumption rule). A disabled bucket always returns true.
 */
bool rate_limiter_consume(struct rate_limiter *rl, uint64_t tokens,
                          enum rate_limiter_token kind);
/* Give back tokens taken by a consume() whose request did not go ahead. */
void rate_limiter_replenish(struct rate_limiter *rl, uint64_t tokens,
                            enum rate_limiter_token kind);
/* True from a refused (or over-consuming) consume() until the timer fired
 * and rate_limiter_timer_event() ran. */
bool rate_limiter_is_blocked(const struct rate_limiter *rl);

/*
 * The timerfd fired (call from its loop callback): reads it and unblocks.
 * Returns 0, or -EAGAIN for a spurious wakeup (nothing expired; the
 * limiter stays as it was).
 */
int rate_limiter_timer_event(struct rate_limiter *rl);

/* PATCH semantics for one bucket (digest 1.5). */
enum rate_limiter_update_kind {
    RL_UPDATE_KEEP,    /* bucket absent from the request */
    RL_UPDATE_DISABLE, /* present with size 0 or refill_time 0 */
    RL_UPDATE_REPLACE, /* present: a fresh, full bucket */
};

/* Classify a bucket of a PATCH body (present = has_*). */
enum rate_limiter_update_kind
rate_limiter_update_kind(bool present, const struct token_bucket_params *p);

/*
 * Apply a PATCH: each bucket is kept, removed or replaced by a new full
 * bucket built from its params. An absent rate limiter is both KEEP.
 */
void rate_limiter_update(struct rate_limiter *rl,
                         enum rate_limiter_update_kind bw_kind,
                         const struct token_bucket_params *bw,
                         enum rate_limiter_update_kind ops_kind,
                         const struct token_bucket_params *ops);

/* Apply a PATCH body's RateLimiter (NULL = absent: nothing changes). */
void rate_limiter_patch(struct rate_limiter *rl,
                        const struct rate_limiter_params *p);

/* The current configuration as the API reports it: disabled buckets are
 * has_* = false. */
void rate_limiter_get_params(const struct rate_limiter *rl,
                             struct rate_limiter_params *out);

#endif
