/*
 * test_uffd.c: the Uffd snapshot memory backend for real (userfaultfd,
 * Unix sockets, build/squib-uffd-handler), no KVM needed.
 *
 *  - the handshake message: upstream's exact JSON, the reader's rules
 *    (inputs end at a PROT_NONE page), the completeness check;
 *  - end to end: snapshot_memory_from_uffd_fds (what PUT /snapshot/load
 *    runs) maps anonymous memory, registers it and hands it to the
 *    squib-uffd-handler binary serving a real memory file; a second thread
 *    reads and writes the pages, which hold the file's bytes; a
 *    madvise(MADV_DONTNEED) (the balloon's) is a remove event, after which
 *    the page reads as zeros; closing the socket ends the handler with 0;
 *  - errors: socket missing, not listening, path too long, a handler that
 *    hung up before the send (upstream's texts); a memory file whose size
 *    does not match the regions, and handshakes without a uffd, with two
 *    fds, cut short or malformed (the handler refuses them, exits 1).
 *
 * The handler binary is found beside the test's build directory
 * (<build>/tests/unit/test_uffd -> <build>/squib-uffd-handler).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "guard.h"
#include "snapshot/load_uffd.h"
#include "snapshot/uffd.h"
#include "snapshot/uffd_msg.h"

#define MIB (1ULL << 20)

/* ---- the message -------------------------------------------------- */

static void test_msg_write_is_upstreams(void **state)
{
    const struct uffd_region_map m[2] = {
        {0x7f0000000000ULL, 3ULL << 30, 0, 4096},
        {0x7f1000000000ULL, 2 * MIB, 3ULL << 30, 4096},
    };
    struct buf b = BUF_INIT;

    (void)state;
    uffd_msg_write(m, 2, &b);
    assert_string_equal(
        b.data,
        "[{\"base_host_virt_addr\":139637976727552,\"size\":3221225472,"
        "\"offset\":0,\"page_size\":4096,\"page_size_kib\":4096},"
        "{\"base_host_virt_addr\":139706696204288,\"size\":2097152,"
        "\"offset\":3221225472,\"page_size\":4096,\"page_size_kib\":4096}]");
    buf_fini(&b);
}

static int parse_guarded(const char *s, struct uffd_region_map *out, size_t *n,
                         struct sq_err *err)
{
    struct guarded g;
    int rc;

    guard_init(&g, s, strlen(s));
    rc = uffd_msg_parse(g.p, strlen(s), out, n, err);
    guard_fini(&g);
    return rc;
}

