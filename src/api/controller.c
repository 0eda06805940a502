/*
 * controller.c: action queue, completion list and read mirror (see
 * controller.h for the picture and the ownership rules).
 *
 * Both lists are short and touched briefly, so each has a plain mutex; the
 * eventfds carry the wakeups. The mirror pointer takes no lock at all: it is
 * protected by hazard slots (controller.h draws the protocol; the memory
 * orders are explained at each atomic operation below).
 */
#include "api/controller.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "config/config.h"
#include "util/evloop.h"
#include "util/xalloc.h"

const uint32_t controller_default_timeout_ms[ACTION_CLASS_COUNT] = {
    [ACTION_CLASS_CONFIG] = 10000,    [ACTION_CLASS_START] = 60000,
    [ACTION_CLASS_VCPU] = 10000,      [ACTION_CLASS_DEVICE] = 30000,
    [ACTION_CLASS_SNAPSHOT] = 300000,
};

struct controller {
    pthread_mutex_t q_lock;
    struct api_action *q_head, *q_tail; /* under q_lock */
    unsigned q_len, q_cap;              /* under q_lock */
    int vmm_fd;                         /* owned eventfd */

    pthread_mutex_t done_lock;
    struct api_action *done; /* under done_lock (LIFO, reversed on drain) */
    int api_fd;              /* owned eventfd */

    /* The read mirror (lock-free; see controller.h). */
    _Atomic(struct mirror *) mirror; /* current; owned */
    _Atomic(struct mirror *)
        hazard[CONTROLLER_MIRROR_READERS]; /* NULL = free */
    struct mirror *retired; /* publisher only: replaced, maybe held */
};

struct controller *controller_new(unsigned queue_cap)
{
    struct controller *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    pthread_mutex_init(&c->q_lock, NULL);
    pthread_mutex_init(&c->done_lock, NULL);
    c->q_cap = queue_cap;
    c->vmm_fd = evloop_eventfd_new();
    c->api_fd = evloop_eventfd_new();
    if (c->vmm_fd < 0 || c->api_fd < 0) {
        int e = c->vmm_fd < 0 ? -c->vmm_fd : -c->api_fd;

        controller_free(c);
        errno = e;
        return NULL;
    }
    return c;
}

static void free_list(struct api_action *a)
{
    while (a) {
        struct api_action *n = a->next;

        controller_action_free(a);
        a = n;
    }
}

void controller_free(struct controller *c)
{
    if (!c)
        return;
    free_list(c->q_head);
    free_list(c->done);
    /* No reader may hold a mirror any more (contract): free them all. */
    mirror_free(atomic_load_explicit(&c->mirror, memory_order_relaxed));
    while (c->retired) {
        struct mirror *n = c->retired->retired_next;

        mirror_free(c->retired);
        c->retired = n;
    }
    if (c->vmm_fd >= 0)
        close(c->vmm_fd);
    if (c->api_fd >= 0)
        close(c->api_fd);
    pthread_mutex_destroy(&c->q_lock);
    pthread_mutex_destroy(&c->done_lock);
    free(c);
}

int controller_vmm_fd(const struct controller *c)
{
    return c->vmm_fd;
}

int controller_api_fd(const struct controller *c)
{
    return c->api_fd;
}

struct api_action *controller_action_new(enum vmm_op op)
{
    struct api_action *a = xcalloc(1, sizeof(*a));

    a->req.op = op;
    buf_init(&a->rep.body);
    return a;
}

void controller_action_free(struct api_action *a)
{
    if (!a)
        return;
    vmm_request_fini(&a->req);
    vmm_reply_fini(&a->rep);
    free(a);
}

int controller_submit(struct controller *c, struct api_action *a)
{
    pthread_mutex_lock(&c->q_lock);
    if (c->q_len >= c->q_cap) {
        pthread_mutex_unlock(&c->q_lock);
        return -EBUSY;
    }
    a->next = NULL;
    if (c->q_tail)
        c->q_tail->next = a;
    else
        c->q_head = a;
    c->q_tail = a;
    c->q_len++;
    pthread_mutex_unlock(&c->q_lock);
    evloop_eventfd_signal(c->vmm_fd);
    return 0;
}

struct api_action *controller_take(struct controller *c)
{
    struct api_action *a;

    pthread_mutex_lock(&c->q_lock);
    a = c->q_head;
    if (a) {
        c->q_head = a->next;
        if (!c->q_head)
            c->q_tail = NULL;
        /* q_len counts in-flight actions: it drops on drain, so a stuck
         * vmm thread cannot be buried under more work than q_cap. */
        a->next = NULL;
    }
    pthread_mutex_unlock(&c->q_lock);
    return a;
}

void controller_complete(struct controller *c, struct api_action *a)
{
    pthread_mutex_lock(&c->done_lock);
    a->next = c->done;
    c->done = a;
    pthread_mutex_unlock(&c->done_lock);
    evloop_eventfd_signal(c->api_fd);
}

struct api_action *controller_drain(struct controller *c)
{
    struct api_action *list, *rev = NULL;
    unsigned n = 0;

    pthread_mutex_lock(&c->done_lock);
    list = c->done;
    c->done = NULL;
    pthread_mutex_unlock(&c->done_lock);

    /* Completed in LIFO order; restore completion (= submission) order. */
    while (list) {
        struct api_action *next = list->next;

        list->next = rev;
        rev = list;
        list = next;
        n++;
    }
    if (n) {
        pthread_mutex_lock(&c->q_lock);
        c->q_len -= n;
        pthread_mutex_unlock(&c->q_lock);
    }
    return rev;
}

