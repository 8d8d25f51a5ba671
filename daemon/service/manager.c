/* SPDX-License-Identifier: MIT */
/*
 * manager.c — the daemon's event loop (see manager.h).
 *
 * The calendar timer is CLOCK_REALTIME and absolute, armed for the next
 * elapse after the previous *planned* elapse (not after the job finished),
 * so the schedule never drifts; the kernel fires it once for a wall clock
 * set forward over it, and a clock set back arms it again
 * (on_clock_set()). Retries after a failure use a CLOCK_MONOTONIC timer
 * with doubling backoff. A job is a forked worker (worker.h); the loop reads
 * its progress lines and reaps it, so it never blocks and keeps answering
 * the watchdog. SIGTERM stops the worker (its files are anonymous until
 * complete, so nothing partial stays) and then the loop.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "service/control.h"
#include "service/log.h"
#include "service/manager.h"
#include "service/notify.h"
#include "format/retention.h"
#include "format/schedule.h"
#include "backup/store.h"
#include "config/zone-load.h"
#include "restore/discover.h"
#include "util/io.h"
#include "util/parse.h"
#include "util/str.h"
#include "util/time.h"
#include "service/manager-internal.h"
#include "service/worker.h"

static void arm_timer(Manager *m, uint64_t after);

ManagerState manager_get_state(const Manager *m) {
        return m->state;
}

/* Drop every subscriber's reference, the array taken out first: a connection that closes as its reference
 * goes (its client half-closed) looks for itself there (on_control_close()) and would drop it twice. */
static void release_subscribers(Manager *m) {
        ControlConnection **subs = TAKE_PTR(m->subscribers);
        size_t n = m->n_subscribers;

        m->n_subscribers = 0;
        for (size_t i = 0; i < n; i++)
                control_connection_unref(subs[i]);
        free(subs);
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        sd_event_source_disable_unref(m->timer);
        sd_event_source_disable_unref(m->clock_set);
        sd_event_source_disable_unref(m->localtime_watch);
        sd_event_source_disable_unref(m->localtime_settle);
        sd_event_source_disable_unref(m->zonefile_watch);
        free(m->zonefile_path);
        sd_event_source_disable_unref(m->retry_timer);
        sd_event_source_disable_unref(m->kill_timer);
        sd_event_source_disable_unref(m->worker_io);
        sd_event_source_disable_unref(m->worker_child);
        manager_denied_flush(m);
        safe_close(m->worker_fd);
        safe_close(m->lock_fd);
        sd_event_unref(m->event);
        config_free(m->config);
        config_free(m->job_config);
        free(m->config_path);
        free(m->line);
        worker_message_done(&m->result);
        free(m->last_error);
        free(m->upload_error);
        sidecar_done(&m->last_sidecar);
        /* Emptied before control_server_free(), whose on_control_close() looks here. */
        release_subscribers(m);
        control_server_free(m->control);
        sd_event_source_disable_unref(m->heartbeat);
        json_object_put(m->listing);
        free(m);
        return NULL;
}

/* ---- reporting ---- */

/* Local time (the configuration's zone, as the schedule), "HH:MM:SS" or
 * with the date in front. */
static char *format_local(const Zone *zone, char *buf, size_t n, uint64_t usec, bool with_date) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;
        size_t k = 0;

        if (zone_localtime(zone, t, &tm) >= 0)
                k = with_date ? strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm) : strftime(buf, n, "%H:%M:%S", &tm);
        if (k == 0)
                snprintf(buf, n, "?");
        return buf;
}

/* The bytes of the last error that STATUS= shows (of its 511). */
#define STATUS_ERROR_MAX 320

static void update_status(Manager *m) {
        char last[512] = "No backup yet.", next[64] = "none (schedule.calendar never elapses again)", t[32];
        char size[FORMAT_BYTES_MAX];
        char total[FORMAT_BYTES_MAX];

        if (m->planned_usec > 0)
                format_local(m->config->zone, next, sizeof next, m->armed_usec, true);
        if (m->have_last && m->last_ok && m->upload_error)
                snprintf(last, sizeof last, "Last backup %s ok, rev %" PRId64 ", %s; upload failed: %s.",
                         format_local(m->config->zone, t, sizeof t, m->last_success_usec, false), m->last_revision,
                         format_bytes(size, sizeof size, m->last_size), m->upload_error);
        else if (m->have_last && m->last_ok)
                snprintf(last, sizeof last, "Last backup %s ok, rev %" PRId64 ", %s.",
                         format_local(m->config->zone, t, sizeof t, m->last_success_usec, false), m->last_revision,
                         format_bytes(size, sizeof size, m->last_size));
        else if (m->have_last) {
                /* Cut short enough that the retry and the next run still fit; the journal has all of it. */
                const char *e = m->last_error ? m->last_error : "unknown error";
                size_t k = utf8_prefix_len(e, STATUS_ERROR_MAX);

                snprintf(last, sizeof last, "Last backup failed: %.*s%s.", (int) k, e, e[k] ? "…" : "");
        }

        switch (m->state) {
        case MANAGER_RUNNING:
                if (m->phase == BACKUP_PHASE_STREAM && m->total > 0)
                        notify_status("Backing up: %u%% (%s of %s). %s", (unsigned) MIN(100, m->bytes * 100 / m->total),
                                      format_bytes(size, sizeof size, m->bytes),
                                      format_bytes(total, sizeof total, m->total), last);
                else
                        notify_status("Backing up: %s. %s", backup_phase_to_string(m->phase), last);
                break;
        case MANAGER_STOPPING:
                notify_status("Stopping. %s", last);
                break;
        case MANAGER_IDLE:
                if (m->retry_timer && m->have_last && !m->last_ok) {
                        uint64_t when = 0;
                        (void) sd_event_source_get_time(m->retry_timer, &when);
                        notify_status("%s Retry %u/%u in %" PRIu64 "s. Next %s", last, m->attempt,
                                      m->config->schedule.retry_attempts,
                                      (when > now_usec(CLOCK_MONOTONIC) ? when - now_usec(CLOCK_MONOTONIC) : 0) / USEC_PER_SEC,
                                      next);
                } else
                        notify_status("Idle. %s Next %s", last, next);
                break;
        }
}

