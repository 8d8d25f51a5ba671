/* SPDX-License-Identifier: MIT */
/*
 * bbolt-check.c — the structural check of a bbolt file: every page reached
 * once from the root bucket or the freelist, keys in order within their
 * parents' bounds, nested buckets followed to BBOLT_MAX_DEPTH, the freelist
 * consistent with the reached pages.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "format/bbolt-internal.h"

typedef struct Checker {
        Bbolt *db;
        uint8_t *reached;       /* bitmaps over meta.pgid pages */
        uint8_t *freed;
        BboltCheckStats stats;
        /* The page being checked at each depth, for bbolt_page_read(): a page
         * stays put while the pages below it are checked. */
        uint8_t *buf[BBOLT_MAX_DEPTH];
        size_t alloc[BBOLT_MAX_DEPTH];
} Checker;

static bool bit_get(const uint8_t *map, uint64_t i) {
        return map[i / 8] & (1u << (i % 8));
}

static void bit_set(uint8_t *map, uint64_t i) {
        map[i / 8] |= (uint8_t) (1u << (i % 8));
}

/* Keys a subtree must lie in: [lo, hi), NULL for no bound. The last key seen
 * in the bucket so far, for ordering across leaves. */
typedef struct KeyRange {
        const uint8_t *lo, *hi;
        size_t lo_len, hi_len;
} KeyRange;

typedef struct LastKey {
        const uint8_t *key;
        size_t len;
        bool set;
        uint8_t *copy;          /* the key kept once its page is left (see keep_last()) */
        size_t copy_alloc;
} LastKey;

/* The page the last key points into is read over by the next page at its
 * depth: keep a copy of the key. */
static int keep_last(LastKey *last) {
        if (!last->set || last->key == last->copy)
                return 0;
        if (last->copy_alloc < last->len) {
                uint8_t *b = realloc(last->copy, last->len);
                if (!b)
                        return -ENOMEM;
                last->copy = b;
                last->copy_alloc = last->len;
        }
        if (last->len > 0)
                memcpy(last->copy, last->key, last->len);
        last->key = last->copy;
        return 0;
}

static int check_bucket(Checker *c, const BboltBucket *b, unsigned depth);

static int check_key(Checker *c, const Page *p, unsigned i, const uint8_t *key, size_t klen,
                     const KeyRange *range, LastKey *last) {
        char buf[32];

        if (last && last->set && bbolt_key_compare(key, klen, last->key, last->len) <= 0)
                return bbolt_set_error(c->db,
                                       "%s: keys out of order at element %u%s", bbolt_page_label(p, buf), i,
                                       i == 0 ? " (not after the previous page's last key)" : "");
        if ((range->lo && bbolt_key_compare(key, klen, range->lo, range->lo_len) < 0) ||
                  (range->hi && bbolt_key_compare(key, klen, range->hi, range->hi_len) >= 0))
                return bbolt_set_error(c->db, "%s: key of element %u outside the range its parent page gives",
                                       bbolt_page_label(p, buf), i);
        if (last) {
                last->key = key;
                last->len = klen;
                last->set = true;
        }
        return 0;
}

/* bbolt writes a leaf's keys and values after its element headers, each element's key and value after the
 * previous one's. Required here: elements whose bytes overlap could name one nested inline bucket over and
 * over, and a few KiB of such buckets nested would be walked 2^60 times. Disjoint, the walk is linear. */
