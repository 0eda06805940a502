/*
 * test_pmem.c: the virtio-pmem device driven through its request queue,
 * with a temporary file as the backing store: opening errors, identity,
 * features and config space, the mapping's size and alignment, FLUSH
 * (bytes written through the mapping reach the file), a read-only
 * mapping that faults on writes, hostile chains, the rate limiter and its
 * PATCH, a corrupt ring and reset.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/virtio/pmem.h"
#include "obs/metrics.h"
#include "virtq_driver.h"

#define MEM_SIZE 0x400000ULL
#define REQ      0x100000ULL     /* request type words */
#define STATUS   0x200000ULL     /* status words */
#define GPA      0x8000000000ULL /* 512 GiB: where the machine puts it */
#define MIB2     (2ULL * 1024 * 1024)

#define F_N SQ_VIRTQ_DESC_F_NEXT
#define F_W SQ_VIRTQ_DESC_F_WRITE

struct fx {
    struct drv_mem mem;
    struct drv d;
    uint16_t next_desc;
    uint16_t n_req; /* request slots used (REQ/STATUS + 8 * n) */
    struct pmem *pm;
    char dir[64];
    char path[96];
    uint64_t fake_ns;
};

static uint64_t fake_clock(void *opaque)
{
    return ((struct fx *)opaque)->fake_ns;
}

static uint64_t cnt(struct metrics_counter *c)
{
    return atomic_load(&c->v);
}

static struct metrics_pmem *m(void)
{
    return metrics_pmem_get("pm0");
}

static struct virtio_mmio *tp(struct fx *f)
{
    return pmem_transport(f->pm);
}

/* Create the backing file with `len` bytes of 0x5a. */
static void make_file(struct fx *f, size_t len)
{
    int fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    uint8_t *b = malloc(len ? len : 1);

    assert_true(fd >= 0);
    memset(b, 0x5a, len);
    assert_int_equal(write(fd, b, len), (ssize_t)len);
    close(fd);
    free(b);
}

static int open_dev(struct fx *f, bool ro, const struct rate_limiter_params *rl)
{
    struct pmem_params p = {
        .id = "pm0", .path = f->path, .read_only = ro, .rl = rl};
    struct sq_err err;
    int rc;

    sq_err_clear(&err);
    rc = pmem_new(&p, &f->pm, &err);
    if (rc < 0)
        return rc;
    assert_int_equal(pmem_set_guest_addr(f->pm, GPA), 0);
    assert_int_equal(pmem_attach(f->pm, &f->mem.gm, -1, 0xc0003000, NULL), 0);
    f->fake_ns = 5000000000ULL;
    rate_limiter_set_clock(pmem_rate_limiter(f->pm), fake_clock, f);
    return 0;
}

static void fx_start(struct fx *f)
{
    assert_int_equal(drv_setup(&f->d, &f->mem, tp(f), 256, 0), 15);
    f->next_desc = 0;
}

