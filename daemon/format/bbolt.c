/* SPDX-License-Identifier: MIT */
/*
 * bbolt.c — read-only access to bbolt files (etcd's db and snapshots), which
 * are treated as untrusted. The layout, little-endian throughout: pages of
 * page_size bytes, each starting with a 16-byte header {id u64, flags u16,
 * count u16, overflow u32}; a page with overflow n spans n + 1 pages. Pages 0
 * and 1 are meta pages {magic, version, page_size, flags, root bucket {root,
 * sequence}, freelist, pgid, txid, checksum = FNV-1a 64 of what precedes it};
 * the valid one with the higher txid is current. A bucket is a B+tree: branch
 * pages hold 16-byte elements {pos u32, ksize u32, child pgid u64}, leaf pages
 * {flags u32, pos u32, ksize u32, vsize u32}, pos counting from the element
 * itself. A leaf element flagged as a bucket holds a bucket header {root u64,
 * sequence u64}; root 0 means an inline bucket whose single leaf page follows
 * the header inside the value. Every offset is checked against the page (or
 * the value, for inline pages) before it is read; walks are bounded.
 */

#include <endian.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "format/bbolt.h"

#define PAGE_HEADER_SIZE 16u
#define ELEMENT_SIZE 16u
#define BUCKET_HEADER_SIZE 16u
#define META_SIZE 64u
#define META_CHECKSUM_OFFSET 56u

#define BBOLT_MAGIC UINT32_C(0xED0CDAED)
#define BBOLT_VERSION 2u

#define PAGE_BRANCH 0x01u
#define PAGE_LEAF 0x02u
#define PAGE_META 0x04u
#define PAGE_FREELIST 0x10u

#define LEAF_BUCKET 0x01u

#define PAGE_SIZE_MIN 512u
#define PAGE_SIZE_MAX 65536u

typedef struct Meta {
        uint32_t page_size;
        uint64_t root;
        uint64_t sequence;
        uint64_t freelist;
        uint64_t pgid;
        uint64_t txid;
} Meta;

struct Bbolt {
        const uint8_t *data;
        size_t size;
        void *map;
        size_t map_size;
        uint64_t touched;       /* bytes of the mapping read since it was last trimmed */

        Meta meta;
        unsigned meta_index;
        bool meta_valid[2];
        uint64_t file_pages;    /* whole pages the buffer covers */
        uint64_t npages;        /* ids usable: min(file_pages, meta.pgid) */

        char error[256];
};

typedef struct Page {
        uint64_t id;
        uint16_t flags;
        uint16_t count;
        uint32_t overflow;
        bool is_inline;
        const uint8_t *base;
        size_t size;            /* header, elements and data, overflow included */
} Page;

typedef struct Walk {
        Bbolt *db;
        uint64_t visits;
        uint64_t max_visits;
} Walk;

static uint16_t le16(const uint8_t *p) {
        uint16_t v;
        memcpy(&v, p, sizeof v);
        return le16toh(v);
}

static uint32_t le32(const uint8_t *p) {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return le32toh(v);
}

static uint64_t le64(const uint8_t *p) {
        uint64_t v;
        memcpy(&v, p, sizeof v);
        return le64toh(v);
}

_printf_(2, 3) static int fail(Bbolt *db, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(db->error, sizeof db->error, fmt, ap);
        va_end(ap);
        return -EBADMSG;
}

_printf_(3, 4) static void set_reason(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;

        if (!buf || size == 0)
                return;
        va_start(ap, fmt);
        vsnprintf(buf, size, fmt, ap);
        va_end(ap);
}

/* "page 1234" or "inline page", for messages. */
static const char *page_label(const Page *p, char buf[static 32]) {
        if (p->is_inline)
                return "inline page";
        snprintf(buf, 32, "page %" PRIu64, p->id);
        return buf;
}

static bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int key_compare(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
        int c = memcmp(a, b, MIN(alen, blen));
        if (c != 0)
                return c;
        return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static uint64_t fnv1a64(const uint8_t *p, size_t n) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        for (size_t i = 0; i < n; i++) {
                h ^= p[i];
                h *= UINT64_C(0x100000001b3);
        }
        return h;
}

/* Parse and validate the meta page at byte offset off. expect_page_size 0
 * accepts any sane size. */
