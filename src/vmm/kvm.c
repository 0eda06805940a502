/*
 * kvm.c: the KVM ioctl wrappers (see kvm.h). No state, no logging: each
 * function is one ioctl (or two) with errno turned into a return value.
 */
#include "vmm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define KVM_API_VERSION_EXPECTED 12

static int xioctl(int fd, unsigned long req, unsigned long arg)
{
    int rc = ioctl(fd, req, arg);
    return rc < 0 ? -errno : rc;
}

int kvm_sys_open(struct kvm_sys *k)
{
    int rc;

    memset(k, 0, sizeof(*k));
    k->fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (k->fd < 0)
        return -errno;
    rc = xioctl(k->fd, KVM_GET_API_VERSION, 0);
    k->api_version = rc < 0 ? -1 : rc;
    if (k->api_version != KVM_API_VERSION_EXPECTED) {
        rc = -EINVAL;
        goto err;
    }
    rc = xioctl(k->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (rc < 0)
        goto err;
    if ((size_t)rc < sizeof(struct kvm_run)) {
        rc = -EINVAL;
        goto err;
    }
    k->vcpu_mmap_size = rc;
    rc = xioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
    /* KVM documents 32 slots when the capability is absent. */
    k->max_memslots = rc > 0 ? rc : 32;
    return 0;
err:
    kvm_sys_close(k);
    return rc;
}

void kvm_sys_close(struct kvm_sys *k)
{
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
}

int kvm_check_extension(const struct kvm_sys *k, long cap)
{
    return xioctl(k->fd, KVM_CHECK_EXTENSION, (unsigned long)cap);
}

int kvm_get_supported_cpuid(const struct kvm_sys *k, struct kvm_cpuid2 *cpuid,
                            uint32_t max_entries)
{
    cpuid->nent = max_entries;
    cpuid->padding = 0;
    return xioctl(k->fd, KVM_GET_SUPPORTED_CPUID, (unsigned long)cpuid);
}

int kvm_create_vm(const struct kvm_sys *k)
{
    int rc = -EINTR;

    for (int attempt = 0; attempt < 5 && rc == -EINTR; attempt++) {
        if (attempt > 0) {
            /* 1, 2, 4, 8 us: KVM_CREATE_VM's EINTR clears quickly. */
            struct timespec ts = {0, 1000L << (attempt - 1)};
            nanosleep(&ts, NULL);
        }
        rc = xioctl(k->fd, KVM_CREATE_VM, 0);
    }
    if (rc >= 0) {
        /* KVM_CREATE_VM returns an fd with O_CLOEXEC already set. */
        (void)fcntl(rc, F_SETFD, FD_CLOEXEC);
    }
    return rc;
}

int kvm_vm_check_extension(int vm_fd, long cap)
{
    return xioctl(vm_fd, KVM_CHECK_EXTENSION, (unsigned long)cap);
}

int kvm_set_tss_addr(int vm_fd, uint64_t addr)
{
    return xioctl(vm_fd, KVM_SET_TSS_ADDR, (unsigned long)addr);
}

int kvm_create_irqchip(int vm_fd)
{
    return xioctl(vm_fd, KVM_CREATE_IRQCHIP, 0);
}

int kvm_create_pit2(int vm_fd, uint32_t flags)
{
    struct kvm_pit_config cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.flags = flags;
    return xioctl(vm_fd, KVM_CREATE_PIT2, (unsigned long)&cfg);
}

int kvm_set_user_memory_region(int vm_fd, uint32_t slot, uint32_t flags,
                               uint64_t gpa, uint64_t size, void *hva)
{
    struct kvm_userspace_memory_region r = {
        .slot = slot,
        .flags = flags,
        .guest_phys_addr = gpa,
        .memory_size = size,
        .userspace_addr = (uint64_t)(uintptr_t)hva,
    };
    return xioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, (unsigned long)&r);
}

int kvm_irq_line(int vm_fd, uint32_t gsi, int level)
{
    struct kvm_irq_level l = {.irq = gsi, .level = (uint32_t)level};
    return xioctl(vm_fd, KVM_IRQ_LINE, (unsigned long)&l);
}

int kvm_irqfd(int vm_fd, int efd, uint32_t gsi, int deassign)
{
    struct kvm_irqfd f;

    memset(&f, 0, sizeof(f));
    f.fd = (uint32_t)efd;
    f.gsi = gsi;
    f.flags = deassign ? KVM_IRQFD_FLAG_DEASSIGN : 0;
    return xioctl(vm_fd, KVM_IRQFD, (unsigned long)&f);
}

int kvm_set_gsi_routing(int vm_fd, const struct kvm_irq_routing_entry *e,
                        uint32_t n)
{
    struct kvm_irq_routing *r;
    int rc;

    r = calloc(1, sizeof(*r) + (size_t)n * sizeof(*e));
    if (!r)
        return -ENOMEM;
    r->nr = n;
    if (n)
        memcpy(r->entries, e, (size_t)n * sizeof(*e));
    rc = xioctl(vm_fd, KVM_SET_GSI_ROUTING, (unsigned long)r);
    free(r);
    return rc;
}

static int ioeventfd(int vm_fd, int efd, uint64_t addr, uint32_t len,
                     uint32_t flags, uint64_t datamatch)
{
    struct kvm_ioeventfd e;

    memset(&e, 0, sizeof(e));
    e.addr = addr;
    e.len = len;
    e.fd = efd;
    e.flags = flags;
    e.datamatch = datamatch;
    return xioctl(vm_fd, KVM_IOEVENTFD, (unsigned long)&e);
}

