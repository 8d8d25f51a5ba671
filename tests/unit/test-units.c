/* SPDX-License-Identifier: MIT */
/*
 * test-units.c — what the static-pod restore reads out of kube-apiserver's
 * manifest (--secure-port, --bind-address), how it moves manifests (with
 * fsync(2) failing on demand: linked with --wrap=fsync), the TCP probe
 * it waits with, on loopback addresses other than 127.0.0.1, and how a
 * unit's ExecStart= is expanded from its environment.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "restore/static-pod.h"
#include "restore/units.h"
#include "util/str.h"
#include "util/tcp.h"
#include "util/macro.h"

static char dir[] = "/tmp/test-units.XXXXXX";

/* fsync(2) fails with EIO on its fsync_fail_at-th call from now (0: never). */
static unsigned fsync_fail_at;

int __real_fsync(int fd);
int __wrap_fsync(int fd);
int __wrap_fsync(int fd) {
        if (fsync_fail_at > 0 && --fsync_fail_at == 0) {
                errno = EIO;
                return -1;
        }
        return __real_fsync(fd);
}

/* Write kube-apiserver's manifest with the command-list lines text after the program, and return its path
 * (static buffer). */
static const char *manifest(const char *text) {
        static char path[sizeof dir + 32];
        FILE *f;

        snprintf(path, sizeof path, "%s/kube-apiserver.yaml", dir);
        f = fopen(path, "w");
        check(f);
        check(fputs("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - command:\n    - kube-apiserver\n", f) >= 0);
        check(fputs(text, f) >= 0);
        check(fputs("    image: registry.k8s.io/kube-apiserver:v1.28.4\n    name: kube-apiserver\n", f) >= 0);
        check(fclose(f) == 0);
        return path;
}

/* The port of a manifest's command as kube-apiserver's is read (0 refused), or, with zero, as a controller's
 * through static_pod_serving() (0: it serves none). */
static void check_port_as(const char *text, int want, bool zero) {
        _cleanup_(manifest_freep) Manifest *m = NULL;
        _cleanup_free_ char *address = NULL;
        uint16_t port = 0;
        bool present = false;
        int r;

        if (zero) {
                manifest(text);
                r = static_pod_serving(dir, "kube-apiserver.yaml", 6443, &present, &port, &address, NULL);
                check(present);
        } else {
                r = manifest_load(manifest(text), &m, NULL);
                if (r >= 0)
                        r = command_port(m, "--secure-port", 6443, false, &port, NULL);
        }
        if (want < 0) {
                check_int_eq(r, want);
                return;
        }
        check_int_eq(r, 0);
        check_int_eq(port, want);
}

static void check_port(const char *text, int want) {
        check_port_as(text, want, false);
        check_port_as(text, want, true);
}

static void check_address(const char *text, const char *want) {
        char *address = NULL;
        uint16_t port = 0;
        bool present = false;
        int r;

        manifest(text);
        r = static_pod_serving(dir, "kube-apiserver.yaml", 6443, &present, &port, &address, NULL);
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
        check_port("", 6443);
        check_port("    - --advertise-address=10.0.0.5\n    - --secure-port=8443\n", 8443);
        check_port("    - \"--secure-port=7443\"\n", 7443);
        /* Repeated: the last counts, as kube-apiserver reads it. */
        check_port("    - --secure-port=1\n    - --secure-port=2\n", 2);
        /* --insecure-port is another flag; the "--flag value" form counts too. */
        check_port("    - --insecure-port=0\n    - --secure-port=9443\n    - --secure-port\n    - \"9\"\n", 9);
        /* A manifest that is not YAML is an error, not a scan for text. */
        check_port("    - [--secure-port=1\n", -EBADMSG);
        check_port("    - --secure-port=\n", -EBADMSG);
        /* 0: kube-apiserver would serve nothing (refused); a controller serves no port. */
        check_port_as("    - --secure-port=0\n", -EBADMSG, false);
        check_port_as("    - --secure-port=0\n", 0, true);
        check_port("    - --secure-port=65536\n", -EBADMSG);
        check_port("    - --secure-port=644300\n", -EBADMSG);
        check_port("    - --secure-port=64x3\n", -EBADMSG);
        check_port("    - --secure-port=-1\n", -EBADMSG);
}

static void test_manifest_address(void) {
        check_address("    - --secure-port=6443\n", "127.0.0.1");
        check_address("    - --bind-address=0.0.0.0\n", "127.0.0.1");
        /* Quoted, as a YAML writer must quote a value ending in ':'. */
        check_address("    - '--bind-address=::'\n", "::1");
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
        char *address = NULL;
        uint16_t port = 0;
        bool present = true;

        check_int_eq(static_pod_serving(dir, "absent.yaml", 6443, &present, &port, &address, NULL), 0);
        check(!present);
        check(!address);
}

/* Only a manifest that is not there is absent: one that cannot be looked
 * for (a symlink loop here) is an error naming why, not a pod skipped. */
