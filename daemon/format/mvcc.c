/* SPDX-License-Identifier: MIT */
/*
 * mvcc.c — etcd's layer on the bbolt reader. etcd keeps every revision of
 * every key in bucket "key", keyed by {main revision, '_', sub revision}
 * (big-endian, 't' appended for a deletion), so the last key of that bucket
 * is the revision the db was taken at; bucket "meta" records the last
 * finished compaction, which etcd takes as its revision when that is higher
 * (the compaction dropped the tombstones of the newest writes).
 * mvcc_status() reproduces etcd 3.4's `etcdctl snapshot status` figure for
 * figure: a CRC-32C over every bucket name, key and value in order, the key
 * count, that revision and the db size.
 * CRC-32C uses the SSE4.2 instruction when the CPU has it, slicing-by-8
 * tables otherwise.
 */

#include <endian.h>
#include <pthread.h>
#include <string.h>

#include "format/mvcc.h"
#include "util/macro.h"

#define CRC32C_POLY UINT32_C(0x82F63B78)  /* Castagnoli, bit-reversed */

static uint32_t crc32c_table[8][256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void crc32c_init(void) {
        for (unsigned i = 0; i < 256; i++) {
                uint32_t c = i;
                for (unsigned k = 0; k < 8; k++)
                        c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1u)));
                crc32c_table[0][i] = c;
        }
        for (unsigned i = 0; i < 256; i++)
                for (unsigned t = 1; t < 8; t++)
                        crc32c_table[t][i] = (crc32c_table[t - 1][i] >> 8) ^
                                             crc32c_table[0][crc32c_table[t - 1][i] & 0xFF];
}

/* Inverted-register update, software. */
static uint32_t crc32c_sw(uint32_t c, const uint8_t *p, size_t n) {
        while (n >= 8) {
                uint64_t w;

                memcpy(&w, p, sizeof w);
                w = le64toh(w) ^ c;
                c = crc32c_table[7][w & 0xFF] ^ crc32c_table[6][(w >> 8) & 0xFF] ^
                    crc32c_table[5][(w >> 16) & 0xFF] ^ crc32c_table[4][(w >> 24) & 0xFF] ^
                    crc32c_table[3][(w >> 32) & 0xFF] ^ crc32c_table[2][(w >> 40) & 0xFF] ^
                    crc32c_table[1][(w >> 48) & 0xFF] ^ crc32c_table[0][w >> 56];
                p += 8;
                n -= 8;
        }
        while (n-- > 0)
                c = (c >> 8) ^ crc32c_table[0][(c ^ *p++) & 0xFF];
        return c;
}

uint32_t mvcc_crc32c_portable(uint32_t crc, const void *data, size_t size) {
        pthread_once(&crc32c_once, crc32c_init);
        return ~crc32c_sw(~crc, data, size);
}

#if defined(__x86_64__)
#include <nmmintrin.h>

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t c, const uint8_t *p, size_t n) {
        uint64_t c64 = c;

        while (n >= 8) {
                uint64_t w;

                memcpy(&w, p, sizeof w);
                c64 = _mm_crc32_u64(c64, w);
                p += 8;
                n -= 8;
        }
        c = (uint32_t) c64;
        while (n-- > 0)
                c = _mm_crc32_u8(c, *p++);
        return c;
}

static bool crc32c_have_hw(void) {
        static int have = -1;   /* a benign race: every thread computes the same */

        if (have < 0)
                have = __builtin_cpu_supports("sse4.2") ? 1 : 0;
        return have;
}
#endif

uint32_t mvcc_crc32c(uint32_t crc, const void *data, size_t size) {
        const uint8_t *p = data;
        uint32_t c = ~crc;

        if (size == 0)
                return crc;
#if defined(__x86_64__)
        if (crc32c_have_hw())
                return ~crc32c_hw(c, p, size);
#endif
        return mvcc_crc32c_portable(crc, data, size);
}

static uint64_t be64(const uint8_t *p) {
        uint64_t v;

        memcpy(&v, p, sizeof v);
        return be64toh(v);
}

int mvcc_parse_key(const void *key, size_t klen, MvccRevision *ret) {
        const uint8_t *k = key;

        if (klen != MVCC_REVISION_KEY_SIZE && klen != MVCC_REVISION_KEY_SIZE + 1)
                return -EBADMSG;
        if (k[8] != '_')
                return -EBADMSG;
        if (klen == MVCC_REVISION_KEY_SIZE + 1 && k[MVCC_REVISION_KEY_SIZE] != 't')
                return -EBADMSG;

        *ret = (MvccRevision) {
                .main = (int64_t) be64(k),
                .sub = (int64_t) be64(k + 9),
                .tombstone = klen == MVCC_REVISION_KEY_SIZE + 1,
        };
        return 0;
}

int mvcc_revision(Bbolt *db, int64_t *ret_revision) {
        BboltBucket b;
        MvccRevision rev;
        const void *key;
        size_t klen;
        int r;

        r = bbolt_bucket_open(db, NULL, MVCC_KEY_BUCKET, strlen(MVCC_KEY_BUCKET), &b);
        if (r == -ENOTDIR)
                return bbolt_set_error(db, "root bucket: \"key\" is not a bucket");
        /* etcd makes it when it first starts: a db without it is not etcd's. */
        if (r == -ENOENT)
                return bbolt_set_error(db, "root bucket: no bucket \"key\" (not an etcd database)");
        if (r < 0)
                return r;
        r = bbolt_bucket_last(db, &b, &key, &klen, NULL, NULL);
        if (r < 0)
                return r;
        r = mvcc_parse_key(key, klen, &rev);
        if (r < 0 || rev.main < 0)
                return bbolt_set_error(db, "bucket \"key\": the last key is not a revision");

        *ret_revision = rev.main;
        return 0;
}

