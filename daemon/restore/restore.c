/* SPDX-License-Identifier: MIT */
/*
 * restore.c — the restore runbook: a plan that changes nothing (resolve,
 * detect, find the tool, decompress and verify next to the data dir, take
 * the lock), then the run (stop kube-apiserver and etcd, `snapshot restore`
 * into <data_dir>.restore-<ts>, swap it in keeping the old dir as
 * <data_dir>.pre-restore-<ts>, start etcd, wait for a leader at the backup's
 * revision, start kube-apiserver) with a rollback that undoes exactly what
 * was done, in reverse, keeping the failed restore as
 * <data_dir>.failed-restore-<ts>. Every rename happens inside the data
 * dir's parent (or between the manifests dir and its sibling holding dir),
 * so each is atomic and nothing is ever copied or deleted.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "service/control.h"
#include "etcd/etcd.h"
#include "restore/restore.h"
#include "restore/static-pod.h"
#include "restore/units.h"
#include "util/io.h"
#include "util/parse.h"
#include "util/str.h"
#include "util/tcp.h"
#include "util/time.h"

#define ETCD_MANIFEST "etcd.yaml"
#define APISERVER_MANIFEST "kube-apiserver.yaml"
#define APISERVER_PORT_FLAG "--secure-port"
#define APISERVER_ADDRESS_FLAG "--bind-address"
#define APISERVER_DEFAULT_PORT 6443
#define HELD_DIR_PREFIX "etcd-backupd-held-"
#define NAME_TRIES_MAX 100
/* How long the restore lock is retried: a dry run's service may still be
 * exiting when the real run's connection arrives. */
#define LOCK_WAIT_USEC (10 * USEC_PER_SEC)
/* One Status probe while waiting for etcd to stop or come up. */
#define PROBE_TIMEOUT_USEC (3 * USEC_PER_SEC)
#define PROBE_CONNECT_TIMEOUT_USEC (1 * USEC_PER_SEC)
#define PROBE_INTERVAL_USEC (200 * USEC_PER_MSEC)
/* Deepest directory nesting walked when copying ownership (etcd uses 3). */
#define CHOWN_DEPTH_MAX 32
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* The db is handed to the tool as this descriptor. */
#define TOOL_DB_FD 3

const char *restore_step_state_to_string(RestoreStepState s) {
        switch (s) {
        case RESTORE_STEP_RUNNING:
                return "running";
        case RESTORE_STEP_DONE:
                return "done";
        case RESTORE_STEP_FAILED:
                return "failed";
        case RESTORE_STEP_SKIPPED:
                return "skipped";
        }
        return "unknown";
}

_printf_(5, 6) static void report(RestoreProgressFn fn, void *userdata, const char *step, RestoreStepState state,
                                  const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        if (!fn)
                return;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        fn(step, state, msg ? msg : "(out of memory)", userdata);
}

static const char *base_name(const char *path) {
        const char *s = strrchr(path, '/');
        return s ? s + 1 : path;
}

/* Everything up to the last '/' ("/" for "/x"); NULL on ENOMEM. */
static char *dir_name(const char *path) {
        const char *s = strrchr(path, '/');
        if (!s || s == path)
                return strdup("/");
        return strndup(path, (size_t) (s - path));
}

static void closedirp_(DIR **d) {
        if (*d)
                closedir(*d);
}

static bool path_exists(const char *path) {
        struct stat st;
        return lstat(path, &st) >= 0 || errno != ENOENT;
}

/* ---- the request ----------------------------------------------------------------- */

void restore_request_done(RestoreRequest *r) {
        if (!r)
                return;
        r->backup = mfree(r->backup);
}

int restore_request_parse(const char *line, size_t n, RestoreRequest *ret, const char **ret_code,
                          const char **ret_message) {
        struct json_object *o = NULL, *j;
        const char *method, *backup;
        size_t len;
        bool dry_run = false;
        char *copy;
        int r;

        if (n > RESTORE_REQUEST_MAX_BYTES)
                return *ret_code = "too_large", *ret_message = "requests are at most 64 KiB", -E2BIG;
        r = control_parse_request(line, n, &o, &method, ret_code, ret_message);
        if (r < 0)
                return r;
        if (!streq(method, "Restore")) {
                json_object_put(o);
                return *ret_code = "unknown_method", *ret_message = "this socket only serves \"Restore\"", -EBADMSG;
        }
        if (!json_object_object_get_ex(o, "backup", &j) || !json_object_is_type(j, json_type_string)) {
                json_object_put(o);
                return *ret_code = "invalid_request",
                       *ret_message = "\"backup\" must be a string: a backup name, \"latest\" or an absolute path",
                       -EBADMSG;
        }
        backup = json_object_get_string(j);
        len = (size_t) json_object_get_string_len(j);
        if (len == 0 || len > RESTORE_BACKUP_ARG_MAX || strlen(backup) != len) {
                json_object_put(o);
                return *ret_code = "invalid_request",
                       *ret_message = "\"backup\" must be 1 to 4096 bytes without NUL", -EBADMSG;
        }
        for (size_t i = 0; i < len; i++)
                if ((unsigned char) backup[i] < 0x20 || backup[i] == 0x7f) {
                        json_object_put(o);
                        return *ret_code = "invalid_request",
                               *ret_message = "\"backup\" contains a control character", -EBADMSG;
                }
        if (strchr(backup, '/') && backup[0] != '/') {
                json_object_put(o);
                return *ret_code = "invalid_request",
                       *ret_message = "\"backup\" must be a name, \"latest\" or an absolute path", -EBADMSG;
        }
        if (json_object_object_get_ex(o, "dry_run", &j) && j) {
                if (!json_object_is_type(j, json_type_boolean)) {
                        json_object_put(o);
                        return *ret_code = "invalid_request", *ret_message = "\"dry_run\" must be true or false",
                               -EBADMSG;
                }
                dry_run = json_object_get_boolean(j);
        }
        copy = strdup(backup);
        json_object_put(o);
        if (!copy)
                return *ret_code = "internal", *ret_message = "out of memory", -ENOMEM;
        *ret = (RestoreRequest) { .backup = copy, .dry_run = dry_run };
        return 0;
}

/* ---- the plan ---------------------------------------------------------------------- */

RestorePlan *restore_plan_free(RestorePlan *p) {
        if (!p)
                return NULL;
        inspect_backup_free(p->backup);
        sidecar_done(&p->sidecar);
        safe_close(p->lock_fd);
        if (p->bus)
                sd_bus_flush_close_unref(p->bus);
        free(p->backup_path);
        free(p->backup_name);
        free(p->timestamp);
        free(p->data_dir);
        free(p->parent_dir);
        free(p->restore_dir);
        free(p->pre_restore_dir);
        free(p->failed_restore_dir);
        free(p->mode_reason);
        free(p->manifests_dir);
        free(p->held_dir);
        free(p->apiserver_address);
        free(p->etcd_unit);
        free(p->apiserver_unit);
        free(p->endpoint);
        free(p->tool_path);
        strv_free(p->steps);
        return mfree(p);
}

/* The data dir: an absolute directory (or none yet), not a symlink nor a mount point; its parent, owner and mode,
 * and the timestamp the restore's directories are named by. */
static int plan_data_dir(RestorePlan *p, const Config *c, uint64_t now, char **ret_error) {
        char ts[FORMAT_COMPACT_MAX];
        struct stat st, pst;
        size_t len;

        p->data_dir = strdup(c->restore.data_dir);
        if (!p->data_dir)
                return -ENOMEM;
        len = strlen(p->data_dir);
        while (len > 1 && p->data_dir[len - 1] == '/')
                p->data_dir[--len] = '\0';
        if (p->data_dir[0] != '/' || len <= 1 || streq(base_name(p->data_dir), ".") ||
            streq(base_name(p->data_dir), "..") || len > PATH_MAX - 64)
                return free_and_format(ret_error, "restore.data_dir \"%s\" cannot be restored into", c->restore.data_dir),
                       -EINVAL;
        p->parent_dir = dir_name(p->data_dir);
        p->timestamp = strdup(format_compact_utc(ts, sizeof ts, now));
        if (!p->parent_dir || !p->timestamp)
                return -ENOMEM;
        if (stat(p->parent_dir, &pst) < 0)
                return free_and_format(ret_error, "cannot use %s, the parent of the data dir: %s", p->parent_dir,
                                 strerror(errno)), -errno;
        if (!S_ISDIR(pst.st_mode))
                return free_and_format(ret_error, "%s is not a directory", p->parent_dir), -ENOTDIR;
        if (lstat(p->data_dir, &st) < 0) {
                if (errno != ENOENT)
                        return free_and_format(ret_error, "cannot use %s: %s", p->data_dir, strerror(errno)), -errno;
                p->data_dir_exists = false;
        } else {
                if (S_ISLNK(st.st_mode))
                        return free_and_format(ret_error, "%s is a symbolic link: set restore.data_dir to the directory "
                                         "it points to", p->data_dir), -ELOOP;
                if (!S_ISDIR(st.st_mode))
                        return free_and_format(ret_error, "%s is not a directory", p->data_dir), -ENOTDIR;
                if (st.st_dev != pst.st_dev)
                        return free_and_format(ret_error, "%s is a mount point: the restored data dir is made next to it "
                                         "in %s (another file system) and cannot be renamed into its place; "
                                         "mount the volume one level up and point etcd and restore.data_dir at "
                                         "a directory inside it", p->data_dir, p->parent_dir), -EXDEV;
                p->data_dir_exists = true;
                p->data_uid = st.st_uid;
                p->data_gid = st.st_gid;
                p->data_mode = st.st_mode & 07777;
        }
        return 0;
}

