/*
 * le.h: little-endian stores into byte buffers, and the 8-bit byte sum
 * that firmware tables (MPTable, ACPI) use as their checksum.
 */
#ifndef SQUIB_UTIL_LE_H
#define SQUIB_UTIL_LE_H

#include <stddef.h>
#include <stdint.h>

static inline void le_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void le_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void le_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Sum of n bytes modulo 256; a table is valid when its sum is 0. */
static inline uint8_t byte_sum8(const uint8_t *p, size_t n)
{
    uint8_t s = 0;

    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

#endif
