/*
 * test_mmds_store.c: the MMDS data store (digest 8.1): size limit on the
 * whole serialized document, merge-patch semantics, "not initialized",
 * rendering of null and sorted keys.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mmds/store.h"

static struct json_value *parse(const char *s)
{
    struct json_value *v = NULL;
    struct sq_err err;

    assert_int_equal(json_parse(s, strlen(s), &v, &err), 0);
    return v;
}

static const char *render(const struct mmds_store *s)
{
    static char out[4096];
    struct buf b = BUF_INIT;

    mmds_store_render(s, &b);
    snprintf(out, sizeof(out), "%s", b.data ? b.data : "");
    buf_fini(&b);
    return out;
}

static void test_uninitialised(void **state)
{
    struct mmds_store *s = mmds_store_new(100);
    struct json_value *p = parse("{\"a\":1}");
    struct sq_err err;

    (void)state;
    assert_false(mmds_store_is_initialized(s));
    assert_string_equal(render(s), "{}");
    assert_string_equal(render(NULL), "{}");
    assert_int_equal(mmds_store_patch(s, p, &err), -ENODATA);
    assert_string_equal(err.msg, "The MMDS data store is not initialized.");
    assert_int_equal(mmds_store_version(s), MMDS_VERSION_V1);
    assert_false(mmds_store_imds_compat(s));
    json_value_free(p);
    mmds_store_free(s);
}

static void test_put_null_initialises(void **state)
{
    struct mmds_store *s = mmds_store_new(100);
    struct json_value *p = parse("{\"a\":{\"b\":2}}");
    struct sq_err err;

    (void)state;
    assert_int_equal(mmds_store_put(s, parse("null"), &err), 0);
    assert_true(mmds_store_is_initialized(s));
    assert_string_equal(render(s), "{}");
    /* Patching null: the target becomes an object. */
    assert_int_equal(mmds_store_patch(s, p, &err), 0);
    assert_string_equal(render(s), "{\"a\":{\"b\":2}}");
    json_value_free(p);
    mmds_store_free(s);
}

static void test_sorted_and_merge(void **state)
{
    struct mmds_store *s = mmds_store_new(1000);
    struct json_value *p;
    struct sq_err err;

    (void)state;
    assert_int_equal(
        mmds_store_put(s,
                       parse("{\"z\":1,\"a\":{\"y\":true,\"x\":[3,2]},"
                             "\"m\":\"s\"}"),
                       &err),
        0);
    assert_string_equal(render(s),
                        "{\"a\":{\"x\":[3,2],\"y\":true},\"m\":\"s\",\"z\":1}");
    /* null removes, objects merge, arrays and scalars replace. */
    p = parse("{\"z\":null,\"a\":{\"x\":[1],\"w\":{}},\"m\":{\"k\":\"v\"}}");
    assert_int_equal(mmds_store_patch(s, p, &err), 0);
    json_value_free(p);
    assert_string_equal(render(s), "{\"a\":{\"w\":{},\"x\":[1],\"y\":true},"
                                   "\"m\":{\"k\":\"v\"}}");
    /* A non-object patch replaces the whole document. */
    p = parse("[1,2]");
    assert_int_equal(mmds_store_patch(s, p, &err), 0);
    json_value_free(p);
    assert_string_equal(render(s), "[1,2]");
    mmds_store_free(s);
}

static void test_limit(void **state)
{
    /* {"key":"0123"} is 14 bytes. */
    struct mmds_store *s = mmds_store_new(14);
    struct json_value *p;
    struct sq_err err;

    (void)state;
    assert_int_equal(mmds_store_put(s, parse("{\"key\":\"0123\"}"), &err), 0);
    assert_int_equal(mmds_store_put(s, parse("{\"key\":\"01234\"}"), &err),
                     -EFBIG);
    assert_string_equal(err.msg, "The MMDS patch request doesn't fit.");
    assert_string_equal(render(s), "{\"key\":\"0123\"}");

    /* The limit is on the merged result, not on the patch. */
    p = parse("{\"key\":\"abcd\"}");
    assert_int_equal(mmds_store_patch(s, p, &err), 0);
    json_value_free(p);
    p = parse("{\"k\":1}");
    assert_int_equal(mmds_store_patch(s, p, &err), -EFBIG);
    json_value_free(p);
    assert_string_equal(render(s), "{\"key\":\"abcd\"}");
    /* A patch that shrinks the document fits even if the patch is big. */
    p = parse("{\"key\":null,\"zz\":null,\"yy\":null,\"xx\":null}");
    assert_int_equal(mmds_store_patch(s, p, &err), 0);
    json_value_free(p);
    assert_string_equal(render(s), "{}");
    assert_int_equal(mmds_store_limit(s), 14);
    mmds_store_free(s);
}

static void test_config_fields(void **state)
{
    struct mmds_store *s = mmds_store_new(10);

    (void)state;
    mmds_store_set_version(s, MMDS_VERSION_V2);
    mmds_store_set_imds_compat(s, true);
    mmds_store_set_aad(s, "vm-1");
    assert_int_equal(mmds_store_version(s), MMDS_VERSION_V2);
    assert_true(mmds_store_imds_compat(s));
    assert_string_equal(mmds_store_aad(s), "vm-1");
    mmds_store_set_aad(s, "vm-2");
    assert_string_equal(mmds_store_aad(s), "vm-2");
    mmds_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uninitialised),
        cmocka_unit_test(test_put_null_initialises),
        cmocka_unit_test(test_sorted_and_merge),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_config_fields),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
