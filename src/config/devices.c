/*
 * devices.c: request bodies of the devices: drives, pmem, network
 * interfaces, vsock, entropy, serial, balloon and memory hotplug (see
 * config.h). Field tables follow upstream's declaration order, which
 * decides the first missing field and the "expected one of" lists.
 */
#include "config/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "util/xalloc.h"

/* ====================================================================== */
/* Network interfaces                                                      */

/* MacAddr::from_str: six ':'-separated groups of exactly two bytes, each
 * parsed by u8::from_str_radix(_, 16) (so "+f" is accepted, as upstream). */
static bool parse_mac(const char *s, size_t n, uint8_t mac[6])
{
    size_t i = 0, group = 0;

    for (;;) {
        size_t start = i;
        uint64_t v;

        while (i < n && s[i] != ':')
            i++;
        if (group >= 6 || i - start != 2)
            return false;
        if (schemas_parse_uint(s + start, 2, 16, UINT8_MAX, &v) != PIE_OK)
            return false;
        mac[group++] = (uint8_t)v;
        if (i == n)
            break;
        i++; /* ':' */
    }
    return group == 6;
}

/* MacAddr's Deserialize: String::deserialize, then a custom error raised
 * outside serde_json (positioned later by the enclosing struct). */
static int dec_mac(struct json_dec *d, void *field_ptr,
                   const struct json_field *f)
{
    char *s;
    size_t n;
    bool ok;

    (void)f;
    if (json_dec_string(d, "a string", &s, &n) < 0)
        return -1;
    ok = parse_mac(s, n, field_ptr);
    free(s);
    if (!ok)
        return json_dec_custom(d, "The provided MAC address is invalid.");
    return 0;
}

static const struct json_field net_fields[] = {
    {FLD(struct net_iface_cfg, "iface_id", JSON_F_STRING, 0, iface_id),
     LEN(struct net_iface_cfg, iface_id_len)},
    {FLD(struct net_iface_cfg, "host_dev_name", JSON_F_STRING, 0,
         host_dev_name)},
    {FLD(struct net_iface_cfg, "guest_mac", JSON_F_CUSTOM, OPT, guest_mac),
     HAS(struct net_iface_cfg, has_guest_mac), .custom = dec_mac},
    {FLD(struct net_iface_cfg, "mtu", JSON_F_U16, OPT, mtu),
     HAS(struct net_iface_cfg, has_mtu)},
    {FLD(struct net_iface_cfg, "rx_rate_limiter", JSON_F_STRUCT, OPT,
         rx_rate_limiter),
     HAS(struct net_iface_cfg, has_rx_rate_limiter),
     .sub = &schemas_rate_limiter_desc},
    {FLD(struct net_iface_cfg, "tx_rate_limiter", JSON_F_STRUCT, OPT,
         tx_rate_limiter),
     HAS(struct net_iface_cfg, has_tx_rate_limiter),
     .sub = &schemas_rate_limiter_desc},
};
EDESC(schemas_net_desc, "NetworkInterfaceConfig", net_fields, true);

void net_iface_cfg_fini(struct net_iface_cfg *n)
{
    if (!n)
        return;
    free(n->iface_id);
    free(n->host_dev_name);
    memset(n, 0, sizeof(*n));
}

int net_iface_cfg_parse(const char *body, size_t len, struct net_iface_cfg *out,
                        struct sq_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = schemas_api_parse(body, len, &schemas_net_desc, out, err);
    if (rc)
        net_iface_cfg_fini(out);
    return rc;
}

void net_iface_cfg_to_json(const struct net_iface_cfg *n, struct buf *b)
{
    buf_puts(b, "{\"iface_id\":");
    json_write_str(b, n->iface_id ? n->iface_id : "",
                   n->iface_id ? n->iface_id_len : 0);
    buf_puts(b, ",\"host_dev_name\":");
    json_write_cstr(b, n->host_dev_name ? n->host_dev_name : "");
    buf_puts(b, ",\"guest_mac\":");
    if (n->has_guest_mac)
        buf_printf(b, "\"%02x:%02x:%02x:%02x:%02x:%02x\"", n->guest_mac[0],
                   n->guest_mac[1], n->guest_mac[2], n->guest_mac[3],
                   n->guest_mac[4], n->guest_mac[5]);
    else
        buf_puts(b, "null");
    buf_puts(b, ",\"mtu\":");
    if (n->has_mtu)
        json_write_u64(b, n->mtu);
    else
        buf_puts(b, "null");
    buf_puts(b, ",\"rx_rate_limiter\":");
    schemas_opt_rate_limiter_to_json(n->has_rx_rate_limiter,
                                     &n->rx_rate_limiter, b);
    buf_puts(b, ",\"tx_rate_limiter\":");
    schemas_opt_rate_limiter_to_json(n->has_tx_rate_limiter,
                                     &n->tx_rate_limiter, b);
    buf_putc(b, '}');
}

