/*
 * seccomp.c: the seccomp mechanism (see seccomp.h and docs/seccomp.md):
 * allow-lists compiled to classic BPF, custom filter files (upstream's
 * compiled bitcode files, read by util/seccomp_bitcode.c, or its
 * seccompiler JSON shape), and per-thread installation. The lists
 * themselves are VMM policy, in vmm/seccomp_rules.c.
 *
 * Rules are compiled with libseccomp into classic BPF and kept as plain
 * instruction arrays: the built-in policy when squib is built (the
 * generator in tools/ calls seccomp_policy_compile()), a custom file once
 * at startup. Each thread then installs its array with prctl(PR_SET_SECCOMP)
 * like upstream's apply_filter(), without touching libseccomp (whose
 * contexts are not meant to be shared between threads).
 */
#include "util/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/json.h"
#include "util/seccomp_bitcode.h"
#include "util/xalloc.h"

/* ---------------------------------------------------------------------- */
/* Compiling                                                               */

static const char *const thread_names[SECCOMP_THREAD_COUNT] = {
    [SECCOMP_THREAD_VMM] = "vmm",
    [SECCOMP_THREAD_API] = "api",
    [SECCOMP_THREAD_VCPU] = "vcpu",
};

const char *seccomp_thread_name(enum seccomp_thread kind)
{
    return (unsigned)kind < SECCOMP_THREAD_COUNT ? thread_names[kind] : "?";
}

static int to_scmp(const struct seccomp_cond *c, struct scmp_arg_cmp *out)
{
    uint64_t width = c->qword ? UINT64_MAX : 0xffffffffu;

    memset(out, 0, sizeof(*out));
    out->arg = c->idx;
    switch (c->op) {
    case SECCOMP_CMP_EQ:
        /* A dword compares the low half only. */
        out->op = SCMP_CMP_MASKED_EQ;
        out->datum_a = width;
        out->datum_b = c->val & width;
        break;
    case SECCOMP_CMP_MASKED_EQ:
        out->op = SCMP_CMP_MASKED_EQ;
        out->datum_a = c->mask & width;
        out->datum_b = c->val & width;
        break;
    case SECCOMP_CMP_NE:
        out->op = SCMP_CMP_NE;
        out->datum_a = c->val;
        break;
    case SECCOMP_CMP_LT:
        out->op = SCMP_CMP_LT;
        out->datum_a = c->val;
        break;
    case SECCOMP_CMP_LE:
        out->op = SCMP_CMP_LE;
        out->datum_a = c->val;
        break;
    case SECCOMP_CMP_GT:
        out->op = SCMP_CMP_GT;
        out->datum_a = c->val;
        break;
    case SECCOMP_CMP_GE:
        out->op = SCMP_CMP_GE;
        out->datum_a = c->val;
        break;
    default:
        return -EINVAL;
    }
    return 0;
}

/* Add one rule (nr, conditions) with `action` to ctx. */
static int add_rule(scmp_filter_ctx ctx, uint32_t action, int nr,
                    const struct seccomp_cond *c, unsigned n)
{
    struct scmp_arg_cmp cmp[SECCOMP_MAX_CONDS];
    int rc;

    if (n > SECCOMP_MAX_CONDS)
        return -E2BIG;
    for (unsigned i = 0; i < n; i++) {
        rc = to_scmp(&c[i], &cmp[i]);
        if (rc < 0)
            return rc;
    }
    return seccomp_rule_add_array(ctx, action, nr, n, cmp);
}

/* Add the allow rules t[0..n) to ctx. */
static int add_rules(scmp_filter_ctx ctx, const struct seccomp_rule *t,
                     size_t n, struct sq_err *err)
{
    for (size_t i = 0; i < n; i++) {
        int nr = seccomp_syscall_resolve_name(t[i].name);
        int rc;

        if (nr == __NR_SCMP_ERROR)
            return sq_errf(err, -EINVAL, "unknown syscall %s", t[i].name);
        rc = add_rule(ctx, SCMP_ACT_ALLOW, nr, t[i].c, t[i].n);
        if (rc < 0)
            return sq_errf(err, rc, "cannot add the %s rule: %s", t[i].name,
                           strerror(-rc));
    }
    return 0;
}

