/*
 * net.c: virtio network device (net.h), upstream's Net in C.
 *
 * RX state (upstream's RxBuffers), all guarded by the transport lock:
 *
 *   rx_chains[0..rx_n_chains)  RX chains popped and parsed, oldest first,
 *                              each with its buffers' iovecs in rx_iov[]
 *                              (in the same order) and its total length;
 *                              rx_capacity is the sum of those lengths.
 *   rx_used[0..rx_n_used)      used-ring entries written by the device but
 *                              not yet given to the guest: chains that
 *                              could not be parsed (0 bytes) and the
 *                              chains of the frame last read.
 *   rx_used_bytes              != 0 while that frame waits for the RX
 *                              limiter (the "deferred" frame).
 *
 *   read_frame():   readv into rx_iov -> mark_used(): rx_used += chains
 *                   that hold the frame, num_buffers set, chains dropped
 *   finish_frame(): rx_used -> virtq_add_used(), once the limiter paid
 *
 * Nothing reads from the TAP while fewer than NET_MAX_BUFFER_SIZE bytes
 * of buffers are parsed, so readv() never truncates a frame.
 */
#include "devices/virtio/net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "devices/virtio/tap.h"
#include "devices/virtio/virtio_dev.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "util/time.h"
#include "util/xalloc.h"

/* Ethernet header (14) + an ARP frame for IPv4 (28): what upstream reads
 * of a TX frame to decide whether the MMDS wants it. */
#define FRAME_HEADER_MAX_LEN 42u
#define NUM_BUFFERS_OFF      10u /* virtio_net_hdr_v1.num_buffers */
#define ETH_HDR_LEN          14u

struct rx_chain {
    uint16_t head;
    uint16_t n_iov;
    uint32_t len;
};

struct rx_used {
    uint16_t head;
    uint32_t len;
};

struct net {
    struct virtio_mmio t;
    int tap_fd;          /* owned; -1 if closed */
    struct net_params p; /* hooks and MAC; iface_id not kept */
    uint8_t config[NET_CONFIG_LEN];
    struct rate_limiter rx_rl, tx_rl;
    struct evloop_handler rx_rl_h, tx_rl_h, tap_h;
    bool tap_on_loop;
    struct metrics_net *m;
    struct virtq_chain chain; /* scratch */

    /* TX scratch. */
    struct iovec tx_iov[VIRTQ_CHAIN_MAX];
    uint8_t tx_hdr[NET_VNET_HDR_LEN + FRAME_HEADER_MAX_LEN];
    uint8_t *tx_frame; /* owned; NET_MAX_BUFFER_SIZE, only with detour */

    /* RX (see the top of the file). */
    uint32_t rx_min_buf;
    struct rx_chain rx_chains[NET_QUEUE_SIZE];
    uint16_t rx_n_chains;
    struct iovec rx_iov[NET_QUEUE_SIZE];
    uint16_t rx_n_iov;
    uint32_t rx_capacity;
    struct rx_used rx_used[NET_QUEUE_SIZE];
    uint16_t rx_n_used;
    uint32_t rx_used_bytes;
    uint8_t *rx_frame; /* owned; NET_MAX_BUFFER_SIZE, only with detour_rx */
};

/* Copy up to `len` bytes at offset `off` of an iovec array into `dst`.
 * Returns the count copied. */
static size_t iov_read(const struct iovec *iov, size_t n, size_t off,
                       uint8_t *dst, size_t len)
{
    size_t done = 0;

    for (size_t i = 0; i < n && done < len; i++) {
        size_t l = iov[i].iov_len, take;

        if (off >= l) {
            off -= l;
            continue;
        }
        take = l - off < len - done ? l - off : len - done;
        memcpy(dst + done, (const uint8_t *)iov[i].iov_base + off, take);
        done += take;
        off = 0;
    }
    return done;
}

