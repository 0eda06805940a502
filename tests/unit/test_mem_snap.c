/*
 * test_mem_snap.c: the pmem and virtio-mem devices in a snapshot, on real
 * files and anonymous memory, no KVM:
 *  - the own-state codecs (vmm/vdev_kind_snap.h): field-for-field round
 *    trips; every truncation, a byte too many, a bad flag, an absent bucket
 *    with fields, sizes that do not hang together, a block past the region
 *    and an unknown layout rejected with the decoder's text;
 *  - pmem_save_state / pmem_restore_state on real backing files: a device
 *    built again on the same file takes the state (window and limiter), one
 *    whose file changed size is refused;
 *  - the memory file with a virtio-mem window (vmm/guest_mem_file.h,
 *    snapshot/memfile.h): a Full snapshot writes RAM and only the plugged
 *    blocks of the window (holes elsewhere, SEEK_DATA shows it), a Diff
 *    the resident pages of the plugged blocks (test_mem_dirty.c has the
 *    Diff's dirty pages in detail), and mapping the file back (RAM and the
 *    window, guest_mem_add_window) gives the same bytes; a virtio-mem device
 *    adopts that window and serves its plugged blocks' bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "snapshot/memfile.h"
#include "util/xalloc.h"
#include "vmm/guest_mem_file.h"
#include "vmm/vdev_kind_snap.h"

#define MIB    (1ULL << 20)
#define WIN    0x8000000000ULL /* 512 GiB */
#define BLOCK  (2 * MIB)
#define RAM    4         /* MiB */
#define WIN_SZ (8 * MIB) /* 4 blocks */

/* ---- codecs ------------------------------------------------------------- */

static void sample_pmem(struct pmem_state *s)
{
    memset(s, 0, sizeof(*s));
    s->gpa = WIN + 0x8000000;
    s->size = 6 * MIB;
    s->rl.has_bandwidth = true;
    s->rl.bandwidth = (struct token_bucket_state){1000, 20, 100, 900, 12345};
    s->rl.has_ops = false;
}

static void test_pmem_codec(void **state)
{
    struct pmem_state in, out;
    struct buf b = BUF_INIT;
    struct sq_err err;
    uint8_t *p;

    (void)state;
    sample_pmem(&in);
    vdev_pmem_state_encode(&in, &b);
    assert_int_equal(b.len, 4 + 8 + 8 + 2 * (1 + 5 * 8));
    sq_err_clear(&err);
    assert_int_equal(
        vdev_pmem_state_decode((uint8_t *)b.data, b.len, &out, &err), 0);
    assert_memory_equal(&in, &out, sizeof(in));
    for (size_t n = 0; n < b.len; n++) {
        p = xmalloc(n ? n : 1); /* exact size: ASan sees an over-read */
        memcpy(p, b.data, n);
        assert_int_equal(vdev_pmem_state_decode(p, n, &out, &err), -EBADMSG);
        assert_string_equal(err.msg, "pmem state: the state does not decode");
        free(p);
    }
    buf_putc(&b, 0);
    assert_int_equal(
        vdev_pmem_state_decode((uint8_t *)b.data, b.len, &out, &err), -EBADMSG);
    b.len--;
    b.data[20] = 2; /* bandwidth present */
    assert_int_equal(
        vdev_pmem_state_decode((uint8_t *)b.data, b.len, &out, &err), -EBADMSG);
    b.data[20] = 1;
    b.data[20 + 41 + 1] = 1; /* the absent ops bucket has a size */
    assert_int_equal(
        vdev_pmem_state_decode((uint8_t *)b.data, b.len, &out, &err), -EBADMSG);
    b.data[20 + 41 + 1] = 0;
    b.data[0] = 2;
    assert_int_equal(
        vdev_pmem_state_decode((uint8_t *)b.data, b.len, &out, &err), -EBADMSG);
    assert_string_equal(err.msg, "pmem state: unknown state layout 2");
    buf_fini(&b);
}

/* 512 MiB of 2 MiB blocks (256), slots of 128 MiB. */
static void sample_mem(struct virtio_mem_state *s)
{
    memset(s, 0, sizeof(*s));
    s->addr = WIN;
    s->region_size = 512 * MIB;
    s->block_size = BLOCK;
    s->slot_size = 128 * MIB;
    s->usable_region_size = 256 * MIB;
    s->requested_size = 200 * MIB;
    s->n_blocks = 256;
    s->plugged = xcalloc(4, 8);
    s->plugged[0] = 0xff;
    s->plugged[3] = 1ULL << 63;
}

