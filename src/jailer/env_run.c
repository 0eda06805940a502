/*
 * env_run.c: building the jail and exec'ing into it (jail_env_run in
 * env.h), in upstream's order (Env::run in jailer/src/env.rs):
 *
 *   1. copy the exec file to <chroot>/<name> (fs.h)
 *   2. join --netns                       FileOpen / SetNetNs
 *   3. set the resource limits            rlimit.h
 *   4. cgroups, this process moved in     cgroup.h (needs the host's /sys,
 *                                         so before the jail)
 *   5. open /dev/null if daemonizing      Open
 *   6. enter the jail                     chroot.h
 *   7. "/", "/dev", "/dev/net", "/run": mode 0700, owned uid:gid
 *   8. device nodes, mode 0600, owned uid:gid: /dev/net/tun (10, 200),
 *      /dev/kvm (10, 232), /dev/urandom (1, 9; failure only warns on
 *      stdout), /dev/userfaultfd (10, minor from /proc/misc) if the host
 *      has it
 *   9. daemonize: fork (parent exits 0), setsid, fork (parent exits 0),
 *      /dev/null onto 0, 1, 2
 *  10. --new-pid-ns: clone(CLONE_NEWPID); the child execs, the parent
 *      writes the child's pid to /<name>.pid and exits 0. Otherwise the pid
 *      file gets this process's pid.
 *  11. exec /<name> --id <id> --start-time-us <t> --start-time-cpu-us <cpu>
 *      --parent-cpu-time-us <jailer cpu> <extra args...>, after setgid,
 *      setgroups(0) and setuid, with an empty signal mask and SIGPIPE at
 *      its default, as Rust's Command does. <cpu> is this
 *      process's CPU time at that moment, <jailer cpu> the CPU time spent
 *      since start (plus, when daemonized, the children's own CPU time read
 *      after each fork, as upstream adds it).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "jailer/chroot.h"
#include "jailer/env.h"
#include "jailer/fs.h"
#include "util/time.h"
#include "util/xalloc.h"

static uint64_t cpu_now_us(void)
{
    return time_clock_us(CLOCK_PROCESS_CPUTIME_ID);
}

static int join_netns(const char *path, struct jail_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

    if (fd < 0) {
        rc = -errno;
        jail_err_path_os(err, "FileOpen", "Failed to open file", path, rc, 1);
        return rc;
    }
    if (setns(fd, CLONE_NEWNET) < 0) {
        rc = -errno;
        jail_err_os(err, "SetNetNs", "Failed to join network namespace: netns",
                    rc);
    }
    close(fd);
    return rc;
}

static int make_devices(const struct jail_env *env, struct jail_err *err)
{
    struct jail_err warn;
    int rc;

    rc = jail_mknod_dev("/dev/net/tun", 10, 200, env->uid, env->gid, err);
    if (rc < 0)
        return rc;
    rc = jail_mknod_dev("/dev/kvm", 10, 232, env->uid, env->gid, err);
    if (rc < 0)
        return rc;
    if (jail_mknod_dev("/dev/urandom", 1, 9, env->uid, env->gid, &warn) < 0) {
        printf("Warning! Could not create /dev/urandom device inside "
               "jailer: %s.\n",
               warn.display);
        printf("MMDS version 2 will not be available to use.\n");
        fflush(stdout);
    }
    if (env->has_uffd_minor)
        return jail_mknod_dev("/dev/userfaultfd", 10, env->uffd_minor, env->uid,
                              env->gid, err);
    return 0;
}

/* Step 11. Returns only on failure. */
static int exec_command(const struct jail_env *env, const char *exec_path,
                        struct jail_err *err)
{
    /* execv wants char *: its own copies (the process execs or exits). */
    char **argv = xcalloc((size_t)env->n_extra_args + 10, sizeof(*argv));
    char start[32], cpu[32], parent_cpu[32];
    sigset_t none;
    int n = 0, rc;

    snprintf(start, sizeof(start), "%" PRIu64, env->start_time_us);
    snprintf(cpu, sizeof(cpu), "%" PRIu64, cpu_now_us());
    snprintf(parent_cpu, sizeof(parent_cpu), "%" PRIu64,
             env->jailer_cpu_time_us);
    argv[n++] = xstrdup(exec_path);
    argv[n++] = xstrdup("--id");
    argv[n++] = xstrdup(env->id);
    argv[n++] = xstrdup("--start-time-us");
    argv[n++] = xstrdup(start);
    argv[n++] = xstrdup("--start-time-cpu-us");
    argv[n++] = xstrdup(cpu);
    argv[n++] = xstrdup("--parent-cpu-time-us");
    argv[n++] = xstrdup(parent_cpu);
    for (int i = 0; i < env->n_extra_args; i++)
        argv[n++] = env->extra_args[i];
    argv[n] = NULL;

    /* Rust's Command: setgid, drop the supplementary groups (EPERM, no
     * CAP_SETGID, is ignored), setuid; the environment is the (emptied)
     * current one; the exec'd program starts with no signal blocked and
     * SIGPIPE at its default, whatever the jailer inherited. */
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0 ||
        signal(SIGPIPE, SIG_DFL) == SIG_ERR || setgid(env->gid) < 0 ||
        (setgroups(0, NULL) < 0 && errno != EPERM) || setuid(env->uid) < 0) {
        rc = -errno;
    } else {
        execv(exec_path, argv);
        rc = -errno;
    }
    for (int i = 0; i < 9; i++)
        free(argv[i]);
    free(argv);
    jail_err_os(err, "Exec", "Failed to exec into Firecracker", rc);
    return rc;
}

