/*
 * config_file.c: --config-file replay (upstream's VmResources::from_json
 * followed by build_and_boot_microvm; digest 3.5).
 *
 * The document was parsed and validated by config/config.h. Here each section
 * goes through the same configuration-store setters as the HTTP handlers, in
 * upstream's fixed order (logger, metrics, machine-config, cpu-config,
 * boot-source, drives, network-interfaces, vsock, balloon, --metadata,
 * mmds-config, entropy, pmem, memory-hotplug), and then the VM is started.
 * The first failure stops the replay.
 *
 * Errors carry upstream's ResourcesError categories, which differ from the
 * API's ("Block device error: " here, "Drive config error: " there), inside
 * "Configuration for VMM from one single json failed: {error}", or, when the
 * boot fails, "Could not Start MicroVM from one single json: {error}".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmds/store.h"
#include "obs/log.h"
#include "vmm/vmm_int.h"

#define START_FAILED "Could not Start MicroVM from one single json: "

/* Template files are small; anything larger is not a CPU template. */
#define CPU_TEMPLATE_FILE_MAX (16u << 20)

static int wrap(struct sq_err *err, const char *category)
{
    sq_err_prefix(err, category);
    return err->code ? err->code : -EINVAL;
}

/* std::fs::read_to_string, with io::Error's Display on failure. */
static int read_file(const char *path, char **out, size_t *out_len,
                     struct sq_err *err)
{
    char os[128];
    struct stat st;
    char *data = NULL;
    size_t len = 0;
    int fd, e;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        goto io_fail;
    if (fstat(fd, &st) < 0)
        goto io_fail_close;
    if (st.st_size < 0 || (uint64_t)st.st_size > CPU_TEMPLATE_FILE_MAX) {
        close(fd);
        return sq_errf(err, -EFBIG, "File operation error: file too large");
    }
    data = malloc((size_t)st.st_size + 1);
    if (!data) {
        close(fd);
        return sq_errf(err, -ENOMEM, "File operation error: %s",
                       sq_os_error(ENOMEM, os, sizeof(os)));
    }
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, data + len, (size_t)st.st_size - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto io_fail_close;
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    data[len] = '\0';
    *out = data;
    *out_len = len;
    return 0;

io_fail_close:
    e = errno;
    close(fd);
    errno = e;
io_fail:
    e = errno;
    free(data);
    return sq_errf(err, -e, "File operation error: %s",
                   sq_os_error(e, os, sizeof(os)));
}

static int apply_cpu_config(struct vmm *v, const struct vmm_config_file *cfg,
                            struct sq_err *err)
{
    struct cpu_template t;
    char *json = NULL;
    size_t len = 0;
    int rc;

    if (cfg->cpu_config_kind == CPU_CONFIG_TEMPLATE) {
        res_set_custom_cpu_template(&v->res, &cfg->cpu_config);
        return 0;
    }
    if (cfg->cpu_config_kind != CPU_CONFIG_PATH)
        return 0;
    rc = read_file(cfg->cpu_config_path, &json, &len, err);
    if (rc)
        return rc; /* "File operation error: ..." is the whole category */
    memset(&t, 0, sizeof(t));
    rc = cpu_template_json_parse(json, len, &t, err);
    free(json);
    if (rc) {
        sq_err_prefix(err, "Invalid JSON: ");
        return rc;
    }
    res_set_custom_cpu_template(&v->res, &t);
    cpu_template_fini(&t);
    return 0;
}

int vmm_configure_from_file(struct vmm *v, const struct vmm_config_file *cfg,
                            const struct json_value *metadata,
                            struct sq_err *err)
{
    struct vm_resources *r = &v->res;
    int rc;

    if (cfg->has_logger && vmm_apply_logger(v, &cfg->logger, err))
        return wrap(err, "Logger error: ");
    if (cfg->has_metrics && vmm_apply_metrics(v, &cfg->metrics, err))
        return wrap(err, "Metrics error: ");
    if (cfg->has_machine_config &&
        res_update_machine_config(r, &cfg->machine_config, err))
        return wrap(err, "VM config error: ");
    rc = apply_cpu_config(v, cfg, err);
    if (rc)
        return wrap(err, "");
    if (res_set_boot_source(r, &cfg->boot_source, err))
        return wrap(err, "Boot source error: ");
    for (size_t i = 0; i < cfg->n_drives; i++) {
        if (res_set_drive(r, &cfg->drives[i], err))
            return wrap(err, "Block device error: ");
    }
    for (size_t i = 0; i < cfg->n_network_interfaces; i++) {
        if (res_set_net(r, &cfg->network_interfaces[i], err))
            return wrap(err, "Network device error: ");
    }
    if (cfg->has_vsock && res_set_vsock(r, &cfg->vsock, err))
        return wrap(err, "Vsock device error: ");
    if (cfg->has_balloon && res_set_balloon(r, &cfg->balloon, err))
        return wrap(err, "Balloon device error: ");
    if (metadata) {
        rc = mmds_store_put(res_mmds_or_default(r), json_value_clone(metadata),
                            err);
        if (rc)
            return wrap(err, "MMDS error: ");
        log_info("%s", VMM_MSG_METADATA_ADDED);
    }
    if (cfg->has_mmds_config &&
        res_set_mmds_config(r, &cfg->mmds_config, v->instance_id, err))
        return wrap(err, "MMDS config error: ");
    if (cfg->has_entropy && res_set_entropy(r, &cfg->entropy, err))
        return wrap(err, "Entropy device error: ");
    for (size_t i = 0; i < cfg->n_pmem; i++) {
        if (res_set_pmem(r, &cfg->pmem[i], err))
            return wrap(err, "Pmem device error: ");
    }
    if (cfg->has_memory_hotplug &&
        res_set_memory_hotplug(r, &cfg->memory_hotplug, err))
        return wrap(err, MEMORY_HOTPLUG_ERR_CONFIG);
    return 0;
}

int vmm_apply_config_file_with_metadata(struct vmm *v,
                                        const struct vmm_config_file *cfg,
                                        const struct json_value *metadata,
                                        struct sq_err *err)
{
    int rc;

    if (vmm_is_started(v))
        return sq_errf(err, -EALREADY, VMM_ERR_CONFIG_FILE "%s",
                       VMM_ERR_NS_POST);
    rc = vmm_configure_from_file(v, cfg, metadata, err);
    if (rc) {
        sq_err_prefix(err, VMM_ERR_CONFIG_FILE);
        return rc;
    }
    /* build_and_boot_microvm, with StartMicrovmError's texts. */
    if (!v->res.boot.configured) {
        rc = sq_errf(err, -EINVAL,
                     "Cannot start microvm without kernel configuration.");
    } else {
        rc = v->ops->start(v, err);
    }
    if (rc < 0) {
        sq_err_prefix(err, START_FAILED);
        return rc;
    }
    /* The caller logs upstream's "Successfully started microvm that was
     * configured from one single json" (it owns the outer wrapping too). */
    v->state = VMM_STATE_RUNNING;
    return 0;
}

int vmm_apply_config_file(struct vmm *v, const struct vmm_config_file *cfg,
                          struct sq_err *err)
{
    return vmm_apply_config_file_with_metadata(v, cfg, NULL, err);
}
