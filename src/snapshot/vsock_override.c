/*
 * vsock_override.c: vsock_override applied to a decoded state
 * (vsock_override.h).
 */
#include "snapshot/vsock_override.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/vsock.h"
#include "util/xalloc.h"

int snapshot_vsock_override(struct microvm_state *st, const char *uds_path,
                            struct sq_err *err)
{
    for (size_t i = 0; i < st->n_vdevs; i++) {
        struct buf b = BUF_INIT;
        struct vsock_cfg c;
        char *old;

        if (strcmp(st->vdevs[i].kind, "virtio-vsock") != 0)
            continue;
        if (vsock_cfg_parse(st->vdev_configs[i], strlen(st->vdev_configs[i]),
                            &c, err) < 0)
            return sq_err_prefix(err, "the saved vsock configuration: ");
        old = c.uds_path;
        c.uds_path = xstrdup(uds_path);
        free(old);
        vsock_cfg_to_json(&c, &b);
        vsock_cfg_fini(&c);
        free(st->vdev_configs[i]);
        st->vdev_configs[i] = buf_steal(&b, NULL);
        return 0;
    }
    return sq_errf(err, -ENODEV, SNAP_ERR_UNKNOWN_VSOCK);
}
