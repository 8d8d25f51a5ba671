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
 *
 * This file: the meta pages, opening, and the checked page and element
 * accessors; bucket lookups and iteration are in bbolt-bucket.c, the
 * structural check in bbolt-check.c.
 */

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/bbolt-internal.h"

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
const char *bbolt_page_label(const Page *p, char buf[static 32]) {
        if (p->is_inline)
                return "inline page";
        snprintf(buf, 32, "page %" PRIu64, p->id);
        return buf;
}

static bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
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
        db->fd = -EBADF;
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
        _cleanup_(bbolt_freep) Bbolt *db = NULL;
        struct stat st;
        void *map;
        int r;

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
        r = open_common(map, (size_t) st.st_size, map, (size_t) st.st_size, &db, reason, reason_size);
        if (r < 0)
                return r;
        /* Our own descriptor for bbolt_page_read(): the caller may close its. */
        db->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (db->fd < 0)
                return -errno;
        *ret = TAKE_PTR(db);
        return 0;
}

int bbolt_open_fd(int fd, Bbolt **ret) {
        return bbolt_open_fd_reason(fd, ret, NULL, 0);
}

Bbolt *bbolt_free(Bbolt *db) {
        if (!db)
                return NULL;
        if (db->map)
                munmap(db->map, db->map_size);
        if (db->fd >= 0)
                close(db->fd);
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

/* bbolt_page_read(): pages read at once (most pages of etcd's key bucket
 * span one to four), and the largest page it reads rather than maps. */
#define BBOLT_READ_AHEAD_PAGES 4u
#define BBOLT_READ_MAX_BYTES ((size_t) 4 * 1024 * 1024)

static void trim(Bbolt *db, uint64_t bytes) {
        if (!db->map)
                return;
        db->touched += bytes;
        if (db->touched < BBOLT_TRIM_BYTES)
                return;
        (void) madvise(db->map, db->map_size, MADV_DONTNEED);
        db->touched = 0;
}

/* The checks of page id that need only the meta page. */
static int page_id_check(Bbolt *db, uint64_t id) {
        if (id >= db->meta.pgid)
                return fail(db, "page %" PRIu64 ": beyond the high-water mark %" PRIu64, id,
                            db->meta.pgid);
        if (id >= db->file_pages)
                return fail(db, "page %" PRIu64 ": beyond the end of the file (%" PRIu64 " pages)",
                            id, db->file_pages);
        return 0;
}

static int page_overflow_check(Bbolt *db, uint64_t id, uint32_t overflow) {
        if ((uint64_t) overflow >= db->npages - id)
                return fail(db, "page %" PRIu64 ": overflow of %" PRIu32 " pages runs past page %" PRIu64,
                            id, overflow, db->npages);
        return 0;
}

/* Page id at base, its overflow checked already: the header names it. */
static int page_make(Bbolt *db, uint64_t id, const uint8_t *base, uint32_t overflow, Page *ret) {
        if (le64(base) != id)
                return fail(db, "page %" PRIu64 ": header says page %" PRIu64, id, le64(base));
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

int bbolt_page_get(Bbolt *db, uint64_t id, Page *ret) {
        const uint8_t *base;
        uint32_t overflow;
        int r;

        r = page_id_check(db, id);
        if (r < 0)
                return r;
        base = db->data + id * db->meta.page_size;
        overflow = le32(base + 12);
        r = page_overflow_check(db, id, overflow);
        if (r < 0)
                return r;
        r = page_make(db, id, base, overflow, ret);
        if (r < 0)
                return r;
        trim(db, ((uint64_t) overflow + 1) * db->meta.page_size);
        return 0;
}

/* Read size bytes at offset into (*buf)[have…], growing *buf to hold have + size. */
static int read_into(Bbolt *db, uint8_t **buf, size_t *alloc, size_t have, size_t size, uint64_t offset) {
        size_t done = 0;

        if (*alloc < have + size) {
                uint8_t *b = realloc(*buf, have + size);
                if (!b)
                        return -ENOMEM;
                *buf = b;
                *alloc = have + size;
        }
        while (done < size) {
                ssize_t k = pread(db->fd, *buf + have + done, size - done, (off_t) (offset + done));
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO; /* the file has shrunk */
                done += (size_t) k;
        }
        return 0;
}

int bbolt_page_read(Bbolt *db, uint64_t id, uint8_t **buf, size_t *alloc, Page *ret) {
        size_t page_size = db->meta.page_size, first, size;
        uint32_t overflow;
        int r;

        if (db->fd < 0)
                return bbolt_page_get(db, id, ret);
        r = page_id_check(db, id);
        if (r < 0)
                return r;
        /* One read covers the page and the overflow most pages have. */
        first = (size_t) MIN((uint64_t) BBOLT_READ_AHEAD_PAGES, db->npages - id) * page_size;
        r = read_into(db, buf, alloc, 0, first, id * page_size);
        if (r < 0)
                return r;
        overflow = le32(*buf + 12);
        r = page_overflow_check(db, id, overflow);
        if (r < 0)
                return r;
        size = ((size_t) overflow + 1) * page_size;
        if (size > BBOLT_READ_MAX_BYTES)
                return bbolt_page_get(db, id, ret);
        if (size > first) {
                r = read_into(db, buf, alloc, first, size - first, id * page_size + first);
                if (r < 0)
                        return r;
        }
        return page_make(db, id, *buf, overflow, ret);
}

int bbolt_branch_element(Bbolt *db, const Page *p, unsigned i, const uint8_t **ret_key,
                         size_t *ret_klen, uint64_t *ret_child) {
        uint64_t off = PAGE_HEADER_SIZE + (uint64_t) i * ELEMENT_SIZE;
        const uint8_t *e;
        uint64_t pos, ksize;
        char buf[32];

        if (off + ELEMENT_SIZE > p->size)
                return fail(db, "%s: element %u outside the page", bbolt_page_label(p, buf), i);
        e = p->base + off;
        pos = le32(e);
        ksize = le32(e + 4);
        if (off + pos + ksize > p->size)
                return fail(db, "%s: key of element %u outside the page", bbolt_page_label(p, buf), i);

        *ret_key = e + pos;
        *ret_klen = ksize;
        *ret_child = le64(e + 8);
        return 0;
}

int bbolt_leaf_element(Bbolt *db, const Page *p, unsigned i, uint32_t *ret_flags,
                       const uint8_t **ret_key, size_t *ret_klen, const uint8_t **ret_val,
                       size_t *ret_vlen) {
        uint64_t off = PAGE_HEADER_SIZE + (uint64_t) i * ELEMENT_SIZE;
        const uint8_t *e;
        uint64_t pos, ksize, vsize;
        char buf[32];

        if (off + ELEMENT_SIZE > p->size)
                return fail(db, "%s: element %u outside the page", bbolt_page_label(p, buf), i);
        e = p->base + off;
        pos = le32(e + 4);
        ksize = le32(e + 8);
        vsize = le32(e + 12);
        if (off + pos + ksize + vsize > p->size)
                return fail(db, "%s: key or value of element %u outside the page",
                            bbolt_page_label(p, buf), i);

        *ret_flags = le32(e);
        *ret_key = e + pos;
        *ret_klen = ksize;
        *ret_val = e + pos + ksize;
        *ret_vlen = vsize;
        return 0;
}

int bbolt_bucket_from_value(Bbolt *db, const uint8_t *v, size_t vlen, BboltBucket *ret) {
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

BboltBucket bbolt_root_bucket(const Bbolt *db) {
        return (BboltBucket) { .root = db->meta.root, .sequence = db->meta.sequence };
}

int bbolt_inline_page(Bbolt *db, const BboltBucket *b, Page *ret) {
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
