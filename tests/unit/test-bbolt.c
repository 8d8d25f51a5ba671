/* SPDX-License-Identifier: MIT */
/*
 * test-bbolt.c — the bbolt reader and the mvcc layer against real etcd 3.4
 * snapshots in tests/fixtures/ (made by scripts/make-bbolt-fixtures, each
 * with etcdctl's own `snapshot status -w json` beside it, which mvcc_status()
 * must match figure for figure), then against damaged copies: broken meta
 * pages, truncation, a branch page pointing at itself, keys out of order,
 * a finished compaction above the newest key and malformed ones,
 * offsets out of the page, and a few hundred rounds of random byte flips that
 * must never crash. Fixtures are found under $TOP_SRCDIR, or relative to this
 * source file.
 */

#include <fcntl.h>
#include <libgen.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "test.h"
#include "format/bbolt.h"
#include "format/mvcc.h"

#define PAGE_HEADER_SIZE 16u
/* More of bbolt's file format, for the files built here. */
#define ELEMENT_SIZE 16u
#define BUCKET_HEADER_SIZE 16u
#define PAGE_LEAF 0x02u
#define PAGE_META 0x04u
#define LEAF_BUCKET 0x01u

typedef struct Fixture {
        uint8_t *data;
        size_t size;
        uint32_t hash;
        int64_t revision;
        uint64_t total_key;
        uint64_t total_size;
} Fixture;


static uint8_t *read_file(const char *path, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        uint8_t *buf;
        size_t done = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                fprintf(stderr, "cannot open %s: %m\n", path);
        check(fd >= 0);
        check(fstat(fd, &st) == 0);
        buf = malloc((size_t) st.st_size + 1);
        check(buf);
        while (done < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + done, (size_t) st.st_size - done);
                check(n > 0);
                done += (size_t) n;
        }
        buf[done] = 0;
        *ret_size = done;
        return buf;
}

static unsigned long long json_number(const char *json, const char *field) {
        char pattern[64];
        const char *p;
        char *end;
        unsigned long long v;

        snprintf(pattern, sizeof pattern, "\"%s\":", field);
        p = strstr(json, pattern);
        check(p);
        errno = 0;
        v = strtoull(p + strlen(pattern), &end, 10);
        check(errno == 0 && end != p + strlen(pattern));
        return v;
}

static Fixture fixture_load(const char *name) {
        _cleanup_free_ char *db_path = NULL, *json_path = NULL, *json = NULL, *json_name = NULL;
        Fixture f = {};
        size_t n;

        check(asprintf(&json_name, "%.*s.json", (int) (strlen(name) - 3), name) >= 0);
        db_path = test_fixture_path(name);
        json_path = test_fixture_path(json_name);
        f.data = read_file(db_path, &f.size);
        json = (char *) read_file(json_path, &n);
        f.hash = (uint32_t) json_number(json, "hash");
        f.revision = (int64_t) json_number(json, "revision");
        f.total_key = json_number(json, "totalKey");
        f.total_size = json_number(json, "totalSize");
        return f;
}

static void fixture_done(Fixture *f) {
        free(f->data);
        *f = (Fixture) {};
}

/* --- helpers to damage a copy ----------------------------------------------- */

static uint64_t get_le64(const uint8_t *p) {
        uint64_t v = 0;
        for (unsigned i = 0; i < 8; i++)
                v |= (uint64_t) p[i] << (8 * i);
        return v;
}

static uint32_t get_le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint16_t get_le16(const uint8_t *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}

