/*
 * test_virtq_rng.c: the virtio entropy device driven through its ring:
 * buffers filled with getrandom() bytes (never beyond the chain, at most
 * 64 KiB per request), chains it must refuse, rate limiting with resume
 * from the limiter's timer, and a corrupt ring.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/virtio/rng.h"
#include "obs/metrics.h"
#include "virtq_driver.h"

#define MEM_SIZE 0x400000ULL
#define BUF      0x100000ULL

#define F_N SQ_VIRTQ_DESC_F_NEXT
#define F_W SQ_VIRTQ_DESC_F_WRITE

struct fx {
    struct drv_mem mem;
    struct drv d;
    struct rng *r;
    uint64_t fake_ns;
    uint16_t next_desc;
};

static uint64_t fake_clock(void *opaque)
{
    return ((struct fx *)opaque)->fake_ns;
}

static uint64_t cnt(struct metrics_counter *c)
{
    return atomic_load(&c->v);
}

static void fx_open(struct fx *f, const struct rate_limiter_params *rl)
{
    struct sq_err err;

    sq_err_clear(&err);
    assert_int_equal(rng_new(rl, &f->r, &err), 0);
    assert_int_equal(rng_attach(f->r, &f->mem.gm, -1, 0xc0002000, NULL), 0);
    f->fake_ns = 5000000000ULL;
    rate_limiter_set_clock(rng_rate_limiter(f->r), fake_clock, f);
    assert_int_equal(drv_setup(&f->d, &f->mem, rng_transport(f->r), 256, 0),
                     15);
    f->next_desc = 0;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    drv_mem_init(&f->mem, MEM_SIZE);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    rng_free(f->r);
    drv_mem_fini(&f->mem);
    free(f);
    return 0;
}

struct dsc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
};

static uint16_t publish(struct fx *f, const struct dsc *ds, int n)
{
    uint16_t head = f->next_desc;

    for (int i = 0; i < n; i++) {
        uint16_t idx = (uint16_t)((f->next_desc + i) % 256);

        drv_desc(&f->d, idx, ds[i].addr, ds[i].len,
                 (uint16_t)(ds[i].flags | (i + 1 < n ? F_N : 0)),
                 (uint16_t)((idx + 1) % 256));
    }
    f->next_desc = (uint16_t)((f->next_desc + n) % 256);
    drv_publish(&f->d, head);
    return head;
}

/* Publish one chain, notify, return the used length. */
static uint32_t one(struct fx *f, const struct dsc *ds, int n)
{
    uint16_t before = drv_used_idx(&f->d), head = publish(f, ds, n);
    uint32_t id, len;

    virtio_mmio_notify(rng_transport(f->r), 0);
    assert_int_equal(drv_used_idx(&f->d), (uint16_t)(before + 1));
    drv_used_elem(&f->d, before, &id, &len);
    assert_int_equal(id, head);
    return len;
}

