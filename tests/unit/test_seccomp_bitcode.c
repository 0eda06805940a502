/*
 * test_seccomp_bitcode.c: upstream's compiled seccomp filter files
 * (util/seccomp_bitcode.c, util/seccomp_bitcode_enc.c), byte-exact.
 *
 * The reference is the bitcode crate itself: tests/fixtures/seccomp_bitcode/
 * holds files it wrote and, in expected.txt, what it decodes from them
 * (README.md there says how). Every file is decoded and compared, and every
 * valid one re-encoded and compared byte for byte. Hand-derived inputs
 * cover each packing and each malformed-input class, with the crate's
 * reasons. Every input ends at a PROT_NONE page, so any read past its end
 * crashes the test.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guard.h"
#include "util/buf.h"
#include "util/seccomp_bitcode.h"

#define FIXTURES "tests/fixtures/seccomp_bitcode/"

static char *read_all(const char *path, size_t *len)
{
    struct buf b = BUF_INIT;
    char chunk[4096], *p;
    size_t n;
    FILE *f = fopen(path, "rb");

    if (!f)
        fail_msg("cannot open %s", path);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    buf_putc(&b, 0); /* a NUL after the data, not counted */
    p = buf_steal(&b, len);
    (*len)--;
    return p;
}

/* Decode data[0..len) (guarded) and append the dump expected.txt uses. */
static int dump(const void *data, size_t len, struct buf *out)
{
    struct seccomp_bitcode bc;
    struct seccomp_bitcode_iter it;
    struct seccomp_bitcode_entry e;
    struct guarded g;
    const char *why = NULL;
    int rc;

    guard_init(&g, data, len);
    rc = seccomp_bitcode_parse(g.p, len, &bc, &why);
    if (rc < 0) {
        assert_int_equal(rc, -EINVAL);
        assert_non_null(why);
        buf_puts(out, "err bitcode error\n");
        guard_fini(&g);
        return rc;
    }
    buf_printf(out, "ok %zu\n", bc.n_entries);
    seccomp_bitcode_iter_init(&it, &bc);
    while (seccomp_bitcode_next(&it, &e)) {
        uint64_t h = 0xcbf29ce484222325ULL, first = 0, last = 0;

        for (size_t i = 0; i < e.name_len; i++)
            buf_printf(out, "%02x", (unsigned char)e.name[i]);
        if (!e.name_len)
            buf_putc(out, '-');
        for (size_t i = 0; i < e.n_insns; i++) {
            uint64_t v = seccomp_bitcode_insn(&bc, e.first + i);

            if (i == 0)
                first = v;
            last = v;
            for (int k = 0; k < 8; k++) {
                h ^= (v >> (8 * k)) & 0xff;
                h *= 0x100000001b3ULL;
            }
        }
        buf_printf(out, " %zu %016llx %016llx %016llx\n", e.n_insns,
                   (unsigned long long)first, (unsigned long long)last,
                   (unsigned long long)h);
    }
    guard_fini(&g);
    return 0;
}

/* Decode a valid file and encode its entries again. */
static void reencode(const char *data, size_t len, struct buf *out)
{
    struct seccomp_bitcode bc;
    struct seccomp_bitcode_iter it;
    struct seccomp_bitcode_entry e;
    struct seccomp_bitcode_prog *progs;
    uint64_t **vals;
    size_t n = 0;

    assert_int_equal(seccomp_bitcode_parse(data, len, &bc, NULL), 0);
    progs = calloc(bc.n_entries + 1, sizeof(*progs));
    vals = calloc(bc.n_entries + 1, sizeof(*vals));
    assert_non_null(progs);
    assert_non_null(vals);
    seccomp_bitcode_iter_init(&it, &bc);
    while (seccomp_bitcode_next(&it, &e)) {
        uint64_t *v = calloc(e.n_insns + 1, sizeof(*v));

        assert_non_null(v);
        for (size_t i = 0; i < e.n_insns; i++)
            v[i] = seccomp_bitcode_insn(&bc, e.first + i);
        vals[n] = v;
        progs[n++] =
            (struct seccomp_bitcode_prog){e.name, e.name_len, v, e.n_insns};
    }
    seccomp_bitcode_encode(progs, n, out);
    for (size_t i = 0; i < n; i++)
        free(vals[i]);
    free(vals);
    free(progs);
}

/* Every fixture decodes as the crate decoded it; every valid one encodes
 * back to the crate's bytes; every shorter prefix is refused. */
