/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * upload.h — a copy of the backups off the machine, in S3-compatible object
 * storage (AWS S3, MinIO, Ceph RGW, OpenStack Swift's s3api). Requests are
 * signed with libcurl's SigV4 (path-style URLs, the payload's SHA-256 sent
 * and signed), files are streamed from disk (one PUT below the part size,
 * multipart above it) and transient failures are retried with backoff.
 * upload_sync() makes the remote prefix hold every local backup and, when
 * asked, applies the retention policy to it. Blocking (libcurl easy API): it
 * runs in the backup worker or in `etcd-backupd --once`. The requests are
 * backup/s3.c's, the multipart upload backup/multipart.c's; key encoding,
 * query building and the listing parser are pure (format/s3-uri.h,
 * format/s3-xml.h).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backup/store.h"
#include "config/config.h"
#include "format/retention.h"
#include "util/macro.h"

typedef struct UploadReport {
        char **uploaded;        /* names uploaded, backups and sidecars, in order */
        char **deleted;         /* remote backups (and their sidecars) removed by retention */
        char **aborted;         /* "NAME (started TIME)" of each unfinished multipart upload aborted */
        unsigned multipart;     /* how many of the uploads were multipart */
        char *error;            /* the first error, a sentence; NULL if none */
        char *warning;          /* what failed without failing the upload (the sweep), a sentence; NULL if none */
} UploadReport;

void upload_report_done(UploadReport *r);

/* Make the remote prefix u->url hold every backup of storage_directory:
 * list the remote objects, upload each local backup that is missing there
 * (newest first), its sidecar after it (one there of another size is never
 * replaced: an error, and nothing below runs); then, with u->retention,
 * apply policy p to the remote backups of the local backups' clusters (its
 * buckets in the local zone `zone`): a backup and its sidecar are deleted
 * together, the newest remote backup and every backup that is also in the
 * local directory are kept, and so is one whose sidecar there names an etcd
 * member no local backup was taken from (another node's; a warning). Last, with
 * u->abort_incomplete_after_usec, every unfinished multipart upload of a
 * backup under the prefix that was started longer ago than that before the
 * sync began is aborted (left by an upload whose abort failed or never ran,
 * or by a CreateMultipartUpload retried after its answer was lost); a sweep
 * that fails sets ret->warning, not an error. Stops at the first error.
 * The secret is read from u->secret_access_key_file and never reported.
 *
 * *ret is reset first and always filled (what was done before an error
 * too); the caller releases it with upload_report_done(). Returns 0, or a
 * negative errno with ret->error set: -EIO for a failed request. */
int upload_sync(const ConfigUpload *u, const RetentionPolicy *p, const Zone *zone, const char *storage_directory,
                UploadReport *ret);

/* upload_sync() over a listing of the backup directory that the caller
 * holds: store is the directory, local its backups newest first (as
 * store_list() gives them, kept up to date by the caller). */
int upload_sync_entries(const ConfigUpload *u, const RetentionPolicy *p, const Zone *zone, Store *store,
                        const StoreEntry *local, size_t n_local, UploadReport *ret);
