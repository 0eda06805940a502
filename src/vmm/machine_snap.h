/*
 * machine_snap.h: the state of a whole machine for a snapshot: the VM
 * (kvmclock, PIT, PIC, IOAPIC), every vCPU and the legacy devices (serial,
 * i8042). Guest RAM travels apart, in the memory file (guest_mem_file.h);
 * virtio devices save their own state through the device list.
 *
 * Saving needs a paused machine and reads each vCPU on its own thread
 * (vcpu_call); restoring writes into a machine built with
 * machine_config.restore_mem before machine_start*() starts its vCPUs, so
 * every write happens on the vmm thread while no vCPU thread exists yet.
 */
#ifndef SQUIB_VMM_MACHINE_SNAP_H
#define SQUIB_VMM_MACHINE_SNAP_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/legacy/i8042.h"
#include "devices/legacy/serial.h"
#include "util/err.h"
#include "vmm/acpi_devs.h"
#include "vmm/machine.h"
#include "vmm/vcpu_snap.h"
#include "vmm/vm_snap.h"

struct machine_snap {
    struct vm_snap vm;
    uint32_t n_vcpus;
    struct vcpu_snap vcpus[MACHINE_MAX_VCPUS]; /* n_vcpus used, each owned */
    struct serial_state serial;
    struct i8042_state i8042;
    struct acpi_devs_state acpi; /* VMGenID and VMClock */
};

/* Free what the vCPU states own; the struct may be reused. NULL-safe. */
void machine_snap_fini(struct machine_snap *s);

/*
 * Read the state of paused machine m into *out (zeroed first). Returns 0,
 * or -errno with err set to the detail ("Failed to get XCRs: ...", or
 * -EBUSY "the microVM is not paused"); *out then owns nothing.
 */
int machine_snap_save(struct machine *m, struct machine_snap *out,
                      struct sq_err *err);

/*
 * Write *s into machine m, built for a restore and not started: the vCPU
 * count must match, then the VM state (the clock advanced by the wall-clock
 * time elapsed when `clock_realtime`, vm_snap.h), each vCPU, the serial port
 * and the i8042, and last VMGenID and VMClock (acpi_devs_restore: a new
 * generation id, the VMClock page updated, both GSIs raised after the
 * interrupt controllers hold their saved state). Returns 0, or -errno with
 * err set to the detail.
 */
int machine_snap_restore(struct machine *m, const struct machine_snap *s,
                         bool clock_realtime, struct sq_err *err);

#endif