static bool all_equal(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

static void test_identity(void **state)
{
    struct fx *f = *state;
    struct virtio_mmio *t;

    fx_open(f, NULL);
    t = rng_transport(f->r);
    assert_int_equal(reg_rd(t, 0x08), 4);
    reg_wr(t, 0x14, 0);
    assert_int_equal(reg_rd(t, 0x10), 0);
    reg_wr(t, 0x14, 1);
    assert_int_equal(reg_rd(t, 0x10), 1);
    assert_int_equal(reg_rd(t, 0x34), 256);
}

static void test_fills_buffers(void **state)
{
    struct fx *f = *state;
    struct metrics_entropy *m = metrics_entropy();
    uint64_t bytes = cnt(&m->entropy_bytes),
             events = cnt(&m->entropy_event_count);
    uint8_t *b = g2h(&f->mem, BUF, 0x30000);

    fx_open(f, NULL);
    drv_irqs(&f->d);
    memset(b, 0, 0x30000);
    {
        struct dsc ds[1] = {{BUF, 64, F_W}};

        assert_int_equal(one(f, ds, 1), 64);
        assert_false(all_equal(b, 64, 0));
        assert_true(all_equal(b + 64, 64, 0));
    }
    assert_int_equal(drv_irqs(&f->d), 1);
    /* Three buffers: filled in order, exactly. */
    memset(b, 0, 0x30000);
    {
        struct dsc ds[3] = {
            {BUF, 16, F_W}, {BUF + 0x1000, 32, F_W}, {BUF + 0x2000, 48, F_W}};

        assert_int_equal(one(f, ds, 3), 96);
        assert_false(all_equal(b, 16, 0));
        assert_true(all_equal(b + 16, 0x1000 - 16, 0));
        assert_false(all_equal(b + 0x1000, 32, 0));
        assert_false(all_equal(b + 0x2000, 48, 0));
        assert_true(all_equal(b + 0x2000 + 48, 64, 0));
    }
    /* 128 KiB offered: 64 KiB given, the rest untouched. */
    memset(b, 0, 0x30000);
    {
        struct dsc ds[2] = {{BUF, 0x10000 - 8, F_W},
                            {BUF + 0x10000, 0x10000, F_W}};

        assert_int_equal(one(f, ds, 2), RNG_MAX_ENTROPY_BYTES);
        assert_false(all_equal(b + 0x10000, 8, 0));
        assert_true(all_equal(b + 0x10000 + 8, 0x10000 - 8, 0));
    }
    /* An empty buffer: nothing to do, not an error. */
    {
        struct dsc ds[1] = {{BUF, 0, F_W}};
        uint64_t fails = cnt(&m->entropy_event_fails);

        assert_int_equal(one(f, ds, 1), 0);
        assert_int_equal(cnt(&m->entropy_event_fails), fails);
    }
    assert_int_equal(cnt(&m->entropy_bytes) - bytes,
                     64 + 96 + RNG_MAX_ENTROPY_BYTES);
    assert_int_equal(cnt(&m->entropy_event_count) - events, 4);
}

static void test_refused_chains(void **state)
{
    static const struct {
        const char *name;
        struct dsc ds[2];
        int n;
    } cases[] = {
        {"device-readable buffer", {{BUF, 64, 0}}, 1},
        {"readable after writable", {{BUF, 64, F_W}, {BUF + 64, 8, 0}}, 2},
        {"outside RAM", {{MEM_SIZE - 16, 64, F_W}}, 1},
        {"wrapping address", {{0xffffffffffffffc0ULL, 128, F_W}}, 1},
        {"4 GiB length", {{BUF, 0xffffffffu, F_W}}, 1},
    };
    struct fx *f = *state;
    struct metrics_entropy *m = metrics_entropy();
    uint8_t *b = g2h(&f->mem, BUF, 0x1000);

    fx_open(f, NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t fails = cnt(&m->entropy_event_fails);

        memset(b, 0, 0x1000);
        if (one(f, cases[i].ds, cases[i].n) != 0)
            fail_msg("case '%s' was served", cases[i].name);
        assert_int_equal(cnt(&m->entropy_event_fails), fails + 1);
        assert_true(all_equal(b, 0x1000, 0));
    }
    /* A loop. */
    {
        uint64_t fails = cnt(&m->entropy_event_fails);
        uint16_t before = drv_used_idx(&f->d);

        drv_desc(&f->d, 200, BUF, 8, F_W | F_N, 201);
        drv_desc(&f->d, 201, BUF, 8, F_W | F_N, 200);
        drv_publish(&f->d, 200);
        virtio_mmio_notify(rng_transport(f->r), 0);
        assert_int_equal(drv_used_idx(&f->d), (uint16_t)(before + 1));
        assert_int_equal(cnt(&m->entropy_event_fails), fails + 1);
    }
}

static void fire_timer(struct fx *f)
{
    struct pollfd p = {.fd = rng_rate_limiter(f->r)->timer_fd,
                       .events = POLLIN};

    assert_int_equal(poll(&p, 1, 5000), 1);
    rng_rate_limiter_event(f->r);
}

static void test_rate_limited(void **state)
{
    struct rate_limiter_params rl = {.has_bandwidth = true,
                                     .bandwidth = {100, 0, 100}};
    struct fx *f = *state;
    struct metrics_entropy *m = metrics_entropy();
    uint64_t thr, rle;

    fx_open(f, &rl);
    thr = cnt(&m->entropy_rate_limiter_throttled);
    rle = cnt(&m->rate_limiter_event_count);
    for (int i = 0; i < 4; i++) {
        struct dsc ds[1] = {{BUF + 0x100 * (uint64_t)i, 60, F_W}};

        publish(f, ds, 1);
    }
    virtio_mmio_notify(rng_transport(f->r), 0);
    assert_int_equal(drv_used_idx(&f->d), 1); /* 100 bytes: one of 60 */
    assert_int_equal(cnt(&m->entropy_rate_limiter_throttled) - thr, 1);
    /* Notified while blocked: upstream counts a rate-limiter event. */
    virtio_mmio_notify(rng_transport(f->r), 0);
    assert_int_equal(cnt(&m->rate_limiter_event_count) - rle, 1);
    assert_int_equal(drv_used_idx(&f->d), 1);
    /* 100 ms later the bucket is full again: one more (40 + 60 > 100). */
    f->fake_ns += 100 * 1000000ULL;
    fire_timer(f);
    assert_int_equal(cnt(&m->rate_limiter_event_count) - rle, 2);
    assert_int_equal(drv_used_idx(&f->d), 2);
    f->fake_ns += 100 * 1000000ULL;
    fire_timer(f);
    assert_int_equal(drv_used_idx(&f->d), 3);
    /* A spurious timer event is an error, not a resume. */
    {
        uint64_t fails = cnt(&m->entropy_event_fails);

        rng_rate_limiter_event(f->r);
        assert_int_equal(cnt(&m->entropy_event_fails), fails + 1);
    }
}

static void test_corrupt_ring(void **state)
{
    struct fx *f = *state;
    struct virtio_mmio *t;

    fx_open(f, NULL);
    t = rng_transport(f->r);
    drv_set_avail_idx(&f->d, 1000);
    virtio_mmio_notify(t, 0);
    assert_true(reg_rd(t, 0x70) & SQ_VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(drv_used_idx(&f->d), 0);
    /* Reset and reinitialise: served again. */
    assert_int_equal(drv_setup(&f->d, &f->mem, t, 256, 0), 15);
    f->next_desc = 0;
    {
        struct dsc ds[1] = {{BUF, 8, F_W}};

        assert_int_equal(one(f, ds, 1), 8);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fills_buffers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_chains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_ring, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
