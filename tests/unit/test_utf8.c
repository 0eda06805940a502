/*
 * test_utf8.c: Rust's core::str UTF-8 rules (util/utf8.c), byte-exact.
 *
 * The expected values are what Rust's std gives for the same bytes:
 * str::from_utf8's Utf8Error (valid_up_to, error_len), the characters
 * str::chars yields, String::from_utf8_lossy and str::trim. Every input
 * ends at a PROT_NONE page, so reading past it crashes the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "guard.h"
#include "util/utf8.h"

#define S(lit) lit, sizeof(lit) - 1

/* An input and the text expected from it. */
struct str_case {
    const char *in;
    size_t len;
    const char *want;
};

/* from_utf8: valid, or where the first error is and its error_len. */
static const struct {
    const char *in;
    size_t len;
    bool ok;
    size_t valid_up_to, error_len; /* error_len 0 = None */
} validate_cases[] = {
    {S(""), true, 0, 0},
    {S("plain ascii\x7f"), true, 0, 0},
    {S("\xc3\xa9\xf0\x9f\x98\x80"), true, 0, 0},
    {S("\xc2\x80\xdf\xbf"), true, 0, 0},                 /* U+0080, U+07FF */
    {S("\xe0\xa0\x80\xed\x9f\xbf"), true, 0, 0},         /* U+0800, U+D7FF */
    {S("\xee\x80\x80\xef\xbf\xbf"), true, 0, 0},         /* U+E000, U+FFFF */
    {S("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"), true, 0, 0}, /* U+10000.. */
    {S("\x80"), false, 0, 1},             /* lone continuation byte */
    {S("ab\xff"), false, 2, 1},           /* never a first byte */
    {S("\xc0\xaf"), false, 0, 1},         /* overlong '/' */
    {S("\xc1\xbf"), false, 0, 1},         /* overlong */
    {S("a\xe0\x80\x80"), false, 1, 1},    /* overlong 3-byte */
    {S("\xf0\x8f\xbf\xbf"), false, 0, 1}, /* overlong 4-byte */
    {S("\xed\xa0\x80"), false, 0, 1},     /* surrogate U+D800 */
    {S("\xed\xbf\xbf"), false, 0, 1},     /* surrogate U+DFFF */
    {S("\xf4\x90\x80\x80"), false, 0, 1}, /* U+110000 */
    {S("\xf5\x80\x80\x80"), false, 0, 1},
    {S("\xc3"), false, 0, 0}, /* truncated: None */
    {S("ab\xe2\x82"), false, 2, 0},
    {S("\xf0\x9f\x98"), false, 0, 0},
    {S("\xc3("), false, 0, 1},
    {S("ab\xe2\x82x"), false, 2, 2},
    {S("\xf0\x9f\x98x"), false, 0, 3},
    {S("\xf0\x9fxx"), false, 0, 2},
    {S("ok\xc3\xa9\xe2\x82\xac\xe2(\xa1"), false, 7, 1},
};

static void test_validate(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(validate_cases) / sizeof(validate_cases[0]);
         i++) {
        struct guarded g;
        struct utf8_error e = {99, 99};

        guard_init(&g, validate_cases[i].in, validate_cases[i].len);
        assert_int_equal(utf8_validate(g.p, validate_cases[i].len, &e),
                         validate_cases[i].ok);
        assert_int_equal(utf8_valid(g.p, validate_cases[i].len),
                         validate_cases[i].ok);
        assert_true(utf8_validate(g.p, validate_cases[i].len, NULL) ==
                    validate_cases[i].ok);
        if (!validate_cases[i].ok) {
            assert_int_equal(e.valid_up_to, validate_cases[i].valid_up_to);
            assert_int_equal(e.error_len, validate_cases[i].error_len);
        }
        guard_fini(&g);
    }
}

