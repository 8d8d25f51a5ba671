/* SPDX-License-Identifier: MIT */
/*
 * restore-service.c — one restore per connection: peer credentials (root
 * only), one request line of at most 64 KiB read with a deadline, the
 * configuration, then restore_plan(). A dry run answers with the plan as
 * its result. Otherwise the plan is sent, and the operator's answer
 * ({"method":"Confirm"} or "Cancel") is read on the same connection within
 * restore.confirm_timeout — the plan keeps the verified db and the restore
 * lock meanwhile — and only then restore_run(), each step streamed to the
 * client as {"step","state","message"} and logged. The client may go away at any
 * moment: writes then fail quietly and the runbook carries on to its end
 * (or its rollback), because stopping half-way would be the worst outcome.
 */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "service/log.h"
#include "service/restore-service.h"
#include "restore/restore.h"
#include "util/io.h"
#include "util/path.h"
#include "util/time.h"

/* How long a client may take to send its request line. */
#define REQUEST_TIMEOUT_USEC (30 * USEC_PER_SEC)

typedef struct Service {
        int fd;
        bool client_gone;
        bool dry_run;
        /* what was read: the current line and what follows it */
        char buf[RESTORE_REQUEST_MAX_BYTES + 2];
        size_t len, consumed;
        bool eof;
} Service;

static void json_putp(struct json_object **o) {
        json_object_put(*o);
}

/* Send one object as a line (takes ownership). A client that went away is
 * remembered and not written to again. */
static void send_object(Service *s, struct json_object *o) {
        const char *text;
        _cleanup_free_ char *line = NULL;

        if (!o)
                return;
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s->client_gone && text && asprintf(&line, "%s\n", text) >= 0 &&
            loop_write(s->fd, line, strlen(line)) < 0)
                s->client_gone = true;
        json_object_put(o);
}

static void send_error(Service *s, const char *code, const char *message, struct json_object *extra) {
        struct json_object *o = extra ? extra : json_object_new_object();

        if (!o)
                return;
        json_object_object_add(o, "error", json_object_new_string(code));
        json_object_object_add(o, "message", json_object_new_string(message));
        send_object(s, o);
}

/* Before hanging up on a client that may still be sending (its line was
 * too long): the answer is sent; reading on what it sends, for at most
 * 2 s and 1 MiB, keeps its writes from failing (EPIPE) before it has read
 * the answer. */
static void drain_input(Service *s) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + 2 * USEC_PER_SEC;
        size_t total = 0;
        char buf[16384];

        (void) shutdown(s->fd, SHUT_WR);
        while (total < 1024 * 1024) {
                struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                ssize_t k;

                if (now >= deadline || poll(&pfd, 1, (int) ((deadline - now) / USEC_PER_MSEC) + 1) <= 0)
                        return;
                k = recv(s->fd, buf, sizeof buf, MSG_DONTWAIT);
                if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
                        return;
                if (k < 0)
                        continue;
                total += (size_t) k;
        }
}

static void on_progress(const char *step, RestoreStepState state, const char *message, void *userdata) {
        Service *s = userdata;
        struct json_object *o = json_object_new_object();

        if (o) {
                json_object_object_add(o, "step", json_object_new_string(step));
                json_object_object_add(o, "state", json_object_new_string(restore_step_state_to_string(state)));
                json_object_object_add(o, "message", json_object_new_string(message));
                send_object(s, o);
        }
        /* What the client shows as it happens; once it has gone (the operator stopped watching), the journal is
         * where it is followed. */
        if (state == RESTORE_STEP_RUNNING)
                log_full_errno(s->client_gone ? LOG_INFO : LOG_DEBUG, 0, "%s%s: %s", s->dry_run ? "dry run: " : "",
                               step, message);
        else
                log_full_errno(state == RESTORE_STEP_FAILED ? LOG_ERR : LOG_INFO, 0, "%s%s: %s: %s",
                               s->dry_run ? "dry run: " : "", step, restore_step_state_to_string(state), message);
}