static void write_metrics(Manager *m) {
        _cleanup_free_ char *tmp = NULL, *text = NULL, *upload = NULL, *secrets = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *path = m->config->metrics.textfile;
        struct stat st;
        int r;

        if (!path)
                return;
        if (m->config->upload.enabled &&
            asprintf(&upload,
                     "# HELP etcd_backup_upload_last_success_timestamp_seconds When the last upload succeeded.\n"
                     "# TYPE etcd_backup_upload_last_success_timestamp_seconds gauge\n"
                     "etcd_backup_upload_last_success_timestamp_seconds %" PRIu64 "\n"
                     "# HELP etcd_backup_upload_failures_total Failed uploads since start.\n"
                     "# TYPE etcd_backup_upload_failures_total counter\n"
                     "etcd_backup_upload_failures_total %" PRIu64 "\n"
                     "# HELP etcd_backup_upload_last_attempt_success 1 if the last upload succeeded (none yet: 1).\n"
                     "# TYPE etcd_backup_upload_last_attempt_success gauge\n"
                     "etcd_backup_upload_last_attempt_success %d\n",
                     m->upload_last_success_usec / USEC_PER_SEC, m->upload_failures_total,
                     !(m->upload_attempted && m->upload_error)) < 0)
                return;
        if (m->secrets_checked &&
            asprintf(&secrets,
                     "# HELP etcd_backup_secrets_unreadable Secrets in the last backup that kube-apiserver "
                     "could not read with kubernetes.encryption_config (a key, or identity, missing from its "
                     "providers for secrets).\n"
                     "# TYPE etcd_backup_secrets_unreadable gauge\n"
                     "etcd_backup_secrets_unreadable %" PRIu64 "\n", m->secrets_unreadable) < 0)
                return;
        if (asprintf(&text,
                     "# HELP etcd_backup_last_success_timestamp_seconds When the last backup succeeded.\n"
                     "# TYPE etcd_backup_last_success_timestamp_seconds gauge\n"
                     "etcd_backup_last_success_timestamp_seconds %" PRIu64 "\n"
                     "# HELP etcd_backup_last_attempt_timestamp_seconds When the last backup was attempted.\n"
                     "# TYPE etcd_backup_last_attempt_timestamp_seconds gauge\n"
                     "etcd_backup_last_attempt_timestamp_seconds %" PRIu64 "\n"
                     "# HELP etcd_backup_last_attempt_success 1 if the last attempt succeeded.\n"
                     "# TYPE etcd_backup_last_attempt_success gauge\n"
                     "etcd_backup_last_attempt_success %d\n"
                     "# HELP etcd_backup_last_duration_seconds Duration of the last successful backup.\n"
                     "# TYPE etcd_backup_last_duration_seconds gauge\n"
                     "etcd_backup_last_duration_seconds %.3f\n"
                     "# HELP etcd_backup_last_size_bytes Size of the last backup file.\n"
                     "# TYPE etcd_backup_last_size_bytes gauge\n"
                     "etcd_backup_last_size_bytes %" PRIu64 "\n"
                     "# HELP etcd_backup_last_revision etcd revision of the last backup.\n"
                     "# TYPE etcd_backup_last_revision gauge\n"
                     "etcd_backup_last_revision %" PRId64 "\n"
                     "# HELP etcd_backup_backups_kept Backups in the backup directory.\n"
                     "# TYPE etcd_backup_backups_kept gauge\n"
                     "etcd_backup_backups_kept %u\n"
                     "# HELP etcd_backup_failures_total Failed backup attempts since start.\n"
                     "# TYPE etcd_backup_failures_total counter\n"
                     "etcd_backup_failures_total %" PRIu64 "\n%s%s",
                     m->last_success_usec / USEC_PER_SEC, m->last_attempt_usec / USEC_PER_SEC,
                     m->have_last && m->last_ok, (double) m->last_duration_usec / USEC_PER_SEC, m->last_size,
                     m->last_revision, m->kept, m->failures_total, upload ? upload : "", secrets ? secrets : "") < 0)
                return;
        if (asprintf(&tmp, "%s.tmp", path) < 0)
                return;
        /* O_NONBLOCK: a FIFO put at that name must not hold the event loop in open(2). */
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
        if (fd < 0 && errno != ENXIO) {
                log_warning_errno(errno, "cannot write metrics file %s: %m", tmp);
                return;
        }
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                log_warning("cannot write metrics file %s: it is there and not a regular file", tmp);
                return;
        }
        /* The service runs with UMask=0077; node_exporter, another user, reads the file. */
        r = fchmod(fd, 0644) < 0 ? -errno : 0;
        if (r >= 0)
                r = loop_write(fd, text, strlen(text));
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                log_warning_errno(r, "cannot write metrics file %s: %m", path);
                (void) unlink(tmp);
        }
}

/* ---- the job ---- */

static void worker_cleanup(Manager *m) {
        m->heartbeat = sd_event_source_disable_unref(m->heartbeat);
        m->worker_io = sd_event_source_disable_unref(m->worker_io);
        m->worker_child = sd_event_source_disable_unref(m->worker_child);
        m->kill_timer = sd_event_source_disable_unref(m->kill_timer);
        m->worker_fd = safe_close(m->worker_fd);
        m->worker_pid = 0;
        m->line_len = 0;
        m->line_overflow = false;
        m->job_config = config_free(m->job_config);
}

/* ---- control: progress and results for waiting clients ---- */

struct json_object *manager_progress_json(Manager *m) {
        struct json_object *p = json_object_new_object();
        if (!p)
                return NULL;
        json_object_object_add(p, "phase", json_object_new_string(backup_phase_to_string(m->phase)));
        json_object_object_add(p, "bytes", json_object_new_int64((int64_t) m->bytes));
        json_object_object_add(p, "total", json_object_new_int64((int64_t) m->total));
        json_object_object_add(p, "percent", json_object_new_int(
                m->total > 0 ? (int) MIN(100, m->bytes * 100 / m->total) : 0));
        return p;
}

static void broadcast(Manager *m, struct json_object *o) {
        /* From the last: a send that fails closes its connection, and on_control_close() moves the last
         * subscriber into its place, one already sent to. */
        for (size_t i = m->n_subscribers; i > 0; i--)
                (void) control_send(m->subscribers[i - 1], json_object_get(o));
        json_object_put(o);
}

static void broadcast_progress(Manager *m) {
        struct json_object *o;
        if (m->n_subscribers == 0 || !(o = json_object_new_object()))
                return;
        json_object_object_add(o, "progress", manager_progress_json(m));
        broadcast(m, o);
}

static void finish_subscribers(Manager *m, struct json_object *final) {
        broadcast(m, final);
        release_subscribers(m);
}