static void fx_open(struct fx *f, size_t file_len, bool ro,
                    const struct rate_limiter_params *rl)
{
    make_file(f, file_len);
    assert_int_equal(open_dev(f, ro, rl), 0);
    fx_start(f);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    drv_mem_init(&f->mem, MEM_SIZE);
    snprintf(f->dir, sizeof(f->dir), "/tmp/squib-pmem-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/img", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    pmem_free(f->pm);
    unlink(f->path);
    rmdir(f->dir);
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

/* Publish a well-formed FLUSH; returns the status word's address. */
static uint64_t flush_req(struct fx *f)
{
    uint64_t req = REQ + 8ULL * f->n_req, st = STATUS + 8ULL * f->n_req;
    uint32_t zero = 0, junk = 0x77777777;
    struct dsc ds[2] = {{req, 4, 0}, {st, 4, F_W}};

    f->n_req++;
    memcpy(g2h(&f->mem, req, 4), &zero, 4);
    memcpy(g2h(&f->mem, st, 4), &junk, 4);
    publish(f, ds, 2);
    return st;
}

static int32_t status_at(struct fx *f, uint64_t gpa)
{
    int32_t v;

    memcpy(&v, g2h(&f->mem, gpa, 4), 4);
    return v;
}

static void used(struct fx *f, uint16_t i, uint32_t want_id, uint32_t want_len)
{
    uint32_t id, len;

    drv_used_elem(&f->d, i, &id, &len);
    assert_int_equal(id, want_id);
    assert_int_equal(len, want_len);
}

static void cfg_read(struct fx *f, uint8_t *out, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        bus_dev_lock(&tp(f)->bus);
        virtio_mmio_read(&tp(f)->bus, 0x100 + i, &out[i], 1);
        bus_dev_unlock(&tp(f)->bus);
    }
}

static void test_open_errors(void **state)
{
    struct fx *f = *state;
    struct pmem_params p = {.id = "pm0", .path = f->path};
    struct pmem *pm = NULL;
    struct sq_err err;

    sq_err_clear(&err);
    assert_int_equal(pmem_new(&p, &pm, &err), -ENOENT);
    assert_null(pm);
    assert_string_equal(err.msg, "Error accessing backing file: No such file "
                                 "or directory (os error 2)");
    make_file(f, 0);
    sq_err_clear(&err);
    assert_int_equal(pmem_new(&p, &pm, &err), -EINVAL);
    assert_null(pm);
    assert_string_equal(err.msg, "Error backing file size is 0");
    p.read_only = true;
    sq_err_clear(&err);
    assert_int_equal(pmem_new(&p, &pm, &err), -EINVAL);
}

static void test_identity_config(void **state)
{
    struct fx *f = *state;
    struct pmem_region r;
    uint64_t cfg_fails = cnt(&m()->cfg_fails);
    uint8_t cfg[24];
    uint64_t v;

    make_file(f, 4096);
    assert_int_equal(open_dev(f, false, NULL), 0);
    assert_int_equal(reg_rd(tp(f), 0x00), VIRTIO_MMIO_MAGIC);
    assert_int_equal(reg_rd(tp(f), 0x08), 27);
    reg_wr(tp(f), 0x14, 0);
    assert_int_equal(reg_rd(tp(f), 0x10), 0);
    reg_wr(tp(f), 0x14, 1);
    assert_int_equal(reg_rd(tp(f), 0x10), 1); /* VERSION_1 only */
    reg_wr(tp(f), 0x30, 0);
    assert_int_equal(reg_rd(tp(f), 0x34), 256);
    reg_wr(tp(f), 0x30, 1);
    assert_int_equal(reg_rd(tp(f), 0x34), 0); /* one queue */

    pmem_host_region(f->pm, &r);
    assert_non_null(r.hva);
    assert_int_equal(r.size, MIB2);
    assert_int_equal(r.align, PMEM_ALIGNMENT);
    assert_int_equal(r.file_len, 4096);
    assert_false(r.read_only);
    assert_int_equal((uintptr_t)r.hva % 4096, 0);
    assert_int_equal(((uint8_t *)r.hva)[4095], 0x5a);

    /* start, then size; zeros beyond. */
    cfg_read(f, cfg, sizeof(cfg));
    memcpy(&v, cfg, 8);
    assert_int_equal(v, GPA);
    memcpy(&v, cfg + 8, 8);
    assert_int_equal(v, MIB2);
    for (unsigned i = 16; i < sizeof(cfg); i++)
        assert_int_equal(cfg[i], 0);
    assert_int_equal(reg_rd(tp(f), 0x104), GPA >> 32);

    /* The guest address must be 2 MiB aligned and not wrap. */
    assert_int_equal(pmem_set_guest_addr(f->pm, GPA + 4096), -EINVAL);
    assert_int_equal(pmem_set_guest_addr(f->pm, UINT64_MAX - MIB2 + 1),
                     -EINVAL);
    assert_int_equal(pmem_guest_addr(f->pm), GPA);

    /* Acking EVENT_IDX (not offered) is dropped; writes are refused. */
    assert_int_equal(drv_setup(&f->d, &f->mem, tp(f), 256,
                               1ULL << SQ_VIRTIO_F_RING_EVENT_IDX),
                     15);
    assert_false(virtio_mmio_has_feature(tp(f), SQ_VIRTIO_F_RING_EVENT_IDX));
    reg_wr(tp(f), 0x100, 0x11223344);
    assert_int_equal(cnt(&m()->cfg_fails), cfg_fails + 1);
    assert_int_equal(reg_rd(tp(f), 0x100), (uint32_t)GPA);
}

static void test_sizes(void **state)
{
    struct fx *f = *state;
    static const struct {
        size_t file, window;
    } cases[] = {
        {1, MIB2},
        {MIB2 - 1, MIB2},
        {MIB2, MIB2},
        {MIB2 + 1, 2 * MIB2},
        {3 * MIB2, 3 * MIB2},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pmem_region r;
        struct stat st;

        make_file(f, cases[i].file);
        assert_int_equal(open_dev(f, false, NULL), 0);
        pmem_host_region(f->pm, &r);
        assert_int_equal(r.size, cases[i].window);
        assert_int_equal(r.file_len, cases[i].file);
        /* The whole window is addressable; the tail past the file is
         * private memory and never grows the file. */
        ((volatile uint8_t *)r.hva)[r.size - 1] = 1;
        ((volatile uint8_t *)r.hva)[0] = 2;
        pmem_free(f->pm);
        f->pm = NULL;
        assert_int_equal(stat(f->path, &st), 0);
        assert_int_equal((size_t)st.st_size, cases[i].file);
    }
}

static void test_flush(void **state)
{
    struct fx *f = *state;
    struct pmem_region r;
    uint64_t st[3], ev = cnt(&m()->queue_event_count);
    uint8_t got[8];
    int fd;

    fx_open(f, 3 * 4096, false, NULL);
    pmem_host_region(f->pm, &r);
    memcpy((uint8_t *)r.hva + 5000, "squib-pm", 8);
    for (int i = 0; i < 3; i++)
        st[i] = flush_req(f);
    virtio_mmio_notify(tp(f), 0);
    assert_int_equal(cnt(&m()->queue_event_count), ev + 1);
    assert_int_equal(drv_used_idx(&f->d), 3);
    for (uint16_t i = 0; i < 3; i++) {
        used(f, i, 2u * i, 4);
        assert_int_equal(status_at(f, st[i]), PMEM_STATUS_OK);
    }
    assert_int_equal(drv_irqs(&f->d), 1);
    fd = open(f->path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, got, 8, 5000), 8);
    close(fd);
    assert_memory_equal(got, "squib-pm", 8);

    /* An empty notification does nothing and raises no interrupt. */
    virtio_mmio_notify(tp(f), 0);
    assert_int_equal(drv_used_idx(&f->d), 3);
    assert_int_equal(drv_irqs(&f->d), 0);

    /* Extra descriptors after the status are ignored (upstream). */
    {
        uint32_t zero = 0;
        struct dsc ds[3] = {
            {REQ + 0x800, 4, 0}, {STATUS + 0x800, 4, F_W}, {0x300000, 64, F_W}};

        memcpy(g2h(&f->mem, REQ + 0x800, 4), &zero, 4);
        publish(f, ds, 3);
        virtio_mmio_notify(tp(f), 0);
        used(f, 3, 6, 4);
        assert_int_equal(status_at(f, STATUS + 0x800), PMEM_STATUS_OK);
    }
}