/* Export ctx as raw BPF into p (through a memfd: libseccomp 2.5 exports
 * only to an fd). */
static int export_prog(scmp_filter_ctx ctx, struct seccomp_prog *p,
                       struct sq_err *err)
{
    struct buf b = BUF_INIT;
    char chunk[4096];
    size_t len;
    int fd, rc;

    fd = memfd_create("squib-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return sq_errf(err, -errno, "memfd_create: %s", strerror(errno));
    rc = seccomp_export_bpf(ctx, fd);
    if (rc < 0) {
        sq_errf(err, rc, "cannot compile the filter: %s", strerror(-rc));
        goto out;
    }
    if (lseek(fd, 0, SEEK_SET) < 0) {
        rc = sq_errf(err, -errno, "lseek: %s", strerror(errno));
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0) {
            rc = sq_errf(err, -errno, "read: %s", strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        buf_append(&b, chunk, (size_t)n);
    }
    len = b.len;
    if (len % sizeof(struct sock_filter) != 0) {
        rc = sq_errf(err, -EINVAL,
                     "compiled filter has a partial "
                     "instruction");
        goto out;
    }
    if (len / sizeof(struct sock_filter) > SECCOMP_MAX_INSNS) {
        rc = sq_errf(err, -E2BIG,
                     "Filter length exceeds the maximum size "
                     "of %d instructions",
                     SECCOMP_MAX_INSNS);
        goto out;
    }
    p->n_insns = len / sizeof(struct sock_filter);
    p->insns = buf_steal(&b, &len);
    rc = 0;
out:
    buf_fini(&b);
    close(fd);
    return rc;
}

/* A fresh context for the native architecture with `def` as its default
 * action. A call through another ABI (x32, i386 int 0x80) always traps,
 * whatever the default: no squib thread uses them, and a custom
 * "allow by default" list must not open them either. */
static scmp_filter_ctx new_ctx(uint32_t def)
{
    scmp_filter_ctx ctx = seccomp_init(def);

    if (!ctx)
        return NULL;
    if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP) < 0 ||
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0) {
        seccomp_release(ctx);
        return NULL;
    }
    return ctx;
}

static int compile_list(const struct seccomp_rule *t, size_t n,
                        struct seccomp_prog *p, struct sq_err *err)
{
    scmp_filter_ctx ctx = new_ctx(SCMP_ACT_TRAP);
    int rc;

    if (!ctx)
        return sq_errf(err, -ENOMEM, "cannot create a seccomp context");
    rc = add_rules(ctx, t, n, err);
    if (rc == 0)
        rc = export_prog(ctx, p, err);
    seccomp_release(ctx);
    return rc;
}

void seccomp_policy_add(struct seccomp_policy *p, enum seccomp_thread kind,
                        const struct seccomp_rule *rules, size_t n)
{
    size_t have = p->n_rules[kind];

    p->rules[kind] =
        xrealloc(p->rules[kind], (have + n) * sizeof(*p->rules[kind]));
    memcpy(p->rules[kind] + have, rules, n * sizeof(*rules));
    p->n_rules[kind] = have + n;
}

void seccomp_policy_fini(struct seccomp_policy *p)
{
    if (!p)
        return;
    for (int i = 0; i < SECCOMP_THREAD_COUNT; i++) {
        free(p->rules[i]);
        p->rules[i] = NULL;
        p->n_rules[i] = 0;
    }
}

void seccomp_filters_fini(struct seccomp_filters *f)
{
    if (!f)
        return;
    for (int i = 0; i < SECCOMP_THREAD_COUNT; i++) {
        free(f->prog[i].insns);
        f->prog[i].insns = NULL;
        f->prog[i].n_insns = 0;
    }
}

int seccomp_policy_compile(const struct seccomp_policy *p,
                           struct seccomp_filters *out, struct sq_err *err)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < SECCOMP_THREAD_COUNT; i++) {
        int rc = compile_list(p->rules[i], p->n_rules[i], &out->prog[i], err);

        if (rc < 0) {
            seccomp_filters_fini(out);
            return rc;
        }
    }
    return 0;
}

