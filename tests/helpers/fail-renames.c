/* SPDX-License-Identifier: MIT */
/*
 * fail-renames.c — a preload for tests: renameat2(2) fails with EIO, doing
 * nothing, where the environment says so — a rename (not an exchange) to a
 * name that holds one of the ':'-separated words of $FAIL_RENAME_TO (a word
 * "=NAME": a name that is NAME), but for the first $FAIL_RENAME_AFTER of
 * them (none when unset), the $FAIL_EXCHANGE_NTH-th exchange
 * (RENAME_EXCHANGE) of the process, and with $FAIL_EXCHANGE_EINVAL set every
 * exchange with EINVAL, as on a file system that cannot exchange (CIFS).
 * Every other call is the real one.
 */

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned exchanges, renames_matched;

/* Whether name holds one of the ':'-separated words of list. */
static int holds_one_of(const char *name, const char *list) {
        while (list && *list) {
                const char *end = strchr(list, ':');
                size_t n = end ? (size_t) (end - list) : strlen(list);

                if (n > 1 && list[0] == '=' && strlen(name) == n - 1 && memcmp(name, list + 1, n - 1) == 0)
                        return 1;
                if (n > 0 && list[0] != '=' && memmem(name, strlen(name), list, n))
                        return 1;
                list = end ? end + 1 : NULL;
        }
        return 0;
}

int renameat2(int old_dir, const char *old_path, int new_dir, const char *new_path, unsigned flags) {
        int (*real)(int, const char *, int, const char *, unsigned) =
                (int (*)(int, const char *, int, const char *, unsigned)) dlsym(RTLD_NEXT, "renameat2");
        const char *to = getenv("FAIL_RENAME_TO"), *nth = getenv("FAIL_EXCHANGE_NTH"),
                   *after = getenv("FAIL_RENAME_AFTER");

        if (flags & RENAME_EXCHANGE) {
                if (getenv("FAIL_EXCHANGE_EINVAL")) {
                        errno = EINVAL;
                        return -1;
                }
                if (nth && ++exchanges == strtoul(nth, NULL, 10)) {
                        errno = EIO;
                        return -1;
                }
        } else if (holds_one_of(new_path, to) && ++renames_matched > (after ? strtoul(after, NULL, 10) : 0)) {
                errno = EIO;
                return -1;
        }
        return real(old_dir, old_path, new_dir, new_path, flags);
}
