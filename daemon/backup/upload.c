/* SPDX-License-Identifier: MIT */
/*
 * upload.c — S3-compatible upload, listing and deletion (see upload.h).
 *
 * Every request goes through s3_request(): a path-style URL whose path and
 * query are already percent-encoded and sorted (libcurl's SigV4 signs the
 * URL exactly as it is given), the payload's SHA-256 in
 * x-amz-content-sha256 (computed by reading the file once before the
 * request; bodies are streamed from file ranges with pread, never held in
 * memory), the access key and secret as CURLOPT_USERNAME/CURLOPT_PASSWORD
 * because access keys may contain a colon. Connection errors, timeouts and
 * 5xx answers are retried a bounded number of times with backoff. Answers
 * are read into bounded buffers and parsed with a small scanner that only
 * looks for the few elements we need.
 */

#include <curl/curl.h>
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

#include "backup/store.h"
#include "backup/upload.h"
#include "util/io.h"
#include "util/str.h"
#include "util/time.h"

#define UPLOAD_TRIES 3
#define UPLOAD_BACKOFF_USEC (1 * USEC_PER_SEC)         /* doubled after each try */
#define UPLOAD_CONNECT_TIMEOUT_SEC 10L
#define UPLOAD_LOW_SPEED_TIME_SEC 60L                  /* abort below 1 byte/s for this long */
#define UPLOAD_RESPONSE_MAX_BYTES (64u * 1024)         /* answers other than listings */
#define UPLOAD_SECRET_MAX_BYTES 4096
#define UPLOAD_MESSAGE_MAX 512                         /* server's <Message> in our errors */
#define UPLOAD_TOKEN_MAX 4096                          /* continuation tokens, upload ids */
#define UPLOAD_HASH_CHUNK_BYTES (256u * 1024)
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

void upload_report_done(UploadReport *r) {
        strv_free(r->uploaded);
        strv_free(r->deleted);
        free(r->error);
        *r = (UploadReport) {};
}

/* ---- pure helpers ---- */

int upload_uri_encode(const char *s, bool keep_slash, char **ret) {
        static const char hex[] = "0123456789ABCDEF";
        size_t n = strlen(s);
        char *out, *o;

        if (n > (SIZE_MAX - 1) / 3)
                return -ENOMEM;
        out = o = malloc(n * 3 + 1);
        if (!out)
                return -ENOMEM;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                unsigned char c = *p;
                if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || c == '_' || c == '~' || (keep_slash && c == '/'))
                        *o++ = (char) c;
                else {
                        *o++ = '%';
                        *o++ = hex[c >> 4];
                        *o++ = hex[c & 15];
                }
        }
        *o = '\0';
        *ret = out;
        return 0;
}

typedef struct EncodedParam {
        char *name, *value;
} EncodedParam;

static int encoded_param_compare(const void *a, const void *b) {
        const EncodedParam *x = a, *y = b;
        int c = strcmp(x->name, y->name);
        return c != 0 ? c : strcmp(x->value, y->value);
}

int upload_query_build(const UploadQueryParam *params, size_t n, char **ret) {
        _cleanup_free_ EncodedParam *e = NULL;
        size_t total = 1;
        char *out = NULL, *o;
        int r = -ENOMEM;

        e = calloc(n ? n : 1, sizeof *e);
        if (!e)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (upload_uri_encode(params[i].name, false, &e[i].name) < 0 ||
                    upload_uri_encode(params[i].value ? params[i].value : "", false, &e[i].value) < 0)
                        goto finish;
                total += strlen(e[i].name) + strlen(e[i].value) + 2;
        }
        qsort(e, n, sizeof *e, encoded_param_compare);
        out = o = malloc(total);
        if (!out)
                goto finish;
        *o = '\0';
        for (size_t i = 0; i < n; i++)
                o += sprintf(o, "%s%s=%s", i > 0 ? "&" : "", e[i].name, e[i].value);
        *ret = out;
        r = 0;
finish:
        for (size_t i = 0; i < n; i++) {
                free(e[i].name);
                free(e[i].value);
        }
        return r;
}

