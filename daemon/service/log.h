/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * log.h — the one place that talks to the journal. Messages go to journald
 * as structured entries when the process runs under systemd (stderr is a
 * journal stream, JOURNAL_STREAM) and to stderr otherwise, or whenever the
 * journal refuses a message. Every event operators search for has a fixed
 * MESSAGE_ID defined here and explained in systemd/etcd-backupd.catalog.
 * Data is never used as a format string: the message is formatted once by
 * us and fields are passed as ready-made KEY=value strings.
 */

#include <stdarg.h>
#include <stdint.h>
#include <syslog.h>

#include "util/macro.h"

/* MESSAGE_IDs (128-bit, hex), one per event of SPEC.md. Keep in sync with the catalog. */
#define MESSAGE_ID_BACKUP_OK        "6f4d1e7603174871a906e1567f206ed7"
#define MESSAGE_ID_BACKUP_FAILED    "f5d97bf879114aa88ae68932dc98c22f"
#define MESSAGE_ID_PRUNED           "6e870802abbc4c6c8a9607dd501f4ba3"
#define MESSAGE_ID_RESTORE_STARTED  "017db7d7f98c434cb59d0ec5f2d54a05"
#define MESSAGE_ID_RESTORE_FINISHED "4d355615b1504ddcbb94373e3965e3b6"
#define MESSAGE_ID_RESTORE_FAILED   "f7d5be1d166a4c44ae83864fd04d74ba"
#define MESSAGE_ID_RELOADED         "9c2021c0e6b44f6199a76303b3f25ada"
#define MESSAGE_ID_UPLOAD_FAILED    "1954430cec8f4c34817653b8b16f0b28"
#define MESSAGE_ID_ACCESS_DENIED    "3932f81e469646799674158af86e678c"
#define MESSAGE_ID_SECRETS_UNREADABLE "9df5c1e6c9704067b14151767d00de8c"

typedef enum LogTarget {
        LOG_TARGET_AUTO,    /* journal if stderr is a journal stream, else stderr */
        LOG_TARGET_STDERR,
        LOG_TARGET_JOURNAL,
} LogTarget;

/* Set the program name (used as SYSLOG_IDENTIFIER and stderr prefix), the
 * target, and the maximum priority printed (LOG_INFO by default). */
void log_setup(const char *ident, LogTarget target);
void log_set_max_level(int level);
int log_get_max_level(void);

/* Log a formatted message. If error != 0 it is passed on as ERRNO= and the
 * function returns -abs(error), so `return log_error_errno(r, "...")` works.
 * Returns 0 when error == 0. */
int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) _printf_(6, 7);

#define log_full_errno(level, error, ...) \
        log_internal(level, error, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_debug(...)   log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)    log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)  log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)   log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...)   log_full_errno(LOG_ERR, e, __VA_ARGS__)

/* A structured event: message_id (one of MESSAGE_ID_*), the human message,
 * then pairs of (FIELD, value) strings ending with NULL. FIELD names must be
 * [A-Z0-9_] without a leading underscore; pairs with a NULL value are
 * skipped. On stderr only the message is printed. Returns 0. */
int log_struct(int level, const char *message_id, const char *message, ...)
        __attribute__((sentinel));

struct ConfigDiags;

/* Each of the configuration's diagnostics, as "FILE:LINE: message" (without
 * LINE when there is none: a file that cannot be read), at its severity. */
void log_config_diags(const struct ConfigDiags *diags);
