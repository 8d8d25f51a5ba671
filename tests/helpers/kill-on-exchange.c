/* SPDX-License-Identifier: MIT */
/*
 * kill-on-exchange.c — a preload for tests: the process ends by SIGKILL
 * right after a renameat2(2) that exchanged two names succeeded, as a power
 * loss between the restore's exchange of the data dirs and its rename of the
 * old one would end it. Every other call is the real one.
 */

#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>

int renameat2(int old_dir, const char *old_path, int new_dir, const char *new_path, unsigned flags) {
        int (*real)(int, const char *, int, const char *, unsigned) =
                (int (*)(int, const char *, int, const char *, unsigned)) dlsym(RTLD_NEXT, "renameat2");
        int r = real(old_dir, old_path, new_dir, new_path, flags);

        if (r == 0 && (flags & RENAME_EXCHANGE))
                raise(SIGKILL);
        return r;
}
