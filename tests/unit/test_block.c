/*
 * test_block.c: the virtio-block device driven like a guest would: rings
 * built by hand in guard-paged guest memory, registers written through the
 * transport, notifications delivered as the vmm loop would deliver them.
 * The backing file is checked byte for byte. Every test that does I/O runs
 * with the Sync and the Async (io_uring) engine; Async skips, saying why,
 * where the kernel refuses io_uring.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/virtio/block.h"
#include "devices/virtio/rng.h"
#include "obs/metrics.h"
#include "virtq_driver.h"
#include "vmm/device_cfg.h"

#define MEM_SIZE   0x400000ULL /* 4 MiB */
#define DISK_SIZE  (1024 * 1024)
#define HDR_GPA    0x20000ULL
#define STATUS_GPA 0x21000ULL
#define BUF_GPA    0x100000ULL

#define F_N SQ_VIRTQ_DESC_F_NEXT
#define F_W SQ_VIRTQ_DESC_F_WRITE

struct fx {
    struct drv_mem mem;
    struct drv d;
    struct block *b;
    struct metrics_block *m;
    char dir[64];
    char path[96];
    char id[32];
    enum block_io_engine engine;
    uint16_t next_desc;
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

static void write_file(const char *path, size_t size, uint8_t seed)
{
    uint8_t *buf = malloc(size);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    assert_true(fd >= 0);
    for (size_t i = 0; i < size; i++)
        buf[i] = (uint8_t)(i * 7 + seed);
    assert_int_equal(write(fd, buf, size), (ssize_t)size);
    close(fd);
    free(buf);
}

static void read_file(const char *path, uint64_t off, void *out, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, out, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static bool io_uring_usable(void)
{
    struct io_uring ring;
    int rc = io_uring_queue_init(4, &ring, 0);

    if (rc < 0) {
        printf("SKIP: io_uring is not usable here (%s)\n", strerror(-rc));
        return false;
    }
    io_uring_queue_exit(&ring);
    return true;
}

/* Build a device on a fresh 1 MiB file; features acked: `features`. */
static void fx_open(struct fx *f, bool read_only, enum block_cache_type cache,
                    const struct rate_limiter_params *rl, uint64_t features)
{
    struct block_config cfg;
    struct sq_err err;
    static int serial;

    f->b = NULL;
    f->next_desc = 0;
    snprintf(f->id, sizeof(f->id), "drive%d", serial++);
    write_file(f->path, DISK_SIZE, 0);
    memset(&cfg, 0, sizeof(cfg));
    cfg.drive_id = f->id;
    cfg.path_on_host = f->path;
    cfg.is_read_only = read_only;
    cfg.cache_type = cache;
    cfg.io_engine = f->engine;
    cfg.rate_limiter = rl;
    sq_err_clear(&err);
    if (block_new(&cfg, &f->b, &err) != 0)
        fail_msg("block_new: %s", err.msg);
    f->m = metrics_block_get(f->id);
    assert_int_equal(block_attach(f->b, &f->mem.gm, -1, 0xc0001000, NULL), 0);
    f->fake_ns = 1000000000ULL;
    rate_limiter_set_clock(block_rate_limiter(f->b), fake_clock, f);
    assert_int_equal(
        drv_setup(&f->d, &f->mem, block_transport(f->b), 256, features), 15);
}

static void fx_close(struct fx *f)
{
    block_free(f->b);
    f->b = NULL;
}

static int setup(void **state, enum block_io_engine engine)
{
    struct fx *f = calloc(1, sizeof(*f));

    f->engine = engine;
    drv_mem_init(&f->mem, MEM_SIZE);
    snprintf(f->dir, sizeof(f->dir), "/tmp/squib-block-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/disk.img", f->dir);
    *state = f;
    return 0;
}

static int setup_sync(void **state)
{
    return setup(state, BLOCK_IO_SYNC);
}

static int setup_async(void **state)
{
    return setup(state, BLOCK_IO_ASYNC);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char p[128];

    fx_close(f);
    unlink(f->path);
    snprintf(p, sizeof(p), "%s/other.img", f->dir);
    unlink(p);
    rmdir(f->dir);
    drv_mem_fini(&f->mem);
    free(f);
    return 0;
}

/* Skip Async tests where io_uring does not work. */
#define NEED_ENGINE(f)                                                         \
    do {                                                                       \
        if ((f)->engine == BLOCK_IO_ASYNC && !io_uring_usable())               \
            skip();                                                            \
    } while (0)

static uint8_t *gp(struct fx *f, uint64_t gpa, uint64_t len)
{
    return g2h(&f->mem, gpa, len);
}

static void put_header(struct fx *f, uint64_t gpa, uint32_t type,
                       uint64_t sector)
{
    uint8_t *h = gp(f, gpa, 16);

    memset(h, 0, 16);
    memcpy(h, &type, 4);
    memcpy(h + 8, &sector, 8);
}

/* Publish a chain of `n` descriptors (addr, len, flags) and return its
 * head. Descriptors are taken round-robin from the table. */
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
        uint16_t next = (uint16_t)((idx + 1) % 256);

        drv_desc(&f->d, idx, ds[i].addr, ds[i].len,
                 (uint16_t)(ds[i].flags | (i + 1 < n ? F_N : 0)), next);
    }
    f->next_desc = (uint16_t)((f->next_desc + n) % 256);
    drv_publish(&f->d, head);
    return head;
}

/* Async: wait for every submitted request to complete, as the loop would
 * on the completion eventfd. Sync: nothing is ever in flight. */
static void pump(struct fx *f)
{
    for (int i = 0; i < 5000 && f->engine == BLOCK_IO_ASYNC; i++) {
        block_completion_event(f->b);
        if (!block_in_flight(f->b))
            break;
        usleep(1000);
    }
}

/* Notify, then wait until the device has returned `want` used entries. */
static void settle(struct fx *f, uint16_t want)
{
    virtio_mmio_notify(block_transport(f->b), 0);
    pump(f);
    (void)want;
}

static void notify(struct fx *f)
{
    virtio_mmio_notify(block_transport(f->b), 0);
    pump(f);
}

/* One request: header + optional data + status; returns the status byte
 * (0xAA if never written) and the used length. */
