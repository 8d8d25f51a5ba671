/* SPDX-License-Identifier: MIT */
/*
 * manager-control.c — the manager's answers on the control socket: Status,
 * List (from the listing kept in memory, read again when the directory
 * changed), Prune, Backup (with progress for the clients that wait), and
 * the socket's close, denied and paused events.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/log.h"
#include "service/manager-internal.h"
#include "util/str.h"
#include "util/time.h"

static const char *state_to_string(ManagerState s) {
        return s == MANAGER_RUNNING ? "running" : s == MANAGER_STOPPING ? "stopping" : "idle";
}

static void reply_status(Manager *m, ControlConnection *c) {
        struct json_object *o = json_object_new_object(), *last = NULL;
        char next[FORMAT_RFC3339_MAX];

        if (!o)
                return;
        json_object_object_add(o, "state", json_object_new_string(state_to_string(m->state)));
        if (m->have_last && !m->last_ok) {
                last = json_object_new_object();
                json_object_object_add(last, "error", json_object_new_string(m->last_error ? m->last_error : "unknown"));
        } else if (m->have_last_sidecar)
                last = sidecar_to_json_object(&m->last_sidecar);
        json_object_object_add(o, "last", last);
        json_object_object_add(o, "next", m->planned_usec > 0
                               ? json_object_new_string(format_rfc3339(next, sizeof next, m->armed_usec)) : NULL);
        if (m->state == MANAGER_RUNNING)
                json_object_object_add(o, "progress", manager_progress_json(m));
        json_object_object_add(o, "failures_total", json_object_new_int64((int64_t) m->failures_total));
        if (m->config->upload.enabled) {
                /* Apart from "last": a good backup whose copy failed is still a good backup. */
                struct json_object *up = json_object_new_object();
                char when[FORMAT_RFC3339_MAX];
                json_object_object_add(up, "error", m->upload_error ? json_object_new_string(m->upload_error) : NULL);
                json_object_object_add(up, "last_success", m->upload_last_success_usec > 0
                                       ? json_object_new_string(format_rfc3339(when, sizeof when,
                                                                               m->upload_last_success_usec))
                                       : NULL);
                json_object_object_add(up, "failures_total", json_object_new_int64((int64_t) m->upload_failures_total));
                json_object_object_add(o, "upload", up);
        }
        if (m->retry_timer)
                json_object_object_add(o, "retry_attempt", json_object_new_int((int) m->attempt));
        control_send(c, o);
}

static void reply_list(Manager *m, ControlConnection *c) {
        _cleanup_free_ char *error = NULL;
        struct json_object *o;
        int r;

        /* A directory that cannot be read whole is said, not answered with the listing before. */
        r = manager_listing_refresh(m, &error);
        if (r < 0) {
                control_send_error(c, "failed", error ? error : strerror(-r));
                return;
        }
        o = json_object_new_object();
        if (!o)
                return;
        json_object_object_add(o, "backups", m->listing ? json_object_get(m->listing) : json_object_new_array());
        control_send(c, o);
}

static struct json_object *strv_to_json(char **l) {
        struct json_object *a = json_object_new_array();
        for (char **p = l; a && p && *p; p++)
                json_object_array_add(a, json_object_new_string(*p));
        return a;
}

