/* SPDX-License-Identifier: MIT */
/*
 * store.c — the backup directory (see store.h).
 *
 * Publishing is O_TMPFILE + fsync + linkat (on a file system without
 * O_TMPFILE, such as NFS, a hidden name + fsync + linkat + unlink; a kill
 * leaves the hidden name, which store_remove_tmpfiles removes): the name appears only
 * once the content is complete and durable, so there is never a partial
 * file that looks like a backup. The sidecar is linked before its backup, so a kill
 * between the two leaves a sidecar alone (store_tidy removes it), never a
 * backup without its description. linkat() with AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH
 * on older kernels; the unprivileged daemon links through /proc/self/fd.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "backup/store.h"
#include "util/io.h"
#include "util/parse.h"
#include "util/str.h"
#include "util/time.h"

#define SIDECAR_MAX_BYTES (64 * 1024)
#define STORE_MAX_ENTRIES 100000        /* store_list_error() says it */

void sidecar_done(Sidecar *s) {
        free(s->name);
        free(s->endpoint);
        free(s->etcd_version);
        *s = (Sidecar) {};
}

static int add_str(struct json_object *o, const char *key, const char *v) {
        struct json_object *j = json_object_new_string(v ? v : "");
        if (!j)
                return -ENOMEM;
        json_object_object_add(o, key, j);
        return 0;
}

static int add_i64(struct json_object *o, const char *key, int64_t v) {
        struct json_object *j = json_object_new_int64(v);
        if (!j)
                return -ENOMEM;
        json_object_object_add(o, key, j);
        return 0;
}

int sidecar_to_json(const Sidecar *s, char **ret) {
        struct json_object *o = json_object_new_object();
        char created[FORMAT_RFC3339_MAX], cluster[17], member[17];
        const char *text;
        int r = 0;

        if (!o)
                return -ENOMEM;
        snprintf(cluster, sizeof cluster, "%016" PRIx64, s->cluster_id);
        snprintf(member, sizeof member, "%016" PRIx64, s->member_id);
        r |= add_str(o, "name", s->name);
        r |= add_str(o, "created", format_rfc3339(created, sizeof created, s->created_usec));
        r |= add_str(o, "cluster_id", cluster);
        r |= add_str(o, "member_id", member);
        r |= add_str(o, "endpoint", s->endpoint);
        r |= add_str(o, "etcd_version", s->etcd_version);
        r |= add_i64(o, "revision", s->revision);
        r |= add_i64(o, "db_size", (int64_t) s->db_size);
        r |= add_str(o, "db_sha256", s->db_sha256);
        r |= add_i64(o, "file_size", (int64_t) s->file_size);
        r |= add_str(o, "file_sha256", s->file_sha256);
        r |= add_str(o, "compression", codec_to_string(s->compression));
        r |= add_i64(o, "level", s->level);
        json_object_object_add(o, "encrypted", json_object_new_boolean(s->encrypted));
        r |= add_i64(o, "duration_ms", (int64_t) (s->duration_usec / USEC_PER_MSEC));
        r |= add_i64(o, "stream_duration_ms", (int64_t) (s->stream_duration_usec / USEC_PER_MSEC));
        if (r < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE);
        *ret = text ? strdup(text) : NULL;
        json_object_put(o);
        return *ret ? 0 : -ENOMEM;
}

static const char *get_string_field(struct json_object *o, const char *key, size_t max) {
        struct json_object *j;
        const char *v;

        if (!json_object_object_get_ex(o, key, &j) || !json_object_is_type(j, json_type_string))
                return NULL;
        v = json_object_get_string(j);
        if (!v || (size_t) json_object_get_string_len(j) > max || strlen(v) != (size_t) json_object_get_string_len(j))
                return NULL;
        return v;
}

static int get_int_field(struct json_object *o, const char *key, int64_t min, int64_t *ret) {
        struct json_object *j;
        int64_t v;

        if (!json_object_object_get_ex(o, key, &j) || !json_object_is_type(j, json_type_int))
                return -EBADMSG;
        errno = 0;
        v = json_object_get_int64(j);
        if (errno != 0 || v < min)
                return -EBADMSG;
        *ret = v;
        return 0;
}

