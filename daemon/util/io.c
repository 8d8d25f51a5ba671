/* SPDX-License-Identifier: MIT */
/*
 * io.c — robust read/write loops and small filesystem helpers (see io.h).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/io.h"
#include "util/macro.h"
#include "util/str.h"
#include "util/time.h"

/* Deepest directory nesting walked by settle_tree() (etcd uses 3). */
#define SETTLE_DEPTH_MAX 32

int tmpfile_open(int dir_fd, const char *prefix, TmpFile *ret) {
        TmpFile t = { .fd = -EBADF, .dir_fd = dir_fd };

        *ret = TMPFILE_NULL;
        prefix = prefix ?: TMPFILE_PREFIX;
        if (strlen(prefix) > sizeof t.name - 17)
                return -ENAMETOOLONG;
        t.fd = openat(dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        /* EISDIR: kernels older than 3.11 read O_TMPFILE as O_DIRECTORY.
         * The name needs only be new (O_EXCL), not secret. */
        for (unsigned i = 0; t.fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EEXIST) && i < 16; i++) {
                uint64_t id;
                if (getrandom(&id, sizeof id, GRND_NONBLOCK) != sizeof id)
                        id = ((uint64_t) getpid() << 40) ^ now_usec(CLOCK_MONOTONIC) ^ i;
                snprintf(t.name, sizeof t.name, "%s%016" PRIx64, prefix, id);
                t.fd = openat(dir_fd, t.name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        }
        if (t.fd < 0)
                return -errno;
        *ret = t;
        return 0;
}

bool tmpfile_name_is(const char *name, const char *prefix) {
        const char *p = startswith(name, prefix);

        return p && strlen(p) == 16 && strspn(p, "0123456789abcdef") == 16;
}

/* EEXIST for a name that is not fd's file. */
static int link_exists(int fd, int dir_fd, const char *name) {
        struct stat a, b;

        if (fstat(fd, &a) >= 0 && fstatat(dir_fd, name, &b, AT_SYMLINK_NOFOLLOW) >= 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino)
                return 0;
        return -EEXIST;
}

int tmpfile_link(TmpFile *t, const char *name) {
        char proc[64];

        if (fsync(t->fd) < 0)
                return -errno;
        if (t->name[0]) {
                if (linkat(t->dir_fd, t->name, t->dir_fd, name, 0) >= 0)
                        return 0;
                return errno == EEXIST ? link_exists(t->fd, t->dir_fd, name) : -errno;
        }
        if (linkat(t->fd, "", t->dir_fd, name, AT_EMPTY_PATH) >= 0)
                return 0;
        if (errno == EEXIST)
                return -EEXIST;
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", t->fd);
        if (linkat(AT_FDCWD, proc, t->dir_fd, name, AT_SYMLINK_FOLLOW) < 0)
                return -errno;
        return 0;
}

void tmpfile_done(TmpFile *t) {
        /* Closed first: NFS keeps a file removed while open as .nfsXXXX. */
        safe_close(t->fd);
        if (t->name[0])
                (void) unlinkat(t->dir_fd, t->name, 0);
        *t = TMPFILE_NULL;
}

int loop_write(int fd, const void *buf, size_t n) {
        const char *p = buf;

        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

ssize_t loop_read(int fd, void *buf, size_t n) {
        char *p = buf;
        size_t done = 0;

        while (done < n) {
                ssize_t k = read(fd, p + done, n - done);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                done += (size_t) k;
        }
        return (ssize_t) done;
}

/* Opened without waiting: a FIFO nobody writes to would block open(2)
 * forever; opened this way, it reads as empty. A pipe that has a writer
 * (`-c <(…)`) is read as before, once O_NONBLOCK is taken off again. */
static int open_for_reading(const char *path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), flags;

        if (fd < 0)
                return -errno;
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static int read_all(int fd, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, alloc = 0;

        for (;;) {
                ssize_t k;
                if (alloc - size < 4096) {
                        size_t na = alloc ? alloc * 2 : 16384;
                        char *nb;
                        if (na > max + 4096)
                                na = max + 4096;
                        if (na <= alloc)
                                return -EFBIG;
                        nb = realloc(buf, na + 1);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                        alloc = na;
                }
                k = read(fd, buf + size, alloc - size);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                size += (size_t) k;
                if (size > max)
                        return -EFBIG;
        }
        if (!buf) {
                buf = malloc(1);
                if (!buf)
                        return -ENOMEM;
        }
        buf[size] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = open_for_reading(path);

        if (fd < 0)
                return fd;
        return read_all(fd, max, ret, ret_size);
}

int read_regular_file(const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        struct stat st;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EMEDIUMTYPE;
        return read_all(fd, max, ret, ret_size);
}

int read_secret_file(const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        char *buf;
        ssize_t k;

        fd = open_for_reading(path);
        if (fd < 0)
                return fd;
        buf = malloc(max + 1);
        if (!buf)
                return -ENOMEM;
        k = loop_read(fd, buf, max + 1);
        if (k < 0 || (size_t) k > max) {
                explicit_bzero(buf, max + 1);
                free(buf);
                return k < 0 ? (int) k : -EFBIG;
        }
        buf[k] = '\0';
        *ret = buf;
        *ret_size = (size_t) k;
        return 0;
}

int fsync_directory(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                return -errno;
        return 0;
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int cmp_int(const void *a, const void *b) {
        int x = *(const int *) a, y = *(const int *) b;
        return (x > y) - (x < y);
}

/* close_range(2) from `from` to `to`; where it is missing (a kernel before 5.9) or refused (a seccomp filter of a
 * container runtime that does not know it), one close(2) each up to the descriptor limit. */
static int close_span(unsigned from, unsigned to) {
        struct rlimit rl;

        if (close_range(from, to, 0) >= 0)
                return 0;
        if (errno != ENOSYS && errno != EPERM)
                return -errno;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return -errno;
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur <= to)
                to = rl.rlim_cur > 0 ? (unsigned) rl.rlim_cur - 1 : 0;
        if (to > CLOSE_FALLBACK_MAX)
                to = CLOSE_FALLBACK_MAX;
        for (unsigned fd = from; fd <= to && fd >= from; fd++)
                (void) close((int) fd);
        return 0;
}

int close_all_fds_except(const int *keep, size_t n) {
        int sorted[16];
        unsigned from = 3;
        int r;

        if (n > ELEMENTSOF(sorted))
                return -E2BIG;
        memcpy(sorted, keep, n * sizeof *keep);
        qsort(sorted, n, sizeof *sorted, cmp_int);
        for (size_t i = 0; i < n; i++) {
                if (sorted[i] < (int) from)
                        continue;
                if ((unsigned) sorted[i] > from && (r = close_span(from, (unsigned) sorted[i] - 1)) < 0)
                        return r;
                from = (unsigned) sorted[i] + 1;
        }
        return close_span(from, ~0U);
}

static void closedirp_(DIR **d) {
        if (*d)
                closedir(*d);
}

/* name in dir_fd, not a directory: its owner; its data and size on disk when it is a regular file. */
static int settle_entry(int dir_fd, const char *name, const struct stat *st, uid_t uid, gid_t gid) {
        _cleanup_close_ int fd = -EBADF;

        if (fchownat(dir_fd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (!S_ISREG(st->st_mode))
                return 0;
        fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return fsync(fd) < 0 ? -errno : 0;
}

static int settle_tree_at(int dir_fd, uid_t uid, gid_t gid, unsigned depth) {
        _cleanup_(closedirp_) DIR *d = NULL;
        struct dirent *de;
        int fd, r;

        if (depth > SETTLE_DEPTH_MAX)
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
        for (;;) {
                struct stat st;

                errno = 0;
                de = readdir(d);
                if (!de && errno != 0)
                        return -errno;  /* not the end: an entry may be left unsynced */
                if (!de)
                        break;
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub = openat(dirfd(d), de->d_name,
                                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0)
                                return -errno;
                        r = settle_tree_at(sub, uid, gid, depth + 1);
                } else
                        r = settle_entry(dirfd(d), de->d_name, &st, uid, gid);
                if (r < 0)
                        return r;
        }
        /* After what is in it: its entries, and the new owners of theirs, are on disk once it is. */
        return fsync(dir_fd) < 0 ? -errno : 0;
}

int settle_tree(int dir_fd, uid_t uid, gid_t gid) {
        return settle_tree_at(dir_fd, uid, gid, 0);
}

/* The checks run on the descriptor, not on the name: what the name points
 * to may change under us; what we opened does not. */
int open_confined(int dir_fd, const char *dir, const char *name, int *ret_fd, char **ret_error) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st, dst;

        if (fstat(dir_fd, &dst) < 0)
                return free_and_format(ret_error, "cannot stat %s: %s", dir, strerror(errno)), -errno;
        fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
                return -ENOENT;
        if (fd < 0 && errno == ELOOP)
                return free_and_format(ret_error, "%s/%s is a symbolic link; refusing to follow it", dir, name),
                       -ELOOP;
        if (fd < 0)
                return free_and_format(ret_error, "cannot open %s/%s: %s", dir, name, strerror(errno)), -errno;
        if (fstat(fd, &st) < 0)
                return free_and_format(ret_error, "cannot stat %s/%s: %s", dir, name, strerror(errno)), -errno;
        if (!S_ISREG(st.st_mode))
                return free_and_format(ret_error, "%s/%s is not a regular file", dir, name), -EBADMSG;
        if (st.st_uid != 0 && st.st_uid != dst.st_uid)
                return free_and_format(ret_error, "%s/%s is owned by uid %u, neither root nor the owner of %s (uid %u); "
                                       "refusing it", dir, name, (unsigned) st.st_uid, dir, (unsigned) dst.st_uid),
                       -EPERM;
        if (st.st_nlink != 1)
                return free_and_format(ret_error, "%s/%s has %ju hard links; refusing a file linked from elsewhere",
                                       dir, name, (uintmax_t) st.st_nlink), -EPERM;
        *ret_fd = TAKE_FD(fd);
        return 0;
}
