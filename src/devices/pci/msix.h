/*
 * msix.h: one PCI function's MSI-X (PCI 3.0 section 6.8.2): the
 * capability's Message Control bits, the vector table and the pending bit
 * array (PBA) the guest reaches through a BAR, and the path from "the
 * device raises vector v" to a guest interrupt.
 *
 * Each vector owns an eventfd and a GSI (allocated by the VMM from 24 up,
 * as upstream: msix_gsi_alloc()). While a vector is *live* its GSI is
 * routed to the MSI message the guest wrote (address, data) and the eventfd
 * is registered as an irqfd for it, so raising the vector is one eventfd
 * write and KVM delivers the message. The VMM provides routing and irqfds
 * through struct msix_irq_ops (vmm/msi_routes.h for KVM, a fake in tests);
 * this file never issues an ioctl.
 *
 * Vector state (E = Message Control enable, F = function mask,
 * M = the vector's mask bit, P = its pending bit):
 *
 *                    msix_signal()                 msix_signal()
 *                    P = 1, no interrupt           eventfd write
 *                        ┌──┐                          ┌──┐
 *                        │  ▼                          │  ▼
 *   ┌─────────────────────────────┐  E=1,F=0,M=0  ┌─────────────┐
 *   │ NOT LIVE  (!E or F or M)    │ ────────────► │ LIVE        │
 *   │ no irqfd; P records what    │  set_route,   │ routed,     │
 *   │ the device raised while     │  irqfd on; if │ irqfd on    │
 *   │ masked (only when E)        │  P: P = 0 and │             │
 *   │                             │  deliver      │             │
 *   │                             │ ◄──────────── │             │
 *   └─────────────────────────────┘  E=0 or F=1   └─────────────┘
 *                                    or M=1:
 *                                    irqfd off
 *
 * Transitions come from msix_set_msg_ctl() (E, F: a config write of the
 * capability) and msix_table_write() (M, and the message: a live vector
 * whose address or data changes is routed again). With E clear the device
 * raises nothing (squib offers no INTx, as upstream): msix_signal() drops
 * it. Pending bits are read-only to the guest.
 *
 * Table and PBA accesses: 4 or 8 bytes, naturally aligned, inside the
 * table (16 bytes per vector) or the PBA; anything else reads all ones and
 * writes nothing. Only bit 0 of Vector Control is writable (the rest is
 * reserved and reads 0). Vectors start masked with a zero message.
 *
 * Locking: none inside; the owner holds the device's lock around every
 * call, including msix_signal(). A failure of the VMM's routing or irqfd
 * call is logged (rate-limited) and the vector stays not live, with what
 * the device raises kept pending: the guest sees a lost interrupt, squib
 * keeps running.
 */
#ifndef SQUIB_DEVICES_PCI_MSIX_H
#define SQUIB_DEVICES_PCI_MSIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSIX_MAX_VECTORS   64u
#define MSIX_ENTRY_SIZE    16u
#define MSIX_CTL_ENABLE    0x8000u
#define MSIX_CTL_FMASK     0x4000u
#define MSIX_VEC_MASKED    0x1u
#define MSIX_FIRST_GSI     24u     /* upstream: after the IOAPIC's 24 pins */
#define MSIX_LAST_GSI      4095u   /* KVM_MAX_IRQ_ROUTES - 1 */
#define MSIX_NO_VECTOR     0xffffu /* virtio's VIRTIO_MSI_NO_VECTOR */
#define MSIX_CAP_BODY_SIZE 10u     /* after id and next: ctl, table, PBA */

/*
 * What the VMM does for MSI-X. `ctx` is the opaque pointer given with the
 * ops. Both return 0 or -errno.
 */
struct msix_irq_ops {
    /* Route `gsi` to the MSI message (addr, data) (KVM_SET_GSI_ROUTING). */
    int (*set_route)(void *ctx, uint32_t gsi, uint64_t addr, uint32_t data);
    /* Register (deassign false) or remove eventfd `efd` as the irqfd of
     * `gsi` (KVM_IRQFD). */
    int (*irqfd)(void *ctx, int efd, uint32_t gsi, bool deassign);
};

