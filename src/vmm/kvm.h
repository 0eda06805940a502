/*
 * kvm.h: thin wrappers over the KVM ioctls squib uses.
 *
 * Every KVM ioctl in squib goes through this file, so that tests (and a
 * future fault-injection build) can see or replace one place. The wrappers
 * do no policy: each returns 0 (or a non-negative result) on success and
 * -errno on failure, and never logs. Callers turn failures into upstream's
 * user-visible texts.
 *
 * The structs are the uapi ones from <linux/kvm.h>.
 */
#ifndef SQUIB_VMM_KVM_H
#define SQUIB_VMM_KVM_H

#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

/* Upper bound of CPUID entries we ask KVM for (as upstream's
 * KVM_MAX_CPUID_ENTRIES). */
#define SQ_KVM_MAX_CPUID_ENTRIES 80

/* The system fd (/dev/kvm) and what we learnt from it. */
struct kvm_sys {
    int fd;             /* owned; -1 if closed */
    int api_version;    /* KVM_GET_API_VERSION, -1 if it failed, 0 if
                           /dev/kvm did not open */
    int vcpu_mmap_size; /* KVM_GET_VCPU_MMAP_SIZE */
    int max_memslots;   /* KVM_CAP_NR_MEMSLOTS (>= 1) */
};

/*
 * Open /dev/kvm (O_RDWR|O_CLOEXEC), check KVM_GET_API_VERSION == 12 and read
 * the vCPU mmap size and memslot count. On failure everything is closed and
 * -errno returned: -EINVAL with api_version not 12 when the version was
 * wrong or could not be read (then api_version is -1, as upstream reads
 * the ioctl's raw result).
 */
int kvm_sys_open(struct kvm_sys *k);
/* Close the system fd; safe on a zeroed or already closed struct (fd -1). */
void kvm_sys_close(struct kvm_sys *k);

/* KVM_CHECK_EXTENSION on the system fd: returns the (>= 0) value or -errno. */
int kvm_check_extension(const struct kvm_sys *k, long cap);

/*
 * KVM_GET_SUPPORTED_CPUID into `cpuid`, which must have room for
 * `max_entries` entries (cpuid->nent is set to that before the call and to
 * the real count after). Returns 0 or -errno (-E2BIG if too small).
 */
int kvm_get_supported_cpuid(const struct kvm_sys *k, struct kvm_cpuid2 *cpuid,
                            uint32_t max_entries);

/*
 * KVM_CREATE_VM, retried up to 5 times on EINTR with a short backoff (KVM
 * may return EINTR here without any pending signal). Returns the VM fd
 * (CLOEXEC, owned by the caller) or -errno.
 */
int kvm_create_vm(const struct kvm_sys *k);

/* VM ioctls. All return 0 or -errno. */
int kvm_vm_check_extension(int vm_fd, long cap); /* value >= 0 or -errno */
int kvm_set_tss_addr(int vm_fd, uint64_t addr);
int kvm_create_irqchip(int vm_fd);
int kvm_create_pit2(int vm_fd, uint32_t flags);
int kvm_set_user_memory_region(int vm_fd, uint32_t slot, uint32_t flags,
                               uint64_t gpa, uint64_t size, void *hva);
int kvm_irq_line(int vm_fd, uint32_t gsi, int level);
/* Register (or with deassign, remove) an eventfd that raises `gsi`. */
int kvm_irqfd(int vm_fd, int efd, uint32_t gsi, int deassign);
/*
 * KVM_SET_GSI_ROUTING: replace the VM's whole GSI routing table with the
 * `n` entries of `e` (irqchip pins and MSI messages). 0 or -errno.
 */
int kvm_set_gsi_routing(int vm_fd, const struct kvm_irq_routing_entry *e,
                        uint32_t n);
/*
 * Register an eventfd written by KVM on a guest write of `len` bytes
 * (0 = any length) at `addr` (MMIO, or PIO when is_pio). No datamatch.
 */
int kvm_ioeventfd(int vm_fd, int efd, uint64_t addr, uint32_t len, int is_pio,
                  int deassign);
/*
 * The same for an MMIO write of exactly `len` bytes (1, 2, 4 or 8) whose
 * value is `datamatch`, e.g. virtio-mmio's QueueNotify with one eventfd per
 * queue index. With deassign, remove the registration made with the same
 * arguments. 0 or -errno.
 */
