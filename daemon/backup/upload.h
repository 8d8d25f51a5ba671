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
 * runs in the backup worker or in `etcd-backupd --once`. The pure helpers
 * (key encoding, query building, listing parser) are exported for tests and
 * the fuzzer.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "format/retention.h"
#include "util/macro.h"

/* Limits on what a server may send us. */
#define UPLOAD_KEY_MAX 1024                             /* S3's own limit on keys */
#define UPLOAD_LIST_OBJECTS_MAX 100000                  /* objects in one listing, all pages */
#define UPLOAD_LIST_BODY_MAX_BYTES (16u * 1024 * 1024)  /* one page of ListObjectsV2 */
#define UPLOAD_PARTS_MAX 10000                          /* S3's limit on parts */

typedef struct UploadReport {
        char **uploaded;        /* names uploaded, backups and sidecars, in order */
        char **deleted;         /* remote backups (and their sidecars) removed by retention */
        unsigned multipart;     /* how many of the uploads were multipart */
        char *error;            /* the first error, a sentence; NULL if none */
} UploadReport;

void upload_report_done(UploadReport *r);

/* Make the remote prefix u->url hold every backup of storage_directory:
 * list the remote objects, upload each local backup that is missing or has
 * another size there (newest first), its sidecar after it; then, with
 * u->retention, apply policy p to the remote backups: a backup and its
 * sidecar are deleted together, the newest remote backup and every backup
 * that is also in the local directory are kept. Stops at the first error.
 * The secret is read from u->secret_access_key_file and never reported.
 *
 * *ret is reset first and always filled (what was done before an error
 * too); the caller releases it with upload_report_done(). Returns 0, or a
 * negative errno with ret->error set: -EIO for a failed request. */
int upload_sync(const ConfigUpload *u, const RetentionPolicy *p, const char *storage_directory,
                UploadReport *ret);

/* ---- pure helpers ---- */

/* RFC 3986 percent-encoding as SigV4 wants it: every byte except
 * A-Z a-z 0-9 - . _ ~ becomes %XX (upper-case hex); '/' is kept when
 * keep_slash is set (object key paths). Returns 0 or -ENOMEM. */
int upload_uri_encode(const char *s, bool keep_slash, char **ret);

typedef struct UploadQueryParam {
        const char *name;
        const char *value;      /* "" for a parameter without a value */
} UploadQueryParam;

/* The canonical query string of SigV4: every name and value
 * percent-encoded, sorted by encoded name then value, "name=value" joined
 * with '&' (an empty value gives "name="). n = 0 gives "". Returns 0 or
 * -ENOMEM. */
int upload_query_build(const UploadQueryParam *params, size_t n, char **ret);

typedef struct UploadObject {
        char *key;
        uint64_t size;
} UploadObject;

typedef struct UploadListing {
        UploadObject *objects;
        size_t n, n_allocated;
        bool truncated;
        char *next_token;       /* NextContinuationToken, NULL if none */
} UploadListing;

void upload_listing_done(UploadListing *l);

/* Parse one page of a ListObjectsV2 response (untrusted). Each <Contents>
 * needs a <Key> (entities decoded; no control characters, at most
 * UPLOAD_KEY_MAX bytes) and a decimal <Size>; entries that lack them are
 * skipped. Appends to *l (which the caller initialises to {}), at most
 * UPLOAD_LIST_OBJECTS_MAX objects in all, and sets truncated and
 * next_token. Returns 0, -EBADMSG for an <Error> document or a body
 * that is not a ListBucketResult, -E2BIG beyond the object limit,
 * -ENOMEM. */
int upload_list_parse(const char *xml, size_t n, UploadListing *l);

/* The text of the first <tag>…</tag> in xml (entities decoded, control
 * characters replaced by spaces, at most max bytes). Returns 0, -ENOENT,
 * -EBADMSG (bad entity), -E2BIG, -ENOMEM. */
int upload_xml_element(const char *xml, size_t n, const char *tag, size_t max, char **ret);