static void handle_line(Manager *m, const char *line, size_t n) {
        WorkerMessage msg;
        uint64_t now;

        if (worker_message_parse(line, n, &msg) < 0) {
                log_warning("ignoring a malformed message from the backup worker");
                return;
        }
        if (msg.type == WORKER_MESSAGE_PROGRESS) {
                m->progress_usec = now_usec(CLOCK_MONOTONIC);
                m->phase = msg.phase;
                m->bytes = msg.bytes;
                m->total = msg.total;
                broadcast_progress(m);
                now = now_usec(CLOCK_MONOTONIC);
                if (now - m->status_sent_usec >= USEC_PER_SEC || msg.phase != BACKUP_PHASE_STREAM) {
                        update_status(m);
                        m->status_sent_usec = now;
                }
                worker_message_done(&msg);
                return;
        }
        worker_message_done(&m->result);
        m->result = msg;
        m->have_result = true;
}

static int drain_worker(Manager *m) {
        char buf[16384];

        for (;;) {
                ssize_t k = read(m->worker_fd, buf, sizeof buf);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EAGAIN ? 0 : -errno;
                }
                if (k == 0)
                        return 0;
                for (ssize_t i = 0; i < k; i++) {
                        if (buf[i] == '\n') {
                                if (!m->line_overflow) {
                                        m->line[m->line_len] = '\0';
                                        handle_line(m, m->line, m->line_len);
                                }
                                m->line_len = 0;
                                m->line_overflow = false;
                        } else if (m->line_len < WORKER_LINE_MAX)
                                m->line[m->line_len++] = buf[i];
                        else
                                m->line_overflow = true;
                }
        }
}

static int on_worker_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        (void) drain_worker(m);
        if (revents & (EPOLLHUP | EPOLLERR))
                /* EOF: the child event finishes the job. */
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        return 0;
}

/* ---- the listing List answers from ---- */

#define LISTING_SETTLE_SEC 2

/* The listing List answers from, read from the directory again; *ret_e
 * and *ret_n (optional) get the entries. On failure the listing is empty
 * (at start) or stays as it was, and *ret_error (optional) says why. */
