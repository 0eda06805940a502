/*
 * test_virtio_dev.c: attaching a virtio device together with its own loop
 * fds (devices/virtio/virtio_dev.h), on a real event loop without KVM: the
 * handlers fire while attached and not after detach, fds of -1 are
 * skipped, and a failed attach leaves nothing on the loop.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/virtio/virtio_dev.h"

struct fx {
    struct evloop *loop;
    struct virtio_mmio t;
    struct evloop_handler h[3];
    int fd[2]; /* eventfds */
    int fired[3];
};

static bool dummy_reset(void *dev)
{
    (void)dev;
    return true;
}

static const struct virtio_dev_ops dummy_ops = {
    .device_type = SQ_VIRTIO_ID_RNG,
    .reset = dummy_reset,
};

static void on_fd(struct evloop *loop, struct evloop_handler *h,
                  uint32_t events)
{
    struct fx *f = h->opaque;

    (void)loop;
    (void)events;
    evloop_eventfd_drain(h->fd);
    f->fired[h - f->h]++;
}

static int setup(void **state)
{
    static const uint16_t sizes[1] = {16};
    struct fx *f = calloc(1, sizeof(*f));

    f->loop = evloop_new();
    assert_non_null(f->loop);
    f->t.irq_fd = -1;
    for (size_t i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
        f->t.queue_fd[i] = -1;
    assert_int_equal(
        virtio_mmio_init(&f->t, "virtio-test", &dummy_ops, f, 0, 1, sizes), 0);
    for (int i = 0; i < 2; i++) {
        f->fd[i] = evloop_eventfd_new();
        assert_true(f->fd[i] >= 0);
    }
    f->h[0] = (struct evloop_handler){f->fd[0], on_fd, f};
    f->h[1] = (struct evloop_handler){-1, on_fd, f}; /* skipped */
    f->h[2] = (struct evloop_handler){f->fd[1], on_fd, f};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    virtio_mmio_fini(&f->t);
    close(f->fd[0]);
    close(f->fd[1]);
    evloop_free(f->loop);
    free(f);
    return 0;
}

static void fire_both(struct fx *f)
{
    evloop_eventfd_signal(f->fd[0]);
    evloop_eventfd_signal(f->fd[1]);
    while (evloop_run_once(f->loop, 0) > 0)
        ;
}

static void test_handlers_follow_the_transport(void **state)
{
    struct fx *f = *state;
    struct evloop_handler *hs[] = {&f->h[0], &f->h[1], &f->h[2]};

    assert_int_equal(
        virtio_dev_attach(&f->t, NULL, -1, 0xc0001000, f->loop, hs, 3), 0);
    assert_ptr_equal(f->t.loop, f->loop);
    fire_both(f);
    assert_int_equal(f->fired[0], 1);
    assert_int_equal(f->fired[1], 0);
    assert_int_equal(f->fired[2], 1);

    virtio_dev_detach(&f->t, hs, 3);
    assert_null(f->t.loop);
    virtio_dev_detach(&f->t, hs, 3); /* idempotent */
    fire_both(f);
    assert_int_equal(f->fired[0], 1);
    assert_int_equal(f->fired[2], 1);

    /* Attachable again: nothing was left registered. */
    assert_int_equal(
        virtio_dev_attach(&f->t, NULL, -1, 0xc0001000, f->loop, hs, 3), 0);
    fire_both(f);
    assert_int_equal(f->fired[0], 2);
    virtio_dev_detach(&f->t, hs, 3);
}

/* Without a loop (tests driving a device by hand) only the transport
 * attaches. */
static void test_no_loop(void **state)
{
    struct fx *f = *state;
    struct evloop_handler *hs[] = {&f->h[0]};

    assert_int_equal(
        virtio_dev_attach(&f->t, NULL, -1, 0xc0001000, NULL, hs, 1), 0);
    assert_null(f->t.loop);
    assert_int_equal(f->t.addr, 0xc0001000);
    virtio_dev_detach(&f->t, hs, 1);
}

/* The third handler cannot be added (its fd is not open): the first one
 * and the transport come off the loop again. */
static void test_failed_attach_undoes_everything(void **state)
{
    struct fx *f = *state;
    struct evloop_handler *hs[] = {&f->h[0], &f->h[1], &f->h[2]};
    int fd1 = f->fd[1];

    f->h[2].fd = 1000; /* not open */
    assert_int_equal(
        virtio_dev_attach(&f->t, NULL, -1, 0xc0001000, f->loop, hs, 3), -EBADF);
    assert_null(f->t.loop);
    fire_both(f);
    assert_int_equal(f->fired[0], 0);

    f->h[2].fd = fd1;
    assert_int_equal(
        virtio_dev_attach(&f->t, NULL, -1, 0xc0001000, f->loop, hs, 3), 0);
    fire_both(f);
    assert_int_equal(f->fired[0], 1);
    assert_int_equal(f->fired[2], 1);
    virtio_dev_detach(&f->t, hs, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_handlers_follow_the_transport),
        T(test_no_loop),
        T(test_failed_attach_undoes_everything),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