static uint8_t request(struct fx *f, uint32_t type, uint64_t sector,
                       uint64_t data_gpa, uint32_t data_len, bool with_data,
                       uint32_t *used_len)
{
    struct dsc ds[3];
    uint16_t before = drv_used_idx(&f->d), head;
    uint32_t id = 0xffff, len = 0;
    int n = 0;

    put_header(f, HDR_GPA, type, sector);
    *gp(f, STATUS_GPA, 1) = 0xAA;
    ds[n++] = (struct dsc){HDR_GPA, 16, 0};
    if (with_data)
        ds[n++] = (struct dsc){data_gpa, data_len,
                               type == SQ_VIRTIO_BLK_T_OUT ? 0 : F_W};
    ds[n++] = (struct dsc){STATUS_GPA, 1, F_W};
    head = publish(f, ds, n);
    settle(f, (uint16_t)(before + 1));
    assert_int_equal(drv_used_idx(&f->d), (uint16_t)(before + 1));
    drv_used_elem(&f->d, before, &id, &len);
    assert_int_equal(id, head);
    if (used_len)
        *used_len = len;
    return *gp(f, STATUS_GPA, 1);
}

/* ---- tests ------------------------------------------------------------- */

static void test_features_and_config(void **state)
{
    struct fx *f = *state;
    struct virtio_mmio *t;
    uint8_t cap[12];

    fx_open(f, false, BLOCK_CACHE_UNSAFE, NULL, 0);
    t = block_transport(f->b);
    assert_int_equal(reg_rd(t, 0x08), 2);
    reg_wr(t, 0x14, 0);
    assert_int_equal(reg_rd(t, 0x10), 1u << 29); /* EVENT_IDX only */
    reg_wr(t, 0x14, 1);
    assert_int_equal(reg_rd(t, 0x10), 1); /* VERSION_1 */
    assert_int_equal(reg_rd(t, 0x34), 256);
    bus_dev_lock(&t->bus);
    virtio_mmio_read(&t->bus, 0x100, cap, sizeof(cap));
    bus_dev_unlock(&t->bus);
    assert_memory_equal(cap, "\x00\x08\x00\x00\x00\x00\x00\x00\0\0\0\0", 12);
    assert_int_equal(block_nsectors(f->b), DISK_SIZE / 512);
    /* The guest may not write the config space. */
    {
        uint64_t before = cnt(&f->m->cfg_fails);

        bus_dev_lock(&t->bus);
        virtio_mmio_write(&t->bus, 0x100, cap, 8);
        bus_dev_unlock(&t->bus);
        assert_int_equal(cnt(&f->m->cfg_fails), before + 1);
        assert_int_equal(block_nsectors(f->b), DISK_SIZE / 512);
    }
    fx_close(f);

    fx_open(f, true, BLOCK_CACHE_WRITEBACK, NULL, 0);
    t = block_transport(f->b);
    reg_wr(t, 0x14, 0);
    assert_int_equal(reg_rd(t, 0x10), (1u << 29) | (1u << 9) | (1u << 5));
}

