/*
 * vm_snap.h: the VM-wide KVM state of an x86_64 microVM: kvmclock, the PIT
 * and the in-kernel interrupt controllers (PIC master, PIC slave, IOAPIC).
 * Read out for a snapshot on the vmm thread while every vCPU is paused, and
 * written back into a new VM before its vCPUs run (docs/snapshot.md).
 */
#ifndef SQUIB_VMM_VM_SNAP_H
#define SQUIB_VMM_VM_SNAP_H

#include <stdbool.h>

#include <linux/kvm.h>

#include "util/err.h"

struct vm_snap {
    struct kvm_clock_data clock;
    struct kvm_pit_state2 pit;
    struct kvm_irqchip pic_master; /* chip_id KVM_IRQCHIP_PIC_MASTER */
    struct kvm_irqchip pic_slave;  /* chip_id KVM_IRQCHIP_PIC_SLAVE */
    struct kvm_irqchip ioapic;     /* chip_id KVM_IRQCHIP_IOAPIC */
};

/*
 * Read the state of VM `vm_fd` into *out. Returns 0, or -errno with err set
 * to "Failed to get {what}: {os error}".
 */
int vm_snap_save(int vm_fd, struct vm_snap *out, struct sq_err *err);

/*
 * Write *s into VM `vm_fd` (irqchip and PIT created, vCPUs not running):
 * the PIT, the three interrupt controllers and the clock. The clock goes
 * back as it was saved, unless `clock_realtime` (snapshot load's
 * clock_realtime) and the saved clock carries the wall-clock time it was
 * read at (KVM_CLOCK_REALTIME): then KVM advances it by the wall-clock time
 * elapsed since. Returns 0, or -errno with err set to "Failed to set
 * {what}: {os error}".
 */
int vm_snap_restore(int vm_fd, const struct vm_snap *s, bool clock_realtime,
                    struct sq_err *err);

#endif
