/*
 * tap.c: the TAP backend of virtio-net (tap.h), upstream's Tap in C.
 */
#include "devices/virtio/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/virtio/net.h"

int tap_set_vnet_hdr_size(int fd, int size)
{
    if (ioctl(fd, TUNSETVNETHDRSZ, &size) < 0)
        return -errno;
    return 0;
}

int tap_set_offload(int fd, unsigned flags)
{
    /* The argument is the flags themselves, not a pointer (upstream's
     * ioctl_with_val). */
    if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)flags) < 0)
        return -errno;
    return 0;
}

int tap_open(const char *name, int *fd_out, char if_name[TAP_IFNAMSIZ],
             struct sq_err *err)
{
    struct ifreq ifr;
    char os[128];
    size_t len = strlen(name);
    int fd, rc;

    /* Upstream's Tap::open_named opens /dev/net/tun, then checks the
     * name. */
    fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return sq_errf(err, -errno,
                       "Open tap device failed: Couldn't open /dev/net/tun: %s",
                       sq_os_error(errno, os, sizeof(os)));
    if (len >= TAP_IFNAMSIZ) {
        close(fd);
        return sq_errf(err, -EINVAL,
                       "Open tap device failed: Invalid interface name");
    }
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, name, len);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;

        close(fd);
        return sq_errf(err, -e,
                       "Open tap device failed: Error while creating ifreq "
                       "structure: %s. Invalid TUN/TAP Backend provided by %s. "
                       "Check our documentation on setting up the network "
                       "devices.",
                       sq_os_error(e, os, sizeof(os)), name);
    }
    rc = tap_set_vnet_hdr_size(fd, (int)NET_VNET_HDR_LEN);
    if (rc < 0) {
        close(fd);
        return sq_errf(err, rc,
                       "Setting vnet header size failed: Error while setting "
                       "size of the vnet header: %s",
                       sq_os_error(-rc, os, sizeof(os)));
    }
    memcpy(if_name, ifr.ifr_name, TAP_IFNAMSIZ);
    if_name[TAP_IFNAMSIZ - 1] = '\0';
    *fd_out = fd;
    return 0;
}
