/*
 * test_serial.c: the 16550A model through the PIO bus (registers,
 * interrupts, loopback), output (non-blocking, rate limited), and input
 * from a FIFO and a TTY through an event loop.
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
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/legacy/serial.h"
#include "metrics_spy.h"
#include "obs/log.h"
#include "util/evloop.h"

struct sfx {
    struct serial *s;
    struct bus bus;
    int r, w; /* output pipe */
};

static void sfx_open(struct sfx *f, const struct serial_rate_limit *rl)
{
    int p[2];

    spy_reset();
    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    f->r = p[0];
    f->w = p[1];
    assert_int_equal(serial_new(f->w, rl, &f->s), 0);
    bus_init(&f->bus);
    assert_int_equal(bus_add(&f->bus, SERIAL_PORT_BASE, SERIAL_PORT_LEN,
                             serial_bus_dev(f->s)),
                     0);
}

static void sfx_close(struct sfx *f)
{
    bus_fini(&f->bus);
    serial_free(f->s);
    close(f->r);
    close(f->w);
}

static void out8(struct sfx *f, unsigned off, uint8_t v)
{
    assert_int_equal(bus_write(&f->bus, SERIAL_PORT_BASE + off, &v, 1), 0);
}

static uint8_t in8(struct sfx *f, unsigned off)
{
    uint8_t v = 0;

    assert_int_equal(bus_read(&f->bus, SERIAL_PORT_BASE + off, &v, 1), 0);
    return v;
}

static uint64_t irqs(struct sfx *f)
{
    return evloop_eventfd_drain(serial_irq_fd(f->s));
}

static ssize_t drain(struct sfx *f, char *buf, size_t len)
{
    ssize_t n = read(f->r, buf, len);

    return n < 0 ? 0 : n;
}

static void test_reset_values(void **state)
{
    struct sfx f;

    (void)state;
    sfx_open(&f, NULL);
    assert_int_equal(in8(&f, 2), 0xc1); /* IIR: no interrupt, FIFO bits */
    assert_int_equal(in8(&f, 3), 0x03); /* LCR 8N1 */
    assert_int_equal(in8(&f, 4), 0x08); /* MCR OUT2 */
    assert_int_equal(in8(&f, 5), 0x60); /* LSR THRE|TEMT */
    assert_int_equal(in8(&f, 6), 0xb0); /* MSR DCD|DSR|CTS */
    assert_int_equal(in8(&f, 1), 0x00); /* IER */
    out8(&f, 3, 0x83);                  /* DLAB */
    assert_int_equal(in8(&f, 0), 12);   /* divisor 12: 9600 baud */
    assert_int_equal(in8(&f, 1), 0);
    out8(&f, 0, 1);
    out8(&f, 1, 0);
    assert_int_equal(in8(&f, 0), 1);
    out8(&f, 3, 0x03);
    out8(&f, 7, 0x5a);
    assert_int_equal(in8(&f, 7), 0x5a); /* scratch */
    out8(&f, 1, 0xff);
    assert_int_equal(in8(&f, 1), 0x0f); /* IER keeps the low 4 bits */
    sfx_close(&f);
}

static void test_output_and_thr_interrupt(void **state)
{
    struct sfx f;
    char buf[16] = {0};

    (void)state;
    sfx_open(&f, NULL);
    out8(&f, 0, 'o');
    out8(&f, 0, 'k');
    assert_int_equal(drain(&f, buf, sizeof(buf)), 2);
    assert_string_equal(buf, "ok");
    assert_int_equal(spy_get(METRIC_uart_write_count), 2);
    assert_int_equal(irqs(&f), 0); /* THR interrupt not enabled */

    out8(&f, 1, 0x02); /* IER: THR empty */
    out8(&f, 0, '!');
    out8(&f, 0, '?'); /* cause still pending: no second interrupt */
    assert_int_equal(irqs(&f), 1);
    assert_int_equal(in8(&f, 2), 0xc2); /* THR empty pending */
    assert_int_equal(in8(&f, 2), 0xc1); /* cleared by the read */
    out8(&f, 0, '.');
    assert_int_equal(irqs(&f), 1); /* acknowledged, so raised again */
    sfx_close(&f);
}

