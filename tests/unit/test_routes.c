/*
 * test_routes.c: the router against digest 1.2/1.3, table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/routes.h"

struct route_case {
    enum api_method method;
    const char *uri;
    bool has_body;
    int op;          /* -1: error expected */
    const char *id;  /* expected id or NULL */
    const char *msg; /* expected error text */
};

#define OK(m, u, b, o, i)                                                      \
    {                                                                          \
        API_##m, u, b, VMM_OP_##o, i, NULL                                     \
    }
#define ERR(m, u, b, e)                                                        \
    {                                                                          \
        API_##m, u, b, -1, NULL, e                                             \
    }

static const struct route_case cases[] = {
    OK(GET, "/", false, GET_INSTANCE_INFO, NULL),
    OK(GET, "", false, GET_INSTANCE_INFO, NULL),
    OK(GET, "foo", false, GET_INSTANCE_INFO, NULL),
    OK(GET, "http://localhost/", false, GET_INSTANCE_INFO, NULL),
    OK(GET, "http://localhost", false, GET_INSTANCE_INFO, NULL),
    OK(GET, "http://localhost/machine-config", false, GET_MACHINE_CONFIG, NULL),
    OK(GET, "///machine-config", false, GET_MACHINE_CONFIG, NULL),
    OK(GET, "/machine-config/foo", false, GET_MACHINE_CONFIG, NULL),
    OK(GET, "/machine-config/", false, GET_MACHINE_CONFIG, NULL),
    ERR(GET, "/machine-config?x=1", false,
        "Invalid request method and/or path: GET machine-config?x=1."),
    OK(GET, "/version", false, GET_VERSION, NULL),
    OK(GET, "/vm/config", false, GET_VM_CONFIG, NULL),
    OK(GET, "/vm/config/x", false, GET_VM_CONFIG, NULL),
    ERR(GET, "/vm", false, "Invalid request method and/or path: GET vm."),
    ERR(GET, "/vm/foo", false, "Invalid request method and/or path: GET vm."),
    OK(GET, "/mmds", false, GET_MMDS, NULL),
    OK(GET, "/mmds/a/b", false, GET_MMDS, NULL),
    OK(GET, "/hotplug/memory", false, GET_HOTPLUG_MEMORY, NULL),
    ERR(GET, "/hotplug", false,
        "Invalid request method and/or path: GET hotplug."),
    OK(GET, "/balloon", false, GET_BALLOON, NULL),
    OK(GET, "/balloon/statistics", false, GET_BALLOON_STATS, NULL),
    OK(GET, "/balloon/hinting/status", false, GET_BALLOON_HINTING_STATUS, NULL),
    ERR(GET, "/balloon/foo", false, "Unrecognized GET request path `foo`."),
    ERR(GET, "/balloon/hinting", false,
        "Unrecognized GET request path `/hinting/`."),
    ERR(GET, "/balloon/hinting/x", false,
        "Unrecognized GET request path `/hinting/x`."),
    ERR(GET, "/machine-config", true, "GET request cannot have a body."),
    ERR(GET, "/nope", true, "GET request cannot have a body."),
    ERR(GET, "/nope", false, "Invalid request method and/or path: GET nope."),
    OK(PUT, "/actions", true, PUT_ACTIONS, NULL),
    OK(PUT, "/machine-config", true, PUT_MACHINE_CONFIG, NULL),
    OK(PUT, "/boot-source", true, PUT_BOOT_SOURCE, NULL),
    OK(PUT, "/cpu-config", true, PUT_CPU_CONFIG, NULL),
    OK(PUT, "/logger", true, PUT_LOGGER, NULL),
    OK(PUT, "/serial", true, PUT_SERIAL, NULL),
    OK(PUT, "/metrics", true, PUT_METRICS, NULL),
    OK(PUT, "/vsock", true, PUT_VSOCK, NULL),
    OK(PUT, "/entropy", true, PUT_ENTROPY, NULL),
    OK(PUT, "/balloon", true, PUT_BALLOON, NULL),
    OK(PUT, "/drives/rootfs", true, PUT_DRIVE, "rootfs"),
    OK(PUT, "/drives/a/b", true, PUT_DRIVE, "a"),
    OK(PUT, "/drives/a_1", true, PUT_DRIVE, "a_1"),
    ERR(PUT, "/drives", true, "The ID cannot be empty."),
    ERR(PUT, "/drives/", true, "The ID cannot be empty."),
    ERR(PUT, "/drives//x", true, "The ID cannot be empty."),
    ERR(PUT, "/drives/a-b", true,
        "API Resource IDs can only contain alphanumeric characters and "
        "underscores."),
    ERR(PUT, "/drives/a.b", true,
        "API Resource IDs can only contain alphanumeric characters and "
        "underscores."),
    OK(PUT, "/pmem/p0", true, PUT_PMEM, "p0"),
    OK(PUT, "/network-interfaces/eth0", true, PUT_NET, "eth0"),
    OK(PUT, "/mmds", true, PUT_MMDS, NULL),
    OK(PUT, "/mmds/config", true, PUT_MMDS_CONFIG, NULL),
    ERR(PUT, "/mmds/foo", true, "Unrecognized PUT request path `foo`."),
    OK(PUT, "/snapshot/create", true, PUT_SNAPSHOT_CREATE, NULL),
    OK(PUT, "/snapshot/load", true, PUT_SNAPSHOT_LOAD, NULL),
    ERR(PUT, "/snapshot", true, "Missing snapshot operation type."),
    ERR(PUT, "/snapshot/x", true,
        "Invalid request method and/or path: PUT /snapshot/x."),
    OK(PUT, "/hotplug/memory", true, PUT_HOTPLUG_MEMORY, NULL),
    ERR(PUT, "/hotplug/foo", true,
        "Invalid request method and/or path: PUT hotplug."),
    ERR(PUT, "/machine-config", false, "Empty PUT request."),
    ERR(PUT, "/nope", false, "Empty PUT request."),
    ERR(PUT, "/", true, "Invalid request method and/or path: PUT ."),
    ERR(PUT, "/version", true,
        "Invalid request method and/or path: PUT version."),
    OK(PATCH, "/balloon", true, PATCH_BALLOON, NULL),
    OK(PATCH, "/balloon/foo", true, PATCH_BALLOON, NULL),
    ERR(PATCH, "/balloon", false, "Empty PATCH request."),
    OK(PATCH, "/balloon/statistics", true, PATCH_BALLOON_STATS, NULL),
    ERR(PATCH, "/balloon/statistics", false, "Empty PATCH request."),
    OK(PATCH, "/balloon/hinting/start", false, PATCH_BALLOON_HINTING_START,
       NULL),
    OK(PATCH, "/balloon/hinting/start", true, PATCH_BALLOON_HINTING_START,
       NULL),
    OK(PATCH, "/balloon/hinting/stop", false, PATCH_BALLOON_HINTING_STOP, NULL),
    ERR(PATCH, "/balloon/hinting/x", true,
        "Unrecognized PATCH request path `/hinting/x`."),
    ERR(PATCH, "/balloon/hinting", true,
        "Unrecognized PATCH request path `/hinting/`."),
    OK(PATCH, "/drives/d1", true, PATCH_DRIVE, "d1"),
    OK(PATCH, "/network-interfaces/n1", true, PATCH_NET, "n1"),
    OK(PATCH, "/pmem/p1", true, PATCH_PMEM, "p1"),
    OK(PATCH, "/machine-config", true, PATCH_MACHINE_CONFIG, NULL),
    OK(PATCH, "/mmds", true, PATCH_MMDS, NULL),
    OK(PATCH, "/vm", true, PATCH_VM, NULL),
    OK(PATCH, "/hotplug/memory", true, PATCH_HOTPLUG_MEMORY, NULL),
    ERR(PATCH, "/vm", false, "Empty PATCH request."),
    ERR(PATCH, "/boot-source", true,
        "Invalid request method and/or path: PATCH boot-source."),
    ERR(PATCH, "/logger", true,
        "Invalid request method and/or path: PATCH logger."),
    OK(DELETE, "/drives/d1", false, DELETE_DRIVE, "d1"),
    OK(DELETE, "/pmem/p1", false, DELETE_PMEM, "p1"),
    OK(DELETE, "/network-interfaces/n1", false, DELETE_NET, "n1"),
    ERR(DELETE, "/drives", false, "The ID cannot be empty."),
    ERR(DELETE, "/drives/d1", true, "Empty Delete request."),
    ERR(DELETE, "/machine-config", false,
        "Invalid request method and/or path: DELETE machine-config."),
};