static void test_write_read_roundtrip(void **state)
{
    struct fx *f = *state;
    uint8_t pattern[2048], back[2048];
    uint64_t rb, wb, rc, wc;
    uint32_t len;

    NEED_ENGINE(f);
    fx_open(f, false, BLOCK_CACHE_UNSAFE, NULL, 1ULL << 29);
    for (size_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(i ^ 0x5a);
    memcpy(gp(f, BUF_GPA, sizeof(pattern)), pattern, sizeof(pattern));
    wb = cnt(&f->m->write_bytes);
    wc = cnt(&f->m->write_count);
    rb = cnt(&f->m->read_bytes);
    rc = cnt(&f->m->read_count);

    assert_int_equal(
        request(f, SQ_VIRTIO_BLK_T_OUT, 10, BUF_GPA, 2048, true, &len),
        SQ_VIRTIO_BLK_S_OK);
    assert_int_equal(len, 1); /* only the status byte went to memory */
    read_file(f->path, 10 * 512, back, sizeof(back));
    assert_memory_equal(back, pattern, sizeof(pattern));
    /* The sectors around are untouched. */
    read_file(f->path, 9 * 512, back, 512);
    for (int i = 0; i < 512; i++)
        assert_int_equal(back[i], (uint8_t)((9 * 512 + i) * 7));

    memset(gp(f, BUF_GPA + 0x10000, 2048), 0, 2048);
    assert_int_equal(
        request(f, SQ_VIRTIO_BLK_T_IN, 10, BUF_GPA + 0x10000, 2048, true, &len),
        SQ_VIRTIO_BLK_S_OK);
    assert_int_equal(len, 2048 + 1);
    assert_memory_equal(gp(f, BUF_GPA + 0x10000, 2048), pattern, 2048);

    /* The last sector of the disk is reachable, one past is not. */
    assert_int_equal(request(f, SQ_VIRTIO_BLK_T_IN, DISK_SIZE / 512 - 1,
                             BUF_GPA, 512, true, &len),
                     SQ_VIRTIO_BLK_S_OK);
    read_file(f->path, DISK_SIZE - 512, back, 512);
    assert_memory_equal(gp(f, BUF_GPA, 512), back, 512);

    assert_int_equal(cnt(&f->m->write_bytes) - wb, 2048);
    assert_int_equal(cnt(&f->m->write_count) - wc, 1);
    assert_int_equal(cnt(&f->m->read_bytes) - rb, 2048 + 512);
    assert_int_equal(cnt(&f->m->read_count) - rc, 2);
}

/* Diff snapshots: what the device wrote into guest memory (a read's data,
 * the status byte, the used ring) is marked in squib's dirty-page log,
 * which KVM's log cannot replace; a write's data, only read, is not. */
static void test_dirty_pages_marked(void **state)
{
    struct fx *f = *state;
    const struct atomic_bitmap *dirty = &f->mem.gm.regions[0].dirty;
    uint32_t len;

    NEED_ENGINE(f);
    assert_int_equal(guest_mem_dirty_init(&f->mem.gm), 0);
    fx_open(f, false, BLOCK_CACHE_UNSAFE, NULL, 1ULL << 29);
    assert_int_equal(
        request(f, SQ_VIRTIO_BLK_T_OUT, 10, BUF_GPA, 4096, true, &len),
        SQ_VIRTIO_BLK_S_OK);
    assert_false(atomic_bitmap_test(dirty, BUF_GPA / 4096));
    assert_false(atomic_bitmap_test(dirty, HDR_GPA / 4096));
    assert_true(atomic_bitmap_test(dirty, STATUS_GPA / 4096));
    assert_true(atomic_bitmap_test(dirty, DRV_USED / 4096));
    assert_int_equal(
        request(f, SQ_VIRTIO_BLK_T_IN, 10, BUF_GPA + 0x10000, 8192, true, &len),
        SQ_VIRTIO_BLK_S_OK);
    assert_true(atomic_bitmap_test(dirty, (BUF_GPA + 0x10000) / 4096));
    assert_true(atomic_bitmap_test(dirty, (BUF_GPA + 0x11000) / 4096));
    assert_false(atomic_bitmap_test(dirty, (BUF_GPA + 0x12000) / 4096));
    fx_close(f);
    atomic_bitmap_fini(&f->mem.gm.regions[0].dirty);
}

static void test_flush(void **state)
{
    struct fx *f = *state;
    uint64_t before;
    uint32_t len;

    NEED_ENGINE(f);
    fx_open(f, false, BLOCK_CACHE_WRITEBACK, NULL, 1ULL << 9);
    before = cnt(&f->m->flush_count);
    /* Two-descriptor flush (no data), as Linux sends it. */
    assert_int_equal(request(f, SQ_VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, &len),
                     SQ_VIRTIO_BLK_S_OK);
    assert_int_equal(len, 1);
    /* With a data descriptor it is accepted too (upstream ignores it). */
    assert_int_equal(
        request(f, SQ_VIRTIO_BLK_T_FLUSH, 0, BUF_GPA, 512, true, &len),
        SQ_VIRTIO_BLK_S_OK);
    assert_int_equal(cnt(&f->m->flush_count) - before, 2);
}

static void test_get_id(void **state)
{
    struct fx *f = *state;
    char want[96];
    uint8_t expect[BLOCK_ID_BYTES] = {0};
    struct stat st;
    uint32_t len;

    fx_open(f, false, BLOCK_CACHE_UNSAFE, NULL, 0);
    assert_int_equal(stat(f->path, &st), 0);
    snprintf(want, sizeof(want), "%" PRIu64 "%" PRIu64 "%" PRIu64,
             (uint64_t)st.st_dev, (uint64_t)st.st_rdev, (uint64_t)st.st_ino);
    memcpy(expect, want,
           strlen(want) < BLOCK_ID_BYTES ? strlen(want) : BLOCK_ID_BYTES);
    memset(gp(f, BUF_GPA, 64), 0xee, 64);
    assert_int_equal(
        request(f, SQ_VIRTIO_BLK_T_GET_ID, 0, BUF_GPA, 20, true, &len),
        SQ_VIRTIO_BLK_S_OK);
    assert_int_equal(len, 21);
    assert_memory_equal(gp(f, BUF_GPA, 20), expect, 20);
    assert_memory_equal(block_image_id(f->b), expect, 20);
    assert_int_equal(gp(f, BUF_GPA, 21)[20], 0xee);
    /* A longer buffer still gets 20 bytes, and IOERR (upstream's partial
     * transfer rule). */
    assert_int_equal(
        request(f, SQ_VIRTIO_BLK_T_GET_ID, 0, BUF_GPA, 64, true, &len),
        SQ_VIRTIO_BLK_S_IOERR);
    assert_int_equal(len, 21);
    /* A shorter one is a malformed request: no status. */
    assert_int_equal(
        request(f, SQ_VIRTIO_BLK_T_GET_ID, 0, BUF_GPA, 19, true, &len), 0xAA);
    assert_int_equal(len, 0);
}

static void test_read_only(void **state)
{
    struct fx *f = *state;
    uint8_t before[512], after[512];
    uint32_t len;

    NEED_ENGINE(f);
    fx_open(f, true, BLOCK_CACHE_UNSAFE, NULL, 1ULL << 5);
    read_file(f->path, 0, before, 512);
    memset(gp(f, BUF_GPA, 512), 0x11, 512);
    assert_int_equal(
        request(f, SQ_VIRTIO_BLK_T_OUT, 0, BUF_GPA, 512, true, &len),
        SQ_VIRTIO_BLK_S_IOERR);
    assert_int_equal(len, 1);
    read_file(f->path, 0, after, 512);
    assert_memory_equal(before, after, 512);
    assert_int_equal(
        request(f, SQ_VIRTIO_BLK_T_IN, 0, BUF_GPA, 512, true, &len),
        SQ_VIRTIO_BLK_S_OK);
    assert_memory_equal(gp(f, BUF_GPA, 512), before, 512);
}

static void test_unsupported_types(void **state)
{
    static const uint32_t types[] = {SQ_VIRTIO_BLK_T_DISCARD,
                                     SQ_VIRTIO_BLK_T_WRITE_ZEROES, 2, 99,
                                     0xffffffffu};
    struct fx *f = *state;
    uint64_t before;
    uint8_t disk[512];
    uint32_t len;

    fx_open(f, false, BLOCK_CACHE_UNSAFE, NULL, 0);
    before = cnt(&f->m->invalid_reqs_count);
    /* A discard-shaped request (16-byte segment, device-readable). */
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        memset(gp(f, BUF_GPA, 512), 0, 16);
        assert_int_equal(request(f, types[i], 0, BUF_GPA, 512, true, &len),
                         SQ_VIRTIO_BLK_S_UNSUPP);
        assert_int_equal(len, 1);
    }
    assert_int_equal(cnt(&f->m->invalid_reqs_count) - before, 5);
    read_file(f->path, 0, disk, 512);
    for (int i = 0; i < 512; i++)
        assert_int_equal(disk[i], (uint8_t)(i * 7)); /* nothing discarded */
}

