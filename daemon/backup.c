/* SPDX-License-Identifier: MIT */
/*
 * backup.c — one backup job (interim: not built yet).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backup.h"

void backup_result_done(BackupResult *r) {
        free(r->path);
        free(r->error);
        *r = (BackupResult) {};
}

int backup_run_once(const Config *c, BackupResult *result) {
        result->error = strdup("taking backups is not built yet");
        return -EOPNOTSUPP;
}
