/*
 * fs.h: the jailer's file work, as upstream's env.rs does it: the copy of
 * the exec file into the jail, the folders and device nodes inside it, the
 * pid file, and the small read/write helpers the cgroup code shares.
 *
 * Error texts are upstream's JailerError variants (named at each function).
 */
#ifndef SQUIB_JAILER_FS_H
#define SQUIB_JAILER_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "jailer/error.h"

/* mkdir -p with mode 0777 (before umask), as Rust's fs::create_dir_all:
 * directories that exist are fine. Returns 0 or -errno (no message). */
int jail_mkdir_p(const char *path);

/*
 * Upstream's writeln_special: write "{value}\n" to path (O_WRONLY |
 * O_CREAT | O_TRUNC, mode 0666). Returns 0 or -errno with *err = Write
 * ("Failed to write to {path}: {os error}").
 */
int jail_writeln(const char *path, const char *value, struct jail_err *err);

/*
 * Upstream's readln_special: the whole file, minus its last character
 * (whatever it is), into out (NUL-terminated, truncated). Returns 0 or
 * -errno with *err = ReadToString ("Failed to read file {path} into a
 * string: {os error}").
 */
int jail_readln(const char *path, char *out, size_t out_len,
                struct jail_err *err);

/*
 * Copy the exec file src into dir/<name>: open src read-only, take its
 * mode; open the destination O_WRONLY|O_CREAT|O_NOFOLLOW with that mode
 * (not truncated, as upstream), refuse it if it has more than one link
 * (HardLink "Detected hard link at: {path}"), fchown it to uid:gid, copy
 * the bytes. Errors: Open, Metadata, HardLink, ChangeFileOwner, Copy.
 */
int jail_copy_exec(const char *src, const char *dir, const char *name,
                   uid_t uid, gid_t gid, struct jail_err *err);

/*
 * Inside the jail: create folder (mkdir -p), chmod 0700, chown uid:gid.
 * Errors: CreateDir, Chmod, ChangeFileOwner.
 */
int jail_setup_folder(const char *folder, uid_t uid, gid_t gid,
                      struct jail_err *err);

/*
 * mknod a character device (mode 0600) and chown it to uid:gid. Errors:
 * MknodDev ("Failed to create {path} via mknod inside the jail: {os
 * error}"), ChangeFileOwner.
 */
int jail_mknod_dev(const char *path, unsigned major, unsigned minor, uid_t uid,
                   gid_t gid, struct jail_err *err);

/*
 * The minor number of the userfaultfd misc device from a /proc/misc-style
 * file: the first line whose second space-separated field is
 * "userfaultfd", its first field as a u32 (upstream splits on single
 * spaces, so a line with a leading space does not match). Returns 0 with
 * *minor, or -ENOENT / -EINVAL / -errno.
 */
int jail_uffd_minor(const char *proc_misc, uint32_t *minor);

/*
 * Write pid (decimal, no newline) into a new file path (O_CREAT|O_EXCL:
 * an existing one is an error). Errors: FileOpen, Write.
 */
int jail_write_pid_file(const char *path, pid_t pid, struct jail_err *err);

#endif