static void test_fixtures_match_the_crate(void **state)
{
    size_t exp_len, n_files = 0;
    char *expected = read_all(FIXTURES "expected.txt", &exp_len);
    char *p = expected;

    (void)state;
    while ((p = strstr(p, "== ")) != NULL) {
        char name[128], path[256];
        char *end = strchr(p, '\n'), *next;
        struct buf got = BUF_INIT, again = BUF_INIT;
        size_t len;
        char *data;
        int rc;

        assert_non_null(end);
        snprintf(name, sizeof(name), "%.*s", (int)(end - p - 3), p + 3);
        next = strstr(end, "\n== ");
        next = next ? next + 1 : expected + exp_len;
        snprintf(path, sizeof(path), FIXTURES "%s", name);
        data = read_all(path, &len);
        rc = dump(data, len, &got);
        if (got.len != (size_t)(next - end - 1) ||
            memcmp(got.data, end + 1, got.len) != 0)
            fail_msg("%s: decoded differently:\n%.*s", name, (int)got.len,
                     got.data);
        if (rc == 0) {
            reencode(data, len, &again);
            if (again.len != len || memcmp(again.data, data, len) != 0)
                fail_msg("%s: re-encoded bytes differ", name);
            for (size_t cut = 0; cut < len; cut++) {
                struct buf sink = BUF_INIT;

                /* Long files: both ends and a sample of the middle. */
                if (cut >= 64 && cut + 64 < len && cut % 61)
                    continue;

                if (dump(data, cut, &sink) == 0)
                    fail_msg("%s: prefix of %zu bytes accepted", name, cut);
                buf_fini(&sink);
            }
        }
        buf_fini(&got);
        buf_fini(&again);
        free(data);
        n_files++;
        p = next;
    }
    assert_true(n_files >= 20);
    free(expected);
}

#define B(...)                                                                 \
    ((const uint8_t[]){__VA_ARGS__}), sizeof((uint8_t[]){__VA_ARGS__})

struct want_entry {
    const char *name;
    size_t n;
    uint64_t insns[8];
};

/* Inputs derived by hand from the crate's source, with what they hold. */
static const struct {
    const uint8_t *in;
    size_t len;
    size_t n_entries;
    struct want_entry e[3];
} good[] = {
    /* {} */
    {B(0x00), 0, {{0}}},
    /* {"vmm": [1, 2, 3]}: u64 column header 6 (a byte column), whose
     * header 6 is base 4: 1 + 2*4 + 3*16 = 0x39. */
    {B(0x01, 0x03, 'v', 'm', 'm', 0x03, 0x06, 0x06, 0x39),
     1,
     {{"vmm", 3, {1, 2, 3}}}},
    /* {"": []}: an empty key, an empty program, no u64 column at all. */
    {B(0x01, 0x00, 0x00), 1, {{"", 0, {0}}}},
    /* {"a": [x]}: one u64 of each width: 8 bytes (header 0). */
    {B(0x01, 0x01, 'a', 0x01, 0x00, 1, 2, 3, 4, 5, 6, 7, 8),
     1,
     {{"a", 1, {0x0807060504030201ULL}}}},
    /* 4 bytes (header 2), 2 bytes (header 4), one raw byte (header 6 with
     * a byte column of 1 value: no header of its own). */
    {B(0x01, 0x01, 'a', 0x01, 0x02, 0x78, 0x56, 0x34, 0x12),
     1,
     {{"a", 1, {0x12345678}}}},
    {B(0x01, 0x01, 'a', 0x01, 0x04, 0x34, 0x12), 1, {{"a", 1, {0x1234}}}},
    {B(0x01, 0x01, 'a', 0x01, 0x06, 0xab), 1, {{"a", 1, {0xab}}}},
    /* Offsets: header 3 (16 bits + min), min 1000: 1000, 1001, 1065. */
    {B(0x01, 0x01, 'a', 0x03, 0x03, 0xe8, 0x03, 0, 0, 0, 0, 0, 0, 0x00, 0x00,
       0x01, 0x00, 0x41, 0x00),
     1,
     {{"a", 3, {1000, 1001, 1065}}}},
    /* A byte column with a min: header 9 (base 2 + min 7): 7, 8, 8, 7. */
    {B(0x01, 0x01, 'a', 0x04, 0x06, 0x09, 0x07, 0x06),
     1,
     {{"a", 4, {7, 8, 8, 7}}}},
    /* Base 3 (header 8), base 6 (header 4), base 16 (header 2). */
    {B(0x01, 0x01, 'a', 0x03, 0x06, 0x08, 2 + 1 * 3 + 2 * 9),
     1,
     {{"a", 3, {2, 1, 2}}}},
    {B(0x01, 0x01, 'a', 0x03, 0x06, 0x04, 5 + 0 * 6 + 4 * 36),
     1,
     {{"a", 3, {5, 0, 4}}}},
    {B(0x01, 0x01, 'a', 0x03, 0x06, 0x02, 0xfe, 0x03),
     1,
     {{"a", 3, {14, 15, 3}}}},
    /* A key of 300 bytes is too long for this table; a length of 255 or
     * more is a 255 byte then a u64 column: {"b": [] , "c": []} with the
     * key lengths given as 255 + large values 1 and 1 (allowed, though
     * the crate writes small ones itself). */
    {B(0x02, 0xff, 0xff, 0x06, 0x01, 0x01, 'b', 'c', 0x00, 0x00),
     2,
     {{"b", 0, {0}}, {"c", 0, {0}}}},
    /* Three categories in the crate's order, the upper-case one kept as
     * written (lower-casing is the loader's job). */
    {B(0x03, 0x04, 0xa5, 'A', 'p', 'i', 'V', 'M', 'M', 'v', 'C', 'p', 'U', 0x04,
       0x01, 0x06, 0x09),
     3,
     {{"Api", 1, {9}}, {"VMM", 0, {0}}, {"vCpU", 0, {0}}}},
};

