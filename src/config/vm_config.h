/*
 * vm_config.h: the --config-file document, upstream's VmmConfig
 * (kebab-case keys, NOT strict), and GET /vm/config, which writes the same
 * document back.
 */
#ifndef SQUIB_CONFIG_VM_CONFIG_H
#define SQUIB_CONFIG_VM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "config/balloon.h"
#include "config/boot.h"
#include "config/cpu_template.h"
#include "config/drive.h"
#include "config/entropy.h"
#include "config/logger.h"
#include "config/machine.h"
#include "config/memory_hotplug.h"
#include "config/metrics.h"
#include "config/mmds.h"
#include "config/net.h"
#include "config/pmem.h"
#include "config/vsock.h"
#include "util/buf.h"
#include "util/err.h"

enum cpu_config_kind {
    CPU_CONFIG_NONE = 0, /* key absent or null */
    CPU_CONFIG_PATH,     /* a string: path of a template JSON file */
    CPU_CONFIG_TEMPLATE, /* an inline template object */
};

struct vmm_config_file {
    bool has_balloon;
    struct balloon_cfg balloon;
    size_t n_drives;
    struct drive_cfg *drives;           /* owned */
    struct boot_source_cfg boot_source; /* required */
    enum cpu_config_kind cpu_config_kind;
    char *cpu_config_path;          /* owned; set for CPU_CONFIG_PATH */
    struct cpu_template cpu_config; /* set for CPU_CONFIG_TEMPLATE */
    bool has_logger;
    struct logger_cfg logger;
    bool has_machine_config;
    struct machine_cfg machine_config; /* as parsed by PUT (has_* set) */
    bool has_metrics;
    struct metrics_cfg metrics;
    bool has_mmds_config;
    struct mmds_cfg mmds_config;
    size_t n_network_interfaces;
    struct net_iface_cfg *network_interfaces; /* owned */
    bool has_vsock;
    struct vsock_cfg vsock;
    bool has_entropy;
    struct entropy_cfg entropy;
    size_t n_pmem;
    struct pmem_cfg *pmem; /* owned */
    bool has_memory_hotplug;
    struct hotplug_memory_cfg memory_hotplug;
};

/*
 * Parse a --config-file document. On failure returns -EINVAL with err->msg =
 * upstream's ResourcesError text "Invalid JSON: {serde message}"; the caller
 * adds "Configuration for VMM from one single json failed: " etc.
 */
int vmm_config_file_parse(const char *json, size_t len,
                          struct vmm_config_file *out, struct sq_err *err);
void vmm_config_file_fini(struct vmm_config_file *c);

/*
 * GET /vm/config: the document upstream serializes from its resources,
 * which is itself a valid config file. Keys in upstream's order: balloon,
 * drives, boot-source, cpu-config, logger, machine-config, metrics,
 * mmds-config, network-interfaces, vsock, entropy, pmem, memory-hotplug;
 * absent sections are null. cpu-config, logger and metrics are always null
 * (upstream never reports them). The caller fills *c from the VM state
 * (has_machine_config is always true upstream; a missing boot source is
 * written with kernel_image_path "").
 */
void vmm_config_file_to_json(const struct vmm_config_file *c, struct buf *b);

#endif
