/*
 * machine.c: builds and runs the x86_64 microVM (machine.h): KVM VM and
 * irqchip, guest memory, legacy devices on the buses, vCPUs configured for
 * boot, and the lifecycle below. It is the one place that knows the boot
 * order; each step is a plain function call in machine_create(), in order.
 *
 * Lifecycle (all transitions on the vmm thread, except the exit request):
 *
 *   machine_create()
 *        │
 *        ▼            machine_start()           machine_pause()
 *     CREATED ─────────────────────────► RUNNING ─────────────► PAUSED
 *        │                                 │   ◄─────────────     │
 *        │                                 │   machine_resume()   │
 *        │        guest reset / KVM system event / fatal vCPU     │
 *        │        exit: machine_request_stop() records the code   │
 *        │        and signals exit_fd (any thread); the vmm loop  │
 *        │        logs "Vmm is stopping." and calls on_exit       │
 *        │                                 │                      │
 *        └──────────── machine_destroy() (from any state) ────────┘
 *                      FINISH + join every vCPU, restore the TTY,
 *                      close KVM, unmap guest memory
 *
 * Locks: none of its own. The exit code is an atomic (written by vCPU
 * threads, read by anyone); device state is under each device's bus mutex;
 * vCPU request/state under each vCPU's lock. Everything else is owned by
 * the vmm thread.
 */
#include "vmm/machine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <termios.h>
#include <unistd.h>

#include "devices/legacy/boot_timer.h"
#include "devices/legacy/i8042.h"
#include "obs/log.h"
#include "util/xalloc.h"
#include "vmm/acpi.h"
#include "vmm/acpi_devs.h"
#include "vmm/boot.h"
#include "vmm/errors.h"
#include "vmm/kvm.h"
#include "vmm/vcpu.h"
#include "vmm/vm_shell.h"

#define CPUID_CAPACITY   VM_SHELL_CPUID_CAPACITY
#define MAX_MSRS         64
#define APIC_LVT0        0x350
#define APIC_LVT1        0x360
#define APIC_MODE_NMI    0x4
#define APIC_MODE_EXTINT 0x7

struct machine {
    struct machine_config cfg;       /* copy; its pointers stay borrowed */
    struct kvm_sys kvm;              /* owned */
    struct kvm_cpuid2 *supported;    /* owned: KVM_GET_SUPPORTED_CPUID */
    struct cpu_template static_tmpl; /* owned: a static template's form */
    const struct cpu_template *tmpl; /* effective template; NULL = none */
    int vm_fd;                       /* owned; -1 if none */
    struct guest_mem *mem;           /* owned */
    struct bus pio, mmio;            /* owned tables; devices owned below */
    struct serial *serial;           /* owned */
    int serial_out_fd;               /* borrowed (stdout or cfg) */
    int serial_out_fl; /* original flags of serial_out_fd, -1 = untouched */
    bool tty_raw;      /* stdin put in raw mode by machine_start */
    struct termios tty_orig; /* stdin's mode before, when tty_raw */
    struct i8042 *i8042;     /* owned */
    struct boot_timer boot_timer;
    bool has_boot_timer;
    struct acpi_devs acpi;                 /* VMGenID and VMClock */
    struct vcpu *vcpus[MACHINE_MAX_VCPUS]; /* owned */
    uint32_t n_vcpus;
    uint32_t xsave2; /* the VM's KVM_CAP_XSAVE2 (XSAVE bytes); 0: none */
    bool started, paused;

    int exit_fd;           /* owned eventfd */
    _Atomic int exit_code; /* -1 until a stop is requested */
    struct evloop *loop;   /* borrowed; may be NULL */
    struct evloop_handler exit_h;
    bool exit_registered;
    bool stop_logged;
};

/* ---- virtio-mmio placement ------------------------------------------------
 */

void mmio_alloc_init(struct mmio_alloc *a)
{
    a->next_addr = MMIO_DEV_BASE;
    a->next_gsi = MMIO_GSI_FIRST;
}

int mmio_alloc_device(struct mmio_alloc *a, uint64_t *addr, uint32_t *gsi,
                      struct sq_err *err)
{
    if (a->next_gsi > MMIO_GSI_LAST ||
        a->next_addr + MMIO_DEV_SIZE > GUEST_MEM_MMIO32_END)
        return sq_errf(err, -ENOSPC, VMM_ERR_NO_RESOURCE);
    *addr = a->next_addr;
    *gsi = a->next_gsi;
    a->next_addr += MMIO_DEV_SIZE;
    a->next_gsi++;
    return 0;
}

