/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * backup.h — one backup: find a healthy endpoint, stream etcd's snapshot,
 * verify it (SHA-256 trailer, bbolt structure, revision), compress and
 * encrypt it, publish it atomically with its sidecar. The retention policy
 * over the backup directory is here too (backup_prune_entries()); the job
 * around them (retention, upload, the result) is service/job.h's. Blocking:
 * it runs in the worker process or in `etcd-backupd --once`, never in the
 * daemon's event loop.
 */

#include <stdint.h>

#include "config/config.h"
#include "backup/store.h"

typedef enum BackupPhase {
        BACKUP_PHASE_CONNECT,
        BACKUP_PHASE_STREAM,
        BACKUP_PHASE_VERIFY,
        BACKUP_PHASE_COMPRESS,
        BACKUP_PHASE_PUBLISH,
        BACKUP_PHASE_RETENTION,
        BACKUP_PHASE_UPLOAD,
        _BACKUP_PHASE_MAX,
} BackupPhase;

const char *backup_phase_to_string(BackupPhase p);

/* Progress of a running job: bytes of the snapshot received so far, and
 * etcd's reported db size as the expected total (0 if unknown). */
typedef void (*BackupProgressFn)(BackupPhase phase, uint64_t bytes, uint64_t total, void *userdata);

typedef struct BackupResult {
        char *path;             /* the published backup, on success */
        char *error;            /* what went wrong, on failure */
        Sidecar sidecar;        /* on success */
        uint64_t received;      /* bytes of the snapshot received, on success (the last progress) */
        /* kubernetes.encryption_config set: the Secrets checked against it. */
        bool k8s_checked;
        uint64_t k8s_unreadable;        /* Secrets encrypted with a key it does not have */
        char **k8s_missing_keys;        /* those keys ("aescbc:old"), may be NULL */
        char *k8s_error;                /* the check could not run (the backup stays good) */
        char *warning;                  /* the operator should know this (the backup stays good) */
        unsigned follow_threads;        /* compression threads let run beside etcd's stream (0: after it) */
} BackupResult;

void backup_result_done(BackupResult *r);

/* Take one backup now, in this thread, into store (c's storage.directory,
 * opened with store_open()). previous is the newest backup already there
 * (NULL if none): its size estimates the room the output needs. Returns 0
 * with result->path and result->sidecar filled, or a negative errno with
 * result->error naming the cause: -EHOSTUNREACH when no endpoint answered,
 * -ENOSPC when the directory has too little room. Whatever happens, no
 * partial file is left in the backup directory and earlier backups are
 * untouched. Retention is not applied. */
int backup_run(const Config *c, Store *store, const StoreEntry *previous, BackupProgressFn progress, void *userdata,
               BackupResult *result);

/* At start: remove the sidecars an interrupted publish left without their
 * backup and name the backups that have no sidecar or one that cannot be
 * taken, and the entries named like a lone sidecar that are no file
 * (store_tidy()). A missing directory is not an error (nothing to tidy). */
int backup_tidy(const Config *c, char ***ret_removed, char ***ret_unpaired, char ***ret_unusable,
                char ***ret_strays, char **ret_error);

/* Apply c's retention policy to the backup directory. Fills pruned with the
 * names removed (and not removed, with dry_run) and kept. Lists the
 * directory itself; see backup_prune_entries(). just_made (or NULL) names
 * the backup this run made: it counts as the newest whatever its time (a
 * clock stepped back must not make older backups newer), so it is kept.
 * Only backups with their sidecar are planned over: a file without one was
 * not published here (an operator's copy, say) and is kept. */
int backup_prune(const Config *c, const char *just_made, bool dry_run, char ***ret_kept, char ***ret_deleted,
                 char **ret_error);

/* backup_prune() over a listing of store that the caller holds (newest
 * first, as store_list() gives it). Without dry_run, every entry removed
 * from the directory is also dropped from *entries and *n (also when a
 * later removal fails), so the listing stays true to the directory. When a
 * removal fails, *ret_deleted still names the backups removed before it,
 * and that one too when only its sidecar failed; the directory is synced
 * once after the removals, and when that fails *ret_deleted names them all
 * (backup_prune() likewise). *ret_note (optional; appended to) says which
 * backups are kept beyond the policy and why: those named later than now,
 * and, when just_made began a new history (etcd's revision went down, or
 * the cluster id changed, since the backup before), the last of the
 * earlier one. */
int backup_prune_entries(const Config *c, Store *store, StoreEntry **entries, size_t *n, const char *just_made,
                         bool dry_run, char ***ret_kept, char ***ret_deleted, char **ret_note, char **ret_error);
