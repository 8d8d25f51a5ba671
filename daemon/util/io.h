/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * io.h — file-descriptor helpers that retry on EINTR and short transfers,
 * bounded whole-file reads, directory fsync, and closedir as a cleanup.
 */

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
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

/* The same for a file that must be a regular one (a manifest, an
 * environment file): anything else, a FIFO with a writer included, is
 * -EMEDIUMTYPE without a byte read or a wait. */
int read_regular_file(const char *path, size_t max, char **ret, size_t *ret_size);

/* Read a secret file of at most max bytes into one buffer of max + 1 bytes,
 * never grown, so no copy is left behind in freed memory; on every failure
 * what was read is wiped. NUL-terminated; the caller wipes *ret_size bytes
 * and frees. -EFBIG if larger than max. */
int read_secret_file(const char *path, size_t max, char **ret, size_t *ret_size);

/* A temporary 0600 file in a directory, given its name only once it is
 * whole. Anonymous (O_TMPFILE) where the file system has that; elsewhere
 * (NFS, FUSE) created under a hidden name of its own, a prefix and 16 hex
 * digits, which tmpfile_done() removes after closing the file (NFS keeps a
 * file removed while open as .nfsXXXX): a kill leaves such a file behind,
 * for whoever owns the directory to remove (store_tidy() for the backup
 * directory). dir_fd is borrowed and must outlive the TmpFile. */
#define TMPFILE_PREFIX ".etcd-backupd-tmp-"
typedef struct TmpFile {
        int fd;
        int dir_fd;
        char name[64];          /* the hidden name; "" when anonymous */
} TmpFile;
#define TMPFILE_NULL ((TmpFile) { .fd = -EBADF, .dir_fd = -EBADF })

/* prefix: of the hidden name (at most 40 characters; NULL: TMPFILE_PREFIX).
 * 0 and *ret, or -errno (*ret is TMPFILE_NULL then). */
int tmpfile_open(int dir_fd, const char *prefix, TmpFile *ret);

/* Whether name is a hidden name tmpfile_open() gives with prefix. */
bool tmpfile_name_is(const char *name, const char *prefix);

/* fsync the file and give it name in its directory (as well: its hidden
 * name stays until tmpfile_done()); never replaces a file (-EEXIST, unless
 * name is this very file, as a retried NFS LINK finds it). An anonymous
 * file is linked through its descriptor (AT_EMPTY_PATH, which older kernels
 * allow only with CAP_DAC_READ_SEARCH), else through /proc/self/fd. Does
 * not fsync the directory. 0 or -errno. */
int tmpfile_link(TmpFile *t, const char *name);

/* Close the file, then remove its hidden name. */
void tmpfile_done(TmpFile *t);

/* fsync() the directory at path. */
int fsync_directory(const char *path);

/* mkdir -p with mode for the directories it creates. */
int mkdir_p(const char *path, mode_t mode);

/* Close every descriptor from 3 up except the n in keep (any order; values
 * below 3 are ignored), with close_range(2), or where that is missing or
 * refused (ENOSYS, EPERM) with close(2) up to RLIMIT_NOFILE, at most
 * CLOSE_FALLBACK_MAX. 0 or -errno. */
#define CLOSE_FALLBACK_MAX (1U << 20)
int close_all_fds_except(const int *keep, size_t n);

/* Every entry below (and including) the directory dir_fd given to uid:gid
 * ((uid_t) -1 and (gid_t) -1 leave the owner, as for fchown(2); symbolic
 * links themselves, not what they name), and on disk: each regular file
 * fsynced, each directory fsynced after what is in it, so that once a
 * rename of the tree is synced the tree it names is whole after a crash.
 * At most 32 levels deep (-ELOOP). 0 or -errno. */
int settle_tree(int dir_fd, uid_t uid, gid_t gid);

/* Opens name in the directory dir_fd (dir names it in messages) the way root
 * must open what another user may have put there (a storage directory that
 * belongs to the unprivileged daemon user): never through a symbolic link,
 * without blocking on a FIFO, and only a regular file with a single link,
 * owned by root or by the directory's owner, as checked on the descriptor
 * itself. 0 and *ret_fd; -ENOENT when it does not exist (no message); else
 * -errno and *ret_error. */
int open_confined(int dir_fd, const char *dir, const char *name, int *ret_fd, char **ret_error);