static bool is_hex(const char *s, size_t len) {
        return strlen(s) == len && strspn(s, "0123456789abcdef") == len;
}

int sidecar_from_json(const char *text, size_t size, Sidecar *ret, const char **ret_error) {
        _cleanup_(sidecar_done) Sidecar s = {};
        struct json_tokener *tok;
        struct json_object *o;
        const char *v;
        int64_t i;
        uint64_t u;
        int r = -EBADMSG;

#define FAIL(msg) do { *ret_error = msg; goto finish; } while (0)
        *ret_error = NULL;
        if (size > SIDECAR_MAX_BYTES)
                return *ret_error = "sidecar larger than 64 KiB", -EBADMSG;
        tok = json_tokener_new_ex(16);
        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, text, (int) size);
        if (!o || json_tokener_get_error(tok) != json_tokener_success ||
            (size_t) json_tokener_get_parse_end(tok) < size) {
                json_tokener_free(tok);
                json_object_put(o);
                return *ret_error = "not valid JSON", -EBADMSG;
        }
        json_tokener_free(tok);
        if (!json_object_is_type(o, json_type_object))
                FAIL("not a JSON object");

        if (!(v = get_string_field(o, "name", 255)) || !(s.name = strdup(v)))
                FAIL("name missing or invalid");
        if (!(v = get_string_field(o, "created", 64)) || parse_rfc3339(v, &s.created_usec) < 0)
                FAIL("created missing or not RFC 3339");
        if (!(v = get_string_field(o, "cluster_id", 16)) || !is_hex(v, 16))
                FAIL("cluster_id missing or not 16 hex digits");
        s.cluster_id = strtoull(v, NULL, 16);
        if (!(v = get_string_field(o, "member_id", 16)) || !is_hex(v, 16))
                FAIL("member_id missing or not 16 hex digits");
        s.member_id = strtoull(v, NULL, 16);
        if (!(v = get_string_field(o, "endpoint", 1024)) || !(s.endpoint = strdup(v)))
                FAIL("endpoint missing or invalid");
        if (!(v = get_string_field(o, "etcd_version", 64)) || !(s.etcd_version = strdup(v)))
                FAIL("etcd_version missing or invalid");
        if (get_int_field(o, "revision", 0, &s.revision) < 0)
                FAIL("revision missing or negative");
        if (get_int_field(o, "db_size", 0, &i) < 0)
                FAIL("db_size missing or invalid");
        s.db_size = (uint64_t) i;
        if (!(v = get_string_field(o, "db_sha256", 64)) || !is_hex(v, 64))
                FAIL("db_sha256 missing or not 64 hex digits");
        memcpy(s.db_sha256, v, 65);
        if (get_int_field(o, "file_size", 0, &i) < 0)
                FAIL("file_size missing or invalid");
        s.file_size = (uint64_t) i;
        if (!(v = get_string_field(o, "file_sha256", 64)) || !is_hex(v, 64))
                FAIL("file_sha256 missing or not 64 hex digits");
        memcpy(s.file_sha256, v, 65);
        if (!(v = get_string_field(o, "compression", 16)) || codec_from_string(v, &s.compression) < 0)
                FAIL("compression missing or unknown");
        if (get_int_field(o, "level", 0, &i) < 0 || i > 100)
                FAIL("level missing or invalid");
        s.level = (int) i;
        {
                struct json_object *j;
                if (!json_object_object_get_ex(o, "encrypted", &j) || !json_object_is_type(j, json_type_boolean))
                        FAIL("encrypted missing or not a boolean");
                s.encrypted = json_object_get_boolean(j);
        }
        if (get_int_field(o, "duration_ms", 0, &i) < 0)
                FAIL("duration_ms missing or invalid");
        u = (uint64_t) i;
        if (u > UINT64_MAX / USEC_PER_MSEC)
                FAIL("duration_ms out of range");
        s.duration_usec = u * USEC_PER_MSEC;
        /* Optional. */
        if (get_int_field(o, "stream_duration_ms", 0, &i) >= 0 && (uint64_t) i <= UINT64_MAX / USEC_PER_MSEC)
                s.stream_duration_usec = (uint64_t) i * USEC_PER_MSEC;

        *ret = s;
        s = (Sidecar) {};
        r = 0;
