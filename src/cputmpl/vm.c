/*
 * vm.c: the VM cpu-template-helper inspects (upstream's
 * build_microvm_from_config and template::dump::dump).
 *
 * With --config the document is read and parsed exactly as squib's own
 * --config-file; without it, upstream's built-in configuration is used: a
 * tiny kernel (here an ELF64 image whose code is one `jmp .`, where
 * upstream compiles a C loop at build time) and an empty root drive, both
 * in temporary files removed afterwards. The VM is built, never run
 * (vmm/cpu_dump.h), and vCPU 0's configuration becomes a template.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/vm_config.h"
#include "cputmpl/cputmpl.h"
#include "cputmpl/template_ops.h"
#include "util/fdio.h"
#include "util/le.h"
#include "vmm/cpu_dump.h"
#include "vmm/cpuid.h"

#define MOCK_ENTRY   0x1000000u /* 16 MiB, the usual vmlinux load address */
#define EHDR         64u
#define PHDR         56u
#define TMP_PATH_MAX 4096

void cputmpl_mock_kernel(uint8_t out[CPUTMPL_MOCK_KERNEL_SIZE])
{
    uint8_t *e = out, *ph = out + EHDR;

    memset(out, 0, CPUTMPL_MOCK_KERNEL_SIZE);
    memcpy(e,
           "\x7f"
           "ELF",
           4);
    e[4] = 2;                      /* ELFCLASS64 */
    e[5] = 1;                      /* little endian */
    e[6] = 1;                      /* EV_CURRENT */
    le_put16(e + 16, 2);           /* ET_EXEC */
    le_put16(e + 18, 62);          /* EM_X86_64 */
    le_put32(e + 20, 1);           /* e_version */
    le_put64(e + 24, MOCK_ENTRY);  /* e_entry */
    le_put64(e + 32, EHDR);        /* e_phoff */
    le_put16(e + 52, EHDR);        /* e_ehsize */
    le_put16(e + 54, PHDR);        /* e_phentsize */
    le_put16(e + 56, 1);           /* e_phnum */
    le_put32(ph, 1);               /* PT_LOAD */
    le_put32(ph + 4, 5);           /* PF_R | PF_X */
    le_put64(ph + 8, EHDR + PHDR); /* p_offset */
    le_put64(ph + 16, MOCK_ENTRY); /* p_vaddr */
    le_put64(ph + 24, MOCK_ENTRY); /* p_paddr */
    le_put64(ph + 32, 2);          /* p_filesz */
    le_put64(ph + 40, 2);          /* p_memsz */
    le_put64(ph + 48, 0x1000);     /* p_align */
    out[EHDR + PHDR] = 0xeb;       /* jmp . */
    out[EHDR + PHDR + 1] = 0xfe;
}

/* A new temporary file holding data[0..len) (in $TMPDIR, else /tmp, as
 * upstream's TempFile); its path in `path`. */
static int temp_file(const void *data, size_t len, char path[TMP_PATH_MAX],
                     struct sq_err *err)
{
    const char *dir = getenv("TMPDIR");
    char os[160];
    int fd, rc = 0;

    if (snprintf(path, TMP_PATH_MAX, "%s/.tmpXXXXXX",
                 dir && *dir ? dir : "/tmp") >= TMP_PATH_MAX) {
        path[0] = '\0';
        return sq_errf(err, -ENAMETOOLONG,
                       "Failed to create temporary file: %s",
                       sq_os_error(ENAMETOOLONG, os, sizeof(os)));
    }
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        path[0] = '\0';
        return sq_errf(err, rc, "Failed to create temporary file: %s",
                       sq_os_error(-rc, os, sizeof(os)));
    }
    if (len)
        rc = fd_write_all(fd, data, len);
    close(fd);
    if (rc < 0)
        return sq_errf(err, rc, "Failed to operate file: %s",
                       sq_os_error(-rc, os, sizeof(os)));
    return 0;
}

