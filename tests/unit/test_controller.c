/*
 * test_controller.c: action queue bounds and order, completion order, and
 * the read mirror under a concurrent publisher.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
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
};

static void *publisher(void *arg)
{
    struct pub_arg *p = arg;

    for (int i = 0; i < p->rounds; i++) {
        struct mirror *m = mirror_new();
        char body[32];
        int n = snprintf(body, sizeof(body), "{\"v\":%d}", i);

        mirror_set(m, VMM_OP_GET_VERSION, 200, body, (size_t)n);
        controller_publish(p->c, m);
    }
    return NULL;
}

static void test_mirror_concurrent(void **state)
{
    struct controller *c = controller_new(8);
    struct pub_arg p = {c, 20000};
    pthread_t tid;
    int last = -1;

    (void)state;
    assert_null(controller_mirror_acquire(c));
    pthread_create(&tid, NULL, publisher, &p);
    for (int i = 0; i < 20000; i++) {
        struct mirror *m = controller_mirror_acquire(c);
        int v;

        if (!m)
            continue;
        assert_int_equal(m->get[VMM_OP_GET_VERSION].status, 200);
        assert_int_equal(sscanf(m->get[VMM_OP_GET_VERSION].body, "{\"v\":%d}", &v), 1);
        assert_true(v >= last); /* never goes back in time */
        last = v;
        mirror_release(m);
    }
    pthread_join(tid, NULL);
    {
        struct mirror *m = controller_mirror_acquire(c);

        assert_non_null(m);
        assert_string_equal(m->get[VMM_OP_GET_VERSION].body, "{\"v\":19999}");
        mirror_release(m);
    }
    controller_free(c);
}

static void test_classes(void **state)
{
    (void)state;
    assert_int_equal(vmm_op_info(VMM_OP_PUT_SNAPSHOT_LOAD)->cls, ACTION_CLASS_SNAPSHOT);
    assert_int_equal(vmm_op_info(VMM_OP_PATCH_VM)->cls, ACTION_CLASS_VCPU);
    assert_int_equal(vmm_op_info(VMM_OP_PUT_MACHINE_CONFIG)->cls, ACTION_CLASS_CONFIG);
    assert_int_equal(vmm_op_info(VMM_OP_PATCH_DRIVE)->cls, ACTION_CLASS_DEVICE);
    for (int i = 0; i < ACTION_CLASS_COUNT; i++)
        assert_true(controller_default_timeout_ms[i] > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_order_and_bound),
        cmocka_unit_test(test_mirror_concurrent),
        cmocka_unit_test(test_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
