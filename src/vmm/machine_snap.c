/*
 * machine_snap.c: a machine's state out and back in (machine_snap.h).
 */
#include "vmm/machine_snap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/vcpu.h"

/* What vcpu_call() runs on a vCPU thread: read that vCPU's state. */
struct vcpu_save_call {
    uint32_t xsave2;
    const uint32_t *msrs;
    uint32_t n_msrs;
    struct vcpu_snap *out;
    struct sq_err *err;
};

static int save_on_vcpu(int vcpu_fd, void *opaque)
{
    struct vcpu_save_call *c = opaque;

    return vcpu_snap_save(vcpu_fd, c->xsave2, c->msrs, c->n_msrs, c->out,
                          c->err);
}

struct vcpu_restore_call {
    uint32_t xsave2;
    const struct vcpu_snap *s;
    struct sq_err *err;
};

static int restore_on_vcpu(int vcpu_fd, void *opaque)
{
    struct vcpu_restore_call *c = opaque;

    return vcpu_snap_restore(vcpu_fd, c->xsave2, c->s, c->err);
}

void machine_snap_fini(struct machine_snap *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->n_vcpus; i++)
        vcpu_snap_fini(&s->vcpus[i]);
    s->n_vcpus = 0;
}

int machine_snap_save(struct machine *m, struct machine_snap *out,
                      struct sq_err *err)
{
    struct vcpu_save_call c;
    uint32_t *msrs = NULL, n_msrs = 0;
    char os[128];
    int rc;

    memset(out, 0, sizeof(*out));
    if (!machine_is_paused(m))
        return sq_errf(err, -EBUSY, "the microVM is not paused");
    rc = vcpu_snap_msr_list(machine_kvm_fd(m), &msrs, &n_msrs);
    if (rc < 0)
        return sq_errf(err, rc, "Failed to get the MSR index list: %s",
                       sq_os_error(-rc, os, sizeof(os)));
    c.xsave2 = machine_xsave2(m);
    c.msrs = msrs;
    c.n_msrs = n_msrs;
    c.err = err;
    for (uint32_t i = 0; i < machine_vcpu_count(m); i++) {
        c.out = &out->vcpus[i];
        rc = vcpu_call(machine_vcpu(m, i), save_on_vcpu, &c,
                       MACHINE_ACK_TIMEOUT_MS);
        if (rc < 0) {
            /* vcpu_call's own failures come without a text. */
            if (rc == -EBUSY || rc == -ESRCH || rc == -ETIMEDOUT)
                sq_errf(err, rc, "Failed to save vCPU %u: %s", i,
                        sq_os_error(-rc, os, sizeof(os)));
            goto fail;
        }
        out->n_vcpus++;
    }
    free(msrs);
    msrs = NULL;
    rc = vm_snap_save(machine_vm_fd(m), &out->vm, err);
    if (rc < 0)
        goto fail;
    serial_save(machine_serial(m), &out->serial);
    i8042_save(machine_i8042(m), &out->i8042);
    acpi_devs_save(machine_acpi_devs(m), &out->acpi);
    return 0;
fail:
    free(msrs);
    machine_snap_fini(out);
    return rc;
}

int machine_snap_restore(struct machine *m, const struct machine_snap *s,
                         bool clock_realtime, struct sq_err *err)
{
    int rc;

    if (s->n_vcpus != machine_vcpu_count(m))
        return sq_errf(err, -EINVAL, "%u vCPUs saved, %u created", s->n_vcpus,
                       machine_vcpu_count(m));
    rc = vm_snap_restore(machine_vm_fd(m), &s->vm, clock_realtime, err);
    for (uint32_t i = 0; rc == 0 && i < s->n_vcpus; i++) {
        struct vcpu_restore_call c = {machine_xsave2(m), &s->vcpus[i], err};

        /* Before machine_start there is no vCPU thread: vcpu_call runs
         * the restore right here, on the vmm thread. */
        rc = vcpu_call(machine_vcpu(m, i), restore_on_vcpu, &c,
                       MACHINE_ACK_TIMEOUT_MS);
    }
    if (rc < 0)
        return rc;
    serial_restore(machine_serial(m), &s->serial);
    i8042_restore(machine_i8042(m), &s->i8042);
    rc = machine_acpi_restore(m, &s->acpi, err);
    if (rc < 0)
        sq_err_prefix(err, "Failed to restore devices: Error restoring ACPI "
                           "devices: ");
    return rc;
}
