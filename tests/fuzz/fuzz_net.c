/*
 * fuzz_net.c: libFuzzer harness for the virtio-net device's two rings
 * (devices/virtio/net): hostile RX and TX chains, with frames waiting on
 * the TAP side and the detour hooks set.
 *
 * Guest RAM is 64 KiB at GPA 0, followed by a PROT_NONE guard page, so any
 * access past guest RAM crashes. Input format:
 *   byte 0   bit 0: MRG_RXBUF, bit 1: EVENT_IDX, bit 2: GUEST_TSO4,
 *            bit 3: the detour takes every frame, bit 4: detour_rx has a
 *            frame, bits 5-7: frames (0..7) waiting on the TAP
 *   byte 1   RX avail idx the driver publishes
 *   byte 2   TX avail idx the driver publishes
 *   byte 3   log2 of both queue sizes (clamped to 0..9; 9 fails)
 *   rest     copied to guest RAM from GPA 0: RX descriptors at 0x0, avail
 *            0x1000, used 0x2000; TX descriptors at 0x3000, avail 0x4000,
 *            used 0x5000; buffers anywhere (they may overlap).
 * A fresh device on a fresh socketpair runs each input: RX and TX
 * notifications, a TAP event, both limiters' events, then a reset.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio/net.h"
#include "fuzz_virtio.h"
#include "obs/log.h"
#include "vmm/guest_mem.h"

#define FUZZ_RAM 0x10000ULL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int no_offload(int fd, unsigned flags)
{
    (void)fd;
    (void)flags;
    return 0;
}

static bool take_all(void *opaque, const uint8_t *hdr, size_t len)
{
    (void)hdr;
    (void)len;
    return *(const uint8_t *)opaque & 0x08;
}

static bool detour(void *opaque, const uint8_t *frame, size_t len)
{
    (void)opaque;
    /* Touch every byte, as a parser would. */
    volatile uint8_t sum = 0;

    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + frame[i]);
    return true;
}

static size_t detour_rx(void *opaque, uint8_t *buf, size_t cap)
{
    uint8_t *flags = opaque;

    if (!(*flags & 0x10) || cap < 60)
        return 0;
    *flags &= (uint8_t)~0x10; /* one frame */
    memset(buf, 0xab, 60);
    return 60;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *ram;
    static struct guest_mem gm;
    static const struct rate_limiter_params rl = {.has_bandwidth = true,
                                                  .bandwidth = {4096, 0, 100}};
    static uint8_t frame[1600];
    uint8_t flags;
    struct net_params p = {0};
    struct net *n = NULL;
    struct virtio_mmio *t;
    uint32_t feats = 0, shift;
    int sv[2];

    if (!ram) {
        ram = fuzz_guest_ram(FUZZ_RAM, &gm);
        log_set_level(LOG_OFF);
    }
    if (size < 4)
        return 0;
    flags = data[0];
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) !=
        0)
        __builtin_trap();
    p.iface_id = "fuzz";
    p.tap_fd = sv[0];
    p.set_offload = no_offload;
    p.tx_rl = &rl;
    p.detour_opaque = &flags;
    p.detour_match = take_all;
    p.detour = detour;
    p.detour_rx = detour_rx;
    if (net_new(&p, &n, NULL) != 0 ||
        net_attach(n, &gm, -1, 0xc0001000, NULL) != 0)
        __builtin_trap();
    close(sv[0]);
    t = net_transport(n);

    memset(ram, 0, FUZZ_RAM);
    memcpy(ram, data + 4, size - 4 < FUZZ_RAM ? size - 4 : FUZZ_RAM);
    ram[0x1002] = data[1];
    ram[0x1003] = 0;
    ram[0x4002] = data[2];
    ram[0x4003] = 0;
    for (unsigned i = 0; i < (unsigned)(flags >> 5); i++) {
        size_t len = 12 + (size_t)(data[3] + i * 97) % (sizeof(frame) - 12);

        memset(frame, (int)i, len);
        if (send(sv[1], frame, len, 0) < 0)
            break;
    }
    if (flags & 0x01)
        feats |= 1u << SQ_VIRTIO_NET_F_MRG_RXBUF;
    if (flags & 0x02)
        feats |= 1u << SQ_VIRTIO_F_RING_EVENT_IDX;
    if (flags & 0x04)
        feats |= 1u << SQ_VIRTIO_NET_F_GUEST_TSO4;
    shift = data[3] & 0x0f;
    if (shift > 9)
        shift = 9;
    reg(t, 0x70, 1);
    reg(t, 0x70, 3);
    reg(t, 0x24, 0);
    reg(t, 0x20, feats);
    reg(t, 0x24, 1);
    reg(t, 0x20, 1);
    reg(t, 0x70, 11);
    setup_queue(t, 0, 1u << shift);
    setup_queue(t, 1, 1u << shift);
    reg(t, 0x70, 15);
    virtio_mmio_notify(t, NET_RX_INDEX);
    virtio_mmio_notify(t, NET_TX_INDEX);
    net_tap_event(n);
    net_rx_rate_limiter_event(n);
    net_tx_rate_limiter_event(n);
    virtio_mmio_notify(t, NET_RX_INDEX);
    reg(t, 0x70, 0);
    net_free(n);
    close(sv[1]);
    return 0;
}
