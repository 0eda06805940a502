/*
 * test_snapshot_format.c: the snapshot state file's frame (snapshot/format.h)
 * and CRC-64/Jones: round trips, and each of upstream's load errors in its
 * order (size, too short, decoding, magic, version, CRC). Inputs end at a
 * PROT_NONE page, so a read past the end crashes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "guard.h"
#include "snapshot/crc64.h"
#include "snapshot/format.h"

static void test_crc64_check_value(void **state)
{
    uint8_t b[17];

    (void)state;
    assert_true(crc64_jones(0, "123456789", 9) == 0xe9c6d914c4b8d9caULL);
    assert_true(crc64_jones(0, NULL, 0) == 0);
    /* Data followed by its own CRC (little-endian) checks to 0. */
    memcpy(b, "123456789", 9);
    for (int i = 0; i < 8; i++)
        b[9 + i] = (uint8_t)(0xe9c6d914c4b8d9caULL >> (8 * i));
    assert_true(crc64_jones(0, b, sizeof(b)) == 0);
    /* Incremental equals one pass. */
    assert_true(crc64_jones(crc64_jones(0, "1234", 4), "56789", 5) ==
                0xe9c6d914c4b8d9caULL);
}

/* A file with two sections: "AAAA" {u8 u16 u32 u64 str} and empty "BBBB". */
static void build(struct snap_writer *w)
{
    snap_writer_init(w);
    snap_section_begin(w, SNAP_TAG('A', 'A', 'A', 'A'));
    snap_put_u8(w, 0x12);
    snap_put_u16(w, 0x3456);
    snap_put_u32(w, 0x789abcde);
    snap_put_u64(w, 0x0123456789abcdefULL);
    snap_put_str(w, "hello");
    snap_section_end(w);
    snap_section_begin(w, SNAP_TAG('B', 'B', 'B', 'B'));
    snap_section_end(w);
    snap_writer_finish(w);
}

static int parse(const void *p, size_t n, struct snap_file *f,
                 enum snap_error *kind, struct sq_err *err)
{
    struct guarded g;
    int rc;

    guard_init(&g, p, n);
    sq_err_clear(err);
    rc = snap_file_parse((const uint8_t *)g.p, n, f, kind, err);
    guard_fini(&g);
    return rc;
}

static void test_round_trip(void **state)
{
    struct snap_writer w;
    struct snap_file f;
    struct snap_reader r;
    enum snap_error kind;
    struct sq_err err;
    size_t off = 0;
    uint32_t tag;
    char *s;

    (void)state;
    build(&w);
    sq_err_clear(&err);
    assert_int_equal(
        snap_file_parse((const uint8_t *)w.b.data, w.b.len, &f, &kind, &err),
        0);
    assert_int_equal(f.version.major, 11);
    assert_int_equal(f.version.minor, 0);
    assert_int_equal(f.version.patch, 0);
    assert_true(snap_next_section(&f, &off, &tag, &r));
    assert_int_equal(tag, SNAP_TAG('A', 'A', 'A', 'A'));
    assert_int_equal(snap_get_u8(&r), 0x12);
    assert_int_equal(snap_get_u16(&r), 0x3456);
    assert_int_equal(snap_get_u32(&r), 0x789abcde);
    assert_true(snap_get_u64(&r) == 0x0123456789abcdefULL);
    s = snap_get_str(&r);
    assert_string_equal(s, "hello");
    free(s);
    assert_true(snap_reader_done(&r));
    assert_true(snap_next_section(&f, &off, &tag, &r));
    assert_int_equal(tag, SNAP_TAG('B', 'B', 'B', 'B'));
    assert_int_equal(r.len, 0);
    assert_true(snap_reader_done(&r));
    /* Reading past the end is sticky and yields zeros. */
    assert_int_equal(snap_get_u32(&r), 0);
    assert_false(snap_reader_done(&r));
    assert_false(snap_next_section(&f, &off, &tag, &r));
    /* The file's header is upstream's magic, little-endian. */
    assert_int_equal((uint8_t)w.b.data[6], 0x10);
    assert_int_equal((uint8_t)w.b.data[7], 0x07);
    snap_writer_fini(&w);
}

/* Parsing the first n bytes of w fails with `kind` and `msg` (NULL: any). */
static void expect_fail(const struct snap_writer *w, size_t n,
                        enum snap_error kind, const char *msg)
{
    struct snap_file f;
    enum snap_error got;
    struct sq_err err;

    assert_true(parse(w->b.data, n, &f, &got, &err) < 0);
    assert_int_equal(got, kind);
    if (msg)
        assert_string_equal(err.msg, msg);
}

static void test_corrupted_crc(void **state)
{
    struct snap_writer w;

    (void)state;
    build(&w);
    w.b.data[SNAP_HEADER_SIZE + SNAP_SECTION_HDR] ^= 0x40; /* payload */
    expect_fail(&w, w.b.len, SNAP_E_CRC, "CRC64 validation failed");
    w.b.data[SNAP_HEADER_SIZE + SNAP_SECTION_HDR] ^= 0x40;
    w.b.data[w.b.len - 1] ^= 1; /* the stored CRC */
    expect_fail(&w, w.b.len, SNAP_E_CRC, "CRC64 validation failed");
    snap_writer_fini(&w);
}