/* The directories a restore makes or renames to are named by the second it started in. Under the lock, take the
 * first tag (<ts>, <ts>-2, <ts>-3, ...) none of whose names exist: a second restore within the same second (a
 * retry after a quick refusal) must not be refused for it, and nothing earlier is ever overwritten. */
static int plan_pick_names(RestorePlan *p, char **ret_error) {
        _cleanup_free_ char *manifests_parent = NULL;

        if (p->mode == RESTORE_MODE_STATIC_POD) {
                manifests_parent = dir_name(p->manifests_dir);
                if (!manifests_parent)
                        return -ENOMEM;
        }
        for (unsigned n = 1; n <= NAME_TRIES_MAX; n++) {
                _cleanup_free_ char *tag = NULL;
                bool taken = false;

                p->restore_dir = mfree(p->restore_dir);
                p->pre_restore_dir = mfree(p->pre_restore_dir);
                p->failed_restore_dir = mfree(p->failed_restore_dir);
                p->held_dir = mfree(p->held_dir);
                if ((n == 1 ? !(tag = strdup(p->timestamp)) : asprintf(&tag, "%s-%u", p->timestamp, n) < 0) ||
                    asprintf(&p->restore_dir, "%s.restore-%s", p->data_dir, tag) < 0 ||
                    asprintf(&p->pre_restore_dir, "%s.pre-restore-%s", p->data_dir, tag) < 0 ||
                    asprintf(&p->failed_restore_dir, "%s.failed-restore-%s", p->data_dir, tag) < 0 ||
                    (manifests_parent && asprintf(&p->held_dir, "%s/%s%s", streq(manifests_parent, "/") ? "" :
                                                  manifests_parent, HELD_DIR_PREFIX, tag) < 0))
                        return -ENOMEM;
                for (const char *const *d = (const char *const[]) { p->restore_dir, p->pre_restore_dir,
                                                                    p->failed_restore_dir, p->held_dir, NULL };
                     *d && !taken; d++)
                        taken = path_exists(*d);
                if (!taken)
                        return 0;
        }
        return free_and_format(ret_error, "restore directories named %s up to %s-%d already exist next to %s; remove "
                               "old ones", p->timestamp, p->timestamp, NAME_TRIES_MAX, p->data_dir), -EEXIST;
}

static int plan_lock(RestorePlan *p, char **ret_error) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + LOCK_WAIT_USEC;

        p->lock_fd = open(p->parent_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (p->lock_fd < 0)
                return free_and_format(ret_error, "cannot open %s: %s", p->parent_dir, strerror(errno)), -errno;
        while (flock(p->lock_fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno != EWOULDBLOCK)
                        return free_and_format(ret_error, "cannot lock %s: %s", p->parent_dir, strerror(errno)), -errno;
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return free_and_format(ret_error, "another restore of %s is running", p->data_dir), -EBUSY;
                sleep_usec(PROBE_INTERVAL_USEC);
        }
        return 0;
}

static int plan_resolve(RestorePlan *p, const Config *c, const char *backup, char **ret_error) {
        _cleanup_free_ char *text = NULL, *sidecar_path = NULL;
        const char *why = NULL;
        StoreName sn;
        struct stat st;
        size_t size = 0;
        int r;

        if (streq(backup, "latest")) {
                _cleanup_(store_freep) Store *store = NULL;
                _cleanup_free_ char *err = NULL;
                StoreEntry *e = NULL;
                size_t n = 0;

                r = store_open(c->storage.directory, false, &store, &err);
                if (r < 0)
                        return free_and_format(ret_error, "cannot find the latest backup: %s",
                                         err ? err : strerror(-r)), r;
                r = store_list(store, &e, &n);
                if (r < 0)
                        return free_and_format(ret_error, "cannot list %s: %s", c->storage.directory, strerror(-r)), r;
                for (size_t i = 0; i < n && !p->backup_path; i++)
                        if (e[i].has_sidecar)
                                p->backup_path = path_join(c->storage.directory, e[i].name);
                store_entries_free(e, n);
                if (!p->backup_path)
                        return free_and_format(ret_error, "no backup with a sidecar in %s", c->storage.directory),
                               -ENOENT;
        } else if (backup[0] == '/')
                p->backup_path = strdup(backup);
        else {
                if (strchr(backup, '/') || store_name_parse(backup, &sn) < 0)
                        return free_and_format(ret_error, "\"%s\" is not a backup name (etcd-<cluster>-<time>-r<rev>.db…), "
                                         "\"latest\" or an absolute path", backup), -EINVAL;
                p->backup_path = path_join(c->storage.directory, backup);
        }
        if (!p->backup_path)
                return -ENOMEM;
        if (stat(p->backup_path, &st) < 0)
                return free_and_format(ret_error, "no backup %s: %s", p->backup_path, strerror(errno)), -errno;
        if (!S_ISREG(st.st_mode))
                return free_and_format(ret_error, "%s is not a regular file", p->backup_path), -EBADMSG;
        p->backup_name = strdup(base_name(p->backup_path));
        if (!p->backup_name)
                return -ENOMEM;
        if (store_name_parse(p->backup_name, &sn) >= 0)
                p->created_usec = sn.created_usec;

        if (asprintf(&sidecar_path, "%s%s", p->backup_path, SIDECAR_SUFFIX) < 0)
                return -ENOMEM;
        r = read_full_file(sidecar_path, INSPECT_SIDECAR_MAX_BYTES, &text, &size);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return free_and_format(ret_error, "cannot read the sidecar %s: %s", sidecar_path, strerror(-r)), r;
        r = sidecar_from_json(text, size, &p->sidecar, &why);
        if (r < 0)
                return free_and_format(ret_error, "the sidecar %s is damaged: %s", sidecar_path,
                                 why ? why : strerror(-r)), r == -ENOMEM ? r : -EBADMSG;
        p->has_sidecar = true;
        p->created_usec = p->sidecar.created_usec;
        return 0;
}

/* Decrypt (with encryption.identity_file when the backup is encrypted) and
 * decompress into an anonymous file in the data dir's parent: the db is on
 * the file system the restore will use, and gone however the restore ends. */
static int open_backup_in(RestorePlan *p, const Config *c, char *reason, size_t reason_size) {
        AgeIdentity *ids = NULL;
        size_t n_ids = 0;
        int r;

        if (c->encryption.identity_file) {
                r = age_identity_load_file(c->encryption.identity_file, &ids, &n_ids);
                if (r < 0 && r != -ENOENT) {
                        snprintf(reason, reason_size, "cannot read encryption.identity_file %s: %s",
                                 c->encryption.identity_file, strerror(-r));
                        return r;
                }
        }
        r = inspect_backup_open_in(p->backup_path, p->parent_dir, ids, n_ids, &p->backup, reason, reason_size);
        age_identities_free(ids, n_ids);
        return r;
}

