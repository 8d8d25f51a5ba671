/* SPDX-License-Identifier: MIT */
/*
 * s3.c — the S3 client (see s3.h): requests with retries and bounded
 * answers, single PUTs, DELETE, the paged listing.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup/s3.h"
#include "util/curl-dl.h"
#include "util/io.h"
#include "util/parse.h"
#include "util/str.h"
#include "util/time.h"

#define UPLOAD_TRIES 3
#define UPLOAD_BACKOFF_USEC (1 * USEC_PER_SEC)         /* doubled after each try */
#define UPLOAD_CONNECT_TIMEOUT_SEC 10L
#define UPLOAD_LOW_SPEED_TIME_SEC 60L                  /* abort below 1 byte/s for this long */
/* Each request ends by upload.request_timeout, however the server
 * trickles, plus the time its body takes at UPLOAD_MIN_RATE_BYTES per
 * second. */
#define UPLOAD_MIN_RATE_BYTES (64u * 1024)
#define UPLOAD_SECRET_MAX_BYTES 4096
#define UPLOAD_MESSAGE_MAX 512                         /* server's <Message> in our errors */
#define UPLOAD_HASH_CHUNK_BYTES (256u * 1024)



void s3_done(S3 *s) {
        if (s->curl)
                sym_curl_easy_cleanup(s->curl);
        free(s->origin);
        free(s->bucket_path);
        free(s->prefix);
        free(s->sigv4);
        if (s->secret) {
                explicit_bzero(s->secret, strlen(s->secret));
                free(s->secret);
        }
        *s = (S3) {};
}



void s3_response_done(S3Response *r) {
        free(r->data);
        *r = (S3Response) {};
}

/* A 2xx answer's body, into the sink's file, never past its size. */
static size_t sink_write(S3Sink *k, const char *ptr, size_t n) {
        if (n > k->size - k->written) {
                k->error = -EFBIG;
                return 0;       /* aborts the transfer */
        }
        k->error = loop_write(k->fd, ptr, n);
        if (k->error < 0)
                return 0;       /* aborts the transfer */
        k->written += n;
        return n;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
        S3Response *r = userdata;
        size_t n = size * nmemb;
        long status = 0;
        char *d;

        if (r->sink && sym_curl_easy_getinfo(r->sink->curl, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
            status >= 200 && status < 300)
                return sink_write(r->sink, ptr, n);

        if (r->overflow || n > r->max - r->len) {
                /* Stop here: the status is known already (the body comes
                 * after it), and a body that never ends must not hold the
                 * upload, and with it every later backup, forever. */
                r->overflow = true;
                return 0;
        }
        if (r->len + n + 1 > r->cap) {
                size_t cap = MAX(r->cap * 2, (size_t) 4096);

                while (cap < r->len + n + 1)
                        cap *= 2;
                d = realloc(r->data, cap);
                if (!d)
                        return 0;       /* aborts the transfer */
                r->data = d;
                r->cap = cap;
        }
        memcpy(r->data + r->len, ptr, n);
        r->len += n;
        r->data[r->len] = '\0';
        return n;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata) {
        S3Response *r = userdata;
        size_t n = size * nitems, k;
        const char *v;

        if (n > 5 && strncasecmp(buf, "etag:", 5) == 0) {
                v = buf + 5;
                k = n - 5;
                while (k > 0 && (*v == ' ' || *v == '\t'))
                        v++, k--;
                while (k > 0 && (v[k - 1] == '\r' || v[k - 1] == '\n' || v[k - 1] == ' ' || v[k - 1] == '\t'))
                        k--;
                if (k < sizeof r->etag) {
                        memcpy(r->etag, v, k);
                        r->etag[k] = '\0';
                        for (char *c = r->etag; *c; c++)
                                if ((unsigned char) *c < 0x20 || *c == '<' || *c == '>' || *c == '&')
                                        *c = '\0';
                }
        }
        return n;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *userdata) {
        S3Body *b = userdata;
        size_t want = size * nitems;
        uint64_t left = b->length - b->pos;
        ssize_t k;

        if (want > left)
                want = (size_t) left;
        if (want == 0)
                return 0;
        if (b->data) {
                memcpy(buf, b->data + b->pos, want);
                b->pos += want;
                return want;
        }
        do
                k = pread(b->fd, buf, want, (off_t) (b->offset + b->pos));
        while (k < 0 && errno == EINTR);
        if (k <= 0) {
                /* The file shrank or cannot be read: said after the transfer (curl says only "aborted"). */
                b->error = k < 0 ? -errno : -ENODATA;
                return CURL_READFUNC_ABORT;
        }
        b->pos += (uint64_t) k;
        return (size_t) k;
}

static int on_seek(void *userdata, curl_off_t offset, int origin) {
        S3Body *b = userdata;
        if (origin != SEEK_SET || offset < 0 || (uint64_t) offset > b->length)
                return CURL_SEEKFUNC_FAIL;
        b->pos = (uint64_t) offset;
        return CURL_SEEKFUNC_OK;
}

static bool curl_code_is_transient(CURLcode c) {
        switch (c) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
                return true;
        default:
                return false;
        }
}

