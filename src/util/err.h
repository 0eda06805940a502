/*
 * err.h: an error that carries a message for the user.
 *
 * Functions that can fail in a way a user will see take a `struct sq_err *`
 * and fill it with sq_errf(); the HTTP layer turns it into
 * 400 {"fault_message": "..."}. The code is a negative errno (or -EINVAL
 * when there is none); the message is the exact text the client sees.
 */
#ifndef SQUIB_UTIL_ERR_H
#define SQUIB_UTIL_ERR_H

#include <stdarg.h>
#include <stddef.h>

#define SQ_ERR_MSG_MAX 4096

struct sq_err {
    int code;                 /* negative errno; 0 if no error was set */
    char msg[SQ_ERR_MSG_MAX]; /* NUL-terminated, truncated if longer */
};

/* Reset to "no error". */
void sq_err_clear(struct sq_err *err);

/* Set the error (overwrites any previous one) from a va_list. `err` may be
 * NULL. */
void sq_err_vset(struct sq_err *err, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/*
 * Set the error (overwrites any previous one) and return `code`, so that
 * callers can write `return sq_errf(err, -EINVAL, "...")`. `err` may be NULL.
 * Inline so that static analysers see the return value is `code` (the
 * message is formatted out of line); `code` is evaluated once, before the
 * message is formatted, so `-errno` is safe.
 */
__attribute__((format(printf, 3, 4))) static inline int
sq_errf(struct sq_err *err, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sq_err_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

/*
 * Prepend `prefix` to the message already in `err` (for upstream's
 * "Category error: detail" chains). Returns err->code.
 */
int sq_err_prefix(struct sq_err *err, const char *prefix);

/*
 * Rust's io::Error Display for an errno: "No such file or directory (os error
 * 2)". Writes into `out` (NUL-terminated) and returns it.
 */
const char *sq_os_error(int errnum, char *out, size_t out_len);

/*
 * Rust's Debug form of a string (quoted, with \" \\ \n \r \t and
 * \u{..} escapes for other control bytes; other bytes copied) into out
 * (NUL-terminated, truncated). Returns out. Shared by squib's command line
 * and the jailer, which print upstream's `Error: {Debug}` forms.
 */
const char *sq_rust_debug_str(const char *s, char *out, size_t out_len);

/*
 * Rust's io::Error Debug form of an OS error (errnum > 0, or a negative
 * errno): Os { code: 2, kind: NotFound, message: "No such file or
 * directory" }, the kind as std's decode_error_kind names it. Returns out.
 */
const char *sq_os_error_debug(int errnum, char *out, size_t out_len);

#endif
