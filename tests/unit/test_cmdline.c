/*
 * test_cmdline.c: unit tests for vmm/cmdline (kernel command line
 * validation and composition, digest 6.5), table-driven.
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

#include "vmm/cmdline.h"

static char *repeat(char ch, size_t n)
{
    char *s = malloc(n + 1);

    assert_non_null(s);
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

struct validate_case {
    const char *in;
    int rc;
    const char *msg;
};

static void test_validate_table(void **state)
{
    static const struct validate_case cases[] = {
        {"console=ttyS0 reboot=k", 0, NULL},
        {"", 0, NULL},
        {"   ", 0, NULL},
        {"a -- b", 0, NULL},
        /* not checked for ASCII at PUT time, as upstream */
        {"foo=\xc3\xa4", 0, NULL},
        {"tab\there", 0, NULL},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sq_err err;

        sq_err_clear(&err);
        assert_int_equal(cmdline_validate(cases[i].in, &err), cases[i].rc);
        if (cases[i].msg)
            assert_string_equal(err.msg, cases[i].msg);
    }
    assert_int_equal(cmdline_validate(NULL, NULL), 0);
}

static void test_validate_capacity(void **state)
{
    struct sq_err err;
    char *s;

    (void)state;
    /* 2047 bytes + NUL fits exactly. */
    s = repeat('a', 2047);
    sq_err_clear(&err);
    assert_int_equal(cmdline_validate(s, &err), 0);
    free(s);

    s = repeat('a', 2048);
    assert_int_equal(cmdline_validate(s, &err), -EINVAL);
    assert_string_equal(err.msg, "Invalid cmdline capacity provided.");
    free(s);

    /* Trimming happens before the size check. */
    s = repeat(' ', 3000);
    memset(s + 1000, 'b', 1000);
    sq_err_clear(&err);
    assert_int_equal(cmdline_validate(s, &err), 0);
    free(s);

    /* Init args count with their separator: 2040 + 4 + 3 + 1 = 2048. */
    s = repeat('a', 2047);
    memcpy(s + 2040, " -- ", 4);
    sq_err_clear(&err);
    assert_int_equal(cmdline_validate(s, &err), 0);
    free(s);
    s = repeat('a', 2048);
    memcpy(s + 2040, " -- ", 4);
    assert_int_equal(cmdline_validate(s, &err), -EINVAL);
    free(s);
}

struct build_case {
    const char *name;
    const char *boot_args;
    bool use_extras;
    struct cmdline_extras x;
    const char *want;
};

static const struct cmdline_dev devs3[] = {
    {0xc0001000, 5}, {0xc0002000, 6}, {0xc0003000, 7}};

