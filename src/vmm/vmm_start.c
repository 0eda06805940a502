/*
 * vmm_start.c: the one place where the controller meets the machine layer
 * (vmm/machine.h: KVM, guest memory, vCPUs, legacy devices).
 *
 * vmm_start_machine() is InstanceStart's boot call: the virtio devices
 * (built and placed), GSIs for VMGenID and VMClock after them, the command
 * line (cmdline_build: default or user args, pci=off, root=, virtio
 * entries), serial output (opened now, O_RDWR|O_CREAT|O_NONBLOCK), then
 * machine_create(), the devices attached to the machine and the vmm loop,
 * and machine_start(). Errors carry upstream's detail text; the caller adds
 * "Start microvm error: ".
 *
 * The virtio devices (docs/virtio.md) are one list (vmm/vdev.h) built in
 * upstream's attach order: balloon, block devices (root first, then
 * insertion order), network interfaces (in their configuration order),
 * pmem devices, vsock, entropy, virtio-mem; each gets the next 4 KiB
 * window from 0xc0001000 and the next GSI from 5, a virtio_mmio.device=
 * entry and a DSDT device (the machine writes the tables from cfg.mmio);
 * pmem and virtio-mem also get their memory windows past 512 GiB
 * (vmm/mem_window.h). Devices squib does not have yet (vhost-user block)
 * are refused at InstanceStart rather than booted without the device the
 * guest was promised. Any failure unwinds everything: no machine, devices
 * freed, serial output closed.
 *
 * Teardown (stop): pause the vCPUs, detach the devices while guest memory
 * and the VM fd exist, destroy the machine, free the devices.
 *
 * The other entry points (pause, resume, Ctrl+Alt+Del, stop) forward to the
 * machine; the machine's stop request (guest reset, fatal vCPU exit) comes
 * back through on_exit and asks the main loop to end the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "obs/log.h"
#include "util/xalloc.h"
#include "vmm/cmdline.h"
#include "vmm/device_cfg.h"
#include "vmm/errors.h"
#include "vmm/machine.h"
#include "vmm/mmio_attach.h"
#include "vmm/pci_attach.h"
#include "vmm/pci_hotplug.h"
#include "vmm/vdev.h"
#include "vmm/vmm.h"
#include "vmm/vmm_restore.h"

/* What the controller keeps of a built machine (v->machine). */
struct vmm_machine {
    struct machine *m;      /* owned */
    int serial_fd;          /* owned; -1 = stdout */
    struct vdev_list vdevs; /* owned; in attach order */
    struct vmm_pci *pci;    /* owned; NULL without --enable-pci */
};

static struct machine *machine_of(struct vmm *v)
{
    struct vmm_machine *vm = v->machine;

    return vm ? vm->m : NULL;
}

static void on_machine_exit(void *opaque, int exit_code)
{
    struct vmm *v = opaque;

    v->exit_requested = true;
    v->exit_code = exit_code;
    /* Upstream's event loop ends when the Vmm stops; the main loop then
     * tears down and exits with the code. */
    if (v->loop)
        evloop_stop(v->loop);
}

static enum cpu_static_template static_template(const struct vm_resources *r)
{
    if (!r->machine.has_cpu_template)
        return CPU_TEMPLATE_NONE;
    switch (r->machine.cpu_template) {
    case STATIC_CPU_TEMPLATE_C3:
        return CPU_TEMPLATE_C3;
    case STATIC_CPU_TEMPLATE_T2:
        return CPU_TEMPLATE_T2;
    case STATIC_CPU_TEMPLATE_T2S:
        return CPU_TEMPLATE_T2S;
    case STATIC_CPU_TEMPLATE_T2CL:
        return CPU_TEMPLATE_T2CL;
    case STATIC_CPU_TEMPLATE_T2A:
        return CPU_TEMPLATE_T2A;
    default:
        return CPU_TEMPLATE_NONE;
    }
}