static void reply_prune(Manager *m, ControlConnection *c, struct json_object *request) {
        _cleanup_strv_free_ char **kept = NULL, **deleted = NULL;
        _cleanup_free_ char *error = NULL;
        struct json_object *j, *o;
        bool dry_run = false;
        int r;

        if (json_object_object_get_ex(request, "dry_run", &j)) {
                if (!json_object_is_type(j, json_type_boolean)) {
                        control_send_error(c, "invalid_request", "dry_run must be true or false");
                        return;
                }
                dry_run = json_object_get_boolean(j);
        }
        if (!dry_run && m->state != MANAGER_IDLE) {
                control_send_error(c, "busy", "a backup is running; prune after it");
                return;
        }
        if (!dry_run) {
                r = manager_relock(m, &error);
                if (r < 0) {
                        log_error("prune: %s", error ? error : strerror(-r));
                        control_send_error(c, "failed", error ? error : strerror(-r));
                        return;
                }
        }
        r = backup_prune(m->config, NULL, dry_run, &kept, &deleted, &error);
        /* A prune that failed part-way has removed some: they are said too. */
        if (!dry_run)
                manager_listing_remove(m, deleted);
        if (!dry_run)
                for (char **p = deleted; p && *p; p++) {
                        _cleanup_free_ char *msg = NULL;
                        if (asprintf(&msg, "Pruned %s", *p) >= 0)
                                log_struct(LOG_INFO, MESSAGE_ID_PRUNED, msg, "ETCD_BACKUP_FILE", *p, NULL);
                }
        if (r < 0) {
                control_send_error(c, "failed", error ? error : strerror(-r));
                return;
        }
        o = json_object_new_object();
        if (!o)
                return;
        json_object_object_add(o, "keep", strv_to_json(kept));
        json_object_object_add(o, "delete", strv_to_json(deleted));
        json_object_object_add(o, "dry_run", json_object_new_boolean(dry_run));
        control_send(c, o);
}

/* Where the running backup is, as {"progress": …}. */
static void send_progress(Manager *m, ControlConnection *c) {
        struct json_object *o = json_object_new_object();

        if (o) {
                json_object_object_add(o, "progress", manager_progress_json(m));
                control_send(c, o);
        }
}

static void reply_backup(Manager *m, ControlConnection *c) {
        uint64_t interval = m->config->control.backup_min_interval_usec, now = now_usec(CLOCK_MONOTONIC);
        bool user = control_connection_uid(c) != 0;
        ControlConnection **n;
        char reason[64];

        if (m->state == MANAGER_STOPPING) {
                control_send_error(c, "busy", "the daemon is stopping");
                return;
        }
        /* Operators may start a backup now and then (each may rotate one out of
         * keep_last); joining the running one costs nothing. */
        if (user && m->state == MANAGER_IDLE && m->user_backup_usec > 0 && now < m->user_backup_usec + interval) {
                _cleanup_free_ char *msg = NULL;
                char when[FORMAT_RFC3339_MAX];
                format_rfc3339(when, sizeof when, now_usec(CLOCK_REALTIME) + (m->user_backup_usec + interval - now));
                if (asprintf(&msg, "rate limited: next backup allowed at %s (control.backup_min_interval)", when) >= 0)
                        control_send_error(c, "rate_limited", msg);
                return;
        }
        /* One subscription per connection: asking again while waiting gets
         * where the backup is, not a second copy of every message after. */
        for (size_t i = 0; i < m->n_subscribers; i++)
                if (m->subscribers[i] == c) {
                        send_progress(m, c);
                        return;
                }
        n = reallocarray(m->subscribers, m->n_subscribers + 1, sizeof *n);
        if (!n) {
                control_send_error(c, "internal", "out of memory");
                return;
        }
        m->subscribers = n;
        m->subscribers[m->n_subscribers++] = control_connection_ref(c);
        if (m->state == MANAGER_IDLE) {
                snprintf(reason, sizeof reason, "requested by uid %u", (unsigned) control_connection_uid(c));
                /* On failure manager_job_failed() has answered the subscribers.
                 * A request that could not start counts too: a failure that
                 * lasts (the directory's lock held elsewhere) would otherwise
                 * be retried and logged as often as a member asks. */
                (void) manager_start_job(m, reason);
                if (user)
                        m->user_backup_usec = now;
                return;
        }
        /* A backup already running is joined: the client gets where it is now,
         * then its progress and result like everyone else. */
        send_progress(m, c);
}

static void on_control_request(ControlConnection *c, const char *method, struct json_object *request, void *userdata) {
        Manager *m = userdata;

        if (streq(method, "Status"))
                reply_status(m, c);
        else if (streq(method, "List"))
                reply_list(m, c);
        else if (streq(method, "Backup"))
                reply_backup(m, c);
        else if (streq(method, "Prune")) {
                if (control_connection_uid(c) != 0)
                        control_send_error(c, "permission_denied", "permission denied: Prune is root only");
                else
                        reply_prune(m, c, request);
        }
        else
                control_send_error(c, "unknown_method", "methods are Status, List, Backup and Prune");
}

