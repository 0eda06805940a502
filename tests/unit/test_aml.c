/*
 * test_aml.c: the AML emitter against known encodings.
 *
 * The expected byte strings are the encodings ACPI's AML grammar gives for
 * these terms (cross-checked against iasl's disassembly in the comments);
 * they are the same vectors Firecracker's acpi-tables crate checks itself
 * against, so matching them means matching Firecracker's DSDT bytes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/aml.h"

static void expect_bytes(const struct buf *b, const uint8_t *want, size_t n)
{
    assert_int_equal(b->len, n);
    assert_memory_equal(b->data, want, n);
}

/* Device (_SB.COM1) { Name (_HID, EisaId ("PNP0501")) Name (_CRS,
 * ResourceTemplate () { Interrupt (ResourceConsumer, Edge, ActiveHigh,
 * Exclusive) {4} IO (Decode16, 0x3F8, 0x3F8, 0x00, 0x08) }) } */
static void test_device(void **state)
{
    static const uint8_t want[] = {
        0x5B, 0x82, 0x30, 0x2E, 0x5F, 0x53, 0x42, 0x5F, 0x43, 0x4F,
        0x4D, 0x31, 0x08, 0x5F, 0x48, 0x49, 0x44, 0x0C, 0x41, 0xD0,
        0x05, 0x01, 0x08, 0x5F, 0x43, 0x52, 0x53, 0x11, 0x16, 0x0A,
        0x13, 0x89, 0x06, 0x00, 0x03, 0x01, 0x04, 0x00, 0x00, 0x00,
        0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x00, 0x08, 0x79, 0x00,
    };
    struct buf b = BUF_INIT;
    size_t dev, rt;

    (void)state;
    assert_int_equal(aml_device_begin(&b, "_SB_.COM1", &dev), 0);
    assert_int_equal(aml_name(&b, "_HID"), 0);
    assert_int_equal(aml_eisa_id(&b, "PNP0501"), 0);
    assert_int_equal(aml_name(&b, "_CRS"), 0);
    rt = aml_restemplate_begin(&b);
    aml_interrupt(&b, 1, 1, 0, 0, 4);
    aml_io(&b, 0x3f8, 0x3f8, 0, 8);
    aml_restemplate_end(&b, rt);
    aml_device_end(&b, dev);
    expect_bytes(&b, want, sizeof(want));
    buf_fini(&b);
}

/* Scope (_SB.MBRD) { Name (_CRS, ResourceTemplate () { Memory32Fixed
 * (ReadWrite, 0xE8000000, 0x10000000) }) } */
static void test_scope(void **state)
{
    static const uint8_t want[] = {
        0x10, 0x21, 0x2E, 0x5F, 0x53, 0x42, 0x5F, 0x4D, 0x42, 0x52, 0x44, 0x08,
        0x5F, 0x43, 0x52, 0x53, 0x11, 0x11, 0x0A, 0x0E, 0x86, 0x09, 0x00, 0x01,
        0x00, 0x00, 0x00, 0xE8, 0x00, 0x00, 0x00, 0x10, 0x79, 0x00,
    };
    struct buf b = BUF_INIT;
    size_t sc, rt;

    (void)state;
    assert_int_equal(aml_scope_begin(&b, "_SB_.MBRD", &sc), 0);
    aml_name(&b, "_CRS");
    rt = aml_restemplate_begin(&b);
    aml_memory32_fixed(&b, 1, 0xe8000000u, 0x10000000u);
    aml_restemplate_end(&b, rt);
    aml_scope_end(&b, sc);
    expect_bytes(&b, want, sizeof(want));
    buf_fini(&b);
}

static void test_pkg_length(void **state)
{
    uint8_t out[4];

    (void)state;
    assert_int_equal(aml_pkg_length(62, 1, out), 1);
    assert_int_equal(out[0], 63);
    assert_int_equal(aml_pkg_length(64, 1, out), 2);
    assert_int_equal(out[0], (1 << 6) | (66 & 0xf));
    assert_int_equal(out[1], 66 >> 4);
    assert_int_equal(aml_pkg_length(4096, 1, out), 3);
    assert_int_equal(out[0], (2 << 6) | (4099 & 0xf));
    assert_int_equal(out[1], (4099 >> 4) & 0xff);
    assert_int_equal(out[2], (4099 >> 12) & 0xff);
    /* 63 bytes is where one byte stops being enough. */
    assert_int_equal(aml_pkg_length(63, 1, out), 2);
    assert_int_equal(aml_pkg_length(1 << 20, 1, out), 4);
    assert_int_equal(out[0] >> 6, 3);
}

