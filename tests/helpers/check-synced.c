/* SPDX-License-Identifier: MIT */
/*
 * check-synced.c — a preload for tests: remembers every file the process
 * fsyncs (or fdatasyncs), and when it renames a directory whose name holds
 * ".restore-" into place (the restore's new data dir, by renameat2(2); not
 * to a name holding ".pre-restore-"), appends to the file
 * $CHECK_SYNCED_REPORT one line, "NAME: N entries, M not synced", and the
 * relative path of each regular file or directory in that tree this process
 * has not synced as it is now (one changed since its sync, or another file
 * on a reused inode, counts as not synced). The rename itself is the real
 * one, as is every other call.
 */

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SYNCED_MAX 4096

/* A file as it was when synced: an inode reused, or a file changed after its sync, is not it. */
typedef struct FileId {
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime;
} FileId;

static FileId synced[SYNCED_MAX];
static size_t n_synced;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void remember(int fd) {
        struct stat st;
        FileId id;

        if (fstat(fd, &st) < 0)
                return;
        id.dev = st.st_dev;
        id.ino = st.st_ino;
        id.size = st.st_size;
        id.mtime = st.st_mtim;
        pthread_mutex_lock(&lock);
        if (n_synced < SYNCED_MAX)
                synced[n_synced++] = id;
        pthread_mutex_unlock(&lock);
}

static int was_synced(const struct stat *st) {
        int found = 0;

        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < n_synced && !found; i++)
                found = synced[i].dev == st->st_dev && synced[i].ino == st->st_ino && synced[i].size == st->st_size &&
                        synced[i].mtime.tv_sec == st->st_mtim.tv_sec && synced[i].mtime.tv_nsec == st->st_mtim.tv_nsec;
        pthread_mutex_unlock(&lock);
        return found;
}

/* The real sync called name, fd remembered when it succeeds. */
static int sync_and_remember(const char *name, int fd) {
        int (*real)(int) = (int (*)(int)) dlsym(RTLD_NEXT, name);
        int r = real(fd);

        if (r == 0)
                remember(fd);
        return r;
}

int fsync(int fd) {
        return sync_and_remember("fsync", fd);
}

int fdatasync(int fd) {
        return sync_and_remember("fdatasync", fd);
}

/* Each entry of the tree at dir_fd (prefix names it), the directory itself last. */
static void walk(int dir_fd, const char *prefix, unsigned depth, unsigned *n, unsigned *bad, FILE *out) {
        DIR *d;
        struct dirent *de;
        struct stat st;

        if (depth > 32 || fstat(dir_fd, &st) < 0)
                return;
        d = fdopendir(dup(dir_fd));
        while (d && (de = readdir(d))) {
                char sub[4096];
                struct stat est;

                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &est, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                snprintf(sub, sizeof sub, "%s/%s", prefix, de->d_name);
                if (S_ISDIR(est.st_mode)) {
                        int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd >= 0) {
                                walk(fd, sub, depth + 1, n, bad, out);
                                close(fd);
                        }
                } else if (S_ISREG(est.st_mode)) {
                        (*n)++;
                        if (!was_synced(&est)) {
                                (*bad)++;
                                fprintf(out, "  %s\n", sub);
                        }
                }
        }
        if (d)
                closedir(d);
        (*n)++;
        if (!was_synced(&st)) {
                (*bad)++;
                fprintf(out, "  %s/\n", prefix);
        }
}

int renameat2(int old_dir, const char *old_path, int new_dir, const char *new_path, unsigned flags) {
        int (*real)(int, const char *, int, const char *, unsigned) =
                (int (*)(int, const char *, int, const char *, unsigned)) dlsym(RTLD_NEXT, "renameat2");
        const char *report = getenv("CHECK_SYNCED_REPORT");
        int fd;

        /* Into place, that is: not the rename of what an exchange put under that name to .pre-restore-. */
        if (report && strstr(old_path, ".restore-") && !strstr(new_path, ".pre-restore-") &&
            (fd = openat(old_dir, old_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
                char *list = NULL;
                size_t size = 0;
                FILE *mem = open_memstream(&list, &size);
                unsigned n = 0, bad = 0;
                FILE *f;

                if (mem) {
                        walk(fd, ".", 0, &n, &bad, mem);
                        fclose(mem);
                }
                f = fopen(report, "ae");
                if (f) {
                        fprintf(f, "%s: %u entries, %u not synced\n%s", old_path, n, bad, list ? list : "");
                        fclose(f);
                }
                free(list);
                close(fd);
        }
        return real(old_dir, old_path, new_dir, new_path, flags);
}
