/*
 * fuzz_json.c: libFuzzer harness for util/json and config/.
 *
 * Each input goes through the DOM parser (and, when it parses, through
 * serialization, the length computation, a re-parse, merge patch and
 * pointer lookups) and through every request-body parser and the config
 * file parser. Besides the sanitizers, it checks the invariants the rest of
 * squib relies on: a parser either succeeds or returns -EINVAL with a
 * non-empty message, json_value_serialized_len() matches the bytes
 * json_value_write() produces, and a parsed config file written back as
 * GET /vm/config reads back and writes out to the same bytes.
 *
 * Build: `make fuzz-build`, or by hand:
 *        clang -fsanitize=fuzzer,address -Isrc -D_GNU_SOURCE
 *        tests/fuzz/fuzz_json.c src/util/json_*.c src/config/[a-z]*.c
 *        src/util/buf.c src/util/err.c src/util/fdio.c src/util/xalloc.c
 *        src/obs/log.c src/obs/metrics.c -lpthread
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

static void check_result(int rc, const struct sq_err *err)
{
    if (rc == 0)
        return;
    CHECK(rc == -EINVAL);
    CHECK(err->msg[0] != '\0');
}

static void fuzz_dom(const char *in, size_t size)
{
    struct json_value *v = NULL, *again = NULL, *merged;
    struct buf b = BUF_INIT;
    struct sq_err err;
    int rc;

    sq_err_clear(&err);
    rc = json_parse(in, size, &v, &err);
    check_result(rc, &err);
    if (rc)
        return;
    json_value_write(v, &b);
    CHECK(json_value_serialized_len(v) == b.len);
    /* our own output must always be accepted again */
    CHECK(json_parse(b.data, b.len, &again, &err) == 0);
    json_value_free(again);

    merged = json_value_clone(v);
    CHECK(json_value_equal(merged, v));
    json_merge_patch(&merged, v);
    json_value_free(merged);

    /* pointer lookups: the whole input used as a pointer, and some fixed */
    (void)json_pointer(v, in, size);
    (void)json_pointer(v, "/0", 2);
    (void)json_pointer(v, "/a/0/~1~0", 9);
    if (v->type == JSON_OBJECT && v->obj.n)
        CHECK(json_object_get(v, v->obj.members[0].key,
                              v->obj.members[0].key_len) ==
              v->obj.members[0].value);
    buf_fini(&b);
    json_value_free(v);
}

static void fuzz_schemas(const char *in, size_t size)
{
    struct sq_err err;
    int rc;

    sq_err_clear(&err);
#define RUN(T, parse, fini)                                                    \
    do {                                                                       \
        T o;                                                                   \
        rc = parse(in, size, &o, &err);                                        \
        check_result(rc, &err);                                                \
        fini(&o);                                                              \
    } while (0)
    RUN(struct instance_action, instance_action_parse, instance_action_fini);
    RUN(struct boot_source_cfg, boot_source_cfg_parse, boot_source_cfg_fini);
    RUN(struct drive_cfg, drive_cfg_parse, drive_cfg_fini);
    RUN(struct drive_update, drive_update_parse, drive_update_fini);
    RUN(struct pmem_cfg, pmem_cfg_parse, pmem_cfg_fini);
    RUN(struct pmem_update, pmem_update_parse, pmem_update_fini);
    RUN(struct net_iface_cfg, net_iface_cfg_parse, net_iface_cfg_fini);
    RUN(struct net_iface_update, net_iface_update_parse, net_iface_update_fini);
    RUN(struct machine_cfg, machine_cfg_parse, machine_cfg_fini);
    RUN(struct machine_cfg, machine_cfg_update_parse, machine_cfg_fini);
    RUN(struct cpu_template, cpu_config_parse, cpu_template_fini);
    RUN(struct logger_cfg, logger_cfg_parse, logger_cfg_fini);
    RUN(struct metrics_cfg, metrics_cfg_parse, metrics_cfg_fini);
    RUN(struct mmds_cfg, mmds_cfg_parse, mmds_cfg_fini);
    RUN(struct vsock_cfg, vsock_cfg_parse, vsock_cfg_fini);
    RUN(struct entropy_cfg, entropy_cfg_parse, entropy_cfg_fini);
    RUN(struct serial_cfg, serial_cfg_parse, serial_cfg_fini);
    RUN(struct balloon_cfg, balloon_cfg_parse, balloon_cfg_fini);
    RUN(struct balloon_update, balloon_update_parse, balloon_update_fini);
    RUN(struct balloon_stats_update, balloon_stats_update_parse,
        balloon_stats_update_fini);
    RUN(struct balloon_hinting_start, balloon_hinting_start_parse,
        balloon_hinting_start_fini);
    RUN(struct hotplug_memory_cfg, hotplug_memory_cfg_parse,
        hotplug_memory_cfg_fini);
    RUN(struct hotplug_memory_update, hotplug_memory_update_parse,
        hotplug_memory_update_fini);
    RUN(struct snapshot_create, snapshot_create_parse, snapshot_create_fini);
    RUN(struct snapshot_load, snapshot_load_parse, snapshot_load_fini);
    RUN(struct vm_state_req, vm_state_req_parse, vm_state_req_fini);
#undef RUN
}

/* What squib writes for GET /vm/config must read back as a config file,
 * and writing that again must give the same bytes. */
static void fuzz_config_roundtrip(const char *in, size_t size)
{
    struct vmm_config_file c, c2;
    struct buf b1 = BUF_INIT, b2 = BUF_INIT;
    struct sq_err err;
    int rc;

    sq_err_clear(&err);
    rc = vmm_config_file_parse(in, size, &c, &err);
    check_result(rc, &err);
    if (rc) {
        vmm_config_file_fini(&c);
        return;
    }
    vmm_config_file_to_json(&c, &b1);
    CHECK(vmm_config_file_parse(b1.data, b1.len, &c2, &err) == 0);
    vmm_config_file_to_json(&c2, &b2);
    CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
    vmm_config_file_fini(&c2);
    vmm_config_file_fini(&c);
    buf_fini(&b1);
    buf_fini(&b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size heap copy, so ASan sees any over-read */
    char *in = malloc(size ? size : 1);

    if (!in)
        return 0;
    if (size)
        memcpy(in, data, size);
    fuzz_dom(in, size);
    fuzz_schemas(in, size);
    fuzz_config_roundtrip(in, size);
    free(in);
    return 0;
}