/* Appends code point cp as UTF-8; o has room for 4 bytes. */
static size_t utf8_put(char *o, uint32_t cp) {
        if (cp < 0x80) {
                o[0] = (char) cp;
                return 1;
        }
        if (cp < 0x800) {
                o[0] = (char) (0xc0 | (cp >> 6));
                o[1] = (char) (0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                o[0] = (char) (0xe0 | (cp >> 12));
                o[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
                o[2] = (char) (0x80 | (cp & 0x3f));
                return 3;
        }
        o[0] = (char) (0xf0 | (cp >> 18));
        o[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
        o[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
        o[3] = (char) (0x80 | (cp & 0x3f));
        return 4;
}

/* XML character data [s, s+n) with entities decoded. Control characters
 * are an error when strict, else replaced by spaces. At most max bytes. */
static int xml_text_decode(const char *s, size_t n, size_t max, bool strict, char **ret) {
        char *out, *o;

        /* Decoding never makes text longer. */
        out = o = malloc(n + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n;) {
                unsigned char c = (unsigned char) s[i];
                if (c == '&') {
                        const char *semi = memchr(s + i, ';', MIN(n - i, (size_t) 12));
                        const char *ent = s + i + 1;
                        size_t len;
                        if (!semi)
                                goto bad;
                        len = (size_t) (semi - ent);
                        if (len == 2 && !memcmp(ent, "lt", 2))
                                *o++ = '<';
                        else if (len == 2 && !memcmp(ent, "gt", 2))
                                *o++ = '>';
                        else if (len == 3 && !memcmp(ent, "amp", 3))
                                *o++ = '&';
                        else if (len == 4 && !memcmp(ent, "quot", 4))
                                *o++ = '"';
                        else if (len == 4 && !memcmp(ent, "apos", 4))
                                *o++ = '\'';
                        else if (len >= 2 && ent[0] == '#') {
                                bool hexa = ent[1] == 'x' || ent[1] == 'X';
                                uint32_t cp = 0;
                                size_t j = hexa ? 2 : 1;
                                if (j >= len)
                                        goto bad;
                                for (; j < len; j++) {
                                        char d = ent[j];
                                        unsigned v;
                                        if (d >= '0' && d <= '9')
                                                v = (unsigned) (d - '0');
                                        else if (hexa && d >= 'a' && d <= 'f')
                                                v = (unsigned) (d - 'a' + 10);
                                        else if (hexa && d >= 'A' && d <= 'F')
                                                v = (unsigned) (d - 'A' + 10);
                                        else
                                                goto bad;
                                        cp = cp * (hexa ? 16 : 10) + v;
                                        if (cp > 0x10ffff)
                                                goto bad;
                                }
                                if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
                                        goto bad;
                                /* "&#1;" is 4 bytes: room enough for any UTF-8 encoding. */
                                if (cp < 0x20 || cp == 0x7f) {
                                        if (strict)
                                                goto bad;
                                        *o++ = ' ';
                                } else
                                        o += utf8_put(o, cp);
                        } else
                                goto bad;
                        i = (size_t) (semi - s) + 1;
                } else {
                        if (c < 0x20 || c == 0x7f) {
                                if (strict)
                                        goto bad;
                                c = ' ';
                        }
                        *o++ = (char) c;
                        i++;
                }
                if ((size_t) (o - out) > max) {
                        free(out);
                        return -E2BIG;
                }
        }
        *o = '\0';
        *ret = out;
        return 0;
bad:
        free(out);
        return -EBADMSG;
}

/* The content of the first <tag>…</tag> in [p, end): *ret_start, *ret_n. */
static bool xml_find(const char *p, const char *end, const char *tag, const char **ret_start, size_t *ret_n) {
        char open[64], close[64];
        size_t lo, lc;
        const char *s, *e;

        if (snprintf(open, sizeof open, "<%s>", tag) >= (int) sizeof open ||
            snprintf(close, sizeof close, "</%s>", tag) >= (int) sizeof close)
                return false;
        lo = strlen(open);
        lc = strlen(close);
        if (p >= end)
                return false;
        s = memmem(p, (size_t) (end - p), open, lo);
        if (!s)
                return false;
        s += lo;
        e = memmem(s, (size_t) (end - s), close, lc);
        if (!e)
                return false;
        *ret_start = s;
        *ret_n = (size_t) (e - s);
        return true;
}

int upload_xml_element(const char *xml, size_t n, const char *tag, size_t max, char **ret) {
        const char *s;
        size_t len;

        if (!xml_find(xml, xml + n, tag, &s, &len))
                return -ENOENT;
        return xml_text_decode(s, len, max, false, ret);
}

static int parse_u64(const char *s, size_t n, uint64_t *ret) {
        uint64_t v = 0;

        /* Tolerate surrounding white space, nothing else. */
        while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
                s++, n--;
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
                n--;
        if (n == 0 || n > 20)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EBADMSG;
                if (v > (UINT64_MAX - (uint64_t) (s[i] - '0')) / 10)
                        return -EBADMSG;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        *ret = v;
        return 0;
}

void upload_listing_done(UploadListing *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->objects[i].key);
        free(l->objects);
        free(l->next_token);
        *l = (UploadListing) {};
}

static int listing_add(UploadListing *l, const char *s, const char *end) {
        const char *k, *z;
        size_t kn, zn;
        uint64_t size;
        char *key = NULL;
        UploadObject *objects;

        if (!xml_find(s, end, "Key", &k, &kn) || !xml_find(s, end, "Size", &z, &zn) ||
            parse_u64(z, zn, &size) < 0)
                return 0;       /* not an object we can use: skip it */
        switch (xml_text_decode(k, kn, UPLOAD_KEY_MAX, true, &key)) {
        case 0:
                break;
        case -ENOMEM:
                return -ENOMEM;
        default:
                return 0;
        }
        if (!*key) {
                free(key);
                return 0;
        }
        if (l->n >= UPLOAD_LIST_OBJECTS_MAX) {
                free(key);
                return -E2BIG;
        }
        if (l->n >= l->n_allocated) {
                size_t na = MAX(l->n_allocated * 2, (size_t) 64);
                objects = reallocarray(l->objects, na, sizeof *objects);
                if (!objects) {
                        free(key);
                        return -ENOMEM;
                }
                l->objects = objects;
                l->n_allocated = na;
        }
        l->objects[l->n++] = (UploadObject) { .key = key, .size = size };
        return 0;
}

int upload_list_parse(const char *xml, size_t n, UploadListing *l) {
        const char *end = xml + n, *p;
        int r;

        p = memmem(xml, n, "<ListBucketResult", strlen("<ListBucketResult"));
        if (!p)
                return -EBADMSG;
        l->truncated = false;
        l->next_token = mfree(l->next_token);
        /* Character data never holds a raw '<', so every '<' starts markup. */
        while (p < end && (p = memchr(p, '<', (size_t) (end - p)))) {
                size_t rest = (size_t) (end - p);
                const char *s, *e;
                size_t len;

                if (rest >= 10 && !memcmp(p, "<Contents>", 10)) {
                        s = p + 10;
                        e = memmem(s, (size_t) (end - s), "</Contents>", 11);
                        if (!e)
                                return -EBADMSG;
                        r = listing_add(l, s, e);
                        if (r < 0)
                                return r;
                        p = e + 11;
                } else if (rest >= 13 && !memcmp(p, "<IsTruncated>", 13)) {
                        if (!xml_find(p, end, "IsTruncated", &s, &len))
                                return -EBADMSG;
                        l->truncated = len == 4 && !memcmp(s, "true", 4);
                        p = s + len;
                } else if (rest >= 23 && !memcmp(p, "<NextContinuationToken>", 23)) {
                        if (!xml_find(p, end, "NextContinuationToken", &s, &len))
                                return -EBADMSG;
                        free(l->next_token);
                        l->next_token = NULL;
                        r = xml_text_decode(s, len, UPLOAD_TOKEN_MAX, true, &l->next_token);
                        if (r < 0)
                                return r == -ENOMEM ? r : -EBADMSG;
                        p = s + len;
                } else
                        p++;
        }
        if (l->next_token && !*l->next_token)
                l->next_token = mfree(l->next_token);
        return 0;
}

/* ---- the HTTP client ---- */

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

static void s3_done(S3 *s) {
        if (s->curl)
                curl_easy_cleanup(s->curl);
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

/* A request body: a range of a file, or bytes in memory. */
typedef struct Body {
        int fd;
        const char *data;
        uint64_t offset, length, pos;
} Body;

typedef struct Response {
        long status;
        char *data;
        size_t len, max;
        bool overflow;
        char etag[256];
} Response;

static void response_done(Response *r) {
        free(r->data);
        *r = (Response) {};
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
        Response *r = userdata;
        size_t n = size * nmemb;
        char *d;

        if (r->overflow || n > r->max - r->len) {
                r->overflow = true;
                return n;       /* read on, so that the status is known */
        }
        d = realloc(r->data, r->len + n + 1);
        if (!d)
                return 0;       /* aborts the transfer */
        memcpy(d + r->len, ptr, n);
        r->data = d;
        r->len += n;
        r->data[r->len] = '\0';
        return n;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata) {
        Response *r = userdata;
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
        Body *b = userdata;
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
        if (k <= 0)
                return CURL_READFUNC_ABORT;     /* the file shrank or cannot be read */
        b->pos += (uint64_t) k;
        return (size_t) k;
}

static int on_seek(void *userdata, curl_off_t offset, int origin) {
        Body *b = userdata;
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

/* Server text for our messages: bounded, no control characters. */
static void sanitize(char *s) {
        for (; s && *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        *s = ' ';
}

/* What went wrong with a non-2xx answer: "HTTP 403 SignatureDoesNotMatch: …". */
static void describe_http_error(const Response *resp, char **ret) {
        _cleanup_free_ char *code = NULL, *message = NULL;

        if (resp->data) {
                (void) upload_xml_element(resp->data, resp->len, "Code", 128, &code);
                (void) upload_xml_element(resp->data, resp->len, "Message", UPLOAD_MESSAGE_MAX, &message);
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

typedef struct Request {
        const char *method;             /* GET, PUT, POST, DELETE */
        const char *path;               /* encoded, starts with '/' */
        const char *query;              /* canonical (upload_query_build), may be NULL */
        const char *sha256;             /* hex SHA-256 of the body */
        const char *content_type;       /* NULL = none */
        Body *body;                     /* NULL = no body */
        size_t response_max;
} Request;

/* Perform req, retrying transient failures. Returns 0 for a 2xx answer
 * (resp filled), -EIO with *ret_detail saying why otherwise (resp holds
 * the last answer), -ENOMEM. */
static int s3_request(S3 *s, const Request *req, Response *resp, char **ret_detail) {
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
        l = curl_slist_append(headers, h_sha);
        if (!l)
                return -ENOMEM;
        headers = l;
        if (h_type) {
                l = curl_slist_append(headers, h_type);
                if (!l) {
                        curl_slist_free_all(headers);
                        return -ENOMEM;
                }
                headers = l;
        }

        for (unsigned attempt = 1;; attempt++) {
                CURLcode cc;
                bool transient;

                response_done(resp);
                resp->max = req->response_max;
                if (req->body)
                        req->body->pos = 0;
                s->errbuf[0] = '\0';
                curl_easy_reset(s->curl);
                if (curl_easy_setopt(s->curl, CURLOPT_URL, url) != CURLE_OK ||
                    curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK) {
                        r = -ENOMEM;
                        break;
                }
                (void) curl_easy_setopt(s->curl, CURLOPT_PATH_AS_IS, 1L);
                (void) curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
                (void) curl_easy_setopt(s->curl, CURLOPT_FOLLOWLOCATION, 0L);
                /* TLS verification is always on, with the system's CA store. */
                (void) curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYPEER, 1L);
                (void) curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYHOST, 2L);
                (void) curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT, UPLOAD_CONNECT_TIMEOUT_SEC);
                (void) curl_easy_setopt(s->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
                (void) curl_easy_setopt(s->curl, CURLOPT_LOW_SPEED_TIME, UPLOAD_LOW_SPEED_TIME_SEC);
                (void) curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, s->errbuf);
                (void) curl_easy_setopt(s->curl, CURLOPT_AWS_SIGV4, s->sigv4);
                /* Not CURLOPT_USERPWD: access keys may contain ':'. */
                (void) curl_easy_setopt(s->curl, CURLOPT_USERNAME, s->u->access_key_id);
                (void) curl_easy_setopt(s->curl, CURLOPT_PASSWORD, s->secret);
                (void) curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, headers);
                (void) curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_write);
                (void) curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, resp);
                (void) curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, on_header);
                (void) curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, resp);
                if (req->body) {
                        (void) curl_easy_setopt(s->curl, CURLOPT_READFUNCTION, on_read);
                        (void) curl_easy_setopt(s->curl, CURLOPT_READDATA, req->body);
                        (void) curl_easy_setopt(s->curl, CURLOPT_SEEKFUNCTION, on_seek);
                        (void) curl_easy_setopt(s->curl, CURLOPT_SEEKDATA, req->body);
                }
                if (streq(req->method, "PUT")) {
                        (void) curl_easy_setopt(s->curl, CURLOPT_UPLOAD, 1L);
                        (void) curl_easy_setopt(s->curl, CURLOPT_INFILESIZE_LARGE,
                                                (curl_off_t) (req->body ? req->body->length : 0));
                } else if (streq(req->method, "POST")) {
                        (void) curl_easy_setopt(s->curl, CURLOPT_POST, 1L);
                        if (!req->body)
                                (void) curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, "");
                        (void) curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE,
                                                (curl_off_t) (req->body ? req->body->length : 0));
                } else if (streq(req->method, "DELETE"))
                        (void) curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, "DELETE");
                else
                        (void) curl_easy_setopt(s->curl, CURLOPT_HTTPGET, 1L);

                cc = curl_easy_perform(s->curl);
                if (cc == CURLE_OK) {
                        (void) curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &resp->status);
                        if (resp->status >= 200 && resp->status < 300) {
                                r = 0;
                                break;
                        }
                        describe_http_error(resp, ret_detail);
                        transient = resp->status >= 500 || resp->status == 429;
                } else {
                        const char *e = s->errbuf[0] ? s->errbuf : curl_easy_strerror(cc);
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
        curl_easy_reset(s->curl);
        curl_slist_free_all(headers);
        return r;
}

