/*
 * controller.h: the bridge between the api thread and the vmm thread.
 *
 *   api thread                                   vmm thread
 *   ----------                                   ----------
 *   controller_submit(a) --[queue + eventfd]-->  controller_take() -> handle
 *                                                controller_complete(a)
 *   controller_drain() <--[done list + eventfd]--
 *   GET: controller_mirror_acquire()  <--------  controller_publish(mirror)
 *        controller_mirror_release()
 *
 * Writes travel as `struct api_action` through a bounded queue. The api
 * thread never blocks on the vmm thread: it keeps serving other connections
 * while an action is in flight, and answers 504 when an action's class
 * timeout passes (the action still completes, or fails, whole on the vmm
 * side; its late result is dropped).
 *
 * Reads are answered from the read mirror: an immutable set of pre-rendered
 * GET responses that the vmm thread publishes after every change. The read
 * path takes no lock and makes no system call (as Rust's ArcSwap): a reader
 * loads the current pointer and announces it in a hazard slot; the publisher
 * swaps the pointer and frees an old mirror only once no hazard slot names
 * it, keeping it on a retired list otherwise (freed at a later publish, or
 * by controller_free). A GET therefore never waits for a busy vmm thread,
 * and the vmm thread never waits for a reader either:
 *
 *   reader (any thread)                      publisher (one thread)
 *   -------------------                      ----------------------
 *   p = load(current)                        old = exchange(current, new)
 *   claim a free slot: slot = p              retire(old)
 *   load(current) == p ? use p : retry       for each retired r:
 *   ... read *p ...                              no slot == r ? free(r)
 *   slot = NULL (release)                                     : keep r
 *
 * Contract: controller_publish() is called by one thread at a time (the
 * vmm thread; tests publish from one thread of their own). Readers may be
 * any threads, at most CONTROLLER_MIRROR_READERS holding a mirror at the
 * same moment (squib has one, the api thread; a further reader spins until
 * a slot frees, so holds must stay short: render and copy, no blocking).
 *
 * Action lifecycle (owner in brackets):
 *
 *   [api] new --submit--> QUEUED [vmm] --take--> RUNNING [vmm]
 *        --complete--> DONE [api] --drain--> responded (or dropped if the
 *        504 already went out) --> controller_action_free()
 *
 * While an action is QUEUED or RUNNING the api thread must not touch it; its
 * own bookkeeping (connection, deadline, 504 sent) lives beside it in the api
 * thread and refers to the action by pointer only.
 */
#ifndef SQUIB_API_CONTROLLER_H
#define SQUIB_API_CONTROLLER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"
#include "vmm/action.h"

/* Default per-class timeouts in milliseconds (docs/compat.md). */
extern const uint32_t controller_default_timeout_ms[ACTION_CLASS_COUNT];

/*
 * One write in flight: the vmm's request and, once answered, its reply.
 * The api thread fills `req` before submit and reads `rep` after drain; in
 * between both belong to the vmm thread.
 */
struct api_action {
    struct vmm_request req;
    struct vmm_reply rep;
    struct api_action *next; /* queue / list link (owner's lock) */
};

/* One pre-rendered GET response. */
struct mirror_entry {
    int status; /* 0 = not rendered (the api thread answers 400) */
    char *body; /* owned */
    size_t body_len;
};

struct mirror {
    bool pre_boot; /* the VM was not started when this was rendered */
    struct mirror_entry get[VMM_OP_COUNT]; /* read ops only */
    struct mirror *retired_next;           /* the publisher's retired list */
};

/* How many readers may hold a mirror at the same moment. */
#define CONTROLLER_MIRROR_READERS 4

struct controller;

/* Create; NULL on failure (errno set). `queue_cap` bounds in-flight actions. */
struct controller *controller_new(unsigned queue_cap);
void controller_free(struct controller *c);

/* The eventfds each side watches (owned by the controller). */
int controller_vmm_fd(const struct controller *c);
int controller_api_fd(const struct controller *c);

/* api thread: allocate a zeroed action whose request is `op`. */
struct api_action *controller_action_new(enum vmm_op op);
/* Free an action and everything it owns. */
void controller_action_free(struct api_action *a);

/*
 * api thread: queue `a` (ownership passes to the controller until it comes
 * back from controller_drain). Returns 0, or -EBUSY when the queue is full
 * (the caller keeps ownership and answers the client itself).
 */
int controller_submit(struct controller *c, struct api_action *a);

/* vmm thread: next queued action or NULL. The vmm owns it until complete. */
struct api_action *controller_take(struct controller *c);
/* vmm thread: hand the answered action back to the api thread. */
void controller_complete(struct controller *c, struct api_action *a);

/* api thread: detach the list of completed actions (linked by ->next). */
struct api_action *controller_drain(struct controller *c);

/*
 * vmm thread (one publisher at a time): make `m` the current mirror (takes
 * ownership; `m` is read-only from now on). The previous mirror is freed
 * now if no reader holds it, else at a later publish. Never blocks.
 */
void controller_publish(struct controller *c, struct mirror *m);
/*
 * Any thread: the current mirror (NULL before the first publish), valid
 * until controller_mirror_release(c, m). Takes no lock and makes no system
 * call; spins only while CONTROLLER_MIRROR_READERS other holds are active.
 * A thread holds at most one mirror at a time.
 */
struct mirror *controller_mirror_acquire(struct controller *c);
/* The thread that acquired `m`: end its hold (it clears the hazard slot
 * that thread claimed); NULL is a no-op. `m` must not be used afterwards. */
void controller_mirror_release(struct controller *c, struct mirror *m);

struct mirror *mirror_new(void);

/* The vmm's answer to GET `op` now (vmm_query), as the mirror asks it. */
typedef void mirror_query_fn(void *ctx, enum vmm_op op, struct vmm_reply *rep);

/* Build a mirror holding every GET's answer from `fn` (the caller owns
 * it until controller_publish or mirror_free). */
struct mirror *mirror_render(mirror_query_fn *fn, void *ctx);

/*
 * Put a reply on the wire: returns its HTTP status (204, 200, 400, 413) and
 * writes the body to `out` (the data, or {"fault_message":...} for an
 * error; nothing for 204).
 */
int controller_reply_wire(const struct vmm_reply *rep, struct buf *out);
/* Set entry `op` (copies body). */
void mirror_set(struct mirror *m, enum vmm_op op, int status, const char *body,
                size_t body_len);
/* Free a mirror the caller owns (one never published). NULL is a no-op. */
void mirror_free(struct mirror *m);

#endif
