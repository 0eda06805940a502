/*
 * fuzz_virtio.h: what the virtio device harnesses share: the driver's
 * register writes on a virtio-mmio transport (under the device's lock, as
 * a vCPU makes them), the queue layout they all use, and guest RAM with a
 * guard page behind it. Static functions only; include from one harness
 * per binary.
 */
#ifndef SQUIB_TESTS_FUZZ_VIRTIO_H
#define SQUIB_TESTS_FUZZ_VIRTIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/virtio/mmio.h"
#include "vmm/guest_mem.h"

/* n bytes of guest RAM followed by a PROT_NONE page (a device reading past
 * the end faults instead of reading on), described by gm as its one
 * region. Traps when the mapping fails. */
static __attribute__((unused)) uint8_t *fuzz_guest_ram(size_t n,
                                                       struct guest_mem *gm)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *ram = mmap(NULL, n + pg, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (ram == MAP_FAILED)
        __builtin_trap();
    if (mprotect(ram + n, pg, PROT_NONE) != 0)
        __builtin_trap();
    gm->n_regions = 1;
    gm->regions[0].size = n;
    gm->regions[0].hva = ram;
    return ram;
}

/* Write the 32-bit register at `off`, little-endian. */
static __attribute__((unused)) void reg(struct virtio_mmio *t, uint64_t off,
                                        uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                    (uint8_t)(v >> 24)};

    bus_dev_lock(&t->bus);
    virtio_mmio_write(&t->bus, off, b, 4);
    bus_dev_unlock(&t->bus);
}

/* Queue qi of qsize entries: descriptors at 0x3000 * qi, avail 0x1000 and
 * used 0x2000 after them, then QueueReady. */
static __attribute__((unused)) void setup_queue(struct virtio_mmio *t,
                                                uint32_t qi, uint32_t qsize)
{
    reg(t, 0x30, qi);
    reg(t, 0x38, qsize);
    reg(t, 0x80, 0x3000 * qi);
    reg(t, 0x90, 0x3000 * qi + 0x1000);
    reg(t, 0xa0, 0x3000 * qi + 0x2000);
    reg(t, 0x44, 1);
}

#endif