static int listing_read(Manager *m, StoreEntry **ret_e, size_t *ret_n, char **ret_error) {
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_free_ char *error = NULL;
        struct json_object *l;
        StoreEntry *e = NULL;
        struct stat st;
        bool have_stat;
        size_t n = 0;
        int r;

        if (!m->listing)
                m->listing = json_object_new_array();
        /* The ctime before the read: a change while it reads makes the
         * next List read again. */
        have_stat = stat(m->config->storage.directory, &st) >= 0;
        r = store_open(m->config->storage.directory, false, &s, &error);
        if (r < 0) {
                if (ret_error)
                        *ret_error = error ? TAKE_PTR(error) : strdup(strerror(-r));
                return r;
        }
        r = store_list(s, &e, &n);
        if (r < 0) {
                if (ret_error && asprintf(ret_error, "cannot list %s: %s", m->config->storage.directory,
                                          store_list_error(r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        l = json_object_new_array();
        for (size_t i = 0; l && i < n; i++)
                json_object_array_add(l, store_entry_to_json(&e[i]));
        if (l) {
                json_object_put(m->listing);
                m->listing = l;
                m->listing_ctime = have_stat ? st.st_ctim : (struct timespec) {};
                m->listing_ino = have_stat ? st.st_ino : 0;
                /* A change within the same tick of the file system's clock
                 * may leave the ctime as it is: the kernel stamps files from
                 * a clock a tick behind, and some file systems keep 1 or 2 s
                 * (FAT). One of the last LISTING_SETTLE_SEC is read again
                 * next time. */
                m->listing_settled = have_stat && (int64_t) now_usec(CLOCK_REALTIME) / (int64_t) USEC_PER_SEC >
                                                           (int64_t) st.st_ctim.tv_sec + LISTING_SETTLE_SEC;
        }
        if (ret_e) {
                *ret_e = e;
                *ret_n = n;
        } else
                store_entries_free(e, n);
        return 0;
}

int manager_listing_refresh(Manager *m, char **ret_error) {
        struct stat st;

        if (m->listing && m->listing_settled && stat(m->config->storage.directory, &st) >= 0 &&
            st.st_ino == m->listing_ino && st.st_ctim.tv_sec == m->listing_ctime.tv_sec &&
            st.st_ctim.tv_nsec == m->listing_ctime.tv_nsec)
                return 0;
        return listing_read(m, NULL, NULL, ret_error);
}

void manager_listing_remove(Manager *m, char **names) {
        for (char **p = names; m->listing && p && *p; p++)
                for (size_t i = 0; i < json_object_array_length(m->listing); i++) {
                        struct json_object *name;
                        if (json_object_object_get_ex(json_object_array_get_idx(m->listing, i), "name", &name) &&
                            streq(json_object_get_string(name), *p)) {
                                json_object_array_del_idx(m->listing, i, 1);
                                break;
                        }
                }
}

/* A new backup goes in front (the newest). */
static void listing_add(Manager *m, const Sidecar *sc) {
        struct json_object *a = json_object_new_array(), *o = sidecar_to_json_object(sc);

        if (!a || !o || json_object_array_add(a, o) < 0) {
                json_object_put(a);
                json_object_put(o);
                return;
        }
        for (size_t i = 0; m->listing && i < json_object_array_length(m->listing); i++) {
                struct json_object *e = json_object_array_get_idx(m->listing, i), *name;
                /* Already there when a List read the directory while the job ran. */
                if (json_object_object_get_ex(e, "name", &name) && sc->name &&
                    streq(json_object_get_string(name), sc->name))
                        continue;
                json_object_array_add(a, json_object_get(e));
        }
        json_object_put(m->listing);
        m->listing = a;
}

static void job_succeeded(Manager *m) {
        JobResult *r = &m->result.job;

        m->have_last = true;
        m->last_ok = true;
        m->last_success_usec = m->last_attempt_usec;
        m->last_revision = r->sidecar.revision;
        m->last_size = r->sidecar.file_size;
        m->last_duration_usec = r->sidecar.duration_usec;
        m->kept = r->kept;
        m->last_error = mfree(m->last_error);
        m->attempt = 0;
        m->retry_timer = sd_event_source_disable_unref(m->retry_timer);

        /* Read with the configuration the job ran with: a reload since may have moved the upload. */
        const Config *jc = m->job_config ?: m->config;

        job_log_result(r, jc);
        m->secrets_checked = r->k8s_checked;
        m->secrets_unreadable = r->k8s_unreadable;
        m->upload_error = mfree(m->upload_error);
        m->upload_attempted = m->upload_attempted || jc->upload.enabled;
        if (r->upload_error) {
                m->upload_failures_total++;
                m->upload_error = strdup(r->upload_error);
        } else if (jc->upload.enabled)
                m->upload_last_success_usec = m->last_attempt_usec;

        /* Too many pruned to be named: the listing is read again, the new
         * backup with it; otherwise it is brought up to date in place. */
        if (r->pruned_more == 0 || listing_read(m, NULL, NULL, NULL) < 0) {
                manager_listing_remove(m, r->pruned);
                listing_add(m, &r->sidecar);
        }
        sidecar_done(&m->last_sidecar);
        m->last_sidecar = r->sidecar;
        r->sidecar = (Sidecar) {};
        m->have_last_sidecar = true;
        if (m->n_subscribers > 0) {
                struct json_object *o = json_object_new_object();
                if (o) {
                        json_object_object_add(o, "result", sidecar_to_json_object(&m->last_sidecar));
                        json_object_object_add(o, "path", json_object_new_string(r->path));
                }
                finish_subscribers(m, o);
        }
}

static int on_retry_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        m->retry_timer = sd_event_source_disable_unref(m->retry_timer);
        if (m->state == MANAGER_IDLE)
                (void) manager_start_job(m, "retry");
        return 0;
}

void manager_job_failed(Manager *m, const char *error, bool etcd_unreachable) {
        const ConfigSchedule *s = &m->config->schedule;

        m->have_last = true;
        m->last_ok = false;
        m->failures_total++;
        (void) free_and_strdup(&m->last_error, error);
        job_log_failure(error);
        if (m->n_subscribers > 0) {
                struct json_object *o = json_object_new_object();
                if (o) {
                        json_object_object_add(o, "error", json_object_new_string(etcd_unreachable ? "etcd_unreachable"
                                                                                                   : "backup_failed"));
                        json_object_object_add(o, "message", json_object_new_string(error));
                }
                finish_subscribers(m, o);
        }

        if (m->state == MANAGER_STOPPING || m->attempt >= s->retry_attempts) {
                m->attempt = 0;
                return;
        }
        {
                uint64_t backoff = s->retry_backoff_usec;
                for (unsigned i = 0; i < m->attempt && backoff < RETRY_BACKOFF_MAX_USEC; i++)
                        backoff *= 2;
                backoff = MIN(backoff, RETRY_BACKOFF_MAX_USEC);
                m->attempt++;
                m->retry_timer = sd_event_source_disable_unref(m->retry_timer);
                if (sd_event_add_time_relative(m->event, &m->retry_timer, CLOCK_MONOTONIC, backoff,
                                               TIMER_ACCURACY_USEC, on_retry_timer, m) < 0)
                        log_error("cannot arm the retry timer; waiting for the next scheduled run");
                else
                        log_info("retrying in %" PRIu64 "s (attempt %u of %u)", backoff / USEC_PER_SEC, m->attempt,
                                 s->retry_attempts);
        }
}

static int on_worker_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Manager *m = userdata;
        _cleanup_free_ char *error = NULL;
        bool cut_by_stop;

        (void) drain_worker(m);
        /* SIGINT too: a terminal's Ctrl-C reaches the worker beside the daemon, and is delivered before the
         * daemon's SIGTERM once the worker lets them in. */
        cut_by_stop = m->state == MANAGER_STOPPING && si->si_code != CLD_EXITED &&
                      (si->si_status == SIGTERM || si->si_status == SIGKILL || si->si_status == SIGINT);
        if (cut_by_stop && !m->have_result) {
                /* Cut short by this stop (SIGTERM, then SIGKILL): no failed attempt in the journal, the count or
                 * the metrics, which keep the last finished one. From retention on, the backup was published;
                 * in the publish phase the worker holds SIGTERM back, so only the kill timer's SIGKILL ends it
                 * there, with the backup's link made or not. */
                const char *what = m->phase >= BACKUP_PHASE_RETENTION ? "published, its retention or upload cut short" :
                                   m->phase == BACKUP_PHASE_PUBLISH ? "cut while being published (it is in the directory "
                                   "or not at all; a sidecar left alone is removed at the next start)" : "cancelled";

                log_warning("Backup %s: etcd-backupd is stopping (the worker ended by SIG%s before it reported)", what,
                            sigabbrev_np(si->si_status));
                if (m->n_subscribers > 0) {
                        struct json_object *o = json_object_new_object();
                        _cleanup_free_ char *message = NULL;
                        if (o && asprintf(&message, "the daemon is stopping: the backup was %s", what) >= 0) {
                                json_object_object_add(o, "error", json_object_new_string("busy"));
                                json_object_object_add(o, "message", json_object_new_string(message));
                        }
                        finish_subscribers(m, o);
                }
                worker_message_done(&m->result);
                worker_cleanup(m);
                return sd_event_exit(m->event, 0);
        }
        m->last_attempt_usec = now_usec(CLOCK_REALTIME);
        /* A result sent, then the stop's signal before the worker's exit: the backup is what it reported. */
        if (m->have_result && m->result.ok && ((si->si_code == CLD_EXITED && si->si_status == 0) || cut_by_stop))
                job_succeeded(m);
        else {
                int k;

                /* The worker's error whole: the etcd client's name every endpoint and why, past 255 bytes. */
                if (m->have_result && !m->result.ok)
                        k = asprintf(&error, "%s", m->result.job.error ? m->result.job.error : "unknown error");
                else if (si->si_code == CLD_EXITED)
                        k = asprintf(&error, "the backup worker exited with status %d without a result",
                                     si->si_status);
                else
                        k = asprintf(&error, "the backup worker was killed by signal %s",
                                     sigabbrev_np(si->si_status) ? sigabbrev_np(si->si_status) : "?");
                if (k < 0)
                        error = NULL;
                manager_job_failed(m, error ? error : "out of memory",
                                   m->have_result && m->result.job.etcd_unreachable);
        }
        worker_message_done(&m->result);
        m->have_result = false;
        worker_cleanup(m);
        write_metrics(m);

        if (m->state == MANAGER_STOPPING)
                return sd_event_exit(m->event, 0);
        m->state = MANAGER_IDLE;
        update_status(m);
        return 0;
}

static int on_heartbeat(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        broadcast_progress(m);
        return sd_event_source_set_time_relative(s, PROGRESS_HEARTBEAT_USEC);
}

int manager_relock(Manager *m, char **ret_error) {
        _cleanup_free_ char *path = NULL, *error = NULL;
        struct stat held, now;
        int fd;

        path = path_join(m->config->storage.directory, STORE_LOCK_NAME);
        if (!path)
                return -ENOMEM;
        if (fstat(m->lock_fd, &held) >= 0 && lstat(path, &now) >= 0 && held.st_dev == now.st_dev &&
            held.st_ino == now.st_ino)
                return 0;
        fd = store_lock_directory(m->config->storage.directory, &error);
        if (fd < 0) {
                /* The caller logs it, once. */
                if (asprintf(ret_error, "the backup directory %s was moved, replaced or lost its lock since the "
                             "daemon took it, and its lock cannot be taken again: %s", m->config->storage.directory,
                             error ? error : strerror(-fd)) < 0)
                        *ret_error = NULL;
                return fd;
        }
        log_warning("the backup directory %s was moved, replaced or lost its lock since the daemon took it; "
                    "its lock is taken again there",
                    m->config->storage.directory);
        safe_close(m->lock_fd);
        m->lock_fd = fd;
        return 0;
}

/* A job that could not start is a failed attempt like any other: logged,
 * answered, retried, and in STATUS= and the metrics. */
static int start_failed(Manager *m, int r, const char *what, const char *detail) {
        _cleanup_free_ char *error = NULL;

        if (asprintf(&error, "%s%s%s", what, detail ? ": " : "", detail ? detail : "") < 0)
                error = NULL;
        m->last_attempt_usec = now_usec(CLOCK_REALTIME);
        manager_job_failed(m, error ? error : what, false);
        write_metrics(m);
        update_status(m);
        return r;
}

int manager_start_job(Manager *m, const char *reason) {
        _cleanup_free_ char *error = NULL;
        int r;

        if (m->state != MANAGER_IDLE)
                return -EBUSY;
        r = manager_relock(m, &error);
        if (r < 0)
                return start_failed(m, r, error ? error : strerror(-r), NULL);
        r = worker_start(m->config, m->lock_fd, &m->worker_pid, &m->worker_fd);
        if (r < 0)
                return start_failed(m, r, "cannot start the backup worker", strerror(-r));
        r = sd_event_add_io(m->event, &m->worker_io, m->worker_fd, EPOLLIN, on_worker_io, m);
        if (r >= 0)
                r = sd_event_add_child(m->event, &m->worker_child, m->worker_pid, WEXITED, on_worker_exit, m);
        if (r < 0) {
                kill(m->worker_pid, SIGKILL);
                (void) waitpid(m->worker_pid, NULL, 0);
                worker_cleanup(m);
                return start_failed(m, r, "cannot watch the backup worker", strerror(-r));
        }
        if (sd_event_add_time_relative(m->event, &m->heartbeat, CLOCK_MONOTONIC, PROGRESS_HEARTBEAT_USEC,
                                       USEC_PER_SEC, on_heartbeat, m) >= 0)
                (void) sd_event_source_set_enabled(m->heartbeat, SD_EVENT_ON);
        m->state = MANAGER_RUNNING;
        m->phase = BACKUP_PHASE_CONNECT;
        m->bytes = m->total = 0;
        m->job_start_usec = m->progress_usec = now_usec(CLOCK_MONOTONIC);
        log_info("backup started (%s), worker pid %d", reason, (int) m->worker_pid);
        update_status(m);
        return 0;
}

int manager_backup_now(Manager *m, const char *reason) {
        return manager_start_job(m, reason);
}

/* ---- the schedule ---- */

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        uint64_t planned = m->planned_usec;

        m->fired_usec = planned;
        /* Re-arm from the planned elapse first, so a long job never shifts the schedule. */
        arm_timer(m, planned);
        if (m->state == MANAGER_RUNNING) {
                /* How long, and whether it still moves: a worker stuck in I/O shows here. */
                char ran[FORMAT_DURATION_MAX], quiet[FORMAT_DURATION_MAX];
                uint64_t now = now_usec(CLOCK_MONOTONIC);

                log_warning("scheduled backup skipped: the previous one is still running (worker pid %d, for %s, "
                            "phase %s, its last progress %s ago)", (int) m->worker_pid,
                            format_duration(ran, sizeof ran, (now - m->job_start_usec) / USEC_PER_SEC * USEC_PER_SEC),
                            backup_phase_to_string(m->phase),
                            format_duration(quiet, sizeof quiet,
                                            (now - m->progress_usec) / USEC_PER_SEC * USEC_PER_SEC));
                return 0;
        }
        m->attempt = 0;
        m->retry_timer = sd_event_source_disable_unref(m->retry_timer);
        (void) manager_start_job(m, "scheduled");
        return 0;
}

static uint64_t random_below(uint64_t limit) {
        uint64_t v = 0;
        if (limit == 0)
                return 0;
        if (getrandom(&v, sizeof v, GRND_NONBLOCK) != sizeof v)
                v = now_usec(CLOCK_MONOTONIC) * 6364136223846793005ULL;
        return v % limit;
}

/* Arm the timer for the elapse planned, plus a new draw of schedule.randomized_delay. */
static void arm_at(Manager *m, uint64_t planned) {
        int r;

        m->planned_usec = planned;
        m->armed_usec = planned + random_below(m->config->schedule.randomized_delay_usec);
        r = sd_event_source_set_time(m->timer, m->armed_usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "cannot arm the schedule timer: %m");
}

static void arm_timer(Manager *m, uint64_t after) {
        uint64_t next, now = now_usec(CLOCK_REALTIME);
        int r;

        r = schedule_next(m->config->schedule.calendar_spec, m->config->zone, after, now, &next);
        if (r < 0) {
                log_warning("schedule.calendar \"%s\" has no future elapse; no more scheduled backups",
                            m->config->schedule.calendar);
                m->planned_usec = m->armed_usec = 0;
                (void) sd_event_source_set_enabled(m->timer, SD_EVENT_OFF);
                return;
        }
        arm_at(m, next);
}

/* After a reload. A run whose elapse has passed and which waits out
 * schedule.randomized_delay stays planned while the new schedule has that
 * elapse (at the same time when the delay did not change): arming from now
 * would drop it, and a reload at 02:10 would cost the night's backup under
 * a 02:00 calendar with an hour's delay; unless the new schedule has an
 * elapse before that run would start, which then takes its place. A
 * planned elapse still ahead keeps its armed time when it is still the next
 * one and the delay did not change. Anything else is armed afresh from now. */
/* A passed elapse the timer is still armed for: its run waits out the randomized delay. */
static bool run_waiting(const Manager *m, uint64_t now) {
        return m->planned_usec > 0 && m->planned_usec <= now;
}

static void rearm_after_reload(Manager *m, uint64_t old_delay_usec) {
        const ConfigSchedule *sc = &m->config->schedule;
        uint64_t again, next = UINT64_MAX, now = now_usec(CLOCK_REALTIME);

        (void) schedule_next(sc->calendar_spec, m->config->zone, now, now, &next);
        /* A passed elapse waiting out its delay, unless the new schedule has
         * an elapse before that delay ends: then the next run is that one. */
        if (run_waiting(m, now) && next >= m->armed_usec &&
            calendar_spec_next_usec(sc->calendar_spec, m->config->zone, m->planned_usec - 1, &again) >= 0 &&
            again == m->planned_usec) {
                if (sc->randomized_delay_usec != old_delay_usec)
                        arm_at(m, m->planned_usec);
                return;
        }
        if (m->planned_usec > now && sc->randomized_delay_usec == old_delay_usec && next == m->planned_usec)
                return;
        arm_timer(m, now);
}

/* The wall clock was set: a clock set back would leave the timer armed for
 * an elapse far ahead (schedule_after_clock_change()). */
static void on_clock_set(Manager *m) {
        uint64_t next, now = now_usec(CLOCK_REALTIME);
        char when[FORMAT_RFC3339_MAX], was[FORMAT_RFC3339_MAX];

        if (schedule_after_clock_change(m->config->schedule.calendar_spec, m->config->zone, m->planned_usec,
                                        m->fired_usec, now, &next) < 0 || next == m->planned_usec)
                return;
        if (m->planned_usec > 0)
                log_info("The wall clock was set back; the next scheduled backup is now %s (it was %s)",
                         format_rfc3339(when, sizeof when, next), format_rfc3339(was, sizeof was, m->planned_usec));
        else
                log_info("The wall clock was set back; the next scheduled backup is now %s",
                         format_rfc3339(when, sizeof when, next));
        arm_at(m, next);
        update_status(m);
}

/* A timerfd that never expires and is cancelled whenever the wall clock is
 * set (TFD_TIMER_CANCEL_ON_SET): how the kernel tells of a clock set
 * (sd-event of systemd 252 has no source for it). */
static int clock_watch_arm(int fd) {
        struct itimerspec its = { .it_value.tv_sec = (time_t) INT64_MAX };

        return timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL) < 0 ? -errno : 0;
}

