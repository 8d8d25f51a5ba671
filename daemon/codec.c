/* SPDX-License-Identifier: MIT */
/*
 * codec.c — compression kinds (interim: names only, writers not built yet).
 */

#include <errno.h>
#include <string.h>

#include "codec.h"

int codec_from_string(const char *s, CodecKind *ret) {
        if (strcmp(s, "none") == 0)
                *ret = CODEC_NONE;
        else if (strcmp(s, "gzip") == 0)
                *ret = CODEC_GZIP;
        else if (strcmp(s, "zstd") == 0)
                *ret = CODEC_ZSTD;
        else
                return -EINVAL;
        return 0;
}

const char *codec_to_string(CodecKind kind) {
        return kind == CODEC_GZIP ? "gzip" : kind == CODEC_ZSTD ? "zstd" : "none";
}

int codec_level_range(CodecKind kind, int *ret_min, int *ret_max) {
        *ret_min = 1;
        *ret_max = kind == CODEC_ZSTD ? 19 : kind == CODEC_GZIP ? 12 : 1;
        return 0;
}