/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * backup.h — one backup job: stream etcd's snapshot, verify it, compress it,
 * publish it atomically in the backup directory.
 */

#include <stdint.h>

#include "config.h"

typedef struct BackupResult {
        char *path;     /* the published backup, on success */
        char *error;    /* what went wrong, on failure (may be NULL) */
} BackupResult;

void backup_result_done(BackupResult *r);

/* Take one backup now, in this process. Returns 0 and fills result->path,
 * or a negative errno with result->error describing the cause
 * (-EHOSTUNREACH: no endpoint answered). */
int backup_run_once(const Config *c, BackupResult *result);
