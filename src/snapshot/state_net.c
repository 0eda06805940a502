/*
 * state_net.c: the MMDS section, network_overrides and the network part
 * of a restore (state_net.h).
 */
#include "snapshot/state_net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/mmds.h"
#include "config/net.h"
#include "util/xalloc.h"

/* At most this many interfaces in an MMDS section (one per virtio device:
 * PCI's 31 slots). */
#define SNAP_MMDS_MAX_IFACES 31

#define ERR_DEVICES "Failed to restore devices: Error restoring MMIO devices: "
/* What res_set_net() puts before a TAP's error; upstream's restore says
 * NetPersistError::CreateNet instead. */
#define PUT_NET_PREFIX "Could not create the network device: "

struct snap_mmds *snap_mmds_from_resources(struct vm_resources *r)
{
    char **ids = xcalloc(r->n_nets + 1, sizeof(*ids));
    struct snap_mmds *m = NULL;
    struct mmds_cfg c;

    if (res_mmds_config_view(r, &c, ids)) {
        m = xcalloc(1, sizeof(*m));
        m->version = (uint8_t)c.version;
        m->imds_compat = c.imds_compat;
        memcpy(m->ipv4, c.ipv4_address, 4);
        m->n_ifaces = (uint32_t)c.n_network_interfaces;
        m->ifaces = xcalloc(c.n_network_interfaces, sizeof(*m->ifaces));
        for (size_t i = 0; i < c.n_network_interfaces; i++)
            m->ifaces[i] = xstrdup(ids[i]);
    }
    free(ids);
    return m;
}

void snap_mmds_free(struct snap_mmds *m)
{
    if (!m)
        return;
    for (uint32_t i = 0; i < m->n_ifaces; i++)
        free(m->ifaces[i]);
    free(m->ifaces);
    free(m);
}

void snap_mmds_encode(const struct snap_mmds *m, struct snap_writer *w)
{
    snap_section_begin(w, SNAP_TAG_MMDS);
    snap_put_u8(w, m->version);
    snap_put_u8(w, m->imds_compat);
    snap_put_bytes(w, m->ipv4, 4);
    snap_put_u32(w, m->n_ifaces);
    for (uint32_t i = 0; i < m->n_ifaces; i++)
        snap_put_str(w, m->ifaces[i]);
    snap_section_end(w);
}

void snap_mmds_decode(struct snap_reader *r, struct snap_mmds **out)
{
    struct snap_mmds *m = xcalloc(1, sizeof(*m));
    uint8_t version, compat;
    uint32_t n;

    *out = m;
    version = snap_get_u8(r);
    compat = snap_get_u8(r);
    snap_get_bytes(r, m->ipv4, 4);
    n = snap_get_u32(r);
    if (version > MMDS_VERSION_V2 || compat > 1 || n == 0 ||
        n > SNAP_MMDS_MAX_IFACES) {
        r->bad = true;
        return;
    }
    m->version = version;
    m->imds_compat = compat;
    m->ifaces = xcalloc(n, sizeof(*m->ifaces));
    for (uint32_t i = 0; i < n; i++) {
        m->ifaces[i] = snap_get_str(r);
        m->n_ifaces++;
        if (!m->ifaces[i])
            return; /* r is bad */
    }
}

/* configs[i] with its host_dev_name replaced by `name`. */
static int override_one(char **config, const char *name, struct sq_err *err)
{
    struct net_iface_cfg c;
    struct buf b = BUF_INIT;
    int rc = net_iface_cfg_parse(*config, strlen(*config), &c, err);

    if (rc < 0)
        return rc;
    free(c.host_dev_name);
    c.host_dev_name = xstrdup(name);
    net_iface_cfg_to_json(&c, &b);
    net_iface_cfg_fini(&c);
    free(*config);
    *config = buf_steal(&b, NULL);
    return 0;
}

/* The iface_id of a saved net configuration (a new string), or NULL. */
static char *saved_iface_id(const char *config)
{
    struct net_iface_cfg c;
    char *id;

    if (net_iface_cfg_parse(config, strlen(config), &c, NULL) < 0)
        return NULL;
    id = c.iface_id;
    c.iface_id = NULL;
    net_iface_cfg_fini(&c);
    return id;
}

int snapshot_network_overrides(char **configs, const char *const *kinds,
                               size_t n, const struct network_override *o,
                               size_t n_o, struct sq_err *err)
{
    for (size_t j = 0; j < n_o; j++) {
        bool found = false;

        for (size_t i = 0; i < n && !found; i++) {
            char *id;

            if (strcmp(kinds[i], "virtio-net") != 0)
                continue;
            id = saved_iface_id(configs[i]);
            found = id && !strcmp(id, o[j].iface_id);
            free(id);
            if (found && override_one(&configs[i], o[j].host_dev_name, err))
                return -EINVAL;
        }
        if (!found)
            return sq_errf(err, -ENODEV, "Unknown Network Device.");
    }
    return 0;
}

int snapshot_take_net_config(struct vm_resources *r, const char *json,
                             struct sq_err *err)
{
    struct net_iface_cfg c;
    int rc = net_iface_cfg_parse(json, strlen(json), &c, err);

    if (rc < 0)
        return sq_err_prefix(err, ERR_DEVICES "Net: ");
    rc = res_set_net(r, &c, err);
    net_iface_cfg_fini(&c);
    if (rc < 0 && err) {
        char *msg = err->msg;
        size_t skip = strncmp(msg, PUT_NET_PREFIX, strlen(PUT_NET_PREFIX))
                          ? 0
                          : strlen(PUT_NET_PREFIX);

        memmove(msg, msg + skip, strlen(msg + skip) + 1);
        sq_err_prefix(err,
                      ERR_DEVICES "Net: Failed to create a network device: ");
    }
    return rc;
}

int snapshot_take_mmds(struct vm_resources *r, const struct snap_mmds *m,
                       const char *instance_id, struct sq_err *err)
{
    struct mmds_cfg c;
    int rc;

    memset(&c, 0, sizeof(c));
    c.version = (enum mmds_version)m->version;
    c.n_network_interfaces = m->n_ifaces;
    c.network_interfaces = m->ifaces; /* borrowed */
    c.has_ipv4_address = true;
    memcpy(c.ipv4_address, m->ipv4, 4);
    c.imds_compat = m->imds_compat;
    rc = res_set_mmds_config(r, &c, instance_id, err);
    if (rc < 0)
        sq_err_prefix(err, ERR_DEVICES "MmdsConfig: ");
    return rc;
}