/* Encode s, change byte `at` to v (at < 0: nothing), expect a refusal. */
static void mem_refused(const struct virtio_mem_state *s, long at, uint8_t v,
                        const char *msg)
{
    struct virtio_mem_state out;
    struct buf b = BUF_INIT;
    struct sq_err err;

    vdev_mem_state_encode(s, &b);
    if (at >= 0)
        b.data[at] = (char)v;
    sq_err_clear(&err);
    assert_int_equal(
        vdev_mem_state_decode((uint8_t *)b.data, b.len, &out, &err), -EBADMSG);
    assert_string_equal(err.msg, msg);
    assert_null(out.plugged);
    buf_fini(&b);
}

static void test_mem_codec(void **state)
{
    static const char bad[] = "virtio-mem state: the state does not decode";
    struct virtio_mem_state in, out, odd;
    struct buf b = BUF_INIT;
    struct sq_err err;
    uint8_t *p;

    (void)state;
    sample_mem(&in);
    vdev_mem_state_encode(&in, &b);
    assert_int_equal(b.len, 4 + 7 * 8 + 4 * 8);
    sq_err_clear(&err);
    assert_int_equal(
        vdev_mem_state_decode((uint8_t *)b.data, b.len, &out, &err), 0);
    assert_int_equal(out.addr, in.addr);
    assert_int_equal(out.region_size, in.region_size);
    assert_int_equal(out.block_size, in.block_size);
    assert_int_equal(out.slot_size, in.slot_size);
    assert_int_equal(out.usable_region_size, in.usable_region_size);
    assert_int_equal(out.requested_size, in.requested_size);
    assert_int_equal(out.n_blocks, in.n_blocks);
    assert_memory_equal(out.plugged, in.plugged, 4 * 8);
    virtio_mem_state_fini(&out);
    for (size_t n = 0; n < b.len; n++) {
        p = xmalloc(n ? n : 1);
        memcpy(p, b.data, n);
        assert_int_equal(vdev_mem_state_decode(p, n, &out, &err), -EBADMSG);
        assert_string_equal(err.msg, bad);
        assert_null(out.plugged);
        free(p);
    }
    buf_putc(&b, 0);
    assert_int_equal(
        vdev_mem_state_decode((uint8_t *)b.data, b.len, &out, &err), -EBADMSG);
    buf_fini(&b);

    mem_refused(&in, 0, 9, "virtio-mem state: unknown state layout 9");
    mem_refused(&in, 4 + 6 * 8, 255, bad);      /* n_blocks is not the count */
    mem_refused(&in, 4 + 2 * 8 + 2, 0, bad);    /* block size 0 */
    mem_refused(&in, 4 + 3 * 8 + 3, 0x03, bad); /* slot 48 MiB: no region */
    /* 100 blocks: the last word may not have bits past block 99. */
    odd = in;
    odd.region_size = 200 * MIB;
    odd.slot_size = 8 * MIB;
    odd.n_blocks = 100;
    odd.plugged[1] = 1ULL << 35;
    vdev_mem_state_encode(&odd, &b);
    assert_int_equal(
        vdev_mem_state_decode((uint8_t *)b.data, b.len, &out, &err), 0);
    virtio_mem_state_fini(&out);
    buf_fini(&b);
    odd.plugged[1] = 1ULL << 36;
    mem_refused(&odd, -1, 0, bad);
    virtio_mem_state_fini(&in);
}

/* ---- pmem on real files ------------------------------------------------- */

struct files {
    char dir[64];
    char a[128], b[128], mem[128];
};

static int setup(void **state)
{
    struct files *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/squib-memsnap-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->a, sizeof(f->a), "%s/a.img", f->dir);
    snprintf(f->b, sizeof(f->b), "%s/b.img", f->dir);
    snprintf(f->mem, sizeof(f->mem), "%s/vm.mem", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct files *f = *state;

    unlink(f->a);
    unlink(f->b);
    unlink(f->mem);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void make_file(const char *path, uint64_t len)
{
    int fd = open(path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)len), 0);
    assert_int_equal(pwrite(fd, "pmem", 4, 0), 4);
    close(fd);
}

static struct pmem *pmem_on(const char *path, bool ro,
                            const struct rate_limiter_params *rl, gpa_t gpa)
{
    struct pmem_params p = {"pm0", path, ro, rl};
    struct pmem *pm;
    struct sq_err err;

    sq_err_clear(&err);
    assert_int_equal(pmem_new(&p, &pm, &err), 0);
    assert_int_equal(pmem_set_guest_addr(pm, gpa), 0);
    return pm;
}

