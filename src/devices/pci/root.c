/*
 * root.c: PCI root bus, host bridge, ECAM and 0xcf8/0xcfc decoding
 * (root.h).
 */
#include "devices/pci/root.h"

#include <errno.h>
#include <string.h>

#define CFG_ENABLE 0x80000000u

static const struct pci_ids host_ids = {
    .vendor_id = PCI_HOST_VENDOR_ID,
    .device_id = PCI_HOST_DEVICE_ID,
    .class_code = PCI_CLASS_BRIDGE,
    .subclass = PCI_SUBCLASS_HOST,
};

void pci_root_init(struct pci_root *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->host_lock, NULL);
    pci_config_init(&r->host.cfg, &host_ids);
    r->host.lock = &r->host_lock;
    r->host.opaque = r;
    r->slots[0] = &r->host;
    bus_dev_init(&r->ecam, "pci-ecam", pci_root_ecam_read, pci_root_ecam_write,
                 r);
    bus_dev_init(&r->pio, "pci-config-io", pci_root_pio_read,
                 pci_root_pio_write, r);
}

void pci_root_fini(struct pci_root *r)
{
    memset(r->slots, 0, sizeof(r->slots));
    bus_dev_fini(&r->ecam);
    bus_dev_fini(&r->pio);
    pthread_mutex_destroy(&r->host_lock);
}

/* Both configuration paths' locks: no access is decoding a slot. */
static void slots_lock(struct pci_root *r)
{
    bus_dev_lock(&r->ecam);
    bus_dev_lock(&r->pio);
}

static void slots_unlock(struct pci_root *r)
{
    bus_dev_unlock(&r->pio);
    bus_dev_unlock(&r->ecam);
}

/* The lowest empty device slot or 0; slots locked by the caller. */
static unsigned first_free(const struct pci_root *r)
{
    for (unsigned i = 1; i < PCI_N_SLOTS; i++) {
        if (!r->slots[i])
            return i;
    }
    return 0;
}

unsigned pci_root_free_slot(struct pci_root *r)
{
    unsigned found;

    slots_lock(r);
    found = first_free(r);
    slots_unlock(r);
    return found;
}

int pci_root_add(struct pci_root *r, struct pci_dev *d, unsigned *slot)
{
    unsigned i;

    slots_lock(r);
    i = first_free(r);
    if (i)
        r->slots[i] = d;
    slots_unlock(r);
    if (!i)
        return -ENOSPC;
    *slot = i;
    return 0;
}

void pci_root_remove(struct pci_root *r, unsigned slot)
{
    if (slot == 0 || slot >= PCI_N_SLOTS)
        return;
    slots_lock(r);
    r->slots[slot] = NULL;
    slots_unlock(r);
}

int pci_root_add_at(struct pci_root *r, struct pci_dev *d, unsigned slot)
{
    int rc = 0;

    if (slot == 0 || slot >= PCI_N_SLOTS)
        return -EINVAL;
    slots_lock(r);
    if (r->slots[slot])
        rc = -EBUSY;
    else
        r->slots[slot] = d;
    slots_unlock(r);
    return rc;
}

int pci_root_register(struct pci_root *r, struct bus *mmio, struct bus *pio)
{
    int rc = bus_add(mmio, PCI_ECAM_BASE, PCI_ECAM_SIZE, &r->ecam);

    if (rc < 0)
        return rc;
    return bus_add(pio, PCI_PIO_BASE, PCI_PIO_SIZE, &r->pio);
}

/* The function at bus/dev/fn, or NULL: only bus 0, function 0. */
static struct pci_dev *lookup(struct pci_root *r, uint32_t bus, uint32_t dev,
                              uint32_t fn)
{
    if (bus != 0 || fn != 0 || dev >= PCI_N_SLOTS)
        return NULL;
    return r->slots[dev];
}

/* Refuse accesses that leave the dword, and 8-byte ones. */
static bool in_dword(uint64_t off, uint32_t len)
{
    return len >= 1 && len <= 4 && (off & 3) + len <= 4;
}

static void fill_ones(uint8_t *data, uint32_t len)
{
    memset(data, 0xff, len > 8 ? 8 : len);
}

/* An ECAM offset: the function (or NULL) and its register. */
static struct pci_dev *ecam_decode(struct pci_root *r, uint64_t off,
                                   uint32_t *reg)
{
    if (off >= PCI_ECAM_SIZE)
        return NULL;
    *reg = (uint32_t)(off >> 2) & 0x3ffu;
    return lookup(r, (uint32_t)(off >> 20) & 0xffu,
                  (uint32_t)(off >> 15) & 0x1fu, (uint32_t)(off >> 12) & 7u);
}

void pci_root_ecam_read(struct bus_dev *bd, uint64_t off, uint8_t *data,
                        uint32_t len)
{
    uint32_t reg = 0;
    struct pci_dev *d = ecam_decode(bd->opaque, off, &reg);

    if (!d || !in_dword(off, len)) {
        fill_ones(data, len);
        return;
    }
    pci_dev_config_read(d, reg, (uint32_t)(off & 3), data, len);
}

void pci_root_ecam_write(struct bus_dev *bd, uint64_t off, const uint8_t *data,
                         uint32_t len)
{
    uint32_t reg = 0;
    struct pci_dev *d = ecam_decode(bd->opaque, off, &reg);

    if (d && in_dword(off, len))
        pci_dev_config_write(d, reg, (uint32_t)(off & 3), data, len);
}

/* The function CONFIG_ADDRESS selects (or NULL) and its register. */
static struct pci_dev *pio_decode(struct pci_root *r, uint32_t *reg)
{
    uint32_t a = r->config_address;

    if (!(a & CFG_ENABLE))
        return NULL;
    *reg = (a >> 2) & 0x3fu;
    return lookup(r, (a >> 16) & 0xffu, (a >> 11) & 0x1fu, (a >> 8) & 7u);
}

void pci_root_pio_read(struct bus_dev *bd, uint64_t off, uint8_t *data,
                       uint32_t len)
{
    struct pci_root *r = bd->opaque;
    struct pci_dev *d;
    uint32_t reg = 0;

    if (!in_dword(off, len) || off >= PCI_PIO_SIZE) {
        fill_ones(data, len);
        return;
    }
    if (off < 4) {
        for (uint32_t i = 0; i < len; i++)
            data[i] = (uint8_t)(r->config_address >> (8 * (off + i)));
        return;
    }
    d = pio_decode(r, &reg);
    if (!d) {
        fill_ones(data, len);
        return;
    }
    pci_dev_config_read(d, reg, (uint32_t)(off & 3), data, len);
}

void pci_root_pio_write(struct bus_dev *bd, uint64_t off, const uint8_t *data,
                        uint32_t len)
{
    struct pci_root *r = bd->opaque;
    struct pci_dev *d;
    uint32_t reg = 0;

    if (!in_dword(off, len) || off >= PCI_PIO_SIZE || len == 3)
        return;
    if (off < 4) {
        for (uint32_t i = 0; i < len; i++) {
            uint32_t shift = 8 * ((uint32_t)off + i);

            r->config_address = (r->config_address & ~(0xffu << shift)) |
                                (uint32_t)data[i] << shift;
        }
        return;
    }
    d = pio_decode(r, &reg);
    if (d)
        pci_dev_config_write(d, reg, (uint32_t)(off & 3), data, len);
}