static void write_cond(struct buf *b, const struct seccomp_cond *c)
{
    static const char *const ops[] = {"eq", "ne", "lt", "le", "gt", "ge"};

    buf_append(b, "{", 1);
    json_write_key(b, "index");
    json_write_u64(b, c->idx);
    buf_append(b, ",", 1);
    json_write_key(b, "type");
    json_write_cstr(b, c->qword ? "qword" : "dword");
    buf_append(b, ",", 1);
    json_write_key(b, "op");
    if (c->op == SECCOMP_CMP_MASKED_EQ) {
        buf_append(b, "{", 1);
        json_write_key(b, "masked_eq");
        json_write_u64(b, c->mask);
        buf_append(b, "}", 1);
    } else {
        json_write_cstr(b, ops[c->op]);
    }
    buf_append(b, ",", 1);
    json_write_key(b, "val");
    json_write_u64(b, c->val);
    buf_append(b, "}", 1);
}

void seccomp_policy_json(const struct seccomp_policy *p, struct buf *out)
{
    for (int kind = 0; kind < SECCOMP_THREAD_COUNT; kind++) {
        bool first = true;

        buf_append(out, kind ? ",\n" : "{\n", 2);
        json_write_key(out, thread_names[kind]);
        buf_append(out, "{", 1);
        json_write_key(out, "default_action");
        json_write_cstr(out, "trap");
        buf_append(out, ",", 1);
        json_write_key(out, "filter_action");
        json_write_cstr(out, "allow");
        buf_append(out, ",", 1);
        json_write_key(out, "filter");
        buf_append(out, "[", 1);
        for (size_t i = 0; i < p->n_rules[kind]; i++) {
            const struct seccomp_rule *r = &p->rules[kind][i];

            buf_append(out, first ? "\n  " : ",\n  ", first ? 3 : 4);
            first = false;
            buf_append(out, "{", 1);
            json_write_key(out, "syscall");
            json_write_cstr(out, r->name);
            if (r->n) {
                buf_append(out, ",", 1);
                json_write_key(out, "args");
                buf_append(out, "[", 1);
                for (unsigned c = 0; c < r->n; c++) {
                    if (c)
                        buf_append(out, ",", 1);
                    write_cond(out, &r->c[c]);
                }
                buf_append(out, "]", 1);
            }
            buf_append(out, "}", 1);
        }
        buf_append(out, "]}", 2);
    }
    buf_append(out, "\n}\n", 3);
}

/* ---------------------------------------------------------------------- */
/* Custom filter files (upstream's seccompiler JSON shape)                 */

#define DESER "Filter deserialization failed: "

static bool key_is(const struct json_member *m, const char *s)
{
    return m->key_len == strlen(s) && memcmp(m->key, s, m->key_len) == 0;
}

static bool json_u64(const struct json_value *v, uint64_t *out)
{
    if (!v || v->type != JSON_NUMBER || v->num.kind != JSON_NUM_U64)
        return false;
    *out = v->num.u;
    return true;
}

/*
 * An action: "allow", "trap", "kill_thread", "kill_process", "kill"
 * (= kill_process), "log", {"errno": N}, {"trace": N}.
 */