int kvm_ioeventfd(int vm_fd, int efd, uint64_t addr, uint32_t len, int is_pio,
                  int deassign)
{
    return ioeventfd(vm_fd, efd, addr, len,
                     (is_pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
                         (deassign ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0),
                     0);
}

int kvm_ioeventfd_datamatch(int vm_fd, int efd, uint64_t addr, uint32_t len,
                            uint64_t datamatch, int deassign)
{
    return ioeventfd(vm_fd, efd, addr, len,
                     KVM_IOEVENTFD_FLAG_DATAMATCH |
                         (deassign ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0),
                     datamatch);
}

int kvm_get_dirty_log(int vm_fd, uint32_t slot, void *bitmap)
{
    struct kvm_dirty_log d;

    memset(&d, 0, sizeof(d));
    d.slot = slot;
    d.dirty_bitmap = bitmap;
    return xioctl(vm_fd, KVM_GET_DIRTY_LOG, (unsigned long)&d);
}

int kvm_create_vcpu(int vm_fd, unsigned long id)
{
    return xioctl(vm_fd, KVM_CREATE_VCPU, id);
}

int kvm_map_run(int vcpu_fd, int mmap_size, struct kvm_run **run)
{
    void *p = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                   vcpu_fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    *run = p;
    return 0;
}

void kvm_unmap_run(struct kvm_run *run, int mmap_size)
{
    if (run)
        munmap(run, (size_t)mmap_size);
}

int kvm_run(int vcpu_fd)
{
    return xioctl(vcpu_fd, KVM_RUN, 0);
}

int kvm_get_regs(int vcpu_fd, struct kvm_regs *r)
{
    return xioctl(vcpu_fd, KVM_GET_REGS, (unsigned long)r);
}

int kvm_set_regs(int vcpu_fd, const struct kvm_regs *r)
{
    return xioctl(vcpu_fd, KVM_SET_REGS, (unsigned long)r);
}

int kvm_get_sregs(int vcpu_fd, struct kvm_sregs *s)
{
    return xioctl(vcpu_fd, KVM_GET_SREGS, (unsigned long)s);
}

int kvm_set_sregs(int vcpu_fd, const struct kvm_sregs *s)
{
    return xioctl(vcpu_fd, KVM_SET_SREGS, (unsigned long)s);
}

int kvm_get_fpu(int vcpu_fd, struct kvm_fpu *f)
{
    return xioctl(vcpu_fd, KVM_GET_FPU, (unsigned long)f);
}

int kvm_set_fpu(int vcpu_fd, const struct kvm_fpu *f)
{
    return xioctl(vcpu_fd, KVM_SET_FPU, (unsigned long)f);
}

int kvm_get_lapic(int vcpu_fd, struct kvm_lapic_state *l)
{
    return xioctl(vcpu_fd, KVM_GET_LAPIC, (unsigned long)l);
}

int kvm_set_lapic(int vcpu_fd, const struct kvm_lapic_state *l)
{
    return xioctl(vcpu_fd, KVM_SET_LAPIC, (unsigned long)l);
}

int kvm_set_cpuid2(int vcpu_fd, const struct kvm_cpuid2 *c)
{
    return xioctl(vcpu_fd, KVM_SET_CPUID2, (unsigned long)c);
}

uint32_t kvm_cpuid2_written(const struct kvm_cpuid_entry2 *e, uint32_t n)
{
    unsigned char mark[sizeof(*e)];

    memset(mark, KVM_CPUID2_UNWRITTEN, sizeof(mark));
    for (uint32_t i = 0; i < n; i++)
        if (!memcmp(&e[i], mark, sizeof(mark)))
            return i;
    return n;
}

int kvm_get_cpuid2(int vcpu_fd, struct kvm_cpuid2 *c, uint32_t max_entries)
{
    int rc;

    /* Kernels that keep the old KVM_GET_CPUID2 leave nent as it came in
     * when the call succeeds (seen on Debian's 6.1 kvm-amd): every slot
     * is marked first, and the count is where the kernel stopped
     * writing. */
    memset(c->entries, KVM_CPUID2_UNWRITTEN,
           (size_t)max_entries * sizeof(c->entries[0]));
    c->nent = max_entries;
    c->padding = 0;
    rc = xioctl(vcpu_fd, KVM_GET_CPUID2, (unsigned long)c);
    if (rc < 0)
        return rc;
    c->nent = kvm_cpuid2_written(c->entries,
                                 c->nent < max_entries ? c->nent : max_entries);
    return rc;
}

int kvm_set_msrs(int vcpu_fd, const struct kvm_msrs *msrs)
{
    return xioctl(vcpu_fd, KVM_SET_MSRS, (unsigned long)msrs);
}

int kvm_get_msrs(int vcpu_fd, struct kvm_msrs *msrs)
{
    return xioctl(vcpu_fd, KVM_GET_MSRS, (unsigned long)msrs);
}

int kvm_get_mp_state(int vcpu_fd, struct kvm_mp_state *mp)
{
    return xioctl(vcpu_fd, KVM_GET_MP_STATE, (unsigned long)mp);
}

int kvm_kvmclock_ctrl(int vcpu_fd)
{
    return xioctl(vcpu_fd, KVM_KVMCLOCK_CTRL, 0);
}

int kvm_state_ioctl(int fd, unsigned long req, void *arg)
{
    return xioctl(fd, req, (unsigned long)arg);
}

int kvm_get_tsc_khz(int vcpu_fd)
{
    return xioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0);
}

int kvm_set_tsc_khz(int vcpu_fd, uint32_t khz)
{
    return xioctl(vcpu_fd, KVM_SET_TSC_KHZ, khz);
}
