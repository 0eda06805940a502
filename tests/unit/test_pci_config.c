/*
 * test_pci_config.c: a PCI function's configuration space
 * (devices/pci/config.h): the type-0 header, read-only bits, 64-bit BAR
 * sizing, the capability list, and hostile accesses (misaligned, crossing a
 * dword, odd lengths, past the space, writes to read-only registers).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "devices/pci/config.h"
#include "pci_bytes.h"

static const struct pci_ids ids = {
    .vendor_id = 0x1af4,
    .device_id = 0x1044,
    .revision = 1,
    .class_code = 0xff,
    .subclass = 0x00,
    .subsys_vendor_id = 0x1af4,
    .subsys_id = 0x40,
};

static uint32_t rd(const struct pci_config *c, uint32_t byte, uint32_t len)
{
    uint8_t b[4] = {0};

    pci_config_read(c, byte / 4, byte % 4, b, len);
    return pci_bytes_get(b, len);
}

static bool wr(struct pci_config *c, uint32_t byte, uint32_t len, uint32_t v)
{
    uint8_t b[4];

    pci_bytes_put(b, v);
    return pci_config_write(c, byte / 4, byte % 4, b, len);
}

static void test_header(void **state)
{
    struct pci_config c;

    (void)state;
    pci_config_init(&c, &ids);
    assert_int_equal(rd(&c, 0x00, 2), 0x1af4);
    assert_int_equal(rd(&c, 0x02, 2), 0x1044);
    assert_int_equal(rd(&c, 0x00, 4), 0x10441af4);
    assert_int_equal(rd(&c, 0x08, 1), 1);          /* revision */
    assert_int_equal(rd(&c, 0x0b, 1), 0xff);       /* class */
    assert_int_equal(rd(&c, 0x0e, 1), 0);          /* header type 0 */
    assert_int_equal(rd(&c, 0x2c, 4), 0x00401af4); /* subsystem */
    assert_int_equal(rd(&c, 0x06, 2), 0);          /* no capabilities */
    assert_int_equal(rd(&c, 0x34, 1), 0);
    assert_int_equal(rd(&c, 0xffc, 4), 0); /* extended space */
}

static void test_read_only_bits(void **state)
{
    struct pci_config c, before;

    (void)state;
    pci_config_init(&c, &ids);
    before = c;
    /* IDs, class, subsystem, capability pointer: read-only. */
    assert_true(wr(&c, 0x00, 4, 0xdeadbeef));
    assert_true(wr(&c, 0x08, 4, 0xffffffff));
    assert_true(wr(&c, 0x2c, 4, 0));
    assert_true(wr(&c, 0x34, 1, 0x80));
    assert_true(wr(&c, 0x0e, 1, 0x80)); /* header type: no multi-function */
    assert_true(wr(&c, 0x30, 4, 0xffffffff)); /* ROM BAR reads 0 */
    assert_memory_equal(c.regs, before.regs, sizeof(c.regs));
    assert_int_equal(rd(&c, 0x30, 4), 0);
    /* Command, cache line size and interrupt line are the guest's; Status
     * is not. */
    assert_true(wr(&c, 0x04, 4, 0xffff0006));
    assert_int_equal(rd(&c, 0x04, 2), 0x0006);
    assert_int_equal(rd(&c, 0x06, 2), 0);
    assert_true(wr(&c, 0x0c, 4, 0xffffff10));
    assert_int_equal(rd(&c, 0x0c, 4), 0x10);
    assert_true(wr(&c, 0x3c, 1, 0x0b));
    assert_int_equal(rd(&c, 0x3c, 4), 0x0b);
}