/* Read the next line (without its newline) of at most
 * RESTORE_REQUEST_MAX_BYTES into s->line, waiting at most timeout_usec for
 * it; bytes after the newline are kept for the next call. EOF ends a line
 * too. Returns its length, -E2BIG, -ETIMEDOUT, -ENODATA (nothing sent), or
 * another -errno. */
static ssize_t read_line(Service *s, uint64_t timeout_usec) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_usec;
        size_t scanned = 0;

        /* Drop the line returned last time. */
        if (s->consumed > 0) {
                memmove(s->buf, s->buf + s->consumed, s->len - s->consumed);
                s->len -= s->consumed;
                s->consumed = 0;
        }
        for (;;) {
                struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
                uint64_t now;
                char *nl;
                ssize_t k;
                int r;

                nl = memchr(s->buf + scanned, '\n', s->len - scanned);
                if (nl) {
                        size_t len = (size_t) (nl - s->buf);
                        s->consumed = len + 1;
                        if (len > RESTORE_REQUEST_MAX_BYTES)
                                return -E2BIG;
                        if (len > 0 && s->buf[len - 1] == '\r')
                                len--;
                        s->buf[len] = '\0';
                        return (ssize_t) len;
                }
                scanned = s->len;
                if (s->len > RESTORE_REQUEST_MAX_BYTES)
                        return -E2BIG;
                if (s->eof) {
                        if (s->len == 0)
                                return -ENODATA;
                        s->consumed = s->len;
                        s->buf[s->len] = '\0';
                        return (ssize_t) s->len;
                }
                now = now_usec(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return -ETIMEDOUT;
                r = poll(&pfd, 1, (int) MIN((deadline - now) / USEC_PER_MSEC + 1, (uint64_t) INT_MAX));
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r <= 0)
                        continue;
                k = recv(s->fd, s->buf + s->len, RESTORE_REQUEST_MAX_BYTES + 1 - s->len, MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        s->eof = true;
                s->len += (size_t) k;
        }
}

/* Send the plan ({"plan":{…},"confirm_timeout_ms":N}) and wait up to
 * timeout_usec for the operator's answer. Returns 1 when confirmed; 0 when
 * cancelled, not answered in time or the client went away (each sent and
 * logged as a refusal); -EBADMSG for an answer that is neither; -ENOMEM. */
static int await_confirmation(Service *s, const RestorePlan *plan, struct json_object *plan_json,
                              uint64_t timeout_usec) {
        struct json_object *o = json_object_new_object(), *extra;
        const char *code = NULL, *message = NULL, *why;
        _cleanup_free_ char *msg = NULL;
        ssize_t n;
        int r;

        if (!o)
                return log_error("out of memory"), -ENOMEM;
        json_object_object_add(o, "plan", json_object_get(plan_json));
        json_object_object_add(o, "confirm_timeout_ms", json_object_new_uint64(timeout_usec / USEC_PER_MSEC));
        send_object(s, o);

        n = read_line(s, timeout_usec);
        if (n >= 0) {
                r = restore_confirm_parse(s->buf, (size_t) n, plan->backup_path, &code, &message);
                if (r > 0)
                        return 1;
                if (r < 0) {
                        send_error(s, code, message, NULL);
                        log_error("restore from %s refused, nothing was changed: bad answer to the plan: %s",
                                  plan->backup_path, message);
                        return r;
                }
                why = "the operator cancelled it";
        } else if (n == -ETIMEDOUT) {
                if (asprintf(&msg, "no confirmation within restore.confirm_timeout (%" PRIu64 " s)",
                             timeout_usec / USEC_PER_SEC) < 0)
                        return log_error("out of memory"), -ENOMEM;
                why = msg;
        } else if (n == -ENODATA)
                why = "the client closed the connection without confirming";
        else if (n == -E2BIG)
                why = "the answer to the plan is over 64 KiB";
        else
                why = strerror((int) -n);
        extra = json_object_new_object();
        if (extra)
                json_object_object_add(extra, "changed", json_object_new_boolean(false));
        send_error(s, "not_confirmed", why, extra);
        log_notice("restore from %s not confirmed, nothing was changed: %s", plan->backup_path, why);
        return 0;
}

