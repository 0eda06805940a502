/*
 * bench_api.c: API latency, startup time and memory of squib.
 *
 * Prints, from one run on one machine:
 *  (a) round trips of GET /machine-config and PUT /machine-config over one
 *      keep-alive connection to squib (median, p99), beside the same
 *      requests sent to the echo floor, as ratios. The floor is a separate
 *      process that does nothing but a tight blocking read()/write() loop,
 *      answering every request with the exact response bytes squib sent for
 *      it (two system calls per request; it assumes each request arrives in
 *      one read, which holds for these small requests). squib and the floor
 *      are measured in interleaved rounds (squib GET, floor GET, squib PUT,
 *      floor PUT, ...) so that both see the same machine load. squib runs
 *      at its default log level with its log on stdout (/dev/null here), as
 *      a plain `firecracker --api-sock` does;
 *  (b) process start to API socket ready (wall), and the CPU time squib used
 *      until both threads are idle with their seccomp filters installed (the
 *      api thread installs its filter before serving, so: after the first
 *      GET was answered and every thread sleeps);
 *  (c) squib's RSS once ready.
 * Never fails on a time: figures only.
 *
 * usage: bench_api SQUIB_BINARY [ROUNDS]
 *        bench_api --startup ROUNDS LABEL=BINARY[,ARG...] ...
 *
 * The second form measures (b) only, for several binaries or argument sets
 * in interleaved rounds (e.g. before=old/squib now=build/squib
 * off=build/squib,--no-seccomp), and prints the median and quartiles of
 * each.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Read one response framed by Content-Length (or none for 204). */
static ssize_t read_response(int fd, char *buf, size_t cap)
{
    size_t len = 0;

    for (;;) {
        ssize_t n = read(fd, buf + len, cap - len - 1);
        char *end;

        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end) {
            char *cl = strcasestr(buf, "Content-Length:");
            size_t body = cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0;
            size_t need = (size_t)(end - buf) + 4 + body;

            if (len >= need)
                return (ssize_t)need;
        }
        if (len + 1 >= cap)
            return -1;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

struct stats {
    double median_us, p99_us;
};

static struct stats stats_of(uint64_t *t, int n)
{
    struct stats s;

    qsort(t, (size_t)n, sizeof(*t), cmp_u64);
    s.median_us = (double)t[n / 2] / 1000.0;
    s.p99_us = (double)t[(n * 99) / 100] / 1000.0;
    return s;
}

/* One round trip; returns its time in ns, or 0 if the peer stopped. */
static uint64_t round_trip(int fd, const char *req, size_t req_len, char *resp,
                           size_t resp_cap, ssize_t *resp_len)
{
    uint64_t t0 = now_ns();

    if (write(fd, req, req_len) != (ssize_t)req_len)
        return 0;
    *resp_len = read_response(fd, resp, resp_cap);
    if (*resp_len < 0)
        return 0;
    return now_ns() - t0;
}

/*
 * The echo floor, in a process of its own: read a request, write the fixed
 * answer for its method. Nothing else: no parsing beyond the first byte, no
 * event loop, no copies.
 */
static void echo_floor(int listen_fd, const char *get_resp, size_t get_len,
                       const char *put_resp, size_t put_len)
{
    char buf[4096];
    int fd = accept(listen_fd, NULL, NULL);

    if (fd < 0)
        _exit(1);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n <= 0)
            _exit(0);
        if (buf[0] == 'G') {
            if (write(fd, get_resp, get_len) < 0)
                _exit(1);
        } else if (write(fd, put_resp, put_len) < 0) {
            _exit(1);
        }
    }
}

static long proc_field_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    FILE *f;
    long v = -1;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, key, strlen(key)))
            v = strtol(line + strlen(key), NULL, 10);
    }
    fclose(f);
    return v;
}

/* CPU time of a process in ms, from /proc/PID/schedstat (ns resolution;
 * /proc/PID/stat counts clock ticks, too coarse for a 1 ms startup). Sums
 * every thread. */
static double proc_cpu_ms(pid_t pid)
{
    char path[320];
    unsigned long long total = 0;
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    d = opendir(path);
    if (!d)
        return -1;
    while ((e = readdir(d))) {
        unsigned long long ns;
        FILE *f;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", (int)pid,
                 e->d_name);
        f = fopen(path, "r");
        if (!f)
            continue;
        if (fscanf(f, "%llu", &ns) == 1)
            total += ns;
        fclose(f);
    }
    closedir(d);
    return (double)total / 1e6;
}

