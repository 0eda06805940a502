/*
 * seccomp_rules.h: squib's built-in seccomp policy (digest 10;
 * docs/seccomp.md): what each thread kind (vmm, api, vCPU) may call once its
 * filter is on. The lists are VMM policy (they name KVM ioctls and the vCPU
 * kick signal); compiling and installing them is util/seccomp.h's job.
 */
#ifndef SQUIB_VMM_SECCOMP_RULES_H
#define SQUIB_VMM_SECCOMP_RULES_H

#include "util/seccomp.h"

/*
 * Append squib's built-in allow-lists, one per thread kind, to *p (which
 * the caller owns and releases with seccomp_policy_fini()). Sanitizer builds
 * (-fsanitize=address or =thread) add the rules their runtime needs to
 * every kind (docs/seccomp.md); release builds get the exact lists.
 * Aborts on out of memory, like xmalloc.
 */
void seccomp_rules_default(struct seccomp_policy *p);

/*
 * The built-in lists compiled to BPF, one program per thread kind: what
 * seccomp_policy_compile() makes of seccomp_rules_default() plus
 * hooks_seccomp_policy(), byte for byte. The definition is generated when
 * squib is built (tools/seccomp_bpf_gen.c, mk/seccomp.mk) into the build
 * directory, so a sanitizer build has its own; it is linked into the squib
 * binaries beside libsquib.a, not inside it (the generator links libsquib.a
 * itself). build/squib-test links its own, with the test hooks' rules.
 */
extern const struct seccomp_static_filters seccomp_default_bpf;

#endif
