/* SPDX-License-Identifier: MIT */
/*
 * fchownat-denied.c — a preload for tests: every fchownat(2) fails with
 * EPERM, as under a system call filter that denies it (the shipped unit's
 * SystemCallFilter=~@privileged), whatever the caller's groups.
 */

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int fchownat(int dirfd, const char *path, uid_t owner, gid_t group, int flags) {
        (void) dirfd;
        (void) path;
        (void) owner;
        (void) group;
        (void) flags;
        errno = EPERM;
        return -1;
}
