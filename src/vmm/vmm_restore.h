/*
 * vmm_restore.h: the snapshot load's counterpart of vmm_start_machine()
 * (vmm_start.c), for the snapshot module (src/snapshot/).
 */
#ifndef SQUIB_VMM_VMM_RESTORE_H
#define SQUIB_VMM_VMM_RESTORE_H

#include <stdbool.h>

#include "config/machine.h"
#include "util/err.h"
#include "vmm/guest_mem.h"
#include "vmm/machine_snap.h"
#include "vmm/pci_snap.h"
#include "vmm/vdev_snap.h"
#include "vmm/vmm.h"

/* What a restore writes into the machine it builds (all borrowed). */
struct vmm_restore {
    const struct machine_snap *machine;
    const struct vdev_snap *vdevs; /* in attach order */
    size_t n_vdevs;
    bool resume;         /* resume_vm: the vCPUs run, else they stay paused */
    bool clock_realtime; /* advance kvmclock by the wall-clock time since */
    const struct pci_snap *pci; /* NULL: the devices are on virtio-mmio */
};

/*
 * Build the machine of a snapshot from v->res (whose machine config and
 * virtio device configurations the caller set from the snapshot) and `mem`
 * (the guest RAM mapped from the memory file; taken over, also on
 * failure): the virtio devices built and placed as a boot does (with
 * rs->pci, on PCI at their saved slots, BARs and GSIs), serial
 * output opened as a boot opens it, no kernel, no firmware tables; the
 * devices' and the machine's state written into it; then the vCPU threads
 * started, running or paused. On success v->machine is set (the caller
 * sets v->state). On failure nothing is left behind and err->msg is the
 * detail.
 */
int vmm_restore_machine(struct vmm *v, struct guest_mem *mem,
                        const struct vmm_restore *rs, struct sq_err *err);

/* The machine config's huge_pages as guest memory's (for a boot and a
 * restore alike). */
enum guest_mem_huge_pages vmm_guest_huge_pages(enum huge_pages h);

/* The virtio devices of the machine built by InstanceStart or a snapshot
 * load (borrowed), or NULL. */
struct vdev_list *vmm_vdevs(struct vmm *v);

/* That machine's PCI bus (borrowed), or NULL when its devices are on
 * virtio-mmio. */
struct vmm_pci *vmm_pci_of(struct vmm *v);

#endif
