/*
 * pci_bytes.h: the PCI unit tests' little-endian byte packing for
 * register accesses of 1 to 4 bytes (header-only, test code).
 */
#ifndef SQUIB_TESTS_UNIT_PCI_BYTES_H
#define SQUIB_TESTS_UNIT_PCI_BYTES_H

#include <stdint.h>

/* The value of the first min(len, 4) bytes of b. */
static inline uint32_t pci_bytes_get(const uint8_t *b, uint32_t len)
{
    uint32_t v = 0;

    for (uint32_t i = 0; i < len && i < 4; i++)
        v |= (uint32_t)b[i] << (8 * i);
    return v;
}

/* v into b[0..3]. */
static inline void pci_bytes_put(uint8_t *b, uint32_t v)
{
    for (uint32_t i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

#endif