static void test_route_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct route_case *c = &cases[i];
        struct api_route r;
        struct sq_err err;
        int rc;

        sq_err_clear(&err);
        rc =
            api_route(c->method, c->uri, strlen(c->uri), c->has_body, &r, &err);
        if (c->op < 0) {
            if (rc == 0)
                fail_msg("case %zu (%s): routed to %s, expected error", i,
                         c->uri, vmm_op_name(r.op));
            assert_string_equal(err.msg, c->msg);
        } else {
            if (rc != 0)
                fail_msg("case %zu (%s): error %s", i, c->uri, err.msg);
            assert_int_equal(r.op, c->op);
            if (c->id) {
                assert_non_null(r.id);
                assert_int_equal(r.id_len, strlen(c->id));
                assert_memory_equal(r.id, c->id, r.id_len);
            } else {
                assert_null(r.id);
            }
        }
    }
}

static void test_op_names(void **state)
{
    (void)state;
    assert_string_equal(vmm_op_name(VMM_OP_PUT_VSOCK), "PUT_VSOCK");
    assert_true(vmm_op_is_read(VMM_OP_GET_VM_CONFIG));
    assert_false(vmm_op_is_read(VMM_OP_PUT_ACTIONS));
    assert_int_equal(VMM_OP_COUNT, 41);
}

