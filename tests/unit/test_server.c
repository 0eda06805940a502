/*
 * test_server.c: the API socket server (api/server.c) driven for real.
 *
 * Each test binds a Unix socket in a fresh temporary directory, runs a server
 * on an evloop that the test steps itself (evloop_run_once), and talks to it
 * with ordinary client sockets. A fake request callback records what it is
 * handed and either answers at once (echoing the URI and body) or leaves the
 * request outstanding for the test to answer later with api_server_respond().
 * Everything runs on one thread, so the order of events is deterministic.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/server.h"
#include "util/evloop.h"

#define S(lit)   lit, sizeof(lit) - 1
#define MAX_SEEN 64

/*
 * recvmsg() as the server sees it (linked with -Wl,--wrap=recvmsg, see
 * mk/http.mk): when fail_next_recvmsg is set, the next call fails with it.
 */
ssize_t __real_recvmsg(int fd, struct msghdr *msg, int flags);
ssize_t __wrap_recvmsg(int fd, struct msghdr *msg, int flags);
static int fail_next_recvmsg;

ssize_t __wrap_recvmsg(int fd, struct msghdr *msg, int flags)
{
    if (fail_next_recvmsg) {
        errno = fail_next_recvmsg;
        fail_next_recvmsg = 0;
        return -1;
    }
    return __real_recvmsg(fd, msg, flags);
}

struct seen {
    struct api_conn_ref ref;
    enum http_method method;
    char uri[256];
    char body[256];
    size_t body_len;
};

struct fixture {
    char dir[64];
    char path[128];
    int listen_fd;
    struct evloop *loop;
    struct api_server *srv;
    bool defer; /* leave requests unanswered */
    struct seen seen[MAX_SEEN];
    int n_seen;
    char big_body_uri[32]; /* requests for this URI get a 1 MiB body */
};

#define BIG_LEN (1024 * 1024)

static void fake_fn(void *opaque, struct api_server *srv,
                    struct api_conn_ref conn, const struct http_request *req)
{
    struct fixture *f = opaque;
    struct seen *s;
    char body[600];
    int n;

    assert_true(f->n_seen < MAX_SEEN);
    s = &f->seen[f->n_seen++];
    s->ref = conn;
    s->method = req->method;
    assert_true(req->uri_len < sizeof(s->uri));
    memcpy(s->uri, req->uri, req->uri_len);
    s->uri[req->uri_len] = '\0';
    assert_true(req->body_len < sizeof(s->body));
    if (req->body_len)
        memcpy(s->body, req->body, req->body_len);
    s->body_len = req->body_len;
    if (f->defer)
        return;
    if (f->big_body_uri[0] && strcmp(s->uri, f->big_body_uri) == 0) {
        char *big = malloc(BIG_LEN);

        assert_non_null(big);
        for (size_t i = 0; i < BIG_LEN; i++)
            big[i] = (char)('a' + i % 26);
        api_server_respond(srv, conn,
                           &(struct http_response){.status = 200,
                                                   .body = big,
                                                   .body_len = BIG_LEN});
        free(big); /* the server copied it */
        return;
    }
    n = snprintf(body, sizeof(body), "%s %s|%.*s", http_method_str(s->method),
                 s->uri, (int)s->body_len, s->body);
    api_server_respond(srv, conn,
                       &(struct http_response){
                           .status = 200, .body = body, .body_len = (size_t)n});
}

static int setup_with(void **state, size_t max_payload)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    strcpy(f->dir, "/tmp/squib-test-server-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/api.sock", f->dir);
    assert_int_equal(api_socket_bind(f->path, &f->listen_fd), 0);
    f->loop = evloop_new();
    assert_non_null(f->loop);
    f->srv = api_server_new(f->loop, f->listen_fd, max_payload, fake_fn, f);
    assert_non_null(f->srv);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, HTTP_DEFAULT_MAX_PAYLOAD);
}

