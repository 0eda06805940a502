/*
 * machine.h: the x86_64 microVM on KVM, as the VMM controller sees it.
 *
 * The controller (vmm thread) builds a machine on InstanceStart with
 * machine_create(), runs it with machine_start(), pauses/resumes it, injects
 * Ctrl-Alt-Del, and tears it down with machine_destroy() once the guest (or
 * a failure) stopped it. All functions here are for the vmm thread only,
 * unless stated otherwise.
 *
 * Stopping: a guest reset (i8042 0xFE), a KVM system event or a fatal vCPU
 * exit records an exit code (digest 3.4: 0 for a clean guest stop, 1 for a
 * failure; a failure wins over a clean stop) and signals machine_exit_fd().
 * When machine_create() was given an event loop, the machine watches that
 * fd itself: it logs "Vmm is stopping." and calls cfg->on_exit on the vmm
 * thread. The controller then calls machine_destroy() ("Killing vCPU
 * threads").
 *
 * Errors from machine_create() carry upstream's text after the
 * "Start microvm error: " prefix (MACHINE_ERR_PREFIX), which the caller adds.
 */
#ifndef SQUIB_VMM_MACHINE_H
#define SQUIB_VMM_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "config/cpu_template.h"
#include "devices/legacy/serial.h"
#include "util/err.h"
#include "util/evloop.h"
#include "vmm/bus.h"
#include "vmm/cpuid.h"
#include "vmm/guest_mem.h"

#define MACHINE_ERR_PREFIX "Start microvm error: "
#define MACHINE_MAX_VCPUS  32
/* How long pause/resume/start wait for every vCPU to ack (upstream: 30 s). */
#define MACHINE_ACK_TIMEOUT_MS 30000

/* ---- virtio-mmio placement (digest 6.4) -------------------------------- */

#define MMIO_DEV_BASE  0xc0001000ULL /* first virtio-mmio window */
#define MMIO_DEV_SIZE  0x1000ULL
#define MMIO_GSI_FIRST 5
#define MMIO_GSI_LAST  23 /* legacy GSIs 5..23: 19 lines */

/*
 * Address/GSI allocator for virtio-mmio devices, VMGenID and VMClock, in
 * attach order. Pure bookkeeping (no machine needed), so the controller can
 * place devices, compose the kernel command line and then build the machine.
 */
struct mmio_alloc {
    uint64_t next_addr;
    uint32_t next_gsi;
};

void mmio_alloc_init(struct mmio_alloc *a);
/*
 * Next virtio-mmio window and its GSI. Returns 0, or -ENOSPC with
 * "Failed to allocate requested resource: The requested resource is not
 * available." when the GSIs are used up.
 */
int mmio_alloc_device(struct mmio_alloc *a, uint64_t *addr, uint32_t *gsi,
                      struct sq_err *err);
/*
 * Next GSI alone (VMGenID, VMClock). Returns 0, or -ENOSPC with "Could not
 * allocate GSI: The requested resource is not available."
 */
int mmio_alloc_gsi(struct mmio_alloc *a, uint32_t *gsi, struct sq_err *err);

/* A virtio-mmio device to map, with its placement from mmio_alloc_device(). */
struct machine_mmio_dev {
    uint64_t addr; /* window base (4 KiB) */
    uint32_t gsi;
    struct bus_dev *regs; /* borrowed: register handlers for the window */
    int irq_fd;           /* borrowed eventfd, registered as irqfd for gsi */
};

/* Another register range for the machine's buses (PCI: the ECAM window,
 * the 0xcf8 ports, each device's BAR). */
struct machine_bus_range {
    bool is_pio; /* port I/O bus, else MMIO */
    uint64_t base, len;
    struct bus_dev *dev; /* borrowed: register handlers */
};

/* ---- the machine -------------------------------------------------------- */

/*
 * Called on the vmm thread once the machine asked to stop (once per
 * machine). It may call machine_destroy() on the machine.
 */
typedef void machine_exit_fn(void *opaque, int exit_code);

