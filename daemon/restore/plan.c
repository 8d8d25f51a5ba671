/* SPDX-License-Identifier: MIT */
/*
 * plan.c — the half of the restore that changes nothing: check the data
 * dir and name the directories the run will make, tell how etcd runs here
 * (plan-detect.c), find the tool, take the restore lock,
 * resolve the backup, decompress and verify it next to the data dir, and
 * write the steps down. A dry run is this plan.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "backup/age-keyfile.h"
#include "etcd/etcd.h"
#include "format/mvcc.h"
#include "format/retention.h"
#include "restore/internal.h"
#include "restore/manifest.h"
#include "restore/proof.h"
#include "restore/static-pod.h"
#include "restore/units.h"
#include "util/io.h"
#include "util/parse.h"
#include "util/path.h"
#include "util/proc.h"
#include "util/str.h"
#include "util/time.h"

#define HELD_DIR_PREFIX "etcd-backupd-held-"
#define RECORD_MAX_BYTES (16u * 1024)   /* a run's record, <data_dir>.unfinished-restore-<ts> */
#define NAME_TRIES_MAX 100
#define PLAN_PASSED_OVER_NAMED 3      /* newer backups "latest" passed over, named in the plan */
/* How long the restore lock is retried: a dry run's service may still be
 * exiting when the real run's connection arrives. */
#define LOCK_WAIT_USEC (10 * USEC_PER_SEC)

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

