/* SPDX-License-Identifier: MIT */
/*
 * bbolt-bucket.c — bucket lookups and iteration over a bbolt file: every
 * key of a bucket in order, the last key, one key, a nested bucket. Each
 * walk counts the pages it visits and stops at the file's page count and at
 * BBOLT_MAX_DEPTH levels, so cycles and shared pages end with an error; a
 * walk over every key also stops at the first page it meets twice (a page
 * of 65535 elements met again and again under branches that all lead to it
 * would be that many callbacks per visit: hours from a small file).
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "format/bbolt-internal.h"

/* Load page id at tree depth depth, counting the visit; must be a branch or
 * leaf page. */
static int walk_page(Walk *w, uint64_t id, unsigned depth, Page *ret) {
        Page p;
        int r;

        if (depth >= BBOLT_MAX_DEPTH)
                return bbolt_set_error(w->db, "page %" PRIu64 ": page tree deeper than %u levels", id,
                                       BBOLT_MAX_DEPTH);
        if (++w->visits > w->max_visits)
                return bbolt_set_error(w->db,
                                       "page %" PRIu64 ": page tree visits more pages than the file holds "
                                       "(cycle or shared pages)", id);
        r = bbolt_page_get(w->db, id, &p);
        if (r < 0)
                return r;
        /* Every page it spans (bbolt_page_get() checked them against the file's): a page that overlaps another's
         * overflow shares its elements as much as a page reached twice. */
        for (uint64_t i = id; w->seen && i <= id + p.overflow; i++) {
                if (w->seen[i / 8] & (1u << (i % 8)))
                        return bbolt_set_error(w->db, "page %" PRIu64 ": page tree reaches this page twice (cycle "
                                               "or shared pages)", i);
                w->seen[i / 8] |= (uint8_t) (1u << (i % 8));
        }
        if (p.flags != PAGE_BRANCH && p.flags != PAGE_LEAF)
                return bbolt_set_error(w->db,
                                       "page %" PRIu64 ": expected a branch or leaf page, flags 0x%02x",
                                       id, p.flags);
        *ret = p;
        return 0;
}

/* The top page of bucket b (NULL: root bucket), starting a walk; seen (or NULL) is its bitmap of the pages met. */
static int walk_begin(Bbolt *db, const BboltBucket *b, uint8_t *seen, Walk *w, Page *ret) {
        BboltBucket root;

        *w = (Walk) { .db = db, .max_visits = db->npages, .seen = seen };
        db->error[0] = 0;
        if (!b) {
                root = bbolt_root_bucket(db);
                b = &root;
        }
        if (b->root == 0)
                return bbolt_inline_page(db, b, ret);
        return walk_page(w, b->root, 0, ret);
}

