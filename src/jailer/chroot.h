/*
 * chroot.h: entering the jail, as upstream's jailer/src/chroot.rs.
 *
 * A mount namespace plus pivot_root, stronger than a plain chroot(2):
 *
 *   unshare(CLONE_NEWNS)                     UnshareNewNs
 *   mount(NULL, "/", MS_SLAVE | MS_REC)      MountPropagationSlave
 *   mount(dir, dir, MS_BIND | MS_REC)        MountBind (pivot_root needs
 *                                            the new root to be a mount)
 *   chdir(dir)                               SetCurrentDir
 *   mkdir("old_root", 0600)                  MkdirOldRoot
 *   pivot_root(".", "old_root")              PivotRoot
 *   chdir("/")                               ChdirNewRoot
 *   umount2("old_root", MNT_DETACH)          UmountOldRoot
 *   rmdir("old_root")                        RmOldRootDir
 *
 * The name at the right is the upstream error each step fails with.
 */
#ifndef SQUIB_JAILER_CHROOT_H
#define SQUIB_JAILER_CHROOT_H

#include "jailer/error.h"

/* Make dir the root of this process (see above). Returns 0, or -errno with
 * *err set. Must run as root (CAP_SYS_ADMIN). */
int jail_chroot(const char *dir, struct jail_err *err);

#endif