/* The encoded path of an object: "/bucket/<prefix><name>". */
static int s3_object_path(S3 *s, const char *name, char **ret) {
        _cleanup_free_ char *key = NULL, *enc = NULL;

        if (asprintf(&key, "%s%s", s->prefix, name) < 0 || upload_uri_encode(key, true, &enc) < 0 ||
            asprintf(ret, "%s/%s", s->bucket_path, enc) < 0)
                return -ENOMEM;
        return 0;
}

static int sha256_range(int fd, uint64_t offset, uint64_t length, char hex[static SHA256_HEX_MAX]) {
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
                        r = k < 0 ? -errno : -EIO;
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

static void sha256_memory(const void *data, size_t n, char hex[static SHA256_HEX_MAX]) {
        uint8_t digest[EVP_MAX_MD_SIZE];
        unsigned dlen = 0;

        if (EVP_Digest(data, n, digest, &dlen, EVP_sha256(), NULL) == 1)
                hexencode(digest, 32, hex);
        else
                hex[0] = '\0';
}

/* One signed PUT of the whole file. */
static int s3_put_single(S3 *s, const char *path, int fd, uint64_t size, char **ret_detail) {
        _cleanup_(response_done) Response resp = {};
        char sha[SHA256_HEX_MAX];
        Body body = { .fd = fd, .length = size };
        int r;

        r = sha256_range(fd, 0, size, sha);
        if (r < 0)
                return free_and_format(ret_detail, "cannot read the file: %s", strerror(-r)), r;
        return s3_request(s, &(Request) { .method = "PUT", .path = path, .sha256 = sha, .body = &body,
                                          .response_max = UPLOAD_RESPONSE_MAX_BYTES },
                          &resp, ret_detail);
}

static void s3_abort_multipart(S3 *s, const char *path, const char *upload_id) {
        _cleanup_(response_done) Response resp = {};
        _cleanup_free_ char *query = NULL, *detail = NULL;

        if (upload_query_build(&(UploadQueryParam) { "uploadId", upload_id }, 1, &query) < 0)
                return;
        (void) s3_request(s, &(Request) { .method = "DELETE", .path = path, .query = query,
                                          .sha256 = EMPTY_SHA256, .response_max = UPLOAD_RESPONSE_MAX_BYTES },
                          &resp, &detail);
}

/* CreateMultipartUpload, UploadPart for each part_size range (each part's
 * own SHA-256), CompleteMultipartUpload; AbortMultipartUpload on failure. */
static int s3_put_multipart(S3 *s, const char *path, int fd, uint64_t size, char **ret_detail) {
        _cleanup_(response_done) Response resp = {};
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
        if (nparts > UPLOAD_PARTS_MAX)
                return free_and_format(ret_detail,
                                       "%" PRIu64 " parts of upload.part_size would exceed the limit of %u parts; "
                                       "raise upload.part_size", nparts, UPLOAD_PARTS_MAX), -EFBIG;

        r = upload_query_build(&(UploadQueryParam) { "uploads", "" }, 1, &query);
        if (r < 0)
                return r;
        r = s3_request(s, &(Request) { .method = "POST", .path = path, .query = query, .sha256 = EMPTY_SHA256,
                                       .content_type = "application/octet-stream",
                                       .response_max = UPLOAD_RESPONSE_MAX_BYTES },
                       &resp, ret_detail);
        if (r < 0)
                return r;
        r = resp.data ? upload_xml_element(resp.data, resp.len, "UploadId", UPLOAD_TOKEN_MAX, &upload_id) : -ENOENT;
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !*upload_id || strpbrk(upload_id, " "))
                return free_and_format(ret_detail, "CreateMultipartUpload answered without a usable UploadId"), -EIO;

        for (uint64_t i = 0; i < nparts; i++) {
                uint64_t off = i * part, len = MIN(part, size - off);
                char num[24];
                Body body = { .fd = fd, .offset = off, .length = len };

                r = sha256_range(fd, off, len, sha);
                if (r < 0) {
                        (void) free_and_format(ret_detail, "cannot read the file: %s", strerror(-r));
                        goto fail;
                }
                snprintf(num, sizeof num, "%" PRIu64, i + 1);
                query = mfree(query);
                r = upload_query_build((const UploadQueryParam[]) { { "partNumber", num }, { "uploadId", upload_id } },
                                       2, &query);
                if (r < 0)
                        goto fail;
                r = s3_request(s, &(Request) { .method = "PUT", .path = path, .query = query, .sha256 = sha,
                                               .body = &body, .response_max = UPLOAD_RESPONSE_MAX_BYTES },
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
        sha256_memory(xml, xml_len, sha);
        query = mfree(query);
        r = upload_query_build(&(UploadQueryParam) { "uploadId", upload_id }, 1, &query);
        if (r < 0)
                goto fail;
        {
                Body body = { .fd = -EBADF, .data = xml, .length = xml_len };
                r = s3_request(s, &(Request) { .method = "POST", .path = path, .query = query, .sha256 = sha,
                                               .content_type = "application/xml", .body = &body,
                                               .response_max = UPLOAD_RESPONSE_MAX_BYTES },
                               &resp, ret_detail);
        }
        if (r < 0)
                goto fail;
        /* CompleteMultipartUpload may fail with 200 and an <Error> body. */
        if (resp.data && memmem(resp.data, resp.len, "<Error>", 7)) {
                describe_http_error(&resp, ret_detail);
                r = -EIO;
                goto fail;
        }
        return 0;
fail:
        s3_abort_multipart(s, path, upload_id);
        return r;
}

/* Upload name from dir_fd under the prefix. *ret_multipart says how. */
static int s3_put_file(S3 *s, int dir_fd, const char *name, bool *ret_multipart, char **ret_error) {
        _cleanup_free_ char *path = NULL, *detail = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        bool multipart;
        int r;

        r = s3_object_path(s, name, &path);
        if (r < 0)
                return r;
        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                r = fd < 0 ? -errno : -EINVAL;
                return free_and_format(ret_error, "upload of %s to %s%s: cannot open the local file: %s", name,
                                       s->origin, path, strerror(-r)), r;
        }
        multipart = (uint64_t) st.st_size > s->u->part_size_bytes;
        r = multipart ? s3_put_multipart(s, path, fd, (uint64_t) st.st_size, &detail)
                      : s3_put_single(s, path, fd, (uint64_t) st.st_size, &detail);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return free_and_format(ret_error, "upload of %s to %s%s: %s", name, s->origin, path,
                                       detail ? detail : strerror(-r)), r;
        *ret_multipart = multipart;
        return 0;
}

static int s3_delete(S3 *s, const char *name, char **ret_error) {
        _cleanup_(response_done) Response resp = {};
        _cleanup_free_ char *path = NULL, *detail = NULL;
        int r;

        r = s3_object_path(s, name, &path);
        if (r < 0)
                return r;
        r = s3_request(s, &(Request) { .method = "DELETE", .path = path, .sha256 = EMPTY_SHA256,
                                       .response_max = UPLOAD_RESPONSE_MAX_BYTES },
                       &resp, &detail);
        if (r == -EIO && resp.status == 404)
                return 0;       /* gone already */
        if (r < 0)
                return free_and_format(ret_error, "removal of %s from %s%s: %s", name, s->origin, path,
                                       detail ? detail : strerror(-r)), r;
        return 0;
}

/* Every object under the prefix, all pages. */
static int s3_list(S3 *s, UploadListing *ret, char **ret_error) {
        _cleanup_(upload_listing_done) UploadListing l = {};
        _cleanup_free_ char *token = NULL;
        int r;

        for (unsigned page = 0;; page++) {
                _cleanup_(response_done) Response resp = {};
                _cleanup_free_ char *query = NULL, *detail = NULL;
                UploadQueryParam params[3] = { { "list-type", "2" }, { "prefix", s->prefix } };
                size_t n = 2;

                if (token)
                        params[n++] = (UploadQueryParam) { "continuation-token", token };
                r = upload_query_build(params, n, &query);
                if (r < 0)
                        return r;
                r = s3_request(s, &(Request) { .method = "GET", .path = s->bucket_path, .query = query,
                                               .sha256 = EMPTY_SHA256, .response_max = UPLOAD_LIST_BODY_MAX_BYTES },
                               &resp, &detail);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return free_and_format(ret_error, "listing of %s: %s", s->u->url,
                                               detail ? detail : strerror(-r)), r;
                if (resp.overflow)
                        return free_and_format(ret_error, "listing of %s: the answer is larger than %u bytes",
                                               s->u->url, UPLOAD_LIST_BODY_MAX_BYTES), -EBADMSG;
                r = resp.data ? upload_list_parse(resp.data, resp.len, &l) : -EBADMSG;
                if (r == -ENOMEM)
                        return r;
                if (r == -E2BIG)
                        return free_and_format(ret_error, "listing of %s: more than %u objects", s->u->url,
                                               UPLOAD_LIST_OBJECTS_MAX), r;
                if (r < 0)
                        return free_and_format(ret_error, "listing of %s: the answer is not a ListObjectsV2 result",
                                               s->u->url), r;
                if (!l.truncated)
                        break;
                if (!l.next_token || (token && streq(token, l.next_token)) || page >= UPLOAD_LIST_OBJECTS_MAX)
                        return free_and_format(ret_error, "listing of %s: truncated without a new continuation token",
                                               s->u->url), -EBADMSG;
                free(token);
                token = TAKE_PTR(l.next_token);
        }
        *ret = l;
        l = (UploadListing) {};
        return 0;
}

/* Split u->url into origin, bucket path and prefix; read the secret. */
static int s3_init(S3 *s, const ConfigUpload *u, char **ret_error) {
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
        if (!s->origin || !s->prefix || upload_uri_encode(bucket, false, &enc) < 0 ||
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

        r = read_full_file(u->secret_access_key_file, UPLOAD_SECRET_MAX_BYTES, &secret, &size);
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
        s->curl = curl_easy_init();
        if (!s->curl)
                return -ENOMEM;
        return 0;
}

/* ---- sync ---- */

typedef struct Remote {
        char *name;             /* key without the prefix */
        uint64_t size;
} Remote;

static int remote_compare(const void *a, const void *b) {
        return strcmp(((const Remote *) a)->name, ((const Remote *) b)->name);
}

typedef struct RemoteSet {
        Remote *items;
        size_t n, n_allocated;
        bool sorted;
} RemoteSet;

static void remote_set_done(RemoteSet *rs) {
        for (size_t i = 0; i < rs->n; i++)
                free(rs->items[i].name);
        free(rs->items);
        *rs = (RemoteSet) {};
}

static Remote *remote_find(RemoteSet *rs, const char *name) {
        if (!rs->sorted) {
                if (rs->n > 0)
                        qsort(rs->items, rs->n, sizeof *rs->items, remote_compare);
                rs->sorted = true;
        }
        if (rs->n == 0)
                return NULL;
        return bsearch(&(Remote) { .name = (char *) name }, rs->items, rs->n, sizeof *rs->items, remote_compare);
}

static int remote_set(RemoteSet *rs, const char *name, uint64_t size) {
        Remote *e = remote_find(rs, name), *items;
        char *copy;

        if (e) {
                e->size = size;
                return 0;
        }
        copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        if (rs->n >= rs->n_allocated) {
                size_t na = MAX(rs->n_allocated * 2, (size_t) 64);
                items = reallocarray(rs->items, na, sizeof *items);
                if (!items) {
                        free(copy);
                        return -ENOMEM;
                }
                rs->items = items;
                rs->n_allocated = na;
        }
        rs->items[rs->n++] = (Remote) { .name = copy, .size = size };
        rs->sorted = false;
        return 0;
}

static bool local_has(const StoreEntry *e, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(e[i].name, name))
                        return true;
        return false;
}

static int upload_one(S3 *s, Store *store, RemoteSet *rs, const char *name, uint64_t size, UploadReport *rep) {
        bool multipart = false;
        int r;

        r = s3_put_file(s, store->dir_fd, name, &multipart, &rep->error);
        if (r < 0)
                return r;
        if (multipart)
                rep->multipart++;
        r = strv_extend(&rep->uploaded, name);
        if (r >= 0)
                r = remote_set(rs, name, size);
        return r;
}

static int remote_retention(S3 *s, const RetentionPolicy *p, RemoteSet *rs, const StoreEntry *local, size_t n_local,
                            UploadReport *rep) {
        _cleanup_free_ RetentionItem *items = NULL;
        size_t n = 0;
        int r;

        items = calloc(rs->n ? rs->n : 1, sizeof *items);
        if (!items)
                return -ENOMEM;
        for (size_t i = 0; i < rs->n; i++) {
                StoreName parsed;
                _cleanup_free_ char *sc = NULL;
                if (store_name_parse(rs->items[i].name, &parsed) < 0)
                        continue;
                if (asprintf(&sc, "%s" SIDECAR_SUFFIX, rs->items[i].name) < 0)
                        return -ENOMEM;
                items[n++] = (RetentionItem) { .name = rs->items[i].name, .created_usec = parsed.created_usec,
                                               .verified = remote_find(rs, sc) != NULL };
        }
        if (n == 0)
                return 0;
        r = retention_plan(p, items, n);
        if (r < 0)
                return free_and_format(&rep->error, "remote retention on %s: cannot plan: %s", s->u->url,
                                       strerror(-r)), r;
        /* Names point into rs, which deletions below do not change. */
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *sc = NULL;
                /* items[0] is the newest remote backup: never deleted. */
                if (items[i].keep || i == 0 || local_has(local, n_local, items[i].name))
                        continue;
                r = s3_delete(s, items[i].name, &rep->error);
                if (r < 0)
                        return r;
                if (asprintf(&sc, "%s" SIDECAR_SUFFIX, items[i].name) < 0)
                        return -ENOMEM;
                if (remote_find(rs, sc)) {
                        r = s3_delete(s, sc, &rep->error);
                        if (r < 0)
                                return r;
                }
                r = strv_extend(&rep->deleted, items[i].name);
                if (r < 0)
                        return r;
        }
        return 0;
}

