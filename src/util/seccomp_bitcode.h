/*
 * seccomp_bitcode.h: upstream Firecracker's compiled seccomp filter files
 * (docs/seccomp.md, "Compiled filter files").
 *
 * Upstream's seccompiler-bin writes a map from thread category to BPF
 * program, Rust type BTreeMap<String, Vec<u64>> (each u64 one struct
 * sock_filter in native byte order), serialized with the bitcode crate
 * 0.6.9 in its serde mode; Firecracker reads it back as a HashMap of the
 * same types. This module reads and writes exactly that shape and nothing
 * else: no other bitcode type is understood.
 *
 * The format, as bitcode 0.6.9 lays out that one type. bitcode is
 * columnar: the values of one Rust type position are stored together, in
 * the order serde first meets each position while walking the value:
 *
 *   map lengths   a length column of 1 value: the number of entries n
 *   keys          (n > 0 only) a length column of n values, then the key
 *                 bytes, all keys back to back (each valid UTF-8)
 *   value lengths (n > 0 only) a length column of n values: each program's
 *                 instruction count; their sum is T
 *   instructions  (T > 0 only) an integer column of T u64 values
 *
 * and nothing may follow. A *byte column* of m values is stored as the
 * m raw bytes when m <= 2; otherwise a header byte h (0..10) selects a
 * packing of ceil(h / 2) (0: one value per byte; 1..5: 2, 3, 4, 5 or 8
 * values per byte, in base 16, 6, 4, 3 or 2, least significant digit
 * first); an odd h is followed by a byte `min` added (mod 256) to every
 * value. An *integer column* of m u64 values (m > 0) starts with a
 * header byte h (0..6): 0 is 8 bytes per value, 1..2 four, 3..4 two
 * (little-endian), 5..6 a byte column of m values; an odd h is followed by
 * a u64 (8 bytes, little-endian) added (mod 2^64) to every value. A
 * *length column* of m values is a byte column where 255 means "look in
 * the next large value": if the bytes add up to 255 or more, an integer
 * column of as many values as there are 255 bytes follows. Lengths that
 * add up to 2^51 - 1 or more are refused, as the crate does.
 *
 * Reading allocates nothing: seccomp_bitcode_parse() checks the whole
 * input and leaves a view into it, which seccomp_bitcode_next() walks.
 * Every count is checked against the bytes left before it is used, so a
 * hostile length can never make anyone allocate more than a small
 * multiple of the input.
 */
#ifndef SQUIB_UTIL_SECCOMP_BITCODE_H
#define SQUIB_UTIL_SECCOMP_BITCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* A byte column (see the top of this file). */
struct bc_bytes {
    const uint8_t *p; /* borrowed: the packed bytes */
    size_t n;         /* number of values */
    unsigned base;    /* 2, 3, 4, 6, 16 or 256 */
    unsigned per;     /* values per packed byte: 8, 5, 4, 3, 2 or 1 */
    uint8_t min;      /* added to every value */
};

/* An integer column of u64 values. */
struct bc_ints {
    size_t n;
    unsigned width;        /* bytes per value: 8, 4, 2, or 1 for `bytes` */
    const uint8_t *p;      /* borrowed; width 8, 4, 2 */
    struct bc_bytes bytes; /* width 1 */
    uint64_t min;          /* added to every value */
};

/* A length column. */
struct bc_lens {
    struct bc_bytes small;
    struct bc_ints large; /* one value per 255 in `small` */
    uint64_t sum;         /* the lengths added up */
};

/* A parsed file: a view into the caller's input, which must outlive it. */
struct seccomp_bitcode {
    size_t n_entries;
    struct bc_lens key_lens;
    const uint8_t *keys; /* borrowed: key_lens.sum bytes */
    struct bc_lens prog_lens;
    struct bc_ints insns; /* prog_lens.sum values */
};

/* One map entry, in file order. */
struct seccomp_bitcode_entry {
    const char *name; /* borrowed from the input; not NUL-terminated */
    size_t name_len;
    uint64_t first; /* index of its first instruction in `insns` */
    size_t n_insns;
};

/* A walk over the entries; start it with seccomp_bitcode_iter_init(). */
struct seccomp_bitcode_iter {
    const struct seccomp_bitcode *bc;
    size_t i;
    size_t key_large, prog_large; /* next large value of each column */
    uint64_t key_off, insn_off;
};

/* The crate's limit on a sum of lengths (its HUGE_LEN, 2^51 - 1). */
#define SECCOMP_BITCODE_HUGE_LEN (0x7fffffffffffffffULL / 4096)

/*
 * Check that data[0..len) is exactly one bitcode-serialized
 * map<String, Vec<u64>> and set *bc to a view of it (borrowing `data`).
 * Returns 0, or -EINVAL with *why (if not NULL) set to a static reason in
 * the crate's words ("EOF", "Expected EOF", "invalid packing",
 * "invalid utf8", "length overflow", "huge length"). Allocates nothing.
 */
int seccomp_bitcode_parse(const void *data, size_t len,
                          struct seccomp_bitcode *bc, const char **why);

/* Start a walk over the entries of a parsed file. */
void seccomp_bitcode_iter_init(struct seccomp_bitcode_iter *it,
                               const struct seccomp_bitcode *bc);

/* The next entry in file order into *e: true, or false at the end. */
bool seccomp_bitcode_next(struct seccomp_bitcode_iter *it,
                          struct seccomp_bitcode_entry *e);

/* Instruction number `idx` (< bc->prog_lens.sum) of the whole file. */
uint64_t seccomp_bitcode_insn(const struct seccomp_bitcode *bc, uint64_t idx);

/* One entry to write: a name and a program (both borrowed). */
struct seccomp_bitcode_prog {
    const char *name;
    size_t name_len;
    const uint64_t *insns;
    size_t n_insns;
};

/*
 * Append progs[0..n) to `out` as bitcode 0.6.9 serializes such a map,
 * entries in the given order (seccompiler-bin's BTreeMap sorts them by
 * name), choosing every packing as the crate does, so the bytes equal the
 * crate's. For tests and tools; squib itself only reads these files.
 */
void seccomp_bitcode_encode(const struct seccomp_bitcode_prog *progs, size_t n,
                            struct buf *out);

#endif
