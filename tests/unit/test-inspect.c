/* SPDX-License-Identifier: MIT */
/*
 * test-inspect.c — the offline backup reader: the mvccpb.KeyValue decoder on
 * hand-built protobufs (well-formed, tombstone-shaped, unknown fields, wrong
 * wire types, truncation, negative int64), the Secrets storage classifier on
 * every kube-apiserver prefix, and opening, verifying and reading keys of
 * the etcd snapshot fixture as is, gzip- and zstd-compressed, damaged in
 * each way verify must name, and next to right and wrong sidecars; and the
 * decrypt stage on the fixture encrypted in-process with the age module
 * (right, wrong, several and no identities, damage, truncation, armor).
 * Fixtures are found under $TOP_SRCDIR, or relative to this source file.
 */

#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "test.h"
#include "format/age.h"
#include "backup/codec.h"
#include "backup/inspect.h"
#include "format/mvcc-kv.h"
#include "format/secrets.h"
#include "backup/store.h"
#include "util/io.h"
#include "util/str.h"


static char *tmpdir;

static char *tmp_path(const char *name) {
        char *p = path_join(tmpdir, name);
        check(p);
        return p;
}

static void write_file(const char *path, const void *data, size_t n) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        check(fd >= 0);
        check(loop_write(fd, data, n) == 0);
        check(close(fd) == 0);
}

static uint8_t *fixture(size_t *ret_size) {
        _cleanup_free_ char *path = test_fixture_path("etcd-small.db");
        char *text = NULL;

        check(read_full_file(path, 16 * 1024 * 1024, &text, ret_size) == 0);
        return (uint8_t *) text;
}

static int on_sink(const void *data, size_t n, void *userdata) {
        return loop_write(*(int *) userdata, data, n);
}

static void write_compressed(const char *path, CodecKind kind, const void *data, size_t n) {
        CodecWriter *w = NULL;
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        check(fd >= 0);
        check(codec_writer_new(kind, 3, 1, on_sink, &fd, &w) == 0);
        check(codec_writer_write(w, data, n) == 0);
        check(codec_writer_finish(w) == 0);
        codec_writer_free(w);
        check(close(fd) == 0);
}

static const InspectCheck *find_check(const InspectReport *r, const char *name) {
        for (size_t i = 0; i < r->n_checks; i++)
                if (streq(r->checks[i].name, name))
                        return &r->checks[i];
        return NULL;
}

/* Open path, expect failure r with a reason containing what. */
static void check_open_fails(const char *path, int r, const char *what) {
        InspectBackup *b = NULL;
        char reason[INSPECT_REASON_MAX] = "";
        int k = inspect_backup_open(path, &b, reason, sizeof reason);

        if (k != r || !strstr(reason, what))
                fprintf(stderr, "%s: got %d \"%s\", want %d \"%s\"\n", path, k, reason, r, what);
        check_int_eq(k, r);
        check(strstr(reason, what));
        check(!b);
}

/* ---- KeyValue ------------------------------------------------------------------ */

static void test_kv_decode(void) {
        /* key "/a", create 5, mod 7, version 2, value "xy", lease 300 */
        static const uint8_t full[] = { 0x0a, 2, '/', 'a', 0x10, 5, 0x18, 7, 0x20, 2,
                                        0x2a, 2, 'x', 'y', 0x30, 0xac, 0x02 };
        static const uint8_t tomb[] = { 0x0a, 3, '/', 'b', 0 };
        /* An unknown varint field 9 and an unknown length field 10 are skipped. */
        static const uint8_t unknown[] = { 0x48, 1, 0x0a, 1, 'k', 0x52, 2, 'z', 'z', 0x2a, 0 };
        /* lease -1: ten bytes of two's complement */
        static const uint8_t negative[] = { 0x0a, 1, 'k', 0x30, 0xff, 0xff, 0xff, 0xff, 0xff,
                                            0xff, 0xff, 0xff, 0xff, 0x01 };
        static const uint8_t wrong_key_type[] = { 0x08, 1 };
        static const uint8_t wrong_rev_type[] = { 0x0a, 1, 'k', 0x12, 1, 'x' };
        static const uint8_t truncated[] = { 0x0a, 5, 'a', 'b' };
        static const uint8_t no_key[] = { 0x10, 5, 0x2a, 1, 'v' };
        static const uint8_t empty_key[] = { 0x0a, 0, 0x10, 5 };
        static const uint8_t group[] = { 0x0a, 1, 'k', 0x0b };
        MvccKv kv;

        check(mvcc_kv_decode(full, sizeof full, &kv) == 0);
        check_int_eq(kv.key_size, 2);
        check(memcmp(kv.key, "/a", 2) == 0);
        check_int_eq(kv.create_revision, 5);
        check_int_eq(kv.mod_revision, 7);
        check_int_eq(kv.version, 2);
        check_int_eq(kv.value_size, 2);
        check(memcmp(kv.value, "xy", 2) == 0);
        check_int_eq(kv.lease, 300);

        check(mvcc_kv_decode(tomb, sizeof tomb, &kv) == 0);
        check_int_eq(kv.key_size, 3);
        check(memcmp(kv.key, "/b\0", 3) == 0);
        check_int_eq(kv.value_size, 0);
        check_int_eq(kv.version, 0);

        check(mvcc_kv_decode(unknown, sizeof unknown, &kv) == 0);
        check_int_eq(kv.key_size, 1);
        check_int_eq(kv.value_size, 0);

        check(mvcc_kv_decode(negative, sizeof negative, &kv) == 0);
        check_int_eq(kv.lease, -1);

        kv = (MvccKv) { .version = 42 };
        check_int_eq(mvcc_kv_decode(wrong_key_type, sizeof wrong_key_type, &kv), -EBADMSG);
        check_int_eq(kv.version, 42); /* untouched on failure */
        check_int_eq(mvcc_kv_decode(wrong_rev_type, sizeof wrong_rev_type, &kv), -EBADMSG);
        check_int_eq(mvcc_kv_decode(truncated, sizeof truncated, &kv), -EBADMSG);
        check_int_eq(mvcc_kv_decode(no_key, sizeof no_key, &kv), -EBADMSG);
        check_int_eq(mvcc_kv_decode(empty_key, sizeof empty_key, &kv), -EBADMSG);
        check_int_eq(mvcc_kv_decode(group, sizeof group, &kv), -EBADMSG);
        check_int_eq(mvcc_kv_decode(NULL, 0, &kv), -EBADMSG);
        for (size_t n = 0; n < sizeof full; n++) /* every prefix: no crash */
                (void) mvcc_kv_decode(full, n, &kv);
}