/* Upstream's parse errors: the head comes back with 0 bytes, no status. */
static void test_malformed_requests(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *name;
        uint32_t type;
        uint64_t sector;
        struct dsc ds[3];
        int n;
    } cases[] = {
        {"header write-only",
         0,
         0,
         {{HDR_GPA, 16, F_W}, {BUF_GPA, 512, F_W}, {STATUS_GPA, 1, F_W}},
         3},
        {"header outside RAM",
         0,
         0,
         {{MEM_SIZE - 8, 16, 0}, {BUF_GPA, 512, F_W}, {STATUS_GPA, 1, F_W}},
         3},
        {"header only", 0, 0, {{HDR_GPA, 16, 0}}, 1},
        {"read without data",
         0,
         0,
         {{HDR_GPA, 16, 0}, {STATUS_GPA, 1, F_W}},
         2},
        {"read into read-only data",
         0,
         0,
         {{HDR_GPA, 16, 0}, {BUF_GPA, 512, 0}, {STATUS_GPA, 1, F_W}},
         3},
        {"write from write-only data",
         1,
         0,
         {{HDR_GPA, 16, 0}, {BUF_GPA, 512, F_W}, {STATUS_GPA, 1, F_W}},
         3},
        {"get-id into read-only data",
         8,
         0,
         {{HDR_GPA, 16, 0}, {BUF_GPA, 20, 0}, {STATUS_GPA, 1, F_W}},
         3},
        {"length not a sector multiple",
         0,
         0,
         {{HDR_GPA, 16, 0}, {BUF_GPA, 511, F_W}, {STATUS_GPA, 1, F_W}},
         3},
        {"past the end",
         0,
         DISK_SIZE / 512,
         {{HDR_GPA, 16, 0}, {BUF_GPA, 512, F_W}, {STATUS_GPA, 1, F_W}},
         3},
        {"straddles the end",
         1,
         DISK_SIZE / 512 - 1,
         {{HDR_GPA, 16, 0}, {BUF_GPA, 1024, 0}, {STATUS_GPA, 1, F_W}},
         3},
        {"sector overflow",
         0,
         UINT64_MAX,
         {{HDR_GPA, 16, 0}, {BUF_GPA, 512, F_W}, {STATUS_GPA, 1, F_W}},
         3},
        {"status read-only",
         0,
         0,
         {{HDR_GPA, 16, 0}, {BUF_GPA, 512, F_W}, {STATUS_GPA, 1, 0}},
         3},
        {"status zero-length",
         0,
         0,
         {{HDR_GPA, 16, 0}, {BUF_GPA, 512, F_W}, {STATUS_GPA, 0, F_W}},
         3},
    };
    uint8_t disk[1024];

    fx_open(f, false, BLOCK_CACHE_UNSAFE, NULL, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint16_t before = drv_used_idx(&f->d), head;
        uint64_t fails = cnt(&f->m->execute_fails);
        uint32_t id, len;

        put_header(f, HDR_GPA, cases[i].type, cases[i].sector);
        *gp(f, STATUS_GPA, 1) = 0xAA;
        memset(gp(f, BUF_GPA, 1024), 0x77, 1024);
        head = publish(f, cases[i].ds, cases[i].n);
        settle(f, (uint16_t)(before + 1));
        if (drv_used_idx(&f->d) != (uint16_t)(before + 1))
            fail_msg("case '%s': not completed", cases[i].name);
        drv_used_elem(&f->d, before, &id, &len);
        if (id != head || len != 0 || *gp(f, STATUS_GPA, 1) != 0xAA)
            fail_msg("case '%s': id %u len %u status %#x", cases[i].name, id,
                     len, *gp(f, STATUS_GPA, 1));
        assert_int_equal(cnt(&f->m->execute_fails), fails + 1);
        assert_int_equal(gp(f, BUF_GPA, 1)[0], 0x77);
    }
    read_file(f->path, DISK_SIZE - 1024, disk, sizeof(disk));
    for (int i = 0; i < 1024; i++)
        assert_int_equal(disk[i], (uint8_t)((DISK_SIZE - 1024 + i) * 7));
    /* Still serving. */
    assert_int_equal(
        request(f, SQ_VIRTIO_BLK_T_IN, 0, BUF_GPA, 512, true, NULL),
        SQ_VIRTIO_BLK_S_OK);
}

/* Failures on the backing file or guest buffers: IOERR, VMM keeps going. */
static void test_io_errors(void **state)
{
    struct fx *f = *state;
    struct rlimit old, lim;
    uint32_t len;
    uint8_t st;

    NEED_ENGINE(f);
    fx_open(f, false, BLOCK_CACHE_UNSAFE, NULL, 0);
    /* Data buffer outside guest RAM. */
    assert_int_equal(
        request(f, SQ_VIRTIO_BLK_T_IN, 0, MEM_SIZE - 256, 512, true, &len),
        SQ_VIRTIO_BLK_S_IOERR);
    assert_int_equal(len, 1);
    assert_int_equal(request(f, SQ_VIRTIO_BLK_T_OUT, 0, 0xfffffffffffffe00ULL,
                             512, true, &len),
                     SQ_VIRTIO_BLK_S_IOERR);
    /* Status byte outside guest RAM: the write happens, nothing to report. */
    {
        struct dsc ds[3] = {
            {HDR_GPA, 16, 0}, {BUF_GPA, 512, 0}, {MEM_SIZE, 1, F_W}};
        uint16_t before = drv_used_idx(&f->d);
        uint32_t id;

        put_header(f, HDR_GPA, SQ_VIRTIO_BLK_T_OUT, 3);
        memset(gp(f, BUF_GPA, 512), 0x42, 512);
        publish(f, ds, 3);
        settle(f, (uint16_t)(before + 1));
        drv_used_elem(&f->d, before, &id, &len);
        assert_int_equal(len, 0);
    }
    /* The file shrinks behind our back: reads past its end fail. */
    assert_int_equal(truncate(f->path, 4096), 0);
    assert_int_equal(
        request(f, SQ_VIRTIO_BLK_T_IN, 100, BUF_GPA, 512, true, &len),
        SQ_VIRTIO_BLK_S_IOERR);
    /* The file cannot grow (EFBIG, as ENOSPC would be): IOERR. */
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 8192;
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    st = request(f, SQ_VIRTIO_BLK_T_OUT, 200, BUF_GPA, 512, true, &len);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_DFL);
    assert_int_equal(st, SQ_VIRTIO_BLK_S_IOERR);
    /* And the device still works. */
    assert_int_equal(
        request(f, SQ_VIRTIO_BLK_T_OUT, 1, BUF_GPA, 512, true, &len),
        SQ_VIRTIO_BLK_S_OK);
}

