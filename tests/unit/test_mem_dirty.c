/*
 * test_mem_dirty.c: the dirty pages of virtio-mem's hot-pluggable window in
 * a Diff snapshot (vmm/guest_mem_diff.h, snapshot/memfile.h), on a real
 * device's window, real files and no KVM:
 *  - without tracking (mincore): a Diff after touching one page of a
 *    plugged block writes just that page; untouched plugged blocks and
 *    touched unplugged ones stay holes (SEEK_DATA / SEEK_HOLE);
 *  - with tracking: the VMM's own marks reach the window; a log (KVM's,
 *    hand-made here: KVM_GET_DIRTY_LOG needs /dev/kvm, which
 *    tests/integration/test_snapshot_memdev.py covers) and those marks are
 *    written only where a block is plugged; a failed Diff keeps the log in
 *    the window's bitmap, a successful one clears it;
 *  - a Diff layered in place onto a Full, after blocks were plugged and
 *    unplugged in between, restores the Diff's plugged blocks with their
 *    bytes, and the device state's bitmap says which blocks are plugged.
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
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "../support/file_extents.h"
#include "devices/virtio/mem.h"
#include "snapshot/memfile.h"
#include "vmm/guest_mem_diff.h"
#include "vmm/guest_mem_file.h"

#define MIB    (1ULL << 20)
#define PAGE   GUEST_MEM_PAGE_SIZE
#define WIN    0x8000000000ULL /* 512 GiB */
#define BLOCK  (2 * MIB)
#define BPAGES (BLOCK / PAGE)       /* pages per block */
#define RAM    4                    /* MiB */
#define WIN_SZ (8 * MIB)            /* 4 blocks, 2 slots of 2 blocks */
#define WOFF   ((off_t)(RAM * MIB)) /* the window's offset in the file */

struct fx {
    char dir[64];
    char path[128];
    struct guest_mem *gm;
    struct virtio_mem *vm;
    uint8_t *win; /* the device's window (borrowed) */
    size_t wi;    /* its region index in gm */
};

/* A machine's memory as vdev_mem.c builds it: RAM, then the device's
 * window with its plugged blocks and slots (mem_add_memory). */
static int setup_track(void **state, bool track)
{
    struct virtio_mem_params p = {
        .total_size_mib = 8, .block_size_mib = 2, .slot_size_mib = 4};
    struct fx *f = calloc(1, sizeof(*f));
    struct virtio_mem_region r;
    struct guest_region *w;
    struct sq_err err;

    snprintf(f->dir, sizeof(f->dir), "/tmp/squib-memdirty-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/vm.mem", f->dir);
    sq_err_clear(&err);
    assert_int_equal(guest_mem_new(RAM, GUEST_MEM_HUGE_NONE, &f->gm, &err), 0);
    if (track)
        assert_int_equal(guest_mem_dirty_init(f->gm), 0);
    assert_int_equal(virtio_mem_new(&p, &f->vm, &err), 0);
    assert_int_equal(virtio_mem_set_guest_addr(f->vm, WIN), 0);
    virtio_mem_host_region(f->vm, &r);
    f->win = r.hva;
    /* One touched page must stay one resident page (no THP fault-in). */
    assert_int_equal(madvise(f->win, WIN_SZ, MADV_NOHUGEPAGE), 0);
    assert_int_equal(guest_mem_add_borrowed(f->gm, WIN, WIN_SZ, f->win), 0);
    f->wi = f->gm->n_regions - 1;
    w = &f->gm->regions[f->wi];
    /* A tracking guest_mem gives a window added later its bitmap too. */
    assert_true(track == (w->dirty.words != NULL));
    w->present = virtio_mem_plugged_bits(f->vm, &w->present_unit);
    w->slot_on = virtio_mem_slots_on(f->vm, &w->slot_size);
    w->slot = GUEST_MEM_MAX_REGIONS;
    assert_int_equal(w->present_unit, BLOCK);
    assert_int_equal(w->slot_size, 2 * BLOCK);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_track(state, false);
}

static int setup_tracked(void **state)
{
    return setup_track(state, true);
}

static int teardown(void **state)
{
    struct fx *f = *state;

    unlink(f->path);
    rmdir(f->dir);
    guest_mem_free(f->gm); /* the window is borrowed: the device unmaps it */
    virtio_mem_free(f->vm);
    free(f);
    return 0;
}

