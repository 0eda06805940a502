/*
 * test_json.c: unit tests for util/json (the serde_json-compatible decoder,
 * the DOM and the writers).
 *
 * The parse table holds documents with either their exact compact
 * serialization (serde_json::to_string of the parsed Value) or the exact
 * serde_json error text with its line/column. Inputs sit right before a
 * PROT_NONE page.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "guard.h"

#include "util/json.h"

#define S(x) x, sizeof(x) - 1

struct parse_case {
    const char *in;
    size_t len;
    bool is_err;
    const char *expect; /* serialization, or the error text */
};

static const struct parse_case parse_cases[] = {
    {S("{\"b\": 1, \"a\": [true, false, null, -1, 18446744073709551615, 184"
       "46744073709551616, -9223372036854775808, 0.1, 1e-7, 1.5e300, -0.0, "
       "100, 1e16, 1e15, 123.456]}"),
     false,
     "{\"a\":[true,false,null,-1,18446744073709551615,1.8446744073709552e+1"
     "9,-9223372036854775808,0.1,1e-7,1.5e+300,-0.0,100,1e+16,1000000000000"
     "000.0,123.456],\"b\":1}"},
    {S("\"\\u0000\\u001f\\u007f\\b\\f\\n\\r\\t\\\"\\\\\\/\\u00e9\\ud83d\\ud"
       "e00\""),
     false,
     "\"\\u0000\\u001f\177\\b\\f\\n\\r\\t\\\"\\\\/\303\251\360\237\230\200"
     "\""},
    {S("[1, 2"), true, "EOF while parsing a list at line 1 column 5"},
    {S("{\"a\" 1}"), true, "expected `:` at line 1 column 6"},
    {S("{\"a\": 1,}"), true, "trailing comma at line 1 column 9"},
    {S("[1, 2,]"), true, "trailing comma at line 1 column 7"},
    {S("[1 2]"), true, "expected `,` or `]` at line 1 column 4"},
    {S("{1: 2}"), true, "key must be a string at line 1 column 2"},
    {S("01"), true, "invalid number at line 1 column 2"},
    {S("-"), true, "EOF while parsing a value at line 1 column 1"},
    {S("1."), true, "EOF while parsing a value at line 1 column 2"},
    {S("1.e5"), true, "invalid number at line 1 column 3"},
    {S("1e"), true, "EOF while parsing a value at line 1 column 2"},
    {S("1e+"), true, "EOF while parsing a value at line 1 column 3"},
    {S("-a"), true, "invalid number at line 1 column 2"},
    {S("nul"), true, "EOF while parsing a value at line 1 column 3"},
    {S("nulx"), true, "expected ident at line 1 column 4"},
    {S("tru"), true, "EOF while parsing a value at line 1 column 3"},
    {S("\"abc"), true, "EOF while parsing a string at line 1 column 4"},
    {S("\"\\u12\""), true, "EOF while parsing a string at line 1 column 6"},
    {S("\"\\x\""), true, "invalid escape at line 1 column 3"},
    {S("\"\\ud800\""), true, "unexpected end of hex escape at line 1 column 8"},
    {S("\"\\ud800x\""), true,
     "unexpected end of hex escape at line 1 column 8"},
    {S("\"\\ud800\\u0041\""), true,
     "lone leading surrogate in hex escape at line 1 column 13"},
    {S("\"\\udc00\""), true,
     "lone leading surrogate in hex escape at line 1 column 7"},
    {S("\"\303(\""), true, "invalid unicode code point at line 1 column 4"},
    {S("1e309"), true, "number out of range at line 1 column 5"},
    {S("-1e309"), true, "number out of range at line 1 column 6"},
    {S("1e-400"), false, "0.0"},
    {S("123456789012345678901234567890e300"), true,
     "number out of range at line 1 column 34"},
    {S("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
       "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]"
       "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
       "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"),
     false,
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]"
     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"},
    {S("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
       "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]"
       "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
       "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"),
     true, "recursion limit exceeded at line 1 column 128"},
    {S("{\"a\": 1}   "), false, "{\"a\":1}"},
    {S("{\"a\": 1} 2"), true, "trailing characters at line 1 column 10"},
    {S("\n\n  [1,\n   2,\n   x]"), true, "expected value at line 5 column 4"},
    {S("{\"k\":\"v\",\"k\":\"w\"}"), false, "{\"k\":\"w\"}"},
    {S(""), true, "EOF while parsing a value at line 1 column 0"},
    {S("  "), true, "EOF while parsing a value at line 1 column 2"},
    {S("true"), false, "true"},
    {S("\"\011\""), true,
     "control character (\\u0000-\\u001F) found while parsing a string at l"
     "ine 1 column 2"},
    {S("0.30000000000000004"), false, "0.30000000000000004"},
    {S("5e-324"), false, "5e-324"},
    {S("1.7976931348623157e308"), false, "1.7976931348623157e+308"},
    {S("2.2250738585072014e-308"), false, "2.2250738585072014e-308"},
};

