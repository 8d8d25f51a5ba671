/* SPDX-License-Identifier: MIT */
/*
 * multipart.c — S3 multipart upload of a large file: CreateMultipartUpload,
 * one UploadPart per part_size range streamed from the file, then
 * CompleteMultipartUpload with every part's ETag; AbortMultipartUpload when
 * anything fails, so no half upload is left to be billed.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/s3.h"
#include "util/str.h"
#include "util/time.h"

/* S3's limit on parts. */
#define S3_PARTS_MAX 10000

int multipart_abort(S3 *s, const char *path, const char *upload_id, char **ret_detail) {
        _cleanup_(s3_response_done) S3Response resp = {};
        _cleanup_free_ char *query = NULL;
        int r;

        r = s3_query_build(&(S3QueryParam) { "uploadId", upload_id }, 1, &query);
        if (r < 0)
                return r;
        r = s3_request(s, &(S3Request) { .method = "DELETE", .path = path, .query = query,
                                       .sha256 = S3_EMPTY_SHA256, .response_max = S3_RESPONSE_MAX_BYTES },
                       &resp, ret_detail);
        if (r == -EIO && resp.status == 404) {
                *ret_detail = mfree(*ret_detail);
                return 1;       /* NoSuchUpload: completed or aborted already */
        }
        return r;
}

int multipart_put(S3 *s, const char *path, int fd, uint64_t size, char **ret_detail) {
        _cleanup_(s3_response_done) S3Response resp = {};
        _cleanup_free_ char *upload_id = NULL, *query = NULL, *xml = NULL, *abort_detail = NULL;
        _cleanup_strv_free_ char **etags = NULL;
        uint64_t part = s->u->part_size_bytes, nparts;
        char sha[SHA256_HEX_MAX];
        size_t xml_len = 0;
        FILE *f = NULL;
        int r;

        if (part == 0)
                return free_and_format(ret_detail, "upload.part_size is 0"), -EINVAL;
        nparts = size / part + (size % part ? 1 : 0);
        if (nparts > S3_PARTS_MAX)
                return free_and_format(ret_detail,
                                       "%" PRIu64 " parts of upload.part_size would exceed the limit of %u parts; "
                                       "raise upload.part_size", nparts, S3_PARTS_MAX), -EFBIG;

        r = s3_query_build(&(S3QueryParam) { "uploads", "" }, 1, &query);
        if (r < 0)
                return r;
        r = s3_request(s, &(S3Request) { .method = "POST", .path = path, .query = query, .sha256 = S3_EMPTY_SHA256,
                                       .content_type = "application/octet-stream",
                                       .response_max = S3_RESPONSE_MAX_BYTES },
                       &resp, ret_detail);
        if (r < 0)
                return r;
        r = resp.data ? s3_xml_element(resp.data, resp.len, "UploadId", S3_TOKEN_MAX, &upload_id) : -ENOENT;
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !*upload_id || strpbrk(upload_id, " "))
                return free_and_format(ret_detail, "CreateMultipartUpload answered without a usable UploadId"), -EIO;

        for (uint64_t i = 0; i < nparts; i++) {
                uint64_t off = i * part, len = MIN(part, size - off);
                char num[24];
                S3Body body = { .fd = fd, .offset = off, .length = len };

                snprintf(num, sizeof num, "%" PRIu64, i + 1);
                r = s3_sha256_range(fd, off, len, sha);
                if (r < 0) {
                        (void) free_and_format(ret_detail, "part %s of %" PRIu64 ": %s", num, nparts,
                                               s3_local_read_error(r));
                        goto fail;
                }
                query = mfree(query);
                r = s3_query_build((const S3QueryParam[]) { { "partNumber", num }, { "uploadId", upload_id } },
                                       2, &query);
                if (r < 0)
                        goto fail;
                r = s3_request(s, &(S3Request) { .method = "PUT", .path = path, .query = query, .sha256 = sha,
                                               .body = &body, .response_max = S3_RESPONSE_MAX_BYTES },
                               &resp, ret_detail);
                if (r < 0) {
                        if (ret_detail && *ret_detail)
                                (void) free_and_format(ret_detail, "part %s of %" PRIu64 ": %s", num, nparts,
                                                       *ret_detail);
                        goto fail;
                }
                if (!resp.etag[0]) {
                        (void) free_and_format(ret_detail, "part %s of %" PRIu64 " was answered without an ETag",
                                               num, nparts);
                        r = -EIO;
                        goto fail;
                }
                r = strv_extend(&etags, resp.etag);
                if (r < 0)
                        goto fail;
        }

        f = open_memstream(&xml, &xml_len);
        if (!f) {
                r = -ENOMEM;
                goto fail;
        }
        fputs("<CompleteMultipartUpload>", f);
        for (uint64_t i = 0; i < nparts; i++)
                fprintf(f, "<Part><PartNumber>%" PRIu64 "</PartNumber><ETag>%s</ETag></Part>", i + 1, etags[i]);
        fputs("</CompleteMultipartUpload>", f);
        if (fclose(f) != 0 || !xml) {
                r = -ENOMEM;
                goto fail;
        }
        s3_sha256_memory(xml, xml_len, sha);
        query = mfree(query);
        r = s3_query_build(&(S3QueryParam) { "uploadId", upload_id }, 1, &query);
        if (r < 0)
                goto fail;
        {
                S3Body body = { .fd = -EBADF, .data = xml, .length = xml_len };
                r = s3_request(s, &(S3Request) { .method = "POST", .path = path, .query = query, .sha256 = sha,
                                               .content_type = "application/xml", .body = &body,
                                               .response_max = S3_RESPONSE_MAX_BYTES },
                               &resp, ret_detail);
        }
        if (r < 0)
                goto fail;
        /* CompleteMultipartUpload may fail with 200 and an <Error> body, after white space S3 sends while it
         * works: only its result is success, and an answer longer than is kept may hide the error. */
        if (resp.data && memmem(resp.data, resp.len, "<Error>", 7)) {
                s3_describe_http_error(&resp, ret_detail);
                r = -EIO;
                goto fail;
        }
        if (resp.overflow) {
                (void) free_and_format(ret_detail, "CompleteMultipartUpload answered more than %u bytes (an error "
                                       "may be past them)", S3_RESPONSE_MAX_BYTES);
                r = -EIO;
                goto fail;
        }
        if (!resp.data || !memmem(resp.data, resp.len, "<CompleteMultipartUploadResult", 30)) {
                (void) free_and_format(ret_detail, "CompleteMultipartUpload answered without its result");
                r = -EIO;
                goto fail;
        }
        return 0;
