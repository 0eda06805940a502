/*
 * evloop.c: epoll event loop (see evloop.h).
 *
 * Deleting a handler from inside a callback: the batch returned by
 * epoll_wait() may still hold events for it. We keep the current batch in the
 * loop and, on evloop_del(), clear the matching entries, so a freed handler is
 * never dispatched.
 */
#include "util/evloop.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define EVLOOP_BATCH 64

struct evloop {
    int epfd; /* owned */
    struct evloop_handler stop_h;
    int stop_fd; /* owned eventfd */
    _Atomic bool stopped;
    struct epoll_event batch[EVLOOP_BATCH];
    int n_batch;
};

static void on_stop(struct evloop *loop, struct evloop_handler *h,
                    uint32_t events)
{
    (void)events;
    evloop_eventfd_drain(h->fd);
    atomic_store(&loop->stopped, true);
}

struct evloop *evloop_new(void)
{
    struct evloop *loop = calloc(1, sizeof(*loop));
    int saved;

    if (!loop)
        return NULL;
    loop->stop_fd = -1;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        goto err;
    loop->stop_fd = evloop_eventfd_new();
    if (loop->stop_fd < 0)
        goto err;
    loop->stop_h.fd = loop->stop_fd;
    loop->stop_h.fn = on_stop;
    if (evloop_add(loop, &loop->stop_h, EPOLLIN) < 0)
        goto err;
    return loop;
err:
    saved = errno;
    evloop_free(loop);
    errno = saved;
    return NULL;
}

void evloop_free(struct evloop *loop)
{
    if (!loop)
        return;
    if (loop->epfd >= 0)
        close(loop->epfd);
    if (loop->stop_fd >= 0)
        close(loop->stop_fd);
    free(loop);
}

static int ctl(struct evloop *loop, int op, struct evloop_handler *h,
               uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = h};

    if (epoll_ctl(loop->epfd, op, h->fd, &ev) < 0)
        return -errno;
    return 0;
}

int evloop_add(struct evloop *loop, struct evloop_handler *h, uint32_t events)
{
    return ctl(loop, EPOLL_CTL_ADD, h, events);
}

int evloop_mod(struct evloop *loop, struct evloop_handler *h, uint32_t events)
{
    return ctl(loop, EPOLL_CTL_MOD, h, events);
}

int evloop_del(struct evloop *loop, struct evloop_handler *h)
{
    for (int i = 0; i < loop->n_batch; i++) {
        if (loop->batch[i].data.ptr == h)
            loop->batch[i].data.ptr = NULL;
    }
    if (epoll_ctl(loop->epfd, EPOLL_CTL_DEL, h->fd, NULL) < 0)
        return -errno;
    return 0;
}

int evloop_run_once(struct evloop *loop, int timeout_ms)
{
    int n = epoll_wait(loop->epfd, loop->batch, EVLOOP_BATCH, timeout_ms);

    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    loop->n_batch = n;
    for (int i = 0; i < n; i++) {
        struct evloop_handler *h = loop->batch[i].data.ptr;

        if (h)
            h->fn(loop, h, loop->batch[i].events);
    }
    loop->n_batch = 0;
    return n;
}

int evloop_run(struct evloop *loop, int timeout_ms,
               void (*idle)(struct evloop *loop, void *arg), void *arg)
{
    while (!atomic_load(&loop->stopped)) {
        int r = evloop_run_once(loop, timeout_ms);

        if (r < 0)
            return r;
        if (idle)
            idle(loop, arg);
    }
    return 0;
}

void evloop_stop(struct evloop *loop)
{
    evloop_eventfd_signal(loop->stop_fd);
}

bool evloop_stopped(struct evloop *loop)
{
    return atomic_load(&loop->stopped);
}

int evloop_timerfd_new(void)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

    return fd < 0 ? -errno : fd;
}

int evloop_timerfd_arm(int fd, uint64_t first_ms, uint64_t interval_ms)
{
    struct itimerspec its = {
        .it_value = {.tv_sec = (time_t)(first_ms / 1000),
                     .tv_nsec = (long)(first_ms % 1000) * 1000000},
        .it_interval = {.tv_sec = (time_t)(interval_ms / 1000),
                        .tv_nsec = (long)(interval_ms % 1000) * 1000000},
    };

    if (timerfd_settime(fd, 0, &its, NULL) < 0)
        return -errno;
    return 0;
}

int evloop_eventfd_new(void)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

    return fd < 0 ? -errno : fd;
}

void evloop_eventfd_signal(int fd)
{
    uint64_t one = 1;

    /* EAGAIN means the counter is saturated: the reader wakes anyway. */
    (void)!write(fd, &one, sizeof(one));
}

uint64_t evloop_eventfd_drain(int fd)
{
    uint64_t v = 0;

    if (read(fd, &v, sizeof(v)) != sizeof(v))
        return 0;
    return v;
}
