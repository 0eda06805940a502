/*
 * snap_decode.h: for the snapshot unit tests, a state file built with a
 * snap_writer finished, parsed (which must succeed) and decoded. Include
 * after <cmocka.h>.
 */
#ifndef SQUIB_TESTS_UNIT_SNAP_DECODE_H
#define SQUIB_TESTS_UNIT_SNAP_DECODE_H

#include "snapshot/format.h"
#include "snapshot/state.h"
#include "util/err.h"

/* Finish the file in w, free w, and decode the file into *out: the
 * decoder's result (err says why on failure). */
static inline int snap_finish_and_decode(struct snap_writer *w,
                                         struct microvm_state *out,
                                         struct sq_err *err)
{
    struct snap_file f;
    enum snap_error kind;
    int rc;

    snap_writer_finish(w);
    sq_err_clear(err);
    assert_int_equal(
        snap_file_parse((const uint8_t *)w->b.data, w->b.len, &f, &kind, err),
        0);
    rc = microvm_state_decode(&f, out, err);
    snap_writer_fini(w);
    return rc;
}

#endif