static void test_read_only(void **state)
{
    struct fx *f = *state;
    struct pmem_region r;
    uint64_t st;
    pid_t pid;
    int ws;

    fx_open(f, 4096, true, NULL);
    pmem_host_region(f->pm, &r);
    assert_true(r.read_only);
    assert_int_equal(((volatile uint8_t *)r.hva)[10], 0x5a);
    /* A write through the mapping faults: try it in a child. */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Not cmocka's handler: it would carry on with the next test. */
        struct sigaction sa = {.sa_handler = SIG_DFL};

        sigaction(SIGSEGV, &sa, NULL);
        ((volatile uint8_t *)r.hva)[10] = 1;
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    /* Killed by SIGSEGV (or ASan's report exits 1). */
    if (WIFSIGNALED(ws))
        assert_int_equal(WTERMSIG(ws), SIGSEGV);
    else
        assert_int_not_equal(WEXITSTATUS(ws), 0);
    assert_int_equal(((volatile uint8_t *)r.hva)[10], 0x5a);
    /* mprotect cannot make it writable either: the fd was O_RDONLY. */
    assert_int_equal(mprotect(r.hva, 4096, PROT_READ | PROT_WRITE), -1);
    assert_int_equal(errno, EACCES);
    /* FLUSH still answers success, as upstream. */
    st = flush_req(f);
    virtio_mmio_notify(tp(f), 0);
    used(f, 0, 0, 4);
    assert_int_equal(status_at(f, st), PMEM_STATUS_OK);
}