void restore_report(RestoreProgressFn fn, void *userdata, const char *step, RestoreStepState state,
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

/* ---- the plan ---------------------------------------------------------------------- */

RestorePlan *restore_plan_free(RestorePlan *p) {
        if (!p)
                return NULL;
        inspect_backup_free(p->backup);
        sidecar_done(&p->sidecar);
        safe_close(p->lock_fd);
        safe_close(p->manifests_lock_fd);
        safe_close(p->backup_fd);
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
        free(p->passed_over);
        free(p->manifests_dir);
        free(p->held_dir);
        free(p->unfinished_file);
        free(p->apiserver_address);
        free(p->etcd_unit);
        free(p->apiserver_unit);
        free(p->endpoint);
        free(p->tool_path);
        strv_free(p->steps);
        member_done(&p->member);
        free(p->apiserver_cacert);
        free(p->apiserver_cacert_source);
        free(p->members_checked);
        return mfree(p);
}

/* Whether path is where a file system, or a bind mount of a directory of the same one, is mounted. */
static bool is_mount_root(const char *path) {
        struct statx stx;

        if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
                return false;
        return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/* A file system mounted below the data dir on this node (member/wal on a disk of its own): the swap renames
 * directories, and the mount would go aside with the old data dir while etcd came back on the restored copy on the
 * parent's file system. A mount table that cannot be read refuses nothing. (A pod's volume inside the data dir is
 * refused by plan_member(), a unit's BindPaths= there by plan_unit_binds(), what the running etcd's own mount
 * namespace has there by plan_etcd_mounts().) */
static int plan_mounts_below(RestorePlan *p, char **ret_error) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        /* As the kernel writes mount points: resolved (a parent may be a symbolic link, or the path spelt
         * with "//" or "/./"). */
        _cleanup_free_ char *mount = NULL, *real = realpath(p->data_dir, NULL);
        int r;

        if (!f)
                return 0;
        r = proc_mount_below(f, real ? real : p->data_dir, &mount);
        if (r <= 0)
                return r;
        return free_and_format(ret_error, "%s is a mount point inside the data dir %s: the restore renames the data "
                               "dir aside, and the mount would go with the old data while etcd came back on the "
                               "restored data without it; restore by hand, or move what it holds into the data "
                               "dir and unmount it first", mount, p->data_dir), -EXDEV;
}

/* The data dir: an absolute directory (or none yet), not a symlink nor a mount point; its parent, owner and mode,
 * and the timestamp the restore's directories are named by. */
static int plan_data_dir(RestorePlan *p, const Config *c, uint64_t now, char **ret_error) {
        char ts[FORMAT_COMPACT_MAX];
        struct statvfs vfs;
        struct stat st, pst;
        size_t len;
        int r;

        p->data_dir = strdup(p->member.data_dir.value);
        if (!p->data_dir)
                return -ENOMEM;
        len = strlen(p->data_dir);
        while (len > 1 && p->data_dir[len - 1] == '/')
                p->data_dir[--len] = '\0';
        if (p->data_dir[0] != '/' || len <= 1 || streq(path_basename(p->data_dir), ".") ||
            path_has_dotdot(p->data_dir) || len > PATH_MAX - 64)
                return free_and_format(ret_error, "the data dir \"%s\" (%s) cannot be restored into",
                                       p->member.data_dir.value, p->member.data_dir.source), -EINVAL;
        p->parent_dir = path_dirname(p->data_dir);
        p->timestamp = strdup(format_compact_utc(ts, sizeof ts, now));
        if (!p->parent_dir || !p->timestamp)
                return -ENOMEM;
        if (stat(p->parent_dir, &pst) < 0)
                return free_and_format(ret_error, "cannot use %s, the parent of the data dir: %s", p->parent_dir,
                                 strerror(errno)), -errno;
        if (!S_ISDIR(pst.st_mode))
                return free_and_format(ret_error, "%s is not a directory", p->parent_dir), -ENOTDIR;
        /* Said by the plan, not first by the run: the restored data dir, the temporary db and the run's record are
         * made there. The restore unit makes /usr, /boot, /home and /root read-only for itself. */
        if (statvfs(p->parent_dir, &vfs) >= 0 && (vfs.f_flag & ST_RDONLY))
                return free_and_format(ret_error, "cannot restore into %s: %s, where the restored data dir is made "
                                       "beside it, is on a file system mounted read-only (Read-only file system; "
                                       "etcd-backupd-restore@.service keeps /usr, /boot, /home and /root read-only: "
                                       "for a data dir there, ReadWritePaths=%s in a drop-in for it)", p->data_dir,
                                       p->parent_dir, p->parent_dir), -EROFS;
        if (lstat(p->data_dir, &st) < 0) {
                if (errno != ENOENT)
                        return free_and_format(ret_error, "cannot use %s: %s", p->data_dir, strerror(errno)), -errno;
                p->data_dir_exists = false;
        } else {
                if (S_ISLNK(st.st_mode)) {
                        _cleanup_free_ char *real = realpath(p->data_dir, NULL);
                        if (!real)
                                return free_and_format(ret_error, "%s is a symbolic link that leads to no "
                                                       "directory: %s", p->data_dir, strerror(errno)), -ELOOP;
                        return free_and_format(ret_error, "%s is a symbolic link: the restore swaps a directory, "
                                               "not a link to one; set restore.data_dir = \"%s\", where it "
                                               "leads (etcd keeps its link)", p->data_dir, real), -ELOOP;
                }
                if (!S_ISDIR(st.st_mode))
                        return free_and_format(ret_error, "%s is not a directory", p->data_dir), -ENOTDIR;
                if (st.st_dev != pst.st_dev || is_mount_root(p->data_dir))
                        return free_and_format(ret_error, "%s is a mount point: the restored data dir is made next to it "
                                         "in %s, outside that mount, and cannot be renamed into its place; "
                                         "mount the volume one level up and point etcd and restore.data_dir at "
                                         "a directory inside it", p->data_dir, p->parent_dir), -EXDEV;
                r = plan_mounts_below(p, ret_error);
                if (r < 0)
                        return r;
                p->data_dir_exists = true;
                p->data_uid = st.st_uid;
                p->data_gid = st.st_gid;
                p->data_mode = st.st_mode & 07777;
                p->data_dev = st.st_dev;
                p->data_ino = st.st_ino;
        }
        return 0;
}

/* Whether path is dir or inside it (both absolute, without a trailing '/'): its part from dir on ("" or "/…"), or
 * NULL. */
static const char *path_inside(const char *path, const char *dir) {
        size_t len = strlen(dir);

        if (strncmp(path, dir, len) != 0 || (path[len] != '\0' && path[len] != '/'))
                return NULL;
        return path + len;
}

/* etcd's unit binds another directory at or inside the data dir (BindPaths=/disk/wal:/var/lib/etcd/member/wal,
 * the WAL on a disk of its own): the host's mount table has nothing there, and etcd's next start would bind what
 * that directory holds now over the restored data (at the data dir itself, or at a parent of it, etcd would not
 * read the data dir the restore swaps at all). A directory bound onto itself, and a source that does not exist (its
 * bind skipped, or etcd's start failing as it does now), are let be. */
static int plan_unit_binds(RestorePlan *p, char **ret_error) {
        _cleanup_strv_free_ char **pairs = NULL;
        _cleanup_free_ char *err = NULL, *real = realpath(p->data_dir, NULL);
        int r;

        r = units_get_binds(p->bus, p->etcd_unit, &pairs, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return free_and_format(ret_error, "cannot tell what %s binds into its mounts: %s", p->etcd_unit,
                                       err ? err : strerror(-r)), r;
        for (char **i = pairs; i && i[0] && i[1]; i += 2) {
                const char *rest = path_inside(i[1], p->data_dir), *below = path_inside(p->data_dir, i[1]);
                struct stat a, b;

                if (!rest && real)
                        rest = path_inside(i[1], real);
                if (!below && real)
                        below = path_inside(real, i[1]);
                if (below && *below) {
                        /* Bound at a parent: etcd sees the data dir's path in the bound directory. */
                        _cleanup_free_ char *seen = NULL;

                        if (asprintf(&seen, "%s%s", i[0], below) < 0)
                                return -ENOMEM;
                        if (stat(i[0], &a) < 0 || (stat(seen, &a) >= 0 && stat(p->data_dir, &b) >= 0 &&
                                                   a.st_dev == b.st_dev && a.st_ino == b.st_ino))
                                continue;
                        return free_and_format(ret_error, "%s binds %s at %s, which holds the data dir %s (BindPaths= "
                                               "or BindReadOnlyPaths=; systemctl cat %s): etcd sees %s there, not "
                                               "the directory the restore would swap; make etcd's data dir the same "
                                               "directory inside its unit and out, then restore again", p->etcd_unit,
                                               i[0], i[1], p->data_dir, p->etcd_unit, seen), -EXDEV;
                }
                if (!rest || stat(i[0], &a) < 0)
                        continue;
                if (stat(i[1], &b) >= 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
                        continue;
                return free_and_format(ret_error, "%s binds %s at %s, %s the data dir %s (BindPaths= or "
                                       "BindReadOnlyPaths=; systemctl cat %s): the restore swaps the data dir, and "
                                       "etcd's next start would bind %s over the restored data with what it holds "
                                       "now; restore such a member by hand, or stop etcd, move what %s holds into "
                                       "the data dir, drop that line, and start etcd first", p->etcd_unit, i[0],
                                       i[1], *rest ? "inside" : "at", p->data_dir, p->etcd_unit, i[0], i[0]),
                       -EXDEV;
        }
        return 0;
}

/* The running etcd has another directory mounted inside its data dir, in its own mount namespace, which the host's
 * table does not show: a unit's BindPaths= since taken out but not yet restarted, a mount its unit makes another
 * way, a pod that is not what its manifest now says. Were etcd started so again, the mount would cover the
 * restored data with what it holds now. A directory of the data dir mounted onto itself (ReadWritePaths=, a hostPath
 * of that very directory) is let be: the restored data has its own at that place. pid holds the data dir's db,
 * db_st. Where etcd's view cannot be read, or is not the data dir (a member/ that is a symbolic link, a process in
 * a chroot), nothing is refused (as for the host's table). */
static int plan_etcd_mounts(RestorePlan *p, pid_t pid, const struct stat *db_st, char **ret_error) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *root_view = NULL;
        char view[PATH_MAX], path[64];
        struct stat st, vst, dst;
        size_t len;
        int r;

        /* The data dir as etcd sees it: where it holds the db, less member/snap/db; etcd's root would make every
         * mount of its namespace one inside the data dir. */
        if (proof_held_db(pid, view, sizeof view, &st) <= 0 || st.st_dev != db_st->st_dev ||
            st.st_ino != db_st->st_ino)
                return 0;
        len = strlen(view) - strlen("/member/snap/db");
        if (len == 0)
                return 0;
        view[len] = '\0';
        if (asprintf(&root_view, "/proc/%d/root%s", (int) pid, view) < 0)
                return -ENOMEM;
        if (stat(root_view, &vst) < 0 || stat(p->data_dir, &dst) < 0 || vst.st_dev != dst.st_dev ||
            vst.st_ino != dst.st_ino)
                return 0;
        snprintf(path, sizeof path, "/proc/%d/mountinfo", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        for (;;) {
                _cleanup_free_ char *mount = NULL, *there = NULL, *here = NULL;
                struct stat a, b;

                r = proc_mount_below(f, view, &mount);
                if (r <= 0)
                        return r;
                if (asprintf(&there, "/proc/%d/root%s", (int) pid, mount) < 0 ||
                    asprintf(&here, "%s%s", p->data_dir, mount + len) < 0)
                        return -ENOMEM;
                if (stat(there, &a) < 0 ||
                    (stat(here, &b) >= 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino))
                        continue;
                return free_and_format(ret_error, "etcd (process %d) runs with another directory mounted at %s, "
                                       "inside its data dir %s as it sees it (in its own mount namespace: a unit's "
                                       "BindPaths= not yet restarted away, a mount its unit makes, a pod not as its "
                                       "manifest says), not the directory at %s on this node: the restore swaps the "
                                       "data dir, and an etcd started so again would have that mount over the "
                                       "restored data with what it holds now; restore such a member by hand, or "
                                       "move what it holds into the data dir, drop the mount and restart etcd "
                                       "first", (int) pid, mount, view, here), -EXDEV;
        }
}

/* etcd running here on other data than the data dir its settings name (a unit whose Environment= its ExecStart=
 * overrides, a manifest that is not what the running pod was started from): the restore would stop the control
 * plane, swap a directory etcd does not read, and etcd would come back on its old data (the proof after its start
 * would see it and roll back). Refused before anything stops where it is certain: the data dir holds a
 * member/snap/db, and the one process of this host that listens where the endpoint connects holds another db, still
 * linked, and not that one, both before and after it was looked at (etcd renames a new db over the old one when it
 * defragments or takes a leader's snapshot). Anything else goes on as before: a db no longer linked (the data dir
 * wiped, or its db replaced, under a running etcd: what restores are for), no etcd running here, a data dir
 * without a db, an endpoint on another host, several listeners for one that names a host (members of one cluster on
 * one host), files that cannot be read. Where that process holds the data dir's db, what its own mount namespace has
 * inside the data dir is looked at (plan_etcd_mounts()). */
static int plan_running_etcd(RestorePlan *p, char **ret_error) {
        _cleanup_free_ char *db = path_join(p->data_dir, "member/snap/db");
        char held[PATH_MAX], hint[PATH_MAX * 2 + 512];
        struct stat st, st2, hst;
        ProofAddress address;
        uint16_t port;
        pid_t pids[2];
        ssize_t n;
        int r;

        if (!db)
                return -ENOMEM;
        if (stat(db, &st) < 0 || !S_ISREG(st.st_mode) || proof_url_port(p->endpoint, &port) < 0)
                return 0;
        r = proof_url_address(p->endpoint, &address);
        if (r > 0 && !proof_address_is_local(&address))
                return 0;
        n = proof_listener_pids(port, r > 0 ? &address : NULL, pids, ELEMENTSOF(pids));
        if (n != 1)
                return 0;
        r = proof_holds_file(pids[0], st.st_dev, st.st_ino);
        if (r > 0)
                return plan_etcd_mounts(p, pids[0], &st, ret_error);
        if (r < 0 || proof_held_db(pids[0], held, sizeof held, &hst) <= 0 || hst.st_nlink == 0 ||
            (hst.st_dev == st.st_dev && hst.st_ino == st.st_ino))
                return 0;
        if (stat(db, &st2) < 0 || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino)
                return 0;       /* replaced meanwhile: the proof after etcd's start decides */
        if (p->mode == RESTORE_MODE_STATIC_POD)
                snprintf(hint, sizeof hint, "The etcd pod does not run what %s/%s says: is that directory the "
                         "kubelet's staticPodPath (restore.manifests_dir), and has the kubelet restarted etcd since "
                         "the manifest last changed? Once etcd runs on %s, restore again", p->manifests_dir,
                         ETCD_MANIFEST, p->data_dir);
        else
                snprintf(hint, sizeof hint, "Make %s's ExecStart= and environment name the data dir etcd runs on "
                         "(systemctl cat %s); or, if etcd is to run on %s, restart it so that it does (systemctl "
                         "restart %s); then restore again", p->etcd_unit, p->etcd_unit, p->data_dir, p->etcd_unit);
        return free_and_format(ret_error, "etcd does not run on the data dir the restore would swap: process %d, "
                               "which listens on port %u for %s, holds %s open (the path as that process sees it; "
                               "device %u:%u, inode %" PRIu64 "), not %s (device %u:%u, inode %" PRIu64 ") of the "
                               "data dir %s (%s). The restore would swap a directory etcd does not read, and etcd "
                               "would come back on its old data. %s", (int) pids[0], (unsigned) port, p->endpoint,
                               held, major(hst.st_dev), minor(hst.st_dev), (uint64_t) hst.st_ino, db,
                               major(st.st_dev), minor(st.st_dev), (uint64_t) st.st_ino, p->data_dir,
                               p->member.data_dir.source, hint),
               -ESTALE;
}

/* The directories a restore makes or renames to are named by the second it started in. Under the lock, take the
 * first tag (<ts>, <ts>-2, <ts>-3, ...) none of whose names exist: a second restore within the same second (a
 * retry after a quick refusal) must not be refused for it, and nothing earlier is ever overwritten. */
static int plan_pick_names(RestorePlan *p, char **ret_error) {
        _cleanup_free_ char *manifests_parent = NULL;

        if (p->apiserver_pod) { /* static-pod mode, or a mixed node: manifests are held */
                manifests_parent = path_dirname(p->manifests_dir);
                if (!manifests_parent)
                        return -ENOMEM;
        }
        for (unsigned n = 1; n <= NAME_TRIES_MAX; n++) {
                _cleanup_free_ char *tag = NULL;
                bool taken = false;

                p->restore_dir = mfree(p->restore_dir);
                p->pre_restore_dir = mfree(p->pre_restore_dir);
                p->failed_restore_dir = mfree(p->failed_restore_dir);
                p->unfinished_file = mfree(p->unfinished_file);
                p->held_dir = mfree(p->held_dir);
                if ((n == 1 ? !(tag = strdup(p->timestamp)) : asprintf(&tag, "%s-%u", p->timestamp, n) < 0) ||
                    asprintf(&p->restore_dir, "%s.restore-%s", p->data_dir, tag) < 0 ||
                    asprintf(&p->pre_restore_dir, "%s.pre-restore-%s", p->data_dir, tag) < 0 ||
                    asprintf(&p->failed_restore_dir, "%s.failed-restore-%s", p->data_dir, tag) < 0 ||
                    asprintf(&p->unfinished_file, "%s.unfinished-restore-%s", p->data_dir, tag) < 0 ||
                    (manifests_parent && asprintf(&p->held_dir, "%s/%s%s", streq(manifests_parent, "/") ? "" :
                                                  manifests_parent, HELD_DIR_PREFIX, tag) < 0))
                        return -ENOMEM;
                for (const char *const *d = (const char *const[]) { p->restore_dir, p->pre_restore_dir,
                                                                    p->failed_restore_dir, p->unfinished_file,
                                                                    p->held_dir, NULL };
                     *d && !taken; d++)
                        taken = path_exists(*d);
                if (!taken)
                        return 0;
        }
        return free_and_format(ret_error, "restore directories named %s up to %s-%d already exist next to %s; remove "
                               "old ones", p->timestamp, p->timestamp, NAME_TRIES_MAX, p->data_dir), -EEXIST;
}

/* flock dir (exclusive) on a descriptor of its own, retried for a while: a
 * dry run's service may still be exiting when the real run's connection
 * arrives. -EBUSY with what when another restore holds it. */
static int lock_dir(const char *dir, const char *what, int *ret_fd, char **ret_error) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + LOCK_WAIT_USEC;

        *ret_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (*ret_fd < 0)
                return free_and_format(ret_error, "cannot open %s: %s", dir, strerror(errno)), -errno;
        while (flock(*ret_fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno != EWOULDBLOCK)
                        return free_and_format(ret_error, "cannot lock %s: %s", dir, strerror(errno)), -errno;
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return free_and_format(ret_error, "another restore %s is running; wait for it to end "
                                               "(journalctl -u 'etcd-backupd-restore@*')", what), -EBUSY;
                sleep_usec(PROBE_INTERVAL_USEC);
        }
        return 0;
}

static int plan_lock(RestorePlan *p, char **ret_error) {
        _cleanup_free_ char *what = NULL;
        struct stat held, st;

        /* One directory may be both parents (/srv/k8s/manifests and
         * /srv/k8s/etcd): a flock is per open file, and a second one on it
         * would wait for this very restore. */
        if (p->manifests_lock_fd >= 0 && fstat(p->manifests_lock_fd, &held) >= 0 &&
            stat(p->parent_dir, &st) >= 0 && held.st_dev == st.st_dev && held.st_ino == st.st_ino)
                return 0;
        if (asprintf(&what, "of %s", p->data_dir) < 0)
                return -ENOMEM;
        return lock_dir(p->parent_dir, what, &p->lock_fd, ret_error);
}

/* Before anything else: a restore that is running holds the manifests
 * dir's parent (while it runs, etcd.yaml may be away, and how etcd runs
 * here cannot be told), and one that was killed (power, the OOM killer)
 * may have left manifests in its holding dir, where the kubelet does not
 * run them. Both are refused, naming what to do. */
static int plan_manifests_first(RestorePlan *p, const Config *c, char **ret_error) {
        _cleanup_free_ char *parent = path_dirname(c->restore.manifests_dir), *found = NULL, *tag = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        bool held_etcd = false;
        struct dirent *de;
        int r;

        if (!parent)
                return -ENOMEM;
        if (!path_exists(parent))
                return 0; /* no static pods here */
        r = lock_dir(parent, "on this node", &p->manifests_lock_fd, ret_error);
        if (r < 0)
                return r;
        d = opendir(parent);
        if (!d)
                return free_and_format(ret_error, "cannot read %s: %s", parent, strerror(errno)), -errno;
        while ((de = readdir(d))) {
                _cleanup_(closedirp) DIR *held = NULL;
                _cleanup_free_ char *dir = NULL;
                struct dirent *f;

                if (!startswith(de->d_name, HELD_DIR_PREFIX))
                        continue;
                dir = path_join(parent, de->d_name);
                if (!dir)
                        return -ENOMEM;
                held = opendir(dir);
                while (held && (f = readdir(held))) {
                        if (streq(f->d_name, ".") || streq(f->d_name, ".."))
                                continue;
                        held_etcd = held_etcd || streq(f->d_name, ETCD_MANIFEST);
                        if ((free_and_format(&found, "%s%s%s/%s", found ? found : "", found ? ", " : "", dir,
                                             f->d_name), !found) ||
                            (!tag && !(tag = strdup(de->d_name + strlen(HELD_DIR_PREFIX)))))
                                return -ENOMEM;
                }
        }
        /* The record is left for the next attempt to quote: in systemd mode it alone names the units the
         * killed restore stopped (on a mixed node, etcd's with kube-apiserver's manifest held here). */
        if (found && held_etcd)
                return free_and_format(ret_error, "an earlier restore did not finish: it left %s, moved out of %s "
                                       "(the kubelet does not run a pod whose manifest is not there). Before "
                                       "etcd.yaml goes back, check etcd's data dir (%s): a restore killed while it "
                                       "swapped leaves the old data as <data dir>.pre-restore-%s or <data dir>."
                                       "restore-%s, and its record <data dir>.unfinished-restore-%s says what it did "
                                       "and names the old data by its inode (\"the data from before it is the "
                                       "directory of inode N\"; stat -c %%i shows each directory's). Then move each "
                                       "back into %s, remove the empty holding "
                                       "directory, and restore again (the record is quoted then, with where the old "
                                       "data is)", found, c->restore.manifests_dir,
                                       c->restore.data_dir ? c->restore.data_dir : "--data-dir in the held etcd.yaml",
                                       tag, tag, tag, c->restore.manifests_dir),
                       -EUCLEAN;
        if (found)
                return free_and_format(ret_error, "an earlier restore did not finish: it left %s, moved out of %s "
                                       "(the kubelet does not run a pod whose manifest is not there). etcd.yaml is "
                                       "not among them: it went back, or etcd runs as a systemd unit (%s), which "
                                       "the restore may have left stopped. Its record <data dir>.unfinished-"
                                       "restore-%s says what it did, and a restore killed while it swapped leaves "
                                       "the old data as <data dir>.pre-restore-%s or <data dir>.restore-%s: check "
                                       "etcd's data dir (%s) and that etcd runs on it. Then move each back into %s, "
                                       "remove the empty holding directory, and restore again (the record is quoted "
                                       "then, with where the old data is)", found,
                                       c->restore.manifests_dir, c->restore.etcd_unit, tag, tag, tag,
                                       c->restore.data_dir ? c->restore.data_dir : "etcd's --data-dir",
                                       c->restore.manifests_dir),
                       -EUCLEAN;
        return 0;
}

/* Which of the data dir, pre and restored (siblings in parent) is the directory the record's text names as the
 * data from before the run, by its inode on parent's file system (the device number it recorded may be another
 * after a reboot: btrfs, NVMe, device mapper). NULL when none is; *ret_ino is the inode named, 0 for a record that
 * names none (written before records did). */
static const char *old_data_where(const char *text, const char *parent, const char *data_dir, const char *pre,
                                  const char *restored, uintmax_t *ret_ino) {
        const char *at = strstr(text, RECORD_OLD_DATA);
        const char *paths[] = { data_dir, pre, restored };
        struct stat pst;
        uintmax_t ino;

        *ret_ino = 0;
        if (!at || sscanf(at + strlen(RECORD_OLD_DATA), "%ju", &ino) != 1 || ino == 0)
                return NULL;
        *ret_ino = ino;
        if (stat(parent, &pst) < 0)
                return NULL;
        return swap_find_dir(paths, ELEMENTSOF(paths), pst.st_dev, (ino_t) ino);
}

/* The record a run keeps while it changes the node (restore_run() writes
 * <data_dir>.unfinished-restore-<tag> before it stops anything and removes
 * it once it has ended or rolled back completely): one that is still there
 * is a restore that was killed, or whose rollback was incomplete. Its text,
 * one line each, says what that run stops and where the old data goes. */
static int refuse_unfinished(RestorePlan *p, const char *name, const char *tag, char **ret_error) {
        _cleanup_free_ char *path = path_join(p->parent_dir, name), *pre = NULL, *restored = NULL, *text = NULL,
                            *said = NULL, *where = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *old;
        uintmax_t ino;
        bool had_none;
        struct stat st;
        ssize_t n;

        if (!path || asprintf(&pre, "%s.pre-restore-%s", p->data_dir, tag) < 0 ||
            asprintf(&restored, "%s.restore-%s", p->data_dir, tag) < 0)
                return -ENOMEM;
        /* Quoted only when it is what a restore wrote: root's regular file
         * (never a link to another file, whose text would be shown). */
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0 && fstat(fd, &st) >= 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
            (text = malloc(RECORD_MAX_BYTES + 1)) && (n = loop_read(fd, text, RECORD_MAX_BYTES)) >= 0) {
                text[n] = '\0';
                for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
                     line = strtok_r(NULL, "\n", &save))
                        if (free_and_format(&said, "%s%s%s", said ? said : "", said ? "; " : "", line), !said)
                                return -ENOMEM;
        }
        if (!said && !(said = strdup("not a record a restore wrote (not root's regular file): not quoted")))
                return -ENOMEM;
        /* Where the data is now: where the directory the record names as the data from before is (an exchange
         * between the swap's two steps leaves it under the restore's name, the rollback's leaves the restored data
         * under the old data's); else from the names that are there, and from the record: a run on a node
         * without a data dir sets none aside, so its restored dir, once renamed into place, is the data dir. */
        old = old_data_where(said, p->parent_dir, p->data_dir, pre, restored, &ino);
        if (!old && ino == 0 && path_exists(pre))       /* a record that names no inode: as the swap's names say */
                old = pre;
        had_none = strstr(said, ", which did not exist") && !path_exists(restored);
        if (!old && ino > 0)
                (void) free_and_format(&where, "None of %s, %s and %s is the directory it found as the data dir "
                                       "(inode %ju, as stat -c %%i shows): the data from before it was moved or "
                                       "removed since; find it before you go on", p->data_dir, pre, restored, ino);
        else if (old && streq(old, p->data_dir) && path_exists(pre))
                (void) free_and_format(&where, "%s is the data from before it (its rollback had put it back); %s holds "
                                       "the restored data, despite its name: rename it to %s.failed-restore-%s "
                                       "before you remove the record, which is what tells the two apart",
                                       p->data_dir, pre, p->data_dir, tag);
        else if (old && streq(old, p->data_dir))
                (void) free_and_format(&where, "%s is the data from before it (it had not swapped it, or its rollback "
                                       "put it back)%s%s", p->data_dir, path_exists(restored) ?
                                       "; a restore it had not put in place is " : "",
                                       path_exists(restored) ? restored : "");
        else if (old && streq(old, restored) && p->data_dir_exists)
                (void) free_and_format(&where, "%s is the restored data (the restore did not finish); the old data is "
                                       "%s, under the restore's name (it was killed between the swap's two steps): "
                                       "rename it to %s before you remove the record, which is what tells the two "
                                       "apart", p->data_dir, restored, pre);
        else if (old && streq(old, restored))
                (void) free_and_format(&where, "%s does not exist: its old data is %s; rename it back to %s first",
                                       p->data_dir, restored, p->data_dir);
        else if (old)
                (void) free_and_format(&where, p->data_dir_exists ?
                                       "%s is the restored data (the restore did not finish); the old data is %s" :
                                       "%s does not exist: its old data is %s; rename it back first", p->data_dir,
                                       old);
        else if (p->data_dir_exists && had_none)
                (void) free_and_format(&where, "There was no data dir before it: %s is the restored data (the restore "
                                       "did not finish), or one made since (an etcd started on no data)",
                                       p->data_dir);
        else
                where = strdup(p->data_dir_exists ? "It had not swapped the data dir: it is the data from before" :
                               "The data dir does not exist");
        if (!where)
                return -ENOMEM;
        return free_and_format(ret_error, "an earlier restore did not finish (%s: %s). %s. Check the node: etcd "
                               "on the data you want, and what the record says the restore stopped running again "
                               "(systemctl start, or the manifests back); then remove %s and restore again", path,
                               said, where, path), -EUCLEAN;
}

