/*
 * hooks.c: the test build's hooks (src/hooks.h), linked into
 * build/squib-test in place of src/hooks.c. Each is driven by an
 * environment variable read once at startup; unset, squib-test behaves as
 * squib (apart from the two seccomp rules below).
 *
 *   SQUIB_TEST_VMM_DELAY_MS=N       the vmm thread sleeps N ms before each
 *                                   action from the API (a busy vmm)
 *   SQUIB_TEST_ACTION_TIMEOUT_MS=N  every action class times out after N ms
 *   SQUIB_TEST_SECCOMP_TRAP=KIND    the thread kind KIND (vmm, api, vcpu)
 *                                   calls getpgrp(), in no list, right after
 *                                   installing its filter
 *
 * The values live at file scope: they are written by hooks_init() on the
 * main thread before any other thread exists and only read afterwards.
 */
#include "hooks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static unsigned g_vmm_delay_ms;
static unsigned g_action_timeout_ms;
static int g_trap_kind = -1;

static unsigned env_ms(const char *name)
{
    const char *s = getenv(name);

    return s ? (unsigned)strtoul(s, NULL, 10) : 0;
}

void hooks_init(void)
{
    const char *trap = getenv("SQUIB_TEST_SECCOMP_TRAP");

    g_vmm_delay_ms = env_ms("SQUIB_TEST_VMM_DELAY_MS");
    g_action_timeout_ms = env_ms("SQUIB_TEST_ACTION_TIMEOUT_MS");
    for (int t = 0; trap && t < SECCOMP_THREAD_COUNT; t++)
        if (strcmp(trap, seccomp_thread_name((enum seccomp_thread)t)) == 0)
            g_trap_kind = t;
}

void hooks_seccomp_policy(struct seccomp_policy *p)
{
    /* The vmm thread's delay sleeps after the VM is built, under its
     * filter; the product's list has no sleep. */
    static const struct seccomp_rule sleep_rules[] = {
        {.name = "nanosleep"},
        {.name = "clock_nanosleep"},
    };

    seccomp_policy_add(p, SECCOMP_THREAD_VMM, sleep_rules,
                       sizeof(sleep_rules) / sizeof(sleep_rules[0]));
}

void hooks_seccomp_entered(enum seccomp_thread kind)
{
    if ((int)kind == g_trap_kind)
        (void)syscall(SYS_getpgrp);
}

void hooks_before_action(void)
{
    struct timespec ts = {.tv_sec = g_vmm_delay_ms / 1000,
                          .tv_nsec = (long)(g_vmm_delay_ms % 1000) * 1000000};

    if (!g_vmm_delay_ms)
        return;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

unsigned hooks_action_timeout_ms(void)
{
    return g_action_timeout_ms;
}