static int foreach_page(Walk *w, const Page *p, unsigned depth, BboltForeachFn fn, void *userdata) {
        int r;

        for (unsigned i = 0; i < p->count; i++) {
                const uint8_t *key;
                size_t klen;

                if (p->flags == PAGE_LEAF) {
                        const uint8_t *val;
                        size_t vlen;
                        uint32_t flags;

                        r = bbolt_leaf_element(w->db, p, i, &flags, &key, &klen, &val, &vlen);
                        if (r < 0)
                                return r;
                        r = fn(key, klen, val, vlen, flags & LEAF_BUCKET, userdata);
                } else {
                        uint64_t child = 0;
                        Page c;

                        r = bbolt_branch_element(w->db, p, i, &key, &klen, &child);
                        if (r < 0)
                                return r;
                        r = walk_page(w, child, depth + 1, &c);
                        if (r < 0)
                                return r;
                        r = foreach_page(w, &c, depth + 1, fn, userdata);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

int bbolt_bucket_foreach(Bbolt *db, const BboltBucket *b, BboltForeachFn fn, void *userdata) {
        _cleanup_free_ uint8_t *seen = calloc(db->npages / 8 + 1, 1);
        Walk w;
        Page p;
        int r;

        if (!seen)
                return -ENOMEM;
        r = walk_begin(db, b, seen, &w, &p);
        if (r < 0)
                return r;
        return foreach_page(&w, &p, 0, fn, userdata);
}

static int last_page(Walk *w, const Page *p, unsigned depth, const uint8_t **ret_key,
                     size_t *ret_klen, const uint8_t **ret_val, size_t *ret_vlen) {
        const uint8_t *key;
        size_t klen;
        int r;

        if (p->flags == PAGE_LEAF) {
                uint32_t flags;

                if (p->count == 0)
                        return -ENOENT;
                return bbolt_leaf_element(w->db, p, p->count - 1u, &flags, ret_key, ret_klen, ret_val,
                                          ret_vlen);
        }

        /* Rightmost first; an empty leaf falls back to its left siblings. */
        for (unsigned i = p->count; i-- > 0;) {
                uint64_t child = 0;
                Page c;

                r = bbolt_branch_element(w->db, p, i, &key, &klen, &child);
                if (r < 0)
                        return r;
                r = walk_page(w, child, depth + 1, &c);
                if (r < 0)
                        return r;
                r = last_page(w, &c, depth + 1, ret_key, ret_klen, ret_val, ret_vlen);
                if (r != -ENOENT)
                        return r;
        }
        return -ENOENT;
}

int bbolt_bucket_last(Bbolt *db, const BboltBucket *b, const void **ret_key, size_t *ret_klen,
                      const void **ret_val, size_t *ret_vlen) {
        const uint8_t *key, *val;
        size_t klen, vlen;
        Walk w;
        Page p;
        int r;

        r = walk_begin(db, b, NULL, &w, &p);
        if (r < 0)
                return r;
        r = last_page(&w, &p, 0, &key, &klen, &val, &vlen);
        if (r < 0)
                return r;

        if (ret_key)
                *ret_key = key;
        if (ret_klen)
                *ret_klen = klen;
        if (ret_val)
                *ret_val = val;
        if (ret_vlen)
                *ret_vlen = vlen;
        return 0;
}

/* Descend from bucket b's top page to key: 0 with the leaf element, or
 * -ENOENT. */
static int bucket_seek(Bbolt *db, const BboltBucket *b, const uint8_t *key, size_t klen,
                       uint32_t *ret_flags, const uint8_t **ret_val, size_t *ret_vlen) {
        Walk w;
        Page p;
        int r;

        r = walk_begin(db, b, NULL, &w, &p);
        if (r < 0)
                return r;

        for (unsigned depth = 0;; depth++) {
                unsigned lo = 0, hi = p.count;
                const uint8_t *k, *v;
                size_t kl, vl;
                uint32_t flags;
                uint64_t child;
                Page c;

                if (p.flags == PAGE_LEAF) {
                        /* Exact match by binary search. */
                        while (lo < hi) {
                                unsigned mid = lo + (hi - lo) / 2;
                                int cmp;

                                r = bbolt_leaf_element(db, &p, mid, &flags, &k, &kl, &v, &vl);
                                if (r < 0)
                                        return r;
                                cmp = bbolt_key_compare(key, klen, k, kl);
                                if (cmp == 0) {
                                        *ret_flags = flags;
                                        *ret_val = v;
                                        *ret_vlen = vl;
                                        return 0;
                                }
                                if (cmp < 0)
                                        hi = mid;
                                else
                                        lo = mid + 1;
                        }
                        return -ENOENT;
                }

                if (p.count == 0)
                        return bbolt_set_error(db, "page %" PRIu64 ": empty branch page", p.id);
                /* The last element whose key is <= key (or the first one). */
                while (lo < hi) {
                        unsigned mid = lo + (hi - lo) / 2;

                        r = bbolt_branch_element(db, &p, mid, &k, &kl, &child);
                        if (r < 0)
                                return r;
                        if (bbolt_key_compare(k, kl, key, klen) <= 0)
                                lo = mid + 1;
                        else
                                hi = mid;
                }
                r = bbolt_branch_element(db, &p, lo > 0 ? lo - 1 : 0, &k, &kl, &child);
                if (r < 0)
                        return r;
                r = walk_page(&w, child, depth + 1, &c);
                if (r < 0)
                        return r;
                p = c;
        }
}

int bbolt_bucket_get(Bbolt *db, const BboltBucket *b, const void *key, size_t klen,
                     const void **ret_val, size_t *ret_vlen, bool *ret_is_bucket) {
        const uint8_t *v;
        size_t vlen;
        uint32_t flags;
        int r;

        r = bucket_seek(db, b, key, klen, &flags, &v, &vlen);
        if (r < 0)
                return r;
        if (ret_val)
                *ret_val = v;
        if (ret_vlen)
                *ret_vlen = vlen;
        if (ret_is_bucket)
                *ret_is_bucket = flags & LEAF_BUCKET;
        return 0;
}

int bbolt_bucket_open(Bbolt *db, const BboltBucket *parent, const void *name, size_t name_len,
                      BboltBucket *ret) {
        const uint8_t *v;
        size_t vlen;
        uint32_t flags;
        BboltBucket b;
        int r;

        r = bucket_seek(db, parent, name, name_len, &flags, &v, &vlen);
        if (r < 0)
                return r;
        if (!(flags & LEAF_BUCKET))
                return -ENOTDIR;
        r = bbolt_bucket_from_value(db, v, vlen, &b);
        if (r < 0)
                return r;
        *ret = b;
        return 0;
}