static void test_event_idx_suppression(void **state)
{
    struct fx *f = *state;
    struct virtio_mmio *t;

    fx_open(f, false, BLOCK_CACHE_UNSAFE, NULL, 1ULL << 29);
    t = block_transport(f->b);
    drv_irqs(&f->d);
    /* used_event = 2: the driver wants an interrupt after the 3rd entry. */
    drv_set_used_event(&f->d, 2);
    request(f, SQ_VIRTIO_BLK_T_IN, 0, BUF_GPA, 512, true, NULL);
    assert_int_equal(drv_irqs(&f->d), 0);
    request(f, SQ_VIRTIO_BLK_T_IN, 0, BUF_GPA, 512, true, NULL);
    assert_int_equal(drv_irqs(&f->d), 0);
    request(f, SQ_VIRTIO_BLK_T_IN, 0, BUF_GPA, 512, true, NULL);
    assert_int_equal(drv_irqs(&f->d), 1);
    request(f, SQ_VIRTIO_BLK_T_IN, 0, BUF_GPA, 512, true, NULL);
    assert_int_equal(drv_irqs(&f->d), 0);
    /* After draining, the device asks to be notified at the next entry. */
    assert_int_equal(drv_avail_event(&f->d), 4);
    /* Without EVENT_IDX every batch interrupts. */
    fx_close(f);
    fx_open(f, false, BLOCK_CACHE_UNSAFE, NULL, 0);
    drv_irqs(&f->d);
    drv_set_used_event(&f->d, 100);
    request(f, SQ_VIRTIO_BLK_T_IN, 0, BUF_GPA, 512, true, NULL);
    request(f, SQ_VIRTIO_BLK_T_IN, 0, BUF_GPA, 512, true, NULL);
    assert_int_equal(drv_irqs(&f->d), 2);
    (void)t;
}

/* Wait for the limiter's real timer, then run its loop callback. */
static void fire_timer(struct fx *f)
{
    struct pollfd p = {.fd = block_rate_limiter(f->b)->timer_fd,
                       .events = POLLIN};

    assert_int_equal(poll(&p, 1, 5000), 1);
    block_rate_limiter_event(f->b);
    pump(f);
}

static void queue_writes(struct fx *f, int n, uint32_t len)
{
    for (int i = 0; i < n; i++) {
        struct dsc ds[3] = {{HDR_GPA + 16 * (uint64_t)i, 16, 0},
                            {BUF_GPA, len, 0},
                            {STATUS_GPA + (uint64_t)i, 1, F_W}};

        put_header(f, HDR_GPA + 16 * (uint64_t)i, SQ_VIRTIO_BLK_T_OUT,
                   (uint64_t)i * 8);
        publish(f, ds, 3);
    }
}

static void test_rate_limited_bandwidth(void **state)
{
    struct rate_limiter_params rl = {.has_bandwidth = true,
                                     .bandwidth = {4096, 0, 100}};
    struct fx *f = *state;
    uint64_t throttled, rl_events;

    fx_open(f, false, BLOCK_CACHE_UNSAFE, &rl, 0);
    throttled = cnt(&f->m->rate_limiter_throttled_events);
    rl_events = cnt(&f->m->rate_limiter_event_count);
    queue_writes(f, 10, 1024);
    notify(f);
    /* The bucket starts full: 4096 bytes = 4 requests. */
    assert_int_equal(drv_used_idx(&f->d), 4);
    assert_true(rate_limiter_is_blocked(block_rate_limiter(f->b)));
    assert_int_equal(cnt(&f->m->rate_limiter_throttled_events) - throttled, 1);
    /* A notification while blocked does nothing but count. */
    notify(f);
    assert_int_equal(drv_used_idx(&f->d), 4);
    assert_int_equal(cnt(&f->m->rate_limiter_throttled_events) - throttled, 2);
    /* Half a period later (fake clock) half a bucket is back. */
    f->fake_ns += 50 * 1000000ULL;
    fire_timer(f);
    assert_int_equal(cnt(&f->m->rate_limiter_event_count) - rl_events, 1);
    assert_int_equal(drv_used_idx(&f->d), 6);
    /* One full period: one bucket, i.e. 4096 bytes, no more. */
    f->fake_ns += 100 * 1000000ULL;
    fire_timer(f);
    assert_int_equal(drv_used_idx(&f->d), 10);
    assert_int_equal(*gp(f, STATUS_GPA + 9, 1), SQ_VIRTIO_BLK_S_OK);

    /* PATCH: remove the bandwidth bucket; everything flows. */
    {
        struct rate_limiter_params patch = {.has_bandwidth = true,
                                            .bandwidth = {0, 0, 0}};

        block_update_rate_limiter(f->b, &patch);
    }
    queue_writes(f, 20, 4096);
    if (rate_limiter_is_blocked(block_rate_limiter(f->b)))
        fire_timer(f);
    notify(f);
    assert_int_equal(drv_used_idx(&f->d), 30);
}

static void test_rate_limited_ops(void **state)
{
    struct rate_limiter_params rl = {.has_ops = true, .ops = {2, 1, 1000}};
    struct fx *f = *state;

    fx_open(f, false, BLOCK_CACHE_UNSAFE, &rl, 0);
    queue_writes(f, 5, 512);
    notify(f);
    /* one_time_burst 1 + size 2. */
    assert_int_equal(drv_used_idx(&f->d), 3);
    /* 500 ms of the fake clock: one more op. */
    f->fake_ns += 500 * 1000000ULL;
    fire_timer(f);
    assert_int_equal(drv_used_idx(&f->d), 4);
}