static void test_loopback(void **state)
{
    struct sfx f;
    char buf[4];

    (void)state;
    sfx_open(&f, NULL);
    out8(&f, 4, 0x10 | 0x02 | 0x01);           /* LOOP, RTS, DTR */
    assert_int_equal(in8(&f, 6) & 0xf0, 0x30); /* CTS|DSR follow RTS|DTR */
    out8(&f, 0, 'x');
    assert_int_equal(drain(&f, buf, sizeof(buf)), 0); /* nothing leaves */
    assert_true(in8(&f, 5) & 0x01);                   /* data ready */
    assert_int_equal(in8(&f, 0), 'x');
    assert_false(in8(&f, 5) & 0x01);
    sfx_close(&f);
}

static void test_input_fifo(void **state)
{
    struct sfx f;
    uint8_t big[SERIAL_FIFO_SIZE + 1];

    (void)state;
    memset(big, 'z', sizeof(big));
    sfx_open(&f, NULL);
    out8(&f, 1, 0x01); /* IER: received data */
    assert_int_equal(serial_enqueue(f.s, (const uint8_t *)"ab", 2), 0);
    assert_int_equal(irqs(&f), 1);
    assert_int_equal(in8(&f, 2), 0xc4); /* RDA */
    assert_true(in8(&f, 5) & 0x01);
    assert_int_equal(in8(&f, 0), 'a');
    assert_int_equal(in8(&f, 0), 'b');
    assert_false(in8(&f, 5) & 0x01);
    assert_int_equal(in8(&f, 0), 0); /* empty reads 0 */
    assert_int_equal(spy_get(METRIC_uart_read_count), 3);

    assert_int_equal(serial_enqueue(f.s, big, sizeof(big)), -ENOBUFS);
    assert_false(in8(&f, 5) & 0x01); /* nothing queued */
    assert_int_equal(serial_enqueue(f.s, big, SERIAL_FIFO_SIZE), 0);
    assert_int_equal(serial_enqueue(f.s, big, 1), -ENOBUFS);
    out8(&f, 2, 0x02); /* FCR: flush the receive FIFO */
    assert_false(in8(&f, 5) & 0x01);
    assert_int_equal(serial_enqueue(f.s, big, SERIAL_FIFO_SIZE), 0);
    sfx_close(&f);
}

/* The guest-visible state survives save/restore into a fresh UART, the
 * receive FIFO in order even when it wrapped around its ring. */
static void test_save_restore(void **state)
{
    struct serial_state st;
    struct sfx a, b;
    uint8_t fill[SERIAL_FIFO_SIZE - 4];

    (void)state;
    memset(fill, 'x', sizeof(fill));
    sfx_open(&a, NULL);
    sfx_open(&b, NULL);
    out8(&a, 3, 0x83); /* LCR: DLAB, 8N1 */
    out8(&a, 0, 0x0c); /* DLL */
    out8(&a, 1, 0x00); /* DLM */
    out8(&a, 3, 0x03);
    out8(&a, 1, 0x01); /* IER: received data */
    out8(&a, 7, 0x5a); /* SCR */
    assert_int_equal(serial_enqueue(a.s, fill, sizeof(fill)), 0);
    for (size_t i = 0; i < sizeof(fill); i++)
        (void)in8(&a, 0); /* move the ring's head near its end */
    assert_int_equal(serial_enqueue(a.s, (const uint8_t *)"wrapped!", 8), 0);
    serial_save(a.s, &st);
    assert_int_equal(st.n_fifo, 8);
    assert_memory_equal(st.fifo, "wrapped!", 8);
    serial_restore(b.s, &st);
    assert_int_equal(in8(&b, 7), 0x5a);
    assert_int_equal(in8(&b, 3), 0x03);
    assert_int_equal(in8(&b, 1), 0x01);
    out8(&b, 3, 0x83);
    assert_int_equal(in8(&b, 0), 0x0c); /* the divisor came along */
    out8(&b, 3, 0x03);
    for (int i = 0; i < 8; i++)
        assert_int_equal(in8(&b, 0), "wrapped!"[i]);
    assert_false(in8(&b, 5) & 0x01);
    sfx_close(&a);
    sfx_close(&b);
}

