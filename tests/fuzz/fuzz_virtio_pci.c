/*
 * fuzz_virtio_pci.c: libFuzzer harness for the virtio-pci transport
 * (devices/pci/virtio_pci.h, msix.h) in front of a real device,
 * virtio-rng, with 64 KiB of guest memory and a fake VMM for MSI-X.
 *
 * The input is a list of 12-byte records {kind, len, region, pad, offset
 * (4, LE), value (4, LE)}: kind % 5 picks a BAR read or write, a config
 * space read or write through ECAM, or "the loop runs queue 0" (what the
 * notification eventfd triggers); region % 7 picks the BAR region the
 * offset (modulo 0x200) falls in (common, ISR, device, notify, MSI-X table,
 * PBA) or, for 6, anywhere in the BAR and a little past it; len is 1..8.
 * A record with kind 0..3 whose driver status reaches DRIVER_OK makes the
 * device run its queue over whatever rings the input described.
 * Invariants after every access: a vector is live only if MSI-X is enabled,
 * the function unmasked and the vector unmasked; the fake VMM never sees
 * an irqfd registered twice or removed when absent; queue vectors are in
 * range or NO_VECTOR; the config space's read-only bits never move.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci/root.h"
#include "devices/pci/virtio_pci.h"
#include "devices/virtio/rng.h"

#define MEM_SIZE 0x10000u
#define BAR      0x4000000000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fake_vm {
    uint64_t registered; /* bit per GSI - 24 */
};

static int fake_route(void *ctx, uint32_t gsi, uint64_t addr, uint32_t d)
{
    (void)ctx;
    (void)addr;
    (void)d;
    if (gsi < MSIX_FIRST_GSI || gsi >= MSIX_FIRST_GSI + 64)
        __builtin_trap();
    return 0;
}

static int fake_irqfd(void *ctx, int efd, uint32_t gsi, bool deassign)
{
    struct fake_vm *vm = ctx;
    uint64_t bit = 1ull << (gsi - MSIX_FIRST_GSI);

    (void)efd;
    if (gsi < MSIX_FIRST_GSI || gsi >= MSIX_FIRST_GSI + 64)
        __builtin_trap();
    if (deassign != !!(vm->registered & bit))
        __builtin_trap();
    vm->registered ^= bit;
    return 0;
}

static const struct msix_irq_ops fake_ops = {fake_route, fake_irqfd};

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void check(const struct virtio_pci *p, const struct pci_config *was)
{
    const struct msix *m = &p->msix;

    for (uint16_t v = 0; v < m->n_vectors; v++)
        if (m->vec[v].is_live && (!m->is_enabled || m->is_masked ||
                                  (m->vec[v].ctrl & MSIX_VEC_MASKED)))
            __builtin_trap();
    if (p->config_vector != MSIX_NO_VECTOR && p->config_vector >= m->n_vectors)
        __builtin_trap();
    for (size_t q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++)
        if (p->queue_vector[q] != MSIX_NO_VECTOR &&
            p->queue_vector[q] >= m->n_vectors)
            __builtin_trap();
    for (uint32_t i = 0; i < PCI_CONFIG_REGS; i++)
        if ((p->pci.cfg.regs[i] ^ was->regs[i]) & ~was->wmask[i])
            __builtin_trap();
}

static uint64_t bar_off(uint8_t region, uint32_t off)
{
    static const uint32_t base[6] = {
        VIRTIO_PCI_COMMON, VIRTIO_PCI_ISR,        VIRTIO_PCI_DEVICE_CFG,
        VIRTIO_PCI_NOTIFY, VIRTIO_PCI_MSIX_TABLE, VIRTIO_PCI_MSIX_PBA,
    };

    if (region % 7 == 6)
        return off % (VIRTIO_PCI_BAR_SIZE + 64);
    return base[region % 7] + off % 0x200u;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t ram[MEM_SIZE] __attribute__((aligned(4096)));
    struct guest_mem gm;
    struct fake_vm vm = {0};
    struct pci_root root;
    struct virtio_pci p;
    struct pci_config was;
    struct rng *r = NULL;
    struct sq_err err;
    unsigned slot;

    memset(ram, 0, sizeof(ram));
    memset(&gm, 0, sizeof(gm));
    gm.n_regions = 1;
    gm.regions[0].gpa = 0;
    gm.regions[0].size = MEM_SIZE;
    gm.regions[0].hva = ram;
    sq_err_clear(&err);
    if (rng_new(NULL, &r, &err) < 0)
        __builtin_trap();
    pci_root_init(&root);
    if (virtio_pci_init(&p, rng_transport(r), BAR, MSIX_FIRST_GSI) < 0 ||
        pci_root_add(&root, &p.pci, &slot) < 0 ||
        rng_attach(r, &gm, -1, BAR, NULL) < 0)
        __builtin_trap();
    msix_connect(&p.msix, &fake_ops, &vm);
    was = p.pci.cfg;
    for (size_t at = 0; at + 12 <= size; at += 12) {
        const uint8_t *rec = data + at;
        uint32_t len = 1u + rec[1] % 8u, off = get32(rec + 4);
        uint64_t ecam = ((uint64_t)slot << 15) + off % 0x1000u;
        uint8_t buf[8];

        memcpy(buf, rec + 8, 4);
        memcpy(buf + 4, rec + 8, 4);
        switch (rec[0] % 5) {
        case 0:
            pthread_mutex_lock(&p.bar.lock);
            virtio_pci_bar_read(&p.bar, bar_off(rec[2], off), buf, len);
            pthread_mutex_unlock(&p.bar.lock);
            break;
        case 1:
            pthread_mutex_lock(&p.bar.lock);
            virtio_pci_bar_write(&p.bar, bar_off(rec[2], off), buf, len);
            pthread_mutex_unlock(&p.bar.lock);
            break;
        case 2:
            pthread_mutex_lock(&root.ecam.lock);
            pci_root_ecam_read(&root.ecam, ecam, buf, len);
            pthread_mutex_unlock(&root.ecam.lock);
            break;
        case 3:
            pthread_mutex_lock(&root.ecam.lock);
            pci_root_ecam_write(&root.ecam, ecam, buf, len);
            pthread_mutex_unlock(&root.ecam.lock);
            break;
        default:
            virtio_mmio_notify(rng_transport(r), 0);
            break;
        }
        check(&p, &was);
    }
    virtio_pci_fini(&p);
    if (vm.registered) /* fini took every irqfd off */
        __builtin_trap();
    rng_free(r);
    pci_root_fini(&root);
    return 0;
}
