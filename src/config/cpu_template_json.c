/*
 * cpu_template_json.c: a struct cpu_template written as upstream's
 * serde_json::to_string_pretty writes a CustomCpuTemplate, and compared as
 * its derived PartialEq compares (see cpu_template.h).
 */
#include <stdio.h>
#include <string.h>

#include "config/cpu_template.h"

static const char *const reg_names[] = {"eax", "ebx", "ecx", "edx"};

void cpu_template_bitmap_str(uint64_t mask, uint64_t value, unsigned bits,
                             char *out)
{
    size_t o = 0;

    out[o++] = '0';
    out[o++] = 'b';
    for (unsigned i = bits; i-- > 0;) {
        uint64_t bit = (uint64_t)1 << i;

        char c = 'x';

        if (mask & bit)
            c = (value & bit) ? '1' : '0';
        out[o++] = c;
    }
    out[o] = '\0';
}

static void write_hex(struct json_pretty *p, const char *key, uint32_t v)
{
    char s[16];

    snprintf(s, sizeof(s), "0x%x", v);
    json_pretty_key(p, key);
    json_write_cstr(p->b, s);
}

static void write_bitmap(struct json_pretty *p, uint64_t mask, uint64_t value,
                         unsigned bits)
{
    char s[64 + 3];

    cpu_template_bitmap_str(mask, value, bits, s);
    json_pretty_key(p, "bitmap");
    json_write_cstr(p->b, s);
}

static void write_leaf(struct json_pretty *p,
                       const struct cpuid_leaf_modifier *l)
{
    json_pretty_open(p, '{');
    write_hex(p, "leaf", l->leaf);
    write_hex(p, "subleaf", l->subleaf);
    json_pretty_key(p, "flags");
    json_write_u64(p->b, l->flags);
    json_pretty_key(p, "modifiers");
    json_pretty_open(p, '[');
    for (size_t i = 0; i < l->n_modifiers; i++) {
        const struct cpuid_reg_modifier *m = &l->modifiers[i];

        json_pretty_elem(p);
        json_pretty_open(p, '{');
        json_pretty_key(p, "register");
        json_write_cstr(p->b, reg_names[m->reg & 3]);
        write_bitmap(p, m->mask, m->value, 32);
        json_pretty_close(p, '}');
    }
    json_pretty_close(p, ']');
    json_pretty_close(p, '}');
}

void cpu_template_write_pretty(const struct cpu_template *t,
                               struct json_pretty *p)
{
    char cap[16];

    json_pretty_open(p, '{');
    json_pretty_key(p, "kvm_capabilities");
    json_pretty_open(p, '[');
    for (size_t i = 0; i < t->n_kvm_caps; i++) {
        snprintf(cap, sizeof(cap), "%s%u", t->kvm_caps[i].remove ? "!" : "",
                 t->kvm_caps[i].cap);
        json_pretty_elem(p);
        json_write_cstr(p->b, cap);
    }
    json_pretty_close(p, ']');
    json_pretty_key(p, "cpuid_modifiers");
    json_pretty_open(p, '[');
    for (size_t i = 0; i < t->n_cpuid; i++) {
        json_pretty_elem(p);
        write_leaf(p, &t->cpuid[i]);
    }
    json_pretty_close(p, ']');
    json_pretty_key(p, "msr_modifiers");
    json_pretty_open(p, '[');
    for (size_t i = 0; i < t->n_msr; i++) {
        json_pretty_elem(p);
        json_pretty_open(p, '{');
        write_hex(p, "addr", t->msr[i].addr);
        write_bitmap(p, t->msr[i].mask, t->msr[i].value, 64);
        json_pretty_close(p, '}');
    }
    json_pretty_close(p, ']');
    json_pretty_close(p, '}');
}

void cpu_template_to_json(const struct cpu_template *t, struct buf *b)
{
    struct json_pretty p;

    json_pretty_init(&p, b);
    cpu_template_write_pretty(t, &p);
}

static bool leaf_equal(const struct cpuid_leaf_modifier *a,
                       const struct cpuid_leaf_modifier *b)
{
    if (a->leaf != b->leaf || a->subleaf != b->subleaf ||
        a->flags != b->flags || a->n_modifiers != b->n_modifiers)
        return false;
    for (size_t i = 0; i < a->n_modifiers; i++) {
        const struct cpuid_reg_modifier *x = &a->modifiers[i];
        const struct cpuid_reg_modifier *y = &b->modifiers[i];

        if (x->reg != y->reg || x->mask != y->mask || x->value != y->value)
            return false;
    }
    return true;
}

bool cpu_template_equal(const struct cpu_template *a,
                        const struct cpu_template *b)
{
    if (a->n_kvm_caps != b->n_kvm_caps || a->n_cpuid != b->n_cpuid ||
        a->n_msr != b->n_msr)
        return false;
    for (size_t i = 0; i < a->n_kvm_caps; i++)
        if (a->kvm_caps[i].cap != b->kvm_caps[i].cap ||
            a->kvm_caps[i].remove != b->kvm_caps[i].remove)
            return false;
    for (size_t i = 0; i < a->n_cpuid; i++)
        if (!leaf_equal(&a->cpuid[i], &b->cpuid[i]))
            return false;
    for (size_t i = 0; i < a->n_msr; i++)
        if (a->msr[i].addr != b->msr[i].addr ||
            a->msr[i].mask != b->msr[i].mask ||
            a->msr[i].value != b->msr[i].value)
            return false;
    return true;
}