static void test_hostile(void **state)
{
    struct fx *f = *state;
    uint32_t zero = 0, one = 1;
    static const struct {
        struct dsc ds[2];
        int n;
        bool bad_next;
    } cases[] = {
        /* write-only head */
        {{{REQ, 4, F_W}, {STATUS, 4, F_W}}, 2, false},
        /* head of 8 bytes, of 0 bytes */
        {{{REQ, 8, 0}, {STATUS, 4, F_W}}, 2, false},
        {{{REQ, 0, 0}, {STATUS, 4, F_W}}, 2, false},
        /* unknown type (REQ + 4 holds 1) */
        {{{REQ + 4, 4, 0}, {STATUS, 4, F_W}}, 2, false},
        /* no status descriptor */
        {{{REQ, 4, 0}}, 1, false},
        /* head's next out of range */
        {{{REQ, 4, 0}, {STATUS, 4, F_W}}, 2, true},
        /* read-only status, status of 8 and 0 bytes */
        {{{REQ, 4, 0}, {STATUS, 4, 0}}, 2, false},
        {{{REQ, 4, 0}, {STATUS, 8, F_W}}, 2, false},
        {{{REQ, 4, 0}, {STATUS, 0, F_W}}, 2, false},
        /* head outside RAM, head straddling its end */
        {{{MEM_SIZE + 4096, 4, 0}, {STATUS, 4, F_W}}, 2, false},
        {{{MEM_SIZE - 2, 4, 0}, {STATUS, 4, F_W}}, 2, false},
        /* status outside RAM */
        {{{REQ, 4, 0}, {MEM_SIZE - 2, 4, F_W}}, 2, false},
        {{{REQ, 4, 0}, {UINT64_MAX - 1, 4, F_W}}, 2, false},
    };
    uint64_t fails = cnt(&m()->event_fails);
    uint16_t n = (uint16_t)(sizeof(cases) / sizeof(cases[0]));

    fx_open(f, 4096, false, NULL);
    memcpy(g2h(&f->mem, REQ, 4), &zero, 4);
    memcpy(g2h(&f->mem, REQ + 4, 4), &one, 4);
    for (uint16_t i = 0; i < n; i++) {
        uint16_t head = publish(f, cases[i].ds, cases[i].n);

        if (cases[i].bad_next)
            drv_desc(&f->d, head, REQ, 4, F_N, 999);
        memcpy(g2h(&f->mem, STATUS, 4), &one, 4);
        virtio_mmio_notify(tp(f), 0);
        assert_int_equal(drv_used_idx(&f->d), i + 1);
        used(f, i, head, 0);
        assert_int_equal(cnt(&m()->event_fails), fails + i + 1);
        /* Nothing written into a refused request's status. */
        assert_int_equal(status_at(f, STATUS), 1);
    }
    /* The queue still works. */
    {
        uint64_t st = flush_req(f);

        virtio_mmio_notify(tp(f), 0);
        assert_int_equal(status_at(f, st), PMEM_STATUS_OK);
        used(f, n, (uint32_t)(f->next_desc - 2), 4);
    }
    /* A corrupt avail ring: NEEDS_RESET; a reset brings it back. */
    drv_set_avail_idx(&f->d, 1000);
    virtio_mmio_notify(tp(f), 0);
    assert_true(reg_rd(tp(f), 0x70) & SQ_VIRTIO_STATUS_NEEDS_RESET);
    fx_start(f);
    f->n_req = 0;
    {
        uint64_t st = flush_req(f);

        virtio_mmio_notify(tp(f), 0);
        used(f, 0, 0, 4);
        assert_int_equal(status_at(f, st), PMEM_STATUS_OK);
    }
}

static void fire(struct rate_limiter *rl)
{
    struct pollfd pf = {.fd = rl->timer_fd, .events = POLLIN};

    assert_int_equal(poll(&pf, 1, 5000), 1);
}

