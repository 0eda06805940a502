/*
 * i8042.c: i8042 controller model (see i8042.h). Behaviour follows upstream:
 * status starts "keyboard enabled", control "POST ok | kbd interrupt"; the
 * commands understood on 0x64 are read/write control register (0x20/0x60),
 * read/write output port (0xd0/0xd1) and CPU reset (0xfe); any byte written
 * straight to the keyboard (0x60 outside a two-step command) is acked with
 * 0xfa. Reads of 0x60 pop the 16-byte buffer (0 when empty) and re-raise the
 * interrupt while bytes remain.
 */
#include "devices/legacy/i8042.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "obs/log.h"
#include "obs/metrics.h"
#include "util/evloop.h"
#include "util/xalloc.h"

#define OFS_DATA   0
#define OFS_STATUS 4

#define CMD_READ_CTR   0x20
#define CMD_WRITE_CTR  0x60
#define CMD_READ_OUTP  0xd0
#define CMD_WRITE_OUTP 0xd1
#define CMD_RESET_CPU  0xfe

#define SB_OUT_DATA_AVAIL 0x01
#define SB_I8042_CMD_DATA 0x08
#define SB_KBD_ENABLED    0x10

#define CB_KBD_INT 0x01
#define CB_POST_OK 0x04

#define KEY_CTRL 0x0014
#define KEY_ALT  0x0011
#define KEY_DEL  0xe071

#define BUF_SIZE I8042_BUF_SIZE

struct i8042 {
    struct bus_dev bus; /* bus.lock protects the fields below */
    uint8_t status, control, outp, cmd;
    uint8_t buf[BUF_SIZE];
    unsigned head, tail; /* free-running; length = tail - head */
    int irq_fd;          /* owned eventfd (irqfd GSI 1) */
    i8042_reset_fn *reset;
    void *reset_opaque;
    struct log_ratelimit warn_rl;
};

static unsigned buf_len(const struct i8042 *d)
{
    return d->tail - d->head;
}

static int push_byte(struct i8042 *d, uint8_t b)
{
    d->status |= SB_OUT_DATA_AVAIL;
    if (buf_len(d) == BUF_SIZE)
        return -ENOSPC;
    d->buf[d->tail % BUF_SIZE] = b;
    d->tail++;
    return 0;
}

static bool pop_byte(struct i8042 *d, uint8_t *b)
{
    if (buf_len(d) == 0)
        return false;
    *b = d->buf[d->head % BUF_SIZE];
    d->head++;
    if (buf_len(d) == 0)
        d->status &= (uint8_t)~SB_OUT_DATA_AVAIL;
    return true;
}

static void flush_buf(struct i8042 *d)
{
    d->head = d->tail = 0;
    d->status &= (uint8_t)~SB_OUT_DATA_AVAIL;
}

/* Returns 0, or -EPERM when the guest disabled the keyboard interrupt. */
static int kbd_interrupt(struct i8042 *d)
{
    if (!(d->control & CB_KBD_INT)) {
        if (log_ratelimit_ok(&d->warn_rl))
            log_warn(
                "Failed to trigger i8042 kbd interrupt (disabled by guest OS)");
        return -EPERM;
    }
    evloop_eventfd_signal(d->irq_fd);
    return 0;
}

static int trigger_key(struct i8042 *d, uint16_t key)
{
    if (key & 0xff00) {
        if (BUF_SIZE - buf_len(d) < 2)
            return -ENOSPC;
        if (push_byte(d, (uint8_t)(key >> 8)) < 0)
            return -ENOSPC;
    }
    if (push_byte(d, (uint8_t)key) < 0)
        return -ENOSPC;
    (void)kbd_interrupt(d);
    return 0;
}

int i8042_trigger_ctrl_alt_del(struct i8042 *d)
{
    int rc = -ENOSPC;

    bus_dev_lock(&d->bus);
    if (BUF_SIZE - buf_len(d) >= 4) {
        rc = trigger_key(d, KEY_CTRL);
        if (rc == 0)
            rc = trigger_key(d, KEY_ALT);
        if (rc == 0)
            rc = trigger_key(d, KEY_DEL);
    }
    bus_dev_unlock(&d->bus);
    return rc;
}

