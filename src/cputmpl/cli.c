/*
 * cli.c: cpu-template-helper's command line (upstream's main.rs with
 * clap 4's derive parser) and what each subcommand runs.
 *
 * The parser is a small table-driven copy of the clap behaviour the tool
 * shows: subcommands, "-x VALUE", "-xVALUE", "--long VALUE",
 * "--long=VALUE", options taking a range of values, defaults, possible
 * values, help (-h, --help, and the "help" subcommand) on stdout with
 * status 0, --version at the top level, and clap's error texts on stderr
 * with status 2. A command without its subcommand prints its help on
 * stderr with status 2 (arg_required_else_help). The tool's own errors are
 * printed as one line (HelperError's Display) with status 1.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config/vm_config.h"
#include "cputmpl/cputmpl.h"
#include "cputmpl/template_ops.h"
#include "obs/log.h"
#include "vmm/cpu_dump.h"
#include "vmm/cpuid.h"

#define BIN        "cpu-template-helper"
#define MAX_VALUES 64 /* values one option keeps (more is refused) */

struct opt_def {
    char short_name;
    const char *long_name;
    const char *value_name;
    const char *help;
    const char *const *defaults; /* NULL-terminated; NULL = none */
    unsigned min_values;         /* per occurrence; 1 for a plain option */
    bool many;                   /* takes min_values.. values */
    bool required;
    const char *const *possible; /* NULL-terminated; NULL = any */
};

enum cmd_id {
    CMD_TOP,
    CMD_TEMPLATE,
    CMD_FINGERPRINT,
    CMD_TEMPLATE_DUMP,
    CMD_TEMPLATE_STRIP,
    CMD_TEMPLATE_VERIFY,
    CMD_FINGERPRINT_DUMP,
    CMD_FINGERPRINT_COMPARE,
};

struct cmd_def {
    enum cmd_id id;
    const char *name;
    const char *about;
    const struct opt_def *opts;
    size_t n_opts;
    const struct cmd_def *const *subs;
    size_t n_subs;
};

static const char *const out_dump[] = {"cpu_config.json", NULL};
static const char *const out_fp[] = {"fingerprint.json", NULL};
static const char *const suffix_def[] = {"_stripped", NULL};
static const char *const fields[] = {
    "firecracker_version",
    "kernel_version",
    "microcode_version",
    "bios_version",
    "bios_revision",
    "guest_cpu_config",
    NULL,
};

#define OPT_CONFIG()                                                           \
    {                                                                          \
        'c', "config", "PATH", "Path of firecracker config file", NULL, 1,     \
            false, false, NULL                                                 \
    }
#define OPT_TEMPLATE(h)                                                        \
    {                                                                          \
        't', "template", "PATH", h, NULL, 1, false, false, NULL                \
    }
#define OPT_OUTPUT(d)                                                          \
    {                                                                          \
        'o', "output", "PATH", "Path of output file", d, 1, false, false, NULL \
    }

static const struct opt_def dump_opts[] = {
    OPT_CONFIG(),
    OPT_TEMPLATE("Path of CPU template to apply"),
    OPT_OUTPUT(out_dump),
};
static const struct opt_def strip_opts[] = {
    {'p', "paths", "PATH", "List of paths of input CPU configuration files",
     NULL, 2, true, false, NULL},
    {'s', "suffix", "SUFFIX",
     "Suffix of output files. To overwrite input files, specify an empty "
     "string ''",
     suffix_def, 1, false, false, NULL},
};
static const struct opt_def verify_opts[] = {
    OPT_CONFIG(),
    OPT_TEMPLATE("Path of the target CPU template"),
};
static const struct opt_def fp_dump_opts[] = {
    OPT_CONFIG(),
    OPT_TEMPLATE("Path of CPU template to apply"),
    OPT_OUTPUT(out_fp),
};
static const struct opt_def compare_opts[] = {
    {'p', "prev", "PATH",
     "Path of fingerprint file that stores the previous state at CPU "
     "template creation",
     NULL, 1, false, true, NULL},
    {'c', "curr", "PATH",
     "Path of fingerprint file that stores the current state", NULL, 1, false,
     true, NULL},
    {'f', "filters", "FILTERS", "List of fields to be compared", fields, 1,
     true, false, fields},
};

