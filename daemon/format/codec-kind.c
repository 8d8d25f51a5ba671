/* SPDX-License-Identifier: MIT */
/*
 * codec-kind.c — names, suffixes and level ranges of the compressions (see
 * codec-kind.h).
 */

#include <errno.h>

#include "format/codec-kind.h"
#include "util/macro.h"

#define CODEC_GZIP_LEVEL_MIN 1
#define CODEC_GZIP_LEVEL_MAX 12
#define CODEC_ZSTD_LEVEL_MIN 1
#define CODEC_ZSTD_LEVEL_MAX 19

static const char *const codec_names[_CODEC_KIND_MAX] = {
        [CODEC_NONE] = "none",
        [CODEC_GZIP] = "gzip",
        [CODEC_ZSTD] = "zstd",
};

static const char *const codec_suffixes[_CODEC_KIND_MAX] = {
        [CODEC_NONE] = "",
        [CODEC_GZIP] = ".gz",
        [CODEC_ZSTD] = ".zst",
};

int codec_from_string(const char *s, CodecKind *ret) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(codec_names); i++)
                if (streq(s, codec_names[i])) {
                        *ret = (CodecKind) i;
                        return 0;
                }
        return -EINVAL;
}

const char *codec_to_string(CodecKind kind) {
        if ((unsigned) kind >= _CODEC_KIND_MAX)
                return NULL;
        return codec_names[kind];
}

const char *codec_suffix(CodecKind kind) {
        if ((unsigned) kind >= _CODEC_KIND_MAX)
                return NULL;
        return codec_suffixes[kind];
}

int codec_level_range(CodecKind kind, int *ret_min, int *ret_max) {
        int lo, hi;

        switch (kind) {
        case CODEC_NONE:
                lo = hi = 0;
                break;
        case CODEC_GZIP:
                lo = CODEC_GZIP_LEVEL_MIN;
                hi = CODEC_GZIP_LEVEL_MAX;
                break;
        case CODEC_ZSTD:
                lo = CODEC_ZSTD_LEVEL_MIN;
                hi = CODEC_ZSTD_LEVEL_MAX;
                break;
        default:
                return -EINVAL;
        }
        if (ret_min)
                *ret_min = lo;
        if (ret_max)
                *ret_max = hi;
        return 0;
}
