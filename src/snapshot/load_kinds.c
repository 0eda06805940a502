/*
 * load_kinds.c: saved vsock and balloon configurations back into the
 * resources (load_kinds.h).
 */
#include "snapshot/load_kinds.h"

#include <errno.h>
#include <string.h>

#include "config/balloon.h"
#include "config/vsock.h"

int snapshot_take_vsock_balloon(struct vm_resources *r, const char *kind,
                                const char *json, struct sq_err *err)
{
    size_t len = strlen(json);
    int rc;

    if (!strcmp(kind, "virtio-vsock")) {
        struct vsock_cfg c;

        rc = vsock_cfg_parse(json, len, &c, err);
        if (rc == 0) {
            rc = res_set_vsock(r, &c, err);
            vsock_cfg_fini(&c);
        }
        return rc;
    }
    if (!strcmp(kind, "virtio-balloon")) {
        struct balloon_cfg c;

        rc = balloon_cfg_parse(json, len, &c, err);
        if (rc == 0) {
            rc = res_set_balloon(r, &c, err);
            balloon_cfg_fini(&c);
        }
        return rc;
    }
    return sq_errf(err, -EINVAL, "unknown device kind %s", kind);
}
