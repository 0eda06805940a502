/*
 * bench_vsock.c: what virtio-vsock costs squib, in-process, without a
 * guest: the test guest's vsock client (tests/guest/vsockproto.c) drives
 * squib's real device through its rings (tests/unit/vsockproto_ring.h) on
 * the main thread, and the host side is a real Unix socket served by a
 * second thread, as Firecracker's hybrid vsock has it.
 *
 * Printed, from one run, each beside a floor measured in the same round:
 *  (a) stream throughput host -> guest and guest -> host, MiB/s, against
 *      the floor: the same bytes through a Unix socket pair alone (one
 *      thread writing, one reading, 64 KiB at a time); the ratio is
 *      squib's path over the floor;
 *  (b) connections per second: connect to uds_path, "CONNECT <port>\n",
 *      the guest accepts, 64 bytes echoed, both sides close; against a
 *      Unix socket connect + accept + the same echo + close;
 *  (c) CPU of the device thread per GiB moved (getrusage RUSAGE_THREAD of
 *      the main thread, which runs the device and the guest client's ring
 *      copies: an upper bound on squib's share);
 *  (d) RSS with 500 idle host-initiated connections, over the RSS before
 *      them (the client's arena pages stay untouched, so the growth is the
 *      device's connection state and the client's small table).
 * Guest RX buffers are 4 KiB (as Linux's driver), guest TX packets up to
 * 64 KiB. Rounds interleave squib and the floor. Figures only: nothing
 * fails on a time.
 *
 * usage: bench_vsock [MIB_PER_DIRECTION] [ROUNDS]
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The harness headers check with cmocka's macros; here a failed check
 * ends the bench. */
#define bench_check(c, what)                                                   \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "bench_vsock: %s:%d: %s\n", __FILE__, __LINE__,    \
                    what);                                                     \
            exit(1);                                                           \
        }                                                                      \
    } while (0)
#define assert_true(c)               bench_check((c), #c)
#define assert_false(c)              bench_check(!(c), #c)
#define assert_int_equal(a, b)       bench_check((a) == (b), #a " == " #b)
#define assert_non_null(p)           bench_check((p) != NULL, #p)
#define assert_memory_equal(a, b, n) bench_check(!memcmp((a), (b), (n)), #a)

#include "../../tests/unit/vsock_harness.h"
#include "../../tests/unit/vsockproto_ring.h"

#define MIB        (1024ull * 1024ull)
#define CHUNK      65536u
#define N_IDLE     500
#define GUEST_PORT 52u
#define ECHO_LEN   64u

struct guest {
    struct vp_client c;
    struct ring_io io;
    struct vp_conn conns[N_IDLE + 4];
};

/* ------------------------------------------------------------ helpers */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double thread_cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_THREAD, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
            break;
    }
    fclose(f);
    return v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A thread that writes or reads `bytes` on a blocking fd, 64 KiB at a
 * time. */
struct pipe_job {
    int fd;
    bool write;
    uint64_t bytes;
    atomic_bool done;
};

static void *pipe_run(void *arg)
{
    struct pipe_job *j = arg;
    static __thread uint8_t buf[CHUNK];
    uint64_t moved = 0;

    memset(buf, 0xa5, sizeof(buf));
    while (moved < j->bytes) {
        size_t n =
            j->bytes - moved < CHUNK ? (size_t)(j->bytes - moved) : CHUNK;
        ssize_t r = j->write ? write(j->fd, buf, n) : read(j->fd, buf, n);

        if (r <= 0)
            break;
        moved += (uint64_t)r;
    }
    atomic_store(&j->done, true);
    return NULL;
}

/* ------------------------------------------------------------ squib side */

/* A fresh device and client: n_conns slots sharing the arena evenly. */
static void dev_open(struct fx **fp, struct guest *g, size_t n_conns,
                     uint8_t *arena, size_t arena_len)
{
    void *st;

    fx_setup(&st);
    *fp = st;
    fx_new(*fp, GUEST_CID);
    fx_start(*fp, F_EI);
    ring_client(&g->c, &g->io, *fp, g->conns, n_conns, arena, arena_len);
    g->c.timeout_ms = 5000;
    g->c.max_payload = 65536;
    assert_int_equal(vp_listen(&g->c, GUEST_PORT), VP_OK);
}

static void dev_close(struct fx *f)
{
    void *st = f;

    fx_teardown(&st);
}

/* Host-initiated connection, single-threaded: returns the host fd and
 * the guest's end in *k. */
