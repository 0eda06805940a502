/*
 * buf.h: a growable byte buffer (string builder).
 *
 * Used to build HTTP responses, JSON documents and log lines. The buffer is
 * always NUL-terminated after its `len` bytes, so `b->data` can be passed as
 * a C string when it holds text. Allocation failure aborts (xalloc.h): sizes
 * chosen by a user or guest must be checked before they reach a buffer.
 */
#ifndef SQUIB_UTIL_BUF_H
#define SQUIB_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data; /* owned; NULL until the first append */
    size_t len; /* bytes used, excluding the trailing NUL */
    size_t cap; /* bytes allocated */
};

#define BUF_INIT                                                               \
    {                                                                          \
        NULL, 0, 0                                                             \
    }

void buf_init(struct buf *b);
void buf_fini(struct buf *b);  /* frees data; b is reusable after */
void buf_reset(struct buf *b); /* len = 0, keeps the allocation */
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Append `v` in decimal, at least `width` digits (zero-padded). */
void buf_put_u64(struct buf *b, unsigned long long v, int width);
/* Remove the first n bytes (n <= len), shifting the rest down. */
void buf_consume(struct buf *b, size_t n);
/* Take ownership of the data (NUL-terminated); the buffer becomes empty. */
char *buf_steal(struct buf *b, size_t *len);

#endif