static int check_leaf(Checker *c, const Page *p, unsigned depth, const KeyRange *range,
                      LastKey *last) {
        const uint8_t *end = p->base + PAGE_HEADER_SIZE + (size_t) p->count * ELEMENT_SIZE;
        char buf[32];
        int r;

        for (unsigned i = 0; i < p->count; i++) {
                const uint8_t *key = NULL, *val = NULL;
                size_t klen = 0, vlen = 0;
                uint32_t flags = 0;

                r = bbolt_leaf_element(c->db, p, i, &flags, &key, &klen, &val, &vlen);
                if (r < 0)
                        return r;
                if (key < end)
                        return bbolt_set_error(c->db, "%s: key of element %u overlaps %s", bbolt_page_label(p, buf),
                                               i, i == 0 ? "the element headers" :
                                                           "the previous element's key or value (bbolt lays them "
                                                           "out one after another)");
                end = val + vlen;
                r = check_key(c, p, i, key, klen, range, last);
                if (r < 0)
                        return r;
                c->stats.keys++;
                if (flags & LEAF_BUCKET) {
                        BboltBucket sub = {};

                        r = bbolt_bucket_from_value(c->db, val, vlen, &sub);
                        if (r < 0)
                                return r;
                        r = check_bucket(c, &sub, depth + 1);
                        if (r < 0)
                                return r;
                }
        }
        return last ? keep_last(last) : 0;
}

/* Claim pages id..id+overflow for this tree. */
static int check_claim(Checker *c, const Page *p) {
        for (uint64_t i = p->id; i <= p->id + p->overflow; i++) {
                if (bit_get(c->reached, i))
                        return bbolt_set_error(c->db, "page %" PRIu64 ": reached twice", i);
                if (bit_get(c->freed, i))
                        return bbolt_set_error(c->db, "page %" PRIu64 ": reachable but in the freelist", i);
                bit_set(c->reached, i);
        }
        return 0;
}