/* Server text for our messages: bounded, printable ASCII only (UTF-8 carries C1 controls, U+009B is CSI, and
 * bidi overrides to a terminal as well as the C0 ones). */
static void sanitize(char *s) {
        for (; s && *s; s++)
                if ((unsigned char) *s < 0x20 || (unsigned char) *s >= 0x7f)
                        *s = ' ';
}

/* What went wrong with a non-2xx answer: "HTTP 403 SignatureDoesNotMatch: …". */
void s3_describe_http_error(const S3Response *resp, char **ret) {
        _cleanup_free_ char *code = NULL, *message = NULL;

        if (resp->data) {
                (void) s3_xml_element(resp->data, resp->len, "Code", 128, &code);
                (void) s3_xml_element(resp->data, resp->len, "Message", UPLOAD_MESSAGE_MAX, &message);
        }
        sanitize(code);
        sanitize(message);
        if (code && message)
                (void) free_and_format(ret, "HTTP %ld %s: %s", resp->status, code, message);
        else if (code)
                (void) free_and_format(ret, "HTTP %ld %s", resp->status, code);
        else
                (void) free_and_format(ret, "HTTP %ld", resp->status);
}


int s3_request(S3 *s, const S3Request *req, S3Response *resp, char **ret_detail) {
        _cleanup_free_ char *url = NULL, *h_sha = NULL, *h_type = NULL;
        struct curl_slist *headers = NULL, *l;
        uint64_t backoff = UPLOAD_BACKOFF_USEC;
        int r = -EIO;

        if (asprintf(&url, "%s%s%s%s", s->origin, req->path, req->query && *req->query ? "?" : "",
                     req->query ? req->query : "") < 0 ||
            asprintf(&h_sha, "x-amz-content-sha256: %s", req->sha256) < 0)
                return -ENOMEM;
        if (req->content_type && asprintf(&h_type, "Content-Type: %s", req->content_type) < 0)
                return -ENOMEM;
        l = sym_curl_slist_append(headers, h_sha);
        if (!l)
                return -ENOMEM;
        headers = l;
        if (h_type) {
                l = sym_curl_slist_append(headers, h_type);
                if (!l) {
                        sym_curl_slist_free_all(headers);
                        return -ENOMEM;
                }
                headers = l;
        }

        for (unsigned attempt = 1;; attempt++) {
                CURLcode cc;
                bool transient;

                s3_response_done(resp);
                resp->max = req->response_max;
                if (req->body) {
                        req->body->pos = 0;
                        req->body->error = 0;
                }
                if (req->sink) {
                        req->sink->written = 0;
                        req->sink->error = 0;
                        req->sink->curl = s->curl;
                        resp->sink = req->sink;
                        if (ftruncate(req->sink->fd, 0) < 0 || lseek(req->sink->fd, 0, SEEK_SET) < 0) {
                                r = -errno;
                                (void) free_and_format(ret_detail, "cannot truncate the file: %s", strerror(-r));
                                break;
                        }
                }
                s->errbuf[0] = '\0';
                sym_curl_easy_reset(s->curl);
                /* SigV4 first, and checked: a libcurl that cannot sign (older than 7.75, or built without AWS)
                 * would otherwise send the credentials below as HTTP Basic, the secret with them. */
                const char *opt = NULL;
                if ((cc = sym_curl_easy_setopt(s->curl, CURLOPT_URL, url)) != CURLE_OK)
                        opt = "CURLOPT_URL";
                else if ((cc = sym_curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https")) != CURLE_OK)
                        opt = "CURLOPT_PROTOCOLS_STR";
                else if ((cc = sym_curl_easy_setopt(s->curl, CURLOPT_AWS_SIGV4, s->sigv4)) != CURLE_OK ||
                         (cc = sym_curl_easy_setopt(s->curl, CURLOPT_HTTPAUTH, (long) CURLAUTH_AWS_SIGV4)) != CURLE_OK)
                        opt = "CURLOPT_AWS_SIGV4";
                if (opt) {
                        if (cc == CURLE_OUT_OF_MEMORY) {
                                r = -ENOMEM;
                                break;
                        }
                        r = -EOPNOTSUPP;
                        if (streq(opt, "CURLOPT_AWS_SIGV4"))
                                (void) free_and_format(ret_detail, "the libcurl loaded cannot make a SigV4-signed "
                                                       "request (%s); libcurl 7.87 or later, built with AWS support, "
                                                       "is needed", sym_curl_easy_strerror(cc));
                        else
                                (void) free_and_format(ret_detail, "the libcurl loaded refuses %s (%s); libcurl 7.87 "
                                                       "or later is needed", opt, sym_curl_easy_strerror(cc));
                        break;
                }
                (void) sym_curl_easy_setopt(s->curl, CURLOPT_PATH_AS_IS, 1L);
                (void) sym_curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
                (void) sym_curl_easy_setopt(s->curl, CURLOPT_FOLLOWLOCATION, 0L);
                /* TLS verification is always on, with the system's CA store. */
                (void) sym_curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYPEER, 1L);
                (void) sym_curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYHOST, 2L);
                (void) sym_curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT, UPLOAD_CONNECT_TIMEOUT_SEC);
                (void) sym_curl_easy_setopt(s->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
                (void) sym_curl_easy_setopt(s->curl, CURLOPT_LOW_SPEED_TIME, UPLOAD_LOW_SPEED_TIME_SEC);
                (void) sym_curl_easy_setopt(
                        s->curl, CURLOPT_TIMEOUT_MS,
                        (long) ((s->u->request_timeout_usec ?: UPLOAD_REQUEST_TIMEOUT_DEFAULT_USEC) / USEC_PER_MSEC +
                                (req->body ? req->body->length : req->sink ? req->sink->size : 0) * 1000 /
                                        UPLOAD_MIN_RATE_BYTES));
                (void) sym_curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, s->errbuf);
                /* Not CURLOPT_USERPWD: access keys may contain ':'. */
                (void) sym_curl_easy_setopt(s->curl, CURLOPT_USERNAME, s->u->access_key_id);
                (void) sym_curl_easy_setopt(s->curl, CURLOPT_PASSWORD, s->secret);
                (void) sym_curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, headers);
                (void) sym_curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_write);
                (void) sym_curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, resp);
                (void) sym_curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, on_header);
                (void) sym_curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, resp);
                if (req->body) {
                        (void) sym_curl_easy_setopt(s->curl, CURLOPT_READFUNCTION, on_read);
                        (void) sym_curl_easy_setopt(s->curl, CURLOPT_READDATA, req->body);
                        (void) sym_curl_easy_setopt(s->curl, CURLOPT_SEEKFUNCTION, on_seek);
                        (void) sym_curl_easy_setopt(s->curl, CURLOPT_SEEKDATA, req->body);
                }
                if (streq(req->method, "PUT")) {
                        (void) sym_curl_easy_setopt(s->curl, CURLOPT_UPLOAD, 1L);
                        (void) sym_curl_easy_setopt(s->curl, CURLOPT_INFILESIZE_LARGE,
                                                (curl_off_t) (req->body ? req->body->length : 0));
                } else if (streq(req->method, "POST")) {
                        (void) sym_curl_easy_setopt(s->curl, CURLOPT_POST, 1L);
                        if (!req->body)
                                (void) sym_curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, "");
                        (void) sym_curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE,
                                                (curl_off_t) (req->body ? req->body->length : 0));
                } else if (streq(req->method, "DELETE"))
                        (void) sym_curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, "DELETE");
                else
                        (void) sym_curl_easy_setopt(s->curl, CURLOPT_HTTPGET, 1L);

                cc = sym_curl_easy_perform(s->curl);
                if (req->sink && req->sink->error == -EFBIG) {
                        r = -EFBIG;
                        (void) free_and_format(ret_detail, "more than the %" PRIu64 " bytes the listing says arrived",
                                               req->sink->size);
                        break;
                }
                if (req->sink && req->sink->error < 0) {
                        r = req->sink->error;
                        (void) free_and_format(ret_detail, "cannot write the file: %s", strerror(-r));
                        break;
                }
                if (req->body && req->body->error < 0) {
                        r = req->body->error;
                        (void) free_and_format(ret_detail, "%s", s3_local_read_error(r));
                        break;
                }
                if (cc == CURLE_OK || (cc == CURLE_WRITE_ERROR && resp->overflow)) {
                        /* An answer cut at resp->max is whole enough: its
                         * status, and the start of its body (the caller
                         * looks at resp->overflow where the body counts). */
                        (void) sym_curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &resp->status);
                        if (resp->status >= 200 && resp->status < 300 &&
                            (!req->sink || req->sink->written == req->sink->size)) {
                                r = 0;
                                break;
                        }
                        if (resp->status >= 200 && resp->status < 300) {
                                /* An answer without a length, cut short. */
                                (void) free_and_format(ret_detail, "%" PRIu64 " bytes arrived, the listing says %" PRIu64,
                                                       req->sink->written, req->sink->size);
                                transient = true;
                        } else {
                                s3_describe_http_error(resp, ret_detail);
                                transient = resp->status >= 500 || resp->status == 429;
                        }
                } else {
                        const char *e = s->errbuf[0] ? s->errbuf : sym_curl_easy_strerror(cc);
                        (void) free_and_format(ret_detail, "%s", e);
                        sanitize(ret_detail ? *ret_detail : NULL);
                        transient = curl_code_is_transient(cc);
                }
                if (!transient || attempt >= UPLOAD_TRIES) {
                        if (attempt > 1 && ret_detail && *ret_detail)
                                (void) free_and_format(ret_detail, "%s (%u tries)", *ret_detail, attempt);
                        r = -EIO;
                        break;
                }
                sleep_usec(backoff);
                backoff *= 2;
        }
        sym_curl_easy_reset(s->curl);
        sym_curl_slist_free_all(headers);
        return r;
}

