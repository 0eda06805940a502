/*
 * fuzz_pci_config.c: libFuzzer harness for the PCI configuration access
 * path (devices/pci/root.h, device.h, config.h).
 *
 * The input is a list of 10-byte records {kind, len, offset (4, LE),
 * value (4, LE)}: kind % 4 picks an ECAM read or write (offset taken modulo
 * a little more than the window, so refused offsets are hit too) or a read
 * or write of the 0xcf8..0xcff ports (offset modulo 10); len is 1..8. The
 * root holds the host bridge and one device with a 64-bit BAR and two
 * capabilities, one with writable bits.
 * Invariants after every access: no bit outside a register's write mask
 * has changed in any function, the write masks and BARs are untouched, and
 * a BAR register reads either its address or its size mask.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "devices/pci/root.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Nothing read-only moved. */
static void check(const struct pci_config *now, const struct pci_config *was)
{
    if (memcmp(now->wmask, was->wmask, sizeof(now->wmask)) ||
        memcmp(now->bars, was->bars, sizeof(now->bars)))
        __builtin_trap();
    for (uint32_t i = 0; i < PCI_CONFIG_REGS; i++)
        if ((now->regs[i] ^ was->regs[i]) & ~was->wmask[i])
            __builtin_trap();
    for (uint32_t i = 0; i < PCI_CONFIG_N_BARS; i++) {
        uint32_t v = pci_config_read_reg(now, PCI_REG_BAR0 + i);

        if (v != now->regs[PCI_REG_BAR0 + i] && !(now->bar_sizing & 1u << i))
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct pci_ids ids = {
        .vendor_id = 0x1af4, .device_id = 0x1041, .class_code = 0x02};
    static const uint8_t body[14] = {0x3f, 0x00, 0x00, 0x10};
    static const uint8_t body_wmask[14] = {0x00, 0xc0};
    static const uint8_t vendor[6] = {1, 2, 3, 4, 5, 6};
    struct pci_root root;
    struct pci_dev dev;
    struct pci_config host0, dev0;
    pthread_mutex_t lock;
    unsigned slot;

    pci_root_init(&root);
    pthread_mutex_init(&lock, NULL);
    memset(&dev, 0, sizeof(dev)); /* no hooks: the stored space answers */
    pci_config_init(&dev.cfg, &ids);
    dev.lock = &lock;
    if (pci_config_set_bar64(&dev.cfg, 0, 0x4000000000ull, 0x80000, false) ||
        pci_config_add_cap(&dev.cfg, PCI_CAP_ID_MSIX, body, sizeof(body),
                           body_wmask) < 0 ||
        pci_config_add_cap(&dev.cfg, PCI_CAP_ID_VENDOR, vendor, sizeof(vendor),
                           NULL) < 0 ||
        pci_root_add(&root, &dev, &slot))
        __builtin_trap();
    host0 = root.host.cfg;
    dev0 = dev.cfg;
    for (size_t at = 0; at + 10 <= size; at += 10) {
        const uint8_t *r = data + at;
        uint32_t len = 1u + r[1] % 8u, off = get32(r + 2);
        uint8_t buf[8];

        memcpy(buf, r + 6, 4);
        memcpy(buf + 4, r + 6, 4);
        switch (r[0] % 4) {
        case 0:
            pci_root_ecam_read(&root.ecam, off % (PCI_ECAM_SIZE + 64), buf,
                               len);
            break;
        case 1:
            pci_root_ecam_write(&root.ecam, off % (PCI_ECAM_SIZE + 64), buf,
                                len);
            break;
        case 2:
            pci_root_pio_read(&root.pio, off % 10u, buf, len);
            break;
        default:
            pci_root_pio_write(&root.pio, off % 10u, buf, len);
            break;
        }
        check(&root.host.cfg, &host0);
        check(&dev.cfg, &dev0);
    }
    pci_root_fini(&root);
    pthread_mutex_destroy(&lock);
    return 0;
}
