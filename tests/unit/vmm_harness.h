/*
 * vmm_harness.h: drive the vmm as the api thread does, for the unit tests:
 * a request built from a body the test owns, vmm_handle(), and the reply
 * put on the wire (status and JSON bytes) as the api thread would send it.
 */
#ifndef SQUIB_TESTS_VMM_HARNESS_H
#define SQUIB_TESTS_VMM_HARNESS_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api/controller.h"
#include "util/buf.h"
#include "vmm/action.h"
#include "vmm/vmm.h"

struct vmm_call {
    int status;      /* HTTP status the api would send */
    struct buf wire; /* the response body the api would send */
    bool deprecated; /* the Deprecation header */
    bool body_taken; /* PUT /mmds: the store took the document */
};

/* sizeof the union member of a body kind. */
static inline size_t harness_body_size(enum vmm_body_kind k)
{
    union vmm_body *b = NULL;

    switch (k) {
    case VMM_BODY_NONE:
        return 0;
    case VMM_BODY_INSTANCE_ACTION:
        return sizeof(b->instance_action);
    case VMM_BODY_BOOT_SOURCE:
        return sizeof(b->boot_source);
    case VMM_BODY_CPU_CONFIG:
        return sizeof(b->cpu_config);
    case VMM_BODY_DRIVE:
        return sizeof(b->drive);
    case VMM_BODY_DRIVE_UPDATE:
        return sizeof(b->drive_update);
    case VMM_BODY_PMEM:
        return sizeof(b->pmem);
    case VMM_BODY_PMEM_UPDATE:
        return sizeof(b->pmem_update);
    case VMM_BODY_NET:
        return sizeof(b->net);
    case VMM_BODY_NET_UPDATE:
        return sizeof(b->net_update);
    case VMM_BODY_MACHINE:
    case VMM_BODY_MACHINE_UPDATE:
        return sizeof(b->machine);
    case VMM_BODY_LOGGER:
        return sizeof(b->logger);
    case VMM_BODY_METRICS:
        return sizeof(b->metrics);
    case VMM_BODY_MMDS_DATA:
        return sizeof(b->mmds_data);
    case VMM_BODY_MMDS_CONFIG:
        return sizeof(b->mmds_config);
    case VMM_BODY_VSOCK:
        return sizeof(b->vsock);
    case VMM_BODY_ENTROPY:
        return sizeof(b->entropy);
    case VMM_BODY_SERIAL:
        return sizeof(b->serial);
    case VMM_BODY_BALLOON:
        return sizeof(b->balloon);
    case VMM_BODY_BALLOON_UPDATE:
        return sizeof(b->balloon_update);
    case VMM_BODY_BALLOON_STATS_UPDATE:
        return sizeof(b->balloon_stats_update);
    case VMM_BODY_BALLOON_HINTING_START:
        return sizeof(b->hinting_start);
    case VMM_BODY_HOTPLUG_MEMORY:
        return sizeof(b->hotplug_memory);
    case VMM_BODY_HOTPLUG_MEMORY_UPDATE:
        return sizeof(b->hotplug_memory_update);
    case VMM_BODY_SNAPSHOT_CREATE:
        return sizeof(b->snapshot_create);
    case VMM_BODY_SNAPSHOT_LOAD:
        return sizeof(b->snapshot_load);
    case VMM_BODY_VM_STATE:
        return sizeof(b->vm_state);
    }
    return 0;
}

/*
 * Run `op` on `v` with the path id `id` (or NULL) and `body`: a pointer to
 * the op's body struct (for /mmds, the struct json_value * itself), which
 * stays the caller's (unless the store takes the MMDS document: see
 * body_taken). Fills *out (release with harness_call_fini) and returns the
 * status.
 */
static inline int harness_call(struct vmm *v, enum vmm_op op, const char *id,
                               void *body, struct vmm_call *out)
{
    enum vmm_body_kind k = vmm_op_info(op)->body;
    struct vmm_request req;
    struct vmm_reply rep = {.kind = VMM_REPLY_EMPTY, .body = BUF_INIT};

    memset(&req, 0, sizeof(req));
    req.op = op;
    req.id = id ? strdup(id) : NULL;
    if (k == VMM_BODY_MMDS_DATA)
        req.body.mmds_data = body;
    else if (body)
        memcpy(&req.body, body, harness_body_size(k));
    vmm_handle(v, &req, &rep);
    buf_init(&out->wire);
    out->status = controller_reply_wire(&rep, &out->wire);
    out->deprecated = rep.deprecated;
    out->body_taken = k == VMM_BODY_MMDS_DATA && body && !req.body.mmds_data;
    free(req.id); /* the body members stay the caller's */
    vmm_reply_fini(&rep);
    return out->status;
}

static inline void harness_call_fini(struct vmm_call *c)
{
    buf_fini(&c->wire);
}

static inline void harness_query_cb(void *ctx, enum vmm_op op,
                                    struct vmm_reply *rep)
{
    vmm_query(ctx, op, rep);
}

/* The read mirror the vmm thread would publish now (refs = 1). */
static inline struct mirror *harness_mirror(struct vmm *v)
{
    struct mirror *m = mirror_render(harness_query_cb, v);

    m->pre_boot = !vmm_is_started(v);
    return m;
}

#endif
