/*
 * serial.c: 16550A UART register model (vm-superio's behaviour), output with
 * an optional token bucket (the shared one of devices/rate_limiter.h, as
 * upstream's serial uses its TokenBucket), and stdin input through the vmm
 * event loop.
 * See serial.h for the threading and fd rules.
 *
 * Register model (offsets from 0x3f8; DLAB = LCR bit 7):
 *   0 THR/RBR (DLL with DLAB)   1 IER (DLM with DLAB)   2 IIR (FCR on write:
 *   only the receive-FIFO flush bit acts)   3 LCR   4 MCR   5 LSR   6 MSR
 *   7 SCR
 * Interrupt causes: THR empty after every transmitted byte (if IER bit 1)
 * and received data available (if IER bit 0). Reading IIR returns the cause
 * with the FIFO bits (0xc0) and clears it; reading RBR clears RDA.
 */
#include "devices/legacy/serial.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "devices/rate_limiter.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "util/time.h"
#include "util/xalloc.h"

enum {
    REG_DATA = 0,
    REG_IER = 1,
    REG_IIR = 2,
    REG_LCR = 3,
    REG_MCR = 4,
    REG_LSR = 5,
    REG_MSR = 6,
    REG_SCR = 7,
};

#define IER_RDA         0x01
#define IER_THR         0x02
#define IER_MASK        0x0f
#define IIR_NONE        0x01
#define IIR_THR         0x02
#define IIR_RDA         0x04
#define IIR_FIFO        0xc0
#define FCR_FLUSH_IN    0x02
#define LCR_DLAB        0x80
#define LSR_DR          0x01
#define LSR_THRE        0x20
#define LSR_TEMT        0x40
#define MCR_DTR         0x01
#define MCR_RTS         0x02
#define MCR_OUT1        0x04
#define MCR_OUT2        0x08
#define MCR_LOOP        0x10
#define MSR_CTS         0x10
#define MSR_DSR         0x20
#define MSR_RI          0x40
#define MSR_DCD         0x80
#define DEFAULT_DIVISOR 12 /* 9600 baud */

struct serial {
    struct bus_dev bus; /* bus.lock protects everything below */
    uint8_t ier, iir, lcr, mcr, lsr, msr, scr, dll, dlm;
    uint8_t fifo[SERIAL_FIFO_SIZE];
    size_t fifo_head, fifo_len;
    int out_fd;                   /* borrowed */
    int irq_fd;                   /* owned eventfd (irqfd GSI 4) */
    bool has_rl;                  /* output rate limited by rl */
    struct token_bucket rl;       /* upstream's TokenBucket, no timer */
    rate_limiter_clock_fn *clock; /* NULL = CLOCK_MONOTONIC */
    void *clock_opaque;

    /* Input side: touched only by the vmm thread (attach/detach/handlers). */
    int buffer_ready_fd; /* owned eventfd, written by vCPUs */
    struct evloop *loop; /* borrowed; NULL when no input attached */
    struct evloop_handler in_h, ready_h;
    bool in_registered;
    bool tty_saved;
    struct termios tty_orig;
    int in_fl_orig; /* -1 if flags were not changed */
    struct log_ratelimit write_err_rl;
};

static uint64_t now_ns(const struct serial *s)
{
    return s->clock ? s->clock(s->clock_opaque) : time_mono_ns();
}

/* May the next output byte go out? Upstream's SerialOut::write drops the
 * write on Failure and on OverConsumption alike. */
static bool output_allowed(struct serial *s)
{
    uint64_t debt_ns;

    return !s->has_rl || token_bucket_reduce(&s->rl, 1, now_ns(s), &debt_ns) ==
                             TOKEN_BUCKET_SUCCESS;
}

static void raise_irq(struct serial *s)
{
    evloop_eventfd_signal(s->irq_fd);
}

static void add_intr(struct serial *s, uint8_t bit)
{
    s->iir &= (uint8_t)~IIR_NONE;
    s->iir |= bit;
    raise_irq(s);
}

/* Raise a cause only if it is not pending already (not yet read from IIR). */
static void thr_empty_intr(struct serial *s)
{
    if ((s->ier & IER_THR) && !(s->iir & IIR_THR))
        add_intr(s, IIR_THR);
}

static void rda_intr(struct serial *s)
{
    if ((s->ier & IER_RDA) && !(s->iir & IIR_RDA))
        add_intr(s, IIR_RDA);
}

/* Push bytes into the receive FIFO (caller checked room). */
static void fifo_push(struct serial *s, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        s->fifo[(s->fifo_head + s->fifo_len) % SERIAL_FIFO_SIZE] = data[i];
        s->fifo_len++;
    }
    s->lsr |= LSR_DR;
    rda_intr(s);
}

