/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * path.h — file names as strings: the last component, everything before it,
 * whether something is there.
 */

#include <stdbool.h>
#include <sys/types.h>

/* The part after the last '/' (path itself when there is none); points into path. */
const char *path_basename(const char *path);

/* Everything up to the last '/' ("/" for "/x" or a name without '/');
 * caller frees; NULL on ENOMEM. */
char *path_dirname(const char *path);

/* Whether a '/'-separated path has a ".." component. */
bool path_has_dotdot(const char *path);

/* False only when lstat() says ENOENT: a name that cannot be checked counts
 * as taken. */
bool path_exists(const char *path);

/* Whether only root can change the file path names: it and every directory above it (symbolic links
 * resolved) owned by root and writable by nobody else (a sticky directory, as /tmp, may be others', its
 * entries being their owners' alone). 0; -EPERM with *ret_why (caller frees) naming the first that is not,
 * its owner and mode; or another -errno (the path cannot be resolved: *ret_why says so). */
int path_root_only_writable(const char *path, char **ret_why);

/* Whether path is a file of $CREDENTIALS_DIRECTORY (systemd's LoadCredential=). */
bool path_is_credential(const char *path);

/* The mode bits that must be clear on a file only its owner may read (a key
 * of etcd's Secrets, an age identity): group's and others'; for a
 * credential others' only, as systemd (254 and later, on kernels with
 * noswap tmpfs) hands one over 0440 with an ACL naming the service's user:
 * its group bits are that ACL's mask, no group's access. */
mode_t path_secret_mode_bits(const char *path);
