/*
 * strnum.h: Rust's str::parse::<u32>() on a byte view, shared by the two
 * micro_http-compatible parsers (the API's and the MMDS's).
 */
#ifndef SQUIB_UTIL_STRNUM_H
#define SQUIB_UTIL_STRNUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An optional '+', then at least one ASCII digit, and no overflow: true
 * with *out set; false otherwise (*out untouched). */
bool strnum_parse_u32(const char *s, size_t n, uint32_t *out);

#endif
