/* SPDX-License-Identifier: MIT */
/*
 * path.c — file names as strings.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
