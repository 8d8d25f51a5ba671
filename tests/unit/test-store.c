/* SPDX-License-Identifier: MIT */
/*
 * test-store.c — backup names and sidecar JSON: round trips, rejects of
 * everything that is not a backup name, and hostile sidecars; publishing
 * through O_TMPFILE + linkat, listing order and removal; a directory it
 * creates is synced into its parent (fsync(2) is watched: --wrap=fsync);
 * a listing's cap of 100000 backups; retention over a listing keeps it up
 * to date.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "backup/backup.h"
#include "backup/store.h"
#include "config/zone-load.h"
#include "test.h"
#include "util/io.h"

/* The directories fsync(2) was called on, in order (readlink of the fd). */
static char synced[8][256];
static unsigned n_synced;

int __real_fsync(int fd);
int __wrap_fsync(int fd);
int __wrap_fsync(int fd) {
        char link[64];
        struct stat st;

        if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && n_synced < ELEMENTSOF(synced)) {
                ssize_t k;

                snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
                k = readlink(link, synced[n_synced], sizeof synced[0] - 1);
                if (k > 0)
                        synced[n_synced++][k] = '\0';
        }
        return __real_fsync(fd);
}

/* readdir(3) fails with EIO on its call number readdir_fail_at (0: never). */
static unsigned readdir_calls, readdir_fail_at;

struct dirent *__real_readdir64(DIR *d);
struct dirent *__wrap_readdir64(DIR *d);
struct dirent *__wrap_readdir64(DIR *d) {
        if (readdir_fail_at > 0 && ++readdir_calls == readdir_fail_at) {
                errno = EIO;
                return NULL;
        }
        return __real_readdir64(d);
}

/* rm -rf dir: a test's scratch directory. */
static void remove_tree(const char *dir) {
        _cleanup_free_ char *cmd = NULL;

        check(asprintf(&cmd, "rm -rf '%s'", dir) > 0);
        check(system(cmd) == 0);
}