static int plan_verify(RestorePlan *p, const Config *c, char **ret_error) {
        char reason[INSPECT_REASON_MAX] = "", a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];
        struct statvfs sv;
        uint64_t avail, need;
        int r;

        r = open_backup_in(p, c, reason, sizeof reason);
        if (r < 0)
                return free_and_format(ret_error, "%s: %s", p->backup_path, reason[0] ? reason : strerror(-r)), r;
        p->compression = p->backup->compression;
        p->db_size = p->backup->db_size;
        hexencode(p->backup->db_sha256, sizeof p->backup->db_sha256, p->db_sha256);
        r = bbolt_check(p->backup->db, NULL);
        if (r < 0)
                return free_and_format(ret_error, "%s: database structure damaged: %s", p->backup_path,
                                 bbolt_last_error(p->backup->db) ? bbolt_last_error(p->backup->db) : strerror(-r)),
                       r;
        r = inspect_revision(p->backup, &p->revision);
        if (r < 0)
                return free_and_format(ret_error, "%s: cannot read the revision: %s", p->backup_path,
                                 bbolt_last_error(p->backup->db) ? bbolt_last_error(p->backup->db) : strerror(-r)),
                       r;
        if (p->has_sidecar) {
                if (!streq(p->sidecar.db_sha256, p->db_sha256))
                        return free_and_format(ret_error, "%s: the db's SHA-256 %s is not the sidecar's db_sha256 %s",
                                         p->backup_path, p->db_sha256, p->sidecar.db_sha256), -EBADMSG;
                if (p->sidecar.db_size != p->db_size)
                        return free_and_format(ret_error, "%s: the db is %" PRIu64 " bytes, the sidecar says %" PRIu64,
                                         p->backup_path, p->db_size, p->sidecar.db_size), -EBADMSG;
                if (p->sidecar.revision != p->revision)
                        return free_and_format(ret_error, "%s: the db is at revision %" PRId64 ", the sidecar says %" PRId64,
                                         p->backup_path, p->revision, p->sidecar.revision), -EBADMSG;
        }
        /* The restored dir holds the db again plus a preallocated WAL. */
        if (statvfs(p->parent_dir, &sv) < 0)
                return free_and_format(ret_error, "cannot check free space in %s: %s", p->parent_dir, strerror(errno)),
                       -errno;
        avail = (uint64_t) sv.f_bavail * (uint64_t) sv.f_frsize;
        need = p->db_size + RESTORE_SPACE_MARGIN_BYTES;
        if (avail < need)
                return free_and_format(ret_error, "not enough space in %s for the restored data dir: it needs about %s, "
                                 "%s is free", p->parent_dir, format_bytes(a, sizeof a, need),
                                 format_bytes(b, sizeof b, avail)), -ENOSPC;
        return 0;
}

static bool is_running_state(const char *active) {
        return !streq(active, "inactive") && !streq(active, "failed");
}

static int plan_systemd(RestorePlan *p, char **ret_error) {
        _cleanup_free_ char *load = NULL, *active = NULL, *err = NULL;
        int r;

        if (!p->bus) {
                r = units_bus_open(&p->bus, &err);
                if (r < 0)
                        return free_and_format(ret_error, "restore.mode is systemd but %s", err), -ENODEV;
        }
        r = units_get_state(p->bus, p->etcd_unit, &load, &active, &err);
        if (r < 0)
                return free_and_format(ret_error, "%s", err), r;
        if (!streq(load, "loaded"))
                return free_and_format(ret_error, "%s is not a loaded systemd unit (LoadState=%s)", p->etcd_unit, load),
                       -ENODEV;
        p->etcd_running = is_running_state(active);
        load = mfree(load);
        active = mfree(active);
        err = mfree(err);
        r = units_get_state(p->bus, p->apiserver_unit, &load, &active, &err);
        p->apiserver_running = r >= 0 && streq(load, "loaded") && is_running_state(active);
        return 0;
}

static int plan_detect(RestorePlan *p, const Config *c, char **ret_error) {
        _cleanup_free_ char *etcd_manifest = NULL, *apiserver_manifest = NULL, *parent = NULL, *err = NULL;
        _cleanup_free_ char *load = NULL, *active = NULL;
        struct stat st, pst;
        bool has_manifest;
        int r;

        p->manifests_dir = strdup(c->restore.manifests_dir);
        p->etcd_unit = strdup(c->restore.etcd_unit);
        p->apiserver_unit = strdup(c->restore.apiserver_unit);
        p->endpoint = c->etcd.endpoints && c->etcd.endpoints[0] ? strdup(c->etcd.endpoints[0]) : NULL;
        etcd_manifest = path_join(c->restore.manifests_dir, ETCD_MANIFEST);
        apiserver_manifest = path_join(c->restore.manifests_dir, APISERVER_MANIFEST);
        if (!p->manifests_dir || !p->etcd_unit || !p->apiserver_unit || !etcd_manifest || !apiserver_manifest)
                return -ENOMEM;
        if (!p->endpoint)
                return free_and_format(ret_error, "etcd.endpoints is empty"), -EINVAL;
        has_manifest = access(etcd_manifest, F_OK) >= 0;

        p->mode = c->restore.mode;
        if (p->mode == RESTORE_MODE_AUTO) {
                if (has_manifest) {
                        p->mode = RESTORE_MODE_STATIC_POD;
                        if (asprintf(&p->mode_reason, "%s exists", etcd_manifest) < 0)
                                return -ENOMEM;
                } else {
                        r = units_bus_open(&p->bus, &err);
                        if (r >= 0)
                                r = units_get_state(p->bus, p->etcd_unit, &load, &active, &err);
                        if (r < 0)
                                return free_and_format(ret_error, "cannot tell how etcd runs here: there is no %s and "
                                                 "systemd cannot be asked about %s (%s); set restore.mode",
                                                 etcd_manifest, p->etcd_unit, err ? err : strerror(-r)), -ENODEV;
                        if (!streq(load, "loaded"))
                                return free_and_format(ret_error, "cannot tell how etcd runs here: there is no %s and %s "
                                                 "is not a loaded systemd unit (LoadState=%s); set restore.mode "
                                                 "and restore.etcd_unit", etcd_manifest, p->etcd_unit, load),
                                       -ENODEV;
                        p->mode = RESTORE_MODE_SYSTEMD;
                        if (asprintf(&p->mode_reason, "no %s; %s is a loaded systemd unit", etcd_manifest,
                                     p->etcd_unit) < 0)
                                return -ENOMEM;
                }
        } else if (asprintf(&p->mode_reason, "restore.mode = %s", restore_mode_to_string(p->mode)) < 0)
                return -ENOMEM;

        if (p->mode == RESTORE_MODE_SYSTEMD)
                return plan_systemd(p, ret_error);

        if (!has_manifest)
                return free_and_format(ret_error, "restore.mode is static-pod but there is no %s", etcd_manifest), -ENODEV;
        parent = dir_name(p->manifests_dir);
        if (!parent)
                return -ENOMEM;
        if (stat(p->manifests_dir, &st) < 0 || stat(parent, &pst) < 0)
                return free_and_format(ret_error, "cannot use %s: %s", p->manifests_dir, strerror(errno)), -errno;
        if (st.st_dev != pst.st_dev)
                return free_and_format(ret_error, "%s is a mount point: manifests cannot be moved next to it "
                                 "atomically", p->manifests_dir), -EXDEV;
        p->etcd_running = true;
        p->apiserver_running = access(apiserver_manifest, F_OK) >= 0;
        if (p->apiserver_running) {
                r = static_pod_manifest_port(apiserver_manifest, APISERVER_PORT_FLAG, APISERVER_DEFAULT_PORT,
                                        &p->apiserver_port);
                if (r < 0)
                        return free_and_format(ret_error, "cannot read %s from %s: %s", APISERVER_PORT_FLAG,
                                         apiserver_manifest, r == -EBADMSG ? "not a port number" : strerror(-r)), r;
                r = static_pod_manifest_address(apiserver_manifest, APISERVER_ADDRESS_FLAG, &p->apiserver_address);
                if (r < 0)
                        return free_and_format(ret_error, "cannot read %s from %s: %s", APISERVER_ADDRESS_FLAG,
                                         apiserver_manifest, r == -EBADMSG ? "not an IP address" : strerror(-r)), r;
        }
        return 0;
}

/* The program called name in $PATH (or name itself when it has a '/'). */
static int find_program(const char *name, char **ret) {
        const char *path = getenv("PATH"), *p;

        if (strchr(name, '/')) {
                if (access(name, X_OK) < 0)
                        return -errno;
                return (*ret = strdup(name)) ? 0 : -ENOMEM;
        }
        for (p = path && *path ? path : DEFAULT_PATH; *p;) {
                size_t n = strcspn(p, ":");
                _cleanup_free_ char *candidate = NULL;
                struct stat st;

                if (n > 0 && n < PATH_MAX) {
                        if (asprintf(&candidate, "%.*s/%s", (int) n, p, name) < 0)
                                return -ENOMEM;
                        if (stat(candidate, &st) >= 0 && S_ISREG(st.st_mode) && access(candidate, X_OK) >= 0) {
                                *ret = TAKE_PTR(candidate);
                                return 0;
                        }
                }
                p += n;
                if (*p == ':')
                        p++;
        }
        return -ENOENT;
}

