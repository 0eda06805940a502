/*
 * vm_snap.c: the VM-wide KVM state out and back in (vm_snap.h).
 */
#include "vmm/vm_snap.h"

#include <string.h>

#include "vmm/kvm.h"

static int fail(struct sq_err *err, int rc, const char *verb, const char *what)
{
    char os[128];

    return sq_errf(err, rc, "Failed to %s %s: %s", verb, what,
                   sq_os_error(-rc, os, sizeof(os)));
}

static int get_chip(int vm_fd, struct kvm_irqchip *c, uint32_t id,
                    struct sq_err *err)
{
    int rc;

    memset(c, 0, sizeof(*c));
    c->chip_id = id;
    rc = kvm_state_ioctl(vm_fd, KVM_GET_IRQCHIP, c);
    return rc < 0 ? fail(err, rc, "get", "irqchip state") : 0;
}

int vm_snap_save(int vm_fd, struct vm_snap *out, struct sq_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = kvm_state_ioctl(vm_fd, KVM_GET_CLOCK, &out->clock);
    if (rc < 0)
        return fail(err, rc, "get", "clock");
    rc = kvm_state_ioctl(vm_fd, KVM_GET_PIT2, &out->pit);
    if (rc < 0)
        return fail(err, rc, "get", "PIT state");
    rc = get_chip(vm_fd, &out->pic_master, KVM_IRQCHIP_PIC_MASTER, err);
    if (rc == 0)
        rc = get_chip(vm_fd, &out->pic_slave, KVM_IRQCHIP_PIC_SLAVE, err);
    if (rc == 0)
        rc = get_chip(vm_fd, &out->ioapic, KVM_IRQCHIP_IOAPIC, err);
    return rc;
}

int vm_snap_restore(int vm_fd, const struct vm_snap *s, bool clock_realtime,
                    struct sq_err *err)
{
    struct vm_snap c = *s; /* the ioctls take non-const pointers */
    int rc;

    rc = kvm_state_ioctl(vm_fd, KVM_SET_PIT2, &c.pit);
    if (rc < 0)
        return fail(err, rc, "set", "PIT state");
    rc = kvm_state_ioctl(vm_fd, KVM_SET_IRQCHIP, &c.pic_master);
    if (rc == 0)
        rc = kvm_state_ioctl(vm_fd, KVM_SET_IRQCHIP, &c.pic_slave);
    if (rc == 0)
        rc = kvm_state_ioctl(vm_fd, KVM_SET_IRQCHIP, &c.ioapic);
    if (rc < 0)
        return fail(err, rc, "set", "irqchip state");
    /* Only the value, or the value and the wall-clock time it was read at:
     * the other flags KVM_GET_CLOCK reports (TSC stable, ...) are not
     * accepted back by KVM_SET_CLOCK. */
    c.clock.flags = clock_realtime ? s->clock.flags & KVM_CLOCK_REALTIME : 0;
    rc = kvm_state_ioctl(vm_fd, KVM_SET_CLOCK, &c.clock);
    return rc < 0 ? fail(err, rc, "set", "clock") : 0;
}