/* Upstream logs vm-superio's error with Rust's {:?}. */
static void log_write_error(int errnum)
{
    const char *kind;

    switch (errnum) {
    case EAGAIN:
        kind = "WouldBlock";
        break;
    case EPIPE:
        kind = "BrokenPipe";
        break;
    case ENOSPC:
        kind = "StorageFull";
        break;
    case EBADF:
        kind = "Uncategorized";
        break;
    default:
        kind = "Other";
        break;
    }
    log_error("Failed the write to serial: IOError(Os { code: %d, kind: %s, "
              "message: \"%s\" })",
              errnum, kind, strerror(errnum));
}

static void transmit(struct serial *s, uint8_t byte)
{
    ssize_t n;

    if (s->mcr & MCR_LOOP) {
        if (s->fifo_len < SERIAL_FIFO_SIZE)
            fifo_push(s, &byte, 1);
        return;
    }
    if (!output_allowed(s)) {
        /* Dropped on purpose: upstream still counts it as written. */
        metrics_add(METRIC_uart_rate_limiter_dropped_bytes, 1);
        metrics_inc(METRIC_uart_write_count);
    } else {
        do {
            n = write(s->out_fd, &byte, 1);
        } while (n < 0 && errno == EINTR);
        if (n == 1) {
            metrics_inc(METRIC_uart_write_count);
        } else {
            /* Never wait for the reader: the byte is lost. */
            metrics_inc(METRIC_uart_missed_write_count);
            metrics_inc(METRIC_uart_error_count);
            if (log_ratelimit_ok(&s->write_err_rl))
                log_write_error(n < 0 ? errno : EIO);
        }
    }
    thr_empty_intr(s);
}

static void serial_reg_write(struct bus_dev *dev, uint64_t offset,
                             const uint8_t *data, uint32_t len)
{
    struct serial *s = dev->opaque;
    uint8_t v = data[0];

    if (len != 1 || offset >= SERIAL_PORT_LEN) {
        metrics_inc(METRIC_uart_missed_write_count);
        return;
    }
    switch (offset) {
    case REG_DATA:
        if (s->lcr & LCR_DLAB)
            s->dll = v;
        else
            transmit(s, v);
        break;
    case REG_IER:
        if (s->lcr & LCR_DLAB)
            s->dlm = v;
        else
            s->ier = v & IER_MASK;
        break;
    case REG_LCR:
        s->lcr = v;
        break;
    case REG_MCR:
        s->mcr = v;
        break;
    case REG_SCR:
        s->scr = v;
        break;
    case REG_IIR: /* FCR on write: only "clear the receive FIFO" matters */
        if (v & FCR_FLUSH_IN) {
            s->fifo_len = 0;
            s->fifo_head = 0;
            s->lsr &= (uint8_t)~LSR_DR;
            evloop_eventfd_signal(s->buffer_ready_fd);
        }
        break;
    default: /* LSR, MSR: read-only */
        break;
    }
}

static uint8_t read_msr(const struct serial *s)
{
    uint8_t msr;

    if (!(s->mcr & MCR_LOOP))
        return s->msr;
    /* Loopback: the modem inputs reflect the modem control outputs. */
    msr = s->msr & (uint8_t) ~(MSR_CTS | MSR_DSR | MSR_RI | MSR_DCD);
    if (s->mcr & MCR_RTS)
        msr |= MSR_CTS;
    if (s->mcr & MCR_DTR)
        msr |= MSR_DSR;
    if (s->mcr & MCR_OUT1)
        msr |= MSR_RI;
    if (s->mcr & MCR_OUT2)
        msr |= MSR_DCD;
    return msr;
}

