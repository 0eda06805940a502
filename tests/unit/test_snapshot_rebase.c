/*
 * test_snapshot_rebase.c: a Diff memory file applied onto its base
 * (snapshot/rebase.h), with real sparse files in a temporary directory:
 * holes at the start and the end, data in the last page only, a diff
 * larger than the base, a diff with no hole at all, zeros that are data,
 * empty files; and the failures (missing files, a base that cannot be
 * written, a base that may not grow), each leaving the base as it was, with
 * upstream's texts for both tools.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "snapshot/rebase.h"

#define PG 4096

struct fx {
    char dir[64];
    char base[96], diff[96];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/squib-rebase-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->base, sizeof(f->base), "%s/base", f->dir);
    snprintf(f->diff, sizeof(f->diff), "%s/diff", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    unlink(f->base);
    rmdir(f->base); /* the case where it is a directory */
    unlink(f->diff);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Page `i` of a file filled with `seed` bytes. */
static void page(uint8_t *p, uint8_t seed)
{
    for (int i = 0; i < PG; i++)
        p[i] = (uint8_t)(seed + i % 251);
}

/*
 * A file of n_pages pages (its size), with data written only where
 * `layout` has a letter: 'a'..'z' a page of that seed, '0' a page of
 * zeros; '.' a hole.
 */
static void make(const char *path, const char *layout)
{
    size_t n = strlen(layout);
    uint8_t buf[PG];
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)(n * PG)), 0);
    for (size_t i = 0; i < n; i++) {
        if (layout[i] == '.')
            continue;
        if (layout[i] == '0')
            memset(buf, 0, sizeof(buf));
        else
            page(buf, (uint8_t)layout[i]);
        assert_int_equal(pwrite(fd, buf, PG, (off_t)(i * PG)), PG);
    }
    close(fd);
}

/* The file holds exactly `layout` ('.' and '0' both read as zeros). */
static void expect(const char *path, const char *layout)
{
    size_t n = strlen(layout);
    uint8_t want[PG], got[PG];
    struct stat st;
    int fd = open(path, O_RDONLY);

    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, (off_t)(n * PG));
    for (size_t i = 0; i < n; i++) {
        if (layout[i] == '.' || layout[i] == '0')
            memset(want, 0, sizeof(want));
        else
            page(want, (uint8_t)layout[i]);
        assert_int_equal(pread(fd, got, PG, (off_t)(i * PG)), PG);
        if (memcmp(want, got, PG) != 0)
            fail_msg("page %zu differs from '%c'", i, layout[i]);
    }
    close(fd);
}

/* The diff as the test wrote it must have holes where it says, or the
 * file system cannot show what this test is about. */
static bool has_holes(const char *path)
{
    int fd = open(path, O_RDONLY);
    off_t hole = lseek(fd, 0, SEEK_HOLE);
    struct stat st;

    fstat(fd, &st);
    close(fd);
    return hole >= 0 && hole < st.st_size;
}

static void rebase_ok(struct fx *f)
{
    enum snap_rebase_step step;

    assert_int_equal(snap_rebase(f->base, f->diff, &step), 0);
    assert_int_equal(step, SNAP_REBASE_OK);
}

static const struct {
    const char *base, *diff, *result;
} cases[] = {
    /* Both empty. */
    {"", "", ""},
    /* Only holes: the base is untouched. */
    {"abcd", "....", "abcd"},
    /* Holes at the start and at the end, data in the middle. */
    {"abcdef", "..xy..", "abxyef"},
    /* Data in the last page only. */
    {"abcdef", ".....z", "abcdez"},
    /* Data in the first page only. */
    {"abcdef", "z.....", "zbcdef"},
    /* Zeros that are data are copied (the guest wrote them). */
    {"abcd", ".00.", "a00d"},
    /* No hole at all: the base becomes the diff. */
    {"abcd", "wxyz", "wxyz"},
    /* A diff larger than the base grows it to its last data region. */
    {"ab", "...yz", "ab.yz"},
    {"ab", "..y..", "aby"},
    /* A base larger than the diff keeps its tail. */
    {"abcdef", ".x", "axcdef"},
    /* Scattered single pages. */
    {"abcdefgh", "p.q.r.s.", "pbqdrfsh"},
};

static void test_cases(void **state)
{
    struct fx *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        make(f->base, cases[i].base);
        make(f->diff, cases[i].diff);
        if (strchr(cases[i].diff, '.') && !has_holes(f->diff))
            skip(); /* a file system without holes */
        rebase_ok(f);
        expect(f->base, cases[i].result);
        /* The diff is read, never written. */
        expect(f->diff, cases[i].diff);
    }
}

