/* SPDX-License-Identifier: MIT */
/*
 * proof.c — the listening process and the files it holds (proof.h).
 */

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/procnet.h"
#include "restore/proof.h"
#include "util/io.h"
#include "util/macro.h"
#include "util/parse.h"
#include "util/str.h"

/* /proc/net/tcp has one line per socket; a busy node has thousands. */
#define PROCNET_MAX_BYTES ((size_t) 64 * 1024 * 1024)
/* Listening sockets on one port: one per address, a handful at most. */
#define LISTENERS_MAX 64

/* The host of an etcd client URL, between "://" and its port or path, with
 * IPv6's brackets; *ret_end after it. NULL for a URL without "://" or with a
 * bracket not closed. */
static const char *url_host(const char *url, const char **ret_end) {
        const char *host = strstr(url, "://"), *end;

        if (!host)
                return NULL;
        host += 3;
        end = host + strcspn(host, "/?#");
        if (*host == '[') {
                const char *close = memchr(host, ']', (size_t) (end - host));
                if (!close)
                        return NULL;
                *ret_end = close + 1;
        } else {
                const char *colon = memchr(host, ':', (size_t) (end - host));
                *ret_end = colon ? colon : end;
        }
        return host;
}

int proof_url_port(const char *url, uint16_t *ret) {
        const char *host_end, *end, *colon;
        uint64_t v;
        char buf[8];

        if (!url_host(url, &host_end))
                return -EINVAL;
        end = host_end + strcspn(host_end, "/?#");
        colon = host_end < end && *host_end == ':' ? host_end : NULL;
        if (!colon) {
                *ret = 2379;
                return 0;
        }
        if ((size_t) (end - colon - 1) == 0 || (size_t) (end - colon - 1) >= sizeof buf)
                return -EINVAL;
        memcpy(buf, colon + 1, (size_t) (end - colon - 1));
        buf[end - colon - 1] = '\0';
        if (safe_atou64(buf, &v) < 0 || v == 0 || v > UINT16_MAX)
                return -EINVAL;
        *ret = (uint16_t) v;
        return 0;
}

int proof_url_address(const char *url, ProofAddress *ret) {
        const char *end, *host = url_host(url, &end);
        char buf[INET6_ADDRSTRLEN];
        bool v6;
        size_t n;

        if (!host)
                return -EINVAL;
        v6 = *host == '[';
        if (v6) {
                const char *zone;

                host++, end--;          /* inside the brackets */
                zone = memchr(host, '%', (size_t) (end - host));
                if (zone)
                        end = zone;     /* "fe80::1%eth0", "fe80::1%25eth0": the zone is no part of the address */
        }
        n = (size_t) (end - host);
        if (n == 0 || n >= sizeof buf)
                return 0;
        memcpy(buf, host, n);
        buf[n] = '\0';
        if (!v6 && inet_pton(AF_INET, buf, &ret->in) == 1) {
                ret->family = AF_INET;
                return 1;
        }
        if (v6 && inet_pton(AF_INET6, buf, &ret->in6) == 1) {
                if (IN6_IS_ADDR_V4MAPPED(&ret->in6)) {
                        struct in_addr in;      /* a connection to it is an IPv4 connection */
                        memcpy(&in, &ret->in6.s6_addr[12], sizeof in);
                        *ret = (ProofAddress) { .family = AF_INET, .in = in };
                } else
                        ret->family = AF_INET6;
                return 1;
        }
        return 0;
}

bool proof_address_is_local(const ProofAddress *a) {
        return proof_address_locality(a) > 0;
}

int proof_address_locality(const ProofAddress *a) {
        struct ifaddrs *list = NULL;
        bool local = false;

        if (a->family == AF_INET && (ntohl(a->in.s_addr) >> 24) == 127)
                return 1;
        if (a->family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&a->in6))
                return 1;
        if (getifaddrs(&list) < 0)
                return -errno;
        for (struct ifaddrs *i = list; i && !local; i = i->ifa_next) {
                if (!i->ifa_addr || i->ifa_addr->sa_family != a->family)
                        continue;
                if (a->family == AF_INET)
                        local = ((struct sockaddr_in *) (void *) i->ifa_addr)->sin_addr.s_addr == a->in.s_addr;
                else
                        local = IN6_ARE_ADDR_EQUAL(&((struct sockaddr_in6 *) (void *) i->ifa_addr)->sin6_addr,
                                                   &a->in6);
        }
        freeifaddrs(list);
        return local ? 1 : 0;
}

/* Whether a connection to a reaches the socket t listens on. */
static bool reaches(const ProcNetTcp *t, const ProofAddress *a) {
        static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

        if (!a)
                return true;
        if (t->family == AF_INET)
                return a->family == AF_INET &&
                       (t->local.in.s_addr == htonl(INADDR_ANY) || t->local.in.s_addr == a->in.s_addr);
        if (IN6_ARE_ADDR_EQUAL(&t->local.in6, &any6))
                return true;    /* "::" takes IPv4 too, unless IPV6_V6ONLY, which /proc does not show */
        if (a->family == AF_INET6)
                return IN6_ARE_ADDR_EQUAL(&t->local.in6, &a->in6);
        return IN6_IS_ADDR_V4MAPPED(&t->local.in6) && memcmp(&t->local.in6.s6_addr[12], &a->in, 4) == 0;
}

