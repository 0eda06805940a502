/*
 * fuzz_seccomp_bitcode.c: libFuzzer harness for upstream's compiled
 * seccomp filter files (util/seccomp_bitcode.c and the loader in
 * util/seccomp.c).
 *
 * Each input goes through the bitcode parser and, when it parses, through
 * a walk over every entry and instruction, the writer and the parser
 * again: squib's own output must always be accepted and hold the same
 * entries. Every input also goes through seccomp_filters_from_bitcode(),
 * the loader --seccomp-filter uses (category checks, program copies),
 * which must succeed or fail with -EINVAL and a message. Nothing is
 * installed. Besides the sanitizers, the harness checks that a parsed
 * file's counts fit the input: nothing believed from a length can make
 * the loader allocate more than a small multiple of what it read.
 *
 * Build: `make fuzz-build`.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/seccomp.h"
#include "util/seccomp_bitcode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

static void round_trip(const struct seccomp_bitcode *bc, size_t size)
{
    struct seccomp_bitcode_prog *progs;
    struct seccomp_bitcode_iter it, it2;
    struct seccomp_bitcode_entry e, e2;
    struct seccomp_bitcode again;
    uint64_t **vals;
    struct buf out = BUF_INIT;
    size_t n = 0;

    /* At most 8 values per input byte in any column. */
    CHECK(bc->n_entries <= 8 * size);
    CHECK(bc->prog_lens.sum <= 8 * (uint64_t)size);
    CHECK(bc->key_lens.sum <= size);
    progs = calloc(bc->n_entries + 1, sizeof(*progs));
    vals = calloc(bc->n_entries + 1, sizeof(*vals));
    CHECK(progs && vals);
    seccomp_bitcode_iter_init(&it, bc);
    while (seccomp_bitcode_next(&it, &e)) {
        vals[n] = calloc(e.n_insns + 1, sizeof(uint64_t));
        CHECK(vals[n]);
        for (size_t i = 0; i < e.n_insns; i++)
            vals[n][i] = seccomp_bitcode_insn(bc, e.first + i);
        progs[n] = (struct seccomp_bitcode_prog){e.name, e.name_len, vals[n],
                                                 e.n_insns};
        n++;
    }
    CHECK(n == bc->n_entries);
    seccomp_bitcode_encode(progs, n, &out);
    CHECK(seccomp_bitcode_parse(out.data ? out.data : "", out.len, &again,
                                NULL) == 0);
    CHECK(again.n_entries == n);
    seccomp_bitcode_iter_init(&it2, &again);
    for (size_t k = 0; seccomp_bitcode_next(&it2, &e2); k++) {
        CHECK(e2.name_len == progs[k].name_len);
        CHECK(memcmp(e2.name, progs[k].name, e2.name_len) == 0);
        CHECK(e2.n_insns == progs[k].n_insns);
        for (size_t i = 0; i < e2.n_insns; i++)
            CHECK(seccomp_bitcode_insn(&again, e2.first + i) ==
                  progs[k].insns[i]);
    }
    buf_fini(&out);
    for (size_t k = 0; k < n; k++)
        free(vals[k]);
    free(vals);
    free(progs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size heap copy, so ASan sees any over-read */
    uint8_t *in = malloc(size ? size : 1);
    struct seccomp_bitcode bc;
    struct seccomp_filters f;
    struct sq_err err;
    const char *why = NULL;
    int rc;

    if (!in)
        return 0;
    if (size)
        memcpy(in, data, size);
    rc = seccomp_bitcode_parse(in, size, &bc, &why);
    if (rc == 0)
        round_trip(&bc, size);
    else
        CHECK(rc == -EINVAL && why && why[0]);

    sq_err_clear(&err);
    rc = seccomp_filters_from_bitcode(in, size, &f, &err);
    CHECK(rc == 0 || (rc == -EINVAL && err.msg[0]));
    if (rc == 0)
        for (int k = 0; k < SECCOMP_THREAD_COUNT; k++)
            CHECK(f.prog[k].n_insns <= 8 * size);
    seccomp_filters_fini(&f);
    free(in);
    return 0;
}