/* The reverse of iov_read(). */
static size_t iov_write(const struct iovec *iov, size_t n, size_t off,
                        const uint8_t *src, size_t len)
{
    size_t done = 0;

    for (size_t i = 0; i < n && done < len; i++) {
        size_t l = iov[i].iov_len, take;

        if (off >= l) {
            off -= l;
            continue;
        }
        take = l - off < len - done ? l - off : len - done;
        memcpy((uint8_t *)iov[i].iov_base + off, src + done, take);
        done += take;
        off = 0;
    }
    return done;
}

static bool consume_op(struct rate_limiter *rl, uint64_t bytes)
{
    if (!rate_limiter_consume(rl, 1, RL_TOKEN_OPS))
        return false;
    if (!rate_limiter_consume(rl, bytes, RL_TOKEN_BYTES)) {
        rate_limiter_replenish(rl, 1, RL_TOKEN_OPS);
        return false;
    }
    return true;
}

static void replenish_op(struct rate_limiter *rl, uint64_t bytes)
{
    rate_limiter_replenish(rl, 1, RL_TOKEN_OPS);
    rate_limiter_replenish(rl, bytes, RL_TOKEN_BYTES);
}

static bool has_feature(const struct net *n, unsigned bit)
{
    return virtio_mmio_has_feature(&n->t, bit);
}

/* The driver corrupted a ring (-EPROTO from the queue). */
static void ring_broken(struct net *n, const char *which)
{
    log_error_rl("net: the driver corrupted the %s available ring; the "
                 "device needs a reset",
                 which);
    metrics_counter_inc(&n->m->event_fails);
    virtio_mmio_set_needs_reset(&n->t);
}

/* Publish the used entries added so far and interrupt if the driver wants
 * it (upstream's try_signal_queue). */
static void signal_queue(struct net *n, uint16_t qi)
{
    struct virtq *q = &n->t.queues[qi];
    bool added = q->num_added > 0;

    virtq_flush_used(q);
    if (added && virtq_should_notify(q) && virtio_mmio_signal_used(&n->t) < 0)
        metrics_counter_inc(&n->m->event_fails);
}

/* ---- RX ---------------------------------------------------------------- */

static void rx_clear(struct net *n)
{
    n->rx_n_chains = 0;
    n->rx_n_iov = 0;
    n->rx_capacity = 0;
    n->rx_n_used = 0;
    n->rx_used_bytes = 0;
}

/* Why an RX chain cannot hold frames; NULL if it can (and then *len). */
static const char *rx_chain_check(const struct net *n,
                                  const struct virtq_chain *c, uint32_t *len)
{
    uint32_t total = 0;

    if (c->err != VIRTQ_CHAIN_OK)
        return "malformed descriptor chain";
    for (uint16_t i = 0; i < c->n; i++) {
        if (!c->bufs[i].is_write)
            return "read-only descriptor";
        if (!c->bufs[i].hva && c->bufs[i].len)
            return "buffer outside guest memory";
        if (__builtin_add_overflow(total, c->bufs[i].len, &total))
            return "descriptor lengths overflow";
    }
    if (total < n->rx_min_buf)
        return "buffer too small";
    *len = total;
    return NULL;
}

/*
 * Upstream's parse_rx_descriptors: pop every RX chain the driver made
 * available into rx_chains; a chain that cannot take frames becomes a
 * 0-byte used entry given back with the next frame. 0, or -EPROTO.
 */