static void test_names(void) {
        StoreName n = { .cluster_id = 0xcdf818194e3a8c32, .created_usec = UINT64_C(1795237154) * 1000000,
                        .revision = 81233, .compression = CODEC_ZSTD, .encrypted = true }, m;
        _cleanup_free_ char *s = NULL;
        static const char *const bad[] = {
                "", "etcd-", "etcd-cdf818194e3a8c32-20261121T045914Z-r81233.db.json",
                "etcd-cdf818194e3a8c32-20261121T045914Z-r81233.db.xz",
                "etcd-CDF818194E3A8C32-20261121T045914Z-r81233.db",
                "etcd-cdf818194e3a8c3-20261121T045914Z-r81233.db",
                "etcd-cdf818194e3a8c32-20261321T045914Z-r81233.db",
                "etcd-cdf818194e3a8c32-20261121T045914Z-r-1.db",
                "etcd-cdf818194e3a8c32-20261121T045914Z-r99999999999999999999.db",
                "etcd-cdf818194e3a8c32-20261121T045914Z-r.db",
                "etcd-cdf818194e3a8c32-20261121T045914Z-r12.db.gz.age.age",
                "xetcd-cdf818194e3a8c32-20261121T045914Z-r12.db",
        };

        check(store_name_format(&n, &s) == 0);
        check_str_eq(s, "etcd-cdf818194e3a8c32-20261121T045914Z-r81233.db.zst.age");
        check(store_name_parse(s, &m) == 0);
        check_u64_eq(m.cluster_id, n.cluster_id);
        check_u64_eq(m.created_usec, n.created_usec);
        check_int_eq(m.revision, n.revision);
        check_int_eq(m.compression, CODEC_ZSTD);
        check(m.encrypted);
        check(store_name_parse("etcd-0000000000000001-20200101T000000Z-r0.db", &m) == 0);
        check(m.compression == CODEC_NONE && !m.encrypted && m.revision == 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                check(store_name_parse(bad[i], &m) < 0);
}

static void fill(Sidecar *s) {
        *s = (Sidecar) { .name = strdup("etcd-0000000000000001-20200101T000000Z-r5.db.gz"),
                         .created_usec = UINT64_C(1577836800) * 1000000, .cluster_id = 1, .member_id = UINT64_MAX,
                         .endpoint = strdup("https://127.0.0.1:2379"), .etcd_version = strdup("3.4.23"),
                         .revision = 5, .db_size = 24576, .file_size = 1000, .compression = CODEC_GZIP,
                         .level = 6, .duration_usec = 152000, .stream_duration_usec = 90000 };
        memset(s->db_sha256, 'a', 64);
        memset(s->file_sha256, 'b', 64);
}

static void test_sidecar_roundtrip(void) {
        _cleanup_(sidecar_done) Sidecar a = {}, b = {};
        _cleanup_free_ char *json = NULL;
        const char *why;

        fill(&a);
        check(sidecar_to_json(&a, &json) == 0);
        check(sidecar_from_json(json, strlen(json), &b, &why) == 0);
        check_str_eq(b.name, a.name);
        check_u64_eq(b.created_usec, a.created_usec);
        check_u64_eq(b.member_id, UINT64_MAX);
        check_str_eq(b.endpoint, a.endpoint);
        check_int_eq(b.revision, 5);
        check_u64_eq(b.db_size, 24576);
        check_str_eq(b.db_sha256, a.db_sha256);
        check_int_eq(b.compression, CODEC_GZIP);
        check_u64_eq(b.duration_usec, 152000);
}

static void test_sidecar_rejects(void) {
        static const char *const bad[] = {
                "", "null", "[]", "{", "{\"name\":1}", "{} trailing",
                "{\"name\":\"x\",\"created\":\"yesterday\"}",
                "{\"name\":\"x\",\"created\":\"2020-01-01T00:00:00Z\",\"cluster_id\":\"zz\"}",
        };
        _cleanup_(sidecar_done) Sidecar a = {};
        _cleanup_free_ char *json = NULL;
        const char *why;
        Sidecar b = {};
        char *p;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                check(sidecar_from_json(bad[i], strlen(bad[i]), &b, &why) == -EBADMSG);
                check(why && *why);
        }
        /* A negative size and a wrong type in an otherwise good sidecar. */
        fill(&a);
        check(sidecar_to_json(&a, &json) == 0);
        p = strstr(json, "\"db_size\": 24576");
        check(p);
        memcpy(p, "\"db_size\":-24576", 16);
        check(sidecar_from_json(json, strlen(json), &b, &why) == -EBADMSG);
        check_str_eq(why, "db_size missing or invalid");
}

/* Files in dir with the hidden names of temporary files. */
static int hidden_files(const char *dir) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;

        while (d && (de = readdir(d)))
                n += tmpfile_name_is(de->d_name, TMPFILE_PREFIX);
        return d ? n : -1;
}