static void test_build_table(void **state)
{
    static const struct build_case cases[] = {
        {"default, no extras", NULL, false, {0}, CMDLINE_DEFAULT},
        {"default + pci=off",
         NULL,
         true,
         {.root_pmem_index = -1},
         CMDLINE_DEFAULT " pci=off"},
        {"empty string stays empty", "", false, {0}, ""},
        {"empty + pci", "", true, {.root_pmem_index = -1}, "pci=off"},
        {"pci enabled adds nothing",
         "console=ttyS0",
         true,
         {.pci_enabled = true, .root_pmem_index = -1},
         "console=ttyS0"},
        {"trimmed", "  a b  ", true, {.root_pmem_index = -1}, "a b pci=off"},
        {"init args stay last",
         "console=ttyS0 -- init1 init2",
         true,
         {.root_pmem_index = -1, .n_virtio = 1, .virtio = devs3},
         "console=ttyS0 pci=off virtio_mmio.device=4K@0xc0001000:5 -- "
         "init1 init2"},
        {"separator in quotes is not a split",
         "a=\"x -- y\" -- z",
         true,
         {.root_pmem_index = -1},
         "a=\"x -- y\" pci=off -- z"},
        {"odd quotes: no split",
         "a=\"x -- y",
         true,
         {.root_pmem_index = -1},
         "a=\"x -- y pci=off"},
        {"first unquoted separator wins",
         "a -- b -- c",
         true,
         {.root_pmem_index = -1},
         "a pci=off -- b -- c"},
        {"root block first, then its entry",
         "ro0",
         true,
         {.root_block = "/dev/vda",
          .root_block_ro = false,
          .root_pmem_index = -1,
          .n_virtio = 2,
          .virtio = devs3},
         "ro0 pci=off root=/dev/vda rw virtio_mmio.device=4K@0xc0001000:5 "
         "virtio_mmio.device=4K@0xc0002000:6"},
        {"root block after the balloon",
         "x",
         true,
         {.root_block = "PARTUUID=1234-01",
          .root_block_ro = true,
          .root_block_at = 1,
          .root_pmem_index = -1,
          .n_virtio = 2,
          .virtio = devs3},
         "x pci=off virtio_mmio.device=4K@0xc0001000:5 root=PARTUUID=1234-01 "
         "ro virtio_mmio.device=4K@0xc0002000:6"},
        {"root pmem before its entry",
         "x",
         true,
         {.root_pmem_index = 0,
          .root_pmem_ro = true,
          .root_pmem_at = 2,
          .n_virtio = 3,
          .virtio = devs3},
         "x pci=off virtio_mmio.device=4K@0xc0001000:5 "
         "virtio_mmio.device=4K@0xc0002000:6 root=/dev/pmem0 ro "
         "virtio_mmio.device=4K@0xc0003000:7"},
        {"pci: roots appended in order",
         "x",
         true,
         {.pci_enabled = true,
          .root_block = "/dev/vda",
          .root_pmem_index = 3,
          .root_pmem_ro = false},
         "x root=/dev/vda rw root=/dev/pmem3 rw"},
        {"only separator", " -- ", true, {.root_pmem_index = -1}, "pci=off"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[CMDLINE_MAX_SIZE];
        struct sq_err err;
        int rc;

        sq_err_clear(&err);
        rc = cmdline_build(cases[i].boot_args,
                           cases[i].use_extras ? &cases[i].x : NULL, out,
                           sizeof(out), &err);
        if (rc != 0 || strcmp(out, cases[i].want) != 0) {
            fprintf(stderr, "case '%s': rc %d '%s' (want '%s') err '%s'\n",
                    cases[i].name, rc, out, cases[i].want, err.msg);
            fail();
        }
    }
}

static void test_build_overflow(void **state)
{
    struct cmdline_extras x = {.root_pmem_index = -1};
    char out[CMDLINE_MAX_SIZE];
    struct sq_err err;
    char *s;

    (void)state;
    /* 2040 + " pci=off" (8) + NUL = 2049: too long. */
    s = repeat('a', 2040);
    sq_err_clear(&err);
    assert_int_equal(cmdline_build(s, &x, out, sizeof(out), &err), -EINVAL);
    assert_string_equal(err.msg, "Invalid kernel command line: Inserting "
                                 "string would make command line too long.");
    assert_string_equal(out, "");
    free(s);

    /* 2039 + 8 + NUL = 2048: fits exactly. */
    s = repeat('a', 2039);
    sq_err_clear(&err);
    assert_int_equal(cmdline_build(s, &x, out, sizeof(out), &err), 0);
    assert_int_equal(strlen(out), 2047);
    assert_string_equal(out + 2039, " pci=off");
    free(s);

    /* A virtio entry that does not fit: MMIO error chain. */
    s = repeat('a', 2000);
    x.n_virtio = 2;
    x.virtio = devs3;
    sq_err_clear(&err);
    assert_int_equal(cmdline_build(s, &x, out, sizeof(out), &err), -EINVAL);
    assert_string_equal(err.msg,
                        "Could not attach device: MMIO transport error: Failed "
                        "to allocate requested resourc: Inserting string would "
                        "make command line too long.");
    free(s);

    /* Init args count against the capacity too. */
    s = repeat('a', 2040);
    memcpy(s + 1000, " -- ", 4);
    x.n_virtio = 0;
    sq_err_clear(&err);
    assert_int_equal(cmdline_build(s, &x, out, sizeof(out), &err), -EINVAL);
    free(s);

    /* User string too long at start (never validated). */
    s = repeat('a', 3000);
    sq_err_clear(&err);
    assert_int_equal(cmdline_build(s, NULL, out, sizeof(out), &err), -EINVAL);
    assert_string_equal(err.msg, "Invalid kernel command line: Invalid "
                                 "cmdline capacity provided.");
    free(s);

    /* Output buffer below the capacity is refused. */
    assert_int_equal(cmdline_build("a", NULL, out, 100, &err), -EINVAL);
}

static void test_build_errors(void **state)
{
    struct cmdline_extras x = {.pci_enabled = true,
                               .root_pmem_index = -1,
                               .root_block = "PARTUUID=\x01"};
    char out[CMDLINE_MAX_SIZE];
    struct sq_err err;

    (void)state;
    sq_err_clear(&err);
    assert_int_equal(cmdline_build("a", &x, out, sizeof(out), &err), -EINVAL);
    assert_string_equal(err.msg, "Invalid kernel command line: String "
                                 "contains a non-printable ASCII character.");

    /* Init args without boot args cannot be passed. */
    x.root_block = NULL;
    sq_err_clear(&err);
    assert_int_equal(cmdline_build(" -- init", &x, out, sizeof(out), &err),
                     -EINVAL);
    assert_string_equal(err.msg, "Invalid kernel command line: Cmdline "
                                 "cannot contain only init args.");

    /* Non-ASCII user text is passed through untouched. */
    sq_err_clear(&err);
    assert_int_equal(
        cmdline_build("\tk=\xc3\xa4\xe3\x80\x80", &x, out, sizeof(out), &err),
        0);
    assert_string_equal(out, "k=\xc3\xa4");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_table),
        cmocka_unit_test(test_validate_capacity),
        cmocka_unit_test(test_build_table),
        cmocka_unit_test(test_build_overflow),
        cmocka_unit_test(test_build_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
