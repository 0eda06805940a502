/*
 * test_vsockproto.c: the test guest's virtio-vsock client (tests/guest/
 * vsockproto.c, the code the guest's vsock-echo mode runs) against squib's
 * real vsock device in-process: its rings (vsockproto_ring.h), its muxer
 * and real Unix sockets on the host side.
 *
 *   - host-initiated: the guest listens, a host thread connects to
 *     uds_path, says "CONNECT <port>\n", reads "OK <port>\n" and pushes
 *     MiBs that the guest echoes back; every byte is checked.
 *   - guest-initiated: the guest connects to the host listener at
 *     "<uds_path>_<port>" and sends MiBs; the host sends MiBs back.
 *   - credit: a host that reads slowly never sees the client exceed the
 *     device's credit (no RST, the client waited); a guest with a small
 *     buffer that reads slowly never gets data beyond its credit.
 *   - many connections opened and closed from both sides, with
 *     /proc/self/fd the same afterwards.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "devices/virtio/vsock/vsock_muxer.h"
#include "vsock_harness.h"
#include "vsockproto_ring.h"

#define N_CONNS  8
#define MIB      (1024u * 1024u)
#define HOSTPORT 1024u

struct guest {
    struct vp_client c;
    struct ring_io io;
    struct vp_conn conns[N_CONNS];
    uint8_t arena[N_CONNS * 65536];
};

/* ---------------------------------------------------------- host thread */

/* What a host thread does on one socket. Plain checks (no cmocka off the
 * main thread): ok says whether everything held. */
struct host_job {
    int fd;           /* connected socket, or -1 to connect via uds */
    int listen_fd;    /* accept from here first when >= 0 */
    const char *uds;  /* with fd < 0: connect here ... */
    uint32_t port;    /* ... and ask for this guest port */
    uint64_t n_write; /* bytes of pattern wseed to write */
    uint64_t n_read;  /* bytes to read and check against rseed */
    uint32_t wseed, rseed;
    size_t read_chunk; /* bytes per read (0: 64 KiB) */
    unsigned read_pause_us;
    bool wait_eof; /* after reading, expect end of stream */
    /* results */
    atomic_bool done;
    bool ok;
    uint64_t got;
    uint64_t fnv_in;
    char why[96];
};

static void job_fail(struct host_job *j, const char *why)
{
    if (j->ok)
        snprintf(j->why, sizeof(j->why), "%s (got %llu)", why,
                 (unsigned long long)j->got);
    j->ok = false;
}

