/* SPDX-License-Identifier: MIT */
/*
 * s3-uri.c — RFC 3986 percent-encoding and SigV4's canonical query string.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/s3-uri.h"
#include "util/macro.h"

int s3_uri_encode(const char *s, bool keep_slash, char **ret) {
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

int s3_query_build(const S3QueryParam *params, size_t n, char **ret) {
        _cleanup_free_ EncodedParam *e = NULL;
        size_t total = 1;
        char *out = NULL, *o;
        int r = -ENOMEM;

        e = calloc(n ? n : 1, sizeof *e);
        if (!e)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (s3_uri_encode(params[i].name, false, &e[i].name) < 0 ||
                    s3_uri_encode(params[i].value ? params[i].value : "", false, &e[i].value) < 0)
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
