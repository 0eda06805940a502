/*
 * boot.h: PUT /boot-source, upstream's BootSourceConfig (strict;
 * vmm_config/boot_source.rs).
 */
#ifndef SQUIB_CONFIG_BOOT_H
#define SQUIB_CONFIG_BOOT_H

#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

struct boot_source_cfg {
    char *kernel_image_path; /* owned; never NULL after parse ("" allowed) */
    char *initrd_path;       /* owned; NULL = None */
    char *boot_args;         /* owned; NULL = None ("" is kept as "") */
};

int boot_source_cfg_parse(const char *body, size_t len,
                          struct boot_source_cfg *out, struct sq_err *err);
void boot_source_cfg_fini(struct boot_source_cfg *c);
/* {"kernel_image_path":"..","initrd_path":..|null,"boot_args":..|null};
 * a NULL kernel_image_path is written as "" (GET /vm/config before any PUT). */
void boot_source_cfg_to_json(const struct boot_source_cfg *c, struct buf *b);

#endif
