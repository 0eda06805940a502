/*
 * mmds_nic.c: the MMDS inside one network interface (mmds_nic.h).
 *
 * The stack keeps its own counters (struct mmds_ns_stats); each hook adds
 * what a call changed to the process-wide `mmds` metrics, so that several
 * MMDS-enabled NICs sum as upstream's one global group does.
 */
#include "vmm/mmds_nic.h"

#include <stdlib.h>

#include "mmds/http.h"
#include "mmds/ns.h"
#include "obs/metrics.h"
#include "util/time.h"
#include "util/xalloc.h"

struct mmds_nic {
    struct mmds_ns *ns;         /* owned */
    struct mmds_store *store;   /* borrowed */
    struct mmds_tokens *tokens; /* borrowed from the store */
};

static void fold_ns(const struct mmds_ns_stats *a,
                    const struct mmds_ns_stats *b)
{
    /* rx_accepted is counted per detoured frame instead (mmds_detour). */
    metrics_add(METRIC_mmds_rx_accepted_err,
                b->rx_accepted_err - a->rx_accepted_err);
    metrics_add(METRIC_mmds_rx_accepted_unusual,
                b->rx_accepted_unusual - a->rx_accepted_unusual);
    metrics_add(METRIC_mmds_rx_bad_eth, b->rx_bad_eth - a->rx_bad_eth);
    metrics_add(METRIC_mmds_rx_count, b->rx_count - a->rx_count);
    metrics_add(METRIC_mmds_tx_count, b->tx_count - a->tx_count);
    metrics_add(METRIC_mmds_tx_errors, b->tx_errors - a->tx_errors);
    metrics_add(METRIC_mmds_connections_created,
                b->connections_created - a->connections_created);
    metrics_add(METRIC_mmds_connections_destroyed,
                b->connections_destroyed - a->connections_destroyed);
}

static void mmds_http(void *opaque, const uint8_t *req, size_t len,
                      struct buf *resp)
{
    struct mmds_nic *m = opaque;
    struct mmds_token_stats before = *mmds_tokens_stats(m->tokens);
    const struct mmds_token_stats *after;

    mmds_http_respond(m->store, m->tokens, req, len, time_mono_ms(), resp);
    after = mmds_tokens_stats(m->tokens);
    metrics_add(METRIC_mmds_rx_no_token,
                after->rx_no_token - before.rx_no_token);
    metrics_add(METRIC_mmds_rx_invalid_token,
                after->rx_invalid_token - before.rx_invalid_token);
}

static bool mmds_match(void *opaque, const uint8_t *hdr, size_t len)
{
    struct mmds_nic *m = opaque;

    return mmds_ns_is_mmds_frame(m->ns, hdr, len);
}

static bool mmds_detour(void *opaque, const uint8_t *frame, size_t len)
{
    struct mmds_nic *m = opaque;
    struct mmds_ns_stats before = *mmds_ns_stats(m->ns);
    bool taken = mmds_ns_detour_frame(m->ns, frame, len);

    /* Upstream counts every frame it detours, whatever the stack made of
     * it (Net::write_to_mmds_or_tap). */
    metrics_inc(METRIC_mmds_rx_accepted);
    fold_ns(&before, mmds_ns_stats(m->ns));
    return taken;
}

static size_t mmds_detour_rx(void *opaque, uint8_t *buf, size_t cap)
{
    struct mmds_nic *m = opaque;
    struct mmds_ns_stats before = *mmds_ns_stats(m->ns);
    size_t n = mmds_ns_write_next_frame(m->ns, buf, cap);

    fold_ns(&before, mmds_ns_stats(m->ns));
    if (n) {
        metrics_inc(METRIC_mmds_tx_frames);
        metrics_add(METRIC_mmds_tx_bytes, n);
    }
    return n;
}

int mmds_nic_new(struct mmds_store *store, const uint8_t ipv4[4],
                 struct mmds_nic **out, struct sq_err *err)
{
    struct mmds_tokens *tokens;
    struct mmds_nic *m;
    uint32_t addr = (uint32_t)ipv4[0] << 24 | (uint32_t)ipv4[1] << 16 |
                    (uint32_t)ipv4[2] << 8 | ipv4[3];
    int rc = mmds_store_tokens(store, &tokens, err);

    if (rc < 0)
        return rc;
    m = xcalloc(1, sizeof(*m));
    m->store = store;
    m->tokens = tokens;
    m->ns = mmds_ns_new(addr, NULL, mmds_http, m);
    *out = m;
    return 0;
}

void mmds_nic_free(struct mmds_nic *m)
{
    if (!m)
        return;
    mmds_ns_free(m->ns);
    free(m);
}

uint32_t mmds_nic_ipv4(const struct mmds_nic *m)
{
    return mmds_ns_ipv4_addr(m->ns);
}

void mmds_nic_hook(struct mmds_nic *m, struct net_params *p)
{
    p->detour_opaque = m;
    p->detour_match = mmds_match;
    p->detour = mmds_detour;
    p->detour_rx = mmds_detour_rx;
}