/* ---- classifier ---------------------------------------------------------------- */

static void check_class(const char *value, size_t n, SecretsStorage want, const char *label) {
        char buf[SECRETS_LABEL_MAX];
        SecretsStorage s = secrets_classify(value, n, buf, sizeof buf);

        if (s != want || !streq(buf, label))
                fprintf(stderr, "classify \"%.*s\": got %d \"%s\", want %d \"%s\"\n", (int) n, value,
                        (int) s, buf, (int) want, label);
        check(s == want);
        check_str_eq(buf, label);
}

#define CLASS(lit, want, label) check_class(lit, sizeof(lit) - 1, want, label)

static void test_classify(void) {
        char small[8];

        CLASS("k8s:enc:aescbc:v1:key1:\x01\x02\x03", SECRETS_STORAGE_ENCRYPTED, "aescbc:key1");
        CLASS("k8s:enc:aesgcm:v1:key2:\xff", SECRETS_STORAGE_ENCRYPTED, "aesgcm:key2");
        CLASS("k8s:enc:secretbox:v1:sb:", SECRETS_STORAGE_ENCRYPTED, "secretbox:sb");
        CLASS("k8s:enc:kms:v1:vault:\x00\x01", SECRETS_STORAGE_ENCRYPTED, "kms:vault");
        CLASS("k8s:enc:kms:v2:vault:\x0a", SECRETS_STORAGE_ENCRYPTED, "kmsv2:vault");
        CLASS("k8s:enc:future:v1:k:", SECRETS_STORAGE_ENCRYPTED, "future:k");
        /* Names from the value are made safe to print. */
        CLASS("k8s:enc:aescbc:v1:bad\x1b[2Jname:", SECRETS_STORAGE_ENCRYPTED, "aescbc:bad??2Jname");
        CLASS("k8s\x00\x0a\x0cv1\x12\x06Secret", SECRETS_STORAGE_PLAINTEXT, "plaintext");
        CLASS("{\"kind\":\"Secret\"}", SECRETS_STORAGE_PLAINTEXT, "plaintext");
        /* Malformed encryption prefixes and anything else. */
        CLASS("k8s:enc:aescbc:v1:key1", SECRETS_STORAGE_UNKNOWN, "unknown");
        CLASS("k8s:enc:aescbc", SECRETS_STORAGE_UNKNOWN, "unknown");
        CLASS("k8s:enc::v1:k:", SECRETS_STORAGE_UNKNOWN, "unknown");
        CLASS("k8s:enc:aescbc:v1::", SECRETS_STORAGE_UNKNOWN, "unknown");
        CLASS("k8s:enc:", SECRETS_STORAGE_UNKNOWN, "unknown");
        CLASS("k8s", SECRETS_STORAGE_UNKNOWN, "unknown");
        CLASS("hello", SECRETS_STORAGE_UNKNOWN, "unknown");
        CLASS("", SECRETS_STORAGE_UNKNOWN, "unknown");
        check(secrets_classify(NULL, 0, small, sizeof small) == SECRETS_STORAGE_UNKNOWN);
        /* A label that does not fit is cut, never overflows. */
        check(secrets_classify("k8s:enc:aescbc:v1:averyveryverylongname:", 41, small,
                                     sizeof small) == SECRETS_STORAGE_ENCRYPTED);
        check_str_eq(small, "aescbc:");
        check(secrets_classify("k8s:enc:aescbc:v1:k:", 20, small, 0) == SECRETS_STORAGE_UNKNOWN);
}

/* ---- the fixture ----------------------------------------------------------------- */

static void check_get(InspectBackup *b, const char *key, bool prefix, size_t want) {
        MvccKv *kvs = NULL;
        size_t n = 99;

        check(mvcc_kv_get(b->db, key, strlen(key), prefix, &kvs, &n) == 0);
        if (n != want)
                fprintf(stderr, "get %s%s: %zu keys, want %zu\n", key, prefix ? " --prefix" : "", n, want);
        check_int_eq(n, want);
        for (size_t i = 1; i < n; i++) /* sorted, distinct */
                check(memcmp(kvs[i - 1].key, kvs[i].key, MIN(kvs[i - 1].key_size, kvs[i].key_size)) < 0 ||
                      (memcmp(kvs[i - 1].key, kvs[i].key, MIN(kvs[i - 1].key_size, kvs[i].key_size)) == 0 &&
                       kvs[i - 1].key_size < kvs[i].key_size));
        free(kvs);
}