enum guest_mem_huge_pages vmm_guest_huge_pages(enum huge_pages h)
{
    switch (h) {
    case HUGE_PAGES_TRANSPARENT:
        return GUEST_MEM_HUGE_THP;
    case HUGE_PAGES_2M:
        return GUEST_MEM_HUGE_2M;
    default:
        return GUEST_MEM_HUGE_NONE;
    }
}

/* Everything a failed start or a stop releases, in docs/virtio.md's order. */
static void vmm_machine_free(struct vmm_machine *vm)
{
    if (!vm)
        return;
    if (vm->m) {
        vmm_pci_detach(vm->pci);
        vdev_list_detach(&vm->vdevs);
    }
    machine_destroy(vm->m);
    vm->m = NULL;
    vmm_pci_free(vm->pci); /* unhooks the transports before the devices go */
    vdev_list_free(&vm->vdevs);
    if (vm->serial_fd >= 0)
        close(vm->serial_fd);
    free(vm);
}

/* Upstream's error chain around the allocator's text for VMGenID and VMClock
 * (StartMicrovmError::AttachDevice over AttachDeviceError::AttachAcpiDevice;
 * the virtio devices' MmioTransport chain is vdev.h's). */
#define ERR_ATTACH_ACPI                                                        \
    "Could not attach device: Error while registering ACPI with KVM: "

/* VMGenID and VMClock take the next two legacy GSIs (digest 6.4). */
static int alloc_acpi_gsis(struct mmio_alloc *alloc, struct machine_config *cfg,
                           struct sq_err *err)
{
    int rc = mmio_alloc_gsi(alloc, &cfg->vmgenid_gsi, err);

    if (rc)
        return sq_err_prefix(err, ERR_ATTACH_ACPI "VMGenID: ");
    rc = mmio_alloc_gsi(alloc, &cfg->vmclock_gsi, err);
    if (rc)
        return sq_err_prefix(err, ERR_ATTACH_ACPI "VMClock: ");
    return 0;
}

/*
 * Describe the placed devices for the machine (mmio[]) and the command
 * line (dev[]), both with room for l->n entries. Returns the index of the
 * root drive's device in attach order (l->n if there is none).
 */
static size_t devices_describe(const struct vm_resources *r,
                               const struct vdev_list *l,
                               struct machine_mmio_dev *mmio,
                               struct cmdline_dev *dev)
{
    const struct vmm_vdev *root = NULL;

    for (size_t i = 0; i < l->n; i++) {
        const struct vmm_vdev *d = &l->devs[i];

        virtio_mmio_machine_dev(d->t, d->addr, d->gsi, &mmio[i]);
        dev[i].addr = d->addr;
        dev[i].gsi = d->gsi;
    }
    if (res_has_root_block(r))
        root = vdev_find(l, &vdev_class_block, r->drives[0].cfg.drive_id);
    return root ? (size_t)(root - l->devs) : l->n;
}

/*
 * A root pmem device's root=/dev/pmem{index} ro|rw (upstream's
 * attach_pmem_devices: index among the pmem devices, inserted as that
 * device is attached, so just before its own virtio_mmio entry).
 */
static void root_pmem_describe(const struct vm_resources *r,
                               const struct vdev_list *l,
                               struct cmdline_extras *x)
{
    for (size_t i = 0; i < r->n_pmems; i++) {
        const struct vmm_vdev *d;

        if (!r->pmems[i].root_device)
            continue;
        d = vdev_find(l, &vdev_class_pmem, r->pmems[i].id);
        x->root_pmem_index = (int)i;
        x->root_pmem_ro = r->pmems[i].read_only;
        x->root_pmem_at = d ? (size_t)(d - l->devs) : l->n;
        return;
    }
}

/* The device list's change hook (vmm thread): the main loop re-renders the
 * read mirror once the current batch of events is handled. */
static void mark_mirror_stale(void *opaque)
{
    struct vmm *v = opaque;

    v->mirror_stale = true;
}

