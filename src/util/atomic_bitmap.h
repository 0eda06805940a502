/*
 * atomic_bitmap.h: a fixed-size bitmap whose bits any thread may set
 * concurrently (one atomic OR per 64-bit word touched), read and cleared.
 *
 * It is the VMM's own dirty-page log (docs/snapshot.md, "Diff
 * snapshots"): one bit per guest page that squib wrote into guest memory,
 * as upstream's AtomicBitmap beside KVM's dirty log.
 *
 * Concurrency: setters may race with each other and with readers; a bit set
 * before a reader synchronises with the setter (a lock, a thread join, a
 * pause handshake) is seen by that reader. Clearing while setters run may
 * lose their bits: clear only while no setter can run, as a snapshot does
 * (VM paused, devices quiet).
 *
 * The bit operations take a const map: its size and its words array are
 * fixed after init, and the bits are atomics anyone holding the map may
 * change (a const guest_mem is shared by every device).
 */
#ifndef SQUIB_UTIL_ATOMIC_BITMAP_H
#define SQUIB_UTIL_ATOMIC_BITMAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct atomic_bitmap {
    size_t n_bits;
    _Atomic uint64_t *words; /* owned; NULL when n_bits is 0 or unused */
};

/* 64-bit words needed for n_bits bits. */
static inline size_t atomic_bitmap_n_words(size_t n_bits)
{
    return n_bits / 64 + (n_bits % 64 != 0);
}

/*
 * Allocate n_bits clear bits. Returns 0, or -ENOMEM (the size is the
 * guest's memory size, so failure is reported, not fatal); *b is then
 * empty. n_bits 0 is allowed (an empty map).
 */
int atomic_bitmap_init(struct atomic_bitmap *b, size_t n_bits);

/* Free the words; the map becomes empty. NULL-safe, idempotent. */
void atomic_bitmap_fini(struct atomic_bitmap *b);

/* Set bits [first, first + n); the part past n_bits is ignored. */
void atomic_bitmap_set_range(const struct atomic_bitmap *b, size_t first,
                             size_t n);

/* Whether bit i is set (false past n_bits). */
bool atomic_bitmap_test(const struct atomic_bitmap *b, size_t i);

/* Word w (bits 64w .. 64w + 63), 0 past the end. */
uint64_t atomic_bitmap_word(const struct atomic_bitmap *b, size_t w);

/* OR n_words words of src into the map (bits past n_bits are dropped). */
void atomic_bitmap_or_words(const struct atomic_bitmap *b, const uint64_t *src,
                            size_t n_words);

/* Clear every bit. */
void atomic_bitmap_clear(const struct atomic_bitmap *b);

#endif
