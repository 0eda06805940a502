/*
 * load.c: PUT /snapshot/load (snapshot.h), in upstream's order
 * (restore_from_snapshot): the state file, the overrides, the machine
 * config taken from the snapshot, the sanity checks, guest memory from the
 * memory file or a page-fault handler (load_uffd.h), then the machine
 * built from the state.
 *
 * Texts: upstream's LoadSnapshotError chain after "Load snapshot error: ",
 * e.g. "Failed to restore from snapshot: Failed to get snapshot state from
 * file: Failed to load snapshot state from file: CRC64 validation failed".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot/format.h"
#include "snapshot/load_kinds.h"
#include "snapshot/load_uffd.h"
#include "snapshot/snapshot_int.h"
#include "snapshot/state.h"
#include "snapshot/vsock_override.h"
#include "vmm/guest_mem_file.h"
#include "vmm/vdev_kind_snap.h"
#include "vmm/vmm_restore.h"

#define ERR_RESTORE "Failed to restore from snapshot: "
#define ERR_STATE   ERR_RESTORE "Failed to get snapshot state from file: "
#define ERR_MEMORY                                                             \
    ERR_RESTORE "Failed to load guest memory: Error creating guest memory "    \
                "from file: "
#define ERR_BUILD ERR_RESTORE "Failed to build microVM from snapshot: "

/* Read, check and decode the state file into *st. */
static int read_state(const char *path, struct microvm_state *st,
                      struct sq_err *err)
{
    enum snap_error kind;
    struct snap_file f;
    uint8_t *buf;
    size_t len;
    int rc = snap_file_read(path, &buf, &len, &kind, err);

    if (rc < 0) {
        sq_err_prefix(err, kind == SNAP_E_OPEN
                               ? ERR_STATE "Failed to open snapshot file: "
                               : ERR_STATE "Failed to load snapshot state "
                                           "from file: ");
        return rc;
    }
    rc = snap_file_parse(buf, len, &f, &kind, err);
    if (rc == 0)
        rc = microvm_state_decode(&f, st, err);
    free(buf);
    if (rc < 0)
        sq_err_prefix(err, ERR_STATE "Failed to load snapshot state from "
                                     "file: ");
    return rc;
}

/* The load's huge_pages: "Snapshot" (the default) keeps the saved one. */
static enum huge_pages huge_pages_for(const struct snapshot_load *p,
                                      const struct microvm_state *st)
{
    switch (p->huge_pages) {
    case SNAPSHOT_HUGE_PAGES_NONE:
        return HUGE_PAGES_NONE;
    case SNAPSHOT_HUGE_PAGES_TRANSPARENT:
        return HUGE_PAGES_TRANSPARENT;
    case SNAPSHOT_HUGE_PAGES_2M:
        return HUGE_PAGES_2M;
    default:
        return (enum huge_pages)st->info.huge_pages;
    }
}

/* The snapshot's machine config replaces the process's (upstream's
 * update_machine_config from VmInfo and the vCPU count). */
static int take_machine_config(struct vmm *v, const struct snapshot_load *p,
                               const struct microvm_state *st,
                               struct sq_err *err)
{
    struct machine_cfg mc;

    memset(&mc, 0, sizeof(mc));
    mc.has_vcpu_count = true;
    mc.vcpu_count = (uint8_t)st->machine.n_vcpus;
    mc.has_mem_size_mib = true;
    mc.mem_size_mib = st->info.mem_size_mib;
    mc.has_smt = true;
    mc.smt = st->info.smt;
    mc.has_cpu_template = true;
    mc.cpu_template = (enum static_cpu_template)st->info.cpu_template;
    mc.has_track_dirty_pages = true;
    mc.track_dirty_pages = p->track_dirty_pages;
    mc.has_huge_pages = true;
    mc.huge_pages = huge_pages_for(p, st);
    if (st->machine.n_vcpus > 255 || st->info.huge_pages > HUGE_PAGES_2M ||
        st->info.cpu_template > STATIC_CPU_TEMPLATE_T2A)
        return sq_errf(err, -EINVAL,
                       ERR_BUILD "Invalid machine configuration in the "
                                 "snapshot");
    if (res_update_machine_config(&v->res, &mc, err) < 0)
        return sq_err_prefix(err, ERR_BUILD "Cannot update the machine "
                                            "config: ");
    return 0;
}