static void test_fixture(void) {
        _cleanup_free_ char *path = test_fixture_path("etcd-small.db");
        InspectBackup *b = NULL;
        MvccKv *kvs = NULL;
        char reason[INSPECT_REASON_MAX] = "";
        SecretsAudit a = {};
        int64_t rev = 0;
        size_t n = 0;

        check(inspect_backup_open(path, &b, reason, sizeof reason) == 0);
        check(b->compression == CODEC_NONE);
        check_u64_eq(b->db_size, 475136);
        check_u64_eq(b->file_size, 475136 + 32);
        check(inspect_revision(b, &rev) == 0);
        check_int_eq(rev, 357);

        /* Overwritten three times: the last value, version 4. */
        check(mvcc_kv_get(b->db, "/fixture/single/0001", 20, false, &kvs, &n) == 0);
        check_int_eq(n, 1);
        check_int_eq(kvs[0].value_size, strlen("overwrite 2 of 1"));
        check(memcmp(kvs[0].value, "overwrite 2 of 1", kvs[0].value_size) == 0);
        check_int_eq(kvs[0].version, 4);
        check(kvs[0].mod_revision > kvs[0].create_revision);
        kvs = mfree(kvs);

        check_get(b, "/fixture/single/0120", false, 0);         /* deleted */
        check_get(b, "/fixture/single/012", false, 0);          /* no such key */
        check_get(b, "/fixture/single/", true, 150);            /* 200 put, 50 deleted */
        check_get(b, "/fixture/txn/", true, 990);               /* 1000 put, 10 deleted */
        check_get(b, "/fixture/txn/0005", true, 0);
        check_get(b, "/fixture/big/", true, 4);
        check_get(b, "", true, 150 + 990 + 4 + 1);
        check_get(b, "", false, 0);

        check(mvcc_kv_get(b->db, "/fixture/leased", 15, false, &kvs, &n) == 0);
        check_int_eq(n, 1);
        check(kvs[0].lease != 0);
        kvs = mfree(kvs);
        check(mvcc_kv_get(b->db, "/fixture/big/c", 14, false, &kvs, &n) == 0);
        check_int_eq(n, 1);
        check(kvs[0].value_size >= 102400);
        kvs = mfree(kvs);

        check(secrets_audit(b->db, &a) == 0);
        check_int_eq(a.secrets, 0);
        check_int_eq(a.n_entries, 0);
        secrets_audit_done(&a);
        inspect_backup_free(b);

        /* The empty etcd: no keys, revision 0. */
        free(path);
        path = test_fixture_path("etcd-empty.db");
        check(inspect_backup_open(path, &b, reason, sizeof reason) == 0);
        check(inspect_revision(b, &rev) == 0);
        check_int_eq(rev, 0);
        check_get(b, "", true, 0);
        inspect_backup_free(b);
}

/* An uncompressed backup that someone else can write (the daemon's user,
 * under root's reader) is copied as it is read, not mapped: cutting the file
 * short afterwards must not end the reader with SIGBUS. One of the caller's,
 * writable by none but it, is read in place. */
static void test_not_mapped_in_place(void) {
        static const struct { mode_t mode; bool chown_away; } cases[] = {
                { 0620, false }, { 0602, false }, { 0600, true }, { 0600, false } };
        _cleanup_free_ char *path = tmp_path("shared.db");
        _cleanup_free_ uint8_t *db = NULL;
        size_t size;

        db = fixture(&size);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                bool shared = cases[i].mode != 0600 || cases[i].chown_away;
                InspectBackup *b = NULL;
                MvccKv *kvs = NULL;
                size_t n = 0;
                int fd;

                /* Another owner needs root; the mode cases run as anyone. */
                if (cases[i].chown_away && geteuid() != 0)
                        continue;
                write_file(path, db, size);
                check(chmod(path, cases[i].mode) == 0);
                if (cases[i].chown_away)
                        check(chown(path, 65534, 65534) == 0);
                check(inspect_backup_open(path, &b, NULL, 0) == 0);
                check(b->in_place == !shared);
                if (shared) {
                        fd = open(path, O_WRONLY | O_CLOEXEC);
                        check(fd >= 0);
                        check(ftruncate(fd, 4096) == 0);
                        check(close(fd) == 0);
                        check(mvcc_kv_get(b->db, "", 0, true, &kvs, &n) == 0);
                        check_int_eq(n, 150 + 990 + 4 + 1);
                        check(bbolt_check(b->db, NULL) == 0);
                        free(kvs);
                }
                inspect_backup_free(b);
                check(unlink(path) == 0);
        }
}

