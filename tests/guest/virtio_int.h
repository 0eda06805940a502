/*
 * virtio_int.h: what the test guest's virtio drivers share (virtio.c owns
 * discovery, parameters and the transport helpers; net.c is the
 * virtio-net driver). Not for the rest of the guest: see virtio.h.
 */
#ifndef SQUIB_GUEST_VIRTIO_INT_H
#define SQUIB_GUEST_VIRTIO_INT_H

#include <stddef.h>
#include <stdint.h>

#include "guest.h"

#define RAM_LIMIT 0xc0000000ULL

/* virtio-mmio registers */
#define VM_MAGIC        0x000
#define VM_VERSION      0x004
#define VM_DEVICE_ID    0x008
#define VM_VENDOR_ID    0x00c
#define VM_DEV_FEAT     0x010
#define VM_DEV_FEAT_SEL 0x014
#define VM_DRV_FEAT     0x020
#define VM_DRV_FEAT_SEL 0x024
#define VM_QUEUE_SEL    0x030
#define VM_QUEUE_MAX    0x034
#define VM_QUEUE_NUM    0x038
#define VM_QUEUE_READY  0x044
#define VM_QUEUE_NOTIFY 0x050
#define VM_ISR          0x060
#define VM_ISR_ACK      0x064
#define VM_STATUS       0x070
#define VM_DESC_LO      0x080
#define VM_DESC_HI      0x084
#define VM_AVAIL_LO     0x090
#define VM_AVAIL_HI     0x094
#define VM_USED_LO      0x0a0
#define VM_USED_HI      0x0a4
#define VM_CONFIG       0x100

#define ST_ACK         1
#define ST_DRIVER      2
#define ST_DRIVER_OK   4
#define ST_FEATURES_OK 8
#define ST_NEEDS_RESET 0x40
#define ST_FAILED      0x80

#define F_EVENT_IDX (1ULL << 29)
#define F_VERSION_1 (1ULL << 32)

#define D_NEXT  1
#define D_WRITE 2

#define ID_NET   1
#define ID_BLK   2
#define ID_RNG   4
#define ID_VSOCK 19
#define ID_MEM   24
#define ID_PMEM  27

#define MAX_DEVS 16

struct vdesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

struct vpci; /* vpci.c's state of a virtio-pci function */

struct vdev {
    uint64_t base, size;
    uint32_t gsi;
    uint32_t source;  /* 1 = command line, 2 = DSDT, 4 = PCI */
    struct vpci *pci; /* NULL: virtio-mmio at base */
    uint32_t id, version, vendor;
    int good; /* magic and version 2 */
};

/* One split virtqueue as a driver sees it. */
struct vq {
    uint16_t size;
    volatile struct vdesc *desc;
    volatile uint16_t *avail; /* flags, idx, ring[size], used_event */
    volatile uint32_t *used;  /* flags|idx, {id, len}[size], avail_event */
    uint16_t avail_idx, last_used;
};

/* A driver instance: the device, its one queue, what was negotiated. */
struct vdrv {
    const struct vdev *dev;
    struct vq q;
    uint64_t dev_features, drv_features;
    uint32_t queue_max;
    int irq; /* completions by interrupt */
    uint32_t vector;
};

/* Outcome of one request. */
struct vres {
    int answered;     /* the used index moved */
    uint32_t id, len; /* the used element */
    int needs_reset;  /* status bit 0x40 seen while waiting */
    uint32_t status;  /* device status after the wait */
    uint64_t ticks;   /* TSC ticks from notify to completion */
};

struct venv {
    const char *cmdline;
    size_t cmdline_len;
    uint64_t rsdp_hint;
    uint64_t tsc_hz;
    struct vdev devs[MAX_DEVS];
    uint32_t n_devs, n_cmdline, n_dsdt, n_pci;
};

static inline void mb(void)
{
    __asm__ volatile("mfence" ::: "memory");
}

/*
 * vpci.c: virtio-pci as a transport. vpci_scan() adds the modern virtio
 * functions of PCI bus 0 (ECAM from the MCFG table) to e->devs;
 * vpci_read()/vpci_write() take virtio-mmio register offsets (VM_*) and
 * do the same on a function's common configuration, notify, ISR and
 * device configuration. vpci_msix() points MSI-X vector 0 at IDT vector
 * `vector` on this CPU and gives it to the queues set up afterwards: 0,
 * or -1 without MSI-X.
 */
void vpci_scan(struct venv *e);
uint32_t vpci_read(const struct vdev *d, uint32_t off);
void vpci_write(const struct vdev *d, uint32_t off, uint32_t v);
int vpci_msix(const struct vdev *d, uint32_t vector);