/* Name (_S5, Package (0x01) { 0x05 }) */
static void test_package(void **state)
{
    static const uint8_t want[] = {0x08, 0x5F, 0x53, 0x35, 0x5F,
                                   0x12, 0x04, 0x01, 0x0A, 0x05};
    struct buf b = BUF_INIT;
    size_t p;

    (void)state;
    aml_name(&b, "_S5_");
    p = aml_package_begin(&b);
    aml_byte(&b, 5);
    aml_package_end(&b, p, 1);
    expect_bytes(&b, want, sizeof(want));
    buf_fini(&b);
}

static void test_paths(void **state)
{
    static const uint8_t one[] = {0x5F, 0x53, 0x42, 0x5F};
    static const uint8_t root[] = {0x5C, 0x5F, 0x53, 0x42, 0x5F};
    static const uint8_t dual[] = {0x2E, 0x5F, 0x53, 0x42, 0x5F,
                                   0x43, 0x4F, 0x4D, 0x31};
    static const uint8_t multi[] = {0x2F, 0x03, 0x5F, 0x53, 0x42, 0x5F, 0x50,
                                    0x43, 0x49, 0x30, 0x5F, 0x48, 0x49, 0x44};
    struct buf b = BUF_INIT;

    (void)state;
    assert_int_equal(aml_path(&b, "_SB_"), 0);
    expect_bytes(&b, one, sizeof(one));
    buf_reset(&b);
    assert_int_equal(aml_path(&b, "\\_SB_"), 0);
    expect_bytes(&b, root, sizeof(root));
    buf_reset(&b);
    assert_int_equal(aml_path(&b, "_SB_.COM1"), 0);
    expect_bytes(&b, dual, sizeof(dual));
    buf_reset(&b);
    assert_int_equal(aml_path(&b, "_SB_.PCI0._HID"), 0);
    expect_bytes(&b, multi, sizeof(multi));
    buf_reset(&b);

    /* Malformed names append nothing. */
    assert_int_equal(aml_path(&b, ""), -EINVAL);
    assert_int_equal(aml_path(&b, "\\"), -EINVAL);
    assert_int_equal(aml_path(&b, "_SB"), -EINVAL);
    assert_int_equal(aml_path(&b, "_SB_."), -EINVAL);
    assert_int_equal(aml_path(&b, "_SB_..COM"), -EINVAL);
    assert_int_equal(aml_path(&b, "_SB_XCOM1"), -EINVAL);
    assert_int_equal(aml_name(&b, "TOOLONG"), -EINVAL);
    assert_int_equal(b.len, 0);
    buf_fini(&b);
}

static void test_numbers_and_strings(void **state)
{
    static const uint8_t b8[] = {0x0a, 0x80};
    static const uint8_t b16[] = {0x0b, 0x00, 0x04};
    static const uint8_t b32[] = {0x0c, 0x00, 0x00, 0x00, 0x01};
    static const uint8_t b64[] = {0x0e, 0xad, 0xfb, 0xca, 0xde,
                                  0xad, 0xfb, 0xca, 0xde};
    static const uint8_t str[] = {0x0d, 'A', 'C', 'P', 'I', 0};
    static const uint8_t eisa[] = {0x08, 0x5F, 0x48, 0x49, 0x44,
                                   0x0C, 0x41, 0xD0, 0x05, 0x01};
    struct buf b = BUF_INIT;

    (void)state;
    aml_uint(&b, 128);
    expect_bytes(&b, b8, sizeof(b8));
    buf_reset(&b);
    aml_uint(&b, 1024);
    expect_bytes(&b, b16, sizeof(b16));
    buf_reset(&b);
    aml_uint(&b, 16u << 20);
    expect_bytes(&b, b32, sizeof(b32));
    buf_reset(&b);
    aml_uint(&b, 0xdecafbaddecafbadull);
    expect_bytes(&b, b64, sizeof(b64));
    buf_reset(&b);
    aml_string(&b, "ACPI");
    expect_bytes(&b, str, sizeof(str));
    buf_reset(&b);
    aml_name(&b, "_HID");
    assert_int_equal(aml_eisa_id(&b, "PNP0501"), 0);
    expect_bytes(&b, eisa, sizeof(eisa));
    buf_reset(&b);
    assert_int_equal(aml_eisa_id(&b, "PNP050"), -EINVAL);
    assert_int_equal(aml_eisa_id(&b, "pnp0501"), -EINVAL);
    assert_int_equal(aml_eisa_id(&b, "PNP05G1"), -EINVAL);
    assert_int_equal(b.len, 0);
    buf_fini(&b);
}

