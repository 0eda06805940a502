/*
 * test_snapshot_describe.c: a state file read and printed for people
 * (snapshot/describe.h), from real files written by squib's own writer:
 * the version line, the vCPU states and the whole state in their layout;
 * and each way a file is refused (missing, a directory, too short, another
 * magic, a newer version, a bad CRC, sections missing) with upstream's
 * SnapshotError text and Debug form.
 */
#include <errno.h>
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

#include "../support/snap_state_fixture.h"
#include "snapshot/describe.h"
#include "util/le.h"

static char g_dir[] = "/tmp/squib-describe-XXXXXX";
static char g_path[128];

/* The fixture state as a file; `patch` edits the bytes before the CRC,
 * `flip` (>= 0) flips a byte after it, `cut` (> 0) keeps that many. */
static void write_state(void (*patch)(uint8_t *), long flip, size_t cut)
{
    struct microvm_state s;
    struct snap_writer w;
    FILE *f;

    make_state(&s);
    snap_writer_init(&w);
    microvm_state_encode(&s, &w);
    microvm_state_fini(&s);
    if (patch)
        patch((uint8_t *)w.b.data);
    snap_writer_finish(&w);
    if (flip >= 0)
        ((uint8_t *)w.b.data)[flip] ^= 1;
    f = fopen(g_path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(w.b.data, 1, cut ? cut : w.b.len, f),
                     cut ? cut : w.b.len);
    assert_int_equal(fclose(f), 0);
    snap_writer_fini(&w);
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(g_dir))
        return -1;
    snprintf(g_path, sizeof(g_path), "%s/vmstate", g_dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(g_path);
    rmdir(g_path);
    rmdir(g_dir);
    return 0;
}

/* Every opening bracket of the layout is closed. */
static void balanced(const struct buf *b)
{
    int curly = 0, square = 0;

    for (size_t i = 0; i < b->len; i++) {
        curly += b->data[i] == '{' ? 1 : b->data[i] == '}' ? -1 : 0;
        square += b->data[i] == '[' ? 1 : b->data[i] == ']' ? -1 : 0;
        assert_true(curly >= 0 && square >= 0);
    }
    assert_int_equal(curly, 0);
    assert_int_equal(square, 0);
}

static void contains(const struct buf *b, const char *s)
{
    char *z = strndup(b->data, b->len);

    if (!strstr(z, s))
        fail_msg("\"%s\" not printed", s);
    free(z);
}

static void test_prints(void **state)
{
    struct snap_described d;
    enum snap_error kind;
    struct sq_err err;
    struct buf b = BUF_INIT;

    (void)state;
    write_state(NULL, -1, 0);
    assert_int_equal(snap_describe_open(g_path, &d, &kind, &err), 0);

    snap_describe_version(&d, &b);
    assert_int_equal(b.len, strlen("v11.0.0\n"));
    assert_memory_equal(b.data, "v11.0.0\n", b.len);

    buf_reset(&b);
    snap_describe_vcpus(&d, &b);
    assert_memory_equal(b.data, "vcpu 0:\nVcpuState {\n", 20);
    contains(&b, "\n}\nvcpu 1:\nVcpuState {\n");
    contains(&b, "    tsc_khz: Some(2000000),\n}\n");
    contains(&b, "    tsc_khz: Some(2000001),\n}\n");
    contains(&b, "        0x4b564d04: 0x112233445566778c,\n");
    contains(&b, "    regs: kvm_regs {\n        rax: 0x");
    contains(&b, "    sregs: kvm_sregs {\n        cs: kvm_segment {\n");
    balanced(&b);

    buf_reset(&b);
    snap_describe_vm(&d, &b);
    assert_memory_equal(b.data, "MicrovmState {\n    vm_info: VmInfo {\n", 37);
    contains(&b, "        vcpu_count: 2,\n        mem_size_mib: 4096,\n"
                 "        smt: true,\n");
    contains(&b, "            base_address: 0x100000000,\n"
                 "            size: 0x40000000,\n");
    contains(&b, "    vcpu_states: [\n        VcpuState {\n");
    contains(&b, "            kind: virtio-block,\n            id: rootfs,\n"
                 "            mmio_addr: 0xc0001000,\n            gsi: 5,\n"
                 "            config: {\"drive_id\":\"rootfs\"},\n");
    contains(&b, "                        next_avail: 77,\n");
    contains(&b, "        fifo: [\n            0x0000: 616263,\n        ],\n");
    assert_memory_equal(b.data + b.len - 5, "],\n}\n", 5);
    balanced(&b);

    buf_fini(&b);
    snap_describe_fini(&d);
    snap_describe_fini(&d); /* idempotent */
}

