/*
 * vcpu_snap.c: one vCPU's KVM state out and back in (vcpu_snap.h).
 *
 * The orders follow KVM's rules for x86 (Documentation/virt/kvm/api.rst
 * and what QEMU and upstream do): MP state is read first, since reading it
 * may let KVM process pending events; on restore CPUID comes first (other
 * calls check the guest's features against it), SET_REGS before
 * SET_VCPU_EVENTS (it clears a pending exception, which the events then
 * restore), SET_SREGS before SET_LAPIC (the APIC base), SET_LAPIC before
 * SET_MSRS (the TSC deadline MSR needs a configured LAPIC).
 */
#include "vmm/vcpu_snap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "vmm/kvm.h"

_Static_assert(sizeof(struct kvm_xsave) == VCPU_SNAP_XSAVE_LEGACY,
               "KVM_GET_XSAVE moves 4 KiB");

/* MSRs per KVM_GET_MSRS/KVM_SET_MSRS batch. */
#define MSR_BATCH 64

static int fail(struct sq_err *err, int rc, const char *verb, const char *what)
{
    char os[128];

    return sq_errf(err, rc, "Failed to %s %s: %s", verb, what,
                   sq_os_error(-rc, os, sizeof(os)));
}

void vcpu_snap_fini(struct vcpu_snap *s)
{
    if (!s)
        return;
    free(s->xsave);
    s->xsave = NULL;
    s->xsave_size = 0;
    free(s->cpuid);
    s->cpuid = NULL;
    s->n_cpuid = 0;
    free(s->msrs);
    s->msrs = NULL;
    s->n_msrs = 0;
}

uint32_t vcpu_snap_xsave_size(uint32_t cap)
{
    uint64_t size = ((uint64_t)cap + 3) / 4 * 4;

    if (size < VCPU_SNAP_XSAVE_LEGACY)
        return VCPU_SNAP_XSAVE_LEGACY;
    return size > UINT32_MAX ? UINT32_MAX & ~3u : (uint32_t)size;
}

bool vcpu_snap_xsave_size_ok(uint64_t size)
{
    return size >= VCPU_SNAP_XSAVE_LEGACY && size <= UINT32_MAX &&
           size % 4 == 0;
}

/* The XSAVE area: KVM_GET_XSAVE2 when the VM has KVM_CAP_XSAVE2, as
 * upstream's get_xsave, else the legacy 4 KiB KVM_GET_XSAVE. */
static int save_xsave(int fd, uint32_t xsave2, struct vcpu_snap *out,
                      struct sq_err *err)
{
    unsigned long req = xsave2 ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;
    int rc;

    out->xsave_size = vcpu_snap_xsave_size(xsave2);
    out->xsave = xcalloc(1, out->xsave_size);
    rc = kvm_state_ioctl(fd, req, out->xsave);
    if (rc < 0)
        return fail(err, rc, "get",
                    xsave2 ? "KVM vcpu xsave via KVM_GET_XSAVE2"
                           : "KVM vcpu xsave via KVM_GET_XSAVE");
    return 0;
}

static struct kvm_msrs *msrs_alloc(void)
{
    return xcalloc(1, sizeof(struct kvm_msrs) +
                          MSR_BATCH * sizeof(struct kvm_msr_entry));
}

/*
 * Read the listed MSRs, a batch at a time. KVM_GET_MSRS stops at the first
 * MSR it cannot read and returns how many it did: that one is skipped (the
 * host lists some MSRs only some guests can use) and reading goes on.
 */
static int save_msrs(int fd, const uint32_t *list, uint32_t n,
                     struct vcpu_snap *out, struct sq_err *err)
{
    struct kvm_msrs *m = msrs_alloc();
    uint32_t i = 0;

    out->msrs = xcalloc(n ? n : 1, sizeof(*out->msrs));
    while (i < n) {
        uint32_t k = n - i < MSR_BATCH ? n - i : MSR_BATCH;
        int rc;

        memset(m, 0, sizeof(*m) + k * sizeof(struct kvm_msr_entry));
        m->nmsrs = k;
        for (uint32_t j = 0; j < k; j++)
            m->entries[j].index = list[i + j];
        rc = kvm_get_msrs(fd, m);
        if (rc < 0) {
            free(m);
            return fail(err, rc, "get", "MSRs");
        }
        for (int j = 0; j < rc; j++) {
            out->msrs[out->n_msrs].index = m->entries[j].index;
            out->msrs[out->n_msrs].data = m->entries[j].data;
            out->n_msrs++;
        }
        /* rc < k: entry rc was refused; skip it. */
        i += (uint32_t)rc < k ? (uint32_t)rc + 1 : k;
    }
    free(m);
    return 0;
}

