/*
 * memory_hotplug.h: PUT /hotplug/memory, upstream's MemoryHotplugConfig,
 * and PATCH, MemoryHotplugSizeUpdate (both strict;
 * vmm_config/memory_hotplug.rs). The size rules of digest 1.5 are checked
 * by upstream in the VMM, not while parsing: see
 * hotplug_memory_cfg_validate(). The GET body is in responses.h.
 */
#ifndef SQUIB_CONFIG_MEMORY_HOTPLUG_H
#define SQUIB_CONFIG_MEMORY_HOTPLUG_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

struct hotplug_memory_cfg {
    uint32_t total_size_mib;
    uint32_t block_size_mib; /* default 2 */
    uint32_t slot_size_mib;  /* default 128 */
};

int hotplug_memory_cfg_parse(const char *body, size_t len,
                             struct hotplug_memory_cfg *out,
                             struct sq_err *err);
void hotplug_memory_cfg_fini(struct hotplug_memory_cfg *h);
/* The VMM-side checks, in upstream order, with upstream's texts (without the
 * "Memory hotplug config error: " prefix, which the caller adds). */
int hotplug_memory_cfg_validate(const struct hotplug_memory_cfg *h,
                                struct sq_err *err);
/* {"total_size_mib","block_size_mib","slot_size_mib"} */
void hotplug_memory_cfg_to_json(const struct hotplug_memory_cfg *h,
                                struct buf *b);

struct hotplug_memory_update {
    uint32_t requested_size_mib;
};

int hotplug_memory_update_parse(const char *body, size_t len,
                                struct hotplug_memory_update *out,
                                struct sq_err *err);
void hotplug_memory_update_fini(struct hotplug_memory_update *h);

/* The prefix of the store's refusals of PUT /hotplug/memory. */
#define MEMORY_HOTPLUG_ERR_CONFIG "Memory hotplug config error: "

#endif
