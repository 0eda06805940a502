/*
 * template_ops.c: dump conversion, strip and verify over "modifier maps"
 * (see template_ops.h).
 *
 * A map is an array of entries sorted by key with unique keys. Upstream
 * keeps HashMaps, whose iteration order is random; squib walks keys in
 * sorted order, which only decides which of several mismatches verify
 * reports first (docs/compat.md).
 */
#include "cputmpl/template_ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/sort.h"
#include "util/xalloc.h"

struct mod_entry {
    /* CPUID: (leaf, subleaf, flags, reg); MSR: (addr in leaf, rest 0) */
    uint32_t leaf, subleaf, flags;
    uint32_t reg;
    size_t seq; /* position in the template: the last one wins */
    uint64_t mask, value;
    bool removed;
};

struct mod_map {
    size_t n;
    struct mod_entry *e; /* owned */
};

static int key_cmp(const struct mod_entry *a, const struct mod_entry *b)
{
    if (a->leaf != b->leaf)
        return a->leaf < b->leaf ? -1 : 1;
    if (a->subleaf != b->subleaf)
        return a->subleaf < b->subleaf ? -1 : 1;
    if (a->flags != b->flags)
        return a->flags < b->flags ? -1 : 1;
    if (a->reg != b->reg)
        return a->reg < b->reg ? -1 : 1;
    return 0;
}