static int rx_parse(struct net *n)
{
    struct virtq *q = &n->t.queues[NET_RX_INDEX];

    for (;;) {
        const struct virtq_chain *c = &n->chain;
        const char *why;
        uint32_t len = 0;
        int rc;

        /* Room for one more chain in every array: each chain in flight is
         * a distinct popped head, so this only stops a driver that
         * republishes heads it was not given back. */
        if (n->rx_n_chains + n->rx_n_used >= NET_QUEUE_SIZE)
            break;
        rc = virtq_pop_or_enable_notification(q, &n->chain);
        if (rc <= 0)
            return rc;
        if (n->rx_n_iov + c->n > NET_QUEUE_SIZE) {
            /* Upstream's IovDequeOverflow: stop, retry later. */
            log_error_rl("net: Could not add an RX descriptor: too many "
                         "buffers");
            metrics_counter_inc(&n->m->rx_fails);
            virtq_undo_pop(q);
            break;
        }
        why = rx_chain_check(n, c, &len);
        if (why) {
            log_error_rl("net: Could not parse an RX descriptor: %s", why);
            metrics_counter_inc(&n->m->rx_fails);
            n->rx_used[n->rx_n_used++] = (struct rx_used){c->head, 0};
            continue;
        }
        for (uint16_t i = 0; i < c->n; i++)
            n->rx_iov[n->rx_n_iov++] =
                (struct iovec){c->bufs[i].hva, c->bufs[i].len};
        n->rx_chains[n->rx_n_chains++] = (struct rx_chain){c->head, c->n, len};
        n->rx_capacity += len;
    }
    return 0;
}

/*
 * Upstream's mark_used: the frame of `bytes` now sits at the start of
 * rx_iov. Queue a used entry for each chain it covers, write num_buffers
 * and drop those chains.
 */
static void rx_mark_used(struct net *n, uint32_t bytes)
{
    uint32_t left = bytes, cap = 0;
    uint16_t heads = 0, iovs = 0;
    uint8_t nb[2];

    /* The frame went into guest memory (readv or the MMDS's copy). */
    guest_mem_mark_dirty_iov(n->t.gm, n->rx_iov, n->rx_n_iov, bytes);
    n->rx_used_bytes = bytes;
    while (heads < n->rx_n_chains) {
        const struct rx_chain *c = &n->rx_chains[heads];
        uint32_t used = left < c->len ? left : c->len;

        n->rx_used[n->rx_n_used++] = (struct rx_used){c->head, used};
        left -= used;
        iovs = (uint16_t)(iovs + c->n_iov);
        cap += c->len;
        heads++;
        if (left == 0)
            break;
    }
    nb[0] = (uint8_t)heads;
    nb[1] = (uint8_t)(heads >> 8);
    iov_write(n->rx_iov, n->rx_n_iov, NUM_BUFFERS_OFF, nb, sizeof(nb));
    memmove(n->rx_chains, n->rx_chains + heads,
            (size_t)(n->rx_n_chains - heads) * sizeof(n->rx_chains[0]));
    n->rx_n_chains = (uint16_t)(n->rx_n_chains - heads);
    memmove(n->rx_iov, n->rx_iov + iovs,
            (size_t)(n->rx_n_iov - iovs) * sizeof(n->rx_iov[0]));
    n->rx_n_iov = (uint16_t)(n->rx_n_iov - iovs);
    n->rx_capacity -= cap;
}

/* Give the guest the used entries queued so far (upstream's
 * finish_frame). */
static void rx_finish_frame(struct net *n)
{
    struct virtq *q = &n->t.queues[NET_RX_INDEX];

    for (uint16_t i = 0; i < n->rx_n_used; i++)
        if (virtq_add_used(q, n->rx_used[i].head, n->rx_used[i].len) < 0)
            metrics_counter_inc(&n->m->rx_fails); /* can't: head < size */
    n->rx_n_used = 0;
    n->rx_used_bytes = 0;
}

static bool rx_rate_limited_finish(struct net *n, uint32_t bytes)
{
    if (!consume_op(&n->rx_rl, bytes)) {
        metrics_counter_inc(&n->m->rx_rate_limiter_throttled);
        return false;
    }
    rx_finish_frame(n);
    return true;
}

/*
 * Upstream's read_from_mmds_or_tap: 1 with *len when a frame was written
 * to guest memory, 0 if the driver has too few buffers, -EAGAIN if the
 * TAP is empty, -EPROTO for a corrupt ring, another -errno if the read
 * failed.
 */
