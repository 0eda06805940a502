/*
 * load_kinds.c: saved vsock, balloon, pmem and virtio-mem configurations
 * back into the resources (load_kinds.h).
 */
#include "snapshot/load_kinds.h"

#include <errno.h>
#include <string.h>

#include "config/balloon.h"
#include "config/memory_hotplug.h"
#include "config/pmem.h"
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

int snapshot_take_memory_device(struct vm_resources *r, const char *kind,
                                const char *json, struct sq_err *err)
{
    size_t len = strlen(json);
    int rc;

    if (!strcmp(kind, "virtio-pmem")) {
        struct pmem_cfg c;

        rc = pmem_cfg_parse(json, len, &c, err);
        if (rc == 0) {
            rc = res_set_pmem(r, &c, err);
            pmem_cfg_fini(&c);
        }
        return rc;
    }
    if (!strcmp(kind, "virtio-mem")) {
        struct hotplug_memory_cfg c;

        rc = hotplug_memory_cfg_parse(json, len, &c, err);
        if (rc == 0) {
            rc = res_set_memory_hotplug(r, &c, err);
            hotplug_memory_cfg_fini(&c);
        }
        return rc;
    }
    return sq_errf(err, -EINVAL, "unknown device kind %s", kind);
}
