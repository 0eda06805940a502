/*
 * test_balloon.c: the virtio balloon driven through its rings in-process:
 * features and queues per configuration, config space, target updates
 * with their config interrupt, inflation releasing guest memory (checked
 * with mincore() and by reading zeros back), invalid and duplicate PFNs,
 * hostile chains, deflation, the statistics round trip with its timer and
 * omission rules, the hinting command sequence, free page reporting and
 * its queue index, the device on a real event loop (queue eventfds and the
 * timer firing), reset and re-activation, a corrupt ring, and PFN
 * compaction.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/timerfd.h>

#include <cmocka.h>

#include "devices/virtio/balloon.h"
#include "devices/virtio/balloon_int.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "util/evloop.h"
#include "virtq_driver.h"

#define MEM_SIZE 0x800000ULL /* 8 MiB */
#define BUF      0x100000ULL /* PFN lists, stats, commands */
#define PAGES    0x400000ULL /* pages the tests release */
#define PG       4096ULL

#define F_N SQ_VIRTQ_DESC_F_NEXT
#define F_W SQ_VIRTQ_DESC_F_WRITE

#define F_STATS  (1ULL << SQ_VIRTIO_BALLOON_F_STATS_VQ)
#define F_OOM    (1ULL << SQ_VIRTIO_BALLOON_F_DEFLATE_ON_OOM)
#define F_HINT   (1ULL << SQ_VIRTIO_BALLOON_F_FREE_PAGE_HINT)
#define F_REPORT (1ULL << SQ_VIRTIO_BALLOON_F_PAGE_REPORTING)
#define F_V1     (1ULL << SQ_VIRTIO_F_VERSION_1)

#define INFL 0
#define DEFL 1

struct fx {
    struct drv_mem mem;
    struct drv d[5];
    uint16_t next_desc[5];
    size_t nq;
    struct balloon *b;
};

static uint64_t cnt(struct metrics_counter *c)
{
    return atomic_load(&c->v);
}

static struct metrics_balloon *m(void)
{
    return metrics_balloon();
}

static struct virtio_mmio *tp(struct fx *f)
{
    return balloon_transport(f->b);
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

    balloon_free(f->b);
    drv_mem_fini(&f->mem);
    free(f);
    return 0;
}

static void fx_new(struct fx *f, const struct balloon_params *p)
{
    struct sq_err err;

    sq_err_clear(&err);
    assert_int_equal(balloon_new(p, &f->b, &err), 0);
    assert_int_equal(balloon_attach(f->b, &f->mem.gm, -1, 0xc0001000, NULL), 0);
}

/* Driver init with every queue the device offers and all its features. */
static void fx_start(struct fx *f, size_t nq, uint64_t features)
{
    f->nq = nq;
    assert_int_equal(drv_setup_n(f->d, nq, &f->mem, tp(f), 256, features), 15);
    memset(f->next_desc, 0, sizeof(f->next_desc));
    drv_irqs(&f->d[0]);
}

struct dsc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
};

/* Publish a chain on queue qi and notify it. */
static uint16_t send_chain(struct fx *f, int qi, const struct dsc *ds, int n)
{
    uint16_t head = f->next_desc[qi];

    for (int i = 0; i < n; i++) {
        uint16_t idx = (uint16_t)((f->next_desc[qi] + i) % 256);

        drv_desc(&f->d[qi], idx, ds[i].addr, ds[i].len,
                 (uint16_t)(ds[i].flags | (i + 1 < n ? F_N : 0)),
                 (uint16_t)((idx + 1) % 256));
    }
    f->next_desc[qi] = (uint16_t)((f->next_desc[qi] + n) % 256);
    drv_publish(&f->d[qi], head);
    virtio_mmio_notify(tp(f), (uint16_t)qi);
    return head;
}

static uint32_t cfg_rd(struct fx *f, uint64_t off)
{
    return reg_rd(tp(f), VIRTIO_MMIO_CONFIG + off);
}

static void touch(struct fx *f, uint64_t gpa, uint64_t len)
{
    memset(g2h(&f->mem, gpa, len), 0xaa, len);
}

/* How many of the pages of [gpa, gpa+len) are resident in the host. */
static unsigned resident(struct fx *f, uint64_t gpa, uint64_t len)
{
    unsigned char vec[256];
    unsigned n = 0;

    assert_true(len / PG <= sizeof(vec));
    assert_int_equal(mincore(g2h(&f->mem, gpa, len), len, vec), 0);
    for (uint64_t i = 0; i < len / PG; i++)
        n += vec[i] & 1;
    return n;
}

static bool all_zero(struct fx *f, uint64_t gpa, uint64_t len)
{
    const uint8_t *p = g2h(&f->mem, gpa, len);

    for (uint64_t i = 0; i < len; i++)
        if (p[i])
            return false;
    return true;
}

static void put_pfns(struct fx *f, uint64_t gpa, const uint32_t *pfns, size_t n)
{
    memcpy(g2h(&f->mem, gpa, n * 4), pfns, n * 4);
}

static void put_stat(struct fx *f, uint64_t gpa, uint16_t tag, uint64_t val)
{
    uint8_t *p = g2h(&f->mem, gpa, 10);

    memcpy(p, &tag, 2);
    memcpy(p + 2, &val, 8);
}

static void put_u32(struct fx *f, uint64_t gpa, uint32_t v)
{
    memcpy(g2h(&f->mem, gpa, 4), &v, 4);
}

/* ---- features, queues, config space ---- */

