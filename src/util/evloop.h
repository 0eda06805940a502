/*
 * evloop.h: a small epoll event loop (Redis ae.h in spirit).
 *
 * Everything is an fd: timers are timerfd, cross-thread wakeups eventfd,
 * signals signalfd. Each registered fd carries a `struct evloop_handler` that
 * the caller embeds in its own object; epoll_event.data.ptr points at it
 * (kvmtool epoll.c), so dispatch needs no table lookup.
 *
 * One loop per thread: the api thread and the vmm thread each own one. All
 * functions must be called from the owning thread, except evloop_stop(),
 * which any thread may call.
 */
#ifndef SQUIB_UTIL_EVLOOP_H
#define SQUIB_UTIL_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

struct evloop;
struct evloop_handler;

/* Called with the epoll events (EPOLLIN, EPOLLOUT, EPOLLHUP, ...) that fired.
 */
typedef void evloop_fn(struct evloop *loop, struct evloop_handler *h,
                       uint32_t events);

struct evloop_handler {
    int fd; /* borrowed: the owner of the object closes it */
    evloop_fn *fn;
    void *opaque; /* free for the owner */
};

/* Create a loop. Returns NULL and sets errno on failure. */
struct evloop *evloop_new(void);
/* Free the loop (closes its epoll fd and stop eventfd, not registered fds). */
void evloop_free(struct evloop *loop);

/* Register h->fd for `events`. Returns 0 or -errno. */
int evloop_add(struct evloop *loop, struct evloop_handler *h, uint32_t events);
int evloop_mod(struct evloop *loop, struct evloop_handler *h, uint32_t events);
/* Unregister; safe to call from inside a callback, also for other handlers
 * that fired in the same batch (their pending events are dropped). */
int evloop_del(struct evloop *loop, struct evloop_handler *h);

/*
 * Run until evloop_stop(). Returns 0 after a stop, -errno on an epoll error.
 * `timeout_ms` bounds each wait (-1 = none); `idle`, if set, runs after every
 * batch of events, and on timeout.
 */
int evloop_run(struct evloop *loop, int timeout_ms,
               void (*idle)(struct evloop *loop, void *arg), void *arg);
/* Run one batch (wait at most timeout_ms). Returns events handled or -errno. */
int evloop_run_once(struct evloop *loop, int timeout_ms);

/* Ask the loop to return from evloop_run(); thread-safe. */
void evloop_stop(struct evloop *loop);
bool evloop_stopped(struct evloop *loop);

/* Helpers that create the fds loops are made of (CLOEXEC|NONBLOCK). */
int evloop_timerfd_new(void); /* CLOCK_MONOTONIC */
int evloop_timerfd_arm(int fd, uint64_t first_ms, uint64_t interval_ms);
int evloop_eventfd_new(void);
void evloop_eventfd_signal(int fd);
uint64_t evloop_eventfd_drain(int fd); /* returns the count */

#endif
