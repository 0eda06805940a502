/*
 * format.h: the snapshot state file: squib's own versioned encoding inside
 * upstream's frame (docs/snapshot.md).
 *
 *   offset 0   magic        u64  0x0710198486640000 (upstream's x86_64 magic)
 *          8   version      u32 major, u32 minor, u32 patch (11.0.0)
 *         20   sections     { u32 tag, u32 length, length bytes } ...
 *   size - 8   CRC-64/Jones u64  over every byte before it
 *
 * All integers are little-endian. A section is one piece of state (the VM,
 * one vCPU, one device) whose payload has a fixed layout per tag; readers
 * skip tags they do not know, so a section added later does not change the
 * version, while a changed layout does.
 *
 * Loading checks what upstream checks, in its order and with its texts
 * (digest 7.2): size limit, "too short to contain CRC", decoding (here: the
 * header and the section framing), magic, version (same major, minor not
 * newer), then the CRC. Nothing here touches a machine: this file uses only
 * util/, so --describe-snapshot, the unit tests and the fuzzer use it alone.
 */
#ifndef SQUIB_SNAPSHOT_FORMAT_H
#define SQUIB_SNAPSHOT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

#define SNAP_MAGIC_X86_64  0x0710198486640000ULL
#define SNAP_VERSION_MAJOR 11u
#define SNAP_VERSION_MINOR 0u
#define SNAP_VERSION_PATCH 0u
/* Upstream's SNAPSHOT_DESERIALIZATION_BYTES_LIMIT. */
#define SNAP_MAX_FILE_SIZE   10000000u
#define SNAP_HEADER_SIZE     20u
#define SNAP_SECTION_HDR     8u
#define SNAP_CRC_SIZE        8u
#define SNAP_MAX_SECTION_LEN (SNAP_MAX_FILE_SIZE - SNAP_HEADER_SIZE)

/* A section tag from four ASCII characters ("VCPU" -> 'V' in the low byte). */
#define SNAP_TAG(a, b, c, d)                                                   \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 |                \
     (uint32_t)(d) << 24)

/* Upstream's SnapshotError category for anything that does not decode; a
 * section's own decoder uses it too. */
#define SNAP_ERR_DECODE "An error occurred during bitcode serialization: "

struct snap_version {
    uint32_t major, minor, patch;
};

/* What went wrong, for callers that print upstream's Debug forms. */
enum snap_error {
    SNAP_E_NONE = 0,
    SNAP_E_OPEN,       /* the file could not be opened (err->code) */
    SNAP_E_IO,         /* read error (err->code) */
    SNAP_E_SIZE_LIMIT, /* larger than SNAP_MAX_FILE_SIZE */
    SNAP_E_TOO_SHORT,  /* fewer than 8 bytes */
    SNAP_E_DECODE,     /* header or section framing does not decode */
    SNAP_E_MAGIC,      /* not the x86_64 magic */
    SNAP_E_VERSION,    /* other major, or newer minor */
    SNAP_E_CRC,        /* checksum mismatch */
};

/* ---- writing ------------------------------------------------------------ */

/*
 * A state file being built in memory: snap_writer_init() writes the header,
 * sections follow, snap_writer_finish() appends the CRC. The bytes are then
 * w->b.data / w->b.len (owned by the writer until snap_writer_fini).
 * Allocation failure aborts (the state is small and squib-sized).
 */
struct snap_writer {
    struct buf b;
    size_t section_at; /* offset of the open section's header */
    bool in_section;
};

void snap_writer_init(struct snap_writer *w);
void snap_writer_fini(struct snap_writer *w);
/* Open a section (the previous one must be closed). */
void snap_section_begin(struct snap_writer *w, uint32_t tag);
/* Close the open section: its length becomes what was put since begin. */
void snap_section_end(struct snap_writer *w);
void snap_put_u8(struct snap_writer *w, uint8_t v);
void snap_put_u16(struct snap_writer *w, uint16_t v);
void snap_put_u32(struct snap_writer *w, uint32_t v);
void snap_put_u64(struct snap_writer *w, uint64_t v);
void snap_put_bytes(struct snap_writer *w, const void *p, size_t n);
/* A string: u32 length, then the bytes (no NUL). NULL is length 0. */
void snap_put_str(struct snap_writer *w, const char *s);
/* Append the CRC of everything so far. No section may be open. */
void snap_writer_finish(struct snap_writer *w);