static void test_hostile_accesses(void **state)
{
    struct pci_config c, before;
    uint8_t b[8];

    (void)state;
    pci_config_init(&c, &ids);
    assert_true(wr(&c, 0x04, 2, 0x0002));
    before = c;
    /* Writes: misaligned, crossing a dword, length 3 or 8, past the space:
     * dropped whole. */
    assert_false(wr(&c, 0x05, 2, 0xffff));
    assert_false(wr(&c, 0x06, 4, 0xffffffff));
    assert_false(wr(&c, 0x04, 3, 0xffffff));
    assert_false(wr(&c, 0x07, 2, 0xffff));
    memset(b, 0xff, sizeof(b));
    assert_false(pci_config_write(&c, 1, 0, b, 8));
    assert_false(pci_config_write(&c, 1, 4, b, 1));
    assert_false(pci_config_write(&c, PCI_CONFIG_REGS, 0, b, 4));
    assert_false(pci_config_write(&c, UINT32_MAX, 0, b, 4));
    assert_false(pci_config_write(&c, 1, 0, b, 0));
    assert_memory_equal(&c, &before, sizeof(c));
    /* Reads: inside a dword at any offset are fine; anything else is all
     * ones. */
    assert_int_equal(rd(&c, 0x01, 2), 0x441a);
    assert_int_equal(rd(&c, 0x03, 2), 0xffff);
    assert_int_equal(rd(&c, 0x02, 4), 0xffffffff);
    assert_int_equal(rd(&c, 0x00, 3), 0xffffff);
    memset(b, 0, sizeof(b));
    pci_config_read(&c, 0, 0, b, 8);
    for (int i = 0; i < 8; i++)
        assert_int_equal(b[i], 0xff);
    assert_int_equal(pci_config_read_reg(&c, PCI_CONFIG_REGS), 0xffffffff);
    assert_int_equal(pci_config_read_reg(&c, UINT32_MAX), 0xffffffff);
    assert_int_equal(pci_config_raw(&c, PCI_CONFIG_REGS), 0xffffffff);
}

static void test_bar64_sizing(void **state)
{
    struct pci_config c;
    const uint64_t addr = 0x4000000000ull, size = 0x80000;

    (void)state;
    pci_config_init(&c, &ids);
    assert_int_equal(pci_config_set_bar64(&c, 0, addr, size, false), 0);
    assert_int_equal(rd(&c, 0x10, 4), 0x4); /* 64-bit memory, low half 0 */
    assert_int_equal(rd(&c, 0x14, 4), 0x40);
    /* Linux's sizing: all ones, read, restore; per half. */
    assert_true(wr(&c, 0x10, 4, 0xffffffff));
    assert_int_equal(rd(&c, 0x10, 4), 0xfff80004);
    assert_int_equal(rd(&c, 0x10, 4), 0xfff80004); /* until written */
    assert_int_equal(rd(&c, 0x14, 4), 0x40);
    assert_true(wr(&c, 0x10, 4, 0x4));
    assert_int_equal(rd(&c, 0x10, 4), 0x4);
    assert_true(wr(&c, 0x14, 4, 0xffffffff));
    assert_int_equal(rd(&c, 0x14, 4), 0xffffffff);
    assert_true(wr(&c, 0x14, 4, 0x40));
    assert_int_equal(rd(&c, 0x14, 4), 0x40);
    /* No relocation: another address is ignored, a partial all-ones write
     * does not size. */
    assert_true(wr(&c, 0x10, 4, 0x10000004));
    assert_true(wr(&c, 0x14, 4, 0x1));
    assert_int_equal(rd(&c, 0x10, 4), 0x4);
    assert_int_equal(rd(&c, 0x14, 4), 0x40);
    assert_true(wr(&c, 0x10, 2, 0xffff));
    assert_int_equal(rd(&c, 0x10, 4), 0x4);
    /* Unused BARs read 0, also when sized. */
    assert_true(wr(&c, 0x18, 4, 0xffffffff));
    assert_int_equal(rd(&c, 0x18, 4), 0);
    assert_true(wr(&c, 0x24, 4, 0xffffffff));
    assert_int_equal(rd(&c, 0x24, 4), 0);
}

static void test_bar64_prefetch_and_big(void **state)
{
    struct pci_config c;

    (void)state;
    pci_config_init(&c, &ids);
    assert_int_equal(
        pci_config_set_bar64(&c, 2, 0x800000000ull, 0x200000000ull, true), 0);
    assert_int_equal(rd(&c, 0x18, 4), 0xc);
    assert_true(wr(&c, 0x18, 4, 0xffffffff));
    assert_true(wr(&c, 0x1c, 4, 0xffffffff));
    assert_int_equal(rd(&c, 0x18, 4), 0xc);
    assert_int_equal(rd(&c, 0x1c, 4), 0xfffffffe);
}

