/*
 * actions.c: the lifecycle request bodies (see actions.h).
 */
#include "config/actions.h"

#include <errno.h>
#include <string.h>

#include "config/config_int.h"

/* ====================================================================== */
/* PUT /actions                                                            */

static const char *const action_variants[] = {"FlushMetrics", "InstanceStart",
                                              "SendCtrlAltDel"};
static const struct json_field action_fields[] = {
    {FLD(struct instance_action, "action_type", JSON_F_ENUM, 0, action_type),
     VARIANTS(action_variants)},
};
DESC(action_desc, "ActionBody", action_fields, true);

int instance_action_parse(const char *body, size_t len,
                          struct instance_action *out, struct sq_err *err)
{
    memset(out, 0, sizeof(*out));
    if (schemas_api_parse(body, len, &action_desc, out, err)) {
        memset(out, 0, sizeof(*out));
        return -EINVAL;
    }
    return 0;
}

void instance_action_fini(struct instance_action *a)
{
    (void)a;
}

/* ====================================================================== */
/* PATCH /vm                                                               */

static const char *const vm_state_variants[] = {"Paused", "Resumed"};
static const struct json_field vm_state_fields[] = {
    {FLD(struct vm_state_req, "state", JSON_F_ENUM, 0, state),
     VARIANTS(vm_state_variants)},
};
DESC(vm_state_desc, "Vm", vm_state_fields, true);

int vm_state_req_parse(const char *body, size_t len, struct vm_state_req *out,
                       struct sq_err *err)
{
    memset(out, 0, sizeof(*out));
    if (schemas_api_parse(body, len, &vm_state_desc, out, err)) {
        memset(out, 0, sizeof(*out));
        return -EINVAL;
    }
    return 0;
}

void vm_state_req_fini(struct vm_state_req *v)
{
    (void)v;
}
