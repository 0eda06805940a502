/*
 * tap_netns.h: a real TAP interface in a private network namespace, for
 * the virtio-net tests and the network bench (header only, static
 * functions). The calling process leaves its namespace for a new one
 * (unshare(CLONE_NEWNET)), so the TAP, its address and any socket made
 * afterwards exist only there, and nothing survives the process: the
 * kernel drops the namespace with its last reference, and a TAP that is
 * not persistent disappears with its last file descriptor.
 *
 * Everything is plain ioctls on an AF_INET socket (SIOCSIFADDR and
 * friends), plus one RTM_DELLINK over rtnetlink to delete the interface,
 * which has no ioctl.
 */
#ifndef SQUIB_TESTS_TAP_NETNS_H
#define SQUIB_TESTS_TAP_NETNS_H

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio/tap.h"

struct tap_ns {
    int tap_fd;                 /* owned; -1 if closed */
    int ctl_fd;                 /* owned AF_INET socket for the ioctls */
    char if_name[TAP_IFNAMSIZ]; /* the kernel's name for it */
    uint8_t mac[6];             /* the host side's MAC address */
    uint32_t addr;              /* host side IPv4, network order */
    uint32_t mask;              /* network order */
};

/* Set or clear IFF_UP on `name`. 0 or -errno. */
static __attribute__((unused)) int tap_ns_link(const struct tap_ns *t,
                                               const char *name, bool up)
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    if (ioctl(t->ctl_fd, SIOCGIFFLAGS, &ifr) < 0)
        return -errno;
    if (up)
        ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP);
    else
        ifr.ifr_flags = (short)(ifr.ifr_flags & ~IFF_UP);
    if (ioctl(t->ctl_fd, SIOCSIFFLAGS, &ifr) < 0)
        return -errno;
    return 0;
}

/* Give the TAP its IPv4 address and netmask, read its MAC, bring it up.
 * 0 or -errno. */
static __attribute__((unused)) int tap_ns_configure(struct tap_ns *t)
{
    struct ifreq ifr;
    struct sockaddr_in sin = {.sin_family = AF_INET};

    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, t->if_name, sizeof(ifr.ifr_name));
    sin.sin_addr.s_addr = t->addr;
    memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
    if (ioctl(t->ctl_fd, SIOCSIFADDR, &ifr) < 0)
        return -errno;
    sin.sin_addr.s_addr = t->mask;
    memcpy(&ifr.ifr_netmask, &sin, sizeof(sin));
    if (ioctl(t->ctl_fd, SIOCSIFNETMASK, &ifr) < 0)
        return -errno;
    if (ioctl(t->ctl_fd, SIOCGIFHWADDR, &ifr) < 0)
        return -errno;
    memcpy(t->mac, ifr.ifr_hwaddr.sa_data, 6);
    return tap_ns_link(t, t->if_name, true);
}

/*
 * Enter a new network namespace, bring its loopback up and open a TAP
 * named from `pattern` (e.g. "sqtap%d") with tap_open(), addressed
 * `addr`/`mask` (dotted quads) and up. Returns 0, or -errno with a reason
 * in `why` and everything closed; -EPERM, -EACCES and -ENOENT mean the
 * machine does not allow it (no privilege, no /dev/net/tun), which
 * callers treat as "skip".
 */
static __attribute__((unused)) int
tap_ns_open(struct tap_ns *t, const char *pattern, const char *addr,
            const char *mask, char *why, size_t why_len)
{
    struct sq_err err;
    int rc;

    memset(t, 0, sizeof(*t));
    t->tap_fd = -1;
    t->ctl_fd = -1;
    inet_pton(AF_INET, addr, &t->addr);
    inet_pton(AF_INET, mask, &t->mask);
    if (unshare(CLONE_NEWNET) < 0) {
        rc = -errno;
        snprintf(why, why_len, "unshare(CLONE_NEWNET): %s", strerror(-rc));
        return rc;
    }
    t->ctl_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (t->ctl_fd < 0) {
        rc = -errno;
        snprintf(why, why_len, "socket: %s", strerror(-rc));
        return rc;
    }
    rc = tap_ns_link(t, "lo", true);
    if (rc < 0) {
        snprintf(why, why_len, "lo up: %s", strerror(-rc));
        goto fail;
    }
    sq_err_clear(&err);
    rc = tap_open(pattern, &t->tap_fd, t->if_name, &err);
    if (rc < 0) {
        snprintf(why, why_len, "tap_open: %.120s", err.msg);
        goto fail;
    }
    rc = tap_ns_configure(t);
    if (rc < 0) {
        snprintf(why, why_len, "configuring %s: %s", t->if_name, strerror(-rc));
        goto fail;
    }
    return 0;
fail:
    if (t->tap_fd >= 0)
        close(t->tap_fd);
    close(t->ctl_fd);
    t->tap_fd = t->ctl_fd = -1;
    return rc;
}

/*
 * Delete the interface (RTM_DELLINK): every file descriptor on it stays
 * open but is detached (reads and writes fail with EBADFD, poll reports
 * POLLERR) until TUNSETIFF attaches it again. 0 or -errno.
 */
static __attribute__((unused)) int tap_ns_del_link(const struct tap_ns *t)
{
    struct {
        struct nlmsghdr nh;
        struct ifinfomsg ifi;
    } req;
    struct {
        struct nlmsghdr nh;
        struct nlmsgerr e;
    } ack;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    int fd, rc = 0;
    ssize_t got;

    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return -errno;
    memset(&req, 0, sizeof(req));
    req.nh.nlmsg_len = sizeof(req);
    req.nh.nlmsg_type = RTM_DELLINK;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    req.nh.nlmsg_seq = 1;
    req.ifi.ifi_family = AF_UNSPEC;
    req.ifi.ifi_index = (int)if_nametoindex(t->if_name);
    if (req.ifi.ifi_index == 0) {
        rc = -errno;
        goto out;
    }
    if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel,
               sizeof(kernel)) < 0) {
        rc = -errno;
        goto out;
    }
    got = recv(fd, &ack, sizeof(ack), 0);
    if (got < 0)
        rc = -errno;
    else if ((size_t)got < sizeof(ack) || ack.nh.nlmsg_type != NLMSG_ERROR)
        rc = -EPROTO;
    else
        rc = ack.e.error; /* 0 or -errno */
out:
    close(fd);
    return rc;
}

/*
 * Attach the open TAP fd again to a fresh interface named as before
 * (after tap_ns_del_link), with vnet header size 12 and the offload flags
 * `offload`, configured and up as tap_ns_open() left it. 0 or -errno.
 */
static __attribute__((unused)) int tap_ns_reattach(struct tap_ns *t,
                                                   unsigned offload)
{
    struct ifreq ifr;
    int rc;

    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, t->if_name, sizeof(ifr.ifr_name));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (ioctl(t->tap_fd, TUNSETIFF, &ifr) < 0)
        return -errno;
    rc = tap_set_vnet_hdr_size(t->tap_fd, 12);
    if (rc == 0)
        rc = tap_set_offload(t->tap_fd, offload);
    if (rc == 0)
        rc = tap_ns_configure(t);
    return rc;
}

/* Close both fds (the TAP goes with the last fd on it); the namespace
 * stays the process's until the next tap_ns_open(). */
static __attribute__((unused)) void tap_ns_close(struct tap_ns *t)
{
    if (t->tap_fd >= 0)
        close(t->tap_fd);
    if (t->ctl_fd >= 0)
        close(t->ctl_fd);
    t->tap_fd = t->ctl_fd = -1;
}

#endif
