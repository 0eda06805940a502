/*
 * net.c: the network interface configuration: MacAddr syntax, field
 * tables, parsers and serializer (see net.h).
 */
#include "config/net.h"

#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

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