static void on_control_close(ControlConnection *c, void *userdata) {
        Manager *m = userdata;
        for (size_t i = 0; i < m->n_subscribers; i++)
                if (m->subscribers[i] == c) {
                        control_connection_unref(c);
                        m->subscribers[i] = m->subscribers[--m->n_subscribers];
                        break; /* there is one at most (reply_backup()) */
                }
}

static void on_control_paused(int err, void *userdata) {
        Manager *m = userdata;
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        if (m->paused_logged_usec > 0 && now < m->paused_logged_usec + USEC_PER_MINUTE)
                return;
        m->paused_logged_usec = now;
        if (err == EMFILE || err == ENFILE)
                log_warning("control socket: out of file descriptors; not accepting connections for a second "
                            "(%u connections are open at most)", control_server_max_connections(m->control));
        else
                log_warning("control socket: cannot accept a connection: %s; not accepting connections for a "
                            "second (logged at most once a minute)", strerror(err));
}

/* At most this many refused connections a minute are logged one by one: a
 * user who may reach the socket but not use it must not flood the journal,
 * whose rate limit would then drop the daemon's own messages. */
#define DENIED_LOGGED_PER_MINUTE 5

static void log_denied(const char *msg, uid_t uid, pid_t pid, uint64_t count) {
        char u[32], p[32], n[32];

        snprintf(u, sizeof u, "%u", (unsigned) uid);
        snprintf(p, sizeof p, "%d", (int) pid);
        snprintf(n, sizeof n, "%" PRIu64, count);
        log_struct(LOG_WARNING, MESSAGE_ID_ACCESS_DENIED, msg, "ETCD_BACKUP_PEER_UID", u, "ETCD_BACKUP_PEER_PID", p,
                   "ETCD_BACKUP_DENIED_COUNT", n, NULL);
}

void manager_denied_flush(Manager *m) {
        _cleanup_free_ char *msg = NULL;

        if (m->denied_counted > 0 &&
            asprintf(&msg, "Control socket access denied %" PRIu64 " more time%s in the last minute, the last to "
                     "uid %u (pid %d): not logged one by one", m->denied_counted, m->denied_counted == 1 ? "" : "s",
                     (unsigned) m->denied_last_uid, (int) m->denied_last_pid) >= 0)
                log_denied(msg, m->denied_last_uid, m->denied_last_pid, m->denied_counted);
        m->denied_counted = 0;
        m->denied_logged = 0;
        m->denied_window_usec = 0;
        m->denied_flush = sd_event_source_disable_unref(m->denied_flush);
}

static int on_denied_flush(sd_event_source *s, uint64_t usec, void *userdata) {
        manager_denied_flush(userdata);
        return 0;
}

static void on_control_denied(uid_t uid, pid_t pid, void *userdata) {
        Manager *m = userdata;
        _cleanup_free_ char *msg = NULL;
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        if (m->denied_window_usec == 0) {
                m->denied_window_usec = now;
                /* The window ends on a timer (the count would otherwise wait for the next refusal);
                 * without one there is no window, and the next refusal tries again. */
                if (sd_event_add_time(m->event, &m->denied_flush, CLOCK_MONOTONIC, now + USEC_PER_MINUTE, 0,
                                      on_denied_flush, m) < 0) {
                        m->denied_flush = NULL;
                        m->denied_window_usec = 0;
                }
        }
        if (m->denied_logged >= DENIED_LOGGED_PER_MINUTE && m->denied_flush) {
                m->denied_counted++;
                m->denied_last_uid = uid;
                m->denied_last_pid = pid;
                return;
        }
        m->denied_logged++;
        if (asprintf(&msg, "Control socket access denied to uid %u (pid %d): not root and not in the control group%s",
                     (unsigned) uid, (int) pid, m->denied_logged == DENIED_LOGGED_PER_MINUTE && m->denied_flush ?
                     "; more this minute are counted and logged as one line" : "") >= 0)
                log_denied(msg, uid, pid, 1);
}

ControlCallbacks manager_control_callbacks(Manager *m) {
        return (ControlCallbacks) {
                .on_request = on_control_request,
                .on_close = on_control_close,
                .on_denied = on_control_denied,
                .on_paused = on_control_paused,
                .userdata = m,
        };
}
