/* SPDX-License-Identifier: MIT */
/*
 * fuzz-mvcc.c — libFuzzer target for etcd's layer on the bbolt reader: any
 * bytes opened as a db go through mvcc_status() (check, hash of every bucket),
 * mvcc_revision(), mvcc_compact_revision() and mvcc_restored_revision(). Nothing may crash, hang or read outside the input.
 * Inputs ending in an odd byte get valid meta checksums first (see
 * resealed_copy()).
 */

#include <stdint.h>

#include "format/mvcc.h"

#include "fuzz-bbolt-reseal.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ uint8_t *copy = resealed_copy(data, size);
        _cleanup_(bbolt_freep) Bbolt *db = NULL;
        MvccStatus status;
        MvccRevision rev;
        int64_t revision;

        (void) mvcc_parse_key(data, size, &rev);
        if (bbolt_open_mem(copy ? copy : data, size, &db) < 0)
                return 0;
        (void) mvcc_status(db, &status);
        (void) mvcc_revision(db, &revision);
        (void) mvcc_compact_revision(db, &revision);
        (void) mvcc_restored_revision(db, &revision, &revision);
        return 0;
}
