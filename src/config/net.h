/*
 * net.h: PUT /network-interfaces/{id}, upstream's
 * NetworkInterfaceConfig, and PATCH, NetworkInterfaceUpdateConfig (both
 * strict; vmm_config/net.rs).
 */
#ifndef SQUIB_CONFIG_NET_H
#define SQUIB_CONFIG_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/rate_limiter.h"
#include "util/buf.h"
#include "util/err.h"

struct net_iface_cfg {
    char *iface_id; /* owned, never NULL after parse */
    size_t iface_id_len;
    char *host_dev_name; /* owned, never NULL after parse */
    bool has_guest_mac;
    uint8_t guest_mac[6]; /* parsed "xx:xx:xx:xx:xx:xx" */
    bool has_mtu;
    uint16_t mtu; /* any u16 here; the 68..65535 rule is VMM-side */
    bool has_rx_rate_limiter;
    struct rate_limiter_cfg rx_rate_limiter;
    bool has_tx_rate_limiter;
    struct rate_limiter_cfg tx_rate_limiter;
};

int net_iface_cfg_parse(const char *body, size_t len, struct net_iface_cfg *out,
                        struct sq_err *err);
void net_iface_cfg_fini(struct net_iface_cfg *n);
/* {"iface_id","host_dev_name","guest_mac":"aa:bb:..."|null,"mtu":N|null,
 *  "rx_rate_limiter":..|null,"tx_rate_limiter":..|null}; MAC lower-case. */
void net_iface_cfg_to_json(const struct net_iface_cfg *n, struct buf *b);

struct net_iface_update {
    char *iface_id; /* owned, never NULL after parse */
    size_t iface_id_len;
    bool has_rx_rate_limiter;
    struct rate_limiter_cfg rx_rate_limiter;
    bool has_tx_rate_limiter;
    struct rate_limiter_cfg tx_rate_limiter;
};

int net_iface_update_parse(const char *body, size_t len,
                           struct net_iface_update *out, struct sq_err *err);
void net_iface_update_fini(struct net_iface_update *n);

#endif
