/*
 * env.c: checking the jailer's arguments into a jail description (env.h),
 * in upstream's order (Env::new in jailer/src/env.rs).
 */
#include "jailer/env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jailer/fs.h"
#include "util/strnum.h"
#include "util/utf8.h"

#define ID_MAX_LEN 64

/* Rust's char Debug form of cp into out: quoted with '\''. */
static void debug_char(uint32_t cp, const char *bytes, size_t n, char *out,
                       size_t out_len)
{
    if (cp == '\'')
        snprintf(out, out_len, "'\\''");
    else if (cp == '\\')
        snprintf(out, out_len, "'\\\\'");
    else if (cp == '\n')
        snprintf(out, out_len, "'\\n'");
    else if (cp == '\r')
        snprintf(out, out_len, "'\\r'");
    else if (cp == '\t')
        snprintf(out, out_len, "'\\t'");
    else if (cp == 0)
        snprintf(out, out_len, "'\\0'");
    else if (cp < 0x20 || cp == 0x7f)
        snprintf(out, out_len, "'\\u{%x}'", (unsigned)cp);
    else
        snprintf(out, out_len, "'%.*s'", (int)n, bytes);
}

int jail_check_id(const char *id, struct jail_err *err)
{
    size_t len = strlen(id), i = 0, pos = 0;

    if (len < 1 || len > ID_MAX_LEN) {
        snprintf(err->display, sizeof(err->display),
                 "Invalid instance ID: Invalid len (%zu);  the length must "
                 "be between 1 and %d",
                 len, ID_MAX_LEN);
        snprintf(err->debug, sizeof(err->debug),
                 "InvalidInstanceId(InvalidLen(%zu, 1, %d))", len, ID_MAX_LEN);
        return -EINVAL;
    }
    while (i < len) {
        uint32_t cp = 0xfffd;
        size_t n = utf8_decode(id + i, len - i, &cp);

        if (n == 0)
            n = 1; /* not reached: main checked the arguments are UTF-8 */
        if (cp != '-' && !utf8_is_alphanumeric(cp)) {
            char dbg[32];

            debug_char(cp, id + i, n, dbg, sizeof(dbg));
            snprintf(err->display, sizeof(err->display),
                     "Invalid instance ID: Invalid char (%.*s) at position "
                     "%zu",
                     (int)n, id + i, pos);
            snprintf(err->debug, sizeof(err->debug),
                     "InvalidInstanceId(InvalidChar(%s, %zu))", dbg, pos);
            return -EINVAL;
        }
        i += n;
        pos++;
    }
    return 0;
}

/* Canonicalize(path, err) for a failed realpath. */
static int canonicalize(const char *path, char *out, struct jail_err *err)
{
    if (!realpath(path, out)) {
        int rc = -errno;

        jail_err_path_os(err, "Canonicalize", "Failed to canonicalize path",
                         path, rc, 1);
        return rc;
    }
    return 0;
}

/* NotAFile / NotADirectory: "{path} is not a file". */
static int not_a(struct jail_err *err, const char *variant, const char *path,
                 const char *what)
{
    char q[PATH_MAX + 64], shown[PATH_MAX + 64];
    size_t k = 0;

    sq_rust_debug_str(path, q, sizeof(q));
    for (const char *c = q; *c && k + 1 < sizeof(shown); c++)
        if (*c != '"')
            shown[k++] = *c;
    shown[k] = '\0';
    snprintf(err->display, sizeof(err->display), "%s is not a %s", shown, what);
    snprintf(err->debug, sizeof(err->debug), "%s(%s)", variant, q);
    return -EINVAL;
}

static int check_exec_file(const char *exec_file, struct jail_env *env,
                           struct jail_err *err)
{
    struct stat st;
    const char *slash;
    int rc = canonicalize(exec_file, env->exec_file_path, err);

    if (rc < 0)
        return rc;
    if (stat(env->exec_file_path, &st) < 0 || !S_ISREG(st.st_mode))
        return not_a(err, "NotAFile", env->exec_file_path, "file");
    slash = strrchr(env->exec_file_path, '/');
    /* A canonical path's last component fits NAME_MAX. */
    if (snprintf(env->exec_file_name, sizeof(env->exec_file_name), "%s",
                 slash ? slash + 1 : env->exec_file_path) >=
        (int)sizeof(env->exec_file_name))
        return not_a(err, "NotAFile", env->exec_file_path, "file");
    return 0;
}

static int check_chroot_base(const char *base, struct jail_env *env,
                             struct jail_err *err)
{
    char canon[PATH_MAX];
    struct stat st;
    int rc = canonicalize(base, canon, err);

    if (rc < 0)
        return rc;
    if (stat(canon, &st) < 0 || !S_ISDIR(st.st_mode))
        return not_a(err, "NotADirectory", canon, "directory");
    /* PathBuf::push adds no second '/' after a root of "/". */
    snprintf(env->chroot_dir, sizeof(env->chroot_dir), "%s/%s/%s/root",
             strcmp(canon, "/") ? canon : "", env->exec_file_name, env->id);
    return 0;
}

static int parse_id_number(const char *s, const char *variant, const char *what,
                           uint32_t *out, struct jail_err *err)
{
    if (!strnum_parse_u32(s, strlen(s), out)) {
        jail_err_str(err, variant, what, s, "");
        return -EINVAL;
    }
    return 0;
}

/* Upstream's CgroupMove: fs::write(<parent>/cgroup.procs, pid), no
 * newline. */