static void test_features(void **state)
{
    static const struct {
        struct balloon_params p;
        uint64_t features;
        uint32_t n_queues;
    } cases[] = {
        {{64, false, 0, false, false, NULL, NULL}, F_V1, 2},
        {{64, true, 0, false, false, NULL, NULL}, F_V1 | F_OOM, 2},
        {{64, false, 1, false, false, NULL, NULL}, F_V1 | F_STATS, 3},
        {{64, false, 0, true, false, NULL, NULL}, F_V1 | F_HINT, 3},
        {{64, false, 0, false, true, NULL, NULL}, F_V1 | F_REPORT, 3},
        {{64, true, 5, true, true, NULL, NULL},
         F_V1 | F_OOM | F_STATS | F_HINT | F_REPORT,
         5},
    };
    struct fx *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t feats;
        uint32_t nq = 0;

        fx_new(f, &cases[i].p);
        assert_int_equal(reg_rd(tp(f), 0x08), 5);
        reg_wr(tp(f), 0x14, 0);
        feats = reg_rd(tp(f), 0x10);
        reg_wr(tp(f), 0x14, 1);
        feats |= (uint64_t)reg_rd(tp(f), 0x10) << 32;
        assert_int_equal(feats, cases[i].features);
        for (uint32_t q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++) {
            reg_wr(tp(f), 0x30, q);
            if (reg_rd(tp(f), 0x34) == 256)
                nq++;
        }
        assert_int_equal(nq, cases[i].n_queues);
        balloon_free(f->b);
        f->b = NULL;
    }
}

static void test_config_space(void **state)
{
    struct fx *f = *state;
    struct balloon_params p = {4, false, 1, false, false, NULL, NULL}, got;
    struct balloon_dev_stats st;
    uint8_t b[4] = {0x4d, 0, 0, 0};

    fx_new(f, &p);
    assert_int_equal(cfg_rd(f, 0), 1024); /* num_pages */
    assert_int_equal(cfg_rd(f, 4), 0);    /* actual */
    assert_int_equal(cfg_rd(f, 8), 0);    /* free_page_hint_cmd_id */
    assert_int_equal(cfg_rd(f, 12), 0);   /* past the end */
    fx_start(f, 3, F_STATS);
    /* The driver reports what it holds. */
    reg_wr(tp(f), VIRTIO_MMIO_CONFIG + 4, 77);
    assert_int_equal(cfg_rd(f, 4), 77);
    /* ... which wakes the loop once, and only when it changes. */
    assert_int_equal(evloop_eventfd_drain(balloon_config_event_fd(f->b)), 1);
    reg_wr(tp(f), VIRTIO_MMIO_CONFIG + 4, 77);
    assert_int_equal(evloop_eventfd_drain(balloon_config_event_fd(f->b)), 0);
    assert_int_equal(balloon_get_stats(f->b, &st, NULL), 0);
    assert_int_equal(st.actual_pages, 77);
    assert_int_equal(st.target_pages, 1024);
    assert_int_equal(st.target_mib, 4);
    assert_int_equal(st.actual_mib, 0);
    /* A write running past the end is dropped whole. */
    bus_dev_lock(&tp(f)->bus);
    virtio_mmio_write(&tp(f)->bus, VIRTIO_MMIO_CONFIG + 10, b, 4);
    bus_dev_unlock(&tp(f)->bus);
    assert_int_equal(cfg_rd(f, 8), 0);
    balloon_get_config(f->b, &got);
    assert_int_equal(got.amount_mib, 4);
    assert_int_equal(got.stats_polling_interval_s, 1);
    assert_false(got.deflate_on_oom);
}

static void test_new_too_large(void **state)
{
    struct fx *f = *state;
    struct balloon_params p = {16777216, false, 0, false, false, NULL, NULL};
    struct sq_err err;

    sq_err_clear(&err);
    assert_int_equal(balloon_new(&p, &f->b, &err), -EINVAL);
    assert_string_equal(err.msg,
                        "Requested memory should be less than 16777215MiB");
    assert_null(f->b);
}

static void test_update_size(void **state)
{
    struct fx *f = *state;
    struct balloon_params p = {0, false, 0, false, false, NULL, NULL};
    struct sq_err err;
    uint32_t gen;

    fx_new(f, &p);
    sq_err_clear(&err);
    assert_int_equal(balloon_update_size(f->b, 2, &err), -ENODEV);
    assert_string_equal(err.msg, "Device not activated yet.");
    fx_start(f, 2, 0);
    gen = reg_rd(tp(f), 0xfc);
    assert_int_equal(balloon_update_size(f->b, 2, &err), 0);
    assert_int_equal(cfg_rd(f, 0), 512);
    assert_true(reg_rd(tp(f), 0x60) & SQ_VIRTIO_INT_CONFIG);
    assert_int_equal(drv_irqs(&f->d[0]), 1);
    assert_int_not_equal(reg_rd(tp(f), 0xfc), gen);
    /* All of guest memory is allowed, more is not. */
    assert_int_equal(balloon_update_size(f->b, 8, &err), 0);
    assert_int_equal(balloon_update_size(f->b, 9, &err), -EINVAL);
    assert_string_equal(err.msg, "Requested memory should be less than 9MiB");
    assert_int_equal(cfg_rd(f, 0), 2048);
}

/* ---- inflate and deflate ---- */

