/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * s3.h — the S3 client: signed requests over libcurl (SigV4 by libcurl on a
 * path-style URL whose path and query are already percent-encoded and
 * sorted, the payload's SHA-256 in x-amz-content-sha256, computed by
 * reading the file once before the request; bodies streamed from file
 * ranges with pread, never held in memory; the access key and secret as
 * CURLOPT_USERNAME/CURLOPT_PASSWORD because access keys may contain a
 * colon). Connection errors, timeouts and 5xx answers are retried a bounded
 * number of times with backoff; answers are read into bounded buffers.
 * Used by upload.c (sync) and multipart.c. Blocking; no logging.
 */

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backup/store.h"
#include "config/config.h"
#include "format/s3-uri.h"
#include "format/s3-xml.h"
#include "util/str.h"

#define S3_RESPONSE_MAX_BYTES (64u * 1024)         /* answers other than listings */
#define S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct S3 {
        CURL *curl;
        const ConfigUpload *u;
        char *origin;           /* "https://host:port" */
        char *bucket_path;      /* "/bucket", encoded */
        char *prefix;           /* raw key prefix: "" or ending in '/' */
        char *sigv4;            /* "aws:amz:<region>:s3" */
        char *secret;
        char errbuf[CURL_ERROR_SIZE];
} S3;

/* What a failed read of the local file says: r from s3_sha256_range() or from
 * an S3Body (-ENODATA: the file ended early). A static string per thread. */
const char *s3_local_read_error(int r);

/* A request body: a range of a file, or bytes in memory. */
typedef struct S3Body {
        int fd;
        const char *data;
        uint64_t offset, length, pos;
        int error;                      /* reading fd failed: its -errno, or -ENODATA when it ended early */
} S3Body;

/* Where a download's body goes: a 2xx answer's body is written to fd
 * (truncated to 0 before each try) and counted, up to size bytes: more
 * stops the transfer (-EFBIG), fewer is a transfer cut short and tried
 * again. An error answer's body still goes to the response, for its
 * message. */
typedef struct S3Sink {
        int fd;
        uint64_t size;
        uint64_t written;
        int error;                      /* the write's -errno, or -EFBIG */
        CURL *curl;                     /* set by s3_request: the answer's status */
} S3Sink;

/* The largest object a download takes: far above any etcd db (etcd's
 * backend quota is at most 8 GiB), and a bound on the time it may take. */
#define S3_DOWNLOAD_MAX_BYTES (UINT64_C(64) << 30)

typedef struct S3Response {
        long status;
        char *data;                     /* NUL-terminated */
        size_t len, cap, max;           /* cap: data's allocation, grown by doubling */
        bool overflow;
        char etag[256];
        S3Sink *sink;                   /* set by s3_request from the request */
} S3Response;

typedef struct S3Request {
        const char *method;             /* GET, PUT, POST, DELETE */
        const char *path;               /* encoded, starts with '/' */
        const char *query;              /* canonical (s3_query_build), may be NULL */
        const char *sha256;             /* hex SHA-256 of the body */
        const char *content_type;       /* NULL = none */
        S3Body *body;                     /* NULL = no body */
        size_t response_max;
        S3Sink *sink;                   /* NULL = the body into the response */
} S3Request;

/* Set up a client for u (reads the secret from u->secret_access_key_file).
 * 0, or a -errno with *ret_error (caller frees). Release with s3_done(). */
int s3_init(S3 *s, const ConfigUpload *u, char **ret_error);
/* Release what s holds (the secret wiped) and zero it. */
void s3_done(S3 *s);
/* Release what a response holds and zero it. */
void s3_response_done(S3Response *r);

/* Perform req, retrying transient failures. Returns 0 for a 2xx answer
 * (resp filled), -EIO with *ret_detail saying why otherwise (resp holds
 * the last answer), -ENOMEM. */
int s3_request(S3 *s, const S3Request *req, S3Response *resp, char **ret_detail);

