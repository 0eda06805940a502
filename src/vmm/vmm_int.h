/*
 * vmm_int.h: internals shared by vmm.c, query.c, config_file.c and
 * vmm_hotplug.c only.
 */
#ifndef SQUIB_VMM_VMM_INT_H
#define SQUIB_VMM_VMM_INT_H

#include "util/buf.h"
#include "vmm/errors.h"
#include "vmm/vmm.h"

/* The GET /vm/config document (digest 1.8 and 15). */
void vmm_render_vm_config(struct vmm *v, struct buf *b);

/*
 * PUT /logger and PUT /metrics as upstream applies them (LOGGER.update and
 * init_metrics). Return 0 or -errno with the detail text (without the
 * "Logger error: " / "Metrics error: " prefix).
 */
int vmm_apply_logger(struct vmm *v, const struct logger_cfg *cfg,
                     struct sq_err *err);
int vmm_apply_metrics(struct vmm *v, const struct metrics_cfg *cfg,
                      struct sq_err *err);

/*
 * PUT /drives, /pmem, /network-interfaces after InstanceStart (req->op
 * VMM_OP_PUT_DRIVE, _PMEM, _NET) and DELETE on them (VMM_OP_DELETE_*):
 * upstream's checks in its order, then an honest refusal (vmm_hotplug.c).
 * Always -errno with err set to the whole fault_message; nothing changes.
 */
int vmm_hotplug(struct vmm *v, const struct vmm_request *req,
                struct sq_err *err);
int vmm_hot_unplug(struct vmm *v, const struct vmm_request *req,
                   struct sq_err *err);

#endif