static void test_publish_list_remove(void) {
        /* STORE_TEST_DIR: another file system (no-tmpfile.sh: one without O_TMPFILE). */
        _cleanup_free_ char *tmpl = NULL;
        char *dir = asprintf(&tmpl, "%s/test-store.XXXXXX", getenv("STORE_TEST_DIR") ?: "/tmp") < 0 ? NULL :
                    mkdtemp(tmpl);
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_free_ char *error = NULL, *sub = NULL;
        StoreEntry *e = NULL;
        size_t n = 0;
        TmpFile t = TMPFILE_NULL;

        check(dir);
        check(asprintf(&sub, "%s/backups", dir) > 0);
        n_synced = 0;
        check(store_open(sub, true, &s, &error) == 0);
        /* The new directory's name is durable before a backup in it counts. */
        check_int_eq(n_synced, 1);
        check_str_eq(synced[0], dir);
        /* So are the parents it makes, each in its own parent (outermost first). */
        {
                _cleanup_(store_freep) Store *deep = NULL;
                _cleanup_free_ char *path = NULL, *x = NULL, *y = NULL;
                struct stat st;

                umask(022);
                check(asprintf(&path, "%s/x/y/backups", dir) > 0);
                check(asprintf(&x, "%s/x", dir) > 0);
                check(asprintf(&y, "%s/x/y", dir) > 0);
                n_synced = 0;
                check(store_open(path, true, &deep, &error) == 0);
                check_int_eq(n_synced, 3);
                check_str_eq(synced[0], dir);
                check_str_eq(synced[1], x);
                check_str_eq(synced[2], y);
                check(stat(y, &st) == 0 && (st.st_mode & 0777) == 0755);
                check(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700);
                store_free(TAKE_PTR(deep));
                n_synced = 0;
                check(store_open(path, true, &deep, &error) == 0);      /* all there: nothing made, nothing synced */
                check_int_eq(n_synced, 0);
        }
        for (int i = 0; i < 3; i++) {
                _cleanup_(sidecar_done) Sidecar sc = {};
                _cleanup_free_ char *name = NULL;
                StoreName nm = { .cluster_id = 1, .created_usec = (UINT64_C(1577836800) + (uint64_t) i * 3600) * 1000000,
                                 .revision = 10 + i, .compression = CODEC_GZIP };
                check(store_name_format(&nm, &name) == 0);
                check(store_tmpfile(s, &t) == 0);
                check(loop_write(t.fd, "data", 4) == 0);
                check(store_publish(s, &t, name) == 0);
                /* Published with one name: no hidden one left beside it (the
                 * restore refuses a backup with a second link). */
                check_int_eq(hidden_files(sub), 0);
                tmpfile_done(&t);
                /* Never replaces an existing backup. */
                check(store_tmpfile(s, &t) == 0);
                check(loop_write(t.fd, "else", 4) == 0);
                check_int_eq(store_publish(s, &t, name), -EEXIST);
                tmpfile_done(&t);
                fill(&sc);
                free(sc.name);
                sc.name = strdup(name);
                check(store_publish_sidecar(s, &sc) == 0);
        }
        check(store_sync(s) == 0);
        check(store_list(s, &e, &n) == 0);
        check_int_eq(n, 3);
        check(e[0].parsed.revision == 12 && e[2].parsed.revision == 10); /* newest first */
        check(e[0].has_sidecar && e[0].file_size == 4);
        {
                _cleanup_free_ char *path = NULL, *text = NULL;
                size_t size = 0;
                check(asprintf(&path, "%s/%s", sub, e[0].name) > 0);
                check(read_full_file(path, 64, &text, &size) == 0);
                check(size == 4 && memcmp(text, "data", 4) == 0);   /* not replaced */
        }
        /* A directory read that fails part-way is an error, never a shorter listing (each of its calls). */
        for (unsigned at = 1; at <= 9; at++) {      /* ".", "..", 3 backups, 3 sidecars, the end */
                StoreEntry *part = NULL;
                size_t n_part = 0;

                readdir_calls = 0;
                readdir_fail_at = at;
                check_int_eq(store_list(s, &part, &n_part), -EIO);
                check(!part && n_part == 0);
        }
        for (unsigned at = 1; at <= 18; at++) {     /* the temporary files' pass, then the sidecars' */
                readdir_calls = 0;
                readdir_fail_at = at;
                check_int_eq(store_tidy(s, NULL, NULL, NULL, NULL), -EIO);
        }
        readdir_calls = 0;
        readdir_fail_at = 19;
        check_int_eq(store_tidy(s, NULL, NULL, NULL, NULL), 0);
        readdir_fail_at = 0;
        check_str_eq(store_list_error(-E2BIG), "more than 100000 backups in it");
        check(store_remove(s, e[1].name, NULL) == 0);
        check_int_eq(store_remove(s, "../etc/passwd", NULL), -EINVAL);
        store_entries_free(e, n);
        check(store_list(s, &e, &n) == 0);
        check_int_eq(n, 2);
        store_entries_free(e, n);
        {
                struct stat st;
                check(stat(sub, &st) == 0);
                check_int_eq(st.st_mode & 0777, 0700);
        }
        store_free(TAKE_PTR(s));
        /* A group-writable directory is refused. */
        check(chmod(sub, 0770) == 0);
        free(error);
        error = NULL;
        check_int_eq(store_open(sub, false, &s, &error), -EPERM);
        check(error && strstr(error, "group- or world-writable"));
        remove_tree(dir);
}

