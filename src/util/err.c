/*
 * err.c: user-visible error messages (see err.h).
 */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sq_err_clear(struct sq_err *err)
{
    err->code = 0;
    err->msg[0] = '\0';
}

void sq_err_vset(struct sq_err *err, int code, const char *fmt, va_list ap)
{
    if (!err)
        return;
    err->code = code;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int sq_err_prefix(struct sq_err *err, const char *prefix)
{
    size_t plen = strlen(prefix);
    size_t mlen = strnlen(err->msg, sizeof(err->msg) - 1);

    if (plen >= sizeof(err->msg) - 1)
        plen = sizeof(err->msg) - 1;
    if (plen + mlen >= sizeof(err->msg))
        mlen = sizeof(err->msg) - 1 - plen;
    memmove(err->msg + plen, err->msg, mlen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen + mlen] = '\0';
    return err->code;
}

const char *sq_os_error(int errnum, char *out, size_t out_len)
{
    char tmp[256];
    const char *s;

    if (errnum < 0)
        errnum = -errnum;
    /* GNU strerror_r returns the string, which may not be `tmp`. */
    s = strerror_r(errnum, tmp, sizeof(tmp));
    snprintf(out, out_len, "%s (os error %d)", s, errnum);
    return out;
}
