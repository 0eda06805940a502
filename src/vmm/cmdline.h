/*
 * cmdline.h: the guest kernel command line (digest 6.5).
 *
 * Two steps, as upstream does them with linux-loader's Cmdline:
 *  - at PUT /boot-source time the user's boot_args are checked
 *    (cmdline_validate): the string is split into boot args and init args at
 *    the first " -- " outside double quotes, both halves are trimmed, and the
 *    result must fit in CMDLINE_MAX_SIZE bytes including the NUL;
 *  - at InstanceStart the final string is composed (cmdline_build): the
 *    default string when boot_args is absent, then squib's additions
 *    (pci=off, root=..., virtio_mmio.device=...) appended to the boot args,
 *    i.e. before any " -- " init args.
 *
 * Upstream's Cmdline::try_from does not check for printable ASCII (only the
 * strings squib inserts are checked), so neither does cmdline_validate: a
 * user string with other bytes is accepted exactly as Firecracker accepts it.
 */
#ifndef SQUIB_VMM_CMDLINE_H
#define SQUIB_VMM_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Capacity of the command line in guest memory, including the NUL. */
#define CMDLINE_MAX_SIZE 2048

/* Upstream's DEFAULT_KERNEL_CMDLINE, used when boot_args is absent (null). */
#define CMDLINE_DEFAULT                                                        \
    "reboot=k panic=1 nomodule 8250.nr_uarts=0 i8042.noaux i8042.nomux "       \
    "i8042.dumbkbd swiotlb=noforce"

/*
 * Validate user boot_args at PUT /boot-source time. `boot_args` is a
 * NUL-terminated string owned by the caller (NULL means absent and is
 * valid). Returns 0, or -EINVAL with err->msg set to upstream's {reason}
 * only ("Invalid cmdline capacity provided."); the caller prefixes
 * "The kernel command line is invalid: ".
 */
int cmdline_validate(const char *boot_args, struct sq_err *err);

/* One virtio-mmio device as it appears on the command line (4 KiB window). */
struct cmdline_dev {
    uint64_t addr;
    uint32_t gsi;
};

/*
 * What squib adds to the user's command line. All pointers are borrowed.
 *
 * Upstream interleaves the root= arguments with the device entries (the
 * root drive's "root=... rw" comes right before its own virtio_mmio entry,
 * after the balloon's; a root pmem's right before its pmem entry). To keep
 * that order, root_block_at / root_pmem_at give the index in virtio[] of the
 * root device's own entry; the root= arguments are inserted just before it.
 * An index >= n_virtio (e.g. with PCI, where n_virtio is 0) appends them
 * after all device entries, block root first.
 */
struct cmdline_extras {
    bool pci_enabled;       /* true: no "pci=off" */
    const char *root_block; /* NULL, "/dev/vda" or "PARTUUID=..." */
    bool root_block_ro;
    size_t root_block_at; /* see above */
    int root_pmem_index;  /* -1: no root pmem; else N in root=/dev/pmemN */
    bool root_pmem_ro;
    size_t root_pmem_at; /* see above */
    size_t n_virtio;     /* entries in virtio[], in attach order */
    const struct cmdline_dev *virtio;
};

/*
 * Compose the final command line. boot_args NULL -> CMDLINE_DEFAULT; x may
 * be NULL (no additions at all, not even pci=off). Writes a NUL-terminated
 * string into out (out_len must be >= CMDLINE_MAX_SIZE). Returns 0, or a
 * negative errno with err->msg set to the detail upstream puts after
 * "Start microvm error: ", e.g.
 * "Invalid kernel command line: Inserting string would make command line too
 * long." On failure out holds an empty string.
 */
int cmdline_build(const char *boot_args, const struct cmdline_extras *x,
                  char *out, size_t out_len, struct sq_err *err);

#endif