int mmio_alloc_gsi(struct mmio_alloc *a, uint32_t *gsi, struct sq_err *err)
{
    if (a->next_gsi > MMIO_GSI_LAST)
        return sq_errf(err, -ENOSPC,
                       "Could not allocate GSI: The requested "
                       "resource is not available.");
    *gsi = a->next_gsi++;
    return 0;
}

/* ---- stopping -------------------------------------------------------------
 */

void machine_request_stop(struct machine *m, int code)
{
    int cur = atomic_load(&m->exit_code);

    /* The first code wins, except that a failure overrides a clean stop. */
    while (cur == -1 || (cur == 0 && code != 0)) {
        if (atomic_compare_exchange_weak(&m->exit_code, &cur, code))
            break;
    }
    evloop_eventfd_signal(m->exit_fd);
}

int machine_exit_code(struct machine *m)
{
    return atomic_load(&m->exit_code);
}

int machine_exit_fd(const struct machine *m)
{
    return m->exit_fd;
}

static void on_vcpu_exit(void *opaque, int code)
{
    machine_request_stop(opaque, code);
}

static void on_i8042_reset(void *opaque)
{
    machine_request_stop(opaque, 0);
}

static void on_exit_fd(struct evloop *loop, struct evloop_handler *h,
                       uint32_t events)
{
    struct machine *m = h->opaque;

    (void)loop;
    (void)events;
    evloop_eventfd_drain(m->exit_fd);
    if (m->stop_logged)
        return;
    m->stop_logged = true;
    log_info("Vmm is stopping.");
    if (m->cfg.on_exit)
        m->cfg.on_exit(m->cfg.exit_opaque, machine_exit_code(m));
}

/* ---- build steps ----------------------------------------------------------
 */

#define MAX_CAPS 64

static struct kvm_cpuid2 *cpuid_alloc(void)
{
    return xcalloc(1, sizeof(struct kvm_cpuid2) +
                          CPUID_CAPACITY * sizeof(struct kvm_cpuid_entry2));
}

/*
 * The VM shell (vm_shell.h: /dev/kvm, the supported CPUID, the VM with its
 * irqchip and PIT, most often made while the API waited), then the CPU
 * template resolved (a custom one as given, a static one turned into its
 * custom form, which checks it against this host) and the capabilities it
 * requires checked.
 */
static int take_vm_shell(struct machine *m, struct sq_err *err)
{
    struct vm_shell shell;
    uint32_t caps[MAX_CAPS];
    size_t n_caps = 0;
    int rc = vm_shell_take(&shell, err);

    if (rc < 0)
        return rc;
    m->kvm = shell.kvm; /* the machine owns them from here */
    m->supported = shell.supported;
    m->vm_fd = shell.vm_fd;
    m->xsave2 = shell.xsave2;
    if (m->cfg.custom_template) {
        m->tmpl = m->cfg.custom_template;
    } else if (m->cfg.cpu_template != CPU_TEMPLATE_NONE) {
        rc = cpu_static_template_get(m->cfg.cpu_template, m->supported,
                                     &m->static_tmpl, err);
        if (rc < 0)
            return rc;
        m->tmpl = &m->static_tmpl;
    }
    rc = cpu_template_kvm_caps(m->tmpl, caps, MAX_CAPS, &n_caps);
    if (rc < 0)
        return sq_errf(err, rc, "Kvm error: too many KVM capabilities");
    for (size_t i = 0; i < n_caps; i++)
        if (kvm_check_extension(&m->kvm, caps[i]) <= 0)
            return sq_errf(err, -ENOTSUP,
                           "Kvm error: Missing KVM capabilities: %#x", caps[i]);
    return 0;
}

static int register_memory(struct machine *m, struct sq_err *err)
{
    char os[256];
    int rc = guest_mem_register(m->mem, m->vm_fd, m->cfg.track_dirty_pages);

    if (rc < 0)
        return sq_errf(err, rc,
                       "Error with the KvmVm object: Cannot set the "
                       "memory regions: %s",
                       sq_os_error(-rc, os, sizeof(os)));
    return 0;
}

