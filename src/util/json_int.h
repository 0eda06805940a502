/*
 * json_int.h: internals shared by the json_*.c files (not for other
 * modules). The decoder helpers mirror serde_json's private Deserializer
 * methods of the same role; all raise errors in the decoder and return -1
 * (or 0/1 where noted), like the public json_dec_* functions.
 */
#ifndef SQUIB_UTIL_JSON_INT_H
#define SQUIB_UTIL_JSON_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/json.h"

/* Consume the byte just peeked. */
void json_eat(struct json_dec *d);
/* check_recursion!: one nesting level down / back up. */
int json_enter(struct json_dec *d);
void json_leave(struct json_dec *d);
/* The rest of a literal after its first byte ("ull", "rue", "alse"). */
int json_parse_ident(struct json_dec *d, const char *ident);
/* A number (the '-' already eaten when !positive). */
int json_parse_integer(struct json_dec *d, bool positive,
                       struct json_number *n);
/* A string whose opening quote was eaten; result in d->scratch. */
int json_parse_str(struct json_dec *d);
/* A map key (at its opening quote); result in d->scratch. */
int json_parse_key(struct json_dec *d);
int json_parse_object_colon(struct json_dec *d);
/* 1 = another element/key follows, 0 = end of list/object, -1 = error. */
int json_has_next_element(struct json_dec *d, bool *first);
int json_has_next_key(struct json_dec *d, bool *first);
/* After the visitor, even a failed one (consumes as serde_json does). */
int json_end_seq(struct json_dec *d);
int json_end_map(struct json_dec *d);
/* Consume the offending value and raise "invalid type: ..., expected exp". */
int json_peek_invalid_type(struct json_dec *d, const char *exp);
/* Begin a custom (unpositioned) error whose text the caller appends to
 * d->msg; false if an error was already raised. */
bool json_custom_begin(struct json_dec *d);
/* serde's OneOf: "`a`", "`a` or `b`", "one of `a`, `b`, `c`". */
void json_append_one_of(struct buf *b, const char *const *names, size_t n);
/* serde_json's float text of a finite v into out (>= 32 bytes); length. */
size_t json_format_f64(double v, char *out);
/* Bytewise order of object keys (Rust's String Ord). */
int json_key_cmp(const char *a, size_t alen, const char *b, size_t blen);

#endif
