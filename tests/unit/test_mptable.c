/*
 * test_mptable.c: the MP table parsed back as Linux's mpparse would.
 *
 * Finds the floating pointer, checks both checksums, then walks every
 * entry of the configuration table by type, for several vCPU counts.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/mptable.h"

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;

    while (n--)
        s = (uint8_t)(s + *p++);
    return s;
}

#define GPA 0x9fc00u

static void check_table(uint32_t n_cpus)
{
    size_t size = mptable_size(n_cpus);
    uint8_t *buf = calloc(1, size + 64);
    const uint8_t *mpc, *e;
    uint16_t len, count;
    uint32_t n_cpu_seen = 0, n_irq = 0, n_lint = 0, n_bus = 0, n_ioapic = 0;
    struct sq_err err;
    size_t off;

    assert_non_null(buf);
    memset(buf + size, 0x5a, 64);
    assert_int_equal(mptable_write(buf, size, GPA, n_cpus, &err), 0);
    /* Nothing past the table. */
    for (size_t i = size; i < size + 64; i++)
        assert_int_equal(buf[i], 0x5a);

    /* Floating pointer. */
    assert_memory_equal(buf, "_MP_", 4);
    assert_int_equal(rd32(buf + 4), GPA + 16);
    assert_int_equal(buf[8], 1);
    assert_int_equal(buf[9], 4);
    assert_int_equal(sum(buf, 16), 0);

    /* Configuration table header. */
    mpc = buf + 16;
    assert_memory_equal(mpc, "PCMP", 4);
    len = rd16(mpc + 4);
    assert_int_equal(len + 16, size);
    assert_int_equal(mpc[6], 4);
    assert_int_equal(sum(mpc, len), 0);
    assert_memory_equal(mpc + 8, "FC      ", 8);
    assert_memory_equal(mpc + 16, "000000000000", 12);
    assert_int_equal(rd32(mpc + 28), 0);
    count = rd16(mpc + 34);
    /* Firecracker counts the floating pointer too. */
    assert_int_equal(count, 1 + n_cpus + 1 + 1 + 24 + 2);
    assert_int_equal(rd32(mpc + 36), 0xfee00000u);

    off = 44;
    for (uint16_t i = 0; i + 1 < count; i++) {
        e = mpc + off;
        assert_true(off < len);
        switch (e[0]) {
        case 0: /* processor */
            assert_int_equal(e[1], n_cpu_seen);
            assert_int_equal(e[2], 0x14);
            assert_int_equal(e[3], 1 | (n_cpu_seen == 0 ? 2 : 0));
            assert_int_equal(rd32(e + 4), 0x600);
            assert_int_equal(rd32(e + 8), 0x201);
            n_cpu_seen++;
            off += 20;
            break;
        case 1: /* bus */
            assert_int_equal(e[1], 0);
            assert_memory_equal(e + 2, "ISA   ", 6);
            n_bus++;
            off += 8;
            break;
        case 2: /* ioapic */
            assert_int_equal(e[1], n_cpus + 1);
            assert_int_equal(e[2], 0x14);
            assert_int_equal(e[3], 1);
            assert_int_equal(rd32(e + 4), 0xfec00000u);
            n_ioapic++;
            off += 8;
            break;
        case 3: /* I/O interrupt */
            assert_int_equal(e[1], 0);
            assert_int_equal(rd16(e + 2), 0);
            assert_int_equal(e[4], 0);
            assert_int_equal(e[5], n_irq);
            assert_int_equal(e[6], n_cpus + 1);
            assert_int_equal(e[7], n_irq);
            n_irq++;
            off += 8;
            break;
        case 4: /* local interrupt */
            if (n_lint == 0) {
                assert_int_equal(e[1], 3); /* ExtINT */
                assert_int_equal(e[6], 0);
                assert_int_equal(e[7], 0);
            } else {
                assert_int_equal(e[1], 1); /* NMI */
                assert_int_equal(e[6], 0xff);
                assert_int_equal(e[7], 1);
            }
            n_lint++;
            off += 8;
            break;
        default:
            fail_msg("unknown entry type %u", e[0]);
        }
    }
    assert_int_equal(off, len);
    assert_int_equal(n_cpu_seen, n_cpus);
    assert_int_equal(n_bus, 1);
    assert_int_equal(n_ioapic, 1);
    assert_int_equal(n_irq, 24);
    assert_int_equal(n_lint, 2);
    free(buf);
}

static void test_counts(void **state)
{
    (void)state;
    check_table(1);
    check_table(2);
    check_table(32);
    check_table(MPTABLE_MAX_CPUS);
}

static void test_errors(void **state)
{
    uint8_t buf[4096];
    struct sq_err err;

    (void)state;
    memset(buf, 0x33, sizeof(buf));
    assert_int_equal(mptable_write(buf, sizeof(buf), GPA, 0, &err), -EINVAL);
    assert_int_equal(mptable_write(buf, sizeof(buf), GPA, 255, &err), -EINVAL);
    assert_string_equal(err.msg,
                        "Number of CPUs exceeds the maximum supported CPUs");
    assert_int_equal(mptable_write(buf, mptable_size(2) - 1, GPA, 2, &err),
                     -ENOSPC);
    assert_string_equal(err.msg, "There was too little guest memory to "
                                 "store the entire MP table.");
    assert_int_equal(mptable_write(buf, sizeof(buf), 0xffffff00u, 2, &err),
                     -EINVAL);
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], 0x33);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
