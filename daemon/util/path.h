/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * path.h — file names as strings: the last component, everything before it,
 * whether something is there.
 */

#include <stdbool.h>

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
