/*
 * uffd_handler.h: squib-uffd-handler's logic (the binary's main is
 * tools/uffd_handler/main.c; docs/tools.md): a page-fault handler that
 * serves a snapshot's memory file to one VMM restoring through the Uffd
 * backend, as upstream's example on_demand handler does
 * (src/firecracker/examples/uffd/).
 *
 *   uffd_server_open    map the memory file (read-only, private), bind and
 *                       listen on the socket path (which must not exist)
 *   uffd_server_accept  accept one VMM, read its handshake (uffd_msg.h and
 *                       the fd), check the regions against the file
 *   uffd_server_run     serve until the VMM hangs up:
 *       UFFD_EVENT_PAGEFAULT  UFFDIO_COPY of the faulting page from the
 *                             file (EEXIST: someone else already did)
 *       UFFD_EVENT_REMOVE     UFFDIO_UNREGISTER of the range: later
 *                             faults there get the kernel's zero pages
 *                             (the balloon gave those pages back)
 *       a copy that meets EAGAIN (a remove event is queued) waits until
 *       the events before it are read, then is tried again
 *   uffd_server_close   unmap, close, unlink the socket path
 *
 * The VMM's pid (SO_PEERCRED at accept) is kept so that main can kill the
 * VMM when serving fails, as upstream's example handlers' panic hook does:
 * a guest whose faults nobody serves would otherwise hang forever.
 *
 * One VMM per server; single-threaded; no global state.
 */
#ifndef SQUIB_SNAPSHOT_UFFD_HANDLER_H
#define SQUIB_SNAPSHOT_UFFD_HANDLER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "snapshot/uffd_msg.h"
#include "util/err.h"

struct uffd_server {
    int listen_fd; /* owned; -1 when closed */
    int conn_fd;   /* owned; -1 before accept */
    int uffd;      /* owned; -1 before the handshake */
    uint8_t *file; /* owned mapping of the memory file (PROT_READ) */
    uint64_t file_size;
    char *sock_path; /* owned copy; unlinked by close once bound */
    pid_t peer_pid;  /* 0 until accept */
    size_t n_regions;
    struct uffd_region_map regions[UFFD_MSG_MAX_REGIONS];
    /* Faults whose copy met EAGAIN, retried after the next event read. */
    uint64_t *pending; /* owned */
    size_t n_pending, cap_pending;
    /* What was served, for the exit line. */
    uint64_t n_faults, n_copies, n_removes;
};

/*
 * Set up s: open and map mem_path, then create, bind and listen on
 * sock_path (mode from the umask). Returns 0, or -errno with err set
 * ("Cannot open the memory file {path}: {os error}", "Cannot bind to
 * socket path {path}: {os error}", ...); s is then closed.
 */
int uffd_server_open(struct uffd_server *s, const char *sock_path,
                     const char *mem_path, struct sq_err *err);

/*
 * Accept one connection and read its handshake: the bytes up to a whole
 * JSON array (several reads if it comes in pieces, each within
 * `timeout_ms`), with exactly one fd. The regions must total the memory
 * file's size (as upstream's handlers assert) and each lie inside it.
 * Returns 0, or -errno with err set; -EPIPE when the VMM hung up first.
 */
int uffd_server_accept(struct uffd_server *s, int timeout_ms,
                       struct sq_err *err);

/*
 * Serve faults until the VMM hangs up (returns 0) or serving fails
 * (-errno, err set: a fault outside every region, a copy that fails, an
 * event squib does not ask for). Bytes the VMM sends after its handshake
 * are read and ignored (fds that come with them are closed).
 */
int uffd_server_run(struct uffd_server *s, struct sq_err *err);

/* Release everything; safe on a zeroed, opened or half-opened s. */
void uffd_server_close(struct uffd_server *s);

#endif
