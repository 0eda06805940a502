/*
 * seccomp_bitcode.c: reading upstream's compiled seccomp filter files
 * (bitcode 0.6.9, serde mode, map<String, Vec<u64>>; the layout is
 * described in seccomp_bitcode.h). The writer is seccomp_bitcode_enc.c.
 *
 * The parser follows the crate's decoder step by step, so it accepts what
 * the crate accepts and refuses what it refuses: the same header values,
 * the same EOF checks, the same sum limits, UTF-8 as Rust's str::from_utf8.
 * It keeps pointers into the input instead of unpacking anything: a
 * packed value is computed again when it is read, which costs a division
 * or two and saves every allocation the crate would make.
 */
#include "util/seccomp_bitcode.h"

#include <errno.h>
#include <string.h>

#include "util/utf8.h"

/* The input still to read. */
struct cursor {
    const uint8_t *p;
    size_t left;
};

static int fail(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return -EINVAL;
}

/* Take n bytes from the cursor into *out; false at EOF. */
static bool take(struct cursor *c, size_t n, const uint8_t **out)
{
    if (n > c->left)
        return false;
    *out = c->p;
    c->p += n;
    c->left -= n;
    return true;
}

static uint64_t load_le(const uint8_t *p, unsigned width)
{
    uint64_t v = 0;

    for (unsigned i = width; i-- > 0;)
        v = (v << 8) | p[i];
    return v;
}

/* ---------------------------------------------------------------------- */
/* Byte columns (the crate's pack_bytes / unpack_bytes)                    */

static uint8_t bytes_get(const struct bc_bytes *b, size_t i)
{
    unsigned v = b->p[i / b->per];

    for (size_t k = i % b->per; k > 0; k--)
        v /= b->base;
    return (uint8_t)(v % b->base + b->min);
}

