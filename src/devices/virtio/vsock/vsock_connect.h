/*
 * vsock_connect.h: the command a host client sends on the vsock Unix
 * socket to reach a guest port, "CONNECT <port>\n"; upstream's
 * read_local_stream_port (unix/muxer.rs) split into line assembly and
 * parsing, so the parser can be tested and fuzzed on its own.
 *
 * Line assembly (vsock_connect_want): at least VSOCK_CONNECT_MIN_LEN (10)
 * bytes, "connect 0\n", then one byte at a time until a '\n' or
 * VSOCK_CONNECT_MAX_LEN (32) bytes, so nothing after the newline is ever
 * consumed: the client's first data bytes stay in the socket for the
 * guest.
 *
 * Parsing (vsock_connect_parse), as Rust does it upstream: the whole line
 * must be UTF-8; split at Unicode White_Space; the first word must be
 * "connect" in any case; the second a Rust u32 (an optional '+', decimal
 * digits, no overflow). Further words are ignored, and a 32-byte line
 * without a newline is parsed as it is.
 */
#ifndef SQUIB_DEVICES_VIRTIO_VSOCK_VSOCK_CONNECT_H
#define SQUIB_DEVICES_VIRTIO_VSOCK_VSOCK_CONNECT_H

#include <stddef.h>
#include <stdint.h>

#define VSOCK_CONNECT_MIN_LEN 10u
#define VSOCK_CONNECT_MAX_LEN 32u

/* A command line being read. */
struct vsock_connect_line {
    uint8_t buf[VSOCK_CONNECT_MAX_LEN];
    uint32_t len;
};

/* How many bytes to read next to make progress; 0 when the line is
 * complete (ends in '\n' after the minimum, or is full). */
uint32_t vsock_connect_want(const struct vsock_connect_line *l);

/* Parse a complete line: 0 and *port, or -EINVAL (*port untouched). */
int vsock_connect_parse(const uint8_t *buf, size_t len, uint32_t *port);

#endif
