/*
 * test_snapshot_diff.c: the sparse memory file of a Diff snapshot on real
 * files (vmm/guest_mem_diff.h, snapshot/memfile.h): only dirty pages are
 * written, holes stay where pages are clean (SEEK_DATA / SEEK_HOLE show
 * the layout), an existing base is updated in place and keeps its other
 * pages, new files appear whole under their name (nothing temporary left),
 * the dirty state is reset after success and kept after a failure, and
 * mincore stands in for the logs when tracking is off.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../support/file_extents.h"
#include "snapshot/memfile.h"
#include "vmm/guest_mem_diff.h"

#define MiB  (1ULL << 20)
#define PAGE GUEST_MEM_PAGE_SIZE
#define MEM  8 /* MiB of guest RAM: 2048 pages */

struct fx {
    char dir[64];
    char path[128];
    struct guest_mem *gm;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct sq_err err;

    snprintf(f->dir, sizeof(f->dir), "/tmp/squib-diff-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/vm.mem", f->dir);
    assert_int_equal(guest_mem_new(MEM, GUEST_MEM_HUGE_NONE, &f->gm, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *e;
    char p[512];

    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(f->dir);
    guest_mem_free(f->gm);
    free(f);
    return 0;
}

/* Names in the directory (to see that no temporary file is left). */
static int entries(const struct fx *f)
{
    DIR *d = opendir(f->dir);
    struct dirent *e;
    int n = 0;

    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void fill_page(struct guest_mem *gm, size_t page, uint8_t v)
{
    memset(gm->regions[0].hva + page * PAGE, v, PAGE);
}

/* Page `page` of the file, checked to be all `v`. */
static void expect_page(int fd, size_t page, uint8_t v)
{
    static uint8_t buf[PAGE];

    assert_int_equal(pread(fd, buf, PAGE, (off_t)(page * PAGE)), PAGE);
    for (size_t i = 0; i < PAGE; i++)
        if (buf[i] != v)
            fail_msg("page %zu byte %zu: %u, expected %u", page, i, buf[i], v);
}

/* A hand-made KVM log: pages 5 and 6 of region 0. */
static void kvm_log(struct guest_mem_log *l)
{
    memset(l, 0, sizeof(*l));
    l->bits[0] = calloc(MEM * MiB / PAGE / 64, sizeof(uint64_t));
    l->bits[0][0] = (1ULL << 5) | (1ULL << 6);
}

static void test_only_dirty_pages_written(void **state)
{
    struct fx *f = *state;
    struct guest_mem_log log;
    struct sq_err err;
    off_t ext[8][2];
    uint64_t written = 0;
    int fd;

    assert_int_equal(guest_mem_dirty_init(f->gm), 0);
    for (size_t p = 0; p < MEM * MiB / PAGE; p += 7)
        fill_page(f->gm, p, 0x11); /* clean pages with content */
    fill_page(f->gm, 0, 0xa0);
    fill_page(f->gm, 5, 0xa5);
    fill_page(f->gm, 6, 0xa6);
    fill_page(f->gm, 2047, 0xff);
    /* KVM saw the guest write 5 and 6; squib wrote 0 and the last page. */
    kvm_log(&log);
    guest_mem_mark_dirty(f->gm, 0, 1);
    guest_mem_mark_dirty(f->gm, 2047 * PAGE, PAGE);
    assert_true(guest_mem_page_dirty(f->gm, &log, 0, 5));
    assert_false(guest_mem_page_dirty(f->gm, &log, 0, 7));

    fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, MEM * MiB), 0);
    assert_int_equal(
        guest_mem_file_write_dirty(f->gm, &log, fd, &written, &err), 0);
    assert_int_equal(written, 4 * PAGE);
    expect_page(fd, 0, 0xa0);
    expect_page(fd, 5, 0xa5);
    expect_page(fd, 6, 0xa6);
    expect_page(fd, 2047, 0xff);
    expect_page(fd, 7, 0); /* clean: not written */
    expect_page(fd, 1, 0);
    if (file_holes_supported(fd)) {
        assert_int_equal(file_extents(fd, ext, 8), 3);
        assert_int_equal(ext[0][0], 0);
        assert_int_equal(ext[0][1], PAGE);
        assert_int_equal(ext[1][0], 5 * PAGE);
        assert_int_equal(ext[1][1], 7 * PAGE);
        assert_int_equal(ext[2][0], 2047 * PAGE);
        assert_int_equal(ext[2][1], MEM * MiB);
    }
    close(fd);
    guest_mem_log_fini(&log);
}

static void test_in_place_update_keeps_other_pages(void **state)
{
    struct fx *f = *state;
    struct stat before, after;
    struct sq_err err;
    uint8_t *base = malloc(MEM * MiB);
    int fd;

    /* A base file: every page 0x33. */
    memset(base, 0x33, MEM * MiB);
    fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(write(fd, base, MEM * MiB), (ssize_t)(MEM * MiB));
    close(fd);
    free(base);
    assert_int_equal(stat(f->path, &before), 0);

    /* Tracking off: the dirty set is what is resident (mincore). */
    fill_page(f->gm, 10, 0x10);
    fill_page(f->gm, 1500, 0x15);
    assert_int_equal(snapshot_mem_file_write(f->gm, -1, f->path, true, &err),
                     0);
    assert_int_equal(stat(f->path, &after), 0);
    assert_int_equal(after.st_ino, before.st_ino); /* the same file */
    assert_int_equal(after.st_size, MEM * MiB);
    fd = open(f->path, O_RDONLY);
    expect_page(fd, 10, 0x10);
    expect_page(fd, 1500, 0x15);
    /* Pages the guest never touched keep the base's bytes. */
    expect_page(fd, 700, 0x33); /* another 2 MiB than 10 and 1500 */
    expect_page(fd, 2047, 0x33);
    close(fd);
    assert_int_equal(entries(f), 1);
}

static void test_new_file_is_sparse_and_whole(void **state)
{
    struct fx *f = *state;
    struct sq_err err;
    off_t ext[4][2];
    int fd;

    assert_int_equal(guest_mem_dirty_init(f->gm), 0);
    fill_page(f->gm, 100, 0x64);
    fill_page(f->gm, 101, 0x65); /* resident but not marked: not dirty */
    guest_mem_mark_dirty(f->gm, 100 * PAGE, 10);
    /* A stale file of another size is replaced, not patched. */
    fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    assert_int_equal(write(fd, "old", 3), 3);
    close(fd);
    /* With tracking, KVM's log is needed: a machine without one fails with
     * upstream's text, the old file stays, nothing else is left, and the
     * page squib wrote is still dirty. */
    assert_int_equal(snapshot_mem_file_write(f->gm, -1, f->path, true, &err),
                     -EBADF);
    assert_string_equal(err.msg, "Cannot get dirty bitmap: Failed to get "
                                 "KVM's dirty log: Bad file descriptor (os "
                                 "error 9)");
    assert_int_equal(entries(f), 1);
    {
        struct stat st;

        assert_int_equal(stat(f->path, &st), 0);
        assert_int_equal(st.st_size, 3);
    }
    assert_true(guest_mem_page_dirty(f->gm, NULL, 0, 100));

    /* The writer itself, with an empty KVM log, into a new file. */
    {
        struct guest_mem_log log;

        memset(&log, 0, sizeof(log));
        log.bits[0] = calloc(MEM * MiB / PAGE / 64, sizeof(uint64_t));
        unlink(f->path);
        fd = open(f->path, O_RDWR | O_CREAT, 0600);
        assert_int_equal(ftruncate(fd, MEM * MiB), 0);
        assert_int_equal(
            guest_mem_file_write_dirty(f->gm, &log, fd, NULL, &err), 0);
        expect_page(fd, 100, 0x64);
        expect_page(fd, 101, 0);
        if (file_holes_supported(fd)) {
            assert_int_equal(file_extents(fd, ext, 4), 1);
            assert_int_equal(ext[0][0], 100 * PAGE);
            assert_int_equal(ext[0][1], 101 * PAGE);
        }
        close(fd);
        guest_mem_log_fini(&log);
    }
}

static void test_failed_diff_keeps_kvm_pages(void **state)
{
    struct fx *f = *state;
    struct guest_mem_log log;

    assert_int_equal(guest_mem_dirty_init(f->gm), 0);
    kvm_log(&log);
    assert_false(guest_mem_page_dirty(f->gm, NULL, 0, 5));
    guest_mem_log_keep(f->gm, &log);
    guest_mem_log_fini(&log);
    /* Pages KVM no longer reports are now in squib's own bitmap. */
    assert_true(guest_mem_page_dirty(f->gm, NULL, 0, 5));
    assert_true(guest_mem_page_dirty(f->gm, NULL, 0, 6));
    assert_false(guest_mem_page_dirty(f->gm, NULL, 0, 4));
}

static void test_full_replaces_and_resets(void **state)
{
    struct fx *f = *state;
    struct stat before, after;
    struct sq_err err;
    int fd;

    assert_int_equal(guest_mem_dirty_init(f->gm), 0);
    fill_page(f->gm, 3, 0x03);
    guest_mem_mark_dirty(f->gm, 3 * PAGE, 1);
    /* An existing file of the right size, as a previous snapshot. */
    fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    assert_int_equal(ftruncate(fd, MEM * MiB), 0);
    close(fd);
    assert_int_equal(chmod(f->path, 0640), 0);
    assert_int_equal(stat(f->path, &before), 0);
    assert_int_equal(snapshot_mem_file_write(f->gm, -1, f->path, false, &err),
                     0);
    assert_int_equal(stat(f->path, &after), 0);
    /* A new file took its name whole, with its permissions. */
    assert_true(after.st_ino != before.st_ino);
    assert_int_equal(after.st_mode & 07777, 0640);
    assert_int_equal(after.st_size, MEM * MiB);
    assert_int_equal(entries(f), 1);
    fd = open(f->path, O_RDONLY);
    expect_page(fd, 3, 0x03);
    expect_page(fd, 4, 0);
    close(fd);
    /* The next Diff starts from here: squib's bitmap is clear. */
    assert_false(guest_mem_page_dirty(f->gm, NULL, 0, 3));
}

static void test_symlink_written_through(void **state)
{
    struct fx *f = *state;
    struct sq_err err;
    struct stat st;
    char target[160];
    int fd;

    snprintf(target, sizeof(target), "%s/target.mem", f->dir);
    fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_int_equal(write(fd, "old", 3), 3);
    close(fd);
    assert_int_equal(symlink(target, f->path), 0);
    fill_page(f->gm, 9, 0x09);
    assert_int_equal(snapshot_mem_file_write(f->gm, -1, f->path, false, &err),
                     0);
    /* The link is still a link; its target got the memory. */
    assert_int_equal(lstat(f->path, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_size, MEM * MiB);
    fd = open(target, O_RDONLY);
    expect_page(fd, 9, 0x09);
    close(fd);
    assert_int_equal(entries(f), 2);
}

static void test_open_errors(void **state)
{
    struct fx *f = *state;
    struct sq_err err;
    char p[160];

    snprintf(p, sizeof(p), "%s/no/such/dir/vm.mem", f->dir);
    assert_int_equal(snapshot_mem_file_write(f->gm, -1, p, true, &err),
                     -ENOENT);
    assert_string_equal(err.msg, "Cannot perform open on the memory backing "
                                 "file: No such file or directory (os error "
                                 "2)");
    assert_int_equal(snapshot_mem_file_write(f->gm, -1, p, false, &err),
                     -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_only_dirty_pages_written, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_in_place_update_keeps_other_pages,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_file_is_sparse_and_whole,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_diff_keeps_kvm_pages, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_full_replaces_and_resets, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_symlink_written_through, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
