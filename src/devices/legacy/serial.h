/*
 * serial.h: the COM1 16550A UART (PIO 0x3f8..0x3ff, GSI 4), as the guest
 * sees Firecracker's (vm-superio) one.
 *
 * Output: each byte the guest writes to THR goes to `out_fd` with one
 * non-blocking write(); a byte that cannot be written (EAGAIN, full pipe)
 * is lost and counted, so a slow reader never blocks a vCPU. An optional
 * token bucket (rate_limiter.h's, without a timer) limits the output:
 * bytes over the budget are dropped and counted in
 * uart.rate_limiter_dropped_bytes.
 *
 * Input: serial_attach_input() registers an input fd (stdin) with the vmm
 * event loop, only when it is a TTY or a FIFO; a TTY is put in raw mode
 * (ICANON, ECHO and ISIG off) and restored by serial_detach_input(). Bytes
 * go to a 64-byte receive FIFO; when it is full the input fd is
 * unregistered until the guest drains the FIFO (a vCPU signals
 * buffer_ready_fd, the loop registers the input again).
 *
 * Interrupts leave through `irq_fd`, an eventfd the machine registers as a
 * KVM irqfd for GSI 4.
 *
 * Threads: register accesses come from vCPU threads through the bus, input
 * from the vmm thread; both hold the device's bus mutex.
 */
#ifndef SQUIB_DEVICES_LEGACY_SERIAL_H
#define SQUIB_DEVICES_LEGACY_SERIAL_H

#include <stddef.h>
#include <stdint.h>

#include "devices/rate_limiter.h"
#include "util/evloop.h"
#include "vmm/bus.h"

#define SERIAL_PORT_BASE 0x3f8
#define SERIAL_PORT_LEN  8
#define SERIAL_GSI       4
#define SERIAL_FIFO_SIZE 64

/* Upstream's warnings when a terminal's mode cannot be changed (printf
 * format: the strerror text); the machine writes them for stdin too. */
#define SERIAL_WARN_RAW_MODE "Cannot set raw mode for the terminal. %s"
#define SERIAL_WARN_CANONICAL_MODE                                             \
    "Cannot set canonical mode for the terminal. %s"

/* PUT /serial rate_limiter (a TokenBucket); size 0 or refill 0 = disabled. */
struct serial_rate_limit {
    uint64_t size;           /* bytes */
    uint64_t one_time_burst; /* bytes, not replenished */
    uint64_t refill_time_ms;
};

struct serial;

/*
 * Create the UART writing to `out_fd` (borrowed; must stay open until
 * serial_free). `rl` may be NULL. The caller should make out_fd
 * non-blocking. Returns 0 and *out, or -errno (eventfd creation).
 */
int serial_new(int out_fd, const struct serial_rate_limit *rl,
               struct serial **out);
/* Detach input (restoring the TTY), close the eventfds, free; NULL-safe. */
void serial_free(struct serial *s);

/* The device's bus part (to put on the PIO bus at SERIAL_PORT_BASE). */
struct bus_dev *serial_bus_dev(struct serial *s);
/* The interrupt eventfd (owned by the serial) to register as irqfd. */
int serial_irq_fd(const struct serial *s);

/* The guest-visible state of the UART (snapshots): its registers and the
 * receive FIFO, oldest byte first. Output, input and the rate limiter are
 * the process's, not the guest's, and are not part of it. */
struct serial_state {
    uint8_t ier, iir, lcr, mcr, lsr, msr, scr, dll, dlm;
    uint8_t n_fifo; /* <= SERIAL_FIFO_SIZE */
    uint8_t fifo[SERIAL_FIFO_SIZE];
};

/* Read the state (takes the device lock). */
void serial_save(struct serial *s, struct serial_state *out);
/* Replace the state (takes the device lock); n_fifo is capped at the FIFO
 * size. Raises no interrupt: the interrupt controllers' own restored state
 * holds any the guest had pending. */
void serial_restore(struct serial *s, const struct serial_state *st);

/* Use `fn` (with `opaque`) as the output token bucket's clock, for tests.
 * Re-bases the bucket's last update to the new clock's now. */
void serial_set_clock(struct serial *s, rate_limiter_clock_fn *fn,
                      void *opaque);

/*
 * Use `in_fd` (borrowed; usually STDIN_FILENO) as the input, registered with
 * `loop` (the vmm thread's), if it is a TTY or a FIFO; otherwise do nothing
 * and return 0. Sets in_fd non-blocking and, for a TTY, raw mode (both are
 * undone by serial_detach_input). Returns 0 or -errno.
 */
int serial_attach_input(struct serial *s, struct evloop *loop, int in_fd);
/* Unregister the input and restore the TTY mode and fd flags; idempotent. */
void serial_detach_input(struct serial *s);

/*
 * Queue host bytes for the guest (as if received on the line). Fails with
 * -ENOBUFS, queuing nothing, if they do not all fit. In loopback mode the
 * bytes are discarded (0). Takes the device lock.
 */
int serial_enqueue(struct serial *s, const uint8_t *data, size_t len);

#endif