#define CMD(id_, name_, about_, opts_)                                         \
    {                                                                          \
        (id_), (name_), (about_), (opts_), sizeof(opts_) / sizeof((opts_)[0]), \
            NULL, 0                                                            \
    }

static const struct cmd_def cmd_tdump =
    CMD(CMD_TEMPLATE_DUMP, "dump",
        "Dump guest CPU configuration in the custom CPU template format",
        dump_opts);
static const struct cmd_def cmd_tstrip =
    CMD(CMD_TEMPLATE_STRIP, "strip",
        "Strip entries shared between multiple CPU template files", strip_opts);
static const struct cmd_def cmd_tverify =
    CMD(CMD_TEMPLATE_VERIFY, "verify",
        "Verify that the given CPU template file is applied as intended",
        verify_opts);
static const struct cmd_def cmd_fdump =
    CMD(CMD_FINGERPRINT_DUMP, "dump",
        "Dump fingerprint consisting of host-related information and guest "
        "CPU config",
        fp_dump_opts);
static const struct cmd_def cmd_fcompare =
    CMD(CMD_FINGERPRINT_COMPARE, "compare",
        "Compare two fingerprint files with queries", compare_opts);

static const struct cmd_def *const template_subs[] = {&cmd_tdump, &cmd_tstrip,
                                                      &cmd_tverify};
static const struct cmd_def *const fp_subs[] = {&cmd_fdump, &cmd_fcompare};
static const struct cmd_def cmd_template = {
    CMD_TEMPLATE,  "template", "Template-related operations", NULL, 0,
    template_subs, 3};
static const struct cmd_def cmd_fingerprint = {CMD_FINGERPRINT,
                                               "fingerprint",
                                               "Fingerprint-related operations",
                                               NULL,
                                               0,
                                               fp_subs,
                                               2};
static const struct cmd_def *const top_subs[] = {&cmd_template,
                                                 &cmd_fingerprint};
static const struct cmd_def cmd_top = {CMD_TOP, BIN,      NULL, NULL,
                                       0,       top_subs, 2};

/* ---- parsed arguments -------------------------------------------------- */

struct opt_val {
    bool given;
    size_t n;
    const char *v[MAX_VALUES];
};

struct parsed {
    const struct cmd_def *cmd;
    char path[128]; /* "cpu-template-helper template dump" */
    struct opt_val val[4];
};

/* ---- help --------------------------------------------------------------- */

static void opt_spec(const struct opt_def *o, struct buf *b)
{
    buf_printf(b, "-%c, --%s", o->short_name, o->long_name);
    for (unsigned i = 0; i < (o->min_values ? o->min_values : 1); i++)
        buf_printf(b, " <%s>", o->value_name);
    if (o->many)
        buf_puts(b, "...");
}

static bool has_optional(const struct cmd_def *c)
{
    for (size_t i = 0; i < c->n_opts; i++)
        if (!c->opts[i].required)
            return true;
    return false;
}

static void usage(const struct parsed *p, struct buf *b)
{
    const struct cmd_def *c = p->cmd;

    buf_printf(b, "Usage: %s", p->path);
    if (c->n_subs) {
        buf_puts(b, " <COMMAND>");
        return;
    }
    if (has_optional(c))
        buf_puts(b, " [OPTIONS]");
    for (size_t i = 0; i < c->n_opts; i++)
        if (c->opts[i].required)
            buf_printf(b, " --%s <%s>", c->opts[i].long_name,
                       c->opts[i].value_name);
}

static void list_join(struct buf *b, const char *const *l, const char *sep)
{
    for (size_t i = 0; l[i]; i++)
        buf_printf(b, "%s%s", i ? sep : "", l[i]);
}

/*
 * clap's help layout without its wrap_help feature: a 100-column terminal;
 * an option's help (with its [default: ...] and [possible values: ...])
 * starts two spaces after the longest option and is wrapped greedily at
 * spaces to the remaining width, continuation lines indented to the same
 * column. (clap moves every help to its own line when the option column
 * exceeds 40% of the width; these options never do.)
 */
#define TERM_WIDTH 100

