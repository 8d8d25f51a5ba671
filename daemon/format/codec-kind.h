/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * codec-kind.h — the compressions a backup may have (none, gzip, zstd): their
 * names in the configuration, their file-name suffixes and their level
 * ranges. Pure: shared by the configuration and the codec.
 */

typedef enum CodecKind {
        CODEC_NONE,
        CODEC_GZIP,
        CODEC_ZSTD,
        _CODEC_KIND_MAX,
} CodecKind;

/* "none", "gzip", "zstd" → kind. -EINVAL for anything else (also NULL). */
int codec_from_string(const char *s, CodecKind *ret);

/* The name as accepted by codec_from_string(), or NULL for an invalid kind. */
const char *codec_to_string(CodecKind kind);

/* File-name suffix: "", ".gz", ".zst"; NULL for an invalid kind. */
const char *codec_suffix(CodecKind kind);

/* Valid compression levels of kind, inclusive. gzip: 1–12 (libdeflate's range;
 * 10–12 exist only in libdeflate, zlib and gzip(1) stop at 9); zstd: 1–19;
 * none: 0–0 (the level is ignored). -EINVAL for an invalid kind. */
int codec_level_range(CodecKind kind, int *ret_min, int *ret_max);
