/* SPDX-License-Identifier: MIT */
/*
 * mvcc-kv.c — decoding mvccpb.KeyValue and walking the "key" bucket for
 * the latest revision of each key (a hash table of the keys seen, then
 * sorted by key bytes, as etcd's range answers are).
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "format/mvcc-kv.h"
#include "format/mvcc.h"
#include "format/pb.h"
#include "util/bytesmap.h"
#include "util/macro.h"

int mvcc_kv_decode(const void *data, size_t size, MvccKv *ret) {
        MvccKv kv = {};
        PbReader rd;
        PbField f;
        int r;

        if (!data && size > 0)
                return -EBADMSG;
        pb_reader_init(&rd, data, size);
        while ((r = pb_next_field(&rd, &f)) > 0) {
                switch (f.number) {
                case 1:
                case 5:
                        if (f.wire_type != PB_WIRE_LEN)
                                return -EBADMSG;
                        if (f.number == 1) {
                                kv.key = f.data;
                                kv.key_size = f.size;
                        } else {
                                kv.value = f.data;
                                kv.value_size = f.size;
                        }
                        break;
                case 2:
                case 3:
                case 4:
                case 6:
                        if (f.wire_type != PB_WIRE_VARINT)
                                return -EBADMSG;
                        /* int64: negative values arrive as two's complement. */
                        if (f.number == 2)
                                kv.create_revision = (int64_t) f.value;
                        else if (f.number == 3)
                                kv.mod_revision = (int64_t) f.value;
                        else if (f.number == 4)
                                kv.version = (int64_t) f.value;
                        else
                                kv.lease = (int64_t) f.value;
                        break;
                default:
                        break;
                }
        }
        if (r < 0)
                return r;
        if (kv.key_size == 0)
                return -EBADMSG;
        *ret = kv;
        return 0;
}

/* ---- the latest revision of each key ---- */

/* The latest revision seen of one key. */
typedef struct Latest {
        MvccRevision rev;
        const uint8_t *kv;      /* the KeyValue of that revision */
        size_t kv_size;
} Latest;

typedef struct Walk {
        Bbolt *db;
        const uint8_t *match;
        size_t match_size;
        bool prefix;
        BytesMap keys;          /* key bytes -> Latest */
} Walk;

static bool rev_after(const MvccRevision *a, const MvccRevision *b) {
        return a->main > b->main || (a->main == b->main && a->sub > b->sub);
}

static int on_revision(const void *key, size_t klen, const void *value, size_t vlen, bool is_bucket,
                       void *userdata) {
        Walk *w = userdata;
        MvccRevision rev;
        MvccKv kv;
        Latest *l;
        int r;

        if (is_bucket)
                return bbolt_set_error(w->db, "bucket \"key\": holds a sub-bucket");
        if (mvcc_parse_key(key, klen, &rev) < 0)
                return bbolt_set_error(w->db, "bucket \"key\": a key of %zu bytes is not a revision", klen);
        if (mvcc_kv_decode(value, vlen, &kv) < 0)
                return bbolt_set_error(w->db, "bucket \"key\": revision %" PRId64 "_%" PRId64
                                       ": malformed KeyValue", rev.main, rev.sub);

        if (w->prefix ? kv.key_size < w->match_size || memcmp(kv.key, w->match, w->match_size) != 0
                      : kv.key_size != w->match_size || memcmp(kv.key, w->match, w->match_size) != 0)
                return 0;

        r = bytesmap_put(&w->keys, kv.key, kv.key_size, (void **) &l);
        if (r < 0)
                return r;
        if (r == 0 && !rev_after(&rev, &l->rev))
                return 0;
        *l = (Latest) { .rev = rev, .kv = value, .kv_size = vlen };
        return 0;
}

static int kv_compare(const void *a, const void *b) {
        const MvccKv *x = a, *y = b;
        int c = memcmp(x->key, y->key, MIN(x->key_size, y->key_size));

        if (c != 0)
                return c;
        return x->key_size < y->key_size ? -1 : x->key_size > y->key_size;
}

int mvcc_kv_get(Bbolt *db, const void *key, size_t key_size, bool prefix, MvccKv **ret, size_t *ret_n) {
        Walk w = { .db = db, .match = key, .match_size = key_size, .prefix = prefix };
        const void *k;
        size_t ks, it = 0;
        Latest *l;
        _cleanup_free_ MvccKv *kvs = NULL;
        BboltBucket bucket;
        size_t n = 0;
        int r;

        if (!db || (!key && key_size > 0) || !ret || !ret_n)
                return -EINVAL;

        r = bbolt_bucket_open(db, NULL, MVCC_KEY_BUCKET, strlen(MVCC_KEY_BUCKET), &bucket);
        if (r == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (r == -ENOTDIR)
                return bbolt_set_error(db, "root bucket: \"key\" is not a bucket");
        if (r < 0)
                return r;
        bytesmap_init(&w.keys, sizeof(Latest));
        r = bbolt_bucket_foreach(db, &bucket, on_revision, &w);
        if (r >= 0 && w.keys.n > 0) {
                kvs = calloc(w.keys.n, sizeof *kvs);
                if (!kvs)
                        r = -ENOMEM;
        }
        while (r >= 0 && bytesmap_next(&w.keys, &it, &k, &ks, (void **) &l)) {
                if (l->rev.tombstone)
                        continue;
                /* Decoded once already during the walk; cannot fail now. */
                r = mvcc_kv_decode(l->kv, l->kv_size, &kvs[n]);
                if (r >= 0)
                        n++;
        }
        bytesmap_done(&w.keys);
        if (r < 0)
                return r;
        if (n > 1)
                qsort(kvs, n, sizeof *kvs, kv_compare);
        if (n == 0)
                kvs = mfree(kvs);
        *ret = TAKE_PTR(kvs);
        *ret_n = n;
        return 0;
}
