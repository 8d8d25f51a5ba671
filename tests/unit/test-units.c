/* SPDX-License-Identifier: MIT */
/*
 * test-units.c — what the static-pod restore reads out of kube-apiserver's
 * manifest (--secure-port, --bind-address) and the TCP probe it waits with,
 * on loopback addresses other than 127.0.0.1.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"
#include "restore/static-pod.h"
#include "util/tcp.h"
#include "util/macro.h"

static char dir[] = "/tmp/test-units.XXXXXX";

/* Write text as the manifest and return its path (static buffer). */
static const char *manifest(const char *text) {
        static char path[sizeof dir + 32];
        FILE *f;

        snprintf(path, sizeof path, "%s/kube-apiserver.yaml", dir);
        f = fopen(path, "w");
        check(f);
        check(fputs(text, f) >= 0);
        check(fclose(f) == 0);
        return path;
}

static void check_port(const char *text, int want) {
        uint16_t port = 0;
        int r = static_pod_manifest_port(manifest(text), "--secure-port", 6443, &port);

        if (want < 0) {
                check_int_eq(r, want);
                return;
        }
        check_int_eq(r, 0);
        check_int_eq(port, want);
}

static void check_address(const char *text, const char *want) {
        char *address = NULL;
        int r = static_pod_manifest_address(manifest(text), "--bind-address", &address);

        if (!want) {
                check_int_eq(r, -EBADMSG);
                check(!address);
                return;
        }
        check_int_eq(r, 0);
        check_str_eq(address, want);
        free(address);
}

static void test_manifest_port(void) {
        check_port("spec:\n  containers:\n  - command:\n    - kube-apiserver\n", 6443);
        check_port("    - --advertise-address=10.0.0.5\n    - --secure-port=8443\n", 8443);
        check_port("    - \"--secure-port=7443\"\n", 7443);
        check_port("    - --secure-port=1\n    - --secure-port=2\n", 1);
        /* --insecure-port is another flag; --secure-port without '=' is not this one. */
        check_port("    - --insecure-port=0\n    - --secure-port 9\n    - --secure-port=9443\n", 9443);
        check_port("    - --secure-port=\n", -EBADMSG);
        check_port("    - --secure-port=0\n", -EBADMSG);
        check_port("    - --secure-port=65536\n", -EBADMSG);
        check_port("    - --secure-port=644300\n", -EBADMSG);
        check_port("    - --secure-port=64x3\n", -EBADMSG);
        check_port("    - --secure-port=-1\n", -EBADMSG);
}

static void test_manifest_address(void) {
        check_address("    - --secure-port=6443\n", "127.0.0.1");
        check_address("    - --bind-address=0.0.0.0\n", "127.0.0.1");
        check_address("    - --bind-address=::\n", "::1");
        check_address("    - --bind-address=10.1.2.3\n", "10.1.2.3");
        check_address("    - '--bind-address=127.0.0.2'\n", "127.0.0.2");
        check_address("    - --bind-address=fd00::5 # the node\n", "fd00::5");
        /* Only --bind-address counts, not --insecure-bind-address or --advertise-address. */
        check_address("    - --insecure-bind-address=10.9.9.9\n    - --advertise-address=10.8.8.8\n", "127.0.0.1");
        check_address("    - --bind-address=node1.example\n", NULL);
        check_address("    - --bind-address=\n", NULL);
        check_address("    - --bind-address=10.1.2.3.4\n", NULL);
}

static void test_manifest_missing(void) {
        char path[sizeof dir + 32], *address = NULL;
        uint16_t port = 0;

        snprintf(path, sizeof path, "%s/absent.yaml", dir);
        check_int_eq(static_pod_manifest_port(path, "--secure-port", 6443, &port), -ENOENT);
        check_int_eq(static_pod_manifest_address(path, "--bind-address", &address), -ENOENT);
}

/* A listener on address, port chosen by the kernel. */
static int listen_on(int family, const char *address, uint16_t *ret_port) {
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } sa = {};
        socklen_t len = family == AF_INET ? sizeof sa.in : sizeof sa.in6;
        int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        sa.sa.sa_family = (sa_family_t) family;
        check(inet_pton(family, address, family == AF_INET ? (void *) &sa.in.sin_addr : (void *) &sa.in6.sin6_addr)
              == 1);
        if (bind(fd, &sa.sa, len) < 0 || listen(fd, 4) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        check(getsockname(fd, &sa.sa, &len) == 0);
        *ret_port = ntohs(family == AF_INET ? sa.in.sin_port : sa.in6.sin6_port);
        return fd;
}

static void test_tcp_probe(void) {
        uint16_t port = 0;
        int fd;

        fd = listen_on(AF_INET, "127.0.0.2", &port);
        check(fd >= 0);
        check_int_eq(tcp_probe("127.0.0.2", port, USEC_PER_SEC), 1);
        /* The same port on another loopback address: nothing there. */
        check_int_eq(tcp_probe("127.0.0.1", port, USEC_PER_SEC), 0);
        close(fd);
        check_int_eq(tcp_probe("127.0.0.2", port, USEC_PER_SEC), 0);
        check_int_eq(tcp_probe("localhost", port, USEC_PER_SEC), -EINVAL);

        fd = listen_on(AF_INET6, "::1", &port);
        if (fd == -EADDRNOTAVAIL || fd == -EAFNOSUPPORT) {
                printf("# no IPv6 loopback here: the ::1 probe is not tried\n");
                return;
        }
        check(fd >= 0);
        check_int_eq(tcp_probe("::1", port, USEC_PER_SEC), 1);
        close(fd);
        check_int_eq(tcp_probe("::1", port, USEC_PER_SEC), 0);
}

int main(void) {
        char cmd[sizeof dir + 16];

        check(mkdtemp(dir));
        TEST_RUN(test_manifest_port);
        TEST_RUN(test_manifest_address);
        TEST_RUN(test_manifest_missing);
        TEST_RUN(test_tcp_probe);
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        check(system(cmd) == 0);
        return 0;
}
