/*
 * cpu_template.c: lifetime of struct cpu_template (see cpu_template.h).
 */
#include "config/cpu_template.h"

#include <stdlib.h>
#include <string.h>

void cpu_template_fini(struct cpu_template *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_cpuid; i++)
        free(t->cpuid[i].modifiers);
    free(t->cpuid);
    free(t->kvm_caps);
    free(t->msr);
    memset(t, 0, sizeof(*t));
}