static int plan_tool(RestorePlan *p, const Config *c, char **ret_error) {
        const char *want = c->restore.etcdutl;
        int r;

        if (want && *want) {
                r = find_program(want, &p->tool_path);
                if (r < 0)
                        return free_and_format(ret_error, "restore.etcdutl: cannot run %s: %s", want,
                                         r == -ENOENT ? "not found" : strerror(-r)), -ENOEXEC;
                p->tool = startswith(base_name(want), "etcdctl") ? RESTORE_TOOL_ETCDCTL : RESTORE_TOOL_ETCDUTL;
                return 0;
        }
        if (find_program("etcdutl", &p->tool_path) >= 0) {
                p->tool = RESTORE_TOOL_ETCDUTL;
                return 0;
        }
        if (find_program("etcdctl", &p->tool_path) >= 0) {
                p->tool = RESTORE_TOOL_ETCDCTL;
                return 0;
        }
        return free_and_format(ret_error, "neither etcdutl nor etcdctl is in PATH; install one or set restore.etcdutl"),
               -ENOEXEC;
}

_printf_(3, 4) static int add_step(RestorePlan *p, const char *step, const char *fmt, ...) {
        char *s = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        r = strv_extend(&p->steps, step);
        if (r < 0) {
                free(s);
                return r;
        }
        return strv_consume(&p->steps, s);
}

static int plan_steps(RestorePlan *p, const Config *c) {
        char dur[FORMAT_DURATION_MAX], size[FORMAT_BYTES_MAX];
        const char *tool = p->tool == RESTORE_TOOL_ETCDCTL ? "ETCDCTL_API=3 " : "";
        bool pod = p->mode == RESTORE_MODE_STATIC_POD;
        int r = 0;

        format_duration(dur, sizeof dur, c->restore.health_timeout_usec);
        r = add_step(p, RESTORE_STEP_VERIFY, "%s decompressed to an anonymous file in %s, SHA-256 trailer%s and db "
                     "structure checked: revision %" PRId64 ", %s", p->backup_name, p->parent_dir,
                     p->has_sidecar ? ", sidecar" : "", p->revision, format_bytes(size, sizeof size, p->db_size));
        if (r >= 0 && !p->apiserver_running)
                r = add_step(p, RESTORE_STEP_STOP_APISERVER, pod ? "no %s in %s: nothing to stop"
                                                                 : "%s is not running: nothing to stop",
                             pod ? APISERVER_MANIFEST : p->apiserver_unit, p->manifests_dir);
        else if (r >= 0 && pod)
                r = add_step(p, RESTORE_STEP_STOP_APISERVER, "move %s/%s to %s/ and wait until %s port %u stops "
                             "answering (at most %s)", p->manifests_dir, APISERVER_MANIFEST, p->held_dir,
                             p->apiserver_address, p->apiserver_port, dur);
        else if (r >= 0)
                r = add_step(p, RESTORE_STEP_STOP_APISERVER, "systemctl stop %s (D-Bus StopUnit, at most %s)",
                             p->apiserver_unit, dur);
        if (r >= 0 && pod)
                r = add_step(p, RESTORE_STEP_STOP_ETCD, "move %s/%s to %s/ and wait until %s stops answering and "
                             "no process has %s open (at most %s)", p->manifests_dir, ETCD_MANIFEST, p->held_dir,
                             p->endpoint, p->data_dir, dur);
        else if (r >= 0)
                r = add_step(p, RESTORE_STEP_STOP_ETCD, "systemctl stop %s (D-Bus StopUnit%s, at most %s)",
                             p->etcd_unit, p->etcd_running ? "" : "; it is not running", dur);
        if (r >= 0)
                r = add_step(p, RESTORE_STEP_SNAPSHOT, "%s%s snapshot restore <db> --name %s --initial-cluster %s "
                             "--initial-cluster-token %s --initial-advertise-peer-urls %s --data-dir %s", tool,
                             p->tool_path, c->restore.name, c->restore.initial_cluster,
                             c->restore.initial_cluster_token, c->restore.initial_advertise_peer_urls,
                             p->restore_dir);
        if (r >= 0 && p->data_dir_exists)
                r = add_step(p, RESTORE_STEP_SWAP, "rename %s to %s, then %s to %s (owner %u:%u, mode %04o)",
                             p->data_dir, p->pre_restore_dir, p->restore_dir, p->data_dir,
                             (unsigned) p->data_uid, (unsigned) p->data_gid, (unsigned) p->data_mode);
        else if (r >= 0)
                r = add_step(p, RESTORE_STEP_SWAP, "%s does not exist: rename %s to it (mode 0700)", p->data_dir,
                             p->restore_dir);
        if (r >= 0)
                r = add_step(p, RESTORE_STEP_START_ETCD, pod ? "move %s back into %s" : "systemctl start %s",
                             pod ? ETCD_MANIFEST : p->etcd_unit, p->manifests_dir);
        if (r >= 0)
                r = add_step(p, RESTORE_STEP_WAIT_ETCD, "until %s answers Status with a leader and revision >= %"
                             PRId64 " (at most %s)", p->endpoint, p->revision, dur);
        if (r >= 0 && !p->apiserver_running)
                r = add_step(p, RESTORE_STEP_START_APISERVER, "it was not running: left alone");
        else if (r >= 0 && pod)
                r = add_step(p, RESTORE_STEP_START_APISERVER, "move %s back into %s and wait until %s port %u "
                             "answers (at most %s)", APISERVER_MANIFEST, p->manifests_dir, p->apiserver_address,
                             p->apiserver_port, dur);
        else if (r >= 0)
                r = add_step(p, RESTORE_STEP_START_APISERVER, "systemctl start %s", p->apiserver_unit);
        if (r >= 0)
                r = add_step(p, RESTORE_STEP_ROLLBACK, "on any failure: etcd stopped, %s back in place, the failed "
                             "restore kept as %s, manifests and units back as they were; nothing is deleted",
                             p->data_dir, p->failed_restore_dir);
        return r;
}

