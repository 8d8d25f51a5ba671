/* SPDX-License-Identifier: MIT */
/*
 * rollback.c — undo exactly what a failed restore did, in reverse:
 * kube-apiserver and etcd off the restored data, the old data dir back and
 * the failed one kept as <data_dir>.failed-restore-<ts>, etcd and
 * kube-apiserver as they were.
 * Nothing is deleted; what cannot be undone is said in rollback_error.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "restore/internal.h"
#include "restore/units.h"
#include "util/io.h"
#include "util/path.h"
#include "util/str.h"

/* Where the data from before the restore is now, found by the inode the plan saw rather than by the names the
 * steps gave it (a swap whose rename and exchange back both failed leaves it under the restore's name): one of
 * data_dir, pre_restore_dir and restore_dir, or NULL (none before, or moved away since). */
static const char *old_data_name(const RestorePlan *p) {
        const char *names[] = { p->data_dir, p->pre_restore_dir, p->restore_dir };

        return p->data_dir_exists ? swap_find_dir(names, ELEMENTSOF(names), p->data_dev, p->data_ino) : NULL;
}

void rollback_restore(Run *run, RestoreResult *res) {
        char **problem = &res->rollback_error;
        RestorePlan *p = run->p;
        _cleanup_close_ int parent_fd = -EBADF;
        bool etcd_stopped = true, data_gone;
        int r;

        restore_report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_RUNNING, "rolling back: %s",
               res->error ? res->error : "failed");
        res->rolled_back = true;
        run->rolling_back = true;

        /* 0. kube-apiserver off the restored data first, when the restore
         * started it on it: it caches what it read and keeps watching etcd,
         * whose data is about to change under it. (What the controllers
         * wrote meanwhile went into the restored data, which is set aside;
         * their watches break while kube-apiserver is down, and they list
         * again when it is back.) */
        if (run->apiserver_on_new && !run->apiserver_held) {
                _cleanup_free_ char *err = NULL;
                uint64_t took;
                restore_report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_RUNNING,
                       "stopping kube-apiserver, which runs on the restored data");
                r = run_apiserver_stop(run, &took, &err);
                if (r < 0)
                        append_format(problem, "cannot stop kube-apiserver on the restored data (%s): it may still "
                                      "hold what it read from it; restart it", err ? err : strerror(-r));
        }

        /* 1. etcd off the restored data before its directory moves. (Before
         * the swap etcd runs on nothing of ours: no need to stop it.) */
        if (run->swapped && run->etcd_on_new && !run->etcd_held) {
                _cleanup_free_ char *err = NULL;
                restore_report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_RUNNING,
                       "stopping etcd on the restored data");
                r = run_etcd_stop(run, &err);
                if (r < 0) {
                        etcd_stopped = false;
                        append_format(problem, "cannot stop etcd on the restored data (%s); %s was left in place",
                                      err ? err : strerror(-r), p->data_dir);
                }
        }

        /* 2. The old data dir back; the failed restore kept beside it. */
        parent_fd = open(p->parent_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (parent_fd < 0)
                append_format(problem, "cannot open %s: %s", p->parent_dir, strerror(errno));
        else if (etcd_stopped && run->swapped) {
                const char *old = old_data_name(p), *restored;
                bool stuck = false;

                if (old && streq(old, p->data_dir)) {
                        /* Back in place already (defensive: an exchange back that reported a failure but took
                         * effect): the restored data aside. */
                        restored = path_exists(p->restore_dir) ? p->restore_dir : p->pre_restore_dir;
                        r = path_exists(restored) ? swap_rename(parent_fd, restored, p->failed_restore_dir) : 0;
                        if (r < 0)
                                append_format(problem, "cannot rename %s to %s: %s", restored, p->failed_restore_dir,
                                              strerror(-r));
                } else if (old && path_exists(p->data_dir)) {
                        /* An exchange whose rename fails is kept: the old data in place is what counts (undone,
                         * etcd would come back on the restored data). was: one of the plan's names. */
                        const char *was = old;

                        r = swap_exchange(parent_fd, was, p->data_dir, p->failed_restore_dir, false, &stuck);
                        old = old_data_name(p);
                        if (r < 0 && old && streq(old, p->data_dir))
                                append_format(problem, "%s is the old data again, but the restored data stays as %s "
                                              "(it cannot be renamed to %s: %s); rename it to that before you remove "
                                              "the record", p->data_dir, was, p->failed_restore_dir, strerror(-r));
                        else if (r < 0)
                                append_format(problem, "cannot put %s back in place of %s (set aside as %s): %s%s",
                                              was, p->data_dir, p->failed_restore_dir, strerror(-r),
                                              stuck ? ", and cannot put them back as they were" : "");
                } else if (old) {
                        /* No data dir (a swap without exchange whose rename of the restored data into place and the
                         * rename back both failed): the old data back under its name, the restored data aside. */
                        r = swap_rename(parent_fd, old, p->data_dir);
                        if (r < 0)
                                append_format(problem, "cannot rename %s back to %s: %s", old, p->data_dir,
                                              strerror(-r));
                        else if (path_exists(p->restore_dir) && (r = swap_rename(parent_fd, p->restore_dir,
                                                                                 p->failed_restore_dir)) < 0)
                                append_format(problem, "cannot rename %s to %s: %s", p->restore_dir,
                                              p->failed_restore_dir, strerror(-r));
                } else {
                        /* No old data to put back (none before, or moved away since): the restored data is set
                         * aside all the same, and etcd is not started on no data dir (step 3). */
                        r = path_exists(p->data_dir) ? swap_rename(parent_fd, p->data_dir, p->failed_restore_dir) : 0;
                        if (r < 0)
                                append_format(problem, "cannot rename %s to %s: %s", p->data_dir,
                                              p->failed_restore_dir, strerror(-r));
                        else if (p->data_dir_exists)
                                append_format(problem, "the data from before the restore (inode %ju) is under none "
                                              "of %s, %s and %s: it was moved away during the restore",
                                              (uintmax_t) p->data_ino, p->data_dir, p->pre_restore_dir,
                                              p->restore_dir);
                }
                res->failed_dir_kept = path_exists(p->failed_restore_dir);
                /* What etcd is started on next, by what is there now rather than by what succeeded. */
                old = old_data_name(p);
                run->swapped = path_exists(p->data_dir) && !(old && streq(old, p->data_dir));
                if (r >= 0 && old && streq(old, p->data_dir))
                        restore_report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_DONE,
                                       res->failed_dir_kept ? "%s is the old data again; the failed restore is kept "
                                       "as %s" : "%s is the old data again", p->data_dir, p->failed_restore_dir);
                else if (r >= 0 && !p->data_dir_exists)
                        restore_report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_DONE,
                                       "%s is gone again, as before the restore; the failed restore is kept as %s",
                                       p->data_dir, p->failed_restore_dir);
                if (fsync(parent_fd) < 0)
                        append_format(problem, "cannot sync %s after the renames: %s", p->parent_dir, strerror(errno));
        } else if (!run->swapped && path_exists(p->restore_dir)) {
                r = swap_rename(parent_fd, p->restore_dir, p->failed_restore_dir);
                if (r < 0)
                        append_format(problem, "cannot rename %s to %s: %s", p->restore_dir, p->failed_restore_dir,
                                      strerror(-r));
                else {
                        res->failed_dir_kept = true;
                        restore_report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_DONE,
                               "%s untouched; the failed restore is kept as %s", p->data_dir, p->failed_restore_dir);
                }
                if (fsync(parent_fd) < 0)
                        append_format(problem, "cannot sync %s after the renames: %s", p->parent_dir, strerror(errno));
        }

        /* 3. etcd as it was: on the old data; or, when the restored data
         * could not be set aside (another process has files open in it, a
         * rename failed), on that, where the restore had put it
         * (kube-apiserver is started next, and would find no etcd). Never
         * on no data dir where there was one: etcd would make an empty
         * one, a new cluster. */
        data_gone = p->data_dir_exists && !path_exists(p->data_dir);
        if (run->etcd_held && (p->mode == RESTORE_MODE_STATIC_POD || p->etcd_running) && data_gone) {
                append_format(problem, "etcd is not started again: %s does not exist (etcd would make an empty one, "
                              "a new cluster); %s", p->data_dir, p->mode == RESTORE_MODE_STATIC_POD ?
                              "its manifest stays in the holding directory" : "its unit stays stopped");
        } else if (run->etcd_held && (p->mode == RESTORE_MODE_STATIC_POD || p->etcd_running)) {
                _cleanup_free_ char *err = NULL;
                const char *data = run->swapped ? "the restored data" : p->data_dir_exists ? "the old data" :
                                   "no data dir, as before the restore";

                restore_report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_RUNNING,
                       "starting etcd on %s", data);
                r = run_etcd_start(run, &err);
                if (r < 0)
                        append_format(problem, "cannot start etcd again: %s", err ? err : strerror(-r));
                else {
                        /* Proven as the forward step proves it, where etcd ran on the data dir before
                         * (the restore's start, or before the restore): the process on etcd's port holds
                         * the member/snap/db that is there once it answers (etcd replaces the file with
                         * one a leader sends). */
                        _cleanup_free_ char *db = path_join(p->data_dir, "member/snap/db");
                        bool prove = run->swapped || run->etcd_ran_on_data_dir;
                        struct stat st = {};
                        int64_t rev = 0;
                        pid_t pid = 0;

                        free(run->error);
                        run->error = NULL;
                        if (run_wait_etcd_healthy(run, 0, &rev) < 0)
                                append_format(problem, "etcd is back on %s but %s", data, run->error);
                        else if (prove && (!db || stat(db, &st) < 0 || !S_ISREG(st.st_mode)))
                                append_format(problem, "etcd is back, at revision %" PRId64 ", but %s/member/snap/db "
                                              "cannot be looked at: %s", rev, p->data_dir,
                                              !db ? "out of memory" : st.st_mode ? "not a regular file" :
                                              strerror(errno));
                        else if (prove && run_prove_db(run, st.st_dev, st.st_ino, run->swapped ? "restored" : "old",
                                                       "", &pid) < 0)
                                append_format(problem, "etcd is back, at revision %" PRId64 ", but %s", rev,
                                              run->error);
                        else if (prove)
                                restore_report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_DONE,
                                       "etcd is healthy on %s at revision %" PRId64 " (pid %d holds %s/member/snap/db "
                                       "inode %" PRIu64 " open)", data, rev, (int) pid, p->data_dir,
                                       (uint64_t) st.st_ino);
                        else
                                restore_report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_DONE,
                                       "etcd is healthy on %s at revision %" PRId64, data, rev);
                }
        }

        /* 4. kube-apiserver as it was, unless the data dir is gone (etcd left off, or off before): kube-apiserver
         * has nothing to serve, and a unit that requires etcd's would start etcd on no data dir. */
        if (run->apiserver_held && data_gone)
                append_format(problem, "kube-apiserver is not started again either: etcd is not running; %s",
                              p->apiserver_pod ?
                              "its manifest stays in the holding directory" :
                              "its unit stays stopped (one that requires etcd's would start etcd on no data dir)");
        else if (run->apiserver_held) {
                _cleanup_free_ char *err = NULL;
                restore_report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_RUNNING, "starting kube-apiserver");
                free(run->error);
                run->error = NULL;
                r = run_apiserver_start(run, &err);
                if (r < 0)
                        append_format(problem, "cannot start kube-apiserver again: %s", err ? err : strerror(-r));
                else
                        restore_report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_DONE,
                               "kube-apiserver is back");
        }
        /* 5. kube-controller-manager and kube-scheduler as they were, where they are units (static pods are
         * back in the manifests dir, or named below). */
        for (size_t i = 0; i < run->n_controllers_stopped; i++) {
                _cleanup_free_ char *load = NULL, *active = NULL, *err = NULL;
                const char *unit = run->controllers_stopped[i];

                if (units_get_state(p->bus, unit, &load, &active, &err) >= 0 && streq(active, "active"))
                        continue;
                if (data_gone) {
                        /* As kube-apiserver: a unit chained to etcd's would start etcd on no data dir. */
                        append_format(problem, "%s is not started again either: %s does not exist", unit,
                                      p->data_dir);
                        continue;
                }
                err = mfree(err);
                restore_report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_RUNNING, "starting %s",
                               unit);
                r = units_start(p->bus, unit, run->timeout_usec, &err);
                if (r < 0)
                        append_format(problem, "%s was active before the restore and cannot be started again: %s",
                                      unit, err ? err : strerror(-r));
                else
                        restore_report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_DONE,
                                       "%s is back", unit);
        }
        if (run->held_dir_made && rmdir(p->held_dir) < 0 && errno == ENOTEMPTY) {
                /* Held manifests stay, named: the kubelet does not run them. */
                _cleanup_(closedirp) DIR *d = opendir(p->held_dir);
                struct dirent *de;

                while (d && (de = readdir(d)))
                        if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                                append_format(problem, "%s/%s is still held away from %s: move it back once the "
                                              "node is as it should be", p->held_dir, de->d_name, p->manifests_dir);
        }

        if (res->rollback_error)
                restore_report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_FAILED, "rollback incomplete: %s",
                       res->rollback_error);
        else
                restore_report(run->fn, run->userdata, RESTORE_STEP_ROLLBACK, RESTORE_STEP_DONE,
                       "rolled back: everything is as it was before the restore");
}