static void wrapped(struct buf *b, const char *text, size_t col)
{
    size_t avail = TERM_WIDTH > col ? TERM_WIDTH - col : 1, line = 0;
    const char *w = text;
    bool first = true;

    while (*w) {
        const char *sp = strchr(w, ' ');
        size_t wlen = sp ? (size_t)(sp - w) : strlen(w);
        size_t trail = 0;

        while (sp && sp[trail] == ' ')
            trail++;
        if (!first && line + wlen > avail) {
            /* drop the previous word's trailing spaces */
            while (b->len && b->data[b->len - 1] == ' ')
                b->len--;
            buf_printf(b, "\n%*s", (int)col, "");
            line = 0;
        }
        buf_append(b, w, wlen + trail);
        line += wlen + trail;
        first = false;
        w += wlen + trail;
    }
    if (b->data)
        b->data[b->len] = '\0';
}

static void help_text(const struct parsed *p, struct buf *b)
{
    const struct cmd_def *c = p->cmd;
    bool top = c->id == CMD_TOP;
    size_t width = top ? strlen("-V, --version") : strlen("-h, --help");

    if (c->about)
        buf_printf(b, "%s\n\n", c->about);
    usage(p, b);
    buf_puts(b, "\n\n");
    if (c->n_subs) {
        size_t w = strlen("help");

        for (size_t i = 0; i < c->n_subs; i++)
            if (strlen(c->subs[i]->name) > w)
                w = strlen(c->subs[i]->name);
        buf_puts(b, "Commands:\n");
        for (size_t i = 0; i < c->n_subs; i++)
            buf_printf(b, "  %-*s  %s\n", (int)w, c->subs[i]->name,
                       c->subs[i]->about);
        buf_printf(b,
                   "  %-*s  Print this message or the help of the given "
                   "subcommand(s)\n\n",
                   (int)w, "help");
    }
    for (size_t i = 0; i < c->n_opts; i++) {
        struct buf s = BUF_INIT;

        opt_spec(&c->opts[i], &s);
        if (s.len > width)
            width = s.len;
        buf_fini(&s);
    }
    buf_puts(b, "Options:\n");
    for (size_t i = 0; i < c->n_opts; i++) {
        const struct opt_def *o = &c->opts[i];
        struct buf s = BUF_INIT;

        struct buf h = BUF_INIT;

        opt_spec(o, &s);
        buf_puts(&h, o->help);
        if (o->defaults) {
            buf_puts(&h, " [default: ");
            list_join(&h, o->defaults, " ");
            buf_putc(&h, ']');
        }
        if (o->possible) {
            buf_puts(&h, " [possible values: ");
            list_join(&h, o->possible, ", ");
            buf_putc(&h, ']');
        }
        buf_printf(b, "  %-*s  ", (int)width, s.data);
        wrapped(b, h.data, width + 4);
        buf_putc(b, '\n');
        buf_fini(&h);
        buf_fini(&s);
    }
    buf_printf(b, "  %-*s  Print help\n", (int)width, "-h, --help");
    if (top)
        buf_printf(b, "  %-*s  Print version\n", (int)width, "-V, --version");
}

/* ---- parsing ------------------------------------------------------------ */

