/*
 * crc64.c: CRC-64/Jones (crc64.h), a byte at a time with a nibble table.
 *
 * State files are small (kilobytes; at most 10 MB), so a 16-entry table
 * computed from the polynomial at compile time is fast enough and keeps the
 * file free of a 2 KiB table of magic numbers.
 */
#include "snapshot/crc64.h"

/* The reflected polynomial. */
#define POLY_REFLECTED 0x95ac9329ac4bc9b5ULL

/* One step of the bitwise algorithm, four times: the CRC of nibble n. */
#define STEP(c)   (((c)&1) ? ((c) >> 1) ^ POLY_REFLECTED : (c) >> 1)
#define NIBBLE(n) STEP(STEP(STEP(STEP((uint64_t)(n)))))

static const uint64_t nibble_table[16] = {
    NIBBLE(0),  NIBBLE(1),  NIBBLE(2),  NIBBLE(3),  NIBBLE(4),  NIBBLE(5),
    NIBBLE(6),  NIBBLE(7),  NIBBLE(8),  NIBBLE(9),  NIBBLE(10), NIBBLE(11),
    NIBBLE(12), NIBBLE(13), NIBBLE(14), NIBBLE(15),
};

uint64_t crc64_jones(uint64_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++) {
        crc ^= b[i];
        crc = (crc >> 4) ^ nibble_table[crc & 0xf];
        crc = (crc >> 4) ^ nibble_table[crc & 0xf];
    }
    return crc;
}
