/*
 * test_i8042.c: the i8042 model through the PIO bus: Ctrl-Alt-Del scan
 * codes and interrupts, the control register and output port commands,
 * keyboard acks, CPU reset, and metrics.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "devices/legacy/i8042.h"
#include "metrics_spy.h"
#include "obs/log.h"
#include "util/evloop.h"

struct ifx {
    struct i8042 *d;
    struct bus bus;
    int resets;
};

static void on_reset(void *opaque)
{
    ((struct ifx *)opaque)->resets++;
}

static void ifx_open(struct ifx *f)
{
    spy_reset();
    f->resets = 0;
    assert_int_equal(i8042_new(on_reset, f, &f->d), 0);
    bus_init(&f->bus);
    assert_int_equal(
        bus_add(&f->bus, I8042_PORT_BASE, I8042_PORT_LEN, i8042_bus_dev(f->d)),
        0);
}

static void ifx_close(struct ifx *f)
{
    bus_fini(&f->bus);
    i8042_free(f->d);
}

static void out8(struct ifx *f, unsigned port, uint8_t v)
{
    assert_int_equal(bus_write(&f->bus, port, &v, 1), 0);
}

static uint8_t in8(struct ifx *f, unsigned port)
{
    uint8_t v = 0xee;

    assert_int_equal(bus_read(&f->bus, port, &v, 1), 0);
    return v;
}

static uint64_t irqs(struct ifx *f)
{
    return evloop_eventfd_drain(i8042_irq_fd(f->d));
}

static void test_ctrl_alt_del_sequence(void **state)
{
    struct ifx f;
    static const uint8_t want[] = {0x14, 0x11, 0xe0, 0x71};

    (void)state;
    ifx_open(&f);
    assert_int_equal(in8(&f, 0x64), 0x10); /* keyboard enabled, no data */
    assert_int_equal(i8042_trigger_ctrl_alt_del(f.d), 0);
    assert_int_equal(irqs(&f), 3); /* one per key */
    for (size_t i = 0; i < sizeof(want); i++) {
        assert_true(in8(&f, 0x64) & 0x01);
        assert_int_equal(in8(&f, 0x60), want[i]);
    }
    assert_false(in8(&f, 0x64) & 0x01);
    assert_int_equal(in8(&f, 0x60), 0); /* empty buffer reads 0 */
    /* Reads re-raise the interrupt while bytes remain (3 of 4 reads). */
    assert_int_equal(irqs(&f), 3);
    ifx_close(&f);
}

static void test_buffer_full(void **state)
{
    struct ifx f;

    (void)state;
    ifx_open(&f);
    /* 16-byte buffer: four sequences fit, the fifth does not. */
    for (int i = 0; i < 4; i++)
        assert_int_equal(i8042_trigger_ctrl_alt_del(f.d), 0);
    assert_int_equal(i8042_trigger_ctrl_alt_del(f.d), -ENOSPC);
    ifx_close(&f);
}

/* Pending keys survive save/restore into a fresh controller, in order. */
static void test_save_restore(void **state)
{
    static const uint8_t want[] = {0x11, 0xe0, 0x71};
    struct i8042_state st;
    struct ifx a, b;

    (void)state;
    ifx_open(&a);
    ifx_open(&b);
    assert_int_equal(i8042_trigger_ctrl_alt_del(a.d), 0);
    assert_int_equal(in8(&a, 0x60), 0x14); /* one key consumed */
    i8042_save(a.d, &st);
    assert_int_equal(st.n_buf, 3);
    i8042_restore(b.d, &st);
    assert_int_equal(in8(&b, 0x64), in8(&a, 0x64));
    for (size_t i = 0; i < sizeof(want); i++)
        assert_int_equal(in8(&b, 0x60), want[i]);
    assert_false(in8(&b, 0x64) & 0x01);
    ifx_close(&a);
    ifx_close(&b);
}

static void test_interrupt_disabled_by_guest(void **state)
{
    struct ifx f;

    (void)state;
    ifx_open(&f);
    out8(&f, 0x64, 0x20); /* read control register */
    assert_int_equal(in8(&f, 0x60), 0x05);
    out8(&f, 0x64, 0x60); /* write control register ... */
    assert_true(in8(&f, 0x64) & 0x08);
    out8(&f, 0x60, 0x04); /* ... kbd interrupt off */
    assert_false(in8(&f, 0x64) & 0x08);
    out8(&f, 0x64, 0x20);
    assert_int_equal(in8(&f, 0x60), 0x04);
    irqs(&f);
    assert_int_equal(i8042_trigger_ctrl_alt_del(f.d), 0);
    assert_int_equal(irqs(&f), 0); /* queued, but no interrupt */
    assert_int_equal(in8(&f, 0x60), 0x14);
    ifx_close(&f);
}

static void test_output_port_and_kbd_ack(void **state)
{
    struct ifx f;

    (void)state;
    ifx_open(&f);
    out8(&f, 0x64, 0xd1);
    out8(&f, 0x60, 0xab);
    out8(&f, 0x64, 0xd0);
    assert_int_equal(in8(&f, 0x60), 0xab);
    irqs(&f);
    out8(&f, 0x60, 0xff); /* a command for the keyboard: acked */
    assert_int_equal(irqs(&f), 1);
    assert_int_equal(in8(&f, 0x60), 0xfa);
    ifx_close(&f);
}

static void test_reset_and_metrics(void **state)
{
    struct ifx f;
    uint8_t two[2] = {0};

    (void)state;
    ifx_open(&f);
    out8(&f, 0x64, 0xfe);
    assert_int_equal(f.resets, 1);
    assert_int_equal(spy_get(METRIC_i8042_reset_count), 1);
    assert_int_equal(spy_get(METRIC_i8042_write_count), 1);
    out8(&f, 0x64, 0x42); /* unknown command */
    assert_int_equal(spy_get(METRIC_i8042_missed_write_count), 1);
    (void)in8(&f, 0x61); /* no register there */
    assert_int_equal(spy_get(METRIC_i8042_missed_read_count), 1);
    assert_int_equal(bus_read(&f.bus, 0x60, two, 2), 0); /* byte-wide only */
    assert_int_equal(spy_get(METRIC_i8042_missed_read_count), 2);
    (void)in8(&f, 0x64);
    assert_int_equal(spy_get(METRIC_i8042_read_count), 1);
    ifx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctrl_alt_del_sequence),
        cmocka_unit_test(test_buffer_full),
        cmocka_unit_test(test_save_restore),
        cmocka_unit_test(test_interrupt_disabled_by_guest),
        cmocka_unit_test(test_output_port_and_kbd_ack),
        cmocka_unit_test(test_reset_and_metrics),
    };

    log_init();
    log_set_level(LOG_OFF);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
