/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * mvcc-kv.h — etcd's keys as its storage layer keeps them: the
 * mvccpb.KeyValue protobuf of each revision in the "key" bucket, and the
 * keyspace as etcd serves it at the snapshot's revision (the latest
 * revision of each key, tombstones dropped). Pure: reads only the mapping
 * it is handed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format/bbolt.h"

/* mvccpb.KeyValue: key=1, create_revision=2, mod_revision=3, version=4,
 * value=5, lease=6. key and value point into the decoded buffer. */
typedef struct MvccKv {
        const uint8_t *key;
        size_t key_size;
        int64_t create_revision;
        int64_t mod_revision;
        int64_t version;
        const uint8_t *value;
        size_t value_size;
        int64_t lease;
} MvccKv;

/* Decode one mvccpb.KeyValue (a value of the "key" bucket). Unknown fields
 * are skipped; a known field with the wrong wire type, a truncated or
 * malformed field, or a missing or empty key is -EBADMSG. *ret is written
 * only on success; its pointers point into data. */
int mvcc_kv_decode(const void *data, size_t size, MvccKv *ret);

/* The keys of the snapshot as etcd serves them at its revision: every user
 * key whose latest revision in the "key" bucket is not a tombstone, sorted
 * by key bytes, restricted to the key equal to key (prefix false) or to the
 * keys starting with it (prefix true; an empty prefix is every key). Memory
 * is proportional to the number of matching keys; the pointers in *ret
 * point into db's mapping. Returns 0 with *ret (free() it; NULL when
 * *ret_n is 0) and *ret_n, -EBADMSG for a damaged bucket or a malformed
 * revision key or KeyValue (reason in bbolt_last_error(db)), -ENOMEM. A
 * snapshot without a "key" bucket has no keys. */
int mvcc_kv_get(Bbolt *db, const void *key, size_t key_size, bool prefix, MvccKv **ret, size_t *ret_n);
