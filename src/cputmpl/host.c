/*
 * host.c: the host half of a fingerprint (upstream's fingerprint/dump.rs;
 * see cputmpl.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "cputmpl/cputmpl.h"

const struct cputmpl_host_paths cputmpl_host_default = {
    .cpuinfo = "/proc/cpuinfo",
    .bios_version = "/sys/devices/virtual/dmi/id/bios_version",
    .bios_release = "/sys/devices/virtual/dmi/id/bios_release",
};

static void set_str(struct fingerprint *f, enum fingerprint_field i,
                    const char *s, size_t n)
{
    free(f->str[i]);
    f->str[i] = malloc(n + 1);
    if (!f->str[i])
        abort();
    memcpy(f->str[i], s, n);
    f->str[i][n] = '\0';
    f->str_len[i] = n;
}

/* read_sysfs_file: the file without its trailing newlines. */
static int read_sysfs(const char *path, struct fingerprint *f,
                      enum fingerprint_field i, struct sq_err *err)
{
    char *s;
    size_t n;
    int rc = cputmpl_read_text(path, &s, &n, err);

    if (rc) {
        sq_err_prefix(err, ": ");
        sq_err_prefix(err, path);
        sq_err_prefix(err, "Failed to read ");
        return rc;
    }
    while (n && s[n - 1] == '\n')
        n--;
    set_str(f, i, s, n);
    free(s);
    return 0;
}

/* Rust's char::is_whitespace for the ASCII a cpuinfo line holds. */
static bool is_ws(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* get_microcode_version: the first line "microcode<ws>:<value>". */
static int microcode(const char *path, struct fingerprint *f,
                     struct sq_err *err)
{
    char *s, *line;
    size_t n;
    int rc = cputmpl_read_text(path, &s, &n, err);

    if (rc) {
        sq_err_prefix(err, "Failed to read /proc/cpuinfo: ");
        return rc;
    }
    for (line = s; line < s + n;) {
        char *end = memchr(line, '\n', (size_t)(s + n - line));
        char *next = end ? end + 1 : s + n;
        char *p = line;

        if (!end)
            end = s + n;
        if (end > line && end[-1] == '\r') /* str::lines drops it */
            end--;
        if ((size_t)(end - p) >= 9 && memcmp(p, "microcode", 9) == 0) {
            p += 9;
            while (p < end && is_ws(*p))
                p++;
            if (p < end && *p == ':') {
                p++;
                while (p < end && is_ws(*p))
                    p++;
                while (end > p && is_ws(end[-1]))
                    end--;
                set_str(f, FINGERPRINT_MICROCODE_VERSION, p, (size_t)(end - p));
                free(s);
                return 0;
            }
        }
        line = next;
    }
    free(s);
    return sq_errf(err, -ENOENT,
                   "Failed to find microcode version in /proc/cpuinfo");
}

int cputmpl_host_fields(const struct cputmpl_host_paths *p,
                        struct fingerprint *f, struct sq_err *err)
{
    struct utsname u;
    char os[160];
    int rc;

    set_str(f, FINGERPRINT_FIRECRACKER_VERSION, CPUTMPL_VERSION,
            strlen(CPUTMPL_VERSION));
    if (uname(&u) < 0)
        return sq_errf(err, -errno, "Failed to get kernel version: %s",
                       sq_os_error(errno, os, sizeof(os)));
    set_str(f, FINGERPRINT_KERNEL_VERSION, u.release, strlen(u.release));
    rc = microcode(p->cpuinfo, f, err);
    if (rc == 0)
        rc = read_sysfs(p->bios_version, f, FINGERPRINT_BIOS_VERSION, err);
    if (rc == 0)
        rc = read_sysfs(p->bios_release, f, FINGERPRINT_BIOS_REVISION, err);
    return rc;
}