/* A large diff with many regions (more than one sendfile call each). */
static void test_large_regions(void **state)
{
    struct fx *f = *state;
    char base[257], diff[257], result[257];

    for (int i = 0; i < 256; i++) {
        base[i] = (char)('a' + i % 26);
        diff[i] = (i / 16) % 2 ? (char)('A' + i % 26) : '.';
        result[i] = diff[i] == '.' ? base[i] : diff[i];
    }
    base[256] = diff[256] = result[256] = '\0';
    make(f->base, base);
    make(f->diff, diff);
    rebase_ok(f);
    expect(f->base, result);
}

static void expect_error(struct fx *f, enum snap_rebase_step want_step,
                         int want_rc)
{
    enum snap_rebase_step step;

    assert_int_equal(snap_rebase(f->base, f->diff, &step), want_rc);
    assert_int_equal(step, want_step);
}

static void test_missing_files(void **state)
{
    struct fx *f = *state;

    make(f->diff, "x");
    expect_error(f, SNAP_REBASE_OPEN_BASE, -ENOENT);
    /* Never created. */
    assert_int_equal(access(f->base, F_OK), -1);
    unlink(f->diff);
    make(f->base, "ab");
    expect_error(f, SNAP_REBASE_OPEN_DIFF, -ENOENT);
    expect(f->base, "ab");
    assert_int_equal(access(f->diff, F_OK), -1);
}

static void test_base_not_writable(void **state)
{
    struct fx *f = *state;

    make(f->diff, "x.");
    /* A directory cannot be opened for writing, even by root. */
    assert_int_equal(mkdir(f->base, 0755), 0);
    expect_error(f, SNAP_REBASE_OPEN_BASE, -EISDIR);
    rmdir(f->base);
    /* A read-only file (unless root, who may write it anyway). */
    make(f->base, "ab");
    assert_int_equal(chmod(f->base, 0444), 0);
    if (geteuid() != 0) {
        expect_error(f, SNAP_REBASE_OPEN_BASE, -EACCES);
        expect(f->base, "ab");
    }
}

/*
 * A base that may not grow (RLIMIT_FSIZE, in a child): the diff reaches
 * past its end, so the rebase fails before any byte changes, and the base
 * keeps its size and contents.
 */
static void test_no_partial_write(void **state)
{
    struct fx *f = *state;
    pid_t pid;
    int status;

    make(f->base, "ab");
    make(f->diff, "xy.z");
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {2 * PG, 2 * PG};
        enum snap_rebase_step step;
        int rc;

        signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
            _exit(10);
        rc = snap_rebase(f->base, f->diff, &step);
        _exit(rc == -EFBIG && step == SNAP_REBASE_SEND ? 0 : 11);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    expect(f->base, "ab");
}

static void test_texts(void **state)
{
    char out[512];

    (void)state;
    assert_string_equal(
        snap_rebase_strerror(SNAP_REBASE_STYLE_REBASE_SNAP,
                             SNAP_REBASE_OPEN_BASE, -ENOENT, out, sizeof(out)),
        "Invalid base file: No such file or directory (os error 2)");
    assert_string_equal(
        snap_rebase_debug(SNAP_REBASE_STYLE_REBASE_SNAP, SNAP_REBASE_OPEN_DIFF,
                          -ENOENT, out, sizeof(out)),
        "InvalidDiffFile(Os { code: 2, kind: NotFound, message: \"No such "
        "file or directory\" })");
    assert_string_equal(
        snap_rebase_strerror(SNAP_REBASE_STYLE_EDITOR, SNAP_REBASE_OPEN_BASE,
                             -EISDIR, out, sizeof(out)),
        "Could not open memory file: Is a directory (os error 21)");
    assert_string_equal(snap_rebase_strerror(SNAP_REBASE_STYLE_EDITOR,
                                             SNAP_REBASE_SEND, -ENOSPC, out,
                                             sizeof(out)),
                        "Failed to send the file: No space left on device "
                        "(os error 28)");
    assert_string_equal(
        snap_rebase_debug(SNAP_REBASE_STYLE_EDITOR, SNAP_REBASE_SEEK_DATA,
                          -EINVAL, out, sizeof(out)),
        "SeekDataDiff(Os { code: 22, kind: InvalidInput, message: \"Invalid "
        "argument\" })");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_regions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_base_not_writable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_partial_write, setup, teardown),
        cmocka_unit_test(test_texts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