static void serial_reg_read(struct bus_dev *dev, uint64_t offset, uint8_t *data,
                            uint32_t len)
{
    struct serial *s = dev->opaque;
    uint8_t v = 0;

    if (len != 1 || offset >= SERIAL_PORT_LEN) {
        metrics_inc(METRIC_uart_missed_read_count);
        return;
    }
    switch (offset) {
    case REG_DATA:
        if (s->lcr & LCR_DLAB) {
            v = s->dll;
            break;
        }
        s->iir &= (uint8_t)~IIR_RDA;
        if (s->iir == 0)
            s->iir = IIR_NONE;
        if (s->fifo_len > 0) {
            v = s->fifo[s->fifo_head];
            s->fifo_head = (s->fifo_head + 1) % SERIAL_FIFO_SIZE;
            s->fifo_len--;
        }
        if (s->fifo_len == 0) {
            s->lsr &= (uint8_t)~LSR_DR;
            /* Tell the vmm loop it may read more input. */
            evloop_eventfd_signal(s->buffer_ready_fd);
        }
        metrics_inc(METRIC_uart_read_count);
        break;
    case REG_IER:
        v = (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
        break;
    case REG_IIR:
        v = s->iir | IIR_FIFO;
        s->iir = IIR_NONE;
        break;
    case REG_LCR:
        v = s->lcr;
        break;
    case REG_MCR:
        v = s->mcr;
        break;
    case REG_LSR:
        v = s->lsr;
        break;
    case REG_MSR:
        v = read_msr(s);
        break;
    case REG_SCR:
        v = s->scr;
        break;
    }
    data[0] = v;
}

int serial_new(int out_fd, const struct serial_rate_limit *rl,
               struct serial **out)
{
    struct serial *s = xcalloc(1, sizeof(*s));
    int rc;

    s->out_fd = out_fd;
    s->irq_fd = -1;
    s->buffer_ready_fd = -1;
    s->in_fl_orig = -1;
    s->in_h.fd = -1;
    s->iir = IIR_NONE;
    s->lcr = 0x03; /* 8N1 */
    s->mcr = MCR_OUT2;
    s->lsr = LSR_THRE | LSR_TEMT;
    s->msr = MSR_DSR | MSR_CTS | MSR_DCD;
    s->dll = DEFAULT_DIVISOR;
    /* Disabled (as upstream's TokenBucket::new gives None) for size 0,
     * refill time 0, or a refill time beyond u64 nanoseconds. */
    if (rl)
        s->has_rl = token_bucket_init(&s->rl, rl->size, rl->one_time_burst,
                                      rl->refill_time_ms, now_ns(s));
    bus_dev_init(&s->bus, "serial", serial_reg_read, serial_reg_write, s);
    s->irq_fd = evloop_eventfd_new();
    if (s->irq_fd < 0) {
        rc = s->irq_fd;
        goto err;
    }
    s->buffer_ready_fd = evloop_eventfd_new();
    if (s->buffer_ready_fd < 0) {
        rc = s->buffer_ready_fd;
        goto err;
    }
    *out = s;
    return 0;
err:
    serial_free(s);
    return rc;
}

void serial_free(struct serial *s)
{
    if (!s)
        return;
    serial_detach_input(s);
    if (s->irq_fd >= 0)
        close(s->irq_fd);
    if (s->buffer_ready_fd >= 0)
        close(s->buffer_ready_fd);
    bus_dev_fini(&s->bus);
    free(s);
}

struct bus_dev *serial_bus_dev(struct serial *s)
{
    return &s->bus;
}

int serial_irq_fd(const struct serial *s)
{
    return s->irq_fd;
}

void serial_set_clock(struct serial *s, rate_limiter_clock_fn *fn, void *opaque)
{
    bus_dev_lock(&s->bus);
    s->clock = fn;
    s->clock_opaque = opaque;
    s->rl.last_update_ns = now_ns(s);
    bus_dev_unlock(&s->bus);
}

int serial_enqueue(struct serial *s, const uint8_t *data, size_t len)
{
    int rc = 0;

    bus_dev_lock(&s->bus);
    if (len > SERIAL_FIFO_SIZE - s->fifo_len)
        rc = -ENOBUFS;
    else if (len > 0 && !(s->mcr & MCR_LOOP)) /* loopback: line is cut */
        fifo_push(s, data, len);
    bus_dev_unlock(&s->bus);
    return rc;
}

static void input_unregister(struct serial *s)
{
    if (s->in_registered) {
        evloop_del(s->loop, &s->in_h);
        s->in_registered = false;
    }
}

static void input_register(struct serial *s)
{
    if (!s->in_registered && s->in_h.fd >= 0 &&
        evloop_add(s->loop, &s->in_h, EPOLLIN) == 0)
        s->in_registered = true;
}

/* Read what fits in the FIFO. Returns bytes read, 0 on EOF, -errno. */
static ssize_t recv_input(struct serial *s)
{
    uint8_t buf[SERIAL_FIFO_SIZE];
    size_t room;
    ssize_t n;

    bus_dev_lock(&s->bus);
    room = SERIAL_FIFO_SIZE - s->fifo_len;
    bus_dev_unlock(&s->bus);
    if (room == 0)
        return -ENOBUFS;
    n = read(s->in_h.fd, buf, room);
    if (n < 0)
        return -errno;
    /* Only the vmm thread adds bytes, so the room cannot have shrunk. */
    if (n > 0 && serial_enqueue(s, buf, (size_t)n) < 0)
        return -ENOBUFS;
    return n;
}

static void detach_sources(struct serial *s, const char *why)
{
    input_unregister(s);
    if (s->loop && s->ready_h.fd >= 0)
        evloop_del(s->loop, &s->ready_h);
    s->ready_h.fd = -1;
    if (why)
        log_warn("%s", why);
}

static void on_input(struct serial *s)
{
    ssize_t n = recv_input(s);

    if (n == 0) {
        detach_sources(s, "Detached the serial input due to peer close/error.");
    } else if (n == -ENOBUFS) {
        /* FIFO full: wait for the guest to drain it (buffer_ready_fd). */
        input_unregister(s);
    } else if (n < 0 && n != -EAGAIN && n != -EINTR) {
        detach_sources(s, "Detached the serial input due to peer close/error.");
    }
}

static void on_input_ready(struct evloop *loop, struct evloop_handler *h,
                           uint32_t events)
{
    (void)loop;
    (void)events;
    on_input(h->opaque);
}

static void on_buffer_ready(struct evloop *loop, struct evloop_handler *h,
                            uint32_t events)
{
    struct serial *s = h->opaque;

    (void)loop;
    (void)events;
    evloop_eventfd_drain(s->buffer_ready_fd);
    input_register(s);
}

int serial_attach_input(struct serial *s, struct evloop *loop, int in_fd)
{
    struct stat st;
    bool is_tty = isatty(in_fd) == 1;
    int rc;

    if (!is_tty && !(fstat(in_fd, &st) == 0 && S_ISFIFO(st.st_mode)))
        return 0;
    if (is_tty && tcgetattr(in_fd, &s->tty_orig) == 0) {
        struct termios raw = s->tty_orig;

        raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO | ISIG);
        if (tcsetattr(in_fd, TCSANOW, &raw) == 0)
            s->tty_saved = true;
        else
            log_warn(SERIAL_WARN_RAW_MODE, strerror(errno));
    }
    s->in_fl_orig = fcntl(in_fd, F_GETFL);
    if (s->in_fl_orig >= 0 &&
        fcntl(in_fd, F_SETFL, s->in_fl_orig | O_NONBLOCK) < 0)
        log_warn("Cannot set non block for the terminal. %s", strerror(errno));
    s->loop = loop;
    s->in_h = (struct evloop_handler){in_fd, on_input_ready, s};
    s->ready_h =
        (struct evloop_handler){s->buffer_ready_fd, on_buffer_ready, s};
    rc = evloop_add(loop, &s->ready_h, EPOLLIN);
    if (rc < 0) {
        s->ready_h.fd = -1;
        log_warn("Failed to register serial buffer ready event: %s",
                 strerror(-rc));
    }
    input_register(s);
    if (!s->in_registered)
        log_warn("Failed to register serial input fd");
    return 0;
}

