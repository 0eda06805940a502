/*
 * fuzz_virtq.c: libFuzzer harness for the virtqueue chain walker
 * (devices/virtio/queue) and the virtio-block request parser
 * (block_request_parse), the two places where a guest's ring contents are
 * interpreted.
 *
 * Guest RAM is 64 KiB at GPA 0 in one region, followed by a PROT_NONE
 * guard page, so any access past guest RAM crashes. Input format:
 *   byte 0   bits 0-3: log2 of the queue size (0..8, larger is clamped to
 *            make activation fail), bit 4: EVENT_IDX, bit 5: indirect
 *            descriptors negotiated
 *   byte 1   avail idx the driver publishes (may exceed the queue size)
 *   byte 2-3 disk size in sectors (little-endian)
 *   rest     copied to guest RAM from GPA 0: descriptor table at 0x0,
 *            avail ring at 0x1000, used ring at 0x2000, free for indirect
 *            tables and buffers from 0x3000.
 * Up to 16 chains are popped, parsed as block requests and returned.
 *
 * The same image is then handed, through the virtio-mmio registers, to a
 * real block device (Sync engine, a 64 KiB memfd as its disk) and to an
 * entropy device, which process the ring as they would for a guest: the
 * whole request path, status writes and used ring included, runs on
 * hostile input. Each device is reset and set up again for every input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/virtio/block.h"
#include "devices/virtio/queue.h"
#include "devices/virtio/rng.h"
#include "fuzz_virtio.h"
#include "obs/log.h"
#include "vmm/guest_mem.h"

#define FUZZ_RAM 0x10000ULL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reset the device, load the RAM image, drive it to DRIVER_OK with the
 * input's queue size and features, publish and notify. */
static void run_device(struct virtio_mmio *t, uint8_t *ram, const uint8_t *data,
                       size_t size, uint16_t qsize)
{
    memset(ram, 0, FUZZ_RAM);
    memcpy(ram, data + 4, size - 4 < FUZZ_RAM ? size - 4 : FUZZ_RAM);
    ram[0x1002] = data[1];
    ram[0x1003] = 0;
    reg(t, 0x70, 0);
    reg(t, 0x70, 1);
    reg(t, 0x70, 3);
    reg(t, 0x24, 0);
    reg(t, 0x20, (data[0] & 0x10) ? 1u << 29 : 0);
    reg(t, 0x24, 1);
    reg(t, 0x20, 1);
    reg(t, 0x70, 11);
    reg(t, 0x30, 0);
    reg(t, 0x38, qsize);
    reg(t, 0x80, 0);
    reg(t, 0x90, 0x1000);
    reg(t, 0xa0, 0x2000);
    reg(t, 0x44, 1);
    reg(t, 0x70, 15);
    virtio_mmio_notify(t, 0);
    evloop_eventfd_drain(t->irq_fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *ram;
    static struct virtq_chain chain;
    static struct guest_mem gm;
    static struct block *blk;
    static struct rng *rng;
    struct virtq q;
    uint8_t shift;
    uint16_t nsectors;

    if (!ram) {
        ram = fuzz_guest_ram(FUZZ_RAM, &gm);
        log_set_level(LOG_OFF);
        {
            struct block_config cfg = {0};
            char path[64];
            int fd = memfd_create("fuzzdisk", MFD_CLOEXEC);

            if (fd < 0 || ftruncate(fd, 0x10000) != 0)
                __builtin_trap();
            snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
            cfg.drive_id = "fuzz";
            cfg.path_on_host = path;
            if (block_new(&cfg, &blk, NULL) != 0 ||
                block_attach(blk, &gm, -1, 0xc0001000, NULL) != 0)
                __builtin_trap();
            close(fd);
            if (rng_new(NULL, &rng, NULL) != 0 ||
                rng_attach(rng, &gm, -1, 0xc0002000, NULL) != 0)
                __builtin_trap();
        }
    }
    if (size < 4)
        return 0;
    memset(ram, 0, FUZZ_RAM);
    memcpy(ram, data + 4, size - 4 < FUZZ_RAM ? size - 4 : FUZZ_RAM);

    shift = data[0] & 0xf;
    nsectors = (uint16_t)(data[2] | data[3] << 8);
    virtq_init(&q, VIRTQ_MAX_SIZE);
    q.size = shift > 8 ? (uint16_t)(3 << (shift - 8)) : (uint16_t)(1u << shift);
    q.ready = true;
    q.desc_addr = 0;
    q.avail_addr = 0x1000;
    q.used_addr = 0x2000;
    q.event_idx = (data[0] & 0x10) != 0;
    q.indirect = (data[0] & 0x20) != 0;
    if (virtq_activate(&q, &gm) != 0)
        goto devices;
    /* The driver's avail idx. */
    ram[0x1002] = data[1];
    ram[0x1003] = 0;

    for (int i = 0; i < 16; i++) {
        struct block_request req;
        int rc = virtq_pop_or_enable_notification(&q, &chain);

        if (rc <= 0)
            break;
        if (chain.n > q.size)
            __builtin_trap();
        for (uint16_t j = 0; j < chain.n; j++) {
            /* A translated buffer is wholly inside guest RAM. */
            const uint8_t *h = chain.bufs[j].hva;

            if (h && (h < ram || h + chain.bufs[j].len > ram + FUZZ_RAM))
                __builtin_trap();
            if (h && chain.bufs[j].len)
                (void)*(volatile const uint8_t *)(h + chain.bufs[j].len - 1);
        }
        if (block_request_parse(&gm, &chain, nsectors, &req) ==
                BLOCK_PARSE_OK &&
            (req.type == SQ_VIRTIO_BLK_T_IN ||
             req.type == SQ_VIRTIO_BLK_T_OUT) &&
            (req.data_len % 512 != 0 ||
             req.sector + req.data_len / 512 > nsectors))
            __builtin_trap();
        if (virtq_add_used(&q, chain.head, 0) != 0)
            __builtin_trap();
    }
    virtq_flush_used(&q);
    (void)virtq_should_notify(&q);
devices:
    run_device(block_transport(blk), ram, data, size, q.size);
    run_device(rng_transport(rng), ram, data, size, q.size);
    return 0;
}
