/*
 * main.c: the jailer binary, upstream's jailer/src/main.rs.
 *
 *   1. close every inherited fd above 2 (close_range(3, ~0,
 *      CLOSE_RANGE_UNSHARE); upstream panics if the kernel lacks it) and
 *      clear the environment;
 *   2. parse the arguments (args.h): --help / --version print and exit 0;
 *   3. check them (jail_env_new, env.h);
 *   4. mkdir -p <base>/<exec name>/<id>/root;
 *   5. build the jail and exec into it (jail_env_run).
 *
 * Any error of steps 2-5 prints its Display text, then "Error: {Debug}",
 * on stderr, and exits 1 (a Rust main returning Err). The checks of step 0,
 * upstream's panics (non-UTF-8 arguments, close_range missing), print their
 * message and abort, as upstream's panic=abort build does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "jailer/args.h"
#include "jailer/env.h"
#include "jailer/error.h"
#include "jailer/fs.h"
#include "util/time.h"

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif

static void panic(const char *msg) __attribute__((noreturn));
static void panic(const char *msg)
{
    fprintf(stderr, "thread 'main' panicked at src/jailer/main.c:\n%s\n", msg);
    fflush(stderr);
    abort();
}

static void sanitize_process(void)
{
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_UNSHARE) < 0) {
        struct jail_err e;
        char msg[JAIL_ERR_MAX + 64];

        jail_err_os(&e, "CloseRange", "Failed to call close range syscall",
                    -errno);
        snprintf(msg, sizeof(msg), "Failed to sanitize the Jailer process: %s",
                 e.display);
        panic(msg);
    }
    if (clearenv() != 0)
        panic("Failed to sanitize the Jailer process: clearenv");
}

int main(int argc, char **argv)
{
    /* Upstream reads the clocks as it builds its Env, after parsing; these
     * are close enough to that moment and on the same clocks. */
    uint64_t start_us = time_mono_us();
    uint64_t start_cpu_us = time_clock_us(CLOCK_PROCESS_CPUTIME_ID);
    const struct jail_host_paths host = {"/proc/mounts", "/proc/misc"};
    enum jail_args_action action;
    struct jail_args args;
    struct jail_env env;
    struct jail_err err;
    int rc;

    sanitize_process();
    if (jail_args_check_utf8(argc, argv, &err) < 0)
        panic(err.display);

    if (jail_args_parse(argc, argv, &args, &action, &err) < 0)
        goto fail;
    if (action == JAIL_ARGS_HELP) {
        char help[8192];

        if (jail_args_help_text(help, sizeof(help)) < 0)
            return 1;
        return fputs(help, stdout) == EOF;
    }
    if (action == JAIL_ARGS_VERSION)
        return fputs(jail_args_version_text(), stdout) == EOF;

    rc = jail_env_new(&args, start_us, start_cpu_us, &host, &env, &err);
    if (rc < 0)
        goto fail_args;
    rc = jail_mkdir_p(env.chroot_dir);
    if (rc < 0) {
        jail_err_path_os(&err, "CreateDir", "Failed to create directory",
                         env.chroot_dir, rc, 1);
        goto fail_env;
    }
    fflush(stdout);
    jail_env_run(&env, &err); /* returns only on failure */

fail_env:
    jail_env_fini(&env);
fail_args:
    jail_args_fini(&args);
fail:
    jail_err_print(&err, stderr);
    return 1;
}