struct machine_config {
    uint32_t vcpu_count;   /* 1..32 */
    uint64_t mem_size_mib; /* > 0 */
    bool smt;
    bool track_dirty_pages;
    enum guest_mem_huge_pages huge_pages;
    int kernel_fd;       /* borrowed */
    int initrd_fd;       /* borrowed; -1 = none */
    const char *cmdline; /* composed (cmdline_build) */
    int serial_out_fd;   /* borrowed; -1 = stdout */
    const struct serial_rate_limit *serial_rate_limit; /* NULL = none */
    bool serial_stdin; /* stdin feeds the serial port */
    bool boot_timer;   /* --boot-timer */
    /* CPU template: a custom one wins over a static one (upstream keeps
     * only one of them set). */
    enum cpu_static_template cpu_template;
    const struct cpu_template *custom_template; /* borrowed; NULL = none */
    size_t n_mmio;                       /* virtio-mmio devices, attach order */
    const struct machine_mmio_dev *mmio; /* borrowed */
    /* 0 = device absent. On a restore, where the firmware tables of the
     * snapshot's boot put them (used when its state file has no ACPI
     * section, machine_acpi_restore). */
    uint32_t vmgenid_gsi, vmclock_gsi;
    /* --enable-pci: the firmware tables describe PCI segment 0 (and
     * n_mmio is 0); the ranges of the PCI root and its devices. */
    bool pci_enabled;
    size_t n_bus_ranges;
    const struct machine_bus_range *bus_ranges; /* borrowed */
    machine_exit_fn *on_exit;                   /* NULL = only the exit fd */
    void *exit_opaque;
    /* NULL: boot. Otherwise a restore (snapshot load): this is the guest's
     * RAM (machine_create takes ownership, also when it fails; its layout
     * must be mem_size_mib's), kernel_fd/initrd_fd/cmdline are unused, no
     * firmware tables are written and the vCPUs stay unconfigured until
     * machine_snap_restore() (vmm/machine_snap.h). */
    struct guest_mem *restore_mem;
};

struct machine;
struct acpi_devs;
struct acpi_devs_state;

/*
 * Build the machine in upstream's boot order: guest memory (mmap), KVM (API
 * version; the CPU template resolved, a static one through
 * cpu_static_template_get; required capabilities from
 * cpu_template_kvm_caps), VM, TSS at 0xfffbd000, in-kernel irqchip, PIT2
 * with dummy speaker, memory slots, vCPUs, serial (0x3f8, GSI 4), i8042
 * (0x60, GSI 1), boot timer, virtio-mmio windows (their irq_fd as irqfds),
 * VMGenID and VMClock (acpi_devs_boot: their buffers filled, irqfds on
 * vmgenid_gsi/vmclock_gsi), kernel/initrd/cmdline (boot_load), MPTable and ACPI
 * (fw_write_tables), then per vCPU: CPUID (supported -> template ->
 * cpuid_normalize -> KVM_SET_CPUID2), MSRs (the template's over what vCPU 0
 * reports, then the boot MSRs, which win), registers (boot_vcpu_setup) and
 * LAPIC LINT0=ExtINT, LINT1=NMI.
 * vCPU threads are not started. `loop` (borrowed, may be NULL) is the vmm
 * thread's event loop; the machine registers its exit fd there.
 * Returns 0 and *out, or -errno with err set (text without MACHINE_ERR_PREFIX);
 * on failure nothing is left behind.
 */
int machine_create(const struct machine_config *cfg, struct evloop *loop,
                   struct machine **out, struct sq_err *err);

/*
 * Start the vCPU threads and let them run (upstream's start_vcpus +
 * resume_vm); attach stdin to the serial port if configured and a loop was
 * given. A terminal on stdin goes into raw mode (ICANON, ECHO, ISIG off)
 * either way, as upstream, until machine_destroy. Returns 0, or -errno with
 * err set; on failure call machine_destroy.
 */
int machine_start(struct machine *m, struct sq_err *err);
/* As machine_start, but the vCPUs stay paused (a snapshot loaded without
 * resume_vm); machine_resume() lets them run. */
int machine_start_paused(struct machine *m, struct sq_err *err);

/*
 * Stop every vCPU (out of KVM_RUN, acked) / let them run again. Return only
 * when every vCPU acked (or had already stopped by itself, whose stop is
 * then reported through the exit fd): 0, or -ETIMEDOUT with "Failed to
 * message the vCPUs." in err after MACHINE_ACK_TIMEOUT_MS. Pausing a paused
 * machine or resuming a running one is a no-op returning 0.
 */
int machine_pause(struct machine *m, struct sq_err *err);
int machine_resume(struct machine *m, struct sq_err *err);
bool machine_is_paused(const struct machine *m);

/*
 * Change the machine's buses while the guest may run (PCI hot-plug):
 * fn(mmio, pio, opaque) runs on the caller's (vmm) thread with no vCPU
 * inside a bus lookup (bus.h's contract): a running machine is paused
 * first (every vCPU out of KVM_RUN and acked) and resumed after; a paused
 * or not yet started one is changed as it is. Returns fn's result, or
 * machine_pause's -ETIMEDOUT with its text, fn not run; a failed resume
 * after fn is reported the same way (fn's change stays).
 */
