/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * restore.h — the restore runbook of SPEC.md as code: resolve a backup,
 * decompress and verify it next to etcd's data dir, tell how etcd runs here
 * (static pod or systemd unit), stop kube-apiserver and etcd, run
 * `etcdutl snapshot restore` (or `etcdctl`) into a fresh directory, swap it
 * in, start etcd, wait until it answers with a leader at the backup's
 * revision, start kube-apiserver — and roll every step back when one fails:
 * the old data dir returns, the failed one is kept beside it, manifests and
 * units come back as they were. Nothing is ever deleted. restore_plan() does
 * everything that changes nothing (so a dry run is a plan); restore_run()
 * does the rest. Each step is reported through a callback; this module does
 * not log (the restore service does, with the RESTORE MESSAGE_IDs). Blocking:
 * it runs in the per-connection restore service, never in the daemon.
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "config/config.h"
#include "restore/member.h"
#include "format/jsonl.h"
#include "backup/inspect.h"
#include "backup/store.h"
#include "util/macro.h"

/* A request line is at most this long (SPEC.md, control socket). */
#define RESTORE_REQUEST_MAX_BYTES JSONL_REQUEST_MAX_BYTES
/* Longest backup argument accepted in a request. */
#define RESTORE_BACKUP_ARG_MAX 4096
/* How long `snapshot restore` may run before it is killed. */
#define RESTORE_TOOL_TIMEOUT_USEC (60 * USEC_PER_MINUTE)
/* The tail of the tool's output kept for the error message. */
#define RESTORE_TOOL_OUTPUT_MAX_BYTES ((size_t) 16 * 1024)
/* Room the restored dir needs beyond the db: etcd preallocates a 64 MiB WAL
 * segment, plus some slack. */
#define RESTORE_SPACE_MARGIN_BYTES (UINT64_C(80) * 1024 * 1024)

/* Step names, as reported to the callback and sent to clients. */
#define RESTORE_STEP_VERIFY "verify"
#define RESTORE_STEP_DETECT "detect"
#define RESTORE_STEP_STOP_APISERVER "stop kube-apiserver"
#define RESTORE_STEP_STOP_ETCD "stop etcd"
#define RESTORE_STEP_SNAPSHOT "snapshot restore"
#define RESTORE_STEP_SWAP "swap data dir"
#define RESTORE_STEP_START_ETCD "start etcd"
#define RESTORE_STEP_WAIT_ETCD "wait for etcd"
#define RESTORE_STEP_START_APISERVER "start kube-apiserver"
#define RESTORE_STEP_RESTART_CONTROLLERS "restart controllers"
#define RESTORE_STEP_ROLLBACK "rollback"

typedef enum RestoreStepState {
        RESTORE_STEP_RUNNING,
        RESTORE_STEP_DONE,
        RESTORE_STEP_FAILED,
        RESTORE_STEP_SKIPPED,
} RestoreStepState;

/* "running", "done", "failed", "skipped". */
const char *restore_step_state_to_string(RestoreStepState s);

/* Called at the start and end of each step; message is never NULL. */
typedef void (*RestoreProgressFn)(const char *step, RestoreStepState state, const char *message,
                                  void *userdata);

/* ---- the request ----------------------------------------------------------------- */

typedef struct RestoreRequest {
        char *backup;           /* NAME, "latest" or an absolute path */
        bool dry_run;
} RestoreRequest;

/* Parse one request line (without its newline, at most
 * RESTORE_REQUEST_MAX_BYTES): {"method":"Restore","backup":"…","dry_run":bool}.
 * "dry_run" may be left out (false); other members are ignored. "backup"
 * must be a non-empty string of at most RESTORE_BACKUP_ARG_MAX bytes
 * without control characters: "latest", a backup name, or an absolute
 * path. Pure. Returns 0 and fills *ret (release with
 * restore_request_done()); or a negative errno with the error code and
 * message to send (static strings). */