static void test_inflate_releases(void **state)
{
    struct fx *f = *state;
    struct balloon_params p = {0, false, 0, false, false, NULL, NULL};
    /* Pages 0x400..0x40f shuffled, with a duplicate, plus 0x420. */
    uint32_t pfns[] = {0x405, 0x400, 0x40f, 0x401, 0x402, 0x403,
                       0x404, 0x406, 0x407, 0x408, 0x409, 0x40a,
                       0x40b, 0x40c, 0x40d, 0x40e, 0x404, 0x420};
    struct dsc ds[1] = {{BUF, sizeof(pfns), 0}};
    uint64_t infl = cnt(&m()->inflate_count);
    uint32_t id, len;

    fx_new(f, &p);
    fx_start(f, 2, 0);
    touch(f, PAGES, 0x30 * PG);
    assert_int_equal(resident(f, PAGES, 0x30 * PG), 0x30);
    put_pfns(f, BUF, pfns, sizeof(pfns) / 4);
    send_chain(f, INFL, ds, 1);
    assert_int_equal(drv_used_idx(&f->d[INFL]), 1);
    drv_used_elem(&f->d[INFL], 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 0);
    assert_int_equal(drv_irqs(&f->d[0]), 1);
    assert_int_equal(cnt(&m()->inflate_count), infl + 1);
    /* 17 pages dropped, the others untouched. */
    assert_int_equal(resident(f, PAGES, 0x10 * PG), 0);
    assert_int_equal(resident(f, PAGES + 0x10 * PG, 0x10 * PG), 0x10);
    assert_int_equal(resident(f, PAGES + 0x20 * PG, PG), 0);
    assert_int_equal(resident(f, PAGES + 0x21 * PG, 0xf * PG), 0xf);
    assert_true(all_zero(f, PAGES, 0x10 * PG));
    assert_true(all_zero(f, PAGES + 0x20 * PG, PG));
    assert_int_equal(*(uint8_t *)g2h(&f->mem, PAGES + 0x10 * PG, 1), 0xaa);
    assert_int_equal(balloon_discard_failures(f->b), 0);
}

static void test_inflate_invalid_pfns(void **state)
{
    struct fx *f = *state;
    struct balloon_params p = {0, false, 0, false, false, NULL, NULL};
    /* Past guest RAM, at the top of u32, a run crossing the end of RAM,
     * and one valid page. */
    uint32_t pfns[] = {0x100000, 0xffffffff, 0xffffffff, 0x7ff, 0x800, 0x410};
    struct dsc ds[1] = {{BUF, sizeof(pfns), 0}};

    fx_new(f, &p);
    fx_start(f, 2, 0);
    touch(f, PAGES, 0x20 * PG);
    touch(f, 0x7ff000, PG);
    put_pfns(f, BUF, pfns, sizeof(pfns) / 4);
    send_chain(f, INFL, ds, 1);
    assert_int_equal(drv_used_idx(&f->d[INFL]), 1);
    assert_int_equal(resident(f, PAGES + 0x10 * PG, PG), 0);
    assert_int_equal(resident(f, PAGES, 0x10 * PG), 0x10);
    /* The part of [0x7ff, 0x801) inside RAM is released first, as
     * upstream's per-region walk does. */
    assert_int_equal(resident(f, 0x7ff000, PG), 0);
    assert_int_equal(balloon_discard_failures(f->b), 3);
}

static void test_inflate_hostile(void **state)
{
    struct fx *f = *state;
    struct balloon_params p = {0, false, 0, false, false, NULL, NULL};
    uint32_t pfn = 0x400;
    uint64_t fails = cnt(&m()->event_fails);
    const struct dsc cases[] = {
        {BUF, 4, F_W},          /* device-writable: not read */
        {BUF, 6, 0},            /* not a multiple of 4 */
        {BUF, 257 * 4, 0},      /* too many pages */
        {MEM_SIZE - 2, 4, 0},   /* crosses the end of RAM */
        {0x100000000ULL, 4, 0}, /* outside RAM */
        {BUF, 0, 0},            /* empty */
        {UINT64_MAX - 1, 4, 0}, /* wraps */
    };
    size_t n = sizeof(cases) / sizeof(cases[0]);

    fx_new(f, &p);
    fx_start(f, 2, 0);
    touch(f, PAGES, PG);
    put_pfns(f, BUF, &pfn, 1);
    for (size_t i = 0; i < n; i++)
        send_chain(f, INFL, &cases[i], 1);
    /* Every chain came back; the page stayed. */
    assert_int_equal(drv_used_idx(&f->d[INFL]), n);
    assert_int_equal(resident(f, PAGES, PG), 1);
    assert_int_equal(cnt(&m()->event_fails), fails + 3);
    /* A chain whose next is out of range: its head still counts. */
    drv_desc(&f->d[INFL], 100, BUF, 4, F_N, 999);
    drv_publish(&f->d[INFL], 100);
    virtio_mmio_notify(tp(f), INFL);
    assert_int_equal(drv_used_idx(&f->d[INFL]), n + 1);
    assert_int_equal(resident(f, PAGES, PG), 0);
}

