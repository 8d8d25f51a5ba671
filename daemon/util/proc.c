/* SPDX-License-Identifier: MIT */
/*
 * proc.c — the /proc scan: every process's open descriptors, read as the
 * paths their links name; a process's name; the mount table.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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

pid_t proc_find_named(const char *name, uid_t uid) {
        _cleanup_(closedirp) DIR *proc = opendir("/proc");
        struct dirent *de;

        while (proc && (de = readdir(proc))) {
                char buf[64];
                struct stat st;
                uint64_t v;

                if (safe_atou64(de->d_name, &v) < 0 || v == 0 || v > INT_MAX ||
                    fstatat(dirfd(proc), de->d_name, &st, 0) < 0 || st.st_uid != uid)
                        continue;
                if (streq(proc_name((pid_t) v, buf, sizeof buf), name))
                        return (pid_t) v;
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

/* A mount point as mountinfo writes it, in place: the kernel writes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s) {
        char *w = s;

        for (const char *r = s; *r; w++)
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
                    r[3] <= '7') {
                        *w = (char) ((r[1] - '0') << 6 | (r[2] - '0') << 3 | (r[3] - '0'));
                        r += 4;
                } else
                        *w = *r++;
        *w = '\0';
}

int proc_mount_below(FILE *mountinfo, const char *dir, char **ret_mount) {
        _cleanup_free_ char *line = NULL;
        size_t size = 0, len = strlen(dir);

        while (getline(&line, &size, mountinfo) >= 0) {
                /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ...: the fifth field. */
                char *field = line, *end;

                for (int i = 0; i < 4 && field; i++) {
                        field = strchr(field, ' ');
                        if (field)
                                field++;
                }
                if (!field || !(end = strchr(field, ' ')))
                        continue;
                *end = '\0';
                unescape_octal(field);
                if (strncmp(field, dir, len) == 0 && field[len] == '/' && field[len + 1]) {
                        *ret_mount = strdup(field);
                        return *ret_mount ? 1 : -ENOMEM;
                }
        }
        return 0;
}
