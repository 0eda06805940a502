/*
 * fuzz_balloon.c: libFuzzer harness for the virtio balloon's rings
 * (devices/virtio/balloon): hostile inflate, deflate, stats, hinting and
 * reporting chains, with the timer and the API operations in between.
 *
 * Guest RAM is 64 KiB at GPA 0, followed by a PROT_NONE guard page, so any
 * access past guest RAM crashes. Input format:
 *   byte 0   bit 0: DEFLATE_ON_OOM, bit 1: stats queue, bit 2: hinting
 *            queue, bit 3: reporting queue, bit 4: acknowledge_on_stop,
 *            bit 5: start hinting before the queues run, bit 6: a second
 *            round after a stats tick, bit 7: change the stats period
 *   bytes 1-5  avail idx the driver publishes on queues 0..4
 *   byte 6   log2 of the queue sizes (clamped to 0..9; 9 fails)
 *   byte 7   the actual-pages byte the driver writes into config space
 *   rest     copied to guest RAM from GPA 0: queue i's descriptors at
 *            0x3000 * i, its avail ring 0x1000 later, its used ring 0x2000
 *            later; buffers anywhere (they may overlap the rings).
 * A fresh device runs each input: every queue notified, a stats tick, the
 * API operations, then a reset.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/virtio/balloon.h"
#include "fuzz_virtio.h"
#include "obs/log.h"
#include "vmm/guest_mem.h"

#define FUZZ_RAM 0x10000ULL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void notify_all(struct virtio_mmio *t, uint16_t nq)
{
    for (uint16_t q = 0; q < nq; q++)
        virtio_mmio_notify(t, q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *ram;
    static struct guest_mem gm;
    struct balloon_params p = {0};
    struct balloon_dev_stats st;
    struct balloon_dev_hinting h;
    struct balloon *b = NULL;
    struct virtio_mmio *t;
    uint32_t feats = 0, shift;
    uint16_t nq = 2;
    uint8_t flags;

    if (!ram) {
        ram = fuzz_guest_ram(FUZZ_RAM, &gm);
        log_set_level(LOG_OFF);
    }
    if (size < 8)
        return 0;
    flags = data[0];
    p.amount_mib = 0;
    p.deflate_on_oom = flags & 0x01;
    p.stats_polling_interval_s = (flags & 0x02) ? 1 : 0;
    p.free_page_hinting = flags & 0x04;
    p.free_page_reporting = flags & 0x08;
    if (balloon_new(&p, &b, NULL) != 0 ||
        balloon_attach(b, &gm, -1, 0xc0001000, NULL) != 0)
        __builtin_trap();
    t = balloon_transport(b);
    nq = (uint16_t)(2 + !!(flags & 0x02) + !!(flags & 0x04) + !!(flags & 0x08));

    memset(ram, 0, FUZZ_RAM);
    memcpy(ram, data + 8, size - 8 < FUZZ_RAM ? size - 8 : FUZZ_RAM);
    for (uint16_t q = 0; q < nq; q++) {
        ram[0x3000 * q + 0x1002] = data[1 + q];
        ram[0x3000 * q + 0x1003] = 0;
    }
    if (flags & 0x02)
        feats |= 1u << SQ_VIRTIO_BALLOON_F_STATS_VQ;
    if (flags & 0x04)
        feats |= 1u << SQ_VIRTIO_BALLOON_F_FREE_PAGE_HINT;
    if (flags & 0x08)
        feats |= 1u << SQ_VIRTIO_BALLOON_F_PAGE_REPORTING;
    shift = data[6] & 0x0f;
    if (shift > 9)
        shift = 9;
    reg(t, 0x70, 1);
    reg(t, 0x70, 3);
    reg(t, 0x24, 0);
    reg(t, 0x20, feats);
    reg(t, 0x24, 1);
    reg(t, 0x20, 1);
    reg(t, 0x70, 11);
    for (uint16_t q = 0; q < nq; q++)
        setup_queue(t, q, 1u << shift);
    reg(t, 0x70, 15);
    reg(t, VIRTIO_MMIO_CONFIG + 4, data[7]);
    if (flags & 0x20)
        balloon_start_hinting(b, flags & 0x10, NULL);
    notify_all(t, nq);
    balloon_stats_timer_event(b);
    if (flags & 0x40)
        notify_all(t, nq);
    if (flags & 0x80)
        balloon_update_stats_interval(b, 2, NULL);
    balloon_update_size(b, data[7] & 0x7f, NULL);
    balloon_get_stats(b, &st, NULL);
    balloon_hinting_status(b, &h, NULL);
    balloon_stop_hinting(b, NULL);
    notify_all(t, nq);
    reg(t, 0x70, 0);
    balloon_free(b);
    return 0;
}