static void test_rate_limited_ops(void **state)
{
    struct fx *f = *state;
    struct rate_limiter_params rl = {.has_ops = true, .ops = {1, 0, 100}};
    uint64_t thr = cnt(&m()->rate_limiter_throttled_events),
             ev = cnt(&m()->rate_limiter_event_count),
             qev = cnt(&m()->queue_event_count);

    fx_open(f, 4096, false, &rl);
    /* One batch pays one op, however many requests it holds. */
    flush_req(f);
    flush_req(f);
    virtio_mmio_notify(tp(f), 0);
    assert_int_equal(drv_used_idx(&f->d), 2);
    /* The next batch is refused before anything is popped. */
    flush_req(f);
    virtio_mmio_notify(tp(f), 0);
    assert_int_equal(drv_used_idx(&f->d), 2);
    assert_int_equal(cnt(&m()->rate_limiter_throttled_events) - thr, 1);
    /* Notified while blocked: counted as throttled, nothing done. */
    virtio_mmio_notify(tp(f), 0);
    assert_int_equal(cnt(&m()->rate_limiter_throttled_events) - thr, 2);
    assert_int_equal(cnt(&m()->queue_event_count) - qev, 3);
    assert_int_equal(drv_used_idx(&f->d), 2);
    /* The timer resumes the queue. */
    f->fake_ns += 100 * 1000000ULL;
    fire(pmem_rate_limiter(f->pm));
    pmem_rate_limiter_event(f->pm);
    assert_int_equal(cnt(&m()->rate_limiter_event_count) - ev, 1);
    assert_int_equal(drv_used_idx(&f->d), 3);
    used(f, 2, 4, 4);
    /* PATCH /pmem/{id} drops the ops bucket: no more throttling. */
    {
        struct rate_limiter_params off = {.has_ops = true, .ops = {0, 0, 0}};
        struct rate_limiter_params now;

        pmem_update_rate_limiter(f->pm, &off);
        rate_limiter_get_params(pmem_rate_limiter(f->pm), &now);
        assert_false(now.has_ops);
        pmem_update_rate_limiter(f->pm, NULL); /* absent: unchanged */
        rate_limiter_get_params(pmem_rate_limiter(f->pm), &now);
        assert_false(now.has_ops);
    }
    for (int i = 0; i < 3; i++) {
        flush_req(f);
        virtio_mmio_notify(tp(f), 0);
    }
    assert_int_equal(drv_used_idx(&f->d), 6);
}

static void test_rate_limited_bytes(void **state)
{
    struct fx *f = *state;
    /* 8 KiB per 100 ms against a 4 KiB file: two batches, then wait. */
    struct rate_limiter_params rl = {.has_bandwidth = true,
                                     .bandwidth = {8192, 0, 100}};
    uint64_t thr = cnt(&m()->rate_limiter_throttled_events);

    fx_open(f, 4096, false, &rl);
    for (int i = 0; i < 3; i++) {
        flush_req(f);
        virtio_mmio_notify(tp(f), 0);
    }
    assert_int_equal(drv_used_idx(&f->d), 2);
    assert_int_equal(cnt(&m()->rate_limiter_throttled_events) - thr, 1);
    /* 100 ms later the bucket is full again. */
    f->fake_ns += 100 * 1000000ULL;
    fire(pmem_rate_limiter(f->pm));
    pmem_rate_limiter_event(f->pm);
    assert_int_equal(drv_used_idx(&f->d), 3);
    /* A file larger than the bucket goes through once, then blocks. */
    {
        struct rate_limiter_params tiny = {.has_bandwidth = true,
                                           .bandwidth = {100, 0, 100}};

        pmem_update_rate_limiter(f->pm, &tiny);
    }
    flush_req(f);
    virtio_mmio_notify(tp(f), 0);
    assert_int_equal(drv_used_idx(&f->d), 4);
    flush_req(f);
    virtio_mmio_notify(tp(f), 0);
    assert_int_equal(drv_used_idx(&f->d), 4);
}

static void test_reset(void **state)
{
    struct fx *f = *state;
    uint64_t st;

    fx_open(f, 4096, false, NULL);
    flush_req(f);
    virtio_mmio_notify(tp(f), 0);
    assert_int_equal(drv_used_idx(&f->d), 1);
    reg_wr(tp(f), 0x70, 0);
    assert_int_equal(reg_rd(tp(f), 0x70), 0);
    assert_false(tp(f)->activated);
    /* Notifications while reset do nothing. */
    virtio_mmio_notify(tp(f), 0);
    /* Bring it up again with fresh rings. */
    fx_start(f);
    f->n_req = 0;
    st = flush_req(f);
    virtio_mmio_notify(tp(f), 0);
    assert_int_equal(drv_used_idx(&f->d), 1);
    used(f, 0, 0, 4);
    assert_int_equal(status_at(f, st), PMEM_STATUS_OK);
    /* The config space survives a reset. */
    assert_int_equal(reg_rd(tp(f), 0x108), (uint32_t)MIB2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limited_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limited_bytes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