static void test_truncated(void **state)
{
    struct snap_writer w;
    struct snap_file f;
    enum snap_error kind;
    struct sq_err err;
    char dbg[512];

    (void)state;
    build(&w);
    for (size_t n = 0; n < 8; n++)
        expect_fail(&w, n, SNAP_E_TOO_SHORT,
                    "IO Error: File too short to contain CRC");
    err.code = -ENODATA;
    assert_string_equal(
        snap_error_debug(SNAP_E_TOO_SHORT, &err, dbg, sizeof(dbg)),
        "Io(Custom { kind: UnexpectedEof, error: \"File too "
        "short to contain CRC\" })");
    /* Every cut between 8 bytes and the whole file fails to decode or, on
     * a section boundary, fails the CRC. */
    for (size_t n = 8; n < w.b.len; n++) {
        assert_true(parse(w.b.data, n, &f, &kind, &err) < 0);
        assert_true(kind == SNAP_E_DECODE || kind == SNAP_E_CRC);
    }
    expect_fail(&w, 8, SNAP_E_DECODE,
                "An error occurred during bitcode serialization: header "
                "truncated");
    assert_true(parse(w.b.data, 8, &f, &kind, &err) < 0);
    assert_string_equal(snap_error_debug(kind, &err, dbg, sizeof(dbg)),
                        "Bitcode(\"header truncated\")");
    snap_writer_fini(&w);
}

static void test_wrong_magic(void **state)
{
    struct snap_writer w;

    (void)state;
    build(&w);
    /* upstream's aarch64 magic: checked before the CRC */
    w.b.data[2] = (char)0xaa;
    w.b.data[3] = (char)0xaa;
    expect_fail(&w, w.b.len, SNAP_E_MAGIC,
                "Magic value does not match arch: 508934815482511360");
    snap_writer_fini(&w);
}

static void put_version(struct snap_writer *w, uint32_t major, uint32_t minor,
                        uint32_t patch)
{
    uint8_t *p = (uint8_t *)w->b.data + 8;
    uint32_t v[3] = {major, minor, patch};

    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            p[4 * i + j] = (uint8_t)(v[i] >> (8 * j));
}

static void test_versions(void **state)
{
    static const struct {
        uint32_t major, minor, patch;
        const char *msg; /* NULL: accepted */
    } cases[] = {
        {11, 0, 0, NULL},
        {11, 0, 1024, NULL},
        {11, 1, 0, "Invalid data version: 11.1.0"},
        {12, 0, 0, "Invalid data version: 12.0.0"},
        {10, 0, 7, "Invalid data version: 10.0.7"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct snap_writer w;
        struct snap_file f;
        struct snap_version v;
        enum snap_error kind;
        struct sq_err err;
        int rc;

        build(&w);
        w.b.len -= SNAP_CRC_SIZE;
        put_version(&w, cases[i].major, cases[i].minor, cases[i].patch);
        snap_writer_finish(&w);
        rc = parse(w.b.data, w.b.len, &f, &kind, &err);
        if (cases[i].msg) {
            assert_true(rc < 0);
            assert_int_equal(kind, SNAP_E_VERSION);
            assert_string_equal(err.msg, cases[i].msg);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(f.version.patch, cases[i].patch);
        }
        /* The version alone is read whatever it is. */
        assert_int_equal(snap_file_version((const uint8_t *)w.b.data, w.b.len,
                                           &v, &kind, &err),
                         0);
        assert_int_equal(v.major, cases[i].major);
        snap_writer_fini(&w);
    }
}

static void test_section_longer_than_file(void **state)
{
    struct snap_writer w;

    (void)state;
    build(&w);
    w.b.data[SNAP_HEADER_SIZE + 7] = 0x7f; /* first section's length */
    expect_fail(&w, w.b.len, SNAP_E_DECODE,
                "An error occurred during bitcode serialization: section at "
                "offset 20 longer than the file");
    snap_writer_fini(&w);
}

static void test_size_limit(void **state)
{
    struct snap_file f;
    enum snap_error kind;
    struct sq_err err;
    char dbg[64];

    (void)state;
    /* Only the length is looked at before the limit is applied. */
    sq_err_clear(&err);
    assert_true(snap_file_parse((const uint8_t *)"", SNAP_MAX_FILE_SIZE + 1, &f,
                                &kind, &err) < 0);
    assert_int_equal(kind, SNAP_E_SIZE_LIMIT);
    assert_string_equal(err.msg,
                        "Snapshot size exceeds limit of 10000000 bytes");
    assert_string_equal(snap_error_debug(kind, &err, dbg, sizeof(dbg)),
                        "SizeLimitExceeded(10000000)");
}

static void test_file_read(void **state)
{
    char path[] = "/tmp/squib-snap-XXXXXX";
    enum snap_error kind;
    struct sq_err err;
    uint8_t *buf;
    size_t len;
    int fd;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc", 3), 3);
    close(fd);
    sq_err_clear(&err);
    assert_int_equal(snap_file_read(path, &buf, &len, &kind, &err), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(buf, "abc", 3);
    free(buf);
    unlink(path);
    assert_true(snap_file_read(path, &buf, &len, &kind, &err) < 0);
    assert_int_equal(kind, SNAP_E_OPEN);
    assert_string_equal(err.msg, "No such file or directory (os error 2)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc64_check_value),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_corrupted_crc),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_wrong_magic),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_section_longer_than_file),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_file_read),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