int restore_request_parse(const char *line, size_t n, RestoreRequest *ret, const char **ret_code,
                          const char **ret_message);
void restore_request_done(RestoreRequest *r);

/* Parse the operator's answer to a plan (one line without its newline, at
 * most RESTORE_REQUEST_MAX_BYTES), sent on the request's connection after
 * the service sent the plan: {"method":"Confirm","backup":B}, B being the
 * plan's backup path plan_backup (so that what is confirmed is what was
 * shown), or {"method":"Cancel"}. Pure. Returns 1 for a confirmation, 0 for
 * a cancellation; or a negative errno with the error code and message to
 * send (static strings): -EBADMSG for anything else (another method, a
 * confirmation of another backup, malformed JSON), -E2BIG, -ENOMEM. */
int restore_confirm_parse(const char *line, size_t n, const char *plan_backup, const char **ret_code,
                          const char **ret_message);

/* ---- the plan ---------------------------------------------------------------------- */

typedef enum RestoreTool {
        RESTORE_TOOL_ETCDUTL,
        RESTORE_TOOL_ETCDCTL,   /* run with ETCDCTL_API=3 */
} RestoreTool;

/* Everything decided before anything changes. Owned strings; the verified
 * db stays open (and its temporary file alive) until the plan is freed. */
typedef struct RestorePlan {
        /* the backup */
        char *backup_path;
        char *backup_name;              /* its file name */
        int backup_fd;                  /* opened without following a symlink, owner and type checked */
        bool has_sidecar;
        Sidecar sidecar;                /* when has_sidecar */
        uint64_t created_usec;          /* sidecar's, else the name's; 0 = unknown */
        int64_t revision;               /* read from the db itself: its newest key's */
        int64_t compact_revision;       /* the db's finished compaction, 0 if none */
        int64_t etcd_revision;          /* what etcd answers at once restored from the db:
                                         * revision, or compact_revision when higher
                                         * (mvcc_restored_revision()) */
        uint64_t db_size;
        char db_sha256[SHA256_HEX_MAX];
        CodecKind compression;
        InspectBackup *backup;          /* db + trailer, verified */
        char *passed_over;              /* "latest": the newer backups without a usable sidecar, or NULL */

        /* the data dir and the names around it (all in its parent) */
        char *timestamp;                /* compact UTC, shared by every name below */
        char *data_dir;
        char *parent_dir;
        bool data_dir_exists;
        uid_t data_uid;
        gid_t data_gid;
        mode_t data_mode;
        dev_t data_dev;                 /* the data dir's, which the record names: where the old data is after */
        ino_t data_ino;                 /* a kill, whatever its name then */
        char *restore_dir;              /* <data_dir>.restore-<ts> */
        char *pre_restore_dir;          /* <data_dir>.pre-restore-<ts> */
        char *failed_restore_dir;       /* <data_dir>.failed-restore-<ts> */
        char *unfinished_file;          /* <data_dir>.unfinished-restore-<ts>: while the run changes the node */
        int lock_fd;                    /* flock on the parent: one restore at a time */
        int manifests_lock_fd;          /* flock on the manifests dir's parent, taken first */

        /* how etcd and kube-apiserver run */
        RestoreMode mode;               /* never RESTORE_MODE_AUTO once planned */
        char *mode_reason;
        char *manifests_dir;
        char *held_dir;                 /* <manifests_dir>/../etcd-backupd-held-<ts> */
        uint16_t apiserver_port;        /* --secure-port of its manifest or its unit's ExecStart= */
        char *apiserver_address;        /* where to reach it (--bind-address, else 127.0.0.1) */
        char *apiserver_cacert;         /* the CA its /readyz is verified with */
        char *apiserver_cacert_source;  /* where that came from */
        char *etcd_unit, *apiserver_unit;
        sd_bus *bus;                    /* systemd mode */
        bool etcd_running;              /* static pod: manifest present; systemd: not inactive */
        bool apiserver_running;
        bool apiserver_pod;             /* kube-apiserver and the controllers are static pods: always in static-pod
                                         * mode (kube-apiserver.yaml there or not); in systemd mode when its unit
                                         * does not run and its manifest is there, its pod answering or the
                                         * kubelet running (a mixed node) */
        char *endpoint;                 /* this node's member: etcd.endpoints[0] */

        /* what etcd runs with (etcd.yaml or the unit), the restore block applied */
        EtcdMember member;
        char *members_checked;          /* what MemberList said, for the plan */

        /* the tool */
        char *tool_path;
        RestoreTool tool;

        /* human-readable steps, in order, as pairs: step name, action */
        char **steps;
} RestorePlan;