static int entry_cmp(const void *pa, const void *pb)
{
    const struct mod_entry *a = pa, *b = pb;
    int c = key_cmp(a, b);

    if (c)
        return c;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Sort by key and keep the last entry of each key. */
static void map_settle(struct mod_map *m)
{
    size_t n = 0;

    if (m->n)
        sq_sort(m->e, m->n, sizeof(*m->e), entry_cmp);
    for (size_t i = 0; i < m->n; i++) {
        if (n && key_cmp(&m->e[n - 1], &m->e[i]) == 0)
            n--;
        m->e[n++] = m->e[i];
    }
    m->n = n;
}

static void map_cpuid(const struct cpu_template *t, struct mod_map *m)
{
    size_t total = 0, k = 0;

    for (size_t i = 0; i < t->n_cpuid; i++)
        total += t->cpuid[i].n_modifiers;
    m->e = xcalloc(total ? total : 1, sizeof(*m->e));
    for (size_t i = 0; i < t->n_cpuid; i++) {
        const struct cpuid_leaf_modifier *l = &t->cpuid[i];

        for (size_t j = 0; j < l->n_modifiers; j++, k++) {
            m->e[k].leaf = l->leaf;
            m->e[k].subleaf = l->subleaf;
            m->e[k].flags = l->flags;
            m->e[k].reg = (uint32_t)l->modifiers[j].reg;
            m->e[k].mask = l->modifiers[j].mask;
            m->e[k].value = l->modifiers[j].value;
            m->e[k].seq = k;
        }
    }
    m->n = total;
    map_settle(m);
}

static void map_msr(const struct cpu_template *t, struct mod_map *m)
{
    m->e = xcalloc(t->n_msr ? t->n_msr : 1, sizeof(*m->e));
    for (size_t i = 0; i < t->n_msr; i++) {
        m->e[i].leaf = t->msr[i].addr;
        m->e[i].mask = t->msr[i].mask;
        m->e[i].value = t->msr[i].value;
        m->e[i].seq = i;
    }
    m->n = t->n_msr;
    map_settle(m);
}

static struct mod_entry *map_find(const struct mod_map *m,
                                  const struct mod_entry *key)
{
    size_t lo = 0, hi = m->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(&m->e[mid], key);

        if (c == 0)
            return m->e[mid].removed ? NULL : &m->e[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The map's live entries back into t's CPUID list (replacing it). */
static void unmap_cpuid(const struct mod_map *m, struct cpu_template *t)
{
    struct cpuid_leaf_modifier *l = NULL;

    for (size_t i = 0; i < t->n_cpuid; i++)
        free(t->cpuid[i].modifiers);
    free(t->cpuid);
    t->cpuid = xcalloc(m->n ? m->n : 1, sizeof(*t->cpuid));
    t->n_cpuid = 0;
    for (size_t i = 0; i < m->n; i++) {
        const struct mod_entry *e = &m->e[i];
        struct cpuid_reg_modifier *r;

        if (e->removed)
            continue;
        if (!l || l->leaf != e->leaf || l->subleaf != e->subleaf ||
            l->flags != e->flags) {
            l = &t->cpuid[t->n_cpuid++];
            l->leaf = e->leaf;
            l->subleaf = e->subleaf;
            l->flags = e->flags;
            l->modifiers = xcalloc(4, sizeof(*l->modifiers));
        }
        r = &l->modifiers[l->n_modifiers++];
        r->reg = (enum cpuid_reg)e->reg;
        r->mask = (uint32_t)e->mask;
        r->value = (uint32_t)e->value;
    }
}

static void unmap_msr(const struct mod_map *m, struct cpu_template *t)
{
    free(t->msr);
    t->msr = xcalloc(m->n ? m->n : 1, sizeof(*t->msr));
    t->n_msr = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (m->e[i].removed)
            continue;
        t->msr[t->n_msr].addr = m->e[i].leaf;
        t->msr[t->n_msr].mask = m->e[i].mask;
        t->msr[t->n_msr].value = m->e[i].value;
        t->n_msr++;
    }
}

/* ---- dump ------------------------------------------------------------- */

struct msr_range {
    uint32_t base, n;
};

static const struct msr_range excluded[] = {
    {0x10, 1},        /* MSR_IA32_TSC */
    {0x6e0, 1},       /* MSR_IA32_TSC_DEADLINE */
    {0x17a, 1},       /* MSR_IA32_MCG_STATUS */
    {0x4d0, 1},       /* MSR_IA32_MCG_EXT_CTL */
    {0x345, 1},       /* MSR_IA32_PERF_CAPABILITIES */
    {0x3f1, 2},       /* MSR_IA32_PEBS_ENABLE, MSR_PEBS_DATA_CFG */
    {0x600, 1},       /* MSR_IA32_DS_AREA */
    {0xc0010000, 4},  /* MSR_K7_EVNTSELn */
    {0xc0010004, 4},  /* MSR_K7_PERFCTRn */
    {0xc0010200, 12}, /* MSR_F15H_PERF_CTLn / CTRn */
};

bool cputmpl_msr_excluded(uint32_t index, bool amd_host)
{
    for (size_t i = 0; i < sizeof(excluded) / sizeof(excluded[0]); i++)
        if (index >= excluded[i].base &&
            index - excluded[i].base < excluded[i].n)
            return true;
    return amd_host && index == 0x10a; /* MSR_IA32_ARCH_CAPABILITIES */
}

void cputmpl_from_dump(const struct kvm_cpuid2 *cpuid,
                       const struct cpu_dump_msr *msrs, size_t n_msrs,
                       bool amd_host, struct cpu_template *out)
{
    struct mod_map m = {0};
    size_t k = 0;

    cpu_template_fini(out);
    m.e = xcalloc(cpuid->nent ? 4 * (size_t)cpuid->nent : 1, sizeof(*m.e));
    for (uint32_t i = 0; i < cpuid->nent; i++) {
        const struct kvm_cpuid_entry2 *c = &cpuid->entries[i];
        const uint32_t regs[4] = {c->eax, c->ebx, c->ecx, c->edx};

        for (uint32_t r = 0; r < 4; r++, k++) {
            m.e[k].leaf = c->function;
            m.e[k].subleaf = c->index;
            m.e[k].reg = r;
            m.e[k].mask = UINT32_MAX;
            m.e[k].value = regs[r];
            m.e[k].seq = k;
        }
    }
    /* The key is (leaf, subleaf) (flags are 0 here): a repeated entry
     * keeps its last registers, then its last flags. */
    m.n = k;
    map_settle(&m);
    for (size_t j = 0; j < m.n; j++) {
        for (uint32_t i = cpuid->nent; i-- > 0;) {
            if (cpuid->entries[i].function == m.e[j].leaf &&
                cpuid->entries[i].index == m.e[j].subleaf) {
                m.e[j].flags = cpuid->entries[i].flags;
                break;
            }
        }
    }
    unmap_cpuid(&m, out);
    free(m.e);

    memset(&m, 0, sizeof(m));
    m.e = xcalloc(n_msrs ? n_msrs : 1, sizeof(*m.e));
    for (size_t i = 0; i < n_msrs; i++) {
        if (cputmpl_msr_excluded(msrs[i].index, amd_host))
            continue;
        m.e[m.n].leaf = msrs[i].index;
        m.e[m.n].mask = UINT64_MAX;
        m.e[m.n].value = msrs[i].data;
        m.e[m.n].seq = i;
        m.n++;
    }
    map_settle(&m);
    unmap_msr(&m, out);
    free(m.e);
}

/* ---- strip ------------------------------------------------------------ */

static void strip_common(struct mod_map *maps, size_t n)
{
    struct mod_map *first = &maps[0];

    for (size_t i = 0; i < first->n; i++) {
        const struct mod_entry *c = &first->e[i];
        uint64_t diff = 0;
        bool in_all = true;

        for (size_t m = 1; m < n; m++) {
            const struct mod_entry *f = map_find(&maps[m], c);

            if (!f) {
                in_all = false;
                continue;
            }
            diff |= (f->value & f->mask) ^ (c->value & c->mask);
        }
        if (!in_all)
            continue;
        /* Copy the key: removing it from maps[0] below changes *c. */
        {
            struct mod_entry key = *c;

            for (size_t m = 0; m < n; m++) {
                struct mod_entry *f = map_find(&maps[m], &key);

                if (diff == 0)
                    f->removed = true;
                else
                    f->mask &= diff;
            }
        }
    }
}

int cputmpl_strip(struct cpu_template *t, size_t n, struct sq_err *err)
{
    struct mod_map *cpuid, *msr;

    if (n < 2)
        return sq_errf(err, -EINVAL,
                       "The number of inputs should be two or more.");
    cpuid = xcalloc(n, sizeof(*cpuid));
    msr = xcalloc(n, sizeof(*msr));
    for (size_t i = 0; i < n; i++) {
        map_cpuid(&t[i], &cpuid[i]);
        map_msr(&t[i], &msr[i]);
    }
    strip_common(cpuid, n);
    strip_common(msr, n);
    for (size_t i = 0; i < n; i++) {
        struct cpu_template out = {0};

        unmap_cpuid(&cpuid[i], &out);
        unmap_msr(&msr[i], &out);
        cpu_template_fini(&t[i]);
        t[i] = out;
        free(cpuid[i].e);
        free(msr[i].e);
    }
    free(cpuid);
    free(msr);
    return 0;
}

/* ---- verify ----------------------------------------------------------- */

static void key_text(const struct mod_entry *e, bool is_msr, struct buf *b)
{
    static const char *const regs[] = {"eax", "ebx", "ecx", "edx"};

    if (is_msr) {
        buf_printf(b, "index=0x%x", e->leaf);
        return;
    }
    buf_printf(b, "leaf=0x%x, subleaf=0x%x, flags=0b", e->leaf, e->subleaf);
    if (e->flags == 0)
        buf_putc(b, '0');
    for (int i = 31; i >= 0; i--)
        if (e->flags >> i)
            buf_putc(b, (e->flags >> i) & 1 ? '1' : '0');
    buf_printf(b, ", register=%s", regs[e->reg & 3]);
}

/* DiffString::to_diff_string for `bits`-wide values. */
static void diff_text(uint64_t t, uint64_t c, unsigned bits, struct buf *b)
{
    buf_puts(b, "* CPU template     : 0b");
    for (unsigned i = bits; i-- > 0;)
        buf_putc(b, (t >> i) & 1 ? '1' : '0');
    buf_puts(b, "\n* CPU configuration: 0b");
    for (unsigned i = bits; i-- > 0;)
        buf_putc(b, (c >> i) & 1 ? '1' : '0');
    buf_puts(b, "\n* Diff             :   ");
    for (unsigned i = bits; i-- > 0;)
        buf_putc(b, ((t ^ c) >> i) & 1 ? '^' : ' ');
}

static int verify_common(const struct mod_map *tm, const struct mod_map *cm,
                         bool is_msr, struct sq_err *err)
{
    for (size_t i = 0; i < tm->n; i++) {
        const struct mod_entry *t = &tm->e[i];
        const struct mod_entry *c = map_find(cm, t);
        struct buf b = BUF_INIT;
        uint64_t tv, cv;
        int rc;

        if (!c) {
            key_text(t, is_msr, &b);
            rc = sq_errf(err, -EINVAL, "%s not found in CPU configuration.",
                         b.data);
            buf_fini(&b);
            return rc;
        }
        tv = t->value & t->mask;
        cv = c->value & t->mask;
        if (tv == cv)
            continue;
        buf_puts(&b, "Value for ");
        key_text(t, is_msr, &b);
        buf_puts(&b, " mismatched.\n");
        diff_text(tv, cv, is_msr ? 64 : 32, &b);
        rc = sq_errf(err, -EINVAL, "%s", b.data);
        buf_fini(&b);
        return rc;
    }
    return 0;
}

int cputmpl_verify(const struct cpu_template *tmpl,
                   const struct cpu_template *config, struct sq_err *err)
{
    struct mod_map t = {0}, c = {0};
    int rc;

    map_cpuid(tmpl, &t);
    map_cpuid(config, &c);
    rc = verify_common(&t, &c, false, err);
    free(t.e);
    free(c.e);
    if (rc)
        return rc;
    map_msr(tmpl, &t);
    map_msr(config, &c);
    rc = verify_common(&t, &c, true, err);
    free(t.e);
    free(c.e);
    return rc;
}
