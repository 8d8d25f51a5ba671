/* SPDX-License-Identifier: MIT */
/*
 * worker.c — the backup job's child process and its line protocol (see
 * worker.h).
 */

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "backup/codec.h"
#include "util/io.h"
#include "util/str.h"
#include "service/worker.h"

void worker_message_done(WorkerMessage *m) {
        job_result_done(&m->job);
        *m = (WorkerMessage) {};
}

/* o[key] = the strings of l, as many as fit in max_bytes in all, so that a
 * line stays far below WORKER_LINE_MAX. Returns how many were left out. */
static size_t add_strv(struct json_object *o, const char *key, char **l, size_t max_bytes) {
        struct json_object *a = json_object_new_array();
        size_t total = 0;
        char **p = l;

        for (; p && *p && total + strlen(*p) <= max_bytes; p++) {
                total += strlen(*p);
                json_object_array_add(a, json_object_new_string(*p));
        }
        json_object_object_add(o, key, a);
        return p ? strv_length(p) : 0;
}

/* add_strv() capped at WORKER_UPLOADED_MAX_BYTES, and o[more_key] = how many
 * names it left out plus more (those already left out), when not 0. */
static void add_names(struct json_object *o, const char *key, const char *more_key, char **l, uint64_t more) {
        more += add_strv(o, key, l, WORKER_UPLOADED_MAX_BYTES);
        if (more > 0)
                json_object_object_add(o, more_key, json_object_new_int64((int64_t) more));
}