static int on_clock_watch(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        uint64_t expirations;

        /* ECANCELED: the clock was set; the watch is armed again before anything is read from the clock. */
        if (read(fd, &expirations, sizeof expirations) < 0 && errno != ECANCELED && errno != EAGAIN)
                return log_warning_errno(errno, "cannot read the wall clock watch: %m"), 0;
        if (clock_watch_arm(fd) < 0)
                log_warning_errno(errno, "cannot watch for the wall clock being set: %m");
        on_clock_set(userdata);
        return 0;
}

static int clock_watch_add(Manager *m) {
        _cleanup_close_ int fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
        int r;

        if (fd < 0)
                return -errno;
        r = clock_watch_arm(fd);
        if (r < 0)
                return r;
        r = sd_event_add_io(m->event, &m->clock_set, fd, EPOLLIN, on_clock_watch, m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_io_fd_own(m->clock_set, true);
        TAKE_FD(fd);
        return 0;
}

/* With schedule.persistent: was an elapse missed since the newest backup? One named later than now (by more
 * than retention's slack: the clock set back since, or ahead then) says nothing of when the last backup ran, so
 * one runs. */
static bool missed_run(Manager *m) {
        uint64_t now = now_usec(CLOCK_REALTIME);

        if (retention_is_future(m->newest_backup_usec, now, RETENTION_FUTURE_SLACK_USEC))
                return true;
        return schedule_missed(m->config->schedule.calendar_spec, m->config->zone, m->newest_backup_usec, now);
}

/* After a reload: whether c's calendar has an elapse since the last run (the newest backup at start, or the
 * last attempt since), as systemd asks of a timer whose calendar changed. */
static bool missed_since_last_run(Manager *m, const Config *c, uint64_t now) {
        return schedule_missed(c->schedule.calendar_spec, c->zone, MAX(m->newest_backup_usec, m->last_attempt_usec),
                               now);
}

/* ---- signals ---- */

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        if (m->worker_pid > 0) {
                log_warning("backup worker %d did not stop; killing it", (int) m->worker_pid);
                kill(m->worker_pid, SIGKILL);
        }
        return 0;
}

