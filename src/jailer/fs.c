/*
 * fs.c: the jailer's file work (fs.h).
 */
#include "jailer/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "jailer/rlimit.h"
#include "util/fdio.h"

int jail_mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    struct stat st;

    if (len == 0)
        return -ENOENT;
    if (len >= sizeof(buf))
        return -ENAMETOOLONG;
    memcpy(buf, path, len + 1);
    /* Each prefix ending before a '/', then the whole path. */
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        if (buf[i - 1] == '/')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0777) < 0) {
            int e = errno;

            if (e != EEXIST || stat(buf, &st) < 0 || !S_ISDIR(st.st_mode))
                return -e;
        }
        if (i < len)
            buf[i] = '/';
    }
    return 0;
}

int jail_writeln(const char *path, const char *value, struct jail_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    size_t len = strlen(value);
    char line[4096];
    int rc;

    if (fd < 0) {
        rc = -errno;
        goto fail;
    }
    snprintf(line, sizeof(line), "%s\n", value);
    if (len + 1 >= sizeof(line))
        len = sizeof(line) - 2;
    rc = fd_write_all(fd, line, len + 1);
    close(fd);
    if (rc < 0)
        goto fail;
    return 0;
fail:
    jail_err_path_os(err, "Write", "Failed to write to", path, rc, 1);
    return rc;
}

int jail_readln(const char *path, char *out, size_t out_len,
                struct jail_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t n = 0;
    int rc = 0;

    if (fd < 0) {
        rc = -errno;
    } else {
        for (;;) {
            ssize_t r = read(fd, out + n, out_len - 1 - n);

            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                rc = -errno;
                break;
            }
            if (r == 0 || (n += (size_t)r) >= out_len - 1)
                break;
        }
        close(fd);
    }
    if (rc < 0) {
        char d[320], g[400], p[1024], shown[1024];
        size_t k = 0;

        sq_rust_debug_str(path, p, sizeof(p));
        for (const char *c = p; *c && k + 1 < sizeof(shown); c++)
            if (*c != '"')
                shown[k++] = *c;
        shown[k] = '\0';
        snprintf(err->display, sizeof(err->display),
                 "Failed to read file %s into a string: %s", shown,
                 sq_os_error(rc, d, sizeof(d)));
        snprintf(err->debug, sizeof(err->debug), "ReadToString(%s, %s)", p,
                 sq_os_error_debug(rc, g, sizeof(g)));
        return rc;
    }
    /* String::pop: drop the last character (a whole UTF-8 sequence). */
    while (n > 0) {
        unsigned char c = (unsigned char)out[--n];

        if ((c & 0xc0) != 0x80)
            break;
    }
    out[n] = '\0';
    return 0;
}

int jail_copy_exec(const char *src, const char *dir, const char *name,
                   uid_t uid, gid_t gid, struct jail_err *err)
{
    char dst[PATH_MAX], buf[65536];
    struct stat sst, dstt;
    int in = -1, out = -1, rc;

    snprintf(dst, sizeof(dst), "%s/%s", dir, name);
    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        rc = -errno;
        jail_err_path_os(err, "Open", "Failed to open", src, rc, 0);
        return rc;
    }
    if (fstat(in, &sst) < 0) {
        rc = -errno;
        jail_err_path_os(err, "Metadata",
                         "Cannot get metadata for a file:", src, rc, 0);
        goto out;
    }
    /* Not O_TRUNC and not O_EXCL: upstream's OpenOptions are
     * write + create (+ O_NOFOLLOW), so an existing file is written over. */
    out = open(dst, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
               sst.st_mode & 07777);
    if (out < 0) {
        rc = -errno;
        jail_err_path_os(err, "Open", "Failed to open", dst, rc, 0);
        goto out;
    }
    if (fstat(out, &dstt) < 0) {
        rc = -errno;
        jail_err_path_os(err, "Metadata",
                         "Cannot get metadata for a file:", dst, rc, 0);
        goto out;
    }
    if (dstt.st_nlink > 1) {
        char q[1024];

        snprintf(err->display, sizeof(err->display),
                 "Detected hard link at: %s", dst);
        snprintf(err->debug, sizeof(err->debug), "HardLink(%s)",
                 sq_rust_debug_str(dst, q, sizeof(q)));
        rc = -EMLINK;
        goto out;
    }
    if (fchown(out, uid, gid) < 0) {
        rc = -errno;
        jail_err_path_os(err, "ChangeFileOwner", "Failed to change owner for",
                         dst, rc, 0);
        goto out;
    }
    for (;;) {
        ssize_t r = read(in, buf, sizeof(buf));

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            goto copy_fail;
        }
        if (r == 0)
            break;
        rc = fd_write_all(out, buf, (size_t)r);
        if (rc < 0)
            goto copy_fail;
    }
    rc = 0;
    goto out;