static int check_tree(Checker *c, uint64_t id, unsigned depth, unsigned level,
                      const KeyRange *range, LastKey *last) {
        LastKey branch_last = {};
        Page p;
        int r;

        if (depth >= BBOLT_MAX_DEPTH)
                return bbolt_set_error(c->db,
                                       "page %" PRIu64 ": pages and buckets nest deeper than %u levels",
                                       id, BBOLT_MAX_DEPTH);
        r = bbolt_page_read(c->db, id, &c->buf[depth], &c->alloc[depth], &p);
        if (r < 0)
                return r;
        r = check_claim(c, &p);
        if (r < 0)
                return r;
        c->stats.overflow_pages += p.overflow;
        c->stats.max_depth = MAX(c->stats.max_depth, level + 1);

        if (p.flags == PAGE_LEAF) {
                c->stats.leaf_pages++;
                return check_leaf(c, &p, depth, range, last);
        }
        if (p.flags != PAGE_BRANCH)
                return bbolt_set_error(c->db,
                                       "page %" PRIu64 ": expected a branch or leaf page, flags 0x%02x",
                                       id, p.flags);
        c->stats.branch_pages++;
        if (p.count == 0)
                return bbolt_set_error(c->db, "page %" PRIu64 ": empty branch page", id);

        for (unsigned i = 0; i < p.count; i++) {
                const uint8_t *key, *next = NULL;
                size_t klen, next_len = 0;
                uint64_t child, next_child;
                KeyRange sub;

                r = bbolt_branch_element(c->db, &p, i, &key, &klen, &child);
                if (r < 0)
                        return r;
                r = check_key(c, &p, i, key, klen, &(KeyRange) {}, &branch_last);
                if (r < 0)
                        return r;
                if (i + 1u < p.count) {
                        r = bbolt_branch_element(c->db, &p, i + 1, &next, &next_len, &next_child);
                        if (r < 0)
                                return r;
                }
                /* The first child may hold keys below its branch key (lookups
                 * still reach it); every other child starts at its key. */
                sub = (KeyRange) {
                        .lo = i == 0 ? range->lo : key,
                        .lo_len = i == 0 ? range->lo_len : klen,
                        .hi = next ? next : range->hi,
                        .hi_len = next ? next_len : range->hi_len,
                };
                r = check_tree(c, child, depth + 1, level + 1, &sub, last);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int check_bucket(Checker *c, const BboltBucket *b, unsigned depth) {
        LastKey last = {};
        Page p = {};
        int r;

        c->stats.buckets++;
        if (b->root != 0) {
                r = check_tree(c, b->root, depth, 0, &(KeyRange) {}, &last);
                free(last.copy);
                return r;
        }

        if (depth >= BBOLT_MAX_DEPTH)
                return bbolt_set_error(c->db, "inline page: pages and buckets nest deeper than %u levels",
                                       BBOLT_MAX_DEPTH);
        c->stats.inline_buckets++;
        r = bbolt_inline_page(c->db, b, &p);
        if (r < 0)
                return r;
        c->stats.max_depth = MAX(c->stats.max_depth, 1u);
        r = check_leaf(c, &p, depth, &(KeyRange) {}, &last);
        free(last.copy);
        return r;
}

static int check_freelist(Checker *c) {
        Bbolt *db = c->db;
        uint64_t count, first = 0;
        Page p;
        int r;

        if (db->meta.freelist == BBOLT_PGID_NONE)
                return 0;

        /* Read at depth 0: the walk starts after it, and only the bitmap is kept. */
        r = bbolt_page_read(db, db->meta.freelist, &c->buf[0], &c->alloc[0], &p);
        if (r < 0)
                return r;
        if (p.flags != PAGE_FREELIST)
                return bbolt_set_error(db, "page %" PRIu64 ": expected the freelist page, flags 0x%02x", p.id,
                                       p.flags);
        r = check_claim(c, &p);
        if (r < 0)
                return r;
        c->stats.freelist_pages = (uint64_t) p.overflow + 1;

        /* A count of 0xFFFF means the real count is the first id slot. */
        count = p.count;
        if (count == 0xFFFF) {
                count = le64(p.base + PAGE_HEADER_SIZE);
                first = 1;
        }
        if (count > (p.size - PAGE_HEADER_SIZE) / 8 - first)
                return bbolt_set_error(db,
                                       "page %" PRIu64 ": freelist of %" PRIu64 " ids does not fit the page",
                                       p.id, count);

        for (uint64_t i = 0; i < count; i++) {
                uint64_t id = le64(p.base + PAGE_HEADER_SIZE + (first + i) * 8);

                if (id < 2 || id >= db->meta.pgid)
                        return bbolt_set_error(db, "page %" PRIu64 ": freelist lists page %" PRIu64
                                               ", out of range", p.id, id);
                if (bit_get(c->freed, id))
                        return bbolt_set_error(db, "page %" PRIu64 ": freed twice", id);
                if (bit_get(c->reached, id))
                        return bbolt_set_error(db, "page %" PRIu64 ": in the freelist but in use", id);
                bit_set(c->freed, id);
        }
        c->stats.free_pages = count;
        c->stats.freelist_checked = true;
        return 0;
}

int bbolt_check(Bbolt *db, BboltCheckStats *ret) {
        _cleanup_free_ uint8_t *reached = NULL, *freed = NULL;
        BboltBucket root = bbolt_root_bucket(db);
        Checker c = { .db = db };
        size_t bytes;
        int r;

        db->error[0] = 0;
        if (db->file_pages < db->meta.pgid)
                return bbolt_set_error(db, "file holds %" PRIu64 " pages, the meta page uses %" PRIu64
                                       " (truncated?)", db->file_pages, db->meta.pgid);

        /* pgid <= file pages, so the bitmaps are bounded by the file size. */
        bytes = (size_t) (db->meta.pgid / 8 + 1);
        reached = calloc(1, bytes);
        freed = calloc(1, bytes);
        if (!reached || !freed)
                return -ENOMEM;
        c.reached = reached;
        c.freed = freed;
        c.stats.pages = db->meta.pgid;

        bit_set(reached, 0);
        bit_set(reached, 1);
        r = check_freelist(&c);
        if (r >= 0)
                r = check_bucket(&c, &root, 0);
        for (unsigned i = 0; i < BBOLT_MAX_DEPTH; i++)
                free(c.buf[i]);
        if (r < 0)
                return r;

        /* Without a stored freelist, bbolt counts every page it cannot reach
         * as free; with one, such a page is lost. */
        for (uint64_t i = 2; i < db->meta.pgid; i++) {
                if (bit_get(reached, i) || bit_get(freed, i))
                        continue;
                if (c.stats.freelist_checked)
                        return bbolt_set_error(db, "page %" PRIu64 ": neither reachable nor free", i);
                c.stats.free_pages++;
        }

        if (ret)
                *ret = c.stats;
        return 0;
}