/*
 * What a boot and a snapshot restore configure alike: the serial output
 * (opened now, O_RDWR|O_CREAT|O_NONBLOCK, into vm->serial_fd) and its rate
 * limiter (into *srl, which must outlive the machine's creation), the
 * machine-config sizes, the boot timer and the exit callback. Returns 0 or
 * -errno with err set.
 */
static int machine_common_config(struct vmm *v, struct vmm_machine *vm,
                                 struct machine_config *cfg,
                                 struct serial_rate_limit *srl,
                                 struct sq_err *err)
{
    const struct vm_resources *r = &v->res;
    char os[128];

    if (r->serial_out_path) {
        vm->serial_fd = open(r->serial_out_path,
                             O_RDWR | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0644);
        /* Upstream's DeviceManager::new maps this io::Error to its EventFd
         * variant, hence the odd text. */
        if (vm->serial_fd < 0)
            return sq_errf(err, -errno,
                           "Failed to create device manager: Error with "
                           "EventFd: %s",
                           sq_os_error(errno, os, sizeof(os)));
    }
    /* TokenBucket::new: size 0, refill 0 or an overflowing refill time in
     * nanoseconds means no limit. */
    if (r->has_serial_rate_limiter && r->serial_rate_limiter.size &&
        r->serial_rate_limiter.refill_time &&
        r->serial_rate_limiter.refill_time <= UINT64_MAX / 1000000u) {
        srl->size = r->serial_rate_limiter.size;
        srl->one_time_burst = r->serial_rate_limiter.has_one_time_burst
                                  ? r->serial_rate_limiter.one_time_burst
                                  : 0;
        srl->refill_time_ms = r->serial_rate_limiter.refill_time;
        cfg->serial_rate_limit = srl;
    }
    cfg->vcpu_count = r->machine.vcpu_count;
    cfg->mem_size_mib = r->machine.mem_size_mib;
    cfg->smt = r->machine.smt;
    cfg->track_dirty_pages = r->machine.track_dirty_pages;
    cfg->huge_pages = vmm_guest_huge_pages(r->machine.huge_pages);
    cfg->serial_out_fd = vm->serial_fd;
    /* stdin feeds COM1 only with stdout */
    cfg->serial_stdin = vm->serial_fd < 0;
    cfg->boot_timer = r->boot_timer;
    cfg->on_exit = on_machine_exit;
    cfg->exit_opaque = v;
    return 0;
}

/*
 * Build the configured virtio devices into vm->vdevs, placed through
 * `alloc` (NULL: on PCI), and describe them for the machine (*mmio) and the
 * command line
 * (*dev), both new arrays the caller frees; *root_at is the root drive's
 * index (devices_describe). A device whose GET answers change on the
 * guest's schedule marks the read mirror stale. 0 or -errno with err set.
 */
static int build_vdevs(struct vmm *v, struct vmm_machine *vm,
                       struct mmio_alloc *alloc, struct machine_mmio_dev **mmio,
                       struct cmdline_dev **dev, size_t *root_at,
                       struct sq_err *err)
{
    int rc;

    vm->vdevs.changed = mark_mirror_stale;
    vm->vdevs.changed_opaque = v;
    rc = vdev_list_create(&vm->vdevs, &v->res, alloc, err);
    if (rc)
        return rc;
    *mmio = xcalloc(vm->vdevs.n + 1, sizeof(**mmio));
    *dev = xcalloc(vm->vdevs.n + 1, sizeof(**dev));
    *root_at = devices_describe(&v->res, &vm->vdevs, *mmio, *dev);
    return 0;
}

/*
 * The end of a build: with rc 0 the machine becomes the controller's
 * (v->machine), otherwise everything in vm is released. The description
 * arrays are freed either way. Returns rc.
 */