int kvm_ioeventfd_datamatch(int vm_fd, int efd, uint64_t addr, uint32_t len,
                            uint64_t datamatch, int deassign);
/* KVM_GET_DIRTY_LOG for `slot`; `bitmap` must hold one bit per 4 KiB page. */
int kvm_get_dirty_log(int vm_fd, uint32_t slot, void *bitmap);

/* KVM_CREATE_VCPU: returns the vCPU fd (owned by the caller) or -errno. */
int kvm_create_vcpu(int vm_fd, unsigned long id);
/*
 * mmap the vCPU's struct kvm_run (size from struct kvm_sys). Returns 0 and
 * sets *run, or -errno. Unmap with kvm_unmap_run().
 */
int kvm_map_run(int vcpu_fd, int mmap_size, struct kvm_run **run);
void kvm_unmap_run(struct kvm_run *run, int mmap_size);

/* vCPU ioctls. KVM_RUN returns 0 or -errno (-EINTR, -EAGAIN are normal). */
int kvm_run(int vcpu_fd);
int kvm_get_regs(int vcpu_fd, struct kvm_regs *r);
int kvm_set_regs(int vcpu_fd, const struct kvm_regs *r);
int kvm_get_sregs(int vcpu_fd, struct kvm_sregs *s);
int kvm_set_sregs(int vcpu_fd, const struct kvm_sregs *s);
int kvm_get_fpu(int vcpu_fd, struct kvm_fpu *f);
int kvm_set_fpu(int vcpu_fd, const struct kvm_fpu *f);
int kvm_get_lapic(int vcpu_fd, struct kvm_lapic_state *l);
int kvm_set_lapic(int vcpu_fd, const struct kvm_lapic_state *l);
int kvm_set_cpuid2(int vcpu_fd, const struct kvm_cpuid2 *c);
/*
 * As kvm_get_supported_cpuid, for the table set on one vCPU: c->nent is the
 * number of entries the kernel wrote, also on kernels that leave nent
 * unchanged on success (kvm_cpuid2_written).
 */
int kvm_get_cpuid2(int vcpu_fd, struct kvm_cpuid2 *c, uint32_t max_entries);
/* The byte every slot is filled with before KVM_GET_CPUID2. */
#define KVM_CPUID2_UNWRITTEN 0xff
/* How many of the n entries come before the first slot still filled with
 * KVM_CPUID2_UNWRITTEN bytes (no entry KVM writes is all 0xff). */
uint32_t kvm_cpuid2_written(const struct kvm_cpuid_entry2 *e, uint32_t n);
/*
 * KVM_SET_MSRS / KVM_GET_MSRS: returns the number of MSRs processed (which
 * may be fewer than msrs->nmsrs) or -errno.
 */
int kvm_set_msrs(int vcpu_fd, const struct kvm_msrs *msrs);
int kvm_get_msrs(int vcpu_fd, struct kvm_msrs *msrs);
int kvm_get_mp_state(int vcpu_fd, struct kvm_mp_state *mp);
/* KVM_KVMCLOCK_CTRL: tell the guest it was paused (EINVAL if no kvmclock). */
int kvm_kvmclock_ctrl(int vcpu_fd);

/*
 * The state ioctls of snapshots, which move one uapi struct in or out:
 * KVM_{GET,SET}_{VCPU_EVENTS,XSAVE,XCRS,DEBUGREGS,MP_STATE,CLOCK,IRQCHIP,
 * PIT2}, KVM_GET_XSAVE2 (as many bytes as KVM_CAP_XSAVE2 says) and
 * KVM_GET_MSR_INDEX_LIST. `fd` is the system, VM or vCPU fd the
 * request belongs to. Returns the ioctl's (>= 0) result or -errno.
 */
int kvm_state_ioctl(int fd, unsigned long req, void *arg);
/* KVM_GET_TSC_KHZ (the kHz, > 0) and KVM_SET_TSC_KHZ (0) or -errno. */
int kvm_get_tsc_khz(int vcpu_fd);
int kvm_set_tsc_khz(int vcpu_fd, uint32_t khz);

#endif
