/*
 * crc64.h: CRC-64/Jones, the checksum at the end of a snapshot state file.
 *
 * The variant upstream's state files use (the crc64 crate, as Redis):
 * polynomial 0xad93d23594c935a9, reflected, initial value 0, no final xor.
 * Its check value (the CRC of "123456789") is 0xe9c6d914c4b8d9ca, and a
 * buffer followed by its own CRC in little-endian order has CRC 0.
 */
#ifndef SQUIB_SNAPSHOT_CRC64_H
#define SQUIB_SNAPSHOT_CRC64_H

#include <stddef.h>
#include <stdint.h>

/*
 * Continue the CRC `crc` (0 to start) over the n bytes at p and return it.
 * p may be NULL when n is 0. Pure; any thread.
 */
uint64_t crc64_jones(uint64_t crc, const void *p, size_t n);

#endif