/* ---- reading ------------------------------------------------------------ */

/*
 * A cursor over one section's payload (borrowed bytes). Reading past the end
 * sets `bad` and yields zeros, so a decoder reads every field and checks
 * snap_reader_done() once.
 */
struct snap_reader {
    const uint8_t *p;
    size_t len, off;
    bool bad;
    const char *why; /* static; what a decoder found bad, or NULL */
};

uint8_t snap_get_u8(struct snap_reader *r);
uint16_t snap_get_u16(struct snap_reader *r);
uint32_t snap_get_u32(struct snap_reader *r);
uint64_t snap_get_u64(struct snap_reader *r);
/* Copy n bytes into out (zeros and `bad` when fewer remain). */
void snap_get_bytes(struct snap_reader *r, void *out, size_t n);
/* A string written by snap_put_str, as a new heap string (caller frees);
 * NULL and `bad` when it does not fit or holds a NUL. */
char *snap_get_str(struct snap_reader *r);
/* True when every byte was read and nothing was read past the end. */
bool snap_reader_done(const struct snap_reader *r);

/* A checked state file: its version and its sections (borrowed). */
struct snap_file {
    struct snap_version version;
    const uint8_t *body; /* the sections */
    size_t body_len;
};

/*
 * Read the file at `path` whole (at most SNAP_MAX_FILE_SIZE bytes; one more
 * is an error). On success *buf (heap, caller frees) and *len. On failure
 * *kind is SNAP_E_OPEN (err: the OS error, "No such file or directory (os
 * error 2)"), SNAP_E_IO ("IO Error: ...") or SNAP_E_SIZE_LIMIT ("Snapshot
 * size exceeds limit of 10000000 bytes"), and a negative errno is returned.
 */
int snap_file_read(const char *path, uint8_t **buf, size_t *len,
                   enum snap_error *kind, struct sq_err *err);

/*
 * Check a whole state file in memory (upstream's Snapshot::load): returns 0
 * and *out (pointing into buf), or a negative errno, *kind and upstream's
 * SnapshotError text in err: "IO Error: File too short to contain CRC",
 * "An error occurred during bitcode serialization: ...", "Magic value does
 * not match arch: {decimal}", "Invalid data version: {M.m.p}", "CRC64
 * validation failed", "Snapshot size exceeds limit of 10000000 bytes".
 */
int snap_file_parse(const uint8_t *buf, size_t len, struct snap_file *out,
                    enum snap_error *kind, struct sq_err *err);

/*
 * The version alone (upstream's get_format_version, --describe-snapshot):
 * the size checks and the decoding, but neither magic, version nor CRC.
 */
int snap_file_version(const uint8_t *buf, size_t len, struct snap_version *out,
                      enum snap_error *kind, struct sq_err *err);

/*
 * Iterate over the sections of a parsed file: start with *off = 0; each call
 * gives the next tag and its payload and returns true, false at the end.
 * The framing was checked by snap_file_parse.
 */
bool snap_next_section(const struct snap_file *f, size_t *off, uint32_t *tag,
                       struct snap_reader *payload);

/*
 * Upstream's Debug form of the SnapshotError in err/kind (for the debug line
 * of --describe-snapshot and the tools' "Error: ..." lines), e.g.
 * SizeLimitExceeded(10000000), Crc64, InvalidMagic(123), or
 * InvalidFormatVersion(Version { major: 12, minor: 0, patch: 0 }). Returns
 * out.
 */
const char *snap_error_debug(enum snap_error kind, const struct sq_err *err,
                             char *out, size_t out_len);

#endif