/* What a killed restore left next to the data dir: its record (above), or
 * a <data_dir>.restore-<tag>: a restore never put in place (etcd's tool ran,
 * the swap had not), or the old data (a kill between the swap's exchange and
 * its rename), which only the record told apart. Refused, naming it, and the
 * old data dir when the data dir is missing. */
static int plan_leftover_restore(RestorePlan *p, char **ret_error) {
        _cleanup_free_ char *prefix = NULL, *unfinished = NULL, *restore = NULL, *pre = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;

        if (asprintf(&prefix, "%s.restore-", path_basename(p->data_dir)) < 0 ||
            asprintf(&unfinished, "%s.unfinished-restore-", path_basename(p->data_dir)) < 0)
                return -ENOMEM;
        d = opendir(p->parent_dir);
        if (!d)
                return free_and_format(ret_error, "cannot read %s: %s", p->parent_dir, strerror(errno)), -errno;
        /* The record says the most: it goes first, wherever it is listed. */
        while ((de = readdir(d))) {
                if (startswith(de->d_name, unfinished))
                        return refuse_unfinished(p, de->d_name, de->d_name + strlen(unfinished), ret_error);
                if (!restore && startswith(de->d_name, prefix) &&
                    (!(restore = strdup(de->d_name)) ||
                     asprintf(&pre, "%s.pre-restore-%s", p->data_dir, de->d_name + strlen(prefix)) < 0))
                        return -ENOMEM;
        }
        if (!restore)
                return 0;
        if (!p->data_dir_exists && path_exists(pre))
                return free_and_format(ret_error, "an earlier restore did not finish: %s does not exist, its old "
                                       "data is %s and %s/%s is a restore that was never put in place. Rename %s "
                                       "back to %s, move the other out of %s, then restore again", p->data_dir, pre,
                                       p->parent_dir, restore, pre, p->data_dir, p->parent_dir), -EUCLEAN;
        return free_and_format(ret_error, "an earlier restore did not finish: %s/%s is a restore that was never put "
                               "in place, or, if that restore was killed between the swap's exchange and its rename, "
                               "the data from before it (its record, which told them apart, is gone). Check which "
                               "of %s and %s/%s holds the data you want and that etcd runs on %s, move the other out "
                               "of %s, then restore again", p->parent_dir, restore, p->data_dir, p->parent_dir,
                               restore, p->data_dir, p->parent_dir), -EUCLEAN;
}

