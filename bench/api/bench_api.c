/*
 * bench_api.c: API latency, startup time and memory of squib.
 *
 * Prints, from one run on one machine:
 *  (a) round trips of GET /machine-config and PUT /machine-config over one
 *      keep-alive connection to squib (median, p99), beside the same bytes
 *      exchanged with a plain C echo server over a Unix socket (the floor: a
 *      server that does nothing but read the request and write back squib's
 *      own response bytes), as ratios;
 *  (b) process start to API socket ready (wall) and the CPU time squib used
 *      to get there;
 *  (c) squib's RSS once ready.
 * Never fails on a time: figures only.
 *
 * usage: bench_api SQUIB_BINARY [ROUNDS]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

static struct stats run_rounds(int fd, const char *req, size_t req_len,
                               int rounds, char *resp, size_t resp_cap,
                               ssize_t *resp_len)
{
    uint64_t *t = calloc((size_t)rounds, sizeof(*t));
    struct stats s = {0, 0};

    for (int i = 0; i < rounds; i++) {
        uint64_t t0 = now_ns();

        if (write(fd, req, req_len) != (ssize_t)req_len)
            break;
        *resp_len = read_response(fd, resp, resp_cap);
        if (*resp_len < 0)
            break;
        t[i] = now_ns() - t0;
    }
    qsort(t, (size_t)rounds, sizeof(*t), cmp_u64);
    s.median_us = (double)t[rounds / 2] / 1000.0;
    s.p99_us = (double)t[(rounds * 99) / 100] / 1000.0;
    free(t);
    return s;
}

/* The echo floor: answer each request with fixed bytes. */
struct echo {
    int listen_fd;
    const char *resp[2];
    size_t resp_len[2];
};

static void *echo_main(void *arg)
{
    struct echo *e = arg;
    char buf[65536];
    int fd = accept(e->listen_fd, NULL, NULL);
    size_t len = 0;

    if (fd < 0)
        return NULL;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - len - 1);
        char *end;

        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        while ((end = strstr(buf, "\r\n\r\n"))) {
            char *cl = strcasestr(buf, "Content-Length:");
            size_t body = cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0;
            size_t need = (size_t)(end - buf) + 4 + body;
            int which = buf[0] == 'G' ? 0 : 1;

            if (len < need)
                break;
            if (write(fd, e->resp[which], e->resp_len[which]) < 0)
                goto out;
            memmove(buf, buf + need, len - need);
            len -= need;
            buf[len] = '\0';
        }
    }
out:
    close(fd);
    return NULL;
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
    char path[96];
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

int main(int argc, char **argv)
{
    static const char get_req[] =
        "GET /machine-config HTTP/1.1\r\nHost: localhost\r\n\r\n";
    static const char put_body[] = "{\"vcpu_count\": 2, \"mem_size_mib\": 256}";
    char put_req[256], dir[] = "/tmp/squib-bench-XXXXXX", sock[128], esock[128];
    char resp_get[4096], resp_put[4096];
    ssize_t get_len = -1, put_len = -1;
    int rounds = argc > 2 ? atoi(argv[2]) : 20000, fd = -1;
    struct stats sg, sp, eg, ep;
    uint64_t t0, ready_ns;
    double cpu_ms;
    long rss_kb;
    pid_t pid;

    if (argc < 2) {
        fprintf(stderr, "usage: %s SQUIB_BINARY [ROUNDS]\n", argv[0]);
        return 2;
    }
    if (!mkdtemp(dir))
        return 1;
    snprintf(sock, sizeof(sock), "%s/api.sock", dir);
    snprintf(esock, sizeof(esock), "%s/echo.sock", dir);
    snprintf(put_req, sizeof(put_req),
             "PUT /machine-config HTTP/1.1\r\nHost: localhost\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(put_body), put_body);

    /* (b) start to socket ready. */
    t0 = now_ns();
    pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);

        dup2(devnull, 1);
        dup2(devnull, 2);
        execl(argv[1], argv[1], "--api-sock", sock, "--level", "Error",
              (char *)NULL);
        _exit(127);
    }
    while (fd < 0) {
        fd = connect_unix(sock);
        if (fd < 0 && now_ns() - t0 > 5000000000ull) {
            fprintf(stderr, "squib did not come up\n");
            kill(pid, SIGKILL);
            return 1;
        }
    }
    ready_ns = now_ns() - t0;
    cpu_ms = proc_cpu_ms(pid);
    rss_kb = proc_field_kb(pid, "VmRSS:");

    /* (a) squib round trips. Warm up first. */
    run_rounds(fd, get_req, strlen(get_req), 200, resp_get, sizeof(resp_get), &get_len);
    sg = run_rounds(fd, get_req, strlen(get_req), rounds, resp_get, sizeof(resp_get), &get_len);
    sp = run_rounds(fd, put_req, strlen(put_req), rounds, resp_put, sizeof(resp_put), &put_len);
    close(fd);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    if (get_len < 0 || put_len < 0) {
        fprintf(stderr, "squib stopped answering\n");
        return 1;
    }

    /* (a) the same bytes against the echo floor. */
    {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct echo e = {.resp = {resp_get, resp_put},
                         .resp_len = {(size_t)get_len, (size_t)put_len}};
        pthread_t tid;

        e.listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", esock);
        if (bind(e.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            listen(e.listen_fd, 4) < 0)
            return 1;
        pthread_create(&tid, NULL, echo_main, &e);
        fd = connect_unix(esock);
        run_rounds(fd, get_req, strlen(get_req), 200, resp_get, sizeof(resp_get), &get_len);
        eg = run_rounds(fd, get_req, strlen(get_req), rounds, resp_get, sizeof(resp_get), &get_len);
        ep = run_rounds(fd, put_req, strlen(put_req), rounds, resp_put, sizeof(resp_put), &put_len);
        close(fd);
        pthread_join(tid, NULL);
        close(e.listen_fd);
    }
    unlink(sock);
    unlink(esock);
    rmdir(dir);

    printf("rounds per case: %d (one keep-alive connection)\n", rounds);
    printf("GET /machine-config  squib median %7.1f us p99 %7.1f us | echo floor median %7.1f us p99 %7.1f us | ratio median %.2fx p99 %.2fx\n",
           sg.median_us, sg.p99_us, eg.median_us, eg.p99_us,
           sg.median_us / eg.median_us, sg.p99_us / eg.p99_us);
    printf("PUT /machine-config  squib median %7.1f us p99 %7.1f us | echo floor median %7.1f us p99 %7.1f us | ratio median %.2fx p99 %.2fx\n",
           sp.median_us, sp.p99_us, ep.median_us, ep.p99_us,
           sp.median_us / ep.median_us, sp.p99_us / ep.p99_us);
    printf("startup: process start to socket ready %.2f ms wall, %.2f ms CPU (target < 2 ms CPU)\n",
           (double)ready_ns / 1e6, cpu_ms);
    printf("RSS after startup: %ld KiB (%.2f MiB; target < 2 MiB)\n", rss_kb,
           (double)rss_kb / 1024.0);
    return 0;
}
