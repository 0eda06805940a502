/*
 * test_rate_limiter.c: token buckets on a fake clock (refill arithmetic,
 * one-time burst, over-consumption, PATCH updates) and the real timerfd
 * that unblocks a limiter.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/timerfd.h>

#include <cmocka.h>

#include "devices/rate_limiter.h"

#define MS 1000000ULL

static uint64_t fake_now;

static uint64_t fake_clock(void *opaque)
{
    (void)opaque;
    return fake_now;
}

static void make(struct rate_limiter *rl, const struct rate_limiter_params *p)
{
    fake_now = 1000 * MS;
    assert_int_equal(rate_limiter_init(rl, p), 0);
    rate_limiter_set_clock(rl, fake_clock, NULL);
}

/* Unblock by hand as the timer would. */
static void unblock(struct rate_limiter *rl)
{
    rl->timer_active = false;
}

static void test_disabled_buckets(void **state)
{
    struct rate_limiter_params p = {.has_bandwidth = true,
                                    .bandwidth = {0, 0, 100},
                                    .has_ops = true,
                                    .ops = {10, 0, 0}};
    struct rate_limiter rl;

    (void)state;
    make(&rl, &p);
    assert_false(rl.has_bandwidth);
    assert_false(rl.has_ops);
    for (int i = 0; i < 1000; i++)
        assert_true(rate_limiter_consume(&rl, UINT64_MAX, RL_TOKEN_BYTES));
    assert_false(rate_limiter_is_blocked(&rl));
    rate_limiter_fini(&rl);
    make(&rl, NULL);
    assert_true(rate_limiter_consume(&rl, 1, RL_TOKEN_OPS));
    rate_limiter_fini(&rl);
}

/* Bytes per refill period: a 1000-byte / 100 ms bucket starts full, gives
 * 1000 bytes, then 10 bytes per ms. */
static void test_refill_rate(void **state)
{
    struct rate_limiter_params p = {.has_bandwidth = true,
                                    .bandwidth = {1000, 0, 100}};
    struct rate_limiter rl;
    uint64_t got = 0;

    (void)state;
    make(&rl, &p);
    while (rate_limiter_consume(&rl, 100, RL_TOKEN_BYTES))
        got += 100;
    assert_int_equal(got, 1000);
    assert_true(rate_limiter_is_blocked(&rl));
    assert_false(rate_limiter_consume(&rl, 1, RL_TOKEN_BYTES));

    /* Over 10 periods of 100 ms, exactly 10 * 1000 bytes get through. */
    got = 0;
    for (int step = 0; step < 1000; step++) {
        fake_now += MS;
        unblock(&rl);
        while (rate_limiter_consume(&rl, 10, RL_TOKEN_BYTES))
            got += 10;
    }
    assert_int_equal(got, 10000);

    /* 5 ms buy 50 bytes, not 51. */
    fake_now += 5 * MS;
    unblock(&rl);
    assert_true(rate_limiter_consume(&rl, 50, RL_TOKEN_BYTES));
    assert_false(rate_limiter_consume(&rl, 1, RL_TOKEN_BYTES));
    /* A long pause refills to size, never more. */
    fake_now += 10000 * MS;
    unblock(&rl);
    assert_true(rate_limiter_consume(&rl, 1000, RL_TOKEN_BYTES));
    assert_false(rate_limiter_consume(&rl, 1, RL_TOKEN_BYTES));
    rate_limiter_fini(&rl);
}

/* Fractional refill is not lost: 3 tokens per 10 ms polled every 1 ms.
 * Each grant advances the bucket's clock by the token's cost rounded up to
 * the ns (upstream), so the 30th token lands just after 100 ms. */
static void test_refill_fractions(void **state)
{
    struct rate_limiter_params p = {.has_ops = true, .ops = {3, 0, 10}};
    struct rate_limiter rl;
    int got = 0;

    (void)state;
    make(&rl, &p);
    while (rate_limiter_consume(&rl, 1, RL_TOKEN_OPS))
        got++;
    assert_int_equal(got, 3);
    got = 0;
    for (int i = 0; i < 101; i++) {
        fake_now += MS;
        unblock(&rl);
        while (rate_limiter_consume(&rl, 1, RL_TOKEN_OPS))
            got++;
    }
    assert_int_equal(got, 30);
    rate_limiter_fini(&rl);
}

static void test_one_time_burst(void **state)
{
    struct rate_limiter_params p = {.has_bandwidth = true,
                                    .bandwidth = {100, 500, 1000}};
    struct rate_limiter rl;

    (void)state;
    make(&rl, &p);
    /* Burst first, then the bucket. */
    assert_true(rate_limiter_consume(&rl, 500, RL_TOKEN_BYTES));
    assert_int_equal(rl.bandwidth.budget, 100);
    assert_true(rate_limiter_consume(&rl, 100, RL_TOKEN_BYTES));
    assert_false(rate_limiter_consume(&rl, 1, RL_TOKEN_BYTES));
    rate_limiter_fini(&rl);

    /* A request straddling the burst spends it and the rest from budget. */
    make(&rl, &p);
    assert_true(rate_limiter_consume(&rl, 550, RL_TOKEN_BYTES));
    assert_int_equal(rl.bandwidth.one_time_burst, 0);
    assert_int_equal(rl.bandwidth.budget, 50);
    /* Replenishing never goes above the bucket. */
    rate_limiter_replenish(&rl, 1000, RL_TOKEN_BYTES);
    assert_int_equal(rl.bandwidth.budget, 100);
    rate_limiter_fini(&rl);
}