static bool meta_parse(const uint8_t *data, size_t size, uint64_t off, uint32_t expect_page_size,
                       Meta *ret, char *why, size_t why_size) {
        const uint8_t *m;
        Meta meta;
        uint64_t file_pages;

        if (off > size || size - off < PAGE_HEADER_SIZE + META_SIZE) {
                set_reason(why, why_size, "file too short");
                return false;
        }
        m = data + off + PAGE_HEADER_SIZE;
        if (le32(m) != BBOLT_MAGIC) {
                set_reason(why, why_size, "bad magic 0x%08" PRIx32, le32(m));
                return false;
        }
        if (le32(m + 4) != BBOLT_VERSION) {
                set_reason(why, why_size, "unsupported version %" PRIu32, le32(m + 4));
                return false;
        }
        if (le64(m + META_CHECKSUM_OFFSET) != fnv1a64(m, META_CHECKSUM_OFFSET)) {
                set_reason(why, why_size, "checksum mismatch");
                return false;
        }

        meta = (Meta) {
                .page_size = le32(m + 8),
                .root = le64(m + 16),
                .sequence = le64(m + 24),
                .freelist = le64(m + 32),
                .pgid = le64(m + 40),
                .txid = le64(m + 48),
        };
        if (meta.page_size < PAGE_SIZE_MIN || meta.page_size > PAGE_SIZE_MAX ||
            (meta.page_size & (meta.page_size - 1)) != 0) {
                set_reason(why, why_size, "bad page size %" PRIu32, meta.page_size);
                return false;
        }
        if (expect_page_size != 0 && meta.page_size != expect_page_size) {
                set_reason(why, why_size, "page size %" PRIu32 " where %" PRIu32 " was expected",
                           meta.page_size, expect_page_size);
                return false;
        }
        file_pages = size / meta.page_size;
        if (meta.root < 2 || meta.root >= meta.pgid || meta.root >= file_pages) {
                set_reason(why, why_size,
                           "root page %" PRIu64 " out of range (high-water %" PRIu64
                           ", file has %" PRIu64 " pages)", meta.root, meta.pgid, file_pages);
                return false;
        }
        if (meta.freelist != BBOLT_PGID_NONE &&
            (meta.freelist < 2 || meta.freelist >= meta.pgid || meta.freelist >= file_pages)) {
                set_reason(why, why_size,
                           "freelist page %" PRIu64 " out of range (high-water %" PRIu64
                           ", file has %" PRIu64 " pages)", meta.freelist, meta.pgid, file_pages);
                return false;
        }

        *ret = meta;
        return true;
}

static int open_common(const uint8_t *data, size_t size, void *map, size_t map_size, Bbolt **ret,
                       char *reason, size_t reason_size) {
        _cleanup_(bbolt_freep) Bbolt *db = NULL;
        char why0[128] = "", why1[128] = "";
        Meta m0 = {}, m1 = {};
        bool ok0, ok1 = false;

        db = calloc(1, sizeof *db);
        if (!db) {
                if (map)
                        munmap(map, map_size);
                return -ENOMEM;
        }
        db->data = data;
        db->size = size;
        db->map = map;
        db->map_size = map_size;

        ok0 = meta_parse(data, size, 0, 0, &m0, why0, sizeof why0);
        if (ok0)
                ok1 = meta_parse(data, size, m0.page_size, m0.page_size, &m1, why1, sizeof why1);
        else {
                /* Meta 0 holds the page size; without it, look for meta 1 at
                 * every possible page size. */
                for (uint32_t ps = PAGE_SIZE_MIN; ps <= PAGE_SIZE_MAX && !ok1; ps *= 2) {
                        char why[96] = "";

                        ok1 = meta_parse(data, size, ps, ps, &m1, why, sizeof why);
                        /* Report the first candidate that at least had the magic. */
                        if (!ok1 && !why1[0] && !startswith(why, "bad magic") &&
                            !startswith(why, "file too short"))
                                snprintf(why1, sizeof why1, "at offset %" PRIu32 ": %s", ps, why);
                }
                if (!ok1 && !why1[0])
                        snprintf(why1, sizeof why1, "not found at any page size");
        }

        if (!ok0 && !ok1) {
                set_reason(reason, reason_size, "no valid meta page: meta page 0: %s; meta page 1: %s",
                           why0, why1);
                return -EBADMSG;
        }

        db->meta_valid[0] = ok0;
        db->meta_valid[1] = ok1;
        if (ok1 && (!ok0 || m1.txid > m0.txid)) {
                db->meta = m1;
                db->meta_index = 1;
        } else {
                db->meta = m0;
                db->meta_index = 0;
        }
        db->file_pages = size / db->meta.page_size;
        db->npages = MIN(db->file_pages, db->meta.pgid);

        *ret = TAKE_PTR(db);
        return 0;
}

