/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * io.h — file-descriptor helpers that retry on EINTR and short transfers,
 * bounded whole-file reads, directory fsync, and closedir as a cleanup.
 */

#include <dirent.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);

/* Write all n bytes or fail with -errno. */
int loop_write(int fd, const void *buf, size_t n);

/* Read up to n bytes, stopping early only at EOF. Returns bytes read or -errno. */
ssize_t loop_read(int fd, void *buf, size_t n);

/* Read a whole file of at most max bytes; the buffer is NUL-terminated (not
 * counted in *ret_size). -EFBIG if larger than max. */
int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size);

/* Read a secret file of at most max bytes into one buffer of max + 1 bytes,
 * never grown, so no copy is left behind in freed memory; on every failure
 * what was read is wiped. NUL-terminated; the caller wipes *ret_size bytes
 * and frees. -EFBIG if larger than max. */
int read_secret_file(const char *path, size_t max, char **ret, size_t *ret_size);

/* An anonymous 0600 file (O_TMPFILE) in the directory dir_fd: it vanishes
 * unless link_tmpfile_at() names it. 0 and *ret_fd, or -errno. */
int tmpfile_at(int dir_fd, int *ret_fd);

/* fsync the anonymous file fd and give it name in dir_fd; never replaces
 * a file (-EEXIST). Links through the descriptor (AT_EMPTY_PATH, which
 * older kernels allow only with CAP_DAC_READ_SEARCH), else through
 * /proc/self/fd. Does not fsync the directory. 0 or -errno. */
int link_tmpfile_at(int fd, int dir_fd, const char *name);

/* fsync() the directory at path. */
int fsync_directory(const char *path);

/* mkdir -p with mode for the directories it creates. */
int mkdir_p(const char *path, mode_t mode);

/* Close every descriptor from 3 up except the n in keep (any order; values
 * below 3 are ignored), with close_range(2). 0 or -errno. */
int close_all_fds_except(const int *keep, size_t n);

/* chown every entry below (and including) the directory dir_fd to uid:gid,
 * symbolic links themselves, at most CHOWN_DEPTH_MAX levels deep (-ELOOP). */
int chown_tree(int dir_fd, uid_t uid, gid_t gid);