static const struct json_field net_update_fields[] = {
    {FLD(struct net_iface_update, "iface_id", JSON_F_STRING, 0, iface_id),
     LEN(struct net_iface_update, iface_id_len)},
    {FLD(struct net_iface_update, "rx_rate_limiter", JSON_F_STRUCT, OPT,
         rx_rate_limiter),
     HAS(struct net_iface_update, has_rx_rate_limiter),
     .sub = &schemas_rate_limiter_desc},
    {FLD(struct net_iface_update, "tx_rate_limiter", JSON_F_STRUCT, OPT,
         tx_rate_limiter),
     HAS(struct net_iface_update, has_tx_rate_limiter),
     .sub = &schemas_rate_limiter_desc},
};
DESC(net_update_desc, "NetworkInterfaceUpdateConfig", net_update_fields, true);

void net_iface_update_fini(struct net_iface_update *n)
{
    if (!n)
        return;
    free(n->iface_id);
    memset(n, 0, sizeof(*n));
}

int net_iface_update_parse(const char *body, size_t len,
                           struct net_iface_update *out, struct sq_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = schemas_api_parse(body, len, &net_update_desc, out, err);
    if (rc)
        net_iface_update_fini(out);
    return rc;
}

/* ====================================================================== */
/* Vsock, entropy, serial                                                  */

static const struct json_field vsock_fields[] = {
    {FLD(struct vsock_cfg, "vsock_id", JSON_F_STRING, OPT | DEF, vsock_id)},
    {FLD(struct vsock_cfg, "guest_cid", JSON_F_U32, 0, guest_cid)},
    {FLD(struct vsock_cfg, "uds_path", JSON_F_STRING, 0, uds_path)},
};
EDESC(schemas_vsock_desc, "VsockDeviceConfig", vsock_fields, true);

void vsock_cfg_fini(struct vsock_cfg *v)
{
    if (!v)
        return;
    free(v->vsock_id);
    free(v->uds_path);
    memset(v, 0, sizeof(*v));
}

int vsock_cfg_parse(const char *body, size_t len, struct vsock_cfg *out,
                    struct sq_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = schemas_api_parse(body, len, &schemas_vsock_desc, out, err);
    if (rc) {
        vsock_cfg_fini(out);
        return rc;
    }
    out->deprecated = out->vsock_id != NULL;
    return 0;
}

void vsock_cfg_to_json(const struct vsock_cfg *v, struct buf *b)
{
    buf_puts(b, "{\"guest_cid\":");
    json_write_u64(b, v->guest_cid);
    buf_puts(b, ",\"uds_path\":");
    json_write_cstr(b, v->uds_path ? v->uds_path : "");
    buf_putc(b, '}');
}

static const struct json_field entropy_fields[] = {
    {FLD(struct entropy_cfg, "rate_limiter", JSON_F_STRUCT, OPT, rate_limiter),
     HAS(struct entropy_cfg, has_rate_limiter),
     .sub = &schemas_rate_limiter_desc},
};
EDESC(schemas_entropy_desc, "EntropyDeviceConfig", entropy_fields, true);

void entropy_cfg_fini(struct entropy_cfg *e)
{
    if (e)
        memset(e, 0, sizeof(*e));
}

int entropy_cfg_parse(const char *body, size_t len, struct entropy_cfg *out,
                      struct sq_err *err)
{
    memset(out, 0, sizeof(*out));
    if (schemas_api_parse(body, len, &schemas_entropy_desc, out, err)) {
        memset(out, 0, sizeof(*out));
        return -EINVAL;
    }
    return 0;
}

void entropy_cfg_to_json(const struct entropy_cfg *e, struct buf *b)
{
    buf_puts(b, "{\"rate_limiter\":");
    schemas_opt_rate_limiter_to_json(e->has_rate_limiter, &e->rate_limiter, b);
    buf_putc(b, '}');
}

