/*
 * vsock.h: PUT /vsock, upstream's VsockDeviceConfig (strict;
 * vmm_config/vsock.rs).
 */
#ifndef SQUIB_CONFIG_VSOCK_H
#define SQUIB_CONFIG_VSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

struct vsock_cfg {
    char *vsock_id; /* owned; NULL = None (deprecated, never echoed) */
    uint32_t guest_cid;
    char *uds_path;  /* owned, never NULL after parse */
    bool deprecated; /* vsock_id given */
};

int vsock_cfg_parse(const char *body, size_t len, struct vsock_cfg *out,
                    struct sq_err *err);
void vsock_cfg_fini(struct vsock_cfg *v);
/* {"guest_cid":N,"uds_path":".."} (vsock_id is never written). */
void vsock_cfg_to_json(const struct vsock_cfg *v, struct buf *b);

#endif