static void test_hostile_ring(void **state)
{
    struct fx *f = *state;
    struct virtio_mmio *t;
    uint64_t fails;

    fx_open(f, false, BLOCK_CACHE_UNSAFE, NULL, 1ULL << 29);
    t = block_transport(f->b);
    /* A descriptor loop: completed with 0 bytes. */
    drv_desc(&f->d, 0, HDR_GPA, 16, F_N, 1);
    drv_desc(&f->d, 1, BUF_GPA, 512, F_N | F_W, 0);
    put_header(f, HDR_GPA, SQ_VIRTIO_BLK_T_IN, 0);
    fails = cnt(&f->m->execute_fails);
    drv_publish(&f->d, 0);
    settle(f, 1);
    assert_int_equal(drv_used_idx(&f->d), 1);
    assert_int_equal(cnt(&f->m->execute_fails), fails + 1);
    /* The driver claims 300 new entries in a 256-entry ring: the device
     * stops and asks for a reset instead of reading garbage. */
    drv_irqs(&f->d);
    drv_set_avail_idx(&f->d, 301);
    virtio_mmio_notify(t, 0);
    assert_true(reg_rd(t, 0x70) & SQ_VIRTIO_STATUS_NEEDS_RESET);
    assert_true(reg_rd(t, 0x60) & SQ_VIRTIO_INT_CONFIG);
    assert_int_equal(drv_irqs(&f->d), 1);
    assert_int_equal(drv_used_idx(&f->d), 1);
    /* A reset and a new initialisation bring it back. */
    f->next_desc = 0;
    assert_int_equal(drv_setup(&f->d, &f->mem, t, 256, 0), 15);
    assert_int_equal(
        request(f, SQ_VIRTIO_BLK_T_IN, 0, BUF_GPA, 512, true, NULL),
        SQ_VIRTIO_BLK_S_OK);
}

static void test_buffers_before_driver_ok(void **state)
{
    struct fx *f = *state;
    struct virtio_mmio *t;

    fx_open(f, false, BLOCK_CACHE_UNSAFE, NULL, 0);
    t = block_transport(f->b);
    /* Reset, then publish a request and notify before DRIVER_OK. */
    reg_wr(t, 0x70, 0);
    reg_wr(t, 0x70, SQ_VIRTIO_STATUS_ACK);
    reg_wr(t, 0x70, SQ_VIRTIO_STATUS_ACK | SQ_VIRTIO_STATUS_DRIVER);
    reg_wr(t, 0x70,
           SQ_VIRTIO_STATUS_ACK | SQ_VIRTIO_STATUS_DRIVER |
               SQ_VIRTIO_STATUS_FEATURES_OK);
    drv_queue_regs(&f->d, 256);
    memset(g2h(&f->mem, DRV_DESC, 0x3000), 0, 0x3000);
    f->d.avail_idx = 0;
    f->next_desc = 0;
    put_header(f, HDR_GPA, SQ_VIRTIO_BLK_T_IN, 0);
    {
        struct dsc ds[3] = {
            {HDR_GPA, 16, 0}, {BUF_GPA, 512, F_W}, {STATUS_GPA, 1, F_W}};

        publish(f, ds, 3);
    }
    virtio_mmio_notify(t, 0);
    assert_int_equal(drv_used_idx(&f->d), 0);
    /* DRIVER_OK re-signals the queue: the loop then serves the request. */
    reg_wr(t, 0x70, 15);
    assert_int_equal(evloop_eventfd_drain(t->queue_fd[0]), 1);
    virtio_mmio_notify(t, 0);
    settle(f, 1);
    assert_int_equal(drv_used_idx(&f->d), 1);
}

static void test_update_path(void **state)
{
    struct fx *f = *state;
    struct virtio_mmio *t;
    struct sq_err err;
    char other[128];
    uint8_t cap[8];
    uint64_t upd;

    NEED_ENGINE(f);
    fx_open(f, false, BLOCK_CACHE_UNSAFE, NULL, 0);
    t = block_transport(f->b);
    snprintf(other, sizeof(other), "%s/other.img", f->dir);
    write_file(other, 2 * DISK_SIZE, 9);
    upd = cnt(&f->m->update_count);
    drv_irqs(&f->d);

    /* A missing file: error text, nothing changes. */
    sq_err_clear(&err);
    assert_int_equal(block_update_path(f->b, "/nonexistent/disk", &err),
                     -ENOENT);
    assert_string_equal(err.msg, "Virtio backend error: Error manipulating "
                                 "the backing file: No such file or directory "
                                 "(os error 2) /nonexistent/disk");
    assert_int_equal(block_nsectors(f->b), DISK_SIZE / 512);

    assert_int_equal(block_update_path(f->b, other, &err), 0);
    assert_int_equal(cnt(&f->m->update_count) - upd, 1);
    assert_string_equal(block_path(f->b), other);
    bus_dev_lock(&t->bus);
    virtio_mmio_read(&t->bus, 0x100, cap, 8);
    bus_dev_unlock(&t->bus);
    assert_memory_equal(cap, "\x00\x10\x00\x00\x00\x00\x00\x00", 8);
    assert_true(reg_rd(t, 0x60) & SQ_VIRTIO_INT_CONFIG);
    assert_int_equal(reg_rd(t, 0xfc), 1);
    assert_int_equal(drv_irqs(&f->d), 1);
    /* Reads now come from the new file, also past the old end. */
    assert_int_equal(request(f, SQ_VIRTIO_BLK_T_IN, DISK_SIZE / 512 + 1,
                             BUF_GPA, 512, true, NULL),
                     SQ_VIRTIO_BLK_S_OK);
    for (int i = 0; i < 512; i++)
        assert_int_equal(gp(f, BUF_GPA, 512)[i],
                         (uint8_t)((DISK_SIZE + 512 + i) * 7 + 9));
}

static void test_create_errors(void **state)
{
    struct block_config cfg = {.drive_id = "bad",
                               .path_on_host = "/nonexistent/disk.img"};
    struct block *b = NULL;
    struct sq_err err;

    (void)state;
    sq_err_clear(&err);
    assert_int_equal(block_new(&cfg, &b, &err), -ENOENT);
    assert_null(b);
    assert_string_equal(err.msg,
                        "Virtio backend error: Error manipulating the backing "
                        "file: No such file or directory (os error 2) "
                        "/nonexistent/disk.img");
    block_free(NULL);
}

/* Many requests in one notification, interleaved reads and writes, so that
 * the Async engine has several in flight at once. */