static int parse_action(const struct json_value *v, const char *where,
                        const char *field, uint32_t *out, struct sq_err *err)
{
    static const struct {
        const char *name;
        uint32_t action;
    } simple[] = {
        {"allow", SCMP_ACT_ALLOW},
        {"trap", SCMP_ACT_TRAP},
        {"kill_thread", SCMP_ACT_KILL_THREAD},
        {"kill_process", SCMP_ACT_KILL_PROCESS},
        {"kill", SCMP_ACT_KILL_PROCESS},
        {"log", SCMP_ACT_LOG},
    };
    uint64_t n;

    if (v && v->type == JSON_STRING) {
        for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
            if (strcmp(v->str.ptr, simple[i].name) == 0 &&
                strlen(simple[i].name) == v->str.len) {
                *out = simple[i].action;
                return 0;
            }
    } else if (v && v->type == JSON_OBJECT && v->obj.n == 1) {
        const struct json_member *m = &v->obj.members[0];

        if (key_is(m, "errno") && json_u64(m->value, &n) && n <= 4095) {
            *out = SCMP_ACT_ERRNO((uint16_t)n);
            return 0;
        }
        if (key_is(m, "trace") && json_u64(m->value, &n) && n <= 0xffff) {
            *out = SCMP_ACT_TRACE((uint16_t)n);
            return 0;
        }
    }
    return sq_errf(err, -EINVAL,
                   DESER "%s: invalid %s (expected \"allow\", \"trap\", "
                         "\"kill_thread\", \"kill_process\", \"log\", "
                         "{\"errno\": N} or {\"trace\": N})",
                   where, field);
}

static int parse_cond(const struct json_value *v, const char *where,
                      struct seccomp_cond *c, struct sq_err *err)
{
    const struct json_value *idx = json_object_get(v, "index", 5);
    const struct json_value *type = json_object_get(v, "type", 4);
    const struct json_value *op = json_object_get(v, "op", 2);
    const struct json_value *val = json_object_get(v, "val", 3);
    static const char *const ops[] = {"eq", "ne", "lt", "le", "gt", "ge"};
    uint64_t n;

    memset(c, 0, sizeof(*c));
    if (!v || v->type != JSON_OBJECT)
        return sq_errf(err, -EINVAL,
                       DESER "%s: an argument condition must "
                             "be an object",
                       where);
    if (!json_u64(idx, &n) || n > 5)
        return sq_errf(err, -EINVAL,
                       DESER "%s: \"index\" must be an "
                             "integer from 0 to 5",
                       where);
    c->idx = (unsigned)n;
    if (type && type->type == JSON_STRING &&
        strcmp(type->str.ptr, "dword") == 0)
        c->qword = false;
    else if (type && type->type == JSON_STRING &&
             strcmp(type->str.ptr, "qword") == 0)
        c->qword = true;
    else
        return sq_errf(err, -EINVAL,
                       DESER "%s: \"type\" must be \"dword\" "
                             "or \"qword\"",
                       where);
    if (!json_u64(val, &c->val) || (!c->qword && c->val > 0xffffffffu))
        return sq_errf(err, -EINVAL,
                       DESER "%s: \"val\" must be an unsigned "
                             "integer that fits the type",
                       where);
    if (op && op->type == JSON_STRING) {
        for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
            if (strcmp(op->str.ptr, ops[i]) == 0) {
                c->op =
                    (enum seccomp_cmp)i; /* same order as enum seccomp_cmp */
                return 0;
            }
    } else if (op && op->type == JSON_OBJECT && op->obj.n == 1 &&
               key_is(&op->obj.members[0], "masked_eq") &&
               json_u64(op->obj.members[0].value, &c->mask)) {
        c->op = SECCOMP_CMP_MASKED_EQ;
        return 0;
    }
    return sq_errf(err, -EINVAL,
                   DESER "%s: \"op\" must be one of \"eq\", "
                         "\"ne\", \"lt\", \"le\", \"gt\", "
                         "\"ge\" or {\"masked_eq\": MASK}",
                   where);
}

/* One category's object -> compiled program; *kind says what failed. */
static int parse_category(const struct json_value *v, const char *cat,
                          unsigned flags, struct seccomp_prog *p,
                          enum seccomp_json_error *kind, struct sq_err *err)
{
    const struct json_value *filter;
    uint32_t def, act;
    scmp_filter_ctx ctx = NULL;
    char where[160];
    int rc;

