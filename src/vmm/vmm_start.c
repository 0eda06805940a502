/*
 * vmm_start.c: the one place where the controller meets the machine layer
 * (vmm/machine.h: KVM, guest memory, vCPUs, legacy devices).
 *
 * vmm_start_machine() is InstanceStart's boot call, in upstream's
 * build_microvm_for_boot order as far as squib has the parts: command line
 * (cmdline_build: default or user args, root=, virtio entries), serial
 * output (opened now, O_RDWR|O_CREAT|O_NONBLOCK), GSIs for VMGenID and
 * VMClock after the virtio devices, then machine_create() and
 * machine_start(). Errors carry upstream's detail text; the caller adds
 * "Start microvm error: ".
 *
 * squib has no virtio devices yet. A configuration that needs one (a drive,
 * NIC, pmem, vsock, entropy device, balloon or memory hot-plug) is refused
 * at InstanceStart rather than booted without the device the guest was
 * promised.
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

#include "util/log.h"
#include "util/xalloc.h"
#include "vmm/cmdline.h"
#include "vmm/machine.h"
#include "vmm/vmm.h"

/* What the controller keeps of a built machine (v->machine). */
struct vmm_machine {
    struct machine *m; /* owned */
    int serial_fd;     /* owned; -1 = stdout */
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

static enum guest_mem_huge_pages huge_pages(enum huge_pages h)
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

/* The first configured device squib cannot build yet, or NULL. */
static const char *missing_device(const struct vm_resources *r)
{
    if (r->n_drives)
        return "virtio-block";
    if (r->n_nets)
        return "virtio-net";
    if (r->n_pmems)
        return "virtio-pmem";
    if (r->has_vsock)
        return "virtio-vsock";
    if (r->has_entropy)
        return "virtio-rng";
    if (r->has_balloon)
        return "virtio-balloon";
    if (r->has_memory_hotplug)
        return "virtio-mem";
    return NULL;
}

int vmm_start_machine(struct vmm *v, struct sq_err *err)
{
    struct vm_resources *r = &v->res;
    struct machine_config cfg;
    struct cmdline_extras x;
    struct serial_rate_limit srl;
    struct mmio_alloc alloc;
    struct vmm_machine *vm;
    const char *missing = missing_device(r);
    char cmdline[CMDLINE_MAX_SIZE];
    char os[128];
    int rc, serial_fd = -1;

    if (missing)
        return sq_errf(err, -EOPNOTSUPP,
                       "Could not attach device: the %s device is not "
                       "implemented by squib yet",
                       missing);

    memset(&x, 0, sizeof(x));
    x.pci_enabled = r->pci_enabled;
    x.root_pmem_index = -1;
    rc =
        cmdline_build(r->boot.cfg.boot_args, &x, cmdline, sizeof(cmdline), err);
    if (rc)
        return rc;

    /* VMGenID and VMClock take the next free legacy GSIs (digest 6.4). */
    memset(&cfg, 0, sizeof(cfg));
    mmio_alloc_init(&alloc);
    rc = mmio_alloc_gsi(&alloc, &cfg.vmgenid_gsi, err);
    if (!rc)
        rc = mmio_alloc_gsi(&alloc, &cfg.vmclock_gsi, err);
    if (rc)
        return rc;

    if (r->serial_out_path) {
        serial_fd = open(r->serial_out_path,
                         O_RDWR | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0644);
        /* Upstream's DeviceManager::new maps this io::Error to its EventFd
         * variant, hence the odd text. */
        if (serial_fd < 0)
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
        srl.size = r->serial_rate_limiter.size;
        srl.one_time_burst = r->serial_rate_limiter.has_one_time_burst
                                 ? r->serial_rate_limiter.one_time_burst
                                 : 0;
        srl.refill_time_ms = r->serial_rate_limiter.refill_time;
        cfg.serial_rate_limit = &srl;
    }

    cfg.vcpu_count = r->machine.vcpu_count;
    cfg.mem_size_mib = r->machine.mem_size_mib;
    cfg.smt = r->machine.smt;
    cfg.track_dirty_pages = r->machine.track_dirty_pages;
    cfg.huge_pages = huge_pages(r->machine.huge_pages);
    cfg.kernel_fd = r->boot.kernel_fd;
    cfg.initrd_fd = r->boot.initrd_fd;
    cfg.cmdline = cmdline;
    cfg.serial_out_fd = serial_fd;
    cfg.serial_stdin = serial_fd < 0; /* stdin feeds COM1 only with stdout */
    cfg.boot_timer = r->boot_timer;
    cfg.cpu_template = static_template(r);
    cfg.custom_template = r->has_custom_template ? &r->custom_template : NULL;
    /* The machine resolves the static template's CPUID and MSRs. */
    cfg.on_exit = on_machine_exit;
    cfg.exit_opaque = v;

    vm = xcalloc(1, sizeof(*vm));
    vm->serial_fd = serial_fd;
    rc = machine_create(&cfg, v->loop, &vm->m, err);
    if (rc)
        goto fail;
    rc = machine_start(vm->m, err);
    if (rc)
        goto fail;
    v->machine = vm;
    return 0;
fail:
    machine_destroy(vm->m);
    if (vm->serial_fd >= 0)
        close(vm->serial_fd);
    free(vm);
    return rc;
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
        return sq_errf(err, -ENODEV, "Failed to message the vCPUs.");
    return machine_send_ctrl_alt_del(m, err);
}

static void machine_op_stop(struct vmm *v)
{
    struct vmm_machine *vm = v->machine;

    if (!vm)
        return;
    machine_destroy(vm->m);
    if (vm->serial_fd >= 0)
        close(vm->serial_fd);
    free(vm);
    v->machine = NULL;
}

const struct vmm_machine_ops vmm_default_machine_ops = {
    .start = vmm_start_machine,
    .pause = machine_op_pause,
    .resume = machine_op_resume,
    .ctrl_alt_del = machine_op_ctrl_alt_del,
    .stop = machine_op_stop,
};