static int refuse_future_latest(const RestorePlan *p, uint64_t created_usec, char **ret_error) {
        char when[FORMAT_COMPACT_MAX], now[FORMAT_COMPACT_MAX];
        uint64_t t = now_usec(CLOCK_REALTIME);

        if (!retention_is_future(created_usec, t, RETENTION_FUTURE_SLACK_USEC))
                return 0;
        return free_and_format(ret_error, "\"latest\" would be %s, which is named %s, later than now (%s): the clock "
                               "was set back since, or was ahead when it was taken, so the newest name may not be the "
                               "newest data. Name the backup to restore (etcd-backupctl list shows each with its "
                               "revision)", path_basename(p->backup_path), format_compact_utc(when, sizeof when,
                               created_usec), format_compact_utc(now, sizeof now, t)), -ERANGE;
}

/* Whether path is inside dir (a file or directory below it, not dir itself). */
static bool under_dir(const char *path, const char *dir) {
        const char *rest = startswith(path, dir);
        return rest && *rest == '/';
}

static int plan_resolve(RestorePlan *p, const Config *c, const char *backup, char **ret_error) {
        _cleanup_free_ char *sidecar_name = NULL, *dir = NULL;
        _cleanup_close_ int dir_fd = -EBADF, sidecar_fd = -EBADF;
        const char *why = NULL;
        StoreName sn;
        int r;

        if (streq(backup, "latest")) {
                _cleanup_(store_freep) Store *store = NULL;
                _cleanup_free_ char *err = NULL;
                StoreEntry *e = NULL;
                size_t n_entries = 0;

                r = store_open(c->storage.directory, false, &store, &err);
                if (r < 0)
                        return free_and_format(ret_error, "cannot find the latest backup: %s",
                                         err ? err : strerror(-r)), r;
                r = store_list(store, &e, &n_entries);
                if (r < 0)
                        return free_and_format(ret_error, "cannot list %s: %s", c->storage.directory, store_list_error(r)),
                                       r;
                /* The newest with a sidecar; the plan names the newer ones
                 * passed over, so that the operator sees them. */
                size_t skipped = 0;
                uint64_t chosen_usec = 0;
                for (size_t i = 0; i < n_entries && !p->backup_path; i++)
                        if (e[i].has_sidecar) {
                                p->backup_path = path_join(c->storage.directory, e[i].name);
                                if (!p->backup_path) {
                                        store_entries_free(e, n_entries);
                                        return -ENOMEM;
                                }
                                chosen_usec = e[i].parsed.created_usec;
                        } else if (++skipped <= PLAN_PASSED_OVER_NAMED)
                                append_format(&p->passed_over, "%s (%s%s)", e[i].name,
                                              e[i].sidecar_problem ? "sidecar unusable: " : "no sidecar",
                                              e[i].sidecar_problem ? e[i].sidecar_problem : "");
                if (skipped > PLAN_PASSED_OVER_NAMED)
                        append_format(&p->passed_over, "and %zu more", skipped - PLAN_PASSED_OVER_NAMED);
                if (!p->backup_path) {
                        store_entries_free(e, n_entries);
                        return free_and_format(ret_error, "no backup with a sidecar in %s%s%s", c->storage.directory,
                                               p->passed_over ? "; passed over: " : "",
                                               p->passed_over ? p->passed_over : ""),
                               -ENOENT;
                }
                /* Newest by name is newest taken only while the clock went forward: a name later than now
                 * (the clock set back since, or ahead then) leaves "latest" to the operator. */
                store_entries_free(e, n_entries);
                r = refuse_future_latest(p, chosen_usec, ret_error);
                if (r < 0)
                        return r;
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
        p->backup_name = strdup(path_basename(p->backup_path));
        dir = strndup(p->backup_path, (size_t) (path_basename(p->backup_path) - p->backup_path));
        if (!p->backup_name || !dir)
                return -ENOMEM;
        if (!p->backup_name[0])
                return free_and_format(ret_error, "%s names a directory, not a backup", p->backup_path), -EINVAL;
        if (strlen(dir) > 1)
                dir[strlen(dir) - 1] = '\0'; /* no trailing slash, but "/" stays */
        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        r = dir_fd < 0 ? -errno : open_confined(dir_fd, dir, p->backup_name, &p->backup_fd, ret_error);
        if (r == -ENOENT)
                /* The client saw the file: under the shipped unit (PrivateTmp=yes) the service does not. */
                return free_and_format(ret_error, "no backup %s: %s%s", p->backup_path, strerror(-r),
                                       under_dir(p->backup_path, "/tmp") || under_dir(p->backup_path, "/var/tmp") ?
                                       " here (the restore service has a /tmp and /var/tmp of its own, "
                                       "PrivateTmp=yes: move the file to /root or to storage.directory)" : ""), r;
        if (dir_fd < 0)
                return free_and_format(ret_error, "no backup %s: %s", p->backup_path, strerror(-r)), r;
        if (r < 0)
                return r;
        if (store_name_parse(p->backup_name, &sn) >= 0)
                p->created_usec = sn.created_usec;

        if (asprintf(&sidecar_name, "%s%s", p->backup_name, SIDECAR_SUFFIX) < 0)
                return -ENOMEM;
        r = open_confined(dir_fd, dir, sidecar_name, &sidecar_fd, ret_error);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = sidecar_read_fd(sidecar_fd, &p->sidecar, &why);
        if (r == -EFBIG)
                return free_and_format(ret_error, "the sidecar %s/%s is larger than %zu bytes", dir, sidecar_name,
                                       INSPECT_SIDECAR_MAX_BYTES), -EFBIG;
        if (r == -EBADMSG || (r == -ENOMEM && why))
                return free_and_format(ret_error, "the sidecar %s/%s is damaged: %s", dir, sidecar_name,
                                 why ? why : strerror(-r)), r == -ENOMEM ? r : -EBADMSG;
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return free_and_format(ret_error, "cannot read the sidecar %s/%s: %s", dir, sidecar_name,
                                       strerror(-r)), r;
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
                _cleanup_free_ char *why = NULL;

                r = age_identity_load_file(c->encryption.identity_file, &ids, &n_ids, &why);
                if (r < 0 && r != -ENOENT) {
                        snprintf(reason, reason_size, "cannot read encryption.identity_file %s: %s",
                                 c->encryption.identity_file, why ? why : strerror(-r));
                        return r;
                }
        }
        /* Through the descriptor plan_resolve() checked: the same file, whatever
         * the name in the daemon user's directory points to now. */
        /* Bounded by the sidecar's db_size: the copy goes on the data dir's file system, where etcd runs. */
        r = inspect_backup_open_fd(p->backup_fd, p->backup_path, p->parent_dir, ids, n_ids,
                                   p->has_sidecar ? p->sidecar.db_size : 0, &p->backup, reason, reason_size);
        age_identities_free(ids, n_ids);
        /* The restore has no --identity: the key is read from the service's configuration alone. */
        if (r == -ENOKEY && c->encryption.identity_file)
                snprintf(reason, reason_size, "encrypted backup: encryption.identity_file %s does not exist; the "
                         "restore service decrypts with that file of %s", c->encryption.identity_file,
                         c->path ? c->path : "its configuration");
        else if (r == -ENOKEY)
                snprintf(reason, reason_size, "encrypted backup: the restore service decrypts with "
                         "encryption.identity_file of %s, which is not set; put the age identity in a file only "
                         "root may read and name it there", c->path ? c->path : "its configuration");
        return r;
}

