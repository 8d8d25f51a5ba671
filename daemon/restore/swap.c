/* SPDX-License-Identifier: MIT */
/*
 * swap.c — the restored data dir takes the old one's place: it gets the old
 * dir's mode and owner (every entry), is synced to disk, and is exchanged
 * with the old dir, which is then renamed to <data_dir>.pre-restore-<ts>
 * (swap_exchange()): inside the data dir's parent, never replacing
 * anything, and <data_dir> never missing (but for a moment where the file
 * system cannot exchange).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "restore/internal.h"
#include "util/io.h"
#include "util/path.h"
#include "util/str.h"

const char *swap_find_dir(const char *const *paths, size_t n, dev_t dev, ino_t ino) {
        for (size_t i = 0; i < n; i++) {
                struct stat st;

                if (lstat(paths[i], &st) >= 0 && S_ISDIR(st.st_mode) && st.st_dev == dev && st.st_ino == ino)
                        return paths[i];
        }
        return NULL;
}

int swap_rename(int dir_fd, const char *from, const char *to) {
        return renameat2(dir_fd, path_basename(from), dir_fd, path_basename(to), RENAME_NOREPLACE) < 0 ? -errno : 0;
}

int swap_exchange(int dir_fd, const char *from, const char *to, const char *aside, bool undo, bool *ret_stuck) {
        int r;

        *ret_stuck = false;
        if (renameat2(dir_fd, path_basename(from), dir_fd, path_basename(to), RENAME_EXCHANGE) >= 0) {
                r = swap_rename(dir_fd, from, aside);
                if (r < 0 && undo)
                        *ret_stuck = renameat2(dir_fd, path_basename(from), dir_fd, path_basename(to),
                                               RENAME_EXCHANGE) < 0;
                return r;
        }
        if (errno != EINVAL && errno != EOPNOTSUPP)
                return -errno;
        r = swap_rename(dir_fd, to, aside);
        if (r < 0)
                return r;
        r = swap_rename(dir_fd, from, to);
        if (r < 0)
                *ret_stuck = swap_rename(dir_fd, aside, to) < 0;
        return r;
}

int swap_data_dir(Run *run) {
        RestorePlan *p = run->p;
        _cleanup_close_ int parent_fd = -EBADF, new_fd = -EBADF;
        int r;

        restore_report(run->fn, run->userdata, RESTORE_STEP_SWAP, RESTORE_STEP_RUNNING, "swapping %s", p->data_dir);
        new_fd = open(p->restore_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        parent_fd = open(p->parent_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (new_fd < 0 || parent_fd < 0)
                return free_and_format(&run->error, "cannot open %s: %s", new_fd < 0 ? p->restore_dir : p->parent_dir,
                                 strerror(errno)), -errno;
        if (fchmod(new_fd, p->data_dir_exists ? p->data_mode : 0700) < 0)
                return free_and_format(&run->error, "cannot chmod %s: %s", p->restore_dir, strerror(errno)), -errno;
        /* The old dir's owner, and all of it on disk (its mode too) before its name is: the parent's fsync after the
         * exchange makes the swap last, and must not make a tree whose files a crash leaves short last. */
        r = settle_tree(new_fd, p->data_dir_exists ? p->data_uid : (uid_t) -1,
                        p->data_dir_exists ? p->data_gid : (gid_t) -1);
        if (r < 0 && p->data_dir_exists)
                return free_and_format(&run->error, "cannot give %s to %u:%u and sync it to disk: %s", p->restore_dir,
                                       (unsigned) p->data_uid, (unsigned) p->data_gid, strerror(-r)), r;
        if (r < 0)
                return free_and_format(&run->error, "cannot sync %s to disk: %s", p->restore_dir, strerror(-r)), r;
        /* The file etcd must hold open once it runs on the restored data. */
        {
                struct stat st;
                if (fstatat(new_fd, "member/snap/db", &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return free_and_format(&run->error, "%s/member/snap/db: %s", p->restore_dir, strerror(errno)),
                               -errno;
                run->db_dev = st.st_dev;
                run->db_ino = st.st_ino;
        }
        if (p->data_dir_exists) {
                bool stuck;

                r = swap_exchange(parent_fd, p->restore_dir, p->data_dir, p->pre_restore_dir, true, &stuck);
                if (r < 0) {
                        /* Not put back: left for the rollback to report. */
                        run->swapped = stuck;
                        return free_and_format(&run->error, "cannot put %s in place of %s (set aside as %s): %s",
                                               p->restore_dir, p->data_dir, p->pre_restore_dir, strerror(-r)), r;
                }
        } else {
                r = swap_rename(parent_fd, p->restore_dir, p->data_dir);
                if (r < 0)
                        return free_and_format(&run->error, "cannot rename %s to %s: %s", p->restore_dir,
                                               p->data_dir, strerror(-r)), r;
        }
        run->swapped = true;
        /* Before etcd starts on it: a swap a crash could undo is no swap
         * (the rollback puts the old data back). */
        if (fsync(parent_fd) < 0)
                return free_and_format(&run->error, "cannot sync %s after the renames: %s", p->parent_dir,
                                       strerror(errno)), -errno;
        restore_report(run->fn, run->userdata, RESTORE_STEP_SWAP, RESTORE_STEP_DONE, p->data_dir_exists ?
               "%s is the restored data; the old one is %s" : "%s is the restored data", p->data_dir,
               p->pre_restore_dir);
        return 0;
}