static const struct json_field serial_fields[] = {
    {FLD(struct serial_cfg, "serial_out_path", JSON_F_PATH, OPT,
         serial_out_path)},
    {FLD(struct serial_cfg, "rate_limiter", JSON_F_STRUCT, OPT, rate_limiter),
     HAS(struct serial_cfg, has_rate_limiter),
     .sub = &schemas_token_bucket_desc},
};
DESC(serial_desc, "SerialConfig", serial_fields, true);

void serial_cfg_fini(struct serial_cfg *s)
{
    if (!s)
        return;
    free(s->serial_out_path);
    memset(s, 0, sizeof(*s));
}

int serial_cfg_parse(const char *body, size_t len, struct serial_cfg *out,
                     struct sq_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = schemas_api_parse(body, len, &serial_desc, out, err);
    if (rc)
        serial_cfg_fini(out);
    return rc;
}

/* ====================================================================== */
/* Balloon                                                                 */

static const struct json_field balloon_fields[] = {
    {FLD(struct balloon_cfg, "amount_mib", JSON_F_U32, 0, amount_mib)},
    {FLD(struct balloon_cfg, "deflate_on_oom", JSON_F_BOOL, 0, deflate_on_oom)},
    {FLD(struct balloon_cfg, "stats_polling_interval_s", JSON_F_U16, DEF,
         stats_polling_interval_s)},
    {FLD(struct balloon_cfg, "free_page_hinting", JSON_F_BOOL, DEF,
         free_page_hinting)},
    {FLD(struct balloon_cfg, "free_page_reporting", JSON_F_BOOL, DEF,
         free_page_reporting)},
};
EDESC(schemas_balloon_desc, "BalloonDeviceConfig", balloon_fields, true);

void balloon_cfg_fini(struct balloon_cfg *b)
{
    if (b)
        memset(b, 0, sizeof(*b));
}

int balloon_cfg_parse(const char *body, size_t len, struct balloon_cfg *out,
                      struct sq_err *err)
{
    memset(out, 0, sizeof(*out));
    if (schemas_api_parse(body, len, &schemas_balloon_desc, out, err)) {
        memset(out, 0, sizeof(*out));
        return -EINVAL;
    }
    return 0;
}

void balloon_cfg_to_json(const struct balloon_cfg *c, struct buf *b)
{
    buf_printf(b,
               "{\"amount_mib\":%u,\"deflate_on_oom\":%s,"
               "\"stats_polling_interval_s\":%u,\"free_page_hinting\":%s,"
               "\"free_page_reporting\":%s}",
               c->amount_mib, c->deflate_on_oom ? "true" : "false",
               c->stats_polling_interval_s,
               c->free_page_hinting ? "true" : "false",
               c->free_page_reporting ? "true" : "false");
}

static const struct json_field balloon_update_fields[] = {
    {FLD(struct balloon_update, "amount_mib", JSON_F_U32, 0, amount_mib)},
};
DESC(balloon_update_desc, "BalloonUpdateConfig", balloon_update_fields, true);

void balloon_update_fini(struct balloon_update *b)
{
    (void)b;
}

int balloon_update_parse(const char *body, size_t len,
                         struct balloon_update *out, struct sq_err *err)
{
    memset(out, 0, sizeof(*out));
    if (schemas_api_parse(body, len, &balloon_update_desc, out, err)) {
        memset(out, 0, sizeof(*out));
        return -EINVAL;
    }
    return 0;
}

static const struct json_field balloon_stats_fields[] = {
    {FLD(struct balloon_stats_update, "stats_polling_interval_s", JSON_F_U16, 0,
         stats_polling_interval_s)},
};
DESC(balloon_stats_desc, "BalloonUpdateStatsConfig", balloon_stats_fields,
     true);

void balloon_stats_update_fini(struct balloon_stats_update *b)
{
    (void)b;
}

int balloon_stats_update_parse(const char *body, size_t len,
                               struct balloon_stats_update *out,
                               struct sq_err *err)
{
    memset(out, 0, sizeof(*out));
    if (schemas_api_parse(body, len, &balloon_stats_desc, out, err)) {
        memset(out, 0, sizeof(*out));
        return -EINVAL;
    }
    return 0;
}

static const struct json_field hinting_fields[] = {
    {FLD(struct balloon_hinting_start, "acknowledge_on_stop", JSON_F_BOOL, DEF,
         acknowledge_on_stop)},
};
DESC(hinting_desc, "StartHintingCmd", hinting_fields, false);

void balloon_hinting_start_fini(struct balloon_hinting_start *b)
{
    (void)b;
}