int restore_plan(const Config *c, const char *backup, uint64_t now, RestoreProgressFn fn, void *userdata,
                 RestorePlan **ret, char **ret_error) {
        _cleanup_(restore_plan_freep) RestorePlan *p = NULL;
        char size[FORMAT_BYTES_MAX];
        uint64_t t0;
        int r;

        if (!c || !backup || !ret)
                return -EINVAL;
        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->lock_fd = -EBADF;

        /* Cheap refusals first: none of them needs the backup read. */
        report(fn, userdata, RESTORE_STEP_DETECT, RESTORE_STEP_RUNNING, "checking %s and how etcd runs here",
               c->restore.data_dir);
        r = plan_data_dir(p, c, now, ret_error);
        if (r >= 0)
                r = plan_detect(p, c, ret_error);
        if (r >= 0)
                r = plan_tool(p, c, ret_error);
        if (r >= 0)
                r = plan_lock(p, ret_error);
        if (r >= 0)
                r = plan_pick_names(p, ret_error);
        if (r >= 0)
                r = plan_resolve(p, c, backup, ret_error);
        if (r < 0) {
                report(fn, userdata, RESTORE_STEP_DETECT, RESTORE_STEP_FAILED, "%s",
                       ret_error && *ret_error ? *ret_error : strerror(-r));
                return r;
        }
        report(fn, userdata, RESTORE_STEP_DETECT, RESTORE_STEP_DONE, "%s (%s); backup %s; %s %s",
               restore_mode_to_string(p->mode), p->mode_reason, p->backup_path,
               p->tool == RESTORE_TOOL_ETCDCTL ? "etcdctl" : "etcdutl", p->tool_path);

        t0 = now_usec(CLOCK_MONOTONIC);
        report(fn, userdata, RESTORE_STEP_VERIFY, RESTORE_STEP_RUNNING, "decompressing %s into %s and checking it",
               p->backup_name, p->parent_dir);
        r = plan_verify(p, c, ret_error);
        if (r < 0) {
                report(fn, userdata, RESTORE_STEP_VERIFY, RESTORE_STEP_FAILED, "%s",
                       ret_error && *ret_error ? *ret_error : strerror(-r));
                return r;
        }
        report(fn, userdata, RESTORE_STEP_VERIFY, RESTORE_STEP_DONE, "revision %" PRId64 ", %s, SHA-256 %s%s (%" PRIu64
               " ms)", p->revision, format_bytes(size, sizeof size, p->db_size), p->db_sha256,
               p->has_sidecar ? " = sidecar" : ", no sidecar", (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC);

        r = plan_steps(p, c);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

struct json_object *restore_plan_to_json(const RestorePlan *p) {
        struct json_object *o = json_object_new_object(), *steps = json_object_new_array();
        char created[FORMAT_RFC3339_MAX];

        if (!o || !steps) {
                json_object_put(o);
                json_object_put(steps);
                return NULL;
        }
        json_object_object_add(o, "backup", json_object_new_string(p->backup_path));
        json_object_object_add(o, "name", json_object_new_string(p->backup_name));
        json_object_object_add(o, "revision", json_object_new_int64(p->revision));
        json_object_object_add(o, "created", p->created_usec ? json_object_new_string(format_rfc3339(
                                                       created, sizeof created, p->created_usec)) : NULL);
        json_object_object_add(o, "db_size", json_object_new_uint64(p->db_size));
        json_object_object_add(o, "db_sha256", json_object_new_string(p->db_sha256));
        json_object_object_add(o, "compression", json_object_new_string(codec_to_string(p->compression)));
        json_object_object_add(o, "sidecar", json_object_new_boolean(p->has_sidecar));
        json_object_object_add(o, "data_dir", json_object_new_string(p->data_dir));
        json_object_object_add(o, "restore_dir", json_object_new_string(p->restore_dir));
        json_object_object_add(o, "pre_restore_dir",
                               p->data_dir_exists ? json_object_new_string(p->pre_restore_dir) : NULL);
        json_object_object_add(o, "failed_restore_dir", json_object_new_string(p->failed_restore_dir));
        json_object_object_add(o, "mode", json_object_new_string(restore_mode_to_string(p->mode)));
        json_object_object_add(o, "mode_reason", json_object_new_string(p->mode_reason));
        json_object_object_add(o, "tool", json_object_new_string(p->tool_path));
        json_object_object_add(o, "endpoint", json_object_new_string(p->endpoint));
        json_object_object_add(o, "etcd_running", json_object_new_boolean(p->etcd_running));
        json_object_object_add(o, "apiserver_running", json_object_new_boolean(p->apiserver_running));
        for (size_t i = 0; p->steps && p->steps[i] && p->steps[i + 1]; i += 2) {
                struct json_object *s = json_object_new_object();
                if (!s)
                        break;
                json_object_object_add(s, "step", json_object_new_string(p->steps[i]));
                json_object_object_add(s, "action", json_object_new_string(p->steps[i + 1]));
                json_object_array_add(steps, s);
        }
        json_object_object_add(o, "steps", steps);
        return o;
}

/* ---- the run ------------------------------------------------------------------------ */

void restore_result_done(RestoreResult *r) {
        if (!r)
                return;
        r->error = mfree(r->error);
        r->rollback_error = mfree(r->rollback_error);
}

typedef struct Run {
        RestorePlan *p;
        const Config *c;
        RestoreProgressFn fn;
        void *userdata;
        EtcdTls tls;
        uint64_t timeout_usec;          /* restore.health_timeout, for every wait */
        bool held_dir_made;
        bool apiserver_held;            /* we stopped it: its manifest is held / its unit stopped */
        bool etcd_held;                 /* we stopped it: its manifest is held / its unit stopped */
        bool restore_dir_made;
        bool swapped;                   /* the restored dir is at data_dir */
        bool etcd_on_new;               /* etcd was started on the restored data */
        bool etcd_start_ok;             /* ... and the start itself succeeded */
        char *error;
} Run;

static int ensure_held_dir(Run *run) {
        if (run->held_dir_made)
                return 0;
        if (mkdir(run->p->held_dir, 0700) < 0)
                return free_and_format(&run->error, "cannot create %s: %s", run->p->held_dir, strerror(errno)), -errno;
        run->held_dir_made = true;
        return 0;
}

/* Wait until kube-apiserver's port answers (want true) or stops answering. */
static int wait_port(Run *run, bool want, uint64_t *ret_usec) {
        const char *address = run->p->apiserver_address;
        uint16_t port = run->p->apiserver_port;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC), deadline = t0 + run->timeout_usec;

        for (;;) {
                int r = tcp_probe(address, port, PROBE_CONNECT_TIMEOUT_USEC);
                if (r < 0)
                        return free_and_format(&run->error, "cannot probe %s port %u: %s", address, port,
                                               strerror(-r)), r;
                if ((r > 0) == want) {
                        *ret_usec = now_usec(CLOCK_MONOTONIC) - t0;
                        return 0;
                }
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return free_and_format(&run->error, "%s port %u still %s after %" PRIu64 " s", address, port,
                                         want ? "does not answer" : "answers", run->timeout_usec / USEC_PER_SEC),
                               -ETIMEDOUT;
                sleep_usec(PROBE_INTERVAL_USEC);
        }
}

/* Probe the member once. 1 healthy (leader, revision >= min_revision), 0 not
 * (yet), with *ret_why. */
static int probe_etcd(Run *run, int64_t min_revision, int64_t *ret_revision, char **ret_why) {
        _cleanup_free_ char *err = NULL;
        EtcdStatus st = {};
        int r;

        r = etcd_status(&run->tls, run->p->endpoint, PROBE_CONNECT_TIMEOUT_USEC, PROBE_TIMEOUT_USEC, &st, &err);
        if (r < 0) {
                free_and_format(ret_why, "%s", err ? err : strerror(-r));
                return 0;
        }
        *ret_revision = st.revision;
        if (st.leader == 0)
                r = free_and_format(ret_why, "%s answers but has no leader", run->p->endpoint);
        else if (st.revision < min_revision)
                r = free_and_format(ret_why, "%s answers at revision %" PRId64 ", below the backup's %" PRId64,
                              run->p->endpoint, st.revision, min_revision);
        else
                r = 1;
        etcd_status_done(&st);
        return r;
}

static int wait_etcd_healthy(Run *run, int64_t min_revision, int64_t *ret_revision) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + run->timeout_usec;
        _cleanup_free_ char *why = NULL;
        int64_t rev = 0;

        for (;;) {
                if (probe_etcd(run, min_revision, &rev, &why) > 0) {
                        if (ret_revision)
                                *ret_revision = rev;
                        return 0;
                }
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return free_and_format(&run->error, "etcd is not healthy after %" PRIu64 " s: %s",
                                         run->timeout_usec / USEC_PER_SEC, why ? why : "no answer"), -ETIMEDOUT;
                sleep_usec(PROBE_INTERVAL_USEC);
        }
}

/* A process (not us) with a file open below dir, or 0. */
static pid_t dir_in_use(const char *dir) {
        _cleanup_(closedirp_) DIR *proc = NULL;
        size_t len = strlen(dir);
        struct dirent *de;

        proc = opendir("/proc");
        if (!proc)
                return 0;
        while ((de = readdir(proc))) {
                char fds[64];
                DIR *d;
                struct dirent *fe;
                pid_t pid;
                uint64_t v;

                if (safe_atou64(de->d_name, &v) < 0 || v == 0 || v > INT_MAX || (pid_t) v == getpid())
                        continue;
                pid = (pid_t) v;
                snprintf(fds, sizeof fds, "/proc/%d/fd", (int) pid);
                d = opendir(fds);
                if (!d)
                        continue;
                while ((fe = readdir(d))) {
                        char target[PATH_MAX];
                        ssize_t n = readlinkat(dirfd(d), fe->d_name, target, sizeof target - 1);
                        if (n <= 0)
                                continue;
                        target[n] = '\0';
                        if (strncmp(target, dir, len) == 0 && (target[len] == '/' || target[len] == '\0')) {
                                closedir(d);
                                return pid;
                        }
                }
                closedir(d);
        }
        return 0;
}

static int wait_dir_free(Run *run, const char *dir) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + run->timeout_usec;

        for (;;) {
                pid_t pid = dir_in_use(dir);
                if (pid == 0)
                        return 0;
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return free_and_format(&run->error, "process %d still has files open in %s", (int) pid, dir),
                               -EBUSY;
                sleep_usec(PROBE_INTERVAL_USEC);
        }
}

