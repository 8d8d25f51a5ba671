/* SPDX-License-Identifier: MIT */
/*
 * s3-xml.c — the ListObjectsV2 and ListMultipartUploads scanners and the
 * single-element reader.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/s3-xml.h"
#include "util/macro.h"
#include "util/time.h"

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

int s3_xml_element(const char *xml, size_t n, const char *tag, size_t max, char **ret) {
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

void s3_listing_done(S3Listing *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->objects[i].key);
        free(l->objects);
        free(l->next_token);
        *l = (S3Listing) {};
}

static int listing_add(S3Listing *l, const char *s, const char *end) {
        const char *k, *z;
        size_t kn, zn;
        uint64_t size;
        char *key = NULL;
        S3Object *objects;

        if (!xml_find(s, end, "Key", &k, &kn) || !xml_find(s, end, "Size", &z, &zn) ||
            parse_u64(z, zn, &size) < 0)
                return 0;       /* not an object we can use: skip it */
        switch (xml_text_decode(k, kn, S3_KEY_MAX, true, &key)) {
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
        if (l->n >= S3_LIST_OBJECTS_MAX) {
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
        l->objects[l->n++] = (S3Object) { .key = key, .size = size };
        return 0;
}

/* The element <tag> that *p points at, decoded strictly into *dst (replaced;
 * at most S3_TOKEN_MAX bytes); *p moves past its text. 0, -EBADMSG, -ENOMEM. */
static int read_token(const char **p, const char *end, const char *tag, char **dst) {
        const char *s;
        size_t len;
        int r;

        if (!xml_find(*p, end, tag, &s, &len))
                return -EBADMSG;
        *dst = mfree(*dst);
        r = xml_text_decode(s, len, S3_TOKEN_MAX, true, dst);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        *p = s + len;
        return 0;
}

int s3_list_parse(const char *xml, size_t n, S3Listing *l) {
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
                        r = read_token(&p, end, "NextContinuationToken", &l->next_token);
                        if (r < 0)
                                return r;
                } else
                        p++;
        }
        if (l->next_token && !*l->next_token)
                l->next_token = mfree(l->next_token);
        return 0;
}

void s3_uploads_done(S3Uploads *u) {
        for (size_t i = 0; i < u->n; i++) {
                free(u->uploads[i].key);
                free(u->uploads[i].upload_id);
        }
        free(u->uploads);
        free(u->next_key_marker);
        free(u->next_upload_id_marker);
        *u = (S3Uploads) {};
}

/* One <Upload>…</Upload> in [s, end); one that lacks what is needed is skipped. */
static int uploads_add(S3Uploads *u, const char *s, const char *end) {
        _cleanup_free_ char *key = NULL, *id = NULL, *initiated = NULL;
        const char *t;
        size_t tn;
        uint64_t usec = 0;
        int r;

        if (!xml_find(s, end, "Key", &t, &tn))
                return 0;
        r = xml_text_decode(t, tn, S3_KEY_MAX, true, &key);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !*key || !xml_find(s, end, "UploadId", &t, &tn))
                return 0;
        r = xml_text_decode(t, tn, S3_TOKEN_MAX, true, &id);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !*id || strchr(id, ' '))
                return 0;
        if (xml_find(s, end, "Initiated", &t, &tn)) {
                r = xml_text_decode(t, tn, 64, true, &initiated);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || parse_rfc3339(initiated, &usec) < 0)
                        usec = 0;
        }
        if (u->n >= S3_LIST_OBJECTS_MAX)
                return -E2BIG;
        if (u->n >= u->n_allocated) {
                size_t na = MAX(u->n_allocated * 2, (size_t) 16);
                S3Upload *uploads = reallocarray(u->uploads, na, sizeof *uploads);
                if (!uploads)
                        return -ENOMEM;
                u->uploads = uploads;
                u->n_allocated = na;
        }
        u->uploads[u->n++] = (S3Upload) { .key = TAKE_PTR(key), .upload_id = TAKE_PTR(id), .initiated_usec = usec };
        return 0;
}

int s3_uploads_parse(const char *xml, size_t n, S3Uploads *u) {
        const char *end = xml + n, *p;
        int r;

        p = memmem(xml, n, "<ListMultipartUploadsResult", strlen("<ListMultipartUploadsResult"));
        if (!p)
                return -EBADMSG;
        u->truncated = false;
        u->next_key_marker = mfree(u->next_key_marker);
        u->next_upload_id_marker = mfree(u->next_upload_id_marker);
        while (p < end && (p = memchr(p, '<', (size_t) (end - p)))) {
                size_t rest = (size_t) (end - p);
                const char *s, *e;
                size_t len;

                if (rest >= 8 && !memcmp(p, "<Upload>", 8)) {
                        s = p + 8;
                        e = memmem(s, (size_t) (end - s), "</Upload>", 9);
                        if (!e)
                                return -EBADMSG;
                        r = uploads_add(u, s, e);
                        if (r < 0)
                                return r;
                        p = e + 9;
                } else if (rest >= 13 && !memcmp(p, "<IsTruncated>", 13)) {
                        if (!xml_find(p, end, "IsTruncated", &s, &len))
                                return -EBADMSG;
                        u->truncated = len == 4 && !memcmp(s, "true", 4);
                        p = s + len;
                } else if (rest >= 15 && !memcmp(p, "<NextKeyMarker>", 15)) {
                        r = read_token(&p, end, "NextKeyMarker", &u->next_key_marker);
                        if (r < 0)
                                return r;
                } else if (rest >= 20 && !memcmp(p, "<NextUploadIdMarker>", 20)) {
                        r = read_token(&p, end, "NextUploadIdMarker", &u->next_upload_id_marker);
                        if (r < 0)
                                return r;
                } else
                        p++;
        }
        if (u->next_key_marker && !*u->next_key_marker)
                u->next_key_marker = mfree(u->next_key_marker);
        if (u->next_upload_id_marker && !*u->next_upload_id_marker)
                u->next_upload_id_marker = mfree(u->next_upload_id_marker);
        return 0;
}
