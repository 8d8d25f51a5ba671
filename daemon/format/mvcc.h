/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * mvcc.h — etcd's storage layer on top of a bbolt db: revision keys of the
 * "key" bucket, the snapshot's own revision, the finished compaction
 * recorded in the "meta" bucket and the revision etcd answers at once
 * restored from the db, and the four figures of
 * `etcdctl snapshot status` (hash, revision, totalKey, totalSize), computed
 * as etcd 3.4's etcdctl computes them.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format/bbolt.h"

/* The bucket holding every key revision. */
#define MVCC_KEY_BUCKET "key"
/* Revision key: 8-byte big-endian main, '_', 8-byte big-endian sub, and for a
 * tombstone a trailing 't'. */
#define MVCC_REVISION_KEY_SIZE 17u
/* The bucket of etcd's own bookkeeping, and its key holding the revision of
 * the last finished compaction (main, '_', sub, as a revision key). */
#define MVCC_META_BUCKET "meta"
#define MVCC_FINISHED_COMPACT_KEY "finishedCompactRev"

typedef struct MvccRevision {
        int64_t main;
        int64_t sub;
        bool tombstone;
} MvccRevision;

typedef struct MvccStatus {
        uint32_t hash;          /* CRC-32C over bucket names, keys and values */
        int64_t revision;       /* main revision of the last key in "key"; 0 if none */
        uint64_t total_key;     /* elements of all top-level buckets */
        uint64_t total_size;    /* pgid * page_size, i.e. the db without a trailer */
} MvccStatus;

/* Parse a "key" bucket key. 0 and *ret on success; -EBADMSG if it is not
 * 17 bytes with '_' at offset 8, or 18 bytes ending in 't'. */
int mvcc_parse_key(const void *key, size_t klen, MvccRevision *ret);

/* The snapshot's revision: the main revision of the last key of bucket
 * "key". 0 and *ret_revision on success; -ENOENT if the bucket is empty (a
 * fresh etcd; `etcdctl snapshot status` prints revision 0 then); -EBADMSG
 * (reason in bbolt_last_error()) on corrupt structure, a malformed last key,
 * or no bucket "key" at all (etcd makes it at its first start: not etcd's). */
int mvcc_revision(Bbolt *db, int64_t *ret_revision);

/* The main revision of the db's last finished compaction: the value of
 * "finishedCompactRev" in bucket "meta". 0 and *ret_revision on success;
 * -ENOENT if the bucket or the key is missing (never compacted); -EBADMSG
 * (reason in bbolt_last_error()) on corrupt structure, or a value that is
 * not exactly a 17-byte revision with '_' at offset 8 and non-negative
 * halves, or that is a sub-bucket. */
int mvcc_compact_revision(Bbolt *db, int64_t *ret_revision);

/* The revision etcd 3.4 answers at right after it is restored from db
 * (mvcc's store restore): 1 for a store without keys, raised to the newest
 * key's main revision (mvcc_revision()), raised again to the finished
 * compaction's (mvcc_compact_revision()) — a compaction at a revision whose
 * writes were deletes drops their tombstones, leaving the newest key below
 * it. *ret_compact_revision (may be NULL) gets the compaction's revision, 0
 * if none. 0 on success; -EBADMSG as the two above (a missing bucket or key
 * is not an error). */
int mvcc_restored_revision(Bbolt *db, int64_t *ret_revision, int64_t *ret_compact_revision);

/* What `ETCDCTL_API=3 etcdctl snapshot status FILE -w json` prints, for etcd
 * 3.4: first the structural check (bbolt_check(); a failure fails the status
 * as it fails etcdctl's), then for every top-level bucket in key order its
 * name, then every key and value in it (a sub-bucket entry hashes its key
 * only and is not descended into), into one CRC-32C; totalKey counts those
 * elements; revision is the main revision of the last "key" key (0 if that
 * bucket is empty or missing); totalSize is bbolt's Tx.Size(), pgid times page
 * size — not the file size, which for an etcdctl snapshot is 32 bytes more.
 * 0 and *ret on success; -EBADMSG (reason in bbolt_last_error()) if the check
 * fails, a top-level key is not a bucket, or a "key" key is shorter than 17
 * bytes (etcdctl crashes on such a key); -ENOMEM. */
int mvcc_status(Bbolt *db, MvccStatus *ret);

/* CRC-32C (Castagnoli) of data, continuing from crc (0 to start), in the
 * convention of Go's crc32.Update: mvcc_crc32c(0, "123456789", 9) is
 * 0xE3069283. */
uint32_t mvcc_crc32c(uint32_t crc, const void *data, size_t size);

/* The same, always by table (mvcc_crc32c() uses this without SSE4.2); for
 * tests. */
uint32_t mvcc_crc32c_portable(uint32_t crc, const void *data, size_t size);