/* The encoded path of an object: "/bucket/<prefix><name>". */
int s3_object_path(S3 *s, const char *name, char **ret) {
        _cleanup_free_ char *key = NULL, *enc = NULL;

        if (asprintf(&key, "%s%s", s->prefix, name) < 0 || s3_uri_encode(key, true, &enc) < 0 ||
            asprintf(ret, "%s/%s", s->bucket_path, enc) < 0)
                return -ENOMEM;
        return 0;
}

const char *s3_local_read_error(int r) {
        static _Thread_local char buf[128];

        if (r == -ENODATA)
                return "the local file ended early: it was cut short during the upload";
        snprintf(buf, sizeof buf, "cannot read the local file: %s", strerror(-r));
        return buf;
}

int s3_sha256_range(int fd, uint64_t offset, uint64_t length, char hex[static SHA256_HEX_MAX]) {
        _cleanup_free_ uint8_t *buf = malloc(UPLOAD_HASH_CHUNK_BYTES);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        uint8_t digest[EVP_MAX_MD_SIZE];
        unsigned dlen = 0;
        int r = 0;

        if (!buf || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
                EVP_MD_CTX_free(md);
                return -ENOMEM;
        }
        while (length > 0) {
                size_t want = (size_t) MIN(length, (uint64_t) UPLOAD_HASH_CHUNK_BYTES);
                ssize_t k = pread(fd, buf, want, (off_t) offset);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        r = k < 0 ? -errno : -ENODATA;
                        break;
                }
                if (EVP_DigestUpdate(md, buf, (size_t) k) != 1) {
                        r = -EIO;
                        break;
                }
                offset += (uint64_t) k;
                length -= (uint64_t) k;
        }
        if (r == 0 && EVP_DigestFinal_ex(md, digest, &dlen) != 1)
                r = -EIO;
        EVP_MD_CTX_free(md);
        if (r == 0)
                hexencode(digest, 32, hex);
        return r;
}

