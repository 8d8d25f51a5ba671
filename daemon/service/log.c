/* SPDX-License-Identifier: MIT */
/*
 * log.c — journal or stderr logging with structured events (see log.h).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "config/config.h"
#include "service/log.h"
#include "util/str.h"

#define LOG_FIELDS_MAX 32

static const char *log_ident = "etcd-backupd";
static LogTarget log_target = LOG_TARGET_STDERR;
static int log_max_level = LOG_INFO;

/* True if stderr is the journal stream systemd connected us to. */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_setup(const char *ident, LogTarget target) {
        if (ident)
                log_ident = ident;
        if (target == LOG_TARGET_AUTO)
                target = stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR;
        log_target = target;
}

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

static void write_stderr(const char *message) {
        fprintf(stderr, "%s: %s\n", log_ident, message);
}

/* Sends iov to the journal; falls back to stderr with the message if it fails. */
static void dispatch(struct iovec *iov, int n, const char *message) {
        if (log_target == LOG_TARGET_JOURNAL && sd_journal_sendv(iov, n) >= 0)
                return;
        write_stderr(message);
}

static int add_field(struct iovec *iov, int *n, char **owned, const char *key, const char *value) {
        char *s;
        if (*n >= LOG_FIELDS_MAX)
                return -E2BIG;
        if (asprintf(&s, "%s=%s", key, value) < 0)
                return -ENOMEM;
        owned[*n] = s;
        iov[*n] = (struct iovec) { .iov_base = s, .iov_len = strlen(s) };
        (*n)++;
        return 0;
}

static void free_fields(char **owned, int n) {
        for (int i = 0; i < n; i++)
                free(owned[i]);
}

static void add_common(struct iovec *iov, int *n, char **owned, int level, const char *message) {
        char prio[4];
        snprintf(prio, sizeof prio, "%d", level);
        (void) add_field(iov, n, owned, "MESSAGE", message);
        (void) add_field(iov, n, owned, "PRIORITY", prio);
        (void) add_field(iov, n, owned, "SYSLOG_IDENTIFIER", log_ident);
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) {
        struct iovec iov[LOG_FIELDS_MAX];
        char *owned[LOG_FIELDS_MAX];
        char message[4096], buf[32];
        int n = 0, saved = errno;
        va_list ap;

        if (error < 0)
                error = -error;
        if (level > log_max_level)
                return -error;

        /* %m in the format refers to `error`, as in systemd. */
        errno = error;
        va_start(ap, format);
        vsnprintf(message, sizeof message, format, ap);
        va_end(ap);
        errno = saved;

        add_common(iov, &n, owned, level, message);
        if (error > 0) {
                snprintf(buf, sizeof buf, "%d", error);
                (void) add_field(iov, &n, owned, "ERRNO", buf);
        }
        snprintf(buf, sizeof buf, "%d", line);
        (void) add_field(iov, &n, owned, "CODE_FILE", file);
        (void) add_field(iov, &n, owned, "CODE_LINE", buf);
        (void) add_field(iov, &n, owned, "CODE_FUNC", func);
        dispatch(iov, n, message);
        free_fields(owned, n);
        return -error;
}

int log_struct(int level, const char *message_id, const char *message, ...) {
        struct iovec iov[LOG_FIELDS_MAX];
        char *owned[LOG_FIELDS_MAX];
        int n = 0;
        va_list ap;

        if (level > log_max_level)
                return 0;
        add_common(iov, &n, owned, level, message);
        if (message_id)
                (void) add_field(iov, &n, owned, "MESSAGE_ID", message_id);
        va_start(ap, message);
        for (;;) {
                const char *key = va_arg(ap, const char *), *value;
                if (!key)
                        break;
                value = va_arg(ap, const char *);
                if (value)
                        (void) add_field(iov, &n, owned, key, value);
        }
        va_end(ap);
        dispatch(iov, n, message);
        free_fields(owned, n);
        return 0;
}

void log_config_diags(const ConfigDiags *diags) {
        for (size_t i = 0; i < diags->n; i++) {
                const ConfigDiag *d = &diags->items[i];
                int level = d->severity == CONFIG_ERROR ? LOG_ERR : LOG_WARNING;

                if (d->line > 0)
                        log_full_errno(level, 0, "%s:%d: %s", d->file, d->line, d->message);
                else
                        log_full_errno(level, 0, "%s: %s", d->file, d->message);
        }
}