static int settle(struct vmm *v, struct vmm_machine *vm, int rc,
                  struct machine_mmio_dev *mmio, struct cmdline_dev *dev)
{
    free(mmio);
    free(dev);
    if (rc) {
        vmm_machine_free(vm);
        return rc;
    }
    v->machine = vm;
    return 0;
}

/* vmm_start_machine's build; the vCPUs start only with `start`. */
static int build_machine(struct vmm *v, bool start, struct sq_err *err)
{
    struct vm_resources *r = &v->res;
    struct machine_config cfg;
    struct cmdline_extras x;
    struct serial_rate_limit srl;
    struct mmio_alloc alloc;
    struct vmm_machine *vm;
    struct machine_mmio_dev *mmio = NULL;
    struct cmdline_dev *dev = NULL;
    const char *missing = vdev_unsupported(r);
    char cmdline[CMDLINE_MAX_SIZE];
    char root[CMDLINE_MAX_SIZE + 16];
    size_t root_at;
    int rc;

    if (missing)
        return sq_errf(err, -EOPNOTSUPP,
                       "Could not attach device: the %s device is not "
                       "implemented by squib yet",
                       missing);

    vm = xcalloc(1, sizeof(*vm));
    vm->serial_fd = -1;
    memset(&cfg, 0, sizeof(cfg));
    mmio_alloc_init(&alloc);

    /* virtio devices in attach order, then VMGenID and VMClock take the
     * next free legacy GSIs (digest 6.4). With --enable-pci the devices
     * go on PCI (pci_attach.h) and take no MMIO window or legacy GSI:
     * VMGenID and VMClock get GSIs 5 and 6, as upstream; the list counts
     * the bus's 31 device slots instead. */
    rc = build_vdevs(v, vm, r->pci_enabled ? NULL : &alloc, &mmio, &dev,
                     &root_at, err);
    if (rc == 0 && r->pci_enabled)
        rc = vmm_pci_new(&vm->vdevs, &vm->pci, err);
    if (rc)
        goto fail;
    rc = alloc_acpi_gsis(&alloc, &cfg, err);
    if (rc)
        goto fail;

    memset(&x, 0, sizeof(x));
    x.pci_enabled = r->pci_enabled;
    x.root_pmem_index = -1;
    /* No virtio_mmio.device= entries on PCI (digest 6.5). */
    x.n_virtio = vm->pci ? 0 : vm->vdevs.n;
    x.virtio = dev;
    if (res_has_root_block(r)) {
        const struct drive_cfg *d = &r->drives[0].cfg;

        /* root=PARTUUID=... or root=/dev/vda, then ro/rw, just before the
         * root drive's own virtio_mmio entry (upstream appends them as it
         * attaches that drive; it is the first block device). */
        if (d->partuuid && strlen(d->partuuid) >= CMDLINE_MAX_SIZE) {
            /* Too long for the buffer: certainly too long for the line. */
            rc = sq_errf(err, -E2BIG,
                         "Invalid kernel command line: Inserting string "
                         "would make command line too long.");
            goto fail;
        }
        if (d->partuuid)
            snprintf(root, sizeof(root), "PARTUUID=%s", d->partuuid);
        else
            snprintf(root, sizeof(root), "/dev/vda");
        x.root_block = root;
        x.root_block_ro = d->has_is_read_only && d->is_read_only;
        x.root_block_at = root_at;
    }
    root_pmem_describe(r, &vm->vdevs, &x);
    rc =
        cmdline_build(r->boot.cfg.boot_args, &x, cmdline, sizeof(cmdline), err);
    if (rc)
        goto fail;

    rc = machine_common_config(v, vm, &cfg, &srl, err);
    if (rc)
        goto fail;
    cfg.kernel_fd = r->boot.kernel_fd;
    cfg.initrd_fd = r->boot.initrd_fd;
    cfg.cmdline = cmdline;
    cfg.cpu_template = static_template(r);
    cfg.custom_template = r->has_custom_template ? &r->custom_template : NULL;
    /* The machine resolves the static template's CPUID and MSRs. */
    cfg.n_mmio = vm->pci ? 0 : vm->vdevs.n;
    cfg.mmio = mmio;
    cfg.pci_enabled = r->pci_enabled;
    if (vm->pci)
        cfg.bus_ranges = vmm_pci_ranges(vm->pci, &cfg.n_bus_ranges);

    rc = machine_create(&cfg, v->loop, &vm->m, err);
    if (rc)
        goto fail;
    rc = vdev_list_add_memory(&vm->vdevs, machine_guest_mem(vm->m), err);
    if (rc)
        goto fail;
    /* On PCI the devices register no MMIO notification ioeventfds (vm_fd
     * -1); their transports register the PCI ones. */
    rc = vdev_list_attach(&vm->vdevs, machine_guest_mem(vm->m),
                          vm->pci ? -1 : machine_vm_fd(vm->m), v->loop, err);
    if (rc == 0 && vm->pci)
        rc = vmm_pci_attach(vm->pci, machine_vm_fd(vm->m), err);
    if (rc)
        goto fail;
    if (start)
        rc = machine_start(vm->m, err);
fail:
    return settle(v, vm, rc, mmio, dev);
}