static int setup_small(void **state)
{
    return setup_with(state, 250);
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    api_server_free(f->srv);
    evloop_free(f->loop);
    close(f->listen_fd);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* ---- client helpers ---------------------------------------------------------
 */

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int client_connect(struct fixture *f)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    strcpy(sa.sun_path, f->path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    return fd;
}

static void client_send(struct fixture *f, int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EAGAIN) {
            evloop_run_once(f->loop, 10);
            continue;
        }
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

static void pump(struct fixture *f, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;

    while (now_ms() < end)
        evloop_run_once(f->loop, 5);
}

/* Step the loop until `want` bytes arrived on fd (or 5 s passed). */
static size_t client_recv(struct fixture *f, int fd, char *out, size_t want)
{
    uint64_t end = now_ms() + 5000;
    size_t have = 0;

    while (have < want && now_ms() < end) {
        ssize_t r = recv(fd, out + have, want - have, 0);

        if (r > 0) {
            have += (size_t)r;
            continue;
        }
        if (r == 0)
            break;
        assert_true(errno == EAGAIN);
        evloop_run_once(f->loop, 5);
    }
    return have;
}

static void expect_recv(struct fixture *f, int fd, const char *want,
                        size_t want_len)
{
    char *got = malloc(want_len + 1);
    size_t n;

    assert_non_null(got);
    n = client_recv(f, fd, got, want_len);
    if (n != want_len || memcmp(got, want, want_len) != 0)
        fail_msg("got %zu bytes:\n%.*s\nwant %zu bytes:\n%.*s", n, (int)n, got,
                 want_len, (int)want_len, want);
    free(got);
}

/* Nothing more is readable on fd after stepping the loop a little. */
static void expect_silence(struct fixture *f, int fd)
{
    char c;

    pump(f, 50);
    assert_int_equal(recv(fd, &c, 1, 0), -1);
    assert_int_equal(errno, EAGAIN);
}

/* The peer closed: recv returns 0 after at most 5 s of stepping. */
static void expect_eof(struct fixture *f, int fd)
{
    uint64_t end = now_ms() + 5000;
    char c;

    for (;;) {
        ssize_t r = recv(fd, &c, 1, 0);

        if (r == 0)
            return;
        assert_true(r < 0 && errno == EAGAIN);
        assert_true(now_ms() < end);
        evloop_run_once(f->loop, 5);
    }
}

static void wait_conns(struct fixture *f, unsigned n)
{
    uint64_t end = now_ms() + 5000;

    while (api_server_n_conns(f->srv) != n) {
        assert_true(now_ms() < end);
        evloop_run_once(f->loop, 5);
    }
}

/* The fake's echo response for `echo` ("GET /x|body"). */
static size_t ok_response(char *out, size_t cap, const char *echo)
{
    int n = snprintf(out, cap,
                     "HTTP/1.1 200 \r\nServer: Firecracker API\r\n"
                     "Connection: keep-alive\r\nContent-Type: application/json"
                     "\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(echo), echo);

    return (size_t)n;
}

static void expect_ok(struct fixture *f, int fd, const char *echo)
{
    char want[512];
    size_t n = ok_response(want, sizeof(want), echo);

    expect_recv(f, fd, want, n);
}

/* ---- tests ----------------------------------------------------------------
 */

static void test_bind_never_unlinks(void **state)
{
    struct fixture *f = *state;
    char longpath[200];
    int fd = -1;

    /* The path exists (our listener): a second bind fails, nothing removed. */
    assert_int_equal(api_socket_bind(f->path, &fd), -EADDRINUSE);
    assert_int_equal(access(f->path, F_OK), 0);
    memset(longpath, 'x', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(api_socket_bind(longpath, &fd), -ENAMETOOLONG);
}

/* Entries of `dir` other than "." and "..", as a count. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/*
 * The socket is bound under a temporary name and renamed into place: the
 * final path is a listening socket from the moment it exists, and no
 * temporary name is left behind, on success or failure.
 */
static void test_bind_renames_into_place(void **state)
{
    struct fixture *f = *state;
    char path[sizeof(f->path) + 16],
        edge[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct stat st;
    int fd = -1, cfd;

    /* The fixture's socket is the only entry: the temporary name is gone. */
    assert_int_equal(dir_entries(f->dir), 1);
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));

    /* A regular file at the path: refused as upstream's bind() would, the
     * file untouched, no temporary name left. */
    snprintf(path, sizeof(path), "%s/file", f->dir);
    cfd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(cfd >= 0);
    close(cfd);
    assert_int_equal(api_socket_bind(path, &fd), -EADDRINUSE);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(dir_entries(f->dir), 2);
    unlink(path);

    /* A missing directory: the temporary bind fails, nothing is created. */
    snprintf(path, sizeof(path), "%s/none/api.sock", f->dir);
    assert_int_equal(api_socket_bind(path, &fd), -ENOENT);
    assert_int_equal(dir_entries(f->dir), 1);

    /* A path that fits sun_path in a directory whose name leaves no room
     * for the temporary name: bound in place. */
    {
        size_t dlen = strlen(f->dir), sub = sizeof(edge) - 1 - dlen - 3;
        char subdir[sizeof(edge)];

        memcpy(edge, f->dir, dlen);
        edge[dlen] = '/';
        memset(edge + dlen + 1, 'y', sub);
        edge[dlen + 1 + sub] = '\0';
        strcpy(subdir, edge);
        assert_int_equal(mkdir(subdir, 0700), 0);
        strcat(edge, "/a");
        assert_int_equal(strlen(edge), sizeof(edge) - 1);
        assert_int_equal(api_socket_bind(edge, &fd), 0);
        assert_int_equal(stat(edge, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        assert_int_equal(dir_entries(subdir), 1);
        close(fd);
        unlink(edge);
        rmdir(subdir);
    }
}

static void test_keep_alive(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);

    for (int i = 0; i < 3; i++) {
        client_send(f, fd, S("GET /machine-config HTTP/1.1\r\n\r\n"));
        expect_ok(f, fd, "GET /machine-config|");
    }
    /* HTTP/1.0 gets an HTTP/1.1 keep-alive answer too, and stays open. */
    client_send(f, fd, S("PUT /x HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}"));
    expect_ok(f, fd, "PUT /x|{}");
    assert_int_equal(api_server_n_conns(f->srv), 1);
    assert_int_equal(f->n_seen, 4);
    close(fd);
    wait_conns(f, 0);
}

static void test_pipelining_in_order(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);
    char want[1024];
    size_t n = 0;

    client_send(f, fd,
                S("GET /a HTTP/1.1\r\n\r\n"
                  "PUT /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
                  "PATCH /c HTTP/1.1\r\nContent-Length: 1\r\n\r\n1"
                  "DELETE /d HTTP/1.1\r\n\r\n"));
    n += ok_response(want + n, sizeof(want) - n, "GET /a|");
    n += ok_response(want + n, sizeof(want) - n, "PUT /b|xyz");
    n += ok_response(want + n, sizeof(want) - n, "PATCH /c|1");
    n += ok_response(want + n, sizeof(want) - n, "DELETE /d|");
    expect_recv(f, fd, want, n);
    assert_int_equal(f->n_seen, 4);
    close(fd);
}

static void test_pipelining_deferred(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);
    static const char ok204[] = "HTTP/1.1 204 \r\nServer: Firecracker API\r\n"
                                "Connection: keep-alive\r\n\r\n";

    f->defer = true;
    client_send(f, fd,
                S("PUT /1 HTTP/1.1\r\n\r\nPUT /2 HTTP/1.1\r\n\r\n"
                  "PUT /3 HTTP/1.1\r\n\r\n"));
    for (int i = 0; i < 3; i++) {
        char uri[16];

        pump(f, 30);
        /* One request at a time: the next one waits for this answer. */
        assert_int_equal(f->n_seen, i + 1);
        snprintf(uri, sizeof(uri), "/%d", i + 1);
        assert_string_equal(f->seen[i].uri, uri);
        expect_silence(f, fd);
        api_server_respond(f->srv, f->seen[i].ref,
                           &(struct http_response){.status = 204});
        /* A second answer to the same request is ignored. */
        api_server_respond(f->srv, f->seen[i].ref,
                           &(struct http_response){.status = 500});
        expect_recv(f, fd, ok204, sizeof(ok204) - 1);
    }
    expect_silence(f, fd);
    close(fd);
}

static void test_connection_limit(void **state)
{
    struct fixture *f = *state;
    int fds[API_MAX_CONNECTIONS], extra;

    for (int i = 0; i < API_MAX_CONNECTIONS; i++)
        fds[i] = client_connect(f);
    wait_conns(f, API_MAX_CONNECTIONS);

    extra = client_connect(f);
    expect_recv(f, extra,
                S("HTTP/1.1 503\r\nServer: Firecracker API\r\n"
                  "Connection: close\r\nContent-Length: 40\r\n\r\n"
                  "{ \"error\": \"Too many open connections\" }"));
    expect_eof(f, extra);
    close(extra);
    assert_int_equal(api_server_n_conns(f->srv), API_MAX_CONNECTIONS);

    /* The ten still work. */
    for (int i = 0; i < API_MAX_CONNECTIONS; i++) {
        client_send(f, fds[i], S("GET /n HTTP/1.1\r\n\r\n"));
        expect_ok(f, fds[i], "GET /n|");
    }
    /* One leaves: a newcomer gets in. */
    close(fds[3]);
    wait_conns(f, API_MAX_CONNECTIONS - 1);
    fds[3] = client_connect(f);
    client_send(f, fds[3], S("GET /new HTTP/1.1\r\n\r\n"));
    expect_ok(f, fds[3], "GET /new|");
    assert_int_equal(api_server_n_conns(f->srv), API_MAX_CONNECTIONS);
    for (int i = 0; i < API_MAX_CONNECTIONS; i++)
        close(fds[i]);
    wait_conns(f, 0);
}

static void test_payload_limit(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);

    /* Digest 2.5, byte for byte (limit 250). */
    client_send(f, fd, S("PUT /mmds HTTP/1.1\r\nContent-Length: 260\r\n\r\n"));
    expect_recv(f, fd,
                S("HTTP/1.1 400 \r\nServer: Firecracker API\r\n"
                  "Connection: keep-alive\r\nContent-Type: application/json\r\n"
                  "Content-Length: 145\r\n\r\n{ \"error\": \"Request payload "
                  "with size 260 is larger than the limit of 250 allowed by "
                  "server.\nAll previous unanswered requests will be "
                  "dropped.\" }"));
    assert_int_equal(f->n_seen, 0);
    /* The connection stays, and starts afresh. */
    client_send(f, fd, S("PUT /mmds HTTP/1.1\r\nContent-Length: 250\r\n\r\n"));
    {
        char body[250];

        memset(body, '7', sizeof(body));
        client_send(f, fd, body, sizeof(body));
    }
    pump(f, 30);
    assert_int_equal(f->n_seen, 1);
    assert_int_equal(f->seen[0].body_len, 250);
    close(fd);
}

