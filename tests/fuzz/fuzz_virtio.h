/*
 * fuzz_virtio.h: what the virtio device harnesses share: the driver's
 * register writes on a virtio-mmio transport (under the device's lock, as
 * a vCPU makes them) and the queue layout they all use. Static functions
 * only; include from one harness per binary.
 */
#ifndef SQUIB_TESTS_FUZZ_VIRTIO_H
#define SQUIB_TESTS_FUZZ_VIRTIO_H

#include <stdint.h>

#include "devices/virtio/mmio.h"

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