static int on_terminate(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        if (m->state == MANAGER_STOPPING)
                return 0;
        log_info("received SIG%s, stopping", sigabbrev_np((int) si->ssi_signo));
        notify_stopping();
        if (m->state == MANAGER_RUNNING && m->worker_pid > 0) {
                m->state = MANAGER_STOPPING;
                update_status(m);
                kill(m->worker_pid, SIGTERM);
                (void) sd_event_add_time_relative(m->event, &m->kill_timer, CLOCK_MONOTONIC,
                                                  WORKER_KILL_TIMEOUT_USEC, 0, on_kill_timer, m);
                return 0;
        }
        m->state = MANAGER_STOPPING;
        return sd_event_exit(m->event, 0);
}

/* What a reload cannot change in a running daemon: the directory it holds
 * the lock of (and lists, and a running backup writes into) and the socket
 * it listens on. Such a configuration is refused as a whole, as a bad one is,
 * and the message says to restart. */
static int reload_allowed(Manager *m, const Config *c) {
        const char *key, *was, *now;

        if (!streq(m->config->storage.directory, c->storage.directory))
                key = "storage.directory", was = m->config->storage.directory, now = c->storage.directory;
        else if (!streq(m->config->control.socket, c->control.socket))
                key = "control.socket", was = m->config->control.socket, now = c->control.socket;
        else
                return 0;
        log_error("%s: %s changed (\"%s\" → \"%s\"): a running etcd-backupd keeps it; restart etcd-backupd to use "
                  "the new one", m->config_path, key, was, now);
        return -EBUSY;
}

/* The socket file lets control.group in (the daemon's own is set so again). */
static void check_socket_file(Manager *m) {
        _cleanup_free_ char *error = NULL;

        if (m->control && control_server_check_file(m->control, m->config->control.socket, &error) < 0)
                log_warning("%s", error ? error : "cannot check the control socket's file");
}

/* The zone as the log names it: its name, or for /etc/localtime when it names none (a copy of a zone file, a
 * link outside a zoneinfo directory) that and the abbreviation in effect at now ("the zone in /etc/localtime,
 * JST"). */
static const char *zone_told(const Zone *zone, uint64_t now, char *buf, size_t n) {
        const char *name = zone_name(zone);
        struct tm tm;

        if (name && !streq(name, ZONE_LOCALTIME_NAME))
                return name;
        if (zone_localtime(zone, (time_t) (now / USEC_PER_SEC), &tm) < 0 || !tm.tm_zone ||
            snprintf(buf, n, "the zone in /etc/localtime, %s", tm.tm_zone) >= (int) n)
                return "the zone in /etc/localtime";
        return buf;
}

/* Takes c (loaded with r >= 0; NULL when r < 0) as the running configuration, as a reload does: found again
 * with etcd.discover, refused when it moves what a running daemon keeps, the schedule re-armed and a missed
 * run of the new calendar caught up. zone_change: read again for a new local time zone, not by a reload. */