int vmm_start_machine(struct vmm *v, struct sq_err *err)
{
    return build_machine(v, true, err);
}

int vmm_build_machine(struct vmm *v, struct sq_err *err)
{
    return build_machine(v, false, err);
}

/*
 * The PCI bus of a restore: each device at its saved slot, BAR and GSIs;
 * the machine maps them (cfg). 0 or -errno with err set.
 */
static int restore_pci_bus(struct vmm_machine *vm, const struct pci_snap *s,
                           struct machine_config *cfg, struct sq_err *err)
{
    struct vmm_pci_place *at = xcalloc(vm->vdevs.n + 1, sizeof(*at));
    int rc = pci_snap_places(s, &vm->vdevs, at, err);

    if (rc == 0)
        rc = vmm_pci_new_at(&vm->vdevs, at, &vm->pci, err);
    free(at);
    if (rc == 0) {
        cfg->pci_enabled = true;
        cfg->bus_ranges = vmm_pci_ranges(vm->pci, &cfg->n_bus_ranges);
    }
    return rc;
}

int vmm_restore_machine(struct vmm *v, struct guest_mem *mem,
                        const struct vmm_restore *rs, struct sq_err *err)
{
    struct machine_config cfg;
    struct serial_rate_limit srl;
    struct mmio_alloc alloc;
    struct machine_mmio_dev *mmio = NULL;
    struct cmdline_dev *dev = NULL;
    struct vmm_machine *vm = xcalloc(1, sizeof(*vm));
    size_t root_at;
    int rc;

    vm->serial_fd = -1;
    memset(&cfg, 0, sizeof(cfg));
    mmio_alloc_init(&alloc);
    /* The devices of the snapshot's configuration, in the same places:
     * virtio-mmio windows as a boot gives them, or the saved PCI ones;
     * memory windows (pmem) at the saved addresses. */
    vm->vdevs.saved = rs->vdevs;
    vm->vdevs.n_saved = rs->n_vdevs;
    rc =
        build_vdevs(v, vm, rs->pci ? NULL : &alloc, &mmio, &dev, &root_at, err);
    vm->vdevs.saved = NULL;
    vm->vdevs.n_saved = 0;
    if (rc == 0 && rs->pci)
        rc = restore_pci_bus(vm, rs->pci, &cfg, err);
    /* Where the boot put VMGenID and VMClock, for a state file without
     * their state (machine_acpi_restore): after the virtio-mmio GSIs, or
     * the first two on PCI, as a boot gives them. */
    if (rc == 0)
        rc = alloc_acpi_gsis(&alloc, &cfg, err);
    if (rc == 0)
        rc = machine_common_config(v, vm, &cfg, &srl, err);
    if (rc) {
        guest_mem_free(mem);
        goto fail;
    }
    cfg.kernel_fd = -1;
    cfg.initrd_fd = -1;
    cfg.n_mmio = vm->pci ? 0 : vm->vdevs.n;
    cfg.mmio = mmio;
    cfg.restore_mem = mem; /* the machine owns it from here */
    rc = machine_create(&cfg, v->loop, &vm->m, err);
    /* virtio-mem adopts the window the load mapped from the memory file. */
    if (rc == 0)
        rc = vdev_list_add_memory(&vm->vdevs, machine_guest_mem(vm->m), err);
    if (rc == 0)
        rc =
            vdev_list_attach(&vm->vdevs, machine_guest_mem(vm->m),
                             vm->pci ? -1 : machine_vm_fd(vm->m), v->loop, err);
    /* PCI (pci_snap.h): the transports first, MSI-X not yet connected,
     * then the devices, then routes, irqfds and ioeventfds. */
    if (rc == 0 && vm->pci)
        rc = pci_snap_restore(vm->pci, &vm->vdevs, rs->pci, err);
    if (rc == 0)
        rc = vdev_snap_restore(&vm->vdevs, rs->vdevs, rs->n_vdevs, err);
    if (rc == 0 && vm->pci)
        rc = vmm_pci_attach(vm->pci, machine_vm_fd(vm->m), err);
    if (rc == 0)
        rc = machine_snap_restore(vm->m, rs->machine, rs->clock_realtime, err);
    if (rc == 0)
        rc = rs->resume ? machine_start(vm->m, err)
                        : machine_start_paused(vm->m, err);
fail:
    return settle(v, vm, rc, mmio, dev);
}