struct mirror *mirror_new(void)
{
    return xcalloc(1, sizeof(struct mirror));
}

int controller_reply_wire(const struct vmm_reply *rep, struct buf *out)
{
    switch (rep->kind) {
    case VMM_REPLY_EMPTY:
        return 204;
    case VMM_REPLY_DATA:
        buf_append(out, rep->body.data, rep->body.len);
        return 200;
    case VMM_REPLY_ERROR:
        fault_message_to_json(rep->body.data ? rep->body.data : "", out);
        return 400;
    case VMM_REPLY_TOO_LARGE:
        fault_message_to_json(rep->body.data ? rep->body.data : "", out);
        return 413;
    }
    return 400;
}

struct mirror *mirror_render(mirror_query_fn *fn, void *ctx)
{
    struct mirror *m = mirror_new();
    struct vmm_reply rep = {.kind = VMM_REPLY_EMPTY, .body = BUF_INIT};
    struct buf wire = BUF_INIT;

    for (int op = 0; op < VMM_OP_COUNT; op++) {
        int status;

        if (!vmm_op_is_read((enum vmm_op)op))
            continue;
        buf_reset(&rep.body);
        buf_reset(&wire);
        fn(ctx, (enum vmm_op)op, &rep);
        status = controller_reply_wire(&rep, &wire);
        mirror_set(m, (enum vmm_op)op, status, wire.data, wire.len);
    }
    vmm_reply_fini(&rep);
    buf_fini(&wire);
    return m;
}

void mirror_set(struct mirror *m, enum vmm_op op, int status, const char *body,
                size_t body_len)
{
    struct mirror_entry *e = &m->get[op];

    free(e->body);
    e->status = status;
    e->body = xstrndup(body ? body : "", body_len);
    e->body_len = body_len;
}

void mirror_free(struct mirror *m)
{
    if (!m)
        return;
    for (int i = 0; i < VMM_OP_COUNT; i++)
        free(m->get[i].body);
    free(m);
}

/* The hazard slot the calling thread's hold occupies, -1 when it holds
 * none (a thread holds at most one mirror at a time). */
static _Thread_local int held_slot = -1;

/* Publisher: does a hazard slot name `m`? */
static bool mirror_held(struct controller *c, const struct mirror *m)
{
    for (int i = 0; i < CONTROLLER_MIRROR_READERS; i++) {
        /*
         * seq_cst, paired with the reader's seq_cst claim and re-check: in
         * the single total order either this load sees the reader's claim
         * (we keep `m`), or the claim comes after it, hence after our
         * exchange, and the reader's re-check sees the new pointer and
         * drops `m` unread. It also acquires the reader's release store of
         * NULL, so every read the reader made of `m` happens before our
         * free.
         */
        if (atomic_load_explicit(&c->hazard[i], memory_order_seq_cst) == m)
            return true;
    }
    return false;
}

void controller_publish(struct controller *c, struct mirror *m)
{
    struct mirror *old, **pp;

    /*
     * seq_cst: a release for the mirror's contents (a reader that loads `m`
     * sees it fully built) and a point in the total order that
     * mirror_held()'s argument relies on.
     */
    old = atomic_exchange_explicit(&c->mirror, m, memory_order_seq_cst);
    if (old) {
        old->retired_next = c->retired;
        c->retired = old;
    }
    /* Free what no reader can hold any more; the rest waits for a later
     * publish. At most CONTROLLER_MIRROR_READERS stay behind. */
    for (pp = &c->retired; *pp;) {
        struct mirror *r = *pp;

        if (mirror_held(c, r)) {
            pp = &r->retired_next;
            continue;
        }
        *pp = r->retired_next;
        mirror_free(r);
    }
}

struct mirror *controller_mirror_acquire(struct controller *c)
{
    for (;;) {
        /* acquire: pairs with the publisher's exchange, so the contents of
         * the mirror we may return are visible. */
        struct mirror *m =
            atomic_load_explicit(&c->mirror, memory_order_acquire);

        if (!m)
            return NULL;
        for (int i = 0; i < CONTROLLER_MIRROR_READERS; i++) {
            struct mirror *expect = NULL;

            /* seq_cst claim (see mirror_held) ... */
            if (!atomic_compare_exchange_strong_explicit(
                    &c->hazard[i], &expect, m, memory_order_seq_cst,
                    memory_order_relaxed))
                continue;
            /* ... then a seq_cst re-check: if `m` is still current, the
             * publisher's scan that could free it must see our claim. */
            if (atomic_load_explicit(&c->mirror, memory_order_seq_cst) == m) {
                held_slot = i;
                return m;
            }
            /*
             * Replaced meanwhile (and maybe freed): let go, try again. A
             * release store, not relaxed: our claim acquired the slot's
             * previous release (another reader ending its hold), and a
             * relaxed store here would cut that release sequence, so the
             * publisher reading our NULL would not be ordered after that
             * reader's reads.
             */
            atomic_store_explicit(&c->hazard[i], NULL, memory_order_release);
            break;
        }
        /* Every slot busy, or a lost race: retry at once. */
    }
}

void controller_mirror_release(struct controller *c, struct mirror *m)
{
    int i = held_slot;

    if (!m)
        return;
    /* The slot this thread claimed (a thread holds one mirror at a time).
     * release: our reads of `m` happen before the publisher's load that
     * sees the slot free, hence before its free. */
    held_slot = -1;
    if (i >= 0 &&
        atomic_load_explicit(&c->hazard[i], memory_order_relaxed) == m)
        atomic_store_explicit(&c->hazard[i], NULL, memory_order_release);
}
