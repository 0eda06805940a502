/*
 * seccomp_bitcode_enc.c: writing upstream's compiled seccomp filter files
 * (bitcode 0.6.9, serde mode, map<String, Vec<u64>>; seccomp_bitcode.h
 * describes the layout). Used by the tests and the seccomp-bitcode tool to
 * make files; squib itself only reads them, and a static link leaves this
 * object out of the binary.
 *
 * Every choice (which packing, whether to subtract the minimum) is made
 * as the crate makes it, so the output is byte for byte what
 * bitcode::serialize() gives for the same entries in the same order: the
 * committed fixtures made with the crate check that.
 */
#include <stdlib.h>
#include <string.h>

#include "util/seccomp_bitcode.h"
#include "util/xalloc.h"

/* The byte packings, best last (the crate's pack::Packing): index i is
 * header 2 * i (2 * i - 1 with a minimum). */
static const unsigned byte_bases[] = {256, 16, 6, 4, 3, 2};
static const unsigned byte_pers[] = {1, 2, 3, 4, 5, 8};

static unsigned byte_packing(uint8_t max)
{
    if (max <= 1)
        return 5;
    if (max == 2)
        return 4;
    if (max == 3)
        return 3;
    if (max <= 5)
        return 2;
    if (max <= 15)
        return 1;
    return 0;
}

/* Pack v[0..n) (all < base) `per` to a byte, least significant first. */
static void pack_digits(const uint8_t *v, size_t n, unsigned kind,
                        struct buf *out)
{
    unsigned base = byte_bases[kind], per = byte_pers[kind];

    for (size_t i = 0; i < n; i += per) {
        unsigned acc = 0, mul = 1;

        for (size_t k = 0; k < per && i + k < n; k++) {
            acc += v[i + k] * mul;
            mul *= base;
        }
        buf_putc(out, (char)(uint8_t)acc);
    }
}

/* A byte column (pack_bytes). Modifies v. */
static void put_bytes(uint8_t *v, size_t n, struct buf *out)
{
    uint8_t min = 255, max = 0;
    unsigned basic, offset;

    if (n <= 2) {
        buf_append(out, v, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        min = v[i] < min ? v[i] : min;
        max = v[i] > max ? v[i] : max;
    }
    basic = byte_packing(max);
    offset = byte_packing((uint8_t)(max - min));
    if (offset > basic && n > 5) {
        for (size_t i = 0; i < n; i++)
            v[i] = (uint8_t)(v[i] - min);
        buf_putc(out, (char)(uint8_t)(offset * 2 - 1));
        buf_putc(out, (char)min);
        pack_digits(v, n, offset, out);
    } else {
        buf_putc(out, (char)(uint8_t)(basic * 2));
        pack_digits(v, n, basic, out);
    }
}

/* Integer packings (pack_ints::Packing for u64): 1 = 64 bits ... 4 = 8. */
static unsigned int_packing(uint64_t max)
{
    if (max <= 0xff)
        return 4;
    if (max <= 0xffff)
        return 3;
    if (max <= 0xffffffffu)
        return 2;
    return 1;
}

static void put_le(uint64_t v, unsigned width, struct buf *out)
{
    for (unsigned i = 0; i < width; i++)
        buf_putc(out, (char)(uint8_t)(v >> (8 * i)));
}

static void put_packed_ints(const uint64_t *v, size_t n, unsigned kind,
                            uint64_t min, struct buf *out)
{
    static const unsigned widths[] = {16, 8, 4, 2, 1};

    if (kind == 4) {
        uint8_t *b = xmalloc(n);

        for (size_t i = 0; i < n; i++)
            b[i] = (uint8_t)(v[i] - min);
        put_bytes(b, n, out);
        free(b);
        return;
    }
    for (size_t i = 0; i < n; i++)
        put_le(v[i] - min, widths[kind], out);
}

/* An integer column of u64 (pack_ints). */
static void put_ints(const uint64_t *v, size_t n, struct buf *out)
{
    uint64_t min = UINT64_MAX, max = 0;
    unsigned basic, offset;

    if (n == 0)
        return;
    /* The crate looks at the first 16 values first: if they alone span
     * more than 32 bits, everything goes out as 64-bit values. */
    for (size_t i = 0; i < n && i < 16; i++) {
        min = v[i] < min ? v[i] : min;
        max = v[i] > max ? v[i] : max;
    }
    if (int_packing(max - min) == 1) {
        buf_putc(out, 0);
        put_packed_ints(v, n, 1, 0, out);
        return;
    }
    for (size_t i = 16; i < n; i++) {
        min = v[i] < min ? v[i] : min;
        max = v[i] > max ? v[i] : max;
    }
    basic = int_packing(max);
    offset = int_packing(max - min);
    if (offset > basic && n > 5) {
        buf_putc(out, (char)(uint8_t)((offset - 1) * 2 - 1));
        put_le(min, 8, out);
        put_packed_ints(v, n, offset, min, out);
    } else {
        buf_putc(out, (char)(uint8_t)((basic - 1) * 2));
        put_packed_ints(v, n, basic, 0, out);
    }
}

/* A length column (LengthEncoder). */
static void put_lens(const uint64_t *v, size_t n, struct buf *out)
{
    uint8_t *small = xmalloc(n ? n : 1);
    uint64_t *large = xmalloc((n ? n : 1) * sizeof(*large));
    size_t n_large = 0;

    for (size_t i = 0; i < n; i++) {
        small[i] = v[i] < 255 ? (uint8_t)v[i] : 255;
        if (v[i] >= 255)
            large[n_large++] = v[i];
    }
    put_bytes(small, n, out);
    put_ints(large, n_large, out);
    free(small);
    free(large);
}

void seccomp_bitcode_encode(const struct seccomp_bitcode_prog *progs, size_t n,
                            struct buf *out)
{
    uint64_t count = n, *lens = xmalloc((n ? n : 1) * sizeof(*lens));
    size_t total = 0;
    uint64_t *all;

    put_lens(&count, 1, out);
    if (n == 0) {
        free(lens);
        return;
    }
    for (size_t i = 0; i < n; i++)
        lens[i] = progs[i].name_len;
    put_lens(lens, n, out);
    for (size_t i = 0; i < n; i++)
        buf_append(out, progs[i].name, progs[i].name_len);
    for (size_t i = 0; i < n; i++) {
        lens[i] = progs[i].n_insns;
        total += progs[i].n_insns;
    }
    put_lens(lens, n, out);
    all = xmalloc((total ? total : 1) * sizeof(*all));
    total = 0;
    for (size_t i = 0; i < n; i++) {
        if (progs[i].n_insns)
            memcpy(all + total, progs[i].insns,
                   progs[i].n_insns * sizeof(*all));
        total += progs[i].n_insns;
    }
    put_ints(all, total, out);
    free(all);
    free(lens);
}
