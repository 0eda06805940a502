/*
 * resources.h: the microVM configuration store (upstream's VmResources).
 *
 * Everything a client configures before InstanceStart lives here, already
 * validated and with its host resources acquired the way upstream acquires
 * them at request time (digest 11.1): the kernel and initrd are opened at
 * PUT /boot-source, block backing files at PUT /drives, TAP devices at
 * PUT /network-interfaces, the vsock listening socket is bound at PUT /vsock.
 * The machine builder (vmm_start.c) takes these fds at boot.
 *
 * Each setter applies one request with upstream's rules and returns 0, or a
 * negative errno with err->msg set to the *detail* text; the caller (vmm.c)
 * adds the category prefix ("Drive config error: ", ...). Setters copy what
 * they keep: the request structs stay owned by the caller.
 *
 * The stored configs are normalised the way upstream reports them back
 * (GET /vm/config): e.g. a virtio-block drive always has is_read_only and
 * io_engine set, a rate limiter whose buckets are all disabled is absent, a
 * one_time_burst of 0 is absent. Rendering can therefore print them as is.
 *
 * Single-threaded: only the vmm thread touches a struct vm_resources.
 */
#ifndef SQUIB_VMM_RESOURCES_H
#define SQUIB_VMM_RESOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "config/cpu_template.h"
#include "util/err.h"

struct mmds_store;

/* Upstream's defaults and limits. */
#define RES_DEFAULT_VCPU_COUNT   1
#define RES_DEFAULT_MEM_SIZE_MIB 128
#define RES_MAX_VCPUS            32
#define RES_IFNAMSIZ             16
#define RES_NET_MTU_MIN          68

struct res_drive {
    struct drive_cfg cfg; /* owned strings; normalised (see above) */
    bool is_vhost_user;   /* socket backend; fd is -1 */
    int fd;               /* owned backing file; -1 for vhost-user */
    uint64_t size;        /* bytes at open time */
};

struct res_net {
    struct net_iface_cfg cfg; /* owned strings; host_dev_name = the name the
                                 kernel gave the TAP (upstream's iface_name) */
    int tap_fd;               /* owned /dev/net/tun fd */
    bool mmds;                /* MMDS network stack enabled on this NIC */
    uint8_t mmds_ipv4[4];     /* valid when mmds */
};

struct res_vsock {
    struct vsock_cfg cfg; /* owned strings; vsock_id always NULL */
    int listen_fd;        /* owned, bound and listening on cfg.uds_path */
};

struct res_boot {
    bool configured;            /* a PUT /boot-source succeeded */
    struct boot_source_cfg cfg; /* owned strings; kernel path "" if never set */
    int kernel_fd;              /* owned, O_RDONLY; -1 if not configured */
    int initrd_fd;              /* owned, O_RDONLY; -1 if none */
};

/*
 * Opens TAP `name` as upstream's Tap::open_named + set_vnet_hdr_size do and
 * returns the fd in *fd and the interface name the kernel reports (e.g.
 * "tap0" for "tap%d"; NUL-terminated) in if_name. On failure the detail
 * text is the NetError part ("Open tap device failed: ...", "Setting vnet
 * header size failed: ...").
 */
typedef int res_tap_open_fn(const char *name, int *fd,
                            char if_name[RES_IFNAMSIZ], struct sq_err *err);
res_tap_open_fn res_tap_open;

struct vm_resources {
    /* Machine config: every has_* of the value fields is true; has_cpu_template
     * means a *static* template is set (mutually exclusive with custom). */
    struct machine_cfg machine;
    bool has_custom_template;
    struct cpu_template custom_template; /* owned */

    struct res_boot boot;

    /* Drives: at most one root, and it is always drives[0]. */
    struct res_drive *drives; /* owned array */
    size_t n_drives;

    /* NICs in attach order (replacement is swap-remove + append). */
    struct res_net *nets; /* owned array */
    size_t n_nets;

    struct pmem_cfg *pmems; /* owned array of owned configs */
    size_t n_pmems;

    bool has_vsock;
    struct res_vsock vsock;

    bool has_entropy;
    struct entropy_cfg entropy; /* normalised rate limiter */

    bool has_balloon;
    struct balloon_cfg balloon;

    /* PUT /serial (not part of /vm/config). */
    char *serial_out_path; /* owned; NULL = stdout */
    bool has_serial_rate_limiter;
    struct token_bucket_cfg serial_rate_limiter;

    bool has_memory_hotplug;
    struct hotplug_memory_cfg memory_hotplug;

    /* The MMDS data store, created on first use (NULL before). */
    struct mmds_store *mmds; /* owned */
    size_t mmds_size_limit;

    bool boot_timer;
    bool pci_enabled;

    res_tap_open_fn *tap_open; /* res_tap_open; unit tests swap it */
};

/* Initialise with upstream's defaults (1 vCPU, 128 MiB, nothing else). */
void res_init(struct vm_resources *r, size_t mmds_size_limit, bool pci_enabled,
              bool boot_timer);
/* Release everything (closes fds, unlinks nothing). NULL-safe. */
void res_fini(struct vm_resources *r);

/* PUT /boot-source. Opens kernel (and initrd) read-only, validates boot_args
 * with cmdline_validate(). Detail texts: "The kernel file cannot be opened:
 * {io}", "The initrd file cannot be opened due to invalid path or invalid
 * permissions. {io}", "The kernel command line is invalid: {reason}".
 * On failure the previous boot source is kept. */
int res_set_boot_source(struct vm_resources *r,
                        const struct boot_source_cfg *cfg, struct sq_err *err);