/* One saved device configuration (the API's JSON form) into v->res, as
 * PUT /drives or PUT /entropy would put it, without marking the process
 * as configured for boot. */
static int take_device_config(struct vmm *v, const char *kind, const char *json,
                              struct sq_err *err)
{
    size_t len = strlen(json);
    int rc;

    if (!strcmp(kind, "virtio-block")) {
        struct drive_cfg d;

        rc = drive_cfg_parse(json, len, &d, err);
        if (rc == 0) {
            rc = res_set_drive(&v->res, &d, err);
            drive_cfg_fini(&d);
        }
        return rc;
    }
    if (!strcmp(kind, "virtio-net"))
        return snapshot_take_net_config(&v->res, json, err);
    if (!strcmp(kind, "virtio-rng")) {
        struct entropy_cfg e;

        rc = entropy_cfg_parse(json, len, &e, err);
        if (rc == 0) {
            rc = res_set_entropy(&v->res, &e, err);
            entropy_cfg_fini(&e);
        }
        return rc;
    }
    if (!strcmp(kind, "virtio-vsock") || !strcmp(kind, "virtio-balloon"))
        return snapshot_take_vsock_balloon(&v->res, kind, json, err);
    if (!strcmp(kind, "virtio-pmem") || !strcmp(kind, "virtio-mem"))
        return snapshot_take_memory_device(&v->res, kind, json, err);
    return sq_errf(err, -EINVAL, "unknown device kind %s", kind);
}

static int take_device_configs(struct vmm *v, const struct microvm_state *st,
                               struct sq_err *err)
{
    for (size_t i = 0; i < st->n_vdevs; i++) {
        int rc =
            take_device_config(v, st->vdevs[i].kind, st->vdev_configs[i], err);

        if (rc < 0 && !strcmp(st->vdevs[i].kind, "virtio-net"))
            return sq_err_prefix(err, ERR_BUILD); /* upstream's whole text */
        if (rc < 0) {
            char prefix[300];

            snprintf(prefix, sizeof(prefix),
                     ERR_BUILD "Cannot configure %s %s: ", st->vdevs[i].kind,
                     st->vdevs[i].id);
            sq_err_prefix(err, prefix);
            return rc;
        }
    }
    if (st->mmds &&
        snapshot_take_mmds(&v->res, st->mmds, v->instance_id, err) < 0)
        return sq_err_prefix(err, ERR_BUILD);
    return 0;
}

/* The kinds of st's devices, into kinds (SNAP_MAX_VDEVS entries). */
static const char *const *vdev_kinds(const struct microvm_state *st,
                                     const char **kinds)
{
    for (size_t i = 0; i < st->n_vdevs; i++)
        kinds[i] = st->vdevs[i].kind;
    return kinds;
}

/* upstream's snapshot_state_sanity_check, plus: the regions are the
 * layout this squib gives the snapshot's memory size. */
static int sanity_check(const struct microvm_state *st, struct sq_err *err)
{
    struct guest_region layout[GUEST_MEM_MAX_REGIONS];
    size_t n = guest_mem_layout(st->info.mem_size_mib << 20, layout);

    if (st->n_regions == 0)
        return sq_errf(err, -EINVAL,
                       ERR_RESTORE "Invalid snapshot state: No memory region "
                                   "defined.");
    if (n != st->n_regions)
        goto mismatch;
    for (size_t i = 0; i < n; i++)
        if (layout[i].gpa != st->regions[i].gpa ||
            layout[i].size != st->regions[i].size)
            goto mismatch;
    return 0;
mismatch:
    return sq_errf(err, -EINVAL,
                   ERR_RESTORE "Invalid snapshot state: the memory regions do "
                               "not match the memory size");
}

/* The virtio-mem window of the snapshot, if it has one (size 0: none):
 * the memory file holds it after the RAM. */
static int hotplug_window(const struct microvm_state *st,
                          struct guest_mem_window *win, struct sq_err *err)
{
    win->gpa = 0;
    win->size = 0;
    for (size_t i = 0; i < st->n_vdevs; i++) {
        const struct buf *b = &st->vdevs[i].device;
        struct virtio_mem_state s;

        if (strcmp(st->vdevs[i].kind, "virtio-mem"))
            continue;
        if (vdev_mem_state_decode((const uint8_t *)b->data, b->len, &s, err) <
            0)
            return sq_err_prefix(err, ERR_STATE "Failed to load snapshot "
                                                "state from file: ");
        win->gpa = s.addr;
        win->size = s.region_size;
        virtio_mem_state_fini(&s);
    }
    return 0;
}