static void take_config(Manager *m, Config *c_in, int r, bool zone_change) {
        _cleanup_(config_freep) Config *c = c_in;

        if (r >= 0 && c->etcd.discover) {
                /* Found again on every reload: certificates renamed by an upgrade are picked up. */
                _cleanup_free_ char *summary = NULL, *error = NULL;

                r = discover_config(c, &summary, &error);
                if (r < 0)
                        log_error("%s:%d: etcd.discover: %s", m->config_path, c->etcd.discover_line,
                                  error ? error : strerror(-r));
                else
                        log_info("%s", summary);
        }
        if (r >= 0)
                r = reload_allowed(m, c);
        if (r < 0) {
                _cleanup_free_ char *msg = NULL;
                if (asprintf(&msg, zone_change ? "Reading %s again for the new local time zone failed; keeping the "
                             "previous configuration and zone until a reload or the next change of /etc/localtime" :
                             "Reloading %s failed; keeping the previous configuration", m->config_path) >= 0)
                        log_struct(LOG_ERR, MESSAGE_ID_RELOADED, msg, "ETCD_BACKUP_CONFIG", m->config_path,
                                   "ETCD_BACKUP_RELOAD_RESULT", "rejected", "ETCD_BACKUP_RELOAD_CAUSE",
                                   zone_change ? "localtime" : "reload", NULL);
        } else {
                _cleanup_free_ char *msg = NULL;
                char t[64];
                uint64_t old_delay_usec = m->config->schedule.randomized_delay_usec;
                uint64_t now = now_usec(CLOCK_REALTIME);
                /* A calendar moved so that an elapse lies between the last run and now: caught up, as at start.
                 * One the old calendar had missed too is not, unless it was the run waiting out its delay that
                 * the reload drops (then the new calendar's missed elapse stands in for it). */
                bool catch_up = m->state == MANAGER_IDLE && c->schedule.persistent &&
                                (run_waiting(m, now) || !missed_since_last_run(m, m->config, now)) &&
                                missed_since_last_run(m, c, now);

                /* A running job keeps the configuration it started with, to read its result by. */
                if (m->state != MANAGER_IDLE && !m->job_config)
                        m->job_config = m->config;
                else
                        config_free(m->config);
                m->config = TAKE_PTR(c);
                unsigned closed = 0;
                r = m->control ? control_server_set_group(m->control, m->config->control.group, &closed) : 0;
                if (r == -ENOENT)
                        log_warning("control.group \"%s\" does not exist; only root may use the control socket",
                                    m->config->control.group);
                else if (r < 0)
                        log_warning("cannot look up control.group \"%s\" (%s); the control socket keeps the group "
                                    "it had", m->config->control.group, strerror(-r));
                if (closed > 0)
                        log_notice("Closed %u control connection%s of users control.group no longer lets in", closed,
                                   closed == 1 ? "" : "s");
                check_socket_file(m);
                rearm_after_reload(m, old_delay_usec);
                if ((zone_change ? asprintf(&msg, "Read %s again for the new local time zone (%s)", m->config_path,
                                            zone_told(m->config->zone, now, t, sizeof t)) :
                                   asprintf(&msg, "Reloaded %s", m->config_path)) >= 0)
                        log_struct(LOG_INFO, MESSAGE_ID_RELOADED, msg, "ETCD_BACKUP_CONFIG", m->config_path,
                                   "ETCD_BACKUP_RELOAD_RESULT", "ok", "ETCD_BACKUP_RELOAD_CAUSE",
                                   zone_change ? "localtime" : "reload", NULL);
                /* Not when the reload kept the waiting run: it still comes. */
                if (catch_up && !run_waiting(m, now)) {
                        m->attempt = 0;
                        m->retry_timer = sd_event_source_disable_unref(m->retry_timer);
                        (void) manager_start_job(m, zone_change ? "missed run of schedule.calendar in the new local "
                                                 "time zone (schedule.persistent)" :
                                                 "missed run of the reloaded schedule.calendar "
                                                 "(schedule.persistent)");
                }
        }
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        Config *c = NULL;
        ConfigDiags diags = {};
        int r;

        /* Stopping: no new configuration, and no RELOADING=1/READY=1 after STOPPING=1. */
        if (m->state == MANAGER_STOPPING) {
                log_info("SIGHUP while stopping: not reloaded");
                return 0;
        }
        notify_reloading();
        r = config_load(m->config_path, &c, &diags);
        log_config_diags(&diags);
        config_diags_done(&diags);
        take_config(m, c, r, false);
        notify_ready();
        update_status(m);
        return 0;
}

/* The local time zone follows /etc/localtime while the daemon runs, as
 * systemd's timers do: when the link or the file changes (`timedatectl
 * set-timezone` and `ln -sf` rename a new link over it; `rm` and `ln -s`
 * remove it first; a copy is rewritten), the text of the configuration the
 * daemon runs is read again with the new zone, once /etc/localtime has been
 * left alone for LOCALTIME_SETTLE_USEC, and taken as a reload takes it. A
 * change is told against /etc/localtime as it was when that configuration
 * read its zone, so a reload since counts, and one whose reading failed is
 * tried again at the next change. Not with a $TZ that names the zone itself (TZ=:/etc/localtime does not). */
#define LOCALTIME_SETTLE_USEC USEC_PER_SEC

static void zonefile_watch_aim(Manager *m);

static int on_localtime_settled(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        _cleanup_free_ char *now = NULL;
        ConfigDiags diags = {};
        Config *c = NULL;
        size_t size;
        int r;

        if (m->state == MANAGER_STOPPING || !m->config->text)
                return 0;
        zonefile_watch_aim(m);  /* the link may lead elsewhere now */
        r = zone_localtime_snapshot(&now, &size);
        if (r < 0)
                return log_warning_errno(r, "cannot read /etc/localtime again: %m"), 0;
        if (size == m->config->localtime_size && memcmp(now, m->config->localtime, size) == 0)
                return 0;
        r = config_load_string(m->config->text, m->config_path, &c, &diags);
        log_config_diags(&diags);
        config_diags_done(&diags);
        take_config(m, c, r, true);
        update_status(m);
        return 0;
}