static void test_batch(void **state)
{
    struct fx *f = *state;
    uint8_t back[512];

    NEED_ENGINE(f);
    fx_open(f, false, BLOCK_CACHE_UNSAFE, NULL, 1ULL << 29);
    for (int i = 0; i < 64; i++) {
        struct dsc ds[3] = {{HDR_GPA + 16 * (uint64_t)i, 16, 0},
                            {BUF_GPA + 512 * (uint64_t)i, 512, 0},
                            {STATUS_GPA + (uint64_t)i, 1, F_W}};

        memset(gp(f, BUF_GPA + 512 * (uint64_t)i, 512), i, 512);
        put_header(f, HDR_GPA + 16 * (uint64_t)i, SQ_VIRTIO_BLK_T_OUT,
                   (uint64_t)i);
        *gp(f, STATUS_GPA + (uint64_t)i, 1) = 0xAA;
        publish(f, ds, 3);
    }
    settle(f, 64);
    assert_int_equal(drv_used_idx(&f->d), 64);
    for (int i = 0; i < 64; i++) {
        assert_int_equal(*gp(f, STATUS_GPA + (uint64_t)i, 1), 0);
        read_file(f->path, 512 * (uint64_t)i, back, 512);
        for (int j = 0; j < 512; j++)
            assert_int_equal(back[j], i);
    }
}

/* The API-facing constructors: drive_cfg / drive_update / entropy_cfg. */
static void test_from_api(void **state)
{
    struct fx *f = *state;
    struct drive_cfg d;
    struct drive_update u;
    struct entropy_cfg e;
    struct rate_limiter_params got;
    struct rate_limiter_cfg back;
    struct block *b = NULL;
    struct rng *r = NULL;
    struct sq_err err;
    char id[] = "apidrive", nopath[] = "/nonexistent", sock[] = "/tmp/sock";

    write_file(f->path, DISK_SIZE, 0);
    memset(&d, 0, sizeof(d));
    d.drive_id = id;
    d.path_on_host = f->path;
    d.has_is_read_only = true;
    d.is_read_only = true;
    d.cache_type = CACHE_TYPE_WRITEBACK;
    d.has_rate_limiter = true;
    d.rate_limiter.has_ops = true;
    d.rate_limiter.ops = (struct token_bucket_cfg){100, true, 7, 1000};
    sq_err_clear(&err);
    assert_int_equal(block_new_from_drive(&d, -1, &b, &err), 0);
    reg_wr(block_transport(b), 0x14, 0);
    assert_int_equal(reg_rd(block_transport(b), 0x10),
                     (1u << 29) | (1u << 9) | (1u << 5));
    rate_limiter_get_params(block_rate_limiter(b), &got);
    assert_false(got.has_bandwidth);
    assert_true(got.has_ops);
    assert_int_equal(got.ops.one_time_burst, 7);
    rate_limiter_cfg_from_params(&got, &back);
    assert_false(back.has_bandwidth);
    assert_true(back.has_ops && back.ops.has_one_time_burst &&
                back.ops.size == 100 && back.ops.refill_time == 1000);

    /* PATCH: ops bucket with size 0 is removed; bandwidth absent is kept. */
    memset(&u, 0, sizeof(u));
    u.drive_id = id;
    u.has_rate_limiter = true;
    u.rate_limiter.has_ops = true;
    u.rate_limiter.ops = (struct token_bucket_cfg){0, false, 0, 1000};
    assert_int_equal(block_patch_from_update(b, &u, &err), 0);
    rate_limiter_get_params(block_rate_limiter(b), &got);
    assert_false(got.has_ops);
    u.path_on_host = nopath;
    assert_int_equal(block_patch_from_update(b, &u, &err), -ENOENT);
    block_free(b);

    /* vhost-user shapes are not ours. */
    d.socket = sock;
    assert_int_equal(block_new_from_drive(&d, -1, &b, &err), -EINVAL);
    assert_string_equal(err.msg, "Invalid block config.");

    memset(&e, 0, sizeof(e));
    assert_int_equal(rng_new_from_entropy(&e, &r, &err), 0);
    rate_limiter_get_params(rng_rate_limiter(r), &got);
    assert_false(got.has_bandwidth || got.has_ops);
    rng_free(r);
    e.has_rate_limiter = true;
    e.rate_limiter.has_bandwidth = true;
    e.rate_limiter.bandwidth = (struct token_bucket_cfg){4096, false, 0, 100};
    assert_int_equal(rng_new_from_entropy(&e, &r, &err), 0);
    rate_limiter_get_params(rng_rate_limiter(r), &got);
    assert_true(got.has_bandwidth && got.bandwidth.size == 4096);
    rng_free(r);
}

/* The Async ring only runs fixed-file read/write/fsync (upstream's
 * restrictions): anything else the kernel refuses with EACCES. */
