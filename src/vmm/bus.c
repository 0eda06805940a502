/*
 * bus.c: range table and dispatch for port I/O and MMIO exits (bus.h).
 * The table is small (a handful of legacy devices and up to 19 virtio-mmio
 * windows), sorted, and searched by bisection.
 */
#include "vmm/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

void bus_dev_init(struct bus_dev *dev, const char *name, bus_read_fn *read,
                  bus_write_fn *write, void *opaque)
{
    dev->name = name;
    dev->read = read;
    dev->write = write;
    dev->opaque = opaque;
    pthread_mutex_init(&dev->lock, NULL);
}

void bus_dev_fini(struct bus_dev *dev)
{
    pthread_mutex_destroy(&dev->lock);
}

void bus_dev_lock(struct bus_dev *dev)
{
    pthread_mutex_lock(&dev->lock);
}

void bus_dev_unlock(struct bus_dev *dev)
{
    pthread_mutex_unlock(&dev->lock);
}

void bus_init(struct bus *b)
{
    b->n_ranges = 0;
    b->ranges = NULL;
}

void bus_fini(struct bus *b)
{
    free(b->ranges);
    b->ranges = NULL;
    b->n_ranges = 0;
}

int bus_add(struct bus *b, uint64_t base, uint64_t len, struct bus_dev *dev)
{
    uint64_t end;
    size_t i;

    if (len == 0 || __builtin_add_overflow(base, len - 1, &end))
        return -EINVAL;
    for (i = 0; i < b->n_ranges; i++) {
        const struct bus_range *r = &b->ranges[i];

        if (base <= r->base + (r->len - 1) && r->base <= end)
            return -EEXIST;
        if (r->base > base)
            break;
    }
    b->ranges = xrealloc(b->ranges, (b->n_ranges + 1) * sizeof(*b->ranges));
    memmove(&b->ranges[i + 1], &b->ranges[i],
            (b->n_ranges - i) * sizeof(*b->ranges));
    b->ranges[i] = (struct bus_range){base, len, dev};
    b->n_ranges++;
    return 0;
}

int bus_remove(struct bus *b, uint64_t base, const struct bus_dev *dev)
{
    for (size_t i = 0; i < b->n_ranges; i++) {
        if (b->ranges[i].base == base && b->ranges[i].dev == dev) {
            memmove(&b->ranges[i], &b->ranges[i + 1],
                    (b->n_ranges - i - 1) * sizeof(*b->ranges));
            b->n_ranges--;
            return 0;
        }
    }
    return -ENOENT;
}

/* The range holding [addr, addr + len), or NULL. */
static const struct bus_range *lookup(const struct bus *b, uint64_t addr,
                                      uint32_t len)
{
    size_t lo = 0, hi = b->n_ranges;
    uint64_t last;

    if (len == 0 || __builtin_add_overflow(addr, (uint64_t)len - 1, &last))
        return NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct bus_range *r = &b->ranges[mid];

        if (addr < r->base) {
            hi = mid;
        } else if (addr - r->base >= r->len) {
            lo = mid + 1;
        } else {
            return last - r->base < r->len ? r : NULL;
        }
    }
    return NULL;
}

int bus_read(const struct bus *b, uint64_t addr, uint8_t *data, uint32_t len)
{
    const struct bus_range *r = lookup(b, addr, len);

    if (!r)
        return -ENOENT;
    if (r->dev->read) {
        pthread_mutex_lock(&r->dev->lock);
        r->dev->read(r->dev, addr - r->base, data, len);
        pthread_mutex_unlock(&r->dev->lock);
    }
    return 0;
}

int bus_write(const struct bus *b, uint64_t addr, const uint8_t *data,
              uint32_t len)
{
    const struct bus_range *r = lookup(b, addr, len);

    if (!r)
        return -ENOENT;
    if (r->dev->write) {
        pthread_mutex_lock(&r->dev->lock);
        r->dev->write(r->dev, addr - r->base, data, len);
        pthread_mutex_unlock(&r->dev->lock);
    }
    return 0;
}
