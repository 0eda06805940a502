/*
 * uffd_msg.h: the Uffd memory backend's handshake message (digest 7.3).
 *
 * When PUT /snapshot/load restores guest RAM through a page-fault handler,
 * squib sends that handler one message over a Unix stream socket: the JSON
 * array of upstream's GuestRegionUffdMapping, one entry per guest RAM
 * region in guest-address order, with the userfaultfd attached
 * (SCM_RIGHTS, snapshot/uffd.h). Field names and order are upstream's
 * (serde_json::to_string of the Rust struct, src/vmm/src/persist.rs):
 *
 *   [{"base_host_virt_addr":140..,"size":134217728,"offset":0,
 *     "page_size":4096,"page_size_kib":4096}, ...]
 *
 * `offset` is the region's offset in the memory file (the sum of the sizes
 * before it); `page_size_kib` is upstream's deprecated duplicate of
 * `page_size`, in bytes despite its name, kept because handlers may read it.
 *
 * The reader (used by squib-uffd-handler) accepts what upstream's example
 * handlers accept: the four fields without `page_size_kib` as non-negative
 * integers, unknown fields ignored; then it checks what a handler needs to
 * serve faults safely (docs/snapshot.md, "The Uffd backend").
 *
 * Pure functions over buffers: no fds, no state, reentrant.
 */
#ifndef SQUIB_SNAPSHOT_UFFD_MSG_H
#define SQUIB_SNAPSHOT_UFFD_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

/* One guest RAM region as the handler sees it. */
struct uffd_region_map {
    uint64_t base_host_virt_addr; /* first byte of the region in squib */
    uint64_t size;                /* bytes */
    uint64_t offset;              /* where its bytes start in the file */
    uint64_t page_size;           /* 4096, or 2 MiB with hugetlbfs */
};

/* Bounds of what the reader accepts (squib sends at most 3 regions). */
#define UFFD_MSG_MAX_REGIONS 64
#define UFFD_MSG_MAX_LEN     65536

/* Append the message for maps[0..n) to b (compact JSON, upstream's field
 * order, page_size_kib = page_size). */
void uffd_msg_write(const struct uffd_region_map *maps, size_t n,
                    struct buf *b);

/*
 * Whether text[0..len) already holds a whole message, for a reader that
 * gets the bytes in pieces: 1 once the top-level JSON array is closed
 * (strings and escapes skipped), 0 while more bytes may complete it, -1
 * when no continuation can make it an array (it does not start with '['
 * after white space); the caller then parses it for the error text.
 */
int uffd_msg_complete(const char *text, size_t len);

/*
 * Parse and check a message into out[0..*n). Rules: a JSON array (serde's
 * texts for syntax errors) of 1..UFFD_MSG_MAX_REGIONS objects, each with
 * base_host_virt_addr, size, offset and page_size as integers in u64
 * (other fields ignored); page_size a power of two of at least 4096 and the
 * same in every entry; each region non-empty, a multiple of page_size,
 * aligned to it, not wrapping the address space or the file offset, and
 * not overlapping another. Returns 0, or -EINVAL with err set to a
 * sentence naming the entry and the rule.
 */
int uffd_msg_parse(const char *text, size_t len, struct uffd_region_map *out,
                   size_t *n, struct sq_err *err);

#endif