/* A transport register (VM_* offset) of either transport. */
static inline uint32_t vr(const struct vdev *d, uint32_t off)
{
    if (d->pci)
        return vpci_read(d, off);
    return mmio_read32(d->base + off);
}

static inline void vw(const struct vdev *d, uint32_t off, uint32_t v)
{
    if (d->pci)
        vpci_write(d, off, v);
    else
        mmio_write32(d->base + off, v);
}

static inline uint64_t addr_of(const volatile void *p)
{
    return (uint64_t)(uintptr_t)p;
}

/* virtio.c: the DSDT's address (RSDP -> XSDT/RSDT -> FADT), 0 if none;
 * the table the XSDT/RSDT lists with this signature, 0 if none. */
uint64_t virtio_find_dsdt(const struct venv *e);
uint64_t virtio_find_sdt(const struct venv *e, const char *sig);
/* Route IOAPIC pin gsi to vector on this CPU (edge, active high), with an
 * "ioapic" line: 0, or -1 when the IOAPIC has no such pin. */
int virtio_ioapic_route(uint32_t gsi, uint32_t vector);

/* virtio.c: the value of command-line parameter key ("squibfoo="), NULL
 * when absent; as a number (decimal or 0x hex), dflt when absent or bad. */
const char *virtio_param(const struct venv *e, const char *key, size_t *len);
uint64_t virtio_param_u64(const struct venv *e, const char *key, uint64_t dflt);
/* The first probed device with this id, or NULL. */
const struct vdev *virtio_find_dev(const struct venv *e, uint32_t id);
/* Write status 0 and wait for the device to show 0: 0, or -1. */
int virtio_dev_reset(const struct vdev *d);
/* The 64 feature bits the device offers. */
uint64_t virtio_dev_features(const struct vdev *d);
/*
 * A driver's first steps: reset, ACKNOWLEDGE, DRIVER, the features offered
 * & (want | VERSION_1), FEATURES_OK and its check. Appends
 * " dev_features=0x.." to l, and on failure " reset=stuck",
 * " version_1=no" (FAILED set: the device lacks VERSION_1) or
 * " features_ok=0x..". Fills *dev_feat and *drv_feat. 0, or -1.
 */
int virtio_negotiate(const struct vdev *d, uint64_t want, struct line *l,
                     uint64_t *dev_feat, uint64_t *drv_feat);

/*
 * virtio.c's one-queue driver for the other files: reset, negotiate
 * (want & offered, plus VERSION_1), queue 0 of min(max, qwant) entries in
 * virtio.c's queue memory, DRIVER_OK; 0, or -1 (a "virtio-init" line says
 * why). virtio_submit() publishes `head`, notifies and polls for the used
 * element (or NEEDS_RESET) up to timeout TSC ticks; returns r->answered.
 */
int virtio_drv_open(struct vdrv *v, const struct vdev *d, uint64_t want,
                    uint32_t qwant);
void virtio_set_desc(struct vq *q, uint16_t i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next);
int virtio_submit(struct vdrv *v, uint16_t head, uint64_t timeout,
                  struct vres *r);
/* " answered=.. used_len=.. needs_reset=.. dev_status=.." */
void virtio_line_res(struct line *l, const struct vres *r);
/* " k=<hex of p[0..n)>" */
void virtio_line_hexbytes(struct line *l, const char *k, const uint8_t *p,
                          size_t n);
uint32_t virtio_fnv1a(const uint8_t *p, size_t n);

/* memdev.c: run test `which` (0 pmem, 1 hostile-pmem, 2 virtio-mem) with
 * `timeout` TSC ticks per request; prints its lines. */
void memdev_run_test(struct venv *e, int which, uint64_t timeout);

/* net.c: run virtio-net test `which` (0 net-mmds, 1 net-ping,
 * 2 hostile-net); prints its lines. */
void net_run_test(struct venv *e, int which);

/* balloon.c: run virtio-balloon test `which` (0 balloon, 1
 * hostile-balloon, 2 balloon-hint, 3 hostile-hint); prints its lines. */
void balloon_run_test(struct venv *e, int which);

/* vsock.c: run virtio-vsock test `which` (0 vsock-echo, 1 hostile-vsock);
 * prints its lines. */
void vsock_run_test(struct venv *e, int which);

/* acpidev.c: the acpi-devs test (VMGenID and VMClock); never returns. */
void acpidev_run_test(struct venv *e) __attribute__((noreturn));

#endif