    if (v->type != JSON_OBJECT)
        return sq_errf(err, -EINVAL, DESER "%s: must be an object", cat);
    rc = parse_action(json_object_get(v, "default_action", 14), cat,
                      "default_action", &def, err);
    if (rc < 0)
        return rc;
    rc = parse_action(json_object_get(v, "filter_action", 13), cat,
                      "filter_action", &act, err);
    if (rc < 0)
        return rc;
    filter = json_object_get(v, "filter", 6);
    if (!filter || filter->type != JSON_ARRAY)
        return sq_errf(err, -EINVAL, DESER "%s: \"filter\" must be an array",
                       cat);
    if (def == act)
        return sq_errf(err, -EINVAL,
                       DESER "%s: filter_action must differ "
                             "from default_action",
                       cat);
    ctx = new_ctx(def);
    if (!ctx) {
        *kind = SECCOMP_JSON_LIBSECCOMP;
        return sq_errf(err, -ENOMEM,
                       DESER "%s: cannot create a seccomp "
                             "context",
                       cat);
    }
    for (size_t i = 0; i < filter->arr.n; i++) {
        const struct json_value *r = filter->arr.items[i];
        const struct json_value *name = json_object_get(r, "syscall", 7);
        const struct json_value *args = json_object_get(r, "args", 4);
        struct seccomp_cond c[SECCOMP_MAX_CONDS];
        size_t n = 0;
        int nr;

        snprintf(where, sizeof(where), "%s: filter[%zu]", cat, i);
        if (!name || name->type != JSON_STRING) {
            rc = sq_errf(err, -EINVAL,
                         DESER "%s: \"syscall\" must be a "
                               "string",
                         where);
            goto out;
        }
        nr = seccomp_syscall_resolve_name(name->str.ptr);
        if (nr == __NR_SCMP_ERROR || nr < 0) {
            *kind = SECCOMP_JSON_SYSCALL;
            rc = sq_errf(err, -EINVAL,
                         DESER "%s: unknown syscall \"%s\" "
                               "on x86_64",
                         where, name->str.ptr);
            goto out;
        }
        if (args && args->type != JSON_NULL) {
            if (args->type != JSON_ARRAY || args->arr.n > SECCOMP_MAX_CONDS) {
                rc = sq_errf(err, -EINVAL,
                             DESER "%s: \"args\" must be an "
                                   "array of at most %d "
                                   "conditions",
                             where, SECCOMP_MAX_CONDS);
                goto out;
            }
            n = args->arr.n;
            for (size_t j = 0; j < n; j++) {
                rc = parse_cond(args->arr.items[j], where, &c[j], err);
                if (rc < 0)
                    goto out;
            }
        }
        /* --basic (seccompiler-bin): the rule without its conditions,
         * which were still checked above, as upstream parses them. */
        if (flags & SECCOMP_JSON_BASIC)
            n = 0;
        rc = add_rule(ctx, act, nr, c, (unsigned)n);
        if (rc < 0) {
            *kind = SECCOMP_JSON_RULE;
            rc = sq_errf(err, -EINVAL,
                         DESER "%s: rule for \"%s\" rejected: "
                               "%s",
                         where, name->str.ptr, strerror(-rc));
            goto out;
        }
    }
    rc = export_prog(ctx, p, err);
    if (rc < 0) {
        *kind = SECCOMP_JSON_LIBSECCOMP;
        sq_err_prefix(err, DESER);
    }
out:
    seccomp_release(ctx);
    return rc;
}

int seccomp_filters_from_json(const char *text, size_t len,
                              struct seccomp_filters *out, struct sq_err *err)
{
    enum seccomp_json_error kind;

    return seccomp_filters_compile_json(text, len, 0, out, &kind, err);
}

int seccomp_filters_compile_json(const char *text, size_t len, unsigned flags,
                                 struct seccomp_filters *out,
                                 enum seccomp_json_error *kind,
                                 struct sq_err *err)
{
    struct json_value *root = NULL;
    const struct json_value *cats[SECCOMP_THREAD_COUNT] = {NULL};
    struct buf bad = BUF_INIT;
    int rc;

