/*
 * test_clap.c: clap 4.6's help layout (util/clap.h), byte for byte: the
 * column of help texts, defaults, a flag without a short name, [OPTIONS]
 * only for optional options, the Commands section with clap's own "help"
 * subcommand and an about-less subcommand's trailing spaces, and clap's
 * rule that moves help texts to the next line when the names take more
 * than 40% of the 100 columns and a text does not fit beside them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/clap.h"

static void expect_help(const struct clap_cmd *const *path, size_t depth,
                        const char *want)
{
    struct buf b = BUF_INIT;

    clap_help("tool", path, depth, &b);
    buf_putc(&b, '\0');
    assert_string_equal(b.data, want);
    buf_fini(&b);
}

static const struct clap_arg flat_args[] = {
    {"input", 'i', "INPUT", "The input.", NULL, true},
    {"output", 'o', "OUTPUT", "The output.", "out.bin", false},
    {"split", 0, NULL, "Split it.", NULL, false},
    {"quiet", 'q', NULL, NULL, NULL, false},
};

static void test_flat(void **state)
{
    static const struct clap_cmd root = {"pkg", NULL, "v1", flat_args,
                                         4,     NULL, 0};
    const struct clap_cmd *path[] = {&root};

    (void)state;
    expect_help(path, 1,
                "Usage: tool [OPTIONS] --input <INPUT>\n"
                "\n"
                "Options:\n"
                "  -i, --input <INPUT>    The input.\n"
                "  -o, --output <OUTPUT>  The output. [default: out.bin]\n"
                "      --split            Split it.\n"
                "  -q, --quiet            \n"
                "  -h, --help             Print help\n"
                "  -V, --version          Print version\n");
}

static void test_subcommands(void **state)
{
    static const struct clap_arg leaf_args[] = {
        {"path", 'p', "PATH", "A path", NULL, true},
    };
    static const struct clap_cmd leaves[] = {
        {"go", "Go somewhere", NULL, leaf_args, 1, NULL, 0},
        {"stay", NULL, NULL, leaf_args, 1, NULL, 0},
    };
    static const struct clap_cmd root = {"pkg", NULL, NULL, NULL, 0, leaves, 2};
    const struct clap_cmd *path[] = {&root, &leaves[0]};

    (void)state;
    expect_help(path, 1,
                "Usage: tool <COMMAND>\n"
                "\n"
                "Commands:\n"
                "  go    Go somewhere\n"
                "  stay  \n"
                "  help  Print this message or the help of the given "
                "subcommand(s)\n"
                "\n"
                "Options:\n"
                "  -h, --help  Print help\n");
    expect_help(path, 2,
                "Go somewhere\n"
                "\n"
                "Usage: tool go --path <PATH>\n"
                "\n"
                "Options:\n"
                "  -p, --path <PATH>  A path\n"
                "  -h, --help         Print help\n");
}

static void test_next_line_help(void **state)
{
    static const struct clap_arg args[] = {
        {"a-rather-long-option-name", 'a', "AND_A_LONG_VALUE_NAME",
         "A help text that does not fit beside such a long name.", NULL, false},
    };
    static const struct clap_cmd root = {"pkg", NULL, NULL, args, 1, NULL, 0};
    const struct clap_cmd *path[] = {&root};

    (void)state;
    expect_help(path, 1,
                "Usage: tool [OPTIONS]\n"
                "\n"
                "Options:\n"
                "  -a, --a-rather-long-option-name <AND_A_LONG_VALUE_NAME>\n"
                "          A help text that does not fit beside such a long "
                "name.\n"
                "  -h, --help\n"
                "          Print help\n");
}

static void test_parse_values(void **state)
{
    static const struct clap_cmd root = {"pkg", NULL, "v1", flat_args,
                                         4,     NULL, 0};
    char a0[] = "/usr/bin/tool", a1[] = "-iIN", a2[] = "--split", a3[] = "-o=x";
    char *argv[] = {a0, a1, a2, a3, NULL};
    struct clap_match m;

    (void)state;
    assert_int_equal(clap_parse(&root, 4, argv, &m), -1);
    assert_string_equal(m.bin, "tool");
    assert_int_equal(m.depth, 1);
    assert_string_equal(m.values[0], "IN");
    assert_string_equal(m.values[1], "x");
    assert_string_equal(m.values[2], "");
    assert_null(m.values[3]);
    /* The default when not given. */
    assert_int_equal(clap_parse(&root, 2, argv, &m), -1);
    assert_string_equal(m.values[1], "out.bin");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flat),
        cmocka_unit_test(test_subcommands),
        cmocka_unit_test(test_next_line_help),
        cmocka_unit_test(test_parse_values),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
