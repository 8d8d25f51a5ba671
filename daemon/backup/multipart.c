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

/* S3's limit on parts. */
#define S3_PARTS_MAX 10000

static void multipart_abort(S3 *s, const char *path, const char *upload_id) {
        _cleanup_(s3_response_done) S3Response resp = {};
        _cleanup_free_ char *query = NULL, *detail = NULL;

        if (s3_query_build(&(S3QueryParam) { "uploadId", upload_id }, 1, &query) < 0)
                return;
        (void) s3_request(s, &(S3Request) { .method = "DELETE", .path = path, .query = query,
                                          .sha256 = S3_EMPTY_SHA256, .response_max = S3_RESPONSE_MAX_BYTES },
                          &resp, &detail);
}

int multipart_put(S3 *s, const char *path, int fd, uint64_t size, char **ret_detail) {
        _cleanup_(s3_response_done) S3Response resp = {};
        _cleanup_free_ char *upload_id = NULL, *query = NULL, *xml = NULL;
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
        multipart_abort(s, path, upload_id);
        return r;
}
