/*
 * virtio_pci_cfgcap.c: the VIRTIO_PCI_CAP_PCI_CFG capability (virtio 1.x
 * 4.1.4.9), a window onto BAR 0 from configuration space, with upstream
 * Firecracker's rules rather than the spec's where they differ
 * (docs/compat.md, "virtio-pci").
 *
 * The window covers the capability's bytes from cap_len on (18 bytes at
 * cfg_cap_off = capability + 2, as upstream's cap_pci_cfg_offset), kept
 * in p->cfg_cap:
 *
 *   o   0 cap_len  1 cfg_type  2 bar  3 id  4..5 padding
 *       6..9 offset  10..13 length  14..17 pci_cfg_data
 *
 * Writes (any access config.h takes that lies wholly inside the window):
 * below pci_cfg_data the bytes are stored as written, whatever field they
 * are (cap_len and cfg_type too); at pci_cfg_data, when length <= 4,
 * min(length, access size) bytes of the access are written to BAR 0 at
 * offset. Reads (of a register wholly inside the window, i.e. dwords at
 * 0x88..0x94; the one holding id, next, cap_len and cfg_type is the
 * stored space's): when length <= 4, the register reads `length` bytes:
 * of the stored window below pci_cfg_data, or of BAR 0 at offset for
 * pci_cfg_data; the rest reads 0 (all of it when length > 4). The bar
 * field is not looked at: the access always goes to BAR 0. A BAR access
 * is the BAR handler's (virtio_pci.c), so its rules for sizes, offsets
 * and gaps apply: a bad one reads 0 and writes nothing.
 */
#include <string.h>

#include "devices/pci/virtio_pci_int.h"

#define W_OFFSET 6u  /* cap.offset */
#define W_LENGTH 10u /* cap.length */
#define W_DATA   14u /* pci_cfg_data */

static uint32_t get32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
           (uint32_t)b[3] << 24;
}

/* Whether [start, start + len) of config space is inside the window. */
static bool in_window(const struct virtio_pci *p, uint32_t start, uint32_t len)
{
    return start >= p->cfg_cap_off &&
           start + len <= p->cfg_cap_off + VIRTIO_PCI_CFG_CAP_LEN;
}

static bool window_read_reg(struct pci_dev *d, uint32_t reg, uint32_t *value)
{
    struct virtio_pci *p = d->opaque;
    uint8_t b[4] = {0};
    uint32_t o, len;

    if (!in_window(p, reg * 4, 4))
        return false;
    o = reg * 4 - p->cfg_cap_off;
    len = get32(p->cfg_cap + W_LENGTH);
    if (len <= 4) {
        if (o < W_DATA)
            memcpy(b, p->cfg_cap + o, len);
        else
            virtio_pci_bar_read_locked(p, get32(p->cfg_cap + W_OFFSET), b, len);
    }
    *value = get32(b);
    return true;
}

static bool window_write(struct pci_dev *d, uint32_t reg, uint32_t off,
                         const uint8_t *data, uint32_t len)
{
    struct virtio_pci *p = d->opaque;
    uint32_t o, n;

    if (!in_window(p, reg * 4 + off, len))
        return false;
    o = reg * 4 + off - p->cfg_cap_off;
    if (o < W_DATA) {
        memcpy(p->cfg_cap + o, data, len);
        return true;
    }
    n = get32(p->cfg_cap + W_LENGTH);
    if (n <= 4)
        virtio_pci_bar_write_locked(p, get32(p->cfg_cap + W_OFFSET), data,
                                    n < len ? n : len);
    return true;
}

void virtio_pci_cfg_cap_hook(struct virtio_pci *p)
{
    p->pci.read_reg = window_read_reg;
    p->pci.write = window_write;
}
