/*
 * vmm_hotplug.c: PUT /drives, /pmem, /network-interfaces after InstanceStart
 * (hot-plug) and DELETE on the same routes (hot-unplug), as upstream
 * 1.17-dev does them (vmm_int.h).
 *
 * Upstream (firecracker src/vmm/src/lib.rs Vmm::hotplug_device, then
 * device_manager/mod.rs DeviceManager::hotplug_device) logs its developer
 * preview warning, refuses without PCI ("PCI is not enabled") and an id the
 * bus already has ("Device ID in use"), then builds the device (block: a
 * root drive refused, Block::new; pmem: a root device refused, Pmem::new;
 * net: a guest MAC another NIC has refused, NetBuilder::create_net) and
 * attaches it to the PCI bus (a full bus: PciManagerError), answering 204.
 * There is no notification: the guest rescans its bus (docs/pci.md).
 *
 * squib takes every step up to the attach with upstream's texts and order
 * (building a block or net device is checked by opening what it would use
 * and closing it again; pmem's file is checked when the device is built),
 * refuses a full bus with upstream's text, then stores the configuration
 * as a PUT before boot would (so GET /vm/config and the metrics show the
 * device) and has the machine layer attach the device
 * (ops->hotplug_device: vmm/pci_hotplug.h). A failure there drops the
 * configuration again (its file or TAP closed): nothing is kept. Unplug:
 * "PCI is not enabled", "Device not found", "Cannot unplug root device",
 * then ops->unplug_device and the configuration dropped.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/pci/root.h"
#include "obs/log.h"
#include "vmm/vdev.h"
#include "vmm/vmm_int.h"

#define ERR_NO_PCI        "PCI is not enabled"
#define ERR_ID_IN_USE     "Device ID in use"
#define ERR_NOT_FOUND     "Device not found"
#define ERR_ROOT_UNPLUG   "Cannot unplug root device"
#define ERR_NOT_SUPPORTED "The requested operation is not supported: "

/* The per-kind checks that come before upstream attaches the device. */
static int check_drive(const struct drive_cfg *d, struct sq_err *err)
{
    int rc;

    if (d->is_root_device)
        return sq_errf(err, -EEXIST,
                       "Drive config error: A root block device already "
                       "exists!");
    rc = res_check_drive(d, err);
    if (rc)
        sq_err_prefix(err, "Drive config error: ");
    return rc;
}

static int check_pmem(const struct pmem_cfg *p, struct sq_err *err)
{
    if (p->root_device)
        return sq_errf(err, -EINVAL,
                       "Pmem config error: Attempt to add pmem as a root "
                       "device while the root device defined as a block "
                       "device");
    return 0;
}

static int check_net(const struct vm_resources *r,
                     const struct net_iface_cfg *n, struct sq_err *err)
{
    int rc;

    for (size_t i = 0; n->has_guest_mac && i < r->n_nets; i++) {
        const uint8_t *m = n->guest_mac;

        if (r->nets[i].cfg.has_guest_mac &&
            !memcmp(r->nets[i].cfg.guest_mac, m, 6))
            return sq_errf(err, -EEXIST,
                           "Network config error: The MAC address is already "
                           "in use: %02x:%02x:%02x:%02x:%02x:%02x",
                           m[0], m[1], m[2], m[3], m[4], m[5]);
    }
    rc = res_check_net(r, n, err);
    if (rc)
        sq_err_prefix(err, "Network config error: ");
    return rc;
}

/* True if the device of this kind and id is on the machine. */
static bool id_in_use(struct vm_resources *r, enum vmm_op op, const char *id,
                      size_t len)
{
    if (op == VMM_OP_PUT_DRIVE)
        return res_find_drive(r, id, len) != NULL;
    if (op == VMM_OP_PUT_NET)
        return res_find_net(r, id, len) != NULL;
    for (size_t i = 0; i < r->n_pmems; i++) {
        if (r->pmems[i].id_len == len && !memcmp(r->pmems[i].id, id, len))
            return true;
    }
    return false;
}

/* Upstream's hot-plug PmemConfigError::CreateDevice for what the pmem
 * kind reports with StartMicrovmError::CreatePmemDevice's prefix. */
static void pmem_error_text(struct sq_err *err)
{
    static const char boot[] = "Cannot create pmem device: ";
    size_t skip = sizeof(boot) - 1;

    if (strncmp(err->msg, boot, skip) != 0)
        return;
    memmove(err->msg, err->msg + skip, strlen(err->msg + skip) + 1);
    sq_err_prefix(err, "Pmem config error: Unable to create the virtio-pmem "
                       "device: ");
}

/* Store the request's configuration as a PUT before boot does; 0 and the
 * index the machine layer builds it from, or -errno with err set. */
static int store_config(struct vm_resources *r, const struct vmm_request *req,
                        size_t *index, struct sq_err *err)
{
    const union vmm_body *b = &req->body;
    int rc;

    if (req->op == VMM_OP_PUT_DRIVE) {
        rc = res_set_drive(r, &b->drive, err);
        if (rc)
            return sq_err_prefix(err, "Drive config error: ");
        *index = (size_t)(res_find_drive(r, b->drive.drive_id,
                                         b->drive.drive_id_len) -
                          r->drives);
    } else if (req->op == VMM_OP_PUT_PMEM) {
        rc = res_set_pmem(r, &b->pmem, err);
        if (rc)
            return sq_err_prefix(err, "Pmem config error: ");
        *index = r->n_pmems - 1; /* a new id is appended */
    } else {
        rc = res_set_net(r, &b->net, err);
        if (rc)
            return sq_err_prefix(err, "Network config error: ");
        *index =
            (size_t)(res_find_net(r, b->net.iface_id, b->net.iface_id_len) -
                     r->nets);
    }
    return 0;
}