copy_fail : {
    char d[320], g[400], ps[1024], pd[1024];

    snprintf(err->display, sizeof(err->display), "Failed to copy %s to %s: %s",
             src, dst, sq_os_error(rc, d, sizeof(d)));
    snprintf(err->debug, sizeof(err->debug), "Copy(%s, %s, %s)",
             sq_rust_debug_str(src, ps, sizeof(ps)),
             sq_rust_debug_str(dst, pd, sizeof(pd)),
             sq_os_error_debug(rc, g, sizeof(g)));
}
out:
    if (out >= 0)
        close(out);
    close(in);
    return rc;
}

int jail_setup_folder(const char *folder, uid_t uid, gid_t gid,
                      struct jail_err *err)
{
    int rc = jail_mkdir_p(folder);

    if (rc < 0) {
        jail_err_path_os(err, "CreateDir", "Failed to create directory", folder,
                         rc, 1);
        return rc;
    }
    if (chmod(folder, 0700) < 0) {
        rc = -errno;
        jail_err_path_os(err, "Chmod", "Failed to change permissions on",
                         folder, rc, 0);
        return rc;
    }
    if (chown(folder, uid, gid) < 0) {
        rc = -errno;
        jail_err_path_os(err, "ChangeFileOwner", "Failed to change owner for",
                         folder, rc, 0);
        return rc;
    }
    return 0;
}

int jail_mknod_dev(const char *path, unsigned major, unsigned minor, uid_t uid,
                   gid_t gid, struct jail_err *err)
{
    int rc;

    if (mknod(path, S_IFCHR | S_IRUSR | S_IWUSR, makedev(major, minor)) < 0) {
        char d[320], g[400], q[1024];

        rc = -errno;
        snprintf(err->display, sizeof(err->display),
                 "Failed to create %s via mknod inside the jail: %s", path,
                 sq_os_error(rc, d, sizeof(d)));
        snprintf(err->debug, sizeof(err->debug), "MknodDev(%s, %s)",
                 sq_os_error_debug(rc, g, sizeof(g)),
                 sq_rust_debug_str(path, q, sizeof(q)));
        return rc;
    }
    if (chown(path, uid, gid) < 0) {
        rc = -errno;
        jail_err_path_os(err, "ChangeFileOwner", "Failed to change owner for",
                         path, rc, 0);
        return rc;
    }
    return 0;
}

int jail_uffd_minor(const char *proc_misc, uint32_t *minor)
{
    FILE *f = fopen(proc_misc, "re");
    char line[512];
    int rc = -ENOENT;

    if (!f)
        return -errno;
    while (fgets(line, sizeof(line), f)) {
        char *sp = strchr(line, ' '), *second, *end;
        uint64_t v;
        const char *why;

        line[strcspn(line, "\n")] = '\0';
        if (!sp)
            continue;
        *sp = '\0';
        second = sp + 1;
        end = strchr(second, ' ');
        if (end)
            *end = '\0';
        if (strcmp(second, "userfaultfd") != 0)
            continue;
        rc = jail_parse_uint(line, UINT32_MAX, &v, &why) < 0 ? -EINVAL : 0;
        if (rc == 0)
            *minor = (uint32_t)v;
        break;
    }
    (void)fclose(f);
    return rc;
}

int jail_write_pid_file(const char *path, pid_t pid, struct jail_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    char buf[32];
    int rc, n;

    if (fd < 0) {
        rc = -errno;
        jail_err_path_os(err, "FileOpen", "Failed to open file", path, rc, 1);
        return rc;
    }
    n = snprintf(buf, sizeof(buf), "%d", (int)pid);
    rc = fd_write_all(fd, buf, (size_t)n);
    close(fd);
    if (rc < 0) {
        jail_err_path_os(err, "Write", "Failed to write to", path, rc, 1);
        return rc;
    }
    return 0;
}