static int host_open(struct host_job *j)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char line[32], ok[8];
    size_t n = 0;
    int fd;

    if (j->listen_fd >= 0) {
        struct pollfd p = {.fd = j->listen_fd, .events = POLLIN};

        if (poll(&p, 1, 5000) != 1)
            return -1;
        return accept4(j->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", j->uds);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -1;
    n = (size_t)snprintf(line, sizeof(line), "CONNECT %u\n", j->port);
    if (write(fd, line, n) != (ssize_t)n)
        return -1;
    /* "OK <port>\n", byte by byte so no data is swallowed. */
    n = 0;
    while (n < sizeof(line) - 1) {
        if (read(fd, line + n, 1) != 1)
            return -1;
        if (line[n++] == '\n')
            break;
    }
    memcpy(ok, "OK ", 3);
    if (n < 5 || memcmp(line, ok, 3) != 0)
        return -1;
    return fd;
}

static void *host_run(void *arg)
{
    struct host_job *j = arg;
    static __thread uint8_t buf[65536];
    uint64_t wr = 0;
    int fd;

    j->ok = true;
    j->fnv_in = VP_FNV_INIT;
    fd = j->fd >= 0 ? j->fd : host_open(j);
    if (fd < 0) {
        job_fail(j, "connect/accept");
        atomic_store(&j->done, true);
        return NULL;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    while (j->ok && (wr < j->n_write || j->got < j->n_read)) {
        struct pollfd p = {.fd = fd, .events = 0};

        if (wr < j->n_write)
            p.events |= POLLOUT;
        if (j->got < j->n_read)
            p.events |= POLLIN;
        if (poll(&p, 1, 5000) != 1) {
            job_fail(j, "host poll timeout");
            break;
        }
        if (p.revents & POLLOUT) {
            size_t n = sizeof(buf);
            ssize_t w;

            if (n > j->n_write - wr)
                n = (size_t)(j->n_write - wr);
            for (size_t i = 0; i < n; i++)
                buf[i] = vp_pattern(j->wseed, wr + i);
            w = write(fd, buf, n);
            if (w > 0)
                wr += (uint64_t)w;
            else if (errno != EAGAIN)
                job_fail(j, "write");
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            size_t n = j->read_chunk ? j->read_chunk : sizeof(buf);
            ssize_t r;

            if (n > j->n_read - j->got)
                n = (size_t)(j->n_read - j->got);
            r = read(fd, buf, n);
            if (r == 0) {
                job_fail(j, "early EOF");
            } else if (r > 0) {
                for (ssize_t i = 0; i < r; i++) {
                    if (buf[i] != vp_pattern(j->rseed, j->got + (size_t)i)) {
                        job_fail(j, "data mismatch");
                        break;
                    }
                }
                j->fnv_in = vp_fnv(j->fnv_in, buf, (size_t)r);
                j->got += (uint64_t)r;
                if (j->read_pause_us)
                    usleep(j->read_pause_us);
            } else if (errno != EAGAIN) {
                job_fail(j, "read");
            }
        }
    }
    if (j->ok && j->wait_eof) {
        struct pollfd p = {.fd = fd, .events = POLLIN};

        if (poll(&p, 1, 5000) != 1 || read(fd, buf, 1) != 0)
            job_fail(j, "no EOF");
    }
    close(fd);
    atomic_store(&j->done, true);
    return NULL;
}

/* Join the host thread while the device keeps serving (it moves data to
 * host sockets only when pumped). */
static void join_pumping(struct vp_client *c, pthread_t t, struct host_job *j)
{
    uint32_t saved = c->timeout_ms;

    c->timeout_ms = 10;
    while (!atomic_load(&j->done))
        (void)vp_poll(c);
    c->timeout_ms = saved;
    assert_int_equal(pthread_join(t, NULL), 0);
    if (!j->ok)
        fail_msg("host: %s", j->why);
}

static uint64_t pattern_fnv(uint32_t seed, uint64_t n)
{
    uint64_t h = VP_FNV_INIT;

    for (uint64_t i = 0; i < n; i++) {
        uint8_t b = vp_pattern(seed, i);

        h = vp_fnv(h, &b, 1);
    }
    return h;
}

/* ---------------------------------------------------------- helpers */

static struct guest *guest_new(struct fx *f)
{
    struct guest *g = calloc(1, sizeof(*g));

    assert_non_null(g);
    fx_new(f, GUEST_CID);
    fx_start(f, F_EI);
    ring_client(&g->c, &g->io, f, g->conns, N_CONNS, g->arena,
                sizeof(g->arena));
    g->c.timeout_ms = 5000;
    return g;
}

static unsigned count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    unsigned n = 0;

    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Echo k until the peer shuts down; returns the bytes echoed. */
static uint64_t guest_echo(struct vp_client *c, struct vp_conn *k)
{
    static uint8_t buf[16384];
    uint64_t total = 0;
    size_t got;
    int rc;

    while ((rc = vp_recv(c, k, buf, sizeof(buf), &got)) == VP_OK) {
        rc = vp_send(c, k, buf, got);
        assert_int_equal(rc, VP_OK);
        total += got;
    }
    assert_int_equal(rc, VP_EOF);
    assert_int_equal(vp_close(c, k), VP_OK);
    return total;
}

/* ---------------------------------------------------------- tests */

/* Host connects through uds_path; the guest echoes 4 MiB, checked byte
 * by byte and by checksum on the host. */
static void test_host_initiated_echo(void **state)
{
    struct fx *f = *state;
    struct guest *g = guest_new(f);
    struct host_job j = {.fd = -1,
                         .listen_fd = -1,
                         .uds = f->uds,
                         .port = 5000,
                         .n_write = 4 * MIB,
                         .n_read = 4 * MIB,
                         .wseed = 7,
                         .rseed = 7};
    struct vp_conn *k;
    pthread_t t;

    assert_int_equal(vp_listen(&g->c, 5000), VP_OK);
    assert_int_equal(pthread_create(&t, NULL, host_run, &j), 0);
    assert_int_equal(vp_accept(&g->c, &k), VP_OK);
    assert_int_equal(k->peer_cid, VSOCK_HOST_CID);
    assert_int_equal(k->local_port, 5000);
    assert_true(k->peer_port >= 1u << 30);
    assert_int_equal(guest_echo(&g->c, k), 4 * MIB);
    join_pumping(&g->c, t, &j);
    assert_int_equal(j.got, 4 * MIB);
    assert_true(j.fnv_in == pattern_fnv(7, 4 * MIB));
    assert_int_equal(g->c.stats.credit_violations, 0);
    assert_int_equal(g->c.stats.rx_bad, 0);
    assert_true(g->c.stats.max_in_flight <= VSOCK_TXBUF_SIZE);
    assert_int_equal(vsock_muxer_n_conns(vsock_muxer(f->v)), 0);
    free(g);
}

/* The guest connects to <uds_path>_<port>, sends 3 MiB and receives
 * 2 MiB back. */
static void test_guest_initiated(void **state)
{
    struct fx *f = *state;
    struct guest *g = guest_new(f);
    int lfd = listen_port(f, HOSTPORT);
    struct host_job j = {.fd = -1,
                         .listen_fd = lfd,
                         .n_write = 2 * MIB,
                         .n_read = 3 * MIB,
                         .wseed = 3,
                         .rseed = 9,
                         .wait_eof = true};
    static uint8_t out[65536], in[65536];
    uint64_t sent = 0, got = 0, h = VP_FNV_INIT;
    struct vp_conn *k;
    pthread_t t;
    size_t n;
    int rc;

    assert_int_equal(pthread_create(&t, NULL, host_run, &j), 0);
    assert_int_equal(vp_connect(&g->c, VP_HOST_CID, HOSTPORT, 40000, &k),
                     VP_OK);
    g->c.max_payload = 65536;
    while (sent < 3 * MIB) {
        for (size_t i = 0; i < sizeof(out); i++)
            out[i] = vp_pattern(9, sent + i);
        assert_int_equal(vp_send(&g->c, k, out, sizeof(out)), VP_OK);
        sent += sizeof(out);
    }
    while (got < 2 * MIB) {
        assert_int_equal(vp_recv(&g->c, k, in, sizeof(in), &n), VP_OK);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(in[i], vp_pattern(3, got + i));
        h = vp_fnv(h, in, n);
        got += n;
    }
    assert_true(h == pattern_fnv(3, 2 * MIB));
    /* The host closes after reading everything and seeing our EOF. */
    rc = vp_close(&g->c, k);
    assert_int_equal(rc, VP_OK);
    join_pumping(&g->c, t, &j);
    assert_true(j.fnv_in == pattern_fnv(9, 3 * MIB));
    assert_int_equal(g->c.stats.credit_violations, 0);
    assert_true(g->c.stats.max_in_flight <= VSOCK_TXBUF_SIZE);
    close(lfd);
    free(g);
}

/* The host reads slowly: the client runs out of credit and waits, never
 * sending past it (the device would reset the stream). */
static void test_credit_slow_host(void **state)
{
    struct fx *f = *state;
    struct guest *g = guest_new(f);
    int lfd = listen_port(f, HOSTPORT + 1);
    struct host_job j = {.fd = -1,
                         .listen_fd = lfd,
                         .n_read = 2 * MIB,
                         .rseed = 5,
                         .read_chunk = 4096,
                         .read_pause_us = 50};
    static uint8_t out[2 * MIB];
    uint64_t rst_before = cnt(&mv()->conn_event_fails);
    struct vp_conn *k;
    pthread_t t;

    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = vp_pattern(5, i);
    assert_int_equal(pthread_create(&t, NULL, host_run, &j), 0);
    assert_int_equal(vp_connect(&g->c, VP_HOST_CID, HOSTPORT + 1, 40001, &k),
                     VP_OK);
    g->c.max_payload = 16384;
    assert_int_equal(vp_send(&g->c, k, out, sizeof(out)), VP_OK);
    join_pumping(&g->c, t, &j);
    assert_int_equal(j.got, 2 * MIB);
    assert_true(g->c.stats.credit_waits > 0);
    assert_true(g->c.stats.credit_requests_sent > 0);
    assert_true(g->c.stats.max_in_flight <= VSOCK_TXBUF_SIZE);
    assert_int_equal(g->c.stats.rsts_seen, 0);
    assert_false(k->reset);
    assert_int_equal(cnt(&mv()->conn_event_fails), rst_before);
    close(lfd);
    free(g);
}

/* The guest's buffer is 8 KiB and it reads 100 bytes at a time: the
 * device keeps within the credit, so nothing is ever dropped. */
static void test_credit_slow_guest(void **state)
{
    struct fx *f = *state;
    struct guest *g = guest_new(f);
    int lfd = listen_port(f, HOSTPORT + 2);
    struct host_job j = {
        .fd = -1, .listen_fd = lfd, .n_write = MIB, .wseed = 11};
    static uint8_t arena[2 * 8192];
    static uint8_t in[100];
    uint64_t got = 0;
    struct vp_conn *k;
    pthread_t t;
    size_t n;

    ring_client(&g->c, &g->io, f, g->conns, 2, arena, sizeof(arena));
    g->c.timeout_ms = 5000;
    assert_int_equal(pthread_create(&t, NULL, host_run, &j), 0);
    assert_int_equal(vp_connect(&g->c, VP_HOST_CID, HOSTPORT + 2, 40002, &k),
                     VP_OK);
    assert_int_equal(k->rcap, 8192);
    while (got < MIB) {
        assert_int_equal(vp_recv(&g->c, k, in, sizeof(in), &n), VP_OK);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(in[i], vp_pattern(11, got + i));
        got += n;
        assert_true(k->rlen <= k->rcap);
    }
    join_pumping(&g->c, t, &j);
    assert_int_equal(g->c.stats.credit_violations, 0);
    assert_true(g->c.stats.credit_updates_sent > 0);
    assert_int_equal(vp_close(&g->c, k), VP_OK);
    close(lfd);
    free(g);
}

/* 300 rounds of a host-initiated and a guest-initiated connection, each
 * exchanging a few bytes and closed from alternating sides. */
static void test_many_connections(void **state)
{
    struct fx *f = *state;
    struct guest *g = guest_new(f);
    int lfd = listen_port(f, HOSTPORT + 3);
    unsigned before;

    assert_int_equal(vp_listen(&g->c, 6000), VP_OK);
    before = count_fds();
    for (uint32_t i = 0; i < 300; i++) {
        struct vp_conn *k, *o;
        char line[32], buf[16];
        int c = client_connect(f), s;
        size_t n;

        n = (size_t)snprintf(line, sizeof(line), "CONNECT 6000\n");
        write_all(c, line, n);
        assert_int_equal(vp_accept(&g->c, &k), VP_OK);
        assert_true(readable(c, 2000));
        n = (size_t)read(c, line, sizeof(line));
        assert_true(n >= 5 && !memcmp(line, "OK ", 3));
        write_all(c, "ping", 4);
        assert_int_equal(vp_recv(&g->c, k, buf, sizeof(buf), &n), VP_OK);
        assert_int_equal(n, 4);
        assert_int_equal(vp_send(&g->c, k, "pong", 4), VP_OK);
        read_all(c, buf, 4);
        assert_memory_equal(buf, "pong", 4);

        assert_int_equal(
            vp_connect(&g->c, VP_HOST_CID, HOSTPORT + 3, 30000 + i, &o), VP_OK);
        s = accept_one(lfd);
        if (i % 2) {
            close(c);
            assert_int_equal(vp_recv(&g->c, k, buf, sizeof(buf), &n), VP_EOF);
            assert_int_equal(vp_close(&g->c, k), VP_OK);
            assert_int_equal(vp_close(&g->c, o), VP_OK);
            close(s);
        } else {
            assert_int_equal(vp_close(&g->c, k), VP_OK);
            assert_int_equal(read(c, buf, 1), 0);
            close(c);
            close(s);
            assert_int_equal(vp_recv(&g->c, o, buf, sizeof(buf), &n), VP_EOF);
            assert_int_equal(vp_close(&g->c, o), VP_OK);
        }
        for (size_t x = 0; x < N_CONNS; x++)
            assert_int_equal(g->conns[x].state, VP_FREE);
    }
    assert_int_equal(vsock_muxer_n_conns(vsock_muxer(f->v)), 0);
    assert_int_equal(count_fds(), before);
    assert_int_equal(g->c.stats.rx_bad, 0);
    close(lfd);
    free(g);
}

/* Refusals: no host listener (RST), a host CONNECT to a port the guest
 * does not listen on (the client answers RST, the host is closed). */
static void test_refusals(void **state)
{
    struct fx *f = *state;
    struct guest *g = guest_new(f);
    struct vp_conn *k;
    char b[8];
    int c;

    assert_int_equal(vp_connect(&g->c, VP_HOST_CID, 4321, 1, &k), VP_RST);
    assert_int_equal(g->conns[0].state, VP_FREE);
    c = client_connect(f);
    write_all(c, "CONNECT 77\n", 11);
    g->c.timeout_ms = 200;
    assert_int_equal(vp_accept(&g->c, &k), VP_TIMEOUT);
    assert_true(g->c.stats.rsts_sent >= 1);
    assert_true(readable(c, 2000));
    assert_int_equal(read(c, b, sizeof(b)), 0);
    close(c);
    assert_int_equal(vsock_muxer_n_conns(vsock_muxer(f->v)), 0);
    free(g);
}

/* The codec against the device's own. */
static void test_hdr_codec(void **state)
{
    struct vp_hdr a = {1, 2, 3, 4, 5, 1, 6, 7, 8, 9}, b;
    struct vsock_hdr d;
    uint8_t w[VP_HDR_LEN];

    (void)state;
    memset(&b, 0xee, sizeof(b));
    vp_hdr_encode(&a, w);
    vsock_hdr_decode(w, &d);
    assert_int_equal(d.src_cid, 1);
    assert_int_equal(d.dst_cid, 2);
    assert_int_equal(d.src_port, 3);
    assert_int_equal(d.dst_port, 4);
    assert_int_equal(d.len, 5);
    assert_int_equal(d.type, 1);
    assert_int_equal(d.op, 6);
    assert_int_equal(d.flags, 7);
    assert_int_equal(d.buf_alloc, 8);
    assert_int_equal(d.fwd_cnt, 9);
    vp_hdr_decode(w, &b);
    assert_true(b.src_cid == 1 && b.dst_cid == 2 && b.src_port == 3 &&
                b.dst_port == 4 && b.len == 5 && b.type == 1 && b.op == 6 &&
                b.flags == 7 && b.buf_alloc == 8 && b.fwd_cnt == 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hdr_codec),
        cmocka_unit_test_setup_teardown(test_host_initiated_echo, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_guest_initiated, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_credit_slow_host, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_credit_slow_guest, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_many_connections, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_refusals, fx_setup, fx_teardown),
    };

    /* A host socket closed under a write must not end the test. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