static int save_cpuid(int fd, struct vcpu_snap *out, struct sq_err *err)
{
    struct kvm_cpuid2 *c =
        xcalloc(1, sizeof(*c) + VCPU_SNAP_MAX_CPUID * sizeof(c->entries[0]));
    int rc = kvm_get_cpuid2(fd, c, VCPU_SNAP_MAX_CPUID);

    if (rc < 0) {
        free(c);
        return fail(err, rc, "get", "CPUID");
    }
    out->n_cpuid = c->nent;
    out->cpuid = xcalloc(c->nent ? c->nent : 1, sizeof(*out->cpuid));
    memcpy(out->cpuid, c->entries, c->nent * sizeof(c->entries[0]));
    free(c);
    return 0;
}

/* One state struct in or out, by offset in struct vcpu_snap. */
struct state_step {
    unsigned long req;
    size_t off, size;
    const char *what;
};

#define STEP(req, field, what)                                                 \
    {                                                                          \
        (req), offsetof(struct vcpu_snap, field),                              \
            sizeof(((struct vcpu_snap *)0)->field), (what)                     \
    }

/* After the MP state, the registers and the XSAVE area, in this order both
 * ways (the LAPIC after sregs on restore; events are restored last, apart
 * from this list). */
static const struct state_step get_steps[] = {
    STEP(KVM_GET_XCRS, xcrs, "XCRs"),
    STEP(KVM_GET_DEBUGREGS, debugregs, "debug registers"),
    STEP(KVM_GET_LAPIC, lapic, "LAPIC state"),
    STEP(KVM_GET_VCPU_EVENTS, events, "vCPU events"),
};

static const struct state_step set_steps[] = {
    STEP(KVM_SET_XCRS, xcrs, "XCRs"),
    STEP(KVM_SET_DEBUGREGS, debugregs, "debug registers"),
    STEP(KVM_SET_LAPIC, lapic, "LAPIC state"),
};

static int get_regs(int fd, uint32_t xsave2, struct vcpu_snap *out,
                    struct sq_err *err)
{
    int rc = kvm_state_ioctl(fd, KVM_GET_MP_STATE, &out->mp_state);

    if (rc < 0)
        return fail(err, rc, "get", "MP state");
    rc = kvm_get_regs(fd, &out->regs);
    if (rc < 0)
        return fail(err, rc, "get", "registers");
    rc = kvm_get_sregs(fd, &out->sregs);
    if (rc < 0)
        return fail(err, rc, "get", "special registers");
    rc = save_xsave(fd, xsave2, out, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < sizeof(get_steps) / sizeof(get_steps[0]); i++) {
        rc = kvm_state_ioctl(fd, get_steps[i].req,
                             (char *)out + get_steps[i].off);
        if (rc < 0)
            return fail(err, rc, "get", get_steps[i].what);
    }
    return 0;
}

int vcpu_snap_save(int fd, uint32_t xsave2, const uint32_t *msr_list,
                   uint32_t n_msr_list, struct vcpu_snap *out,
                   struct sq_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = get_regs(fd, xsave2, out, err);
    if (rc < 0) {
        vcpu_snap_fini(out);
        return rc;
    }
    rc = kvm_get_tsc_khz(fd);
    out->tsc_khz = rc > 0 ? (uint32_t)rc : 0;
    rc = save_cpuid(fd, out, err);
    if (rc == 0)
        rc = save_msrs(fd, msr_list, n_msr_list, out, err);
    if (rc < 0)
        vcpu_snap_fini(out);
    return rc;
}

/* A SET ioctl on a copy (KVM does not write it, but takes no const). */
static int set_copy(int fd, unsigned long req, const void *src, size_t size,
                    const char *what, struct sq_err *err)
{
    void *tmp = xmalloc(size);
    int rc;

    memcpy(tmp, src, size);
    rc = kvm_state_ioctl(fd, req, tmp);
    free(tmp);
    return rc < 0 ? fail(err, rc, "set", what) : 0;
}

/* KVM_SET_XSAVE reads as many bytes as the VM's KVM_CAP_XSAVE2 says: the
 * saved area, zero-padded to that when it is shorter. */
static int restore_xsave(int fd, uint32_t xsave2, const struct vcpu_snap *s,
                         struct sq_err *err)
{
    uint32_t need = vcpu_snap_xsave_size(xsave2);
    size_t size = s->xsave_size > need ? s->xsave_size : need;
    void *tmp;
    int rc;

    if (!s->xsave || !vcpu_snap_xsave_size_ok(s->xsave_size))
        return sq_errf(err, -EINVAL,
                       "Failed to set KVM vcpu xsave: no XSAVE area");
    tmp = xcalloc(1, size);
    memcpy(tmp, s->xsave, s->xsave_size);
    rc = kvm_state_ioctl(fd, KVM_SET_XSAVE, tmp);
    free(tmp);
    return rc < 0 ? fail(err, rc, "set", "KVM vcpu xsave") : 0;
}

