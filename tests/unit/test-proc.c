/* SPDX-License-Identifier: MIT */
/*
 * test-proc.c — which process has files open in a directory, on child
 * processes of this test: a file below it (open, and unlinked), the
 * directory itself, a file beside it (not below), one in a sibling whose
 * name begins with the directory's (not below); a process's name. And
 * close_all_fds_except(), also where close_range(2) is missing or refused
 * (linked with --wrap=close_range). What is mounted below a directory, from
 * mount tables as /proc/self/mountinfo writes them.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "util/io.h"
#include "util/proc.h"

static char base[] = "/tmp/test-proc.XXXXXX";
static char data[64], other[64], sibling[64];

enum { HOLD_PLAIN, HOLD_UNLINKED, HOLD_DIR };

/* A child that opens path (how: see the enum) and keeps it open until the
 * parent closes *ret_done. Returns its PID once it holds it, or -1 when it
 * could not. */
static pid_t holder(const char *path, int how, int *ret_done) {
        int ready[2], done[2], status;
        char c = 0;
        pid_t pid;

        check(pipe(ready) == 0 && pipe(done) == 0);
        pid = fork();
        check(pid >= 0);
        if (pid == 0) {
                int fd;

                close(ready[0]);
                close(done[1]);
                fd = open(path, (how == HOLD_DIR ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
                if (fd < 0)
                        _exit(4);
                if (how == HOLD_UNLINKED && unlink(path) < 0)
                        _exit(5);
                if (write(ready[1], "x", 1) != 1)
                        _exit(6);
                (void) !read(done[0], &c, 1);
                _exit(0);
        }
        close(ready[1]);
        close(done[0]);
        if (read(ready[0], &c, 1) != 1) {
                close(ready[0]);
                close(done[1]);
                check(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
                return -1;
        }
        close(ready[0]);
        *ret_done = done[1];
        return pid;
}

static void release(pid_t pid, int done) {
        int status = 0;

        close(done);
        check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void make_file(const char *dir, const char *name) {
        char path[PATH_MAX];
        int fd;

        snprintf(path, sizeof path, "%s/%s", dir, name);
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        check(fd >= 0);
        close(fd);
}

static void test_open_below(void) {
        char path[PATH_MAX];
        pid_t pid;
        int done;

        check_int_eq(proc_find_open_below(data), 0);
        snprintf(path, sizeof path, "%s/f", data);
        pid = holder(path, HOLD_PLAIN, &done);
        check(pid > 0);
        check_int_eq(proc_find_open_below(data), pid);
        check_int_eq(proc_find_open_below(other), 0);
        release(pid, done);
        check_int_eq(proc_find_open_below(data), 0);

        /* the directory itself */
        pid = holder(data, HOLD_DIR, &done);
        check(pid > 0);
        check_int_eq(proc_find_open_below(data), pid);
        release(pid, done);

        /* beside it, on the same file system: not below it */
        snprintf(path, sizeof path, "%s/g", other);
        pid = holder(path, HOLD_PLAIN, &done);
        check(pid > 0);
        check_int_eq(proc_find_open_below(data), 0);
        check_int_eq(proc_find_open_below(other), pid);
        release(pid, done);

        /* unlinked while open: still open in it */
        snprintf(path, sizeof path, "%s/gone", data);
        make_file(data, "gone");
        pid = holder(path, HOLD_UNLINKED, &done);
        check(pid > 0);
        check_int_eq(proc_find_open_below(data), pid);
        release(pid, done);
        check_int_eq(proc_find_open_below(data), 0);

        /* a sibling whose name begins with the directory's: not below it */
        snprintf(path, sizeof path, "%s/h", sibling);
        pid = holder(path, HOLD_PLAIN, &done);
        check(pid > 0);
        check_int_eq(proc_find_open_below(data), 0);
        check_int_eq(proc_find_open_below(sibling), pid);
        release(pid, done);
}

static void test_name(void) {
        char buf[32];

        check_str_eq(proc_name(getpid(), buf, sizeof buf), "test-proc");
        check_str_eq(proc_name(INT32_MAX, buf, sizeof buf), "?");
}

/* mount point of the first mount strictly below dir in text, or "" when none. */
static char *mount_below(const char *text, const char *dir) {
        FILE *f = fmemopen((void *) text, strlen(text), "r");
        char *mount = NULL;
        int r;

        check(f != NULL);
        r = proc_mount_below(f, dir, &mount);
        fclose(f);
        check(r >= 0);
        check((r == 1) == (mount != NULL));
        return mount ? mount : strdup("");
}

static void test_mount_below(void) {
        /* As /proc/self/mountinfo writes them: the fifth field, space, tab, newline and backslash as \ooo. */
        const char *table =
                "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
                "30 22 8:2 / /var/lib/etcd rw,relatime shared:2 - ext4 /dev/sda2 rw\n"
                "31 22 8:3 / /var/lib/etcd2/member/wal rw shared:3 - xfs /dev/sda3 rw\n"
                "32 22 0:40 / /srv/my\\040data/member/w\\011al\\134x rw - tmpfs tmpfs rw\n"
                "33 22 0:41 / /srv/etcd-other/x rw - tmpfs tmpfs rw\n"
                "garbage\n"
                "34 22 0:42 /\n";
        char *m;

        m = mount_below(table, "/var/lib/etcd");        /* itself, and a sibling whose name begins with its */
        check_str_eq(m, "");
        free(m);
        m = mount_below(table, "/var/lib/etcd2");
        check_str_eq(m, "/var/lib/etcd2/member/wal");
        free(m);
        m = mount_below(table, "/var/lib");             /* the first below it, at any depth */
        check_str_eq(m, "/var/lib/etcd");
        free(m);
        m = mount_below(table, "/srv/my data");
        check_str_eq(m, "/srv/my data/member/w\tal\\x");
        free(m);
        m = mount_below(table, "/srv/my\\040data");    /* the escape is not the name */
        check_str_eq(m, "");
        free(m);
        m = mount_below(table, "/srv/etcd");
        check_str_eq(m, "");
        free(m);
        m = mount_below("", "/var/lib/etcd");
        check_str_eq(m, "");
        free(m);
}

int __real_close_range(unsigned first, unsigned last, int flags);
int __wrap_close_range(unsigned first, unsigned last, int flags);
static int close_range_errno; /* not 0: close_range(2) fails with it */
int __wrap_close_range(unsigned first, unsigned last, int flags) {
        if (close_range_errno) {
                errno = close_range_errno;
                return -1;
        }
        return __real_close_range(first, last, flags);
}

static bool fd_open(int fd) {
        return fcntl(fd, F_GETFD) >= 0;
}

/* In a child: four descriptors, two kept. Its exit status: 0 as expected,
 * 1 a kept one closed or another left open, 2 the call's result wrong. */
static int close_case(int err, int want) {
        pid_t pid;
        int status;

        pid = fork();
        check(pid >= 0);
        if (pid == 0) {
                int fd[4], keep[2];
                for (int i = 0; i < 4; i++)
                        if ((fd[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
                                _exit(3);
                keep[0] = fd[3];
                keep[1] = fd[1];
                close_range_errno = err;
                if (close_all_fds_except(keep, 2) != want)
                        _exit(2);
                if (want < 0)
                        _exit(0);
                _exit(fd_open(fd[1]) && fd_open(fd[3]) && !fd_open(fd[0]) && !fd_open(fd[2]) ? 0 : 1);
        }
        check(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
        return WEXITSTATUS(status);
}

static void test_close_all_fds_except(void) {
        check_int_eq(close_case(0, 0), 0);
        /* A kernel before 5.9, a seccomp filter that does not know the call: close(2) one by one. */
        check_int_eq(close_case(ENOSYS, 0), 0);
        check_int_eq(close_case(EPERM, 0), 0);
        /* Any other failure is the caller's to report. */
        check_int_eq(close_case(EINVAL, -EINVAL), 0);
}

int main(void) {
        check(mkdtemp(base) != NULL);
        snprintf(data, sizeof data, "%s/data", base);
        snprintf(other, sizeof other, "%s/other", base);
        snprintf(sibling, sizeof sibling, "%s/data2", base);
        check(mkdir(data, 0700) == 0 && mkdir(other, 0700) == 0 && mkdir(sibling, 0700) == 0);
        make_file(data, "f");
        make_file(other, "g");
        make_file(sibling, "h");
        TEST_RUN(test_open_below);
        TEST_RUN(test_name);
        TEST_RUN(test_mount_below);
        TEST_RUN(test_close_all_fds_except);
        {
                char path[PATH_MAX];
                snprintf(path, sizeof path, "%s/f", data);
                check(unlink(path) == 0);
                snprintf(path, sizeof path, "%s/g", other);
                check(unlink(path) == 0);
                snprintf(path, sizeof path, "%s/h", sibling);
                check(unlink(path) == 0);
        }
        check(rmdir(data) == 0 && rmdir(other) == 0 && rmdir(sibling) == 0 && rmdir(base) == 0);
        return 0;
}
