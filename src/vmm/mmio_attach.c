/*
 * mmio_attach.c: the vmm side of a virtio-mmio transport (mmio_attach.h):
 * its place on the machine and its QueueNotify ioeventfds through kvm.c.
 */
#include "vmm/mmio_attach.h"

#include "vmm/kvm.h"

/* virtio_mmio_ioeventfd_fn: a 4-byte QueueNotify write of `datamatch`. */
static int kvm_queue_notify(int vm_fd, int fd, uint64_t addr,
                            uint32_t datamatch, bool deassign)
{
    return kvm_ioeventfd_datamatch(vm_fd, fd, addr, 4, datamatch, deassign);
}

void virtio_mmio_machine_dev(struct virtio_mmio *t, uint64_t addr, uint32_t gsi,
                             struct machine_mmio_dev *out)
{
    out->addr = addr;
    out->gsi = gsi;
    out->regs = &t->bus;
    out->irq_fd = t->irq_fd;
    t->ioeventfd = kvm_queue_notify;
}