static int plan_verify(RestorePlan *p, const Config *c, char **ret_error) {
        char reason[INSPECT_REASON_MAX] = "", a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX], c_free[FORMAT_BYTES_MAX];
        BboltInfo info;
        struct statvfs sv;
        uint64_t avail, need;
        int r;

        /* The db's copy read from the backup (none for one read in place), then the restored data dir of the same
         * size and more: said before a copy fills what etcd, still running, writes to. (The data dir's room is
         * checked again below, with the db's own size.) */
        if (p->has_sidecar) {
                struct stat st;
                bool copied;

                if (statvfs(p->parent_dir, &sv) < 0 || fstat(p->backup_fd, &st) < 0)
                        return free_and_format(ret_error, "cannot check free space in %s: %s", p->parent_dir,
                                               strerror(errno)), -errno;
                copied = p->sidecar.compression != CODEC_NONE || p->sidecar.encrypted ||
                         !inspect_may_read_in_place(&st);
                avail = (uint64_t) sv.f_bavail * (uint64_t) sv.f_frsize;
                need = (copied ? 2 : 1) * p->sidecar.db_size + RESTORE_SPACE_MARGIN_BYTES;
                if (p->sidecar.db_size > INT64_MAX / 4 || avail < need)
                        return free_and_format(ret_error, "not enough space in %s for %sthe restored data dir (the "
                                               "db is %s by the backup's sidecar): it needs about %s, %s is free",
                                               p->parent_dir, copied ? "the db's copy read from the backup and " : "",
                                               format_bytes(a, sizeof a, p->sidecar.db_size),
                                               format_bytes(b, sizeof b, need),
                                               format_bytes(c_free, sizeof c_free, avail)),
                               -ENOSPC;
        }
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
        /* etcd's tool takes the last 32 bytes for the hash only when the file
         * is that plus whole 512-byte blocks; a db that is not whole pages
         * (etcd's always are) would keep them inside. */
        r = bbolt_get_info(p->backup->db, &info);
        if (r < 0)
                return free_and_format(ret_error, "%s: cannot read the db's meta page: %s", p->backup_path,
                                       strerror(-r)), r;
        if (p->db_size % info.page_size != 0)
                return free_and_format(ret_error, "%s: the db is %" PRIu64 " bytes, not a whole number of its %" PRIu32
                                       "-byte pages: not a db etcd wrote", p->backup_path, p->db_size, info.page_size),
                       -EBADMSG;
        r = inspect_revision(p->backup, &p->revision);
        if (r < 0)
                return free_and_format(ret_error, "%s: cannot read the revision: %s", p->backup_path,
                                 bbolt_last_error(p->backup->db) ? bbolt_last_error(p->backup->db) : strerror(-r)),
                       r;
        /* etcd answers at the finished compaction's revision when that is
         * above the newest key: the proof after the start expects that. */
        r = mvcc_restored_revision(p->backup->db, &p->etcd_revision, &p->compact_revision);
        if (r < 0)
                return free_and_format(ret_error, "%s: cannot tell the revision etcd will answer at: %s", p->backup_path,
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

/* What etcd really runs with: static pod, its etcd.yaml; systemd, the
 * unit's ExecStart= and environment over D-Bus. The restore block
 * overrides; a disagreement is refused, nothing stopped. */
static int plan_member(RestorePlan *p, const Config *c, char **ret_error) {
        const char *config_path = c->path ? c->path : "the configuration";
        int r;

        if (p->mode == RESTORE_MODE_STATIC_POD) {
                _cleanup_(manifest_freep) Manifest *m = NULL;
                _cleanup_free_ char *path = path_join(p->manifests_dir, ETCD_MANIFEST);

                if (!path)
                        return -ENOMEM;
                r = manifest_load(path, &m, ret_error);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return r == -EBADMSG || r == -EFBIG || r == -E2BIG ? -EBADMSG : r;
                r = member_from_manifest(m, &p->member, ret_error);
                if (r < 0)
                        return r;
        } else {
                _cleanup_strv_free_ char **argv = NULL, **env = NULL;
                _cleanup_free_ char *err = NULL;

                r = units_get_exec(p->bus, p->etcd_unit, &argv, &env, &err);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return free_and_format(ret_error, "cannot tell what %s runs etcd with: %s", p->etcd_unit,
                                               err ? err : strerror(-r)), r;
                r = member_from_command(argv, env, p->etcd_unit, &p->member, ret_error);
                if (r < 0)
                        return r;
        }
        if (p->member.mount_inside)
                return free_and_format(ret_error, "etcd's pod mounts a volume inside its data dir (%s): the restore "
                                       "swaps the data dir on this node, and that volume would be mounted over the "
                                       "restored data with what it held before; restore such a member by hand",
                                       p->member.mount_inside), -EXDEV;
        if (p->member.wal_dir.value && *p->member.wal_dir.value)
                return free_and_format(ret_error, "etcd keeps its write-ahead log apart from its data dir (%s = %s): "
                                       "the restore swaps the data dir alone and cannot restore such a member; "
                                       "restore it by hand (see \"A separate WAL dir\" in the README)",
                                       p->member.wal_dir.source, p->member.wal_dir.value), -EOPNOTSUPP;
        /* etcd's data dir a symbolic link and restore.data_dir where it leads: the restore swaps that directory,
         * and etcd, through its link, finds the restored data there. */
        if (c->restore.data_dir && p->member.data_dir.from_etcd) {
                _cleanup_free_ char *etcd_real = realpath(p->member.data_dir.value, NULL),
                                    *conf_real = realpath(c->restore.data_dir, NULL);
                if (etcd_real && conf_real && streq(etcd_real, conf_real) &&
                    !streq(etcd_real, p->member.data_dir.value)) {
                        _cleanup_free_ char *etcds = TAKE_PTR(p->member.data_dir.value),
                                            *source = TAKE_PTR(p->member.data_dir.source);
                        r = member_value_set(&p->member.data_dir, c->restore.data_dir, true,
                                             "restore.data_dir in %s, where %s (%s) leads", config_path, etcds,
                                             source);
                        if (r < 0)
                                return r;
                }
        }
        return member_apply_config(&p->member, &c->restore, config_path, ret_error);
}

/* Where the control plane runs as static pods, the controllers' manifests the restore restarts at its end, read
 * now: one that cannot be read would only be found once etcd and kube-apiserver are back, and fail a restore
 * already proven. */
static int plan_controllers(RestorePlan *p, const Config *c, char **ret_error) {
        if (!p->apiserver_pod || !c->restore.restart_controllers)
                return 0;
        for (size_t i = 0; i < N_CONTROLLER_PODS; i++) {
                _cleanup_free_ char *address = NULL, *error = NULL;
                bool present = false;
                uint16_t port = 0;
                int r;

                r = static_pod_serving(p->manifests_dir, controller_pods[i].file, controller_pods[i].default_port,
                                       &present, &port, &address, &error);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return free_and_format(ret_error, "cannot read --secure-port/--bind-address from %s/%s, "
                                               "which the restore restarts at its end: %s; mend it, or set "
                                               "restore.restart_controllers = false", p->manifests_dir,
                                               controller_pods[i].file, error ? error : strerror(-r)), r;
        }
        return 0;
}

/* Whether initial_cluster gives some member the peer URL url. */
static bool cluster_has_url(const char *initial_cluster, const char *url, size_t len) {
        for (const char *q = initial_cluster; *q;) {
                size_t n = strcspn(q, ","), eq = strcspn(q, "=");
                if (eq < n && n - eq - 1 == len && strncmp(q + eq + 1, url, len) == 0)
                        return true;
                q += n + (q[n] == ',');
        }
        return false;
}

/* Several members: the cluster as it is must be the cluster the restore
 * makes, or this member would restore into a cluster of its own beside the
 * others (split brain). Asks MemberList before anything stops; an etcd that
 * does not answer (the reason for many restores) cannot be asked, and the
 * plan says so. */
static int plan_members(RestorePlan *p, const Config *c, char **ret_error) {
        _cleanup_(pb_member_list_clear) PbMemberList l = {};
        _cleanup_free_ char *err = NULL, *missing = NULL, *all = NULL;
        EtcdTls tls = etcd_tls_from_config(&c->etcd);
        const char *ic = p->member.initial_cluster.value;
        int r;

        r = etcd_member_list(&tls, p->endpoint, 2 * USEC_PER_SEC, 5 * USEC_PER_SEC, &l, &err);
        if (r < 0) {
                if (asprintf(&p->members_checked, "not asked: %s does not answer MemberList (%s)", p->endpoint,
                             err ? err : strerror(-r)) < 0)
                        return -ENOMEM;
                return 0;
        }
        for (size_t i = 0; i < l.n_members; i++) {
                const PbMember *m = &l.members[i];
                bool named = *m->name ? member_cluster_names(ic, m->name, m->peer_urls) : true;

                /* A member added but never started has no name: its URLs must be there. */
                for (const char *u = m->peer_urls; !*m->name && *u;) {
                        size_t n = strcspn(u, ",");
                        if (!cluster_has_url(ic, u, n))
                                named = false;
                        u += n + (u[n] == ',');
                }
                if (free_and_format(&all, "%s%s%s=%s", all ? all : "", all ? "," : "",
                                    *m->name ? m->name : "<unstarted>", m->peer_urls), !all)
                        return -ENOMEM;
                if (!named && (free_and_format(&missing, "%s%s%s=%s%s", missing ? missing : "", missing ? ", " : "",
                                              *m->name ? m->name : "<unstarted>", m->peer_urls,
                                              m->is_learner ? " (learner)" : ""), !missing))
                        return -ENOMEM;
        }
        if (missing)
                return free_and_format(ret_error, "the cluster has members that the initial cluster \"%s\" (%s) does "
                                       "not name: %s. Restoring this member alone would start a cluster of its own "
                                       "beside them. To restore the whole cluster from one backup: on every node "
                                       "set restore.initial_cluster = \"%s\" (every member, the same on each), "
                                       "copy the same backup file to each node, and run `etcd-backupctl restore "
                                       "FILE --yes` on each of them, one right after the other (within "
                                       "restore.health_timeout); each node restores its own member, and the "
                                       "members that are not restored must be removed first (etcdctl member "
                                       "remove)", ic, p->member.initial_cluster.source, missing, all ? all : ""),
                       -EXFULL;
        if (asprintf(&p->members_checked, "MemberList of %s: %zu member%s, every one named by the initial "
                     "cluster", p->endpoint, l.n_members, l.n_members == 1 ? "" : "s") < 0)
                return -ENOMEM;
        return 0;
}

static int find_tool(RestorePlan *p, const Config *c, char **ret_error) {
        const char *want = c->restore.etcdutl;
        int r;

        if (want && *want) {
                r = tool_find(want, &p->tool_path);
                if (r < 0)
                        return free_and_format(ret_error, "restore.etcdutl: cannot run %s: %s", want,
                                         r == -ENOENT ? "not found" : strerror(-r)), -ENOEXEC;
                p->tool = startswith(path_basename(want), "etcdctl") ? RESTORE_TOOL_ETCDCTL : RESTORE_TOOL_ETCDUTL;
                return 0;
        }
        if (tool_find("etcdutl", &p->tool_path) >= 0) {
                p->tool = RESTORE_TOOL_ETCDUTL;
                return 0;
        }
        if (tool_find("etcdctl", &p->tool_path) >= 0) {
                p->tool = RESTORE_TOOL_ETCDCTL;
                return 0;
        }
        return free_and_format(ret_error, "neither etcdutl nor etcdctl is in PATH; install one or set restore.etcdutl"),
               -ENOEXEC;
}

/* etcd's tool, run as root: one that anyone but root may change would be theirs to run as root. */
static int plan_tool(RestorePlan *p, const Config *c, char **ret_error) {
        _cleanup_free_ char *why = NULL;
        int r;

        r = find_tool(p, c, ret_error);
        if (r < 0)
                return r;
        r = path_root_only_writable(p->tool_path, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return free_and_format(ret_error, "%s: %s; the restore runs it as root, so it must be root's and "
                                       "writable by nobody else (chown root:root, chmod go-w)",
                                       c->restore.etcdutl && *c->restore.etcdutl ? "restore.etcdutl" :
                                       "etcd's tool found in PATH", why ? why : strerror(-r)), -EPERM;
        return 0;
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

const char *plan_expected_revision(const RestorePlan *p, bool noun, char *buf, size_t size) {
        if (p->etcd_revision == p->revision)
                snprintf(buf, size, noun ? "the backup's %" PRId64 : "%" PRId64 ", the backup's", p->revision);
        else if (p->etcd_revision == p->compact_revision)
                snprintf(buf, size, "%" PRId64 " (the db's compaction revision; its newest key is at %" PRId64 ")",
                         p->etcd_revision, p->revision);
        else
                snprintf(buf, size, "%" PRId64 " (etcd's first revision: the db has no keys)", p->etcd_revision);
        return buf;
}

static int plan_steps(RestorePlan *p, const Config *c) {
        char dur[FORMAT_DURATION_MAX], size[FORMAT_BYTES_MAX], rev[PLAN_REVISION_MAX];
        const char *tool = p->tool == RESTORE_TOOL_ETCDCTL ? "ETCDCTL_API=3 " : "";
        bool pod = p->mode == RESTORE_MODE_STATIC_POD, apiserver_pod = p->apiserver_pod;
        int r = 0;

        format_duration(dur, sizeof dur, c->restore.health_timeout_usec);
        r = add_step(p, RESTORE_STEP_VERIFY, "%s decompressed to an anonymous file in %s, SHA-256 trailer%s and db "
                     "structure checked: revision %" PRId64 ", %s%s%s", p->backup_name, p->parent_dir,
                     p->has_sidecar ? ", sidecar" : "", p->revision, format_bytes(size, sizeof size, p->db_size),
                     p->passed_over ? "; \"latest\" is the newest backup with a sidecar, newer ones passed over: " : "",
                     p->passed_over ? p->passed_over : "");
        if (r >= 0 && !p->apiserver_running)
                r = add_step(p, RESTORE_STEP_STOP_APISERVER, pod ? "no %s in %s: nothing to stop" : apiserver_pod ?
                             "%s is in %s but its pod does not answer: nothing to stop" :
                             "%s is not running: nothing to stop",
                             pod || apiserver_pod ? APISERVER_MANIFEST : p->apiserver_unit, p->manifests_dir);
        else if (r >= 0 && apiserver_pod)
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
                             p->tool_path, p->member.name.value, p->member.initial_cluster.value,
                             p->member.initial_cluster_token.value, p->member.initial_advertise_peer_urls.value,
                             p->restore_dir);
        if (r >= 0 && p->data_dir_exists)
                r = add_step(p, RESTORE_STEP_SWAP, "exchange %s with %s (owner %u:%u, mode %04o, synced), then "
                             "rename the old data to %s", p->restore_dir, p->data_dir, (unsigned) p->data_uid,
                             (unsigned) p->data_gid, (unsigned) p->data_mode, p->pre_restore_dir);
        else if (r >= 0)
                r = add_step(p, RESTORE_STEP_SWAP, "%s does not exist: rename %s to it (mode 0700, synced)",
                             p->data_dir, p->restore_dir);
        if (r >= 0)
                r = add_step(p, RESTORE_STEP_START_ETCD, pod ? "move %s back into %s" : "systemctl start %s",
                             pod ? ETCD_MANIFEST : p->etcd_unit, p->manifests_dir);
        if (r >= 0)
                r = add_step(p, RESTORE_STEP_WAIT_ETCD, "until %s answers Status with a leader and revision >= %s "
                             "(at most %s)", p->endpoint, plan_expected_revision(p, false, rev, sizeof rev), dur);
        if (r >= 0 && !p->apiserver_running)
                r = add_step(p, RESTORE_STEP_START_APISERVER, "it was not running: left alone");
        else if (r >= 0 && apiserver_pod)
                r = add_step(p, RESTORE_STEP_START_APISERVER, "move %s back into %s and wait until "
                             "https://%s:%u/readyz answers 200, verified with %s (%s) (at most %s)", APISERVER_MANIFEST,
                             p->manifests_dir, p->apiserver_address, p->apiserver_port, p->apiserver_cacert,
                             p->apiserver_cacert_source, dur);
        else if (r >= 0)
                r = add_step(p, RESTORE_STEP_START_APISERVER, "systemctl start %s and wait until https://%s:%u/readyz "
                             "answers 200, verified with %s (%s) (at most %s)", p->apiserver_unit,
                             p->apiserver_address, p->apiserver_port, p->apiserver_cacert,
                             p->apiserver_cacert_source, dur);
        if (r >= 0 && !c->restore.restart_controllers)
                r = add_step(p, RESTORE_STEP_RESTART_CONTROLLERS, "restore.restart_controllers is false: left alone");
        else if (r >= 0 && apiserver_pod)
                r = add_step(p, RESTORE_STEP_RESTART_CONTROLLERS, "move kube-controller-manager.yaml and "
                             "kube-scheduler.yaml (those present) out of %s together until each one's "
                             "--secure-port closes, then both back until each answers", p->manifests_dir);
        else if (r >= 0)
                r = add_step(p, RESTORE_STEP_RESTART_CONTROLLERS, "stop kube-controller-manager.service and "
                             "kube-scheduler.service (those loaded and active) together, then start both");
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
        p->manifests_lock_fd = -EBADF;
        p->backup_fd = -EBADF;

        /* Cheap refusals first: none of them needs the backup read. */
        restore_report(fn, userdata, RESTORE_STEP_DETECT, RESTORE_STEP_RUNNING, "checking how etcd runs here");
        r = plan_manifests_first(p, c, ret_error);
        if (r >= 0)
                r = plan_detect(p, c, ret_error);
        if (r >= 0)
                r = plan_controllers(p, c, ret_error);
        if (r >= 0)
                r = plan_member(p, c, ret_error);
        if (r >= 0)
                r = plan_members(p, c, ret_error);
        if (r >= 0)
                r = plan_data_dir(p, c, now, ret_error);
        if (r >= 0)
                r = plan_tool(p, c, ret_error);
        if (r >= 0)
                r = plan_lock(p, ret_error);
        if (r >= 0)
                r = plan_leftover_restore(p, ret_error);
        if (r >= 0 && p->mode == RESTORE_MODE_SYSTEMD)
                r = plan_unit_binds(p, ret_error);
        if (r >= 0)
                r = plan_running_etcd(p, ret_error);
        if (r >= 0)
                r = plan_pick_names(p, ret_error);
        if (r >= 0)
                r = plan_resolve(p, c, backup, ret_error);
        if (r < 0) {
                restore_report(fn, userdata, RESTORE_STEP_DETECT, RESTORE_STEP_FAILED, "%s",
                       ret_error && *ret_error ? *ret_error : strerror(-r));
                return r;
        }
        restore_report(fn, userdata, RESTORE_STEP_DETECT, RESTORE_STEP_DONE, "%s (%s); backup %s; %s %s",
               restore_mode_to_string(p->mode), p->mode_reason, p->backup_path,
               p->tool == RESTORE_TOOL_ETCDCTL ? "etcdctl" : "etcdutl", p->tool_path);

        t0 = now_usec(CLOCK_MONOTONIC);
        restore_report(fn, userdata, RESTORE_STEP_VERIFY, RESTORE_STEP_RUNNING, "decompressing %s into %s and checking it",
               p->backup_name, p->parent_dir);
        r = plan_verify(p, c, ret_error);
        if (r < 0) {
                restore_report(fn, userdata, RESTORE_STEP_VERIFY, RESTORE_STEP_FAILED, "%s",
                       ret_error && *ret_error ? *ret_error : strerror(-r));
                return r;
        }
        restore_report(fn, userdata, RESTORE_STEP_VERIFY, RESTORE_STEP_DONE, "revision %" PRId64 ", %s, SHA-256 %s%s (%" PRIu64
               " ms)", p->revision, format_bytes(size, sizeof size, p->db_size), p->db_sha256,
               p->has_sidecar ? " = sidecar" : ", no sidecar", (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC);

        /* One backup, one token: every member restored from it gets the
         * same new cluster identity, and an old member is refused by it. */
        if (!c->restore.initial_cluster_token) {
                char token[32];
                snprintf(token, sizeof token, "etcd-restore-%.16s", p->db_sha256);
                free(p->member.initial_cluster_token.value);
                free(p->member.initial_cluster_token.source);
                p->member.initial_cluster_token = (MemberValue) {
                        .value = strdup(token),
                        .source = strdup("derived from the backup's db SHA-256 (restore.initial_cluster_token unset)"),
                };
                if (!p->member.initial_cluster_token.value || !p->member.initial_cluster_token.source)
                        return -ENOMEM;
        }
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
        json_object_object_add(o, "compact_revision", json_object_new_int64(p->compact_revision));
        json_object_object_add(o, "expected_revision", json_object_new_int64(p->etcd_revision));
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
        json_object_object_add(o, "member_list", json_object_new_string(p->members_checked ?: ""));
        json_object_object_add(o, "tool", json_object_new_string(p->tool_path));
        json_object_object_add(o, "endpoint", json_object_new_string(p->endpoint));
        json_object_object_add(o, "etcd_running", json_object_new_boolean(p->etcd_running));
        json_object_object_add(o, "apiserver_running", json_object_new_boolean(p->apiserver_running));
        json_object_object_add(o, "apiserver_pod", json_object_new_boolean(p->apiserver_pod));
        {
                /* What etcd runs with, each value with where it was read. */
                const struct { const char *key; const MemberValue *v; } mv[] = {
                        { "name", &p->member.name },
                        { "data_dir", &p->member.data_dir },
                        { "initial_advertise_peer_urls", &p->member.initial_advertise_peer_urls },
                        { "initial_cluster", &p->member.initial_cluster },
                        { "initial_cluster_token", &p->member.initial_cluster_token },
                };
                struct json_object *m = json_object_new_array();
                for (size_t i = 0; m && i < ELEMENTSOF(mv); i++) {
                        struct json_object *e = json_object_new_object();
                        if (!e)
                                break;
                        json_object_object_add(e, "setting", json_object_new_string(mv[i].key));
                        json_object_object_add(e, "value", json_object_new_string(mv[i].v->value ?: ""));
                        json_object_object_add(e, "source", json_object_new_string(mv[i].v->source ?: ""));
                        json_object_array_add(m, e);
                }
                json_object_object_add(o, "member", m);
        }
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