finish:
        json_object_put(o);
        return r;
#undef FAIL
}

int store_name_format(const StoreName *n, char **ret) {
        char ts[FORMAT_COMPACT_MAX];

        if (asprintf(ret, "etcd-%016" PRIx64 "-%s-r%" PRId64 ".db%s%s", n->cluster_id,
                     format_compact_utc(ts, sizeof ts, n->created_usec), n->revision,
                     codec_suffix(n->compression), n->encrypted ? ".age" : "") < 0)
                return -ENOMEM;
        return 0;
}

int store_name_parse(const char *name, StoreName *ret) {
        StoreName n = {};
        char cluster[17], ts[17];
        const char *p, *rev, *dot;
        uint64_t u;
        _cleanup_free_ char *revstr = NULL;

        p = startswith(name, "etcd-");
        if (!p || strlen(p) < 16 + 1 + 16 + 2 || p[16] != '-' || p[33] != '-' || p[34] != 'r')
                return -EINVAL;
        memcpy(cluster, p, 16);
        cluster[16] = '\0';
        if (!is_hex(cluster, 16))
                return -EINVAL;
        n.cluster_id = strtoull(cluster, NULL, 16);
        memcpy(ts, p + 17, 16);
        ts[16] = '\0';
        if (parse_compact_utc(ts, &n.created_usec) < 0)
                return -EINVAL;
        rev = p + 35;
        dot = strchr(rev, '.');
        if (!dot)
                return -EINVAL;
        revstr = strndup(rev, (size_t) (dot - rev));
        if (!revstr)
                return -ENOMEM;
        if (safe_atou64(revstr, &u) < 0 || u > INT64_MAX)
                return -EINVAL;
        n.revision = (int64_t) u;
        if (streq(dot, ".db"))
                n.compression = CODEC_NONE;
        else if (streq(dot, ".db.gz"))
                n.compression = CODEC_GZIP;
        else if (streq(dot, ".db.zst"))
                n.compression = CODEC_ZSTD;
        else if (streq(dot, ".db.age"))
                n = (StoreName) { n.cluster_id, n.created_usec, n.revision, CODEC_NONE, true };
        else if (streq(dot, ".db.gz.age"))
                n = (StoreName) { n.cluster_id, n.created_usec, n.revision, CODEC_GZIP, true };
        else if (streq(dot, ".db.zst.age"))
                n = (StoreName) { n.cluster_id, n.created_usec, n.revision, CODEC_ZSTD, true };
        else
                return -EINVAL;
        *ret = n;
        return 0;
}

int store_open(const char *path, bool create, Store **ret, char **ret_error) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        Store *s;
        int r;

        if (create) {
                _cleanup_free_ char *p = NULL;

                if (path[0] != '/')     /* the configuration's are absolute; the walk below needs it */
                        return asprintf(ret_error, "backup directory %s is not an absolute path", path), -EINVAL;
                p = strdup(path);
                if (!p)
                        return -ENOMEM;
                /* Each directory made (the missing parents 0755, the last 0700), its name durable in its parent
                 * before any backup in it counts. */
                for (char *c = p + 1;; c++) {
                        bool last = *c == '\0';

                        if (!last && *c != '/')
                                continue;
                        *c = '\0';
                        if (mkdir(p, last ? 0700 : 0755) >= 0) {
                                const char *slash = strrchr(p, '/');
                                _cleanup_free_ char *up = slash == p ? strdup("/") : strndup(p, (size_t) (slash - p));
                                if (!up)
                                        return -ENOMEM;
                                r = fsync_directory(up);
                                if (r < 0)
                                        return asprintf(ret_error, "cannot sync %s after creating %s in it: %s", up,
                                                        p, strerror(-r)), r;
                        } else if (errno != EEXIST)
                                return r = -errno, asprintf(ret_error, "cannot create %s%s: %s", last ?
                                                            "backup directory " : "", p, strerror(errno)), r;
                        if (last)
                                break;
                        *c = '/';
                }
        }
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return r = -errno, asprintf(ret_error, "cannot open backup directory %s: %s", path, strerror(errno)), r;
        if (fstat(fd, &st) < 0)
                return r = -errno, asprintf(ret_error, "cannot stat %s: %s", path, strerror(errno)), r;
        if (st.st_mode & (S_IWGRP | S_IWOTH))
                return asprintf(ret_error, "backup directory %s is group- or world-writable (mode %04o); refusing it",
                                path, (unsigned) (st.st_mode & 07777)), -EPERM;
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->path = strdup(path);
        if (!s->path) {
                free(s);
                return -ENOMEM;
        }
        s->dir_fd = TAKE_FD(fd);
        s->adopt = geteuid() == 0 && st.st_uid != 0;
        s->owner = st.st_uid;
        s->group = st.st_gid;
        *ret = s;
        return 0;
}

