/*
 * bus.h: address ranges -> device register handlers, for vCPU exits.
 *
 * A machine has two buses: port I/O (addresses 0..0xffff) and MMIO. A vCPU
 * thread that takes a KVM_EXIT_IO or KVM_EXIT_MMIO looks the address up here
 * and calls the device's read or write handler with the offset inside the
 * device's range, holding that device's own mutex (so a device never sees
 * two accesses at once, from two vCPUs or from a vCPU and the vmm thread,
 * which takes the same mutex with bus_dev_lock()).
 *
 * Changing the table (bus_add, bus_remove) and looking it up (bus_read,
 * bus_write) must never overlap, so lookups take no bus-wide lock. The
 * contract: a bus is changed only while no vCPU thread can be inside a
 * lookup, that is before the vCPUs start, after they finished, or while
 * every vCPU is paused, which machine_bus_update() (machine.h) arranges
 * for a hot-plug on a running machine. The bus does not own the devices.
 */
#ifndef SQUIB_VMM_BUS_H
#define SQUIB_VMM_BUS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct bus_dev;

/* Called with dev->lock held; `data` holds `len` (1..8) bytes. */
typedef void bus_read_fn(struct bus_dev *dev, uint64_t offset, uint8_t *data,
                         uint32_t len);
typedef void bus_write_fn(struct bus_dev *dev, uint64_t offset,
                          const uint8_t *data, uint32_t len);

/* Embedded in each device object; initialise with bus_dev_init(). */
struct bus_dev {
    const char *name;     /* static string, for logs */
    bus_read_fn *read;    /* NULL: reads return zeros */
    bus_write_fn *write;  /* NULL: writes are ignored */
    void *opaque;         /* the device object */
    pthread_mutex_t lock; /* protects the device's register state */
};

struct bus_range {
    uint64_t base;
    uint64_t len;
    struct bus_dev *dev; /* borrowed */
};

struct bus {
    size_t n_ranges;
    struct bus_range *ranges; /* owned; sorted by base, non-overlapping */
};

/* Fill in a device's bus part and its mutex. */
void bus_dev_init(struct bus_dev *dev, const char *name, bus_read_fn *read,
                  bus_write_fn *write, void *opaque);
void bus_dev_fini(struct bus_dev *dev);
void bus_dev_lock(struct bus_dev *dev);
void bus_dev_unlock(struct bus_dev *dev);

void bus_init(struct bus *b);
void bus_fini(struct bus *b); /* frees the range table, not the devices */

/*
 * Map [base, base + len) to dev. Returns 0, -EINVAL for len 0 or an
 * overflowing range, -EEXIST if it overlaps a range already present.
 */
int bus_add(struct bus *b, uint64_t base, uint64_t len, struct bus_dev *dev);

/*
 * Unmap the range that starts at `base` and belongs to dev. 0, or -ENOENT
 * when there is no such range (nothing changes).
 */
int bus_remove(struct bus *b, uint64_t base, const struct bus_dev *dev);

/*
 * Dispatch an access of `len` bytes at `addr`. The whole access must fall in
 * one range. Returns 0, or -ENOENT if no device covers it (a read then
 * leaves `data` untouched; callers zero it first, as upstream does).
 */
int bus_read(const struct bus *b, uint64_t addr, uint8_t *data, uint32_t len);
int bus_write(const struct bus *b, uint64_t addr, const uint8_t *data,
              uint32_t len);

#endif