static int add_devices(struct machine *m, struct sq_err *err)
{
    char os[256];
    int rc;

    /* Serial output never blocks a vCPU: the fd is made non-blocking. */
    m->serial_out_fd =
        m->cfg.serial_out_fd >= 0 ? m->cfg.serial_out_fd : STDOUT_FILENO;
    m->serial_out_fl = fcntl(m->serial_out_fd, F_GETFL);
    if (m->serial_out_fl >= 0 && !(m->serial_out_fl & O_NONBLOCK))
        (void)fcntl(m->serial_out_fd, F_SETFL, m->serial_out_fl | O_NONBLOCK);
    else
        m->serial_out_fl = -1;

    rc = serial_new(m->serial_out_fd, m->cfg.serial_rate_limit, &m->serial);
    if (rc == 0)
        rc = bus_add(&m->pio, SERIAL_PORT_BASE, SERIAL_PORT_LEN,
                     serial_bus_dev(m->serial));
    if (rc == 0)
        rc = kvm_irqfd(m->vm_fd, serial_irq_fd(m->serial), SERIAL_GSI, 0);
    if (rc < 0)
        goto legacy_err;
    rc = i8042_new(on_i8042_reset, m, &m->i8042);
    if (rc == 0)
        rc = bus_add(&m->pio, I8042_PORT_BASE, I8042_PORT_LEN,
                     i8042_bus_dev(m->i8042));
    if (rc == 0)
        rc = kvm_irqfd(m->vm_fd, i8042_irq_fd(m->i8042), I8042_GSI, 0);
    if (rc < 0)
        goto legacy_err;

    if (m->cfg.boot_timer) {
        /* Set by machine_create(), which starts the timer on entry. */
        rc = bus_add(&m->mmio, BOOT_TIMER_ADDR, BOOT_TIMER_LEN,
                     &m->boot_timer.bus);
        if (rc < 0)
            return sq_errf(err, rc, "Could not attach device: %s",
                           sq_os_error(-rc, os, sizeof(os)));
    }
    for (size_t i = 0; i < m->cfg.n_mmio; i++) {
        const struct machine_mmio_dev *d = &m->cfg.mmio[i];

        rc = bus_add(&m->mmio, d->addr, MMIO_DEV_SIZE, d->regs);
        if (rc == 0 && d->irq_fd >= 0)
            rc = kvm_irqfd(m->vm_fd, d->irq_fd, d->gsi, 0);
        if (rc < 0)
            return sq_errf(err, rc, "Could not attach device: %s",
                           sq_os_error(-rc, os, sizeof(os)));
    }
    for (size_t i = 0; i < m->cfg.n_bus_ranges; i++) {
        const struct machine_bus_range *b = &m->cfg.bus_ranges[i];

        rc = bus_add(b->is_pio ? &m->pio : &m->mmio, b->base, b->len, b->dev);
        if (rc < 0)
            return sq_errf(err, rc, "Could not attach device: %s",
                           sq_os_error(-rc, os, sizeof(os)));
    }
    return 0;
legacy_err:
    return sq_errf(err, rc, "Error creating legacy device: %s",
                   sq_os_error(-rc, os, sizeof(os)));
}

static int create_vcpus(struct machine *m, struct sq_err *err)
{
    char os[256];

    for (uint32_t i = 0; i < m->cfg.vcpu_count; i++) {
        int rc = vcpu_new(m->vm_fd, i, m->kvm.vcpu_mmap_size, &m->pio, &m->mmio,
                          on_vcpu_exit, m, &m->vcpus[i]);
        if (rc < 0)
            return sq_errf(err, rc,
                           "Error with the KvmVm object: Failed to "
                           "create vcpu: %s",
                           sq_os_error(-rc, os, sizeof(os)));
        m->n_vcpus++;
    }
    return 0;
}

static int load_guest(struct machine *m, struct boot_result *res,
                      struct sq_err *err)
{
    const struct guest_region *r0 = &m->mem->regions[0];
    struct boot_mem bm = {
        .ram = r0->hva,
        .ram_len = r0->size,
        .mem_size = guest_mem_size(m->mem),
    };
    struct fw_virtio_dev virtio[MMIO_GSI_LAST - MMIO_GSI_FIRST + 1];
    struct fw_config fw;
    int rc;

