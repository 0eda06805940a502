/*
 * fuzz_snapshot_state.c: libFuzzer harness for the snapshot state file's
 * reader (snapshot/format.h).
 *
 * The input is a whole state file. Invariants: parsing and the version-only
 * read never read outside the input (ASan), every failure carries a message
 * and a kind, a parsed file's sections tile its body exactly, and every
 * reader call on a section stays inside it. A parsed input re-encoded from
 * its sections gives back the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    struct snap_version v;
    struct snap_writer w;
    struct snap_reader r;
    struct snap_file f;
    enum snap_error kind;
    struct sq_err err;
    size_t off = 0, seen = 0;
    uint32_t tag;
    int rc;

    if (!copy)
        __builtin_trap();
    if (size)
        memcpy(copy, data, size); /* exact-size heap copy: ASan bounds */
    sq_err_clear(&err);
    rc = snap_file_version(copy, size, &v, &kind, &err);
    if (rc < 0 && (err.msg[0] == '\0' || kind == SNAP_E_NONE))
        __builtin_trap();
    sq_err_clear(&err);
    rc = snap_file_parse(copy, size, &f, &kind, &err);
    if (rc < 0) {
        if (err.msg[0] == '\0' || kind == SNAP_E_NONE)
            __builtin_trap();
        free(copy);
        return 0;
    }
    snap_writer_init(&w);
    w.b.len = 0; /* re-encode the header as found */
    snap_put_bytes(&w, copy, SNAP_HEADER_SIZE);
    while (snap_next_section(&f, &off, &tag, &r)) {
        char *s;

        seen += SNAP_SECTION_HDR + r.len;
        snap_section_begin(&w, tag);
        snap_put_bytes(&w, r.p, r.len);
        snap_section_end(&w);
        /* Typed reads over the payload stay inside it. */
        (void)snap_get_u8(&r);
        (void)snap_get_u16(&r);
        (void)snap_get_u64(&r);
        s = snap_get_str(&r);
        free(s);
    }
    if (seen != f.body_len)
        __builtin_trap();
    snap_writer_finish(&w);
    if (w.b.len != size || memcmp(w.b.data, copy, size) != 0)
        __builtin_trap();
    snap_writer_fini(&w);
    free(copy);
    return 0;
}