/* A listing holds 100000 backups at most: one more is -E2BIG, never a part of the directory (which "latest" and
 * retention would plan over). Names that are no backup's, and what is not a regular file, do not count. */
static void test_list_cap(void) {
        /* On tmpfs where there is one: 100000 files on a virtual disk take a while to make. */
        char dir[64];
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_free_ char *error = NULL;
        StoreEntry *e = NULL;
        size_t n = 0;
        int dfd;

        snprintf(dir, sizeof dir, "%s/test-store-cap-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        check(mkdtemp(dir));
        check(store_open(dir, false, &s, &error) == 0);
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        check(dfd >= 0);
        for (unsigned i = 0; i < 100000; i++) {
                char name[64];
                int fd;

                snprintf(name, sizeof name, "etcd-0000000000000001-20261121T045914Z-r%u.db", i);
                fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                check(fd >= 0);
                close(fd);
        }
        check(mkdirat(dfd, "etcd-0000000000000001-20261121T045914Z-r100001.db", 0700) == 0);
        check(close(openat(dfd, "etcd-backup-notes.txt", O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == 0);
        check_int_eq(store_list(s, &e, &n), 0);
        check_int_eq(n, 100000);
        store_entries_free(e, n);
        check(close(openat(dfd, "etcd-0000000000000001-20261121T045914Z-r100000.db", O_WRONLY | O_CREAT | O_CLOEXEC,
                           0600)) == 0);
        e = NULL;
        n = 0;
        check_int_eq(store_list(s, &e, &n), -E2BIG);
        check(!e && n == 0);
        close(dfd);
        remove_tree(dir);
}

/* A test directory made at dir (a mkdtemp() template) for retention with c, its store opened in *ret. */
static void prune_test_open(char *dir, Config *c, Store **ret) {
        _cleanup_free_ char *error = NULL;

        check(mkdtemp(dir));
        c->storage.directory = dir;
        check_int_eq(zone_load("UTC", &c->zone), 0);
        check(store_open(dir, false, ret, &error) == 0);
}

/* Backup i of a test directory (one an hour from 2020-01-01, revision 10 + i) holding data, and its sidecar
 * saying sidecar_size unless without one; its name in *ret_name. */
static void publish_test_backup(Store *s, int i, const char *data, uint64_t sidecar_size, bool sidecar,
                                char **ret_name) {
        _cleanup_(sidecar_done) Sidecar sc = {};
        StoreName nm = { .cluster_id = 1, .created_usec = (UINT64_C(1577836800) + (uint64_t) i * 3600) * 1000000,
                         .revision = 10 + i, .compression = CODEC_GZIP };
        TmpFile t = TMPFILE_NULL;

        check(store_name_format(&nm, ret_name) == 0);
        check(store_tmpfile(s, &t) == 0);
        check(loop_write(t.fd, data, strlen(data)) == 0);
        check(store_publish(s, &t, *ret_name) == 0);
        tmpfile_done(&t);
        if (!sidecar)
                return;
        fill(&sc);
        free(sc.name);
        sc.name = strdup(*ret_name);
        sc.file_size = sidecar_size;
        check(store_publish_sidecar(s, &sc) == 0);
}

/* Retention over a listing the caller holds: what it removes leaves the listing too, and only that (the upload
 * goes on with it); a backup without a sidecar is kept and stays listed. */
static void test_prune_entries(void) {
        char dir[] = "/tmp/test-store-prune-XXXXXX";
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_strv_free_ char **kept = NULL, **deleted = NULL;
        _cleanup_free_ char *error = NULL, *bare = NULL, *just_made = NULL;
        Config c = { .retention = { .keep_last = 2 } };
        StoreEntry *e = NULL;
        size_t n = 0;

        prune_test_open(dir, &c, &s);
        for (int i = 0; i < 6; i++) {
                _cleanup_free_ char *name = NULL;

                publish_test_backup(s, i, "data", 4, i != 1, &name);
                if (i == 1)             /* not published here: no sidecar */
                        bare = TAKE_PTR(name);
        }
        check(store_list(s, &e, &n) == 0);
        check_int_eq(n, 6);
        /* Dry run: the plan, nothing removed, the listing as it was. */
        /* The run's own backup is one of the older (the clock stepped back): the plan puts it first, and what is
         * dropped from the listing must still be what was removed. */
        check(e[2].parsed.revision == 13);
        just_made = strdup(e[2].name);
        check(just_made);
        check_int_eq(backup_prune_entries(&c, s, &e, &n, just_made, true, &kept, &deleted, NULL, &error), 0);
        check_int_eq(strv_length(kept), 3);
        check_int_eq(strv_length(deleted), 3);
        check_int_eq(n, 6);
        kept = strv_free(kept);
        deleted = strv_free(deleted);
        check_int_eq(backup_prune_entries(&c, s, &e, &n, just_made, false, &kept, &deleted, NULL, &error), 0);
        check_int_eq(strv_length(deleted), 3);
        check_int_eq(n, 3);     /* the newest, the run's own and the bare one, newest first as listed */
        check(e[0].parsed.revision == 15 && streq(e[1].name, just_made) && streq(e[2].name, bare));
        for (size_t i = 0; deleted[i]; i++) {
                _cleanup_free_ char *path = NULL;
                struct stat st;

                check(asprintf(&path, "%s/%s", dir, deleted[i]) > 0);
                check(stat(path, &st) < 0 && errno == ENOENT);
                for (size_t j = 0; j < n; j++)
                        check(!streq(e[j].name, deleted[i]));
        }
        store_entries_free(e, n);
        check(store_list(s, &e, &n) == 0);
        check_int_eq(n, 3);
        store_entries_free(e, n);
        zone_free(c.zone);
        remove_tree(dir);
}

/* The newest backup cut short (its sidecar says more than the file holds) keeps its place as the last, but is
 * no verified one: the last good backup is kept beside it (keep_last = 1, a prune with no backup of its own). */
static void test_prune_damaged_newest(void) {
        char dir[] = "/tmp/test-store-damaged-XXXXXX";
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_strv_free_ char **kept = NULL, **deleted = NULL;
        _cleanup_free_ char *error = NULL, *oldest = NULL, *good = NULL, *cut = NULL;
        Config c = { .retention = { .keep_last = 1 } };
        StoreEntry *e = NULL;
        size_t n = 0;

        prune_test_open(dir, &c, &s);
        publish_test_backup(s, 0, "data", 4, true, &oldest);
        publish_test_backup(s, 1, "data", 4, true, &good);
        publish_test_backup(s, 2, "da", 4, true, &cut);
        check(store_list(s, &e, &n) == 0);
        check_int_eq(backup_prune_entries(&c, s, &e, &n, NULL, true, &kept, &deleted, NULL, &error), 0);
        check_int_eq(strv_length(kept), 2);
        check(strv_contains(kept, cut) && strv_contains(kept, good));
        check(strv_length(deleted) == 1 && streq(deleted[0], oldest));
        store_entries_free(e, n);
        zone_free(c.zone);
        remove_tree(dir);
}

int main(void) {
        TEST_RUN(test_names);
        TEST_RUN(test_sidecar_roundtrip);
        TEST_RUN(test_sidecar_rejects);
        TEST_RUN(test_publish_list_remove);
        TEST_RUN(test_list_cap);
        TEST_RUN(test_prune_entries);
        TEST_RUN(test_prune_damaged_newest);
        return 0;
}
