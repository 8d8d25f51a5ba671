/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * job.h — one backup job, the same for the daemon's worker and for
 * `etcd-backupd --once`: the backup (backup_run()), then the retention
 * policy, then the upload, then the count of what stayed; and the one place
 * its result is logged. The backup directory is listed before the backup
 * (the newest one's size, to estimate this one's) and again once it is
 * published (backups an operator removed meanwhile must not count); that
 * listing is updated as retention prunes, and the upload and the count read
 * it.
 */

#include <stdbool.h>

#include "backup/backup.h"
#include "config/config.h"

typedef struct JobResult {
        char *error;            /* the backup failed: why (NULL on success) */
        bool etcd_unreachable;  /* it failed because no etcd endpoint answered */
        char *path;             /* the published backup, on success */
        Sidecar sidecar;        /* on success */
        char **pruned;          /* names retention removed (may be NULL) */
        uint64_t pruned_more;   /* removed beyond those named in pruned (the worker's line is bounded) */
        unsigned kept;          /* backups in the directory after retention */
        char *retention_error;  /* retention failed after a good backup */
        char *upload_error;     /* the upload failed after a good backup (the backup stays) */
        char **uploaded;        /* names uploaded (may be NULL) */
        uint64_t uploaded_more; /* uploaded beyond those named */
        char **remote_pruned;   /* remote backups the remote retention deleted (may be NULL) */
        uint64_t remote_pruned_more; /* deleted beyond those named */
        char **remote_aborted;  /* unfinished multipart uploads aborted, "NAME (started TIME)" (may be NULL) */
        uint64_t remote_aborted_more; /* aborted beyond those named */
        /* kubernetes.encryption_config set: the Secrets checked against it (backup_run()). */
        bool k8s_checked;
        uint64_t k8s_unreadable;        /* Secrets encrypted with a key it does not have */
        char **k8s_missing_keys;        /* those keys ("aescbc:old"), may be NULL */
        char *k8s_error;                /* the check could not run (the backup stays good) */
        char *warning;                  /* backup_run()'s warning (the backup stays good) */
        unsigned follow_threads;        /* backup_run()'s: compression threads beside etcd's stream */
} JobResult;

void job_result_done(JobResult *r);

/* Run one job with config c in this thread. Returns backup_run()'s verdict:
 * 0 with the backup published (ret->path, ret->sidecar) and what retention
 * and the upload did or why they failed (neither fails the job), or a
 * negative errno with ret->error set (-EHOSTUNREACH: no endpoint answered).
 * *ret is reset first. */
int job_run(const Config *c, BackupProgressFn progress, void *userdata, JobResult *ret);

/* Log a job's result with config c: on success the backup
 * (MESSAGE_ID_BACKUP_OK), each backup pruned, each file uploaded, each
 * remote backup pruned, the Secrets check (MESSAGE_ID_SECRETS_UNREADABLE),
 * the backup's warning, a retention failure and an upload failure (MESSAGE_ID_UPLOAD_FAILED); on
 * failure job_log_failure(r->error). */
void job_log_result(const JobResult *r, const Config *c);

/* Log a failed job (MESSAGE_ID_BACKUP_FAILED), also one that ended without
 * a result (the worker was killed). */
void job_log_failure(const char *error);