/* More PFNs than the compaction buffer: released in rounds. */
static void test_inflate_many(void **state)
{
    struct fx *f = *state;
    struct balloon_params p = {0, false, 0, false, false, NULL, NULL};
    uint32_t pfns[256];

    fx_new(f, &p);
    fx_start(f, 2, 0);
    touch(f, 0x200000, 0x600000);
    for (int c = 0; c < 9; c++) {
        struct dsc ds[1] = {{BUF + 0x1000 * (uint64_t)c, sizeof(pfns), 0}};

        /* Chains 0..7 cover 0x200..0x9ff; chain 8 repeats chain 0. */
        for (int i = 0; i < 256; i++)
            pfns[i] = (uint32_t)(0x200 + (c % 8) * 256 + i);
        put_pfns(f, ds[0].addr, pfns, 256);
        drv_desc(&f->d[INFL], (uint16_t)c, ds[0].addr, ds[0].len, 0, 0);
        drv_publish(&f->d[INFL], (uint16_t)c);
    }
    virtio_mmio_notify(tp(f), INFL);
    assert_int_equal(drv_used_idx(&f->d[INFL]), 9);
    /* The first round takes chains 0..7 (2048 PFNs): one run inside RAM
     * and one past it (8 MiB = 0x800 pages), which fails; the second
     * round takes chain 8. */
    assert_int_equal(resident(f, 0x200000, 0x100 * PG), 0);
    assert_int_equal(resident(f, 0x700000, 0x100 * PG), 0);
    assert_int_equal(balloon_discard_failures(f->b), 1);
}

static void test_deflate(void **state)
{
    struct fx *f = *state;
    struct balloon_params p = {0, true, 0, false, false, NULL, NULL};
    uint64_t defl = cnt(&m()->deflate_count);
    uint32_t pfn = 0x400;
    struct dsc ds[2] = {{BUF, 4, 0}, {BUF, 4, F_W}};

    fx_new(f, &p);
    fx_start(f, 2, F_OOM);
    touch(f, PAGES, PG);
    put_pfns(f, BUF, &pfn, 1);
    send_chain(f, DEFL, ds, 1);
    send_chain(f, DEFL, ds, 2);
    assert_int_equal(drv_used_idx(&f->d[DEFL]), 2);
    assert_int_equal(cnt(&m()->deflate_count), defl + 2);
    assert_int_equal(resident(f, PAGES, PG), 1); /* nothing done */
}

/* ---- statistics ---- */

static void count_changed(void *opaque)
{
    ++*(int *)opaque;
}

static void test_stats_round_trip(void **state)
{
    struct fx *f = *state;
    int changed = 0;
    struct balloon_params p = {1,     false,         1,       false,
                               false, count_changed, &changed};
    struct itimerspec its;
    struct balloon_dev_stats st;
    struct dsc ds[1] = {{BUF, 30, 0}};
    uint64_t upd = cnt(&m()->stats_updates_count);
    uint64_t bad = cnt(&m()->stats_update_fails);
    uint32_t id, len;

    fx_new(f, &p);
    assert_int_equal(timerfd_gettime(balloon_stats_timer_fd(f->b), &its), 0);
    assert_int_equal(its.it_value.tv_sec + its.it_value.tv_nsec, 0);
    fx_start(f, 3, F_STATS);
    /* Activation armed the timer with the polling period. */
    assert_int_equal(timerfd_gettime(balloon_stats_timer_fd(f->b), &its), 0);
    assert_int_equal(its.it_interval.tv_sec, 1);
    /* Before any buffer: all optional fields omitted. */
    assert_int_equal(balloon_get_stats(f->b, &st, NULL), 0);
    for (int t = 0; t < BALLOON_N_STATS; t++)
        assert_false(st.has[t]);
    assert_int_equal(st.target_pages, 256);
    assert_int_equal(st.target_mib, 1);
    /* A timer tick with no buffer held: nothing to give back, but the
     * guest's `actual` may have moved: GETs are told. */
    balloon_stats_timer_event(f->b);
    assert_int_equal(drv_used_idx(&f->d[2]), 0);
    assert_int_equal(changed, 1);

    put_stat(f, BUF, 4, 1000);      /* free_memory */
    put_stat(f, BUF + 10, 5, 8000); /* total_memory */
    put_stat(f, BUF + 20, 99, 1);   /* unknown */
    send_chain(f, 2, ds, 1);
    assert_int_equal(changed, 2); /* new statistics */
    assert_int_equal(cnt(&m()->stats_updates_count), upd + 1);
    assert_int_equal(cnt(&m()->stats_update_fails), bad + 1);
    assert_int_equal(drv_used_idx(&f->d[2]), 0); /* held */
    assert_int_equal(balloon_get_stats(f->b, &st, NULL), 0);
    for (int t = 0; t < BALLOON_N_STATS; t++)
        assert_int_equal(st.has[t], t == 4 || t == 5);
    assert_int_equal(st.value[4], 1000);
    assert_int_equal(st.value[5], 8000);

    /* The period ends: the buffer goes back (a request for new stats). */
    drv_irqs(&f->d[0]);
    balloon_stats_timer_event(f->b);
    assert_int_equal(drv_used_idx(&f->d[2]), 1);
    drv_used_elem(&f->d[2], 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 0);
    assert_int_equal(drv_irqs(&f->d[0]), 1);

    /* The guest answers with a new value; older ones stay known. */
    put_stat(f, BUF, 4, 900);
    ds[0].len = 10;
    send_chain(f, 2, ds, 1);
    assert_int_equal(balloon_get_stats(f->b, &st, NULL), 0);
    assert_int_equal(st.value[4], 900);
    assert_true(st.has[5]);

    /* A second buffer while one is held: the first goes back at once. */
    send_chain(f, 2, ds, 1);
    assert_int_equal(drv_used_idx(&f->d[2]), 2);
    drv_used_elem(&f->d[2], 1, &id, &len);
    assert_int_equal(id, 1);
}