/* Plug exactly the blocks of `bits` (as a restore does: slots follow). */
static void plug(struct fx *f, uint64_t bits)
{
    struct virtio_mem_state s;
    struct sq_err err;

    virtio_mem_save_state(f->vm, &s);
    s.plugged[0] = bits;
    s.usable_region_size = WIN_SZ;
    s.requested_size = WIN_SZ;
    sq_err_clear(&err);
    assert_int_equal(virtio_mem_restore_state(f->vm, &s, &err), 0);
    virtio_mem_state_fini(&s);
}

/* Offset of page p of block b of the window in the memory file. */
static off_t win_page(uint64_t b, uint64_t p)
{
    return WOFF + (off_t)(b * BLOCK + p * PAGE);
}

static void test_mincore_writes_touched_page(void **state)
{
    struct fx *f = *state;
    off_t ext[8][2];
    struct sq_err err;
    uint8_t b;
    int fd;

    plug(f, 0xa); /* blocks 1 and 3: both slots registered */
    f->win[BLOCK + 7 * PAGE + 100] = 0x5a; /* block 1, page 7 */
    f->win[5 * PAGE] = 0x77;               /* block 0: not plugged */
    sq_err_clear(&err);
    assert_int_equal(snapshot_mem_file_write(f->gm, -1, f->path, true, &err),
                     0);
    fd = open(f->path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(lseek(fd, 0, SEEK_END), WOFF + (off_t)WIN_SZ);
    assert_int_equal(pread(fd, &b, 1, win_page(1, 7) + 100), 1);
    assert_int_equal(b, 0x5a);
    if (file_holes_supported(fd)) {
        /* Untouched RAM, block 0, the rest of block 1, blocks 2 and 3:
         * holes. Only the touched page is data. */
        assert_int_equal(file_extents(fd, ext, 8), 1);
        assert_int_equal(ext[0][0], win_page(1, 7));
        assert_int_equal(ext[0][1], win_page(1, 8));
    }
    close(fd);
}

/* A hand-made KVM log of the window (what KVM_GET_DIRTY_LOG of its plugged
 * slots gives) with pages of blocks 0 (unplugged) and 3 (plugged). */
static void window_log(const struct fx *f, struct guest_mem_log *l)
{
    memset(l, 0, sizeof(*l));
    l->bits[0] = calloc(RAM * MIB / PAGE / 64, sizeof(uint64_t));
    l->bits[f->wi] = calloc(WIN_SZ / PAGE / 64, sizeof(uint64_t));
    l->bits[f->wi][0] = 1ULL << 2;                     /* block 0 page 2 */
    l->bits[f->wi][(3 * BPAGES + 9) / 64] = 1ULL << 9; /* block 3 page 9 */
}

static void test_tracked_log_and_marks(void **state)
{
    struct fx *f = *state;
    struct guest_mem_log log;
    uint64_t written = 0;
    off_t ext[8][2];
    struct sq_err err;
    int fd;

    plug(f, 0xa);
    /* The VMM's own writes into the window count (a virtqueue buffer in
     * plugged memory), in plugged blocks and, ignored later, others. */
    memset(f->win + BLOCK + 3 * PAGE, 0x33, 10);
    guest_mem_mark_dirty(f->gm, WIN + BLOCK + 3 * PAGE, 10);
    guest_mem_mark_dirty_hva(f->gm, f->win + 2 * BLOCK + PAGE, 1);
    assert_true(guest_mem_page_dirty(f->gm, NULL, f->wi, BPAGES + 3));
    assert_true(guest_mem_page_dirty(f->gm, NULL, f->wi, 2 * BPAGES + 1));
    assert_false(guest_mem_page_dirty(f->gm, NULL, f->wi, BPAGES + 4));

    window_log(f, &log);
    fd = open(f->path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, WOFF + (off_t)WIN_SZ), 0);
    sq_err_clear(&err);
    assert_int_equal(
        guest_mem_file_write_dirty(f->gm, &log, fd, &written, &err), 0);
    /* Block 1 page 3 (the VMM's) and block 3 page 9 (KVM's); not the
     * pages of the unplugged blocks 0 and 2. */
    assert_int_equal(written, 2 * PAGE);
    if (file_holes_supported(fd)) {
        assert_int_equal(file_extents(fd, ext, 8), 2);
        assert_int_equal(ext[0][0], win_page(1, 3));
        assert_int_equal(ext[0][1], win_page(1, 4));
        assert_int_equal(ext[1][0], win_page(3, 9));
        assert_int_equal(ext[1][1], win_page(3, 10));
    }
    close(fd);

    /* A failed Diff: the window's KVM pages stay dirty in squib's bitmap. */
    assert_false(guest_mem_page_dirty(f->gm, NULL, f->wi, 3 * BPAGES + 9));
    guest_mem_log_keep(f->gm, &log);
    guest_mem_log_fini(&log);
    assert_true(guest_mem_page_dirty(f->gm, NULL, f->wi, 3 * BPAGES + 9));
    /* A successful one clears it (no KVM here: its log is not read). */
    guest_mem_dirty_reset(f->gm, -1, false);
    assert_false(guest_mem_page_dirty(f->gm, NULL, f->wi, 3 * BPAGES + 9));
    assert_false(guest_mem_page_dirty(f->gm, NULL, f->wi, BPAGES + 3));
}