static void magic(uint8_t *p)
{
    le_put64(p, 1);
}

static void newer(uint8_t *p)
{
    le_put32(p + 12, SNAP_VERSION_MINOR + 1);
}

static void older_patch(uint8_t *p)
{
    le_put32(p + 16, 7); /* any patch level is read */
}

static void expect_refused(enum snap_error want_kind, const char *text,
                           const char *debug)
{
    struct snap_described d;
    enum snap_error kind = SNAP_E_NONE;
    struct sq_err err;
    char dbg[SQ_ERR_MSG_MAX + 64];

    sq_err_clear(&err);
    assert_true(snap_describe_open(g_path, &d, &kind, &err) < 0);
    assert_int_equal(kind, want_kind);
    assert_string_equal(err.msg, text);
    if (debug)
        assert_string_equal(snap_error_debug(kind, &err, dbg, sizeof(dbg)),
                            debug);
    snap_describe_fini(&d); /* owns nothing */
}

static void test_refused(void **state)
{
    struct snap_described d;
    enum snap_error kind;
    struct sq_err err;

    (void)state;
    unlink(g_path);
    expect_refused(SNAP_E_OPEN, "No such file or directory (os error 2)", NULL);
    assert_int_equal(mkdir(g_path, 0755), 0);
    expect_refused(SNAP_E_IO, "IO Error: Is a directory (os error 21)",
                   "Io(Os { code: 21, kind: IsADirectory, message: \"Is a "
                   "directory\" })");
    assert_int_equal(rmdir(g_path), 0);

    write_state(NULL, -1, 4);
    expect_refused(SNAP_E_TOO_SHORT, "IO Error: File too short to contain CRC",
                   "Io(Custom { kind: UnexpectedEof, error: \"File too short "
                   "to contain CRC\" })");
    write_state(magic, -1, 0);
    expect_refused(SNAP_E_MAGIC, "Magic value does not match arch: 1",
                   "InvalidMagic(1)");
    write_state(newer, -1, 0);
    expect_refused(SNAP_E_VERSION, "Invalid data version: 11.1.0",
                   "InvalidFormatVersion(Version { major: 11, minor: 1, "
                   "patch: 0 })");
    write_state(NULL, 30, 0);
    expect_refused(SNAP_E_CRC, "CRC64 validation failed", "Crc64");
    /* A whole file cut short: its last 8 bytes are taken as the CRC, and
     * the sections before them no longer frame. */
    write_state(NULL, -1, 200);
    expect_refused(SNAP_E_DECODE,
                   "An error occurred during bitcode serialization: section "
                   "at offset 87 longer than the file",
                   NULL);

    /* Another patch level is read, and printed as it is. */
    write_state(older_patch, -1, 0);
    assert_int_equal(snap_describe_open(g_path, &d, &kind, &err), 0);
    {
        struct buf b = BUF_INIT;

        snap_describe_version(&d, &b);
        assert_memory_equal(b.data, "v11.0.7\n", 8);
        buf_fini(&b);
    }
    snap_describe_fini(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prints),
        cmocka_unit_test(test_refused),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