/* clap's error layout; returns 2. */
static int clap_error(const struct parsed *p, FILE *errs, bool with_usage,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int clap_error(const struct parsed *p, FILE *errs, bool with_usage,
                      const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;

    buf_puts(&b, "error: ");
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    buf_puts(&b, "\n\n");
    if (with_usage) {
        usage(p, &b);
        buf_puts(&b, "\n\n");
    }
    buf_puts(&b, "For more information, try '--help'.\n");
    (void)fputs(b.data, errs);
    buf_fini(&b);
    return 2;
}

static void print_help(const struct parsed *p, FILE *f)
{
    struct buf b = BUF_INIT;

    help_text(p, &b);
    (void)fputs(b.data, f);
    buf_fini(&b);
}

static const struct opt_def *find_opt(const struct cmd_def *c, const char *a,
                                      size_t *idx)
{
    for (size_t i = 0; i < c->n_opts; i++) {
        const struct opt_def *o = &c->opts[i];
        size_t n = strlen(o->long_name);

        if (a[1] == '-' ? strncmp(a + 2, o->long_name, n) == 0 &&
                              (a[2 + n] == '\0' || a[2 + n] == '=')
                        : a[1] == o->short_name) {
            *idx = i;
            return o;
        }
    }
    return NULL;
}

static bool is_possible(const struct opt_def *o, const char *v)
{
    if (!o->possible)
        return true;
    for (size_t i = 0; o->possible[i]; i++)
        if (strcmp(o->possible[i], v) == 0)
            return true;
    return false;
}

/* Parse one option at argv[*i]; 0, or an exit status (2). */
static int parse_opt(struct parsed *p, int argc, char **argv, int *i,
                     FILE *errs)
{
    const char *a = argv[*i];
    size_t idx;
    const struct opt_def *o = find_opt(p->cmd, a, &idx);
    struct opt_val *v;
    const char *inline_val = NULL;
    struct buf spec = BUF_INIT;
    size_t got = 0;
    int rc = 0;

    if (!o) {
        const char *eq = strchr(a, '=');

        return clap_error(p, errs, true, "unexpected argument '%.*s' found",
                          a[1] == '-' && eq ? (int)(eq - a) : (int)strlen(a),
                          a);
    }
    opt_spec(o, &spec);
    v = &p->val[idx];
    if (v->given && !o->many) {
        rc = clap_error(p, errs, true,
                        "the argument '%s' cannot be used multiple times",
                        spec.data + 4);
        goto out;
    }
    v->given = true;
    if (a[1] == '-') {
        const char *eq = strchr(a, '=');

        inline_val = eq ? eq + 1 : NULL;
    } else if (a[2]) {
        inline_val = a[2] == '=' ? a + 3 : a + 2;
    }
    if (!o->many)
        v->n = 0;
    if (inline_val) {
        v->v[v->n++] = inline_val;
        got = 1;
    }
    while ((!inline_val || o->many) && *i + 1 < argc && v->n < MAX_VALUES) {
        const char *next = argv[*i + 1];

        if (next[0] == '-' && next[1] != '\0')
            break;
        v->v[v->n++] = next;
        (*i)++;
        got++;
        if (!o->many)
            break;
    }
    if (got == 0) {
        rc = clap_error(p, errs, false,
                        "a value is required for '%s' but none was supplied",
                        spec.data + 4);
        goto out;
    }
    if (got < o->min_values) {
        rc = clap_error(
            p, errs, true, "%u values required by '%s'; only %zu %s provided",
            o->min_values, spec.data + 4, got, got == 1 ? "was" : "were");
        goto out;
    }
    for (size_t k = v->n - got; k < v->n; k++) {
        if (!is_possible(o, v->v[k])) {
            struct buf pv = BUF_INIT;

            list_join(&pv, o->possible, ", ");
            rc = clap_error(p, errs, false,
                            "invalid value '%s' for '%s'\n  [possible "
                            "values: %s]",
                            v->v[k], spec.data + 4, pv.data);
            buf_fini(&pv);
            goto out;
        }
    }
out:
    buf_fini(&spec);
    return rc;
}

static const struct cmd_def *find_sub(const struct cmd_def *c, const char *n)
{
    for (size_t i = 0; i < c->n_subs; i++)
        if (strcmp(c->subs[i]->name, n) == 0)
            return c->subs[i];
    return NULL;
}

static void enter(struct parsed *p, const struct cmd_def *c)
{
    size_t len = strlen(p->path);

    if (c->id != CMD_TOP)
        snprintf(p->path + len, sizeof(p->path) - len, " %s", c->name);
    p->cmd = c;
    memset(p->val, 0, sizeof(p->val));
}

/* `help [sub...]`: the help of that command on out. */
static int help_cmd(struct parsed *p, int argc, char **argv, int i, FILE *out,
                    FILE *errs)
{
    for (; i < argc; i++) {
        const struct cmd_def *s = find_sub(p->cmd, argv[i]);

        if (!s)
            return clap_error(p, errs, true, "unrecognized subcommand '%s'",
                              argv[i]);
        enter(p, s);
    }
    print_help(p, out);
    return 0;
}

/* Returns -1 when a leaf command was parsed into *p, else the exit status. */
static int parse(struct parsed *p, int argc, char **argv, FILE *out, FILE *errs)
{
    int i = 1;

    snprintf(p->path, sizeof(p->path), "%s", BIN);
    enter(p, &cmd_top);
    for (; i < argc; i++) {
        const char *a = argv[i];

        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            print_help(p, out);
            return 0;
        }
        if (p->cmd->id == CMD_TOP &&
            (!strcmp(a, "-V") || !strcmp(a, "--version"))) {
            fprintf(out, "%s v%s\n", BIN, CPUTMPL_VERSION);
            return 0;
        }
        if (p->cmd->n_subs) {
            const struct cmd_def *s;

            if (a[0] == '-' && a[1])
                return clap_error(p, errs, true,
                                  "unexpected argument '%s' found", a);
            if (!strcmp(a, "help"))
                return help_cmd(p, argc, argv, i + 1, out, errs);
            s = find_sub(p->cmd, a);
            if (!s)
                return clap_error(p, errs, true, "unrecognized subcommand '%s'",
                                  a);
            enter(p, s);
            continue;
        }
        if (a[0] != '-' || !a[1])
            return clap_error(p, errs, true, "unexpected argument '%s' found",
                              a);
        {
            int rc = parse_opt(p, argc, argv, &i, errs);

            if (rc)
                return rc;
        }
    }
    if (p->cmd->n_subs) {
        print_help(p, errs);
        return 2;
    }
    for (size_t k = 0; k < p->cmd->n_opts; k++) {
        const struct opt_def *o = &p->cmd->opts[k];

        if (o->required && !p->val[k].given) {
            struct buf m = BUF_INIT;
            int rc;

            for (size_t j = k; j < p->cmd->n_opts; j++)
                if (p->cmd->opts[j].required && !p->val[j].given)
                    buf_printf(&m, "\n  --%s <%s>", p->cmd->opts[j].long_name,
                               p->cmd->opts[j].value_name);
            rc = clap_error(p, errs, true,
                            "the following required arguments were not "
                            "provided:%s",
                            m.data);
            buf_fini(&m);
            return rc;
        }
        if (!p->val[k].given && o->defaults)
            for (size_t j = 0; o->defaults[j]; j++)
                p->val[k].v[p->val[k].n++] = o->defaults[j];
    }
    return -1;
}

