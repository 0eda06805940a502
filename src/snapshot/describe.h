/*
 * describe.h: a state file, read and printed for people (upstream's
 * `snapshot-editor info-vmstate`; docs/tools.md).
 *
 * The file is read and checked by the same code a snapshot load uses
 * (format.h: size limit, decoding, magic, version, CRC, in upstream's
 * order; state.h: the sections), so the tool refuses exactly what a load
 * refuses, with the same texts. What it prints is laid out like Rust's
 * pretty Debug form ({:#?}), which upstream prints, but with squib's
 * fields: the KVM structures by their uapi field names, registers and
 * addresses in hexadecimal, byte areas (LAPIC registers, XSAVE) as hex
 * rows.
 */
#ifndef SQUIB_SNAPSHOT_DESCRIBE_H
#define SQUIB_SNAPSHOT_DESCRIBE_H

#include "snapshot/format.h"
#include "snapshot/state.h"
#include "util/buf.h"
#include "util/err.h"

/* A state file read whole and decoded. */
struct snap_described {
    uint8_t *raw; /* owned: the file's bytes */
    struct snap_file file;
    struct microvm_state state; /* owns its arrays */
};

/*
 * Read and check the state file at `path` (upstream's Snapshot::load).
 * Returns 0 and *out (free with snap_describe_fini), or a negative errno,
 * *kind and the SnapshotError text in err ("CRC64 validation failed", ...;
 * SNAP_E_OPEN: the OS error alone); *out then owns nothing.
 */
int snap_describe_open(const char *path, struct snap_described *out,
                       enum snap_error *kind, struct sq_err *err);

void snap_describe_fini(struct snap_described *d);

/* "v11.0.0\n": the file's version, as upstream's info-vmstate version. */
void snap_describe_version(const struct snap_described *d, struct buf *out);

/* For each vCPU "vcpu {i}:" and its state (upstream's vcpu-states). */
void snap_describe_vcpus(const struct snap_described *d, struct buf *out);

/* The whole state (upstream's vm-state). */
void snap_describe_vm(const struct snap_described *d, struct buf *out);

#endif
