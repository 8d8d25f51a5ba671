/* SPDX-License-Identifier: MIT */
/*
 * test-proc.c — which process has files open in a directory, on child
 * processes of this test: a file below it (open, and unlinked), the
 * directory itself, a file beside it (not below), and a file below it
 * opened through a bind mount in a mount namespace of the child's own, whose
 * path this process does not see (as a static pod's hostPath); a process's
 * name. The last needs root (unshare(CLONE_NEWNS)); without it the test
 * says so, and fails under CI=true, where every test must run.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "util/proc.h"

static char base[] = "/tmp/test-proc.XXXXXX";
static char data[64], other[64], view[64];

enum { HOLD_PLAIN, HOLD_UNLINKED, HOLD_DIR, HOLD_BIND };

/* A child that opens path (how: see the enum) and keeps it open until the
 * parent closes *ret_done. Returns its PID once it holds it, or -1 when it
 * could not (its exit status then says why: 2 for no mount namespace). */
static pid_t holder(const char *path, int how, int *ret_done) {
        int ready[2], done[2], status;
        char c = 0;
        pid_t pid;

        check(pipe(ready) == 0 && pipe(done) == 0);
        pid = fork();
        check(pid >= 0);
        if (pid == 0) {
                char bound[PATH_MAX];
                int fd;

                close(ready[0]);
                close(done[1]);
                if (how == HOLD_BIND) {
                        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                                _exit(2);
                        if (mount(data, view, NULL, MS_BIND, NULL) < 0)
                                _exit(3);
                        snprintf(bound, sizeof bound, "%s/f", view);
                        path = bound;
                }
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
                errno = WEXITSTATUS(status);
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
}

/* Through a bind mount this process does not see: the child's path is view/f, and view is an empty directory
 * here. */
static void test_open_below_other_mounts(void) {
        char link[64], target[PATH_MAX], want[PATH_MAX];
        pid_t pid;
        ssize_t n;
        int done;

        pid = holder(NULL, HOLD_BIND, &done);
        if (pid < 0 && errno == 2) {
                printf("# cannot make a mount namespace here (not root?): the bind-mount case did not run\n");
                check(!getenv("CI"));
                return;
        }
        check(pid > 0);
        /* the child sees the file at view/f */
        snprintf(want, sizeof want, "%s/f", view);
        n = -1;
        for (int fd = 3; fd < 64 && n < 0; fd++) {
                snprintf(link, sizeof link, "/proc/%d/fd/%d", (int) pid, fd);
                n = readlink(link, target, sizeof target - 1);
                if (n > 0) {
                        target[n] = '\0';
                        if (strcmp(target, want) != 0)
                                n = -1;
                }
        }
        check(n > 0);
        check_int_eq(proc_find_open_below(data), pid);
        check_int_eq(proc_find_open_below(other), 0);
        release(pid, done);
        check_int_eq(proc_find_open_below(data), 0);
}

static void test_name(void) {
        char buf[32];

        check_str_eq(proc_name(getpid(), buf, sizeof buf), "test-proc");
        check_str_eq(proc_name(INT32_MAX, buf, sizeof buf), "?");
}

int main(void) {
        check(mkdtemp(base) != NULL);
        snprintf(data, sizeof data, "%s/data", base);
        snprintf(other, sizeof other, "%s/other", base);
        snprintf(view, sizeof view, "%s/view", base);
        check(mkdir(data, 0700) == 0 && mkdir(other, 0700) == 0 && mkdir(view, 0700) == 0);
        make_file(data, "f");
        make_file(other, "g");
        TEST_RUN(test_open_below);
        TEST_RUN(test_open_below_other_mounts);
        TEST_RUN(test_name);
        {
                char path[PATH_MAX];
                snprintf(path, sizeof path, "%s/f", data);
                check(unlink(path) == 0);
                snprintf(path, sizeof path, "%s/g", other);
                check(unlink(path) == 0);
        }
        check(rmdir(data) == 0 && rmdir(other) == 0 && rmdir(view) == 0 && rmdir(base) == 0);
        return 0;
}