static void test_parse_error_discards_input(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);

    /* The bad request and a good one in the same write: the good one is
     * discarded with the buffered input. */
    client_send(f, fd,
                S("POST / HTTP/1.1\r\n\r\nGET /dropped HTTP/1.1\r\n\r\n"));
    expect_recv(f, fd,
                S("HTTP/1.1 400 \r\nServer: Firecracker API\r\n"
                  "Connection: keep-alive\r\nContent-Type: application/json\r\n"
                  "Content-Length: 110\r\n\r\n{ \"error\": \"Invalid HTTP "
                  "Method: Unsupported HTTP method.\nAll previous unanswered "
                  "requests will be dropped.\" }"));
    expect_silence(f, fd);
    assert_int_equal(f->n_seen, 0);
    client_send(f, fd, S("GET /after HTTP/1.1\r\n\r\n"));
    expect_ok(f, fd, "GET /after|");
    close(fd);
}

static void test_deferred_many_connections(void **state)
{
    struct fixture *f = *state;
    int a = client_connect(f), b = client_connect(f), c = client_connect(f);

    f->defer = true;
    client_send(f, a, S("PUT /a HTTP/1.1\r\n\r\n"));
    client_send(f, b, S("PUT /b HTTP/1.1\r\n\r\n"));
    client_send(f, c, S("PUT /c HTTP/1.1\r\n\r\n"));
    pump(f, 50);
    assert_int_equal(f->n_seen, 3);
    /* Answer out of order, from outside any callback. */
    for (int i = 2; i >= 0; i--) {
        char body[300];

        snprintf(body, sizeof(body), "r%s", f->seen[i].uri);
        api_server_respond(f->srv, f->seen[i].ref,
                           &(struct http_response){.status = 200,
                                                   .body = body,
                                                   .body_len = strlen(body)});
    }
    for (int i = 0; i < 3; i++) {
        int fd = i == 0 ? a : i == 1 ? b : c;
        char echo[16];
        const char *uri = i == 0 ? "/a" : i == 1 ? "/b" : "/c";

        snprintf(echo, sizeof(echo), "r%s", uri);
        expect_ok(f, fd, echo);
    }
    close(a);
    close(b);
    close(c);
}

