/*
 * mmio_attach.h: how the vmm puts a virtio-mmio transport on the machine.
 * The transport (devices/virtio/mmio.h) knows neither the machine nor KVM;
 * this adapter fills the machine's description of its window and gives it
 * the KVM ioeventfd registrar, so every KVM ioctl stays in vmm/kvm.c.
 */
#ifndef SQUIB_VMM_MMIO_ATTACH_H
#define SQUIB_VMM_MMIO_ATTACH_H

#include <stdint.h>

#include "devices/virtio/mmio.h"
#include "vmm/machine.h"

/*
 * Fill the machine's description of transport `t` (window at `addr`, GSI,
 * bus handlers, irqfd), for struct machine_config.mmio[], and set
 * t->ioeventfd to KVM_IOEVENTFD with datamatch (kvm_ioeventfd_datamatch()),
 * which virtio_mmio_attach() then uses with the machine's VM fd. `t` stays
 * the caller's; nothing fails.
 */
void virtio_mmio_machine_dev(struct virtio_mmio *t, uint64_t addr, uint32_t gsi,
                             struct machine_mmio_dev *out);

#endif