static void put_le64(uint8_t *p, uint64_t v) {
        for (unsigned i = 0; i < 8; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static void put_le32(uint8_t *p, uint32_t v) {
        for (unsigned i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

/* Recompute the checksum of the meta page at offset off. */
static void meta_reseal(uint8_t *data, size_t off) {
        uint8_t *m = data + off + PAGE_HEADER_SIZE;
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        for (unsigned i = 0; i < 56; i++) {
                h ^= m[i];
                h *= UINT64_C(0x100000001b3);
        }
        put_le64(m + 56, h);
}

static uint8_t *copy_of(const Fixture *f, size_t size) {
        uint8_t *p = malloc(MAX(size, (size_t) 1));
        check(p);
        memcpy(p, f->data, MIN(size, f->size));
        return p;
}

/* The page the "key" bucket's tree starts at. */
static uint64_t key_bucket_root(Bbolt *db) {
        BboltBucket b;
        check_int_eq(bbolt_bucket_open(db, NULL, "key", 3, &b), 0);
        return b.root;
}

/* --- walking everything, as the fuzzers do ------------------------------------ */

typedef struct Count {
        Bbolt *db;
        uint64_t elements;
        uint64_t buckets;
        const uint8_t *prev;
        size_t prev_len;
        bool ordered;
        uint64_t tombstones;
        size_t max_value;
} Count;

static int on_count(const void *key, size_t klen, const void *value, size_t vlen, bool is_bucket,
                    void *userdata) {
        Count *c = userdata;
        MvccRevision rev;

        if (c->prev) {
                int cmp = memcmp(c->prev, key, MIN(c->prev_len, klen));
                if (cmp > 0 || (cmp == 0 && c->prev_len >= klen))
                        c->ordered = false;
        }
        c->prev = key;
        c->prev_len = klen;
        c->elements++;
        c->buckets += is_bucket;
        c->max_value = MAX(c->max_value, vlen);
        if (mvcc_parse_key(key, klen, &rev) == 0 && rev.tombstone)
                c->tombstones++;
        return 0;
}

static int on_top_bucket(const void *key, size_t klen, const void *value, size_t vlen,
                         bool is_bucket, void *userdata) {
        Count *total = userdata;
        Count c = { .db = total->db, .ordered = true };
        BboltBucket b;
        int r;

        if (!is_bucket)
                return 0;
        r = bbolt_bucket_open(total->db, NULL, key, klen, &b);
        if (r < 0)
                return r;
        r = bbolt_bucket_foreach(total->db, &b, on_count, &c);
        if (r < 0)
                return r;
        (void) bbolt_bucket_last(total->db, &b, NULL, NULL, NULL, NULL);
        total->elements += c.elements;
        return 0;
}

/* The check reads the pages of a file rather than mapping them: the same
 * verdict and the same figures as from memory. */
static void check_file_stats(Bbolt *db, const BboltCheckStats *want) {
        BboltCheckStats got;

        check_int_eq(bbolt_check(db, &got), 0);
        check_u64_eq(got.pages, want->pages);
        check_u64_eq(got.branch_pages, want->branch_pages);
        check_u64_eq(got.leaf_pages, want->leaf_pages);
        check_u64_eq(got.overflow_pages, want->overflow_pages);
        check_u64_eq(got.freelist_pages, want->freelist_pages);
        check_u64_eq(got.free_pages, want->free_pages);
        check_u64_eq(got.buckets, want->buckets);
        check_u64_eq(got.inline_buckets, want->inline_buckets);
        check_u64_eq(got.keys, want->keys);
        check_int_eq(got.max_depth, want->max_depth);
        check_int_eq(got.freelist_checked, want->freelist_checked);
}

/* The same bytes as a file: the check gives the same result and reason. */
static void check_file_verdict(const uint8_t *data, size_t size, int want_r, const char *want_error) {
        _cleanup_(bbolt_freep) Bbolt *db = NULL;
        _cleanup_close_ int fd = -EBADF;

        fd = memfd_create("bbolt-test", MFD_CLOEXEC);
        check(fd >= 0);
        check(write(fd, data, size) == (ssize_t) size);
        check_int_eq(bbolt_open_fd(fd, &db), 0);
        check_int_eq(bbolt_check(db, NULL), want_r);
        check_str_eq(bbolt_last_error(db), want_error);
}

/* Everything a caller might do with an untrusted file; must not crash. */
static void exercise(const uint8_t *data, size_t size) {
        _cleanup_(bbolt_freep) Bbolt *db = NULL;
        BboltCheckStats stats;
        BboltInfo info;
        MvccStatus st;
        Count total = {};
        int64_t rev;
        int r;

        r = bbolt_open_mem(data, size, &db);
        if (r < 0) {
                check_int_eq(r, -EBADMSG);
                return;
        }
        check_int_eq(bbolt_get_info(db, &info), 0);
        r = bbolt_check(db, &stats);
        check(r == 0 || r == -EBADMSG);
        if (r < 0)
                check(bbolt_last_error(db)[0] != 0);
        check_file_verdict(data, size, r, bbolt_last_error(db));
        total.db = db;
        (void) bbolt_bucket_foreach(db, NULL, on_top_bucket, &total);
        (void) bbolt_bucket_last(db, NULL, NULL, NULL, NULL, NULL);
        (void) mvcc_revision(db, &rev);
        (void) mvcc_compact_revision(db, &rev);
        (void) mvcc_restored_revision(db, &rev, NULL);
        (void) mvcc_status(db, &st);
}

/* --- tests ----------------------------------------------------------------------- */

static uint32_t crc32c_bitwise(const uint8_t *p, size_t n) {
        uint32_t c = ~UINT32_C(0);
        for (size_t i = 0; i < n; i++) {
                c ^= p[i];
                for (unsigned k = 0; k < 8; k++)
                        c = (c >> 1) ^ (UINT32_C(0x82F63B78) & (0u - (c & 1u)));
        }
        return ~c;
}

static void test_crc32c(void) {
        uint8_t buf[1000];
        uint32_t x = 12345;

        check_u64_eq(mvcc_crc32c(0, "123456789", 9), 0xE3069283u);
        check_u64_eq(mvcc_crc32c_portable(0, "123456789", 9), 0xE3069283u);
        check_u64_eq(mvcc_crc32c(0, "", 0), 0);
        check_u64_eq(mvcc_crc32c(0x1234, "", 0), 0x1234);
        for (size_t i = 0; i < sizeof buf; i++) {
                x = x * 1103515245u + 12345u;
                buf[i] = (uint8_t) (x >> 16);
        }
        for (size_t off = 0; off < 9; off++)
                for (size_t len = 0; len + off <= sizeof buf; len += 37) {
                        uint32_t whole = mvcc_crc32c(0, buf + off, len);
                        size_t half = len / 3;
                        check_u64_eq(whole, crc32c_bitwise(buf + off, len));
                        check_u64_eq(mvcc_crc32c_portable(0, buf + off, len), whole);
                        check_u64_eq(mvcc_crc32c_portable(mvcc_crc32c_portable(0, buf + off, half),
                                                          buf + off + half, len - half), whole);
                        check_u64_eq(mvcc_crc32c(mvcc_crc32c(0, buf + off, half), buf + off + half,
                                                 len - half), whole);
                }
}

static void test_parse_key(void) {
        uint8_t k[18] = { 0, 0, 0, 0, 0, 0, 0x01, 0x02, '_', 0, 0, 0, 0, 0, 0, 0, 0x05, 't' };
        MvccRevision rev;

        check_int_eq(mvcc_parse_key(k, 17, &rev), 0);
        check_int_eq(rev.main, 0x102);
        check_int_eq(rev.sub, 5);
        check(!rev.tombstone);
        check_int_eq(mvcc_parse_key(k, 18, &rev), 0);
        check(rev.tombstone);
        check_int_eq(mvcc_parse_key(k, 16, &rev), -EBADMSG);
        k[17] = 'x';
        check_int_eq(mvcc_parse_key(k, 18, &rev), -EBADMSG);
        k[8] = '-';
        check_int_eq(mvcc_parse_key(k, 17, &rev), -EBADMSG);
}

static void check_status(Bbolt *db, const Fixture *f) {
        MvccStatus st = {};

        check_int_eq(mvcc_status(db, &st), 0);
        check_u64_eq(st.hash, f->hash);
        check_int_eq(st.revision, f->revision);
        check_u64_eq(st.total_key, f->total_key);
        check_u64_eq(st.total_size, f->total_size);
}

static void test_fixture_status(const char *name) {
        _cleanup_(bbolt_freep) Bbolt *db = NULL, *db2 = NULL;
        _cleanup_free_ char *path = test_fixture_path(name);
        _cleanup_close_ int fd = -EBADF;
        Fixture f = fixture_load(name);
        BboltCheckStats stats;
        BboltInfo info;

        /* From memory, the etcdctl file as is (db + 32-byte SHA-256). */
        check_int_eq(bbolt_open_mem(f.data, f.size, &db), 0);
        check_int_eq(bbolt_get_info(db, &info), 0);
        check_int_eq(info.page_size, 4096);
        check_int_eq(info.meta, 0);
        check(info.meta_valid[0] && info.meta_valid[1]);
        check_u64_eq(info.file_size, f.size);
        check_u64_eq(info.db_size, f.total_size);
        check_u64_eq(info.file_size, info.db_size + 32);
        check_int_eq(bbolt_check(db, &stats), 0);
        check_u64_eq(stats.pages, info.pgid);
        /* etcd 3.4 runs bbolt with NoFreelistSync: no freelist page. */
        check_u64_eq(info.freelist, BBOLT_PGID_NONE);
        check(!stats.freelist_checked);
        check_u64_eq(stats.pages, 2 + stats.branch_pages + stats.leaf_pages + stats.overflow_pages +
                                  stats.free_pages);
        check(stats.buckets > 1);
        check_status(db, &f);

        /* The db without its trailer reads the same. */
        check_int_eq(bbolt_open_mem(f.data, f.size - 32, &db2), 0);
        check_status(db2, &f);
        db2 = bbolt_free(db2);

        /* From a file. */
        fd = open(path, O_RDONLY | O_CLOEXEC);
        check(fd >= 0);
        check_int_eq(bbolt_open_fd(fd, &db2), 0);
        fd = safe_close(fd);
        check_status(db2, &f);
        check_file_stats(db2, &stats);

        printf("  %s: hash %" PRIu32 " revision %" PRId64 " keys %" PRIu64 " size %" PRIu64
               "; pages %" PRIu64 " (branch %" PRIu64 ", leaf %" PRIu64 ", overflow %" PRIu64
               ", free %" PRIu64 "), buckets %" PRIu64 " (inline %" PRIu64 "), depth %u\n",
               name, f.hash, f.revision, f.total_key, f.total_size, stats.pages,
               stats.branch_pages, stats.leaf_pages, stats.overflow_pages, stats.free_pages,
               stats.buckets, stats.inline_buckets, stats.max_depth);
        fixture_done(&f);
}

/* The hand-built file: 512-byte pages, a stored freelist, nested buckets. */
static void test_status_tiny(void) {
        _cleanup_(bbolt_freep) Bbolt *db = NULL;
        Fixture f = fixture_load("tiny-512.db");
        BboltBucket nest, inner;
        BboltCheckStats stats;
        BboltInfo info;
        const void *v;
        size_t vlen;
        int64_t rev;

        check_int_eq(bbolt_open_mem(f.data, f.size, &db), 0);
        check_int_eq(bbolt_get_info(db, &info), 0);
        check_int_eq(info.page_size, 512);
        check_u64_eq(info.file_size, f.total_size);
        check_u64_eq(info.db_size, f.total_size);
        check_int_eq(bbolt_check(db, &stats), 0);
        check(stats.freelist_checked);
        check_u64_eq(stats.freelist_pages, 1);
        check_u64_eq(stats.free_pages, 1);
        check_u64_eq(stats.buckets, 6);
        check_u64_eq(stats.inline_buckets, 3);
        check_u64_eq(stats.branch_pages, 1);
        check(stats.overflow_pages >= 3);
        check_int_eq(stats.max_depth, 2);
        check_u64_eq(stats.pages, 2 + stats.freelist_pages + stats.free_pages + stats.branch_pages +
                                  stats.leaf_pages + stats.overflow_pages);
        check_status(db, &f);
        check_file_verdict(f.data, f.size, 0, "");
        check_int_eq(mvcc_revision(db, &rev), 0);
        check_int_eq(rev, 5);

        check_int_eq(bbolt_bucket_open(db, NULL, "nest", 4, &nest), 0);
        check_int_eq(bbolt_bucket_open(db, &nest, "inner", 5, &inner), 0);
        check_int_eq(bbolt_bucket_get(db, &inner, "deep", 4, &v, &vlen, NULL), 0);
        check(vlen == 2 && memcmp(v, "er", 2) == 0);
        check_int_eq(bbolt_bucket_open(db, &nest, "x", 1, &inner), -ENOTDIR);
        db = bbolt_free(db);

        /* Where etcdctl fails (or crashes), mvcc_status() says -EBADMSG. */
        {
                uint8_t *p = copy_of(&f, f.size);
                uint64_t key_root, leaf;
                MvccStatus st;
                uint8_t *e;

                check_int_eq(bbolt_open_mem(p, f.size, &db), 0);
                key_root = key_bucket_root(db);
                leaf = get_le64(p + key_root * 512 + PAGE_HEADER_SIZE + 8);

                /* A revision key of 5 bytes (still in order: a prefix). */
                e = p + leaf * 512 + PAGE_HEADER_SIZE;
                put_le32(e + 8, 5);
                check_int_eq(bbolt_check(db, NULL), 0);
                check_int_eq(mvcc_status(db, &st), -EBADMSG);
                check(strstr(bbolt_last_error(db), "not a revision"));

                /* A top-level key that is not a bucket. */
                memcpy(p, f.data, f.size);
                e = p + info.root * 512 + PAGE_HEADER_SIZE;
                check_int_eq(get_le32(e), 1);
                put_le32(e, 0);
                check_int_eq(bbolt_check(db, NULL), 0);
                check_int_eq(mvcc_status(db, &st), -EBADMSG);
                check(strstr(bbolt_last_error(db), "not a bucket"));

                /* "key" itself not a bucket; its last key not a revision. */
                memcpy(p, f.data, f.size);
                put_le32(e + 16, 0);
                check_int_eq(mvcc_revision(db, &rev), -EBADMSG);
                memcpy(p, f.data, f.size);
                e = p + (leaf + 1) * 512 + PAGE_HEADER_SIZE + 16;   /* the tombstone */
                put_le32(e + 8, 18 - 1);
                check_int_eq(mvcc_revision(db, &rev), 0);          /* 17 bytes: 5_0 */
                check_int_eq(rev, 5);
                e[get_le32(e + 4) + 8] = '-';
                check_int_eq(mvcc_revision(db, &rev), -EBADMSG);
                check(strstr(bbolt_last_error(db), "not a revision"));
                free(p);
        }
        fixture_done(&f);
}

static void test_status(void) {
        test_fixture_status("etcd-empty.db");
        test_fixture_status("etcd-small.db");
        test_fixture_status("etcd-compacted.db");
}

static void test_revision(void) {
        _cleanup_(bbolt_freep) Bbolt *db = NULL, *empty = NULL;
        Fixture f = fixture_load("etcd-small.db"), e = fixture_load("etcd-empty.db");
        int64_t rev = -1;

        check_int_eq(bbolt_open_mem(f.data, f.size, &db), 0);
        check_int_eq(mvcc_revision(db, &rev), 0);
        check_int_eq(rev, f.revision);

        /* etcdctl prints revision 0 for a db without keys; we say -ENOENT. */
        check_int_eq(e.revision, 0);
        check_int_eq(bbolt_open_mem(e.data, e.size, &empty), 0);
        rev = -1;
        check_int_eq(mvcc_revision(empty, &rev), -ENOENT);
        check_int_eq(rev, -1);

        /* Without the bucket "key" (renamed "kez", still in order), a db is not etcd's, whatever its structure. */
        {
                _cleanup_(bbolt_freep) Bbolt *nokey = NULL;
                uint8_t *p = copy_of(&f, f.size), *page;
                bool renamed = false;
                BboltInfo info;

                check_int_eq(bbolt_get_info(db, &info), 0);
                page = p + info.root * info.page_size;
                check_int_eq(get_le16(page + 8) & 0x02, 0x02);          /* a leaf */
                for (unsigned i = 0; i < get_le16(page + 10); i++) {
                        uint8_t *el = page + PAGE_HEADER_SIZE + i * 16u;
                        if (get_le32(el + 8) == 3 && memcmp(el + get_le32(el + 4), "key", 3) == 0) {
                                el[get_le32(el + 4) + 2] = 'z';
                                renamed = true;
                        }
                }
                check(renamed);
                check_int_eq(bbolt_open_mem(p, f.size, &nokey), 0);
                check_int_eq(bbolt_check(nokey, NULL), 0);
                rev = -1;
                check_int_eq(mvcc_revision(nokey, &rev), -EBADMSG);
                check(strstr(bbolt_last_error(nokey), "no bucket \"key\""));
                check_int_eq(rev, -1);
                free(p);
        }
        fixture_done(&f);
        fixture_done(&e);
}

/* The leaf element header (flags, pos, ksize, vsize) whose key sits at
 * offset koff of p: found by its pos, which counts from the header itself. */
static uint8_t *element_of(uint8_t *p, size_t koff, uint32_t ksize) {
        for (size_t e = koff > 4096 ? koff - 4096 : 0; e + 16 <= koff; e++)
                if (e + get_le32(p + e + 4) == koff && get_le32(p + e + 8) == ksize)
                        return p + e;
        check(false);
        return NULL;
}

/* The finished compaction in "meta", and the revision etcd answers at once
 * restored: etcd-small was compacted at /fixture/big/c's revision, 304,
 * then written on up to 357. */
static void test_compact_revision(void) {
        _cleanup_(bbolt_freep) Bbolt *db = NULL;
        Fixture f = fixture_load("etcd-small.db"), e = fixture_load("etcd-empty.db"), t = fixture_load("tiny-512.db");
        uint8_t *p = copy_of(&f, f.size), *v, *elem;
        const void *value;
        size_t vlen, koff;
        int64_t rev, compact;
        BboltBucket meta;

        check_int_eq(bbolt_open_mem(p, f.size, &db), 0);
        check_int_eq(mvcc_compact_revision(db, &rev), 0);
        check_int_eq(rev, 304);
        check_int_eq(mvcc_restored_revision(db, &rev, &compact), 0);
        check_int_eq(rev, f.revision);
        check_int_eq(compact, 304);

        /* Compacted above the newest key (the last writes were deletes whose
         * tombstones the compaction dropped): etcd answers at the compaction. */
        check_int_eq(bbolt_bucket_open(db, NULL, "meta", 4, &meta), 0);
        check_int_eq(bbolt_bucket_get(db, &meta, "finishedCompactRev", 18, &value, &vlen, NULL), 0);
        check_int_eq(vlen, 17);
        v = p + ((const uint8_t *) value - p);
        koff = (size_t) (v - p) - 18;
        check(memcmp(p + koff, "finishedCompactRev", 18) == 0);
        elem = element_of(p, koff, 18);
        v[6] = 0x01; v[7] = 0x90;                               /* 400 */
        check_int_eq(mvcc_compact_revision(db, &rev), 0);
        check_int_eq(rev, 400);
        check_int_eq(mvcc_restored_revision(db, &rev, NULL), 0);
        check_int_eq(rev, 400);
        check_int_eq(mvcc_revision(db, &rev), 0);               /* the backup's stays the newest key's */
        check_int_eq(rev, 357);

        /* Malformed values: a clear error, never a crash or a guess. */
        v[8] = '-';
        check_int_eq(mvcc_compact_revision(db, &rev), -EBADMSG);
        check(strstr(bbolt_last_error(db), "finishedCompactRev is 17 bytes, not a revision"));
        check_int_eq(mvcc_restored_revision(db, &rev, &compact), -EBADMSG);
        v[8] = '_';
        v[0] = 0x80;                                            /* negative main */
        check_int_eq(mvcc_compact_revision(db, &rev), -EBADMSG);
        check(strstr(bbolt_last_error(db), "negative"));
        v[0] = 0;
        v[9] = 0xFF;                                            /* negative sub */
        check_int_eq(mvcc_compact_revision(db, &rev), -EBADMSG);
        v[9] = 0;
        for (uint32_t len = 0; len <= 18; len++) {
                if (len == 17)
                        continue;
                put_le32(elem + 12, len);                       /* short, and a tombstone's length */
                check_int_eq(mvcc_compact_revision(db, &rev), -EBADMSG);
                check(strstr(bbolt_last_error(db), "bytes, not a revision"));
                check_int_eq(mvcc_restored_revision(db, &rev, NULL), -EBADMSG);
        }
        put_le32(elem + 12, 17);
        check_int_eq(mvcc_compact_revision(db, &rev), 0);
        check_int_eq(rev, 400);
        put_le32(elem, 1);                                      /* a sub-bucket, not a value */
        check_int_eq(mvcc_compact_revision(db, &rev), -EBADMSG);
        check(strstr(bbolt_last_error(db), "is a bucket"));
        put_le32(elem, 0);
        memcpy(p + koff, "finishedCompactReW", 18);             /* absent: never compacted */
        check_int_eq(mvcc_compact_revision(db, &rev), -ENOENT);
        check_int_eq(mvcc_restored_revision(db, &rev, &compact), 0);
        check_int_eq(rev, 357);
        check_int_eq(compact, 0);
        db = bbolt_free(db);

        /* From etcd itself: three puts, the last two keys deleted, compacted
         * at the current revision (6): the newest key left is at 2. */
        {
                Fixture c = fixture_load("etcd-compacted.db");

                check_int_eq(bbolt_open_mem(c.data, c.size, &db), 0);
                check_int_eq(c.revision, 2);
                check_int_eq(mvcc_revision(db, &rev), 0);
                check_int_eq(rev, c.revision);
                check_int_eq(mvcc_compact_revision(db, &rev), 0);
                check_int_eq(rev, 6);
                check_int_eq(mvcc_restored_revision(db, &rev, &compact), 0);
                check_int_eq(rev, 6);
                check_int_eq(compact, 6);
                db = bbolt_free(db);
                fixture_done(&c);
        }

        /* No keys and no compaction: etcd starts at revision 1. */
        check_int_eq(bbolt_open_mem(e.data, e.size, &db), 0);
        check_int_eq(mvcc_compact_revision(db, &rev), -ENOENT);
        check_int_eq(mvcc_restored_revision(db, &rev, &compact), 0);
        check_int_eq(rev, 1);
        check_int_eq(compact, 0);
        db = bbolt_free(db);

        /* A "meta" without the key (the hand-built file). */
        check_int_eq(bbolt_open_mem(t.data, t.size, &db), 0);
        check_int_eq(mvcc_compact_revision(db, &rev), -ENOENT);
        check_int_eq(mvcc_restored_revision(db, &rev, NULL), 0);
        check_int_eq(rev, 5);
        db = bbolt_free(db);

        free(p);
        fixture_done(&f);
        fixture_done(&e);
        fixture_done(&t);
}

typedef struct Lookup {
        Bbolt *db;
        const BboltBucket *b;
        uint64_t n;
} Lookup;

static int on_lookup(const void *key, size_t klen, const void *value, size_t vlen, bool is_bucket,
                     void *userdata) {
        Lookup *l = userdata;
        const void *v = NULL;
        size_t len = 0;
        bool sub = !is_bucket;

        check_int_eq(bbolt_bucket_get(l->db, l->b, key, klen, &v, &len, &sub), 0);
        check(v == value);
        check_u64_eq(len, vlen);
        check(sub == is_bucket);
        l->n++;
        return 0;
}

static int on_stop(const void *key, size_t klen, const void *value, size_t vlen, bool is_bucket,
                   void *userdata) {
        unsigned *n = userdata;
        return ++*n == 3 ? -ECANCELED : 0;
}

static void test_buckets(void) {
        _cleanup_(bbolt_freep) Bbolt *db = NULL;
        Fixture f = fixture_load("etcd-small.db");
        Count c = { .ordered = true }, top = { .ordered = true };
        BboltBucket key, meta, members;
        const void *k, *v;
        size_t klen, vlen;
        Lookup l;
        unsigned n = 0;
        bool is_bucket;

        check_int_eq(bbolt_open_mem(f.data, f.size, &db), 0);

        /* The root bucket lists etcd's buckets, all of them buckets. */
        check_int_eq(bbolt_bucket_foreach(db, NULL, on_count, &top), 0);
        check(top.ordered);
        check(top.elements >= 5);
        check_u64_eq(top.buckets, top.elements);

        check_int_eq(bbolt_bucket_open(db, NULL, "key", 3, &key), 0);
        check(key.root != 0);
        check_int_eq(bbolt_bucket_foreach(db, &key, on_count, &c), 0);
        check(c.ordered);
        check(c.elements > 1000);
        check(c.tombstones >= 60);
        check(c.max_value > 100 * 1024);        /* the 100 KiB value: overflow pages */

        /* Last key by the rightmost branch = the last one iterated. */
        check_int_eq(bbolt_bucket_last(db, &key, &k, &klen, &v, &vlen), 0);
        check(k == c.prev);
        check_u64_eq(klen, c.prev_len);

        /* Every key is found again by lookup, through the branch pages. */
        l = (Lookup) { .db = db, .b = &key };
        check_int_eq(bbolt_bucket_foreach(db, &key, on_lookup, &l), 0);
        check_u64_eq(l.n, c.elements);
        check_int_eq(bbolt_bucket_get(db, &key, "nope", 4, NULL, NULL, NULL), -ENOENT);
        check_int_eq(bbolt_bucket_get(db, &key, "", 0, NULL, NULL, NULL), -ENOENT);
        check_int_eq(bbolt_bucket_get(db, &key, "\xff\xff\xff\xff\xff\xff\xff\xff\xff", 9, NULL,
                                      NULL, NULL), -ENOENT);

        /* A small bucket (inline), a value that is not a bucket, a missing one. */
        check_int_eq(bbolt_bucket_open(db, NULL, "meta", 4, &meta), 0);
        check_int_eq(bbolt_bucket_get(db, &meta, "consistent_index", 16, &v, &vlen, &is_bucket), 0);
        check_u64_eq(vlen, 8);
        check(!is_bucket);
        check_int_eq(bbolt_bucket_open(db, &meta, "consistent_index", 16, &key), -ENOTDIR);
        check_int_eq(bbolt_bucket_open(db, NULL, "nope", 4, &key), -ENOENT);
        check_int_eq(bbolt_bucket_open(db, NULL, "members", 7, &members), 0);
        check(members.root == 0 && members.inline_page);
        l = (Lookup) { .db = db, .b = &members };
        check_int_eq(bbolt_bucket_foreach(db, &members, on_lookup, &l), 0);
        check_u64_eq(l.n, 1);
        check_int_eq(bbolt_bucket_last(db, &members, &k, &klen, NULL, NULL), 0);

        /* A negative return from the callback stops the walk. */
        check_int_eq(bbolt_bucket_foreach(db, NULL, on_stop, &n), -ECANCELED);
        check_int_eq(n, 3);
        fixture_done(&f);
}

static void test_empty_bucket(void) {
        _cleanup_(bbolt_freep) Bbolt *db = NULL;
        Fixture f = fixture_load("etcd-empty.db");
        BboltBucket key;
        Count c = {};
        const void *k = NULL;

        check_int_eq(bbolt_open_mem(f.data, f.size, &db), 0);
        check_int_eq(bbolt_bucket_open(db, NULL, "key", 3, &key), 0);
        check_int_eq(bbolt_bucket_foreach(db, &key, on_count, &c), 0);
        check_int_eq(c.elements, 0);
        check_int_eq(bbolt_bucket_last(db, &key, &k, NULL, NULL, NULL), -ENOENT);
        check(k == NULL);
        fixture_done(&f);
}

static void test_meta_damage(void) {
        Fixture f = fixture_load("etcd-small.db");
        BboltInfo good, info;
        char reason[256] = "";
        uint8_t *p;
        Bbolt *db;

        check_int_eq(bbolt_open_mem(f.data, f.size, &db), 0);
        bbolt_get_info(db, &good);
        db = bbolt_free(db);

        /* Meta 0 broken: meta 1 (one txid older, same tree) is used. */
        p = copy_of(&f, f.size);
        p[PAGE_HEADER_SIZE + 50] ^= 0x40;
        check_int_eq(bbolt_open_mem(p, f.size, &db), 0);
        bbolt_get_info(db, &info);
        check_int_eq(info.meta, 1);
        check(!info.meta_valid[0] && info.meta_valid[1]);
        check_u64_eq(info.txid, good.txid - 1);
        check_status(db, &f);
        db = bbolt_free(db);

        /* Meta 0 with a bad magic or version: same. */
        memcpy(p, f.data, 4096);
        p[PAGE_HEADER_SIZE] ^= 1;
        check_int_eq(bbolt_open_mem(p, f.size, &db), 0);
        db = bbolt_free(db);

        /* Meta 1 broken: meta 0 is used. */
        memcpy(p, f.data, f.size);
        p[4096 + PAGE_HEADER_SIZE + 20] ^= 0x01;
        check_int_eq(bbolt_open_mem(p, f.size, &db), 0);
        bbolt_get_info(db, &info);
        check_int_eq(info.meta, 0);
        check(info.meta_valid[0] && !info.meta_valid[1]);
        db = bbolt_free(db);

        /* Both broken. */
        p[PAGE_HEADER_SIZE + 50] ^= 0x40;
        check_int_eq(bbolt_open_mem_reason(p, f.size, &db, reason, sizeof reason), -EBADMSG);
        check(strstr(reason, "checksum"));

        /* A sealed meta with an impossible page size, root or freelist. */
        memcpy(p, f.data, f.size);
        put_le32(p + PAGE_HEADER_SIZE + 8, 1000);
        meta_reseal(p, 0);
        check_int_eq(bbolt_open_mem(p, f.size, &db), 0);  /* meta 1 found anyway */
        bbolt_get_info(db, &info);
        check_int_eq(info.meta, 1);
        check_int_eq(info.page_size, 4096);
        db = bbolt_free(db);
        p[4096 + PAGE_HEADER_SIZE] ^= 1;
        check_int_eq(bbolt_open_mem_reason(p, f.size, &db, reason, sizeof reason), -EBADMSG);
        check(strstr(reason, "page size 1000"));

        memcpy(p, f.data, f.size);
        put_le64(p + PAGE_HEADER_SIZE + 16, good.pgid);        /* root at the high-water mark */
        meta_reseal(p, 0);
        put_le64(p + 4096 + PAGE_HEADER_SIZE + 32, 1);         /* freelist on a meta page */
        meta_reseal(p, 4096);
        check_int_eq(bbolt_open_mem_reason(p, f.size, &db, reason, sizeof reason), -EBADMSG);
        check(strstr(reason, "root page"));
        check(strstr(reason, "freelist page"));

        /* A newer txid wins when both are valid. */
        memcpy(p, f.data, f.size);
        put_le64(p + 4096 + PAGE_HEADER_SIZE + 48, good.txid + 5);
        meta_reseal(p, 4096);
        check_int_eq(bbolt_open_mem(p, f.size, &db), 0);
        bbolt_get_info(db, &info);
        check_int_eq(info.meta, 1);
        check_u64_eq(info.txid, good.txid + 5);
        db = bbolt_free(db);

        free(p);
        fixture_done(&f);
}

static void test_truncated(void) {
        Fixture f = fixture_load("etcd-small.db");
        const size_t sizes[] = { 0, 1, 50, 79, 80, 4095, 4096, 4096 + 80, 8191, 8192, 8192 + 100,
                                 f.size / 2, f.size - 4096 - 32, f.size - 33, f.size - 32 };
        char reason[256];

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                _cleanup_(bbolt_freep) Bbolt *db = NULL;
                uint8_t *p = copy_of(&f, sizes[i]);
                BboltCheckStats stats;
                int r;

                r = bbolt_open_mem_reason(p, sizes[i], &db, reason, sizeof reason);
                if (sizes[i] < 80)
                        check_int_eq(r, -EBADMSG);
                if (r == 0) {
                        r = bbolt_check(db, &stats);
                        if (sizes[i] < f.size - 32) {
                                check_int_eq(r, -EBADMSG);
                                check(strstr(bbolt_last_error(db), "truncated"));
                        } else
                                check_int_eq(r, 0);
                }
                exercise(p, sizes[i]);
                free(p);
        }
        fixture_done(&f);
}

/* Find a branch page of the "key" tree and damage it in place. */
static void test_branch_cycle(void) {
        Fixture f = fixture_load("etcd-small.db");
        uint8_t *p = copy_of(&f, f.size);
        _cleanup_(bbolt_freep) Bbolt *db = NULL;
        Count c = {};
        BboltBucket key;
        uint64_t root;
        uint8_t *page;
        int r;

        check_int_eq(bbolt_open_mem(p, f.size, &db), 0);
        root = key_bucket_root(db);
        page = p + root * 4096;
        check_int_eq(get_le16(page + 8), 0x01);          /* a branch page */
        check(get_le16(page + 10) >= 2);

        /* First child = the page itself. */
        put_le64(page + PAGE_HEADER_SIZE + 8, root);
        check_int_eq(bbolt_check(db, NULL), -EBADMSG);
        check(strstr(bbolt_last_error(db), "reached twice"));
        check_int_eq(bbolt_bucket_open(db, NULL, "key", 3, &key), 0);
        r = bbolt_bucket_foreach(db, &key, on_count, &c);
        check_int_eq(r, -EBADMSG);
        check(strstr(bbolt_last_error(db), "reaches this page twice"));

        /* Last child = the page itself: bucket_last must stop too. */
        memcpy(p, f.data, f.size);
        put_le64(page + PAGE_HEADER_SIZE + (get_le16(page + 10) - 1u) * 16u + 8, root);
        check_int_eq(bbolt_bucket_last(db, &key, NULL, NULL, NULL, NULL), -EBADMSG);
        check_int_eq(bbolt_check(db, NULL), -EBADMSG);

        /* A child out of range, a child that is a meta page. */
        memcpy(p, f.data, f.size);
        put_le64(page + PAGE_HEADER_SIZE + 8, UINT64_C(1) << 60);
        check_int_eq(bbolt_check(db, NULL), -EBADMSG);
        check(strstr(bbolt_last_error(db), "beyond the high-water mark"));
        put_le64(page + PAGE_HEADER_SIZE + 8, 1);
        check_int_eq(bbolt_check(db, NULL), -EBADMSG);
        check(strstr(bbolt_last_error(db), "page 1: reached twice"));
        check_int_eq(bbolt_bucket_foreach(db, &key, on_count, &c), -EBADMSG);
        check(strstr(bbolt_last_error(db), "expected a branch or leaf page"));

        /* Every child the same leaf: within the visit bound, but its keys would be passed again for each
         * (65535 elements a visit, from a small file: hours); the walk over every key meets it twice and stops. */
        memcpy(p, f.data, f.size);
        {
                uint64_t first = get_le64(page + PAGE_HEADER_SIZE + 8);

                check_int_eq(get_le16(p + first * 4096 + 8), 0x02);    /* a leaf page */
                for (unsigned i = 1; i < get_le16(page + 10); i++)
                        put_le64(page + PAGE_HEADER_SIZE + i * 16u + 8, first);
                c = (Count) { .db = db };
                check_int_eq(bbolt_bucket_foreach(db, &key, on_count, &c), -EBADMSG);
                check(strstr(bbolt_last_error(db), "reaches this page twice"));
                check(c.elements <= get_le16(p + first * 4096 + 10));  /* the leaf's keys once at most */
                check_int_eq(bbolt_check(db, NULL), -EBADMSG);
        }

        /* The lower of the first two children made to span the pages up to the other (its overflow): the other
         * is reached twice too, as part of one and as itself. */
        memcpy(p, f.data, f.size);
        {
                uint64_t a = get_le64(page + PAGE_HEADER_SIZE + 8), b = get_le64(page + PAGE_HEADER_SIZE + 16 + 8);
                uint64_t low = a < b ? a : b, high = a < b ? b : a;

                check(low != high);
                put_le32(p + low * 4096 + 12, (uint32_t) (high - low));
                c = (Count) { .db = db };
                check_int_eq(bbolt_bucket_foreach(db, &key, on_count, &c), -EBADMSG);
                check(strstr(bbolt_last_error(db), "reaches this page twice"));
        }

        /* A cycle through two pages of one level: the visit bound stops it. */
        memcpy(p, f.data, f.size);
        for (unsigned i = 0; i < get_le16(page + 10); i++)
                put_le64(page + PAGE_HEADER_SIZE + i * 16u + 8, root);
        check_int_eq(bbolt_bucket_foreach(db, &key, on_count, &c), -EBADMSG);
        check_int_eq(bbolt_bucket_last(db, &key, NULL, NULL, NULL, NULL), -EBADMSG);
        exercise(p, f.size);

        free(p);
        fixture_done(&f);
}

static void test_page_damage(void) {
        Fixture f = fixture_load("etcd-small.db");
        uint8_t *p = copy_of(&f, f.size);
        _cleanup_(bbolt_freep) Bbolt *db = NULL;
        uint64_t root, leaf;
        uint8_t *page, *e;
        uint32_t pos;

        check_int_eq(bbolt_open_mem(p, f.size, &db), 0);
        root = key_bucket_root(db);
        leaf = get_le64(p + root * 4096 + PAGE_HEADER_SIZE + 8);
        page = p + leaf * 4096;
        check_int_eq(get_le16(page + 8), 0x02);          /* a leaf page */
        check(get_le16(page + 10) >= 2);

        /* Keys out of order: lower the second key (main revision 0) below
         * the first. Raising the first instead leaves the range the parent
         * page gives it. */
        e = page + PAGE_HEADER_SIZE + 16;
        pos = get_le32(e + 4);
        memset(e + pos, 0, 8);
        check_int_eq(bbolt_check(db, NULL), -EBADMSG);
        check(strstr(bbolt_last_error(db), "keys out of order at element 1"));
        check(strstr(bbolt_last_error(db), "page "));
        memcpy(p, f.data, f.size);
        e = page + PAGE_HEADER_SIZE;
        pos = get_le32(e + 4);
        e[pos + 7] = 0xFF;
        check_int_eq(bbolt_check(db, NULL), -EBADMSG);
        check(strstr(bbolt_last_error(db), "outside the range its parent page gives"));

        /* A value running out of the page. */
        memcpy(p, f.data, f.size);
        put_le32(e + 12, 0x7FFFFFFF);
        check_int_eq(bbolt_check(db, NULL), -EBADMSG);
        check(strstr(bbolt_last_error(db), "outside the page"));
        exercise(p, f.size);

        /* A page header claiming another id, and an overflow past the end. */
        memcpy(p, f.data, f.size);
        put_le64(page, leaf + 1);
        check_int_eq(bbolt_check(db, NULL), -EBADMSG);
        check(strstr(bbolt_last_error(db), "header says"));
        memcpy(p, f.data, f.size);
        put_le32(page + 12, 0xFFFFFFFF);
        check_int_eq(bbolt_check(db, NULL), -EBADMSG);
        check(strstr(bbolt_last_error(db), "overflow"));
        exercise(p, f.size);

        /* An element count far beyond the page. */
        memcpy(p, f.data, f.size);
        page[10] = 0xFF;
        page[11] = 0xFF;
        check_int_eq(bbolt_check(db, NULL), -EBADMSG);
        exercise(p, f.size);

        free(p);
        fixture_done(&f);
}

/* Give a copy of the fixture a freelist page: the first page that is not
 * reachable becomes it, listing every other such page, found by asking
 * bbolt_check() which page it misses. */
static void test_freelist(void) {
        Fixture f = fixture_load("etcd-small.db");
        uint8_t *p = copy_of(&f, f.size);
        _cleanup_(bbolt_freep) Bbolt *db = NULL;
        BboltCheckStats stats;
        BboltInfo info;
        uint64_t fl = 0, leaf, free_pages;
        uint8_t *page;
        unsigned n = 0;

        check_int_eq(bbolt_open_mem(p, f.size, &db), 0);
        check_int_eq(bbolt_check(db, &stats), 0);
        check(stats.free_pages >= 2);
        free_pages = stats.free_pages;
        bbolt_get_info(db, &info);
        leaf = get_le64(p + key_bucket_root(db) * 4096 + PAGE_HEADER_SIZE + 8);

        /* Point both metas at a would-be freelist page, then fill it in. */
        for (uint64_t id = 2; id < info.pgid && fl == 0; id++) {
                memset(p + id * 4096, 0, 4096);
                put_le64(p + id * 4096, id);
                p[id * 4096 + 8] = 0x10;
                for (size_t m = 0; m <= 4096; m += 4096) {
                        put_le64(p + m + PAGE_HEADER_SIZE + 32, id);
                        meta_reseal(p, m);
                }
                db = bbolt_free(db);
                check_int_eq(bbolt_open_mem(p, f.size, &db), 0);
                if (bbolt_check(db, NULL) == -EBADMSG &&
                    strstr(bbolt_last_error(db), "neither reachable nor free"))
                        fl = id;
                else
                        memcpy(p, f.data, f.size);
        }
        check(fl != 0);
        page = p + fl * 4096;
        for (;;) {
                const char *e;
                unsigned long long missing;
                int r = bbolt_check(db, &stats);
                if (r == 0)
                        break;
                e = bbolt_last_error(db);
                check(sscanf(e, "page %llu: neither reachable nor free", &missing) == 1);
                put_le64(page + PAGE_HEADER_SIZE + n * 8u, missing);
                n++;
                page[10] = (uint8_t) n;
                page[11] = (uint8_t) (n >> 8);
        }
        check(stats.freelist_checked);
        check_u64_eq(stats.free_pages, free_pages - 1);
        check_u64_eq(stats.freelist_pages, 1);
        check_status(db, &f);

        /* The same list in the 0xFFFF form: count in the first slot. */
        memmove(page + PAGE_HEADER_SIZE + 8, page + PAGE_HEADER_SIZE, n * 8u);
        put_le64(page + PAGE_HEADER_SIZE, n);
        page[10] = page[11] = 0xFF;
        check_int_eq(bbolt_check(db, &stats), 0);
        check_u64_eq(stats.free_pages, n);
        put_le64(page + PAGE_HEADER_SIZE, UINT64_MAX / 4);
        check_int_eq(bbolt_check(db, NULL), -EBADMSG);
        check(strstr(bbolt_last_error(db), "does not fit"));
        put_le64(page + PAGE_HEADER_SIZE, n);

        /* A page listed twice; a reachable page listed; an id out of range. */
        put_le64(page + PAGE_HEADER_SIZE + 16, get_le64(page + PAGE_HEADER_SIZE + 8));
        check_int_eq(bbolt_check(db, NULL), -EBADMSG);
        check(strstr(bbolt_last_error(db), "freed twice"));
        put_le64(page + PAGE_HEADER_SIZE + 16, leaf);
        check_int_eq(bbolt_check(db, NULL), -EBADMSG);
        check(strstr(bbolt_last_error(db), "reachable but in the freelist"));
        put_le64(page + PAGE_HEADER_SIZE + 16, info.pgid);
        check_int_eq(bbolt_check(db, NULL), -EBADMSG);
        check(strstr(bbolt_last_error(db), "out of range"));
        put_le64(page + PAGE_HEADER_SIZE + 16, fl);
        check_int_eq(bbolt_check(db, NULL), -EBADMSG);
        check(strstr(bbolt_last_error(db), "in the freelist but in use"));
        page[8] = 0x02;
        check_int_eq(bbolt_check(db, NULL), -EBADMSG);
        check(strstr(bbolt_last_error(db), "expected the freelist page"));
        exercise(p, f.size);

        free(p);
        fixture_done(&f);
}

static uint64_t rng_state = UINT64_C(0x9E3779B97F4A7C15);

static uint64_t rng(void) {
        /* xorshift64*: deterministic across runs. */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * UINT64_C(0x2545F4914F6CDD1D);
}

static void test_random_flips(void) {
        const char *names[] = { "etcd-small.db", "etcd-empty.db", "tiny-512.db" };

        for (size_t fi = 0; fi < ELEMENTSOF(names); fi++) {
                Fixture f = fixture_load(names[fi]);
                uint8_t *p = copy_of(&f, f.size);
                unsigned rounds = fi == 0 ? 300 : 200;
                size_t ps = fi == 2 ? 512 : 4096;

                for (unsigned round = 0; round < rounds; round++) {
                        unsigned flips = 1 + (unsigned) (rng() % 16);

                        memcpy(p, f.data, f.size);
                        for (unsigned i = 0; i < flips; i++) {
                                size_t off;
                                /* Half the damage lands in the first pages, where
                                 * the metas, freelist and tree tops are. */
                                if (rng() % 2)
                                        off = (size_t) (rng() % MIN(f.size, 8 * ps));
                                else
                                        off = (size_t) (rng() % f.size);
                                p[off] ^= (uint8_t) (1u << (rng() % 8));
                        }
                        /* Sometimes damage a meta's fields and reseal it, so the
                         * garbage gets past the checksum. */
                        if (round % 4 == 0) {
                                size_t off = (rng() % 2) * ps;
                                p[off + PAGE_HEADER_SIZE + 8 + rng() % 48] ^=
                                        (uint8_t) (1u << (rng() % 8));
                                meta_reseal(p, off);
                        }
                        exercise(p, f.size);
                }
                free(p);
                fixture_done(&f);
        }
}

/* A leaf of k elements, each an inline bucket holding the next level down (an empty leaf at the bottom),
 * written at buf with page id id; its size. shared: the elements' keys are the last 1, 2, … k of k zero bytes
 * and all share one value (still in key order), as no bbolt writes; else each has its own key and value. */
static size_t nested_leaf(uint8_t *buf, unsigned k, unsigned levels, uint64_t id, bool shared) {
        size_t head = PAGE_HEADER_SIZE + ELEMENT_SIZE * k, at = head;

        memset(buf, 0, PAGE_HEADER_SIZE);
        put_le64(buf, id);
        buf[8] = PAGE_LEAF;
        if (levels == 0)
                return PAGE_HEADER_SIZE;
        buf[10] = (uint8_t) k;
        for (unsigned i = 0; i < k; i++) {
                uint8_t *e = buf + PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
                size_t klen = shared ? i + 1 : 1, key = shared ? head + k - klen : at, vlen;

                if (!shared || i == 0) {
                        at = shared ? head + k : at + 1;
                        memset(buf + key, shared ? 0 : (int) i, shared ? k : 1);
                        memset(buf + at, 0, BUCKET_HEADER_SIZE); /* root 0: inline */
                        vlen = BUCKET_HEADER_SIZE + nested_leaf(buf + at + BUCKET_HEADER_SIZE, k, levels - 1, 0,
                                                                shared);
                        at += vlen;
                }
                put_le32(e, LEAF_BUCKET);
                put_le32(e + 4, (uint32_t) (key - (size_t) (e - buf)));
                put_le32(e + 8, (uint32_t) klen);
                put_le32(e + 12, (uint32_t) (at - key - klen));
        }
        return at;
}

/* A 3-page file (4 KiB pages, no freelist) whose root bucket is such a leaf. */
static uint8_t *nested_file(unsigned k, unsigned levels, bool shared, size_t *ret_size) {
        const size_t ps = 4096;
        uint8_t *db = calloc(3, ps);

        check(db);
        for (unsigned m = 0; m < 2; m++) {
                uint8_t *page = db + m * ps, *meta = page + PAGE_HEADER_SIZE;

                put_le64(page, m);
                page[8] = PAGE_META;
                put_le32(meta, 0xED0CDAED);
                put_le32(meta + 4, 2);
                put_le32(meta + 8, (uint32_t) ps);
                put_le64(meta + 16, 2);                 /* the root bucket's page */
                put_le64(meta + 32, UINT64_MAX);        /* no freelist */
                put_le64(meta + 40, 3);                 /* pages */
                put_le64(meta + 48, m + 1);             /* txid */
                meta_reseal(db, m * ps);
        }
        check(nested_leaf(db + 2 * ps, k, levels, 2, shared) <= ps);
        *ret_size = 3 * ps;
        return db;
}

/* Leaf elements whose bytes overlap are refused: nested inline buckets that each name one shared bucket twice
 * would be walked 2^levels times (a file of 12 KiB with 60 levels, centuries). The same nesting with keys
 * and values laid out one after another, as bbolt writes them, passes. */
static void test_overlapping_elements(void) {
        static const char overlap[] = "inline page: key of element 1 overlaps the previous element's key or value "
                                      "(bbolt lays them out one after another)";
        _cleanup_(bbolt_freep) Bbolt *db = NULL;
        BboltCheckStats stats;
        size_t size;
        uint8_t *data = nested_file(2, 4, false, &size);

        check_int_eq(bbolt_open_mem(data, size, &db), 0);
        check_int_eq(bbolt_check(db, &stats), 0);
        check_u64_eq(stats.inline_buckets, 2 + 4 + 8 + 16);
        db = bbolt_free(db);
        free(data);

        data = nested_file(2, 18, true, &size);
        check_int_eq(bbolt_open_mem(data, size, &db), 0);
        check_int_eq(bbolt_check(db, NULL), -EBADMSG);
        check_str_eq(bbolt_last_error(db), overlap);
        db = bbolt_free(db);
        check_file_verdict(data, size, -EBADMSG, overlap);
        free(data);
}

static void test_open_fd_errors(void) {
        _cleanup_(bbolt_freep) Bbolt *db = NULL;
        _cleanup_close_ int fd = -EBADF;

        check_int_eq(bbolt_open_fd(-1, &db), -EBADF);
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        check(fd >= 0);
        check_int_eq(bbolt_open_fd(fd, &db), -EINVAL);
        check(!db);
        check_int_eq(bbolt_open_mem(NULL, 0, &db), -EBADMSG);
        check(!bbolt_free(NULL));
}

int main(void) {
        TEST_RUN(test_crc32c);
        TEST_RUN(test_parse_key);
        TEST_RUN(test_status);
        TEST_RUN(test_status_tiny);
        TEST_RUN(test_revision);
        TEST_RUN(test_compact_revision);
        TEST_RUN(test_buckets);
        TEST_RUN(test_empty_bucket);
        TEST_RUN(test_meta_damage);
        TEST_RUN(test_truncated);
        TEST_RUN(test_branch_cycle);
        TEST_RUN(test_page_damage);
        TEST_RUN(test_freelist);
        TEST_RUN(test_random_flips);
        TEST_RUN(test_overlapping_elements);
        TEST_RUN(test_open_fd_errors);
        return 0;
}
