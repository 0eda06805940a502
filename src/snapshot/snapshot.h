/*
 * snapshot.h: PUT /snapshot/create and PUT /snapshot/load (digest 7), as
 * the vmm's snapshot operations (struct vmm_snapshot_ops, vmm/vmm.h).
 *
 * The snapshot module sits above the vmm (DESIGN.md's layers): it reads and
 * writes the machine through vmm/machine_snap.h and vmm/vmm_restore.h, and
 * the vmm reaches it only through the ops table main.c installs. Its texts
 * are upstream's CreateSnapshotError / LoadSnapshotError details, without
 * the "Create snapshot error: " / "Load snapshot error: " prefix the vmm
 * adds.
 */
#ifndef SQUIB_SNAPSHOT_SNAPSHOT_H
#define SQUIB_SNAPSHOT_SNAPSHOT_H

#include "vmm/vmm.h"

/*
 * create: a Full or Diff snapshot of the paused machine. The state file is
 * written to a temporary name beside snapshot_path, fsynced and renamed
 * over it, so no half-written state file is ever left at snapshot_path; the
 * memory file gets all guest RAM (Full) or its dirty pages (Diff), as
 * memfile.h describes. Machines with a device whose kind has no save hook
 * (net) are refused.
 *
 * load: the File or Uffd memory backend; the machine config is the
 * snapshot's; vsock_override replaces the vsock device's socket path
 * (vsock_override.h); resume_vm lets the vCPUs run. network_overrides are
 * refused (a snapshot holds no network device yet).
 */
extern const struct vmm_snapshot_ops snapshot_vmm_ops;

#endif