static int wait_etcd_gone(Run *run) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + run->timeout_usec;

        for (;;) {
                _cleanup_free_ char *why = NULL;
                EtcdStatus st = {};
                int r;

                r = etcd_status(&run->tls, run->p->endpoint, PROBE_CONNECT_TIMEOUT_USEC, PROBE_TIMEOUT_USEC, &st, &why);
                etcd_status_done(&st);
                /* -EAGAIN (no leader) and -EIO (another error of etcd's) are answers too. */
                if (r < 0 && r != -EAGAIN && r != -EIO)
                        break;
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return free_and_format(&run->error, "%s still answers %" PRIu64 " s after etcd was stopped",
                                         run->p->endpoint, run->timeout_usec / USEC_PER_SEC), -ETIMEDOUT;
                sleep_usec(PROBE_INTERVAL_USEC);
        }
        return wait_dir_free(run, run->p->data_dir);
}

static int step_stop_apiserver(Run *run) {
        RestorePlan *p = run->p;
        _cleanup_free_ char *err = NULL;
        uint64_t took = 0;
        int r;

        if (!p->apiserver_running) {
                report(run->fn, run->userdata, RESTORE_STEP_STOP_APISERVER, RESTORE_STEP_SKIPPED,
                       "kube-apiserver is not running here: nothing to stop");
                return 0;
        }
        report(run->fn, run->userdata, RESTORE_STEP_STOP_APISERVER, RESTORE_STEP_RUNNING, "stopping kube-apiserver");
        if (p->mode == RESTORE_MODE_STATIC_POD) {
                r = ensure_held_dir(run);
                if (r < 0)
                        return r;
                r = static_pod_manifest_move(p->manifests_dir, p->held_dir, APISERVER_MANIFEST);
                if (r < 0)
                        return free_and_format(&run->error, "cannot move %s/%s to %s: %s", p->manifests_dir,
                                         APISERVER_MANIFEST, p->held_dir, strerror(-r)), r;
                run->apiserver_held = true;
                r = wait_port(run, false, &took);
                if (r < 0)
                        return r;
                report(run->fn, run->userdata, RESTORE_STEP_STOP_APISERVER, RESTORE_STEP_DONE,
                       "%s moved to %s; %s port %u closed after %" PRIu64 " ms", APISERVER_MANIFEST, p->held_dir,
                       p->apiserver_address, p->apiserver_port, took / USEC_PER_MSEC);
                return 0;
        }
        run->apiserver_held = true;
        r = units_stop(p->bus, p->apiserver_unit, run->timeout_usec, &err);
        if (r < 0)
                return free_and_format(&run->error, "%s", err ? err : strerror(-r)), r;
        report(run->fn, run->userdata, RESTORE_STEP_STOP_APISERVER, RESTORE_STEP_DONE, "%s stopped",
               p->apiserver_unit);
        return 0;
}

static int step_stop_etcd(Run *run) {
        RestorePlan *p = run->p;
        _cleanup_free_ char *err = NULL;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        int r;

        report(run->fn, run->userdata, RESTORE_STEP_STOP_ETCD, RESTORE_STEP_RUNNING, "stopping etcd");
        if (p->mode == RESTORE_MODE_STATIC_POD) {
                r = ensure_held_dir(run);
                if (r < 0)
                        return r;
                r = static_pod_manifest_move(p->manifests_dir, p->held_dir, ETCD_MANIFEST);
                if (r < 0)
                        return free_and_format(&run->error, "cannot move %s/%s to %s: %s", p->manifests_dir,
                                         ETCD_MANIFEST, p->held_dir, strerror(-r)), r;
                run->etcd_held = true;
        } else {
                run->etcd_held = true;
                r = units_stop(p->bus, p->etcd_unit, run->timeout_usec, &err);
                if (r < 0)
                        return free_and_format(&run->error, "%s", err ? err : strerror(-r)), r;
        }
        r = wait_etcd_gone(run);
        if (r < 0)
                return r;
        report(run->fn, run->userdata, RESTORE_STEP_STOP_ETCD, RESTORE_STEP_DONE,
               "etcd stopped: %s no longer answers and nothing has %s open (%" PRIu64 " ms)", p->endpoint,
               p->data_dir, (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC);
        return 0;
}

/* The most useful line of the tool's output: its last "Error:" line, else
 * its last non-empty line. */
static void tool_reason(const char *out, size_t n, char *buf, size_t size) {
        const char *best = NULL, *last = NULL, *p = out, *end = out + n;
        size_t best_len = 0, last_len = 0;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);
                if (len > 0) {
                        last = p, last_len = len;
                        if (len >= 6 && memcmp(p, "Error:", 6) == 0)
                                best = p, best_len = len;
                }
                p += len + 1;
        }
        if (!best)
                best = last, best_len = last_len;
        if (!best) {
                snprintf(buf, size, "no output");
                return;
        }
        snprintf(buf, size, "%.*s", (int) MIN(best_len, size - 1), best);
        for (char *q = buf; *q; q++)
                if ((unsigned char) *q < 0x20)
                        *q = ' ';
}

_noreturn_ static void tool_child(const RestorePlan *p, const Config *c, int out_fd, char *const *argv,
                                  char *const *envp) {
        sigset_t all;
        int db_fd, null_fd;

        sigemptyset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, NULL);
        (void) signal(SIGPIPE, SIG_DFL);
        /* Move both out of the way before placing them at 0..3. */
        db_fd = fcntl(p->backup->fd, F_DUPFD, 10);
        out_fd = fcntl(out_fd, F_DUPFD, 10);
        null_fd = open("/dev/null", O_RDONLY);
        if (db_fd < 0 || out_fd < 0 || null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 ||
            dup2(out_fd, STDOUT_FILENO) < 0 || dup2(out_fd, STDERR_FILENO) < 0 || dup2(db_fd, TOOL_DB_FD) < 0)
                _exit(127);
        (void) close_range(TOOL_DB_FD + 1, ~0U, 0);
        execve(p->tool_path, argv, envp);
        dprintf(STDERR_FILENO, "Error: cannot execute %s: %s\n", p->tool_path, strerror(errno));
        _exit(127);
}