/* A file just created in the directory, given to the directory's owner
 * when root created it there (Store.adopt). */
static int store_adopt(Store *s, int fd) {
        if (s->adopt && fchown(fd, s->owner, s->group) < 0)
                return -errno;
        return 0;
}

int store_lock(Store *s, pid_t *ret_holder) {
        _cleanup_close_ int fd = -EBADF;
        char buf[32];
        int r;

        for (unsigned tries = 0;; tries++) {
                struct stat st;

                fd = openat(s->dir_fd, STORE_LOCK_NAME, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
                            0600);
                if (fd >= 0) {
                        r = store_adopt(s, fd);
                        if (r < 0)
                                return r;
                        break;
                }
                if (errno != EEXIST)
                        return -errno;
                fd = openat(s->dir_fd, STORE_LOCK_NAME, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
                if (fd < 0 && errno == ENOENT && tries < 3)
                        continue;       /* removed in between: made anew */
                if (fd < 0 || fstat(fd, &st) < 0)
                        return -errno;
                /* Root in another user's directory takes only that user's lock file: a name that user made a
                 * hard link to one of root's files would have root truncate it. */
                if (!S_ISREG(st.st_mode) || (s->adopt && st.st_uid != s->owner))
                        return -EPERM;
                break;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                r = -errno;
                ssize_t k;
                uint64_t pid = 0;
                if (r != -EWOULDBLOCK)
                        return r;
                k = pread(fd, buf, sizeof buf - 1, 0);
                if (k > 0) {
                        buf[k] = '\0';
                        buf[strcspn(buf, "\n")] = '\0';
                        if (safe_atou64(buf, &pid) < 0 || pid > INT32_MAX)
                                pid = 0;
                }
                *ret_holder = (pid_t) pid;
                return r;
        }
        /* Who holds it, for the next one that finds it taken. */
        snprintf(buf, sizeof buf, "%d\n", (int) getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, strlen(buf), 0) < 0)
                return -errno;
        return TAKE_FD(fd);
}

