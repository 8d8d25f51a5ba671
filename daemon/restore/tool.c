/* SPDX-License-Identifier: MIT */
/*
 * tool.c — etcd's own tool does the restore: etcdutl (or etcdctl with
 * ETCDCTL_API=3) found in $PATH or named by restore.etcdutl, run with a
 * clean environment, the verified db handed over as descriptor 3, its
 * output kept (the tail) for the error message, killed after
 * RESTORE_TOOL_TIMEOUT_USEC.
 *
 * A compressed or encrypted backup reaches the tool as the plan's private
 * temporary file (O_TMPFILE, root's), checked against its SHA-256 trailer
 * as it was written and against the sidecar's db_sha256: the tool is told
 * --skip-hash-check, since its own check would read the whole db once more
 * (1.4 s of etcdctl 3.4's 2.9 s for a 600 MB db). The trailer is still
 * there, and the tool cuts it off (the db is whole pages: the plan refuses
 * one that is not). A plain backup is read in place, from the backup
 * directory: the tool checks it again, since the file could have been
 * changed since the plan read it.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "restore/internal.h"
#include "util/io.h"
#include "util/path.h"
#include "util/str.h"
#include "util/time.h"

/* The db is handed to the tool as this descriptor. */
#define TOOL_DB_FD 3

/* The program called name in $PATH (or name itself when it has a '/'). */
int tool_find(const char *name, char **ret) {
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

/* Read what the tool wrote so far into out (its tail, when it is more than
 * RESTORE_TOOL_OUTPUT_MAX_BYTES). true at the end of the output. */
static bool tool_read_output(int fd, char *out, size_t *len) {
        for (;;) {
                ssize_t k;

                if (*len == RESTORE_TOOL_OUTPUT_MAX_BYTES) {
                        /* Keep the tail: the error is at the end. */
                        memmove(out, out + *len / 2, *len - *len / 2);
                        *len -= *len / 2;
                }
                k = read(fd, out + *len, RESTORE_TOOL_OUTPUT_MAX_BYTES - *len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN)
                        return false;
                if (k <= 0)
                        return true;
                *len += (size_t) k;
        }
}

_noreturn_ static void tool_child(const RestorePlan *p, const Config *c, pid_t parent, int out_fd,
                                  char *const *argv, char *const *envp) {
        sigset_t all;
        int db_fd, null_fd;

        /* The tool never outlives the restore: killed with it (the OOM
         * killer, kill -9), it would go on writing into the restore dir. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(127);
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
        if (close_all_fds_except((const int[]) { TOOL_DB_FD }, 1) < 0)
                _exit(127);
        execve(p->tool_path, argv, envp);
        dprintf(STDERR_FILENO, "Error: cannot execute %s: %s\n", p->tool_path, strerror(errno));
        _exit(127);
}

int tool_snapshot_restore(Run *run) {
        RestorePlan *p = run->p;
        const EtcdMember *m = &p->member;
        char db_path[64], reason[1024], exit_how[64];
        _cleanup_free_ char *out = NULL, *path_env = NULL;
        _cleanup_close_ int rfd = -EBADF, wfd = -EBADF;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC), deadline = t0 + RESTORE_TOOL_TIMEOUT_USEC;
        _cleanup_close_ int pidfd = -EBADF;
        size_t out_len = 0;
        bool killed = false, exited = false;
        int pipefd[2], status = 0, r;
        pid_t pid, self = getpid();

        /* The db in the plan's own temporary file, not the backup's. */
        bool private_db = !p->backup->in_place;

        snprintf(db_path, sizeof db_path, "/proc/self/fd/%d", TOOL_DB_FD);
        char *const argv[] = { p->tool_path, (char *) "snapshot", (char *) "restore", db_path,
                               (char *) "--name", m->name.value, (char *) "--initial-cluster", m->initial_cluster.value,
                               (char *) "--initial-cluster-token", m->initial_cluster_token.value,
                               (char *) "--initial-advertise-peer-urls", m->initial_advertise_peer_urls.value,
                               (char *) "--data-dir", p->restore_dir,
                               private_db ? (char *) "--skip-hash-check" : NULL, NULL };
        /* A clean environment: etcdctl turns ETCDCTL_* variables into flags
         * and refuses ones that conflict with ours. */
        if (asprintf(&path_env, "PATH=%s", getenv("PATH") && *getenv("PATH") ? getenv("PATH") : DEFAULT_PATH) < 0)
                return -ENOMEM;
        char *const envp_etcdctl[] = { path_env, (char *) "ETCDCTL_API=3", NULL };
        char *const envp_etcdutl[] = { path_env, NULL };

        restore_report(run->fn, run->userdata, RESTORE_STEP_SNAPSHOT, RESTORE_STEP_RUNNING,
                       "%s%s snapshot restore%s into %s", p->tool == RESTORE_TOOL_ETCDCTL ? "ETCDCTL_API=3 " : "",
                       p->tool_path, private_db ? " --skip-hash-check" : "", p->restore_dir);
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
                tool_child(p, run->c, self, wfd, argv, p->tool == RESTORE_TOOL_ETCDCTL ? envp_etcdctl : envp_etcdutl);
        wfd = safe_close(wfd);
        /* The tool's end is its exit, not its output's: a wrapper may hand
         * its output to a child that lives on (the pipe stays open), or
         * close it and go on (the pipe ends early). Both are bounded by the
         * deadline. Without pidfd_open(), its exit is looked for every
         * 100 ms. */
        pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        (void) fcntl(rfd, F_SETFL, O_NONBLOCK);
        for (bool eof = false;;) {
                struct pollfd pfd[2] = { { .fd = eof ? -1 : rfd, .events = POLLIN },
                                         { .fd = pidfd, .events = POLLIN } };
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                pid_t w;

                if (now >= deadline) {
                        (void) kill(pid, SIGKILL);
                        killed = true;
                        break;
                }
                if (poll(pfd, 2, (int) MIN((deadline - now) / USEC_PER_MSEC + 1, pidfd >= 0 ? 1000u : 100u)) < 0 &&
                    errno != EINTR) {
                        r = -errno;
                        (void) kill(pid, SIGKILL);
                        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                                ;
                        return free_and_format(&run->error, "cannot wait for %s: %s", p->tool_path, strerror(-r)), r;
                }
                if (!eof)
                        eof = tool_read_output(rfd, out, &out_len);
                w = waitpid(pid, &status, WNOHANG);
                if (w < 0 && errno != EINTR) {
                        r = -errno;
                        (void) kill(pid, SIGKILL);
                        return free_and_format(&run->error, "cannot wait for %s: %s", p->tool_path, strerror(-r)), r;
                }
                if (w == pid) {
                        exited = true;
                        if (!eof)       /* what it wrote before it exited */
                                (void) tool_read_output(rfd, out, &out_len);
                        break;
                }
        }
        while (!exited && waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return free_and_format(&run->error, "cannot wait for %s: %s", p->tool_path, strerror(errno)), -errno;
        run->restore_dir_made = path_exists(p->restore_dir);
        if (!killed && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                if (!run->restore_dir_made)
                        return free_and_format(&run->error, "%s exited 0 but made no %s", p->tool_path, p->restore_dir),
                               -EIO;
                restore_report(run->fn, run->userdata, RESTORE_STEP_SNAPSHOT, RESTORE_STEP_DONE, "%s restored (%" PRIu64 " ms)",
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
        return free_and_format(&run->error, "%s snapshot restore failed (%s): %s", path_basename(p->tool_path), exit_how,
                         reason), -EIO;
}