int bbolt_open_mem_reason(const void *data, size_t size, Bbolt **ret, char *reason,
                          size_t reason_size) {
        if (!data && size > 0)
                return -EINVAL;
        return open_common(data, size, NULL, 0, ret, reason, reason_size);
}

int bbolt_open_mem(const void *data, size_t size, Bbolt **ret) {
        return bbolt_open_mem_reason(data, size, ret, NULL, 0);
}

int bbolt_open_fd_reason(int fd, Bbolt **ret, char *reason, size_t reason_size) {
        struct stat st;
        void *map;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if (st.st_size < (off_t) (PAGE_HEADER_SIZE + META_SIZE)) {
                set_reason(reason, reason_size, "file too short (%jd bytes)", (intmax_t) st.st_size);
                return -EBADMSG;
        }
        if ((uint64_t) st.st_size > SIZE_MAX)
                return -EFBIG;

        map = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED)
                return -errno;
        /* open_common() owns the mapping from here, even on failure. */
        return open_common(map, (size_t) st.st_size, map, (size_t) st.st_size, ret, reason,
                           reason_size);
}

int bbolt_open_fd(int fd, Bbolt **ret) {
        return bbolt_open_fd_reason(fd, ret, NULL, 0);
}

Bbolt *bbolt_free(Bbolt *db) {
        if (!db)
                return NULL;
        if (db->map)
                munmap(db->map, db->map_size);
        return mfree(db);
}

int bbolt_get_info(const Bbolt *db, BboltInfo *ret) {
        *ret = (BboltInfo) {
                .page_size = db->meta.page_size,
                .meta = db->meta_index,
                .meta_valid = { db->meta_valid[0], db->meta_valid[1] },
                .txid = db->meta.txid,
                .pgid = db->meta.pgid,
                .root = db->meta.root,
                .freelist = db->meta.freelist,
                .file_size = db->size,
                .db_size = db->meta.pgid * db->meta.page_size,
        };
        return 0;
}

const char *bbolt_last_error(const Bbolt *db) {
        return db->error;
}

int bbolt_set_error(Bbolt *db, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(db->error, sizeof db->error, fmt, ap);
        va_end(ap);
        return -EBADMSG;
}

/* Page id of the db, its overflow within the usable pages. */
/* Pages of our own read-only file mapping count towards the process's RSS
 * once read; a walk over a 600 MB db would hold them all. Every
 * BBOLT_TRIM_BYTES read, drop them: they are clean copies of the file, read
 * again from the page cache if they are needed again. A caller's buffer
 * (bbolt_open_mem) is never touched. */
#define BBOLT_TRIM_BYTES (UINT64_C(1) << 20)

static void trim(Bbolt *db, uint64_t bytes) {
        if (!db->map)
                return;
        db->touched += bytes;
        if (db->touched < BBOLT_TRIM_BYTES)
                return;
        (void) madvise(db->map, db->map_size, MADV_DONTNEED);
        db->touched = 0;
}

static int page_get(Bbolt *db, uint64_t id, Page *ret) {
        const uint8_t *base;
        uint32_t overflow;

        if (id >= db->meta.pgid)
                return fail(db, "page %" PRIu64 ": beyond the high-water mark %" PRIu64, id,
                            db->meta.pgid);
        if (id >= db->file_pages)
                return fail(db, "page %" PRIu64 ": beyond the end of the file (%" PRIu64 " pages)",
                            id, db->file_pages);

        base = db->data + id * db->meta.page_size;
        overflow = le32(base + 12);
        if ((uint64_t) overflow >= db->npages - id)
                return fail(db, "page %" PRIu64 ": overflow of %" PRIu32 " pages runs past page %" PRIu64,
                            id, overflow, db->npages);
        if (le64(base) != id)
                return fail(db, "page %" PRIu64 ": header says page %" PRIu64, id, le64(base));

        trim(db, ((uint64_t) overflow + 1) * db->meta.page_size);
        *ret = (Page) {
                .id = id,
                .flags = le16(base + 8),
                .count = le16(base + 10),
                .overflow = overflow,
                .base = base,
                .size = ((size_t) overflow + 1) * db->meta.page_size,
        };
        return 0;
}