static int open_conn(struct fx *f, struct guest *g, struct vp_conn **k)
{
    char line[32];
    int c = client_connect(f);
    ssize_t n;

    write_all(c, "CONNECT 52\n", 11);
    assert_int_equal(vp_accept(&g->c, k), VP_OK);
    assert_true(readable(c, 2000));
    n = read(c, line, sizeof(line));
    assert_true(n >= 5 && !memcmp(line, "OK ", 3));
    return c;
}

/* Host -> guest: the thread writes, the guest reads and drops. Returns
 * MiB/s; *cpu the main thread's CPU seconds. */
static double squib_h2g(struct fx *f, struct guest *g, uint64_t bytes,
                        double *cpu)
{
    static uint8_t sink[CHUNK];
    struct vp_conn *k;
    int c = open_conn(f, g, &k);
    struct pipe_job j = {.fd = c, .write = true, .bytes = bytes};
    uint64_t got = 0;
    double t0 = now_s(), c0 = thread_cpu_s(), t;
    pthread_t th;
    size_t n;

    assert_int_equal(pthread_create(&th, NULL, pipe_run, &j), 0);
    while (got < bytes) {
        assert_int_equal(vp_recv(&g->c, k, sink, sizeof(sink), &n), VP_OK);
        got += n;
    }
    t = now_s() - t0;
    *cpu = thread_cpu_s() - c0;
    pthread_join(th, NULL);
    close(c);
    assert_int_equal(vp_recv(&g->c, k, sink, sizeof(sink), &n), VP_EOF);
    vp_close(&g->c, k);
    return (double)bytes / MIB / t;
}

/* Guest -> host: the guest sends, the thread reads. */
static double squib_g2h(struct fx *f, struct guest *g, uint64_t bytes,
                        double *cpu)
{
    static uint8_t src[CHUNK];
    struct vp_conn *k;
    int c = open_conn(f, g, &k);
    struct pipe_job j = {.fd = c, .write = false, .bytes = bytes};
    uint64_t sent = 0;
    double t0 = now_s(), c0 = thread_cpu_s(), t;
    uint32_t saved = g->c.timeout_ms;
    pthread_t th;

    memset(src, 0x3c, sizeof(src));
    assert_int_equal(pthread_create(&th, NULL, pipe_run, &j), 0);
    while (sent < bytes) {
        assert_int_equal(vp_send(&g->c, k, src, sizeof(src)), VP_OK);
        sent += sizeof(src);
    }
    /* The device moves what it buffered only when it is pumped. */
    g->c.timeout_ms = 1;
    while (!atomic_load(&j.done))
        (void)vp_poll(&g->c);
    g->c.timeout_ms = saved;
    t = now_s() - t0;
    *cpu = thread_cpu_s() - c0;
    pthread_join(th, NULL);
    vp_close(&g->c, k);
    close(c);
    return (double)bytes / MIB / t;
}

/* Connections per second: n rounds of connect + 64-byte echo + close. */
static double squib_conns(struct fx *f, struct guest *g, int n)
{
    uint8_t msg[ECHO_LEN], back[ECHO_LEN];
    double t0 = now_s();

    memset(msg, 0x42, sizeof(msg));
    for (int i = 0; i < n; i++) {
        struct vp_conn *k;
        int c = open_conn(f, g, &k);
        size_t got = 0, m;

        write_all(c, msg, sizeof(msg));
        while (got < sizeof(msg)) {
            assert_int_equal(
                vp_recv(&g->c, k, back + got, sizeof(back) - got, &m), VP_OK);
            got += m;
        }
        assert_int_equal(vp_send(&g->c, k, back, sizeof(back)), VP_OK);
        read_all(c, back, sizeof(back));
        close(c);
        assert_int_equal(vp_recv(&g->c, k, back, sizeof(back), &m), VP_EOF);
        assert_int_equal(vp_close(&g->c, k), VP_OK);
    }
    return n / (now_s() - t0);
}

/* ------------------------------------------------------------ floor */

static double floor_stream(uint64_t bytes)
{
    static uint8_t sink[CHUNK];
    int sv[2];
    struct pipe_job j = {.write = true, .bytes = bytes};
    uint64_t got = 0;
    double t0, t;
    pthread_t th;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    j.fd = sv[0];
    t0 = now_s();
    assert_int_equal(pthread_create(&th, NULL, pipe_run, &j), 0);
    while (got < bytes) {
        ssize_t r = read(sv[1], sink, sizeof(sink));

        assert_true(r > 0);
        got += (uint64_t)r;
    }
    t = now_s() - t0;
    pthread_join(th, NULL);
    close(sv[0]);
    close(sv[1]);
    return (double)bytes / MIB / t;
}

