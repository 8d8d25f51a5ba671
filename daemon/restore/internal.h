/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * internal.h — what the files of the restore share and nobody else sees:
 * the manifests' names, the pacing of every wait, the progress report, and
 * the Run (one restore in progress: the plan, what has been done so far,
 * the first error) that run.c drives, tool.c, swap.c and rollback.c act on.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/config.h"
#include "etcd/etcd.h"
#include "restore/restore.h"
#include "util/macro.h"

#define ETCD_MANIFEST "etcd.yaml"
#define APISERVER_MANIFEST "kube-apiserver.yaml"

/* The controllers the restore restarts in static-pod mode, and the port each serves on unless its manifest's
 * --secure-port says otherwise. */
#define N_CONTROLLER_PODS 2
extern const struct ControllerPod {
        const char *file;
        uint16_t default_port;
} controller_pods[N_CONTROLLER_PODS];
/* One Status probe while waiting for etcd to stop or come up. */
#define PROBE_TIMEOUT_USEC (3 * USEC_PER_SEC)
#define PROBE_CONNECT_TIMEOUT_USEC (1 * USEC_PER_SEC)
#define PROBE_INTERVAL_USEC (200 * USEC_PER_MSEC)
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The revision etcd must answer at on the restored data, as words: with
 * noun, "the backup's 748" or "751 (the db's compaction revision; its
 * newest key is at 748)"; without, "748, the backup's" or the latter again.
 * Returns buf. */
const char *plan_expected_revision(const RestorePlan *p, bool noun, char *buf, size_t size);
#define PLAN_REVISION_MAX 160   /* room for plan_expected_revision()'s words */

/* Call fn (when not NULL) with a formatted message. */
_printf_(5, 6) void restore_report(RestoreProgressFn fn, void *userdata, const char *step, RestoreStepState state,
                                   const char *fmt, ...);

/* Who listened on a port: PID, user and name of each. */
typedef struct PortHolders {
        size_t n;
        struct {
                pid_t pid;
                uid_t uid;
                char name[64];
        } h[16];
} PortHolders;

typedef struct Run {
        RestorePlan *p;
        const Config *c;
        RestoreProgressFn fn;
        void *userdata;
        EtcdTls tls;
        uint64_t timeout_usec;          /* restore.health_timeout, for every wait */
        bool held_dir_made;
        bool apiserver_held;            /* we stopped it: its manifest is held / its unit stopped */
        bool apiserver_on_new;          /* we started it again on the restored data */
        bool etcd_held;                 /* we stopped it: its manifest is held / its unit stopped */
        bool restore_dir_made;
        bool swapped;                   /* the restored dir is at data_dir */
        bool etcd_on_new;               /* etcd was started on the restored data */
        bool etcd_start_ok;             /* ... and the start itself succeeded */
        bool nospace_alarm;             /* the last healthy answer reported etcd's NOSPACE alarm */
        /* kube-controller-manager's, kube-scheduler's port answered before the restore */
        bool controller_answered[N_CONTROLLER_PODS];
        /* systemd mode: the controllers' units that were active and the restart stopped */
        const char *controllers_stopped[N_CONTROLLER_PODS];
        size_t n_controllers_stopped;
        dev_t db_dev;                   /* the restored member/snap/db the swap put in place */
        ino_t db_ino;
        bool etcd_ran_on_data_dir;      /* before it was stopped, etcd held data_dir's member/snap/db open */
        PortHolders apiserver_holders;  /* static pod: who listened on kube-apiserver's port before the restore */
        bool rolling_back;              /* the waits give the operator time to end what took that port */
        char *error;
} Run;

/* ---- run.c: the steps the rollback repeats or undoes ---- */

/* Make the holding dir next to the manifests dir once. */
int run_ensure_held_dir(Run *run);
/* Wait until the member answers with a leader at min_revision or later. */
int run_wait_etcd_healthy(Run *run, int64_t min_revision, int64_t *ret_revision);
/* The process listening on the member's client port holds open the
 * member/snap/db dev:ino of the `which` ("restored", "old") data: *ret_pid.
 * Else run->error says why, starting with at (text ending in ", and " or
 * empty). */
int run_prove_db(Run *run, dev_t dev, ino_t ino, const char *which, const char *at, pid_t *ret_pid);
/* Start etcd (manifest back / StartUnit). */
int run_etcd_start(Run *run, char **ret_error);
/* Stop etcd again (rollback) and wait until it is gone. */
int run_etcd_stop(Run *run, char **ret_error);
/* Stop kube-apiserver (manifest held and its port closed / StopUnit). */
int run_apiserver_stop(Run *run, uint64_t *ret_took_usec, char **ret_error);
/* Start kube-apiserver (manifest back and its port answers / StartUnit). */
int run_apiserver_start(Run *run, char **ret_error);

/* ---- plan-detect.c ---- */

/* How etcd runs here (restore.mode, or auto: static pod when etcd.yaml is in
 * the manifests dir, else the loaded etcd unit), whether kube-apiserver
 * runs, and where its /readyz is asked. Fills p's mode, units, manifests
 * dir and apiserver fields; *ret_error (caller frees) says why not. */
int plan_detect(RestorePlan *p, const Config *c, char **ret_error);

/* ---- tool.c: etcdutl / etcdctl ---- */

/* The program called name in $PATH (or name itself when it has a '/');
 * *ret caller frees. -ENOENT when there is none. */
int tool_find(const char *name, char **ret);
/* Run `snapshot restore` of the plan's db into its restore_dir. */
int tool_snapshot_restore(Run *run);

/* ---- swap.c: the data dir ---- */

/* A run's record names the data dir it found by its inode, so that a later plan tells where that data is after a
 * kill between an exchange and a rename: "…inode INO on device MAJOR:MINOR, whatever its name" (the device for the
 * reader; a reboot may give it another number). */
#define RECORD_OLD_DATA "the data from before it is the directory of inode "

/* Which of the n paths is the directory of inode ino on device dev (the data from before a run, whatever name a
 * failed or killed swap left it under), or NULL. */
const char *swap_find_dir(const char *const *paths, size_t n, dev_t dev, ino_t ino);
/* rename(from, to) inside dir_fd (both by their base names), never replacing. */
int swap_rename(int dir_fd, const char *from, const char *to);
/* from takes to's place and to goes to aside (all in dir_fd, never replacing anything), to never missing between
 * (a node rebooted then would start an etcd enabled as a unit on no data: a new, empty cluster): from and to
 * exchanged, then from's name renamed to aside; where the file system cannot exchange (CIFS), to renamed to aside,
 * then from to to. Returns 0, or -errno with everything put back as it was, or, when that failed too,
 * *ret_stuck set (to missing, or from's under to's name). With undo false an exchange whose rename then fails is
 * kept (-errno, *ret_stuck false: from is in to's place, and what was to is still under from's name): for the
 * rollback, for which the old data in place is what counts. */
int swap_exchange(int dir_fd, const char *from, const char *to, const char *aside, bool undo, bool *ret_stuck);
/* The restored dir gets the old one's owner and mode and takes its place. */
int swap_data_dir(Run *run);

/* ---- rollback.c ---- */

/* Undo what run did, in reverse; fills res's rollback fields. */
void rollback_restore(Run *run, RestoreResult *res);
