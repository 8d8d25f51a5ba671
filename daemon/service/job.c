/* SPDX-License-Identifier: MIT */
/*
 * job.c — one backup job and the logging of its result (see job.h).
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/upload.h"
#include "service/job.h"
#include "service/log.h"
#include "util/parse.h"
#include "util/str.h"

void job_result_done(JobResult *r) {
        free(r->error);
        free(r->path);
        sidecar_done(&r->sidecar);
        strv_free(r->pruned);
        free(r->retention_error);
        free(r->upload_error);
        strv_free(r->uploaded);
        strv_free(r->remote_pruned);
        strv_free(r->remote_aborted);
        strv_free(r->k8s_missing_keys);
        free(r->k8s_error);
        free(r->warning);
        *r = (JobResult) {};
}

static void report(BackupProgressFn progress, void *userdata, BackupPhase phase, uint64_t bytes) {
        if (progress)
                progress(phase, bytes, bytes, userdata);
}

int job_run(const Config *c, BackupProgressFn progress, void *userdata, JobResult *ret) {
        _cleanup_(backup_result_done) BackupResult b = {};
        _cleanup_(store_freep) Store *store = NULL;
        _cleanup_strv_free_ char **kept = NULL;
        _cleanup_free_ char *error = NULL, *note = NULL;
        StoreEntry *entries = NULL;
        size_t n = 0;
        bool listed;
        int r;

        *ret = (JobResult) {};
        r = store_open(c->storage.directory, true, &store, &error);
        if (r < 0) {
                ret->error = error ? TAKE_PTR(error) : strdup(strerror(-r));
                return r;
        }
        /* The newest backup, for the size of this one's output. Should the
         * listing fail, the backup goes on without it. */
        listed = store_list(store, &entries, &n) >= 0;

        r = backup_run(c, store, listed && n > 0 ? &entries[0] : NULL, progress, userdata, &b);
        ret->error = TAKE_PTR(b.error);
        if (r < 0)
                goto finish;
        ret->path = TAKE_PTR(b.path);
        ret->sidecar = b.sidecar;
        b.sidecar = (Sidecar) {};
        ret->k8s_checked = b.k8s_checked;
        ret->k8s_unreadable = b.k8s_unreadable;
        ret->k8s_missing_keys = TAKE_PTR(b.k8s_missing_keys);
        ret->k8s_error = TAKE_PTR(b.k8s_error);
        ret->warning = TAKE_PTR(b.warning);
        ret->follow_threads = b.follow_threads;
        /* The backup is in place: said before anything else takes time (a stop from here on is told as a
         * published backup's retention or upload cut short). Retention runs only after a complete, verified
         * backup. */
        report(progress, userdata, BACKUP_PHASE_RETENTION, b.received);

        /* Retention and the upload work from the directory as it is now, the new backup in it: backups removed by
         * hand while this one streamed must not fill the policy's places. Should this listing fail, they list for
         * themselves and say why they cannot. */
        store_entries_free(entries, n);
        entries = NULL;
        n = 0;
        listed = store_list(store, &entries, &n) >= 0;

        if ((listed ? backup_prune_entries(c, store, &entries, &n, ret->sidecar.name, false, &kept, &ret->pruned,
                                           &note, &ret->retention_error)
                    : backup_prune(c, ret->sidecar.name, false, &kept, &ret->pruned, &ret->retention_error)) < 0 &&
            !ret->retention_error)
                ret->retention_error = strdup("retention failed");
        if (note)
                append_format(&ret->warning, "%s", note);

        /* The copy off the machine: a failure is reported, never fails the backup. */
        if (c->upload.enabled) {
                _cleanup_(upload_report_done) UploadReport up = {};
                report(progress, userdata, BACKUP_PHASE_UPLOAD, b.received);
                if ((listed ? upload_sync_entries(&c->upload, &c->retention, c->zone, store, entries, n, &up)
                            : upload_sync(&c->upload, &c->retention, c->zone, c->storage.directory, &up)) < 0 ||
                    up.error)
                        ret->upload_error = up.error ? TAKE_PTR(up.error) : strdup("upload failed");
                ret->uploaded = TAKE_PTR(up.uploaded);
                ret->remote_pruned = TAKE_PTR(up.deleted);
                ret->remote_aborted = TAKE_PTR(up.aborted);
                if (up.warning)
                        append_format(&ret->warning, "%s", up.warning);
        }

        /* What stayed; without a listing this only loses a metric. */
        ret->kept = listed ? (unsigned) n : 0;
        r = 0;
finish:
        store_entries_free(entries, n);
        return r;
}

void job_log_failure(const char *error) {
        log_struct(LOG_ERR, MESSAGE_ID_BACKUP_FAILED, error, "ETCD_BACKUP_ERROR", error, NULL);
}

/* The Secrets check of the backup at path against kubernetes.encryption_config
 * (config_path): a warning with MESSAGE_ID_SECRETS_UNREADABLE when some
 * cannot be read, a warning when the check could not run, nothing otherwise. */
