/*
 * acpi_devs.h: the two ACPI platform devices of every x86_64 machine,
 * VMGenID (vmgenid.h) and VMClock (vmclock.h), with their interrupt lines
 * (upstream's ACPIDeviceManager). The firmware tables describe them
 * (acpi.h: \_SB_.VGEN, \_SB_.VCLK and the GED whose _EVT notifies each on
 * its GSI); this module fills their memory and raises their GSIs.
 *
 *   boot     a fresh random generation id and upstream's initial VMClock
 *            page written to guest memory; an eventfd per device
 *            registered as KVM irqfd on its GSI (edge: one write, one
 *            interrupt); nothing is raised.
 *   save     where they are and the VMM's copy of the VMClock page
 *            (upstream's VMGenIDState and VmClockState; the generation id
 *            is not saved: a restore never reuses it).
 *   restore  into a machine whose KVM state was already restored, before
 *            its vCPUs run (a raised line would otherwise be overwritten
 *            by the saved IOAPIC): a NEW generation id written, then
 *            VMGenID's GSI raised; the saved VMClock page written again,
 *            its disruption marker and VM generation counter bumped
 *            (vmclock_post_restore), then VMClock's GSI raised. The guest
 *            takes both interrupts through the GED once it runs.
 *
 * A device whose GSI is 0 is absent (only in tests; upstream always has
 * both). Everything here runs on the vmm thread.
 */
#ifndef SQUIB_VMM_ACPI_DEVS_H
#define SQUIB_VMM_ACPI_DEVS_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"
#include "vmm/guest_mem.h"
#include "vmm/vmclock.h"
#include "vmm/vmgenid.h"

/* Where the devices are: buffers (acpi.h's fw_acpi_dev_addrs) and GSIs. */
struct acpi_devs_place {
    uint64_t vmgenid_addr, vmclock_addr;
    uint32_t vmgenid_gsi, vmclock_gsi; /* 0 = absent */
};

/* What a snapshot holds (docs/snapshot.md, section ACPI). */
struct acpi_devs_state {
    bool present; /* false: a state file from before the section
                   * (machine_acpi_restore then uses acpi_devs_state_fresh) */
    struct acpi_devs_place place;
    struct vmclock_abi vmclock; /* the VMM's copy of the page */
};

struct acpi_devs {
    bool present;
    struct acpi_devs_place place;
    uint8_t genid[VMGENID_ID_LEN];
    struct vmclock_abi vmclock;
    int vmgenid_fd, vmclock_fd; /* owned eventfds; -1 if none */
};

/* *d := no devices (call before anything else; fini is then safe). */
void acpi_devs_init(struct acpi_devs *d);

/*
 * Boot: build the devices at `p` in guest memory gm and register their
 * irqfds with VM vm_fd (-1: none, for tests). Returns 0, or -errno with
 * err set to upstream's detail after "Error while registering ACPI with
 * KVM: " ("VMGenID: Could not write generation ID to guest memory: ...",
 * "Could not register IRQ with KVM: ..."); *d then holds what it opened,
 * for acpi_devs_fini.
 */
int acpi_devs_boot(struct acpi_devs *d, const struct acpi_devs_place *p,
                   struct guest_mem *gm, int vm_fd, struct sq_err *err);

/* The state of d for a snapshot (present = whether d has devices). */
void acpi_devs_save(const struct acpi_devs *d, struct acpi_devs_state *out);

/*
 * *out := the state of devices at `p` that were described to the guest but
 * never written (a state file from before the ACPI section): present when
 * p has a device, upstream's initial VMClock page. Restoring it renews the
 * devices as if they had been written at boot.
 */
void acpi_devs_state_fresh(const struct acpi_devs_place *p,
                           struct acpi_devs_state *out);

/*
 * Restore: as the header says. A state that is not present leaves *d
 * without devices and returns 0. Returns 0, or -errno with err set to the
 * detail after "Error restoring ACPI devices: " (-EINVAL, nothing done:
 * a GSI outside the legacy range 5..23).
 */
int acpi_devs_restore(struct acpi_devs *d, const struct acpi_devs_state *s,
                      struct guest_mem *gm, int vm_fd, struct sq_err *err);

/* Close the eventfds (their irqfds go with them). */
void acpi_devs_fini(struct acpi_devs *d);

#endif
