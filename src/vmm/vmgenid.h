/*
 * vmgenid.h: the VM Generation ID device's buffer (ACPI "VMGENCTR",
 * \_SB_.VGEN, Microsoft's "Virtual Machine Generation ID" specification):
 * 16 bytes of system memory, 8-aligned, that hold a 128-bit random
 * generation id. Firecracker draws a new id for every machine it builds,
 * booted or restored from a snapshot, writes it there, and after a restore
 * raises the device's GSI (acpi_devs.h); the guest's driver reads the new
 * id on that notification.
 */
#ifndef SQUIB_VMM_VMGENID_H
#define SQUIB_VMM_VMGENID_H

#include <stdint.h>

#include "vmm/guest_mem.h"

#define VMGENID_ID_LEN 16u

/*
 * Fill id with fresh random bytes from the kernel's CSPRNG (getrandom;
 * upstream's aws-lc rand::fill). Returns 0, or -errno (id then
 * unspecified).
 */
int vmgenid_new_id(uint8_t id[VMGENID_ID_LEN]);

/*
 * Write the id at guest address `gpa` (upstream's little-endian u128:
 * byte i of id at gpa + i) and mark it dirty. Returns 0, or -EFAULT when
 * [gpa, gpa + 16) is not guest RAM (nothing written).
 */
int vmgenid_write(const uint8_t id[VMGENID_ID_LEN], struct guest_mem *gm,
                  uint64_t gpa);

#endif