    memset(out, 0, sizeof(*out));
    *kind = SECCOMP_JSON_SYNTAX;
    rc = json_parse(text, len, &root, err);
    if (rc < 0)
        return sq_err_prefix(err, DESER);
    *kind = SECCOMP_JSON_SCHEMA;
    if (root->type != JSON_OBJECT) {
        rc = sq_errf(err, -EINVAL,
                     DESER "the document must be an object "
                           "with keys \"vmm\", \"api\" and "
                           "\"vcpu\"");
        goto out;
    }
    /* Categories are matched lower-cased, as upstream; anything else is
     * refused, listed in document order. */
    for (size_t i = 0; i < root->obj.n; i++) {
        const struct json_member *m = &root->obj.members[i];
        char key[16];
        int k = -1;

        if (m->key_len < sizeof(key) && memchr(m->key, 0, m->key_len) == NULL) {
            for (size_t j = 0; j <= m->key_len; j++)
                key[j] = (char)(m->key[j] >= 'A' && m->key[j] <= 'Z'
                                    ? m->key[j] - 'A' + 'a'
                                    : m->key[j]);
            for (int t = 0; t < SECCOMP_THREAD_COUNT; t++)
                if (strcmp(key, thread_names[t]) == 0)
                    k = t;
        }
        if (k < 0) {
            if (bad.len)
                buf_append(&bad, ",", 1);
            buf_append(&bad, m->key, m->key_len);
            continue;
        }
        cats[k] = m->value;
    }
    if (bad.len) {
        buf_append(&bad, "", 1);
        rc = sq_errf(err, -EINVAL, "Invalid thread categories: %s", bad.data);
        goto out;
    }
    for (int t = 0; t < SECCOMP_THREAD_COUNT; t++)
        if (!cats[t]) {
            rc = sq_errf(err, -EINVAL, "Missing thread category: %s",
                         thread_names[t]);
            goto out;
        }
    for (int t = 0; t < SECCOMP_THREAD_COUNT; t++) {
        rc = parse_category(cats[t], thread_names[t], flags, &out->prog[t],
                            kind, err);
        if (rc < 0) {
            seccomp_filters_fini(out);
            goto out;
        }
    }
    *kind = SECCOMP_JSON_OK;
    rc = 0;
out:
    buf_fini(&bad);
    json_value_free(root);
    return rc;
}

void seccomp_filters_bitcode(const struct seccomp_filters *f, struct buf *out)
{
    /* A BTreeMap: the categories in byte order. */
    static const enum seccomp_thread order[] = {
        SECCOMP_THREAD_API, SECCOMP_THREAD_VCPU, SECCOMP_THREAD_VMM};
    struct seccomp_bitcode_prog progs[SECCOMP_THREAD_COUNT];

    for (int i = 0; i < SECCOMP_THREAD_COUNT; i++) {
        const char *name = thread_names[order[i]];

        /* struct sock_filter is the u64 of upstream's Vec<u64>, in
         * native layout. */
        progs[i] = (struct seccomp_bitcode_prog){name, strlen(name),
                                                 f->prog[order[i]].insns,
                                                 f->prog[order[i]].n_insns};
    }
    seccomp_bitcode_encode(progs, SECCOMP_THREAD_COUNT, out);
}

/* ---------------------------------------------------------------------- */
/* Compiled filter files (upstream's bitcode format)                       */

/* Upstream lower-cases with Unicode's rules; only ASCII letters can
 * make a category name, so ASCII is all that matters for the match. */