static void test_compressed(void) {
        _cleanup_free_ char *gz = tmp_path("s.db.gz"), *zst = tmp_path("s.db.zst"),
                            *cut = tmp_path("cut.db.gz"), *junk = tmp_path("junk.db.gz");
        _cleanup_free_ uint8_t *db = NULL, *comp = NULL;
        static const CodecKind kinds[] = { CODEC_GZIP, CODEC_ZSTD };
        const char *paths[] = { gz, zst };
        size_t size, csize;

        db = fixture(&size);
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                InspectBackup *b = NULL;
                InspectReport r = {};
                MvccKv *kvs = NULL;
                size_t n = 0;

                write_compressed(paths[i], kinds[i], db, size);
                check(inspect_backup_open(paths[i], &b, NULL, 0) == 0);
                check(b->compression == kinds[i]);
                check_u64_eq(b->db_size, 475136);
                check(mvcc_kv_get(b->db, "/fixture/single/", 16, true, &kvs, &n) == 0);
                check_int_eq(n, 150);
                free(kvs);
                inspect_backup_free(b);

                check(inspect_verify(paths[i], &r) == 0);
                check(r.ok);
                check(find_check(&r, "decompress")->ok);
                check(find_check(&r, "sha256 trailer")->ok);
                check(find_check(&r, "db structure")->ok);
                /* No sidecar: said, and not a failure. */
                check(find_check(&r, "sidecar")->ok);
                check(strstr(find_check(&r, "sidecar")->detail, "none beside the file"));
                inspect_report_done(&r);
        }

        /* Writing the temporary file fails (here: past RLIMIT_FSIZE, with
         * SIGXFSZ left at its default, which would end the process): the
         * write's own error, not a limit's. */
        {
                struct rlimit was, lim;
                check(getrlimit(RLIMIT_FSIZE, &was) == 0);
                lim = (struct rlimit) { .rlim_cur = 64 * 1024, .rlim_max = was.rlim_max };
                check(signal(SIGXFSZ, SIG_DFL) != SIG_ERR);
                check(setrlimit(RLIMIT_FSIZE, &lim) == 0);
                check_open_fails(zst, -EFBIG, "cannot write the temporary file in ");
                check_open_fails(zst, -EFBIG, ": File too large");
                check(setrlimit(RLIMIT_FSIZE, &was) == 0);
        }

        /* A gzip file cut short. */
        {
                char *text = NULL;
                check(read_full_file(gz, 16 * 1024 * 1024, &text, &csize) == 0);
                comp = (uint8_t *) text;
        }
        write_file(cut, comp, csize / 2);
        check_open_fails(cut, -EBADMSG, "truncated gzip stream");
        /* Junk after the last member. */
        {
                _cleanup_free_ uint8_t *more = malloc(csize + 100);
                check(more);
                memcpy(more, comp, csize);
                memset(more + csize, 'J', 100);
                write_file(junk, more, csize + 100);
                check_open_fails(junk, -EBADMSG, "corrupt gzip stream");
        }
}

static void test_damage(void) {
        _cleanup_free_ char *flip = tmp_path("flip.db"), *page = tmp_path("page.db"),
                            *age = tmp_path("x.db"), *agename = tmp_path("y.db.age"),
                            *empty = tmp_path("empty.db"), *text = tmp_path("notes.txt"),
                            *tiny = tmp_path("tiny.db"), *dir = tmp_path("dir");
        _cleanup_free_ uint8_t *db = NULL;
        InspectReport r = {};
        size_t size;

        db = fixture(&size);

        /* One byte flipped in the middle: the trailer tells. */
        db[size / 2] ^= 0x40;
        write_file(flip, db, size);
        db[size / 2] ^= 0x40;
        check_open_fails(flip, -EBADMSG, "SHA-256 trailer mismatch: the file is damaged");
        check(inspect_verify(flip, &r) == 0);
        check(!r.ok);
        check(!find_check(&r, "sha256 trailer")->ok);
        check(find_check(&r, "decompress")->ok);
        inspect_report_done(&r);

        /* A page header damaged and the trailer recomputed: the structure tells. */
        {
                _cleanup_free_ uint8_t *copy = malloc(size);
                unsigned len = 0;
                check(copy);
                memcpy(copy, db, size);
                /* The root bucket's page named by either meta page (root
                 * page id at offset 32 of a 4096-byte meta page): its type. */
                for (size_t m = 0; m < 2; m++) {
                        uint64_t root;
                        memcpy(&root, copy + m * 4096 + 32, sizeof root);
                        check(root > 1 && (root + 1) * 4096 <= size);
                        copy[root * 4096 + 8] = 0xee;
                        copy[root * 4096 + 9] = 0xee;
                }
                check(EVP_Digest(copy, size - 32, copy + size - 32, &len, EVP_sha256(), NULL) == 1);
                write_file(page, copy, size);
                check(inspect_verify(page, &r) == 0);
                check(!r.ok);
                check(find_check(&r, "sha256 trailer")->ok);
                check(!find_check(&r, "db structure")->ok);
                check(strstr(find_check(&r, "db structure")->detail, "database structure damaged"));
                inspect_report_done(&r);
        }

        /* Encrypted by magic: needs an identity. A name is not a magic. */
        write_file(age, "age-encryption.org/v1\n-> X25519 abc\n", 36);
        check_open_fails(age, -ENOKEY, "encrypted backup: an age identity is needed");
        write_file(agename, db, size);
        {
                InspectBackup *b = NULL;
                check(inspect_backup_open(agename, &b, NULL, 0) == 0);
                check(!b->encrypted);
                inspect_backup_free(b);
        }
        check(inspect_verify(age, &r) == 0);
        check(!r.ok);
        check(!find_check(&r, "decrypt")->ok);
        inspect_report_done(&r);

        write_file(empty, "", 0);
        check_open_fails(empty, -EBADMSG, "not a backup");
        write_file(text, "just some notes, not a backup at all\n", 37);
        check_open_fails(text, -EBADMSG, "not a backup");
        write_file(tiny, "ab", 2);
        check_open_fails(tiny, -EBADMSG, "not a backup");
        /* 32 bytes that are the SHA-256 of nothing: a valid trailer on no db. */
        {
                uint8_t sha[32];
                unsigned len = 0;
                check(EVP_Digest("", 0, sha, &len, EVP_sha256(), NULL) == 1);
                write_file(tiny, sha, sizeof sha);
                check_open_fails(tiny, -EBADMSG, "database structure damaged");
                check(inspect_verify(tiny, &r) == 0);
                check(!r.ok);
                check(find_check(&r, "sha256 trailer")->ok);
                check(!find_check(&r, "db structure")->ok);
                inspect_report_done(&r);
        }
        check(mkdir(dir, 0700) == 0);
        check_open_fails(dir, -EBADMSG, "not a regular file");
        check(rmdir(dir) == 0);

        check_open_fails("/nonexistent/etcd.db", -ENOENT, "cannot open /nonexistent/etcd.db");
        check(inspect_verify("/nonexistent/etcd.db", &r) == 0);
        check(!r.ok);
        check_int_eq(r.n_checks, 1);
        check_str_eq(r.checks[0].name, "read");
        inspect_report_done(&r);
}