static int rx_read_frame(struct net *n, uint32_t *len)
{
    ssize_t got;
    int rc;

    if (n->rx_capacity < NET_MAX_BUFFER_SIZE) {
        rc = rx_parse(n);
        if (rc < 0)
            return rc;
        if (n->rx_capacity < NET_MAX_BUFFER_SIZE)
            return 0;
    }
    if (n->p.detour_rx) {
        size_t cap = NET_MAX_BUFFER_SIZE - NET_VNET_HDR_LEN;
        size_t l = n->p.detour_rx(n->p.detour_opaque,
                                  n->rx_frame + NET_VNET_HDR_LEN, cap);

        if (l > 0) {
            if (l > cap)
                l = cap; /* a buggy hook must not overflow */
            memset(n->rx_frame, 0, NET_VNET_HDR_LEN);
            l += NET_VNET_HDR_LEN;
            iov_write(n->rx_iov, n->rx_n_iov, 0, n->rx_frame, l);
            *len = (uint32_t)l;
            rx_mark_used(n, *len);
            return 1;
        }
    }
    got = readv(n->tap_fd, n->rx_iov,
                has_feature(n, SQ_VIRTIO_NET_F_MRG_RXBUF)
                    ? n->rx_n_iov
                    : n->rx_chains[0].n_iov);
    if (got < 0)
        return -errno;
    *len = (uint32_t)got; /* <= rx_capacity */
    rx_mark_used(n, *len);
    return 1;
}

/* Upstream's process_rx. */
static void process_rx(struct net *n)
{
    for (;;) {
        uint32_t len = 0;
        int rc = rx_read_frame(n, &len);

        if (rc == 0) {
            metrics_counter_inc(&n->m->no_rx_avail_buffer);
            break;
        }
        if (rc == 1) {
            metrics_counter_inc(&n->m->rx_count);
            metrics_counter_add(&n->m->rx_bytes_count, len);
            metrics_counter_inc(&n->m->rx_packets_count);
            if (!rx_rate_limited_finish(n, len))
                break;
            continue;
        }
        if (rc == -EPROTO) {
            ring_broken(n, "RX");
            return;
        }
        if (rc != -EAGAIN && rc != -EWOULDBLOCK) {
            log_error_rl("net: Failed to read tap: errno %d", -rc);
            metrics_counter_inc(&n->m->tap_read_fails);
            metrics_counter_inc(&n->m->event_fails);
        }
        break;
    }
    signal_queue(n, NET_RX_INDEX);
}

/* Upstream's resume_rx: a deferred frame first. */
static void resume_rx(struct net *n)
{
    if (n->rx_used_bytes != 0 && !rx_rate_limited_finish(n, n->rx_used_bytes))
        return;
    process_rx(n);
}

/* ---- TX ---------------------------------------------------------------- */

/* Why a TX chain cannot be sent; NULL if it can (iovecs in tx_iov). */
static const char *tx_load(struct net *n, const struct virtq_chain *c,
                           uint32_t *len)
{
    uint32_t total = 0;

    if (c->err != VIRTQ_CHAIN_OK)
        return "malformed descriptor chain";
    for (uint16_t i = 0; i < c->n; i++) {
        if (c->bufs[i].is_write)
            return "write-only descriptor";
        if (!c->bufs[i].hva && c->bufs[i].len)
            return "buffer outside guest memory";
        if (__builtin_add_overflow(total, c->bufs[i].len, &total))
            return "descriptor lengths overflow";
        n->tx_iov[i] = (struct iovec){c->bufs[i].hva, c->bufs[i].len};
    }
    *len = total;
    return NULL;
}

/*
 * Upstream's write_to_mmds_or_tap for the frame in tx_iov[0..niov).
 * Returns true if the detour consumed it.
 */
