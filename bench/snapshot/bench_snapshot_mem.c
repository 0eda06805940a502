/*
 * bench_snapshot_mem.c: the two memory backends of PUT /snapshot/load,
 * without KVM (make bench-snapshot-mem; docs/bench.md). Figures only: it
 * never fails on a time; it fails only when a page holds the wrong bytes.
 *
 *   bench_snapshot_mem HANDLER [MIB [ROUNDS]]   default 128 MiB, 5 rounds
 *
 * One memory file of MIB MiB with a byte pattern is written once (so its
 * pages are in the page cache for every round); then, each round, in turn:
 *
 *   file      guest_mem_new() + guest_mem_file_map(), the calls
 *             src/snapshot/load.c makes for the File backend;
 *   uffd      snapshot_memory_from_uffd_fds() (src/snapshot/load_uffd.h)
 *             against a squib-uffd-handler (HANDLER, started before the
 *             clock) serving the file, handshake included;
 *   anon      guest_mem_new() alone: anonymous memory, the floor. A read
 *             of a page never written maps the kernel's shared zero page,
 *             so this is the cost of a minor fault alone;
 *   anonw     the same with the byte written instead: a page allocated and
 *             zeroed per fault (what uffd's UFFDIO_COPY also allocates).
 *
 * and a second thread reads one byte of every 4 KiB page, as a vCPU would
 * fault them in. "total" is from the start of the mapping to the last
 * touch; "setup" the mapping (or handshake) alone. Afterwards (untimed) a
 * sample of pages is compared byte for byte with the pattern (zeros for
 * anon). The RSS after the file mode's touch is its pages shared with the
 * page cache (VmRSS and RssFile of /proc/self/status).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "snapshot/load_uffd.h"
#include "util/err.h"
#include "vmm/guest_mem.h"
#include "vmm/guest_mem_file.h"

#define MIB           ((uint64_t)1 << 20)
#define PAGE          4096u
#define MAX_ROUNDS    99
#define SAMPLE_STRIDE 61 /* pages between two verified pages */

enum mode { M_FILE, M_UFFD, M_ANON, M_ANON_W, N_MODES };
static const char *const mode_name[N_MODES] = {"file", "uffd", "anon", "anonw"};

static uint8_t pattern_byte(uint64_t off)
{
    uint64_t x = off * 0x9e3779b97f4a7c15ULL;

    return (uint8_t)(x >> 56) ^ (uint8_t)(off >> 12);
}

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* What die() removes: the memory file, its directory, a running handler
 * and its socket. */
static char g_dir[32], g_mem[64], g_sock[160];
static pid_t g_handler;

static void cleanup(void)
{
    if (g_handler > 0) {
        kill(g_handler, SIGKILL);
        waitpid(g_handler, NULL, 0);
        g_handler = 0;
    }
    if (g_sock[0])
        unlink(g_sock);
    if (g_mem[0])
        unlink(g_mem);
    if (g_dir[0])
        rmdir(g_dir);
}

static void die(const char *what, const char *detail)
{
    cleanup();
    fprintf(stderr, "bench_snapshot_mem: %s%s%s\n", what, detail ? ": " : "",
            detail ? detail : "");
    exit(1);
}

static void write_mem_file(const char *path, uint64_t size)
{
    uint8_t *b = malloc(MIB);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (!b || fd < 0)
        die("cannot create the memory file", strerror(errno));
    for (uint64_t off = 0; off < size; off += MIB) {
        for (uint64_t i = 0; i < MIB; i++)
            b[i] = pattern_byte(off + i);
        if (write(fd, b, MIB) != (ssize_t)MIB)
            die("cannot write the memory file", strerror(errno));
    }
    close(fd);
    free(b);
}

struct touch {
    const struct guest_mem *gm;
    bool write; /* anonw: write the byte instead, which allocates the page */
};

/* The vCPU stand-in: one read (anonw: write) per page of every region. */
static void *touch_pages(void *opaque)
{
    const struct touch *t = opaque;
    unsigned sum = 0;

    for (size_t r = 0; r < t->gm->n_regions; r++) {
        volatile uint8_t *p = t->gm->regions[r].hva;

        for (uint64_t off = 0; off < t->gm->regions[r].size; off += PAGE) {
            if (t->write)
                p[off] = 0;
            else
                sum += p[off];
        }
    }
    return (void *)(uintptr_t)sum;
}

