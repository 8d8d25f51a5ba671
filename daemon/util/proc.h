/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * proc.h — which process uses a directory, read from /proc/<pid>/fd.
 */

#include <sys/types.h>

/* A process other than this one with a file open at or below dir (an
 * absolute path without a trailing '/'), or 0 when there is none or /proc
 * cannot be read. Processes whose fds cannot be read are skipped. */
pid_t proc_find_open_below(const char *dir);