/*
 * The processes that only hand over to a child leave with _exit(0):
 * upstream calls exit(0), and the only difference is that atexit handlers
 * and stdio buffers of a forked copy are not run twice (stdout was flushed
 * before any fork; the sanitizer builds' exit-time checks, which need
 * /proc, cannot run inside the jail).
 */
static int daemonize(struct jail_env *env, int dev_null, struct jail_err *err)
{
    pid_t pid;

    fflush(stdout);
    pid = fork();

    /* Double fork: the first child leads no process group, so setsid()
     * works; the second does not lead the SID setsid() made (its pid is
     * not that SID), so it can never get a controlling terminal again. */
    if (pid < 0)
        goto fork_failed;
    if (pid > 0)
        _exit(0);
    if (setsid() < 0) {
        int rc = -errno;

        jail_err_os(err, "SetSid", "Failed to daemonize: setsid", rc);
        return rc;
    }
    env->jailer_cpu_time_us += cpu_now_us();
    pid = fork();
    if (pid < 0)
        goto fork_failed;
    if (pid > 0)
        _exit(0);
    for (int fd = 0; fd <= 2; fd++) {
        if (dup2(dev_null, fd) < 0) {
            int rc = -errno;

            jail_err_os(err, "Dup2", "Failed to duplicate fd", rc);
            return rc;
        }
    }
    env->jailer_cpu_time_us += cpu_now_us();
    return 0;

fork_failed : {
    int rc = -errno;

    jail_err_os(err, "Daemonize", "Failed to daemonize", rc);
    return rc;
}
}

static int exec_into_new_pid_ns(struct jail_env *env, const char *exec_path,
                                const char *pid_file, struct jail_err *err)
{
    bool leads_sid = false;
    long pid;
    int rc;

    /*
     * The exec file becomes init of the new namespace. If this process's
     * pid is its SID (getsid(0) == getpid()), its exit would send SIGHUP to
     * the child, which (as init, having a handler) would take it: then the
     * child calls setsid() first. With --daemonize that is never the case.
     */
    if (!env->daemonize) {
        pid_t sid = getsid(0);

        if (sid < 0) {
            rc = -errno;
            jail_err_os(err, "GetSid", "Failed to get SID (getsid)", rc);
            return rc;
        }
        leads_sid = sid == getpid();
    }
    /* fork-like: no CLONE_VM, no stack, no exit signal (as upstream). */
    pid =
        syscall(SYS_clone, (unsigned long)CLONE_NEWPID, NULL, NULL, NULL, 0UL);
    if (pid < 0) {
        rc = -errno;
        jail_err_os(err, "Clone", "Failed cloning into a new child process",
                    rc);
        return rc;
    }
    if (pid == 0) {
        if (leads_sid && setsid() < 0) {
            rc = -errno;
            jail_err_os(err, "SetSid", "Failed to daemonize: setsid", rc);
            return rc;
        }
        return exec_command(env, exec_path, err);
    }
    rc = jail_write_pid_file(pid_file, (pid_t)pid, err);
    if (rc < 0)
        return rc;
    _exit(0);
}

int jail_env_run(struct jail_env *env, struct jail_err *err)
{
    static const char *const folders[] = {"/", "/dev", "/dev/net", "/run"};
    char exec_path[NAME_MAX + 2], pid_file[NAME_MAX + 8];
    int dev_null = -1, rc;

    rc = jail_copy_exec(env->exec_file_path, env->chroot_dir,
                        env->exec_file_name, env->uid, env->gid, err);
    if (rc < 0)
        return rc;
    snprintf(exec_path, sizeof(exec_path), "/%s", env->exec_file_name);
    snprintf(pid_file, sizeof(pid_file), "/%s.pid", env->exec_file_name);

    if (env->netns) {
        rc = join_netns(env->netns, err);
        if (rc < 0)
            return rc;
    }
    rc = jail_rlimits_install(&env->rlimits, err);
    if (rc < 0)
        return rc;
    if (env->has_cgroups) {
        rc = jail_cgroups_setup(&env->cgroups, getpid(), err);
        if (rc < 0)
            return rc;
    }
    if (env->daemonize) {
        dev_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (dev_null < 0) {
            rc = -errno;
            jail_err_path_os(err, "Open", "Failed to open", "/dev/null", rc, 0);
            return rc;
        }
    }
    rc = jail_chroot(env->chroot_dir, err);
    for (size_t i = 0; rc == 0 && i < sizeof(folders) / sizeof(folders[0]); i++)
        rc = jail_setup_folder(folders[i], env->uid, env->gid, err);
    if (rc == 0)
        rc = make_devices(env, err);
    if (rc < 0)
        goto out;

    env->jailer_cpu_time_us = cpu_now_us() - env->start_time_cpu_us;
    if (dev_null >= 0) {
        rc = daemonize(env, dev_null, err);
        if (rc < 0)
            goto out;
    }
    if (env->new_pid_ns) {
        rc = exec_into_new_pid_ns(env, exec_path, pid_file, err);
    } else {
        rc = jail_write_pid_file(pid_file, getpid(), err);
        if (rc == 0)
            rc = exec_command(env, exec_path, err);
    }
out:
    if (dev_null >= 0)
        close(dev_null);
    return rc;
}
