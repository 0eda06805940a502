/*
 * cgroup.c: finding cgroup hierarchies and setting up the microVM's
 * cgroups (cgroup.h).
 */
#include "jailer/cgroup.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jailer/fs.h"
#include "util/xalloc.h"

#define HIERARCHY_MISSING "No hierarchy found for this cgroup version."

bool jail_cg_path_ok(const char *path, unsigned *depth)
{
    unsigned n = 0;
    const char *p = path;

    if (*p == '/')
        return false; /* RootDir */
    while (*p) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);

        if (len == 2 && p[0] == '.' && p[1] == '.')
            return false; /* ParentDir */
        if (len == 1 && p[0] == '.') {
            /* Rust keeps a "." only as the first component. */
            if (p == path)
                return false;
        } else if (len > 0) {
            n++;
        }
        p += len;
        while (*p == '/')
            p++;
    }
    if (depth)
        *depth = n;
    return true;
}

/*
 * One line of the mounts file, matched as upstream's regex
 * "^([a-z2]*) (dir) cgroup(2?) (options) 0 0$" matches it: the device
 * field of [a-z2] only, the type "cgroup" or "cgroup2", the last two fields
 * "0 0". Fields are separated by single spaces (the kernel escapes spaces
 * inside them). Returns the version (1 or 2) with dir and options pointing
 * into line (which is modified), or 0 if the line does not match.
 */
static unsigned match_mount(char *line, char **dir, char **options)
{
    char *f[6];
    size_t n = 0;
    char *p = line;

    while (n < 6) {
        f[n++] = p;
        p = strchr(p, ' ');
        if (!p)
            break;
        *p++ = '\0';
    }
    if (n != 6 || p != NULL)
        return 0;
    if (strspn(f[0], "abcdefghijklmnopqrstuvwxyz2") != strlen(f[0]))
        return 0;
    if (strcmp(f[4], "0") != 0 || strcmp(f[5], "0") != 0)
        return 0;
    *dir = f[1];
    *options = f[3];
    if (!strcmp(f[2], "cgroup"))
        return 1;
    if (!strcmp(f[2], "cgroup2"))
        return 2;
    return 0;
}

static void read_v2_controllers(struct jail_cgroups *cg)
{
    char path[PATH_MAX], line[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/cgroup.controllers", cg->unified);
    f = fopen(path, "re");
    if (!f)
        return; /* upstream: no controllers available */
    while (fgets(line, sizeof(line), f)) {
        char *p = line, *sp;

        line[strcspn(line, "\n")] = '\0';
        /* str::split(' '): empty pieces count too. */
        for (;;) {
            sp = strchr(p, ' ');
            if (sp)
                *sp = '\0';
            cg->v2_controllers =
                xrealloc(cg->v2_controllers, (cg->n_v2_controllers + 1) *
                                                 sizeof(*cg->v2_controllers));
            cg->v2_controllers[cg->n_v2_controllers++] = xstrdup(p);
            if (!sp)
                break;
            p = sp + 1;
        }
    }
    (void)fclose(f);
}

int jail_cgroups_init(struct jail_cgroups *cg, unsigned version,
                      const char *proc_mounts, struct jail_err *err)
{
    FILE *f;
    char line[8192];

    memset(cg, 0, sizeof(*cg));
    f = fopen(proc_mounts, "re");
    if (!f) {
        int rc = -errno;

        jail_err_path_os(err, "FileOpen", "Failed to open file", proc_mounts,
                         rc, 1);
        return rc;
    }
    while (fgets(line, sizeof(line), f)) {
        char *dir = NULL, *options = NULL;
        unsigned v;

        line[strcspn(line, "\n")] = '\0';
        v = match_mount(line, &dir, &options);
        if (version == 2 && v == 2) {
            cg->unified = xstrdup(dir);
            break;
        }
        if (version == 1 && v == 1) {
            cg->mounts =
                xrealloc(cg->mounts, (cg->n_mounts + 1) * sizeof(*cg->mounts));
            cg->mounts[cg->n_mounts].dir = xstrdup(dir);
            cg->mounts[cg->n_mounts].options = xstrdup(options);
            cg->n_mounts++;
        }
    }
    (void)fclose(f);
    if (!cg->unified && cg->n_mounts == 0) {
        jail_err_str(err, "CgroupHierarchyMissing",
                     "Hierarchy not found: ", HIERARCHY_MISSING, "");
        return -ENOENT;
    }
    if (version != 1 && version != 2) {
        /* Not reachable with upstream's matching (no mount is taken for
         * another version), kept for its text. */
        char v[16];

        snprintf(v, sizeof(v), "%u", version);
        jail_err_str(err, "CgroupInvalidVersion", "", v,
                     " is an invalid cgroup version specifier");
        jail_cgroups_fini(cg);
        return -EINVAL;
    }
    cg->version = version;
    if (cg->unified)
        read_v2_controllers(cg);
    return 0;
}

int jail_cgroups_v2_path(const struct jail_cgroups *cg, const char **path,
                         struct jail_err *err)
{
    if (!cg->unified) {
        jail_err_str(err, "CgroupHierarchyMissing",
                     "Hierarchy not found: ", "cgroupsv2 hierarchy missing",
                     "");
        return -ENOENT;
    }
    *path = cg->unified;
    return 0;
}

/* The controller of "ctrl.prop" (the part before the first '.') into out;
 * CgroupInvalidFile if there is no '.'. */
static int controller_of(const char *file, char *out, size_t out_len,
                         struct jail_err *err)
{
    const char *dot = strchr(file, '.');

    if (!dot) {
        jail_err_str(err, "CgroupInvalidFile", "Cgroup invalid file: ", file,
                     "");
        return -EINVAL;
    }
    snprintf(out, out_len, "%.*s", (int)(dot - file), file);
    return 0;
}

/* <base>/<parent>/<id>, as PathBuf::push does it (an empty parent adds
 * nothing but the separator). */
static char *cg_location(const char *base, const char *parent, const char *id)
{
    char buf[PATH_MAX * 2];

    if (*parent)
        snprintf(buf, sizeof(buf), "%s/%s/%s", base, parent, id);
    else
        snprintf(buf, sizeof(buf), "%s/%s", base, id);
    return xstrdup(buf);
}

static struct jail_cg *find_group(struct jail_cgroups *cg, const char *ctrl)
{
    for (size_t i = 0; i < cg->n_groups; i++)
        if (!strcmp(cg->groups[i].controller, ctrl))
            return &cg->groups[i];
    return NULL;
}

static struct jail_cg *add_group(struct jail_cgroups *cg, const char *ctrl,
                                 const char *base, const char *id,
                                 const char *parent)
{
    struct jail_cg *g;
    unsigned depth = 0;

    cg->groups = xrealloc(cg->groups, (cg->n_groups + 1) * sizeof(*g));
    g = &cg->groups[cg->n_groups++];
    memset(g, 0, sizeof(*g));
    g->controller = xstrdup(ctrl);
    g->location = cg_location(base, parent, id);
    (void)jail_cg_path_ok(parent, &depth);
    g->parent_depth = depth;
    return g;
}

/* Does the comma-separated list hold exactly `item`? */
static bool has_option(const char *list, const char *item)
{
    size_t len = strlen(item);

    for (const char *p = list;;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);

        if (n == len && !memcmp(p, item, len))
            return true;
        if (!c)
            return false;
        p = c + 1;
    }
}