void s3_sha256_memory(const void *data, size_t n, char hex[static SHA256_HEX_MAX]) {
        uint8_t digest[EVP_MAX_MD_SIZE];
        unsigned dlen = 0;

        if (EVP_Digest(data, n, digest, &dlen, EVP_sha256(), NULL) == 1)
                hexencode(digest, 32, hex);
        else
                hex[0] = '\0';
}

/* One signed PUT of the whole file. */
static int s3_put_single(S3 *s, const char *path, int fd, uint64_t size, char **ret_detail) {
        _cleanup_(s3_response_done) S3Response resp = {};
        char sha[SHA256_HEX_MAX];
        S3Body body = { .fd = fd, .length = size };
        int r;

        r = s3_sha256_range(fd, 0, size, sha);
        if (r < 0)
                return free_and_format(ret_detail, "%s", s3_local_read_error(r)), r;
        return s3_request(s, &(S3Request) { .method = "PUT", .path = path, .sha256 = sha, .body = &body,
                                          .response_max = S3_RESPONSE_MAX_BYTES },
                          &resp, ret_detail);
}


/* Upload name from dir_fd under the prefix. *ret_multipart says how. */
int s3_put_file(S3 *s, int dir_fd, const char *name, bool *ret_multipart, char **ret_error) {
        _cleanup_free_ char *path = NULL, *detail = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st, dst;
        bool multipart;
        int r;

        r = s3_object_path(s, name, &path);
        if (r < 0)
                return r;
        /* O_NONBLOCK: a FIFO put at that name must not hold the open. */
        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        if (fd < 0 || fstat(fd, &st) < 0 || fstat(dir_fd, &dst) < 0) {
                r = -errno;
                return free_and_format(ret_error, "upload of %s to %s%s: cannot open the local file: %s", name,
                                       s->origin, path, strerror(-r)), r;
        }
        if (!S_ISREG(st.st_mode))
                return free_and_format(ret_error, "upload of %s to %s%s: the local file is not a regular file", name,
                                       s->origin, path), -EINVAL;
        /* Root (--once) in another user's directory uploads only that user's files, each of one link: a hard link
         * that user made to one of root's files would be sent to a bucket that user reads. */
        if (geteuid() == 0 && dst.st_uid != 0) {
                if (st.st_uid != dst.st_uid)
                        return free_and_format(ret_error, "upload of %s to %s%s: not sent by root: the local file "
                                               "belongs to uid %u, not to the backup directory's owner (uid %u); the "
                                               "service uploads it once it is that user's (chown)", name, s->origin,
                                               path, (unsigned) st.st_uid, (unsigned) dst.st_uid), -EPERM;
                if (st.st_nlink != 1)
                        return free_and_format(ret_error, "upload of %s to %s%s: not sent by root: the local file has "
                                               "%ju hard links (another name of it may be one of root's files); remove "
                                               "the other name, or let the service upload it", name, s->origin, path,
                                               (uintmax_t) st.st_nlink), -EPERM;
        }
        multipart = (uint64_t) st.st_size > s->u->part_size_bytes;
        r = multipart ? multipart_put(s, path, fd, (uint64_t) st.st_size, &detail)
                      : s3_put_single(s, path, fd, (uint64_t) st.st_size, &detail);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return free_and_format(ret_error, "upload of %s to %s%s: %s", name, s->origin, path,
                                       detail ? detail : strerror(-r)), r;
        *ret_multipart = multipart;
        return 0;
}