static void test_rate_limiter_drops(void **state)
{
    struct sfx f;
    struct serial_rate_limit rl = {
        .size = 10, .one_time_burst = 3, .refill_time_ms = 1000000};
    char buf[64];

    (void)state;
    sfx_open(&f, &rl);
    for (int i = 0; i < 20; i++)
        out8(&f, 0, (uint8_t)('a' + i));
    /* 3 from the one-time burst, 10 from the full bucket, 7 dropped. */
    assert_int_equal(drain(&f, buf, sizeof(buf)), 13);
    assert_int_equal(spy_get(METRIC_uart_rate_limiter_dropped_bytes), 7);
    /* Upstream counts dropped bytes as written too (its writer "succeeds"). */
    assert_int_equal(spy_get(METRIC_uart_write_count), 20);
    sfx_close(&f);

    /* size 0 disables the limiter. */
    rl.size = 0;
    sfx_open(&f, &rl);
    for (int i = 0; i < 20; i++)
        out8(&f, 0, 'x');
    assert_int_equal(drain(&f, buf, sizeof(buf)), 20);
    assert_int_equal(spy_get(METRIC_uart_rate_limiter_dropped_bytes), 0);
    sfx_close(&f);
}

static uint64_t fake_now;

static uint64_t fake_clock(void *opaque)
{
    (void)opaque;
    return fake_now;
}

/*
 * The output bucket keeps the fractions of a token between refills, as
 * upstream's TokenBucket::auto_replenish does: its last update advances
 * only by the time the granted tokens cost, not to "now". A 1 KiB/s bucket
 * (size 1024, refill 1000 ms) offered one byte every 0.7 ms for 20 s: the
 * offers outrun the refill, so the bucket never fills up again and, by
 * upstream's rule, the bytes passed by time t are the initial 1024 plus
 * floor(t * size / refill_time). (Its rounding of each grant's cost up to
 * the ns loses under 0.02 tokens over these 20 s.) The serial port's old
 * private bucket set its last update to "now" and passed 16,080.
 */
static void test_rate_limiter_keeps_fractions(void **state)
{
    const uint64_t size = 1024, refill_ns = 1000 * 1000000ULL;
    const uint64_t step_ns = 700000, total_ns = 20 * 1000000000ULL;
    struct serial_rate_limit rl = {.size = size, .refill_time_ms = 1000};
    uint64_t offered = 0, passed = 0, t = 0, expected;
    struct sfx f;
    char buf[4096];

    (void)state;
    sfx_open(&f, &rl);
    fake_now = 5000 * 1000000000ULL;
    serial_set_clock(f.s, fake_clock, NULL);
    while (t + step_ns <= total_ns) {
        t += step_ns;
        fake_now += step_ns;
        out8(&f, 0, 'x');
        offered++;
        if (offered % 1024 == 0)
            passed += (uint64_t)drain(&f, buf, sizeof(buf));
    }
    passed += (uint64_t)drain(&f, buf, sizeof(buf));
    expected = size + t * size / refill_ns;
    assert_int_equal(offered, 28571);
    assert_int_equal(expected, 21503);
    assert_int_equal(passed, expected);
    assert_int_equal(spy_get(METRIC_uart_rate_limiter_dropped_bytes),
                     offered - passed);
    sfx_close(&f);
}

static void test_full_output_never_blocks(void **state)
{
    struct sfx f;
    char chunk[4096];

    (void)state;
    memset(chunk, 'f', sizeof(chunk));
    sfx_open(&f, NULL);
    while (write(f.w, chunk, sizeof(chunk)) > 0)
        ;
    assert_int_equal(errno, EAGAIN);
    out8(&f, 0, 'x'); /* would block a blocking writer */
    out8(&f, 0, 'y');
    assert_int_equal(spy_get(METRIC_uart_missed_write_count), 2);
    assert_int_equal(spy_get(METRIC_uart_write_count), 0);
    sfx_close(&f);
}