int balloon_hinting_start_parse(const char *body, size_t len,
                                struct balloon_hinting_start *out,
                                struct sq_err *err)
{
    out->acknowledge_on_stop = true;
    if (!body || len == 0)
        return 0;
    if (schemas_api_parse(body, len, &hinting_desc, out, err)) {
        memset(out, 0, sizeof(*out));
        return -EINVAL;
    }
    return 0;
}

/* ====================================================================== */
/* Memory hotplug                                                          */

#define HOTPLUG_DEFAULT_BLOCK_MIB 2
#define HOTPLUG_DEFAULT_SLOT_MIB  128

static const struct json_field hotplug_fields[] = {
    {FLD(struct hotplug_memory_cfg, "total_size_mib", JSON_F_U32, 0,
         total_size_mib)},
    {FLD(struct hotplug_memory_cfg, "block_size_mib", JSON_F_U32, DEF,
         block_size_mib)},
    {FLD(struct hotplug_memory_cfg, "slot_size_mib", JSON_F_U32, DEF,
         slot_size_mib)},
};
EDESC(schemas_hotplug_desc, "MemoryHotplugConfig", hotplug_fields, true);

void schemas_hotplug_defaults(struct hotplug_memory_cfg *h)
{
    memset(h, 0, sizeof(*h));
    h->block_size_mib = HOTPLUG_DEFAULT_BLOCK_MIB;
    h->slot_size_mib = HOTPLUG_DEFAULT_SLOT_MIB;
}

void hotplug_memory_cfg_fini(struct hotplug_memory_cfg *h)
{
    (void)h;
}

int hotplug_memory_cfg_parse(const char *body, size_t len,
                             struct hotplug_memory_cfg *out, struct sq_err *err)
{
    int rc;

    schemas_hotplug_defaults(out);
    rc = schemas_api_parse(body, len, &schemas_hotplug_desc, out, err);
    if (rc)
        memset(out, 0, sizeof(*out));
    return rc;
}

int hotplug_memory_cfg_validate(const struct hotplug_memory_cfg *h,
                                struct sq_err *err)
{
    if (h->block_size_mib < HOTPLUG_DEFAULT_BLOCK_MIB)
        return sq_errf(err, -EINVAL, "Block size must not be lower than %u MiB",
                       HOTPLUG_DEFAULT_BLOCK_MIB);
    if (h->block_size_mib & (h->block_size_mib - 1))
        return sq_errf(err, -EINVAL, "Block size must be a power of 2");
    if (h->slot_size_mib < HOTPLUG_DEFAULT_SLOT_MIB)
        return sq_errf(err, -EINVAL, "Slot size must not be lower than %u MiB",
                       HOTPLUG_DEFAULT_SLOT_MIB);
    if (h->slot_size_mib % h->block_size_mib)
        return sq_errf(err, -EINVAL,
                       "Slot size must be a multiple of block size (%u MiB)",
                       h->block_size_mib);
    if (h->total_size_mib < h->slot_size_mib)
        return sq_errf(err, -EINVAL,
                       "Total size must not be lower than slot size (%u MiB)",
                       h->slot_size_mib);
    if (h->total_size_mib % h->slot_size_mib)
        return sq_errf(err, -EINVAL,
                       "Total size must be a multiple of slot size (%u MiB)",
                       h->slot_size_mib);
    return 0;
}

void hotplug_memory_cfg_to_json(const struct hotplug_memory_cfg *h,
                                struct buf *b)
{
    buf_printf(b,
               "{\"total_size_mib\":%u,\"block_size_mib\":%u,"
               "\"slot_size_mib\":%u}",
               h->total_size_mib, h->block_size_mib, h->slot_size_mib);
}

static const struct json_field hotplug_update_fields[] = {
    {FLD(struct hotplug_memory_update, "requested_size_mib", JSON_F_U32, 0,
         requested_size_mib)},
};
DESC(hotplug_update_desc, "MemoryHotplugSizeUpdate", hotplug_update_fields,
     true);

void hotplug_memory_update_fini(struct hotplug_memory_update *h)
{
    (void)h;
}

int hotplug_memory_update_parse(const char *body, size_t len,
                                struct hotplug_memory_update *out,
                                struct sq_err *err)
{
    memset(out, 0, sizeof(*out));
    if (schemas_api_parse(body, len, &hotplug_update_desc, out, err)) {
        memset(out, 0, sizeof(*out));
        return -EINVAL;
    }
    return 0;
}