static void test_uring_restrictions(void **state)
{
    struct fx *f = *state;
    struct block_io io;
    struct io_uring_sqe *sqe;
    struct io_uring_cqe *cqe;
    struct sq_err err;
    char buf[512];
    uint64_t tag;
    int32_t res;
    int fd;

    if (!io_uring_usable())
        skip();
    write_file(f->path, DISK_SIZE, 3);
    fd = open(f->path, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    sq_err_clear(&err);
    if (block_io_open(&io, fd, BLOCK_IO_ASYNC, &err) != 0)
        fail_msg("block_io_open: %s", err.msg);

    /* Allowed: a fixed-file read. */
    assert_int_equal(block_io_submit(&io, BLOCK_IO_READ, 512, buf, 512, 7), 0);
    assert_int_equal(block_io_kick(&io), 0);
    assert_int_equal(block_io_reap(&io, true, &tag, &res), 1);
    assert_int_equal(tag, 7);
    assert_int_equal(res, 512);
    assert_int_equal((uint8_t)buf[0], (uint8_t)(512 * 7 + 3));

    /* A read on a plain fd, and a NOP: refused. */
    for (int i = 0; i < 2; i++) {
        int rc;

        sqe = io_uring_get_sqe(&io.ring);
        assert_non_null(sqe);
        if (i == 0) {
            io_uring_prep_read(sqe, fd, buf, 512, 0);
        } else {
            io_uring_prep_nop(sqe);
            sqe->flags |= IOSQE_FIXED_FILE;
        }
        rc = io_uring_submit(&io.ring);
        if (rc < 0) {
            assert_int_equal(rc, -EACCES);
            continue;
        }
        assert_int_equal(io_uring_wait_cqe(&io.ring, &cqe), 0);
        assert_int_equal(cqe->res, -EACCES);
        io_uring_cqe_seen(&io.ring, cqe);
    }
    block_io_close(&io);
    block_io_close(&io); /* twice is fine */
    close(fd);
}

/* Detaching before the machine goes completes every request in flight, so
 * no I/O can land in guest memory afterwards, and stops notifications. */
static void test_detach_completes_in_flight(void **state)
{
    struct fx *f = *state;

    NEED_ENGINE(f);
    fx_open(f, false, BLOCK_CACHE_UNSAFE, NULL, 0);
    for (int i = 0; i < 32; i++) {
        struct dsc ds[3] = {{HDR_GPA + 16 * (uint64_t)i, 16, 0},
                            {BUF_GPA + 512 * (uint64_t)i, 512, F_W},
                            {STATUS_GPA + (uint64_t)i, 1, F_W}};

        put_header(f, HDR_GPA + 16 * (uint64_t)i, SQ_VIRTIO_BLK_T_IN,
                   (uint64_t)i);
        *gp(f, STATUS_GPA + (uint64_t)i, 1) = 0xAA;
        publish(f, ds, 3);
    }
    virtio_mmio_notify(block_transport(f->b), 0); /* no pump */
    block_detach(f->b);
    assert_int_equal(block_in_flight(f->b), 0);
    assert_int_equal(drv_used_idx(&f->d), 32);
    for (int i = 0; i < 32; i++)
        assert_int_equal(*gp(f, STATUS_GPA + (uint64_t)i, 1), 0);
    block_detach(f->b); /* idempotent */
}

static void check_group(const char *start, const char *end)
{
    static char g[8192];
    size_t n;

    assert_non_null(end);
    n = (size_t)(end - start);
    assert_true(n < sizeof(g));
    memcpy(g, start, n);
    g[n] = '\0';
    assert_non_null(strstr(g, "\"write_bytes\":1024,"));
    assert_non_null(strstr(g, "\"read_bytes\":512,"));
    assert_non_null(strstr(g, "\"read_count\":1,"));
    assert_non_null(strstr(g, "\"write_count\":1,"));
    assert_non_null(strstr(g, "\"invalid_reqs_count\":1,"));
    assert_non_null(strstr(g, "\"queue_event_count\":3,"));
    assert_non_null(strstr(g, "\"read_agg\":{\"min_us\":"));
}

/* The device's counters come out under upstream's keys, per device and in
 * the "block" aggregate. */
static void test_metrics_keys(void **state)
{
    struct fx *f = *state;
    static char line[1 << 17];
    char want[128];
    const char *grp, *agg;

    fx_open(f, false, BLOCK_CACHE_UNSAFE, NULL, 0);
    assert_true(metrics_serialize(line, sizeof(line)) > 0); /* reset */
    request(f, SQ_VIRTIO_BLK_T_OUT, 0, BUF_GPA, 1024, true, NULL);
    request(f, SQ_VIRTIO_BLK_T_IN, 0, BUF_GPA, 512, true, NULL);
    request(f, 77, 0, BUF_GPA, 512, true, NULL);
    assert_true(metrics_serialize(line, sizeof(line)) > 0);
    snprintf(want, sizeof(want), "\"block_%s\":{", f->id);
    grp = strstr(line, want);
    assert_non_null(grp);
    agg = strstr(line, "\"block\":{");
    assert_non_null(agg);
    assert_true(agg > grp); /* per-device groups first, then the sum */
    /* Each group's text ends where the next top-level key starts. */
    check_group(grp, strstr(grp + 1, "\"block"));
    check_group(agg, strstr(agg, "\"deprecated_api\""));
}

/* A backing file opened at PUT time: the device keeps its own duplicate,
 * so the caller may close its fd and the path may vanish. */
static void test_backing_fd(void **state)
{
    struct fx *f = *state;
    struct block_config cfg;
    struct sq_err err;
    uint8_t back[512];
    int fd;

    NEED_ENGINE(f);
    write_file(f->path, DISK_SIZE, 5);
    fd = open(f->path, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    memset(&cfg, 0, sizeof(cfg));
    snprintf(f->id, sizeof(f->id), "fd-drive");
    cfg.drive_id = f->id;
    cfg.path_on_host = f->path;
    cfg.has_fd = true;
    cfg.fd = fd;
    cfg.io_engine = f->engine;
    sq_err_clear(&err);
    assert_int_equal(block_new(&cfg, &f->b, &err), 0);
    close(fd);
    read_file(f->path, 3 * 512, back, 512);
    unlink(f->path);
    f->m = metrics_block_get(f->id);
    assert_int_equal(block_attach(f->b, &f->mem.gm, -1, 0xc0001000, NULL), 0);
    assert_int_equal(drv_setup(&f->d, &f->mem, block_transport(f->b), 256, 0),
                     15);
    assert_int_equal(block_nsectors(f->b), DISK_SIZE / 512);
    assert_int_equal(
        request(f, SQ_VIRTIO_BLK_T_IN, 3, BUF_GPA, 512, true, NULL),
        SQ_VIRTIO_BLK_S_OK);
    assert_memory_equal(gp(f, BUF_GPA, 512), back, 512);

    /* A bad fd is reported with the path. */
    cfg.fd = 987654;
    {
        struct block *b = NULL;

        assert_int_equal(block_new(&cfg, &b, &err), -EBADF);
        assert_null(b);
        assert_non_null(strstr(err.msg, "Bad file descriptor (os error 9)"));
    }
}

#define BOTH(fn)                                                               \
    cmocka_unit_test_setup_teardown(fn, setup_sync, teardown),                 \
        cmocka_unit_test_setup_teardown(fn, setup_async, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_features_and_config),
        BOTH(test_write_read_roundtrip),
        BOTH(test_dirty_pages_marked),
        BOTH(test_flush),
        BOTH(test_get_id),
        BOTH(test_read_only),
        BOTH(test_unsupported_types),
        BOTH(test_malformed_requests),
        BOTH(test_io_errors),
        BOTH(test_event_idx_suppression),
        BOTH(test_rate_limited_bandwidth),
        BOTH(test_rate_limited_ops),
        BOTH(test_hostile_ring),
        BOTH(test_buffers_before_driver_ok),
        BOTH(test_update_path),
        BOTH(test_batch),
        BOTH(test_backing_fd),
        BOTH(test_detach_completes_in_flight),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test_setup_teardown(test_metrics_keys, setup_sync,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_uring_restrictions, setup_sync,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_from_api, setup_sync, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