/*
 * Start squib (args[0..n_args): the binary and its own arguments, plus
 * "--api-sock sock"), its output on /dev/null, and wait for its socket.
 * Then answer one GET /machine-config (the api thread installs its filter
 * before it serves) into resp, let every thread go idle (50 ms), and read
 * the CPU time the process has used. Returns the pid (the caller kills and
 * reaps it; *fd is the connection), or -1 with a message on stderr.
 */
static pid_t start_squib(char *const *args, int n_args, const char *sock,
                         int *fd, uint64_t *ready_ns, double *cpu_ms,
                         char *resp, size_t resp_cap, ssize_t *resp_len)
{
    static const char get_req[] =
        "GET /machine-config HTTP/1.1\r\nHost: localhost\r\n\r\n";
    char *argv[32];
    uint64_t t0;
    pid_t pid;

    if (n_args > 28)
        return -1;
    memcpy(argv, args, (size_t)n_args * sizeof(*argv));
    argv[n_args] = (char *)"--api-sock";
    argv[n_args + 1] = (char *)sock;
    argv[n_args + 2] = NULL;
    *fd = -1;
    t0 = now_ns();
    pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);

        dup2(devnull, 1);
        dup2(devnull, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    while (*fd < 0) {
        *fd = connect_unix(sock);
        if (*fd < 0 && now_ns() - t0 > 5000000000ull) {
            fprintf(stderr, "squib did not come up\n");
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return -1;
        }
    }
    *ready_ns = now_ns() - t0;
    /* Both threads idle, filters on: one GET answered, then let them sleep. */
    if (!round_trip(*fd, get_req, strlen(get_req), resp, resp_cap, resp_len)) {
        fprintf(stderr, "squib stopped answering\n");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    usleep(50000);
    *cpu_ms = proc_cpu_ms(pid);
    return pid;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/*
 * --startup ROUNDS LABEL=BINARY[,ARG...] ...: start-up CPU only. Each round
 * starts every binary once (the order rotating from round to round, so all
 * see the same load), as start_squib() does; prints the median and the
 * quartiles of each.
 */
static int startup_only(int rounds, int n_specs, char **specs, const char *dir)
{
    char *args[8][16], *labels[8], sock[100], resp[4096];
    int n_args[8];
    double *cpu[8];

    if (n_specs < 1 || n_specs > 8 || rounds < 1)
        return 2;
    for (int i = 0; i < n_specs; i++) {
        char *eq = strchr(specs[i], '='), *tok, *save = NULL;

        if (!eq)
            return 2;
        *eq = '\0';
        labels[i] = specs[i];
        n_args[i] = 0;
        for (tok = strtok_r(eq + 1, ",", &save); tok && n_args[i] < 16;
             tok = strtok_r(NULL, ",", &save))
            args[i][n_args[i]++] = tok;
        cpu[i] = calloc((size_t)rounds, sizeof(double));
    }
    snprintf(sock, sizeof(sock), "%s/api.sock", dir);
    for (int r = 0; r < rounds; r++) {
        for (int j = 0; j < n_specs; j++) {
            int i = (r + j) % n_specs, fd;
            uint64_t ready;
            ssize_t len;
            pid_t pid = start_squib(args[i], n_args[i], sock, &fd, &ready,
                                    &cpu[i][r], resp, sizeof(resp), &len);

            if (pid < 0)
                return 1;
            close(fd);
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            unlink(sock);
        }
    }
    printf("start-up CPU until both threads idle, filters on (ms; %d "
           "interleaved rounds)\n",
           rounds);
    for (int i = 0; i < n_specs; i++) {
        qsort(cpu[i], (size_t)rounds, sizeof(double), cmp_double);
        printf("%-16s median %6.3f  p25 %6.3f  p75 %6.3f  min %6.3f\n",
               labels[i], cpu[i][rounds / 2], cpu[i][rounds / 4],
               cpu[i][(rounds * 3) / 4], cpu[i][0]);
        free(cpu[i]);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const char get_req[] =
        "GET /machine-config HTTP/1.1\r\nHost: localhost\r\n\r\n";
    static const char put_body[] = "{\"vcpu_count\": 2, \"mem_size_mib\": 256}";
    char put_req[256], dir[] = "/tmp/squib-bench-XXXXXX", sock[100], esock[100];
    char resp_get[4096], resp_put[4096];
    ssize_t get_len = -1, put_len = -1;
    int rounds = argc > 2 ? atoi(argv[2]) : 20000, fd = -1, efd = -1;
    struct stats sg, sp, eg, ep;
    uint64_t ready_ns;
    double cpu_ms;
    long rss_kb;
    pid_t pid, epid;

    if (argc < 2) {
        fprintf(stderr, "usage: %s SQUIB_BINARY [ROUNDS]\n", argv[0]);
        return 2;
    }
    if (!mkdtemp(dir))
        return 1;
    if (strcmp(argv[1], "--startup") == 0) {
        int rc =
            argc > 3 ? startup_only(atoi(argv[2]), argc - 3, argv + 3, dir) : 2;

        rmdir(dir);
        if (rc == 2)
            fprintf(stderr,
                    "usage: %s --startup ROUNDS "
                    "LABEL=BINARY[,ARG...] ...\n",
                    argv[0]);
        return rc;
    }
    snprintf(sock, sizeof(sock), "%s/api.sock", dir);
    snprintf(esock, sizeof(esock), "%s/echo.sock", dir);
    snprintf(put_req, sizeof(put_req),
             "PUT /machine-config HTTP/1.1\r\nHost: localhost\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(put_body), put_body);

    /* (b) start to socket ready, then the CPU time until idle. */
    {
        char *args[] = {argv[1], NULL};

        pid = start_squib(args, 1, sock, &fd, &ready_ns, &cpu_ms, resp_get,
                          sizeof(resp_get), &get_len);
        if (pid < 0)
            return 1;
    }
    rss_kb = proc_field_kb(pid, "VmRSS:");

    /* The responses squib sends, for the floor to send back. */
    round_trip(fd, put_req, strlen(put_req), resp_put, sizeof(resp_put),
               &put_len);
    if (get_len < 0 || put_len < 0) {
        fprintf(stderr, "squib stopped answering\n");
        kill(pid, SIGKILL);
        return 1;
    }
    {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", esock);
        if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            listen(lfd, 4) < 0)
            return 1;
        epid = fork();
        if (epid == 0)
            echo_floor(lfd, resp_get, (size_t)get_len, resp_put,
                       (size_t)put_len);
        close(lfd);
        efd = connect_unix(esock);
        if (efd < 0)
            return 1;
    }

    /* (a) interleaved rounds, after a warm-up of each kind. */
    {
        uint64_t *t[4];
        char scratch[4096];
        ssize_t sl;
        int ok = 1;

        for (int k = 0; k < 4; k++)
            t[k] = calloc((size_t)rounds, sizeof(uint64_t));
        for (int i = -200; i < rounds && ok; i++) {
            uint64_t v[4] = {
                round_trip(fd, get_req, strlen(get_req), scratch,
                           sizeof(scratch), &sl),
                round_trip(efd, get_req, strlen(get_req), scratch,
                           sizeof(scratch), &sl),
                round_trip(fd, put_req, strlen(put_req), scratch,
                           sizeof(scratch), &sl),
                round_trip(efd, put_req, strlen(put_req), scratch,
                           sizeof(scratch), &sl),
            };

            for (int k = 0; k < 4; k++) {
                if (!v[k])
                    ok = 0;
                else if (i >= 0)
                    t[k][i] = v[k];
            }
        }
        if (!ok) {
            fprintf(stderr, "a server stopped answering\n");
            kill(pid, SIGKILL);
            kill(epid, SIGKILL);
            return 1;
        }
        sg = stats_of(t[0], rounds);
        eg = stats_of(t[1], rounds);
        sp = stats_of(t[2], rounds);
        ep = stats_of(t[3], rounds);
        for (int k = 0; k < 4; k++)
            free(t[k]);
    }
    close(fd);
    close(efd);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    waitpid(epid, NULL, 0);
    unlink(sock);
    unlink(esock);
    rmdir(dir);

    printf("rounds per case: %d (one keep-alive connection each, squib and the "
           "floor interleaved)\n",
           rounds);
    printf(
        "GET /machine-config  squib median %7.1f us p99 %7.1f us | echo floor "
        "median %7.1f us p99 %7.1f us | ratio median %.2fx p99 %.2fx\n",
        sg.median_us, sg.p99_us, eg.median_us, eg.p99_us,
        sg.median_us / eg.median_us, sg.p99_us / eg.p99_us);
    printf(
        "PUT /machine-config  squib median %7.1f us p99 %7.1f us | echo floor "
        "median %7.1f us p99 %7.1f us | ratio median %.2fx p99 %.2fx\n",
        sp.median_us, sp.p99_us, ep.median_us, ep.p99_us,
        sp.median_us / ep.median_us, sp.p99_us / ep.p99_us);
    printf("startup: process start to socket ready %.2f ms wall; %.2f ms CPU "
           "until both threads idle, filters on (target <= 2 ms)\n",
           (double)ready_ns / 1e6, cpu_ms);
    printf("RSS after startup: %ld KiB (%.2f MiB; target < 2 MiB)\n", rss_kb,
           (double)rss_kb / 1024.0);
    return 0;
}
