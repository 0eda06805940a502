/*
 * vsock.c: virtio socket device (vsock.h), upstream's Vsock and its event
 * handler in C. The muxer does the protocol; this file moves packets
 * between the rings and the muxer.
 */
#include "devices/virtio/vsock/vsock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/virtio_dev.h"
#include "devices/virtio/vsock/vsock_pkt.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "util/xalloc.h"

struct vsock {
    struct virtio_mmio t;
    struct vsock_muxer *mux; /* owned */
    uint64_t cid;
    char *uds_path; /* owned */
    uint8_t config[VSOCK_CONFIG_LEN];
    struct evloop_handler mux_h; /* the muxer's epoll fd (virtio_dev.h) */
    /* A TRANSPORT_RESET waits for the driver's acknowledgement (an event
     * queue notification); RX is held back meanwhile. */
    bool pending_event_ack;
    struct metrics_vsock *m;
    struct virtq_chain chain; /* scratch */
    struct vsock_pkt pkt;     /* scratch */
};

/* The driver corrupted a ring (-EPROTO from the queue). */
static void ring_broken(struct vsock *v, struct metrics_counter *fails,
                        const char *which)
{
    log_error_rl("vsock: the driver corrupted the %s available ring; the "
                 "device needs a reset",
                 which);
    metrics_counter_inc(fails);
    virtio_mmio_set_needs_reset(&v->t);
}

/* Publish used entries; true if the driver wants an interrupt for them. */
static bool finish_queue(struct virtq *q, bool used_any)
{
    virtq_flush_used(q);
    return used_any && virtq_should_notify(q);
}

/* Upstream's process_rx: fill RX chains while the muxer has packets.
 * Returns whether to interrupt. */
static bool process_rx(struct vsock *v)
{
    struct virtq *q = &v->t.queues[VSOCK_RX_INDEX];
    bool used_any = false;

    if (v->pending_event_ack)
        return false;
    for (;;) {
        enum vsock_pkt_err e;
        uint32_t len = 0;
        int rc = virtq_pop_or_enable_notification(q, &v->chain);

        if (rc < 0) {
            ring_broken(v, &v->m->rx_queue_event_fails, "RX");
            return false;
        }
        if (rc == 0)
            break;
        e = vsock_pkt_parse_rx(&v->pkt, &v->chain);
        if (e != VSOCK_PKT_OK) {
            log_warn_rl("vsock: RX queue error: %s. Discarding the package.",
                        vsock_pkt_strerror(e));
        } else {
            rc = vsock_muxer_recv_pkt(v->mux, &v->pkt);
            if (rc < 0) {
                /* Nothing more to deliver: give the buffer back. */
                virtq_undo_pop(q);
                break;
            }
            /* The payload (and below, the header) went into the chain. */
            virtq_chain_written(q, &v->chain,
                                (uint64_t)VSOCK_PKT_HDR_SIZE + v->pkt.hdr.len);
            if (vsock_pkt_commit_hdr(&v->pkt) < 0)
                log_warn_rl("vsock: Error writing packet header to guest "
                            "memory. Discarding the package.");
            else
                len = VSOCK_PKT_HDR_SIZE + v->pkt.hdr.len;
        }
        if (virtq_add_used(q, v->chain.head, len) < 0)
            break; /* can't: head < size */
        used_any = true;
    }
    return finish_queue(q, used_any);
}

/* Upstream's process_tx: every TX chain goes to the muxer. Returns
 * whether to interrupt. */
static bool process_tx(struct vsock *v)
{
    struct virtq *q = &v->t.queues[VSOCK_TX_INDEX];
    bool used_any = false;

    for (;;) {
        enum vsock_pkt_err e;
        int rc = virtq_pop_or_enable_notification(q, &v->chain);

        if (rc < 0) {
            ring_broken(v, &v->m->tx_queue_event_fails, "TX");
            return false;
        }
        if (rc == 0)
            break;
        e = vsock_pkt_parse_tx(&v->pkt, &v->chain);
        if (e != VSOCK_PKT_OK)
            log_error_rl("vsock: error reading TX packet: %s",
                         vsock_pkt_strerror(e));
        else
            vsock_muxer_send_pkt(v->mux, &v->pkt);
        if (virtq_add_used(q, v->chain.head, 0) < 0)
            break;
        used_any = true;
    }
    return finish_queue(q, used_any);
}

static void kick(struct vsock *v, bool needed)
{
    if (needed && virtio_mmio_signal_used(&v->t) < 0)
        log_error_rl("vsock: Could not trigger device interrupt");
}

/* ---- Transport callbacks ----------------------------------------------- */

static void vsock_read_config(void *dev, uint64_t off, uint8_t *data,
                              uint32_t len)
{
    struct vsock *v = dev;

    for (uint32_t i = 0; i < len; i++)
        data[i] = off + i < sizeof(v->config) ? v->config[off + i] : 0;
}

