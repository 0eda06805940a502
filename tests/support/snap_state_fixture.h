/*
 * snap_state_fixture.h: a machine state with every section filled (two
 * vCPUs with CPUID entries and MSRs, serial and i8042 with buffered bytes,
 * one activated virtio-block device, VMGenID and VMClock), for tests and the
 * test state-file generator. No KVM: the KVM structures are filled with
 * patterns. Free with microvm_state_fini().
 */
#ifndef SQUIB_TESTS_SNAP_STATE_FIXTURE_H
#define SQUIB_TESTS_SNAP_STATE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "snapshot/state.h"
#include "util/xalloc.h"

static inline void fill(void *p, size_t n, uint8_t seed)
{
    uint8_t *b = p;

    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(seed + i * 7);
}

/* A state with two vCPUs, each with CPUID entries and MSRs. */
static inline void make_state(struct microvm_state *s)
{
    memset(s, 0, sizeof(*s));
    s->info.vcpu_count = 2;
    s->info.mem_size_mib = 4096;
    s->info.smt = true;
    s->info.huge_pages = 1;
    s->info.cpu_template = 3;
    s->n_regions = 2;
    s->regions[0].gpa = 0;
    s->regions[0].size = 3ULL << 30;
    s->regions[1].gpa = 4ULL << 30;
    s->regions[1].size = 1ULL << 30;
    fill(&s->machine.vm, sizeof(s->machine.vm), 1);
    s->machine.n_vcpus = 2;
    for (uint32_t i = 0; i < 2; i++) {
        struct vcpu_snap *v = &s->machine.vcpus[i];

        fill(v, offsetof(struct vcpu_snap, tsc_khz), (uint8_t)(10 + i));
        v->tsc_khz = 2000000 + i;
        v->xsave_size = VCPU_SNAP_XSAVE_LEGACY;
        v->xsave = xcalloc(1, v->xsave_size);
        fill(v->xsave, v->xsave_size, (uint8_t)(30 + i));
        v->n_cpuid = 3 + i;
        v->cpuid = xcalloc(v->n_cpuid, sizeof(v->cpuid[0]));
        fill(v->cpuid, v->n_cpuid * sizeof(v->cpuid[0]), (uint8_t)(20 + i));
        v->n_msrs = 5;
        v->msrs = xcalloc(v->n_msrs, sizeof(v->msrs[0]));
        for (uint32_t j = 0; j < v->n_msrs; j++) {
            v->msrs[j].index = 0x4b564d00 + j;
            v->msrs[j].data = 0x1122334455667788ULL + j + i;
        }
    }
    s->machine.serial.ier = 0x0f;
    s->machine.serial.lcr = 0x03;
    s->machine.serial.n_fifo = 3;
    memcpy(s->machine.serial.fifo, "abc", 3);
    s->machine.i8042.status = 0x1c;
    s->machine.i8042.n_buf = 2;
    s->machine.i8042.buf[0] = 0x14;
    s->machine.i8042.buf[1] = 0x11;
    s->machine.acpi.present = true;
    s->machine.acpi.place.vmgenid_addr = 0xdfff0;
    s->machine.acpi.place.vmgenid_gsi = 6;
    s->machine.acpi.place.vmclock_addr = 0xde000;
    s->machine.acpi.place.vmclock_gsi = 7;
    vmclock_abi_init(&s->machine.acpi.vmclock);
    s->machine.acpi.vmclock.seq_count = 4;
    s->machine.acpi.vmclock.disruption_marker = 2;
    s->machine.acpi.vmclock.vm_generation_counter = 2;
    s->machine.acpi.vmclock.time_sec = 0x0102030405060708ULL;
    s->n_vdevs = 1;
    s->vdevs = xcalloc(1, sizeof(*s->vdevs));
    s->vdev_configs = xcalloc(1, sizeof(*s->vdev_configs));
    s->vdevs[0].kind = xstrdup("virtio-block");
    s->vdevs[0].id = xstrdup("rootfs");
    s->vdevs[0].addr = 0xc0001000;
    s->vdevs[0].gsi = 5;
    s->vdevs[0].transport.acked_features = 1ULL << 32;
    s->vdevs[0].transport.status = 15;
    s->vdevs[0].transport.activated = true;
    s->vdevs[0].transport.n_queues = 1;
    s->vdevs[0].transport.queues[0].size = 256;
    s->vdevs[0].transport.queues[0].ready = true;
    s->vdevs[0].transport.queues[0].used_addr = 0x123000;
    s->vdevs[0].transport.queues[0].next_avail = 77;
    buf_init(&s->vdevs[0].device);
    buf_puts(&s->vdevs[0].device, "own");
    s->vdev_configs[0] = xstrdup("{\"drive_id\":\"rootfs\"}");
}

/* make_state() on PCI (--enable-pci): the root bus and the block device's
 * transport in slot 1, MSI-X enabled with vector 1 live and vector 0
 * masked with its interrupt pending. */
static inline void make_pci_state(struct microvm_state *s)
{
    struct pci_dev_snap *d;
    struct virtio_pci_state *t;

    make_state(s);
    s->vdevs[0].addr = 0;
    s->vdevs[0].gsi = 0;
    s->pci = xcalloc(1, sizeof(*s->pci));
    s->pci->root.config_address = 0x80000800u;
    s->pci->root.host.n_regs = 1;
    s->pci->root.host.regs[0] = (struct pci_reg_state){1, 0x6};
    s->pci->n = 1;
    s->pci->devs = xcalloc(1, sizeof(*s->pci->devs));
    d = &s->pci->devs[0];
    d->kind = xstrdup("virtio-block");
    d->id = xstrdup("rootfs");
    d->dev = 1;
    t = &d->transport;
    t->bar_addr = 0x4000000000ull;
    t->config.bar_sizing = 2;
    t->config.n_regs = 2;
    t->config.regs[0] = (struct pci_reg_state){1, 0x6};
    t->config.regs[1] = (struct pci_reg_state){0x1c, 0x80010011u};
    t->config_vector = 0;
    t->n_queues = 1;
    t->queue_vector[0] = 1;
    t->last_used[0] = 76;
    t->n_vectors = 2;
    t->first_gsi = 24;
    t->vec[0] = (struct msix_entry_state){0xfee00000u, 0, 0x30, 1};
    t->vec[1] = (struct msix_entry_state){0xfee00000u, 0, 0x31, 0};
    t->pba[0] = 1;
}

#endif