/* A backup's name says its revision: one that is not the snapshot's (a
 * backup renamed by hand) fails the check. */
static void test_name_revision(void) {
        _cleanup_free_ char *wrong = tmp_path("etcd-0000000000000001-20200101T000000Z-r3.db.gz"),
                            *right = tmp_path("etcd-0000000000000001-20200101T000000Z-r357.db.gz");
        _cleanup_free_ uint8_t *db = NULL;
        InspectReport r = {};
        size_t size;

        db = fixture(&size);
        write_compressed(wrong, CODEC_GZIP, db, size);
        write_compressed(right, CODEC_GZIP, db, size);
        check(inspect_verify(wrong, &r) == 0);
        check(!r.ok);
        check(!find_check(&r, "file name")->ok);
        check(strstr(find_check(&r, "file name")->detail, "says revision 3, the snapshot's is 357"));
        inspect_report_done(&r);
        check(inspect_verify(right, &r) == 0);
        check(r.ok);
        check(find_check(&r, "file name")->ok);
        inspect_report_done(&r);
        (void) unlink(wrong);
        (void) unlink(right);
}

static void test_sidecar(void) {
        _cleanup_free_ char *gz = tmp_path("etcd-side.db.gz"), *side = tmp_path("etcd-side.db.gz.json");
        _cleanup_free_ uint8_t *db = NULL, *comp = NULL;
        _cleanup_free_ char *json = NULL;
        uint8_t sha[32];
        unsigned len = 0;
        InspectReport r = {};
        Sidecar sc = {
                .name = (char *) "etcd-side.db.gz", .created_usec = 1700000000000000,
                .cluster_id = 1, .member_id = 2, .endpoint = (char *) "https://127.0.0.1:2379",
                .etcd_version = (char *) "3.4.23", .revision = 357, .db_size = 475136,
                .compression = CODEC_GZIP, .level = 3,
        };
        static const char *const names[] = { "sidecar", "sidecar file_size", "sidecar file_sha256",
                                             "sidecar db_size", "sidecar db_sha256", "sidecar revision" };
        size_t size, csize;

        db = fixture(&size);
        write_compressed(gz, CODEC_GZIP, db, size);
        {
                char *text = NULL;
                check(read_full_file(gz, 16 * 1024 * 1024, &text, &csize) == 0);
                comp = (uint8_t *) text;
        }
        check(EVP_Digest(comp, csize, sha, &len, EVP_sha256(), NULL) == 1);
        hexencode(sha, 32, sc.file_sha256);
        hexencode(db + size - 32, 32, sc.db_sha256);
        sc.file_size = csize;

        check(sidecar_to_json(&sc, &json) == 0);
        write_file(side, json, strlen(json));
        check(inspect_verify(gz, &r) == 0);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                const InspectCheck *c = find_check(&r, names[i]);
                if (!c || !c->ok)
                        fprintf(stderr, "%s: %s\n", names[i], c ? c->detail : "missing");
                check(c && c->ok);
        }
        check(r.ok);
        inspect_report_done(&r);

        /* A sidecar db_size below the db's: decompression stops there (a
         * bomb is not spooled past what its sidecar announces). */
        sc.db_size = 4096;
        json = mfree(json);
        check(sidecar_to_json(&sc, &json) == 0);
        write_file(side, json, strlen(json));
        check(inspect_verify(gz, &r) == 0);
        check(!r.ok);
        check(find_check(&r, "decompress") && !find_check(&r, "decompress")->ok);
        check(strstr(find_check(&r, "decompress")->detail, "more than the sidecar's db_size (4096 bytes)"));
        inspect_report_done(&r);

        /* Every field wrong at once: each mismatch is reported. */
        sc.revision = 356;
        sc.db_size = 475136 + 4096;
        sc.file_size = 2;
        sc.file_sha256[0] = sc.file_sha256[0] == '0' ? '1' : '0';
        sc.db_sha256[0] = sc.db_sha256[0] == '0' ? '1' : '0';
        json = mfree(json);
        check(sidecar_to_json(&sc, &json) == 0);
        write_file(side, json, strlen(json));
        check(inspect_verify(gz, &r) == 0);
        check(!r.ok);
        check(find_check(&r, "sidecar")->ok);
        for (size_t i = 1; i < ELEMENTSOF(names); i++)
                check(!find_check(&r, names[i])->ok);
        check(strstr(find_check(&r, "sidecar revision")->detail, "356"));
        check(strstr(find_check(&r, "sidecar revision")->detail, "357"));
        check(find_check(&r, "sha256 trailer")->ok);
        inspect_report_done(&r);

        /* A sidecar that is not JSON. */
        write_file(side, "{nope", 5);
        check(inspect_verify(gz, &r) == 0);
        check(!r.ok);
        check(!find_check(&r, "sidecar")->ok);
        check(!find_check(&r, "sidecar file_sha256"));
        inspect_report_done(&r);
        check(unlink(side) == 0);
}

