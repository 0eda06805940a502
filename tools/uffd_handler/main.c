/*
 * main.c: squib-uffd-handler, a page-fault handler for squib's (and
 * upstream Firecracker's) Uffd snapshot memory backend (docs/tools.md,
 * man/squib-uffd-handler.1).
 *
 *   squib-uffd-handler [--no-kill-peer] SOCKET MEMORY_FILE
 *
 * Invoked as upstream's example handlers are (socket path, then memory
 * file). It binds SOCKET, accepts one VMM, takes its handshake and serves
 * its guest's page faults from MEMORY_FILE until the VMM hangs up (exit 0).
 * On any error after the VMM connected it kills the VMM with SIGKILL, as
 * upstream's handlers do from their panic hook (a guest nobody serves
 * would hang), unless --no-kill-peer; then it exits 1. Usage errors exit 2.
 *
 * The logic is src/snapshot/uffd_handler.{c,h}; this file is arguments and
 * messages only.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "snapshot/uffd_handler.h"

#define PROG "squib-uffd-handler"
/* How long one piece of the handshake may take to arrive. */
#define HANDSHAKE_TIMEOUT_MS 10000

static const char help_text[] =
    "Usage: " PROG " [--no-kill-peer] SOCKET MEMORY_FILE\n"
    "\n"
    "Serve the page faults of a VMM restoring a snapshot with the Uffd memory\n"
    "backend (PUT /snapshot/load, mem_backend.backend_type \"Uffd\") from the\n"
    "snapshot's memory file. Binds SOCKET (which must not exist), accepts one\n"
    "VMM, and exits 0 when that VMM hangs up.\n"
    "\n"
    "Options:\n"
    "  --no-kill-peer  on an error, do not kill the VMM (by default it is\n"
    "                  sent SIGKILL, since its guest would hang otherwise)\n"
    "  --help          print this help and exit\n"
    "  --version       print the version and exit\n";

static int usage_error(const char *what)
{
    fprintf(stderr, PROG ": %s\nTry '" PROG " --help'.\n", what);
    return 2;
}

static int fail(struct uffd_server *s, const struct sq_err *err, bool kill_peer)
{
    fprintf(stderr, PROG ": error: %s\n", err->msg);
    if (kill_peer && s->peer_pid > 0) {
        fprintf(stderr, PROG ": killing the VMM (pid %d)\n", (int)s->peer_pid);
        kill(s->peer_pid, SIGKILL);
    }
    uffd_server_close(s);
    return 1;
}

int main(int argc, char **argv)
{
    const char *pos[2];
    bool kill_peer = true;
    struct uffd_server s;
    struct sq_err err;
    int n_pos = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            fputs(help_text, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--version")) {
            printf(PROG " v%s (squib %s)\n", CLI_FIRECRACKER_VERSION,
                   CLI_SQUIB_VERSION);
            return 0;
        }
        if (!strcmp(argv[i], "--no-kill-peer"))
            kill_peer = false;
        else if (!strncmp(argv[i], "--", 2) && argv[i][2])
            return usage_error("unknown option");
        else if (n_pos == 2)
            return usage_error("too many arguments");
        else
            pos[n_pos++] = argv[i];
    }
    if (n_pos != 2)
        return usage_error("SOCKET and MEMORY_FILE are required");
    sq_err_clear(&err);
    if (uffd_server_open(&s, pos[0], pos[1], &err) < 0) {
        fprintf(stderr, PROG ": error: %s\n", err.msg);
        return 1;
    }
    printf(PROG ": serving %s (%llu bytes) on %s\n", pos[1],
           (unsigned long long)s.file_size, pos[0]);
    fflush(stdout);
    if (uffd_server_accept(&s, HANDSHAKE_TIMEOUT_MS, &err) < 0)
        return fail(&s, &err, kill_peer);
    printf(PROG ": VMM pid %d sent %zu region(s), page size %llu\n",
           (int)s.peer_pid, s.n_regions,
           (unsigned long long)s.regions[0].page_size);
    fflush(stdout);
    if (uffd_server_run(&s, &err) < 0)
        return fail(&s, &err, kill_peer);
    printf(PROG ": the VMM hung up; %llu faults, %llu pages copied, %llu "
                "removes\n",
           (unsigned long long)s.n_faults, (unsigned long long)s.n_copies,
           (unsigned long long)s.n_removes);
    uffd_server_close(&s);
    return 0;
}
