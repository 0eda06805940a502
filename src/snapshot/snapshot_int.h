/*
 * snapshot_int.h: shared by create.c (which defines the ops table) and
 * load.c only.
 */
#ifndef SQUIB_SNAPSHOT_SNAPSHOT_INT_H
#define SQUIB_SNAPSHOT_SNAPSHOT_INT_H

#include "config/snapshot.h"
#include "vmm/vmm.h"

/* The load operation of snapshot_vmm_ops (snapshot.h). */
int snapshot_load(struct vmm *v, const struct snapshot_load *p,
                  struct sq_err *err);

#endif
