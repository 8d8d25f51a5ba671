/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * worker.h — one backup job in a forked child process. The child runs
 * job_run() and reports over a pipe, one JSON object per line: progress
 * objects while it works, then exactly one result object. The daemon's
 * event loop only reads those lines and reaps the child, so it never
 * blocks; killing the child leaves no partial backup (every file it writes
 * is anonymous, or hidden where there is no O_TMPFILE, until it is
 * complete).
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "backup/backup.h"
#include "config/config.h"
#include "service/job.h"

#define WORKER_LINE_MAX (128 * 1024)
/* What a result line carries of each list of names (pruned, uploaded,
 * remote_pruned, remote_aborted, k8s_missing_keys) and of the upload's
 * error: the five lists in full, the sidecar and the errors stay below
 * WORKER_LINE_MAX.
 * Names beyond a list's bytes are counted, not carried (pruned_more). */
#define WORKER_UPLOAD_ERROR_MAX 2048
#define WORKER_UPLOADED_MAX_BYTES (16 * 1024)

typedef enum WorkerMessageType {
        WORKER_MESSAGE_PROGRESS,
        WORKER_MESSAGE_RESULT,
} WorkerMessageType;

typedef struct WorkerMessage {
        WorkerMessageType type;
        /* progress */
        BackupPhase phase;
        uint64_t bytes, total;
        /* result */
        bool ok;
        JobResult job;          /* error when !ok; path, sidecar and the rest when ok */
} WorkerMessage;

void worker_message_done(WorkerMessage *m);

/* Fork a child that takes one backup with config c. The child closes every
 * descriptor but standard input, output and error, its pipe and lock_fd
 * (the backup directory's lock, or -1). Returns 0 with the child's pid and
 * the read end of its pipe (non-blocking, close-on-exec). */
int worker_start(const Config *c, int lock_fd, pid_t *ret_pid, int *ret_fd);

/* Parse one line of the child's output. -EBADMSG for anything else. */
int worker_message_parse(const char *line, size_t n, WorkerMessage *ret);

/* Encode a message as one JSON line with a trailing newline (caller frees). */
int worker_message_format(const WorkerMessage *m, char **ret);