static void test_hand_derived(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(good) / sizeof(good[0]); c++) {
        struct seccomp_bitcode bc;
        struct seccomp_bitcode_iter it;
        struct seccomp_bitcode_entry e;
        struct guarded g;
        const char *why = "";
        size_t k = 0;

        guard_init(&g, (const char *)good[c].in, good[c].len);
        if (seccomp_bitcode_parse(g.p, good[c].len, &bc, &why) != 0)
            fail_msg("case %zu refused: %s", c, why);
        assert_int_equal(bc.n_entries, good[c].n_entries);
        seccomp_bitcode_iter_init(&it, &bc);
        while (seccomp_bitcode_next(&it, &e)) {
            const struct want_entry *w = &good[c].e[k++];

            assert_int_equal(e.name_len, strlen(w->name));
            assert_memory_equal(e.name, w->name, e.name_len);
            assert_int_equal(e.n_insns, w->n);
            for (size_t i = 0; i < e.n_insns; i++)
                assert_int_equal(seccomp_bitcode_insn(&bc, e.first + i),
                                 w->insns[i]);
        }
        assert_int_equal(k, good[c].n_entries);
        guard_fini(&g);
    }
}

/* Malformed inputs and the crate's reason for each. */
static const struct {
    const uint8_t *in;
    size_t len;
    const char *why;
} bad[] = {
    /* truncated */
    {(const uint8_t *)"", 0, "EOF"},
    {B(0x01), "EOF"},
    {B(0x01, 0x03, 'v', 'm'), "EOF"},
    {B(0x01, 0x03, 'v', 'm', 'm'), "EOF"},
    {B(0x01, 0x03, 'v', 'm', 'm', 0x03, 0x06, 0x06), "EOF"},
    {B(0x01, 0x01, 'a', 0x01, 0x00, 1, 2, 3, 4, 5, 6, 7), "EOF"},
    {B(0x01, 0x01, 'a', 0x04, 0x03, 0xe8, 0x03), "EOF"},
    {B(0xff), "EOF"},
    {B(0xff, 0x00, 1, 0, 0), "EOF"},
    /* trailing bytes */
    {B(0x00, 0x00), "Expected EOF"},
    {B(0x01, 0x00, 0x00, 0x00), "Expected EOF"},
    {B(0x01, 0x03, 'v', 'm', 'm', 0x03, 0x06, 0x06, 0x39, 0x00),
     "Expected EOF"},
    /* headers out of range: a byte column's 11, an integer column's 7 */
    {B(0x03, 0x0b, 0x00, 'a', 'b', 'c'), "invalid packing"},
    {B(0x01, 0x01, 'a', 0x01, 0x07, 0x00), "invalid packing"},
    {B(0xff, 0xff), "invalid packing"},
    /* keys that are not UTF-8, alone or split inside a character */
    {B(0x01, 0x01, 0xff, 0x00), "invalid utf8"},
    {B(0x01, 0x02, 0xed, 0xa0, 0x00), "invalid utf8"}, /* a surrogate */
    {B(0x02, 0x01, 0x01, 0xc3, 0xa9, 0x00, 0x00), "invalid utf8"},
    /* lengths whose sum overflows u64, or reaches the crate's 2^51 - 1 */
    {B(0x02, 0xff, 0xff, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
       0x01, 0, 0, 0, 0, 0, 0, 0),
     "length overflow"},
    {B(0xff, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00),
     "huge length"},
    /* huge counts that would allocate without end if believed: 2^51 - 2
     * entries, then one program of 2^40 instructions */
    {B(0xff, 0x00, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00), "EOF"},
    {B(0x01, 0x00, 0xff, 0x00, 0, 0, 0, 0, 0, 0x01, 0, 0, 0x06, 0x0a, 0xff),
     "EOF"},
    {B(0x01, 0x00, 0xff, 0x00, 0, 0, 0, 0, 0, 0x01, 0, 0), "EOF"},
};