static void test_pmem_restore(void **state)
{
    struct files *f = *state;
    struct rate_limiter_params rl;
    struct pmem_state s, again;
    struct pmem_region r;
    struct pmem *pm;
    struct sq_err err;

    memset(&rl, 0, sizeof(rl));
    rl.has_bandwidth = true;
    rl.bandwidth.size = 1 << 20;
    rl.bandwidth.refill_time_ms = 1000;
    make_file(f->a, 3 * MIB); /* a 4 MiB window */
    pm = pmem_on(f->a, true, &rl, WIN + 0x8000000);
    pmem_save_state(pm, &s);
    pmem_free(pm);
    assert_int_equal(s.gpa, WIN + 0x8000000);
    assert_int_equal(s.size, 4 * MIB);
    assert_true(s.rl.has_bandwidth);
    assert_false(s.rl.has_ops);
    assert_int_equal(s.rl.bandwidth.size, 1 << 20);

    /* Built again on the same file, read-only as before: the same window
     * and the file's bytes; the limiter's buckets come back. */
    pm = pmem_on(f->a, true, &rl, WIN + 0x8000000);
    sq_err_clear(&err);
    assert_int_equal(pmem_restore_state(pm, &s, &err), 0);
    pmem_host_region(pm, &r);
    assert_true(r.read_only);
    assert_memory_equal(r.hva, "pmem", 4);
    pmem_save_state(pm, &again);
    assert_int_equal(again.gpa, s.gpa);
    assert_int_equal(again.rl.bandwidth.size, s.rl.bandwidth.size);
    /* A bucket that cannot be built (size 0): upstream's text. */
    again.rl.bandwidth.size = 0;
    assert_int_equal(pmem_restore_state(pm, &again, &err), -EINVAL);
    assert_string_equal(err.msg, "Error restoring rate limiter: invalid "
                                 "input parameter");
    pmem_free(pm);

    /* The file grew past the window, or the window moved: refused. */
    make_file(f->b, 5 * MIB);
    pm = pmem_on(f->b, false, NULL, WIN + 0x8000000);
    assert_int_equal(pmem_restore_state(pm, &s, &err), -EINVAL);
    assert_string_equal(err.msg, "Restored pmem size 4194304 does not match "
                                 "backing file mapping size 6291456");
    pmem_free(pm);
    pm = pmem_on(f->a, true, &rl, WIN + 0xa000000);
    assert_int_equal(pmem_restore_state(pm, &s, &err), -EINVAL);
    assert_string_equal(err.msg, "pmem state: saved window at 0x8008000000, "
                                 "built at 0x800a000000");
    pmem_free(pm);
}

/* ---- the memory file with a virtio-mem window ---------------------------- */

/* Blocks 1 and 3 of the 4 are plugged. */
static const uint64_t plugged_bits = 0xa;

static struct guest_mem *mem_with_window(void)
{
    struct guest_mem *gm;
    struct guest_region *w;
    struct sq_err err;

    sq_err_clear(&err);
    assert_int_equal(guest_mem_new(RAM, GUEST_MEM_HUGE_NONE, &gm, &err), 0);
    assert_int_equal(guest_mem_add_window(gm, WIN, WIN_SZ), 0);
    w = guest_mem_find_window(gm, WIN, WIN_SZ);
    assert_non_null(w);
    assert_true(w->borrowed && w->window_owned);
    assert_int_equal((uintptr_t)w->hva % (2 * MIB), 0);
    w->present = &plugged_bits;
    w->present_unit = BLOCK;
    assert_int_equal(guest_mem_size(gm), RAM * MIB);
    assert_int_equal(guest_mem_file_size(gm), RAM * MIB + WIN_SZ);
    return gm;
}

static void fill(struct guest_mem *gm)
{
    uint8_t *ram = gm->regions[0].hva, *win = gm->regions[1].hva;

    memset(ram, 0x11, RAM * MIB);
    for (int b = 0; b < 4; b++)
        memset(win + b * BLOCK, 0xa0 + b, BLOCK);
}

/* Where the file has data from `off`: the next data offset. */
static off_t data_at(int fd, off_t off)
{
    return lseek(fd, off, SEEK_DATA);
}

static void check_layout(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    off_t win = (off_t)(RAM * MIB);

    assert_true(fd >= 0);
    assert_int_equal(lseek(fd, 0, SEEK_END), RAM * MIB + WIN_SZ);
    /* Block 0 of the window is a hole, 1 data, 2 a hole, 3 data. */
    assert_int_equal(data_at(fd, win), win + (off_t)BLOCK);
    assert_int_equal(lseek(fd, win + (off_t)BLOCK, SEEK_HOLE),
                     win + 2 * (off_t)BLOCK);
    assert_int_equal(data_at(fd, win + 2 * (off_t)BLOCK),
                     win + 3 * (off_t)BLOCK);
    close(fd);
}

