/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * trailer.h — etcd's snapshot integrity check. etcd appends the SHA-256 of
 * the db as the last 32 bytes of the snapshot stream. A Trailer is fed the
 * stream in pieces of any size, hashes everything but the last 32 bytes
 * (which it holds back until it knows they are the end), and at the end
 * compares. Pure: no I/O.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/macro.h"

#define TRAILER_BYTES 32

typedef struct Trailer Trailer;

int trailer_new(Trailer **ret);
Trailer *trailer_free(Trailer *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Trailer *, trailer_free);

/* Feed the next n bytes of the stream. 0 or -ENOMEM/-EIO. */
int trailer_feed(Trailer *t, const void *data, size_t n);

/* The stream has ended. Returns 0 if the last 32 bytes are the SHA-256 of
 * everything before them, -EPIPE if the stream was shorter than 32 bytes,
 * -EBADMSG on a mismatch. ret_db_sha256 (32 bytes, may be NULL) receives
 * the computed hash, ret_db_size the db length (stream minus 32). */
int trailer_finish(Trailer *t, uint8_t ret_db_sha256[static TRAILER_BYTES], uint64_t *ret_db_size);

/* The SHA-256 of everything fed so far, the held-back last bytes included:
 * the hash of the stream kept whole as a file. Call before trailer_finish().
 * 0 or -ENOMEM/-EIO. */
int trailer_stream_sha256(const Trailer *t, uint8_t ret[static TRAILER_BYTES]);