static int restore_msrs(int fd, const struct vcpu_snap *s, struct sq_err *err)
{
    struct kvm_msrs *m = msrs_alloc();

    for (uint32_t i = 0; i < s->n_msrs; i += MSR_BATCH) {
        uint32_t k = s->n_msrs - i < MSR_BATCH ? s->n_msrs - i : MSR_BATCH;
        int rc;

        memset(m, 0, sizeof(*m) + k * sizeof(struct kvm_msr_entry));
        m->nmsrs = k;
        for (uint32_t j = 0; j < k; j++) {
            m->entries[j].index = s->msrs[i + j].index;
            m->entries[j].data = s->msrs[i + j].data;
        }
        rc = kvm_set_msrs(fd, m);
        if (rc >= 0 && (uint32_t)rc < k) {
            uint32_t bad = m->entries[rc].index;

            free(m);
            return sq_errf(err, -EINVAL,
                           "Failed to set all KVM MSRs for this vCPU. Only a "
                           "partial write was done (MSR %#x refused).",
                           bad);
        }
        if (rc < 0) {
            free(m);
            return fail(err, rc, "set", "MSRs");
        }
    }
    free(m);
    return 0;
}

static int restore_cpuid(int fd, const struct vcpu_snap *s, struct sq_err *err)
{
    struct kvm_cpuid2 *c =
        xcalloc(1, sizeof(*c) + s->n_cpuid * sizeof(c->entries[0]));
    int rc;

    c->nent = s->n_cpuid;
    memcpy(c->entries, s->cpuid, s->n_cpuid * sizeof(c->entries[0]));
    rc = kvm_set_cpuid2(fd, c);
    free(c);
    return rc < 0 ? fail(err, rc, "set", "CPUID") : 0;
}

/* The saved TSC frequency, when the host's differs and KVM can scale. */
static int restore_tsc_khz(int fd, const struct vcpu_snap *s,
                           struct sq_err *err)
{
    int now = kvm_get_tsc_khz(fd), rc;

    if (s->tsc_khz == 0 || now < 0 || (uint32_t)now == s->tsc_khz)
        return 0;
    rc = kvm_set_tsc_khz(fd, s->tsc_khz);
    return rc < 0 ? fail(err, rc, "set", "TSC frequency") : 0;
}

int vcpu_snap_restore(int fd, uint32_t xsave2, const struct vcpu_snap *s,
                      struct sq_err *err)
{
    int rc;

    rc = restore_cpuid(fd, s, err);
    if (rc == 0)
        rc = restore_tsc_khz(fd, s, err);
    if (rc == 0)
        rc = set_copy(fd, KVM_SET_MP_STATE, &s->mp_state, sizeof(s->mp_state),
                      "MP state", err);
    if (rc < 0)
        return rc;
    rc = kvm_set_regs(fd, &s->regs);
    if (rc < 0)
        return fail(err, rc, "set", "registers");
    rc = kvm_set_sregs(fd, &s->sregs);
    if (rc < 0)
        return fail(err, rc, "set", "special registers");
    rc = restore_xsave(fd, xsave2, s, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < sizeof(set_steps) / sizeof(set_steps[0]); i++) {
        rc = set_copy(fd, set_steps[i].req, (const char *)s + set_steps[i].off,
                      set_steps[i].size, set_steps[i].what, err);
        if (rc < 0)
            return rc;
    }
    rc = restore_msrs(fd, s, err);
    if (rc == 0)
        rc = set_copy(fd, KVM_SET_VCPU_EVENTS, &s->events, sizeof(s->events),
                      "vCPU events", err);
    return rc;
}

int vcpu_snap_msr_list(int kvm_fd, uint32_t **out, uint32_t *n)
{
    struct kvm_msr_list probe = {0}, *l;
    int rc;

    *out = NULL;
    *n = 0;
    /* The first call fails with E2BIG and says how many there are. */
    rc = kvm_state_ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe);
    if (rc < 0 && rc != -E2BIG)
        return rc;
    if (probe.nmsrs > VCPU_SNAP_MAX_MSRS)
        return -E2BIG;
    l = xcalloc(1, sizeof(*l) + probe.nmsrs * sizeof(l->indices[0]));
    l->nmsrs = probe.nmsrs;
    rc = kvm_state_ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, l);
    if (rc < 0) {
        free(l);
        return rc;
    }
    *out = xcalloc(l->nmsrs ? l->nmsrs : 1, sizeof(**out));
    memcpy(*out, l->indices, l->nmsrs * sizeof(l->indices[0]));
    *n = l->nmsrs;
    free(l);
    return 0;
}
