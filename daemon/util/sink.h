/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * sink.h — the one shape every streaming stage of the backup and restore
 * pipelines hands its output on in: compressors and decompressors
 * (backup/codec.h), the age encryptor and decryptor (format/age.h), the
 * decode pipeline that reads a backup (backup/inspect.c).
 */

#include <stddef.h>

/* Receives output bytes (n > 0; data is only valid during the call). Return 0
 * to go on; a negative errno aborts the operation and is returned by the
 * call that invoked the sink. */
typedef int (*SinkFn)(const void *data, size_t n, void *userdata);