static char ascii_lower(char c)
{
    return (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

/* ASCII lower-case of name[0..len) == s. */
static bool name_is(const char *name, size_t len, const char *s)
{
    if (len != strlen(s))
        return false;
    for (size_t i = 0; i < len; i++)
        if (ascii_lower(name[i]) != s[i])
            return false;
    return true;
}

/* Copy entry e's program into p. The u64s are struct sock_filter in
 * native layout, as upstream passes them to the kernel. */
static void copy_prog(const struct seccomp_bitcode *bc,
                      const struct seccomp_bitcode_entry *e,
                      struct seccomp_prog *p)
{
    struct sock_filter *insns;

    _Static_assert(sizeof(struct sock_filter) == sizeof(uint64_t),
                   "a BPF instruction is 8 bytes");
    free(p->insns);
    p->insns = NULL;
    p->n_insns = e->n_insns;
    if (!e->n_insns)
        return;
    /* At most 8 instructions per input byte, so bounded by the file. */
    insns = xmalloc(e->n_insns * sizeof(*insns));
    for (size_t i = 0; i < e->n_insns; i++) {
        uint64_t v = seccomp_bitcode_insn(bc, e->first + i);

        memcpy(&insns[i], &v, sizeof(v));
    }
    p->insns = insns;
}

int seccomp_filters_from_bitcode(const void *data, size_t len,
                                 struct seccomp_filters *out,
                                 struct sq_err *err)
{
    struct seccomp_bitcode bc;
    struct seccomp_bitcode_iter it;
    struct seccomp_bitcode_entry e;
    bool seen[SECCOMP_THREAD_COUNT] = {false};
    struct buf bad = BUF_INIT;
    size_t n_bad = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    /* The crate's reason stays out of the text: upstream's release build
     * says only "bitcode error". */
    if (seccomp_bitcode_parse(data, len, &bc, NULL) < 0)
        return sq_errf(err, -EINVAL,
                       DESER "Bitcode deserialization failed: "
                             "bitcode error");
    /* Keys are lower-cased, then anything but the three categories is
     * refused, listed in file order (upstream: its map's order). */
    seccomp_bitcode_iter_init(&it, &bc);
    while (seccomp_bitcode_next(&it, &e)) {
        int k = -1;

        for (int t = 0; t < SECCOMP_THREAD_COUNT; t++)
            if (name_is(e.name, e.name_len, thread_names[t]))
                k = t;
        if (k >= 0) {
            seen[k] = true;
            if (!n_bad) /* past the first bad key, only the list matters */
                copy_prog(&bc, &e, &out->prog[k]);
            continue;
        }
        if (n_bad++)
            buf_putc(&bad, ',');
        for (size_t i = 0; i < e.name_len; i++)
            buf_putc(&bad, ascii_lower(e.name[i]));
    }
    if (n_bad) {
        buf_putc(&bad, 0);
        rc = sq_errf(err, -EINVAL, "Invalid thread categories: %s", bad.data);
        goto fail;
    }
    for (int t = 0; t < SECCOMP_THREAD_COUNT; t++)
        if (!seen[t]) {
            rc = sq_errf(err, -EINVAL, "Missing thread category: %s",
                         thread_names[t]);
            goto fail;
        }
    return 0;
fail:
    buf_fini(&bad);
    seccomp_filters_fini(out);
    return rc;
}

/* JSON whitespace, then '{': a JSON document. A compiled file starts with
 * its number of categories, and one that starts with '{' (123) or a
 * whitespace byte would list 9 or more categories: never a valid file. */
static bool looks_like_json(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')
            continue;
        return p[i] == '{';
    }
    return false;
}

int seccomp_filters_from_file(const char *path, struct seccomp_filters *out,
                              struct sq_err *err)
{
    struct buf b = BUF_INIT;
    char chunk[65536], os[128];
    int fd, rc;

    memset(out, 0, sizeof(*out));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sq_errf(err, -errno, "Filter file open error: %s",
                       sq_os_error(errno, os, sizeof(os)));
    /* Read one byte past the larger limit, and no further. */
    while (b.len <= SECCOMP_MAX_FILE_SIZE) {
        size_t want = SECCOMP_MAX_FILE_SIZE + 1 - b.len;
        ssize_t n =
            read(fd, chunk, want < sizeof(chunk) ? want : sizeof(chunk));

        if (n < 0) {
            rc = sq_errf(err, -errno, DESER "Failed to read input: %s",
                         sq_os_error(errno, os, sizeof(os)));
            goto out;
        }
        if (n == 0)
            break;
        buf_append(&b, chunk, (size_t)n);
    }
    if (looks_like_json(b.data, b.len)) {
        if (b.len > SECCOMP_MAX_FILE_SIZE) {
            rc = sq_errf(err, -EFBIG,
                         DESER "Input size %zu exceeds limit of %d bytes",
                         b.len, SECCOMP_MAX_FILE_SIZE);
            goto out;
        }
        rc = seccomp_filters_from_json(b.data, b.len, out, err);
    } else if (b.len > SECCOMP_MAX_BITCODE_SIZE) {
        /* Upstream reads limit + 1 bytes and reports that. */
        rc = sq_errf(err, -EFBIG,
                     DESER "Input size %d exceeds limit of %d bytes",
                     SECCOMP_MAX_BITCODE_SIZE + 1, SECCOMP_MAX_BITCODE_SIZE);
    } else {
        rc =
            seccomp_filters_from_bitcode(b.data ? b.data : "", b.len, out, err);
    }
out:
    close(fd);
    buf_fini(&b);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Installing                                                              */

/* Install insns[0..n) on the calling thread (see seccomp_prog_install()). */
static int install(const struct sock_filter *insns, size_t n)
{
    /* Drops the const without an integer round trip. */
    union {
        const struct sock_filter *ro;
        struct sock_filter *rw;
    } filter = {.ro = insns};
    struct sock_fprog prog;

    if (n == 0)
        return 0;
    if (n > SECCOMP_MAX_INSNS)
        return -E2BIG;
    prog.len = (unsigned short)n;
    /* struct sock_fprog has no const; the kernel only copies the program
     * (the arrays compiled at build time are read-only data). */
    prog.filter = filter.rw;
    /* Required to install a filter without CAP_SYS_ADMIN, and what keeps
     * an exec'd child (none exists) from gaining privileges. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -errno;
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
        return -errno;
    return 0;
}

const char *seccomp_install_strerror(int rc, char *out, size_t out_len)
{
    char os[128];

    if (rc == -E2BIG)
        snprintf(out, out_len,
                 "Filter length exceeds the maximum size of %d "
                 "instructions",
                 SECCOMP_MAX_INSNS);
    else
        snprintf(out, out_len, "prctl` syscall failed with error code: %s",
                 sq_os_error(-rc, os, sizeof(os)));
    return out;
}

int seccomp_prog_install(const struct seccomp_prog *p)
{
    return p ? install(p->insns, p->n_insns) : 0;
}

/*
 * The process-wide configuration: written once by seccomp_setup() on the
 * main thread before any other thread exists, read-only afterwards (see
 * seccomp.h for why this is file-scope state).
 */
static struct {
    bool configured;
    /* What each kind installs: the built-in programs, or those of
     * `custom`; empty under --no-seccomp. */
    struct seccomp_static_filters active;
    struct seccomp_filters custom; /* owned; a --seccomp-filter file */
    seccomp_entered_fn *entered;   /* may be NULL */
} g_seccomp;

int seccomp_setup(bool no_seccomp, const char *filter_path,
                  const struct seccomp_static_filters *defaults,
                  seccomp_entered_fn *entered, struct sq_err *err)
{
    memset(&g_seccomp.active, 0, sizeof(g_seccomp.active));
    memset(&g_seccomp.custom, 0, sizeof(g_seccomp.custom));
    if (filter_path && !no_seccomp) {
        int rc = seccomp_filters_from_file(filter_path, &g_seccomp.custom, err);

        if (rc < 0)
            return rc;
        for (int i = 0; i < SECCOMP_THREAD_COUNT; i++) {
            g_seccomp.active.prog[i].insns = g_seccomp.custom.prog[i].insns;
            g_seccomp.active.prog[i].n_insns = g_seccomp.custom.prog[i].n_insns;
        }
    } else if (!no_seccomp && defaults) {
        g_seccomp.active = *defaults;
    }
    g_seccomp.entered = entered;
    g_seccomp.configured = true;
    return 0;
}

int seccomp_enter(enum seccomp_thread kind)
{
    int rc;

    if (!g_seccomp.configured || (unsigned)kind >= SECCOMP_THREAD_COUNT)
        return 0;
    rc = install(g_seccomp.active.prog[kind].insns,
                 g_seccomp.active.prog[kind].n_insns);
    if (rc < 0)
        return rc;
    if (g_seccomp.entered)
        g_seccomp.entered(kind);
    return 0;
}
