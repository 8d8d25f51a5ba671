/* SPDX-License-Identifier: MIT */
/*
 * fuzz-mvcc.c — libFuzzer target for etcd's layer on the bbolt reader: any
 * bytes opened as a db go through mvcc_status() (check, hash of every bucket)
 * and mvcc_revision(). Nothing may crash, hang or read outside the input.
 * Inputs ending in an odd byte get valid meta checksums first (see
 * resealed_copy()).
 */

#include <stdint.h>

#include "mvcc.h"

/* Most mutations of a meta page only break its checksum. When the input's
 * last byte is odd, the harness recomputes the checksums of both meta pages
 * (at 0, and at the page size meta 0 names, else 4096) on a copy, so the
 * fuzzer reaches the fields behind it. */
static void reseal(uint8_t *p, size_t size, size_t off) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        if (off > size || size - off < 16 + 64)
                return;
        for (size_t i = 0; i < 56; i++) {
                h ^= p[off + 16 + i];
                h *= UINT64_C(0x100000001b3);
        }
        for (size_t i = 0; i < 8; i++)
                p[off + 16 + 56 + i] = (uint8_t) (h >> (8 * i));
}

static uint8_t *resealed_copy(const uint8_t *data, size_t size) {
        uint8_t *p;
        size_t ps = 4096;

        if (size == 0 || !(data[size - 1] & 1) || !(p = malloc(size)))
                return NULL;
        memcpy(p, data, size);
        if (size >= 16 + 12) {
                uint32_t v = (uint32_t) p[24] | (uint32_t) p[25] << 8 | (uint32_t) p[26] << 16 |
                             (uint32_t) p[27] << 24;
                if (v >= 512 && v <= 65536)
                        ps = v;
        }
        reseal(p, size, 0);
        reseal(p, size, ps);
        return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
        return 0;
}