/* Every row of the table of operations (vmm/action.h) routes, by its own
 * method and path, to its own operation: the table and the router agree. */
static void test_op_table_routes(void **state)
{
    (void)state;
    for (int op = 0; op < VMM_OP_COUNT; op++) {
        const struct vmm_op_info *info = vmm_op_info((enum vmm_op)op);
        enum api_method m = !strcmp(info->method, "GET")     ? API_GET
                            : !strcmp(info->method, "PUT")   ? API_PUT
                            : !strcmp(info->method, "PATCH") ? API_PATCH
                                                             : API_DELETE;
        bool has_body =
            (m == API_PUT || m == API_PATCH) && info->body != VMM_BODY_NONE;
        char uri[128];
        const char *brace = strstr(info->path, "{id}");
        struct api_route r;
        struct sq_err err;

        if (brace)
            snprintf(uri, sizeof(uri), "%.*sx%s", (int)(brace - info->path),
                     info->path, brace + 4);
        else
            snprintf(uri, sizeof(uri), "%s", info->path);
        sq_err_clear(&err);
        assert_int_equal(api_route(m, uri, strlen(uri), has_body, &r, &err), 0);
        assert_int_equal(r.op, op);
        assert_int_equal(r.id != NULL, brace != NULL);
        assert_string_equal(vmm_op_name((enum vmm_op)op), info->name);
        /* Reads are GETs, and only they have no timeout worth a class. */
        assert_int_equal(vmm_op_is_read((enum vmm_op)op), m == API_GET);
        if (m == API_GET)
            assert_int_equal(info->body, VMM_BODY_NONE);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_table),
        cmocka_unit_test(test_op_names),
        cmocka_unit_test(test_op_table_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