static bool tx_send(struct net *n, size_t niov, uint32_t len)
{
    size_t hdr_len = iov_read(n->tx_iov, niov, 0, n->tx_hdr, sizeof(n->tx_hdr));
    const uint8_t *eth = n->tx_hdr + NET_VNET_HDR_LEN;
    uint64_t t0;
    ssize_t w;

    if (hdr_len < NET_VNET_HDR_LEN) {
        log_error_rl("VNET headers missing in TX frame");
        metrics_counter_inc(&n->m->tx_malformed_frames);
        return false;
    }
    hdr_len -= NET_VNET_HDR_LEN;
    if (n->p.detour && (!n->p.detour_match ||
                        n->p.detour_match(n->p.detour_opaque, eth, hdr_len))) {
        size_t fl = len - NET_VNET_HDR_LEN;
        bool taken;

        iov_read(n->tx_iov, niov, NET_VNET_HDR_LEN, n->tx_frame, fl);
        taken = n->p.detour(n->p.detour_opaque, n->tx_frame, fl);
        /* With a match hook the frame is the detour's whatever it made of
         * it (upstream ignores detour_frame's result). */
        if (taken || n->p.detour_match) {
            replenish_op(&n->tx_rl, len); /* not charged (upstream) */
            return true;
        }
    }
    if (n->p.has_mac && hdr_len >= ETH_HDR_LEN &&
        memcmp(eth + 6, n->p.mac, 6) != 0)
        metrics_counter_inc(&n->m->tx_spoofed_mac_count);
    t0 = time_mono_us();
    w = writev(n->tap_fd, n->tx_iov, (int)niov);
    metrics_latency_record(&n->m->tap_write_agg, time_mono_us() - t0);
    if (w < 0) {
        log_error_rl("net: Failed to write to tap: errno %d", errno);
        metrics_counter_inc(&n->m->tap_write_fails);
    } else {
        metrics_counter_add(&n->m->tx_bytes_count, len);
        metrics_counter_inc(&n->m->tx_packets_count);
        metrics_counter_inc(&n->m->tx_count);
    }
    return false;
}

/* Upstream's process_tx. */
static void process_tx(struct net *n)
{
    struct virtq *q = &n->t.queues[NET_TX_INDEX];
    bool used_any = false, rx_for_detour = false;

    for (;;) {
        const char *why;
        uint32_t len = 0;
        int rc = virtq_pop_or_enable_notification(q, &n->chain);

        if (rc < 0) {
            ring_broken(n, "TX");
            return;
        }
        if (rc == 0)
            break;
        metrics_counter_add(&n->m->tx_remaining_reqs_count, virtq_pending(q));
        why = tx_load(n, &n->chain, &len);
        if (why) {
            log_error_rl("net: Could not parse a TX descriptor: %s", why);
            metrics_counter_inc(&n->m->tx_fails);
        } else if (len > NET_MAX_BUFFER_SIZE) {
            log_error_rl("net: received too big frame from driver");
            metrics_counter_inc(&n->m->tx_malformed_frames);
        } else if (!consume_op(&n->tx_rl, len)) {
            virtq_undo_pop(q);
            metrics_counter_inc(&n->m->tx_rate_limiter_throttled);
            break;
        } else if (tx_send(n, n->chain.n, len) && n->rx_used_bytes == 0) {
            rx_for_detour = true;
        }
        if (virtq_add_used(q, n->chain.head, 0) < 0)
            break; /* can't: head < size */
        used_any = true;
    }
    if (!used_any)
        metrics_counter_inc(&n->m->no_tx_avail_buffer);
    signal_queue(n, NET_TX_INDEX);
    /* The detour may have an answer for the guest already. */
    if (rx_for_detour)
        process_rx(n);
}

/* ---- Transport callbacks ----------------------------------------------- */

static void net_read_config(void *dev, uint64_t off, uint8_t *data,
                            uint32_t len)
{
    struct net *n = dev;

    for (uint32_t i = 0; i < len; i++)
        data[i] = off + i < sizeof(n->config) ? n->config[off + i] : 0;
}

static void net_write_config(void *dev, uint64_t off, const uint8_t *data,
                             uint32_t len)
{
    struct net *n = dev;

    (void)data;
    metrics_counter_inc(&n->m->cfg_fails);
    log_warn_rl("virtio-net: guest driver attempted to write device config "
                "(offset=%#llx, len=%#x)",
                (unsigned long long)off, len);
}

