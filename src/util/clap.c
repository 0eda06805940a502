/*
 * clap.c: clap 4.6's command-line behaviour for upstream's companion tools
 * (clap.h). The layout rules are clap_builder's help_template.rs and
 * usage.rs (no wrap_help: the terminal is taken as 100 columns and nothing
 * is wrapped); the texts are its error/format.rs.
 */
#include "util/clap.h"

#include <stdio.h>
#include <string.h>

#define TERM_W     100
#define HELP_ABOUT "Print this message or the help of the given subcommand(s)"

/* The built-in -h/--help and -V/--version flags. */
static const struct clap_arg help_arg = {"help",       'h',  NULL,
                                         "Print help", NULL, false};
static const struct clap_arg version_arg = {"version",       'V',  NULL,
                                            "Print version", NULL, false};

/* A command's options as clap lists them: its own in order, then help and
 * version (clap gives them display order 999; 'h' sorts before 'V'). */
static size_t all_args(const struct clap_cmd *c, const struct clap_arg **out)
{
    size_t n = 0;

    for (size_t i = 0; i < c->n_args; i++)
        out[n++] = &c->args[i];
    out[n++] = &help_arg;
    if (c->version)
        out[n++] = &version_arg;
    return n;
}

/* "--long <VALUE>" (clap's Display of an Arg). */
static void arg_name(struct buf *b, const struct clap_arg *a)
{
    buf_printf(b, "--%s", a->long_name);
    if (a->value_name)
        buf_printf(b, " <%s>", a->value_name);
}

/* The same into out (NUL-terminated, truncated). */
static void arg_str(const struct clap_arg *a, char *out, size_t n)
{
    if (a->value_name)
        snprintf(out, n, "--%s <%s>", a->long_name, a->value_name);
    else
        snprintf(out, n, "--%s", a->long_name);
}

static size_t arg_name_len(const struct clap_arg *a)
{
    size_t n = 2 + strlen(a->long_name);

    if (a->value_name)
        n += 3 + strlen(a->value_name);
    return n;
}

/* "bin sub sub" for path[0..depth). */
static void bin_path(struct buf *b, const char *bin,
                     const struct clap_cmd *const *path, size_t depth)
{
    buf_puts(b, bin);
    for (size_t i = 1; i < depth; i++)
        buf_printf(b, " %s", path[i]->name);
}

/*
 * The usage line without "Usage: ". used == NULL: the help's usage
 * ([OPTIONS] when an optional option exists, the required options,
 * <COMMAND>); otherwise the "smart" usage of errors: the required options
 * and then those given (used[i] true), no [OPTIONS].
 */
static void usage(struct buf *b, const char *bin,
                  const struct clap_cmd *const *path, size_t depth,
                  const bool *used)
{
    const struct clap_cmd *c = path[depth - 1];

    bin_path(b, bin, path, depth);
    if (!used)
        for (size_t i = 0; i < c->n_args; i++)
            if (!c->args[i].required) {
                buf_puts(b, " [OPTIONS]");
                break;
            }
    for (size_t i = 0; i < c->n_args; i++)
        if (c->args[i].required) {
            buf_putc(b, ' ');
            arg_name(b, &c->args[i]);
        }
    for (size_t i = 0; used && i < c->n_args; i++)
        if (used[i] && !c->args[i].required) {
            buf_putc(b, ' ');
            arg_name(b, &c->args[i]);
        }
    if (c->n_subs)
        buf_puts(b, " <COMMAND>");
}

static void pad(struct buf *b, size_t n)
{
    while (n--)
        buf_putc(b, ' ');
}

/* clap's rule for moving help texts to the next line. */
static bool next_line(size_t longest, size_t help_w)
{
    size_t taken = longest + 4;

    return TERM_W >= taken && (double)taken / TERM_W > 0.40 &&
           help_w > TERM_W - taken;
}

static void write_subcommands(struct buf *b, const struct clap_cmd *c)
{
    size_t longest = 4; /* "help" */
    bool nl = false;

    for (size_t i = 0; i < c->n_subs; i++)
        if (strlen(c->subs[i].name) > longest)
            longest = strlen(c->subs[i].name);
    for (size_t i = 0; i <= c->n_subs; i++) {
        const char *about = i < c->n_subs ? c->subs[i].about : HELP_ABOUT;

        nl = nl || next_line(longest, about ? strlen(about) : 0);
    }
    buf_puts(b, "Commands:\n");
    for (size_t i = 0; i <= c->n_subs; i++) {
        const char *name = i < c->n_subs ? c->subs[i].name : "help";
        const char *about = i < c->n_subs ? c->subs[i].about : HELP_ABOUT;

        if (i)
            buf_putc(b, '\n');
        buf_printf(b, "  %s", name);
        if (nl)
            buf_puts(b, about ? "\n          " : "");
        else
            pad(b, longest + 2 - strlen(name));
        if (about)
            buf_puts(b, about);
    }
}