static void test_msg_round_trip_and_unknown_fields(void **state)
{
    struct uffd_region_map out[UFFD_MSG_MAX_REGIONS];
    const struct uffd_region_map m = {0x200000, 4 * MIB, 8192, 2 * MIB};
    struct buf b = BUF_INIT;
    struct sq_err err;
    size_t n;

    (void)state;
    uffd_msg_write(&m, 1, &b);
    assert_int_equal(parse_guarded(b.data, out, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(&out[0], &m, sizeof(m));
    buf_fini(&b);
    /* Without page_size_kib, with fields the reader does not know, in any
     * order, with white space: as serde's derive reads it. */
    assert_int_equal(
        parse_guarded(" [ {\"page_size\":4096, \"x\":[1,{}], \"offset\":0,"
                      "\"size\":4096,\"base_host_virt_addr\":4096} ]\n",
                      out, &n, &err),
        0);
    assert_int_equal(n, 1);
    assert_true(out[0].base_host_virt_addr == 4096 && out[0].size == 4096);
}

static void test_msg_errors(void **state)
{
    static const struct {
        const char *in, *msg;
    } cases[] = {
        {"", "EOF while parsing a value at line 1 column 0"},
        {"[1", "EOF while parsing a list at line 1 column 2"},
        {"{}", "the message is not a JSON array"},
        {"[]", "the message lists no region"},
        {"[3]", "region 0 is not an object"},
        {"[{\"size\":4096,\"offset\":0,\"page_size\":4096}]",
         "region 0: missing field `base_host_virt_addr`"},
        {"[{\"base_host_virt_addr\":4096,\"size\":4096.0,\"offset\":0,"
         "\"page_size\":4096}]",
         "region 0: `size` is not an unsigned integer"},
        {"[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":-1,"
         "\"page_size\":4096}]",
         "region 0: `offset` is not an unsigned integer"},
        {"[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":0,"
         "\"page_size\":3000}]",
         "page_size 3000 is not a power of two of at least 4096"},
        {"[{\"base_host_virt_addr\":4096,\"size\":4096,\"offset\":0,"
         "\"page_size\":1024}]",
         "page_size 1024 is not a power of two of at least 4096"},
        {"[{\"base_host_virt_addr\":4096,\"size\":0,\"offset\":0,"
         "\"page_size\":4096}]",
         "region 0: size 0 is not a positive multiple of the page size"},
        {"[{\"base_host_virt_addr\":4097,\"size\":4096,\"offset\":0,"
         "\"page_size\":4096}]",
         "region 0: base_host_virt_addr is not aligned to the page size"},
        {"[{\"base_host_virt_addr\":18446744073709547520,\"size\":8192,"
         "\"offset\":0,\"page_size\":4096}]",
         "region 0: the region wraps around the address space or the file "
         "offset"},
        {"[{\"base_host_virt_addr\":4096,\"size\":8192,\"offset\":0,"
         "\"page_size\":4096},{\"base_host_virt_addr\":8192,\"size\":4096,"
         "\"offset\":8192,\"page_size\":4096}]",
         "regions 0 and 1 overlap"},
        {"[{\"base_host_virt_addr\":0,\"size\":2097152,\"offset\":0,"
         "\"page_size\":2097152},{\"base_host_virt_addr\":4194304,\"size\":"
         "4096,\"offset\":2097152,\"page_size\":4096}]",
         "region 1: page_size 4096 differs from the first region's 2097152"},
    };
    struct uffd_region_map out[UFFD_MSG_MAX_REGIONS];
    struct sq_err err;
    size_t n;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sq_err_clear(&err);
        assert_int_equal(parse_guarded(cases[i].in, out, &n, &err), -EINVAL);
        assert_int_equal(n, 0);
        assert_string_equal(err.msg, cases[i].msg);
    }
}

static void test_msg_too_many_regions(void **state)
{
    struct uffd_region_map m[UFFD_MSG_MAX_REGIONS + 1];
    struct uffd_region_map out[UFFD_MSG_MAX_REGIONS];
    struct buf b = BUF_INIT;
    struct sq_err err;
    size_t n;

    (void)state;
    for (size_t i = 0; i <= UFFD_MSG_MAX_REGIONS; i++)
        m[i] = (struct uffd_region_map){(i + 1) * 8192, 4096, i * 4096, 4096};
    uffd_msg_write(m, UFFD_MSG_MAX_REGIONS, &b);
    assert_int_equal(parse_guarded(b.data, out, &n, &err), 0);
    assert_int_equal(n, UFFD_MSG_MAX_REGIONS);
    buf_reset(&b);
    uffd_msg_write(m, UFFD_MSG_MAX_REGIONS + 1, &b);
    assert_int_equal(parse_guarded(b.data, out, &n, &err), -EINVAL);
    assert_string_equal(err.msg, "the message lists more than 64 regions");
    buf_fini(&b);
}

static void test_msg_complete(void **state)
{
    (void)state;
    assert_int_equal(uffd_msg_complete("", 0), 0);
    assert_int_equal(uffd_msg_complete("  \n", 3), 0);
    assert_int_equal(uffd_msg_complete("[{\"a\":1}", 8), 0);
    assert_int_equal(uffd_msg_complete("[{\"a\":1}]", 9), 1);
    /* Brackets inside strings, escaped quotes. */
    assert_int_equal(uffd_msg_complete("[\"]\\\"]\"", 7), 0);
    assert_int_equal(uffd_msg_complete("[\"]\\\"]\"]", 8), 1);
    assert_int_equal(uffd_msg_complete("{}", 2), -1);
    assert_int_equal(uffd_msg_complete("x", 1), -1);
    /* Stray closers before the first opener do not count. */
    assert_int_equal(uffd_msg_complete("[]]", 3), 1);
}

/* ---- the handler binary ----------------------------------------------- */

struct fixture {
    char dir[64];
    char sock[128];
    char mem[128];
    char log[128];
    pid_t pid;
};

static void handler_path(char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    assert_true(n > 0);
    exe[n] = 0;
    /* <build>/tests/unit/test_uffd */
    snprintf(out, len, "%s/squib-uffd-handler", dirname(dirname(dirname(exe))));
}

static uint8_t pattern_byte(uint64_t off)
{
    uint64_t x = off * 0x9e3779b97f4a7c15ULL;

    return (uint8_t)(x >> 56) ^ (uint8_t)(off >> 12);
}

static void write_mem_file(const char *path, uint64_t size)
{
    uint8_t *b = malloc(MIB);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    assert_non_null(b);
    assert_true(fd >= 0);
    for (uint64_t off = 0; off < size; off += MIB) {
        size_t n = size - off < MIB ? (size_t)(size - off) : MIB;

        for (uint64_t i = 0; i < n; i++)
            b[i] = pattern_byte(off + i);
        assert_int_equal(write(fd, b, n), (ssize_t)n);
    }
    close(fd);
    free(b);
}

/* Start squib-uffd-handler on a fresh socket and a memory file of
 * file_size bytes; returns once the socket exists. */
static void start_handler(struct fixture *f, uint64_t file_size)
{
    char bin[PATH_MAX];
    struct stat st;

    handler_path(bin, sizeof(bin));
    assert_int_equal(access(bin, X_OK), 0);
    snprintf(f->dir, sizeof(f->dir), "/tmp/uffd-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->sock, sizeof(f->sock), "%s/h.sock", f->dir);
    snprintf(f->mem, sizeof(f->mem), "%s/vm.mem", f->dir);
    snprintf(f->log, sizeof(f->log), "%s/h.log", f->dir);
    write_mem_file(f->mem, file_size);
    f->pid = fork();
    assert_true(f->pid >= 0);
    if (f->pid == 0) {
        int fd = open(f->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        dup2(fd, 1);
        dup2(fd, 2);
        execl(bin, bin, "--no-kill-peer", f->sock, f->mem, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        if (stat(f->sock, &st) == 0 && S_ISSOCK(st.st_mode))
            return;
        usleep(10000);
    }
    fail_msg("squib-uffd-handler did not create its socket");
}

/* Wait up to 10 s for the handler; returns its exit status. */
static int wait_handler(struct fixture *f)
{
    int status;

    for (int i = 0; i < 1000; i++) {
        pid_t r = waitpid(f->pid, &status, WNOHANG);

        if (r == f->pid) {
            f->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        }
        usleep(10000);
    }
    kill(f->pid, SIGKILL);
    waitpid(f->pid, &status, 0);
    f->pid = 0;
    fail_msg("squib-uffd-handler did not exit");
    return -1;
}

static bool log_has(const struct fixture *f, const char *needle)
{
    char text[4096] = "";
    FILE *fp = fopen(f->log, "r");
    size_t n;

    if (!fp)
        return false;
    n = fread(text, 1, sizeof(text) - 1, fp);
    text[n] = 0;
    fclose(fp);
    return strstr(text, needle) != NULL;
}

static void cleanup(struct fixture *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGKILL);
        waitpid(f->pid, NULL, 0);
    }
    unlink(f->sock);
    unlink(f->mem);
    unlink(f->log);
    rmdir(f->dir);
}

/* What the second thread does with the guest memory. */
struct toucher {
    struct guest_mem *gm;
    uint64_t mismatches, checked;
    bool zero_after_remove;
    bool done;
};

static void *touch_pages(void *opaque)
{
    struct toucher *t = opaque;
    const struct guest_region *r = &t->gm->regions[0];
    volatile uint8_t *p = r->hva;

    /* Every 7th page read through (one fault each), then checked byte for
     * byte against the file's pattern. */
    for (uint64_t off = 0; off < r->size; off += 7 * 4096) {
        for (uint64_t i = 0; i < 4096; i++)
            if (p[off + i] != pattern_byte(off + i))
                t->mismatches++;
        t->checked++;
    }
    /* A write to a page not yet there: its fault brings the file's page,
     * then the write lands on it. */
    p[4096 + 5] = 0xAB;
    if (p[4096 + 4] != pattern_byte(4096 + 4) || p[4096 + 5] != 0xAB)
        t->mismatches++;
    /* The balloon's madvise: a remove event; the page is then zero. */
    if (madvise(r->hva, 4096, MADV_DONTNEED) != 0)
        t->mismatches++;
    t->zero_after_remove = true;
    for (uint64_t i = 0; i < 4096; i++)
        if (p[i] != 0)
            t->zero_after_remove = false;
    t->done = true;
    return NULL;
}

/* Restore 8 MiB of guest RAM with `hp` through the handler and use it. */
static void end_to_end(enum guest_mem_huge_pages hp)
{
    struct fixture f;
    struct guest_mem *gm = NULL;
    struct toucher t = {0};
    struct sq_err err;
    struct timespec deadline;
    pthread_t th;
    int uffd, sock;

    start_handler(&f, 8 * MIB);
    sq_err_clear(&err);
    assert_int_equal(snapshot_memory_from_uffd_fds(8, hp, NULL, f.sock, &gm,
                                                   &uffd, &sock, &err),
                     0);
    assert_non_null(gm);
    assert_true(uffd >= 0 && sock >= 0);
    t.gm = gm;
    assert_int_equal(pthread_create(&th, NULL, touch_pages, &t), 0);
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 30;
    if (pthread_timedjoin_np(th, NULL, &deadline) != 0)
        fail_msg("the page-touching thread hung: faults not served");
    assert_true(t.done);
    assert_int_equal(t.checked, (8 * MIB + 7 * 4096 - 1) / (7 * 4096));
    assert_int_equal(t.mismatches, 0);
    assert_true(t.zero_after_remove);
    /* squib's end hangs up: the handler is done, successfully. */
    close(sock);
    assert_int_equal(wait_handler(&f), 0);
    assert_true(log_has(&f, "sent 1 region(s), page size 4096"));
    assert_true(log_has(&f, "faults, "));
    assert_false(log_has(&f, " 0 pages copied"));
    close(uffd);
    guest_mem_free(gm);
    cleanup(&f);
}

static void test_end_to_end_with_the_handler(void **state)
{
    (void)state;
    end_to_end(GUEST_MEM_HUGE_NONE);
}

/* "Transparent": MADV_HUGEPAGE memory, still 4 KiB pages to the handler
 * (upstream's page_size for it). */
static void test_end_to_end_transparent_huge_pages(void **state)
{
    (void)state;
    end_to_end(GUEST_MEM_HUGE_THP);
}

static void test_file_size_mismatch_ends_the_handler(void **state)
{
    struct fixture f;
    struct guest_mem *gm = NULL;
    struct sq_err err;
    int uffd, sock;

    (void)state;
    /* 4 MiB of file for 8 MiB of guest: the handshake goes through (squib
     * never sees the file, as upstream), the handler refuses it. */
    start_handler(&f, 4 * MIB);
    assert_int_equal(snapshot_memory_from_uffd_fds(8, GUEST_MEM_HUGE_NONE, NULL,
                                                   f.sock, &gm, &uffd, &sock,
                                                   &err),
                     0);
    assert_int_equal(wait_handler(&f), 1);
    assert_true(log_has(&f, "The regions total 8388608 bytes but the memory "
                            "file has 4194304"));
    close(sock);
    close(uffd);
    guest_mem_free(gm);
    cleanup(&f);
}

/* A VMM that sends `msg` with n_fds fds (copies of stdin) and then hangs
 * up: the handler must refuse it with `text` in its log and exit 1. */
static void expect_handler_refusal(const char *msg, size_t len, int n_fds,
                                   uint64_t file_size, const char *text)
{
    union {
        struct cmsghdr hdr;
        char bytes[CMSG_SPACE(3 * sizeof(int))];
    } ctl;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct iovec iov = {.iov_base = (void *)(uintptr_t)msg, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    struct fixture f;
    int fds[3] = {0, 0, 0};
    int sock;

    start_handler(&f, file_size);
    memcpy(sa.sun_path, f.sock, strlen(f.sock) + 1);
    sock = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(connect(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
    if (n_fds) {
        memset(&ctl, 0, sizeof(ctl));
        mh.msg_control = ctl.bytes;
        mh.msg_controllen = CMSG_SPACE((size_t)n_fds * sizeof(int));
        CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
        CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
        CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN((size_t)n_fds * sizeof(int));
        memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), fds, (size_t)n_fds * sizeof(int));
    }
    assert_int_equal(sendmsg(sock, &mh, 0), (ssize_t)len);
    close(sock);
    assert_int_equal(wait_handler(&f), 1);
    if (!log_has(&f, text))
        fail_msg("the handler's log lacks: %s", text);
    cleanup(&f);
}

static void test_handler_refuses_bad_handshakes(void **state)
{
    static const char ok[] = "[{\"base_host_virt_addr\":4096,\"size\":"
                             "4096,\"offset\":0,\"page_size\":4096}]";
    static const char bad[] = "[{\"base_host_virt_addr\":4096,\"size\":"
                              "4096,\"offset\":0,\"page_size\":100}]";

    (void)state;
    expect_handler_refusal(ok, strlen(ok), 0, 4096,
                           "The handshake came without a userfaultfd");
    expect_handler_refusal(ok, strlen(ok), 2, 4096,
                           "The handshake came with more than one file "
                           "descriptor");
    expect_handler_refusal(ok, 10, 1, 4096,
                           "The VMM hung up before its handshake was "
                           "complete (10 bytes)");
    expect_handler_refusal("{}", 2, 1, 4096,
                           "Cannot deserialize memory mappings: the message "
                           "is not a JSON array");
    expect_handler_refusal(bad, strlen(bad), 1, 4096,
                           "Cannot deserialize memory mappings: page_size "
                           "100 is not a power of two of at least 4096");
    expect_handler_refusal(ok, strlen(ok), 1, 8192,
                           "The regions total 4096 bytes but the memory file "
                           "has 8192");
}

/* ---- errors squib reports ------------------------------------------ */

#define ERR_CONNECT                                                            \
    "Error creating guest memory from uffd: Failed to connect to UDS Unix "    \
    "stream: "

static void expect_load_error(const char *path, const char *msg)
{
    struct guest_mem *gm = (struct guest_mem *)1;
    struct sq_err err;
    int uffd = 0, sock = 0;

    sq_err_clear(&err);
    assert_true(snapshot_memory_from_uffd_fds(4, GUEST_MEM_HUGE_NONE, NULL,
                                              path, &gm, &uffd, &sock,
                                              &err) < 0);
    assert_null(gm);
    assert_int_equal(uffd, -1);
    assert_int_equal(sock, -1);
    assert_string_equal(err.msg, msg);
}

static void test_bad_socket_paths(void **state)
{
    char dir[] = "/tmp/uffd-test-XXXXXX", path[200], lng[200];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/inexistent", dir);
    expect_load_error(path,
                      ERR_CONNECT "No such file or directory (os error 2)");
    /* A plain file where the socket should be (upstream's "unbinded
     * socket" test). */
    snprintf(path, sizeof(path), "%s/file", dir);
    fd = open(path, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
    expect_load_error(path, ERR_CONNECT "Connection refused (os error 111)");
    unlink(path);
    /* A socket bound but not listening. */
    snprintf(path, sizeof(path), "%s/bound", dir);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    expect_load_error(path, ERR_CONNECT "Connection refused (os error 111)");
    close(fd);
    unlink(path);
    memset(lng, 'a', 108);
    lng[108] = 0;
    expect_load_error(lng, ERR_CONNECT "path must be shorter than SUN_LEN");
    rmdir(dir);
}

static void test_handler_hung_up_before_the_send(void **state)
{
    char dir[] = "/tmp/uffd-test-XXXXXX", path[200];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct uffd_region_map m = {0x10000, 4096, 0, 4096};
    struct pollfd pfd;
    struct sq_err err;
    int lfd, conn, sock, uffd;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/h.sock", dir);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 1), 0);
    assert_int_equal(uffd_connect(path, &sock, &err), 0);
    /* The handler accepts and hangs up before the message is sent. */
    conn = accept(lfd, NULL, NULL);
    assert_true(conn >= 0);
    close(conn);
    pfd = (struct pollfd){.fd = sock, .events = POLLRDHUP};
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    assert_int_equal(uffd_open(&uffd, &err), 0);
    assert_int_equal(uffd_send(sock, &m, 1, uffd, &err), -EPIPE);
    assert_string_equal(err.msg, "Failed to sends file descriptor: Broken "
                                 "pipe (os error 32)");
    close(uffd);
    close(sock);
    close(lfd);
    unlink(path);
    rmdir(dir);
}

static void test_register_needs_a_mapping(void **state)
{
    struct sq_err err;
    int uffd;

    (void)state;
    assert_int_equal(uffd_open(&uffd, &err), 0);
    /* Nothing is mapped at address 4096. */
    assert_true(uffd_register(uffd, (void *)4096, 4096, &err) < 0);
    assert_string_equal(err.msg, "Failed to register memory address range "
                                 "with the userfaultfd object: System error");
    close(uffd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msg_write_is_upstreams),
        cmocka_unit_test(test_msg_round_trip_and_unknown_fields),
        cmocka_unit_test(test_msg_errors),
        cmocka_unit_test(test_msg_too_many_regions),
        cmocka_unit_test(test_msg_complete),
        cmocka_unit_test(test_end_to_end_with_the_handler),
        cmocka_unit_test(test_end_to_end_transparent_huge_pages),
        cmocka_unit_test(test_file_size_mismatch_ends_the_handler),
        cmocka_unit_test(test_handler_refuses_bad_handshakes),
        cmocka_unit_test(test_bad_socket_paths),
        cmocka_unit_test(test_handler_hung_up_before_the_send),
        cmocka_unit_test(test_register_needs_a_mapping),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