int mvcc_compact_revision(Bbolt *db, int64_t *ret_revision) {
        BboltBucket b;
        const void *value;
        size_t vlen;
        bool is_bucket;
        MvccRevision rev;
        int r;

        r = bbolt_bucket_open(db, NULL, MVCC_META_BUCKET, strlen(MVCC_META_BUCKET), &b);
        if (r == -ENOTDIR)
                return bbolt_set_error(db, "root bucket: \"meta\" is not a bucket");
        if (r < 0)
                return r;
        r = bbolt_bucket_get(db, &b, MVCC_FINISHED_COMPACT_KEY, strlen(MVCC_FINISHED_COMPACT_KEY), &value, &vlen,
                             &is_bucket);
        if (r < 0)
                return r;
        if (is_bucket)
                return bbolt_set_error(db, "bucket \"meta\": " MVCC_FINISHED_COMPACT_KEY " is a bucket, not a revision");
        /* etcd writes {main, '_', sub}, never a tombstone mark. */
        if (vlen != MVCC_REVISION_KEY_SIZE || mvcc_parse_key(value, vlen, &rev) < 0)
                return bbolt_set_error(db, "bucket \"meta\": " MVCC_FINISHED_COMPACT_KEY " is %zu bytes, not a "
                                       "revision (%u bytes: main, '_', sub)", vlen, MVCC_REVISION_KEY_SIZE);
        if (rev.main < 0 || rev.sub < 0)
                return bbolt_set_error(db, "bucket \"meta\": " MVCC_FINISHED_COMPACT_KEY " is a negative revision");

        *ret_revision = rev.main;
        return 0;
}

int mvcc_restored_revision(Bbolt *db, int64_t *ret_revision, int64_t *ret_compact_revision) {
        int64_t key_rev = 0, compact_rev = 0;
        int r;

        r = mvcc_revision(db, &key_rev);
        if (r < 0 && r != -ENOENT)
                return r;
        r = mvcc_compact_revision(db, &compact_rev);
        if (r < 0 && r != -ENOENT)
                return r;

        /* etcd's store starts at revision 1, takes each key's revision in
         * turn, and then at least the finished compaction's. */
        *ret_revision = MAX(MAX(key_rev, compact_rev), INT64_C(1));
        if (ret_compact_revision)
                *ret_compact_revision = compact_rev;
        return 0;
}

typedef struct StatusWalk {
        Bbolt *db;
        MvccStatus status;
        bool is_key_bucket;
} StatusWalk;

static int on_status_element(const void *key, size_t klen, const void *value, size_t vlen,
                             bool is_bucket, void *userdata) {
        StatusWalk *w = userdata;

        w->status.hash = mvcc_crc32c(w->status.hash, key, klen);
        /* bbolt hands a sub-bucket's value over as nil: nothing to hash. */
        if (!is_bucket)
                w->status.hash = mvcc_crc32c(w->status.hash, value, vlen);
        if (w->is_key_bucket) {
                /* etcdctl decodes every key here and panics on a short one. */
                if (klen < MVCC_REVISION_KEY_SIZE)
                        return bbolt_set_error(w->db, "bucket \"key\": a key of %zu bytes is "
                                               "not a revision", klen);
                w->status.revision = (int64_t) be64(key);
        }
        w->status.total_key++;
        return 0;
}

static int on_status_bucket(const void *key, size_t klen, const void *value, size_t vlen,
                            bool is_bucket, void *userdata) {
        StatusWalk *w = userdata;
        BboltBucket b;
        int r;

        /* etcdctl fails with "cannot get hash of bucket" on a plain key. */
        if (!is_bucket)
                return bbolt_set_error(w->db, "root bucket: a top-level key is not a bucket");
        r = bbolt_bucket_open(w->db, NULL, key, klen, &b);
        if (r == -ENOENT || r == -ENOTDIR)
                return bbolt_set_error(w->db, "root bucket: a top-level bucket cannot be found "
                                       "by its name");
        if (r < 0)
                return r;

        w->status.hash = mvcc_crc32c(w->status.hash, key, klen);
        w->is_key_bucket = klen == strlen(MVCC_KEY_BUCKET) &&
                           memcmp(key, MVCC_KEY_BUCKET, klen) == 0;
        return bbolt_bucket_foreach(w->db, &b, on_status_element, w);
}

int mvcc_status(Bbolt *db, MvccStatus *ret) {
        StatusWalk w = { .db = db };
        BboltInfo info;
        int r;

        r = bbolt_check(db, NULL);
        if (r < 0)
                return r;
        r = bbolt_bucket_foreach(db, NULL, on_status_bucket, &w);
        if (r < 0)
                return r;

        bbolt_get_info(db, &info);
        w.status.total_size = info.db_size;
        *ret = w.status;
        return 0;
}