    memset(res, 0, sizeof(*res));
    rc = boot_load(&bm, m->cfg.kernel_fd, m->cfg.initrd_fd,
                   m->cfg.cmdline ? m->cfg.cmdline : "", res, err);
    if (rc < 0)
        return rc;
    if (m->cfg.n_mmio > sizeof(virtio) / sizeof(virtio[0]))
        return sq_errf(err, -ENOSPC, VMM_ERR_NO_RESOURCE);
    for (size_t i = 0; i < m->cfg.n_mmio; i++) {
        virtio[i].addr = m->cfg.mmio[i].addr;
        virtio[i].gsi = m->cfg.mmio[i].gsi;
    }
    memset(&fw, 0, sizeof(fw));
    fw.vcpu_count = m->cfg.vcpu_count;
    fw.n_virtio = m->cfg.n_mmio;
    fw.virtio = virtio;
    fw.vmgenid_gsi = m->cfg.vmgenid_gsi;
    fw.vmclock_gsi = m->cfg.vmclock_gsi;
    fw.pci_enabled = m->cfg.pci_enabled;
    return fw_write_tables(r0->hva, r0->size, &fw, err);
}

/* Where the firmware tables put VMGenID and VMClock for m's GSIs. */
static void acpi_place(const struct machine *m, struct acpi_devs_place *p)
{
    struct fw_config fw;

    memset(&fw, 0, sizeof(fw));
    memset(p, 0, sizeof(*p));
    fw.vmgenid_gsi = p->vmgenid_gsi = m->cfg.vmgenid_gsi;
    fw.vmclock_gsi = p->vmclock_gsi = m->cfg.vmclock_gsi;
    (void)fw_acpi_dev_addrs(&fw, &p->vmgenid_addr, &p->vmclock_addr);
}

/* VMGenID and VMClock at the places the firmware tables give them. */
static int attach_acpi_devs(struct machine *m, struct sq_err *err)
{
    struct acpi_devs_place p;
    int rc;

    acpi_place(m, &p);
    if (!p.vmgenid_gsi && !p.vmclock_gsi)
        return 0;
    rc = acpi_devs_boot(&m->acpi, &p, m->mem, m->vm_fd, err);
    if (rc < 0)
        sq_err_prefix(err, "Could not attach device: Error while registering "
                           "ACPI with KVM: ");
    return rc;
}

static size_t cpuid_bytes(const struct kvm_cpuid2 *c)
{
    return sizeof(*c) + c->nent * sizeof(c->entries[0]);
}

/* Supported CPUID with the CPU template applied (shared by all vCPUs). */
static int templated_cpuid(struct machine *m, struct kvm_cpuid2 **out,
                           struct sq_err *err)
{
    struct kvm_cpuid2 *c = cpuid_alloc();
    int rc;

    memcpy(c, m->supported, cpuid_bytes(m->supported));
    if (m->tmpl) {
        rc = cpuid_apply_custom(c, CPUID_CAPACITY, m->tmpl, err);
        if (rc < 0) {
            free(c);
            return rc;
        }
    }
    *out = c;
    return 0;
}

/* KVM_GET_MSRS for one MSR: 0, -ENOENT if KVM does not know it, -errno. */
static int get_one_msr(int fd, uint32_t index, uint64_t *value)
{
    /* struct kvm_msrs plus one entry, suitably aligned. */
    uint64_t buf[(sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)) /
                     sizeof(uint64_t) +
                 1];
    struct kvm_msrs *msrs = (struct kvm_msrs *)buf;
    int rc;

    memset(buf, 0, sizeof(buf));
    msrs->nmsrs = 1;
    msrs->entries[0].index = index;
    rc = kvm_get_msrs(fd, msrs);
    if (rc < 0)
        return rc;
    if (rc != 1)
        return -ENOENT;
    *value = msrs->entries[0].data;
    return 0;
}

/* Put (index, data) in the list, replacing an earlier entry for index. */
static void msr_put(struct kvm_msrs *msrs, uint32_t index, uint64_t data)
{
    uint32_t j;

    for (j = 0; j < msrs->nmsrs && msrs->entries[j].index != index; j++)
        ;
    if (j == msrs->nmsrs) {
        if (j == MAX_MSRS)
            return;
        msrs->nmsrs++;
    }
    memset(&msrs->entries[j], 0, sizeof(msrs->entries[j]));
    msrs->entries[j].index = index;
    msrs->entries[j].data = data;
}

/*
 * MSR values every vCPU gets: the template's MSRs as vCPU 0 reports them
 * (after its CPUID is set), with the template's modifiers applied, then
 * the boot MSRs (digest 6.2), which win.
 */
static int boot_msr_list(struct machine *m, struct kvm_msrs *msrs,
                         struct sq_err *err)
{
    uint32_t idx[MAX_MSRS];
    struct kvm_msr_entry boot[MAX_MSRS];
    size_t n, nb;
    int rc;

