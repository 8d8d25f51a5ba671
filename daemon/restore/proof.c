/* SPDX-License-Identifier: MIT */
/*
 * proof.c — the listening process and the files it holds (proof.h).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

/* /proc/net/tcp has one line per socket; a busy node has thousands. */
#define PROCNET_MAX_BYTES ((size_t) 64 * 1024 * 1024)
/* Listening sockets on one port: one per address, a handful at most. */
#define LISTENERS_MAX 64

int proof_url_port(const char *url, uint16_t *ret) {
        const char *host = strstr(url, "://"), *colon, *end;
        uint64_t v;
        char buf[8];

        if (!host)
                return -EINVAL;
        host += 3;
        end = host + strcspn(host, "/?#");
        if (*host == '[') {
                const char *close = memchr(host, ']', (size_t) (end - host));
                if (!close)
                        return -EINVAL;
                colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
        } else
                colon = memchr(host, ':', (size_t) (end - host));
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

/* Add the inodes of sockets listening on port in file to inodes[]. */
static int listening_inodes(const char *file, uint16_t port, uint64_t *inodes, size_t *n) {
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
                    t.local_port == port && t.inode != 0 && *n < LISTENERS_MAX)
                        inodes[(*n)++] = t.inode;
                p += len + 1;
        }
        return 0;
}

ssize_t proof_listener_pids(uint16_t port, pid_t *pids, size_t max) {
        uint64_t inodes[LISTENERS_MAX];
        DIR *proc;
        struct dirent *de;
        size_t n = 0, found = 0;
        int r;

        r = listening_inodes("/proc/net/tcp", port, inodes, &n);
        if (r >= 0)
                r = listening_inodes("/proc/net/tcp6", port, inodes, &n);
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

int proof_holds_file(pid_t pid, dev_t dev, ino_t ino) {
        char fds[64];
        struct dirent *fe;
        DIR *d;
        int r = 0;

        snprintf(fds, sizeof fds, "/proc/%d/fd", (int) pid);
        d = opendir(fds);
        if (!d)
                return errno == ENOENT ? -ESRCH : -errno;
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