static int branch_element(Bbolt *db, const Page *p, unsigned i, const uint8_t **ret_key,
                          size_t *ret_klen, uint64_t *ret_child) {
        uint64_t off = PAGE_HEADER_SIZE + (uint64_t) i * ELEMENT_SIZE;
        const uint8_t *e;
        uint64_t pos, ksize;
        char buf[32];

        if (off + ELEMENT_SIZE > p->size)
                return fail(db, "%s: element %u outside the page", page_label(p, buf), i);
        e = p->base + off;
        pos = le32(e);
        ksize = le32(e + 4);
        if (off + pos + ksize > p->size)
                return fail(db, "%s: key of element %u outside the page", page_label(p, buf), i);

        *ret_key = e + pos;
        *ret_klen = ksize;
        *ret_child = le64(e + 8);
        return 0;
}

static int leaf_element(Bbolt *db, const Page *p, unsigned i, uint32_t *ret_flags,
                        const uint8_t **ret_key, size_t *ret_klen, const uint8_t **ret_val,
                        size_t *ret_vlen) {
        uint64_t off = PAGE_HEADER_SIZE + (uint64_t) i * ELEMENT_SIZE;
        const uint8_t *e;
        uint64_t pos, ksize, vsize;
        char buf[32];

        if (off + ELEMENT_SIZE > p->size)
                return fail(db, "%s: element %u outside the page", page_label(p, buf), i);
        e = p->base + off;
        pos = le32(e + 4);
        ksize = le32(e + 8);
        vsize = le32(e + 12);
        if (off + pos + ksize + vsize > p->size)
                return fail(db, "%s: key or value of element %u outside the page",
                            page_label(p, buf), i);

        *ret_flags = le32(e);
        *ret_key = e + pos;
        *ret_klen = ksize;
        *ret_val = e + pos + ksize;
        *ret_vlen = vsize;
        return 0;
}

static int bucket_from_value(Bbolt *db, const uint8_t *v, size_t vlen, BboltBucket *ret) {
        BboltBucket b;

        if (vlen < BUCKET_HEADER_SIZE)
                return fail(db, "bucket value of %zu bytes is shorter than a bucket header", vlen);
        b = (BboltBucket) {
                .root = le64(v),
                .sequence = le64(v + 8),
        };
        if (b.root == 0) {
                b.inline_page = v + BUCKET_HEADER_SIZE;
                b.inline_size = vlen - BUCKET_HEADER_SIZE;
                if (b.inline_size < PAGE_HEADER_SIZE)
                        return fail(db, "inline bucket of %zu bytes is shorter than a page header",
                                    b.inline_size);
        }
        *ret = b;
        return 0;
}

static BboltBucket root_bucket(const Bbolt *db) {
        return (BboltBucket) { .root = db->meta.root, .sequence = db->meta.sequence };
}

/* Load page id at tree depth depth, counting the visit; must be a branch or
 * leaf page. */
static int walk_page(Walk *w, uint64_t id, unsigned depth, Page *ret) {
        Page p;
        int r;

        if (depth >= BBOLT_MAX_DEPTH)
                return fail(w->db, "page %" PRIu64 ": page tree deeper than %u levels", id,
                            BBOLT_MAX_DEPTH);
        if (++w->visits > w->max_visits)
                return fail(w->db, "page %" PRIu64 ": page tree visits more pages than the file holds "
                            "(cycle or shared pages)", id);
        r = page_get(w->db, id, &p);
        if (r < 0)
                return r;
        if (p.flags != PAGE_BRANCH && p.flags != PAGE_LEAF)
                return fail(w->db, "page %" PRIu64 ": expected a branch or leaf page, flags 0x%02x",
                            id, p.flags);
        *ret = p;
        return 0;
}

static int inline_page(Bbolt *db, const BboltBucket *b, Page *ret) {
        Page p;

        if (!b->inline_page || b->inline_size < PAGE_HEADER_SIZE)
                return fail(db, "inline bucket of %zu bytes is shorter than a page header",
                            b->inline_size);
        p = (Page) {
                .flags = le16(b->inline_page + 8),
                .count = le16(b->inline_page + 10),
                .is_inline = true,
                .base = b->inline_page,
                .size = b->inline_size,
        };
        if (p.flags != PAGE_LEAF)
                return fail(db, "inline page: expected a leaf page, flags 0x%02x", p.flags);
        *ret = p;
        return 0;
}