static void test_hangup_while_outstanding(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f), fd2;
    struct api_conn_ref old;

    f->defer = true;
    client_send(f, fd, S("PUT /slow HTTP/1.1\r\n\r\n"));
    pump(f, 30);
    assert_int_equal(f->n_seen, 1);
    old = f->seen[0].ref;
    assert_true(api_server_conn_alive(f->srv, old));
    close(fd);
    wait_conns(f, 0);
    assert_false(api_server_conn_alive(f->srv, old));
    /* Answering a gone connection is a no-op. */
    api_server_respond(f->srv, old, &(struct http_response){.status = 204});

    /* A new connection in the same slot is not reached by the stale handle. */
    fd2 = client_connect(f);
    client_send(f, fd2, S("PUT /new HTTP/1.1\r\n\r\n"));
    pump(f, 30);
    assert_int_equal(f->n_seen, 2);
    assert_int_equal(f->seen[1].ref.slot, old.slot);
    assert_true(f->seen[1].ref.gen != old.gen);
    api_server_respond(f->srv, old, &(struct http_response){.status = 500});
    expect_silence(f, fd2);
    api_server_respond(f->srv, f->seen[1].ref,
                       &(struct http_response){.status = 204});
    expect_recv(f, fd2,
                S("HTTP/1.1 204 \r\nServer: Firecracker API\r\n"
                  "Connection: keep-alive\r\n\r\n"));
    /* Half-close (read() == 0 / RDHUP) also drops the connection. */
    shutdown(fd2, SHUT_WR);
    wait_conns(f, 0);
    close(fd2);
}

