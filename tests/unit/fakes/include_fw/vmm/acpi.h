/*
 * acpi.h (stand-in): the firmware branch's table writer interface, copied
 * from the agreed interface text (see cpuid.h here for why it exists).
 */
#ifndef SQUIB_VMM_ACPI_H
#define SQUIB_VMM_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct fw_virtio_dev {
    uint64_t addr;
    uint32_t gsi;
};

struct fw_config {
    uint32_t vcpu_count;
    size_t n_virtio;
    const struct fw_virtio_dev *virtio;
    uint32_t vmgenid_gsi, vmclock_gsi;
    bool pci_enabled;
};

/* MPTable at 0x9fc00 and the ACPI tables into guest RAM. */
int fw_write_tables(uint8_t *ram, uint64_t ram_len, const struct fw_config *cfg,
                    struct sq_err *err);

#endif
