/*
 * error.h: the jailer's errors, as upstream's JailerError prints them.
 *
 * Upstream's jailer returns a JailerError from main(): it prints the
 * error's Display text on stderr, then Rust prints "Error: " and the
 * error's Debug form, and the process exits with status 1. Every failure
 * here therefore carries both texts, built at the point of failure by one
 * of the helpers below (each names the upstream variant it reproduces) and
 * printed once, by main.c, through jail_err_print().
 *
 * Paths and values are copied into the error; nothing here allocates.
 */
#ifndef SQUIB_JAILER_ERROR_H
#define SQUIB_JAILER_ERROR_H

#include <stddef.h>
#include <stdio.h>

#include "util/err.h"

/* Room for two paths of PATH_MAX*2 and an OS error text. */
#define JAIL_ERR_MAX 20480

struct jail_err {
    char display[JAIL_ERR_MAX]; /* Display text; "" if no error was set */
    char debug[JAIL_ERR_MAX];   /* Debug form, e.g. NotAFile("/x") */
};

/* Set both texts verbatim (truncated to JAIL_ERR_MAX - 1 bytes). */
void jail_err_set(struct jail_err *e, const char *display, const char *debug);

/*
 * Variant(io::Error): display "{text}: {os error}", debug
 * "{variant}(Os { .. })". E.g. jail_err_os(e, "PivotRoot",
 * "Failed to pivot root", EINVAL).
 */
void jail_err_os(struct jail_err *e, const char *variant, const char *text,
                 int errnum);

/*
 * Variant(PathBuf, io::Error): display "{text} {path}: {os error}", debug
 * "{variant}(\"{path}\", Os { .. })". When strip_quotes is set the path in
 * the display is its Debug form without the quotes (upstream formats these
 * with {:?} and then removes every '"'), else the path as it is.
 */
void jail_err_path_os(struct jail_err *e, const char *variant, const char *text,
                      const char *path, int errnum, int strip_quotes);

/*
 * Variant(String): display "{before}{s}{after}", debug "{variant}(\"{s}\")",
 * e.g. jail_err_str(e, "Uid", "Invalid uid: ", "x", "").
 */
void jail_err_str(struct jail_err *e, const char *variant, const char *before,
                  const char *s, const char *after);

/* Print the error as upstream's main() does: display, newline, then
 * "Error: {debug}" and a newline, on f. */
void jail_err_print(const struct jail_err *e, FILE *f);

#endif