    memset(msrs, 0, sizeof(*msrs));
    n = cpu_template_msr_indices(m->tmpl, idx, MAX_MSRS);
    if (n > MAX_MSRS)
        return sq_errf(err, -E2BIG,
                       VMM_ERR_SYS_CONFIG "Failed to "
                                          "create guest config: too many MSRs");
    if (n > 0) {
        msrs->nmsrs = (uint32_t)n;
        for (size_t i = 0; i < n; i++)
            msrs->entries[i].index = idx[i];
        rc = kvm_get_msrs(m->vcpus[0]->fd, msrs);
        if (rc < 0 || (size_t)rc < n)
            return sq_errf(err, rc < 0 ? rc : -EINVAL,
                           VMM_ERR_SYS_CONFIG
                           "Failed to create "
                           "guest config: KVM vcpu ioctl failed: Failed to get "
                           "KVM vcpu msr: %#x",
                           idx[rc < 0 ? 0 : rc]);
        rc = cpu_template_apply_msrs(m->tmpl, msrs->entries, n, err);
        if (rc < 0)
            return rc;
    }
    nb = boot_msrs(boot, MAX_MSRS);
    for (size_t i = 0; i < nb; i++)
        msr_put(msrs, boot[i].index, boot[i].data);
    return 0;
}

static int set_lint(int fd)
{
    struct kvm_lapic_state l;
    uint32_t v;
    int rc = kvm_get_lapic(fd, &l);

    if (rc < 0)
        return rc;
    memcpy(&v, &l.regs[APIC_LVT0], 4);
    v = (v & ~0x700u) | (APIC_MODE_EXTINT << 8);
    memcpy(&l.regs[APIC_LVT0], &v, 4);
    memcpy(&v, &l.regs[APIC_LVT1], 4);
    v = (v & ~0x700u) | (APIC_MODE_NMI << 8);
    memcpy(&l.regs[APIC_LVT1], &v, 4);
    return kvm_set_lapic(fd, &l);
}

static int configure_vcpus(struct machine *m, const struct boot_result *res,
                           struct sq_err *err)
{
    struct kvm_cpuid2 *base = NULL, *c = cpuid_alloc();
    struct kvm_msrs *msrs =
        xcalloc(1, sizeof(*msrs) + MAX_MSRS * sizeof(struct kvm_msr_entry));
    char os[256];
    int rc;

    rc = templated_cpuid(m, &base, err);
    if (rc < 0)
        goto out;
    for (uint32_t i = 0; i < m->n_vcpus; i++) {
        struct cpuid_ctx ctx = {
            .vcpu_index = i,
            .vcpu_count = m->cfg.vcpu_count,
            .smt = m->cfg.smt,
        };

        memcpy(c, base, cpuid_bytes(base));
        if (err)
            sq_err_clear(err);
        rc = cpuid_normalize_err(c, CPUID_CAPACITY, &ctx, err);
        if (rc < 0) {
            if (err && err->msg[0] == '\0')
                sq_errf(err, rc,
                        VMM_ERR_SYS_CONFIG "Failed to "
                                           "normalize CPUID: %s",
                        sq_os_error(-rc, os, sizeof(os)));
            goto out;
        }
        rc = kvm_set_cpuid2(m->vcpus[i]->fd, c);
        if (rc < 0) {
            sq_errf(err, rc,
                    VMM_ERR_SYS_CONFIG "Failed to set "
                                       "CPUID: %s",
                    sq_os_error(-rc, os, sizeof(os)));
            goto out;
        }
    }
    /* MSRs are read after CPUID is set: what KVM allows depends on it. */
    rc = boot_msr_list(m, msrs, err);
    if (rc < 0)
        goto out;
    for (uint32_t i = 0; i < m->n_vcpus; i++) {
        int fd = m->vcpus[i]->fd;
        struct kvm_regs regs;
        struct kvm_sregs sregs;
        struct kvm_fpu fpu;

        rc = kvm_set_msrs(fd, msrs);
        if (rc >= 0 && (uint32_t)rc != msrs->nmsrs) {
            sq_errf(err, -EINVAL,
                    VMM_ERR_SYS_CONFIG "Failed to set "
                                       "all MSRs. Expected: %u, actual: %d",
                    msrs->nmsrs, rc);
            rc = -EINVAL;
            goto out;
        }
        memset(&regs, 0, sizeof(regs));
        memset(&fpu, 0, sizeof(fpu));
        if (rc >= 0)
            rc = kvm_get_sregs(fd, &sregs);
        if (rc >= 0) {
            boot_vcpu_setup(res, &regs, &sregs, &fpu);
            rc = kvm_set_regs(fd, &regs);
        }
        if (rc >= 0)
            rc = kvm_set_fpu(fd, &fpu);
        if (rc >= 0)
            rc = kvm_set_sregs(fd, &sregs);
        if (rc >= 0)
            rc = set_lint(fd);
        if (rc < 0) {
            sq_errf(err, rc,
                    VMM_ERR_SYS_CONFIG "Failed to configure "
                                       "vcpu %u: %s",
                    i, sq_os_error(-rc, os, sizeof(os)));
            goto out;
        }
    }
    rc = 0;
out:
    free(base);
    free(c);
    free(msrs);
    return rc;
}