int jail_cgroups_add(struct jail_cgroups *cg, const char *file,
                     const char *value, const char *id, const char *parent,
                     struct jail_err *err)
{
    char ctrl[256];
    struct jail_cg *g;
    const char *base = NULL;
    int rc;

    if (cg->version == 1) {
        rc = controller_of(file, ctrl, sizeof(ctrl), err);
        if (rc < 0)
            return rc;
        g = find_group(cg, ctrl);
        if (!g) {
            for (size_t i = 0; i < cg->n_mounts && !base; i++)
                if (has_option(cg->mounts[i].options, ctrl))
                    base = cg->mounts[i].dir;
            if (!base) {
                jail_err_str(err, "CgroupControllerUnavailable", "Controller ",
                             ctrl, " is unavailable");
                return -ENOENT;
            }
            g = add_group(cg, ctrl, base, id, parent);
        }
    } else {
        bool found = false;

        rc = jail_cgroups_v2_path(cg, &base, err);
        if (rc < 0)
            return rc;
        rc = controller_of(file, ctrl, sizeof(ctrl), err);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < cg->n_v2_controllers && !found; i++)
            found = !strcmp(cg->v2_controllers[i], ctrl);
        if (!found) {
            jail_err_str(err, "CgroupControllerUnavailable", "Controller ",
                         ctrl, " is unavailable");
            return -ENOENT;
        }
        g = find_group(cg, "unified");
        if (!g)
            g = add_group(cg, "unified", base, id, parent);
    }
    g->props = xrealloc(g->props, (g->n_props + 1) * sizeof(*g->props));
    g->props[g->n_props].file = xstrdup(file);
    g->props[g->n_props].value = xstrdup(value);
    g->n_props++;
    return 0;
}

/* dirname of path into out ("" if there is no '/'). */
static void parent_of(const char *path, char *out, size_t out_len)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        snprintf(out, out_len, "%s", "");
    else if (slash == path)
        snprintf(out, out_len, "/");
    else
        snprintf(out, out_len, "%.*s", (int)(slash - path), path);
}

/*
 * Upstream's inherit_from_parent_aux(path, file, depth): copy the first
 * line of <parent of path>/file into path/file; if that is empty and depth
 * allows, first fill the parent's own file from its parent (ignoring
 * failure: another jailer may be filling it at the same moment), then read
 * it again; still empty -> CgroupInheritFromParent.
 */