void serial_detach_input(struct serial *s)
{
    if (!s->loop)
        return;
    detach_sources(s, NULL);
    if (s->tty_saved) {
        if (tcsetattr(s->in_h.fd, TCSANOW, &s->tty_orig) < 0)
            log_warn(SERIAL_WARN_CANONICAL_MODE, strerror(errno));
        s->tty_saved = false;
    }
    if (s->in_fl_orig >= 0)
        (void)fcntl(s->in_h.fd, F_SETFL, s->in_fl_orig);
    s->in_fl_orig = -1;
    s->in_h.fd = -1;
    s->loop = NULL;
}

void serial_save(struct serial *s, struct serial_state *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&s->bus.lock);
    out->ier = s->ier;
    out->iir = s->iir;
    out->lcr = s->lcr;
    out->mcr = s->mcr;
    out->lsr = s->lsr;
    out->msr = s->msr;
    out->scr = s->scr;
    out->dll = s->dll;
    out->dlm = s->dlm;
    out->n_fifo = (uint8_t)s->fifo_len;
    for (size_t i = 0; i < s->fifo_len; i++)
        out->fifo[i] = s->fifo[(s->fifo_head + i) % SERIAL_FIFO_SIZE];
    pthread_mutex_unlock(&s->bus.lock);
}

void serial_restore(struct serial *s, const struct serial_state *st)
{
    size_t n = st->n_fifo < SERIAL_FIFO_SIZE ? st->n_fifo : SERIAL_FIFO_SIZE;

    pthread_mutex_lock(&s->bus.lock);
    s->ier = st->ier;
    s->iir = st->iir;
    s->lcr = st->lcr;
    s->mcr = st->mcr;
    s->lsr = st->lsr;
    s->msr = st->msr;
    s->scr = st->scr;
    s->dll = st->dll;
    s->dlm = st->dlm;
    memcpy(s->fifo, st->fifo, n);
    s->fifo_head = 0;
    s->fifo_len = n;
    pthread_mutex_unlock(&s->bus.lock);
}