static void test_expect_continue(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);

    client_send(f, fd,
                S("PUT /e HTTP/1.0\r\nExpect: 100-continue\r\n"
                  "Content-Length: 4\r\n\r\n"));
    expect_recv(f, fd,
                S("HTTP/1.0 100 \r\nServer: Firecracker API\r\n"
                  "Connection: keep-alive\r\n\r\n"));
    assert_int_equal(f->n_seen, 0);
    client_send(f, fd, S("body"));
    expect_ok(f, fd, "PUT /e|body");
    /* Head and body in one write: the interim answer still comes first. */
    client_send(f, fd,
                S("PATCH /g HTTP/1.1\r\nExpect: 100-continue\r\n"
                  "Content-Length: 2\r\n\r\nok"));
    expect_recv(f, fd,
                S("HTTP/1.1 100 \r\nServer: Firecracker API\r\n"
                  "Connection: keep-alive\r\n\r\n"));
    expect_ok(f, fd, "PATCH /g|ok");
    /* No body: no interim response. */
    client_send(f, fd, S("PUT /f HTTP/1.1\r\nExpect: 100-continue\r\n\r\n"));
    expect_ok(f, fd, "PUT /f|");
    close(fd);
}

static void test_split_request(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);
    static const char req[] = "PATCH /vm HTTP/1.1\r\nContent-Length: "
                              "19\r\n\r\n{\"state\":\"Paused\"} ";

    /* One byte per write, the loop stepped in between. */
    for (size_t i = 0; i < sizeof(req) - 1; i++) {
        client_send(f, fd, req + i, 1);
        evloop_run_once(f->loop, 1);
    }
    expect_ok(f, fd, "PATCH /vm|{\"state\":\"Paused\"} ");
    close(fd);
}

