/*
 * hooks.c: the product's hooks (hooks.h): none of them does anything.
 * build/squib-test replaces this file with tests/support/hooks.c; keep the
 * two defining the same functions, or the linker would pull this object
 * into the test build as well and report multiple definitions.
 */
#include "hooks.h"

void hooks_init(void)
{
}

void hooks_seccomp_policy(struct seccomp_policy *p)
{
    (void)p;
}

void hooks_seccomp_entered(enum seccomp_thread kind)
{
    (void)kind;
}

void hooks_before_action(void)
{
}

unsigned hooks_action_timeout_ms(void)
{
    return 0;
}