/* A byte column of n values. */
static int bytes_parse(struct cursor *c, size_t n, struct bc_bytes *b,
                       const char **why)
{
    /* Header h: ceil(h / 2) picks the packing, an odd h adds `min`. */
    static const unsigned bases[] = {256, 16, 6, 4, 3, 2};
    static const unsigned pers[] = {1, 2, 3, 4, 5, 8};
    const uint8_t *h, *m;
    unsigned kind;

    memset(b, 0, sizeof(*b));
    b->n = n;
    b->base = 256;
    b->per = 1;
    if (n <= 2) /* packing could only make these longer */
        return take(c, n, &b->p) ? 0 : fail(why, "EOF");
    if (!take(c, 1, &h))
        return fail(why, "EOF");
    kind = (*h + 1u) / 2;
    if (kind >= sizeof(bases) / sizeof(bases[0]))
        return fail(why, "invalid packing");
    if (*h & 1) {
        if (!take(c, 1, &m))
            return fail(why, "EOF");
        b->min = *m;
    }
    b->base = bases[kind];
    b->per = pers[kind];
    /* ceil(n / per), without overflow */
    if (!take(c, n / b->per + (n % b->per != 0), &b->p))
        return fail(why, "EOF");
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Integer columns (the crate's pack_ints / unpack_ints for u64)           */

static uint64_t ints_get(const struct bc_ints *v, size_t i)
{
    uint64_t x = v->width == 1 ? bytes_get(&v->bytes, i)
                               : load_le(v->p + i * v->width, v->width);

    return x + v->min; /* wrapping, as the crate's wrapping_add */
}

/* An integer column of n u64 values. */
static int ints_parse(struct cursor *c, size_t n, struct bc_ints *v,
                      const char **why)
{
    /* Header h: 1 + ceil(h / 2) picks the width (1: 64 bits, 2: 32,
     * 3: 16, 4: a byte column; 0 would be 128 bits, which a u64 column
     * never has), an odd h adds `min`. */
    static const unsigned widths[] = {8, 4, 2, 1};
    const uint8_t *h, *m;
    unsigned kind;

    memset(v, 0, sizeof(*v));
    v->n = n;
    v->width = 8;
    if (n == 0)
        return 0;
    if (!take(c, 1, &h))
        return fail(why, "EOF");
    kind = (*h + 1u) / 2;
    if (kind >= sizeof(widths) / sizeof(widths[0]))
        return fail(why, "invalid packing");
    if (*h & 1) {
        if (!take(c, 8, &m))
            return fail(why, "EOF");
        v->min = load_le(m, 8);
    }
    v->width = widths[kind];
    if (v->width == 1)
        return bytes_parse(c, n, &v->bytes, why);
    if (c->left / v->width < n)
        return fail(why, "EOF");
    take(c, n * v->width, &v->p);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Length columns (the crate's LengthDecoder)                              */

static int lens_parse(struct cursor *c, size_t n, struct bc_lens *l,
                      const char **why)
{
    size_t n_large = 0;
    uint64_t sum = 0;
    int rc;

    memset(l, 0, sizeof(*l));
    rc = bytes_parse(c, n, &l->small, why);
    if (rc < 0)
        return rc;
    /* n is at most 8 values per input byte: this sum cannot overflow. */
    for (size_t i = 0; i < n; i++) {
        uint8_t s = bytes_get(&l->small, i);

        sum += s;
        n_large += s == 255;
    }
    l->sum = sum;
    if (sum < 255) /* no byte is 255: no large values */
        return 0;
    rc = ints_parse(c, n_large, &l->large, why);
    if (rc < 0)
        return rc;
    sum -= 255 * (uint64_t)n_large;
    for (size_t i = 0; i < n_large; i++) {
        uint64_t v = ints_get(&l->large, i);

        if (__builtin_add_overflow(sum, v, &sum))
            return fail(why, "length overflow");
    }
    if (sum >= SECCOMP_BITCODE_HUGE_LEN)
        return fail(why, "huge length");
    l->sum = sum;
    return 0;
}

/* Length number i of a column walked in order; *large counts the large
 * values used so far. */
static uint64_t lens_next(const struct bc_lens *l, size_t i, size_t *large)
{
    uint8_t s = bytes_get(&l->small, i);

    return s == 255 ? ints_get(&l->large, (*large)++) : s;
}

/* ---------------------------------------------------------------------- */
/* The map                                                                 */

int seccomp_bitcode_parse(const void *data, size_t len,
                          struct seccomp_bitcode *bc, const char **why)
{
    struct cursor c = {data, len};
    struct bc_lens map;
    size_t large = 0;
    uint64_t off = 0;
    int rc;

    memset(bc, 0, sizeof(*bc));
    rc = lens_parse(&c, 1, &map, why);
    if (rc < 0)
        return rc;
    /* Each entry takes at least one bit of the key lengths: a count the
     * input cannot hold fails below with EOF, before anything is walked. */
    if (map.sum > SIZE_MAX / 2)
        return fail(why, "EOF");
    bc->n_entries = (size_t)map.sum;
    if (bc->n_entries) {
        rc = lens_parse(&c, bc->n_entries, &bc->key_lens, why);
        if (rc < 0)
            return rc;
        if (!take(&c, (size_t)bc->key_lens.sum, &bc->keys))
            return fail(why, "EOF");
        /* Every key on its own must be UTF-8: the same as the crate's
         * check of the whole with every boundary on a char boundary. */
        for (size_t i = 0; i < bc->n_entries; i++) {
            uint64_t n = lens_next(&bc->key_lens, i, &large);

            if (!utf8_valid(bc->keys + off, (size_t)n))
                return fail(why, "invalid utf8");
            off += n;
        }
        rc = lens_parse(&c, bc->n_entries, &bc->prog_lens, why);
        if (rc < 0)
            return rc;
        if (bc->prog_lens.sum > SIZE_MAX / 8) /* cannot fit any input */
            return fail(why, "EOF");
        rc = ints_parse(&c, (size_t)bc->prog_lens.sum, &bc->insns, why);
        if (rc < 0)
            return rc;
    }
    if (c.left)
        return fail(why, "Expected EOF");
    return 0;
}

void seccomp_bitcode_iter_init(struct seccomp_bitcode_iter *it,
                               const struct seccomp_bitcode *bc)
{
    memset(it, 0, sizeof(*it));
    it->bc = bc;
}

bool seccomp_bitcode_next(struct seccomp_bitcode_iter *it,
                          struct seccomp_bitcode_entry *e)
{
    const struct seccomp_bitcode *bc = it->bc;

    if (it->i >= bc->n_entries)
        return false;
    e->name_len = (size_t)lens_next(&bc->key_lens, it->i, &it->key_large);
    e->name = (const char *)bc->keys + it->key_off;
    e->n_insns = (size_t)lens_next(&bc->prog_lens, it->i, &it->prog_large);
    e->first = it->insn_off;
    it->key_off += e->name_len;
    it->insn_off += e->n_insns;
    it->i++;
    return true;
}

uint64_t seccomp_bitcode_insn(const struct seccomp_bitcode *bc, uint64_t idx)
{
    return ints_get(&bc->insns, (size_t)idx);
}