static void i8042_read(struct bus_dev *dev, uint64_t offset, uint8_t *data,
                       uint32_t len)
{
    struct i8042 *d = dev->opaque;
    uint8_t b = 0;

    if (len != 1) {
        metrics_inc(METRIC_i8042_missed_read_count);
        return;
    }
    switch (offset) {
    case OFS_STATUS:
        data[0] = d->status;
        break;
    case OFS_DATA:
        (void)pop_byte(d, &b);
        data[0] = b;
        if (d->status & SB_OUT_DATA_AVAIL)
            (void)kbd_interrupt(d);
        break;
    default:
        metrics_inc(METRIC_i8042_missed_read_count);
        return;
    }
    metrics_add(METRIC_i8042_read_count, len);
}

static void i8042_write(struct bus_dev *dev, uint64_t offset,
                        const uint8_t *data, uint32_t len)
{
    struct i8042 *d = dev->opaque;
    uint8_t v = data[0];

    if (len != 1) {
        metrics_inc(METRIC_i8042_missed_write_count);
        return;
    }
    if (offset == OFS_STATUS) {
        switch (v) {
        case CMD_RESET_CPU:
            /* The machine stops (exit code 0) once the vmm thread sees it. */
            d->reset(d->reset_opaque);
            metrics_inc(METRIC_i8042_reset_count);
            break;
        case CMD_READ_CTR:
            flush_buf(d);
            (void)push_byte(d, d->control);
            break;
        case CMD_WRITE_CTR:
            flush_buf(d);
            d->status |= SB_I8042_CMD_DATA;
            d->cmd = v;
            break;
        case CMD_READ_OUTP:
            flush_buf(d);
            (void)push_byte(d, d->outp);
            break;
        case CMD_WRITE_OUTP:
            d->status |= SB_I8042_CMD_DATA;
            d->cmd = v;
            break;
        default:
            metrics_inc(METRIC_i8042_missed_write_count);
            return;
        }
    } else if (offset == OFS_DATA) {
        if (d->status & SB_I8042_CMD_DATA) {
            if (d->cmd == CMD_WRITE_CTR)
                d->control = v;
            else if (d->cmd == CMD_WRITE_OUTP)
                d->outp = v;
            d->status &= (uint8_t)~SB_I8042_CMD_DATA;
        } else {
            /* A command for the keyboard itself: ack it with 0xfa. */
            flush_buf(d);
            (void)push_byte(d, 0xfa);
            (void)kbd_interrupt(d);
        }
    } else {
        metrics_inc(METRIC_i8042_missed_write_count);
        return;
    }
    metrics_inc(METRIC_i8042_write_count);
}

int i8042_new(i8042_reset_fn *reset, void *opaque, struct i8042 **out)
{
    struct i8042 *d = xcalloc(1, sizeof(*d));

    d->status = SB_KBD_ENABLED;
    d->control = CB_POST_OK | CB_KBD_INT;
    d->reset = reset;
    d->reset_opaque = opaque;
    d->irq_fd = evloop_eventfd_new();
    if (d->irq_fd < 0) {
        int rc = d->irq_fd;

        free(d);
        return rc;
    }
    bus_dev_init(&d->bus, "i8042", i8042_read, i8042_write, d);
    *out = d;
    return 0;
}

void i8042_free(struct i8042 *d)
{
    if (!d)
        return;
    close(d->irq_fd);
    bus_dev_fini(&d->bus);
    free(d);
}

struct bus_dev *i8042_bus_dev(struct i8042 *d)
{
    return &d->bus;
}

int i8042_irq_fd(const struct i8042 *d)
{
    return d->irq_fd;
}

void i8042_save(struct i8042 *d, struct i8042_state *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&d->bus.lock);
    out->status = d->status;
    out->control = d->control;
    out->outp = d->outp;
    out->cmd = d->cmd;
    out->n_buf = (uint8_t)buf_len(d);
    for (unsigned i = 0; i < buf_len(d); i++)
        out->buf[i] = d->buf[(d->head + i) % BUF_SIZE];
    pthread_mutex_unlock(&d->bus.lock);
}

void i8042_restore(struct i8042 *d, const struct i8042_state *st)
{
    unsigned n = st->n_buf < BUF_SIZE ? st->n_buf : BUF_SIZE;

    pthread_mutex_lock(&d->bus.lock);
    d->status = st->status;
    d->control = st->control;
    d->outp = st->outp;
    d->cmd = st->cmd;
    memcpy(d->buf, st->buf, n);
    d->head = 0;
    d->tail = n;
    pthread_mutex_unlock(&d->bus.lock);
}