int s3_get_file(S3 *s, const char *name, uint64_t size, int fd, char **ret_error) {
        _cleanup_(s3_response_done) S3Response resp = {};
        _cleanup_free_ char *path = NULL, *detail = NULL;
        S3Sink sink = { .fd = fd, .size = size };
        int r;

        r = s3_object_path(s, name, &path);
        if (r < 0)
                return r;
        if (size > S3_DOWNLOAD_MAX_BYTES)
                return free_and_format(ret_error, "%s is %" PRIu64 " bytes at %s%s, more than any backup (%" PRIu64
                                       " GiB)", name, size, s->origin, path, S3_DOWNLOAD_MAX_BYTES >> 30), -EFBIG;
        r = s3_request(s, &(S3Request) { .method = "GET", .path = path, .sha256 = S3_EMPTY_SHA256,
                                       .response_max = S3_RESPONSE_MAX_BYTES, .sink = &sink },
                       &resp, &detail);
        if (r < 0)
                return free_and_format(ret_error, "download of %s from %s%s: %s", name, s->origin, path,
                                       detail ? detail : strerror(-r)), r;
        return 0;
}

/* A request without a body on the object <prefix><name>, its answer into resp: 0; -ENOENT when the store has no
 * such object; -ENOMEM; another -errno with *ret_error "WHAT NAME from URL: why". */