static int step_snapshot_restore(Run *run) {
        RestorePlan *p = run->p;
        const ConfigRestore *rc = &run->c->restore;
        char db_path[64], reason[1024], exit_how[64];
        _cleanup_free_ char *out = NULL, *path_env = NULL;
        _cleanup_close_ int rfd = -EBADF, wfd = -EBADF;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC), deadline = t0 + RESTORE_TOOL_TIMEOUT_USEC;
        size_t out_len = 0;
        bool killed = false;
        int pipefd[2], status = 0;
        pid_t pid;

        snprintf(db_path, sizeof db_path, "/proc/self/fd/%d", TOOL_DB_FD);
        char *const argv[] = { p->tool_path, (char *) "snapshot", (char *) "restore", db_path,
                               (char *) "--name", rc->name, (char *) "--initial-cluster", rc->initial_cluster,
                               (char *) "--initial-cluster-token", rc->initial_cluster_token,
                               (char *) "--initial-advertise-peer-urls", rc->initial_advertise_peer_urls,
                               (char *) "--data-dir", p->restore_dir, NULL };
        /* A clean environment: etcdctl turns ETCDCTL_* variables into flags
         * and refuses ones that conflict with ours. */
        if (asprintf(&path_env, "PATH=%s", getenv("PATH") && *getenv("PATH") ? getenv("PATH") : DEFAULT_PATH) < 0)
                return -ENOMEM;
        char *const envp_etcdctl[] = { path_env, (char *) "ETCDCTL_API=3", NULL };
        char *const envp_etcdutl[] = { path_env, NULL };

        report(run->fn, run->userdata, RESTORE_STEP_SNAPSHOT, RESTORE_STEP_RUNNING, "%s%s snapshot restore into %s",
               p->tool == RESTORE_TOOL_ETCDCTL ? "ETCDCTL_API=3 " : "", p->tool_path, p->restore_dir);
        out = malloc(RESTORE_TOOL_OUTPUT_MAX_BYTES);
        if (!out)
                return -ENOMEM;
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return free_and_format(&run->error, "cannot create a pipe: %s", strerror(errno)), -errno;
        rfd = pipefd[0];
        wfd = pipefd[1];
        pid = fork();
        if (pid < 0)
                return free_and_format(&run->error, "cannot fork: %s", strerror(errno)), -errno;
        if (pid == 0)
                tool_child(p, run->c, wfd, argv, p->tool == RESTORE_TOOL_ETCDCTL ? envp_etcdctl : envp_etcdutl);
        wfd = safe_close(wfd);

        for (;;) {
                struct pollfd pfd = { .fd = rfd, .events = POLLIN };
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                ssize_t k;
                int n;

                if (now >= deadline) {
                        (void) kill(pid, SIGKILL);
                        killed = true;
                        break;
                }
                n = poll(&pfd, 1, (int) MIN((deadline - now) / USEC_PER_MSEC + 1, (uint64_t) 1000));
                if (n < 0 && errno != EINTR)
                        break;
                if (n <= 0)
                        continue;
                if (out_len == RESTORE_TOOL_OUTPUT_MAX_BYTES) {
                        /* Keep the tail: the error is at the end. */
                        memmove(out, out + out_len / 2, out_len - out_len / 2);
                        out_len -= out_len / 2;
                }
                k = read(rfd, out + out_len, RESTORE_TOOL_OUTPUT_MAX_BYTES - out_len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                out_len += (size_t) k;
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return free_and_format(&run->error, "cannot wait for %s: %s", p->tool_path, strerror(errno)), -errno;
        run->restore_dir_made = path_exists(p->restore_dir);
        if (!killed && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                if (!run->restore_dir_made)
                        return free_and_format(&run->error, "%s exited 0 but made no %s", p->tool_path, p->restore_dir),
                               -EIO;
                report(run->fn, run->userdata, RESTORE_STEP_SNAPSHOT, RESTORE_STEP_DONE, "%s restored (%" PRIu64 " ms)",
                       p->restore_dir, (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC);
                return 0;
        }
        tool_reason(out, out_len, reason, sizeof reason);
        if (killed)
                snprintf(exit_how, sizeof exit_how, "killed after %" PRIu64 " min",
                         RESTORE_TOOL_TIMEOUT_USEC / USEC_PER_MINUTE);
        else if (WIFEXITED(status))
                snprintf(exit_how, sizeof exit_how, "exit status %d", WEXITSTATUS(status));
        else
                snprintf(exit_how, sizeof exit_how, "signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        return free_and_format(&run->error, "%s snapshot restore failed (%s): %s", base_name(p->tool_path), exit_how,
                         reason), -EIO;
}

/* chown every entry below (and including) dir_fd; symlinks themselves. */
static int chown_tree(int dir_fd, uid_t uid, gid_t gid, unsigned depth) {
        _cleanup_(closedirp_) DIR *d = NULL;
        struct dirent *de;
        int fd;

        if (depth > CHOWN_DEPTH_MAX)
                return -ELOOP;
        if (fchown(dir_fd, uid, gid) < 0)
                return -errno;
        fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -errno;
        }
        while ((de = readdir(d))) {
                struct stat st;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub = openat(dirfd(d), de->d_name,
                                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        int r;
                        if (sub < 0)
                                return -errno;
                        r = chown_tree(sub, uid, gid, depth + 1);
                        if (r < 0)
                                return r;
                } else if (fchownat(dirfd(d), de->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
        }
        return 0;
}

static int rename_in(int dir_fd, const char *from, const char *to) {
        return renameat2(dir_fd, base_name(from), dir_fd, base_name(to), RENAME_NOREPLACE) < 0 ? -errno : 0;
}

static int step_swap(Run *run) {
        RestorePlan *p = run->p;
        _cleanup_close_ int parent_fd = -EBADF, new_fd = -EBADF;
        int r;

        report(run->fn, run->userdata, RESTORE_STEP_SWAP, RESTORE_STEP_RUNNING, "swapping %s", p->data_dir);
        new_fd = open(p->restore_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        parent_fd = open(p->parent_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (new_fd < 0 || parent_fd < 0)
                return free_and_format(&run->error, "cannot open %s: %s", new_fd < 0 ? p->restore_dir : p->parent_dir,
                                 strerror(errno)), -errno;
        if (p->data_dir_exists && (p->data_uid != 0 || p->data_gid != 0)) {
                r = chown_tree(new_fd, p->data_uid, p->data_gid, 0);
                if (r < 0)
                        return free_and_format(&run->error, "cannot give %s to %u:%u: %s", p->restore_dir,
                                         (unsigned) p->data_uid, (unsigned) p->data_gid, strerror(-r)), r;
        }
        if (fchmod(new_fd, p->data_dir_exists ? p->data_mode : 0700) < 0)
                return free_and_format(&run->error, "cannot chmod %s: %s", p->restore_dir, strerror(errno)), -errno;
        if (p->data_dir_exists) {
                r = rename_in(parent_fd, p->data_dir, p->pre_restore_dir);
                if (r < 0)
                        return free_and_format(&run->error, "cannot rename %s to %s: %s", p->data_dir, p->pre_restore_dir,
                                         strerror(-r)), r;
        }
        r = rename_in(parent_fd, p->restore_dir, p->data_dir);
        if (r < 0) {
                free_and_format(&run->error, "cannot rename %s to %s: %s", p->restore_dir, p->data_dir, strerror(-r));
                if (p->data_dir_exists && rename_in(parent_fd, p->pre_restore_dir, p->data_dir) < 0)
                        /* Left for the rollback to report. */
                        run->swapped = true;
                return r;
        }
        run->swapped = true;
        (void) fsync(parent_fd);
        report(run->fn, run->userdata, RESTORE_STEP_SWAP, RESTORE_STEP_DONE, p->data_dir_exists ?
               "%s is the restored data; the old one is %s" : "%s is the restored data", p->data_dir,
               p->pre_restore_dir);
        return 0;
}

/* Start etcd (manifest back / StartUnit). */
static int etcd_start(Run *run, char **ret_error) {
        RestorePlan *p = run->p;
        int r;

        if (p->mode == RESTORE_MODE_STATIC_POD) {
                r = static_pod_manifest_move(p->held_dir, p->manifests_dir, ETCD_MANIFEST);
                if (r < 0)
                        return free_and_format(ret_error, "cannot move %s back into %s: %s", ETCD_MANIFEST,
                                         p->manifests_dir, strerror(-r)), r;
                run->etcd_held = false;
                return 0;
        }
        run->etcd_held = false;
        return units_start(p->bus, p->etcd_unit, run->timeout_usec, ret_error);
}

/* Stop etcd again (rollback) and wait until it is gone. */
static int etcd_stop(Run *run, char **ret_error) {
        RestorePlan *p = run->p;
        int r;

        if (p->mode == RESTORE_MODE_STATIC_POD) {
                r = ensure_held_dir(run);
                if (r < 0)
                        return free_and_format(ret_error, "%s", run->error), r;
                r = static_pod_manifest_move(p->manifests_dir, p->held_dir, ETCD_MANIFEST);
                if (r < 0)
                        return free_and_format(ret_error, "cannot move %s out of %s: %s", ETCD_MANIFEST,
                                         p->manifests_dir, strerror(-r)), r;
        } else {
                r = units_stop(p->bus, p->etcd_unit, run->timeout_usec, ret_error);
                if (r < 0)
                        return r;
        }
        run->etcd_held = true;
        r = wait_etcd_gone(run);
        if (r < 0)
                return free_and_format(ret_error, "%s", run->error), r;
        return 0;
}

static int apiserver_start(Run *run, char **ret_error) {
        RestorePlan *p = run->p;
        uint64_t took;
        int r;

        if (p->mode == RESTORE_MODE_STATIC_POD) {
                r = static_pod_manifest_move(p->held_dir, p->manifests_dir, APISERVER_MANIFEST);
                if (r < 0)
                        return free_and_format(ret_error, "cannot move %s back into %s: %s", APISERVER_MANIFEST,
                                         p->manifests_dir, strerror(-r)), r;
                run->apiserver_held = false;
                r = wait_port(run, true, &took);
                if (r < 0)
                        return free_and_format(ret_error, "kube-apiserver: %s", run->error), r;
                return 0;
        }
        run->apiserver_held = false;
        return units_start(p->bus, p->apiserver_unit, run->timeout_usec, ret_error);
}

static int step_start_etcd(Run *run, int64_t *ret_revision) {
        RestorePlan *p = run->p;
        _cleanup_free_ char *err = NULL;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        int r;

        report(run->fn, run->userdata, RESTORE_STEP_START_ETCD, RESTORE_STEP_RUNNING, "starting etcd");
        run->etcd_on_new = true;
        r = etcd_start(run, &err);
        if (r < 0)
                return free_and_format(&run->error, "%s", err ? err : strerror(-r)), r;
        run->etcd_start_ok = true;
        report(run->fn, run->userdata, RESTORE_STEP_START_ETCD, RESTORE_STEP_DONE, p->mode == RESTORE_MODE_STATIC_POD ?
               "%s moved back into %s" : "%s started", p->mode == RESTORE_MODE_STATIC_POD ? ETCD_MANIFEST :
               p->etcd_unit, p->manifests_dir);
        report(run->fn, run->userdata, RESTORE_STEP_WAIT_ETCD, RESTORE_STEP_RUNNING,
               "waiting for %s to answer with a leader at revision >= %" PRId64, p->endpoint, p->revision);
        r = wait_etcd_healthy(run, p->revision, ret_revision);
        if (r < 0)
                return r;
        report(run->fn, run->userdata, RESTORE_STEP_WAIT_ETCD, RESTORE_STEP_DONE,
               "etcd is healthy at revision %" PRId64 " (%" PRIu64 " ms)", *ret_revision,
               (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC);
        return 0;
}

static int step_start_apiserver(Run *run) {
        RestorePlan *p = run->p;
        _cleanup_free_ char *err = NULL;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        int r;

        if (!run->apiserver_held) {
                report(run->fn, run->userdata, RESTORE_STEP_START_APISERVER, RESTORE_STEP_SKIPPED,
                       "kube-apiserver was not running: left alone");
                return 0;
        }
        report(run->fn, run->userdata, RESTORE_STEP_START_APISERVER, RESTORE_STEP_RUNNING, "starting kube-apiserver");
        r = apiserver_start(run, &err);
        if (r < 0)
                return free_and_format(&run->error, "%s", err ? err : strerror(-r)), r;
        if (p->mode == RESTORE_MODE_STATIC_POD)
                report(run->fn, run->userdata, RESTORE_STEP_START_APISERVER, RESTORE_STEP_DONE,
                       "%s back in %s; %s port %u answers (%" PRIu64 " ms)", APISERVER_MANIFEST,
                       p->manifests_dir, p->apiserver_address, p->apiserver_port,
                       (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC);
        else
                report(run->fn, run->userdata, RESTORE_STEP_START_APISERVER, RESTORE_STEP_DONE,
                       "%s started (%" PRIu64 " ms)", p->apiserver_unit, (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC);
        return 0;
}

_printf_(2, 3) static void rollback_problem(RestoreResult *res, const char *fmt, ...) {
        _cleanup_free_ char *s = NULL;
        char *joined = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        if (!s)
                return;
        if (!res->rollback_error) {
                res->rollback_error = TAKE_PTR(s);
                return;
        }
        if (asprintf(&joined, "%s; %s", res->rollback_error, s) >= 0) {
                free(res->rollback_error);
                res->rollback_error = joined;
        }
}

static void rollback(Run *run, RestoreResult *res) {
        RestorePlan *p = run->p;
        _cleanup_close_ int parent_fd = -EBADF;
        bool etcd_stopped = true;
        int r;

        report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_RUNNING, "rolling back: %s",
               res->error ? res->error : "failed");
        res->rolled_back = true;

        /* 1. etcd off the restored data before its directory moves. (Before
         * the swap etcd runs on nothing of ours: no need to stop it.) */
        if (run->swapped && run->etcd_on_new && !run->etcd_held) {
                _cleanup_free_ char *err = NULL;
                report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_RUNNING,
                       "stopping etcd on the restored data");
                r = etcd_stop(run, &err);
                if (r < 0) {
                        etcd_stopped = false;
                        rollback_problem(res, "cannot stop etcd on the restored data (%s); %s was left in place",
                                         err ? err : strerror(-r), p->data_dir);
                }
        }

        /* 2. The old data dir back; the failed restore kept beside it. */
        parent_fd = open(p->parent_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (parent_fd < 0)
                rollback_problem(res, "cannot open %s: %s", p->parent_dir, strerror(errno));
        else if (etcd_stopped && run->swapped) {
                r = path_exists(p->data_dir) ? rename_in(parent_fd, p->data_dir, p->failed_restore_dir) : 0;
                if (r < 0)
                        rollback_problem(res, "cannot rename %s to %s: %s", p->data_dir, p->failed_restore_dir,
                                         strerror(-r));
                else {
                        res->failed_dir_kept = path_exists(p->failed_restore_dir);
                        if (p->data_dir_exists) {
                                r = rename_in(parent_fd, p->pre_restore_dir, p->data_dir);
                                if (r < 0)
                                        rollback_problem(res, "cannot rename %s back to %s: %s", p->pre_restore_dir,
                                                         p->data_dir, strerror(-r));
                        }
                        if (r >= 0) {
                                run->swapped = false;
                                report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_DONE,
                                       "%s is the old data again; the failed restore is kept as %s", p->data_dir,
                                       p->failed_restore_dir);
                        }
                }
                (void) fsync(parent_fd);
        } else if (path_exists(p->restore_dir)) {
                r = rename_in(parent_fd, p->restore_dir, p->failed_restore_dir);
                if (r < 0)
                        rollback_problem(res, "cannot rename %s to %s: %s", p->restore_dir, p->failed_restore_dir,
                                         strerror(-r));
                else {
                        res->failed_dir_kept = true;
                        report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_DONE,
                               "%s untouched; the failed restore is kept as %s", p->data_dir, p->failed_restore_dir);
                }
                (void) fsync(parent_fd);
        }

        /* 3. etcd as it was. */
        if (run->etcd_held && etcd_stopped && !run->swapped &&
            (p->mode == RESTORE_MODE_STATIC_POD || p->etcd_running)) {
                _cleanup_free_ char *err = NULL;
                report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_RUNNING,
                       "starting etcd on the old data");
                r = etcd_start(run, &err);
                if (r < 0)
                        rollback_problem(res, "cannot start etcd again: %s", err ? err : strerror(-r));
                else {
                        int64_t rev = 0;
                        free(run->error);
                        run->error = NULL;
                        if (wait_etcd_healthy(run, 0, &rev) < 0)
                                rollback_problem(res, "etcd is back on the old data but %s", run->error);
                        else
                                report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_DONE,
                                       "etcd is healthy on the old data at revision %" PRId64, rev);
                }
        }

        /* 4. kube-apiserver as it was. */
        if (run->apiserver_held) {
                _cleanup_free_ char *err = NULL;
                report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_RUNNING, "starting kube-apiserver");
                free(run->error);
                run->error = NULL;
                r = apiserver_start(run, &err);
                if (r < 0)
                        rollback_problem(res, "cannot start kube-apiserver again: %s", err ? err : strerror(-r));
                else
                        report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_DONE,
                               "kube-apiserver is back");
        }
        if (run->held_dir_made)
                (void) rmdir(p->held_dir);      /* only when empty: held manifests stay */

        if (res->rollback_error)
                report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_FAILED, "rollback incomplete: %s",
                       res->rollback_error);
        else
                report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_DONE,
                       "rolled back: everything is as it was before the restore");
}