static void test_decode(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        size_t want_len;
        uint32_t cp;
    } cases[] = {
        {S("A"), 1, 'A'},
        {S("\xc2\xb2x"), 2, 0xb2},
        {S("\xe2\x85\xa0"), 3, 0x2160},
        {S("\xef\xbf\xbd"), 3, 0xfffd},
        {S("\xf4\x8f\xbf\xbf"), 4, 0x10ffff},
        {S("\xf0\x9f\x98\x80!"), 4, 0x1f600},
        {S(""), 0, 0},
        {S("\xc3"), 0, 0},
        {S("\xe0\x9f\xbf"), 0, 0},
        {S("\xed\xa0\x80"), 0, 0},
        {S("\xf4\x90\x80\x80"), 0, 0},
        {S("\xbf"), 0, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct guarded g;
        uint32_t cp = 0x12345678;

        guard_init(&g, cases[i].in, cases[i].len);
        assert_int_equal(utf8_decode(g.p, cases[i].len, &cp),
                         cases[i].want_len);
        assert_int_equal(cp, cases[i].want_len ? cases[i].cp : 0x12345678);
        guard_fini(&g);
    }
}

/* String::from_utf8_lossy through utf8_chunk(). */
static void lossy(const char *s, size_t n, char *out, size_t out_len)
{
    size_t o = 0;

    while (n > 0) {
        size_t valid, invalid, step = utf8_chunk(s, n, &valid, &invalid);

        assert_true(step > 0 && step <= n && step == valid + invalid);
        assert_true(invalid <= 3 || step == n);
        assert_true(o + valid + 4 < out_len);
        memcpy(out + o, s, valid);
        o += valid;
        if (invalid) {
            memcpy(out + o, UTF8_REPLACEMENT, 3);
            o += 3;
        }
        s += step;
        n -= step;
    }
    out[o] = '\0';
}

#define R UTF8_REPLACEMENT

static void test_lossy(void **state)
{
    static const struct str_case cases[] = {
        {S(""), ""},
        {S("Hello \xf0\x90\x80World"), "Hello " R "World"},
        /* one U+FFFD per maximal invalid subpart (Unicode's practice) */
        {S("\xf1\x80\x80\xe1\x80\xc2\x61"), R R R "a"},
        {S("\xc0\xaf"), R R},
        {S("\xed\xa0\x80"), R R R},
        {S("\xf4\x90\x80\x80"), R R R R},
        {S("a\xf0\x9f\x98"), "a" R}, /* truncated at the end: one */
        {S("\xe2\x82\xac\xff\xe2\x82\xac"), "\xe2\x82\xac" R "\xe2\x82\xac"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct guarded g;
        char out[128];

        guard_init(&g, cases[i].in, cases[i].len);
        lossy(g.p, cases[i].len, out, sizeof(out));
        assert_string_equal(out, cases[i].want);
        guard_fini(&g);
    }
}

static void test_trim(void **state)
{
    static const struct str_case cases[] = {
        {S(""), ""},
        {S(" \t\r\n"), ""},
        {S("  a b  "), "a b"},
        /* U+3000, U+00A0, U+0085, U+2028 are White_Space */
        {S("\xe3\x80\x80x\xc2\xa0\xc2\x85\xe2\x80\xa8"), "x"},
        /* U+200B ZERO WIDTH SPACE and U+FEFF are not */
        {S("\xe2\x80\x8bx\xef\xbb\xbf"), "\xe2\x80\x8bx\xef\xbb\xbf"},
        /* an invalid sequence stops the trim (it is no space) */
        {S("\xa0 x \xc2"), "\xa0 x \xc2"},
        {S(" \xc0\xa0x"), "\xc0\xa0x"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct guarded g;
        const char *s;
        size_t n = cases[i].len;

        guard_init(&g, cases[i].in, cases[i].len);
        s = g.p;
        utf8_trim(&s, &n);
        assert_int_equal(n, strlen(cases[i].want));
        assert_memory_equal(s, cases[i].want, n);
        guard_fini(&g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_lossy),
        cmocka_unit_test(test_trim),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