/* The top page of bucket b (NULL: root bucket), starting a walk. */
static int walk_begin(Bbolt *db, const BboltBucket *b, Walk *w, Page *ret) {
        BboltBucket root;

        *w = (Walk) { .db = db, .max_visits = db->npages };
        db->error[0] = 0;
        if (!b) {
                root = root_bucket(db);
                b = &root;
        }
        if (b->root == 0)
                return inline_page(db, b, ret);
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

                        r = leaf_element(w->db, p, i, &flags, &key, &klen, &val, &vlen);
                        if (r < 0)
                                return r;
                        r = fn(key, klen, val, vlen, flags & LEAF_BUCKET, userdata);
                } else {
                        uint64_t child = 0;
                        Page c;

                        r = branch_element(w->db, p, i, &key, &klen, &child);
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
        Walk w;
        Page p;
        int r;

        r = walk_begin(db, b, &w, &p);
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
                return leaf_element(w->db, p, p->count - 1u, &flags, ret_key, ret_klen, ret_val,
                                    ret_vlen);
        }

        /* Rightmost first; an empty leaf falls back to its left siblings. */
        for (unsigned i = p->count; i-- > 0;) {
                uint64_t child = 0;
                Page c;

                r = branch_element(w->db, p, i, &key, &klen, &child);
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

        r = walk_begin(db, b, &w, &p);
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

        r = walk_begin(db, b, &w, &p);
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

                                r = leaf_element(db, &p, mid, &flags, &k, &kl, &v, &vl);
                                if (r < 0)
                                        return r;
                                cmp = key_compare(key, klen, k, kl);
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
                        return fail(db, "page %" PRIu64 ": empty branch page", p.id);
                /* The last element whose key is <= key (or the first one). */
                while (lo < hi) {
                        unsigned mid = lo + (hi - lo) / 2;

                        r = branch_element(db, &p, mid, &k, &kl, &child);
                        if (r < 0)
                                return r;
                        if (key_compare(k, kl, key, klen) <= 0)
                                lo = mid + 1;
                        else
                                hi = mid;
                }
                r = branch_element(db, &p, lo > 0 ? lo - 1 : 0, &k, &kl, &child);
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
        r = bucket_from_value(db, v, vlen, &b);
        if (r < 0)
                return r;
        *ret = b;
        return 0;
}

/* --- structural check ---------------------------------------------------- */

typedef struct Checker {
        Bbolt *db;
        uint8_t *reached;       /* bitmaps over meta.pgid pages */
        uint8_t *freed;
        BboltCheckStats stats;
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
} LastKey;

static int check_bucket(Checker *c, const BboltBucket *b, unsigned depth);

static int check_key(Checker *c, const Page *p, unsigned i, const uint8_t *key, size_t klen,
                     const KeyRange *range, LastKey *last) {
        char buf[32];

        if (last && last->set && key_compare(key, klen, last->key, last->len) <= 0)
                return fail(c->db, "%s: keys out of order at element %u%s", page_label(p, buf), i,
                            i == 0 ? " (not after the previous page's last key)" : "");
        if ((range->lo && key_compare(key, klen, range->lo, range->lo_len) < 0) ||
            (range->hi && key_compare(key, klen, range->hi, range->hi_len) >= 0))
                return fail(c->db, "%s: key of element %u outside the range its parent page gives",
                            page_label(p, buf), i);
        if (last)
                *last = (LastKey) { .key = key, .len = klen, .set = true };
        return 0;
}

