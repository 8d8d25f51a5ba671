/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * bbolt.h — a read-only reader for bbolt database files, the format of etcd's
 * data file and of its snapshots. The file is untrusted (a backup may be
 * corrupted or hostile): every page id, offset, count and length is checked
 * against the bytes at hand before use, tree walks are bounded in depth and in
 * page visits, and malformed structure is reported as -EBADMSG with a reason
 * that bbolt_last_error() returns ("page 1234: keys out of order").
 *
 * The reader accepts a buffer whose size is not a multiple of the page size
 * and uses only the whole pages it covers: a snapshot written by
 * `etcdctl snapshot save` is the db followed by a 32-byte SHA-256 trailer and
 * is read as is.
 *
 * Pointers handed out (keys, values, inline bucket pages) point into the
 * mapping or the caller's buffer and stay valid until bbolt_free().
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/macro.h"

/* The freelist page id of a db that does not store its freelist. */
#define BBOLT_PGID_NONE UINT64_MAX
/* Deepest page tree (and deepest bucket nesting) the reader follows. */
#define BBOLT_MAX_DEPTH 64u

typedef struct Bbolt Bbolt;

typedef struct BboltInfo {
        uint32_t page_size;
        unsigned meta;          /* meta page in use: 0 or 1 */
        bool meta_valid[2];     /* which meta pages passed validation */
        uint64_t txid;
        uint64_t pgid;          /* high-water mark: pages in use */
        uint64_t root;          /* root bucket's page */
        uint64_t freelist;      /* freelist page, or BBOLT_PGID_NONE */
        uint64_t file_size;     /* bytes handed to the reader */
        uint64_t db_size;       /* pgid * page_size: etcdctl's "totalSize" */
} BboltInfo;

/* A bucket: either a page tree (root != 0) or an inline page inside its
 * parent's value (root == 0). Plain data; no cleanup needed. */
typedef struct BboltBucket {
        uint64_t root;
        uint64_t sequence;
        const uint8_t *inline_page;
        size_t inline_size;
} BboltBucket;

typedef struct BboltCheckStats {
        uint64_t pages;            /* high-water mark */
        uint64_t branch_pages;
        uint64_t leaf_pages;
        uint64_t overflow_pages;   /* continuation pages of branch/leaf pages */
        uint64_t freelist_pages;   /* the freelist page and its overflow */
        uint64_t free_pages;       /* ids in the freelist; without one, pages
                                    * not reachable (bbolt counts them free) */
        uint64_t buckets;          /* including the root bucket */
        uint64_t inline_buckets;
        uint64_t keys;             /* leaf elements, sub-bucket entries included */
        unsigned max_depth;        /* deepest page tree, 1 = a single leaf */
        bool freelist_checked;     /* false when the db stores no freelist */
} BboltCheckStats;

/* Called once per element in key order: is_bucket marks a sub-bucket entry,
 * whose value is the raw bucket header. A negative return aborts the walk and
 * is returned by bbolt_bucket_foreach(). */
typedef int (*BboltForeachFn)(const void *key, size_t klen, const void *value, size_t vlen,
                              bool is_bucket, void *userdata);

/* Map the regular file fd read-only (the fd may be closed afterwards) and
 * validate its meta pages. 0 and *ret (free with bbolt_free()) on success;
 * -EBADMSG if no meta page is valid, -EINVAL if fd is not a regular file,
 * other -errno from fstat/mmap. */
int bbolt_open_fd(int fd, Bbolt **ret);

/* As bbolt_open_fd(), on a caller's buffer that must outlive the Bbolt (not
 * copied). */
int bbolt_open_mem(const void *data, size_t size, Bbolt **ret);

/* Variants of the two above that, on -EBADMSG, write why into reason (may be
 * NULL; NUL-terminated, truncated to reason_size). */
int bbolt_open_fd_reason(int fd, Bbolt **ret, char *reason, size_t reason_size);
int bbolt_open_mem_reason(const void *data, size_t size, Bbolt **ret, char *reason,
                          size_t reason_size);

/* Unmap and free; accepts NULL; returns NULL. */
Bbolt *bbolt_free(Bbolt *db);
DEFINE_TRIVIAL_CLEANUP_FUNC(Bbolt *, bbolt_free);

/* The figures of the meta page in use. Always 0. */
int bbolt_get_info(const Bbolt *db, BboltInfo *ret);

/* Why the last call on db returned -EBADMSG ("" if none did). Valid until
 * the next call on db. */
const char *bbolt_last_error(const Bbolt *db);

/* Record a reason, as bbolt_last_error() returns it, for a structural
 * problem found by a layer on top of the reader. Returns -EBADMSG. */
_printf_(2, 3) int bbolt_set_error(Bbolt *db, const char *fmt, ...);

/* Open the sub-bucket name of parent (NULL: the root bucket). 0 and *ret
 * (pointing into the db) on success; -ENOENT if there
 * is no such key, -ENOTDIR if the key holds a value rather than a bucket,
 * -EBADMSG on corrupt structure. */
int bbolt_bucket_open(Bbolt *db, const BboltBucket *parent, const void *name, size_t name_len,
                      BboltBucket *ret);

/* Call fn on every element of bucket b (NULL: the root bucket) in key order,
 * without descending into sub-buckets. Returns 0, fn's negative return, or
 * -EBADMSG on corrupt structure (page visits are bounded by the page count,
 * so shared or cyclic pages cannot loop). */
int bbolt_bucket_foreach(Bbolt *db, const BboltBucket *b, BboltForeachFn fn, void *userdata);

/* The last (greatest) key of bucket b (NULL: the root bucket) and its value.
 * 0 on success; -ENOENT if the bucket is empty; -EBADMSG on corrupt
 * structure. Any output pointer may be NULL. */
int bbolt_bucket_last(Bbolt *db, const BboltBucket *b, const void **ret_key, size_t *ret_klen,
                      const void **ret_val, size_t *ret_vlen);

/* Look up key in bucket b (NULL: the root bucket). 0 and the value on
 * success (*ret_is_bucket tells a sub-bucket entry; outputs may be NULL);
 * -ENOENT if absent; -EBADMSG on corrupt structure. */
int bbolt_bucket_get(Bbolt *db, const BboltBucket *b, const void *key, size_t klen,
                     const void **ret_val, size_t *ret_vlen, bool *ret_is_bucket);

/* Structural check of every page reachable from the root bucket, nested and
 * inline buckets included: page ids in range and backed by the file, page
 * types, element offsets within the page and its overflow, keys strictly
 * ascending (within a page and across a bucket's leaves), no page reached
 * twice, none both reached and free, and — when the db stores a freelist —
 * no page neither reached nor free (what bbolt's Tx.Check reports, plus the
 * ordering). 0 and *ret (may be NULL) on success; -EBADMSG with the first
 * problem in bbolt_last_error(); -ENOMEM. */
int bbolt_check(Bbolt *db, BboltCheckStats *ret);
