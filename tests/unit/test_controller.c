/*
 * test_controller.c: action queue bounds and order, completion order, and
 * the read mirror under a concurrent publisher.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/controller.h"
#include "util/evloop.h"

static void test_queue_order_and_bound(void **state)
{
    struct controller *c = controller_new(3);
    struct api_action *a[4], *got, *done;

    (void)state;
    assert_non_null(c);
    for (int i = 0; i < 4; i++)
        a[i] = controller_action_new(VMM_OP_PUT_MACHINE_CONFIG);
    assert_int_equal(controller_submit(c, a[0]), 0);
    assert_int_equal(controller_submit(c, a[1]), 0);
    assert_int_equal(controller_submit(c, a[2]), 0);
    assert_int_equal(controller_submit(c, a[3]), -EBUSY); /* bounded */
    assert_true(evloop_eventfd_drain(controller_vmm_fd(c)) >= 1);

    /* FIFO to the vmm thread. */
    for (int i = 0; i < 3; i++) {
        got = controller_take(c);
        assert_ptr_equal(got, a[i]);
        got->rep.kind = VMM_REPLY_EMPTY;
        controller_complete(c, got);
    }
    assert_null(controller_take(c));
    /* Still in flight until drained: the queue stays full. */
    assert_int_equal(controller_submit(c, a[3]), -EBUSY);

    done = controller_drain(c);
    assert_ptr_equal(done, a[0]);
    assert_ptr_equal(done->next, a[1]);
    assert_ptr_equal(done->next->next, a[2]);
    assert_null(done->next->next->next);
    for (int i = 0; i < 3; i++)
        controller_action_free(a[i]);

    /* Draining made room. */
    assert_int_equal(controller_submit(c, a[3]), 0);
    controller_free(c); /* frees the queued a[3] */
}

struct pub_arg {
    struct controller *c;
    int rounds;
    _Atomic int readers_done; /* publish until every reader finished */
    int n_readers;
};

static struct mirror *numbered_mirror(int i)
{
    struct mirror *m = mirror_new();
    char body[32];
    int n = snprintf(body, sizeof(body), "{\"v\":%d}", i);

    mirror_set(m, VMM_OP_GET_VERSION, 200, body, (size_t)n);
    return m;
}

static void *publisher(void *arg)
{
    struct pub_arg *p = arg;

    for (int i = 0;
         i < p->rounds || atomic_load(&p->readers_done) < p->n_readers; i++)
        controller_publish(p->c,
                           numbered_mirror(i < p->rounds ? i : p->rounds - 1));
    return NULL;
}

/* Acquire, read every byte of the body (ASan sees any freed byte), check
 * the number never goes back, release. */
static void read_rounds(struct controller *c, int rounds)
{
    int last = -1;

    for (int i = 0; i < rounds; i++) {
        struct mirror *m = controller_mirror_acquire(c);
        const struct mirror_entry *e;
        int v;

        if (!m)
            continue;
        e = &m->get[VMM_OP_GET_VERSION];
        assert_int_equal(e->status, 200);
        assert_int_equal(strlen(e->body), e->body_len);
        assert_int_equal(sscanf(e->body, "{\"v\":%d}", &v), 1);
        assert_true(v >= last); /* never goes back in time */
        last = v;
        controller_mirror_release(c, m);
    }
}

static void *reader(void *arg)
{
    struct pub_arg *p = arg;

    read_rounds(p->c, p->rounds);
    atomic_fetch_add(&p->readers_done, 1);
    return NULL;
}

/*
 * One publisher hammering controller_publish() against readers hammering
 * acquire/release: the api thread's pattern, plus extra readers that share
 * the hazard slots. Run under ASan (use after free) and TSan (races).
 */
static void test_mirror_concurrent(void **state)
{
    enum { READERS = CONTROLLER_MIRROR_READERS };
    struct controller *c = controller_new(8);
    struct pub_arg p = {.c = c, .rounds = 20000, .n_readers = READERS};
    pthread_t pub, rd[READERS - 1];

    (void)state;
    assert_null(controller_mirror_acquire(c));
    controller_mirror_release(c, NULL);
    pthread_create(&pub, NULL, publisher, &p);
    for (int i = 0; i < READERS - 1; i++)
        pthread_create(&rd[i], NULL, reader, &p);
    reader(&p);
    for (int i = 0; i < READERS - 1; i++)
        pthread_join(rd[i], NULL);
    pthread_join(pub, NULL);
    {
        struct mirror *m = controller_mirror_acquire(c);

        assert_non_null(m);
        assert_string_equal(m->get[VMM_OP_GET_VERSION].body, "{\"v\":19999}");
        controller_mirror_release(c, m);
    }
    controller_free(c);
}

/* A held mirror outlives any number of publishes and is freed by the first
 * publish after its release (ASan: a leak or a use after free fails). */
static void test_mirror_held_across_publishes(void **state)
{
    struct controller *c = controller_new(8);
    struct mirror *held, *again;

    (void)state;
    controller_publish(c, numbered_mirror(0));
    held = controller_mirror_acquire(c);
    assert_non_null(held);
    for (int i = 1; i <= 100; i++)
        controller_publish(c, numbered_mirror(i));
    assert_string_equal(held->get[VMM_OP_GET_VERSION].body, "{\"v\":0}");
    /* A second hold on the current mirror while the old one is still held. */
    again = controller_mirror_acquire(c);
    assert_string_equal(again->get[VMM_OP_GET_VERSION].body, "{\"v\":100}");
    controller_mirror_release(c, held);
    controller_publish(c, numbered_mirror(101)); /* frees `held` */
    assert_string_equal(again->get[VMM_OP_GET_VERSION].body, "{\"v\":100}");
    controller_mirror_release(c, again);
    controller_free(c); /* frees the current one and `again` */
}

static void test_classes(void **state)
{
    (void)state;
    assert_int_equal(vmm_op_info(VMM_OP_PUT_SNAPSHOT_LOAD)->cls,
                     ACTION_CLASS_SNAPSHOT);
    assert_int_equal(vmm_op_info(VMM_OP_PATCH_VM)->cls, ACTION_CLASS_VCPU);
    assert_int_equal(vmm_op_info(VMM_OP_PUT_MACHINE_CONFIG)->cls,
                     ACTION_CLASS_CONFIG);
    assert_int_equal(vmm_op_info(VMM_OP_PATCH_DRIVE)->cls, ACTION_CLASS_DEVICE);
    for (int i = 0; i < ACTION_CLASS_COUNT; i++)
        assert_true(controller_default_timeout_ms[i] > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_order_and_bound),
        cmocka_unit_test(test_mirror_concurrent),
        cmocka_unit_test(test_mirror_held_across_publishes),
        cmocka_unit_test(test_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
