/*
 * i8042.h: the PS/2 keyboard controller, emulated just enough for Firecracker's
 * two uses (digest 6.3): SendCtrlAltDel injects the Ctrl, Alt, Del scan codes
 * (GSI 1), and the guest's CPU reset command (0xFE to port 0x64) stops the
 * machine with exit code 0.
 *
 * Ports 0x60 (data, offset 0) and 0x64 (status/command, offset 4) of a
 * 5-port PIO range at 0x60. Keyboard interrupts leave through `irq_fd`, an
 * eventfd the machine registers as a KVM irqfd for GSI 1.
 *
 * Threads: register accesses come from vCPU threads through the bus, key
 * injection from the vmm thread; both hold the device's bus mutex. The reset
 * callback runs on a vCPU thread with that mutex held, so it must only
 * signal (e.g. write an eventfd), never wait for the vCPUs.
 */
#ifndef SQUIB_DEVICES_LEGACY_I8042_H
#define SQUIB_DEVICES_LEGACY_I8042_H

#include "vmm/bus.h"

#define I8042_PORT_BASE 0x60
#define I8042_PORT_LEN  5
#define I8042_GSI       1

struct i8042;

/* Called when the guest asks for a CPU reset. */
typedef void i8042_reset_fn(void *opaque);

/* Create the controller. Returns 0 and *out, or -errno (eventfd). */
int i8042_new(i8042_reset_fn *reset, void *opaque, struct i8042 **out);
void i8042_free(struct i8042 *d); /* NULL-safe */

struct bus_dev *i8042_bus_dev(struct i8042 *d);
int i8042_irq_fd(const struct i8042 *d); /* owned by the device */

/*
 * Queue Ctrl, Alt, Del (0x14, 0x11, 0xe0 0x71: 4 bytes) and raise the
 * keyboard interrupt for each key if the guest enabled it. Takes the
 * device lock. Returns 0, or -ENOSPC ("i8042 internal buffer full.") if the
 * 16-byte buffer has no room for the whole sequence.
 */
int i8042_trigger_ctrl_alt_del(struct i8042 *d);

#define I8042_BUF_SIZE 16

/* The guest-visible state (snapshots): registers, the last command and the
 * output buffer, oldest byte first. */
struct i8042_state {
    uint8_t status, control, outp, cmd;
    uint8_t n_buf; /* <= I8042_BUF_SIZE */
    uint8_t buf[I8042_BUF_SIZE];
};

/* Read / replace the state (each takes the device lock; n_buf is capped). */
void i8042_save(struct i8042 *d, struct i8042_state *out);
void i8042_restore(struct i8042 *d, const struct i8042_state *st);

#endif