static void touch_all(struct guest_mem *gm, bool write)
{
    struct touch t = {gm, write};
    pthread_t th;

    if (pthread_create(&th, NULL, touch_pages, &t) != 0 ||
        pthread_join(th, NULL) != 0)
        die("cannot run the touching thread", NULL);
}

/* Every SAMPLE_STRIDE-th page and the last, byte for byte. */
static void verify(const struct guest_mem *gm, enum mode m)
{
    uint64_t base = 0;

    for (size_t r = 0; r < gm->n_regions; r++) {
        const struct guest_region *g = &gm->regions[r];

        for (uint64_t off = 0; off < g->size; off += SAMPLE_STRIDE * PAGE) {
            for (int last = 0; last < 2; last++) {
                uint64_t pg = last ? g->size - PAGE : off;

                for (uint64_t i = 0; i < PAGE; i++) {
                    uint8_t want =
                        m >= M_ANON ? 0 : pattern_byte(base + pg + i);

                    if (g->hva[pg + i] != want) {
                        fprintf(stderr,
                                "bench_snapshot_mem: %s: wrong byte at file "
                                "offset %" PRIu64 ": 0x%02x, want 0x%02x\n",
                                mode_name[m], base + pg + i, g->hva[pg + i],
                                want);
                        cleanup();
                        exit(1);
                    }
                }
            }
        }
        base += g->size;
    }
}

/* VmRSS and RssFile of this process, KiB. */
static void rss_kib(uint64_t *rss, uint64_t *file)
{
    char line[256];
    FILE *fp = fopen("/proc/self/status", "r");

    *rss = *file = 0;
    if (!fp)
        return;
    while (fgets(line, sizeof(line), fp)) {
        if (sscanf(line, "VmRSS: %" SCNu64, rss) == 1)
            continue;
        (void)sscanf(line, "RssFile: %" SCNu64, file);
    }
    fclose(fp);
}

struct handler {
    char sock[160];
    pid_t pid;
};

static void start_handler(struct handler *h, const char *bin, const char *dir,
                          const char *mem, int round)
{
    struct stat st;

    snprintf(h->sock, sizeof(h->sock), "%s/h%d.sock", dir, round);
    h->pid = fork();
    if (h->pid < 0)
        die("fork", strerror(errno));
    if (h->pid == 0) {
        int fd = open("/dev/null", O_WRONLY);

        dup2(fd, 1); /* its per-fault summary is not ours */
        execl(bin, bin, "--no-kill-peer", h->sock, mem, (char *)NULL);
        _exit(127);
    }
    g_handler = h->pid;
    snprintf(g_sock, sizeof(g_sock), "%s", h->sock);
    for (int i = 0; i < 1000; i++) {
        if (stat(h->sock, &st) == 0 && S_ISSOCK(st.st_mode))
            return;
        usleep(5000);
    }
    die("squib-uffd-handler did not create its socket", bin);
}

static void stop_handler(struct handler *h)
{
    int status = 0;

    for (int i = 0; i < 1000; i++) {
        if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
            g_handler = 0;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                die("squib-uffd-handler failed", NULL);
            unlink(h->sock);
            g_sock[0] = 0;
            return;
        }
        usleep(5000);
    }
    kill(h->pid, SIGKILL);
    waitpid(h->pid, NULL, 0);
    die("squib-uffd-handler did not exit", NULL);
}

struct sample {
    double setup_us, total_us;
};

