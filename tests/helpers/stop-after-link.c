/* SPDX-License-Identifier: MIT */
/*
 * stop-after-link.c — a preload for tests: right after a linkat(2) that
 * made a backup's name (etcd-*, not its sidecar's *.json), the process
 * stops itself (SIGSTOP), so that a test can signal it in the moment
 * between the backup's link and what follows. Every call is the real one.
 */

#include <dlfcn.h>
#include <signal.h>
#include <string.h>

int linkat(int old_dir, const char *old_path, int new_dir, const char *new_path, int flags) {
        int (*real)(int, const char *, int, const char *, int) =
                (int (*)(int, const char *, int, const char *, int)) dlsym(RTLD_NEXT, "linkat");
        size_t n = strlen(new_path);
        int r = real(old_dir, old_path, new_dir, new_path, flags);

        if (r == 0 && strncmp(new_path, "etcd-", 5) == 0 && !(n >= 5 && strcmp(new_path + n - 5, ".json") == 0))
                (void) raise(SIGSTOP);
        return r;
}
