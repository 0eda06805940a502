/*
 * aml.h: a small ACPI Machine Language (AML) byte-code emitter.
 *
 * The DSDT that squib hands the guest (acpi.c) is a flat run of AML terms.
 * This module appends the encodings of the few terms squib needs to a
 * struct buf, producing the same bytes Firecracker's acpi-tables crate
 * produces for the same tree (same integer prefixes, same PkgLength
 * widths), so a guest sees an identical DSDT.
 *
 * Terms that carry a PkgLength (Device, Scope, Method, If, Package,
 * Buffer/ResourceTemplate) are built in two steps: aml_*_begin() appends the
 * opcode and returns the offset of the body, the caller appends the body,
 * and aml_*_end() inserts the PkgLength in front of it. Nesting is natural:
 * every begin has its end, innermost first.
 *
 * Every function appends to `b`; allocation failure aborts (util/buf.h).
 * Names are 4-character segments ("_SB_", "V000"); a path is segments joined
 * with '.' and optionally rooted with '\'. A malformed name is a programming
 * error in squib (all names are built in acpi.c), reported by returning
 * -EINVAL from aml_path() and the functions that take a path.
 */
#ifndef SQUIB_VMM_AML_H
#define SQUIB_VMM_AML_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Integer constants: ZeroOp (0x00), OneOp (0x01). */
void aml_zero(struct buf *b);
void aml_one(struct buf *b);
/* Integers with an explicit width: BytePrefix 0x0a, WordPrefix 0x0b,
 * DWordPrefix 0x0c, QWordPrefix 0x0e, value little-endian. */
void aml_byte(struct buf *b, uint8_t v);
void aml_word(struct buf *b, uint16_t v);
void aml_dword(struct buf *b, uint32_t v);
void aml_qword(struct buf *b, uint64_t v);
/* The narrowest of the four prefixed encodings that holds v (never ZeroOp/
 * OneOp: 0 is encoded 0x0a 0x00, as Firecracker's usize encoding does). */
void aml_uint(struct buf *b, uint64_t v);
/* String: 0x0d, the bytes of s, NUL. */
void aml_string(struct buf *b, const char *s);
/* EISA id ("PNP0501": three letters, four hex digits) as a DWord integer.
 * Returns 0 or -EINVAL if the id is malformed. */
int aml_eisa_id(struct buf *b, const char *id);

/* NamePath: optional '\', then one segment, DualNamePrefix 0x2e + two, or
 * MultiNamePrefix 0x2f + count + segments. Returns 0 or -EINVAL (empty
 * path, segment not 4 characters, more than 255 segments). */
int aml_path(struct buf *b, const char *path);
/* Name(path, ...): NameOp 0x08 and the path; the caller appends the value
 * term next. Returns 0 or -EINVAL for a bad path. */
int aml_name(struct buf *b, const char *path);
/* Name(path, "string"). */
int aml_name_string(struct buf *b, const char *path, const char *s);

/* Argument and local objects: Arg0Op 0x68 + n (n <= 6), Local0Op 0x60 + n
 * (n <= 7). Return 0 or -EINVAL. */
int aml_arg(struct buf *b, unsigned n);
int aml_local(struct buf *b, unsigned n);

/* Device(path) { body }: ExtOpPrefix 0x5b, DeviceOp 0x82, PkgLength, path.
 * aml_device_begin returns 0 and stores the body offset in *mark, or
 * -EINVAL for a bad path; aml_device_end closes it. */
int aml_device_begin(struct buf *b, const char *path, size_t *mark);
void aml_device_end(struct buf *b, size_t mark);
/* Scope(path) { body }: ScopeOp 0x10. Same contract as aml_device_begin. */
int aml_scope_begin(struct buf *b, const char *path, size_t *mark);
void aml_scope_end(struct buf *b, size_t mark);
/* Method(path, nargs, serialized) { body }: MethodOp 0x14, PkgLength,
 * path, flags = (nargs & 7) | serialized << 3. */
