/*
 * vmm_start.c: the one place where the controller meets the machine layer
 * (KVM, guest memory, vCPUs, devices: src/vmm/machine.h, being written on
 * its own branch).
 *
 * vmm_start_machine() is InstanceStart's boot call. Until the machine layer
 * is merged it cannot build a VM and says so with upstream's category
 * ("Start microvm error: " is added by the caller), leaving the VM "Not
 * started" exactly as a failed boot does upstream. The other entry points
 * (pause, resume, Ctrl+Alt+Del, stop) are only reachable once a boot
 * succeeded, so their placeholders answer the same way.
 */
#include <errno.h>

#include "vmm/vmm.h"

int vmm_start_machine(struct vmm *v, struct sq_err *err)
{
    (void)v;
    return sq_errf(err, -ENOSYS,
                   "Internal error while starting microVM: the machine layer "
                   "is not linked into this build");
}

static int machine_pause(struct vmm *v, struct sq_err *err)
{
    (void)v;
    return sq_errf(err, -ENOSYS, "Failed to pause the vCPUs.");
}

static int machine_resume(struct vmm *v, struct sq_err *err)
{
    (void)v;
    return sq_errf(err, -ENOSYS, "Failed to resume the vCPUs.");
}

static int machine_ctrl_alt_del(struct vmm *v, struct sq_err *err)
{
    (void)v;
    return sq_errf(err, -ENOSYS,
                   "I8042 error: the i8042 device is not linked into this "
                   "build");
}

static void machine_stop(struct vmm *v)
{
    (void)v;
}

const struct vmm_machine_ops vmm_default_machine_ops = {
    .start = vmm_start_machine,
    .pause = machine_pause,
    .resume = machine_resume,
    .ctrl_alt_del = machine_ctrl_alt_del,
    .stop = machine_stop,
};
