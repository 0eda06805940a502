/*
 * config.h: one PCI function's configuration space (type-0 header), as the
 * guest sees it through ECAM or the 0xcf8/0xcfc ports (root.h).
 *
 * The space is 4 KiB (PCIe extended configuration space, 1024 dword
 * registers) held as values plus a per-register mask of the bits the guest
 * may write; every other bit is read-only and keeps its value whatever the
 * guest writes. The header gives the guest Command (r/w), Cache Line Size
 * (r/w) and Interrupt Line (r/w); IDs, class, Status, the capability pointer
 * and capabilities are read-only unless a capability says otherwise (the
 * MSI-X Message Control enable and function-mask bits).
 *
 * BARs: only 64-bit memory BARs, at fixed addresses (squib, like upstream,
 * does not relocate BARs). A 4-byte write of 0xffffffff to either half puts
 * that register in "sizing" state, where it reads back the size mask
 * (~(size - 1), plus the type bits on the low half), as the PCI sizing
 * protocol expects; any other write to a BAR register leaves sizing and is
 * otherwise ignored (the address stays). An unused BAR reads 0, also while
 * sizing. The expansion ROM BAR always reads 0.
 *
 * Accesses: reads of 1, 2 or 4 bytes anywhere inside one dword; writes of 1,
 * 2 or 4 bytes naturally aligned (offset % len == 0), as upstream. Any other
 * access (crossing a dword, odd length, misaligned write, register index
 * past the space) reads all ones and writes nothing. Nothing the guest does
 * here fails or logs more than a rate-limited warning.
 *
 * Locking: none inside; the owner (struct pci_dev, root.h) holds the
 * function's lock around every call.
 */
#ifndef SQUIB_DEVICES_PCI_CONFIG_H
#define SQUIB_DEVICES_PCI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCI_CONFIG_REGS    1024u /* 4 KiB */
#define PCI_CONFIG_N_BARS  6u
#define PCI_REG_ID         0u  /* device id << 16 | vendor id */
#define PCI_REG_CMD_STATUS 1u  /* status << 16 | command */
#define PCI_REG_CLASS      2u  /* class, subclass, prog-if, revision */
#define PCI_REG_HEADER     3u  /* BIST, header type, latency, cache line */
#define PCI_REG_BAR0       4u  /* .. PCI_REG_BAR0 + 5 */
#define PCI_REG_SUBSYS     11u /* subsystem id << 16 | subsystem vendor */
#define PCI_REG_ROM        12u
#define PCI_REG_CAP_PTR    13u /* low byte: first capability */
#define PCI_REG_INTR       15u /* max lat, min gnt, pin, line */

#define PCI_STATUS_CAP_LIST 0x0010u /* Status bit 4: capabilities exist */
#define PCI_CAP_FIRST       0x40u   /* first capability offset */
#define PCI_CAP_END         0x100u  /* capabilities live below this */
#define PCI_BAR_MEM_64      0x4u    /* BAR type bits 2:1 = 10b */
#define PCI_BAR_PREFETCH    0x8u

/* Capability ids used in squib. */
#define PCI_CAP_ID_VENDOR 0x09u
#define PCI_CAP_ID_MSIX   0x11u

/* Class codes used in squib. */
#define PCI_CLASS_BRIDGE  0x06u
#define PCI_SUBCLASS_HOST 0x00u

/* What a type-0 header says about the function. */
struct pci_ids {
    uint16_t vendor_id;
    uint16_t device_id;
    uint8_t revision;
    uint8_t class_code;
    uint8_t subclass;
    uint8_t prog_if;
    uint16_t subsys_vendor_id;
    uint16_t subsys_id;
};

struct pci_bar {
    uint64_t addr; /* 0 with size 0: unused */
    uint64_t size; /* power of two >= 16, or 0 */
    bool is_prefetchable;
};

struct pci_config {
    uint32_t regs[PCI_CONFIG_REGS];
    uint32_t wmask[PCI_CONFIG_REGS];        /* bits the guest may write */
    struct pci_bar bars[PCI_CONFIG_N_BARS]; /* a 64-bit BAR uses i, i + 1;
                                             * the address and size sit at i */
    uint8_t bar_sizing; /* bit per BAR register: reads the size mask */
    uint16_t last_cap;  /* offset of the last capability, 0: none */
    uint16_t cap_end;   /* first free byte after the last capability */
};

/* A type-0 header with `ids`, no BARs, no capabilities, Command cleared. */
void pci_config_init(struct pci_config *c, const struct pci_ids *ids);

/*
 * Declare a 64-bit memory BAR in registers idx and idx + 1 at guest
 * address `addr` of `size` bytes. 0, or -EINVAL when idx > 4, the two
 * registers are taken, size is not a power of two >= 16, addr is not
 * size-aligned or addr + size overflows.
 */
int pci_config_set_bar64(struct pci_config *c, unsigned idx, uint64_t addr,
                         uint64_t size, bool is_prefetchable);

/*
 * Append a capability: `id`, then the `body_len` bytes of `body` after the
 * two header bytes (id, next); `body_wmask` (same length, NULL = none) says
 * which body bits the guest may write. It goes at the next dword-aligned
 * offset from 0x40 and is linked at the end of the list; Status gets its
 * capability bit. Returns the capability's offset (>= 0x40), or -ENOSPC if
 * it would pass 0x100.
 */
int pci_config_add_cap(struct pci_config *c, uint8_t id, const uint8_t *body,
                       size_t body_len, const uint8_t *body_wmask);

/* Whether the model takes a guest access of `len` bytes at byte `off` of
 * register `reg` (the rules above; a write must also be aligned). */
bool pci_config_access_ok(uint32_t reg, uint32_t off, uint32_t len,
                          bool is_write);

/*
 * The guest's view of register `reg` (0xffffffff past the space), BAR
 * sizing applied.
 */
uint32_t pci_config_read_reg(const struct pci_config *c, uint32_t reg);

/*
 * Guest read of `len` bytes at byte `off` (0..3) of register `reg` into
 * `data`; all ones for an access the header above refuses.
 */
void pci_config_read(const struct pci_config *c, uint32_t reg, uint32_t off,
                     uint8_t *data, uint32_t len);

/*
 * Guest write of `len` bytes at byte `off` of register `reg`: read-only
 * bits kept, BAR sizing handled, refused accesses dropped. Returns true if
 * the write was taken (so the owner may react: MSI-X control), false if it
 * was dropped whole.
 */
bool pci_config_write(struct pci_config *c, uint32_t reg, uint32_t off,
                      const uint8_t *data, uint32_t len);

/* The register value stored, without BAR sizing: for the owner's own
 * reads of its capabilities (e.g. MSI-X Message Control). */
static inline uint32_t pci_config_raw(const struct pci_config *c, uint32_t reg)
{
    return reg < PCI_CONFIG_REGS ? c->regs[reg] : 0xffffffffu;
}

#endif