/* Random damage to a small compressed backup: never a crash, never a leak. */
static void test_random_damage(void) {
        _cleanup_free_ char *path = tmp_path("rand.db.gz"), *src = tmp_path("src.db.gz");
        _cleanup_free_ uint8_t *db = NULL, *comp = NULL;
        size_t size, csize;

        db = fixture(&size);
        write_compressed(src, CODEC_GZIP, db, size);
        {
                char *text = NULL;
                check(read_full_file(src, 16 * 1024 * 1024, &text, &csize) == 0);
                comp = (uint8_t *) text;
        }
        srand(12345);
        for (int round = 0; round < 60; round++) {
                _cleanup_free_ uint8_t *copy = malloc(csize);
                InspectBackup *b = NULL;
                InspectReport r = {};
                size_t n = csize;

                check(copy);
                memcpy(copy, comp, csize);
                for (int k = 0; k < 1 + round % 4; k++)
                        copy[(size_t) rand() % csize] ^= (uint8_t) (1 + rand() % 255);
                if (round % 5 == 0)
                        n = (size_t) rand() % csize;
                write_file(path, copy, n);
                if (inspect_backup_open(path, &b, NULL, 0) == 0) {
                        SecretsAudit a = {};
                        MvccKv *kvs = NULL;
                        size_t m;
                        if (mvcc_kv_get(b->db, "", 0, true, &kvs, &m) == 0)
                                free(kvs);
                        if (secrets_audit(b->db, &a) == 0)
                                secrets_audit_done(&a);
                        inspect_backup_free(b);
                }
                check(inspect_verify(path, &r) == 0);
                inspect_report_done(&r);
        }
}

/* ---- encrypted --------------------------------------------------------------------- */

/* An identity made from fixed bytes, as age-keygen would print it. */
static void make_identity(uint8_t seed, AgeIdentity *ret) {
        char s[AGE_IDENTITY_STRING_SIZE];
        uint8_t key[AGE_KEY_BYTES];

        for (size_t i = 0; i < sizeof key; i++)
                key[i] = (uint8_t) (seed + i * 7);
        check(age_bech32_encode("age-secret-key-", key, sizeof key, true, s, sizeof s) == 0);
        check(age_identity_parse(s, ret) == 0);
}

static int on_encrypt(const void *data, size_t n, void *userdata) {
        return age_encryptor_write(userdata, data, n);
}

/* data compressed with kind, then encrypted to the public key of id, as
 * the daemon writes a backup. */
static void write_encrypted(const char *path, CodecKind kind, const void *data, size_t n,
                            const AgeIdentity *id) {
        AgeEncryptor *e = NULL;
        CodecWriter *w = NULL;
        AgeRecipient rcp;
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        check(fd >= 0);
        check(age_identity_to_recipient(id, &rcp) == 0);
        check(age_encryptor_new(&rcp, 1, on_sink, &fd, &e) == 0);
        check(codec_writer_new(kind, 3, 1, on_encrypt, e, &w) == 0);
        check(codec_writer_write(w, data, n) == 0);
        check(codec_writer_finish(w) == 0);
        check(age_encryptor_finish(e) == 0);
        codec_writer_free(w);
        age_encryptor_free(e);
        check(close(fd) == 0);
}

static uint8_t *read_file(const char *path, size_t *ret_size) {
        char *text = NULL;

        check(read_full_file(path, 16 * 1024 * 1024, &text, ret_size) == 0);
        return (uint8_t *) text;
}

/* Open path with ids, expect failure r with a reason containing what. */
static void check_open_ids_fails(const char *path, const AgeIdentity *ids, size_t n_ids, int r,
                                 const char *what) {
        InspectBackup *b = NULL;
        char reason[INSPECT_REASON_MAX] = "";
        int k = inspect_backup_open_with_identities(path, ids, n_ids, &b, reason, sizeof reason);

        if (k != r || !strstr(reason, what))
                fprintf(stderr, "%s: got %d \"%s\", want %d \"%s\"\n", path, k, reason, r, what);
        check_int_eq(k, r);
        check(strstr(reason, what));
        check(!b);
}

/* Verify path with ids: the decrypt check is ok or fails with what. */
static void check_verify_decrypt(const char *path, const AgeIdentity *ids, size_t n_ids, bool ok,
                                 const char *what) {
        InspectReport r = {};
        const InspectCheck *c;

        check(inspect_verify_with_identities(path, ids, n_ids, &r) == 0);
        c = find_check(&r, "decrypt");
        if (!c || c->ok != ok || !strstr(c->detail, what))
                fprintf(stderr, "%s: decrypt check %s \"%s\", want %s \"%s\"\n", path,
                        c ? (c->ok ? "ok" : "FAIL") : "missing", c ? c->detail : "", ok ? "ok" : "FAIL",
                        what);
        check(c && c->ok == ok && strstr(c->detail, what));
        check(r.ok == ok);
        if (!ok) /* nothing after a failed decryption but the file's own checks */
                check(!find_check(&r, "decompress") && !find_check(&r, "sha256 trailer"));
        inspect_report_done(&r);
}

