/*
 * ns.h: the MMDS network stack (digest 8.2; upstream mmds/ns.rs,
 * MmdsNetworkStack), the guest-facing side of the metadata service inside
 * an MMDS-enabled virtio-net device.
 *
 * Frame in, frame out, nothing else: the device offers every frame the
 * guest transmits to mmds_ns_detour_frame() before the TAP, and before
 * filling a guest receive buffer from the TAP asks mmds_ns_write_next_frame()
 * whether the stack has a frame to deliver. The stack answers ARP requests
 * for its address and speaks TCP on port 80 with up to MMDS_NS_MAX_CONNS
 * connections; each HTTP request (bytes up to the first blank line) goes to
 * the http callback, whose response is sent back in MSS-sized segments.
 * No fds, no threads, no allocation per frame (one per connection);
 * single-threaded: the owner serialises all calls (the vmm thread).
 */
#ifndef SQUIB_MMDS_NS_H
#define SQUIB_MMDS_NS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define MMDS_NS_DEFAULT_IPV4    0xa9fea9feu /* 169.254.169.254 */
#define MMDS_NS_TCP_PORT        80
#define MMDS_NS_MAX_CONNS       30
#define MMDS_NS_MAX_PENDING_RST 100

/* Upstream's DEFAULT_MAC_ADDR, 06:01:23:45:67:01. */
extern const uint8_t mmds_ns_default_mac[6];

/*
 * The HTTP side. `req` (borrowed, len bytes) is one request through its
 * blank line; append the whole response (status line, headers, body) to
 * `resp` (empty on entry, owned by the stack). Called from within
 * mmds_ns_detour_frame().
 */
typedef void mmds_http_fn(void *opaque, const uint8_t *req, size_t len,
                          struct buf *resp);
/* A monotonic clock in nanoseconds. */
typedef uint64_t mmds_clock_fn(void *opaque);

/* Counters, upstream's `mmds` metrics of the same names; the device adds
 * them to the metrics it reports. */
struct mmds_ns_stats {
    uint64_t rx_accepted; /* frames taken by mmds_ns_detour_frame() */
    uint64_t rx_accepted_err;
    uint64_t rx_accepted_unusual;
    uint64_t rx_bad_eth;
    uint64_t rx_count;
    uint64_t tx_count;
    uint64_t tx_errors;
    uint64_t connections_created;
    uint64_t connections_destroyed;
};

struct mmds_ns;

/*
 * A stack answering at `ipv4_addr` (host order; MMDS_NS_DEFAULT_IPV4 is
 * upstream's default) with MAC `mac` (6 bytes, copied; NULL for
 * mmds_ns_default_mac). `http` (with `opaque`) answers requests. Cannot
 * fail (allocation failure aborts).
 */
struct mmds_ns *mmds_ns_new(uint32_t ipv4_addr, const uint8_t *mac,
                            mmds_http_fn *http, void *opaque);
void mmds_ns_free(struct mmds_ns *ns); /* NULL is fine */

/* Change the address (PUT /mmds/config before boot). */
void mmds_ns_set_ipv4_addr(struct mmds_ns *ns, uint32_t ipv4_addr);
uint32_t mmds_ns_ipv4_addr(const struct mmds_ns *ns);

/* Replace the clock (CLOCK_MONOTONIC by default) and reseed the ISN
 * generator: for tests and the fuzzer, which want determinism. */
void mmds_ns_set_clock(struct mmds_ns *ns, mmds_clock_fn *clock, void *opaque,
                       uint32_t isn_seed);

/* Upstream's is_mmds_frame(): an ARP frame whose target protocol address,
 * or an IPv4 frame whose destination, is the stack's. Reads only. */
bool mmds_ns_is_mmds_frame(const struct mmds_ns *ns, const uint8_t *frame,
                           size_t len);

/*
 * Offer a frame the guest sent (borrowed; not kept). True when the stack
 * consumed it (the device then drops it): an ARP request for the stack's
 * address, or a well-formed IPv4 packet to it (any protocol and port;
 * non-TCP ones and bad segments are only counted, as upstream does).
 * False: the frame is not for the MMDS, or malformed (e.g. an IPv4 total
 * length that does not match the frame); the device passes it on to the
 * TAP as upstream does.
 */
bool mmds_ns_detour_frame(struct mmds_ns *ns, const uint8_t *frame, size_t len);

/*
 * Write the next frame the stack has for the guest into buf (cap bytes,
 * the frame without any virtio-net header): an ARP reply first, then a
 * queued RST, then a segment of a connection that can send (or whose
 * retransmission timer has fired). Returns its length, or 0 when there is
 * nothing to send (or cap is too small: counted in tx_errors).
 */
size_t mmds_ns_write_next_frame(struct mmds_ns *ns, uint8_t *buf, size_t cap);

/* True when a frame is ready now (the device need not poll otherwise). */
bool mmds_ns_has_frame(struct mmds_ns *ns);

const struct mmds_ns_stats *mmds_ns_stats(const struct mmds_ns *ns);
size_t mmds_ns_n_conns(const struct mmds_ns *ns);

#endif