static double floor_conns(const char *path, int n)
{
    uint8_t msg[ECHO_LEN], back[ECHO_LEN];
    int lfd = listen_at(path);
    double t0 = now_s(), r;

    memset(msg, 0x42, sizeof(msg));
    for (int i = 0; i < n; i++) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), s;

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
        s = accept_one(lfd);
        write_all(c, msg, sizeof(msg));
        read_all(s, back, sizeof(back));
        write_all(s, back, sizeof(back));
        read_all(c, back, sizeof(back));
        close(c);
        close(s);
    }
    r = n / (now_s() - t0);
    close(lfd);
    unlink(path);
    return r;
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 0) : 256;
    int rounds = argc > 2 ? atoi(argv[2]) : 3;
    /* Streams: 4 slots of 256 KiB (Linux's default buf_alloc). Idle
     * connections: 4 KiB each, never touched. */
    size_t big_len = 4 * 262144, idle_len = (size_t)(N_IDLE + 4) * 4096;
    uint8_t *big = calloc(1, big_len), *idle = calloc(1, idle_len);
    struct guest *g = calloc(1, sizeof(*g));
    double h2g[16], g2h[16], fl[16], cps[16], fcps[16], cpu_h[16], cpu_g[16];
    int n_conn = 2000;
    struct fx *f = NULL;
    long rss0, rss1;
    char fpath[100];

    assert_non_null(big);
    assert_non_null(idle);
    assert_non_null(g);
    if (rounds < 1)
        rounds = 1;
    if (rounds > 16)
        rounds = 16;
    signal(SIGPIPE, SIG_IGN);
    printf("bench_vsock: %llu MiB each way per round, %d rounds, %d "
           "connections per round; guest RX buffers 4 KiB, TX packets up to "
           "64 KiB\n",
           (unsigned long long)mib, rounds, n_conn);
    for (int r = 0; r < rounds; r++) {
        dev_open(&f, g, 4, big, big_len);
        h2g[r] = squib_h2g(f, g, mib * MIB, &cpu_h[r]);
        g2h[r] = squib_g2h(f, g, mib * MIB, &cpu_g[r]);
        cps[r] = squib_conns(f, g, n_conn);
        snprintf(fpath, sizeof(fpath), "%s/floor.sock", f->dir);
        fl[r] = floor_stream(mib * MIB);
        fcps[r] = floor_conns(fpath, n_conn);
        printf("round %d: h2g %.0f MiB/s  g2h %.0f MiB/s  floor %.0f MiB/s  "
               "conn+echo %.0f/s  floor %.0f/s\n",
               r + 1, h2g[r], g2h[r], fl[r], cps[r], fcps[r]);
        cpu_h[r] = cpu_h[r] / ((double)mib / 1024.0);
        cpu_g[r] = cpu_g[r] / ((double)mib / 1024.0);
        dev_close(f);
    }

    /* RSS with N_IDLE idle host-initiated connections. */
    {
        static int fds[N_IDLE];
        struct vp_conn *k;

        dev_open(&f, g, N_IDLE + 4, idle, idle_len);
        rss0 = rss_kib();
        for (int i = 0; i < N_IDLE; i++)
            fds[i] = open_conn(f, g, &k);
        rss1 = rss_kib();
        assert_int_equal(vsock_muxer_n_conns(vsock_muxer(f->v)), N_IDLE);
        for (int i = 0; i < N_IDLE; i++)
            close(fds[i]);
    }
    dev_close(f);

    {
        double mh = median(h2g, rounds), mg = median(g2h, rounds);
        double mf = median(fl, rounds), mc = median(cps, rounds);
        double mfc = median(fcps, rounds);

        printf("\nmedians over %d rounds:\n", rounds);
        printf("  host->guest stream   %8.0f MiB/s  = %.2f x the Unix "
               "socket floor (%.0f MiB/s)\n",
               mh, mh / mf, mf);
        printf("  guest->host stream   %8.0f MiB/s  = %.2f x the floor\n", mg,
               mg / mf);
        printf("  connect+echo+close   %8.0f /s     = %.2f x the floor "
               "(%.0f /s)\n",
               mc, mc / mfc, mfc);
        printf("  device-thread CPU    %8.2f s/GiB host->guest, %.2f s/GiB "
               "guest->host (device + the client's ring copies)\n",
               median(cpu_h, rounds), median(cpu_g, rounds));
        printf("  RSS                  %8ld KiB before, %ld KiB with %d idle "
               "connections: %.2f KiB each\n",
               rss0, rss1, N_IDLE, (double)(rss1 - rss0) / N_IDLE);
    }
    free(big);
    free(idle);
    free(g);
    return 0;
}