fail:
        (void) multipart_abort(s, path, upload_id, &abort_detail);
        return r;
}

/* Pages of ListMultipartUploads at most, as for a listing. */
#define S3_UPLOADS_PAGES_MAX 10000

int multipart_list(S3 *s, S3Uploads *ret, char **ret_error) {
        _cleanup_(s3_uploads_done) S3Uploads u = {};
        _cleanup_strv_free_ char **markers = NULL;
        _cleanup_free_ char *key_marker = NULL, *id_marker = NULL;
        uint64_t start = now_usec(CLOCK_MONOTONIC);
        int r;

        for (unsigned page = 0;; page++) {
                _cleanup_(s3_response_done) S3Response resp = {};
                _cleanup_free_ char *seen = NULL;
                /* The prefix's own level, as s3_list(). */
                S3QueryParam params[5] = { { "uploads", "" }, { "prefix", s->prefix }, { "delimiter", "/" } };
                size_t n = 3;

                if (key_marker)
                        params[n++] = (S3QueryParam) { "key-marker", key_marker };
                if (id_marker)
                        params[n++] = (S3QueryParam) { "upload-id-marker", id_marker };
                r = s3_list_page(s, params, n, "listing of the unfinished multipart uploads at", &resp, ret_error);
                if (r < 0)
                        return r;
                r = resp.data ? s3_uploads_parse(resp.data, resp.len, &u) : -EBADMSG;
                if (r == -ENOMEM)
                        return r;
                if (r == -E2BIG)
                        return free_and_format(ret_error, "listing of the unfinished multipart uploads at %s: more "
                                               "than %u uploads", s->u->url, S3_LIST_OBJECTS_MAX), r;
                if (r < 0)
                        return free_and_format(ret_error, "listing of the unfinished multipart uploads at %s: the "
                                               "answer is not a ListMultipartUploads result", s->u->url), r;
                if (!u.truncated)
                        break;
                if (page + 1 >= S3_UPLOADS_PAGES_MAX)
                        return free_and_format(ret_error, "listing of the unfinished multipart uploads at %s: more "
                                               "than %u pages", s->u->url, S3_UPLOADS_PAGES_MAX), -EBADMSG;
                r = s3_list_deadline_check(s, start, "listing of the unfinished multipart uploads at", page + 1,
                                           ret_error);
                if (r < 0)
                        return r;
                /* The next page starts after the markers; markers that come back would page for ever. */
                if (!u.next_key_marker)
                        return free_and_format(ret_error, "listing of the unfinished multipart uploads at %s: "
                                               "truncated without a NextKeyMarker (page %u)", s->u->url, page + 1),
                               -EBADMSG;
                if (asprintf(&seen, "%s\n%s", u.next_key_marker,
                             u.next_upload_id_marker ? u.next_upload_id_marker : "") < 0)
                        return -ENOMEM;
                if (strv_contains(markers, seen))
                        return free_and_format(ret_error, "listing of the unfinished multipart uploads at %s: "
                                               "truncated with markers it gave before (page %u)", s->u->url,
                                               page + 1), -EBADMSG;
                r = strv_consume(&markers, TAKE_PTR(seen));
                if (r < 0)
                        return r;
                free(key_marker);
                key_marker = TAKE_PTR(u.next_key_marker);
                free(id_marker);
                id_marker = TAKE_PTR(u.next_upload_id_marker);
        }
        *ret = u;
        u = (S3Uploads) {};
        return 0;
}