static void test_stats_hostile(void **state)
{
    struct fx *f = *state;
    struct balloon_params p = {1, false, 1, false, false, NULL, NULL};
    struct balloon_dev_stats st;
    const struct dsc cases[] = {
        {BUF, BALLOON_MAX_STATS_LEN + 10, 0}, /* too large: held unread */
        {MEM_SIZE - 5, 10, 0},                /* crosses the end of RAM */
        {BUF, 0, 0},                          /* empty */
        {BUF, 9, 0},                          /* a partial record */
    };

    fx_new(f, &p);
    fx_start(f, 3, F_STATS);
    put_stat(f, BUF, 6, 42);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        send_chain(f, 2, &cases[i], 1);
        balloon_stats_timer_event(f->b);
    }
    assert_int_equal(drv_used_idx(&f->d[2]), 4);
    assert_int_equal(balloon_get_stats(f->b, &st, NULL), 0);
    for (int t = 0; t < BALLOON_N_STATS; t++)
        assert_false(st.has[t]);
}

static void test_stats_interval(void **state)
{
    struct fx *f = *state;
    struct balloon_params p = {1, false, 1, false, false, NULL, NULL};
    struct balloon_params off = {1, false, 0, false, false, NULL, NULL};
    struct balloon_dev_stats st;
    struct itimerspec its;
    struct dsc ds[1] = {{BUF, 10, 0}};
    struct sq_err err;

    sq_err_clear(&err);
    fx_new(f, &off);
    assert_int_equal(balloon_get_stats(f->b, &st, &err), -EINVAL);
    assert_string_equal(err.msg,
                        "Received stats query when stats are disabled.");
    assert_int_equal(balloon_update_stats_interval(f->b, 0, &err), 0);
    assert_int_equal(balloon_update_stats_interval(f->b, 5, &err), -EINVAL);
    assert_string_equal(
        err.msg, "Statistics cannot be enabled/disabled after activation.");
    balloon_free(f->b);

    fx_new(f, &p);
    fx_start(f, 3, F_STATS);
    assert_int_equal(balloon_update_stats_interval(f->b, 0, &err), -EINVAL);
    assert_int_equal(balloon_update_stats_interval(f->b, 1, &err), 0);
    put_stat(f, BUF, 0, 7);
    send_chain(f, 2, ds, 1);
    /* A new period gives the buffer back now and re-arms the timer. */
    assert_int_equal(balloon_update_stats_interval(f->b, 3, &err), 0);
    assert_int_equal(drv_used_idx(&f->d[2]), 1);
    assert_int_equal(timerfd_gettime(balloon_stats_timer_fd(f->b), &its), 0);
    assert_int_equal(its.it_interval.tv_sec, 3);
    balloon_get_config(f->b, &off);
    assert_int_equal(off.stats_polling_interval_s, 3);
}

/* ---- hinting and reporting ---- */

static void test_hinting(void **state)
{
    struct fx *f = *state;
    struct balloon_params p = {0, false, 0, true, false, NULL, NULL};
    struct balloon_params none = {0, false, 0, false, false, NULL, NULL};
    struct balloon_dev_hinting h;
    struct sq_err err;
    uint64_t cnt0 = cnt(&m()->free_page_hint_count);
    uint64_t freed0 = cnt(&m()->free_page_hint_freed);
    struct dsc run[2] = {{BUF, 4, 0}, {PAGES, 2 * PG, F_W}};
    struct dsc stop[1] = {{BUF + 16, 4, 0}};
    const int hq = 2;

    sq_err_clear(&err);
    fx_new(f, &none);
    assert_int_equal(balloon_start_hinting(f->b, true, &err), -EINVAL);
    assert_string_equal(err.msg, "Attempting to use hinting when not enabled");
    assert_int_equal(balloon_stop_hinting(f->b, &err), -EINVAL);
    assert_int_equal(balloon_hinting_status(f->b, &h, &err), -EINVAL);
    balloon_free(f->b);

    fx_new(f, &p);
    assert_int_equal(balloon_start_hinting(f->b, true, &err), -ENODEV);
    assert_string_equal(err.msg, "Device not activated yet.");
    fx_start(f, 3, F_HINT);
    assert_int_equal(balloon_hinting_status(f->b, &h, NULL), 0);
    assert_int_equal(h.host_cmd, 0);
    assert_false(h.has_guest_cmd);

    /* A range before any command: ignored. */
    touch(f, PAGES, 4 * PG);
    send_chain(f, hq, &run[1], 1);
    assert_int_equal(resident(f, PAGES, 2 * PG), 2);

    /* The id consumed by the failed start makes this one 3. */
    assert_int_equal(balloon_start_hinting(f->b, true, NULL), 0);
    assert_int_equal(cfg_rd(f, 8), 3);
    assert_true(reg_rd(tp(f), 0x60) & SQ_VIRTIO_INT_CONFIG);

    /* The guest hints under the running id: released. */
    put_u32(f, BUF, 3);
    send_chain(f, hq, run, 2);
    assert_int_equal(resident(f, PAGES, 2 * PG), 0);
    assert_int_equal(resident(f, PAGES + 2 * PG, 2 * PG), 2);
    assert_int_equal(cnt(&m()->free_page_hint_count), cnt0 + 1);
    assert_int_equal(cnt(&m()->free_page_hint_freed), freed0 + 2 * PG);
    assert_int_equal(balloon_hinting_status(f->b, &h, NULL), 0);
    assert_int_equal(h.host_cmd, 3);
    assert_true(h.has_guest_cmd);
    assert_int_equal(h.guest_cmd, 3);

    /* The guest is done (STOP): acknowledged with DONE. */
    put_u32(f, BUF + 16, BALLOON_HINT_CMD_STOP);
    send_chain(f, hq, stop, 1);
    assert_int_equal(cfg_rd(f, 8), BALLOON_HINT_CMD_DONE);
    assert_int_equal(balloon_hinting_status(f->b, &h, NULL), 0);
    assert_int_equal(h.host_cmd, 1);
    assert_int_equal(h.guest_cmd, 0);

    /* Ranges under an old id, or after DONE, are ignored. */
    touch(f, PAGES, 4 * PG);
    send_chain(f, hq, run, 2);
    assert_int_equal(resident(f, PAGES, 2 * PG), 2);
    assert_int_equal(balloon_start_hinting(f->b, false, NULL), 0);
    assert_int_equal(cfg_rd(f, 8), 4);
    send_chain(f, hq, run, 2); /* still id 3 */
    assert_int_equal(resident(f, PAGES, 2 * PG), 2);
    /* Without acknowledge_on_stop the host keeps its id. */
    send_chain(f, hq, stop, 1);
    assert_int_equal(cfg_rd(f, 8), 4);
    assert_int_equal(balloon_stop_hinting(f->b, NULL), 0);
    assert_int_equal(cfg_rd(f, 8), 1);
    assert_int_equal(drv_used_idx(&f->d[hq]), 6);
}