/* ---- the commands -------------------------------------------------------- */

/* The value of option `k` (the first), or NULL. */
static const char *val(const struct parsed *p, size_t k)
{
    return p->val[k].n ? p->val[k].v[0] : NULL;
}

static int fail(struct sq_err *err, const char *prefix)
{
    sq_err_prefix(err, prefix);
    return -EINVAL;
}

static int write_out(const char *path, const struct buf *b, struct sq_err *err)
{
    if (cputmpl_write_text(path, b, err))
        return fail(err, "Failed to operate file: ");
    return 0;
}

static int run_template_dump(const struct parsed *p, struct sq_err *err)
{
    struct cpu_template config = {0};
    struct buf b = BUF_INIT;
    int rc = cputmpl_dump_vm(val(p, 0), val(p, 1), &config, NULL, err);

    if (rc == 0) {
        cpu_template_to_json(&config, &b);
        rc = write_out(val(p, 2), &b, err);
    }
    buf_fini(&b);
    cpu_template_fini(&config);
    return rc;
}

static int run_template_strip(const struct parsed *p, struct sq_err *err)
{
    const struct opt_val *paths = &p->val[0];
    struct cpu_template *t = calloc(paths->n ? paths->n : 1, sizeof(*t));
    size_t loaded = 0;
    int rc = 0;

    if (!t)
        abort();
    for (; loaded < paths->n && rc == 0; loaded++)
        rc = cputmpl_load_template(paths->v[loaded], &t[loaded], err);
    if (rc == 0)
        rc = cputmpl_strip(t, paths->n, err);
    for (size_t i = 0; rc == 0 && i < paths->n; i++) {
        struct buf name = BUF_INIT, json = BUF_INIT;

        cputmpl_add_suffix(paths->v[i], val(p, 1), &name);
        cpu_template_to_json(&t[i], &json);
        rc = write_out(name.data, &json, err);
        buf_fini(&name);
        buf_fini(&json);
    }
    for (size_t i = 0; i < loaded; i++)
        cpu_template_fini(&t[i]);
    free(t);
    return rc;
}

