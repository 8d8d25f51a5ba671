/* SPDX-License-Identifier: MIT */
/*
 * path.c — file names as strings.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/macro.h"
#include "util/path.h"

const char *path_basename(const char *path) {
        const char *s = strrchr(path, '/');
        return s ? s + 1 : path;
}

char *path_dirname(const char *path) {
        const char *s = strrchr(path, '/');
        if (!s || s == path)
                return strdup("/");
        return strndup(path, (size_t) (s - path));
}

_printf_(3, 4) static int why(int r, char **ret, const char *fmt, ...) {
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vasprintf(ret, fmt, ap);
        va_end(ap);
        if (k < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return r;
}

int path_root_only_writable(const char *path, char **ret_why) {
        _cleanup_free_ char *real = realpath(path, NULL);
        char *slash;
        struct stat st;

        *ret_why = NULL;
        if (!real)
                return why(-errno, ret_why, "%s: %s", path, strerror(errno));
        for (bool file = true;; file = false) {
                if (stat(*real ? real : "/", &st) < 0)
                        return why(-errno, ret_why, "%s: %s", *real ? real : "/", strerror(errno));
                if (st.st_uid != 0 || ((st.st_mode & (S_IWGRP | S_IWOTH)) && (file || !(st.st_mode & S_ISVTX))))
                        return why(-EPERM, ret_why, "%s%s is %s (owner uid %u, mode %04o)", *real ? real : "/",
                                   file ? "" : " (a directory above it)",
                                   st.st_uid != 0 ? "not root's" : "writable by group or others",
                                   (unsigned) st.st_uid, (unsigned) (st.st_mode & 07777));
                if (!*real)
                        return 0;
                slash = strrchr(real, '/');
                *slash = '\0';
        }
}

bool path_exists(const char *path) {
        struct stat st;
        return lstat(path, &st) >= 0 || errno != ENOENT;
}

bool path_has_dotdot(const char *path) {
        for (const char *p = path; *p;) {
                size_t n = strcspn(p, "/");

                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return true;
                p += n;
                p += *p == '/';
        }
        return false;
}

bool path_is_credential(const char *path) {
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        size_t n;

        if (!dir || dir[0] != '/')
                return false;
        n = strlen(dir);
        while (n > 1 && dir[n - 1] == '/')
                n--;
        return strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1] && !strchr(path + n + 1, '/');
}

mode_t path_secret_mode_bits(const char *path) {
        return path_is_credential(path) ? S_IRWXO : S_IRWXG | S_IRWXO;
}