static int load_config(const char *path, Config **ret, char **ret_first_error) {
        ConfigDiags diags = {};
        int r;

        r = config_load(path, ret, &diags);
        for (size_t i = 0; i < diags.n; i++) {
                ConfigDiag *d = &diags.items[i];
                log_full_errno(d->severity == CONFIG_ERROR ? LOG_ERR : LOG_WARNING, 0, "%s:%d: %s", d->file, d->line,
                               d->message);
                if (d->severity == CONFIG_ERROR && !*ret_first_error &&
                    asprintf(ret_first_error, "%s:%d: %s", d->file, d->line, d->message) < 0)
                        *ret_first_error = NULL;
        }
        config_diags_done(&diags);
        return r;
}

static int serve(Service *s, const char *config_path) {
        _cleanup_(restore_request_done) RestoreRequest req = {};
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(restore_plan_freep) RestorePlan *plan = NULL;
        _cleanup_(restore_result_done) RestoreResult res = {};
        _cleanup_(json_putp) struct json_object *plan_json = NULL;
        _cleanup_free_ char *error = NULL, *msg = NULL;
        const char *code = NULL, *message = NULL;
        char rev[32], dur[32];
        struct ucred cred;
        socklen_t len = sizeof cred;
        ssize_t n;
        int r;

        if (getsockopt(s->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                log_error_errno(errno, "--serve-restore needs a connected Unix socket as standard input: %m");
                send_error(s, "internal", "the restore service was not started on a socket", NULL);
                return EXIT_FAILURE;
        }
        if (cred.uid != 0) {
                _cleanup_free_ char *who = NULL;
                char uid[16];

                snprintf(uid, sizeof uid, "%u", (unsigned) cred.uid);
                if (asprintf(&who, "Restore refused: uid %u (pid %d) is not root", (unsigned) cred.uid,
                             (int) cred.pid) >= 0)
                        log_struct(LOG_WARNING, MESSAGE_ID_ACCESS_DENIED, who, "ETCD_BACKUP_PEER_UID", uid,
                                   "ETCD_BACKUP_DENIED_COUNT", "1", NULL);
                send_error(s, "access_denied", "restore is root-only", NULL);
                return EXIT_FAILURE;
        }

        /* A byte sent out of band would wake poll() with nothing for read() but a wait past every deadline. */
        if (setsockopt(s->fd, SOL_SOCKET, SO_OOBINLINE, &(int) { 1 }, sizeof(int)) < 0) {
                log_error_errno(errno, "cannot set SO_OOBINLINE on the restore connection: %m");
                send_error(s, "internal", "cannot set up the connection", NULL);
                return EXIT_FAILURE;
        }
        n = read_line(s, REQUEST_TIMEOUT_USEC);
        if (n < 0) {
                if (n == -E2BIG) {
                        send_error(s, "too_large", "requests are at most 64 KiB", NULL);
                        drain_input(s);
                } else if (n == -ETIMEDOUT)
                        send_error(s, "timeout", "no request line within 30 s", NULL);
                log_error("no restore request: %s", n == -ENODATA ? "the client sent nothing" : strerror((int) -n));
                return EXIT_USAGE;
        }
        r = restore_request_parse(s->buf, (size_t) n, &req, &code, &message);
        if (r < 0) {
                send_error(s, code, message, NULL);
                log_error("bad restore request: %s", message);
                return r == -ENOMEM ? EXIT_FAILURE : EXIT_USAGE;
        }
        s->dry_run = req.dry_run;

        /* The restore runs as root what the configuration names (restore.etcdutl) and moves the data dir it names:
         * a file that anyone but root may change would make them root. (One that cannot be read is said below.) */
        r = path_root_only_writable(config_path, &error);
        if (r == -EPERM || r == -ENOMEM) {
                if (asprintf(&msg, "configuration %s: %s; the restore runs as root what it names, so it must be "
                             "root's and writable by nobody else (chown root:root, chmod go-w)", config_path,
                             error ? error : strerror(-r)) < 0)
                        msg = NULL;
                log_error("%s", msg ? msg : "the configuration may be changed by others than root");
                send_error(s, "config_error", msg ? msg : "the configuration may be changed by others than root",
                           NULL);
                return EXIT_CONFIG;
        }
        error = mfree(error);
        if (load_config(config_path, &c, &error) < 0) {
                if (asprintf(&msg, "configuration %s is not valid: %s", config_path,
                             error ? error : "see the journal") < 0)
                        msg = NULL;
                send_error(s, "config_error", msg ? msg : "configuration not valid", NULL);
                return EXIT_CONFIG;
        }

        r = restore_plan(c, req.backup, now_usec(CLOCK_REALTIME), on_progress, s, &plan, &error);
        if (r < 0) {
                struct json_object *extra = json_object_new_object();
                if (extra)
                        json_object_object_add(extra, "changed", json_object_new_boolean(false));
                send_error(s, "refused", error ? error : strerror(-r), extra);
                if (!req.dry_run) {
                        if (asprintf(&msg, "Restore from %s refused, nothing was changed: %s", req.backup,
                                     error ? error : strerror(-r)) >= 0)
                                log_struct(LOG_ERR, MESSAGE_ID_RESTORE_FAILED, msg, "ETCD_BACKUP_FILE", req.backup,
                                           "ETCD_BACKUP_ERROR", error, NULL);
                } else
                        log_error("dry run: restore from %s would be refused: %s", req.backup,
                                  error ? error : strerror(-r));
                return EXIT_FAILURE;
        }
        plan_json = restore_plan_to_json(plan);
        if (!plan_json)
                return log_error("out of memory"), EXIT_FAILURE;

        if (req.dry_run) {
                struct json_object *o = json_object_new_object(), *result = json_object_new_object();
                /* Release the lock and the temporary db before answering. */
                plan = restore_plan_free(plan);
                if (!o || !result) {
                        json_object_put(o);
                        json_object_put(result);
                        return log_error("out of memory"), EXIT_FAILURE;
                }
                json_object_object_add(result, "dry_run", json_object_new_boolean(true));
                json_object_object_add(result, "plan", json_object_get(plan_json));
                json_object_object_add(o, "result", result);
                send_object(s, o);
                return EXIT_SUCCESS;
        }

        /* The plan, then the operator's answer on this same connection. */
        r = await_confirmation(s, plan, plan_json, c->restore.confirm_timeout_usec);
        if (r <= 0)
                return r == -ENOMEM ? EXIT_FAILURE : (r == -EBADMSG ? EXIT_USAGE : EXIT_FAILURE);

        if (asprintf(&msg, "Restore of etcd from %s started", plan->backup_path) < 0)
                return log_error("out of memory"), EXIT_FAILURE;
        snprintf(rev, sizeof rev, "%" PRId64, plan->revision);
        log_struct(LOG_NOTICE, MESSAGE_ID_RESTORE_STARTED, msg, "ETCD_BACKUP_FILE", plan->backup_path,
                   "ETCD_REVISION", rev, "ETCD_DATA_DIR", plan->data_dir, NULL);
        msg = mfree(msg);

        /* From here on the runbook ends in success or rollback, never half-way. */
        {
                sigset_t mask;
                sigemptyset(&mask);
                sigaddset(&mask, SIGTERM);
                sigaddset(&mask, SIGINT);
                sigaddset(&mask, SIGHUP);
                (void) sigprocmask(SIG_BLOCK, &mask, NULL);
        }
        r = restore_run(plan, c, on_progress, s, &res);
        snprintf(rev, sizeof rev, "%" PRId64, plan->revision);
        snprintf(dur, sizeof dur, "%" PRIu64, res.duration_usec);
        if (r >= 0) {
                struct json_object *o = json_object_new_object(), *result = json_object_new_object();
                if (asprintf(&msg, "Restored etcd from %s (revision %s) into %s; etcd is healthy at revision %" PRId64
                             "%s%s", plan->backup_path, rev, plan->data_dir, res.etcd_revision,
                             plan->data_dir_exists ? "; the old data dir is " : "",
                             plan->data_dir_exists ? plan->pre_restore_dir : "") >= 0)
                        log_struct(LOG_NOTICE, MESSAGE_ID_RESTORE_FINISHED, msg, "ETCD_BACKUP_FILE", plan->backup_path,
                                   "ETCD_REVISION", rev, "ETCD_DATA_DIR", plan->data_dir, "DURATION_USEC", dur, NULL);
                if (o && result) {
                        json_object_object_add(result, "dry_run", json_object_new_boolean(false));
                        json_object_object_add(result, "backup", json_object_new_string(plan->backup_path));
                        json_object_object_add(result, "revision", json_object_new_int64(plan->revision));
                        json_object_object_add(result, "etcd_revision", json_object_new_int64(res.etcd_revision));
                        json_object_object_add(result, "data_dir", json_object_new_string(plan->data_dir));
                        json_object_object_add(result, "pre_restore_dir", plan->data_dir_exists ?
                                               json_object_new_string(plan->pre_restore_dir) : NULL);
                        json_object_object_add(result, "mode",
                                               json_object_new_string(restore_mode_to_string(plan->mode)));
                        json_object_object_add(result, "apiserver_running",
                                               json_object_new_boolean(plan->apiserver_running));
                        json_object_object_add(result, "duration_ms",
                                               json_object_new_uint64(res.duration_usec / USEC_PER_MSEC));
                        json_object_object_add(result, "plan", json_object_get(plan_json));
                        json_object_object_add(o, "result", result);
                        send_object(s, o);
                } else {
                        json_object_put(o);
                        json_object_put(result);
                }
                return EXIT_SUCCESS;
        }

        {
                struct json_object *extra = json_object_new_object();
                if (asprintf(&msg, "Restore of etcd from %s failed: %s; %s", plan->backup_path,
                             res.error ? res.error : strerror(-r),
                             res.rollback_error ? "the rollback is INCOMPLETE, manual work needed" :
                             res.rolled_back ? "rolled back, everything is as it was before the restore" :
                                               "nothing was changed") >= 0)
                        log_struct(LOG_ERR, MESSAGE_ID_RESTORE_FAILED, msg, "ETCD_BACKUP_FILE", plan->backup_path,
                                   "ETCD_REVISION", rev, "ETCD_DATA_DIR", plan->data_dir, "ETCD_BACKUP_ERROR",
                                   res.error, "ETCD_ROLLBACK_ERROR", res.rollback_error, "DURATION_USEC", dur, NULL);
                if (extra) {
                        /* Only an incomplete rollback leaves anything changed. */
                        json_object_object_add(extra, "changed", json_object_new_boolean(res.rollback_error != NULL));
                        json_object_object_add(extra, "rolled_back", json_object_new_boolean(res.rolled_back));
                        json_object_object_add(extra, "rollback_error", res.rollback_error ?
                                               json_object_new_string(res.rollback_error) : NULL);
                        json_object_object_add(extra, "data_dir", json_object_new_string(plan->data_dir));
                        json_object_object_add(extra, "failed_restore_dir", res.failed_dir_kept ?
                                               json_object_new_string(plan->failed_restore_dir) : NULL);
                }
                /* Failed before it changed anything (its record could not be
                 * written): said as a refusal, "nothing was changed". */
                send_error(s, res.rollback_error ? "rollback_failed" : res.rolled_back ? "restore_failed" : "refused",
                           res.error ? res.error : strerror(-r), extra);
        }
        return EXIT_FAILURE;
}

int restore_service_main(const char *config_path, int fd) {
        Service s = { .fd = fd };

        /* A client that hangs up must not kill a restore half-way. */
        (void) signal(SIGPIPE, SIG_IGN);
        return serve(&s, config_path ? config_path : CONFIG_DEFAULT_PATH);
}