struct vdev_list *vmm_vdevs(struct vmm *v)
{
    struct vmm_machine *vm = v->machine;

    return vm && v->ops == &vmm_default_machine_ops ? &vm->vdevs : NULL;
}

struct vmm_pci *vmm_pci_of(struct vmm *v)
{
    struct vmm_machine *vm = v->machine;

    return vm && v->ops == &vmm_default_machine_ops ? vm->pci : NULL;
}

struct machine *vmm_machine(struct vmm *v)
{
    return v->ops == &vmm_default_machine_ops ? machine_of(v) : NULL;
}

static int machine_op_pause(struct vmm *v, struct sq_err *err)
{
    struct machine *m = machine_of(v);

    if (!m)
        return sq_errf(err, -ENODEV, "Failed to pause the vCPUs.");
    return machine_pause(m, err);
}

static int machine_op_resume(struct vmm *v, struct sq_err *err)
{
    struct machine *m = machine_of(v);

    if (!m)
        return sq_errf(err, -ENODEV, "Failed to resume the vCPUs.");
    return machine_resume(m, err);
}

static int machine_op_ctrl_alt_del(struct vmm *v, struct sq_err *err)
{
    struct machine *m = machine_of(v);

    if (!m)
        return sq_errf(err, -ENODEV, VMM_ERR_VCPU_MESSAGE);
    return machine_send_ctrl_alt_del(m, err);
}

static void machine_op_stop(struct vmm *v)
{
    struct vmm_machine *vm = v->machine;
    struct sq_err err;

    if (!vm)
        return;
    /* docs/virtio.md: vCPUs stopped, devices detached while memory and
     * the VM fd exist, machine destroyed, devices freed. */
    if (machine_pause(vm->m, &err) < 0)
        log_warn("Failed to pause the vCPUs before teardown: %s", err.msg);
    vmm_machine_free(vm);
    v->machine = NULL;
}

