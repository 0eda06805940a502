/*
 * hooks.h: the points where squib's test build changes the product's
 * behaviour, so that the integration tests can provoke what a correct
 * squib never does on its own: a slow vmm thread, a short action timeout, a
 * forbidden syscall (docs/threads.md, "The test build").
 *
 * build/squib links src/hooks.c, where no hook does anything and nothing
 * reads the environment. build/squib-test is linked from the same objects
 * with tests/support/hooks.c in front of them, whose definitions of these
 * functions take the place of src/hooks.c's (link-time substitution, as the
 * unit tests' fakes): the product contains no test code and no #ifdef.
 * main.c is the only caller (apart from hooks_seccomp_policy()); every hook
 * runs on the main (vmm) thread unless it says otherwise.
 */
#ifndef SQUIB_HOOKS_H
#define SQUIB_HOOKS_H

#include "util/seccomp.h"

/* Called once, first thing in main(), before any other hook. */
void hooks_init(void);

/* Add the rules the hooks themselves need to the built-in seccomp policy
 * `p`, before it is compiled. Called by the generator that compiles the
 * built-in filters when squib is built (tools/seccomp_bpf_gen.c), not at
 * run time: each binary links the programs generated with its own hooks. */
void hooks_seccomp_policy(struct seccomp_policy *p);

/* Given to seccomp_setup() as its seccomp_entered_fn: runs on each thread
 * (vmm, api, vCPU) right after it installed its filter. */
void hooks_seccomp_entered(enum seccomp_thread kind);

/* Called on the vmm thread before each action taken from the API. */
void hooks_before_action(void);

/* An action timeout in ms that replaces every class's, or 0 for the
 * classes' own (api/controller.h). */
unsigned hooks_action_timeout_ms(void);

#endif
