/*
 * vsock_muxq.c: the muxer's RX and kill queues (vsock_muxq.h).
 */
#include "devices/virtio/vsock/vsock_muxq.h"
#include "util/sort.h"

#include <stdlib.h>

void vsock_rxq_init(struct vsock_rxq *q)
{
    q->head = 0;
    q->len = 0;
    q->synced = true;
}

static struct vsock_rx_item *rx_at(struct vsock_rxq *q, uint32_t i)
{
    return &q->q[(q->head + i) % VSOCK_MUXER_RXQ_SIZE];
}

bool vsock_rxq_fill(struct vsock_rxq *q, struct vsock_rx_item it)
{
    if (q->len >= VSOCK_MUXER_RXQ_SIZE) {
        q->synced = false;
        return false;
    }
    *rx_at(q, q->len) = it;
    q->len++;
    return true;
}

bool vsock_rxq_push(struct vsock_rxq *q, struct vsock_rx_item it)
{
    if (q->synced && q->len < VSOCK_MUXER_RXQ_SIZE)
        return vsock_rxq_fill(q, it);
    if (!it.is_rst) {
        q->synced = false;
        return false;
    }
    /* Evict the newest connection item: that connection is found again
     * by the rebuild, while the RST would be lost. */
    for (uint32_t i = q->len; i-- > 0;) {
        struct vsock_rx_item *slot = rx_at(q, i);

        if (!slot->is_rst) {
            *slot = it;
            q->synced = false;
            return true;
        }
    }
    return false;
}

bool vsock_rxq_peek(const struct vsock_rxq *q, struct vsock_rx_item *it)
{
    if (q->len == 0)
        return false;
    *it = q->q[q->head];
    return true;
}

void vsock_rxq_pop(struct vsock_rxq *q)
{
    if (q->len == 0)
        return;
    q->head = (q->head + 1) % VSOCK_MUXER_RXQ_SIZE;
    q->len--;
}

void vsock_killq_init(struct vsock_killq *q)
{
    q->head = 0;
    q->len = 0;
    q->synced = true;
}

bool vsock_killq_fill(struct vsock_killq *q, uint32_t local_port,
                      uint32_t peer_port, uint64_t kill_ns)
{
    if (q->len >= VSOCK_MUXER_KILLQ_SIZE) {
        q->synced = false;
        return false;
    }
    q->q[(q->head + q->len) % VSOCK_MUXER_KILLQ_SIZE] =
        (struct vsock_kill_item){local_port, peer_port, kill_ns};
    q->len++;
    return true;
}

void vsock_killq_push(struct vsock_killq *q, uint32_t local_port,
                      uint32_t peer_port, uint64_t kill_ns)
{
    if (!q->synced || q->len >= VSOCK_MUXER_KILLQ_SIZE) {
        q->synced = false;
        return;
    }
    vsock_killq_fill(q, local_port, peer_port, kill_ns);
}

static int by_time(const void *a, const void *b)
{
    const struct vsock_kill_item *x = a, *y = b;

    return (x->kill_ns > y->kill_ns) - (x->kill_ns < y->kill_ns);
}

void vsock_killq_sort(struct vsock_killq *q)
{
    struct vsock_kill_item tmp[VSOCK_MUXER_KILLQ_SIZE];

    for (uint32_t i = 0; i < q->len; i++)
        tmp[i] = q->q[(q->head + i) % VSOCK_MUXER_KILLQ_SIZE];
    sq_sort(tmp, q->len, sizeof(tmp[0]), by_time);
    for (uint32_t i = 0; i < q->len; i++)
        q->q[i] = tmp[i];
    q->head = 0;
}

bool vsock_killq_pop(struct vsock_killq *q, uint64_t now_ns,
                     uint32_t *local_port, uint32_t *peer_port)
{
    const struct vsock_kill_item *it = &q->q[q->head];

    if (q->len == 0 || !(now_ns > it->kill_ns))
        return false;
    *local_port = it->local_port;
    *peer_port = it->peer_port;
    q->head = (q->head + 1) % VSOCK_MUXER_KILLQ_SIZE;
    q->len--;
    return true;
}