int store_lock_directory(const char *path, char **ret_error) {
        _cleanup_(store_freep) Store *s = NULL;
        pid_t holder = 0;
        int r;

        r = store_open(path, true, &s, ret_error);
        if (r < 0)
                return r;
        r = store_lock(s, &holder);
        if (r == -EWOULDBLOCK) {
                char pid[32] = "";
                if (holder > 0)
                        snprintf(pid, sizeof pid, " (pid %d)", (int) holder);
                if (asprintf(ret_error, "%s is in use by another etcd-backupd%s; one daemon or --once at a time "
                             "may use a backup directory", path, pid) < 0)
                        *ret_error = NULL;
        } else if (r < 0) {
                struct stat st;
                char owner[64] = "";
                /* A lock this process may not open: most likely root's, from a
                 * run as root before files were given to the directory's owner. */
                if (r == -EACCES && fstatat(s->dir_fd, STORE_LOCK_NAME, &st, AT_SYMLINK_NOFOLLOW) >= 0 &&
                    st.st_uid != geteuid())
                        snprintf(owner, sizeof owner, " (it belongs to uid %u; this process runs as uid %u)",
                                 (unsigned) st.st_uid, (unsigned) geteuid());
                /* store_lock()'s own refusals, told from other EPERMs (an immutable file) by what it checked. */
                bool refused = r == -EPERM && fstatat(s->dir_fd, STORE_LOCK_NAME, &st, AT_SYMLINK_NOFOLLOW) >= 0;

                if (refused && !S_ISREG(st.st_mode))
                        (void) free_and_format(ret_error, "%s/%s is not a regular file; refusing to lock through it "
                                               "(remove it when no etcd-backupd runs)", path, STORE_LOCK_NAME);
                else if (refused && s->adopt && st.st_uid != s->owner)
                        (void) free_and_format(ret_error, "%s/%s belongs to uid %u, not to the directory's owner (uid "
                                               "%u); root takes only that user's lock file, as another could be a "
                                               "link to one of root's files (remove it when no etcd-backupd runs)",
                                               path, STORE_LOCK_NAME, (unsigned) st.st_uid, (unsigned) s->owner);
                else
                        (void) free_and_format(ret_error, "cannot lock %s/%s: %s%s", path, STORE_LOCK_NAME,
                                               strerror(-r), owner);
        }
        return r;
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        safe_close(s->dir_fd);
        free(s->path);
        free(s);
        return NULL;
}

int store_available(Store *s, uint64_t *ret_bytes) {
        struct statvfs sv;
        if (fstatvfs(s->dir_fd, &sv) < 0)
                return -errno;
        *ret_bytes = (uint64_t) sv.f_bavail * (uint64_t) sv.f_frsize;
        return 0;
}

int store_tmpfile(Store *s, TmpFile *ret) {
        int r;

        r = tmpfile_open(s->dir_fd, NULL, ret);
        if (r < 0)
                return r;
        r = store_adopt(s, ret->fd);
        if (r < 0)
                tmpfile_done(ret);
        return r;
}

int store_publish(Store *s, TmpFile *t, const char *name) {
        int r = tmpfile_link(t, name);

        /* Its hidden name goes before the directory is synced: a backup
         * with a second link is one the restore refuses. */
        if (r >= 0)
                tmpfile_done(t);
        return r;
}

int store_publish_sidecar(Store *s, const Sidecar *sc) {
        _cleanup_free_ char *json = NULL, *name = NULL;
        _cleanup_(tmpfile_done) TmpFile t = TMPFILE_NULL;
        int r;

        r = sidecar_to_json(sc, &json);
        if (r < 0)
                return r;
        if (asprintf(&name, "%s" SIDECAR_SUFFIX, sc->name) < 0)
                return -ENOMEM;
        r = store_tmpfile(s, &t);
        if (r < 0)
                return r;
        r = loop_write(t.fd, json, strlen(json));
        if (r < 0)
                return r;
        r = loop_write(t.fd, "\n", 1);
        if (r < 0)
                return r;
        return store_publish(s, &t, name);
}

int store_sync(Store *s) {
        return fsync(s->dir_fd) < 0 ? -errno : 0;
}

int sidecar_read_fd(int fd, Sidecar *ret, const char **ret_why) {
        _cleanup_free_ char *text = NULL;
        ssize_t n;

        *ret_why = NULL;
        text = malloc(SIDECAR_MAX_BYTES + 1);
        if (!text)
                return -ENOMEM;
        n = loop_read(fd, text, SIDECAR_MAX_BYTES + 1);
        if (n < 0)
                return (int) n;
        if (n > SIDECAR_MAX_BYTES)
                return *ret_why = "larger than 64 KiB", -EFBIG;
        text[n] = '\0';
        return sidecar_from_json(text, (size_t) n, ret, ret_why);
}

/* The sidecar of backup name: 0 with *ret filled, -ENOENT when there is
 * none, -ENOMEM, or -EBADMSG with *ret_problem saying why the file that is
 * there cannot be taken. */
