/* SPDX-License-Identifier: MIT */
/*
 * fuzz-bbolt.c — libFuzzer target for the bbolt reader: any bytes are opened
 * as a db, then everything a caller can do is done to them: info, the
 * structural check, a walk over every bucket (nested ones too, to a bounded
 * depth and element count), the last key of each, and lookups of every key
 * seen. Nothing may crash, hang or read outside the input. Inputs ending in
 * an odd byte get valid meta checksums first (see resealed_copy()).
 */

#include <stdint.h>

#include "format/bbolt.h"

#include "fuzz-bbolt-reseal.h"
#include "fuzz.h"

#define MAX_ELEMENTS 200000u
#define MAX_NESTING 8u

typedef struct Fuzz {
        Bbolt *db;
        const BboltBucket *bucket;
        unsigned nesting;
        unsigned elements;
} Fuzz;

static int on_element(const void *key, size_t klen, const void *value, size_t vlen, bool is_bucket,
                      void *userdata) {
        Fuzz *f = userdata;
        const void *v;
        size_t len;
        bool sub;
        int r;

        if (++f->elements > MAX_ELEMENTS)
                return -E2BIG;
        /* Touch the bytes so ASan sees any read outside the input. */
        if (klen > 0)
                (void) *(volatile const uint8_t *) ((const uint8_t *) key + klen - 1);
        if (vlen > 0)
                (void) *(volatile const uint8_t *) ((const uint8_t *) value + vlen - 1);

        (void) bbolt_bucket_get(f->db, f->bucket, key, klen, &v, &len, &sub);

        if (is_bucket && f->nesting < MAX_NESTING) {
                BboltBucket b;
                Fuzz child = *f;

                if (bbolt_bucket_open(f->db, f->bucket, key, klen, &b) < 0)
                        return 0;
                child.bucket = &b;
                child.nesting++;
                (void) bbolt_bucket_last(f->db, &b, NULL, NULL, NULL, NULL);
                r = bbolt_bucket_foreach(f->db, &b, on_element, &child);
                f->elements = child.elements;
                if (r == -E2BIG)
                        return r;
        }
        return 0;
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ uint8_t *copy = resealed_copy(data, size);
        _cleanup_(bbolt_freep) Bbolt *db = NULL;
        BboltCheckStats stats;
        BboltInfo info;
        Fuzz f = {};
        const void *k, *v;
        size_t klen, vlen;

        if (bbolt_open_mem(copy ? copy : data, size, &db) < 0)
                return 0;
        (void) bbolt_get_info(db, &info);
        (void) bbolt_check(db, &stats);
        (void) bbolt_last_error(db);

        f.db = db;
        (void) bbolt_bucket_foreach(db, NULL, on_element, &f);
        (void) bbolt_bucket_last(db, NULL, &k, &klen, &v, &vlen);
        return 0;
}
