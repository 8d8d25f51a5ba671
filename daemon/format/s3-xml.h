/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * s3-xml.h — what is read from S3's XML answers: one page of a
 * ListObjectsV2 listing, one page of ListMultipartUploads, and single
 * elements (<Message>, <UploadId>, <ETag>). A small scanner that only looks
 * for the elements needed, and trusts nothing: lengths bounded, entities
 * decoded strictly. Pure.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits on what a server may send us. */
#define S3_KEY_MAX 1024                             /* S3's own limit on keys */
#define S3_LIST_OBJECTS_MAX 100000                  /* objects in one listing, all pages */
#define S3_LIST_BODY_MAX_BYTES (16u * 1024 * 1024)  /* one page of ListObjectsV2 */
#define S3_TOKEN_MAX 4096                           /* continuation tokens, upload ids */

typedef struct S3Object {
        char *key;
        uint64_t size;
} S3Object;

typedef struct S3Listing {
        S3Object *objects;
        size_t n, n_allocated;
        bool truncated;
        char *next_token;       /* NextContinuationToken, NULL if none */
} S3Listing;

void s3_listing_done(S3Listing *l);

/* Parse one page of a ListObjectsV2 response (untrusted). Each <Contents>
 * needs a <Key> (entities decoded; no control characters, at most
 * S3_KEY_MAX bytes) and a decimal <Size>; entries that lack them are
 * skipped. Appends to *l (which the caller initialises to {}), at most
 * S3_LIST_OBJECTS_MAX objects in all, and sets truncated and
 * next_token. Returns 0, -EBADMSG for an <Error> document or a body
 * that is not a ListBucketResult, -E2BIG beyond the object limit,
 * -ENOMEM. */
int s3_list_parse(const char *xml, size_t n, S3Listing *l);

/* One multipart upload that was created and neither completed nor aborted. */
typedef struct S3Upload {
        char *key;
        char *upload_id;
        uint64_t initiated_usec;        /* <Initiated>, 0 if absent or not RFC 3339 */
} S3Upload;

typedef struct S3Uploads {
        S3Upload *uploads;
        size_t n, n_allocated;
        bool truncated;
        char *next_key_marker;          /* NextKeyMarker, NULL if none */
        char *next_upload_id_marker;    /* NextUploadIdMarker, NULL if none */
} S3Uploads;

void s3_uploads_done(S3Uploads *u);

/* Parse one page of a ListMultipartUploads response (untrusted). Each
 * <Upload> needs a <Key> (as in a listing) and an <UploadId> (at most
 * S3_TOKEN_MAX bytes, no control characters or spaces); others are skipped.
 * Appends to *u (initialised to {}), at most S3_LIST_OBJECTS_MAX uploads
 * in all, and sets truncated and the markers. Returns 0, -EBADMSG for an
 * <Error> document or a body that is not a ListMultipartUploadsResult,
 * -E2BIG beyond the limit, -ENOMEM. */
int s3_uploads_parse(const char *xml, size_t n, S3Uploads *u);

/* The text of the first <tag>…</tag> in xml (entities decoded, control
 * characters replaced by spaces, at most max bytes). Returns 0, -ENOENT,
 * -EBADMSG (bad entity), -E2BIG, -ENOMEM. */
int s3_xml_element(const char *xml, size_t n, const char *tag, size_t max, char **ret);
