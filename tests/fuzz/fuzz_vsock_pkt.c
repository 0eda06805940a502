/*
 * fuzz_vsock_pkt.c: libFuzzer harness for the virtio-vsock device
 * (devices/virtio/vsock): hostile chains on the RX, TX and event queues,
 * every header the guest can write, and the muxer behind them with real
 * Unix sockets (listeners for host ports 0..3, an optional host client).
 *
 * Guest RAM is 64 KiB at GPA 0, followed by a PROT_NONE guard page, so any
 * access past guest RAM crashes. Input format:
 *   byte 0   bit 0: EVENT_IDX, bit 1: a host client sends
 *            "CONNECT <byte 5>\n", bit 2: send TRANSPORT_RESET, bit 3: a
 *            second round of notifications, bit 4: the host writes data on
 *            every accepted socket
 *   byte 1   RX avail idx the driver publishes
 *   byte 2   TX avail idx
 *   byte 3   event queue avail idx
 *   byte 4   log2 of the queue sizes (clamped to 0..9; 9 fails)
 *   byte 5   the port of the host client's CONNECT
 *   rest     copied to guest RAM from GPA 0: RX descriptors at 0x0, avail
 *            0x1000, used 0x2000; TX at 0x3000/0x4000/0x5000; event queue
 *            at 0x6000/0x7000/0x8000; packets anywhere.
 * Each input runs on a fresh device: TX, RX, backend and event queue
 * notifications, then a reset; the clock jumps 1 s per call so kill timers
 * fire. Accepted host sockets are closed after each input.
 */
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio/vsock/vsock.h"
#include "fuzz_virtio.h"
#include "obs/log.h"
#include "vmm/guest_mem.h"

#define FUZZ_RAM   0x10000ULL
#define N_LISTENER 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int listen_on(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd < 0)
        __builtin_trap();
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(fd, 1024) != 0)
        __builtin_trap();
    return fd;
}

static uint64_t fake_ns;

static uint64_t fake_clock(void *opaque)
{
    (void)opaque;
    return fake_ns;
}

/* Accept and close what the device connected to the port listeners; with
 * `talk`, write a little first. */
static void drain_listeners(const int *lfd, bool talk)
{
    for (int i = 0; i < N_LISTENER; i++) {
        int fd;

        while ((fd = accept4(lfd[i], NULL, NULL, SOCK_CLOEXEC)) >= 0) {
            if (talk && write(fd, "hello", 5) < 0) {
                /* the device may have gone */
            }
            close(fd);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *ram;
    static struct guest_mem gm;
    static char dir[64], uds[96];
    static int listen_fd, port_fd[N_LISTENER];
    struct vsock_params p = {0};
    struct vsock *v = NULL;
    struct virtio_mmio *t;
    uint32_t shift, feats = 0;
    uint8_t flags;
    int client = -1;

    if (!ram) {
        char path[128];

        ram = fuzz_guest_ram(FUZZ_RAM, &gm);
        log_set_level(LOG_OFF);
        /* The device writes to sockets this harness closes: EPIPE. */
        signal(SIGPIPE, SIG_IGN);
        snprintf(dir, sizeof(dir), "/tmp/squib-fuzz-vsock-XXXXXX");
        if (!mkdtemp(dir))
            __builtin_trap();
        snprintf(uds, sizeof(uds), "%s/v.sock", dir);
        listen_fd = listen_on(uds);
        for (int i = 0; i < N_LISTENER; i++) {
            snprintf(path, sizeof(path), "%s_%d", uds, i);
            port_fd[i] = listen_on(path);
        }
    }
    if (size < 6)
        return 0;
    flags = data[0];
    fake_ns += 1000000000ULL;
    p.guest_cid = 3;
    p.listen_fd = listen_fd;
    p.uds_path = uds;
    p.clock = fake_clock;
    if (vsock_new(&p, &v, NULL) != 0 ||
        vsock_attach(v, &gm, -1, 0xc0001000, NULL) != 0)
        __builtin_trap();
    t = vsock_transport(v);

    memset(ram, 0, FUZZ_RAM);
    memcpy(ram, data + 6, size - 6 < FUZZ_RAM ? size - 6 : FUZZ_RAM);
    ram[0x1002] = data[1];
    ram[0x1003] = 0;
    ram[0x4002] = data[2];
    ram[0x4003] = 0;
    ram[0x7002] = data[3];
    ram[0x7003] = 0;
    if (flags & 0x01)
        feats |= 1u << SQ_VIRTIO_F_RING_EVENT_IDX;
    shift = data[4] & 0x0f;
    if (shift > 9)
        shift = 9;
    reg(t, 0x70, 1);
    reg(t, 0x70, 3);
    reg(t, 0x24, 0);
    reg(t, 0x20, feats);
    reg(t, 0x24, 1);
    reg(t, 0x20, 1);
    reg(t, 0x70, 11);
    for (uint32_t q = 0; q < VSOCK_NUM_QUEUES; q++)
        setup_queue(t, q, 1u << shift);
    reg(t, 0x70, 15);

    if (flags & 0x02) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        char line[24];
        int n = snprintf(line, sizeof(line), "CONNECT %u\n", data[5]);

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", uds);
        client = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (client >= 0 &&
            connect(client, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
            write(client, line, (size_t)n) == n) {
            vsock_backend_event(v); /* accept */
            vsock_backend_event(v); /* read the line */
        }
    }
    virtio_mmio_notify(t, VSOCK_TX_INDEX);
    drain_listeners(port_fd, flags & 0x10);
    vsock_backend_event(v);
    virtio_mmio_notify(t, VSOCK_RX_INDEX);
    if (flags & 0x04)
        (void)vsock_send_transport_reset(v);
    if (flags & 0x08) {
        if (client >= 0 && write(client, "data", 4) < 0) {
            /* closed by the device */
        }
        vsock_backend_event(v);
        virtio_mmio_notify(t, VSOCK_TX_INDEX);
        virtio_mmio_notify(t, VSOCK_EVQ_INDEX);
        virtio_mmio_notify(t, VSOCK_RX_INDEX);
    }
    reg(t, 0x70, 0);
    vsock_backend_event(v); /* not active: must be harmless */
    vsock_free(v);
    if (client >= 0)
        close(client);
    drain_listeners(port_fd, false);
    return 0;
}