static int object_request(S3 *s, const char *method, const char *what, const char *name, S3Response *resp,
                          char **ret_error) {
        _cleanup_free_ char *path = NULL, *detail = NULL;
        int r;

        r = s3_object_path(s, name, &path);
        if (r < 0)
                return r;
        r = s3_request(s, &(S3Request) { .method = method, .path = path, .sha256 = S3_EMPTY_SHA256,
                                       .response_max = S3_RESPONSE_MAX_BYTES },
                       resp, &detail);
        if (r == -EIO && resp->status == 404)
                return -ENOENT;
        if (r < 0 && r != -ENOMEM)
                (void) free_and_format(ret_error, "%s %s from %s%s: %s", what, name, s->origin, path,
                                       detail ? detail : strerror(-r));
        return r;
}

int s3_delete(S3 *s, const char *name, char **ret_error) {
        _cleanup_(s3_response_done) S3Response resp = {};
        int r = object_request(s, "DELETE", "removal of", name, &resp, ret_error);

        return r == -ENOENT ? 0 : r;    /* gone already: no error */
}

int s3_get_small(S3 *s, const char *name, S3Response *resp, char **ret_error) {
        int r = object_request(s, "GET", "download of", name, resp, ret_error);

        if (r >= 0 && resp->overflow)
                return free_and_format(ret_error, "download of %s from %s: larger than %u bytes", name, s->u->url,
                                       S3_RESPONSE_MAX_BYTES), -EFBIG;
        return r;
}

int s3_list_page(S3 *s, const S3QueryParam *params, size_t n, const char *what, S3Response *resp,
                 char **ret_error) {
        _cleanup_free_ char *query = NULL, *detail = NULL;
        int r;

        r = s3_query_build(params, n, &query);
        if (r < 0)
                return r;
        r = s3_request(s, &(S3Request) { .method = "GET", .path = s->bucket_path, .query = query,
                                       .sha256 = S3_EMPTY_SHA256, .response_max = S3_LIST_BODY_MAX_BYTES },
                       resp, &detail);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return free_and_format(ret_error, "%s %s: %s", what, s->u->url, detail ? detail : strerror(-r)), r;
        if (resp->overflow)
                return free_and_format(ret_error, "%s %s: the answer is larger than %u bytes", what, s->u->url,
                                       S3_LIST_BODY_MAX_BYTES), -EBADMSG;
        return 0;
}

int s3_list_deadline_check(S3 *s, uint64_t start, const char *what, unsigned pages, char **ret_error) {
        uint64_t limit = S3_LIST_TIMEOUTS * (s->u->request_timeout_usec ?: UPLOAD_REQUEST_TIMEOUT_DEFAULT_USEC);
        char t[FORMAT_DURATION_MAX];

        if (now_usec(CLOCK_MONOTONIC) - start <= limit)
                return 0;
        return free_and_format(ret_error, "%s %s: not done after %u pages in %s (%u times upload.request_timeout): "
                               "the store answers too slowly", what, s->u->url, pages,
                               format_duration(t, sizeof t, limit), S3_LIST_TIMEOUTS), -ETIMEDOUT;
}

/* A listing's pages at most (S3 pages by 1000 objects; 100000 objects at 10 a page). Pages without an object are
 * allowed: a versioned bucket's delete markers can make many in a row. */
#define S3_LIST_PAGES_MAX 10000

/* Every object under the prefix, all pages. A store that pages without end (a token that comes back, more than
 * S3_LIST_PAGES_MAX pages) is refused: the upload runs in the backup's worker, and would hold every later
 * backup. */