static void test_bad_access_sizes(void **state)
{
    struct sfx f;
    uint8_t two[2] = {1, 2};

    (void)state;
    sfx_open(&f, NULL);
    assert_int_equal(bus_write(&f.bus, SERIAL_PORT_BASE, two, 2), 0);
    assert_int_equal(bus_read(&f.bus, SERIAL_PORT_BASE, two, 2), 0);
    assert_int_equal(spy_get(METRIC_uart_missed_write_count), 1);
    assert_int_equal(spy_get(METRIC_uart_missed_read_count), 1);
    sfx_close(&f);
}

static void run_loop(struct evloop *loop, int rounds)
{
    for (int i = 0; i < rounds; i++)
        evloop_run_once(loop, 20);
}

static void test_fifo_input_through_loop(void **state)
{
    struct sfx f;
    struct evloop *loop = evloop_new();
    char dir[] = "/tmp/squib-serial-XXXXXX";
    char path[64];
    uint8_t data[100];
    int fd;

    (void)state;
    assert_non_null(loop);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/in", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    fd = open(path, O_RDWR | O_CLOEXEC); /* RDWR: no EOF, no blocking open */
    assert_true(fd >= 0);

    sfx_open(&f, NULL);
    assert_int_equal(serial_attach_input(f.s, loop, fd), 0);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)i;
    assert_int_equal(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
    run_loop(loop, 5);
    /* Only a FIFO's worth went in; the rest waits in the host pipe. */
    for (int i = 0; i < SERIAL_FIFO_SIZE; i++)
        assert_int_equal(in8(&f, 0), i);
    assert_false(in8(&f, 5) & 0x01);
    /* Draining signalled the loop, which reads the rest. */
    run_loop(loop, 5);
    for (int i = SERIAL_FIFO_SIZE; i < 100; i++)
        assert_int_equal(in8(&f, 0), i);
    assert_false(in8(&f, 5) & 0x01);

    serial_detach_input(f.s);
    assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK); /* flags restored */
    sfx_close(&f);
    close(fd);
    unlink(path);
    rmdir(dir);
    evloop_free(loop);
}

static void test_regular_file_input_ignored(void **state)
{
    struct sfx f;
    struct evloop *loop = evloop_new();
    char path[] = "/tmp/squib-serial-file-XXXXXX";
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    sfx_open(&f, NULL);
    assert_int_equal(serial_attach_input(f.s, loop, fd), 0);
    assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK); /* untouched */
    sfx_close(&f);
    close(fd);
    unlink(path);
    evloop_free(loop);
}

static void test_tty_raw_mode_restored(void **state)
{
    struct sfx f;
    struct evloop *loop = evloop_new();
    struct termios t;
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    int slave;
    char byte = 0;

    (void)state;
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
        printf("SKIP: no pseudo-terminals here\n");
        skip();
    }
    slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    assert_true(slave >= 0);
    assert_int_equal(tcgetattr(slave, &t), 0);
    assert_true(t.c_lflag & ICANON);

    sfx_open(&f, NULL);
    assert_int_equal(serial_attach_input(f.s, loop, slave), 0);
    assert_int_equal(tcgetattr(slave, &t), 0);
    assert_false(t.c_lflag & (ICANON | ECHO | ISIG));
    /* Raw: one key goes through without a newline. */
    assert_int_equal(write(master, "k", 1), 1);
    run_loop(loop, 5);
    byte = (char)in8(&f, 0);
    assert_int_equal(byte, 'k');

    sfx_close(&f); /* detaches and restores */
    assert_int_equal(tcgetattr(slave, &t), 0);
    assert_true(t.c_lflag & ICANON);
    assert_true(t.c_lflag & ECHO);
    close(slave);
    close(master);
    evloop_free(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_values),
        cmocka_unit_test(test_output_and_thr_interrupt),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_input_fifo),
        cmocka_unit_test(test_save_restore),
        cmocka_unit_test(test_rate_limiter_drops),
        cmocka_unit_test(test_rate_limiter_keeps_fractions),
        cmocka_unit_test(test_full_output_never_blocks),
        cmocka_unit_test(test_bad_access_sizes),
        cmocka_unit_test(test_fifo_input_through_loop),
        cmocka_unit_test(test_regular_file_input_ignored),
        cmocka_unit_test(test_tty_raw_mode_restored),
    };

    log_init();
    log_set_level(LOG_OFF);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
