/*
 * device.c: locked config access to one PCI function (device.h).
 */
#include "devices/pci/device.h"

void pci_dev_config_read(struct pci_dev *d, uint32_t reg, uint32_t off,
                         uint8_t *data, uint32_t len)
{
    uint32_t v;

    pthread_mutex_lock(d->lock);
    if (d->read_reg && pci_config_access_ok(reg, off, len, false) &&
        d->read_reg(d, reg, &v)) {
        v >>= 8 * off;
        for (uint32_t i = 0; i < len; i++)
            data[i] = (uint8_t)(v >> (8 * i));
    } else {
        pci_config_read(&d->cfg, reg, off, data, len);
    }
    pthread_mutex_unlock(d->lock);
}

void pci_dev_config_write(struct pci_dev *d, uint32_t reg, uint32_t off,
                          const uint8_t *data, uint32_t len)
{
    pthread_mutex_lock(d->lock);
    if (d->write && pci_config_access_ok(reg, off, len, true) &&
        d->write(d, reg, off, data, len)) {
        /* taken by the device */
    } else if (pci_config_write(&d->cfg, reg, off, data, len) &&
               d->config_written) {
        d->config_written(d, reg);
    }
    pthread_mutex_unlock(d->lock);
}
