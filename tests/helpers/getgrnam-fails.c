/* SPDX-License-Identifier: MIT */
/*
 * getgrnam-fails.c — a preload for tests: every getgrnam(3) fails as a look-up
 * whose name service does not answer does (NULL, errno EAGAIN), where a group
 * that does not exist is NULL with errno 0.
 */

#include <errno.h>
#include <grp.h>
#include <stddef.h>

struct group *getgrnam(const char *name) {
        (void) name;
        errno = EAGAIN;
        return NULL;
}