/* The look a second from now, or from the last change. */
static void localtime_settle_arm(Manager *m) {
        int r;

        if (m->localtime_settle) {
                r = sd_event_source_set_time_relative(m->localtime_settle, LOCALTIME_SETTLE_USEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(m->localtime_settle, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time_relative(m->event, &m->localtime_settle, CLOCK_MONOTONIC, LOCALTIME_SETTLE_USEC,
                                               0, on_localtime_settled, m);
        if (r < 0)
                log_warning_errno(r, "cannot wait for /etc/localtime to settle: %m");
}

static int on_localtime(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        if ((ev->mask & IN_Q_OVERFLOW) || (ev->len > 0 && streq(ev->name, "localtime")))
                localtime_settle_arm(userdata);
        return 0;
}

/* A tzdata upgrade renames new rules over the zone file /etc/localtime links to and leaves the link alone:
 * that file's directory is watched too (glibc, and so systemd, notice the file changed at the next use). */
static int on_zonefile(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        Manager *m = userdata;

        if ((ev->mask & IN_Q_OVERFLOW) ||
            (ev->len > 0 && m->zonefile_path && streq(ev->name, strrchr(m->zonefile_path, '/') + 1)))
                localtime_settle_arm(m);
        return 0;
}

static void zonefile_watch_aim(Manager *m) {
        _cleanup_free_ char *resolved = realpath("/etc/localtime", NULL);
        char *slash = resolved ? strrchr(resolved, '/') : NULL;
        int r;

        if (m->zonefile_watch && streq_ptr(m->zonefile_path, resolved))
                return;
        m->zonefile_watch = sd_event_source_disable_unref(m->zonefile_watch);
        m->zonefile_path = mfree(m->zonefile_path);
        /* A copy in /etc itself (no link) is the /etc watch's. */
        if (!resolved || !slash || streq(resolved, "/etc/localtime"))
                return;
        m->zonefile_path = strdup(resolved);
        if (!m->zonefile_path)
                return;
        *slash = '\0';
        r = sd_event_add_inotify(m->event, &m->zonefile_watch, resolved[0] ? resolved : "/",
                                 IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | IN_ONLYDIR,
                                 on_zonefile, m);
        if (r < 0)
                log_warning_errno(r, "cannot watch %s, where /etc/localtime leads (%m): new rules for the zone (a "
                                  "tzdata upgrade) take effect on reload", resolved);
}

static int localtime_watch_add(Manager *m) {
        int r;

        r = sd_event_add_inotify(m->event, &m->localtime_watch, "/etc", IN_CREATE | IN_DELETE | IN_MOVED_TO |
                                 IN_MOVED_FROM | IN_CLOSE_WRITE | IN_ONLYDIR, on_localtime, m);
        if (r >= 0) {
                zonefile_watch_aim(m);
                localtime_settle_arm(m);        /* a change since the configuration read its zone, before the watch */
        }
        return r;
}

/* The newest backup in the directory: the last result before this run, and
 * what schedule.persistent compares with. */
static void load_last(Manager *m) {
        StoreEntry *e = NULL;
        size_t n = 0;

        if (listing_read(m, &e, &n, NULL) < 0)
                return;
        if (n > 0)
                m->newest_backup_usec = e[0].parsed.created_usec;
        for (size_t i = 0; i < n; i++)
                if (e[i].has_sidecar) {
                        m->last_sidecar = e[i].sidecar;
                        e[i].sidecar = (Sidecar) {};
                        m->have_last_sidecar = m->have_last = m->last_ok = true;
                        m->last_success_usec = m->last_attempt_usec = m->last_sidecar.created_usec;
                        m->last_revision = m->last_sidecar.revision;
                        m->last_size = m->last_sidecar.file_size;
                        m->last_duration_usec = m->last_sidecar.duration_usec;
                        break;
                }
        m->kept = (unsigned) n;
        store_entries_free(e, n);
}

/* ---- setup ---- */

int manager_new(const char *config_path, Config *config, int lock_fd, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = calloc(1, sizeof *m);
        int r;

        if (!m)
                return -ENOMEM;
        m->worker_fd = m->lock_fd = -EBADF;
        m->config_path = strdup(config_path);
        m->line = malloc(WORKER_LINE_MAX + 1);
        if (!m->config_path || !m->line)
                return -ENOMEM;
        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        m->config = config;
        m->lock_fd = lock_fd;
        *ret = TAKE_PTR(m);
        return 0;
}

int manager_start(Manager *m) {
        int r;

        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_terminate, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, on_terminate, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGHUP, on_reload, m);
        if (r < 0)
                return log_error_errno(r, "cannot watch signals: %m");
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                log_warning_errno(r, "cannot arm the watchdog: %m");
        r = sd_event_add_time(m->event, &m->timer, CLOCK_REALTIME, UINT64_MAX, TIMER_ACCURACY_USEC, on_timer, m);
        if (r < 0)
                return log_error_errno(r, "cannot create the schedule timer: %m");
        arm_timer(m, now_usec(CLOCK_REALTIME));
        r = clock_watch_add(m);
        if (r < 0)
                log_warning_errno(r, "cannot watch for the wall clock being set: %m");
        if (zone_local_is_localtime()) {
                r = localtime_watch_add(m);
                if (r < 0)
                        log_warning_errno(r, "cannot watch /etc/localtime (%m): a changed local time zone takes "
                                          "effect on reload");
        }
        load_last(m);

        {
                _cleanup_free_ char *error = NULL;
                ControlCallbacks cb = manager_control_callbacks(m);
                r = control_server_new(m->event, m->config->control.socket, m->config->control.group, &cb,
                                       &m->control, &error);
                if (r < 0) {
                        log_error("cannot set up the control socket: %s", error ? error : strerror(-r));
                        return r == -EADDRINUSE ? -EWOULDBLOCK : -EIO;
                }
                if (control_server_is_activated(m->control)) {
                        char where[PATH_MAX];
                        /* etcd-backupctl connects where control.socket says, whatever systemd listens on. */
                        if (control_server_path(m->control, where, sizeof where) >= 0 &&
                            !streq(where, m->config->control.socket))
                                log_warning("control socket %s passed by systemd, but control.socket is %s, where "
                                            "etcd-backupctl connects: set control.socket = \"%s\" and restart "
                                            "etcd-backupd, or give etcd-backupd.socket a drop-in (systemctl edit "
                                            "etcd-backupd.socket) with an empty ListenStream= and ListenStream=%s",
                                            where, m->config->control.socket, where, m->config->control.socket);
                        else
                                log_info("control socket passed by systemd");
                } else
                        log_info("control socket %s", m->config->control.socket);
                r = control_server_group_result(m->control);
                if (r == -ENOENT)
                        log_warning("control.group \"%s\" does not exist; only root may use the control socket",
                                    m->config->control.group);
                else if (r < 0)
                        log_warning("cannot look up control.group \"%s\" (%s); only root may use the control socket "
                                    "until a reload finds it", m->config->control.group, strerror(-r));
                check_socket_file(m);
        }

        notify_ready();
        update_status(m);
        if (m->config->schedule.persistent && missed_run(m))
                (void) manager_start_job(m, "missed run (schedule.persistent)");
        return 0;
}

int manager_run(Manager *m) {
        int r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "event loop failed: %m"), EXIT_FAILURE;
        return r;
}