/* Method (_STA, 0, NotSerialized) { Return (0x0F) } */
static void test_method(void **state)
{
    static const uint8_t want[] = {0x14, 0x09, 0x5F, 0x53, 0x54,
                                   0x41, 0x00, 0xA4, 0x0A, 0x0F};
    struct buf b = BUF_INIT;
    size_t m;

    (void)state;
    assert_int_equal(aml_method_begin(&b, "_STA", 0, 0, &m), 0);
    aml_return(&b);
    aml_byte(&b, 0x0f);
    aml_method_end(&b, m);
    expect_bytes(&b, want, sizeof(want));
    buf_fini(&b);
}

/* Method (_EVT, 1, Serialized) { If (Arg0 == 5) { Notify (\_SB.VGEN, 0x80) } }
 */
static void test_if_notify(void **state)
{
    static const uint8_t want[] = {
        0x14, 0x19, '_',  'E',  'V',  'T',  0x09, /* method, 1 arg, serialized
                                                   */
        0xa0, 0x12, 0x93, 0x68, 0x0a, 0x05,       /* If (LEqual (Arg0, 5)) */
        0x86, 0x5c, 0x2e, '_',  'S',  'B',  '_',  'V',
        'G',  'E',  'N',  0x0a, 0x80, /* Notify (\_SB.VGEN, 0x80) */
    };
    struct buf b = BUF_INIT;
    size_t m, i;

    (void)state;
    assert_int_equal(aml_method_begin(&b, "_EVT", 1, 1, &m), 0);
    i = aml_if_begin(&b);
    aml_lequal(&b);
    assert_int_equal(aml_arg(&b, 0), 0);
    aml_byte(&b, 5);
    aml_notify(&b);
    aml_path(&b, "\\_SB_.VGEN");
    aml_uint(&b, 0x80);
    aml_if_end(&b, i);
    aml_method_end(&b, m);
    expect_bytes(&b, want, sizeof(want));
    assert_int_equal(aml_arg(&b, 7), -EINVAL);
    assert_int_equal(aml_local(&b, 8), -EINVAL);
    buf_fini(&b);
}

/* QWordMemory (ResourceConsumer, PosDecode, MinFixed, MaxFixed, Cacheable,
 * ReadOnly, 0, 0xDE000, 0xDEFFF, 0, 0x1000) */
static void test_qword_memory(void **state)
{
    struct buf b = BUF_INIT;
    const uint8_t *p;

    (void)state;
    assert_int_equal(aml_qword_memory(&b, 1, 0, 0xde000, 0xdefff), 0);
    assert_int_equal(b.len, 46);
    p = (const uint8_t *)b.data;
    assert_int_equal(p[0], 0x8a);
    assert_int_equal(p[1] | p[2] << 8, 43);
    assert_int_equal(p[3], 0);     /* memory */
    assert_int_equal(p[4], 0x0c);  /* min/max fixed */
    assert_int_equal(p[5], 0x02);  /* cacheable, read-only */
    assert_int_equal(p[14], 0x00); /* min low byte */
    assert_int_equal(p[15], 0xe0);
    assert_int_equal(p[16], 0x0d);
    assert_int_equal(p[38], 0x00); /* length 0x1000 */
    assert_int_equal(p[39], 0x10);
    assert_int_equal(aml_qword_memory(&b, 1, 0, 2, 1), -EINVAL);
    assert_int_equal(b.len, 46);
    buf_fini(&b);
}

/* The descriptor vectors of Firecracker's acpi-tables test_resource_template.
 */