static int move_to_parent_cgroup(const char *cg_parent, struct jail_err *err)
{
    char procs[PATH_MAX * 2], pid[32];
    struct stat st;
    FILE *f;
    int rc = 0;

    if (stat(cg_parent, &st) < 0)
        return 0; /* no such cgroup: nothing to do */
    if (snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg_parent) >=
        (int)sizeof(procs))
        return -ENAMETOOLONG;
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    f = fopen(procs, "we");
    if (!f || fputs(pid, f) < 0)
        rc = -errno;
    if (f && fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc < 0) {
        char d[320], g[400], q[PATH_MAX + 64];

        snprintf(err->display, sizeof(err->display),
                 "Failed to move process to cgroup (%s): %s.\nHint: If you "
                 "intended to create a child cgroup under %s, pass any "
                 "--cgroup parameters.",
                 cg_parent, sq_os_error(rc, d, sizeof(d)), cg_parent);
        snprintf(err->debug, sizeof(err->debug), "CgroupMove(%s, %s)",
                 sq_rust_debug_str(cg_parent, q, sizeof(q)),
                 sq_os_error_debug(rc, g, sizeof(g)));
    }
    return rc;
}

static int check_cgroups(const struct jail_args *a, unsigned version,
                         const char *parent, const char *proc_mounts,
                         struct jail_env *env, struct jail_err *err)
{
    int rc;

    if (a->n_cgroups == 0 && version == 2) {
        struct jail_cgroups probe;
        const char *unified;
        char cg_parent[PATH_MAX * 2];

        rc = jail_cgroups_init(&probe, version, proc_mounts, err);
        if (rc < 0)
            return rc;
        rc = jail_cgroups_v2_path(&probe, &unified, err);
        if (rc == 0) {
            snprintf(cg_parent, sizeof(cg_parent), "%s/%s", unified, parent);
            rc = move_to_parent_cgroup(cg_parent, err);
        }
        jail_cgroups_fini(&probe);
        if (rc < 0)
            return rc;
    }
    if (a->n_cgroups == 0)
        return 0;

    rc = jail_cgroups_init(&env->cgroups, version, proc_mounts, err);
    if (rc < 0)
        return rc;
    env->has_cgroups = true;
    for (size_t i = 0; i < a->n_cgroups; i++) {
        const char *cg = a->cgroups[i], *eq = strchr(cg, '=');
        char file[1024];

        /* str::split('='): exactly two pieces, the second not empty. */
        if (!eq || strchr(eq + 1, '=') || eq[1] == '\0') {
            jail_err_str(err, "CgroupFormat",
                         "Invalid format for cgroups: ", cg, "");
            return -EINVAL;
        }
        snprintf(file, sizeof(file), "%.*s", (int)(eq - cg), cg);
        if (!jail_cg_path_ok(file, NULL)) {
            jail_err_str(err, "CgroupInvalidFile", "Cgroup invalid file: ", cg,
                         "");
            return -EINVAL;
        }
        rc =
            jail_cgroups_add(&env->cgroups, file, eq + 1, env->id, parent, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int jail_env_new(const struct jail_args *a, uint64_t start_time_us,
                 uint64_t start_time_cpu_us, const struct jail_host_paths *host,
                 struct jail_env *env, struct jail_err *err)
{
    const char *parent;
    uint64_t version;
    const char *why;
    uint32_t v;
    int rc;

    memset(env, 0, sizeof(*env));
    env->id = a->id;
    rc = jail_check_id(a->id, err);
    if (rc < 0)
        return rc;
    rc = check_exec_file(a->exec_file, env, err);
    if (rc < 0)
        return rc;
    rc = check_chroot_base(a->chroot_base_dir, env, err);
    if (rc < 0)
        return rc;
    rc = parse_id_number(a->uid, "Uid", "Invalid uid: ", &v, err);
    if (rc < 0)
        return rc;
    env->uid = (uid_t)v;
    rc = parse_id_number(a->gid, "Gid", "Invalid gid: ", &v, err);
    if (rc < 0)
        return rc;
    env->gid = (gid_t)v;
    env->netns = a->netns;
    env->daemonize = a->daemonize;
    env->new_pid_ns = a->new_pid_ns;

    parent = a->parent_cgroup ? a->parent_cgroup : env->exec_file_name;
    if (!jail_cg_path_ok(parent, NULL)) {
        jail_err_set(err,
                     "Parent cgroup path is invalid. Path should not be "
                     "absolute or contain '..' or '.'",
                     "CgroupInvalidParentPath");
        return -EINVAL;
    }
    if (jail_parse_uint(a->cgroup_version, 255, &version, &why) < 0) {
        jail_err_str(err, "CgroupInvalidVersion", "", a->cgroup_version,
                     " is an invalid cgroup version specifier");
        return -EINVAL;
    }
    rc = check_cgroups(a, (unsigned)version, parent, host->proc_mounts, env,
                       err);
    if (rc < 0)
        goto fail;

    jail_rlimits_init(&env->rlimits);
    rc = jail_rlimits_parse(&env->rlimits, a->resource_limits,
                            a->n_resource_limits, err);
    if (rc < 0)
        goto fail;

    env->has_uffd_minor =
        jail_uffd_minor(host->proc_misc, &env->uffd_minor) == 0;
    env->start_time_us = start_time_us;
    env->start_time_cpu_us = start_time_cpu_us;
    env->extra_args = a->extra_args;
    env->n_extra_args = a->n_extra_args;
    return 0;

fail:
    jail_env_fini(env);
    return rc;
}

void jail_env_fini(struct jail_env *env)
{
    if (env->has_cgroups)
        jail_cgroups_fini(&env->cgroups);
    env->has_cgroups = false;
}