/* Parse through the guard page; returns the serialization or the error. */
static char *parse_to_text(const char *in, size_t len, int *rc)
{
    struct guarded g;
    struct json_value *v = NULL;
    struct sq_err err;
    struct buf b = BUF_INIT;
    char *out;

    sq_err_clear(&err);
    guard_init(&g, in, len);
    *rc = json_parse(g.p, len, &v, &err);
    guard_fini(&g);
    if (*rc) {
        assert_null(v);
        return strdup(err.msg);
    }
    json_value_write(v, &b);
    assert_int_equal(json_value_serialized_len(v), b.len);
    json_value_free(v);
    out = strdup(b.data);
    buf_fini(&b);
    return out;
}

static void test_parse_table(void **state)
{
    size_t i, failures = 0;

    (void)state;
    for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *c = &parse_cases[i];
        int rc;
        char *got = parse_to_text(c->in, c->len, &rc);

        if ((rc != 0) != c->is_err || strcmp(got, c->expect) != 0) {
            printf("case %zu: rc %d\n  got:  %s\n  want: %s\n", i, rc, got,
                   c->expect);
            failures++;
        }
        free(got);
    }
    assert_int_equal(failures, 0);
}

/* Nesting: 127 levels are fine, the 128th hits serde_json's limit. */
static void test_recursion_limit(void **state)
{
    char doc[600];
    int rc;
    char *got;

    (void)state;
    memset(doc, '[', 127);
    memset(doc + 127, ']', 127);
    got = parse_to_text(doc, 254, &rc);
    assert_int_equal(rc, 0);
    free(got);

    memset(doc, '{', 1);
    memset(doc, '[', 300);
    got = parse_to_text(doc, 300, &rc);
    assert_int_equal(rc, -EINVAL);
    assert_string_equal(got, "recursion limit exceeded at line 1 column 128");
    free(got);
}