static void test_encrypted(void) {
        _cleanup_free_ char *zst = tmp_path("e.db.zst.age"), *gz = tmp_path("e.db.gz.age"),
                            *none = tmp_path("e.db.age"), *plain = tmp_path("noext"),
                            *bad = tmp_path("bad.age"), *armor = tmp_path("armor.age"),
                            *v2 = tmp_path("v2.age");
        static const CodecKind kinds[] = { CODEC_ZSTD, CODEC_GZIP, CODEC_NONE };
        const char *paths[] = { zst, gz, none };
        _cleanup_free_ uint8_t *db = NULL, *enc = NULL;
        AgeIdentity ids[3];     /* [0] and [1] open nothing, [2] opens every file */
        char pub[AGE_RECIPIENT_STRING_SIZE];
        AgeRecipient rcp;
        size_t size, esize;

        for (size_t i = 0; i < ELEMENTSOF(ids); i++)
                make_identity((uint8_t) (0x10 * (i + 1)), &ids[i]);
        db = fixture(&size);

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                InspectBackup *b = NULL;
                InspectReport r = {};
                MvccKv *kvs = NULL;
                int64_t rev = 0;
                size_t n = 0;

                write_encrypted(paths[i], kinds[i], db, size, &ids[2]);
                /* The right identity alone, and after two that do not match. */
                for (size_t first = 2;; first = 0) {
                        check(inspect_backup_open_with_identities(paths[i], ids + first, 3 - first, &b,
                                                                  NULL, 0) == 0);
                        check(b->encrypted);
                        check(b->compression == kinds[i]);
                        check_u64_eq(b->db_size, 475136);
                        check(memcmp(b->db_sha256, db + size - 32, 32) == 0);
                        check(inspect_revision(b, &rev) == 0);
                        check_int_eq(rev, 357);
                        check(mvcc_kv_get(b->db, "/fixture/single/", 16, true, &kvs, &n) == 0);
                        check_int_eq(n, 150);
                        kvs = mfree(kvs);
                        b = inspect_backup_free(b);
                        if (first == 0)
                                break;
                }

                check(inspect_verify_with_identities(paths[i], &ids[2], 1, &r) == 0);
                check(r.ok);
                check_str_eq(r.checks[0].name, "decrypt");
                check(strstr(r.checks[0].detail, "age, "));
                check(find_check(&r, "decompress")->ok);
                check(find_check(&r, "sha256 trailer")->ok);
                check(find_check(&r, "db structure")->ok);
                inspect_report_done(&r);

                /* No identity: the old entry points, and an empty list. */
                check_open_fails(paths[i], -ENOKEY, "encrypted backup: an age identity is needed "
                                 "(encryption.identity_file in the config, or --identity FILE)");
                check_open_ids_fails(paths[i], NULL, 0, -ENOKEY, "an age identity is needed");
                check(inspect_verify(paths[i], &r) == 0);
                check(!r.ok);
                check(!find_check(&r, "decrypt")->ok);
                inspect_report_done(&r);
        }
        check_int_eq(inspect_backup_open_with_identities(zst, NULL, 1, NULL, NULL, 0), -EINVAL);
        {
                InspectReport r = {};
                check_int_eq(inspect_verify_with_identities(zst, NULL, 2, &r), -EINVAL);
        }

        /* A wrong identity is named by its public key. */
        check(age_identity_to_recipient(&ids[1], &rcp) == 0);
        age_recipient_to_string(&rcp, pub);
        check_open_ids_fails(zst, &ids[1], 1, -EACCES, "no age identity matches this backup (tried ");
        check_open_ids_fails(zst, &ids[1], 1, -EACCES, pub);
        check_open_ids_fails(zst, ids, 2, -EACCES, pub);
        check_verify_decrypt(zst, &ids[1], 1, false, pub);
        check_verify_decrypt(zst, NULL, 0, false, "an age identity is needed");
        check_verify_decrypt(zst, &ids[2], 1, true, "age, ");

        /* Damage: a flipped byte in the payload, in the header's MAC, and
         * cuts at the end, in the payload and in the header. */
        enc = read_file(zst, &esize);
        check(esize > 200);
        {
                static const struct { size_t at; const char *what; } flips[] = {
                        { 0, "payload end" }, { 1, "payload middle" }, { 2, "header MAC" },
                };
                const uint8_t *mac = memmem(enc, esize, "\n--- ", 5);
                check(mac);
                for (size_t i = 0; i < ELEMENTSOF(flips); i++) {
                        size_t at = i == 0 ? esize - 5 : i == 1 ? esize / 2 : (size_t) (mac - enc) + 10;
                        enc[at] ^= 0x01;
                        write_file(bad, enc, esize);
                        enc[at] ^= 0x01;
                        check_open_ids_fails(bad, &ids[2], 1, -EBADMSG,
                                             "age decryption failed: the file is damaged or truncated");
                        check_verify_decrypt(bad, &ids[2], 1, false, "damaged or truncated");
                }
        }
        {
                const size_t cuts[] = { esize - 1, esize - 17, esize / 2, 100, 30 };
                for (size_t i = 0; i < ELEMENTSOF(cuts); i++) {
                        write_file(bad, enc, cuts[i]);
                        check_open_ids_fails(bad, &ids[2], 1, -EBADMSG, "damaged or truncated");
                        check_verify_decrypt(bad, &ids[2], 1, false, "damaged or truncated");
                }
        }
        /* Data appended after the final chunk. */
        {
                _cleanup_free_ uint8_t *more = malloc(esize + 40);
                check(more);
                memcpy(more, enc, esize);
                memset(more + esize, 'J', 40);
                write_file(bad, more, esize + 40);
                check_open_ids_fails(bad, &ids[2], 1, -EBADMSG, "damaged or truncated");
        }

        /* Authentic, but what is inside is broken: decryption passes, the
         * decompression behind it fails, and verify says which. */
        {
                _cleanup_free_ uint8_t *comp = NULL;
                size_t csize;
                InspectReport r = {};
                AgeEncryptor *e = NULL;
                int fd;

                write_compressed(plain, CODEC_ZSTD, db, size);
                comp = read_file(plain, &csize);
                check(age_identity_to_recipient(&ids[2], &rcp) == 0);
                fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                check(fd >= 0);
                check(age_encryptor_new(&rcp, 1, on_sink, &fd, &e) == 0);
                check(age_encryptor_write(e, comp, csize / 3) == 0);
                check(age_encryptor_finish(e) == 0);
                age_encryptor_free(e);
                check(close(fd) == 0);
                check_open_ids_fails(bad, &ids[2], 1, -EBADMSG, "truncated zstd stream");
                check(inspect_verify_with_identities(bad, &ids[2], 1, &r) == 0);
                check(!r.ok);
                check(find_check(&r, "decrypt")->ok);
                check(!find_check(&r, "decompress")->ok);
                inspect_report_done(&r);

                /* Corrupt early: verify still authenticates the whole file. */
                comp[csize / 10] ^= 0xff;
                comp[csize / 10 + 1] ^= 0xff;
                fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                check(fd >= 0);
                check(age_encryptor_new(&rcp, 1, on_sink, &fd, &e) == 0);
                check(age_encryptor_write(e, comp, csize) == 0);
                check(age_encryptor_finish(e) == 0);
                age_encryptor_free(e);
                check(close(fd) == 0);
                check(inspect_verify_with_identities(bad, &ids[2], 1, &r) == 0);
                check(!r.ok);
                check(find_check(&r, "decrypt")->ok);
                check(!find_check(&r, "decompress")->ok);
                inspect_report_done(&r);
        }

        /* Armored and other versions: refused with a reason, identity or not. */
        {
                static const char text[] = "-----BEGIN AGE ENCRYPTED FILE-----\n"
                                           "YWdlLWVuY3J5cHRpb24ub3JnL3YxCg==\n";
                write_file(armor, text, strlen(text));
        }
        check_open_ids_fails(armor, &ids[2], 1, -EPROTONOSUPPORT, "armored age file");
        check_open_fails(armor, -EPROTONOSUPPORT, "armored age file");
        check_verify_decrypt(armor, NULL, 0, false, "armored age file");
        write_file(v2, "age-encryption.org/v2\n-> X25519 abc\n", 36);
        check_open_ids_fails(v2, &ids[2], 1, -EPROTONOSUPPORT, "not an age v1 file");

        /* Random damage: never a crash, never a leak, never a success. */
        srand(4242);
        for (int round = 0; round < 40; round++) {
                _cleanup_free_ uint8_t *copy = malloc(esize);
                InspectBackup *b = NULL;
                InspectReport r = {};
                size_t n = esize;
                int k;

                check(copy);
                memcpy(copy, enc, esize);
                copy[(size_t) rand() % esize] ^= (uint8_t) (1 + rand() % 255);
                if (round % 4 == 0)
                        n = (size_t) rand() % esize;
                write_file(bad, copy, n);
                k = inspect_backup_open_with_identities(bad, &ids[2], 1, &b, NULL, 0);
                if (k != -EBADMSG && k != -EACCES && k != -EPROTONOSUPPORT)
                        fprintf(stderr, "round %d: %d\n", round, k);
                check(k == -EBADMSG || k == -EACCES || k == -EPROTONOSUPPORT);
                check(!b);
                check(inspect_verify_with_identities(bad, &ids[2], 1, &r) == 0);
                check(!r.ok);
                inspect_report_done(&r);
        }

        for (size_t i = 0; i < ELEMENTSOF(ids); i++)
                age_identity_wipe(&ids[i]);
}

int main(void) {
        char template[] = "/tmp/test-inspect.XXXXXX";
        _cleanup_free_ char *cmd = NULL;

        tmpdir = mkdtemp(template);
        check(tmpdir);
        TEST_RUN(test_kv_decode);
        TEST_RUN(test_classify);
        TEST_RUN(test_fixture);
        TEST_RUN(test_not_mapped_in_place);
        TEST_RUN(test_compressed);
        TEST_RUN(test_damage);
        TEST_RUN(test_sidecar);
        TEST_RUN(test_name_revision);
        TEST_RUN(test_random_damage);
        TEST_RUN(test_encrypted);
        check(asprintf(&cmd, "rm -rf '%s'", tmpdir) >= 0);
        check(system(cmd) == 0);
        return 0;
}