/* PUT /drives/{id} (BlockBuilder::insert). Root ordering, backend selection
 * ("Unable to create the virtio block device: Invalid block config."),
 * backing file opened read-only or read-write. */
int res_set_drive(struct vm_resources *r, const struct drive_cfg *cfg,
                  struct sq_err *err);
/* Block::new alone: what PUT /drives checks of the device itself (backend,
 * backing file opened as configured), with the same detail texts, keeping
 * nothing (no metrics group either). 0 or -errno. */
int res_check_drive(const struct drive_cfg *cfg, struct sq_err *err);
/* True if drives[0] is a root device (BlockBuilder::has_root_device). */
bool res_has_root_block(const struct vm_resources *r);
/* The drive with this id (exact bytes), or NULL. Borrowed; valid until the
 * next drive change. */
struct res_drive *res_find_drive(struct vm_resources *r, const char *id,
                                 size_t id_len);

/* PUT /network-interfaces/{id} (NetBuilder::build): MAC uniqueness, then
 * swap-remove of an existing id (even if the rest fails, as upstream), TAP
 * open, MTU range. */
int res_set_net(struct vm_resources *r, const struct net_iface_cfg *cfg,
                struct sq_err *err);
/* NetBuilder::create_net alone: the TAP opened (r->tap_open) and closed
 * again, and the MTU's range, with res_set_net's detail texts; r is not
 * changed. 0 or -errno. */
int res_check_net(const struct vm_resources *r, const struct net_iface_cfg *cfg,
                  struct sq_err *err);
/* The NIC with this id (exact bytes), or NULL. Borrowed; valid until the
 * next NIC change. */
struct res_net *res_find_net(struct vm_resources *r, const char *id,
                             size_t id_len);

/* PUT /pmem/{id} (PmemBuilder::build). The file is only opened at boot. */
int res_set_pmem(struct vm_resources *r, const struct pmem_cfg *cfg,
                 struct sq_err *err);
/* True if some pmem device is the root device. */
bool res_has_root_pmem(const struct vm_resources *r);

/*
 * Hot-unplug (and a failed hot-plug): drop the drive, NIC or pmem device
 * with this id, closing its backing file or TAP, the others keeping their
 * order. 0, or -ENOENT when there is none (nothing changes).
 */
int res_remove_drive(struct vm_resources *r, const char *id);
int res_remove_net(struct vm_resources *r, const char *id);
int res_remove_pmem(struct vm_resources *r, const char *id);
/* PUT /vsock: unlinks the previous uds_path, binds the new one. Detail:
 * "Cannot create backend for vsock device: Error binding to the host-side
 * Unix socket: {io}". */
int res_set_vsock(struct vm_resources *r, const struct vsock_cfg *cfg,
                  struct sq_err *err);

/* PUT /entropy. Cannot fail. */
int res_set_entropy(struct vm_resources *r, const struct entropy_cfg *cfg,
                    struct sq_err *err);

/* PUT /balloon: "Amount of pages requested is too large." when amount_mib >
 * mem_size_mib. */
int res_set_balloon(struct vm_resources *r, const struct balloon_cfg *cfg,
                    struct sq_err *err);

/* PUT/PATCH /machine-config (MachineConfig::update + the balloon check). The
 * update applies the fields whose has_* is set. Details: "The number of vCPUs
 * must be greater than 0, less than 32 and must be 1 or an even number if SMT
 * is enabled.", "The memory size (MiB) is either 0, or not a multiple of the
 * configured page size.", "The memory size (MiB) is smaller than the
 * previously set balloon device target size." */
int res_update_machine_config(struct vm_resources *r,
                              const struct machine_cfg *upd,
                              struct sq_err *err);

/* PUT /cpu-config: replaces any static or custom template (deep copy). */
void res_set_custom_cpu_template(struct vm_resources *r,
                                 const struct cpu_template *t);

/* PUT /serial. */
void res_set_serial(struct vm_resources *r, const struct serial_cfg *cfg);

/* PUT /hotplug/memory: the size rules of digest 1.5 in upstream's order
 * (hotplug_memory_cfg_validate(); details without the "Memory hotplug
 * config error: " prefix). */
int res_set_memory_hotplug(struct vm_resources *r,
                           const struct hotplug_memory_cfg *cfg,
                           struct sq_err *err);

/* PUT /mmds/config: IPv4 check, non-empty list, every id an existing NIC;
 * then enables MMDS on the listed NICs (and disables it on the others) and
 * sets the store's version / imds_compat / token AAD. Details without the
 * "MMMDS config error: " prefix. */
int res_set_mmds_config(struct vm_resources *r, const struct mmds_cfg *cfg,
                        const char *instance_id, struct sq_err *err);

/* The data store, created with the configured limit if absent. */
struct mmds_store *res_mmds_or_default(struct vm_resources *r);

/* True if some NIC has MMDS enabled (post-boot MMDS access needs one). */
bool res_mmds_attached(const struct vm_resources *r);
/* VmResources::mmds_config: false unless the store exists and some NIC
 * forwards to it; then *c as PUT /mmds/config would give it (the address
 * is the first such NIC's), its network_interfaces pointing into `ids`
 * (room for every NIC; borrowed iface ids). */
bool res_mmds_config_view(const struct vm_resources *r, struct mmds_cfg *c,
                          char **ids);

/* PATCH rate limiter semantics (rate_limiter_cfg_update(), config/
 * rate_limiter.h), under the name the devices' PATCH handlers use. */
static inline void res_rate_limiter_update(bool *has,
                                           struct rate_limiter_cfg *cur,
                                           bool upd_has,
                                           const struct rate_limiter_cfg *upd)
{
    rate_limiter_cfg_update(has, cur, upd_has, upd);
}

#endif
