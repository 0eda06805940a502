/*
 * error.c: building and printing the jailer's errors (error.h).
 *
 * The io::Error texts follow Rust's standard library through util/err.h,
 * which squib's command line uses too: Display is sq_os_error(), Debug
 * sq_os_error_debug() (the errno's io::ErrorKind), strings in Debug form
 * sq_rust_debug_str().
 */
#include "jailer/error.h"

#include <errno.h>
#include <string.h>

void jail_err_set(struct jail_err *e, const char *display, const char *debug)
{
    snprintf(e->display, sizeof(e->display), "%s", display);
    snprintf(e->debug, sizeof(e->debug), "%s", debug);
}

void jail_err_os(struct jail_err *e, const char *variant, const char *text,
                 int errnum)
{
    char d[320], g[400];

    snprintf(e->display, sizeof(e->display), "%s: %s", text,
             sq_os_error(errnum, d, sizeof(d)));
    snprintf(e->debug, sizeof(e->debug), "%s(%s)", variant,
             sq_os_error_debug(errnum, g, sizeof(g)));
}

void jail_err_path_os(struct jail_err *e, const char *variant, const char *text,
                      const char *path, int errnum, int strip_quotes)
{
    char d[320], g[400], p[1024];

    sq_rust_debug_str(path, p, sizeof(p));
    if (strip_quotes) {
        char shown[1024];
        size_t k = 0;

        for (const char *c = p; *c && k + 1 < sizeof(shown); c++)
            if (*c != '"')
                shown[k++] = *c;
        shown[k] = '\0';
        snprintf(e->display, sizeof(e->display), "%s %s: %s", text, shown,
                 sq_os_error(errnum, d, sizeof(d)));
    } else {
        snprintf(e->display, sizeof(e->display), "%s %s: %s", text, path,
                 sq_os_error(errnum, d, sizeof(d)));
    }
    snprintf(e->debug, sizeof(e->debug), "%s(%s, %s)", variant, p,
             sq_os_error_debug(errnum, g, sizeof(g)));
}

void jail_err_str(struct jail_err *e, const char *variant, const char *before,
                  const char *s, const char *after)
{
    char q[1024];

    snprintf(e->display, sizeof(e->display), "%s%s%s", before, s, after);
    snprintf(e->debug, sizeof(e->debug), "%s(%s)", variant,
             sq_rust_debug_str(s, q, sizeof(q)));
}

void jail_err_print(const struct jail_err *e, FILE *f)
{
    fprintf(f, "%s\nError: %s\n", e->display, e->debug);
    fflush(f);
}