int machine_create(const struct machine_config *cfg, struct evloop *loop,
                   struct machine **out, struct sq_err *err)
{
    struct boot_timestamp start = boot_timestamp_now();
    struct boot_result res;
    struct machine *m;
    char os[256];
    int rc;

    *out = NULL;
    if (cfg->vcpu_count < 1 || cfg->vcpu_count > MACHINE_MAX_VCPUS) {
        guest_mem_free(cfg->restore_mem);
        return sq_errf(err, -EINVAL,
                       "Cannot set vm resources: The number of "
                       "vCPUs must be greater than 0, less than "
                       "32 and must be 1 or an even number if "
                       "SMT is enabled.");
    }
    m = xcalloc(1, sizeof(*m));
    m->cfg = *cfg;
    m->kvm.fd = -1;
    m->vm_fd = -1;
    m->serial_out_fl = -1;
    acpi_devs_init(&m->acpi);
    atomic_init(&m->exit_code, -1);
    bus_init(&m->pio);
    bus_init(&m->mmio);
    if (cfg->boot_timer) {
        boot_timer_init(&m->boot_timer, start);
        m->has_boot_timer = true;
    }
    m->exit_fd = evloop_eventfd_new();
    if (m->exit_fd < 0) {
        rc = sq_errf(err, m->exit_fd,
                     "Internal error while starting microVM: %s",
                     sq_os_error(-m->exit_fd, os, sizeof(os)));
        goto fail;
    }

    /* Guest memory first, as upstream: its errors are reported first. A
     * restore brings its own, mapped from the memory file. */
    m->mem = cfg->restore_mem;
    rc = m->mem
             ? 0
             : guest_mem_new(cfg->mem_size_mib, cfg->huge_pages, &m->mem, err);
    if (rc < 0) {
        sq_err_prefix(err, "Invalid Memory Configuration: ");
        goto fail;
    }
    rc = take_vm_shell(m, err);
    if (rc == 0)
        rc = register_memory(m, err);
    if (rc == 0)
        rc = create_vcpus(m, err);
    if (rc == 0)
        rc = add_devices(m, err);
    if (rc == 0 && !cfg->restore_mem)
        rc = load_guest(m, &res, err);
    if (rc == 0 && !cfg->restore_mem)
        rc = attach_acpi_devs(m, err);
    if (rc == 0 && !cfg->restore_mem)
        rc = configure_vcpus(m, &res, err);
    if (rc < 0)
        goto fail;
    /* What the loader wrote belongs to the first Diff snapshot. */
    if (!cfg->restore_mem)
        guest_mem_mark_resident(m->mem);

    if (loop) {
        m->loop = loop;
        m->exit_h = (struct evloop_handler){m->exit_fd, on_exit_fd, m};
        rc = evloop_add(loop, &m->exit_h, EPOLLIN);
        if (rc < 0) {
            sq_errf(err, rc, "Internal error while starting microVM: %s",
                    sq_os_error(-rc, os, sizeof(os)));
            goto fail;
        }
        m->exit_registered = true;
    }
    *out = m;
    return 0;
fail:
    machine_destroy(m);
    return rc;
}

/* ---- running --------------------------------------------------------------
 */

/*
 * Post `req` to every vCPU, then wait for each to reach `state` (or to have
 * stopped by itself). Posting to all first lets them stop in parallel.
 */
static int vcpus_transition(struct machine *m, enum vcpu_req req,
                            enum vcpu_state state, struct sq_err *err)
{
    int rc = 0;