static int read_sidecar(Store *s, const char *name, Sidecar *ret, char **ret_problem) {
        _cleanup_(sidecar_done) Sidecar sc = {};
        _cleanup_free_ char *sidecar = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *why;
        struct stat st;
        int r;

        *ret_problem = NULL;
        if (asprintf(&sidecar, "%s" SIDECAR_SUFFIX, name) < 0)
                return -ENOMEM;
        fd = openat(s->dir_fd, sidecar, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0 && errno == ENOENT)
                return -ENOENT;
        if (fd < 0 && errno == ELOOP)
                r = asprintf(ret_problem, "is a symbolic link");
        else if (fd < 0)
                r = asprintf(ret_problem, "cannot be opened: %s", strerror(errno));
        else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                r = asprintf(ret_problem, "is not a regular file");
        else if ((r = sidecar_read_fd(fd, &sc, &why)) == -ENOMEM)
                return r;
        else if (r < 0 && why)
                r = asprintf(ret_problem, "is not a valid sidecar: %s", why);
        else if (r < 0)
                r = asprintf(ret_problem, "cannot be read: %s", strerror(-r));
        else if (!streq(sc.name, name) && (r = store_name_parse(sc.name, &(StoreName) {})) == -ENOMEM)
                return r;
        /* The name is quoted only when it is a backup's, whose characters
         * are all safe for a log line and a terminal. */
        else if (!streq(sc.name, name))
                r = r == 0 ? asprintf(ret_problem, "is the sidecar of another backup (its name says %s)", sc.name) :
                             asprintf(ret_problem, "is not a valid sidecar: its name is not a backup's name");
        else {
                *ret = sc;
                sc = (Sidecar) {};
                return 0;
        }
        if (r < 0) {
                *ret_problem = NULL;
                return -ENOMEM;
        }
        return -EBADMSG;
}

int store_name_compare_newest_first(const char *a, const StoreName *x, const char *b, const StoreName *y) {
        if (x->created_usec != y->created_usec)
                return x->created_usec < y->created_usec ? 1 : -1;
        if (x->revision != y->revision)
                return x->revision < y->revision ? 1 : -1;
        return -strcmp(a, b);
}

static int entry_compare(const void *a, const void *b) {
        const StoreEntry *x = a, *y = b;
        return store_name_compare_newest_first(x->name, &x->parsed, y->name, &y->parsed);
}

void store_entry_done(StoreEntry *e) {
        free(e->name);
        sidecar_done(&e->sidecar);
        free(e->sidecar_problem);
}

void store_entries_free(StoreEntry *e, size_t n) {
        for (size_t i = 0; i < n; i++)
                store_entry_done(&e[i]);
        free(e);
}

/* Opens the storage directory for reading its entries (a descriptor of its
 * own, so the Store's stays where it is). */
static int store_opendir(Store *s, DIR **ret) {
        DIR *d;
        int fd;

        fd = openat(s->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -errno;
        }
        *ret = d;
        return 0;
}

