/*
 * kvm_usable.h: whether the unit tests that need real KVM can run here.
 * They skip, saying why, when /dev/kvm does not open.
 */
#ifndef SQUIB_TESTS_KVM_USABLE_H
#define SQUIB_TESTS_KVM_USABLE_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* True if /dev/kvm opens; else prints "SKIP: ..." with the reason. */
static inline bool kvm_usable(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

    if (fd < 0) {
        printf("SKIP: /dev/kvm is not usable here (%s)\n", strerror(errno));
        return false;
    }
    close(fd);
    return true;
}

#endif