    for (uint32_t i = 0; i < m->n_vcpus; i++)
        vcpu_request(m->vcpus[i], req);
    for (uint32_t i = 0; i < m->n_vcpus; i++) {
        int r = vcpu_wait(m->vcpus[i], state, MACHINE_ACK_TIMEOUT_MS);

        /*
         * A vCPU that stopped on its own (EXITED) is out of the guest too;
         * its stop is already on its way to the vmm loop via exit_fd.
         */
        if (r < 0 && r != -ESRCH && rc == 0)
            rc = r;
    }
    if (rc < 0)
        return sq_errf(err, rc, VMM_ERR_VCPU_MESSAGE);
    return 0;
}

/*
 * Upstream puts a terminal on stdin in raw mode when the vCPUs start even
 * when it is not the serial input (serial_out_path set), and restores it at
 * teardown; the serial input path does the same through serial.c.
 */
static void tty_raw_on(struct machine *m)
{
    struct termios raw;

    if (isatty(STDIN_FILENO) != 1 || tcgetattr(STDIN_FILENO, &m->tty_orig) < 0)
        return;
    raw = m->tty_orig;
    raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO | ISIG);
    if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
        m->tty_raw = true;
    else
        log_warn(SERIAL_WARN_RAW_MODE, strerror(errno));
}

static void tty_restore(struct machine *m)
{
    if (!m->tty_raw)
        return;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &m->tty_orig) < 0)
        log_warn(SERIAL_WARN_CANONICAL_MODE, strerror(errno));
    m->tty_raw = false;
}

int machine_start(struct machine *m, struct sq_err *err)
{
    int rc;

    if (m->started)
        return 0;
    rc = machine_start_paused(m, err);
    return rc < 0 ? rc : machine_resume(m, err);
}

int machine_start_paused(struct machine *m, struct sq_err *err)
{
    char os[256];

    if (m->started)
        return 0;
    if (m->cfg.serial_stdin && m->loop)
        (void)serial_attach_input(m->serial, m->loop, STDIN_FILENO);
    else
        tty_raw_on(m);
    for (uint32_t i = 0; i < m->n_vcpus; i++) {
        int rc = vcpu_start(m->vcpus[i], MACHINE_ACK_TIMEOUT_MS);

        m->started = true;
        if (rc < 0)
            return sq_errf(err, rc,
                           "Internal error while starting microVM: "
                           "Cannot spawn a new vCPU thread: %s",
                           sq_os_error(-rc, os, sizeof(os)));
    }
    m->paused = true;
    return 0;
}

int machine_pause(struct machine *m, struct sq_err *err)
{
    int rc;

    if (!m->started || m->paused)
        return 0;
    rc = vcpus_transition(m, VCPU_REQ_PAUSE, VCPU_PAUSED, err);
    if (rc == 0)
        m->paused = true;
    return rc;
}

int machine_resume(struct machine *m, struct sq_err *err)
{
    int rc;

    if (!m->started || !m->paused)
        return 0;
    rc = vcpus_transition(m, VCPU_REQ_RESUME, VCPU_RUNNING, err);
    if (rc == 0)
        m->paused = false;
    return rc;
}

bool machine_is_paused(const struct machine *m)
{
    return !m->started || m->paused;
}

int machine_bus_update(struct machine *m, machine_bus_fn *fn, void *opaque,
                       struct sq_err *err)
{
    bool was_running = !machine_is_paused(m);
    int rc = machine_pause(m, err);

    if (rc < 0)
        return rc;
    rc = fn(&m->mmio, &m->pio, opaque);
    if (was_running) {
        struct sq_err rerr;
        int r = machine_resume(m, &rerr);

        if (r < 0 && rc == 0) {
            *err = rerr;
            rc = r;
        }
    }
    return rc;
}

int machine_send_ctrl_alt_del(struct machine *m, struct sq_err *err)
{
    int rc = i8042_trigger_ctrl_alt_del(m->i8042);

    if (rc < 0)
        return sq_errf(err, rc, "I8042 error: i8042 internal buffer full.");
    return 0;
}

