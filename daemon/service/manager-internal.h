/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * manager-internal.h — what the manager's files share: the Manager itself
 * and the job functions the control requests call. Included only by
 * manager.c (the loop, the job, the schedule, signals) and
 * manager-control.c (the control socket's requests).
 */

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "backup/store.h"
#include "service/control.h"
#include "service/manager.h"
#include "service/worker.h"

#define TIMER_ACCURACY_USEC (100 * USEC_PER_MSEC)
#define WORKER_KILL_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define RETRY_BACKOFF_MAX_USEC (6 * USEC_PER_HOUR)
/* Waiting clients hear at least this often while a backup runs, so that
 * their --timeout measures a daemon that stopped, not a long phase. */
#define PROGRESS_HEARTBEAT_USEC (5 * USEC_PER_SEC)

struct Manager {
        sd_event *event;
        int lock_fd;                    /* flock on <storage.directory>/.lock */
        char *config_path;
        Config *config;
        Config *job_config;             /* the running job's, when a reload replaced it since (else NULL) */
        ManagerState state;

        sd_event_source *timer;         /* calendar, CLOCK_REALTIME */
        sd_event_source *retry_timer;   /* CLOCK_MONOTONIC */
        sd_event_source *kill_timer;    /* worker did not stop on SIGTERM */
        uint64_t planned_usec;          /* elapse the timer is armed for (0 = none) */
        uint64_t armed_usec;            /* planned_usec + randomized delay */
        uint64_t fired_usec;            /* the planned elapse the timer last fired for (0 = none) */
        sd_event_source *clock_set;     /* the wall clock was set */
        sd_event_source *localtime_watch;       /* /etc, for /etc/localtime (not with $TZ) */
        sd_event_source *localtime_settle;      /* a second after its last change */
        sd_event_source *zonefile_watch;        /* the directory of the zone file /etc/localtime links to */
        char *zonefile_path;                    /* that file (realpath) */
        unsigned attempt;               /* retries used for the current run */

        /* The running worker. */
        pid_t worker_pid;
        int worker_fd;
        sd_event_source *worker_io, *worker_child;
        char *line;
        size_t line_len;
        bool line_overflow;
        WorkerMessage result;
        bool have_result;
        BackupPhase phase;
        uint64_t bytes, total;
        uint64_t job_start_usec;
        uint64_t progress_usec;         /* CLOCK_MONOTONIC: the worker's last progress line (or its start) */
        uint64_t status_sent_usec;

        /* The last outcome. */
        bool have_last;
        bool last_ok;
        uint64_t last_attempt_usec;     /* realtime */
        uint64_t last_success_usec;     /* realtime */
        int64_t last_revision;
        uint64_t last_size;
        uint64_t last_duration_usec;
        char *last_error;
        Sidecar last_sidecar;           /* of the last good backup */
        uint64_t newest_backup_usec;    /* created, of the newest backup at start (0 = none) */
        bool have_last_sidecar;
        unsigned kept;
        uint64_t failures_total;
        char *upload_error;             /* the last upload failed after a good backup */
        uint64_t upload_last_success_usec;      /* realtime */
        uint64_t upload_failures_total;
        uint64_t secrets_unreadable;    /* of the last backup, when checked */
        bool secrets_checked;
        bool upload_attempted;                  /* an upload ran since start */

        /* The control socket, and the connections waiting for the running backup. */
        ControlServer *control;
        ControlConnection **subscribers;
        size_t n_subscribers;
        sd_event_source *heartbeat;     /* progress for the subscribers */
        uint64_t user_backup_usec;      /* monotonic: the last backup a non-root caller started */
        uint64_t paused_logged_usec;    /* monotonic: the last "out of descriptors" warning */
        /* Refused connections: a few a minute are logged one by one, the
         * rest counted and logged as one line when the minute ends. */
        uint64_t denied_window_usec;    /* monotonic: when the minute began (0 = none running) */
        unsigned denied_logged;
        uint64_t denied_counted;
        uid_t denied_last_uid;
        pid_t denied_last_pid;
        sd_event_source *denied_flush;  /* at the minute's end */

        /* What List answers: the backups as sidecar objects, newest first.
         * Read from the directory at start, kept up to date from the
         * worker's results and prunes, and read again by a List when the
         * directory changed (by hand: a backup copied in or removed; or the
         * directory itself moved or its mode changed) since: its ctime
         * (which every such change sets) or inode is not the one seen then
         * (listing_ctime, listing_ino), or the ctime was too recent then to
         * tell a change within the same clock tick. */
        struct json_object *listing;
        struct timespec listing_ctime;
        ino_t listing_ino;
        bool listing_settled;
};

/* Fork a worker for a backup and watch it; reason is logged. Returns 0,
 * -EBUSY unless the manager is idle, or a negative errno (logged). */
int manager_start_job(Manager *m, const char *reason);

/* The run failed with error: record and log it, arm a retry; the clients
 * waiting for it get "etcd_unreachable" when no etcd endpoint answered,
 * else "backup_failed". */
void manager_job_failed(Manager *m, const char *error, bool etcd_unreachable);

/* The running job's phase and bytes as a JSON object (NULL on ENOMEM). */
struct json_object *manager_progress_json(Manager *m);

/* Drop the backups names from the listing List answers from. */
void manager_listing_remove(Manager *m, char **names);

/* The lock is on the .lock file of the directory the path named when it was
 * taken. When that directory was moved away or replaced since, or its .lock
 * removed, a backup or a prune would work where no lock is held and another
 * daemon or --once could run beside it: take the lock again where the path
 * leads now, with a warning. Before each backup and each prune. Fails, with
 * *ret_error naming the holder, when another process took it there. */
int manager_relock(Manager *m, char **ret_error);

/* Read the listing again when the directory may have changed since. 0, or
 * -errno with *ret_error saying why (the listing then stays as it was). */
int manager_listing_refresh(Manager *m, char **ret_error);

/* The control socket's callbacks, with m as their userdata. */
/* Log the refusals counted and not yet logged, if any. */
void manager_denied_flush(Manager *m);
ControlCallbacks manager_control_callbacks(Manager *m);
