/*
 * uffd.h: the squib side of the Uffd memory backend (digest 7.3): the
 * userfaultfd, its registration, and the one-message handshake with the
 * page-fault handler, as upstream's guest_memory_from_uffd and
 * send_uffd_handshake (src/vmm/src/persist.rs).
 *
 *   uffd_open          a userfaultfd with upstream's UffdBuilder settings
 *   uffd_register      one range in MISSING mode
 *   uffd_connect       connect to the handler's Unix socket
 *   uffd_send          the region list (uffd_msg.h) with the uffd attached
 *   uffd_handshake     uffd_connect, then uffd_send
 *
 * Each failure returns -errno with err set to upstream's text for that
 * step, without the "Error creating guest memory from uffd: " chain that
 * PUT /snapshot/load puts before it (snapshot/load_uffd.c):
 *   "Failed to UFFD object: System error"
 *   "Failed to UFFD object: Error accessing /dev/userfaultfd: {os error}"
 *   "Failed to register memory address range with the userfaultfd object:
 *    System error"
 *   "Failed to connect to UDS Unix stream: {os error}"
 *   "Failed to sends file descriptor: {os error}"
 * ("System error" is the userfaultfd crate's whole Display of an OS error;
 * the errno itself is in the return value.)
 *
 * No state: the caller owns every fd these return (O_CLOEXEC).
 */
#ifndef SQUIB_SNAPSHOT_UFFD_H
#define SQUIB_SNAPSHOT_UFFD_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot/uffd_msg.h"
#include "util/err.h"

/*
 * A new userfaultfd in *fd: from /dev/userfaultfd (USERFAULTFD_IOC_NEW) when
 * that node exists, else from the userfaultfd syscall (the crate's order: a
 * node that exists but cannot be opened is an error, no fallback).
 * O_CLOEXEC | O_NONBLOCK, without UFFD_USER_MODE_ONLY (KVM's faults on guest
 * memory happen in the kernel and must reach the handler), then UFFDIO_API
 * requiring UFFD_FEATURE_EVENT_REMOVE (the balloon's madvise(DONTNEED)
 * becomes a remove event for the handler).
 */
int uffd_open(int *fd, struct sq_err *err);

/* Register [addr, addr + len) with uffd in UFFDIO_REGISTER_MODE_MISSING. */
int uffd_register(int uffd, void *addr, uint64_t len, struct sq_err *err);

/*
 * Connect a SOCK_STREAM Unix socket to `path`; *sock gets the fd. Rust's
 * UnixStream::connect rules for the path: one of 108 bytes or more is
 * refused with "path must be shorter than SUN_LEN".
 */
int uffd_connect(const char *path, int *sock, struct sq_err *err);

/*
 * Send the region list for maps[0..n) in one sendmsg(MSG_NOSIGNAL) with
 * `uffd` attached (SCM_RIGHTS). A peer that has hung up gives -EPIPE
 * ("Broken pipe (os error 32)"). A short send (not possible for a message
 * this small on a stream socket with default buffers) is an error too.
 */
int uffd_send(int sock, const struct uffd_region_map *maps, size_t n, int uffd,
              struct sq_err *err);

/*
 * uffd_connect + uffd_send. On success *sock is the connected socket,
 * which the caller keeps open for as long as the guest memory lives
 * (upstream never closes it: a close could reach the handler before the
 * message, and the handler sees the VMM's end by its hang-up). On failure
 * nothing stays open.
 */
int uffd_handshake(const char *path, const struct uffd_region_map *maps,
                   size_t n, int uffd, int *sock, struct sq_err *err);

#endif
