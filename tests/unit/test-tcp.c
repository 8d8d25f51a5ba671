/* SPDX-License-Identifier: MIT */
/*
 * test-tcp.c — util/tcp: tcp_resolve() on literals and on a name from
 * /etc/hosts (no DNS server is asked), and a lookup abandoned at its
 * deadline, many times over, so that ASan sees every way it is let go.
 */

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "test.h"
#include "util/macro.h"
#include "util/tcp.h"
#include "util/time.h"

static int family_of(const char *host) {
        struct addrinfo *list = NULL;
        int gai, err, family;

        if (tcp_resolve(host, "2379", now_usec(CLOCK_MONOTONIC) + 10 * USEC_PER_SEC, &list, &gai, &err) < 0)
                return -1;
        family = list->ai_family;
        check_int_eq(list->ai_socktype, SOCK_STREAM);
        if (family == AF_INET)
                check_int_eq(ntohs(((struct sockaddr_in *) list->ai_addr)->sin_port), 2379);
        freeaddrinfo(list);
        return family;
}

static void test_literals_and_hosts(void) {
        struct addrinfo *list = NULL;
        int gai = 0, err = 0;

        check_int_eq(family_of("127.0.0.1"), AF_INET);
        check_int_eq(family_of("::1"), AF_INET6);
        /* A literal needs no resolver: even a deadline already past is met. */
        check_int_eq(tcp_resolve("127.0.0.1", "1", 0, &list, &gai, &err), 0);
        freeaddrinfo(list);
        /* localhost is in every /etc/hosts: the lookup goes through
         * getaddrinfo_a and ends well before its deadline. */
        check(family_of("localhost") == AF_INET || family_of("localhost") == AF_INET6);
        /* A port that is not a number is the lookup's own error. */
        check_int_eq(tcp_resolve("127.0.0.1", "etcd", now_usec(CLOCK_MONOTONIC) + 10 * USEC_PER_SEC, &list, &gai,
                                 &err), -EHOSTUNREACH);
        check_int_eq(gai, EAI_NONAME);
        check(list == NULL);
}

static void test_deadline(void) {
        unsigned done = 0, timed_out = 0;

        /* A deadline already past: the lookup is cancelled while queued, or
         * left to finish on its own, or found done; each is let go once. */
        for (int i = 0; i < 300; i++) {
                struct addrinfo *list = NULL;
                int gai, err, r = tcp_resolve("localhost", "2379", 0, &list, &gai, &err);

                check(r == 0 || r == -ETIMEDOUT);
                if (r == 0) {
                        check(list != NULL);
                        freeaddrinfo(list);
                        done++;
                } else {
                        check(list == NULL);
                        timed_out++;
                }
        }
        check_int_eq(done + timed_out, 300);
        check(timed_out > 0);
}

int main(void) {
        TEST_RUN(test_literals_and_hosts);
        TEST_RUN(test_deadline);
        return 0;
}
