/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * codec.h — compression kinds (interim: names only, writers not built yet).
 */

typedef enum CodecKind { CODEC_NONE, CODEC_GZIP, CODEC_ZSTD } CodecKind;

int codec_from_string(const char *s, CodecKind *ret);
const char *codec_to_string(CodecKind kind);
int codec_level_range(CodecKind kind, int *ret_min, int *ret_max);