static void test_float_format(void **state)
{
    static const struct {
        double v;
        const char *s;
    } f[] = {
        {0.0, "0.0"},
        {-0.0, "-0.0"},
        {1.0, "1.0"},
        {0.1, "0.1"},
        {-1.5, "-1.5"},
        {100.0, "100.0"},
        {1e15, "1000000000000000.0"},
        {1e16, "1e+16"},
        {1.5e16, "1.5e+16"},
        {123456789.125, "123456789.125"},
        {0.001, "0.001"},
        {0.0001, "0.0001"},
        {1e-5, "0.00001"},
        {1e-6, "1e-6"},
        {1e21, "1e+21"},
        {1.25e-7, "1.25e-7"},
        {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {0.30000000000000004, "0.30000000000000004"},
        {3.14, "3.14"},
        {9007199254740993.0, "9007199254740992.0"},
        /* powers of two, where the nearest 16 digits do not read back */
        {5.444517870735016e+39, "5.444517870735016e+39"},
        {7.120236347223045e-307, "7.120236347223045e-307"},
        {NAN, "null"},
        {INFINITY, "null"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        struct buf b = BUF_INIT;

        json_write_f64(&b, f[i].v);
        assert_string_equal(b.data, f[i].s);
        buf_fini(&b);
    }
}

static void test_writers(void **state)
{
    struct buf b = BUF_INIT;

    (void)state;
    json_write_str(&b, "a\"b\\c\n\r\t\b\f\x01\x1f\x7f\xc3\xa9/", 16);
    assert_string_equal(
        b.data, "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\x7f\xc3\xa9/\"");
    buf_reset(&b);
    json_write_str(&b, "a\0b", 3);
    assert_string_equal(b.data, "\"a\\u0000b\"");
    buf_reset(&b);
    json_write_cstr(&b, NULL);
    buf_putc(&b, ',');
    json_write_key(&b, "k");
    json_write_u64(&b, UINT64_MAX);
    buf_putc(&b, ',');
    json_write_i64(&b, INT64_MIN);
    buf_putc(&b, ',');
    json_write_bool(&b, false);
    assert_string_equal(b.data, "null,\"k\":18446744073709551615,"
                                "-9223372036854775808,false");
    buf_reset(&b);
    json_rust_str_debug(&b, "a\"\\\n\t\r\0\x01'\xc3\xa9\xc2\x85", 13);
    assert_string_equal(b.data,
                        "\"a\\\"\\\\\\n\\t\\r\\0\\u{1}'\xc3\xa9\\u{85}\"");
    buf_reset(&b);
    json_rust_str_debug(&b, "\xff\xc3(\xe2\x82", 5);
    assert_string_equal(b.data, "\"\\xff\\xc3(\\xe2\\x82\"");
    buf_fini(&b);
}

static struct json_value *parse_ok(const char *s)
{
    struct json_value *v = NULL;
    struct sq_err err;

    assert_int_equal(json_parse(s, strlen(s), &v, &err), 0);
    return v;
}

static void assert_value_text(const struct json_value *v, const char *want)
{
    struct buf b = BUF_INIT;

    json_value_write(v, &b);
    assert_string_equal(b.data, want);
    assert_int_equal(json_value_serialized_len(v), b.len);
    buf_fini(&b);
}

/* RFC 7396 appendix A examples. */
static void test_merge_patch(void **state)
{
    static const struct {
        const char *target, *patch, *result;
    } m[] = {
        {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
        {"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
        {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
        {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
         "{\"a\":{\"b\":\"d\"}}"},
        {"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
        {"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
        {"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
        {"{\"a\":\"foo\"}", "null", "null"},
        {"{\"a\":\"foo\"}", "\"bar\"", "\"bar\""},
        {"{\"e\":null}", "{\"a\":1}", "{\"a\":1,\"e\":null}"},
        {"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
        {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        struct json_value *t = parse_ok(m[i].target);
        struct json_value *p = parse_ok(m[i].patch);

        json_merge_patch(&t, p);
        assert_value_text(t, m[i].result);
        json_value_free(t);
        json_value_free(p);
    }
}

static void test_pointer(void **state)
{
    struct json_value *doc = parse_ok(
        "{\"foo\":[\"bar\",\"baz\"],\"\":0,\"a/b\":1,\"c%d\":2,\"e^f\":3,"
        "\"m~n\":8,\" \":7,\"k\":{\"l\":[{\"x\":true}]}}");
    static const struct {
        const char *ptr;
        const char *want; /* NULL = not found */
    } p[] = {
        {"", NULL /* whole doc, checked below */},
        {"/foo", "[\"bar\",\"baz\"]"},
        {"/foo/0", "\"bar\""},
        {"/foo/1", "\"baz\""},
        {"/foo/2", NULL},
        {"/foo/01", NULL},
        {"/foo/+1", NULL},
        {"/foo/-", NULL},
        {"/", "0"},
        {"/a~1b", "1"},
        {"/c%d", "2"},
        {"/m~0n", "8"},
        {"/ ", "7"},
        {"/k/l/0/x", "true"},
        {"/k/l/0/x/y", NULL},
        {"foo", NULL},
        {"/nope", NULL},
    };
    size_t i;

    (void)state;
    assert_ptr_equal(json_pointer(doc, "", 0), doc);
    for (i = 1; i < sizeof(p) / sizeof(p[0]); i++) {
        const struct json_value *v =
            json_pointer(doc, p[i].ptr, strlen(p[i].ptr));

        if (!p[i].want) {
            assert_null(v);
        } else {
            assert_non_null(v);
            assert_value_text(v, p[i].want);
        }
    }
    json_value_free(doc);
}

static void test_dom_ops(void **state)
{
    struct json_value *o = json_new_object();
    struct json_value *a = json_new_array();
    struct json_value *c;

    (void)state;
    json_object_set(o, "b", 1, json_new_u64(2));
    json_object_set(o, "a", 1, json_new_i64(-3));
    json_object_set(o, "ab", 2, json_new_f64(0.5));
    json_object_set(o, "\xc3\xa9", 2, json_new_bool(true));
    json_object_set(o, "A", 1, json_new_null());
    json_array_push(a, json_new_str("x\0y", 3));
    json_array_push(a, json_new_f64(INFINITY));
    json_object_set(o, "arr", 3, a);
    assert_value_text(o,
                      "{\"A\":null,\"a\":-3,\"ab\":0.5,\"arr\":[\"x\\u0000y\","
                      "null],\"b\":2,\"\xc3\xa9\":true}");
    json_object_set(o, "b", 1, json_new_str("new", 3));
    assert_non_null(json_object_get(o, "b", 1));
    assert_int_equal(json_object_get(o, "b", 1)->type, JSON_STRING);
    assert_null(json_object_get(o, "zz", 2));
    c = json_value_clone(o);
    assert_true(json_value_equal(o, c));
    assert_true(json_object_remove(c, "ab", 2));
    assert_false(json_object_remove(c, "ab", 2));
    assert_false(json_value_equal(o, c));
    assert_value_text(c, "{\"A\":null,\"a\":-3,\"arr\":[\"x\\u0000y\",null],"
                         "\"b\":\"new\",\"\xc3\xa9\":true}");
    json_value_free(c);
    json_value_free(o);
    json_value_free(NULL);
}

/* The streaming primitives on their own. */
static int elem_count(struct json_dec *d, void *ctx, size_t index)
{
    size_t *n = ctx;

    (void)index;
    (*n)++;
    return json_dec_ignore(d);
}

static void test_decoder_primitives(void **state)
{
    struct json_dec d;
    struct buf msg = BUF_INIT;
    uint64_t u;
    bool b;
    size_t n = 0;
    static const char *const variants[] = {"A", "B"};
    int e;

    (void)state;
    json_dec_init(&d, S("  [1, {\"x\": [true]}, \"s\", -2.5e3]"));
    assert_int_equal(json_dec_seq(&d, "a sequence", elem_count, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(json_dec_end(&d), 0);
    json_dec_fini(&d);

    json_dec_init(&d, "300", 3);
    assert_int_equal(json_dec_uint(&d, 255, "u8", &u), -1);
    json_dec_error_text(&d, &msg);
    assert_string_equal(msg.data,
                        "invalid value: integer `300`, expected u8 at line 1 "
                        "column 3");
    json_dec_fini(&d);

    buf_reset(&msg);
    json_dec_init(&d, "\n  \"B\"", 6);
    assert_int_equal(json_dec_enum(&d, variants, 2, &e), 0);
    assert_int_equal(e, 1);
    json_dec_fini(&d);

    json_dec_init(&d, "\"C\"", 3);
    assert_int_equal(json_dec_enum(&d, variants, 2, &e), -1);
    json_dec_error_text(&d, &msg);
    assert_string_equal(msg.data,
                        "unknown variant `C`, expected `A` or `B` at line 1 "
                        "column 3");
    json_dec_fini(&d);

    buf_reset(&msg);
    json_dec_init(&d, "fals", 4);
    assert_int_equal(json_dec_bool(&d, &b), -1);
    json_dec_error_text(&d, &msg);
    assert_string_equal(msg.data,
                        "EOF while parsing a value at line 1 column 4");
    json_dec_fini(&d);

    /* ignored values skip syntax checks serde_json does not do there */
    json_dec_init(&d, S("[\"\xff\\ud800\", 1.5e+9, {\"a\": [null]}]"));
    assert_int_equal(json_dec_ignore(&d), 0);
    assert_int_equal(json_dec_end(&d), 0);
    json_dec_fini(&d);
    buf_fini(&msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_recursion_limit),
        cmocka_unit_test(test_float_format),
        cmocka_unit_test(test_writers),
        cmocka_unit_test(test_merge_patch),
        cmocka_unit_test(test_pointer),
        cmocka_unit_test(test_dom_ops),
        cmocka_unit_test(test_decoder_primitives),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
