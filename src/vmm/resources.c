/*
 * resources.c: the configuration store (see resources.h).
 *
 * Each setter follows the corresponding upstream builder step by step,
 * because the order of checks decides which error a client sees when a
 * request is wrong in several ways (e.g. NetBuilder::build checks the MAC
 * before it drops the old device, and drops the old device before it opens
 * the TAP, so a failed re-PUT loses the previous NIC: upstream does that
 * too). The checks that do not need state happened while parsing
 * (config/config.h).
 */
#include "vmm/resources.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio/tap.h"
#include "mmds/store.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "util/xalloc.h"
#include "vmm/cmdline.h"
#include "vmm/device_cfg.h"

static char *dup_opt(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static char *dup_len(const char *s, size_t len)
{
    char *p = xmalloc(len + 1);

    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static bool id_eq(const char *a, size_t a_len, const char *b, size_t b_len)
{
    return a_len == b_len && !memcmp(a, b, a_len);
}

/* ---------------------------------------------------------------------- */
/* Lifetime */

static void drive_cfg_release(struct drive_cfg *d)
{
    free(d->drive_id);
    free(d->partuuid);
    free(d->path_on_host);
    free(d->socket);
    memset(d, 0, sizeof(*d));
}

static void net_cfg_release(struct net_iface_cfg *n)
{
    free(n->iface_id);
    free(n->host_dev_name);
    memset(n, 0, sizeof(*n));
}

static void pmem_cfg_release(struct pmem_cfg *p)
{
    free(p->id);
    free(p->path_on_host);
    memset(p, 0, sizeof(*p));
}

static void boot_release(struct res_boot *b)
{
    free(b->cfg.kernel_image_path);
    free(b->cfg.initrd_path);
    free(b->cfg.boot_args);
    close_fd(&b->kernel_fd);
    close_fd(&b->initrd_fd);
    memset(&b->cfg, 0, sizeof(b->cfg));
    b->configured = false;
}

static void vsock_release(struct res_vsock *v)
{
    free(v->cfg.vsock_id);
    free(v->cfg.uds_path);
    memset(&v->cfg, 0, sizeof(v->cfg));
    close_fd(&v->listen_fd);
}

static void drive_release(struct res_drive *d)
{
    drive_cfg_release(&d->cfg);
    close_fd(&d->fd);
}

static void net_release(struct res_net *n)
{
    net_cfg_release(&n->cfg);
    close_fd(&n->tap_fd);
}

void res_init(struct vm_resources *r, size_t mmds_size_limit, bool pci_enabled,
              bool boot_timer)
{
    memset(r, 0, sizeof(*r));
    r->machine.has_vcpu_count = true;
    r->machine.vcpu_count = RES_DEFAULT_VCPU_COUNT;
    r->machine.has_mem_size_mib = true;
    r->machine.mem_size_mib = RES_DEFAULT_MEM_SIZE_MIB;
    r->machine.has_smt = true;
    r->machine.has_track_dirty_pages = true;
    r->machine.has_huge_pages = true;
    r->machine.huge_pages = HUGE_PAGES_NONE;
    r->boot.kernel_fd = -1;
    r->boot.initrd_fd = -1;
    r->vsock.listen_fd = -1;
    r->mmds_size_limit = mmds_size_limit;
    r->pci_enabled = pci_enabled;
    r->boot_timer = boot_timer;
    r->tap_open = res_tap_open;
}

void res_fini(struct vm_resources *r)
{
    if (!r)
        return;
    boot_release(&r->boot);
    for (size_t i = 0; i < r->n_drives; i++)
        drive_release(&r->drives[i]);
    free(r->drives);
    for (size_t i = 0; i < r->n_nets; i++)
        net_release(&r->nets[i]);
    free(r->nets);
    for (size_t i = 0; i < r->n_pmems; i++)
        pmem_cfg_release(&r->pmems[i]);
    free(r->pmems);
    if (r->has_vsock)
        vsock_release(&r->vsock);
    cpu_template_fini(&r->custom_template);
    free(r->serial_out_path);
    mmds_store_free(r->mmds);
    memset(r, 0, sizeof(*r));
    r->boot.kernel_fd = r->boot.initrd_fd = r->vsock.listen_fd = -1;
}

/* ---------------------------------------------------------------------- */
/* Boot source */

int res_set_boot_source(struct vm_resources *r,
                        const struct boot_source_cfg *cfg, struct sq_err *err)
{
    const char *kpath = cfg->kernel_image_path ? cfg->kernel_image_path : "";
    char os[128];
    int kfd, ifd = -1;

    kfd = open(kpath, O_RDONLY | O_CLOEXEC);
    if (kfd < 0)
        return sq_errf(err, -errno, "The kernel file cannot be opened: %s",
                       sq_os_error(errno, os, sizeof(os)));
    if (cfg->initrd_path) {
        ifd = open(cfg->initrd_path, O_RDONLY | O_CLOEXEC);
        if (ifd < 0) {
            int e = errno;

            close(kfd);
            return sq_errf(err, -e,
                           "The initrd file cannot be opened due to invalid "
                           "path or invalid permissions. %s",
                           sq_os_error(e, os, sizeof(os)));
        }
    }
    if (cfg->boot_args && cmdline_validate(cfg->boot_args, err) < 0) {
        close(kfd);
        if (ifd >= 0)
            close(ifd);
        if (err)
            sq_err_prefix(err, "The kernel command line is invalid: ");
        return err ? err->code : -EINVAL;
    }
    boot_release(&r->boot);
    r->boot.configured = true;
    r->boot.cfg.kernel_image_path = xstrdup(kpath);
    r->boot.cfg.initrd_path = dup_opt(cfg->initrd_path);
    r->boot.cfg.boot_args = dup_opt(cfg->boot_args);
    r->boot.kernel_fd = kfd;
    r->boot.initrd_fd = ifd;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Drives */

bool res_has_root_block(const struct vm_resources *r)
{
    /* The root device, if any, is always first (BlockBuilder). */
    return r->n_drives > 0 && r->drives[0].cfg.is_root_device;
}

struct res_drive *res_find_drive(struct vm_resources *r, const char *id,
                                 size_t id_len)
{
    for (size_t i = 0; i < r->n_drives; i++) {
        if (id_eq(r->drives[i].cfg.drive_id, r->drives[i].cfg.drive_id_len, id,
                  id_len))
            return &r->drives[i];
    }
    return NULL;
}

/* Block::new: pick the backend and build the stored form of the drive. */
static int drive_new(const struct drive_cfg *cfg, struct res_drive *out,
                     struct sq_err *err)
{
    char os[128];
    off_t end;
    int fd;

    memset(out, 0, sizeof(*out));
    out->fd = -1;
    if (cfg->path_on_host && !cfg->socket) {
        bool ro = cfg->has_is_read_only && cfg->is_read_only;
        bool async = cfg->has_io_engine && cfg->io_engine == IO_ENGINE_ASYNC;

        fd = open(cfg->path_on_host, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        if (fd < 0)
            return sq_errf(err, -errno,
                           "Unable to create the virtio block device: Virtio "
                           "backend error: Error manipulating the backing "
                           "file: %s %s",
                           sq_os_error(errno, os, sizeof(os)),
                           cfg->path_on_host);
        end = lseek(fd, 0, SEEK_END);
        if (end < 0) {
            int e = errno;

            close(fd);
            return sq_errf(err, -e,
                           "Unable to create the virtio block device: Virtio "
                           "backend error: Error manipulating the backing "
                           "file: %s %s",
                           sq_os_error(e, os, sizeof(os)), cfg->path_on_host);
        }
        if (async) {
            /* Upstream builds the device (and its io_uring) now, so an IO
             * engine that cannot be set up fails this request, not the
             * later InstanceStart. Build one to find out; the machine
             * builder makes the real one from the same fd. */
            struct block *b;

            if (block_new_from_drive(cfg, fd, &b, err) < 0) {
                close(fd);
                sq_err_prefix(err,
                              "Unable to create the virtio block device: ");
                return err->code;
            }
            block_free(b); /* it warned about a partial sector */
        } else if (end % 512) {
            log_warn("Disk size %lld is not a multiple of sector size 512; "
                     "the remainder will not be visible to the guest.",
                     (long long)end);
        }
        out->fd = fd;
        out->size = (uint64_t)end;
        out->cfg.drive_id = dup_len(cfg->drive_id, cfg->drive_id_len);
        out->cfg.drive_id_len = cfg->drive_id_len;
        out->cfg.partuuid = dup_opt(cfg->partuuid);
        out->cfg.is_root_device = cfg->is_root_device;
        out->cfg.cache_type = cfg->cache_type;
        out->cfg.has_is_read_only = true;
        out->cfg.is_read_only = ro;
        out->cfg.path_on_host = xstrdup(cfg->path_on_host);
        rate_limiter_cfg_store(&out->cfg.has_rate_limiter,
                               &out->cfg.rate_limiter, cfg->has_rate_limiter,
                               &cfg->rate_limiter);
        out->cfg.has_io_engine = true;
        out->cfg.io_engine =
            cfg->has_io_engine ? cfg->io_engine : IO_ENGINE_SYNC;
        return 0;
    }
    if (cfg->socket && !cfg->has_is_read_only && !cfg->path_on_host &&
        !cfg->has_rate_limiter && !cfg->has_io_engine) {
        /* Upstream connects to the vhost-user backend here and negotiates
         * the protocol; squib has no vhost-user-blk frontend yet. */
        return sq_errf(err, -EOPNOTSUPP,
                       "Unable to create the virtio block device: Vhost user "
                       "backend error: vhost-user block devices are not "
                       "supported by squib");
    }
    return sq_errf(err, -EINVAL,
                   "Unable to create the virtio block device: "
                   "Invalid block config.");
}

int res_check_drive(const struct drive_cfg *cfg, struct sq_err *err)
{
    struct res_drive dev;
    int rc = drive_new(cfg, &dev, err);

    if (rc == 0)
        drive_release(&dev);
    return rc;
}

int res_set_drive(struct vm_resources *r, const struct drive_cfg *cfg,
                  struct sq_err *err)
{
    struct res_drive *old = res_find_drive(r, cfg->drive_id, cfg->drive_id_len);
    size_t pos = old ? (size_t)(old - r->drives) : 0;
    struct res_drive dev;
    int rc;

    if (cfg->is_root_device && res_has_root_pmem(r))
        return sq_errf(err, -EINVAL,
                       "Attempt to add block as a root device while the root "
                       "device defined as a pmem device");
    /* A second root is refused, unless this replaces the current root. */
    if (cfg->is_root_device && res_has_root_block(r) && (!old || pos != 0))
        return sq_errf(err, -EEXIST, "A root block device already exists!");

    rc = drive_new(cfg, &dev, err);
    if (rc)
        return rc;
    /* Upstream's devices register their metrics group when they are made,
     * at PUT time: a flush before boot already lists it. */
    if (!dev.is_vhost_user)
        (void)metrics_block_get(dev.cfg.drive_id);

    if (!old) {
        r->drives = xrealloc(r->drives, (r->n_drives + 1) * sizeof(*r->drives));
        if (cfg->is_root_device) {
            memmove(&r->drives[1], &r->drives[0],
                    r->n_drives * sizeof(*r->drives));
            r->drives[0] = dev;
        } else {
            r->drives[r->n_drives] = dev;
        }
        r->n_drives++;
        return 0;
    }
    drive_release(&r->drives[pos]);
    r->drives[pos] = dev;
    if (pos != 0 && cfg->is_root_device) {
        /* VecDeque::swap(0, index): the new root goes first, the old first
         * drive takes its slot. */
        struct res_drive tmp = r->drives[0];

        r->drives[0] = r->drives[pos];
        r->drives[pos] = tmp;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Network interfaces */

struct res_net *res_find_net(struct vm_resources *r, const char *id,
                             size_t id_len)
{
    for (size_t i = 0; i < r->n_nets; i++) {
        if (id_eq(r->nets[i].cfg.iface_id, r->nets[i].cfg.iface_id_len, id,
                  id_len))
            return &r->nets[i];
    }
    return NULL;
}

_Static_assert(RES_IFNAMSIZ == TAP_IFNAMSIZ, "one interface-name size");

int res_tap_open(const char *name, int *fd_out, char if_name[RES_IFNAMSIZ],
                 struct sq_err *err)
{
    return tap_open(name, fd_out, if_name, err);
}

/* NetBuilder::create_net: the TAP opened, then the MTU's range. */
static int net_open(const struct vm_resources *r,
                    const struct net_iface_cfg *cfg, int *fd,
                    char if_name[RES_IFNAMSIZ], struct sq_err *err)
{
    int rc = r->tap_open(cfg->host_dev_name, fd, if_name, err);

    if (rc) {
        if (err)
            sq_err_prefix(err, "Could not create the network device: ");
        return rc;
    }
    if (cfg->has_mtu && cfg->mtu < RES_NET_MTU_MIN) {
        close(*fd);
        *fd = -1;
        return sq_errf(err, -EINVAL,
                       "Could not create the network device: MTU %u is out of "
                       "range [68, 65535]",
                       (unsigned)cfg->mtu);
    }
    return 0;
}

int res_check_net(const struct vm_resources *r, const struct net_iface_cfg *cfg,
                  struct sq_err *err)
{
    char if_name[RES_IFNAMSIZ] = "";
    int fd = -1;
    int rc = net_open(r, cfg, &fd, if_name, err);

    if (rc == 0)
        close(fd);
    return rc;
}

int res_set_net(struct vm_resources *r, const struct net_iface_cfg *cfg,
                struct sq_err *err)
{
    char if_name[RES_IFNAMSIZ] = "";
    struct res_net *old;
    struct res_net dev;
    int rc, fd = -1;

    if (cfg->has_guest_mac) {
        for (size_t i = 0; i < r->n_nets; i++) {
            const struct res_net *n = &r->nets[i];
            const uint8_t *m = cfg->guest_mac;

            if (!n->cfg.has_guest_mac || memcmp(n->cfg.guest_mac, m, 6) != 0 ||
                id_eq(n->cfg.iface_id, n->cfg.iface_id_len, cfg->iface_id,
                      cfg->iface_id_len))
                continue;
            return sq_errf(err, -EEXIST,
                           "The MAC address is already in use: "
                           "%02x:%02x:%02x:%02x:%02x:%02x",
                           m[0], m[1], m[2], m[3], m[4], m[5]);
        }
    }

    old = res_find_net(r, cfg->iface_id, cfg->iface_id_len);
    if (old) {
        size_t idx = (size_t)(old - r->nets);

        log_warn("Replacing existing network device '%s'. The previous device "
                 "configuration will be destroyed.",
                 cfg->iface_id);
        /* Vec::swap_remove: the last device takes the freed slot. */
        net_release(old);
        r->nets[idx] = r->nets[r->n_nets - 1];
        r->n_nets--;
    }

    rc = net_open(r, cfg, &fd, if_name, err);
    if (rc)
        return rc;

    memset(&dev, 0, sizeof(dev));
    dev.tap_fd = fd;
    dev.cfg.iface_id = dup_len(cfg->iface_id, cfg->iface_id_len);
    dev.cfg.iface_id_len = cfg->iface_id_len;
    dev.cfg.host_dev_name = xstrdup(if_name);
    dev.cfg.has_guest_mac = cfg->has_guest_mac;
    memcpy(dev.cfg.guest_mac, cfg->guest_mac, 6);
    dev.cfg.has_mtu = cfg->has_mtu;
    dev.cfg.mtu = cfg->mtu;
    rate_limiter_cfg_store(&dev.cfg.has_rx_rate_limiter,
                           &dev.cfg.rx_rate_limiter, cfg->has_rx_rate_limiter,
                           &cfg->rx_rate_limiter);
    rate_limiter_cfg_store(&dev.cfg.has_tx_rate_limiter,
                           &dev.cfg.tx_rate_limiter, cfg->has_tx_rate_limiter,
                           &cfg->tx_rate_limiter);
    r->nets = xrealloc(r->nets, (r->n_nets + 1) * sizeof(*r->nets));
    r->nets[r->n_nets++] = dev;
    (void)metrics_net_get(dev.cfg.iface_id); /* as for drives, at PUT */
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Pmem */

bool res_has_root_pmem(const struct vm_resources *r)
{
    for (size_t i = 0; i < r->n_pmems; i++) {
        if (r->pmems[i].root_device)
            return true;
    }
    return false;
}

int res_set_pmem(struct vm_resources *r, const struct pmem_cfg *cfg,
                 struct sq_err *err)
{
    struct pmem_cfg copy;
    size_t i;

    if (cfg->root_device && res_has_root_block(r))
        return sq_errf(err, -EINVAL,
                       "Attempt to add pmem as a root device while the root "
                       "device defined as a block device");
    for (i = 0; i < r->n_pmems; i++) {
        if (id_eq(r->pmems[i].id, r->pmems[i].id_len, cfg->id, cfg->id_len))
            break;
    }
    if (cfg->root_device && res_has_root_pmem(r) &&
        (i == r->n_pmems || !r->pmems[i].root_device))
        return sq_errf(err, -EEXIST, "A root pmem device already exist");

    /* Upstream keeps the PmemConfig exactly as given (no normalisation). */
    copy = *cfg;
    copy.id = dup_len(cfg->id, cfg->id_len);
    copy.path_on_host = xstrdup(cfg->path_on_host ? cfg->path_on_host : "");
    if (i < r->n_pmems) {
        pmem_cfg_release(&r->pmems[i]);
        r->pmems[i] = copy;
        return 0;
    }
    r->pmems = xrealloc(r->pmems, (r->n_pmems + 1) * sizeof(*r->pmems));
    r->pmems[r->n_pmems++] = copy;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Hot-unplug: one device's configuration dropped, the others' order kept */

int res_remove_drive(struct vm_resources *r, const char *id)
{
    struct res_drive *d = res_find_drive(r, id, strlen(id));
    size_t i = d ? (size_t)(d - r->drives) : 0;

    if (!d)
        return -ENOENT;
    drive_release(d);
    memmove(&r->drives[i], &r->drives[i + 1],
            (r->n_drives - i - 1) * sizeof(*r->drives));
    r->n_drives--;
    return 0;
}

int res_remove_net(struct vm_resources *r, const char *id)
{
    struct res_net *n = res_find_net(r, id, strlen(id));
    size_t i = n ? (size_t)(n - r->nets) : 0;

    if (!n)
        return -ENOENT;
    net_release(n);
    memmove(&r->nets[i], &r->nets[i + 1],
            (r->n_nets - i - 1) * sizeof(*r->nets));
    r->n_nets--;
    return 0;
}

int res_remove_pmem(struct vm_resources *r, const char *id)
{
    for (size_t i = 0; i < r->n_pmems; i++) {
        if (!id_eq(r->pmems[i].id, r->pmems[i].id_len, id, strlen(id)))
            continue;
        pmem_cfg_release(&r->pmems[i]);
        memmove(&r->pmems[i], &r->pmems[i + 1],
                (r->n_pmems - i - 1) * sizeof(*r->pmems));
        r->n_pmems--;
        return 0;
    }
    return -ENOENT;
}

/* ---------------------------------------------------------------------- */
/* Vsock */

static int vsock_bind(const char *path, int *fd_out, struct sq_err *err)
{
    struct sockaddr_un sa;
    char os[128];
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    /* Rust's SocketAddr::from_pathname refuses paths that do not fit. */
    if (strlen(path) >= sizeof(sa.sun_path))
        return sq_errf(err, -EINVAL,
                       "Cannot create backend for vsock device: Error binding "
                       "to the host-side Unix socket: path must be shorter "
                       "than SUN_LEN");
    memcpy(sa.sun_path, path, strlen(path));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        goto fail;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, 128) < 0) {
        int e = errno;

        close(fd);
        errno = e;
        goto fail;
    }
    *fd_out = fd;
    return 0;
fail:
    return sq_errf(err, -errno,
                   "Cannot create backend for vsock device: Error binding to "
                   "the host-side Unix socket: %s",
                   sq_os_error(errno, os, sizeof(os)));
}

int res_set_vsock(struct vm_resources *r, const struct vsock_cfg *cfg,
                  struct sq_err *err)
{
    char os[128];
    int fd = -1, rc;

    /* VsockBuilder::insert drops the old device and removes its socket file
     * first; if that fails, the old device is gone all the same. */
    if (r->has_vsock) {
        int urc = unlink(r->vsock.cfg.uds_path);
        int e = errno;

        vsock_release(&r->vsock);
        r->has_vsock = false;
        if (urc < 0)
            return sq_errf(err, -e,
                           "Cannot create backend for vsock device: Error "
                           "binding to the host-side Unix socket: %s",
                           sq_os_error(e, os, sizeof(os)));
    }
    rc = vsock_bind(cfg->uds_path, &fd, err);
    if (rc)
        return rc;
    r->has_vsock = true;
    r->vsock.listen_fd = fd;
    r->vsock.cfg.vsock_id = NULL;
    r->vsock.cfg.guest_cid = cfg->guest_cid;
    r->vsock.cfg.uds_path = xstrdup(cfg->uds_path);
    r->vsock.cfg.deprecated = false;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Entropy, balloon, serial, hotplug */

int res_set_entropy(struct vm_resources *r, const struct entropy_cfg *cfg,
                    struct sq_err *err)
{
    (void)err;
    r->has_entropy = true;
    rate_limiter_cfg_store(&r->entropy.has_rate_limiter,
                           &r->entropy.rate_limiter, cfg->has_rate_limiter,
                           &cfg->rate_limiter);
    return 0;
}

int res_set_balloon(struct vm_resources *r, const struct balloon_cfg *cfg,
                    struct sq_err *err)
{
    if ((uint64_t)cfg->amount_mib > r->machine.mem_size_mib)
        return sq_errf(err, -EINVAL, "Amount of pages requested is too large.");
    r->has_balloon = true;
    r->balloon = *cfg;
    return 0;
}

void res_set_serial(struct vm_resources *r, const struct serial_cfg *cfg)
{
    free(r->serial_out_path);
    r->serial_out_path = dup_opt(cfg->serial_out_path);
    r->has_serial_rate_limiter = cfg->has_rate_limiter;
    r->serial_rate_limiter = cfg->rate_limiter;
}

int res_set_memory_hotplug(struct vm_resources *r,
                           const struct hotplug_memory_cfg *cfg,
                           struct sq_err *err)
{
    int rc = hotplug_memory_cfg_validate(cfg, err);

    if (rc)
        return rc;
    r->has_memory_hotplug = true;
    r->memory_hotplug = *cfg;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Machine config and CPU templates */

int res_update_machine_config(struct vm_resources *r,
                              const struct machine_cfg *u, struct sq_err *err)
{
    const struct machine_cfg *m = &r->machine;
    unsigned vcpus = u->has_vcpu_count ? u->vcpu_count : m->vcpu_count;
    bool smt = u->has_smt ? u->smt : m->smt;
    uint64_t mem = u->has_mem_size_mib ? u->mem_size_mib : m->mem_size_mib;
    enum huge_pages hp = u->has_huge_pages ? u->huge_pages : m->huge_pages;

    if (vcpus == 0 || vcpus > RES_MAX_VCPUS || (smt && vcpus > 1 && vcpus % 2))
        return sq_errf(err, -EINVAL,
                       "The number of vCPUs must be greater than 0, less than "
                       "32 and must be 1 or an even number if SMT is enabled.");
    /* Hugetlbfs 2M and THP need a multiple of 2 MiB (HugePageConfig). */
    if (mem == 0 || (hp != HUGE_PAGES_NONE && mem % 2))
        return sq_errf(err, -EINVAL,
                       "The memory size (MiB) is either 0, or not a multiple "
                       "of the configured page size.");
    if (r->has_balloon && mem < r->balloon.amount_mib)
        return sq_errf(err, -EINVAL,
                       "The memory size (MiB) is smaller than the previously "
                       "set balloon device target size.");

    r->machine.vcpu_count = (uint8_t)vcpus;
    r->machine.smt = smt;
    r->machine.mem_size_mib = mem;
    r->machine.huge_pages = hp;
    if (u->has_track_dirty_pages)
        r->machine.track_dirty_pages = u->track_dirty_pages;
    /* cpu_template: absent keeps whatever is set (static or custom),
     * "None" clears both, another name replaces both. */
    if (u->has_cpu_template) {
        cpu_template_fini(&r->custom_template);
        r->has_custom_template = false;
        r->machine.has_cpu_template =
            u->cpu_template != STATIC_CPU_TEMPLATE_NONE;
        r->machine.cpu_template = u->cpu_template;
    }
    return 0;
}

void res_set_custom_cpu_template(struct vm_resources *r,
                                 const struct cpu_template *t)
{
    cpu_template_copy(&r->custom_template, t);
    r->has_custom_template = true;
    r->machine.has_cpu_template = false;
}

/* ---------------------------------------------------------------------- */
/* MMDS */

struct mmds_store *res_mmds_or_default(struct vm_resources *r)
{
    if (!r->mmds)
        r->mmds = mmds_store_new(r->mmds_size_limit);
    return r->mmds;
}

bool res_mmds_config_view(const struct vm_resources *r, struct mmds_cfg *c,
                          char **ids)
{
    const struct res_net *first = NULL;

    memset(c, 0, sizeof(*c));
    if (!r->mmds || !res_mmds_attached(r))
        return false;
    for (size_t i = 0; i < r->n_nets; i++) {
        const struct res_net *n = &r->nets[i];

        if (!n->mmds)
            continue;
        ids[c->n_network_interfaces++] = n->cfg.iface_id;
        if (!first)
            first = n;
    }
    if (!first) /* res_mmds_attached() said some NIC has MMDS */
        return false;
    c->version = mmds_store_version(r->mmds);
    c->network_interfaces = ids;
    c->has_ipv4_address = true;
    memcpy(c->ipv4_address, first->mmds_ipv4, 4);
    c->imds_compat = mmds_store_imds_compat(r->mmds);
    return true;
}

bool res_mmds_attached(const struct vm_resources *r)
{
    for (size_t i = 0; i < r->n_nets; i++) {
        if (r->nets[i].mmds)
            return true;
    }
    return false;
}

static bool link_local_valid(const uint8_t a[4])
{
    return a[0] == 169 && a[1] == 254 && a[2] != 0 && a[2] != 255;
}

int res_set_mmds_config(struct vm_resources *r, const struct mmds_cfg *cfg,
                        const char *instance_id, struct sq_err *err)
{
    static const uint8_t default_ip[4] = {169, 254, 169, 254};
    const uint8_t *ip = default_ip;
    struct mmds_store *s;

    if (cfg->has_ipv4_address) {
        if (!link_local_valid(cfg->ipv4_address))
            return sq_errf(err, -EINVAL,
                           "The MMDS IPv4 address is not link local.");
        ip = cfg->ipv4_address;
    }
    if (cfg->n_network_interfaces == 0)
        return sq_errf(err, -EINVAL,
                       "The list of network interface IDs that allow "
                       "forwarding MMDS requests is empty.");
    for (size_t i = 0; i < cfg->n_network_interfaces; i++) {
        const char *id = cfg->network_interfaces[i];

        if (!res_find_net(r, id, strlen(id)))
            return sq_errf(err, -EINVAL,
                           "The list of network interface IDs provided "
                           "contains at least one ID that does not correspond "
                           "to any existing network interface.");
    }
    s = res_mmds_or_default(r);
    for (size_t i = 0; i < r->n_nets; i++) {
        struct res_net *n = &r->nets[i];
        bool listed = false;

        for (size_t j = 0; j < cfg->n_network_interfaces; j++) {
            const char *id = cfg->network_interfaces[j];

            if (id_eq(n->cfg.iface_id, n->cfg.iface_id_len, id, strlen(id)))
                listed = true;
        }
        n->mmds = listed;
        if (listed)
            memcpy(n->mmds_ipv4, ip, 4);
    }
    mmds_store_set_version(s, cfg->version);
    mmds_store_set_imds_compat(s, cfg->imds_compat);
    mmds_store_set_aad(s, instance_id);
    return 0;
}