static void test_bar64_refused(void **state)
{
    struct pci_config c;

    (void)state;
    pci_config_init(&c, &ids);
    assert_int_equal(pci_config_set_bar64(&c, 5, 0x1000, 0x1000, false),
                     -EINVAL);
    assert_int_equal(pci_config_set_bar64(&c, 0, 0x1000, 0x1800, false),
                     -EINVAL);
    assert_int_equal(pci_config_set_bar64(&c, 0, 0x1000, 8, false), -EINVAL);
    assert_int_equal(pci_config_set_bar64(&c, 0, 0x1000, 0, false), -EINVAL);
    assert_int_equal(pci_config_set_bar64(&c, 0, 0x800, 0x1000, false),
                     -EINVAL);
    assert_int_equal(
        pci_config_set_bar64(&c, 0, 0xfffffffffffff000ull, 0x2000, false),
        -EINVAL);
    assert_int_equal(pci_config_set_bar64(&c, 1, 0x1000, 0x1000, false), 0);
    assert_int_equal(pci_config_set_bar64(&c, 0, 0x1000, 0x1000, false),
                     -EINVAL);
    assert_int_equal(pci_config_set_bar64(&c, 2, 0x1000, 0x1000, false),
                     -EINVAL);
}

static void test_capabilities(void **state)
{
    struct pci_config c, before;
    const uint8_t body1[2] = {0xaa, 0xbb};
    const uint8_t body2[10] = {0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8};
    const uint8_t wmask2[10] = {0xff, 0xc0};
    int off1, off2;

    (void)state;
    pci_config_init(&c, &ids);
    off1 = pci_config_add_cap(&c, PCI_CAP_ID_VENDOR, body1, 2, NULL);
    off2 = pci_config_add_cap(&c, PCI_CAP_ID_MSIX, body2, 10, wmask2);
    assert_int_equal(off1, 0x40);
    assert_int_equal(off2, 0x44);
    assert_int_equal(rd(&c, 0x06, 2), PCI_STATUS_CAP_LIST);
    assert_int_equal(rd(&c, 0x34, 1), 0x40);
    assert_int_equal(rd(&c, 0x40, 4), 0xbbaa4409);
    assert_int_equal(rd(&c, 0x44, 4), 0x00000011);
    assert_int_equal(rd(&c, 0x48, 4), 0x04030201);
    /* Only the body's writable bits move; id and next never do. */
    before = c;
    assert_true(wr(&c, 0x40, 4, 0));
    assert_true(wr(&c, 0x44, 1, 0));
    assert_true(wr(&c, 0x45, 1, 0x80));
    assert_true(wr(&c, 0x48, 4, 0));
    assert_memory_equal(c.regs, before.regs, sizeof(c.regs));
    assert_true(wr(&c, 0x46, 2, 0xffff));
    assert_int_equal(rd(&c, 0x46, 2), 0xc0ff);
    /* The space below 0x100 runs out. */
    assert_int_equal(pci_config_add_cap(&c, PCI_CAP_ID_VENDOR, body2, 10, NULL),
                     0x50);
    for (int i = 0; i < 16; i++)
        (void)pci_config_add_cap(&c, PCI_CAP_ID_VENDOR, body2, 10, NULL);
    assert_int_equal(pci_config_add_cap(&c, PCI_CAP_ID_VENDOR, body2, 10, NULL),
                     -ENOSPC);
    assert_int_equal(
        pci_config_add_cap(&c, PCI_CAP_ID_VENDOR, body2, 300, NULL), -ENOSPC);
    /* The list still ends below 0x100 with next = 0. */
    {
        uint32_t p = rd(&c, 0x34, 1), n = 0;

        while (p) {
            assert_true(p >= 0x40 && p < 0x100 && p % 4 == 0);
            p = rd(&c, p + 1, 1);
            assert_true(++n < 64);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_read_only_bits),
        cmocka_unit_test(test_hostile_accesses),
        cmocka_unit_test(test_bar64_sizing),
        cmocka_unit_test(test_bar64_prefetch_and_big),
        cmocka_unit_test(test_bar64_refused),
        cmocka_unit_test(test_capabilities),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