/* Why an answer was not 2xx, as a sentence: the status and the server's
 * <Code> and <Message> when the body has them (caller frees *ret). */
void s3_describe_http_error(const S3Response *resp, char **ret);

/* The encoded path of an object: "/bucket/<prefix><name>" (caller frees). */
int s3_object_path(S3 *s, const char *name, char **ret);

/* Hex SHA-256 of length bytes of fd from offset (read with pread). */
int s3_sha256_range(int fd, uint64_t offset, uint64_t length, char hex[static SHA256_HEX_MAX]);
/* Hex SHA-256 of n bytes of data ("" if hashing fails). */
void s3_sha256_memory(const void *data, size_t n, char hex[static SHA256_HEX_MAX]);

/* Upload the regular file name of dir_fd as <prefix><name>: one PUT up to
 * u->part_size_bytes, multipart above. *ret_multipart says which. 0, or a
 * -errno with *ret_error (caller frees). */
int s3_put_file(S3 *s, int dir_fd, const char *name, bool *ret_multipart, char **ret_error);

/* Download <prefix><name> into fd (a regular file, truncated first) with
 * a GET; its expected size (from the listing, at most
 * S3_DOWNLOAD_MAX_BYTES) bounds what is written and the time it may take,
 * and must be what arrives. 0, or a -errno with *ret_error (caller frees):
 * -EFBIG for more than that size, -EIO for an answer that failed. */
int s3_get_file(S3 *s, const char *name, uint64_t size, int fd, char **ret_error);

/* Download <prefix><name>, a small object (a sidecar), into resp->data: 0;
 * -ENOENT when it is not there; -EFBIG beyond S3_RESPONSE_MAX_BYTES or
 * -EIO, with *ret_error (caller frees); -ENOMEM. */
int s3_get_small(S3 *s, const char *name, S3Response *resp, char **ret_error);

/* Delete <prefix><name>; one already gone is no error. */
int s3_delete(S3 *s, const char *name, char **ret_error);

/* One page of a listing of the bucket (a GET with the query params): 0 with
 * resp filled, or a -errno with *ret_error "WHAT URL: why" (an answer that
 * failed, or larger than S3_LIST_BODY_MAX_BYTES). */
int s3_list_page(S3 *s, const S3QueryParam *params, size_t n, const char *what, S3Response *resp,
                 char **ret_error);

/* A listing asks for no further page once its pages have taken this many times upload.request_timeout (the
 * page then asked for has its own bound, retries included): a store that hands out new pages slowly without end
 * would hold the backup's worker, and every later backup, for as long as S3_LIST_PAGES_MAX pages take. */
#define S3_LIST_TIMEOUTS 4u

/* Between a listing's pages: -ETIMEDOUT with *ret_error "WHAT URL: not done …" once the listing, begun at start
 * (CLOCK_MONOTONIC), has taken longer than S3_LIST_TIMEOUTS × upload.request_timeout; else 0. */
int s3_list_deadline_check(S3 *s, uint64_t start, const char *what, unsigned pages, char **ret_error);

/* Every object under the prefix, all pages (release with s3_listing_done()). */
int s3_list(S3 *s, S3Listing *ret, char **ret_error);

/* ---- multipart.c ---- */

/* CreateMultipartUpload, UploadPart for each part_size range (each part's
 * own SHA-256), CompleteMultipartUpload; AbortMultipartUpload on failure. */
int multipart_put(S3 *s, const char *path, int fd, uint64_t size, char **ret_detail);

/* AbortMultipartUpload of upload_id at path (encoded). 0, 1 when it was gone
 * already (completed or aborted), or -EIO with *ret_detail, -ENOMEM. */
int multipart_abort(S3 *s, const char *path, const char *upload_id, char **ret_detail);

/* Every multipart upload under the prefix that was neither completed nor
 * aborted, all pages (ListMultipartUploads; release with s3_uploads_done()). A
 * store that pages without end is refused, as in s3_list(). */
int multipart_list(S3 *s, S3Uploads *ret, char **ret_error);
