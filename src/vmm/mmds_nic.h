/*
 * mmds_nic.h: the MMDS inside one MMDS-enabled network interface (digest
 * 8.2, 8.3): the network stack (mmds/ns.h) between virtio-net's detour
 * hooks and the HTTP handler (mmds/http.h) over the process's data store
 * and token authority (mmds/store.h).
 *
 * Upstream's Net owns an Option<MmdsNetworkStack> sharing an
 * Arc<Mutex<Mmds>>; here each NIC listed in PUT /mmds/config gets a struct
 * mmds_nic at InstanceStart, and every NIC shares the one store of the
 * vm_resources (which outlives every device).
 *
 *   guest TX frame --detour_match (first 42 bytes: ARP/IPv4 to the MMDS
 *   address?)--> detour --> mmds_ns_detour_frame --> HTTP request -->
 *   mmds_http_respond(store, tokens, now) --> response segments queued
 *   guest RX buffer <-- detour_rx <-- mmds_ns_write_next_frame
 *
 * The stack runs only when the device runs it, as upstream's does: on each
 * TX frame for the MMDS and each RX pass (queue notification, TAP event),
 * never on a timer of its own. The `mmds` metrics are upstream's: the
 * stack's counters as they change, rx_accepted per detoured frame,
 * tx_frames/tx_bytes per frame handed to the guest, rx_no_token and
 * rx_invalid_token from the token authority.
 *
 * All calls on the vmm thread.
 */
#ifndef SQUIB_VMM_MMDS_NIC_H
#define SQUIB_VMM_MMDS_NIC_H

#include <stdint.h>

#include "devices/virtio/net.h"
#include "mmds/store.h"
#include "util/err.h"

struct mmds_nic;

/*
 * An MMDS answering at `ipv4` (a.b.c.d in that order) with upstream's MAC
 * (06:01:23:45:67:01), from `store` (borrowed; must outlive the NIC).
 * Creates the store's token authority if it has none yet. Returns 0 and
 * *out, or -errno with err set as mmds_store_tokens() does.
 */
int mmds_nic_new(struct mmds_store *store, const uint8_t ipv4[4],
                 struct mmds_nic **out, struct sq_err *err);
void mmds_nic_free(struct mmds_nic *m); /* NULL-safe */

/* The address it answers at (host order: 169.254.169.254 = 0xa9fea9fe). */
uint32_t mmds_nic_ipv4(const struct mmds_nic *m);

/* Point p's detour hooks (detour_match, detour, detour_rx) at m. */
void mmds_nic_hook(struct mmds_nic *m, struct net_params *p);

#endif
