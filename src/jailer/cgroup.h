/*
 * cgroup.h: --cgroup, --cgroup-version and --parent-cgroup, as upstream's
 * jailer/src/cgroup.rs.
 *
 * Hierarchies are found in a mounts file (/proc/mounts; tests pass their
 * own): for version 1 every "cgroup" mount, whose options name the
 * controllers it carries; for version 2 the first "cgroup2" mount.
 * A property "ctrl.prop=value" of microVM <id> goes to
 * <mount of ctrl>/<parent>/<id>/ctrl.prop (v1) or <unified>/<parent>/<id>/
 * ctrl.prop (v2). Setting them up, before the jail is entered:
 *
 *   v1: for each controller: mkdir -p its cgroup; for each property, copy
 *       the parent's value of that file into the new cgroup first (walking
 *       up to <parent>'s depth while the parent's file is empty, as cpuset
 *       needs), then write the value; then for each controller write the
 *       jailer's pid into "tasks".
 *   v2: mkdir -p the cgroup; for each controller used, write "+ctrl" into
 *       cgroup.subtree_control of every ancestor that has that file, from
 *       the top down; write the values; write the pid into cgroup.procs.
 *
 * Controllers are kept in the order they were first named (upstream keeps
 * them in a hash map, whose order is arbitrary). Every write is
 * "{value}\n" through open(O_WRONLY|O_CREAT|O_TRUNC), as Rust's fs::write.
 */
#ifndef SQUIB_JAILER_CGROUP_H
#define SQUIB_JAILER_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "jailer/error.h"

struct jail_cg_mount {
    char *dir;     /* owned */
    char *options; /* owned; comma-separated, as in the mounts file */
};

struct jail_cg_prop {
    char *file;  /* owned, e.g. "cpu.shares" */
    char *value; /* owned */
};

/* One cgroup of the microVM: per controller (v1) or the one unified (v2). */
struct jail_cg {
    char *controller; /* owned; v2: "unified" */
    char *location;   /* owned: <hierarchy>/<parent>/<id> */
    unsigned parent_depth;
    struct jail_cg_prop *props; /* owned array */
    size_t n_props;
};

struct jail_cgroups {
    unsigned version;             /* 1 or 2 */
    struct jail_cg_mount *mounts; /* owned; v1 mounts */
    size_t n_mounts;
    char *unified;         /* owned; v2 mount, else NULL */
    char **v2_controllers; /* owned; from <unified>/cgroup.controllers */
    size_t n_v2_controllers;
    struct jail_cg *groups; /* owned array */
    size_t n_groups;
};

/*
 * Read the mounts file and start an empty configuration (upstream's
 * CgroupConfigurationBuilder::new). Returns 0, or a negative errno with
 * *err set: FileOpen (the mounts file), CgroupHierarchyMissing ("Hierarchy
 * not found: No hierarchy found for this cgroup version.", also for a
 * version other than 1 and 2, which upstream finds no mount for), and
 * CgroupInvalidVersion for such a version if a mount was found. On failure
 * *cg needs no fini.
 */
int jail_cgroups_init(struct jail_cgroups *cg, unsigned version,
                      const char *proc_mounts, struct jail_err *err);

/* The v2 mount point, or -ENOENT with *err = CgroupHierarchyMissing
 * ("Hierarchy not found: cgroupsv2 hierarchy missing"). */
int jail_cgroups_v2_path(const struct jail_cgroups *cg, const char **path,
                         struct jail_err *err);

/*
 * Add property file=value for microVM `id` under `parent` (upstream's
 * add_cgroup_property). Errors, with *err set: CgroupInvalidFile ("Cgroup
 * invalid file: {file}", no '.' in file), CgroupControllerUnavailable
 * ("Controller {ctrl} is unavailable": v1, no mount carries it; v2, not in
 * cgroup.controllers). Strings are copied.
 */
int jail_cgroups_add(struct jail_cgroups *cg, const char *file,
                     const char *value, const char *id, const char *parent,
                     struct jail_err *err);

/*
 * Create the cgroups, write the values and move process `pid` in (see the
 * top of this file). Returns 0, or a negative errno with *err set (CreateDir,
 * Write, ReadToString, CgroupInheritFromParent).
 */
int jail_cgroups_setup(const struct jail_cgroups *cg, pid_t pid,
                       struct jail_err *err);

/* Free everything (safe on a zeroed struct). */
void jail_cgroups_fini(struct jail_cgroups *cg);

/*
 * Upstream's check on --parent-cgroup and on the file part of --cgroup:
 * false if the path, split as Rust's Path::components() splits it, has a
 * root, a ".." or a leading "." component (a "." elsewhere is dropped by
 * Rust and so allowed). *depth (if not NULL) gets the number of
 * components.
 */
bool jail_cg_path_ok(const char *path, unsigned *depth);

#endif