static int inherit_from_parent(const char *path, const char *file,
                               unsigned depth, struct jail_err *err)
{
    char parent[PATH_MAX], parent_file[PATH_MAX * 2], line[4096];
    char target[PATH_MAX * 2];
    int rc;

    parent_of(path, parent, sizeof(parent));
    snprintf(parent_file, sizeof(parent_file), "%s/%s",
             strcmp(parent, "/") ? parent : "", file);
    rc = jail_readln(parent_file, line, sizeof(line), err);
    if (rc < 0)
        return rc;
    if (line[0] == '\0') {
        if (depth > 0) {
            struct jail_err ignored;

            (void)inherit_from_parent(parent, file, depth - 1, &ignored);
            rc = jail_readln(parent_file, line, sizeof(line), err);
            if (rc < 0)
                return rc;
        }
        if (line[0] == '\0') {
            char qp[1024], qf[512];

            sq_rust_debug_str(path, qp, sizeof(qp));
            snprintf(err->display, sizeof(err->display),
                     "Failed to inherit cgroups configurations from file %s "
                     "in path %s",
                     file, path);
            snprintf(err->debug, sizeof(err->debug),
                     "CgroupInheritFromParent(%s, %s)", qp,
                     sq_rust_debug_str(file, qf, sizeof(qf)));
            return -ENODATA;
        }
    }
    snprintf(target, sizeof(target), "%s/%s", path, file);
    return jail_writeln(target, line, err);
}

/* Upstream's write_all_subtree_control: "+ctrl" into every ancestor's
 * cgroup.subtree_control (top down), stopping where the file is missing. */
static int enable_controller(const char *path, const char *ctrl,
                             struct jail_err *err)
{
    char file[PATH_MAX * 2], parent[PATH_MAX], val[300];
    struct stat st;
    int rc;

    snprintf(file, sizeof(file), "%s/cgroup.subtree_control",
             strcmp(path, "/") ? path : "");
    if (stat(file, &st) < 0)
        return 0;
    snprintf(val, sizeof(val), "+%s", ctrl);
    if (strcmp(path, "/") != 0 && path[0] != '\0') {
        parent_of(path, parent, sizeof(parent));
        if (parent[0] != '\0') {
            rc = enable_controller(parent, ctrl, err);
            if (rc < 0)
                return rc;
        }
    }
    return jail_writeln(file, val, err);
}

static int write_values(const struct jail_cgroups *cg, const struct jail_cg *g,
                        struct jail_err *err)
{
    char file[PATH_MAX * 2], parent[PATH_MAX];
    int rc = jail_mkdir_p(g->location);

    if (rc < 0) {
        jail_err_path_os(err, "CreateDir", "Failed to create directory",
                         g->location, rc, 1);
        return rc;
    }
    parent_of(g->location, parent, sizeof(parent));
    for (size_t i = 0; i < g->n_props; i++) {
        const struct jail_cg_prop *p = &g->props[i];

        if (cg->version == 1) {
            rc =
                inherit_from_parent(g->location, p->file, g->parent_depth, err);
            if (rc < 0)
                return rc;
        } else {
            char ctrl[256];
            bool done = false;

            rc = controller_of(p->file, ctrl, sizeof(ctrl), err);
            if (rc < 0)
                return rc;
            /* each controller once */
            for (size_t k = 0; k < i && !done; k++) {
                char other[256];

                if (controller_of(g->props[k].file, other, sizeof(other),
                                  err) == 0)
                    done = !strcmp(other, ctrl);
            }
            if (!done) {
                rc = enable_controller(parent, ctrl, err);
                if (rc < 0)
                    return rc;
            }
        }
        snprintf(file, sizeof(file), "%s/%s", g->location, p->file);
        rc = jail_writeln(file, p->value, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int jail_cgroups_setup(const struct jail_cgroups *cg, pid_t pid,
                       struct jail_err *err)
{
    char file[PATH_MAX * 2], val[32];
    int rc;

    /* All values first: some controllers (cpuset) take no task before
     * their values are set. */
    for (size_t i = 0; i < cg->n_groups; i++) {
        rc = write_values(cg, &cg->groups[i], err);
        if (rc < 0)
            return rc;
    }
    snprintf(val, sizeof(val), "%d", (int)pid);
    for (size_t i = 0; i < cg->n_groups; i++) {
        snprintf(file, sizeof(file), "%s/%s", cg->groups[i].location,
                 cg->version == 1 ? "tasks" : "cgroup.procs");
        rc = jail_writeln(file, val, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void jail_cgroups_fini(struct jail_cgroups *cg)
{
    for (size_t i = 0; i < cg->n_mounts; i++) {
        free(cg->mounts[i].dir);
        free(cg->mounts[i].options);
    }
    free(cg->mounts);
    free(cg->unified);
    for (size_t i = 0; i < cg->n_v2_controllers; i++)
        free(cg->v2_controllers[i]);
    free(cg->v2_controllers);
    for (size_t i = 0; i < cg->n_groups; i++) {
        struct jail_cg *g = &cg->groups[i];

        for (size_t k = 0; k < g->n_props; k++) {
            free(g->props[k].file);
            free(g->props[k].value);
        }
        free(g->props);
        free(g->controller);
        free(g->location);
    }
    free(cg->groups);
    memset(cg, 0, sizeof(*cg));
}