static int check_leaf(Checker *c, const Page *p, unsigned depth, const KeyRange *range,
                      LastKey *last) {
        int r;

        for (unsigned i = 0; i < p->count; i++) {
                const uint8_t *key = NULL, *val = NULL;
                size_t klen = 0, vlen = 0;
                uint32_t flags = 0;

                r = leaf_element(c->db, p, i, &flags, &key, &klen, &val, &vlen);
                if (r < 0)
                        return r;
                r = check_key(c, p, i, key, klen, range, last);
                if (r < 0)
                        return r;
                c->stats.keys++;
                if (flags & LEAF_BUCKET) {
                        BboltBucket sub = {};

                        r = bucket_from_value(c->db, val, vlen, &sub);
                        if (r < 0)
                                return r;
                        r = check_bucket(c, &sub, depth + 1);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Claim pages id..id+overflow for this tree. */
static int check_claim(Checker *c, const Page *p) {
        for (uint64_t i = p->id; i <= p->id + p->overflow; i++) {
                if (bit_get(c->reached, i))
                        return fail(c->db, "page %" PRIu64 ": reached twice", i);
                if (bit_get(c->freed, i))
                        return fail(c->db, "page %" PRIu64 ": reachable but in the freelist", i);
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
                return fail(c->db, "page %" PRIu64 ": pages and buckets nest deeper than %u levels",
                            id, BBOLT_MAX_DEPTH);
        r = page_get(c->db, id, &p);
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
                return fail(c->db, "page %" PRIu64 ": expected a branch or leaf page, flags 0x%02x",
                            id, p.flags);
        c->stats.branch_pages++;
        if (p.count == 0)
                return fail(c->db, "page %" PRIu64 ": empty branch page", id);

        for (unsigned i = 0; i < p.count; i++) {
                const uint8_t *key, *next = NULL;
                size_t klen, next_len = 0;
                uint64_t child, next_child;
                KeyRange sub;

                r = branch_element(c->db, &p, i, &key, &klen, &child);
                if (r < 0)
                        return r;
                r = check_key(c, &p, i, key, klen, &(KeyRange) {}, &branch_last);
                if (r < 0)
                        return r;
                if (i + 1u < p.count) {
                        r = branch_element(c->db, &p, i + 1, &next, &next_len, &next_child);
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
        if (b->root != 0)
                return check_tree(c, b->root, depth, 0, &(KeyRange) {}, &last);

        if (depth >= BBOLT_MAX_DEPTH)
                return fail(c->db, "inline page: pages and buckets nest deeper than %u levels",
                            BBOLT_MAX_DEPTH);
        c->stats.inline_buckets++;
        r = inline_page(c->db, b, &p);
        if (r < 0)
                return r;
        c->stats.max_depth = MAX(c->stats.max_depth, 1u);
        return check_leaf(c, &p, depth, &(KeyRange) {}, &last);
}

static int check_freelist(Checker *c) {
        Bbolt *db = c->db;
        uint64_t count, first = 0;
        Page p;
        int r;

        if (db->meta.freelist == BBOLT_PGID_NONE)
                return 0;

        r = page_get(db, db->meta.freelist, &p);
        if (r < 0)
                return r;
        if (p.flags != PAGE_FREELIST)
                return fail(db, "page %" PRIu64 ": expected the freelist page, flags 0x%02x", p.id,
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
                return fail(db, "page %" PRIu64 ": freelist of %" PRIu64 " ids does not fit the page",
                            p.id, count);

        for (uint64_t i = 0; i < count; i++) {
                uint64_t id = le64(p.base + PAGE_HEADER_SIZE + (first + i) * 8);

                if (id < 2 || id >= db->meta.pgid)
                        return fail(db, "page %" PRIu64 ": freelist lists page %" PRIu64
                                    ", out of range", p.id, id);
                if (bit_get(c->freed, id))
                        return fail(db, "page %" PRIu64 ": freed twice", id);
                if (bit_get(c->reached, id))
                        return fail(db, "page %" PRIu64 ": in the freelist but in use", id);
                bit_set(c->freed, id);
        }
        c->stats.free_pages = count;
        c->stats.freelist_checked = true;
        return 0;
}

int bbolt_check(Bbolt *db, BboltCheckStats *ret) {
        _cleanup_free_ uint8_t *reached = NULL, *freed = NULL;
        BboltBucket root = root_bucket(db);
        Checker c = { .db = db };
        size_t bytes;
        int r;

        db->error[0] = 0;
        if (db->file_pages < db->meta.pgid)
                return fail(db, "file holds %" PRIu64 " pages, the meta page uses %" PRIu64
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
        if (r < 0)
                return r;
        r = check_bucket(&c, &root, 0);
        if (r < 0)
                return r;

        /* Without a stored freelist, bbolt counts every page it cannot reach
         * as free; with one, such a page is lost. */
        for (uint64_t i = 2; i < db->meta.pgid; i++) {
                if (bit_get(reached, i) || bit_get(freed, i))
                        continue;
                if (c.stats.freelist_checked)
                        return fail(db, "page %" PRIu64 ": neither reachable nor free", i);
                c.stats.free_pages++;
        }

        if (ret)
                *ret = c.stats;
        return 0;
}