int aml_method_begin(struct buf *b, const char *path, unsigned nargs,
                     int serialized, size_t *mark);
void aml_method_end(struct buf *b, size_t mark);
/* If (predicate) { body }: IfOp 0xa0, PkgLength; the caller appends the
 * predicate term and then the body. */
size_t aml_if_begin(struct buf *b);
void aml_if_end(struct buf *b, size_t mark);
/* Package() { elements }: PackageOp 0x12, PkgLength, NumElements byte. */
size_t aml_package_begin(struct buf *b);
void aml_package_end(struct buf *b, size_t mark, uint8_t n_elements);
/* ResourceTemplate() { descriptors }: BufferOp 0x11, PkgLength, buffer size
 * (aml_uint), descriptors, EndTag 0x79 0x00. */
size_t aml_restemplate_begin(struct buf *b);
void aml_restemplate_end(struct buf *b, size_t mark);

/* LEqual: 0x93; the caller appends both operands. */
void aml_lequal(struct buf *b);
/* Notify: 0x86; the caller appends the object and the value. */
void aml_notify(struct buf *b);
/* Return: 0xa4; the caller appends the value. */
void aml_return(struct buf *b);
/* Store: 0x70; the caller appends the source, then the destination. */
void aml_store(struct buf *b);
/* And: 0x7b; the caller appends both operands, then the target. */
void aml_and(struct buf *b);
/* Acquire (mutex, timeout): 0x5b 0x23, path, timeout (u16, no prefix).
 * Returns 0 or -EINVAL for a bad path. */
int aml_acquire(struct buf *b, const char *mutex, uint16_t timeout);
/* Release (mutex): 0x5b 0x27, path. Returns 0 or -EINVAL. */
int aml_release(struct buf *b, const char *mutex);
/* Buffer () { data }: BufferOp 0x11, PkgLength, size (aml_uint), bytes. */
void aml_buffer(struct buf *b, const uint8_t *data, size_t len);

/* Resource descriptors (inside a ResourceTemplate). */
/* Memory32Fixed: 0x86, length 9, read_write, base, length. */
void aml_memory32_fixed(struct buf *b, int read_write, uint32_t base,
                        uint32_t len);
/* Extended Interrupt: 0x89, length 6, flags (shared<<3 | active_low<<2 |
 * edge<<1 | consumer), count 1, the interrupt number. */
void aml_interrupt(struct buf *b, int consumer, int edge, int active_low,
                   int shared, uint32_t irq);
/* IO port (decode16): 0x47, 1, min, max, alignment, length. */
void aml_io(struct buf *b, uint16_t min, uint16_t max, uint8_t align,
            uint8_t len);
/* Word bus-number range: 0x88, length 13, type 2, min/max fixed, type
 * flags 0, granularity 0, min, max, translation 0, length. */
void aml_word_bus_number(struct buf *b, uint16_t min, uint16_t max);
/* Word I/O range: 0x88, length 13, type 1, min/max fixed, type flags 3
 * (entire range), granularity 0, min, max, translation 0, length. */
void aml_word_io(struct buf *b, uint16_t min, uint16_t max);
/* QWord memory address space: 0x8a, length 43, type Memory, Min/Max fixed,
 * type flags (cacheable << 1 | read_write), granularity 0, min, max,
 * translation 0, length max - min + 1. cacheable: 0 not, 1 cacheable,
 * 2 write-combining, 3 prefetchable. Returns -EINVAL if min > max. */
int aml_qword_memory(struct buf *b, unsigned cacheable, int read_write,
                     uint64_t min, uint64_t max);

/*
 * PkgLength encoding of a body of `body_len` bytes, as Firecracker encodes
 * it (the width is chosen from body_len alone; when `include_self` the
 * encoded value counts the PkgLength bytes too). Writes 1..4 bytes to out
 * and returns how many.
 */
size_t aml_pkg_length(size_t body_len, int include_self, uint8_t out[4]);

#endif
