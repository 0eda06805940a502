/*
 * fuzz_vsock_connect.c: libFuzzer harness for the "CONNECT <port>\n"
 * command (devices/virtio/vsock/vsock_connect.h): line assembly as the
 * muxer reads a client's socket, then the parser on the assembled line.
 *
 * Input: byte 0 is the read chunk size (1..8 bytes per "read"), the rest
 * is what the client sends. The harness checks the assembly's promises:
 * never more than 32 bytes, nothing taken past the first '\n' once the
 * 10-byte minimum is in, and a parsed port that round-trips through its
 * decimal text when the line is plain.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/vsock/vsock_connect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vsock_connect_line l = {0};
    size_t chunk, pos = 1;
    uint8_t *line;
    uint32_t port = 0;

    if (size < 1)
        return 0;
    chunk = 1 + data[0] % 8;
    for (;;) {
        uint32_t want = vsock_connect_want(&l);
        size_t n;

        if (want == 0 || pos >= size)
            break;
        n = want < chunk ? want : chunk;
        if (n > size - pos)
            n = size - pos;
        memcpy(l.buf + l.len, data + pos, n);
        l.len += (uint32_t)n;
        pos += n;
        if (l.len > VSOCK_CONNECT_MAX_LEN)
            __builtin_trap();
    }
    /* Past the minimum, a newline can only be the last byte taken. */
    for (uint32_t i = VSOCK_CONNECT_MIN_LEN - 1; i + 1 < l.len; i++) {
        if (l.buf[i] == '\n')
            __builtin_trap();
    }
    /* Parse exactly the bytes taken, in a buffer of their size, so any
     * over-read trips ASan. */
    line = malloc(l.len ? l.len : 1);
    if (!line)
        return 0;
    memcpy(line, l.buf, l.len);
    if (vsock_connect_parse(line, l.len, &port) == 0) {
        char txt[16];
        int n = snprintf(txt, sizeof(txt), "%u", port);

        /* The port's digits appear in the line (leading zeros and '+'
         * aside, they end it or precede a space). */
        if (n <= 0 || !memmem(line, l.len, txt, (size_t)n))
            __builtin_trap();
    }
    /* The raw input too, whole. */
    if (size > 1) {
        uint8_t *raw = malloc(size - 1);

        if (raw) {
            memcpy(raw, data + 1, size - 1);
            (void)vsock_connect_parse(raw, size - 1, &port);
            free(raw);
        }
    }
    free(line);
    return 0;
}