static bool host_is_amd(void)
{
    struct cpuid_regs r;

    cpuid_host_native(NULL, 0, 0, &r);
    return r.ebx == 0x68747541 && r.edx == 0x69746e65 && r.ecx == 0x444d4163;
}

/* Parse the configuration and dump the VM it describes. */
static int dump_json(const char *json, size_t len,
                     const struct cpu_template *tmpl,
                     struct cpu_template *config, struct cpu_template *applied,
                     struct sq_err *err)
{
    struct vmm_config_file cfg;
    struct cpu_dump d;
    int rc = vmm_config_file_parse(json, len, &cfg, err);

    if (rc) {
        sq_err_prefix(err, "Failed to create VmResources: ");
        return rc;
    }
    rc = vmm_cpu_dump(&cfg, tmpl, &d, err);
    vmm_config_file_fini(&cfg);
    if (rc) {
        /* template::dump's DumpError wraps the vmm's own dump error. */
        if (!strncmp(err->msg, CPU_DUMP_ERR_PREFIX,
                     strlen(CPU_DUMP_ERR_PREFIX)))
            sq_err_prefix(err, CPU_DUMP_ERR_PREFIX);
        return rc;
    }
    cputmpl_from_dump(d.cpuid, d.msrs, d.n_msrs, host_is_amd(), config);
    if (applied)
        cpu_template_copy(applied, &d.tmpl);
    cpu_dump_fini(&d);
    return 0;
}

int cputmpl_dump_vm(const char *config_path, const char *tmpl_path,
                    struct cpu_template *config, struct cpu_template *applied,
                    struct sq_err *err)
{
    uint8_t kernel[CPUTMPL_MOCK_KERNEL_SIZE];
    char kpath[TMP_PATH_MAX] = "", rpath[TMP_PATH_MAX] = "";
    struct cpu_template tmpl = {0};
    struct buf json = BUF_INIT;
    char *text = NULL;
    size_t len = 0;
    int rc = 0;

    if (config_path && cputmpl_read_text(config_path, &text, &len, err)) {
        sq_err_prefix(err, "Failed to operate file: ");
        return -EINVAL;
    }
    if (tmpl_path && cputmpl_load_template(tmpl_path, &tmpl, err)) {
        free(text);
        return -EINVAL;
    }
    if (!config_path) {
        cputmpl_mock_kernel(kernel);
        rc = temp_file(kernel, sizeof(kernel), kpath, err);
        if (rc == 0)
            rc = temp_file("", 0, rpath, err);
        if (rc)
            goto out;
        buf_puts(&json, "{\"boot-source\": {\"kernel_image_path\": ");
        json_write_cstr(&json, kpath);
        buf_puts(&json, "}, \"drives\": [{\"drive_id\": \"rootfs\", "
                        "\"is_root_device\": true, \"path_on_host\": ");
        json_write_cstr(&json, rpath);
        buf_puts(&json, "}]}");
    }
    rc = config_path ? dump_json(text, len, tmpl_path ? &tmpl : NULL, config,
                                 applied, err)
                     : dump_json(json.data, json.len, tmpl_path ? &tmpl : NULL,
                                 config, applied, err);
out:
    if (kpath[0])
        unlink(kpath);
    if (rpath[0])
        unlink(rpath);
    buf_fini(&json);
    free(text);
    cpu_template_fini(&tmpl);
    return rc;
}

int cputmpl_load_template(const char *path, struct cpu_template *t,
                          struct sq_err *err)
{
    char *json;
    size_t len;
    int rc = cputmpl_read_text(path, &json, &len, err);

    if (rc) {
        sq_err_prefix(err, "Failed to operate file: ");
        return rc;
    }
    rc = cpu_template_json_parse(json, len, t, err);
    free(json);
    if (rc)
        sq_err_prefix(err, "Failed to serialize/deserialize JSON file: ");
    return rc;
}
