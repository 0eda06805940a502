/*
 * cputmpl.h: cpu-template-helper, upstream's tool for custom CPU templates
 * (docs/tools.md), as library functions; tools/cpu-template-helper/main.c
 * only calls cputmpl_main().
 *
 * Template operations on struct cpu_template are in template_ops.h. Here:
 * the files (read as Rust's read_to_string, written whole or not at all),
 * the host half of a fingerprint, the fingerprint comparison and the
 * command line.
 */
#ifndef SQUIB_CPUTMPL_CPUTMPL_H
#define SQUIB_CPUTMPL_CPUTMPL_H

#include <stdint.h>
#include <stdio.h>

#include "config/fingerprint.h"
#include "util/buf.h"
#include "util/err.h"

/* The version the tool reports (--version, firecracker_version). */
#define CPUTMPL_VERSION "1.17.0-dev"

/* ---- files (files.c) ---------------------------------------------------- */

/*
 * std::fs::read_to_string: the whole file as a NUL-terminated string
 * (*out, caller frees). On failure -errno and err->msg = io::Error's
 * Display ("No such file or directory (os error 2)", or "stream did not
 * contain valid UTF-8" for bytes that are not UTF-8).
 */
int cputmpl_read_text(const char *path, char **out, size_t *len,
                      struct sq_err *err);

/* std::fs::write, made atomic (fd_write_file_atomic); err->msg as above. */
int cputmpl_write_text(const char *path, const struct buf *b,
                       struct sq_err *err);

/*
 * upstream's add_suffix: the file name's stem + suffix + "." + extension
 * (Rust's file_stem/extension: split at the last '.', unless that is the
 * first character), in the same directory. Appends to out.
 */
void cputmpl_add_suffix(const char *path, const char *suffix, struct buf *out);

/* load_cpu_template: read and parse a template file; errors "Failed to
 * operate file: ..." or "Failed to serialize/deserialize JSON file: ...". */
int cputmpl_load_template(const char *path, struct cpu_template *t,
                          struct sq_err *err);

/* ---- the VM (vm.c) ------------------------------------------------------ */

/* The built-in kernel: an ELF64 image loading 2 bytes (`jmp .`) at and
 * entering at 16 MiB. */
#define CPUTMPL_MOCK_KERNEL_SIZE 122
void cputmpl_mock_kernel(uint8_t out[CPUTMPL_MOCK_KERNEL_SIZE]);

/*
 * upstream's build_microvm_from_config + template dump: read the config
 * file (NULL: the built-in configuration, see vm.c) and the template file
 * (NULL: none), build the VM (needs /dev/kvm) and return vCPU 0's
 * configuration as a template in *config, and in *applied (may be NULL)
 * the template the VM applied. Both must be zeroed or finished. Returns 0
 * or -errno with the tool's error text.
 */
int cputmpl_dump_vm(const char *config_path, const char *tmpl_path,
                    struct cpu_template *config, struct cpu_template *applied,
                    struct sq_err *err);

/* ---- fingerprint host fields (host.c) ----------------------------------- */

/* Where the host fields come from; tests point them at their own files. */
struct cputmpl_host_paths {
    const char *cpuinfo;      /* /proc/cpuinfo */
    const char *bios_version; /* /sys/devices/virtual/dmi/id/bios_version */
    const char *bios_release; /* /sys/devices/virtual/dmi/id/bios_release */
};
extern const struct cputmpl_host_paths cputmpl_host_default;

/*
 * Fill f's five strings as upstream's fingerprint dump does:
 * firecracker_version = CPUTMPL_VERSION, kernel_version = uname's release,
 * microcode_version = the value of the first "microcode" line of cpuinfo
 * (trimmed), bios_version and bios_revision = those files with trailing
 * newlines removed. Strings already set are replaced. Returns 0 or -errno
 * with upstream's text: "Failed to get kernel version: ...", "Failed to
 * read /proc/cpuinfo: ...", "Failed to find microcode version in
 * /proc/cpuinfo", "Failed to read {path}: ...".
 */
int cputmpl_host_fields(const struct cputmpl_host_paths *p,
                        struct fingerprint *f, struct sq_err *err);

/* ---- fingerprint compare (compare.c) ------------------------------------ */

/*
 * Compare the fields named by filters[0..n) (in that order, repeats
 * included). For each that differs, a pretty JSON {"name", "prev", "curr"}
 * (for guest_cpu_config, both templates after cputmpl_strip). Returns 0
 * when none differs; otherwise 1 with upstream's error text in *out:
 * "Difference detected between source and target: \n" + the diffs joined
 * by "\n".
 */
int cputmpl_compare(const struct fingerprint *prev,
                    const struct fingerprint *curr,
                    const enum fingerprint_field *filters, size_t n,
                    struct buf *out);

/* ---- the command line (cli.c) ------------------------------------------- */

/*
 * Run `cpu-template-helper argv[1..]` with clap's parsing and texts: help
 * and version on `out`; errors on `errs` (clap's "error: ..." with exit
 * status 2, the tool's own errors as one line with status 1). Returns the
 * exit status. Template and fingerprint dumps need /dev/kvm.
 */
int cputmpl_run(int argc, char **argv, FILE *out, FILE *errs);
/* cputmpl_run on stdout and stderr. */
int cputmpl_main(int argc, char **argv);

#endif
