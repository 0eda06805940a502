/*
 * mmds.c: the MMDS configuration (interface list, Rust's Ipv4Addr
 * syntax) and the MMDS data body (see mmds.h).
 */
#include "config/mmds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

static const char *const mmds_version_variants[] = {"V1", "V2"};

static int string_elem(struct json_dec *d, void *ctx, size_t index)
{
    struct mmds_cfg *m = ctx;
    char *s;
    char **slot;

    (void)index;
    if (json_dec_string(d, "a string", &s, NULL) < 0)
        return -1;
    slot = schemas_vec_push((void **)&m->network_interfaces,
                            &m->n_network_interfaces, sizeof(*slot));
    *slot = s;
    return 0;
}

static int dec_iface_list(struct json_dec *d, void *field_ptr,
                          const struct json_field *f)
{
    struct mmds_cfg *m = (struct mmds_cfg *)((char *)field_ptr - f->offset);

    return json_dec_seq(d, "a sequence", string_elem, m);
}

/* Rust's Ipv4Addr::from_str: at most 15 bytes, four decimal octets of 1-3
 * digits, no leading zeros, each <= 255. */
static bool parse_ipv4(const char *s, size_t n, uint8_t out[4])
{
    size_t i = 0;
    int k;

    if (n > 15)
        return false;
    for (k = 0; k < 4; k++) {
        unsigned v = 0, digits = 0;

        if (k) {
            if (i >= n || s[i] != '.')
                return false;
            i++;
        }
        while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 3) {
            if (digits == 1 && v == 0)
                return false; /* leading zero */
            v = v * 10 + (unsigned)(s[i] - '0');
            digits++;
            i++;
        }
        if (!digits || v > 255)
            return false;
        out[k] = (uint8_t)v;
    }
    return i == n;
}

/* serde's Ipv4Addr: deserialize_str with a FromStr visitor, so the parse
 * error is raised inside serde_json's deserialize_str and positioned right
 * after the string. */
static int dec_ipv4(struct json_dec *d, void *field_ptr,
                    const struct json_field *f)
{
    char *s;
    size_t n;
    bool ok;

    (void)f;
    if (json_dec_string(d, "IPv4 address", &s, &n) < 0)
        return -1;
    ok = parse_ipv4(s, n, field_ptr);
    free(s);
    if (!ok) {
        json_dec_custom(d, "invalid IPv4 address syntax");
        json_dec_fix_position(d);
        return -1;
    }
    return 0;
}

static const struct json_field mmds_fields[] = {
    {FLD(struct mmds_cfg, "version", JSON_F_ENUM, DEF, version),
     VARIANTS(mmds_version_variants)},
    {FLD(struct mmds_cfg, "network_interfaces", JSON_F_CUSTOM, 0,
         network_interfaces),
     .custom = dec_iface_list},
    {FLD(struct mmds_cfg, "ipv4_address", JSON_F_CUSTOM, OPT, ipv4_address),
     HAS(struct mmds_cfg, has_ipv4_address), .custom = dec_ipv4},
    {FLD(struct mmds_cfg, "imds_compat", JSON_F_BOOL, DEF, imds_compat)},
};
EDESC(schemas_mmds_desc, "MmdsConfig", mmds_fields, true);

void mmds_cfg_fini(struct mmds_cfg *m)
{
    size_t i;

    if (!m)
        return;
    for (i = 0; i < m->n_network_interfaces; i++)
        free(m->network_interfaces[i]);
    free(m->network_interfaces);
    memset(m, 0, sizeof(*m));
}

int mmds_cfg_parse(const char *body, size_t len, struct mmds_cfg *out,
                   struct sq_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = schemas_api_parse(body, len, &schemas_mmds_desc, out, err);
    if (rc) {
        mmds_cfg_fini(out);
        return rc;
    }
    out->deprecated = out->version == MMDS_VERSION_V1;
    return 0;
}

void mmds_cfg_to_json(const struct mmds_cfg *m, struct buf *b)
{
    static const uint8_t def[4] = {169, 254, 169, 254};
    const uint8_t *ip = m->has_ipv4_address ? m->ipv4_address : def;
    size_t i;

    buf_puts(b, "{\"version\":");
    json_write_cstr(b, m->version == MMDS_VERSION_V2 ? "V2" : "V1");
    buf_puts(b, ",\"network_interfaces\":[");
    for (i = 0; i < m->n_network_interfaces; i++) {
        if (i)
            buf_putc(b, ',');
        json_write_cstr(b, m->network_interfaces[i]);
    }
    buf_printf(b, "],\"ipv4_address\":\"%u.%u.%u.%u\",\"imds_compat\":", ip[0],
               ip[1], ip[2], ip[3]);
    json_write_bool(b, m->imds_compat);
    buf_putc(b, '}');
}

int mmds_body_parse(const char *body, size_t len, struct json_value **out,
                    struct sq_err *err)
{
    int rc = json_parse(body, len, out, err);

    if (rc) {
        char msg[SQ_ERR_MSG_MAX];

        snprintf(msg, sizeof(msg), "%s", err->msg);
        sq_errf(err, rc, SCHEMAS_SERDE_PREFIX "%s.", msg);
    }
    return rc;
}
