/*
 * env.h: the checked jail description and the steps that build it, as
 * upstream's jailer/src/env.rs (Env::new, then Env::run).
 *
 * jail_env_new checks the parsed arguments in upstream's order and stops at
 * the first error:
 *
 *   --id            "Invalid instance ID: Invalid len (0);  the length must
 *                   be between 1 and 64" / "... Invalid char (_) at
 *                   position 3" (Rust's char::is_alphanumeric or '-')
 *   --exec-file     canonicalised ("Failed to canonicalize path {p}: ..."),
 *                   must be a regular file ("{p} is not a file")
 *   --chroot-base-dir  canonicalised, must be a directory ("{p} is not a
 *                   directory"); the jail is <base>/<exec name>/<id>/root
 *   --uid, --gid    u32 ("Invalid uid: {s}" / "Invalid gid: {s}")
 *   --parent-cgroup (default: the exec file's name) no root, "..", or
 *                   leading "." ("Parent cgroup path is invalid. ...")
 *   --cgroup-version  u8 ("{s} is an invalid cgroup version specifier")
 *   version 2 without --cgroup: if <unified>/<parent> exists, this process
 *                   moves into it now (CgroupMove on failure)
 *   --cgroup        "file=value" with exactly one '=' and a value
 *                   ("Invalid format for cgroups: {arg}"), the file without
 *                   root, ".." or leading "." ("Cgroup invalid file: {arg}"),
 *                   then cgroup.h's checks
 *   --resource-limit  rlimit.h's checks
 *   /proc/misc      the userfaultfd minor, if the host has the device
 *
 * jail_env_run then does the rest (see env_run.c for the order).
 */
#ifndef SQUIB_JAILER_ENV_H
#define SQUIB_JAILER_ENV_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "jailer/args.h"
#include "jailer/cgroup.h"
#include "jailer/error.h"
#include "jailer/rlimit.h"

/* Host files the checks read; tests point them elsewhere. */
struct jail_host_paths {
    const char *proc_mounts; /* "/proc/mounts" */
    const char *proc_misc;   /* "/proc/misc" */
};

struct jail_env {
    const char *id;                /* points into argv */
    char exec_file_path[PATH_MAX]; /* canonical */
    char exec_file_name[NAME_MAX + 1];
    char chroot_dir[PATH_MAX + NAME_MAX * 2 + 8]; /* <base>/<name>/<id>/root */
    uid_t uid;
    gid_t gid;
    const char *netns; /* NULL: stay in this network namespace */
    bool daemonize;
    bool new_pid_ns;
    uint64_t start_time_us;     /* monotonic, at jailer start */
    uint64_t start_time_cpu_us; /* process CPU time, at jailer start */
    uint64_t jailer_cpu_time_us;
    char **extra_args; /* after "--"; into argv */
    int n_extra_args;
    bool has_cgroups;            /* any --cgroup given */
    struct jail_cgroups cgroups; /* owned when has_cgroups */
    struct jail_rlimits rlimits;
    bool has_uffd_minor;
    uint32_t uffd_minor;
};

/*
 * Check the arguments (the list at the top) and fill *env. Has one side
 * effect, upstream's: with --cgroup-version 2 and no --cgroup, it may move
 * this process into the parent cgroup. Returns 0, or a negative errno with
 * *err set; on failure *env needs no fini.
 */
int jail_env_new(const struct jail_args *a, uint64_t start_time_us,
                 uint64_t start_time_cpu_us, const struct jail_host_paths *host,
                 struct jail_env *env, struct jail_err *err);

/* Free what *env owns. */
void jail_env_fini(struct jail_env *env);

/*
 * Upstream's validate_instance_id: 1..64 bytes, each character '-' or
 * alphanumeric (Rust's char::is_alphanumeric). Returns 0 or -EINVAL with
 * *err = InvalidInstanceId(...).
 */
int jail_check_id(const char *id, struct jail_err *err);

/*
 * Build the jail and exec the exec file in it (env_run.c). Returns only on
 * failure: a negative errno with *err set. With --daemonize and
 * --new-pid-ns the intermediate processes _exit(0) inside.
 */
int jail_env_run(struct jail_env *env, struct jail_err *err);

#endif
