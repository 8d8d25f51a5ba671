/* SPDX-License-Identifier: MIT */
/*
 * tcp.c — whether something listens: one non-blocking TCP connect.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "util/macro.h"
#include "util/tcp.h"

int tcp_probe(const char *address, uint16_t port, uint64_t timeout_usec) {
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } sa = {};
        socklen_t sa_len, len = sizeof(int);
        _cleanup_close_ int fd = -EBADF;
        struct pollfd pfd;
        int err = 0, r;

        if (inet_pton(AF_INET, address, &sa.in.sin_addr) == 1) {
                sa.in.sin_family = AF_INET;
                sa.in.sin_port = htons(port);
                sa_len = sizeof sa.in;
        } else if (inet_pton(AF_INET6, address, &sa.in6.sin6_addr) == 1) {
                sa.in6.sin6_family = AF_INET6;
                sa.in6.sin6_port = htons(port);
                sa_len = sizeof sa.in6;
        } else
                return -EINVAL;
        fd = socket(sa.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, &sa.sa, sa_len) >= 0)
                return 1;
        if (errno == ECONNREFUSED || errno == ECONNRESET)
                return 0;
        if (errno != EINPROGRESS)
                return -errno;
        pfd = (struct pollfd) { .fd = fd, .events = POLLOUT };
        r = poll(&pfd, 1, (int) MIN(timeout_usec / USEC_PER_MSEC, (uint64_t) 60000));
        if (r < 0)
                return -errno;
        if (r == 0)
                return 0;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                return -errno;
        return err == 0 ? 1 : 0;
}
