/*
 * test_bus.c: bus range table (ordering, overlap, bounds) and dispatch with
 * offsets relative to the device's base.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/bus.h"

struct rec {
    struct bus_dev dev;
    uint64_t last_off;
    uint32_t last_len;
    uint8_t last_data[8];
    int reads, writes;
};

static void rec_read(struct bus_dev *d, uint64_t off, uint8_t *data,
                     uint32_t len)
{
    struct rec *r = d->opaque;

    r->reads++;
    r->last_off = off;
    r->last_len = len;
    for (uint32_t i = 0; i < len; i++)
        data[i] = (uint8_t)(off + i);
}

static void rec_write(struct bus_dev *d, uint64_t off, const uint8_t *data,
                      uint32_t len)
{
    struct rec *r = d->opaque;

    r->writes++;
    r->last_off = off;
    r->last_len = len;
    memcpy(r->last_data, data, len);
}

static void test_add_and_overlap(void **state)
{
    struct bus b;
    struct rec a, c;

    (void)state;
    bus_init(&b);
    bus_dev_init(&a.dev, "a", rec_read, rec_write, &a);
    bus_dev_init(&c.dev, "c", rec_read, rec_write, &c);
    assert_int_equal(bus_add(&b, 0x3f8, 8, &a.dev), 0);
    assert_int_equal(bus_add(&b, 0x60, 5, &c.dev), 0);
    assert_int_equal(b.n_ranges, 2);
    assert_int_equal(b.ranges[0].base, 0x60); /* kept sorted */
    assert_int_equal(bus_add(&b, 0x3ff, 1, &c.dev), -EEXIST);
    assert_int_equal(bus_add(&b, 0x3f0, 9, &c.dev), -EEXIST);
    assert_int_equal(bus_add(&b, 0x3f0, 8, &c.dev), 0); /* adjacent is fine */
    assert_int_equal(bus_add(&b, 0x400, 0, &c.dev), -EINVAL);
    assert_int_equal(bus_add(&b, UINT64_MAX, 2, &c.dev), -EINVAL);
    assert_int_equal(bus_add(&b, UINT64_MAX, 1, &c.dev), 0);
    bus_fini(&b);
    bus_dev_fini(&a.dev);
    bus_dev_fini(&c.dev);
}

static void test_dispatch(void **state)
{
    struct bus b;
    struct rec a;
    uint8_t data[8] = {0};
    const uint8_t w[4] = {1, 2, 3, 4};

    (void)state;
    memset(&a, 0, sizeof(a));
    bus_init(&b);
    bus_dev_init(&a.dev, "a", rec_read, rec_write, &a);
    assert_int_equal(bus_add(&b, 0xc0001000, 0x1000, &a.dev), 0);

    assert_int_equal(bus_read(&b, 0xc0001070, data, 4), 0);
    assert_int_equal(a.last_off, 0x70);
    assert_int_equal(a.last_len, 4);
    assert_int_equal(data[0], 0x70);
    assert_int_equal(data[3], 0x73);

    assert_int_equal(bus_write(&b, 0xc0001ffc, w, 4), 0);
    assert_int_equal(a.last_off, 0xffc);
    assert_memory_equal(a.last_data, w, 4);

    /* Outside, straddling the end, or before the start: nobody. */
    assert_int_equal(bus_write(&b, 0xc0001ffe, w, 4), -ENOENT);
    assert_int_equal(bus_read(&b, 0xc0000fff, data, 2), -ENOENT);
    assert_int_equal(bus_read(&b, 0xc0002000, data, 1), -ENOENT);
    assert_int_equal(bus_read(&b, UINT64_MAX, data, 2), -ENOENT);
    assert_int_equal(bus_read(&b, 0xc0001000, data, 0), -ENOENT);
    assert_int_equal(a.reads, 1);
    assert_int_equal(a.writes, 1);
    bus_fini(&b);
    bus_dev_fini(&a.dev);
}

/* Hot-unplug: a range goes only with its own base and device; lookups
 * around it are unchanged. */
static void test_remove(void **state)
{
    struct bus b;
    struct rec a, c;
    uint8_t data[4];

    (void)state;
    bus_init(&b);
    bus_dev_init(&a.dev, "a", rec_read, rec_write, &a);
    bus_dev_init(&c.dev, "c", rec_read, rec_write, &c);
    assert_int_equal(bus_add(&b, 0x1000, 0x100, &a.dev), 0);
    assert_int_equal(bus_add(&b, 0x2000, 0x100, &c.dev), 0);
    assert_int_equal(bus_remove(&b, 0x1000, &c.dev), -ENOENT);
    assert_int_equal(bus_remove(&b, 0x1010, &a.dev), -ENOENT);
    assert_int_equal(b.n_ranges, 2);
    assert_int_equal(bus_remove(&b, 0x1000, &a.dev), 0);
    assert_int_equal(b.n_ranges, 1);
    assert_int_equal(bus_read(&b, 0x1000, data, 4), -ENOENT);
    assert_int_equal(bus_read(&b, 0x2004, data, 4), 0);
    assert_int_equal(bus_remove(&b, 0x1000, &a.dev), -ENOENT);
    /* The range can come back, as a re-plugged device's BAR does. */
    assert_int_equal(bus_add(&b, 0x1000, 0x100, &a.dev), 0);
    assert_int_equal(bus_read(&b, 0x1004, data, 4), 0);
    assert_int_equal(a.last_off, 4);
    bus_fini(&b);
    bus_dev_fini(&a.dev);
    bus_dev_fini(&c.dev);
}

static void test_null_handlers(void **state)
{
    struct bus b;
    struct bus_dev d;
    uint8_t data[1] = {0x5a};

    (void)state;
    bus_init(&b);
    bus_dev_init(&d, "sink", NULL, NULL, NULL);
    assert_int_equal(bus_add(&b, 0x80, 1, &d), 0);
    assert_int_equal(bus_read(&b, 0x80, data, 1), 0);
    assert_int_equal(data[0], 0x5a); /* left for the caller to have zeroed */
    assert_int_equal(bus_write(&b, 0x80, data, 1), 0);
    bus_fini(&b);
    bus_dev_fini(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_and_overlap),
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_null_handlers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