/* Full with blocks 1 and 3 plugged; then block 1 unplugged (discarded as
 * the device does), block 0 plugged and one page of it written; a Diff in
 * place onto the Full. Restored as a load restores: the Diff's bitmap
 * decides what is plugged, the plugged blocks hold the live bytes. */
static void test_layered_diff_on_full(void **state)
{
    struct fx *f = *state;
    struct virtio_mem_params p = {
        .total_size_mib = 8, .block_size_mib = 2, .slot_size_mib = 4};
    struct virtio_mem_state saved;
    struct guest_mem *gm;
    struct guest_region *w;
    struct virtio_mem *vm;
    struct sq_err err;
    uint8_t *win;
    int fd;

    plug(f, 0xa);
    memset(f->win + BLOCK, 0xa1, BLOCK);
    memset(f->win + 3 * BLOCK, 0xa3, BLOCK);
    sq_err_clear(&err);
    assert_int_equal(snapshot_mem_file_write(f->gm, -1, f->path, false, &err),
                     0);
    plug(f, 0x9);
    assert_int_equal(guest_mem_release(false, f->win + BLOCK, BLOCK), 0);
    f->win[11 * PAGE] = 0xb0;
    assert_int_equal(snapshot_mem_file_write(f->gm, -1, f->path, true, &err),
                     0);
    virtio_mem_save_state(f->vm, &saved);

    fd = open(f->path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(guest_mem_new(RAM, GUEST_MEM_HUGE_NONE, &gm, &err), 0);
    assert_int_equal(guest_mem_add_window(gm, WIN, WIN_SZ), 0);
    assert_int_equal(guest_mem_file_map(gm, fd, &err), 0);
    close(fd);
    w = guest_mem_find_window(gm, WIN, WIN_SZ);
    win = w->hva;
    assert_int_equal(virtio_mem_new(&p, &vm, &err), 0);
    assert_int_equal(virtio_mem_set_guest_addr(vm, WIN), 0);
    assert_int_equal(virtio_mem_use_window(vm, win, true), 0);
    assert_int_equal(virtio_mem_restore_state(vm, &saved, &err), 0);
    virtio_mem_state_fini(&saved);
    assert_true(virtio_mem_block_plugged(vm, 0));
    assert_false(virtio_mem_block_plugged(vm, 1));
    assert_false(virtio_mem_block_plugged(vm, 2));
    assert_true(virtio_mem_block_plugged(vm, 3));
    /* Block 0: the page written since the Full, zeros around it. */
    assert_int_equal(win[11 * PAGE], 0xb0);
    assert_int_equal(win[10 * PAGE], 0);
    assert_int_equal(win[BLOCK - 1], 0);
    /* Block 3: the Full's bytes (the Diff wrote them again: mincore). */
    assert_int_equal(win[3 * BLOCK], 0xa3);
    assert_int_equal(win[4 * BLOCK - 1], 0xa3);
    virtio_mem_free(vm);
    guest_mem_free(gm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mincore_writes_touched_page, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tracked_log_and_marks,
                                        setup_tracked, teardown),
        cmocka_unit_test_setup_teardown(test_layered_diff_on_full, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
