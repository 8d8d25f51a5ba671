/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * manager.h — the daemon: one sd_event loop that owns the configuration,
 * the calendar timer, the retry timer, the running backup worker and the
 * signals, and reports through sd_notify, the journal and the metrics file.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "backup/backup.h"
#include "config/config.h"
#include "util/macro.h"

typedef struct Manager Manager;

typedef enum ManagerState {
        MANAGER_IDLE,
        MANAGER_RUNNING,
        MANAGER_STOPPING,
} ManagerState;

/* Create a manager for config; path is re-read on SIGHUP. config and
 * lock_fd (the backup directory's lock, store_lock_directory()) move to the
 * manager on success. */
int manager_new(const char *config_path, Config *config, int lock_fd, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Arm signals, the watchdog and the timer, set up the control socket;
 * catch up a missed run when schedule.persistent is set; send READY=1.
 * Logs what failed and returns -EWOULDBLOCK when another process answers
 * on the control socket, else a -errno. */
int manager_start(Manager *m);

/* Run the loop until SIGTERM/SIGINT. Returns the exit code. */
int manager_run(Manager *m);

/* Start a backup now unless one is running (then -EBUSY: the caller joins
 * the running one). */
int manager_backup_now(Manager *m, const char *reason);

ManagerState manager_get_state(const Manager *m);
