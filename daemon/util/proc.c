/* SPDX-License-Identifier: MIT */
/*
 * proc.c — the /proc scan: every process's open descriptors, read as the
 * paths their links name (and, for a process that sees the file system
 * through other mounts, by the inodes of those paths' directories); a
 * process's name.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/io.h"
#include "util/macro.h"
#include "util/parse.h"
#include "util/proc.h"
#include "util/str.h"

/* Whether target, the path of a file process pid has open as that process sees it (its mount namespace, its root),
 * is the directory (dev, ino) or below it: it, or one of its parents, looked up from /proc/<pid>/root, is that
 * directory. This sees a container's files in a host directory it mounts elsewhere (a static pod's hostPath). */
static bool below_by_inode(int root_fd, const char *target, dev_t dev, ino_t ino) {
        char path[PATH_MAX];
        struct stat st;

        if (root_fd < 0 || target[0] != '/' || strlen(target) >= sizeof path)
                return false;
        strcpy(path, target);
        for (;;) {
                char *slash = strrchr(path, '/');

                if (!slash)
                        return false;
                *slash = '\0';
                if (fstatat(root_fd, *path ? path + 1 : ".", &st, *path ? AT_SYMLINK_NOFOLLOW : 0) == 0 &&
                    st.st_dev == dev && st.st_ino == ino)
                        return true;
                if (!*path)
                        return false;
        }
}

/* Whether process pid (its /proc/<pid>/fd open as d) has a file open at or below dir (len bytes; the directory
 * (dev, ino)): by path where it sees the file where this process does, else by the inodes of the path's parents
 * from its root. */
static bool holds_below(pid_t pid, DIR *d, const char *dir, size_t len, dev_t dev, ino_t ino) {
        static const char deleted[] = " (deleted)";
        _cleanup_close_ int root_fd = -EBADF;
        bool root_tried = false;
        struct dirent *fe;

        while ((fe = readdir(d))) {
                char target[PATH_MAX];
                struct stat st;
                ssize_t n = readlinkat(dirfd(d), fe->d_name, target, sizeof target - 1);

                if (n <= 0 || target[0] != '/')
                        continue;       /* sockets, pipes, anonymous inodes */
                target[n] = '\0';
                if (strncmp(target, dir, len) == 0 && (target[len] == '/' || target[len] == '\0'))
                        return true;
                /* Another view of the same file system only: the file itself is on dir's device. */
                if (fstatat(dirfd(d), fe->d_name, &st, 0) < 0 || st.st_dev != dev)
                        continue;
                if (st.st_ino == ino)
                        return true;
                if ((size_t) n > strlen(deleted) && streq(target + n - strlen(deleted), deleted))
                        target[n - strlen(deleted)] = '\0';
                if (!root_tried) {
                        char root[64];

                        snprintf(root, sizeof root, "/proc/%d/root", (int) pid);
                        root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
                        root_tried = true;
                }
                if (below_by_inode(root_fd, target, dev, ino))
                        return true;
        }
        return false;
}

pid_t proc_find_open_below(const char *dir) {
        _cleanup_(closedirp) DIR *proc = NULL;
        size_t len = strlen(dir);
        struct dirent *de;
        struct stat dst;

        if (stat(dir, &dst) < 0)
                dst = (struct stat) { .st_dev = (dev_t) -1 };   /* gone: by path alone */
        proc = opendir("/proc");
        if (!proc)
                return 0;
        while ((de = readdir(proc))) {
                char fds[64];
                pid_t pid;
                uint64_t v;
                bool held;
                DIR *d;

                if (safe_atou64(de->d_name, &v) < 0 || v == 0 || v > INT_MAX || (pid_t) v == getpid())
                        continue;
                pid = (pid_t) v;
                snprintf(fds, sizeof fds, "/proc/%d/fd", (int) pid);
                d = opendir(fds);
                if (!d)
                        continue;
                held = holds_below(pid, d, dir, len, dst.st_dev, dst.st_ino);
                closedir(d);
                if (held)
                        return pid;
        }
        return 0;
}

const char *proc_name(pid_t pid, char *buf, size_t size) {
        _cleanup_close_ int fd = -EBADF;
        char path[64], comm[32];
        ssize_t n = -1;

        snprintf(path, sizeof path, "/proc/%d/comm", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
                n = loop_read(fd, comm, sizeof comm);
        if (n > 0 && comm[n - 1] == '\n')
                n--;
        if (n <= 0)
                return str_printable(buf, size, "?", 1);
        return str_printable(buf, size, comm, (size_t) n);
}
