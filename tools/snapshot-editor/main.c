/*
 * snapshot-editor: upstream's snapshot tool, for squib's files
 * (docs/tools.md).
 *
 *   snapshot-editor edit-memory rebase --memory-path M --diff-path D
 *   snapshot-editor info-vmstate version     --vmstate-path S
 *   snapshot-editor info-vmstate vcpu-states --vmstate-path S
 *   snapshot-editor info-vmstate vm-state    --vmstate-path S
 *
 * The command line is upstream's clap definition (util/clap.h) for x86_64,
 * where `edit-vmstate` does not exist (upstream builds it for aarch64
 * only, so clap calls it an unrecognized subcommand). The work is
 * snapshot/rebase.h and snapshot/describe.h. A failure prints upstream's
 * Display line, then Rust's "Error: {Debug}" line, and exits 1.
 */
#include <stdio.h>
#include <string.h>

#include "snapshot/describe.h"
#include "snapshot/rebase.h"
#include "util/clap.h"
#include "util/err.h"

static const struct clap_arg rebase_args[] = {
    {"memory-path", 'm', "MEMORY_PATH", "Path to the memory file", NULL, true},
    {"diff-path", 'd', "DIFF_PATH", "Path to the diff file", NULL, true},
};

static const struct clap_arg vmstate_args[] = {
    {"vmstate-path", 'v', "VMSTATE_PATH", "Path to the vmstate file", NULL,
     true},
};

static const struct clap_cmd edit_memory[] = {
    {"rebase", "Apply a diff snapshot on top of a base one", NULL, rebase_args,
     2, NULL, 0},
};

static const struct clap_cmd info_vmstate[] = {
    {"version", "Print snapshot version", NULL, vmstate_args, 1, NULL, 0},
    {"vcpu-states", "Print info about vcpu states", NULL, vmstate_args, 1, NULL,
     0},
    {"vm-state", "Print readable MicroVM state", NULL, vmstate_args, 1, NULL,
     0},
};

static const struct clap_cmd commands[] = {
    {"edit-memory", NULL, NULL, NULL, 0, edit_memory, 1},
    {"info-vmstate", NULL, NULL, NULL, 0, info_vmstate, 3},
};

static const struct clap_cmd root = {
    "snapshot-editor", NULL, "v1.17.0-dev", NULL, 0, commands, 2,
};

static int rebase(const char *memory, const char *diff)
{
    enum snap_rebase_step step;
    char text[1024], debug[1024];
    int rc = snap_rebase(memory, diff, &step);

    if (rc == 0)
        return 0;
    fprintf(stderr, "Error during editing memory file: %s\n",
            snap_rebase_strerror(SNAP_REBASE_STYLE_EDITOR, step, rc, text,
                                 sizeof(text)));
    fprintf(stderr, "Error: EditMemory(%s)\n",
            snap_rebase_debug(SNAP_REBASE_STYLE_EDITOR, step, rc, debug,
                              sizeof(debug)));
    return 1;
}

static int info(const char *what, const char *path)
{
    struct snap_described d;
    enum snap_error kind = SNAP_E_NONE;
    struct sq_err err;
    struct buf out = BUF_INIT;
    char debug[SQ_ERR_MSG_MAX + 64];

    sq_err_clear(&err);
    if (snap_describe_open(path, &d, &kind, &err) < 0) {
        if (kind == SNAP_E_OPEN) {
            fprintf(stderr,
                    "Error during getting info from a vmstate file: Can not "
                    "open snapshot file: %s\n",
                    err.msg);
            fprintf(stderr, "Error: InfoVmState(Utils(VmStateFileOpen(%s)))\n",
                    sq_os_error_debug(err.code, debug, sizeof(debug)));
        } else {
            fprintf(stderr,
                    "Error during getting info from a vmstate file: Can not "
                    "load snapshot: %s\n",
                    err.msg);
            fprintf(stderr, "Error: InfoVmState(Utils(VmStateLoad(%s)))\n",
                    snap_error_debug(kind, &err, debug, sizeof(debug)));
        }
        return 1;
    }
    if (strcmp(what, "version") == 0)
        snap_describe_version(&d, &out);
    else if (strcmp(what, "vcpu-states") == 0)
        snap_describe_vcpus(&d, &out);
    else
        snap_describe_vm(&d, &out);
    snap_describe_fini(&d);
    fwrite(out.data, 1, out.len, stdout);
    buf_fini(&out);
    if (fflush(stdout) != 0) {
        perror("snapshot-editor");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct clap_match m;
    int rc = clap_parse(&root, argc, argv, &m);

    if (rc >= 0)
        return rc;
    if (m.path[1] == &commands[0])
        return rebase(m.values[0], m.values[1]);
    return info(m.path[2]->name, m.values[0]);
}
