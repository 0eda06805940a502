/*
 * state.h: what a state file holds (docs/snapshot.md, "Sections"), as one
 * C structure, and its encoding into sections of the frame in format.h.
 *
 *   VMIN  the machine configuration the snapshot was taken with
 *   MEMR  the guest RAM regions, in memory-file order
 *   KVMV  the VM: kvmclock, PIT, PIC master and slave, IOAPIC
 *   VCPU  one per vCPU, in index order
 *   SERL  the serial port
 *   I842  the i8042 controller
 *   ACPI  VMGenID and VMClock: where they are, the VMClock page; optional
 *         (state files written before it have none)
 *   VDEV  one per virtio device, in attach order: kind, id, placement,
 *         configuration (the API's JSON form), transport, own state
 *   MMDS  the MMDS settings, when an interface answers for it
 *         (state_net.h); optional
 *   PCIR  a PCI-mode machine's root bus, once (state_pci.h); optional
 *   PCID  then one per virtio device, its PCI transport: exactly as many
 *         as VDEV sections when PCIR is there, none otherwise
 *
 * Sections with other tags are skipped (a newer squib's devices); every
 * section above is required exactly once (VCPU at least once, VDEV any
 * number of times) unless said optional.
 */
#ifndef SQUIB_SNAPSHOT_STATE_H
#define SQUIB_SNAPSHOT_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "snapshot/format.h"
#include "snapshot/state_net.h"
#include "snapshot/state_pci.h"
#include "util/err.h"
#include "vmm/guest_mem.h"
#include "vmm/machine_snap.h"
#include "vmm/vdev_snap.h"

#define SNAP_TAG_VM_INFO SNAP_TAG('V', 'M', 'I', 'N')
#define SNAP_TAG_MEMORY  SNAP_TAG('M', 'E', 'M', 'R')
#define SNAP_TAG_KVM_VM  SNAP_TAG('K', 'V', 'M', 'V')
#define SNAP_TAG_VCPU    SNAP_TAG('V', 'C', 'P', 'U')
#define SNAP_TAG_SERIAL  SNAP_TAG('S', 'E', 'R', 'L')
#define SNAP_TAG_I8042   SNAP_TAG('I', '8', '4', '2')
#define SNAP_TAG_VDEV    SNAP_TAG('V', 'D', 'E', 'V')
#define SNAP_TAG_ACPI    SNAP_TAG('A', 'C', 'P', 'I')

/* At most this many virtio devices in a state file (PCI's 31 slots; 19 on
 * virtio-mmio, GSIs 5..23). */
#define SNAP_MAX_VDEVS SNAP_PCI_MAX_DEVS

/* Upstream's VmInfo, the machine-config part a restore takes over. */
struct snap_vm_info {
    uint32_t vcpu_count;
    uint64_t mem_size_mib;
    bool smt;
    uint8_t huge_pages;   /* enum huge_pages (config/machine.h) */
    uint8_t cpu_template; /* enum static_cpu_template; NONE = none */
};

struct snap_mem_region {
    uint64_t gpa, size;
};

struct microvm_state {
    struct snap_vm_info info;
    uint32_t n_regions;
    struct snap_mem_region regions[GUEST_MEM_MAX_REGIONS];
    struct machine_snap machine; /* owns its vCPUs' arrays */
    size_t n_vdevs;
    struct vdev_snap *vdevs; /* owned, n_vdevs */
    char **vdev_configs;     /* owned, n_vdevs: each device's config JSON */
    struct snap_mmds *mmds;  /* owned; NULL: no MMDS section */
    struct pci_snap *pci;    /* owned; NULL: the devices are on MMIO */
};

/* Append every section of *s to w (between init and finish). */
void microvm_state_encode(const struct microvm_state *s, struct snap_writer *w);

/*
 * Decode the sections of a checked file into *out (zeroed first). Returns
 * 0, or -EBADMSG with err set to SNAP_ERR_DECODE and what did not decode
 * ("VCPU section 1: bad length"); *out then owns nothing.
 */
int microvm_state_decode(const struct snap_file *f, struct microvm_state *out,
                         struct sq_err *err);

/* Free what *s owns; NULL-safe. */
void microvm_state_fini(struct microvm_state *s);

#endif