typedef int machine_bus_fn(struct bus *mmio, struct bus *pio, void *opaque);
int machine_bus_update(struct machine *m, machine_bus_fn *fn, void *opaque,
                       struct sq_err *err);

/*
 * Inject Ctrl-Alt-Del through the i8042. 0, or -ENOSPC with err set to
 * "I8042 error: i8042 internal buffer full." (upstream shows it after
 * "Internal VMM error: ", which the caller adds).
 */
int machine_send_ctrl_alt_del(struct machine *m, struct sq_err *err);

/* Eventfd that becomes readable when the machine wants to stop (owned). */
int machine_exit_fd(const struct machine *m);
/* The exit code once a stop was requested, else -1. Any thread. */
int machine_exit_code(struct machine *m);
/*
 * Ask the machine to stop with `code` (a failure wins over 0). Any thread;
 * only signals. Used by the vCPUs and the i8042; the controller may use it.
 */
void machine_request_stop(struct machine *m, int code);

/*
 * Finish and join all vCPU threads ("Killing vCPU threads"), restore the
 * TTY, unregister from the loop, close KVM, unmap memory, free. NULL-safe.
 */
void machine_destroy(struct machine *m);

/* ---- accessors (devices, snapshots, tests) ------------------------------ */

uint32_t machine_vcpu_count(const struct machine *m);
/* vCPU idx (borrowed; NULL when out of range). */
struct vcpu *machine_vcpu(struct machine *m, uint32_t idx);
/* The legacy devices (borrowed). */
struct serial *machine_serial(struct machine *m);
struct i8042 *machine_i8042(struct machine *m);
/* The /dev/kvm fd (borrowed). */
int machine_kvm_fd(const struct machine *m);
struct guest_mem *machine_guest_mem(struct machine *m); /* borrowed */
/* VMGenID and VMClock (vmm/acpi_devs.h; borrowed). */
struct acpi_devs *machine_acpi_devs(struct machine *m);
/*
 * Restore VMGenID and VMClock from *s (acpi_devs_restore); a state that is
 * not present (a state file from before the section) restores the devices
 * at the places cfg.vmgenid_gsi/vmclock_gsi give them, from upstream's
 * initial VMClock page. 0 or -errno with err set.
 */
int machine_acpi_restore(struct machine *m, const struct acpi_devs_state *s,
                         struct sq_err *err);
int machine_vm_fd(const struct machine *m); /* borrowed */
/* The VM's KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2): the bytes of a vCPU's XSAVE
 * area for KVM_GET_XSAVE2 and KVM_SET_XSAVE; 0 without the capability. */
uint32_t machine_xsave2(const struct machine *m);

/*
 * Read or replace vCPU `idx`'s registers; only while its thread is not
 * running the guest (before machine_start or while paused), else -EBUSY.
 * Either pointer may be NULL. Returns 0 or -errno.
 */
int machine_vcpu_get_regs(struct machine *m, uint32_t idx,
                          struct kvm_regs *regs, struct kvm_sregs *sregs);
int machine_vcpu_set_regs(struct machine *m, uint32_t idx,
                          const struct kvm_regs *regs,
                          const struct kvm_sregs *sregs);
/* The CPUID table KVM holds for vCPU idx (KVM_GET_CPUID2). 0 or -errno. */
int machine_vcpu_get_cpuid(struct machine *m, uint32_t idx,
                           struct kvm_cpuid2 *cpuid, uint32_t max_entries);
/* vCPU idx's local APIC registers (KVM_GET_LAPIC). 0 or -errno. */
int machine_vcpu_get_lapic(struct machine *m, uint32_t idx,
                           struct kvm_lapic_state *lapic);
/* The CPU template the vCPUs were configured with (a custom one, or a
 * static one in its custom form; borrowed), or NULL for none. */
const struct cpu_template *machine_cpu_template(const struct machine *m);
/* KVM_GET_MSRS on vCPU idx for msrs->nmsrs entries (at most 255): the
 * number read (KVM stops at the first it cannot read) or -errno. */
int machine_vcpu_get_msrs(struct machine *m, uint32_t idx,
                          struct kvm_msrs *msrs);
/* One MSR of vCPU idx (KVM_GET_MSRS). 0 or -errno (-ENOENT if unreadable). */
int machine_vcpu_get_msr(struct machine *m, uint32_t idx, uint32_t index,
                         uint64_t *value);

#endif