static struct sample run_one(enum mode m, uint64_t mib, const char *bin,
                             const char *dir, const char *mem, int round,
                             uint64_t *rss, uint64_t *rss_file)
{
    struct guest_mem *gm = NULL;
    struct handler h = {0};
    struct sq_err err;
    struct sample s;
    int uffd = -1, sock = -1, fd = -1, rc;
    double t0, t1;

    sq_err_clear(&err);
    if (m == M_UFFD)
        start_handler(&h, bin, dir, mem, round);
    if (m == M_FILE && (fd = open(mem, O_RDONLY | O_CLOEXEC)) < 0)
        die("cannot open the memory file", strerror(errno));
    t0 = now_us();
    if (m == M_UFFD) {
        rc = snapshot_memory_from_uffd_fds(mib, GUEST_MEM_HUGE_NONE, NULL,
                                           h.sock, &gm, &uffd, &sock, &err);
    } else {
        rc = guest_mem_new(mib, GUEST_MEM_HUGE_NONE, &gm, &err);
        if (rc == 0 && m == M_FILE)
            rc = guest_mem_file_map(gm, fd, &err);
    }
    if (rc < 0)
        die(mode_name[m], err.msg);
    t1 = now_us();
    touch_all(gm, m == M_ANON_W);
    s.total_us = now_us() - t0;
    s.setup_us = t1 - t0;
    if (m == M_FILE) {
        close(fd);
        rss_kib(rss, rss_file);
    }
    verify(gm, m);
    if (m == M_UFFD) {
        close(sock); /* the handler then ends, with 0 */
        stop_handler(&h);
        close(uffd);
    }
    guest_mem_free(gm);
    return s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double t[MAX_ROUNDS];

    memcpy(t, v, (size_t)n * sizeof(*v));
    qsort(t, (size_t)n, sizeof(*t), cmp_double);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    double setup[N_MODES][MAX_ROUNDS], total[N_MODES][MAX_ROUNDS];
    double med_total[N_MODES];
    uint64_t mib = 128, rss = 0, rss_file = 0, before, before_file;
    int rounds = 5;

    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: bench_snapshot_mem HANDLER [MIB [ROUNDS]]\n");
        return 2;
    }
    if (argc > 2)
        mib = strtoull(argv[2], NULL, 10);
    if (argc > 3)
        rounds = atoi(argv[3]);
    if (mib == 0 || mib > (1u << 20) || rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "bench_snapshot_mem: MIB must be 1..1048576, ROUNDS "
                        "1..99\n");
        return 2;
    }
    if (access(argv[1], X_OK) != 0)
        die("no squib-uffd-handler at", argv[1]);
    snprintf(g_dir, sizeof(g_dir), "/tmp/bench-snapmem-XXXXXX");
    if (!mkdtemp(g_dir)) {
        g_dir[0] = 0;
        die("mkdtemp", strerror(errno));
    }
    snprintf(g_mem, sizeof(g_mem), "%s/vm.mem", g_dir);
    write_mem_file(g_mem, mib * MIB);
    rss_kib(&before, &before_file);

    printf("snapshot memory, %" PRIu64 " MiB (%" PRIu64
           " pages of 4 KiB), %d rounds, median\n",
           mib, mib * MIB / PAGE, rounds);
    for (int r = 0; r < rounds; r++)
        for (int m = 0; m < N_MODES; m++) {
            struct sample s = run_one((enum mode)m, mib, argv[1], g_dir, g_mem,
                                      r, &rss, &rss_file);

            setup[m][r] = s.setup_us;
            total[m][r] = s.total_us;
        }
    cleanup();

    printf("  %-5s %12s %12s %10s %10s\n", "mode", "setup us", "total us",
           "MiB/s", "us/page");
    for (int m = 0; m < N_MODES; m++) {
        double su = median(setup[m], rounds);

        med_total[m] = median(total[m], rounds);
        printf("  %-5s %12.0f %12.0f %10.0f %10.3f\n", mode_name[m], su,
               med_total[m], (double)mib / (med_total[m] / 1e6),
               med_total[m] / (double)(mib * MIB / PAGE));
    }
    printf("  uffd/file %.2fx, file/anon %.2fx, file/anonw %.2fx (total "
           "time)\n",
           med_total[M_UFFD] / med_total[M_FILE],
           med_total[M_FILE] / med_total[M_ANON],
           med_total[M_FILE] / med_total[M_ANON_W]);
    printf("  RSS after file touch: %" PRIu64 " MiB (RssFile %" PRIu64
           " MiB; before mapping %" PRIu64 " MiB)\n",
           rss / 1024, rss_file / 1024, before / 1024);
    printf("  verified 1 page in %d and the last, byte for byte: ok\n",
           SAMPLE_STRIDE);
    return 0;
}