unsigned net_tap_offload_flags(uint64_t acked)
{
    unsigned f = 0;

    if (acked & (1ULL << SQ_VIRTIO_NET_F_GUEST_CSUM))
        f |= TUN_F_CSUM;
    if (acked & (1ULL << SQ_VIRTIO_NET_F_GUEST_UFO))
        f |= TUN_F_UFO;
    if (acked & (1ULL << SQ_VIRTIO_NET_F_GUEST_TSO4))
        f |= TUN_F_TSO4;
    if (acked & (1ULL << SQ_VIRTIO_NET_F_GUEST_TSO6))
        f |= TUN_F_TSO6;
    return f;
}

/* Upstream's minimum_rx_buffer_size. */
static uint32_t min_rx_buffer(const struct net *n)
{
    if (has_feature(n, SQ_VIRTIO_NET_F_MRG_RXBUF))
        return NET_VNET_HDR_LEN;
    if (has_feature(n, SQ_VIRTIO_NET_F_GUEST_TSO4) ||
        has_feature(n, SQ_VIRTIO_NET_F_GUEST_TSO6) ||
        has_feature(n, SQ_VIRTIO_NET_F_GUEST_UFO))
        return NET_MAX_BUFFER_SIZE;
    return 1526; /* 1500 + Ethernet header + vnet header (upstream) */
}

static int net_activate(void *dev)
{
    struct net *n = dev;
    net_set_offload_fn *fn =
        n->p.set_offload ? n->p.set_offload : tap_set_offload;
    int rc = fn(n->tap_fd, net_tap_offload_flags(n->t.acked_features));

    if (rc < 0) {
        log_error_rl("net: Error while setting the offload flags: errno %d",
                     -rc);
        metrics_counter_inc(&n->m->activate_fails);
        return rc;
    }
    rx_clear(n);
    n->rx_min_buf = min_rx_buffer(n);
    return 0;
}

static bool net_reset(void *dev)
{
    rx_clear(dev);
    return true;
}

static void net_queue_notify(void *dev, uint16_t qi)
{
    struct net *n = dev;

    if (qi == NET_RX_INDEX) {
        metrics_counter_inc(&n->m->rx_queue_event_count);
        if (rx_parse(n) < 0) {
            ring_broken(n, "RX");
            return;
        }
        if (rate_limiter_is_blocked(&n->rx_rl))
            metrics_counter_inc(&n->m->rx_rate_limiter_throttled);
        else
            resume_rx(n);
    } else if (qi == NET_TX_INDEX) {
        metrics_counter_inc(&n->m->tx_queue_event_count);
        if (rate_limiter_is_blocked(&n->tx_rl))
            metrics_counter_inc(&n->m->tx_rate_limiter_throttled);
        else
            process_tx(n);
    }
}

static const struct virtio_dev_ops net_ops = {
    .device_type = SQ_VIRTIO_ID_NET,
    .read_config = net_read_config,
    .write_config = net_write_config,
    .activate = net_activate,
    .reset = net_reset,
    .queue_notify = net_queue_notify,
};

/* ---- Loop events ------------------------------------------------------- */

void net_tap_event(struct net *n)
{
    bus_dev_lock(&n->t.bus);
    metrics_counter_inc(&n->m->rx_tap_event_count);
    if (!n->t.activated) {
        /* Nothing to deliver to; the edge is lost, and the first RX
         * queue notification after activation reads what is waiting. */
    } else if (rate_limiter_is_blocked(&n->rx_rl)) {
        metrics_counter_inc(&n->m->rx_rate_limiter_throttled);
    } else {
        resume_rx(n);
    }
    bus_dev_unlock(&n->t.bus);
}

void net_rx_rate_limiter_event(struct net *n)
{
    bus_dev_lock(&n->t.bus);
    metrics_counter_inc(&n->m->rx_event_rate_limiter_count);
    if (rate_limiter_timer_event(&n->rx_rl) < 0) {
        log_error_rl("net: Failed to get rx rate-limiter event");
        metrics_counter_inc(&n->m->event_fails);
    } else if (n->t.activated) {
        resume_rx(n);
    }
    bus_dev_unlock(&n->t.bus);
}