static void write_options(struct buf *b, const struct clap_cmd *c)
{
    const struct clap_arg *args[CLAP_MAX_ARGS + 2];
    size_t n = all_args(c, args), longest = 2;
    bool nl = false;

    for (size_t i = 0; i < n; i++)
        if (arg_name_len(args[i]) + 4 > longest)
            longest = arg_name_len(args[i]) + 4;
    for (size_t i = 0; i < n; i++) {
        size_t w = args[i]->help ? strlen(args[i]->help) : 0;

        if (args[i]->default_value)
            w += (w ? 1 : 0) + strlen("[default: ]") +
                 strlen(args[i]->default_value);
        nl = nl || next_line(longest, w);
    }
    buf_puts(b, "Options:\n");
    for (size_t i = 0; i < n; i++) {
        const struct clap_arg *a = args[i];

        if (i)
            buf_putc(b, '\n');
        if (a->short_name)
            buf_printf(b, "  -%c, ", a->short_name);
        else
            buf_puts(b, "      ");
        arg_name(b, a);
        if (nl)
            buf_puts(b, "\n          ");
        else
            pad(b, longest + 2 - (arg_name_len(a) + 4));
        if (a->help)
            buf_puts(b, a->help);
        if (a->default_value)
            buf_printf(b, "%s[default: %s]", a->help ? " " : "",
                       a->default_value);
    }
}

void clap_help(const char *bin, const struct clap_cmd *const *path,
               size_t depth, struct buf *out)
{
    const struct clap_cmd *c = path[depth - 1];

    if (c->about)
        buf_printf(out, "%s\n\n", c->about);
    buf_puts(out, "Usage: ");
    usage(out, bin, path, depth, NULL);
    buf_puts(out, "\n\n");
    if (c->n_subs) {
        write_subcommands(out, c);
        buf_puts(out, "\n\n");
    }
    write_options(out, c);
    /* clap trims the end and adds one newline. */
    while (out->len && out->data[out->len - 1] == ' ')
        out->len--;
    buf_putc(out, '\n');
}

/* Write b to f and free it; code, or 1 if the write failed (the text is lost).
 */
static int print(FILE *f, struct buf *b, int code)
{
    if (fwrite(b->data, 1, b->len, f) != b->len || fflush(f) != 0)
        code = code ? code : 1;
    buf_fini(b);
    return code;
}

/* "error: {text}" [+ usage] + the try-help line, on stderr; exit 2. */
static int error(const char *text, const char *bin,
                 const struct clap_cmd *const *path, size_t depth,
                 const bool *used, bool with_usage)
{
    struct buf b = BUF_INIT;

    buf_printf(&b, "error: %s", text);
    if (with_usage) {
        buf_puts(&b, "\n\nUsage: ");
        usage(&b, bin, path, depth, used);
    }
    buf_puts(&b, "\n\nFor more information, try '--help'.\n");
    return print(stderr, &b, 2);
}

static int help(const char *bin, const struct clap_cmd *const *path,
                size_t depth, FILE *f, int code)
{
    struct buf b = BUF_INIT;

    clap_help(bin, path, depth, &b);
    return print(f, &b, code);
}

/* "{root name} {version}" on stdout (clap's version line). */
static int version(const struct clap_cmd *root, const struct clap_cmd *c)
{
    printf("%s %s\n", root->name, c->version);
    fflush(stdout);
    return 0;
}

static const struct clap_cmd *find_sub(const struct clap_cmd *c,
                                       const char *name)
{
    for (size_t i = 0; i < c->n_subs; i++)
        if (strcmp(c->subs[i].name, name) == 0)
            return &c->subs[i];
    return NULL;
}

/* "help [COMMAND]...": the help of that command, from path[depth-1]. */
static int help_subcommand(const char *bin, const struct clap_cmd **path,
                           size_t depth, int argc, char **argv, int i)
{
    char text[512];

    for (; i < argc; i++) {
        const struct clap_cmd *s =
            path[depth - 1]->n_subs ? find_sub(path[depth - 1], argv[i]) : NULL;

        if (!s || depth == CLAP_MAX_DEPTH) {
            snprintf(text, sizeof(text), "unrecognized subcommand '%s'",
                     argv[i]);
            return error(text, bin, (const struct clap_cmd *const *)path, depth,
                         NULL, true);
        }
        path[depth++] = s;
    }
    return help(bin, (const struct clap_cmd *const *)path, depth, stdout, 0);
}

/* The argument of leaf c named by word (after its dashes), or -1. */
static int find_arg(const struct clap_cmd *c, const char *word, size_t len,
                    bool is_short)
{
    for (size_t i = 0; i < c->n_args; i++) {
        const struct clap_arg *a = &c->args[i];

        if (is_short ? a->short_name == word[0]
                     : strlen(a->long_name) == len &&
                           strncmp(a->long_name, word, len) == 0)
            return (int)i;
    }
    return -1;
}

