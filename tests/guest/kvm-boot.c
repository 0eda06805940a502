/*
 * kvm-boot.c: a minimal KVM runner for the test guests, built
 * on squib's own loader (vmm/boot, vmm/cmdline). It exists to check the
 * boot path end to end before the full machine is assembled: it loads a
 * kernel with boot_load(), sets the boot vCPU state with boot_vcpu_setup()
 * and boot_msrs(), and runs it with just enough devices for the test guest:
 * COM1 output (THR write, LSR always "empty") to stdout, i8042 reset
 * (port 0x64 value 0xfe) as a clean stop. No MPTable/ACPI, no irqchip
 * other than KVM's in-kernel one, no virtio.
 *
 *   kvm-boot KERNEL [CMDLINE] [INITRD]
 *
 * KVM_BOOT_VCPUS=N in the environment creates N vCPUs (default 1); the
 * application processors wait for INIT-SIPI-SIPI in the in-kernel LAPIC.
 *
 * With the in-kernel irqchip, "cli; hlt" does not exit to user space: the
 * vCPU stays halted (bound the run with timeout(1)).
 *
 * Exit status: 0 after an i8042 reset, 1 on HLT/shutdown/any other exit,
 * 2 on setup errors, 77 when /dev/kvm cannot be used (a skip).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/err.h"
#include "vmm/boot.h"
#include "vmm/cmdline.h"

#define MEM_SIZE (128ULL << 20)

static int set_cpuid(int kvm, int vcpu)
{
    size_t sz =
        sizeof(struct kvm_cpuid2) + 256 * sizeof(struct kvm_cpuid_entry2);
    struct kvm_cpuid2 *c = calloc(1, sz);
    int rc = -1;

    if (!c)
        return -1;
    c->nent = 256;
    if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c) == 0 &&
        ioctl(vcpu, KVM_SET_CPUID2, c) == 0)
        rc = 0;
    free(c);
    return rc;
}

static int set_msrs(int vcpu)
{
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry e[16];
    } m;

    memset(&m, 0, sizeof(m));
    m.hdr.nmsrs = (uint32_t)boot_msrs(m.e, 16);
    return ioctl(vcpu, KVM_SET_MSRS, &m) == (int)m.hdr.nmsrs ? 0 : -1;
}

struct vcpu_ctx {
    int fd;
    struct kvm_run *run;
};

/* Run one vCPU until the guest stops; returns the process exit status. */
static int vcpu_loop(struct vcpu_ctx *c)
{
    for (;;) {
        if (ioctl(c->fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            perror("kvm-boot: KVM_RUN");
            return 1;
        }
        switch (c->run->exit_reason) {
        case KVM_EXIT_IO: {
            uint8_t *data = (uint8_t *)c->run + c->run->io.data_offset;

            if (c->run->io.direction == KVM_EXIT_IO_OUT) {
                if (c->run->io.port == 0x3f8)
                    fwrite(data, 1, c->run->io.size * c->run->io.count, stdout);
                else if (c->run->io.port == 0x64 && data[0] == 0xfe) {
                    fflush(stdout);
                    fprintf(stderr, "kvm-boot: i8042 reset\n");
                    return 0;
                }
            } else {
                /* LSR: transmitter empty; everything else reads 0 */
                memset(data, 0, c->run->io.size * c->run->io.count);
                if (c->run->io.port == 0x3fd)
                    data[0] = 0x60;
            }
            break;
        }
        case KVM_EXIT_MMIO:
            if (!c->run->mmio.is_write)
                memset(c->run->mmio.data, 0, sizeof(c->run->mmio.data));
            break;
        case KVM_EXIT_HLT:
            fflush(stdout);
            fprintf(stderr, "kvm-boot: hlt\n");
            return 1;
        case KVM_EXIT_SHUTDOWN:
            fflush(stdout);
            fprintf(stderr, "kvm-boot: shutdown (triple fault)\n");
            return 1;
        default:
            fflush(stdout);
            fprintf(stderr, "kvm-boot: exit reason %u\n", c->run->exit_reason);
            if (c->run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
                fprintf(stderr, "kvm-boot: internal error suberror %u\n",
                        c->run->internal.suberror);
            return 1;
        }
    }
}

static void *vcpu_thread(void *arg)
{
    exit(vcpu_loop(arg)); /* a reset or crash on any vCPU ends the run */
}

int main(int argc, char **argv)
{
    const char *cl_arg = argc > 2 ? argv[2] : "console=ttyS0 squibtest=report";
    char cmdline[CMDLINE_MAX_SIZE];
    struct cmdline_extras x = {.root_pmem_index = -1};
    struct boot_result res;
    struct boot_mem mem;
    struct sq_err err;
    struct kvm_userspace_memory_region region;
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_fpu fpu;
    struct kvm_run *run;
    int kvm, vm, vcpu, kfd, ifd = -1;
    long run_size;
    const char *nv = getenv("KVM_BOOT_VCPUS");
    int n_vcpus = nv ? atoi(nv) : 1;
    uint8_t *ram;

    setvbuf(stdout, NULL, _IONBF, 0); /* output survives a kill on timeout */
    if (argc < 2) {
        fprintf(stderr, "usage: %s KERNEL [CMDLINE] [INITRD]\n", argv[0]);
        return 2;
    }
    kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) {
        fprintf(stderr, "kvm-boot: /dev/kvm: %s (skip)\n", strerror(errno));
        return 77;
    }
    vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0 || ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0 ||
        ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0) {
        perror("kvm-boot: create vm");
        return 2;
    }
    ram = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ram == MAP_FAILED)
        return 2;
    memset(&region, 0, sizeof(region));
    region.memory_size = MEM_SIZE;
    region.userspace_addr = (uint64_t)(uintptr_t)ram;
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
        perror("kvm-boot: memory region");
        return 2;
    }

    sq_err_clear(&err);
    if (cmdline_build(cl_arg, &x, cmdline, sizeof(cmdline), &err) < 0) {
        fprintf(stderr, "kvm-boot: %s\n", err.msg);
        return 2;
    }
    kfd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (argc > 3)
        ifd = open(argv[3], O_RDONLY | O_CLOEXEC);
    if (kfd < 0 || (argc > 3 && ifd < 0)) {
        perror("kvm-boot: open");
        return 2;
    }
    mem.ram = ram;
    mem.ram_len = MEM_SIZE;
    mem.mem_size = MEM_SIZE;
    if (boot_load(&mem, kfd, ifd, cmdline, &res, &err) < 0) {
        fprintf(stderr, "kvm-boot: Start microvm error: %s\n", err.msg);
        return 2;
    }

    if (n_vcpus < 1 || n_vcpus > 64)
        n_vcpus = 1;
    vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (vcpu < 0 || run_size <= 0)
        return 2;
    run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu,
               0);
    if (run == MAP_FAILED || set_cpuid(kvm, vcpu) < 0 || set_msrs(vcpu) < 0 ||
        ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) {
        perror("kvm-boot: vcpu setup");
        return 2;
    }
    boot_vcpu_setup(&res, &regs, &sregs, &fpu);
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0 ||
        ioctl(vcpu, KVM_SET_REGS, &regs) < 0 ||
        ioctl(vcpu, KVM_SET_FPU, &fpu) < 0) {
        perror("kvm-boot: set registers");
        return 2;
    }

    for (int i = 1; i < n_vcpus; i++) {
        struct vcpu_ctx *c = calloc(1, sizeof(*c));
        pthread_t t;

        if (!c)
            return 2;
        c->fd = ioctl(vm, KVM_CREATE_VCPU, i);
        if (c->fd < 0)
            return 2;
        c->run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE,
                      MAP_SHARED, c->fd, 0);
        if (c->run == MAP_FAILED || set_cpuid(kvm, c->fd) < 0 ||
            set_msrs(c->fd) < 0 ||
            pthread_create(&t, NULL, vcpu_thread, c) != 0)
            return 2;
    }
    {
        struct vcpu_ctx bsp = {vcpu, run};
        return vcpu_loop(&bsp);
    }
}