/* Guest RAM (and the virtio-mem window) mapped privately from the memory
 * file. */
static int memory_from_file(const struct vmm *v, const char *path,
                            const struct guest_mem_window *win,
                            struct guest_mem **out, struct sq_err *err)
{
    char os[128];
    int fd, rc;

    *out = NULL;
    if (v->res.machine.huge_pages == HUGE_PAGES_2M)
        return sq_errf(err, -EINVAL,
                       ERR_MEMORY "Cannot restore hugetlbfs backed snapshot "
                                  "by mapping the memory file. Please use "
                                  "uffd.");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sq_errf(err, -errno,
                       ERR_MEMORY "Failed to load guest memory: %s",
                       sq_os_error(errno, os, sizeof(os)));
    rc = guest_mem_new(v->res.machine.mem_size_mib,
                       v->res.machine.huge_pages == HUGE_PAGES_TRANSPARENT
                           ? GUEST_MEM_HUGE_THP
                           : GUEST_MEM_HUGE_NONE,
                       out, err);
    if (rc == 0 && win->size) {
        rc = guest_mem_add_window(*out, win->gpa, win->size);
        if (rc < 0)
            sq_errf(err, rc, "Cannot create mmap region: %s",
                    sq_os_error(-rc, os, sizeof(os)));
    }
    if (rc == 0)
        rc = guest_mem_file_map(*out, fd, err);
    if (rc < 0) {
        guest_mem_free(*out);
        *out = NULL;
    }
    close(fd); /* the mappings keep the file */
    if (rc < 0)
        sq_err_prefix(err, ERR_MEMORY "Failed to restore guest memory: ");
    return rc;
}

int snapshot_load(struct vmm *v, const struct snapshot_load *p,
                  struct sq_err *err)
{
    struct microvm_state st;
    struct guest_mem *mem = NULL;
    const char *kinds[SNAP_MAX_VDEVS];
    struct guest_mem_window win;
    int rc;

    memset(&st, 0, sizeof(st));
    rc = read_state(p->snapshot_path, &st, err);
    if (rc < 0)
        return rc;
    rc = snapshot_network_overrides(st.vdev_configs, vdev_kinds(&st, kinds),
                                    st.n_vdevs, p->network_overrides,
                                    p->n_network_overrides, err);
    if (rc < 0)
        sq_err_prefix(err, ERR_STATE);
    else if (p->vsock_override_uds_path &&
             snapshot_vsock_override(&st, p->vsock_override_uds_path, err) < 0)
        rc = sq_err_prefix(err, ERR_STATE);
    if (rc == 0)
        rc = take_machine_config(v, p, &st, err);
    if (rc == 0)
        rc = take_device_configs(v, &st, err);
    if (rc == 0)
        rc = sanity_check(&st, err);
    if (rc == 0)
        rc = hotplug_window(&st, &win, err);
    if (rc == 0 && p->mem_backend_type == MEM_BACKEND_UFFD) {
        rc = snapshot_memory_from_uffd(
            v->res.machine.mem_size_mib,
            vmm_guest_huge_pages(v->res.machine.huge_pages), &win,
            p->mem_backend_path, &mem, err);
        if (rc < 0)
            sq_err_prefix(err, ERR_RESTORE "Failed to load guest memory: ");
    } else if (rc == 0) {
        rc = memory_from_file(v, p->mem_backend_path, &win, &mem, err);
    }
    if (rc == 0) {
        struct vmm_restore rs = {&st.machine,  st.vdevs,          st.n_vdevs,
                                 p->resume_vm, p->clock_realtime, st.pci};

        /* The snapshot decides the transport, whatever --enable-pci says
         * (upstream's VirtioDevicesState); hot-plug follows it. */
        v->res.pci_enabled = st.pci != NULL;

        rc = vmm_restore_machine(v, mem, &rs, err);
        if (rc < 0)
            sq_err_prefix(err, ERR_BUILD);
    }
    microvm_state_fini(&st);
    return rc;
}