static void vsock_write_config(void *dev, uint64_t off, const uint8_t *data,
                               uint32_t len)
{
    struct vsock *v = dev;

    (void)data;
    metrics_counter_inc(&v->m->cfg_fails);
    log_warn_rl("vsock: guest driver attempted to write device config "
                "(offset=%#llx, len=%#x)",
                (unsigned long long)off, len);
}

static int vsock_activate(void *dev)
{
    struct vsock *v = dev;
    int rc = vsock_muxer_activate(v->mux);

    if (rc < 0) {
        metrics_counter_inc(&v->m->activate_fails);
        log_error_rl("vsock: cannot watch the host socket: errno %d", -rc);
    }
    return rc;
}

static bool vsock_reset(void *dev)
{
    struct vsock *v = dev;

    vsock_muxer_reset(v->mux);
    v->pending_event_ack = false;
    return true;
}

static void vsock_queue_notify(void *dev, uint16_t qi)
{
    struct vsock *v = dev;
    bool k = false;

    switch (qi) {
    case VSOCK_RX_INDEX:
        if (vsock_muxer_has_pending_rx(v->mux)) {
            k = process_rx(v);
            metrics_counter_inc(&v->m->rx_queue_event_count);
        }
        break;
    case VSOCK_TX_INDEX:
        k = process_tx(v);
        metrics_counter_inc(&v->m->tx_queue_event_count);
        /* Answers to what the guest just sent (RESPONSE, RST, ...). */
        if (vsock_muxer_has_pending_rx(v->mux))
            k |= process_rx(v);
        break;
    case VSOCK_EVQ_INDEX:
        /* The driver's acknowledgement of TRANSPORT_RESET (the only
         * event this device sends): release RX. */
        v->pending_event_ack = false;
        if (vsock_muxer_has_pending_rx(v->mux))
            k = process_rx(v);
        break;
    default:
        break;
    }
    kick(v, k);
}

static const struct virtio_dev_ops vsock_ops = {
    .device_type = SQ_VIRTIO_ID_VSOCK,
    .read_config = vsock_read_config,
    .write_config = vsock_write_config,
    .activate = vsock_activate,
    .reset = vsock_reset,
    .queue_notify = vsock_queue_notify,
};

/* ---- Loop events ------------------------------------------------------- */

void vsock_backend_event(struct vsock *v)
{
    bool k;

    bus_dev_lock(&v->t.bus);
    if (!v->t.activated) {
        /* Nothing is watched before activation or after a reset; make
         * sure a level-triggered fd cannot spin the loop. */
        log_warn_rl("vsock: The device is not yet activated. Spurious event "
                    "received");
        vsock_muxer_reset(v->mux);
        bus_dev_unlock(&v->t.bus);
        return;
    }
    vsock_muxer_notify(v->mux);
    /* A connection may have drained: walk TX again, then deliver. */
    k = process_tx(v);
    if (vsock_muxer_has_pending_rx(v->mux))
        k |= process_rx(v);
    kick(v, k);
    bus_dev_unlock(&v->t.bus);
}

static void on_mux(struct evloop *loop, struct evloop_handler *h,
                   uint32_t events)
{
    (void)loop;
    (void)events;
    vsock_backend_event(h->opaque);
}

int vsock_send_transport_reset(struct vsock *v)
{
    struct virtq *q = &v->t.queues[VSOCK_EVQ_INDEX];
    int rc;

    bus_dev_lock(&v->t.bus);
    if (!v->t.activated) {
        rc = -ENODEV;
        goto out;
    }
    rc = virtq_pop(q, &v->chain);
    if (rc < 0) {
        ring_broken(v, &v->m->ev_queue_event_fails, "event");
        rc = -EPROTO;
        goto out;
    }
    if (rc == 0) {
        metrics_counter_inc(&v->m->ev_queue_event_fails);
        rc = -ENOBUFS;
        goto out;
    }
    /* struct virtio_vsock_event { le32 id; } at the head buffer. */
    if (v->chain.n > 0) {
        void *hva = NULL;
        uint8_t ev[4] = {SQ_VIRTIO_VSOCK_EVENT_TRANSPORT_RESET, 0, 0, 0};

        if (guest_mem_translate(v->t.gm, v->chain.bufs[0].gpa, sizeof(ev),
                                &hva) == 0) {
            memcpy(hva, ev, sizeof(ev));
            guest_mem_mark_dirty(v->t.gm, v->chain.bufs[0].gpa, sizeof(ev));
        } else
            log_error_rl("vsock: Failed to write virtio vsock reset event");
    }
    if (virtq_add_used(q, v->chain.head,
                       v->chain.n > 0 ? v->chain.bufs[0].len : 0) < 0)
        log_error_rl("vsock: Failed to add used descriptor %u",
                     (unsigned)v->chain.head);
    virtq_flush_used(q);
    /* The event queue is popped only here, never drained: ask for the
     * driver's refill explicitly, or EVENT_IDX would suppress it. */
    virtq_enable_notification(q);
    v->pending_event_ack = true;
    rc = virtio_mmio_signal_used(&v->t);
out:
    bus_dev_unlock(&v->t.bus);
    return rc;
}