static void test_hinting_hostile(void **state)
{
    struct fx *f = *state;
    struct balloon_params p = {0, false, 1, true, false, NULL, NULL};
    uint64_t fails = cnt(&m()->free_page_hint_fails);
    struct dsc bad_cmd[1] = {{MEM_SIZE, 4, 0}};
    struct dsc run[3] = {
        {BUF, 4, 0}, {MEM_SIZE - PG, 2 * PG, F_W}, {PAGES + 1, PG, F_W}};
    const int hq = 3; /* after the stats queue */

    fx_new(f, &p);
    fx_start(f, 4, F_STATS | F_HINT);
    assert_int_equal(balloon_start_hinting(f->b, true, NULL), 0);
    send_chain(f, hq, bad_cmd, 1);
    put_u32(f, BUF, 2);
    send_chain(f, hq, run, 3);
    assert_int_equal(drv_used_idx(&f->d[hq]), 2);
    assert_int_equal(cnt(&m()->free_page_hint_fails), fails + 2);
}

/*
 * The test guest's hostile-hint cases (tests/guest/balloon_hint.c) in
 * process: every chain is used, ignored hints leave their pages, hints
 * under the run's id are released whatever their flags, overlap or
 * repetition, and nothing outside RAM (huge, wrapping) is touched.
 */
static void test_hinting_guest_cases(void **state)
{
    struct fx *f = *state;
    struct balloon_params p = {0, false, 0, true, true, NULL, NULL};
    struct balloon_dev_hinting h;
    const int hq = 2, rq = 3;
    uint16_t hint_used = 0, rep_used = 0;
    struct dsc c[4];
    static const uint32_t ids[] = {BALLOON_HINT_CMD_DONE, 2, 103,
                                   BALLOON_HINT_CMD_STOP};

    fx_new(f, &p);
    fx_start(f, 4, F_HINT | F_REPORT);
    touch(f, PAGES, 64 * PG);
    /* Two runs: 2 is stale, 3 the one going on. */
    assert_int_equal(balloon_start_hinting(f->b, false, NULL), 0);
    assert_int_equal(balloon_start_hinting(f->b, false, NULL), 0);
    assert_int_equal(cfg_rd(f, 8), 3);

    /* No command id yet, DONE, a stale, a wrong id, STOP: ignored. */
    c[1] = (struct dsc){PAGES, PG, F_W};
    send_chain(f, hq, &c[1], 1);
    hint_used++;
    c[0] = (struct dsc){BUF, 4, 0};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        put_u32(f, BUF, ids[i]);
        send_chain(f, hq, c, 2);
        hint_used++;
    }
    assert_int_equal(resident(f, PAGES, PG), 1);
    /* DONE from the guest does not end the host's run. */
    assert_int_equal(cfg_rd(f, 8), 3);

    /* The id outside RAM: the next range goes by the last good id (0). */
    c[0] = (struct dsc){MEM_SIZE + PG, 4, 0};
    send_chain(f, hq, c, 2);
    hint_used++;
    assert_int_equal(resident(f, PAGES, PG), 1);

    /* Under the run's id: overlapping, repeated, read-only, empty, huge,
     * wrapping. */
    put_u32(f, BUF, 3);
    c[0] = (struct dsc){BUF, 4, 0};
    c[1] = (struct dsc){PAGES + 4 * PG, 2 * PG, F_W};
    c[2] = (struct dsc){PAGES + 5 * PG, 2 * PG, F_W};
    c[3] = (struct dsc){PAGES + 5 * PG, 2 * PG, 0};
    send_chain(f, hq, c, 4);
    hint_used++;
    assert_int_equal(resident(f, PAGES + 4 * PG, 3 * PG), 0);
    c[1] = (struct dsc){PAGES + 8 * PG, 0, F_W};
    c[2] = (struct dsc){MEM_SIZE, 0xfffff000u, F_W};
    c[3] = (struct dsc){0xfffffffffffff000ULL, 0x10000, F_W};
    send_chain(f, hq, c, 4);
    hint_used++;
    assert_int_equal(resident(f, PAGES + 8 * PG, PG), 1);
    assert_int_equal(drv_used_idx(&f->d[hq]), hint_used);

    /* Reporting: read-only, empty, huge, outside RAM, overlapping. */
    c[0] = (struct dsc){PAGES + 16 * PG, PG, 0};
    c[1] = (struct dsc){PAGES + 17 * PG, 0, F_W};
    c[2] = (struct dsc){MEM_SIZE, 0xfffff000u, F_W};
    c[3] = (struct dsc){0xfffffffffffff000ULL, 0x10000, F_W};
    send_chain(f, rq, c, 4);
    rep_used++;
    c[0] = (struct dsc){PAGES + 20 * PG, 2 * PG, F_W};
    c[1] = (struct dsc){PAGES + 21 * PG, 2 * PG, F_W};
    send_chain(f, rq, c, 2);
    rep_used++;
    assert_int_equal(resident(f, PAGES + 16 * PG, PG), 0);
    assert_int_equal(resident(f, PAGES + 17 * PG, PG), 1);
    assert_int_equal(resident(f, PAGES + 20 * PG, 3 * PG), 0);
    assert_int_equal(drv_used_idx(&f->d[rq]), rep_used);

    /* The guest's DONE in the run, then its id again: the run goes on. */
    put_u32(f, BUF, BALLOON_HINT_CMD_DONE);
    send_chain(f, hq, c, 1);
    put_u32(f, BUF + 16, 3);
    c[0] = (struct dsc){BUF + 16, 4, 0};
    send_chain(f, hq, c, 1);
    assert_int_equal(balloon_hinting_status(f->b, &h, NULL), 0);
    assert_int_equal(h.host_cmd, 3);
    assert_true(h.has_guest_cmd);
    assert_int_equal(h.guest_cmd, 3);
    assert_int_equal(drv_used_idx(&f->d[hq]), hint_used + 2);
    assert_false(reg_rd(tp(f), 0x70) & SQ_VIRTIO_STATUS_NEEDS_RESET);
}

