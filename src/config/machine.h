/*
 * machine.h: PUT and PATCH /machine-config, upstream's MachineConfig and
 * MachineConfigUpdate (strict; vmm_config/machine_config.rs), with the
 * static CPU template and huge page enums. Custom CPU templates are in
 * cpu_template.h.
 */
#ifndef SQUIB_CONFIG_MACHINE_H
#define SQUIB_CONFIG_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

/* StaticCpuTemplate, in upstream declaration order. */
enum static_cpu_template {
    STATIC_CPU_TEMPLATE_C3,
    STATIC_CPU_TEMPLATE_T2,
    STATIC_CPU_TEMPLATE_T2S,
    STATIC_CPU_TEMPLATE_NONE, /* "None": clears the template */
    STATIC_CPU_TEMPLATE_T2CL,
    STATIC_CPU_TEMPLATE_T2A,
};

enum huge_pages {
    HUGE_PAGES_NONE = 0,    /* "None" */
    HUGE_PAGES_TRANSPARENT, /* "Transparent" */
    HUGE_PAGES_2M,          /* "2M" */
};

/* The one machine-config type: PUT fills every has_* that upstream's
 * MachineConfig -> MachineConfigUpdate conversion sets (vcpu_count,
 * mem_size_mib, smt, track_dirty_pages, huge_pages always; cpu_template only
 * when given), PATCH only the fields present. */
struct machine_cfg {
    bool has_vcpu_count;
    uint8_t vcpu_count;
    bool has_mem_size_mib;
    uint64_t mem_size_mib; /* usize */
    bool has_smt;
    bool smt;
    bool has_cpu_template;
    enum static_cpu_template cpu_template;
    bool has_track_dirty_pages;
    bool track_dirty_pages;
    bool has_huge_pages;
    enum huge_pages huge_pages;
    bool deprecated; /* cpu_template given: send "Deprecation: true" */
};

/* PUT: vcpu_count and mem_size_mib required, the rest defaulted. */
int machine_cfg_parse(const char *body, size_t len, struct machine_cfg *out,
                      struct sq_err *err);
/* PATCH: all optional; no field set -> "Empty PATCH request." (no prefix). */
int machine_cfg_update_parse(const char *body, size_t len,
                             struct machine_cfg *out, struct sq_err *err);
void machine_cfg_fini(struct machine_cfg *m);
/* GET /machine-config and vm/config:
 * {"vcpu_count":N,"mem_size_mib":N,"smt":b,["cpu_template":"T2",]
 *  "track_dirty_pages":b,"huge_pages":"None"}. Uses the values, ignores
 * has_*; cpu_template written only if has_cpu_template and not NONE. */
void machine_cfg_to_json(const struct machine_cfg *m, struct buf *b);

/* Names used in the JSON for the enums above. */
const char *static_cpu_template_name(enum static_cpu_template t);
const char *huge_pages_name(enum huge_pages h);

#endif