/* Drop the configuration of device `id` of the kind `op` names (PUT or
 * DELETE), closing its file or TAP. */
static void drop_config(struct vm_resources *r, enum vmm_op op, const char *id)
{
    if (op == VMM_OP_PUT_DRIVE || op == VMM_OP_DELETE_DRIVE)
        (void)res_remove_drive(r, id);
    else if (op == VMM_OP_PUT_PMEM || op == VMM_OP_DELETE_PMEM)
        (void)res_remove_pmem(r, id);
    else
        (void)res_remove_net(r, id);
}

/* The id a PUT names, NUL-terminated in buf. */
static const char *put_id(const struct vmm_request *req, char *buf, size_t n)
{
    const union vmm_body *b = &req->body;
    const char *id = b->net.iface_id;
    size_t len = b->net.iface_id_len;

    if (req->op == VMM_OP_PUT_DRIVE) {
        id = b->drive.drive_id;
        len = b->drive.drive_id_len;
    } else if (req->op == VMM_OP_PUT_PMEM) {
        id = b->pmem.id;
        len = b->pmem.id_len;
    }
    snprintf(buf, n, "%.*s", (int)len, id ? id : "");
    return buf;
}

int vmm_hotplug(struct vmm *v, const struct vmm_request *req,
                struct sq_err *err)
{
    struct vm_resources *r = &v->res;
    const union vmm_body *b = &req->body;
    char id[256];
    size_t index = 0;
    int rc;

    log_warn("[DevPreview] PCI device hotplug is in development preview.");
    if (!r->pci_enabled)
        return sq_errf(err, -EOPNOTSUPP, ERR_NO_PCI);
    if (req->op == VMM_OP_PUT_DRIVE) {
        if (id_in_use(r, req->op, b->drive.drive_id, b->drive.drive_id_len))
            return sq_errf(err, -EEXIST, ERR_ID_IN_USE);
        rc = check_drive(&b->drive, err);
    } else if (req->op == VMM_OP_PUT_PMEM) {
        if (id_in_use(r, req->op, b->pmem.id, b->pmem.id_len))
            return sq_errf(err, -EEXIST, ERR_ID_IN_USE);
        rc = check_pmem(&b->pmem, err);
    } else {
        if (id_in_use(r, req->op, b->net.iface_id, b->net.iface_id_len))
            return sq_errf(err, -EEXIST, ERR_ID_IN_USE);
        rc = check_net(r, &b->net, err);
    }
    if (rc)
        return rc;
    /* PciManagerError::PciRoot from next_device_sbdf: every device slot is
     * taken (the configuration holds exactly the devices on the bus). */
    if (vdev_count(r) >= PCI_N_DEVICE_SLOTS)
        return sq_errf(err, -ENOSPC, "PCI manager error: " PCI_ERR_NO_SLOT);
    if (!v->ops->hotplug_device)
        return sq_errf(err, -EOPNOTSUPP,
                       ERR_NOT_SUPPORTED "this machine has no PCI hot-plug");
    rc = store_config(r, req, &index, err);
    if (rc)
        return rc;
    rc = v->ops->hotplug_device(v, req->op, index, err);
    if (rc) {
        if (req->op == VMM_OP_PUT_PMEM)
            pmem_error_text(err);
        drop_config(r, req->op, put_id(req, id, sizeof(id)));
        return rc;
    }
    return 0;
}

int vmm_hot_unplug(struct vmm *v, const struct vmm_request *req,
                   struct sq_err *err)
{
    const char *id = req->id ? req->id : "";
    bool found = false, root = false;
    int rc;

    log_warn("[DevPreview] PCI device hot-unplug is in development preview.");
    if (!v->res.pci_enabled)
        return sq_errf(err, -EOPNOTSUPP, ERR_NO_PCI);
    if (req->op == VMM_OP_DELETE_DRIVE) {
        struct res_drive *d = res_find_drive(&v->res, id, strlen(id));

        found = d != NULL;
        root = d && d->cfg.is_root_device;
    } else if (req->op == VMM_OP_DELETE_NET) {
        found = res_find_net(&v->res, id, strlen(id)) != NULL;
    } else {
        for (size_t i = 0; i < v->res.n_pmems; i++) {
            if (!strcmp(v->res.pmems[i].id, id)) {
                found = true;
                root = v->res.pmems[i].root_device;
            }
        }
    }
    if (!found)
        return sq_errf(err, -ENODEV, ERR_NOT_FOUND);
    if (root)
        return sq_errf(err, -EBUSY, ERR_ROOT_UNPLUG);
    if (!v->ops->unplug_device)
        return sq_errf(err, -EOPNOTSUPP,
                       ERR_NOT_SUPPORTED "this machine has no PCI hot-plug");
    rc = v->ops->unplug_device(v, req->op, id, err);
    if (rc)
        return rc;
    drop_config(&v->res, req->op, id);
    return 0;
}