static void test_manifest_unreachable(void) {
        char loop[sizeof dir + 32], *address = NULL, *error = NULL;
        uint16_t port = 0;
        bool present = true;

        snprintf(loop, sizeof loop, "%s/loop.yaml", dir);
        check(symlink("loop.yaml", loop) == 0);
        check_int_eq(static_pod_serving(dir, "loop.yaml", 10259, &present, &port, &address, &error), -ELOOP);
        check(!present && !address);
        check(error && strstr(error, "loop.yaml: Too many levels of symbolic links"));
        free(error);
        check(unlink(loop) == 0);
}

static bool file_in(const char *d, const char *file) {
        char path[sizeof dir + 64];
        struct stat st;

        snprintf(path, sizeof path, "%s/%s", d, file);
        return stat(path, &st) == 0;
}

/* A move says where the manifest is, also when only the fsync after the
 * rename failed: the restore then knows to move it back. */
static void test_manifest_move(void) {
        char held[sizeof dir + 16], reason[160];
        const char *f = "kube-apiserver.yaml";
        bool moved = true;

        (void) manifest("    - --secure-port=6443\n");
        snprintf(held, sizeof held, "%s/held", dir);
        check(mkdir(held, 0700) == 0);

        check_int_eq(static_pod_manifest_move(dir, held, f, &moved), 0);
        check(moved && file_in(held, f) && !file_in(dir, f));

        /* The rename done, the first directory's fsync fails, then the second's. */
        for (unsigned at = 1; at <= 2; at++) {
                const char *from = at == 1 ? held : dir, *to = at == 1 ? dir : held;

                moved = false;
                fsync_fail_at = at;
                check_int_eq(static_pod_manifest_move(from, to, f, &moved), -EIO);
                check(moved && file_in(to, f) && !file_in(from, f));
                check(strstr(static_pod_move_reason(-EIO, moved, reason, sizeof reason),
                             "the file moved, but the directories could not be synced: Input/output error"));
        }
        fsync_fail_at = 0;

        /* Nothing moves: not there, already there, or not a file name. */
        check_int_eq(static_pod_manifest_move(dir, held, f, &moved), -ENOENT);
        check(!moved && file_in(held, f));
        (void) manifest("    - --secure-port=6443\n");
        check_int_eq(static_pod_manifest_move(dir, held, f, &moved), -EEXIST);
        check(!moved && file_in(held, f) && file_in(dir, f));
        check(streq(static_pod_move_reason(-EEXIST, moved, reason, sizeof reason), strerror(EEXIST)));
        check_int_eq(static_pod_manifest_move(dir, held, "../x", &moved), -EINVAL);
        check(!moved);
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

/* argv expanded from env, its words joined by '|'. */
static char *expanded(const char *const *argv, const char *const *env) {
        char **out = NULL, *joined = NULL;
        size_t size = 0;
        FILE *f;

        check_int_eq(units_expand_argv((char *const *) argv, (char *const *) env, &out), 0);
        check((f = open_memstream(&joined, &size)) != NULL);
        for (char **w = out; w && *w; w++)
                fprintf(f, "%s%s", w == out ? "" : "|", *w);
        check(fclose(f) == 0);
        strv_free(out);
        return joined;
}

static void test_expand_argv(void) {
        const char *env[] = { "A=x${A}", "B=${C}", "C=${B}", "NAME=cp1", "LIST=a  b\tc", "EMPTY=",
                              "OPTS=--name \"a b\" 'c  d' e\\ f\r\"g", NULL };
        struct { const char *argv[4]; const char *want; } cases[] = {
                { { "etcd", "--name=${NAME}", NULL }, "etcd|--name=cp1" },
                { { "etcd", "$LIST", "${LIST}", NULL }, "etcd|a|b|c|a  b\tc" },
                /* a value is not expanded again: neither growing nor looping */
                { { "${A}", "${B}", "${C}${A}", NULL }, "x${A}|${C}|${B}x${A}" },
                { { "$$NAME", "a$${NAME}", "$$", NULL }, "$NAME|a${NAME}|$" },
                /* a value's words as systemd splits them; a lone "$" gives none */
                { { "etcd", "$OPTS", "$", NULL }, "etcd|--name|a b|c  d|e f|g" },
                { { "${UNSET}x", "$UNSET", "${EMPTY}", NULL }, "x|" },
                { { "${NAME", "a$", "}${NAME}{", NULL }, "${NAME|a$|}cp1{" },
                /* a shell's ${NAME:-x} is kept as it is, as systemd keeps it; what follows is still expanded */
                { { "${NAME:-x}", "${A:+y}${NAME}", "--n=${NAME}:${NAME}", NULL },
                  "${NAME:-x}|${A:+y}cp1|--n=cp1:cp1" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *got = expanded(cases[i].argv, env);
                check_str_eq(got, cases[i].want);
                free(got);
        }
}

int main(void) {
        char cmd[sizeof dir + 16];

        check(mkdtemp(dir));
        TEST_RUN(test_manifest_port);
        TEST_RUN(test_manifest_address);
        TEST_RUN(test_manifest_missing);
        TEST_RUN(test_manifest_unreachable);
        TEST_RUN(test_manifest_move);
        TEST_RUN(test_tcp_probe);
        TEST_RUN(test_expand_argv);
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        check(system(cmd) == 0);
        return 0;
}