/* Plan a restore of backup ("latest", a NAME in storage.directory, or an
 * absolute path) with the restore, storage and etcd settings of c, at
 * realtime now_usec (used for the <ts> in every name). Resolves the backup,
 * decompresses it into an anonymous temporary file in the data dir's parent
 * directory (so on the data dir's file system; it vanishes with the plan)
 * while checking its SHA-256 trailer, checks the db structure and the
 * sidecar's db_sha256, db_size and revision when there is a sidecar, detects
 * the mode, finds the tool, checks free space, and takes the restore lock.
 * Changes nothing on disk that outlives the plan. Reports RESTORE_STEP_VERIFY
 * and RESTORE_STEP_DETECT through fn (may be NULL). Returns 0 and *ret
 * (free with restore_plan_free()); or a -errno with *ret_error (caller
 * frees): -ENOENT (no such backup), -EBADMSG (damaged backup or sidecar
 * mismatch), -EPROTONOSUPPORT (encrypted), -EXDEV (data dir is a mount
 * point), -ENOSPC, -EROFS and friends (the temporary file cannot be made
 * next to the data dir), -EBUSY (another restore holds the lock), -ENODEV
 * (cannot tell how etcd runs), -ENOEXEC (no etcdutl/etcdctl), -ENOMEM. */
int restore_plan(const Config *c, const char *backup, uint64_t now_usec, RestoreProgressFn fn,
                 void *userdata, RestorePlan **ret, char **ret_error);

/* Close, release the lock and the temporary db, free. Accepts NULL. */
RestorePlan *restore_plan_free(RestorePlan *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(RestorePlan *, restore_plan_free);

/* The plan as a JSON object: backup, name, revision, compact_revision
 * (0: none), expected_revision (what etcd must answer at), created, db_size,
 * db_sha256, sidecar, data_dir, restore_dir, pre_restore_dir, mode,
 * mode_reason, tool, endpoint, steps ([{"step","action"}]). NULL on ENOMEM. */
struct json_object *restore_plan_to_json(const RestorePlan *p);

/* ---- the run ------------------------------------------------------------------------ */

typedef struct RestoreResult {
        char *error;                    /* why it failed; NULL on success */
        bool rolled_back;               /* something had changed and was rolled back */
        char *rollback_error;           /* NULL = rollback complete */
        bool failed_dir_kept;           /* the failed restore is kept as failed_restore_dir */
        int64_t etcd_revision;          /* what etcd answered with at the end */
        uint64_t duration_usec;
} RestoreResult;

void restore_result_done(RestoreResult *r);

/* Carry out plan p (from restore_plan() with the same c): steps 3–7 of the
 * runbook, reporting each through fn (may be NULL). On failure everything
 * done so far is rolled back (reported as RESTORE_STEP_ROLLBACK steps).
 * Returns 0 on success, or the failing step's -errno with ret->error set
 * (and ret->rollback_error when the rollback itself hit a problem and needs
 * a human). *ret is always filled (release with restore_result_done()). */
int restore_run(RestorePlan *p, const Config *c, RestoreProgressFn fn, void *userdata,
                RestoreResult *ret);