int restore_run(RestorePlan *p, const Config *c, RestoreProgressFn fn, void *userdata, RestoreResult *ret) {
        Run run = { .p = p, .c = c, .fn = fn, .userdata = userdata, .tls = etcd_tls_from_config(&c->etcd),
                    .timeout_usec = c->restore.health_timeout_usec };
        RestoreResult res = {};
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        const char *step = NULL;
        int r;

        r = step_stop_apiserver(&run);
        if (r < 0)
                step = RESTORE_STEP_STOP_APISERVER;
        if (r >= 0 && (r = step_stop_etcd(&run)) < 0)
                step = RESTORE_STEP_STOP_ETCD;
        if (r >= 0 && (r = step_snapshot_restore(&run)) < 0)
                step = RESTORE_STEP_SNAPSHOT;
        if (r >= 0 && (r = step_swap(&run)) < 0)
                step = RESTORE_STEP_SWAP;
        if (r >= 0 && (r = step_start_etcd(&run, &res.etcd_revision)) < 0)
                step = run.etcd_start_ok ? RESTORE_STEP_WAIT_ETCD : RESTORE_STEP_START_ETCD;
        if (r >= 0 && (r = step_start_apiserver(&run)) < 0)
                step = RESTORE_STEP_START_APISERVER;

        if (r < 0) {
                const char *why = run.error ? run.error : strerror(-r);
                report(fn, userdata, step, RESTORE_STEP_FAILED, "%s", why);
                if (asprintf(&res.error, "%s: %s", step, why) < 0)
                        res.error = NULL;
                rollback(&run, &res);
        } else if (run.held_dir_made)
                (void) rmdir(p->held_dir);
        free(run.error);
        res.duration_usec = now_usec(CLOCK_MONOTONIC) - t0;
        *ret = res;
        return r < 0 ? r : 0;
}
