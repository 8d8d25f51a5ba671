/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * s3-uri.h — the percent-encoding and canonical query strings of S3's
 * SigV4: libcurl signs a URL exactly as it is given, so the path and query
 * are encoded and sorted here first. Pure.
 */

#include <stdbool.h>
#include <stddef.h>

/* RFC 3986 percent-encoding as SigV4 wants it: every byte except
 * A-Z a-z 0-9 - . _ ~ becomes %XX (upper-case hex); '/' is kept when
 * keep_slash is set (object key paths). Returns 0 or -ENOMEM. */
int s3_uri_encode(const char *s, bool keep_slash, char **ret);

typedef struct S3QueryParam {
        const char *name;
        const char *value;      /* "" for a parameter without a value */
} S3QueryParam;

/* The canonical query string of SigV4: every name and value
 * percent-encoded, sorted by encoded name then value, "name=value" joined
 * with '&' (an empty value gives "name="). n = 0 gives "". Returns 0 or
 * -ENOMEM. */
int s3_query_build(const S3QueryParam *params, size_t n, char **ret);