static void test_over_consumption(void **state)
{
    struct rate_limiter_params p = {.has_bandwidth = true,
                                    .bandwidth = {1000, 0, 100}};
    struct rate_limiter rl;
    struct itimerspec its;

    (void)state;
    make(&rl, &p);
    /* 3000 bytes from a 1000-byte bucket: allowed once, then blocked for
     * the 2000-byte debt = 200 ms. */
    assert_true(rate_limiter_consume(&rl, 3000, RL_TOKEN_BYTES));
    assert_true(rate_limiter_is_blocked(&rl));
    assert_int_equal(timerfd_gettime(rl.timer_fd, &its), 0);
    assert_true(its.it_value.tv_sec == 0 && its.it_value.tv_nsec > 150000000 &&
                its.it_value.tv_nsec <= 200000000);
    assert_false(rate_limiter_consume(&rl, 1, RL_TOKEN_BYTES));
    rate_limiter_fini(&rl);
}

/* The real timer: a shortage arms 100 ms; the fd becomes readable and
 * rate_limiter_timer_event() unblocks. */
static void test_timer_unblocks(void **state)
{
    struct rate_limiter_params p = {.has_ops = true, .ops = {1, 0, 50}};
    struct rate_limiter rl;
    struct pollfd pfd;

    (void)state;
    assert_int_equal(rate_limiter_init(&rl, &p), 0);
    assert_int_equal(rate_limiter_timer_event(&rl), -EAGAIN); /* spurious */
    assert_true(rate_limiter_consume(&rl, 1, RL_TOKEN_OPS));
    assert_false(rate_limiter_consume(&rl, 1, RL_TOKEN_OPS));
    assert_true(rate_limiter_is_blocked(&rl));
    pfd.fd = rl.timer_fd;
    pfd.events = POLLIN;
    assert_int_equal(poll(&pfd, 1, 0), 0); /* not before its time */
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    assert_int_equal(rate_limiter_timer_event(&rl), 0);
    assert_false(rate_limiter_is_blocked(&rl));
    /* 100 ms passed: the 50 ms bucket is full again. */
    assert_true(rate_limiter_consume(&rl, 1, RL_TOKEN_OPS));
    rate_limiter_fini(&rl);
    rate_limiter_fini(&rl); /* twice is fine */
}

static void test_patch_semantics(void **state)
{
    struct rate_limiter_params p = {.has_bandwidth = true,
                                    .bandwidth = {1000, 0, 100},
                                    .has_ops = true,
                                    .ops = {10, 5, 100}};
    struct rate_limiter_params patch, got;
    struct rate_limiter rl;

    (void)state;
    make(&rl, &p);
    assert_true(rate_limiter_consume(&rl, 600, RL_TOKEN_BYTES));

    /* Absent rate limiter: nothing changes. */
    rate_limiter_patch(&rl, NULL);
    assert_int_equal(rl.bandwidth.budget, 400);

    /* ops absent -> kept; bandwidth replaced by a new, full bucket. */
    memset(&patch, 0, sizeof(patch));
    patch.has_bandwidth = true;
    patch.bandwidth = (struct token_bucket_params){2000, 0, 50};
    rate_limiter_patch(&rl, &patch);
    assert_true(rl.has_bandwidth);
    assert_int_equal(rl.bandwidth.size, 2000);
    assert_int_equal(rl.bandwidth.budget, 2000);
    assert_true(rl.has_ops);
    assert_int_equal(rl.ops.size, 10);

    /* size 0 or refill 0 -> removed. */
    memset(&patch, 0, sizeof(patch));
    patch.has_ops = true;
    patch.ops = (struct token_bucket_params){5, 0, 0};
    assert_int_equal(rate_limiter_update_kind(true, &patch.ops),
                     RL_UPDATE_DISABLE);
    rate_limiter_patch(&rl, &patch);
    assert_false(rl.has_ops);
    assert_true(rl.has_bandwidth);

    rate_limiter_get_params(&rl, &got);
    assert_true(got.has_bandwidth);
    assert_int_equal(got.bandwidth.size, 2000);
    assert_int_equal(got.bandwidth.refill_time_ms, 50);
    assert_false(got.has_ops);
    assert_int_equal(rate_limiter_update_kind(false, &patch.ops),
                     RL_UPDATE_KEEP);
    rate_limiter_fini(&rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disabled_buckets),
        cmocka_unit_test(test_refill_rate),
        cmocka_unit_test(test_refill_fractions),
        cmocka_unit_test(test_one_time_burst),
        cmocka_unit_test(test_over_consumption),
        cmocka_unit_test(test_timer_unblocks),
        cmocka_unit_test(test_patch_semantics),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