/* The file mapped back as a load maps it: RAM and the window. */
static void check_restored(const char *path)
{
    struct guest_mem *gm;
    struct guest_region *w;
    struct sq_err err;
    uint8_t *win;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(guest_mem_new(RAM, GUEST_MEM_HUGE_NONE, &gm, &err), 0);
    assert_int_equal(guest_mem_add_window(gm, WIN, WIN_SZ), 0);
    assert_int_equal(guest_mem_file_map(gm, fd, &err), 0);
    close(fd);
    w = guest_mem_find_window(gm, WIN, WIN_SZ);
    assert_true(w->file_backed);
    win = w->hva;
    assert_int_equal(gm->regions[0].hva[RAM * MIB - 1], 0x11);
    assert_int_equal(win[0], 0);
    assert_int_equal(win[BLOCK], 0xa1);
    assert_int_equal(win[2 * BLOCK - 1], 0xa1);
    assert_int_equal(win[2 * BLOCK], 0);
    assert_int_equal(win[3 * BLOCK + 5], 0xa3);

    /* A virtio-mem device adopts the window: the state's plugged blocks
     * hold the saved bytes; the device's own window is gone. */
    {
        struct virtio_mem_params p = {
            .total_size_mib = 8, .block_size_mib = 2, .slot_size_mib = 4};
        struct virtio_mem_state s;
        struct virtio_mem_region r;
        struct virtio_mem *vm;
        uint64_t bits = plugged_bits, unit;

        assert_int_equal(virtio_mem_new(&p, &vm, &err), 0);
        assert_int_equal(virtio_mem_set_guest_addr(vm, WIN), 0);
        assert_int_equal(virtio_mem_use_window(vm, win + 4096, true), -EINVAL);
        assert_int_equal(virtio_mem_use_window(vm, win, true), 0);
        virtio_mem_host_region(vm, &r);
        assert_ptr_equal(r.hva, win);
        virtio_mem_save_state(vm, &s);
        memcpy(s.plugged, &bits, 8);
        assert_int_equal(virtio_mem_restore_state(vm, &s, &err), 0);
        virtio_mem_state_fini(&s);
        assert_true(virtio_mem_block_plugged(vm, 3));
        assert_ptr_equal(virtio_mem_plugged_bits(vm, &unit)[0], plugged_bits);
        assert_int_equal(unit, BLOCK);
        assert_int_equal(((uint8_t *)r.hva)[3 * BLOCK], 0xa3);
        /* Giving a file-backed block back yields zeros, not the file's. */
        assert_int_equal(guest_mem_release(true, win + BLOCK, BLOCK), 0);
        assert_int_equal(win[BLOCK], 0);
        virtio_mem_free(vm); /* leaves the adopted window mapped */
        assert_int_equal(win[3 * BLOCK], 0xa3);
    }
    guest_mem_free(gm);
}

static void test_full_with_window(void **state)
{
    struct files *f = *state;
    struct guest_mem *gm = mem_with_window();
    struct sq_err err;

    fill(gm);
    sq_err_clear(&err);
    assert_int_equal(snapshot_mem_file_write(gm, -1, f->mem, false, &err), 0);
    check_layout(f->mem);
    check_restored(f->mem);
    guest_mem_free(gm);
}

/* A Diff without tracking (mincore) writes the plugged blocks' resident
 * pages: all of them here, as fill() touched every byte. */
static void test_diff_with_window(void **state)
{
    struct files *f = *state;
    struct guest_mem *gm = mem_with_window();
    struct sq_err err;

    fill(gm);
    sq_err_clear(&err);
    assert_int_equal(snapshot_mem_file_write(gm, -1, f->mem, true, &err), 0);
    check_layout(f->mem);
    check_restored(f->mem);
    guest_mem_free(gm);
}

/* A memory file that lacks the window is refused before anything maps. */
static void test_short_file(void **state)
{
    struct files *f = *state;
    struct guest_mem *gm;
    struct sq_err err;
    int fd;

    make_file(f->mem, RAM * MIB);
    fd = open(f->mem, O_RDONLY | O_CLOEXEC);
    assert_int_equal(guest_mem_new(RAM, GUEST_MEM_HUGE_NONE, &gm, &err), 0);
    assert_int_equal(guest_mem_add_window(gm, WIN, WIN_SZ), 0);
    assert_int_equal(guest_mem_file_map(gm, fd, &err), -EINVAL);
    assert_string_equal(err.msg, "Total sum of memory regions exceeds "
                                 "largest possible file offset");
    assert_int_equal(guest_mem_add_window(gm, WIN + WIN_SZ, 0), -EINVAL);
    close(fd);
    guest_mem_free(gm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pmem_codec),
        cmocka_unit_test(test_mem_codec),
        cmocka_unit_test_setup_teardown(test_pmem_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_with_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_diff_with_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_file, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