static void test_address_spaces(void **state)
{
    static const uint8_t bus[] = {
        0x08, 0x5F, 0x43, 0x52, 0x53, 0x11, 0x15, 0x0A, 0x12,
        0x88, 0x0D, 0x00, 0x02, 0x0C, 0x00, 0x00, 0x00, 0x00,
        0x00, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x01, 0x79, 0x00,
    };
    static const uint8_t io[] = {
        0x08, 0x5F, 0x43, 0x52, 0x53, 0x11, 0x25, 0x0A, 0x22, 0x88, 0x0D,
        0x00, 0x01, 0x0C, 0x03, 0x00, 0x00, 0x00, 0x00, 0xF7, 0x0C, 0x00,
        0x00, 0xF8, 0x0C, 0x88, 0x0D, 0x00, 0x01, 0x0C, 0x03, 0x00, 0x00,
        0x00, 0x0D, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xF3, 0x79, 0x00,
    };
    static const uint8_t qword[] = {
        0x08, 0x5F, 0x43, 0x52, 0x53, 0x11, 0x33, 0x0A, 0x30, 0x8A, 0x2B, 0x00,
        0x00, 0x0C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x79, 0x00,
    };
    struct buf b = BUF_INIT;
    size_t rt;

    (void)state;
    aml_name(&b, "_CRS");
    rt = aml_restemplate_begin(&b);
    aml_word_bus_number(&b, 0, 0xff);
    aml_restemplate_end(&b, rt);
    expect_bytes(&b, bus, sizeof(bus));
    buf_reset(&b);

    aml_name(&b, "_CRS");
    rt = aml_restemplate_begin(&b);
    aml_word_io(&b, 0, 0xcf7);
    aml_word_io(&b, 0xd00, 0xffff);
    aml_restemplate_end(&b, rt);
    expect_bytes(&b, io, sizeof(io));
    buf_reset(&b);

    aml_name(&b, "_CRS");
    rt = aml_restemplate_begin(&b);
    assert_int_equal(aml_qword_memory(&b, 1, 1, 0x800000000ull, 0xfffffffffull),
                     0);
    aml_restemplate_end(&b, rt);
    expect_bytes(&b, qword, sizeof(qword));
    buf_fini(&b);
}

/* Name (_MAT, Buffer (0x08) { 0x00, 0x08, 0x00, 0x00, 0x01, 0, 0, 0 }) */
static void test_buffer(void **state)
{
    static const uint8_t data[] = {0x00, 0x08, 0x00, 0x00,
                                   0x01, 0x00, 0x00, 0x00};
    static const uint8_t want[] = {0x08, 0x5F, 0x4D, 0x41, 0x54, 0x11,
                                   0x0B, 0x0A, 0x08, 0x00, 0x08, 0x00,
                                   0x00, 0x01, 0x00, 0x00, 0x00};
    struct buf b = BUF_INIT;

    (void)state;
    aml_name(&b, "_MAT");
    aml_buffer(&b, data, sizeof(data));
    expect_bytes(&b, want, sizeof(want));
    buf_fini(&b);
}

/* Method (TEST, 0, NotSerialized) { Acquire (MLCK, 0xFFFF) Local0 = One
 * Release (MLCK) } -- the method part of acpi-tables' test_mutex. */
static void test_acquire_store_release(void **state)
{
    static const uint8_t want[] = {
        0x14, 0x17, 0x54, 0x45, 0x53, 0x54, 0x00, 0x5B, 0x23, 0x4D, 0x4C, 0x43,
        0x4B, 0xFF, 0xFF, 0x70, 0x01, 0x60, 0x5B, 0x27, 0x4D, 0x4C, 0x43, 0x4B,
    };
    struct buf b = BUF_INIT;
    size_t m;

    (void)state;
    aml_method_begin(&b, "TEST", 0, 0, &m);
    assert_int_equal(aml_acquire(&b, "MLCK", 0xffff), 0);
    aml_store(&b);
    aml_one(&b);
    aml_local(&b, 0);
    assert_int_equal(aml_release(&b, "MLCK"), 0);
    aml_method_end(&b, m);
    expect_bytes(&b, want, sizeof(want));
    assert_int_equal(aml_acquire(&b, "ML", 1), -EINVAL);
    assert_int_equal(aml_release(&b, "ML"), -EINVAL);
    expect_bytes(&b, want, sizeof(want));
    buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device),
        cmocka_unit_test(test_scope),
        cmocka_unit_test(test_pkg_length),
        cmocka_unit_test(test_package),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_numbers_and_strings),
        cmocka_unit_test(test_method),
        cmocka_unit_test(test_if_notify),
        cmocka_unit_test(test_qword_memory),
        cmocka_unit_test(test_address_spaces),
        cmocka_unit_test(test_buffer),
        cmocka_unit_test(test_acquire_store_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