/* ---- Lifecycle --------------------------------------------------------- */

int vsock_new(const struct vsock_params *p, struct vsock **out,
              struct sq_err *err)
{
    static const uint16_t sizes[VSOCK_NUM_QUEUES] = {
        VSOCK_QUEUE_SIZE, VSOCK_QUEUE_SIZE, VSOCK_QUEUE_SIZE};
    const uint64_t features =
        1ULL << SQ_VIRTIO_F_IN_ORDER | 1ULL << SQ_VIRTIO_F_RING_EVENT_IDX;
    struct vsock_muxer_params mp = {
        .guest_cid = p->guest_cid,
        .listen_fd = p->listen_fd,
        .uds_path = p->uds_path,
        .clock = p->clock,
        .clock_opaque = p->clock_opaque,
    };
    struct vsock *v;
    char os[128];
    int rc;

    if (p->listen_fd < 0)
        return sq_errf(err, -EBADF, "vsock: no listening socket");
    if (!p->uds_path || !*p->uds_path)
        return sq_errf(err, -EINVAL, "vsock: no Unix socket path");
    v = xcalloc(1, sizeof(*v));
    v->t.irq_fd = -1;
    for (size_t i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
        v->t.queue_fd[i] = -1;
    v->cid = p->guest_cid;
    v->uds_path = xstrdup(p->uds_path);
    for (unsigned i = 0; i < VSOCK_CONFIG_LEN; i++)
        v->config[i] = (uint8_t)(p->guest_cid >> (8 * i));
    rc = vsock_muxer_new(&mp, &v->mux);
    if (rc < 0) {
        sq_errf(err, rc,
                "Cannot create backend for vsock device: Error creating an "
                "epoll fd: %s",
                sq_os_error(-rc, os, sizeof(os)));
        goto fail;
    }
    rc = virtio_mmio_init(&v->t, "virtio-vsock", &vsock_ops, v, features,
                          VSOCK_NUM_QUEUES, sizes);
    if (rc < 0) {
        sq_errf(err, rc, "Error while handling an Event file descriptor: %s",
                sq_os_error(-rc, os, sizeof(os)));
        goto fail;
    }
    v->m = metrics_vsock();
    *out = v;
    return 0;
fail:
    vsock_free(v);
    return rc;
}

int vsock_attach(struct vsock *v, const struct guest_mem *gm, int vm_fd,
                 uint64_t addr, struct evloop *loop)
{
    struct evloop_handler *hs[] = {&v->mux_h};

    v->mux_h = (struct evloop_handler){vsock_muxer_fd(v->mux), on_mux, v};
    return virtio_dev_attach(&v->t, gm, vm_fd, addr, loop, hs, 1);
}

void vsock_detach(struct vsock *v)
{
    struct evloop_handler *hs[] = {&v->mux_h};

    virtio_dev_detach(&v->t, hs, 1);
}

void vsock_free(struct vsock *v)
{
    if (!v)
        return;
    if (v->mux)
        vsock_detach(v);
    virtio_mmio_fini(&v->t);
    vsock_muxer_free(v->mux);
    free(v->uds_path);
    free(v);
}

struct virtio_mmio *vsock_transport(struct vsock *v)
{
    return &v->t;
}

uint64_t vsock_guest_cid(const struct vsock *v)
{
    return v->cid;
}

const char *vsock_uds_path(const struct vsock *v)
{
    return v->uds_path;
}

void vsock_save_state(struct vsock *v, struct vsock_state *out)
{
    memset(out, 0, sizeof(*out));
    bus_dev_lock(&v->t.bus);
    out->guest_cid = v->cid;
    out->pending_event_ack = v->pending_event_ack;
    bus_dev_unlock(&v->t.bus);
}

int vsock_restore_state(struct vsock *v, const struct vsock_state *s,
                        struct sq_err *err)
{
    if (s->guest_cid != v->cid)
        return sq_errf(err, -EINVAL, "saved guest CID %llu, built with %llu",
                       (unsigned long long)s->guest_cid,
                       (unsigned long long)v->cid);
    bus_dev_lock(&v->t.bus);
    v->pending_event_ack = s->pending_event_ack;
    bus_dev_unlock(&v->t.bus);
    return 0;
}

struct vsock_muxer *vsock_muxer(struct vsock *v)
{
    return v->mux;
}
