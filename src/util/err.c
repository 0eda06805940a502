/*
 * err.c: user-visible error messages (see err.h).
 */
#include "util/err.h"

#include <errno.h>
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

const char *sq_rust_debug_str(const char *s, char *out, size_t out_len)
{
    size_t n = 0;

    if (!out_len)
        return out;
#define PUT(c)                                                                 \
    do {                                                                       \
        if (n + 1 < out_len)                                                   \
            out[n++] = (c);                                                    \
    } while (0)
    PUT('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char tmp[12];

        switch (c) {
        case '"':
            PUT('\\');
            PUT('"');
            break;
        case '\\':
            PUT('\\');
            PUT('\\');
            break;
        case '\n':
            PUT('\\');
            PUT('n');
            break;
        case '\r':
            PUT('\\');
            PUT('r');
            break;
        case '\t':
            PUT('\\');
            PUT('t');
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(tmp, sizeof(tmp), "\\u{%x}", c);
                for (char *t = tmp; *t; t++)
                    PUT(*t);
            } else {
                PUT((char)c);
            }
        }
    }
    PUT('"');
#undef PUT
    out[n] = '\0';
    return out;
}

/* Rust's io::ErrorKind for an errno (std's decode_error_kind). */
static const char *rust_error_kind(int e)
{
    switch (e) {
    case E2BIG:
        return "ArgumentListTooLong";
    case EADDRINUSE:
        return "AddrInUse";
    case EADDRNOTAVAIL:
        return "AddrNotAvailable";
    case EBUSY:
        return "ResourceBusy";
    case ECONNABORTED:
        return "ConnectionAborted";
    case ECONNREFUSED:
        return "ConnectionRefused";
    case ECONNRESET:
        return "ConnectionReset";
    case EDEADLK:
        return "Deadlock";
    case EDQUOT:
        return "QuotaExceeded";
    case EEXIST:
        return "AlreadyExists";
    case EFBIG:
        return "FileTooLarge";
    case EHOSTUNREACH:
        return "HostUnreachable";
    case EINTR:
        return "Interrupted";
    case EINVAL:
        return "InvalidInput";
    case EISDIR:
        return "IsADirectory";
    case ELOOP:
        return "FilesystemLoop";
    case ENOENT:
        return "NotFound";
    case ENOMEM:
        return "OutOfMemory";
    case ENOSPC:
        return "StorageFull";
    case ENOSYS:
        return "Unsupported";
    case EMLINK:
        return "TooManyLinks";
    case ENAMETOOLONG:
        return "InvalidFilename";
    case ENETDOWN:
        return "NetworkDown";
    case ENETUNREACH:
        return "NetworkUnreachable";
    case ENOTCONN:
        return "NotConnected";
    case ENOTDIR:
        return "NotADirectory";
    case ENOTEMPTY:
        return "DirectoryNotEmpty";
    case EPIPE:
        return "BrokenPipe";
    case EROFS:
        return "ReadOnlyFilesystem";
    case ESPIPE:
        return "NotSeekable";
    case ESTALE:
        return "StaleNetworkFileHandle";
    case ETIMEDOUT:
        return "TimedOut";
    case ETXTBSY:
        return "ExecutableFileBusy";
    case EXDEV:
        return "CrossesDevices";
    case EINPROGRESS:
        return "InProgress";
    case EACCES:
    case EPERM:
        return "PermissionDenied";
    case EAGAIN:
        return "WouldBlock";
    default:
        return "Uncategorized";
    }
}

const char *sq_os_error_debug(int errnum, char *out, size_t out_len)
{
    char tmp[256], msg[300];
    const char *s;

    if (errnum < 0)
        errnum = -errnum;
    s = strerror_r(errnum, tmp, sizeof(tmp));
    sq_rust_debug_str(s, msg, sizeof(msg));
    snprintf(out, out_len, "Os { code: %d, kind: %s, message: %s }", errnum,
             rust_error_kind(errnum), msg);
    return out;
}
