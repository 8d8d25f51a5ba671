/* SPDX-License-Identifier: MIT */
/*
 * fail-renames.c — a preload for tests: renameat2(2) fails with EIO, doing
 * nothing, where the environment says so — a rename (not an exchange) to a
 * name that holds one of the ':'-separated words of $FAIL_RENAME_TO, and
 * the $FAIL_EXCHANGE_NTH-th exchange (RENAME_EXCHANGE) of the process.
 * Every other call is the real one.
 */

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned exchanges;

/* Whether name holds one of the ':'-separated words of list. */
static int holds_one_of(const char *name, const char *list) {
        while (list && *list) {
                const char *end = strchr(list, ':');
                size_t n = end ? (size_t) (end - list) : strlen(list);

                if (n > 0 && memmem(name, strlen(name), list, n))
                        return 1;
                list = end ? end + 1 : NULL;
        }
        return 0;
}

int renameat2(int old_dir, const char *old_path, int new_dir, const char *new_path, unsigned flags) {
        int (*real)(int, const char *, int, const char *, unsigned) =
                (int (*)(int, const char *, int, const char *, unsigned)) dlsym(RTLD_NEXT, "renameat2");
        const char *to = getenv("FAIL_RENAME_TO"), *nth = getenv("FAIL_EXCHANGE_NTH");

        if (flags & RENAME_EXCHANGE) {
                if (nth && ++exchanges == strtoul(nth, NULL, 10)) {
                        errno = EIO;
                        return -1;
                }
        } else if (holds_one_of(new_path, to)) {
                errno = EIO;
                return -1;
        }
        return real(old_dir, old_path, new_dir, new_path, flags);
}
