/*
 * utf8.h: UTF-8 as Rust's core::str sees it.
 *
 * squib's texts reach clients byte for byte, and several of them come from
 * Rust's string handling: which bytes str::from_utf8 refuses and where
 * (Utf8Error's valid_up_to and error_len), how String::from_utf8_lossy
 * replaces them, which characters str::trim removes. This module is the one
 * place that knows those rules.
 *
 * Valid UTF-8 is what str::from_utf8 accepts: no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated
 * sequence. An invalid sequence is measured as Rust measures it: its
 * "maximal invalid subpart" (Unicode 3.9, D93b) is the longest prefix of a
 * well-formed sequence it starts with, 1 to 3 bytes.
 *
 * Nothing here allocates; every function reads at most `n` bytes.
 */
#ifndef SQUIB_UTIL_UTF8_H
#define SQUIB_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Rust's Utf8Error. */
struct utf8_error {
    size_t valid_up_to; /* bytes before the first invalid sequence */
    size_t error_len;   /* 1..3: the invalid sequence's length; 0: the input
                           ends inside a sequence (Rust's None) */
};

/*
 * str::from_utf8: true if the n bytes at s are valid UTF-8. Otherwise
 * false, and *err (if not NULL) says where and how long the first invalid
 * sequence is.
 */
bool utf8_validate(const void *s, size_t n, struct utf8_error *err);

/* utf8_validate without the error details. */
bool utf8_valid(const void *s, size_t n);

/*
 * Decode the character at the start of the n bytes at s: returns its
 * length (1..4) and sets *cp, or returns 0 (and leaves *cp alone) when s
 * does not start with a valid UTF-8 sequence or n is 0.
 */
size_t utf8_decode(const void *s, size_t n, uint32_t *cp);

/*
 * One step of Rust's Utf8Chunks, the iterator behind from_utf8_lossy and
 * the Debug form of a byte string: the n bytes at s start with *valid_len
 * bytes of valid UTF-8, followed by *invalid_len bytes (0..3) of one
 * invalid sequence; *invalid_len is 0 only when the valid part reaches the
 * end. Returns *valid_len + *invalid_len, the bytes this chunk covers (0
 * only for n == 0). String::from_utf8_lossy writes the valid part, then
 * one U+FFFD if *invalid_len > 0, chunk after chunk.
 */
size_t utf8_chunk(const void *s, size_t n, size_t *valid_len,
                  size_t *invalid_len);

/* U+FFFD REPLACEMENT CHARACTER, encoded (3 bytes). */
#define UTF8_REPLACEMENT "\xef\xbf\xbd"

/* char::is_alphanumeric: Unicode Alphabetic or Numeric, from a table
 * generated with Rust's standard library (so it agrees with upstream
 * whatever the host's locale data says); false for anything that is not a
 * Unicode scalar value. Upstream's id rules (config/ids.h, --id, the
 * jailer's --id) use it. */
bool utf8_is_alphanumeric(uint32_t cp);

/* char::is_whitespace: the Unicode White_Space property. */
bool utf8_is_whitespace(uint32_t cp);

/*
 * str::trim: shrink the view [*s, *s + *n) past leading and trailing
 * White_Space characters. The view should be valid UTF-8; an invalid
 * sequence counts as a non-space character and stops the trim there.
 */
void utf8_trim(const char **s, size_t *n);

#endif
