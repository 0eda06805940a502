/*
 * create.c: PUT /snapshot/create (snapshot.h): the state file, then the
 * memory file (memfile.h, Full or Diff), as upstream's create_snapshot.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot/memfile.h"
#include "snapshot/snapshot.h"
#include "snapshot/snapshot_int.h"
#include "snapshot/state.h"
#include "util/fdio.h"
#include "util/xalloc.h"
#include "vmm/vmm_restore.h"

/* upstream's CreateSnapshotError::SnapshotBackingFile / MemoryBackingFile */
static int backing_error(struct sq_err *err, const char *what, const char *op,
                         int e)
{
    char os[128];

    return sq_errf(err, -e, "Cannot perform %s on the %s backing file: %s", op,
                   what, sq_os_error(e, os, sizeof(os)));
}

/* The configuration a device was built from, in the API's JSON form (a
 * new string), or NULL for a kind the state cannot hold. */
static char *device_config(struct vm_resources *r, const struct vdev_snap *d)
{
    struct buf b = BUF_INIT;

    if (!strcmp(d->kind, "virtio-block")) {
        struct res_drive *rd = res_find_drive(r, d->id, strlen(d->id));

        if (!rd)
            return NULL;
        drive_cfg_to_json(&rd->cfg, &b);
    } else if (!strcmp(d->kind, "virtio-net")) {
        struct res_net *rn = res_find_net(r, d->id, strlen(d->id));

        if (!rn)
            return NULL;
        net_iface_cfg_to_json(&rn->cfg, &b);
    } else if (!strcmp(d->kind, "virtio-rng") && r->has_entropy) {
        entropy_cfg_to_json(&r->entropy, &b);
    } else if (!strcmp(d->kind, "virtio-vsock") && r->has_vsock) {
        vsock_cfg_to_json(&r->vsock.cfg, &b);
    } else if (!strcmp(d->kind, "virtio-balloon") && r->has_balloon) {
        /* Kept current by PATCH /balloon and /balloon/statistics. */
        balloon_cfg_to_json(&r->balloon, &b);
    } else if (!strcmp(d->kind, "virtio-pmem")) {
        const struct pmem_cfg *pc = NULL;

        for (size_t i = 0; i < r->n_pmems; i++)
            if (!strcmp(r->pmems[i].id, d->id))
                pc = &r->pmems[i];
        if (!pc)
            return NULL;
        pmem_cfg_to_json(pc, &b);
    } else if (!strcmp(d->kind, "virtio-mem") && r->has_memory_hotplug) {
        hotplug_memory_cfg_to_json(&r->memory_hotplug, &b);
    } else {
        return NULL;
    }
    return buf_steal(&b, NULL);
}

/* The virtio devices' state and configurations into st, and on PCI their
 * transports and the root bus. The devices go first: saving one may
 * complete requests into guest memory. */
static int save_devices(struct vmm *v, struct microvm_state *st,
                        struct sq_err *err)
{
    struct vdev_list *l = vmm_vdevs(v);
    int rc;

    if (!l)
        return 0;
    rc = vdev_snap_save(l, &st->vdevs, &st->n_vdevs, err);
    if (rc < 0)
        return rc;
    st->vdev_configs = xcalloc(st->n_vdevs + 1, sizeof(*st->vdev_configs));
    for (size_t i = 0; i < st->n_vdevs; i++) {
        st->vdev_configs[i] = device_config(&v->res, &st->vdevs[i]);
        if (!st->vdev_configs[i])
            return sq_errf(err, -EOPNOTSUPP,
                           "Devices without snapshot support are present: %s",
                           st->vdevs[i].kind);
    }
    st->mmds = snap_mmds_from_resources(&v->res);
    /* After the devices' save hooks: what they raised is in MSI-X. */
    if (vmm_pci_of(v))
        pci_snap_save(vmm_pci_of(v), l, &st->pci);
    return 0;
}

static void fill_info(const struct vm_resources *r, const struct guest_mem *gm,
                      struct microvm_state *st)
{
    st->info.vcpu_count = st->machine.n_vcpus;
    st->info.mem_size_mib = r->machine.mem_size_mib;
    st->info.smt = r->machine.smt;
    st->info.huge_pages = (uint8_t)r->machine.huge_pages;
    st->info.cpu_template =
        (uint8_t)(r->machine.has_cpu_template ? r->machine.cpu_template
                                              : STATIC_CPU_TEMPLATE_NONE);
    /* Guest RAM only: a window (virtio-mem's hot-plug region) is described
     * by its device's own state, and the load checks these regions against
     * the layout of mem_size_mib. */
    st->n_regions = 0;
    for (size_t i = 0; i < gm->n_regions; i++) {
        if (gm->regions[i].borrowed)
            continue;
        st->regions[st->n_regions].gpa = gm->regions[i].gpa;
        st->regions[st->n_regions].size = gm->regions[i].size;
        st->n_regions++;
    }
}

/*
 * Write `len` bytes to a new file beside `path`, fsync it and rename it over
 * `path`: a reader of `path` sees the old file or the whole new one.
 */
static int write_state_file(const char *path, const void *p, size_t len,
                            struct sq_err *err)
{
    size_t n = strlen(path) + sizeof(".XXXXXX");
    char *tmp = xmalloc(n);
    int fd, e;

    snprintf(tmp, n, "%s.XXXXXX", path);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        e = errno;
        free(tmp);
        return backing_error(err, "snapshot", "open", e);
    }
    e = -fd_write_all(fd, p, len);
    if (e == 0 && fsync(fd) < 0)
        e = errno;
    if (e) {
        close(fd);
        unlink(tmp);
        free(tmp);
        return backing_error(err, "snapshot", "write", e);
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        e = errno;
        unlink(tmp);
        free(tmp);
        return backing_error(err, "snapshot", "rename", e);
    }
    free(tmp);
    return 0;
}

static int snapshot_create(struct vmm *v, const struct snapshot_create *p,
                           struct sq_err *err)
{
    struct machine *m = vmm_machine(v);
    struct microvm_state st;
    struct snap_writer w;
    int rc;

    if (!m)
        return sq_errf(err, -ENODEV,
                       "Cannot save the microVM state: no "
                       "machine");
    memset(&st, 0, sizeof(st));
    rc = save_devices(v, &st, err);
    if (rc == -EOPNOTSUPP)
        sq_err_prefix(err, "Operation not allowed: ");
    if (rc == 0)
        rc = machine_snap_save(m, &st.machine, err);
    if (rc < 0) {
        microvm_state_fini(&st);
        return sq_err_prefix(err, "Cannot save the microVM state: ");
    }
    fill_info(&v->res, machine_guest_mem(m), &st);
    snap_writer_init(&w);
    microvm_state_encode(&st, &w);
    snap_writer_finish(&w);
    microvm_state_fini(&st);
    rc = write_state_file(p->snapshot_path, w.b.data, w.b.len, err);
    snap_writer_fini(&w);
    if (rc == 0)
        rc = snapshot_mem_file_write(
            machine_guest_mem(m), machine_vm_fd(m), p->mem_file_path,
            p->snapshot_type == SNAPSHOT_TYPE_DIFF, err);
    return rc;
}

const struct vmm_snapshot_ops snapshot_vmm_ops = {
    .create = snapshot_create,
    .load = snapshot_load,
};
