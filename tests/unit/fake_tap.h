/*
 * fake_tap.h: a res_tap_open_fn (vmm/resources.h) for unit tests. A name
 * starting with "bad" fails with upstream's text for a TAP that cannot
 * be opened; any other name "opens" as a dup of fd 0 and keeps its name.
 */
#ifndef SQUIB_TESTS_UNIT_FAKE_TAP_H
#define SQUIB_TESTS_UNIT_FAKE_TAP_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "vmm/resources.h"

static inline int fake_tap_open(const char *name, int *fd,
                                char if_name[RES_IFNAMSIZ], struct sq_err *err)
{
    snprintf(if_name, RES_IFNAMSIZ, "%s", name);
    if (!strncmp(name, "bad", 3))
        return sq_errf(err, -EBUSY,
                       "Open tap device failed: Error while creating ifreq "
                       "structure: Device or resource busy (os error 16). "
                       "Invalid TUN/TAP Backend provided by %s. Check our "
                       "documentation on setting up the network devices.",
                       name);
    *fd = dup(0);
    return *fd < 0 ? sq_errf(err, -errno, "dup") : 0;
}

#endif
