/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * proc.h — which process uses a directory, read from /proc/<pid>/fd, and
 * its name; what is mounted below a directory, from /proc/self/mountinfo.
 */

#include <stdio.h>
#include <stddef.h>
#include <sys/types.h>

/* A process other than this one with a file open at or below dir (an
 * absolute path without a trailing '/'), or 0 when there is none or /proc
 * cannot be read. Processes whose fds cannot be read are skipped. */
pid_t proc_find_open_below(const char *dir);

/* A process of uid (the owner of its /proc entry: its effective uid)
 * whose name (its comm) is name, or 0 when there is none or /proc cannot
 * be read. */
pid_t proc_find_named(const char *name, uid_t uid);

/* pid's name (its comm, as ps shows it), printable (see str_printable()),
 * into buf; "?" when it cannot be read (gone, or hidden). Returns buf. */
const char *proc_name(pid_t pid, char *buf, size_t size);

/* The first mount point strictly below dir (an absolute path without a
 * trailing '/') in mountinfo, text in the format of /proc/<pid>/mountinfo
 * (its mount points' octal escapes undone): 1 and *ret_mount (caller
 * frees); 0 when there is none; -ENOMEM. A line that cannot be read is
 * passed over. */
int proc_mount_below(FILE *mountinfo, const char *dir, char **ret_mount);