static void log_secrets_check(const JobResult *r, const char *config_path) {
        _cleanup_free_ char *msg = NULL, *keys = NULL;
        char count[32];

        if (r->k8s_error) {
                log_warning("Cannot check the Secrets of backup %s against kubernetes.encryption_config: %s",
                            r->path, r->k8s_error);
                return;
        }
        if (r->k8s_unreadable == 0)
                return;
        for (char **k = r->k8s_missing_keys; k && *k; k++)
                if (free_and_format(&keys, "%s%s%s", keys ? keys : "", keys ? ", " : "", *k), !keys)
                        return;
        snprintf(count, sizeof count, "%" PRIu64, r->k8s_unreadable);
        if (asprintf(&msg, "%s Secret%s in backup %s %s stored with keys that the providers for secrets in %s do not "
                     "have (%s): %s cannot be read after a restore with that configuration", count, r->k8s_unreadable == 1 ? "" : "s",
                     r->path, r->k8s_unreadable == 1 ? "is" : "are", config_path, keys ? keys : "?",
                     r->k8s_unreadable == 1 ? "it" : "they") >= 0)
                log_struct(LOG_WARNING, MESSAGE_ID_SECRETS_UNREADABLE, msg, "ETCD_BACKUP_FILE", r->path,
                           "ETCD_BACKUP_SECRETS_UNREADABLE", count, "ETCD_BACKUP_MISSING_KEYS", keys, NULL);
}

void job_log_result(const JobResult *r, const Config *c) {
        const char *upload_url = c->upload.url;
        char rev[32], size[32], dur[32], cluster[17], human[FORMAT_BYTES_MAX];
        _cleanup_free_ char *msg = NULL;

        if (r->error || !r->path) {
                job_log_failure(r->error ? r->error : "the backup failed");
                return;
        }
        snprintf(rev, sizeof rev, "%" PRId64, r->sidecar.revision);
        snprintf(size, sizeof size, "%" PRIu64, r->sidecar.file_size);
        snprintf(dur, sizeof dur, "%" PRIu64, r->sidecar.duration_usec);
        snprintf(cluster, sizeof cluster, "%016" PRIx64, r->sidecar.cluster_id);
        if (asprintf(&msg, "Backup %s ok, rev %s, %s", r->path, rev,
                     format_bytes(human, sizeof human, r->sidecar.file_size)) >= 0)
                log_struct(LOG_INFO, MESSAGE_ID_BACKUP_OK, msg, "ETCD_BACKUP_FILE", r->path, "ETCD_REVISION", rev,
                           "ETCD_CLUSTER_ID", cluster, "SIZE", size, "DURATION_USEC", dur, NULL);

        for (char **p = r->pruned; p && *p; p++) {
                _cleanup_free_ char *m = NULL;
                if (asprintf(&m, "Pruned %s", *p) >= 0)
                        log_struct(LOG_INFO, MESSAGE_ID_PRUNED, m, "ETCD_BACKUP_FILE", *p, NULL);
        }
        if (r->pruned_more > 0)
                log_info("Pruned %" PRIu64 " more backups, too many to name in one report (see %s)", r->pruned_more,
                         c->storage.directory);
        for (char **p = r->uploaded; p && *p; p++)
                log_info("Uploaded %s to %s", *p, upload_url);
        if (r->uploaded_more > 0)
                log_info("Uploaded %" PRIu64 " more files to %s, too many to name in one report", r->uploaded_more,
                         upload_url);
        for (char **p = r->remote_pruned; p && *p; p++) {
                _cleanup_free_ char *m = NULL;
                if (asprintf(&m, "Pruned %s from %s", *p, upload_url) >= 0)
                        log_struct(LOG_INFO, MESSAGE_ID_PRUNED, m, "ETCD_BACKUP_FILE", *p, "ETCD_BACKUP_REMOTE",
                                   upload_url, NULL);
        }
        if (r->remote_pruned_more > 0)
                log_info("Pruned %" PRIu64 " more backups from %s, too many to name in one report",
                         r->remote_pruned_more, upload_url);
        for (char **p = r->remote_aborted; p && *p; p++)
                log_notice("Aborted the unfinished multipart upload of %s at %s", *p, upload_url);
        if (r->remote_aborted_more > 0)
                log_notice("Aborted %" PRIu64 " more unfinished multipart uploads at %s, too many to name in one "
                           "report", r->remote_aborted_more, upload_url);
        if (r->follow_threads > 0)
                log_info("Backup %s: compressed beside etcd's stream on %u thread%s", r->path, r->follow_threads,
                         r->follow_threads == 1 ? "" : "s");
        log_secrets_check(r, c->kubernetes.encryption_config);
        if (r->warning)
                log_warning("Backup %s: %s", r->path, r->warning);

        if (r->retention_error)
                log_error("retention failed after backup %s: %s", r->path, r->retention_error);
        if (r->upload_error) {
                /* The backup is good and stays: the upload is retried at the next run. */
                _cleanup_free_ char *m = NULL;
                if (asprintf(&m, "Upload failed after backup %s: %s", r->path, r->upload_error) >= 0)
                        log_struct(LOG_ERR, MESSAGE_ID_UPLOAD_FAILED, m, "ETCD_BACKUP_FILE", r->path,
                                   "ETCD_BACKUP_ERROR", r->upload_error, NULL);
        }
}
