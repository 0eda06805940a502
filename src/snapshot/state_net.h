/*
 * state_net.h: the network part of a snapshot (docs/snapshot.md): the MMDS
 * section, `network_overrides`, and putting saved network interfaces and
 * MMDS settings back into a process's resources.
 *
 * MMDS section (tag MMDS, at most once; absent when no interface answered
 * for the MMDS, as upstream saves its MmdsState only then):
 *
 *   u8 version (0 V1, 1 V2), u8 imds_compat (0/1), 4 bytes IPv4 address
 *   (a.b.c.d in that order), u32 n (1..31), n strings: the
 *   iface ids the MMDS answers on
 *
 * The data store itself is not saved, nor the V2 tokens' key: upstream's
 * snapshot holds neither (the restored process has an empty store unless
 * PUT /mmds filled it, and a new key, so tokens issued before the
 * snapshot are refused).
 */
#ifndef SQUIB_SNAPSHOT_STATE_NET_H
#define SQUIB_SNAPSHOT_STATE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/snapshot.h"
#include "snapshot/format.h"
#include "util/err.h"
#include "vmm/resources.h"

#define SNAP_TAG_MMDS SNAP_TAG('M', 'M', 'D', 'S')

struct snap_mmds {
    uint8_t version; /* enum mmds_version */
    bool imds_compat;
    uint8_t ipv4[4];
    uint32_t n_ifaces;
    char **ifaces; /* owned, n_ifaces owned strings */
};

/* The MMDS settings of r into a new *out, or NULL when no interface of r
 * answers for the MMDS. */
struct snap_mmds *snap_mmds_from_resources(struct vm_resources *r);
void snap_mmds_free(struct snap_mmds *m); /* NULL-safe */

/* One MMDS section into w. */
void snap_mmds_encode(const struct snap_mmds *m, struct snap_writer *w);
/* An MMDS section's payload into a new *out (also on a bad payload, which
 * makes r bad: the caller frees *out either way). */
void snap_mmds_decode(struct snap_reader *r, struct snap_mmds **out);

/*
 * Upstream's network_overrides: in each saved virtio-net configuration
 * (configs[i] of kinds[i], n of them) whose iface_id an override names,
 * the host_dev_name becomes the override's. An override naming no saved
 * interface fails with "Unknown Network Device." (-ENODEV); configs may
 * then be partly rewritten (the load fails). 0 or -errno with err set.
 */
int snapshot_network_overrides(char **configs, const char *const *kinds,
                               size_t n, const struct network_override *o,
                               size_t n_o, struct sq_err *err);

/*
 * A saved virtio-net configuration (JSON) into r, as PUT
 * /network-interfaces does: its TAP opened by name. On failure err holds
 * upstream's restore text ("Failed to restore devices: Error restoring
 * MMIO devices: Net: Failed to create a network device: Open tap device
 * failed: ...").
 */
int snapshot_take_net_config(struct vm_resources *r, const char *json,
                             struct sq_err *err);

/*
 * The saved MMDS settings into r (after its interfaces), as upstream's
 * set_mmds_basic_config and the interfaces' MMDS stacks: version,
 * imds_compat, the token AAD from instance_id, and the MMDS on the saved
 * interfaces at the saved address. 0 or -errno with err set ("Failed to
 * restore devices: Error restoring MMIO devices: MmdsConfig: ...").
 */
int snapshot_take_mmds(struct vm_resources *r, const struct snap_mmds *m,
                       const char *instance_id, struct sq_err *err);

#endif
