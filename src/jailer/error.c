/*
 * error.c: building and printing the jailer's errors (error.h).
 *
 * The io::Error texts follow Rust's standard library: Display is
 * strerror's text plus " (os error N)", Debug names the errno's
 * io::ErrorKind. Only the kinds the jailer's system calls can produce are
 * spelled out; any other errno is "Uncategorized", as in Rust.
 */
#include "jailer/error.h"

#include <errno.h>
#include <string.h>

void jail_err_set(struct jail_err *e, const char *display, const char *debug)
{
    snprintf(e->display, sizeof(e->display), "%s", display);
    snprintf(e->debug, sizeof(e->debug), "%s", debug);
}

const char *jail_debug_str(const char *s, char *out, size_t out_len)
{
    size_t n = 0;

    if (out_len == 0)
        return out;
#define PUT(...)                                                               \
    do {                                                                       \
        int r_ = snprintf(out + n, out_len - n, __VA_ARGS__);                  \
        if (r_ > 0)                                                            \
            n = n + (size_t)r_ < out_len ? n + (size_t)r_ : out_len - 1;       \
    } while (0)
    PUT("\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            PUT("\\%c", c);
        else if (c == '\n')
            PUT("\\n");
        else if (c == '\r')
            PUT("\\r");
        else if (c == '\t')
            PUT("\\t");
        else if (c < 0x20 || c == 0x7f)
            PUT("\\u{%x}", c);
        else
            PUT("%c", c);
    }
    PUT("\"");
#undef PUT
    return out;
}

/* Rust's io::ErrorKind for an errno (std's decode_error_kind). */
static const char *error_kind(int errnum)
{
    switch (errnum) {
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

const char *jail_os_display(int errnum, char *out, size_t out_len)
{
    char tmp[256];

    if (errnum < 0)
        errnum = -errnum;
    snprintf(out, out_len, "%s (os error %d)",
             strerror_r(errnum, tmp, sizeof(tmp)), errnum);
    return out;
}

const char *jail_os_debug(int errnum, char *out, size_t out_len)
{
    char tmp[256], msg[300];

    if (errnum < 0)
        errnum = -errnum;
    jail_debug_str(strerror_r(errnum, tmp, sizeof(tmp)), msg, sizeof(msg));
    snprintf(out, out_len, "Os { code: %d, kind: %s, message: %s }", errnum,
             error_kind(errnum), msg);
    return out;
}

void jail_err_os(struct jail_err *e, const char *variant, const char *text,
                 int errnum)
{
    char d[320], g[400];

    snprintf(e->display, sizeof(e->display), "%s: %s", text,
             jail_os_display(errnum, d, sizeof(d)));
    snprintf(e->debug, sizeof(e->debug), "%s(%s)", variant,
             jail_os_debug(errnum, g, sizeof(g)));
}

void jail_err_path_os(struct jail_err *e, const char *variant, const char *text,
                      const char *path, int errnum, int strip_quotes)
{
    char d[320], g[400], p[1024];

    jail_debug_str(path, p, sizeof(p));
    if (strip_quotes) {
        char shown[1024];
        size_t k = 0;

        for (const char *c = p; *c && k + 1 < sizeof(shown); c++)
            if (*c != '"')
                shown[k++] = *c;
        shown[k] = '\0';
        snprintf(e->display, sizeof(e->display), "%s %s: %s", text, shown,
                 jail_os_display(errnum, d, sizeof(d)));
    } else {
        snprintf(e->display, sizeof(e->display), "%s %s: %s", text, path,
                 jail_os_display(errnum, d, sizeof(d)));
    }
    snprintf(e->debug, sizeof(e->debug), "%s(%s, %s)", variant, p,
             jail_os_debug(errnum, g, sizeof(g)));
}

void jail_err_str(struct jail_err *e, const char *variant, const char *before,
                  const char *s, const char *after)
{
    char q[1024];

    snprintf(e->display, sizeof(e->display), "%s%s%s", before, s, after);
    snprintf(e->debug, sizeof(e->debug), "%s(%s)", variant,
             jail_debug_str(s, q, sizeof(q)));
}

void jail_err_print(const struct jail_err *e, FILE *f)
{
    fprintf(f, "%s\nError: %s\n", e->display, e->debug);
    fflush(f);
}
