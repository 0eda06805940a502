/*
 * vsock_muxq.h: the muxer's two bounded queues, upstream's MuxerRxQ
 * (unix/muxer_rxq.rs) and MuxerKillQ (unix/muxer_killq.rs).
 *
 * RX queue (VSOCK_MUXER_RXQ_SIZE items): what to give the guest next,
 * either "ask connection (lp, pp) for a packet" or "an RST from lp to pp"
 * (for streams that have no connection). It is "synced" while it is known
 * to name every connection with pending RX. Pushing a connection onto a
 * full or unsynced queue fails and leaves it unsynced; the muxer then
 * drains it and rebuilds it by walking its connections. An RST has no
 * other storage: on a full queue it takes the place of the newest
 * connection item (which the rebuild finds again), and is dropped only
 * when the queue holds nothing but RSTs.
 *
 * Kill queue (VSOCK_MUXER_KILLQ_SIZE items): connections whose kill timer
 * is armed, in the order they were armed (every timer is 2 s, so that is
 * time order); pop yields the front only once its time has passed. A push
 * onto a full queue unsyncs it; the muxer rebuilds it, sorted by time,
 * from its connections when it runs empty.
 *
 * Fixed arrays, no allocation. Vmm thread only.
 */
#ifndef SQUIB_DEVICES_VIRTIO_VSOCK_VSOCK_MUXQ_H
#define SQUIB_DEVICES_VIRTIO_VSOCK_VSOCK_MUXQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VSOCK_MUXER_RXQ_SIZE   256
#define VSOCK_MUXER_KILLQ_SIZE 128

struct vsock_rx_item {
    bool is_rst; /* else: ask the connection (local_port, peer_port) */
    uint32_t local_port;
    uint32_t peer_port;
};

struct vsock_rxq {
    struct vsock_rx_item q[VSOCK_MUXER_RXQ_SIZE];
    uint32_t head; /* index of the front item */
    uint32_t len;
    bool synced;
};

struct vsock_kill_item {
    uint32_t local_port;
    uint32_t peer_port;
    uint64_t kill_ns;
};

struct vsock_killq {
    struct vsock_kill_item q[VSOCK_MUXER_KILLQ_SIZE];
    uint32_t head;
    uint32_t len;
    bool synced;
};

/* Empty and synced. */
void vsock_rxq_init(struct vsock_rxq *q);
/* Upstream's push (rules above). True if the item was queued. */
bool vsock_rxq_push(struct vsock_rxq *q, struct vsock_rx_item it);
/* Append during a rebuild: false (and unsynced) if full. */
bool vsock_rxq_fill(struct vsock_rxq *q, struct vsock_rx_item it);
/* The front item into *it; false if empty. */
bool vsock_rxq_peek(const struct vsock_rxq *q, struct vsock_rx_item *it);
/* Drop the front item (no-op if empty). */
void vsock_rxq_pop(struct vsock_rxq *q);

static inline bool vsock_rxq_is_empty(const struct vsock_rxq *q)
{
    return q->len == 0;
}

/* Empty and synced. */
void vsock_killq_init(struct vsock_killq *q);
/* Schedule (lp, pp) at kill_ns; on an unsynced or full queue only
 * unsyncs it. */
void vsock_killq_push(struct vsock_killq *q, uint32_t local_port,
                      uint32_t peer_port, uint64_t kill_ns);
/* Append during a rebuild: false (and unsynced) if full. */
bool vsock_killq_fill(struct vsock_killq *q, uint32_t local_port,
                      uint32_t peer_port, uint64_t kill_ns);
/* Sort by kill time, after a rebuild. */
void vsock_killq_sort(struct vsock_killq *q);
/* Pop the front if now_ns is past its time: true and the key. */
bool vsock_killq_pop(struct vsock_killq *q, uint64_t now_ns,
                     uint32_t *local_port, uint32_t *peer_port);

static inline bool vsock_killq_is_empty(const struct vsock_killq *q)
{
    return q->len == 0;
}

#endif