static int run_template_verify(const struct parsed *p, struct sq_err *err)
{
    struct cpu_template config = {0}, applied = {0};
    int rc = cputmpl_dump_vm(val(p, 0), val(p, 1), &config, &applied, err);

    if (rc == 0)
        rc = cputmpl_verify(&applied, &config, err);
    cpu_template_fini(&config);
    cpu_template_fini(&applied);
    return rc;
}

static int run_fingerprint_dump(const struct parsed *p, struct sq_err *err)
{
    struct fingerprint f;
    struct buf b = BUF_INIT;
    int rc;

    memset(&f, 0, sizeof(f));
    rc = cputmpl_dump_vm(val(p, 0), val(p, 1), &f.guest_cpu_config, NULL, err);
    if (rc == 0)
        rc = cputmpl_host_fields(&cputmpl_host_default, &f, err);
    if (rc == 0) {
        fingerprint_to_json(&f, &b);
        rc = write_out(val(p, 2), &b, err);
    }
    buf_fini(&b);
    fingerprint_fini(&f);
    return rc;
}

static int load_fingerprint(const char *path, struct fingerprint *f,
                            struct sq_err *err)
{
    char *json;
    size_t len;
    int rc = cputmpl_read_text(path, &json, &len, err);

    if (rc)
        return fail(err, "Failed to operate file: ");
    rc = fingerprint_parse(json, len, f, err);
    free(json);
    if (rc)
        return fail(err, "Failed to serialize/deserialize JSON file: ");
    return 0;
}

static int run_fingerprint_compare(const struct parsed *p, FILE *errs,
                                   struct sq_err *err)
{
    const struct opt_val *fv = &p->val[2];
    enum fingerprint_field filters[MAX_VALUES];
    struct fingerprint prev, curr;
    struct buf diff = BUF_INIT;
    int rc;

    memset(&prev, 0, sizeof(prev));
    memset(&curr, 0, sizeof(curr));
    rc = load_fingerprint(val(p, 0), &prev, err);
    if (rc == 0)
        rc = load_fingerprint(val(p, 1), &curr, err);
    if (rc == 0) {
        for (size_t i = 0; i < fv->n; i++)
            for (int k = 0; k < FINGERPRINT_N_FIELDS; k++)
                if (!strcmp(fv->v[i], fields[k]))
                    filters[i] = (enum fingerprint_field)k;
        if (cputmpl_compare(&prev, &curr, filters, fv->n, &diff)) {
            /* Longer than an sq_err holds: printed here. */
            fprintf(errs, "%s\n", diff.data);
            rc = 1;
        }
    }
    buf_fini(&diff);
    fingerprint_fini(&prev);
    fingerprint_fini(&curr);
    return rc;
}

int cputmpl_run(int argc, char **argv, FILE *out, FILE *errs)
{
    struct parsed p;
    struct sq_err err;
    int rc;

    memset(&p, 0, sizeof(p));
    rc = parse(&p, argc, argv, out, errs);
    if (rc >= 0)
        return rc;
    sq_err_clear(&err);
    switch (p.cmd->id) {
    case CMD_TEMPLATE_DUMP:
        rc = run_template_dump(&p, &err);
        break;
    case CMD_TEMPLATE_STRIP:
        rc = run_template_strip(&p, &err);
        break;
    case CMD_TEMPLATE_VERIFY:
        rc = run_template_verify(&p, &err);
        break;
    case CMD_FINGERPRINT_DUMP:
        rc = run_fingerprint_dump(&p, &err);
        break;
    case CMD_FINGERPRINT_COMPARE:
        rc = run_fingerprint_compare(&p, errs, &err);
        if (rc == 1)
            return 1;
        break;
    default:
        return 2;
    }
    if (rc) {
        fprintf(errs, "%s\n", err.msg);
        return 1;
    }
    return 0;
}

int cputmpl_main(int argc, char **argv)
{
    /* Upstream's tool never installs its logger: the VM build logs
     * nothing (a config file's "logger" section still applies). */
    log_set_level(LOG_OFF);
    return cputmpl_run(argc, argv, stdout, stderr);
}
