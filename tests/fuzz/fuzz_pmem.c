/*
 * fuzz_pmem.c: libFuzzer harness for the virtio-pmem device's request
 * queue (devices/virtio/pmem): hostile chains of any shape against a
 * small backing file, with and without a rate limiter.
 *
 * Guest RAM is 64 KiB at GPA 0, followed by a PROT_NONE guard page, so any
 * access past guest RAM crashes. Input format:
 *   byte 0   bit 0: read-only device, bit 1: an ops limiter of one op per
 *            100 ms, bit 2: the driver writes the config space, bit 3:
 *            notify twice
 *   byte 1   avail idx the driver publishes
 *   byte 2   log2 of the queue size (clamped to 0..9; 9 fails)
 *   rest     copied to guest RAM from GPA 0: descriptors at 0x0, avail
 *            0x1000, used 0x2000; request and status words anywhere.
 * A fresh device on the same memfd-backed file runs each input: queue
 * notifications, the limiter's event, config reads, then a reset.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/virtio/pmem.h"
#include "fuzz_virtio.h"
#include "obs/log.h"
#include "vmm/guest_mem.h"

#define FUZZ_RAM 0x10000ULL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t reg_read(struct virtio_mmio *t, uint64_t off)
{
    uint8_t b[4] = {0};

    bus_dev_lock(&t->bus);
    virtio_mmio_read(&t->bus, off, b, 4);
    bus_dev_unlock(&t->bus);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *ram;
    static struct guest_mem gm;
    static char path[64];
    static const struct rate_limiter_params rl = {.has_ops = true,
                                                  .ops = {1, 0, 100}};
    struct pmem_params p = {.id = "fuzz", .path = path};
    struct pmem *pm = NULL;
    struct virtio_mmio *t;
    uint32_t shift;

    if (!ram) {
        int fd = memfd_create("fuzz-pmem", 0);

        if (fd < 0 || ftruncate(fd, 8192) != 0)
            __builtin_trap();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        ram = fuzz_guest_ram(FUZZ_RAM, &gm);
        log_set_level(LOG_OFF);
    }
    if (size < 3)
        return 0;
    p.read_only = data[0] & 0x01;
    p.rl = data[0] & 0x02 ? &rl : NULL;
    if (pmem_new(&p, &pm, NULL) != 0 ||
        pmem_set_guest_addr(pm, 0x8000000000ULL) != 0 ||
        pmem_attach(pm, &gm, -1, 0xc0001000, NULL) != 0)
        __builtin_trap();
    t = pmem_transport(pm);

    memset(ram, 0, FUZZ_RAM);
    memcpy(ram, data + 3, size - 3 < FUZZ_RAM ? size - 3 : FUZZ_RAM);
    ram[0x1002] = data[1];
    ram[0x1003] = 0;
    shift = data[2] & 0x0f;
    if (shift > 9)
        shift = 9;
    reg(t, 0x70, 1);
    reg(t, 0x70, 3);
    reg(t, 0x24, 1);
    reg(t, 0x20, 1);
    reg(t, 0x70, 11);
    reg(t, 0x30, 0);
    reg(t, 0x38, 1u << shift);
    reg(t, 0x80, 0);
    reg(t, 0x90, 0x1000);
    reg(t, 0xa0, 0x2000);
    reg(t, 0x44, 1);
    reg(t, 0x70, 15);
    if (data[0] & 0x04)
        reg(t, 0x100 + (data[1] & 0x1f), data[2]);
    for (uint32_t off = 0; off < 0x20; off += 4)
        (void)reg_read(t, 0x100 + off);
    virtio_mmio_notify(t, 0);
    if (data[0] & 0x08)
        virtio_mmio_notify(t, 0);
    pmem_rate_limiter_event(pm);
    reg(t, 0x70, 0);
    pmem_free(pm);
    return 0;
}
