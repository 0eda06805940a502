/*
 * startup_floor.c: the start-up floor for `bench_api --startup`: the least
 * a program shaped like squib can cost on this machine. Linked as squib is
 * (static PIE), it binds the Unix socket given as its last argument, starts
 * one thread and answers every request on every connection with one fixed
 * response; no logging, no seccomp, no event loop. What squib costs above
 * it is squib's own.
 *
 * usage: startup_floor --api-sock PATH
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void *serve(void *arg)
{
    static const char resp[] = "HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\n{}";
    int listen_fd = *(int *)arg;
    char buf[4096];

    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

        if (fd < 0)
            return NULL;
        while (read(fd, buf, sizeof(buf)) > 0)
            if (write(fd, resp, sizeof(resp) - 1) < 0)
                break;
        close(fd);
    }
}

int main(int argc, char **argv)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    pthread_t t;
    int fd;

    if (argc < 2)
        return 2;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[argc - 1]);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, 16) < 0)
        return 1;
    if (pthread_create(&t, NULL, serve, &fd))
        return 1;
    pthread_join(t, NULL);
    return 0;
}
