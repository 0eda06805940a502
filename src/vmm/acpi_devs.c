/*
 * acpi_devs.c: VMGenID and VMClock on a machine (acpi_devs.h).
 */
#include "vmm/acpi_devs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "obs/log.h"
#include "util/evloop.h"
#include "vmm/acpi.h"
#include "vmm/kvm.h"

void acpi_devs_init(struct acpi_devs *d)
{
    memset(d, 0, sizeof(*d));
    d->vmgenid_fd = -1;
    d->vmclock_fd = -1;
}

void acpi_devs_fini(struct acpi_devs *d)
{
    if (d->vmgenid_fd >= 0)
        close(d->vmgenid_fd);
    if (d->vmclock_fd >= 0)
        close(d->vmclock_fd);
    d->vmgenid_fd = -1;
    d->vmclock_fd = -1;
    d->present = false;
}

static int os_fail(struct sq_err *err, int rc, const char *what)
{
    char os[128];

    return sq_errf(err, rc, "%s%s", what, sq_os_error(-rc, os, sizeof(os)));
}

/* The device's eventfd, registered as irqfd on gsi (upstream's
 * EventFd::new then register_irq). */
static int line_open(int *fd, const char *dev, uint32_t gsi, int vm_fd,
                     struct sq_err *err)
{
    char what[64];
    int rc;

    *fd = evloop_eventfd_new();
    if (*fd < 0) {
        snprintf(what, sizeof(what), "%s: Could not create EventFd: ", dev);
        return os_fail(err, *fd, what);
    }
    if (vm_fd < 0)
        return 0;
    rc = kvm_irqfd(vm_fd, *fd, gsi, 0);
    return rc < 0 ? os_fail(err, rc, "Could not register IRQ with KVM: ") : 0;
}

static int write_genid(struct acpi_devs *d, struct guest_mem *gm,
                       struct sq_err *err)
{
    int rc = vmgenid_new_id(d->genid);

    if (rc < 0)
        return os_fail(err, rc,
                       "VMGenID: could not create new generation ID: ");
    log_debug("vmgenid: writing new generation ID to guest");
    if (vmgenid_write(d->genid, gm, d->place.vmgenid_addr) < 0)
        return sq_errf(err, -EFAULT,
                       "VMGenID: Could not write generation ID to guest "
                       "memory: Guest memory error: invalid guest address "
                       "%#llx",
                       (unsigned long long)d->place.vmgenid_addr);
    return 0;
}

static int vmclock_fail(const struct acpi_devs *d, struct sq_err *err)
{
    return sq_errf(err, -EFAULT,
                   "VMClock: Could not write VMClock data to guest memory: "
                   "Guest memory error: invalid guest address %#llx",
                   (unsigned long long)d->place.vmclock_addr);
}

int acpi_devs_boot(struct acpi_devs *d, const struct acpi_devs_place *p,
                   struct guest_mem *gm, int vm_fd, struct sq_err *err)
{
    int rc = 0;

    d->place = *p;
    d->present = p->vmgenid_gsi || p->vmclock_gsi;
    vmclock_abi_init(&d->vmclock);
    if (p->vmgenid_gsi) {
        rc = line_open(&d->vmgenid_fd, "VMGenID", p->vmgenid_gsi, vm_fd, err);
        if (rc == 0)
            rc = write_genid(d, gm, err);
    }
    if (rc == 0 && p->vmclock_gsi) {
        rc = line_open(&d->vmclock_fd, "VMClock", p->vmclock_gsi, vm_fd, err);
        if (rc == 0 && vmclock_write(&d->vmclock, gm, p->vmclock_addr) < 0)
            rc = vmclock_fail(d, err);
    }
    return rc;
}

void acpi_devs_save(const struct acpi_devs *d, struct acpi_devs_state *out)
{
    memset(out, 0, sizeof(*out));
    out->present = d->present;
    if (!d->present)
        return;
    out->place = d->place;
    out->vmclock = d->vmclock;
}

void acpi_devs_state_fresh(const struct acpi_devs_place *p,
                           struct acpi_devs_state *out)
{
    memset(out, 0, sizeof(*out));
    out->present = p->vmgenid_gsi || p->vmclock_gsi;
    out->place = *p;
    vmclock_abi_init(&out->vmclock);
}

static bool bad_gsi(uint32_t gsi)
{
    return gsi != 0 && (gsi < FW_GSI_LEGACY_START || gsi > FW_GSI_LEGACY_END);
}

int acpi_devs_restore(struct acpi_devs *d, const struct acpi_devs_state *s,
                      struct guest_mem *gm, int vm_fd, struct sq_err *err)
{
    const struct acpi_devs_place *p = &s->place;
    int rc = 0;

    if (!s->present)
        return 0;
    /* A state file names them: only the lines a boot can give them. */
    if (bad_gsi(p->vmgenid_gsi) || bad_gsi(p->vmclock_gsi))
        return sq_errf(err, -EINVAL,
                       "VMGenID/VMClock: GSIs %u and %u are not legacy GSIs "
                       "%u to %u",
                       p->vmgenid_gsi, p->vmclock_gsi, FW_GSI_LEGACY_START,
                       FW_GSI_LEGACY_END);
    d->place = *p;
    d->present = true;
    d->vmclock = s->vmclock;
    if (p->vmgenid_gsi) {
        rc = line_open(&d->vmgenid_fd, "VMGenID", p->vmgenid_gsi, vm_fd, err);
        if (rc == 0)
            rc = write_genid(d, gm, err);
        if (rc == 0) {
            evloop_eventfd_signal(d->vmgenid_fd);
            log_debug("vmgenid: notifying guest about new generation ID");
        }
    }
    if (rc == 0 && p->vmclock_gsi) {
        rc = line_open(&d->vmclock_fd, "VMClock", p->vmclock_gsi, vm_fd, err);
        if (rc == 0 &&
            (vmclock_write(&d->vmclock, gm, p->vmclock_addr) < 0 ||
             vmclock_post_restore(&d->vmclock, gm, p->vmclock_addr) < 0))
            rc = vmclock_fail(d, err);
        if (rc == 0) {
            evloop_eventfd_signal(d->vmclock_fd);
            log_debug("vmclock: notifying guest about VMClock updates");
        }
    }
    return rc;
}