int s3_list(S3 *s, S3Listing *ret, char **ret_error) {
        _cleanup_(s3_listing_done) S3Listing l = {};
        _cleanup_strv_free_ char **tokens = NULL;
        const char *token = NULL;
        uint64_t start = now_usec(CLOCK_MONOTONIC);
        int r;

        for (unsigned page = 0;; page++) {
                _cleanup_(s3_response_done) S3Response resp = {};
                /* The prefix's own level: a folder below it (another writer's, a prefix at the bucket's root)
                 * is one CommonPrefixes entry, not its objects, which would count towards S3_LIST_OBJECTS_MAX. */
                S3QueryParam params[4] = { { "list-type", "2" }, { "prefix", s->prefix }, { "delimiter", "/" } };
                size_t n = 3;

                if (token)
                        params[n++] = (S3QueryParam) { "continuation-token", token };
                r = s3_list_page(s, params, n, "listing of", &resp, ret_error);
                if (r < 0)
                        return r;
                r = resp.data ? s3_list_parse(resp.data, resp.len, &l) : -EBADMSG;
                if (r == -ENOMEM)
                        return r;
                if (r == -E2BIG)
                        return free_and_format(ret_error, "listing of %s: more than %u objects", s->u->url,
                                               S3_LIST_OBJECTS_MAX), r;
                if (r < 0)
                        return free_and_format(ret_error, "listing of %s: the answer is not a ListObjectsV2 result",
                                               s->u->url), r;
                if (!l.truncated)
                        break;
                if (page + 1 >= S3_LIST_PAGES_MAX)
                        return free_and_format(ret_error, "listing of %s: more than %u pages", s->u->url,
                                               S3_LIST_PAGES_MAX), -EBADMSG;
                r = s3_list_deadline_check(s, start, "listing of", page + 1, ret_error);
                if (r < 0)
                        return r;
                if (!l.next_token || strv_contains(tokens, l.next_token))
                        return free_and_format(ret_error, "listing of %s: truncated without a new continuation token "
                                               "(page %u)", s->u->url, page + 1), -EBADMSG;
                r = strv_consume(&tokens, TAKE_PTR(l.next_token));
                if (r < 0)
                        return r;
                token = tokens[page];
        }
        *ret = l;
        l = (S3Listing) {};
        return 0;
}

/* Split u->url into origin, bucket path and prefix; read the secret. */
int s3_init(S3 *s, const ConfigUpload *u, char **ret_error) {
        _cleanup_free_ char *secret = NULL, *bucket = NULL, *enc = NULL;
        const char *p, *path, *slash;
        size_t size = 0;
        int r;

        *s = (S3) { .u = u };
        if (!u->url || !u->region || !u->access_key_id || !u->secret_access_key_file)
                return free_and_format(ret_error, "upload is not fully configured"), -EINVAL;
        p = startswith(u->url, "https://");
        if (!p)
                p = startswith(u->url, "http://");
        path = p ? strchr(p, '/') : NULL;
        if (!path || path == p)
                return free_and_format(ret_error, "upload.url %s: expected http(s)://host/bucket/prefix/", u->url),
                       -EINVAL;
        slash = strchr(path + 1, '/');
        bucket = strndup(path + 1, slash ? (size_t) (slash - path - 1) : strlen(path + 1));
        if (!bucket)
                return -ENOMEM;
        if (!*bucket)
                return free_and_format(ret_error, "upload.url %s names no bucket", u->url), -EINVAL;
        s->origin = strndup(u->url, (size_t) (path - u->url));
        s->prefix = strdup(slash ? slash + 1 : "");
        if (!s->origin || !s->prefix || s3_uri_encode(bucket, false, &enc) < 0 ||
            asprintf(&s->bucket_path, "/%s", enc) < 0 || asprintf(&s->sigv4, "aws:amz:%s:s3", u->region) < 0)
                return -ENOMEM;
        if (*s->prefix && !endswith(s->prefix, "/")) {
                /* config.c guarantees the trailing '/'; keep keys under a "directory" anyway. */
                char *t;
                if (asprintf(&t, "%s/", s->prefix) < 0)
                        return -ENOMEM;
                free(s->prefix);
                s->prefix = t;
        }

        r = read_secret_file(u->secret_access_key_file, UPLOAD_SECRET_MAX_BYTES, &secret, &size);
        if (r < 0)
                return free_and_format(ret_error, "cannot read upload.secret_access_key_file %s: %s",
                                       u->secret_access_key_file, r == -EFBIG ? "too large" : strerror(-r)), r;
        while (size > 0 && (secret[size - 1] == '\n' || secret[size - 1] == '\r'))
                secret[--size] = '\0';
        if (size == 0 || strlen(secret) != size) {
                explicit_bzero(secret, size);
                return free_and_format(ret_error, "upload.secret_access_key_file %s holds no usable secret",
                                       u->secret_access_key_file), -EINVAL;
        }
        s->secret = TAKE_PTR(secret);
        r = curl_dl_load(ret_error);
        if (r < 0)
                return r;
        s->curl = sym_curl_easy_init();
        if (!s->curl)
                return -ENOMEM;
        return 0;
}
