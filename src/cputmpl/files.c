/*
 * files.c: cpu-template-helper's file reads and writes (see cputmpl.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cputmpl/cputmpl.h"
#include "util/fdio.h"
#include "util/utf8.h"

/* Templates, configurations and fingerprints are small; a larger file is
 * refused rather than read into memory. */
#define TEXT_MAX (64u << 20)

int cputmpl_read_text(const char *path, char **out, size_t *len,
                      struct sq_err *err)
{
    char os[160];
    int rc = fd_read_file(path, TEXT_MAX, out, len);

    if (rc < 0)
        return sq_errf(err, rc, "%s", sq_os_error(-rc, os, sizeof(os)));
    if (!utf8_valid(*out, *len)) {
        free(*out);
        *out = NULL;
        return sq_errf(err, -EILSEQ, "stream did not contain valid UTF-8");
    }
    return 0;
}

int cputmpl_write_text(const char *path, const struct buf *b,
                       struct sq_err *err)
{
    char os[160];
    int rc = fd_write_file_atomic(path, b->data ? b->data : "", b->len);

    if (rc < 0)
        return sq_errf(err, rc, "%s", sq_os_error(-rc, os, sizeof(os)));
    return 0;
}

void cputmpl_add_suffix(const char *path, const char *suffix, struct buf *out)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    const char *dot = strrchr(name, '.');

    buf_append(out, path, (size_t)(name - path));
    if (!dot || dot == name) {
        buf_puts(out, name);
        buf_puts(out, suffix);
        return;
    }
    buf_append(out, name, (size_t)(dot - name));
    buf_puts(out, suffix);
    buf_puts(out, dot);
}