void machine_destroy(struct machine *m)
{
    if (!m)
        return;
    if (m->exit_registered)
        evloop_del(m->loop, &m->exit_h);
    if (m->started)
        log_info("Killing vCPU threads");
    for (uint32_t i = 0; i < m->n_vcpus; i++)
        vcpu_free(m->vcpus[i]);
    m->n_vcpus = 0;
    /* No vCPU can touch the devices any more. */
    serial_free(m->serial);
    i8042_free(m->i8042);
    if (m->has_boot_timer)
        boot_timer_fini(&m->boot_timer);
    if (m->serial_out_fl >= 0)
        (void)fcntl(m->serial_out_fd, F_SETFL, m->serial_out_fl);
    tty_restore(m);
    bus_fini(&m->pio);
    bus_fini(&m->mmio);
    acpi_devs_fini(&m->acpi);
    if (m->vm_fd >= 0)
        close(m->vm_fd);
    kvm_sys_close(&m->kvm);
    free(m->supported);
    cpu_template_fini(&m->static_tmpl);
    guest_mem_free(m->mem);
    if (m->exit_fd >= 0)
        close(m->exit_fd);
    free(m);
}

/* ---- accessors ------------------------------------------------------------
 */

uint32_t machine_vcpu_count(const struct machine *m)
{
    return m->n_vcpus;
}

struct vcpu *machine_vcpu(struct machine *m, uint32_t idx)
{
    return idx < m->n_vcpus ? m->vcpus[idx] : NULL;
}

struct serial *machine_serial(struct machine *m)
{
    return m->serial;
}

struct i8042 *machine_i8042(struct machine *m)
{
    return m->i8042;
}

int machine_kvm_fd(const struct machine *m)
{
    return m->kvm.fd;
}

struct guest_mem *machine_guest_mem(struct machine *m)
{
    return m->mem;
}

struct acpi_devs *machine_acpi_devs(struct machine *m)
{
    return &m->acpi;
}

int machine_acpi_restore(struct machine *m, const struct acpi_devs_state *s,
                         struct sq_err *err)
{
    struct acpi_devs_state fresh;
    struct acpi_devs_place p;

    if (!s->present) {
        acpi_place(m, &p);
        acpi_devs_state_fresh(&p, &fresh);
        s = &fresh;
    }
    return acpi_devs_restore(&m->acpi, s, m->mem, m->vm_fd, err);
}

int machine_vm_fd(const struct machine *m)
{
    return m->vm_fd;
}

uint32_t machine_xsave2(const struct machine *m)
{
    return m->xsave2;
}

static int idle_vcpu(struct machine *m, uint32_t idx, struct vcpu **v)
{
    if (idx >= m->n_vcpus)
        return -EINVAL;
    *v = m->vcpus[idx];
    if (vcpu_get_state(*v) == VCPU_RUNNING)
        return -EBUSY;
    return 0;
}

int machine_vcpu_get_regs(struct machine *m, uint32_t idx,
                          struct kvm_regs *regs, struct kvm_sregs *sregs)
{
    struct vcpu *v;
    int rc = idle_vcpu(m, idx, &v);

    if (rc == 0 && regs)
        rc = kvm_get_regs(v->fd, regs);
    if (rc == 0 && sregs)
        rc = kvm_get_sregs(v->fd, sregs);
    return rc;
}

int machine_vcpu_set_regs(struct machine *m, uint32_t idx,
                          const struct kvm_regs *regs,
                          const struct kvm_sregs *sregs)
{
    struct vcpu *v;
    int rc = idle_vcpu(m, idx, &v);

    if (rc == 0 && sregs)
        rc = kvm_set_sregs(v->fd, sregs);
    if (rc == 0 && regs)
        rc = kvm_set_regs(v->fd, regs);
    return rc;
}

int machine_vcpu_get_cpuid(struct machine *m, uint32_t idx,
                           struct kvm_cpuid2 *cpuid, uint32_t max_entries)
{
    if (idx >= m->n_vcpus)
        return -EINVAL;
    return kvm_get_cpuid2(m->vcpus[idx]->fd, cpuid, max_entries);
}

int machine_vcpu_get_lapic(struct machine *m, uint32_t idx,
                           struct kvm_lapic_state *lapic)
{
    if (idx >= m->n_vcpus)
        return -EINVAL;
    return kvm_get_lapic(m->vcpus[idx]->fd, lapic);
}

const struct cpu_template *machine_cpu_template(const struct machine *m)
{
    return m->tmpl;
}

int machine_vcpu_get_msrs(struct machine *m, uint32_t idx,
                          struct kvm_msrs *msrs)
{
    if (idx >= m->n_vcpus)
        return -EINVAL;
    return kvm_get_msrs(m->vcpus[idx]->fd, msrs);
}

int machine_vcpu_get_msr(struct machine *m, uint32_t idx, uint32_t index,
                         uint64_t *value)
{
    if (idx >= m->n_vcpus)
        return -EINVAL;
    return get_one_msr(m->vcpus[idx]->fd, index, value);
}