int store_list(Store *s, StoreEntry **ret, size_t *ret_n) {
        StoreEntry *entries = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;
        DIR *d = NULL;
        int r;

        r = store_opendir(s, &d);
        if (r < 0)
                return r;
        while ((errno = 0, de = readdir(d))) {
                StoreEntry e = {};
                struct stat st;
                StoreEntry *ne;

                if (store_name_parse(de->d_name, &e.parsed) < 0)
                        continue;
                /* Gone since readdir(3): not there. Any other failure: the listing would miss a backup. */
                if (fstatat(s->dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue;
                        r = -errno;
                        goto fail;
                }
                if (!S_ISREG(st.st_mode))
                        continue;
                /* A part of the directory is no listing of it: "latest" or retention would plan over it. */
                if (n >= STORE_MAX_ENTRIES) {
                        r = -E2BIG;
                        goto fail;
                }
                r = -ENOMEM;
                e.name = strdup(de->d_name);
                if (!e.name)
                        goto fail;
                e.file_size = (uint64_t) st.st_size;
                r = read_sidecar(s, e.name, &e.sidecar, &e.sidecar_problem);
                if (r == -ENOMEM) {
                        free(e.name);
                        goto fail;
                }
                e.has_sidecar = r >= 0;
                if (n == allocated) {
                        /* Doubled: thousands of backups are not thousands of copies of the array. */
                        ne = reallocarray(entries, allocated = MAX(allocated * 2, (size_t) 16), sizeof *entries);
                        if (!ne) {
                                store_entry_done(&e);
                                r = -ENOMEM;
                                goto fail;
                        }
                        entries = ne;
                }
                entries[n++] = e;
        }
        /* readdir(3) failed part-way (EIO, an NFS server's ESTALE): the same. */
        if (errno > 0) {
                r = -errno;
                goto fail;
        }
        closedir(d);
        if (n > 0)
                qsort(entries, n, sizeof *entries, entry_compare);
        *ret = entries;
        *ret_n = n;
        return 0;
fail:
        closedir(d);
        store_entries_free(entries, n);
        return r;
}

const char *store_list_error(int r) {
        return r == -E2BIG ? "more than 100000 backups in it" : strerror(-r);
}

struct json_object *sidecar_to_json_object(const Sidecar *s) {
        _cleanup_free_ char *text = NULL;
        if (sidecar_to_json(s, &text) < 0)
                return NULL;
        return json_tokener_parse(text);
}

int store_remove(Store *s, const char *name, const char **ret_after) {
        _cleanup_free_ char *sidecar = NULL;
        const char *after_dummy;

        ret_after = ret_after ?: &after_dummy;
        *ret_after = NULL;
        if (strchr(name, '/') || store_name_parse(name, &(StoreName) {}) < 0)
                return -EINVAL;
        if (asprintf(&sidecar, "%s" SIDECAR_SUFFIX, name) < 0)
                return -ENOMEM;
        if (unlinkat(s->dir_fd, name, 0) < 0 && errno != ENOENT)
                return -errno;
        if (unlinkat(s->dir_fd, sidecar, 0) < 0 && errno != ENOENT) {
                *ret_after = "remove its sidecar";
                return -errno;
        }
        return 0;
}

/* What a directory entry is, for a message: "a directory", "a symbolic link". */
static const char *file_kind(mode_t mode) {
        switch (mode & S_IFMT) {
        case S_IFDIR:  return "a directory";
        case S_IFLNK:  return "a symbolic link";
        case S_IFIFO:  return "a FIFO";
        case S_IFSOCK: return "a socket";
        case S_IFCHR:  return "a character device";
        case S_IFBLK:  return "a block device";
        default:       return "not a regular file";
        }
}

/* Remove name (gone already: nothing to do) and add it to removed. */
static int tidy_remove(Store *s, const char *name, StrvBuilder *removed) {
        if (unlinkat(s->dir_fd, name, 0) < 0)
                return errno == ENOENT ? 0 : -errno;
        return strv_builder_extend(removed, name);
}

int store_remove_tmpfiles(Store *s, StrvBuilder *removed) {
        struct dirent *de;
        DIR *d = NULL;
        int r;

        r = store_opendir(s, &d);
        if (r < 0)
                return r;
        while (r >= 0 && (errno = 0, de = readdir(d))) {
                struct stat st;
                /* Under the lock no backup of ours is using one (fetch's
                 * have another prefix); only a regular file is ours. */
                if (tmpfile_name_is(de->d_name, TMPFILE_PREFIX) &&
                    fstatat(s->dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISREG(st.st_mode))
                        r = tidy_remove(s, de->d_name, removed);
        }
        if (r >= 0 && errno > 0)
                r = -errno;
        closedir(d);
        return r;
}

int store_tidy(Store *s, char ***ret_removed, char ***ret_unpaired, char ***ret_unusable, char ***ret_strays) {
        _cleanup_(strv_builder_done) StrvBuilder removed = {}, unpaired = {}, unusable = {}, strays = {};
        struct dirent *de;
        DIR *d = NULL;
        int r;

        r = store_remove_tmpfiles(s, &removed);
        if (r < 0)
                return r;
        r = store_opendir(s, &d);
        if (r < 0)
                return r;
        while (r >= 0 && (errno = 0, de = readdir(d))) {
                _cleanup_free_ char *base = NULL, *other = NULL;
                struct stat st;
                size_t len = strlen(de->d_name);

                if (endswith(de->d_name, SIDECAR_SUFFIX)) {
                        base = strndup(de->d_name, len - strlen(SIDECAR_SUFFIX));
                        if (!base) {
                                r = -ENOMEM;
                                break;
                        }
                        if (store_name_parse(base, &(StoreName) {}) < 0 ||
                            fstatat(s->dir_fd, base, &st, AT_SYMLINK_NOFOLLOW) >= 0 || errno != ENOENT ||
                            fstatat(s->dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                continue;
                        /* Only a regular file is what an interrupted publish leaves. */
                        if (!S_ISREG(st.st_mode)) {
                                r = asprintf(&other, "%s: is %s, named like the sidecar of a backup that is not "
                                             "there", de->d_name, file_kind(st.st_mode)) < 0 ? -ENOMEM :
                                    strv_builder_consume(&strays, TAKE_PTR(other));
                                continue;
                        }
                        r = tidy_remove(s, de->d_name, &removed);
                } else if (store_name_parse(de->d_name, &(StoreName) {}) >= 0) {
                        _cleanup_(sidecar_done) Sidecar sc = {};
                        _cleanup_free_ char *problem = NULL;

                        /* A backup is a regular file: store_list() passes over anything else. */
                        if (fstatat(s->dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && !S_ISREG(st.st_mode)) {
                                r = asprintf(&other, "%s: is %s, named like a backup; not listed, never restored or "
                                             "deleted", de->d_name, file_kind(st.st_mode)) < 0 ? -ENOMEM :
                                    strv_builder_consume(&strays, TAKE_PTR(other));
                                continue;
                        }
                        r = read_sidecar(s, de->d_name, &sc, &problem);
                        if (r == -ENOENT)
                                r = strv_builder_extend(&unpaired, de->d_name);
                        else if (r == -EBADMSG)
                                r = asprintf(&other, "%s" SIDECAR_SUFFIX ": %s", de->d_name, problem) < 0 ? -ENOMEM :
                                    strv_builder_consume(&unusable, TAKE_PTR(other));
                }
        }
        if (r >= 0 && errno > 0)
                r = -errno;     /* readdir(3) failed part-way */
        closedir(d);
        if (r < 0)
                return r;
        if (removed.n > 0) {
                r = store_sync(s);
                if (r < 0)
                        return r;
        }
        if (ret_removed)
                *ret_removed = TAKE_PTR(removed.v);
        if (ret_unpaired)
                *ret_unpaired = TAKE_PTR(unpaired.v);
        if (ret_unusable)
                *ret_unusable = TAKE_PTR(unusable.v);
        if (ret_strays)
                *ret_strays = TAKE_PTR(strays.v);
        return 0;
}

struct json_object *store_entry_to_json(const StoreEntry *e) {
        if (e->has_sidecar)
                return sidecar_to_json_object(&e->sidecar);
        /* A backup without a (valid) sidecar: what its name says. */
        {
                struct json_object *o = json_object_new_object();
                char created[FORMAT_RFC3339_MAX], cluster[17];
                snprintf(cluster, sizeof cluster, "%016" PRIx64, e->parsed.cluster_id);
                json_object_object_add(o, "name", json_object_new_string(e->name));
                json_object_object_add(o, "created", json_object_new_string(
                        format_rfc3339(created, sizeof created, e->parsed.created_usec)));
                json_object_object_add(o, "cluster_id", json_object_new_string(cluster));
                json_object_object_add(o, "revision", json_object_new_int64(e->parsed.revision));
                json_object_object_add(o, "file_size", json_object_new_int64((int64_t) e->file_size));
                json_object_object_add(o, "compression", json_object_new_string(codec_to_string(e->parsed.compression)));
                json_object_object_add(o, "encrypted", json_object_new_boolean(e->parsed.encrypted));
                json_object_object_add(o, "sidecar", json_object_new_boolean(false));
                if (e->sidecar_problem)
                        json_object_object_add(o, "sidecar_problem", json_object_new_string(e->sidecar_problem));
                return o;
        }
}