int upload_sync(const ConfigUpload *u, const RetentionPolicy *p, const char *storage_directory,
                UploadReport *ret) {
        _cleanup_(s3_done) S3 s = {};
        _cleanup_(upload_listing_done) UploadListing listing = {};
        _cleanup_(remote_set_done) RemoteSet rs = {};
        _cleanup_(store_freep) Store *store = NULL;
        _cleanup_free_ char *error = NULL;
        StoreEntry *local = NULL;
        size_t n_local = 0;
        int r;

        *ret = (UploadReport) {};
        r = s3_init(&s, u, &ret->error);
        if (r < 0)
                goto finish;
        r = s3_list(&s, &listing, &ret->error);
        if (r < 0)
                goto finish;
        for (size_t i = 0; i < listing.n; i++) {
                const char *rest = startswith(listing.objects[i].key, s.prefix);
                /* Only our own level: backups never hold a '/'. */
                if (!rest || !*rest || strchr(rest, '/'))
                        continue;
                r = remote_set(&rs, rest, listing.objects[i].size);
                if (r < 0)
                        goto finish;
        }
        upload_listing_done(&listing);

        r = store_open(storage_directory, false, &store, &error);
        if (r >= 0) {
                r = store_list(store, &local, &n_local);
                if (r < 0)
                        (void) free_and_format(&error, "cannot list %s: %s", storage_directory, strerror(-r));
        }
        if (r < 0) {
                (void) free_and_format(&ret->error, "upload: %s", error ? error : strerror(-r));
                goto finish;
        }

        /* store_list() gives the newest first. A sidecar follows its backup. */
        for (size_t i = 0; i < n_local; i++) {
                const StoreEntry *e = &local[i];
                Remote *rb = remote_find(&rs, e->name);
                bool backup_sent = false;

                if (!rb || rb->size != e->file_size) {
                        r = upload_one(&s, store, &rs, e->name, e->file_size, ret);
                        if (r < 0)
                                goto finish;
                        backup_sent = true;
                }
                if (e->has_sidecar) {
                        _cleanup_free_ char *sc = NULL;
                        struct stat st;
                        Remote *rsc;
                        if (asprintf(&sc, "%s" SIDECAR_SUFFIX, e->name) < 0) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        if (fstatat(store->dir_fd, sc, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                continue;       /* removed meanwhile: nothing to send */
                        rsc = remote_find(&rs, sc);
                        if (backup_sent || !rsc || rsc->size != (uint64_t) st.st_size) {
                                r = upload_one(&s, store, &rs, sc, (uint64_t) st.st_size, ret);
                                if (r < 0)
                                        goto finish;
                        }
                }
        }

        if (u->retention && p && !retention_policy_is_disabled(p)) {
                r = remote_retention(&s, p, &rs, local, n_local, ret);
                if (r < 0)
                        goto finish;
        }
        r = 0;
finish:
        if (r == -ENOMEM && !ret->error)
                (void) free_and_format(&ret->error, "upload to %s: out of memory", u->url ? u->url : "?");
        if (r < 0 && !ret->error)
                (void) free_and_format(&ret->error, "upload to %s: %s", u->url ? u->url : "?", strerror(-r));
        store_entries_free(local, n_local);
        return r;
}
