/*
 * chroot.c: entering the jail (chroot.h).
 */
#include "jailer/chroot.h"

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define OLD_ROOT "old_root"

/* Record the step that failed and return its -errno. */
static int step_failed(struct jail_err *err, const char *variant,
                       const char *text)
{
    int rc = -errno;

    jail_err_os(err, variant, text, rc);
    return rc;
}

int jail_chroot(const char *dir, struct jail_err *err)
{
    if (unshare(CLONE_NEWNS) < 0)
        return step_failed(err, "UnshareNewNs",
                           "Failed to unshare into new mount namespace");
    /* Slave, so that nothing done here propagates back to the host, and
     * pivot_root accepts the tree (it refuses shared mounts). */
    if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
        return step_failed(err, "MountPropagationSlave",
                           "Failed to change the propagation type to slave");
    if (mount(dir, dir, NULL, MS_BIND | MS_REC, NULL) < 0)
        return step_failed(err, "MountBind",
                           "Failed to bind mount the jail root directory");
    if (chdir(dir) < 0)
        return step_failed(err, "SetCurrentDir",
                           "Failed to change current directory");
    if (mkdir(OLD_ROOT, S_IRUSR | S_IWUSR) < 0)
        return step_failed(err, "MkdirOldRoot",
                           "Failed to create the jail root directory before "
                           "pivoting root");
    /* glibc has no wrapper for pivot_root. */
    if (syscall(SYS_pivot_root, ".", OLD_ROOT) < 0)
        return step_failed(err, "PivotRoot", "Failed to pivot root");
    /* pivot_root does not promise the cwd is the new root. */
    if (chdir("/") < 0)
        return step_failed(err, "ChdirNewRoot",
                           "Failed to chdir into chroot directory");
    if (umount2(OLD_ROOT, MNT_DETACH) < 0)
        return step_failed(err, "UmountOldRoot",
                           "Failed to unmount the old jail root");
    if (rmdir(OLD_ROOT) < 0)
        return step_failed(err, "RmOldRootDir",
                           "Failed to remove old jail root directory");
    return 0;
}
