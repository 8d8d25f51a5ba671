/* SPDX-License-Identifier: MIT */
/*
 * tcp.c — whether something listens: one non-blocking TCP connect; and a
 * host name looked up within a deadline.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/macro.h"
#include "util/tcp.h"
#include "util/time.h"

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

/* One lookup by getaddrinfo_a(3). Two hold it: the caller, and glibc's
 * notification once the lookup is over. A caller that gives up at its
 * deadline leaves the lookup running (a resolver waiting for an answer
 * cannot be cancelled) and lets go of its part; whoever lets go last frees
 * it, with the addresses nobody took. */
typedef struct Lookup {
        struct gaicb cb;
        struct addrinfo hints;
        int holders;
        char names[];           /* host, NUL, port, NUL */
} Lookup;

static void lookup_release(Lookup *l) {
        if (__atomic_sub_fetch(&l->holders, 1, __ATOMIC_ACQ_REL) > 0)
                return;
        if (l->cb.ar_result)
                freeaddrinfo(l->cb.ar_result);
        free(l);
}

static void lookup_over(union sigval v) {
        lookup_release(v.sival_ptr);
}

/* getaddrinfo(3) would wait as long as the resolver's own timeouts
 * (resolv.conf's timeout × attempts, per name server: 30 s by default with
 * three servers, up to minutes when an operator raised them), and a DNS
 * server that has gone silent would hold a backup or a restore's wait for
 * etcd past every deadline it has. A literal address needs no resolver
 * and is converted at once. */
int tcp_resolve(const char *host, const char *port, uint64_t deadline, struct addrinfo **ret, int *ret_gai_error,
                int *ret_errno) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV | AI_NUMERICHOST };
        size_t host_len = strlen(host), port_len = strlen(port);
        struct sigevent over = { .sigev_notify = SIGEV_THREAD, .sigev_notify_function = lookup_over };
        struct gaicb *list[1];
        Lookup *l;
        int k;

        *ret = NULL;
        *ret_gai_error = 0;
        *ret_errno = 0;
        k = getaddrinfo(host, port, &hints, ret);
        if (k != EAI_NONAME) {
                *ret_errno = errno;
                goto done;
        }

        l = calloc(1, sizeof *l + host_len + 1 + port_len + 1);
        if (!l)
                return -ENOMEM;
        memcpy(l->names, host, host_len);
        memcpy(l->names + host_len + 1, port, port_len);
        l->hints = (struct addrinfo) { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
        l->cb = (struct gaicb) { .ar_name = l->names, .ar_service = l->names + host_len + 1, .ar_request = &l->hints };
        l->holders = 2;
        over.sigev_value.sival_ptr = l;
        list[0] = &l->cb;
        k = getaddrinfo_a(GAI_NOWAIT, list, 1, &over);
        if (k != 0) {
                /* Not started: no notification will come. */
                *ret_errno = errno;
                free(l);
                goto done;
        }
        for (;;) {
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                struct timespec left;

                k = gai_error(&l->cb);
                if (k != EAI_INPROGRESS)
                        break;
                if (now >= deadline) {
                        /* Still queued: taken off the queue, and no notification
                         * will come. Running: it ends on its own and is
                         * released then. Done meanwhile: its result counts. */
                        k = gai_cancel(&l->cb);
                        if (k == EAI_ALLDONE)
                                continue;
                        if (k == EAI_CANCELED)
                                free(l);
                        else
                                lookup_release(l);
                        return -ETIMEDOUT;
                }
                left = (struct timespec) { .tv_sec = (time_t) ((deadline - now) / USEC_PER_SEC),
                                           .tv_nsec = (long) ((deadline - now) % USEC_PER_SEC * NSEC_PER_USEC) };
                (void) gai_suspend((const struct gaicb *const *) list, 1, &left);
        }
        if (k == 0) {
                *ret = l->cb.ar_result;
                l->cb.ar_result = NULL;
        }
        lookup_release(l);
done:
        if (k == 0)
                return 0;
        *ret_gai_error = k;
        return -EHOSTUNREACH;
}
