/*
 * vsock_echo.c: the AF_VSOCK side of the real-Linux vsock test, a small
 * static program in the Linux test root file system (/bin/vsock_echo,
 * built by scripts/mkrootfs.sh with the host compiler and -static) that
 * scripts/guest/init runs for squib.test=vsock.
 *
 *   vsock_echo listen PORT [COUNT]
 *       listen on AF_VSOCK port PORT, accept COUNT connections (default
 *       1) one after the other and echo each until the peer shuts down;
 *       one line per connection:
 *       SQUIB-VSOCK-ECHO port=P bytes=N fnv1a=0x...
 *   vsock_echo send CID PORT BYTES
 *       connect to (CID, PORT), send BYTES bytes of the test pattern
 *       (vp_pattern(1, i), tests/guest/vsockproto.h, so the host can check
 *       it without a copy), shut down the sending side, wait for the peer
 *       to close; one line:
 *       SQUIB-VSOCK-SENT port=P bytes=N fnv1a=0x... result=ok|<errno text>
 *
 * It prints SQUIB-VSOCK-LISTENING port=P once it listens, so the host
 * knows when to CONNECT. Exit status 0, or 1 after a failure line.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "../vsockproto.h"

static unsigned long arg_ul(const char *s)
{
    char *end;
    unsigned long v = strtoul(s, &end, 0);

    if (*s == '\0' || *end != '\0') {
        fprintf(stderr, "vsock_echo: bad number '%s'\n", s);
        exit(2);
    }
    return v;
}

static int echo_one(int lfd, unsigned port)
{
    static uint8_t buf[65536];
    uint64_t h = VP_FNV_INIT, total = 0;
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

    if (fd < 0) {
        printf("SQUIB-VSOCK-ECHO port=%u result=accept:%s\n", port,
               strerror(errno));
        return -1;
    }
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        size_t off = 0;

        if (r <= 0)
            break;
        h = vp_fnv(h, buf, (size_t)r);
        total += (uint64_t)r;
        while (off < (size_t)r) {
            ssize_t w = write(fd, buf + off, (size_t)r - off);

            if (w <= 0)
                break;
            off += (size_t)w;
        }
        if (off < (size_t)r)
            break;
    }
    close(fd);
    printf("SQUIB-VSOCK-ECHO port=%u bytes=%llu fnv1a=0x%llx result=ok\n", port,
           (unsigned long long)total, (unsigned long long)h);
    fflush(stdout);
    return 0;
}

static int do_listen(unsigned port, unsigned long count)
{
    struct sockaddr_vm sa = {
        .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port};
    int lfd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(lfd, 16) < 0) {
        printf("SQUIB-VSOCK-LISTENING port=%u result=%s\n", port,
               strerror(errno));
        return 1;
    }
    printf("SQUIB-VSOCK-LISTENING port=%u\n", port);
    fflush(stdout);
    for (unsigned long i = 0; i < count; i++) {
        if (echo_one(lfd, port) < 0)
            return 1;
    }
    close(lfd);
    return 0;
}

static int do_send(unsigned cid, unsigned port, uint64_t bytes)
{
    static uint8_t buf[65536];
    struct sockaddr_vm sa = {
        .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port};
    uint64_t h = VP_FNV_INIT, sent = 0;
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const char *result = "ok";

    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        result = strerror(errno);
        goto out;
    }
    while (sent < bytes) {
        size_t n = sizeof(buf), off = 0;

        if (n > bytes - sent)
            n = (size_t)(bytes - sent);
        for (size_t i = 0; i < n; i++)
            buf[i] = vp_pattern(1, sent + i);
        while (off < n) {
            ssize_t w = write(fd, buf + off, n - off);

            if (w <= 0) {
                result = strerror(errno);
                goto out;
            }
            off += (size_t)w;
        }
        h = vp_fnv(h, buf, n);
        sent += n;
    }
    shutdown(fd, SHUT_WR);
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
out:
    if (fd >= 0)
        close(fd);
    printf("SQUIB-VSOCK-SENT port=%u bytes=%llu fnv1a=0x%llx result=%s\n", port,
           (unsigned long long)sent, (unsigned long long)h, result);
    return strcmp(result, "ok") != 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "listen"))
        return do_listen((unsigned)arg_ul(argv[2]),
                         argc > 3 ? arg_ul(argv[3]) : 1);
    if (argc == 5 && !strcmp(argv[1], "send"))
        return do_send((unsigned)arg_ul(argv[2]), (unsigned)arg_ul(argv[3]),
                       arg_ul(argv[4]));
    fprintf(stderr, "usage: vsock_echo listen PORT [COUNT]\n"
                    "       vsock_echo send CID PORT BYTES\n");
    return 2;
}
