/*
 * actions.h: the lifecycle request bodies: PUT /actions (ActionBody) and
 * PATCH /vm (Vm), both strict.
 */
#ifndef SQUIB_CONFIG_ACTIONS_H
#define SQUIB_CONFIG_ACTIONS_H

#include <stddef.h>

#include "util/err.h"

/* PUT /actions: ActionBody (strict). */

enum action_type {
    ACTION_FLUSH_METRICS,    /* "FlushMetrics" */
    ACTION_INSTANCE_START,   /* "InstanceStart" */
    ACTION_SEND_CTRL_ALT_DEL /* "SendCtrlAltDel" */
};

struct instance_action {
    enum action_type action_type;
};

int instance_action_parse(const char *body, size_t len,
                          struct instance_action *out, struct sq_err *err);
void instance_action_fini(struct instance_action *a);

/* PATCH /vm: Vm (strict). */

enum vm_state_req_state { VM_STATE_REQ_PAUSED, VM_STATE_REQ_RESUMED };

struct vm_state_req {
    enum vm_state_req_state state;
};

int vm_state_req_parse(const char *body, size_t len, struct vm_state_req *out,
                       struct sq_err *err);
void vm_state_req_fini(struct vm_state_req *v);

#endif