static void test_large_response_partial_writes(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);
    char *got = malloc(BIG_LEN + 512);
    static const char head[] =
        "HTTP/1.1 200 \r\nServer: Firecracker API\r\nConnection: keep-alive"
        "\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n";
    size_t n;

    assert_non_null(got);
    strcpy(f->big_body_uri, "/big");
    client_send(f, fd,
                S("GET /big HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n"));
    /* Let the server fill the socket before we read anything. */
    pump(f, 50);
    n = client_recv(f, fd, got, sizeof(head) - 1 + BIG_LEN);
    assert_int_equal(n, sizeof(head) - 1 + BIG_LEN);
    assert_memory_equal(got, head, sizeof(head) - 1);
    for (size_t i = 0; i < BIG_LEN; i++) {
        if (got[sizeof(head) - 1 + i] != (char)('a' + i % 26))
            fail_msg("body byte %zu differs", i);
    }
    /* The pipelined request behind it is answered after it. */
    expect_ok(f, fd, "GET /after|");
    free(got);
    close(fd);
}

static void test_passed_fds_closed(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f), pfd[2];
    char req[] = "GET /fd HTTP/1.1\r\n\r\n";
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = req, .iov_len = sizeof(req) - 1};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf)};
    struct cmsghdr *cm;
    char c;

    assert_int_equal(pipe2(pfd, O_NONBLOCK | O_CLOEXEC), 0);
    cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &pfd[1], sizeof(int));
    assert_int_equal(sendmsg(fd, &msg, 0), (ssize_t)(sizeof(req) - 1));
    close(pfd[1]);
    expect_ok(f, fd, "GET /fd|");
    /* The only other copy of the write end was the server's: EOF means it
     * was closed. */
    assert_int_equal(read(pfd[0], &c, 1), 0);
    close(pfd[0]);
    close(fd);
}

static void test_read_error_500(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);

    wait_conns(f, 1);
    fail_next_recvmsg = ECONNRESET;
    client_send(f, fd, S("GET /lost HTTP/1.1\r\n\r\n"));
    expect_recv(f, fd,
                S("HTTP/1.1 500 \r\nServer: Firecracker API\r\n"
                  "Connection: keep-alive\r\nContent-Type: application/json\r\n"
                  "Content-Length: 39\r\n\r\n"
                  "Connection reset by peer (os error 104)"));
    /* The bytes were not lost, only delayed: the socket still holds them. */
    expect_ok(f, fd, "GET /lost|");
    assert_int_equal(api_server_n_conns(f->srv), 1);
    close(fd);
}

static void test_flush_at_shutdown(void **state)
{
    struct fixture *f = *state;
    int fd = client_connect(f);
    char got[128];
    static const char want[] = "HTTP/1.1 204 \r\nServer: Firecracker API\r\n"
                               "Connection: keep-alive\r\n\r\n";
    ssize_t n;

    f->defer = true;
    client_send(f, fd, S("PUT /actions HTTP/1.1\r\n\r\n"));
    pump(f, 30);
    assert_int_equal(f->n_seen, 1);
    api_server_respond(f->srv, f->seen[0].ref,
                       &(struct http_response){.status = 204});
    /* The loop is not stepped again: only the flush can send it. */
    api_server_flush(f->srv, 1000);
    n = recv(fd, got, sizeof(got), 0);
    assert_int_equal(n, (ssize_t)(sizeof(want) - 1));
    assert_memory_equal(got, want, sizeof(want) - 1);
    close(fd);
}

/*
 * Ten clients pipeline requests, sent in random pieces; outstanding requests
 * are answered in a random order across connections. Every client must get
 * exactly its own answers, in its own order.
 */