/* Add the inodes of sockets listening on port in file, that a connection to address reaches, to inodes[]. */
static int listening_inodes(const char *file, uint16_t port, const ProofAddress *address, uint64_t *inodes,
                            size_t *n) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        r = read_full_file(file, PROCNET_MAX_BYTES, &text, &size);
        if (r == -ENOENT)
                return 0;       /* no IPv6 */
        if (r < 0)
                return r;
        for (const char *p = text, *end = text + size; p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);
                ProcNetTcp t;

                if (procnet_tcp_parse_line(p, len, &t) == 0 && t.state == PROCNET_TCP_LISTEN &&
                    t.local_port == port && t.inode != 0 && reaches(&t, address) && *n < LISTENERS_MAX)
                        inodes[(*n)++] = t.inode;
                p += len + 1;
        }
        return 0;
}

ssize_t proof_listener_pids(uint16_t port, const ProofAddress *address, pid_t *pids, size_t max) {
        uint64_t inodes[LISTENERS_MAX];
        DIR *proc;
        struct dirent *de;
        size_t n = 0, found = 0;
        int r;

        r = listening_inodes("/proc/net/tcp", port, address, inodes, &n);
        if (r >= 0)
                r = listening_inodes("/proc/net/tcp6", port, address, inodes, &n);
        if (r < 0)
                return r;
        if (n == 0)
                return 0;
        proc = opendir("/proc");
        if (!proc)
                return -errno;
        while (found < max && (de = readdir(proc))) {
                char fds[64];
                struct dirent *fe;
                bool listens = false;
                uint64_t v;
                DIR *d;

                if (safe_atou64(de->d_name, &v) < 0 || v == 0 || v > INT_MAX)
                        continue;
                snprintf(fds, sizeof fds, "/proc/%d/fd", (int) v);
                d = opendir(fds);
                if (!d)
                        continue;
                while (!listens && (fe = readdir(d))) {
                        char target[64];
                        uint64_t ino;
                        ssize_t k = readlinkat(dirfd(d), fe->d_name, target, sizeof target - 1);

                        if (k <= 0)
                                continue;
                        target[k] = '\0';
                        if (strncmp(target, "socket:[", 8) != 0 || target[k - 1] != ']')
                                continue;
                        target[k - 1] = '\0';
                        if (safe_atou64(target + 8, &ino) < 0)
                                continue;
                        for (size_t i = 0; i < n && !listens; i++)
                                listens = inodes[i] == ino;
                }
                closedir(d);
                if (listens)
                        pids[found++] = (pid_t) v;
        }
        closedir(proc);
        return (ssize_t) found;
}

/* /proc/<pid>/fd, opened; NULL with *ret_error -ESRCH when the process is gone, or -errno. */
static DIR *open_fd_dir(pid_t pid, int *ret_error) {
        char fds[64];
        DIR *d;

        snprintf(fds, sizeof fds, "/proc/%d/fd", (int) pid);
        d = opendir(fds);
        if (!d)
                *ret_error = errno == ENOENT ? -ESRCH : -errno;
        return d;
}

int proof_holds_file(pid_t pid, dev_t dev, ino_t ino) {
        struct dirent *fe;
        int r = 0;
        DIR *d = open_fd_dir(pid, &r);

        if (!d)
                return r;
        while ((fe = readdir(d))) {
                struct stat st;

                if (fe->d_name[0] == '.')
                        continue;
                /* stat() through the magic link: the open file itself. */
                if (fstatat(dirfd(d), fe->d_name, &st, 0) < 0)
                        continue;
                if (st.st_dev == dev && st.st_ino == ino) {
                        r = 1;
                        break;
                }
        }
        closedir(d);
        return r;
}

int proof_held_db(pid_t pid, char *path, size_t size, struct stat *ret_st) {
        static const char deleted[] = " (deleted)";
        struct dirent *fe;
        int r = 0;
        DIR *d = open_fd_dir(pid, &r);

        if (!d)
                return r;
        while ((fe = readdir(d))) {
                char target[PATH_MAX];
                struct stat st;
                ssize_t k;

                if (fe->d_name[0] == '.')
                        continue;
                k = readlinkat(dirfd(d), fe->d_name, target, sizeof target - 1);
                if (k <= 0)
                        continue;
                target[k] = '\0';
                if ((size_t) k > strlen(deleted) && streq(target + k - strlen(deleted), deleted))
                        target[k - strlen(deleted)] = '\0';
                if (!endswith(target, "/member/snap/db") || fstatat(dirfd(d), fe->d_name, &st, 0) < 0 ||
                    !S_ISREG(st.st_mode))
                        continue;
                if (r == 0 || (ret_st->st_nlink == 0 && st.st_nlink > 0)) {
                        snprintf(path, size, "%s", target);
                        *ret_st = st;
                        r = 1;
                }
                if (st.st_nlink > 0)
                        break;
        }
        closedir(d);
        return r;
}
