/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * bbolt-internal.h — what the bbolt reader's files share: the on-disk
 * constants, the open file, a page, a bounded walk, and the checked page and
 * element accessors of bbolt.c. Included only by bbolt.c (meta pages, open,
 * pages and elements), bbolt-bucket.c (bucket lookups and iteration) and
 * bbolt-check.c (the structural check).
 */

#include <endian.h>
#include <string.h>

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
        int fd;                 /* bbolt_open_fd(): a duplicate of the file, for bbolt_page_read(); else -1 */

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
        uint8_t *seen;          /* a bit per page of the file, or NULL: a walk over every key visits a page once */
} Walk;

static inline uint16_t le16(const uint8_t *p) {
        uint16_t v;
        memcpy(&v, p, sizeof v);
        return le16toh(v);
}

static inline uint32_t le32(const uint8_t *p) {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return le32toh(v);
}

static inline uint64_t le64(const uint8_t *p) {
        uint64_t v;
        memcpy(&v, p, sizeof v);
        return le64toh(v);
}

/* memcmp order, a shorter key first when one is a prefix of the other. */
static inline int bbolt_key_compare(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
        /* An empty key may come as NULL: memcmp() is not called on it. */
        int c = MIN(alen, blen) > 0 ? memcmp(a, b, MIN(alen, blen)) : 0;
        if (c != 0)
                return c;
        return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* Page id of the db: checks it lies below the high-water mark and inside the
 * file with its overflow, and that its header names it. Returns 0 or
 * -EBADMSG with the reason in bbolt_last_error(). */
int bbolt_page_get(Bbolt *db, uint64_t id, Page *ret);

/* As bbolt_page_get(), but for a db opened from a file the page and its
 * overflow are read with pread(2) into *buf (grown as needed; the caller
 * frees it) rather than touched through the mapping: a walk over every page
 * of a large file costs a page fault per page through a mapping (expensive
 * under virtualisation) and one read per page here. The page is valid until
 * *buf is read into again. Pages larger than BBOLT_READ_MAX_BYTES, and every
 * page of a db opened from memory, come from the mapping as with
 * bbolt_page_get(). Returns 0, -EBADMSG as bbolt_page_get(), -ENOMEM, or the
 * -errno of a failed read (-EIO when the file is shorter than it was). */
int bbolt_page_read(Bbolt *db, uint64_t id, uint8_t **buf, size_t *alloc, Page *ret);

/* The single leaf page of inline bucket b. Returns 0 or -EBADMSG. */
int bbolt_inline_page(Bbolt *db, const BboltBucket *b, Page *ret);

/* "page 1234" or "inline page" in buf, for messages; returns the label. */
const char *bbolt_page_label(const Page *p, char buf[static 32]);

/* Element i of branch page p: its key and child page id, bounds-checked
 * against the page. Returns 0 or -EBADMSG. */
int bbolt_branch_element(Bbolt *db, const Page *p, unsigned i, const uint8_t **ret_key,
                         size_t *ret_klen, uint64_t *ret_child);

/* Element i of leaf page p: flags, key and value, bounds-checked against the
 * page. Returns 0 or -EBADMSG. */
int bbolt_leaf_element(Bbolt *db, const Page *p, unsigned i, uint32_t *ret_flags,
                       const uint8_t **ret_key, size_t *ret_klen, const uint8_t **ret_val,
                       size_t *ret_vlen);

/* The bucket header in value v (vlen bytes) of a leaf element flagged as a
 * bucket. Returns 0 or -EBADMSG. */
int bbolt_bucket_from_value(Bbolt *db, const uint8_t *v, size_t vlen, BboltBucket *ret);

/* The root bucket of the current meta page. */
BboltBucket bbolt_root_bucket(const Bbolt *db);
