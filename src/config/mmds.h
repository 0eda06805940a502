/*
 * mmds.h: PUT /mmds/config, upstream's MmdsConfig (strict;
 * vmm_config/mmds.rs), and the PUT/PATCH /mmds body (any JSON value).
 */
#ifndef SQUIB_CONFIG_MMDS_H
#define SQUIB_CONFIG_MMDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/json.h"

enum mmds_version { MMDS_VERSION_V1 = 0, MMDS_VERSION_V2 };

struct mmds_cfg {
    enum mmds_version version; /* default V1 */
    size_t n_network_interfaces;
    char **network_interfaces; /* owned array of owned strings; may be empty
                                  (the non-empty rule is VMM-side) */
    bool has_ipv4_address;
    uint8_t ipv4_address[4]; /* network order: a.b.c.d -> {a,b,c,d} */
    bool imds_compat;        /* default false */
    bool deprecated;         /* version resolved to V1 */
};

int mmds_cfg_parse(const char *body, size_t len, struct mmds_cfg *out,
                   struct sq_err *err);
void mmds_cfg_fini(struct mmds_cfg *m);
/* {"version":"V1","network_interfaces":[..],"ipv4_address":"a.b.c.d",
 *  "imds_compat":b}; a missing address is written as 169.254.169.254. */
void mmds_cfg_to_json(const struct mmds_cfg *m, struct buf *b);

/* PUT/PATCH /mmds body: any JSON value (serde_json::Value). On success *out
 * is a new DOM owned by the caller (json_value_free). */
int mmds_body_parse(const char *body, size_t len, struct json_value **out,
                    struct sq_err *err);

#endif