/* The kind a post-boot PATCH or GET operation is for, or NULL. */
static const struct vdev_class *class_of(enum vmm_op op)
{
    switch (op) {
    case VMM_OP_PATCH_DRIVE:
        return &vdev_class_block;
    case VMM_OP_PATCH_NET:
        return &vdev_class_net;
    case VMM_OP_PATCH_BALLOON:
    case VMM_OP_PATCH_BALLOON_STATS:
    case VMM_OP_PATCH_BALLOON_HINTING_START:
    case VMM_OP_PATCH_BALLOON_HINTING_STOP:
    case VMM_OP_GET_BALLOON_STATS:
    case VMM_OP_GET_BALLOON_HINTING_STATUS:
        return &vdev_class_balloon;
    case VMM_OP_PATCH_PMEM:
        return &vdev_class_pmem;
    case VMM_OP_PATCH_HOTPLUG_MEMORY:
    case VMM_OP_GET_HOTPLUG_MEMORY:
        return &vdev_class_mem;
    default: /* the other operations reach no device */
        return NULL;
    }
}

static struct vmm_vdev *find_vdev(struct vmm *v, enum vmm_op op, const char *id)
{
    const struct vdev_class *cls = class_of(op);
    struct vmm_machine *vm = v->machine;

    return vm && cls ? vdev_find(&vm->vdevs, cls, id) : NULL;
}

static int machine_op_patch_device(struct vmm *v, enum vmm_op op,
                                   const char *id, const void *update,
                                   struct sq_err *err)
{
    struct vmm_vdev *d = find_vdev(v, op, id);

    if (!d || !d->cls->patch)
        return sq_errf(err, -ENODEV, VMM_ERR_DEVICE_NOT_FOUND);
    return d->cls->patch(d->dev, (int)op, update, err);
}

static int machine_op_query_device(struct vmm *v, enum vmm_op op,
                                   const char *id, void *out,
                                   struct sq_err *err)
{
    struct vmm_vdev *d = find_vdev(v, op, id);

    if (!d || !d->cls->query)
        return sq_errf(err, -ENODEV, VMM_ERR_DEVICE_NOT_FOUND);
    return d->cls->query(d->dev, (int)op, out, err);
}

/* vmm_pci_bus_update_fn over the machine: its vCPUs out of the buses. */
static int bus_update(void *ctx, machine_bus_fn *fn, void *opaque,
                      struct sq_err *err)
{
    return machine_bus_update(ctx, fn, opaque, err);
}

/* The hot-plug context of a built PCI machine, or -ENODEV. */
static int hotplug_ctx(struct vmm *v, struct pci_hotplug *h, struct sq_err *err)
{
    struct vmm_machine *vm = v->machine;

    if (!vm || !vm->m || !vm->pci)
        return sq_errf(err, -ENODEV, "PCI is not enabled");
    *h = (struct pci_hotplug){&vm->vdevs,
                              vm->pci,
                              machine_guest_mem(vm->m),
                              machine_vm_fd(vm->m),
                              v->loop,
                              bus_update,
                              vm->m};
    return 0;
}

static int machine_op_hotplug_device(struct vmm *v, enum vmm_op op,
                                     size_t index, struct sq_err *err)
{
    struct pci_hotplug h;
    unsigned slot = 0;
    int rc = hotplug_ctx(v, &h, err);

    if (rc == 0)
        rc = pci_hotplug_attach(&h, op, &v->res, index, &slot, err);
    return rc;
}

static int machine_op_unplug_device(struct vmm *v, enum vmm_op op,
                                    const char *id, struct sq_err *err)
{
    struct pci_hotplug h;
    int rc = hotplug_ctx(v, &h, err);

    if (rc == 0)
        rc = pci_hotplug_detach(&h, op, id, err);
    return rc;
}

const struct vmm_machine_ops vmm_default_machine_ops = {
    .start = vmm_start_machine,
    .pause = machine_op_pause,
    .resume = machine_op_resume,
    .ctrl_alt_del = machine_op_ctrl_alt_del,
    .stop = machine_op_stop,
    .patch_device = machine_op_patch_device,
    .query_device = machine_op_query_device,
    .hotplug_device = machine_op_hotplug_device,
    .unplug_device = machine_op_unplug_device,
};