static void test_random_interleaving(void **state)
{
    enum { N = API_MAX_CONNECTIONS, PER = 12 };
    struct fixture *f = *state;
    int fds[N];
    static char reqs[N][PER * 64], want[N][PER * 200], got[N][PER * 200];
    size_t req_len[N], sent[N], want_len[N], got_len[N];
    unsigned seed = 12345;
    uint64_t end = now_ms() + 10000;
    int answered = 0;

    for (int i = 0; i < N; i++) {
        fds[i] = client_connect(f);
        req_len[i] = sent[i] = want_len[i] = got_len[i] = 0;
        for (int k = 0; k < PER; k++) {
            char uri[32], echo[64];

            snprintf(uri, sizeof(uri), "/c%d/r%d", i, k);
            if (k % 3 == 1) {
                req_len[i] += (size_t)sprintf(
                    reqs[i] + req_len[i],
                    "PUT %s HTTP/1.1\r\nContent-Length: 2\r\n\r\n%02d", uri, k);
                snprintf(echo, sizeof(echo), "PUT %s|%02d", uri, k);
            } else {
                req_len[i] += (size_t)sprintf(reqs[i] + req_len[i],
                                              "GET %s HTTP/1.1\r\n\r\n", uri);
                snprintf(echo, sizeof(echo), "GET %s|", uri);
            }
            want_len[i] += ok_response(want[i] + want_len[i],
                                       sizeof(want[i]) - want_len[i], echo);
        }
    }
    wait_conns(f, N);
    f->defer = true;
    while (answered < N * PER) {
        int i = (int)(rand_r(&seed) % N);
        size_t piece = 1 + rand_r(&seed) % 40;

        assert_true(now_ms() < end);
        /* A random piece of a random client's stream. */
        if (piece > req_len[i] - sent[i])
            piece = req_len[i] - sent[i];
        if (piece)
            client_send(f, fds[i], reqs[i] + sent[i], piece);
        sent[i] += piece;
        evloop_run_once(f->loop, 1);
        /* At most one request per connection is outstanding. */
        assert_true(f->n_seen <= N);
        /* Answer a random outstanding request, and forget it. */
        if (f->n_seen > 0 && rand_r(&seed) % 2) {
            int pick = (int)(rand_r(&seed) % (unsigned)f->n_seen);
            struct seen r = f->seen[pick];
            char body[600];
            int n = snprintf(body, sizeof(body), "%s %s|%.*s",
                             http_method_str(r.method), r.uri, (int)r.body_len,
                             r.body);

            f->seen[pick] = f->seen[--f->n_seen];
            api_server_respond(f->srv, r.ref,
                               &(struct http_response){.status = 200,
                                                       .body = body,
                                                       .body_len = (size_t)n});
            answered++;
        }
        for (int k = 0; k < N; k++) {
            ssize_t r = recv(fds[k], got[k] + got_len[k],
                             sizeof(got[k]) - got_len[k], 0);

            if (r > 0)
                got_len[k] += (size_t)r;
        }
    }
    for (int i = 0; i < N; i++) {
        got_len[i] += client_recv(f, fds[i], got[i] + got_len[i],
                                  want_len[i] - got_len[i]);
        assert_int_equal(got_len[i], want_len[i]);
        assert_memory_equal(got[i], want[i], want_len[i]);
        close(fds[i]);
    }
}

static void test_free_with_live_connections(void **state)
{
    struct fixture *f = *state;
    int a = client_connect(f), b = client_connect(f);

    f->defer = true;
    client_send(f, a, S("PUT /x HTTP/1.1\r\n\r\n"));
    wait_conns(f, 2);
    pump(f, 20);
    /* teardown frees the server with one request outstanding; the clients
     * then see the connections closed. */
    api_server_free(f->srv);
    f->srv = NULL;
    assert_int_equal(recv(a, &(char){0}, 1, 0), 0);
    assert_int_equal(recv(b, &(char){0}, 1, 0), 0);
    close(a);
    close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bind_never_unlinks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bind_renames_into_place, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelining_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pipelining_deferred, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_connection_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payload_limit, setup_small,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_parse_error_discards_input, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deferred_many_connections, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hangup_while_outstanding, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_expect_continue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_response_partial_writes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_passed_fds_closed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_read_error_500, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_at_shutdown, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_random_interleaving, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_free_with_live_connections, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
