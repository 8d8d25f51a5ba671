/* SPDX-License-Identifier: MIT */
/*
 * proc.c — the /proc scan: every process's open descriptors, read as the
 * paths their links name; a process's name.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/io.h"
#include "util/macro.h"
#include "util/parse.h"
#include "util/proc.h"
#include "util/str.h"

pid_t proc_find_open_below(const char *dir) {
        _cleanup_(closedirp) DIR *proc = NULL;
        size_t len = strlen(dir);
        struct dirent *de;

        proc = opendir("/proc");
        if (!proc)
                return 0;
        while ((de = readdir(proc))) {
                char fds[64];
                DIR *d;
                struct dirent *fe;
                pid_t pid;
                uint64_t v;

                if (safe_atou64(de->d_name, &v) < 0 || v == 0 || v > INT_MAX || (pid_t) v == getpid())
                        continue;
                pid = (pid_t) v;
                snprintf(fds, sizeof fds, "/proc/%d/fd", (int) pid);
                d = opendir(fds);
                if (!d)
                        continue;
                while ((fe = readdir(d))) {
                        char target[PATH_MAX];
                        ssize_t n = readlinkat(dirfd(d), fe->d_name, target, sizeof target - 1);
                        if (n <= 0)
                                continue;
                        target[n] = '\0';
                        if (strncmp(target, dir, len) == 0 && (target[len] == '/' || target[len] == '\0')) {
                                closedir(d);
                                return pid;
                        }
                }
                closedir(d);
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