/* The strings of the array o[key], if there is one; other elements are skipped. */
static int get_strv(struct json_object *o, const char *key, char ***l) {
        struct json_object *j;

        if (!json_object_object_get_ex(o, key, &j) || !json_object_is_type(j, json_type_array))
                return 0;
        for (size_t i = 0; i < json_object_array_length(j); i++) {
                struct json_object *e = json_object_array_get_idx(j, i);
                if (json_object_is_type(e, json_type_string) && strv_extend(l, json_object_get_string(e)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int worker_message_format(const WorkerMessage *m, char **ret) {
        struct json_object *o = json_object_new_object();
        const char *text;

        if (!o)
                return -ENOMEM;
        if (m->type == WORKER_MESSAGE_PROGRESS) {
                json_object_object_add(o, "type", json_object_new_string("progress"));
                json_object_object_add(o, "phase", json_object_new_string(backup_phase_to_string(m->phase)));
                json_object_object_add(o, "bytes", json_object_new_int64((int64_t) m->bytes));
                json_object_object_add(o, "total", json_object_new_int64((int64_t) m->total));
        } else {
                json_object_object_add(o, "type", json_object_new_string("result"));
                json_object_object_add(o, "ok", json_object_new_boolean(m->ok));
                if (m->job.error)
                        json_object_object_add(o, "error", json_object_new_string(m->job.error));
                if (m->job.etcd_unreachable)
                        json_object_object_add(o, "etcd_unreachable", json_object_new_boolean(true));
                if (m->job.path)
                        json_object_object_add(o, "path", json_object_new_string(m->job.path));
                if (m->ok) {
                        _cleanup_free_ char *sc = NULL;
                        if (sidecar_to_json(&m->job.sidecar, &sc) < 0) {
                                json_object_put(o);
                                return -ENOMEM;
                        }
                        json_object_object_add(o, "sidecar", json_object_new_string(sc));
                        add_names(o, "pruned", "pruned_more", m->job.pruned, m->job.pruned_more);
                        json_object_object_add(o, "kept", json_object_new_int64(m->job.kept));
                }
                if (m->job.retention_error)
                        json_object_object_add(o, "retention_error", json_object_new_string(m->job.retention_error));
                if (m->ok && m->job.upload_error)
                        json_object_object_add(o, "upload_error",
                                               json_object_new_string_len(m->job.upload_error,
                                                                          (int) MIN(strlen(m->job.upload_error),
                                                                                    (size_t) WORKER_UPLOAD_ERROR_MAX)));
                if (m->ok && m->job.uploaded)
                        add_names(o, "uploaded", "uploaded_more", m->job.uploaded, m->job.uploaded_more);
                if (m->ok && m->job.remote_pruned)
                        add_names(o, "remote_pruned", "remote_pruned_more", m->job.remote_pruned,
                                  m->job.remote_pruned_more);
                if (m->ok && m->job.remote_aborted)
                        add_names(o, "remote_aborted", "remote_aborted_more", m->job.remote_aborted,
                                  m->job.remote_aborted_more);
                if (m->ok && m->job.k8s_checked) {
                        json_object_object_add(o, "k8s_unreadable", json_object_new_int64((int64_t) m->job.k8s_unreadable));
                        add_strv(o, "k8s_missing_keys", m->job.k8s_missing_keys, WORKER_UPLOADED_MAX_BYTES);
                }
                if (m->ok && m->job.k8s_error)
                        json_object_object_add(o, "k8s_error", json_object_new_string(m->job.k8s_error));
                if (m->ok && m->job.warning)
                        json_object_object_add(o, "warning", json_object_new_string(m->job.warning));
                if (m->ok && m->job.follow_threads > 0)
                        json_object_object_add(o, "follow_threads", json_object_new_int64(m->job.follow_threads));
        }
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text || asprintf(ret, "%s\n", text) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        json_object_put(o);
        return 0;
}

static const char *get_str(struct json_object *o, const char *key) {
        struct json_object *j;
        if (!json_object_object_get_ex(o, key, &j) || !json_object_is_type(j, json_type_string))
                return NULL;
        return json_object_get_string(j);
}

static int get_u64(struct json_object *o, const char *key, uint64_t *ret) {
        struct json_object *j;
        int64_t v;
        if (!json_object_object_get_ex(o, key, &j) || !json_object_is_type(j, json_type_int))
                return -EBADMSG;
        v = json_object_get_int64(j);
        if (v < 0)
                return -EBADMSG;
        *ret = (uint64_t) v;
        return 0;
}

int worker_message_parse(const char *line, size_t n, WorkerMessage *ret) {
        WorkerMessage m = {};
        struct json_object *o, *j;
        const char *type, *s;
        int r = -EBADMSG;

        if (n > WORKER_LINE_MAX)
                return -EBADMSG;
        o = json_tokener_parse(line);
        if (!o)
                return -EBADMSG;
        if (!json_object_is_type(o, json_type_object) || !(type = get_str(o, "type")))
                goto finish;
        if (streq(type, "progress")) {
                m.type = WORKER_MESSAGE_PROGRESS;
                s = get_str(o, "phase");
                m.phase = _BACKUP_PHASE_MAX;
                for (BackupPhase p = 0; s && p < _BACKUP_PHASE_MAX; p++)
                        if (streq(s, backup_phase_to_string(p)))
                                m.phase = p;
                if (m.phase == _BACKUP_PHASE_MAX || get_u64(o, "bytes", &m.bytes) < 0 ||
                    get_u64(o, "total", &m.total) < 0)
                        goto finish;
        } else if (streq(type, "result")) {
                m.type = WORKER_MESSAGE_RESULT;
                if (!json_object_object_get_ex(o, "ok", &j) || !json_object_is_type(j, json_type_boolean))
                        goto finish;
                m.ok = json_object_get_boolean(j);
                if ((s = get_str(o, "error")) && !(m.job.error = strdup(s)))
                        goto oom;
                m.job.etcd_unreachable = json_object_object_get_ex(o, "etcd_unreachable", &j) &&
                                         json_object_is_type(j, json_type_boolean) && json_object_get_boolean(j);
                if ((s = get_str(o, "retention_error")) && !(m.job.retention_error = strdup(s)))
                        goto oom;
                if (m.ok) {
                        const char *why;
                        uint64_t kept = 0, follow = 0;
                        if (!(s = get_str(o, "path")) || !(m.job.path = strdup(s)))
                                goto finish;
                        if (!(s = get_str(o, "sidecar")) || sidecar_from_json(s, strlen(s), &m.job.sidecar, &why) < 0)
                                goto finish;
                        if (get_strv(o, "pruned", &m.job.pruned) < 0)
                                goto oom;
                        (void) get_u64(o, "pruned_more", &m.job.pruned_more);
                        if (get_u64(o, "kept", &kept) >= 0)
                                m.job.kept = (unsigned) MIN(kept, (uint64_t) UINT32_MAX);
                        if ((s = get_str(o, "upload_error")) &&
                            !(m.job.upload_error = strndup(s, WORKER_UPLOAD_ERROR_MAX)))
                                goto oom;
                        if (get_strv(o, "uploaded", &m.job.uploaded) < 0 ||
                            get_strv(o, "remote_pruned", &m.job.remote_pruned) < 0 ||
                            get_strv(o, "remote_aborted", &m.job.remote_aborted) < 0)
                                goto oom;
                        (void) get_u64(o, "uploaded_more", &m.job.uploaded_more);
                        (void) get_u64(o, "remote_pruned_more", &m.job.remote_pruned_more);
                        (void) get_u64(o, "remote_aborted_more", &m.job.remote_aborted_more);
                        m.job.k8s_checked = get_u64(o, "k8s_unreadable", &m.job.k8s_unreadable) >= 0;
                        if (m.job.k8s_checked && get_strv(o, "k8s_missing_keys", &m.job.k8s_missing_keys) < 0)
                                goto oom;
                        if ((s = get_str(o, "k8s_error")) && !(m.job.k8s_error = strdup(s)))
                                goto oom;
                        if ((s = get_str(o, "warning")) && !(m.job.warning = strdup(s)))
                                goto oom;
                        if (get_u64(o, "follow_threads", &follow) >= 0)
                                m.job.follow_threads = (unsigned) MIN(follow, (uint64_t) CODEC_THREADS_MAX);
                } else if (!m.job.error)
                        goto finish;
        } else
                goto finish;
        *ret = m;
        m = (WorkerMessage) {};
        r = 0;
        goto finish;
oom:
        r = -ENOMEM;
finish:
        worker_message_done(&m);
        json_object_put(o);
        return r;
}

typedef struct Child {
        int fd;
        uint64_t last_report_usec;
} Child;

static void send_message(int fd, const WorkerMessage *m) {
        _cleanup_free_ char *line = NULL;
        if (worker_message_format(m, &line) >= 0)
                (void) loop_write(fd, line, strlen(line));
}

/* From the publish phase until the next is reported, the stop's SIGTERM (and a terminal's SIGINT) waits: a
 * worker ended between the backup's link and that report would be told as a cancelled backup although it is
 * in place. The daemon's kill timer (SIGKILL) still ends a publish that hangs. A thread's mask is enough: the
 * compressor's threads have ended before the publish (daemon.sh counts one thread in the worker there). */
static void on_child_progress(BackupPhase phase, uint64_t bytes, uint64_t total, void *userdata) {
        Child *c = userdata;
        sigset_t stop;

        sigemptyset(&stop);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGINT);
        if (phase == BACKUP_PHASE_PUBLISH)
                (void) sigprocmask(SIG_BLOCK, &stop, NULL);
        send_message(c->fd, &(WorkerMessage) { .type = WORKER_MESSAGE_PROGRESS, .phase = phase,
                                               .bytes = bytes, .total = total });
        if (phase > BACKUP_PHASE_PUBLISH)
                (void) sigprocmask(SIG_UNBLOCK, &stop, NULL);
}

static _noreturn_ void child_main(const Config *c, int fd, pid_t daemon_pid) {
        Child child = { .fd = fd };
        WorkerMessage m = { .type = WORKER_MESSAGE_RESULT };
        sigset_t all;
        int r;

        /* The daemon blocks these for its event loop; the job must die on them. */
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGPIPE, SIG_IGN);
        /* A job must not outlive the daemon that would report it: gone before the signal was asked for, the
         * daemon is no longer the parent (which may be PID 1, the daemon itself as a container's first
         * process). */
        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != daemon_pid)
                _exit(EXIT_FAILURE);

        r = job_run(c, on_child_progress, &child, &m.job);
        m.ok = r >= 0;
        m.job.etcd_unreachable = r == -EHOSTUNREACH;
        send_message(fd, &m);
        _exit(m.ok ? EXIT_SUCCESS : EXIT_FAILURE);
}

int worker_start(const Config *c, int lock_fd, pid_t *ret_pid, int *ret_fd) {
        int pipefd[2];
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        pid_t daemon_pid = getpid();
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                safe_close(pipefd[0]);
                safe_close(pipefd[1]);
                return r;
        }
        if (pid == 0) {
                /* Nothing of the daemon's stays open in the job: not the listener, the
                 * clients (a client the daemon closed must see its EOF now), the
                 * event loop's epoll, signalfd and timers. The lock stays held. */
                int keep[] = { pipefd[1], lock_fd };
                int r = close_all_fds_except(keep, lock_fd >= 0 ? 2 : 1);
                if (r < 0) {
                        WorkerMessage m = { .type = WORKER_MESSAGE_RESULT };
                        if (asprintf(&m.job.error, "the backup worker cannot close the daemon's descriptors: %s",
                                     strerror(-r)) >= 0)
                                send_message(pipefd[1], &m);
                        _exit(EXIT_FAILURE);
                }
                child_main(c, pipefd[1], daemon_pid);
        }
        safe_close(pipefd[1]);
        if (fcntl(pipefd[0], F_SETFL, O_NONBLOCK) < 0) {
                int r = -errno;
                safe_close(pipefd[0]);
                return r;
        }
        *ret_pid = pid;
        *ret_fd = pipefd[0];
        return 0;
}