static void test_reporting(void **state)
{
    struct fx *f = *state;
    struct balloon_params p = {0, false, 1, true, true, NULL, NULL};
    uint64_t c0 = cnt(&m()->free_page_report_count);
    uint64_t freed0 = cnt(&m()->free_page_report_freed);
    uint64_t fails0 = cnt(&m()->free_page_report_fails);
    struct dsc ds[3] = {
        {PAGES, 4 * PG, F_W}, {PAGES + 8 * PG, PG, F_W}, {MEM_SIZE, PG, F_W}};
    const int rq = 4; /* after stats and hinting */

    fx_new(f, &p);
    fx_start(f, 5, F_STATS | F_HINT | F_REPORT);
    touch(f, PAGES, 16 * PG);
    send_chain(f, rq, ds, 3);
    assert_int_equal(drv_used_idx(&f->d[rq]), 1);
    assert_int_equal(resident(f, PAGES, 4 * PG), 0);
    assert_int_equal(resident(f, PAGES + 4 * PG, 4 * PG), 4);
    assert_int_equal(resident(f, PAGES + 8 * PG, PG), 0);
    assert_true(all_zero(f, PAGES, 4 * PG));
    assert_int_equal(cnt(&m()->free_page_report_count), c0 + 3);
    assert_int_equal(cnt(&m()->free_page_report_freed), freed0 + 5 * PG);
    assert_int_equal(cnt(&m()->free_page_report_fails), fails0 + 1);
}

/* Reporting without hinting takes queue 3 (after stats), or 2 alone. */
static void test_reporting_index(void **state)
{
    struct fx *f = *state;
    struct balloon_params with_stats = {0, false, 1, false, true, NULL, NULL};
    struct balloon_params alone = {0, false, 0, false, true, NULL, NULL};
    struct dsc ds[1] = {{PAGES, PG, F_W}};

    fx_new(f, &with_stats);
    fx_start(f, 4, F_STATS | F_REPORT);
    touch(f, PAGES, PG);
    send_chain(f, 3, ds, 1);
    assert_int_equal(drv_used_idx(&f->d[3]), 1);
    assert_int_equal(resident(f, PAGES, PG), 0);
    balloon_free(f->b);

    fx_new(f, &alone);
    fx_start(f, 3, F_REPORT);
    touch(f, PAGES, PG);
    send_chain(f, 2, ds, 1);
    assert_int_equal(drv_used_idx(&f->d[2]), 1);
    assert_int_equal(resident(f, PAGES, PG), 0);
}

/* On a real loop: queue eventfds and the statistics timer fire by
 * themselves (one period of 1 s). */
static void test_on_loop(void **state)
{
    struct fx *f = *state;
    struct balloon_params p = {0, false, 1, false, false, NULL, NULL};
    struct evloop *loop = evloop_new();
    struct dsc ds[1] = {{BUF, 10, 0}};
    uint32_t pfn = 0x400;
    struct dsc ids[1] = {{BUF + 0x100, 4, 0}};

    assert_non_null(loop);
    assert_int_equal(balloon_new(&p, &f->b, NULL), 0);
    assert_int_equal(balloon_attach(f->b, &f->mem.gm, -1, 0xc0001000, loop), 0);
    fx_start(f, 3, F_STATS);
    put_stat(f, BUF, 3, 11);
    drv_desc(&f->d[2], 0, ds[0].addr, ds[0].len, 0, 0);
    drv_publish(&f->d[2], 0);
    touch(f, PAGES, PG);
    put_pfns(f, BUF + 0x100, &pfn, 1);
    drv_desc(&f->d[INFL], 0, ids[0].addr, ids[0].len, 0, 0);
    drv_publish(&f->d[INFL], 0);
    evloop_eventfd_signal(tp(f)->queue_fd[INFL]);
    evloop_eventfd_signal(tp(f)->queue_fd[2]);
    for (int i = 0; i < 50 && drv_used_idx(&f->d[2]) == 0; i++)
        assert_true(evloop_run_once(loop, 100) >= 0);
    assert_int_equal(drv_used_idx(&f->d[INFL]), 1);
    assert_int_equal(resident(f, PAGES, PG), 0);
    assert_int_equal(drv_used_idx(&f->d[2]), 1); /* the timer's tick */
    balloon_detach(f->b);
    evloop_free(loop);
}

