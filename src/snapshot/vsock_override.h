/*
 * vsock_override.h: PUT /snapshot/load's vsock_override (upstream's
 * VsockOverride in vmm_config/snapshot.rs): a new Unix socket path for the
 * snapshot's vsock device, put into the decoded state before anything is
 * built, so the backend binds the new path instead of the saved one.
 */
#ifndef SQUIB_SNAPSHOT_VSOCK_OVERRIDE_H
#define SQUIB_SNAPSHOT_VSOCK_OVERRIDE_H

#include "snapshot/state.h"
#include "util/err.h"

/* upstream's SnapshotStateFromFileError::UnknownVsockDevice */
#define SNAP_ERR_UNKNOWN_VSOCK "Unknown Vsock Device."

/*
 * Replace uds_path in the configuration of st's virtio-vsock device (its
 * guest_cid stays). Returns 0, -ENODEV with err set to
 * SNAP_ERR_UNKNOWN_VSOCK when st has no vsock device, or the parser's
 * -errno with err set when its saved configuration does not parse.
 */
int snapshot_vsock_override(struct microvm_state *st, const char *uds_path,
                            struct sq_err *err);

#endif
