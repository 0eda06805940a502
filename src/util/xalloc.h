/*
 * xalloc.h: allocation that cannot fail.
 *
 * For small internal allocations only. On out-of-memory these log and
 * abort, as Redis's zmalloc does. Sizes chosen by a user or a guest must be
 * checked against limits before they get here.
 */
#ifndef SQUIB_UTIL_XALLOC_H
#define SQUIB_UTIL_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void xalloc_die(size_t n) __attribute__((noreturn));

#endif
