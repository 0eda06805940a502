/*
 * guard.h: parser test inputs that end exactly at a PROT_NONE page, so any
 * read past the end crashes the test (picohttpparser's test.c trick).
 * Include after <cmocka.h>.
 */
#ifndef SQUIB_TESTS_GUARD_H
#define SQUIB_TESTS_GUARD_H

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct guarded {
    char *map;
    size_t map_len;
    const char *p;
};

/* Copy n bytes so that they end exactly at a PROT_NONE page. */
static inline void guard_init(struct guarded *g, const char *s, size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t data = (n + pg - 1) / pg * pg;
    char *dst;

    if (data == 0)
        data = pg;
    g->map_len = data + pg;
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->map != MAP_FAILED);
    assert_int_equal(mprotect(g->map + data, pg, PROT_NONE), 0);
    dst = g->map + data - n;
    if (n)
        memcpy(dst, s, n);
    g->p = dst;
}

static inline void guard_fini(struct guarded *g)
{
    munmap(g->map, g->map_len);
}

#endif