/* ---- reset, re-activation, a corrupt ring ---- */

static void test_reset_reactivate(void **state)
{
    struct fx *f = *state;
    struct balloon_params p = {2, false, 1, true, false, NULL, NULL};
    struct balloon_dev_stats st;
    struct balloon_dev_hinting h;
    struct itimerspec its;
    struct dsc sds[1] = {{BUF + 0x100, 10, 0}};
    uint32_t pfn = 0x400;
    struct dsc ids[1] = {{BUF, 4, 0}};

    fx_new(f, &p);
    fx_start(f, 4, F_STATS | F_HINT);
    reg_wr(tp(f), VIRTIO_MMIO_CONFIG + 4, 300);
    put_stat(f, BUF + 0x100, 7, 5);
    send_chain(f, 2, sds, 1);
    assert_int_equal(balloon_start_hinting(f->b, true, NULL), 0);

    reg_wr(tp(f), 0x70, 0);
    assert_int_equal(reg_rd(tp(f), 0x70), 0);
    assert_int_equal(cfg_rd(f, 0), 512); /* the target survives */
    assert_int_equal(cfg_rd(f, 4), 0);
    assert_int_equal(cfg_rd(f, 8), 0);
    assert_int_equal(balloon_get_stats(f->b, &st, NULL), 0);
    assert_false(st.has[7]);
    assert_int_equal(balloon_hinting_status(f->b, &h, NULL), 0);
    assert_int_equal(h.host_cmd, 0);
    assert_false(h.has_guest_cmd);
    assert_int_equal(timerfd_gettime(balloon_stats_timer_fd(f->b), &its), 0);
    assert_int_equal(its.it_value.tv_sec + its.it_value.tv_nsec, 0);
    /* The held buffer is forgotten: a tick gives nothing back. */
    balloon_stats_timer_event(f->b);
    assert_int_equal(balloon_update_size(f->b, 1, NULL), -ENODEV);

    /* The driver comes back; everything works again. */
    fx_start(f, 4, F_STATS | F_HINT);
    assert_int_equal(timerfd_gettime(balloon_stats_timer_fd(f->b), &its), 0);
    assert_int_equal(its.it_interval.tv_sec, 1);
    touch(f, PAGES, PG);
    put_pfns(f, BUF, &pfn, 1);
    send_chain(f, INFL, ids, 1);
    assert_int_equal(drv_used_idx(&f->d[INFL]), 1);
    assert_int_equal(resident(f, PAGES, PG), 0);
    assert_int_equal(balloon_update_size(f->b, 1, NULL), 0);
    assert_int_equal(balloon_start_hinting(f->b, true, NULL), 0);
    assert_int_equal(cfg_rd(f, 8), 2);
}

static void test_corrupt_ring(void **state)
{
    struct fx *f = *state;
    struct balloon_params p = {0, false, 0, false, false, NULL, NULL};
    uint64_t fails = cnt(&m()->event_fails);

    fx_new(f, &p);
    fx_start(f, 2, 0);
    drv_set_avail_idx(&f->d[INFL], 300);
    virtio_mmio_notify(tp(f), INFL);
    assert_true(reg_rd(tp(f), 0x70) & SQ_VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(cnt(&m()->event_fails), fails + 1);
}

/* ---- compaction ---- */

static void test_compact(void **state)
{
    uint32_t v[64];
    struct balloon_range r[64];
    size_t n;

    (void)state;
    assert_int_equal(balloon_compact_pfns(v, 0, r), 0);
    for (uint32_t i = 0; i < 20; i++)
        v[i] = 19 - i;
    n = balloon_compact_pfns(v, 20, r);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].pfn, 0);
    assert_int_equal(r[0].len, 20);
    /* Two runs of 5, each shuffled with duplicates, and a lone page. */
    {
        const uint32_t in[] = {104, 100, 101, 101, 103, 102, 7,
                               204, 200, 202, 201, 203, 200};

        memcpy(v, in, sizeof(in));
        n = balloon_compact_pfns(v, sizeof(in) / 4, r);
        assert_int_equal(n, 3);
        assert_int_equal(r[0].pfn, 7);
        assert_int_equal(r[0].len, 1);
        assert_int_equal(r[1].pfn, 100);
        assert_int_equal(r[1].len, 5);
        assert_int_equal(r[2].pfn, 200);
        assert_int_equal(r[2].len, 5);
    }
    v[0] = UINT32_MAX;
    v[1] = UINT32_MAX;
    v[2] = UINT32_MAX - 1;
    n = balloon_compact_pfns(v, 3, r);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].pfn, UINT32_MAX - 1);
    assert_int_equal(r[0].len, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_features, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_space, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inflate_releases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inflate_invalid_pfns, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_inflate_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inflate_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deflate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hinting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hinting_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hinting_guest_cases, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reporting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reporting_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_on_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_reactivate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_ring, setup, teardown),
        cmocka_unit_test(test_compact),
    };

    log_set_level(LOG_OFF);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