static void test_malformed(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(bad) / sizeof(bad[0]); c++) {
        struct seccomp_bitcode bc;
        struct guarded g;
        const char *why = NULL;

        guard_init(&g, (const char *)bad[c].in, bad[c].len);
        if (seccomp_bitcode_parse(g.p, bad[c].len, &bc, &why) != -EINVAL)
            fail_msg("case %zu accepted", c);
        if (!why || strcmp(why, bad[c].why) != 0)
            fail_msg("case %zu: \"%s\", want \"%s\"", c, why ? why : "(null)",
                     bad[c].why);
        guard_fini(&g);
    }
}

/* xorshift64, so the random cases are the same on every run. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random maps through the writer and back through the reader. */
static void test_round_trip(void **state)
{
    static const size_t lens[] = {0, 1, 2, 3, 5, 6, 16, 17, 254, 255, 256, 700};
    static const unsigned shifts[] = {0, 1, 2, 3, 4, 8, 15, 16, 31, 32, 63};
    uint64_t seed = 0x9e3779b97f4a7c15ULL;

    (void)state;
    for (int round = 0; round < 400; round++) {
        struct seccomp_bitcode_prog progs[6];
        char names[6][300];
        uint64_t *vals[6];
        size_t n = next_rand(&seed) % 6;
        struct buf out = BUF_INIT;
        struct seccomp_bitcode bc;
        struct seccomp_bitcode_iter it;
        struct seccomp_bitcode_entry e;
        struct guarded g;
        size_t k = 0;

        for (size_t i = 0; i < n; i++) {
            size_t name_len = (size_t)(next_rand(&seed) % 300);
            size_t len = lens[next_rand(&seed) % 12];
            unsigned shift = shifts[next_rand(&seed) % 11];
            uint64_t base = next_rand(&seed) % 2 ? next_rand(&seed) : 0;

            for (size_t j = 0; j < name_len; j++)
                names[i][j] = (char)('a' + next_rand(&seed) % 26);
            vals[i] = calloc(len + 1, sizeof(uint64_t));
            assert_non_null(vals[i]);
            for (size_t j = 0; j < len; j++)
                vals[i][j] = base + (next_rand(&seed) >> (63 - shift));
            progs[i] =
                (struct seccomp_bitcode_prog){names[i], name_len, vals[i], len};
        }
        seccomp_bitcode_encode(progs, n, &out);
        guard_init(&g, out.data ? out.data : "", out.len);
        assert_int_equal(seccomp_bitcode_parse(g.p, out.len, &bc, NULL), 0);
        assert_int_equal(bc.n_entries, n);
        seccomp_bitcode_iter_init(&it, &bc);
        while (seccomp_bitcode_next(&it, &e)) {
            assert_int_equal(e.name_len, progs[k].name_len);
            assert_memory_equal(e.name, progs[k].name, e.name_len);
            assert_int_equal(e.n_insns, progs[k].n_insns);
            for (size_t j = 0; j < e.n_insns; j++)
                assert_true(seccomp_bitcode_insn(&bc, e.first + j) ==
                            progs[k].insns[j]);
            k++;
        }
        assert_int_equal(k, n);
        guard_fini(&g);
        buf_fini(&out);
        for (size_t i = 0; i < n; i++)
            free(vals[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_match_the_crate),
        cmocka_unit_test(test_hand_derived),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