/* The options of the leaf m->path[m->depth - 1] from argv[i..). */
static int parse_leaf(struct clap_match *m, int argc, char **argv, int i)
{
    const struct clap_cmd *const *path = m->path;
    const struct clap_cmd *c = path[m->depth - 1];
    bool used[CLAP_MAX_ARGS] = {false};
    char text[1024], name[256];
    struct buf missing = BUF_INIT;

    for (; i < argc; i++) {
        const char *w = argv[i], *val = NULL;
        bool is_short = w[0] == '-' && w[1] != '-' && w[1] != '\0';
        bool is_long = strncmp(w, "--", 2) == 0 && w[2] != '\0';
        size_t len = 0;
        int k = -1;

        if (is_long) {
            const char *eq = strchr(w + 2, '=');

            len = eq ? (size_t)(eq - (w + 2)) : strlen(w + 2);
            if (len == 4 && strncmp(w + 2, "help", 4) == 0)
                return help(m->bin, path, m->depth, stdout, 0);
            if (len == 7 && strncmp(w + 2, "version", 7) == 0 && c->version)
                return version(path[0], c);
            k = find_arg(c, w + 2, len, false);
            if (eq)
                val = eq + 1;
        } else if (is_short) {
            if (w[1] == 'h')
                return help(m->bin, path, m->depth, stdout, 0);
            if (w[1] == 'V' && c->version)
                return version(path[0], c);
            k = find_arg(c, w + 1, 1, true);
            /* "-tVALUE" or "-t=VALUE" (clap drops the '='). */
            if (w[2])
                val = w[2] == '=' ? w + 3 : w + 2;
        }
        if (k < 0) {
            snprintf(text, sizeof(text), "unexpected argument '%s' found", w);
            return error(text, m->bin, path, m->depth, NULL, true);
        }
        arg_str(&c->args[k], name, sizeof(name));
        if (used[k]) {
            snprintf(text, sizeof(text),
                     "the argument '%s' cannot be used multiple times", name);
            return error(text, m->bin, path, m->depth, NULL, true);
        }
        used[k] = true;
        if (!c->args[k].value_name) {
            m->values[k] = "";
            continue;
        }
        /* The next word, unless it looks like an option ("-" alone is a
         * value, as for clap). */
        if (!val && i + 1 < argc &&
            (argv[i + 1][0] != '-' || strcmp(argv[i + 1], "-") == 0))
            val = argv[++i];
        if (!val || (val[0] == '\0' && !strchr(w, '='))) {
            snprintf(text, sizeof(text),
                     "a value is required for '%s' but none was supplied",
                     name);
            return error(text, m->bin, path, m->depth, NULL, false);
        }
        m->values[k] = val;
    }
    for (size_t k = 0; k < c->n_args; k++)
        if (c->args[k].required && !used[k]) {
            buf_puts(&missing, "\n  ");
            arg_name(&missing, &c->args[k]);
        }
    if (missing.len) {
        buf_putc(&missing, '\0');
        snprintf(text, sizeof(text),
                 "the following required arguments were not provided:%s",
                 missing.data);
        buf_fini(&missing);
        return error(text, m->bin, path, m->depth, used, true);
    }
    for (size_t k = 0; k < c->n_args; k++)
        if (!used[k])
            m->values[k] = c->args[k].default_value;
    return -1;
}

int clap_parse(const struct clap_cmd *root, int argc, char **argv,
               struct clap_match *m)
{
    const char *slash = argc > 0 ? strrchr(argv[0], '/') : NULL;
    char text[512];
    int i = 1;

    memset(m, 0, sizeof(*m));
    m->bin = argc > 0 ? (slash ? slash + 1 : argv[0]) : root->name;
    m->path[m->depth++] = root;
    /* -V/--version belongs to the root only (clap does not propagate
     * it); like -h, it is acted on where clap meets it, in order. */
    for (;;) {
        const struct clap_cmd *c = m->path[m->depth - 1];
        const struct clap_cmd *s;
        const char *w = i < argc ? argv[i] : NULL;

        if (!c->n_subs)
            return parse_leaf(m, argc, argv, i);
        if (c->version && w &&
            (strcmp(w, "-V") == 0 || strcmp(w, "--version") == 0))
            return version(root, c);
        if (!w) /* arg_required_else_help: the help, as an error */
            return help(m->bin, m->path, m->depth, stderr, 2);
        if (strcmp(w, "-h") == 0 || strcmp(w, "--help") == 0)
            return help(m->bin, m->path, m->depth, stdout, 0);
        if (strcmp(w, "help") == 0)
            return help_subcommand(m->bin, m->path, m->depth, argc, argv,
                                   i + 1);
        s = find_sub(c, w);
        if (w[0] == '-' && w[1] != '\0' && !s) {
            snprintf(text, sizeof(text), "unexpected argument '%s' found", w);
            return error(text, m->bin, m->path, m->depth, NULL, true);
        }
        if (!s || m->depth == CLAP_MAX_DEPTH) {
            snprintf(text, sizeof(text), "unrecognized subcommand '%s'", w);
            return error(text, m->bin, m->path, m->depth, NULL, true);
        }
        m->path[m->depth++] = s;
        i++;
    }
}
