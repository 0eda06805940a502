/*
 * vmm_restore.h: the snapshot load's counterpart of vmm_start_machine()
 * (vmm_start.c), for the snapshot module (src/snapshot/).
 */
#ifndef SQUIB_VMM_VMM_RESTORE_H
#define SQUIB_VMM_VMM_RESTORE_H

#include <stdbool.h>

#include "util/err.h"
#include "vmm/guest_mem.h"
#include "vmm/machine_snap.h"
#include "vmm/vmm.h"

/*
 * Build the machine of a snapshot from v->res's machine config (which the
 * caller set from the snapshot) and `mem` (the guest RAM mapped from the
 * memory file; taken over, also on failure): serial output as a boot opens
 * it, no kernel, no firmware tables; then write `snap` into it and start
 * the vCPU threads, running if `resume`, else paused. On success
 * v->machine is set (the caller sets v->state). On failure nothing is left
 * behind and err->msg is the detail.
 */
int vmm_restore_machine(struct vmm *v, struct guest_mem *mem,
                        const struct machine_snap *snap, bool resume,
                        struct sq_err *err);

#endif