struct msix_vector {
    uint32_t addr_lo, addr_hi, data, ctrl; /* the table entry */
    uint32_t gsi;
    int efd;      /* owned eventfd; -1 before init */
    bool is_live; /* routed and registered as an irqfd */
};

struct msix {
    uint16_t n_vectors;
    bool is_enabled; /* Message Control bit 15 */
    bool is_masked;  /* Message Control bit 14 (function mask) */
    struct msix_vector vec[MSIX_MAX_VECTORS];
    uint64_t pba[MSIX_MAX_VECTORS / 64];
    const struct msix_irq_ops *ops; /* NULL: not connected to a VM */
    void *ctx;                      /* borrowed, for ops */
};

/*
 * Take `n` consecutive GSIs from the allocator `*next` (start it at
 * MSIX_FIRST_GSI): 0 and *first, or -ENOSPC past MSIX_LAST_GSI (nothing
 * taken).
 */
int msix_gsi_alloc(uint32_t *next, uint16_t n, uint32_t *first);

/*
 * `n` vectors (1..MSIX_MAX_VECTORS) on GSIs first_gsi.., in the PCI reset
 * state: every vector masked, Message Control 0 (disabled, function mask
 * clear), nothing pending. Creates the eventfds. 0, or -EINVAL / -errno
 * with nothing left open.
 */
int msix_init(struct msix *m, uint16_t n, uint32_t first_gsi);

/* Take every live vector's irqfd off (through ops) and close the
 * eventfds. Safe after a failed init and twice. */
void msix_fini(struct msix *m);

/* Connect to the VMM's routing (NULL: disconnect). Live vectors are taken
 * off the old routing and the vectors the guest's bits ask for put live on
 * the new one; the guest-visible state does not change. */
void msix_connect(struct msix *m, const struct msix_irq_ops *ops, void *ctx);

/*
 * The capability's body (after id and next: Message Control, Table
 * Offset/BIR, PBA Offset/BIR) for a table at `table_off` and a PBA at
 * `pba_off` (both 8-aligned) in BAR `bir`, and its write mask (enable and
 * function-mask bits only), for pci_config_add_cap().
 */
void msix_cap_body(const struct msix *m, uint8_t bir, uint32_t table_off,
                   uint32_t pba_off, uint8_t body[MSIX_CAP_BODY_SIZE],
                   uint8_t wmask[MSIX_CAP_BODY_SIZE]);

/* Table size in bytes, PBA size in bytes (8 per 64 vectors). */
uint32_t msix_table_size(const struct msix *m);
uint32_t msix_pba_size(const struct msix *m);

/* The guest wrote Message Control: apply E and F (diagram above). */
void msix_set_msg_ctl(struct msix *m, uint16_t ctl);

/* Guest accesses at byte `off` of the table or the PBA (rules above). */
void msix_table_read(const struct msix *m, uint64_t off, uint8_t *data,
                     uint32_t len);
void msix_table_write(struct msix *m, uint64_t off, const uint8_t *data,
                      uint32_t len);
void msix_pba_read(const struct msix *m, uint64_t off, uint8_t *data,
                   uint32_t len);

/*
 * The device raises vector `v`: an eventfd write when live, the pending
 * bit when enabled but masked, nothing when disabled. 0, -EINVAL for a
 * vector out of range (e.g. MSIX_NO_VECTOR), or the write's -errno.
 */
int msix_signal(struct msix *m, uint16_t v);

/* Whether the guest's bits ask for vector v to be live (E=1, F=0, M=0):
 * the VMM routes those at once before connecting (a snapshot's restore).
 * Its message is (addr_hi << 32 | addr_lo, data) of m->vec[v]. */
bool msix_wants_live(const struct msix *m, uint16_t v);

/* Whether vector v's pending bit is set (tests, snapshots). */
bool msix_is_pending(const struct msix *m, uint16_t v);

#endif