void net_tx_rate_limiter_event(struct net *n)
{
    bus_dev_lock(&n->t.bus);
    metrics_counter_inc(&n->m->tx_rate_limiter_event_count);
    if (rate_limiter_timer_event(&n->tx_rl) < 0) {
        log_error_rl("net: Failed to get tx rate-limiter event");
        metrics_counter_inc(&n->m->event_fails);
    } else if (n->t.activated) {
        process_tx(n);
    }
    bus_dev_unlock(&n->t.bus);
}

static void on_tap(struct evloop *loop, struct evloop_handler *h,
                   uint32_t events)
{
    (void)loop;
    (void)events;
    net_tap_event(h->opaque);
}

static void on_rx_rl(struct evloop *loop, struct evloop_handler *h,
                     uint32_t events)
{
    (void)loop;
    (void)events;
    net_rx_rate_limiter_event(h->opaque);
}

static void on_tx_rl(struct evloop *loop, struct evloop_handler *h,
                     uint32_t events)
{
    (void)loop;
    (void)events;
    net_tx_rate_limiter_event(h->opaque);
}

/* ---- Lifecycle --------------------------------------------------------- */

int net_new(const struct net_params *p, struct net **out, struct sq_err *err)
{
    static const uint16_t sizes[2] = {NET_QUEUE_SIZE, NET_QUEUE_SIZE};
    uint64_t features =
        1ULL << SQ_VIRTIO_NET_F_GUEST_CSUM | 1ULL << SQ_VIRTIO_NET_F_CSUM |
        1ULL << SQ_VIRTIO_NET_F_GUEST_TSO4 |
        1ULL << SQ_VIRTIO_NET_F_GUEST_TSO6 | 1ULL << SQ_VIRTIO_NET_F_GUEST_UFO |
        1ULL << SQ_VIRTIO_NET_F_HOST_TSO4 | 1ULL << SQ_VIRTIO_NET_F_HOST_TSO6 |
        1ULL << SQ_VIRTIO_NET_F_HOST_UFO | 1ULL << SQ_VIRTIO_NET_F_MRG_RXBUF |
        1ULL << SQ_VIRTIO_F_RING_EVENT_IDX;
    struct net *n;
    char os[128];
    int rc;

    if (p->has_mtu && p->mtu < NET_MIN_MTU)
        return sq_errf(err, -EINVAL, "Invalid MTU: %u", (unsigned)p->mtu);
    if (p->tap_fd < 0)
        return sq_errf(err, -EBADF, "net: no TAP file descriptor");
    n = xcalloc(1, sizeof(*n));
    n->t.irq_fd = -1;
    for (size_t i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
        n->t.queue_fd[i] = -1;
    n->rx_rl.timer_fd = -1;
    n->tx_rl.timer_fd = -1;
    n->tap_fd = fcntl(p->tap_fd, F_DUPFD_CLOEXEC, 0);
    if (n->tap_fd < 0) {
        rc = sq_errf(err, -errno, "Open tap device failed: %s",
                     sq_os_error(errno, os, sizeof(os)));
        goto fail;
    }
    n->p = *p;
    n->p.iface_id = NULL;
    n->p.rx_rl = NULL;
    n->p.tx_rl = NULL;
    if (p->has_mtu) {
        features |= 1ULL << SQ_VIRTIO_NET_F_MTU;
        n->config[10] = (uint8_t)p->mtu;
        n->config[11] = (uint8_t)(p->mtu >> 8);
    }
    if (p->has_mac) {
        features |= 1ULL << SQ_VIRTIO_NET_F_MAC;
        memcpy(n->config, p->mac, 6);
    }
    rc = rate_limiter_init(&n->rx_rl, p->rx_rl);
    if (rc == 0)
        rc = rate_limiter_init(&n->tx_rl, p->tx_rl);
    if (rc < 0) {
        sq_errf(err, rc, "Error creating the rate limiter: %s",
                sq_os_error(-rc, os, sizeof(os)));
        goto fail;
    }
    rc = virtio_mmio_init(&n->t, "virtio-net", &net_ops, n, features, 2, sizes);
    if (rc < 0) {
        sq_errf(err, rc, "Error while handling an Event file descriptor: %s",
                sq_os_error(-rc, os, sizeof(os)));
        goto fail;
    }
    if (p->detour)
        n->tx_frame = xmalloc(NET_MAX_BUFFER_SIZE);
    if (p->detour_rx)
        n->rx_frame = xmalloc(NET_MAX_BUFFER_SIZE);
    n->m = metrics_net_get(p->iface_id ? p->iface_id : "");
    *out = n;
    return 0;
fail:
    net_free(n);
    return rc;
}

int net_attach(struct net *n, const struct guest_mem *gm, int vm_fd,
               uint64_t addr, struct evloop *loop)
{
    struct evloop_handler *hs[] = {&n->rx_rl_h, &n->tx_rl_h};
    int rc;

    n->rx_rl_h = (struct evloop_handler){n->rx_rl.timer_fd, on_rx_rl, n};
    n->tx_rl_h = (struct evloop_handler){n->tx_rl.timer_fd, on_tx_rl, n};
    n->tap_h = (struct evloop_handler){n->tap_fd, on_tap, n};
    rc = virtio_dev_attach(&n->t, gm, vm_fd, addr, loop, hs, 2);
    if (rc < 0 || !loop)
        return rc;
    /* Edge-triggered, as upstream: with no RX buffers the device leaves
     * the frames in the TAP and is not woken again until new data comes
     * or the driver adds buffers (an RX queue notification). */
    rc = evloop_add(loop, &n->tap_h, EPOLLIN | EPOLLET);
    if (rc < 0) {
        virtio_dev_detach(&n->t, hs, 2);
        return rc;
    }
    n->tap_on_loop = true;
    return 0;
}

void net_detach(struct net *n)
{
    struct evloop_handler *hs[] = {&n->rx_rl_h, &n->tx_rl_h};

    if (n->tap_on_loop && n->t.loop) {
        if (evloop_del(n->t.loop, &n->tap_h) < 0)
            log_warn("net: could not remove the TAP from the loop");
    }
    n->tap_on_loop = false;
    virtio_dev_detach(&n->t, hs, 2);
}

void net_free(struct net *n)
{
    if (!n)
        return;
    net_detach(n);
    virtio_mmio_fini(&n->t);
    rate_limiter_fini(&n->rx_rl);
    rate_limiter_fini(&n->tx_rl);
    if (n->tap_fd >= 0)
        close(n->tap_fd);
    free(n->tx_frame);
    free(n->rx_frame);
    free(n);
}

struct virtio_mmio *net_transport(struct net *n)
{
    return &n->t;
}

void net_update_rate_limiters(struct net *n,
                              const struct rate_limiter_params *rx,
                              const struct rate_limiter_params *tx)
{
    bus_dev_lock(&n->t.bus);
    rate_limiter_patch(&n->rx_rl, rx);
    rate_limiter_patch(&n->tx_rl, tx);
    bus_dev_unlock(&n->t.bus);
}

struct rate_limiter *net_rx_rate_limiter(struct net *n)
{
    return &n->rx_rl;
}

struct rate_limiter *net_tx_rate_limiter(struct net *n)
{
    return &n->tx_rl;
}

void net_prepare_save(struct net *n)
{
    struct virtq *q = &n->t.queues[NET_RX_INDEX];

    bus_dev_lock(&n->t.bus);
    if (n->t.activated) {
        rx_finish_frame(n);
        signal_queue(n, NET_RX_INDEX);
        q->next_avail = (uint16_t)(q->next_avail - n->rx_n_chains);
        rx_clear(n);
    }
    bus_dev_unlock(&n->t.bus);
}

bool net_rx_deferred(const struct net *n)
{
    return n->rx_used_bytes != 0;
}
