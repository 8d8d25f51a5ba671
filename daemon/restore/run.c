/* SPDX-License-Identifier: MIT */
/*
 * run.c — carry out a plan: stop kube-apiserver and etcd, `snapshot
 * restore` into <data_dir>.restore-<ts>, swap it in, start etcd, wait for a
 * leader at the backup's revision, start kube-apiserver; on the first
 * failure hand over to the rollback. Every wait is bounded by
 * restore.health_timeout.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "restore/internal.h"
#include "restore/static-pod.h"
#include "restore/units.h"
#include "util/proc.h"
#include "util/str.h"
#include "util/tcp.h"
#include "util/time.h"

void restore_result_done(RestoreResult *r) {
        if (!r)
                return;
        r->error = mfree(r->error);
        r->rollback_error = mfree(r->rollback_error);
}

int run_ensure_held_dir(Run *run) {
        if (run->held_dir_made)
                return 0;
        if (mkdir(run->p->held_dir, 0700) < 0)
                return free_and_format(&run->error, "cannot create %s: %s", run->p->held_dir, strerror(errno)), -errno;
        run->held_dir_made = true;
        return 0;
}

/* Wait until kube-apiserver's port answers (want true) or stops answering. */
static int wait_port(Run *run, bool want, uint64_t *ret_usec) {
        const char *address = run->p->apiserver_address;
        uint16_t port = run->p->apiserver_port;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC), deadline = t0 + run->timeout_usec;

        for (;;) {
                int r = tcp_probe(address, port, PROBE_CONNECT_TIMEOUT_USEC);
                if (r < 0)
                        return free_and_format(&run->error, "cannot probe %s port %u: %s", address, port,
                                               strerror(-r)), r;
                if ((r > 0) == want) {
                        *ret_usec = now_usec(CLOCK_MONOTONIC) - t0;
                        return 0;
                }
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return free_and_format(&run->error, "%s port %u still %s after %" PRIu64 " s", address, port,
                                         want ? "does not answer" : "answers", run->timeout_usec / USEC_PER_SEC),
                               -ETIMEDOUT;
                sleep_usec(PROBE_INTERVAL_USEC);
        }
}

/* Probe the member once. 1 healthy (leader, revision >= min_revision), 0 not
 * (yet), with *ret_why. */
static int probe_etcd(Run *run, int64_t min_revision, int64_t *ret_revision, char **ret_why) {
        _cleanup_free_ char *err = NULL;
        EtcdStatus st = {};
        int r;

        r = etcd_status(&run->tls, run->p->endpoint, PROBE_CONNECT_TIMEOUT_USEC, PROBE_TIMEOUT_USEC, &st, &err);
        if (r < 0) {
                free_and_format(ret_why, "%s", err ? err : strerror(-r));
                return 0;
        }
        *ret_revision = st.revision;
        if (st.leader == 0)
                r = free_and_format(ret_why, "%s answers but has no leader", run->p->endpoint);
        else if (st.revision < min_revision)
                r = free_and_format(ret_why, "%s answers at revision %" PRId64 ", below the backup's %" PRId64,
                              run->p->endpoint, st.revision, min_revision);
        else
                r = 1;
        etcd_status_done(&st);
        return r;
}

int run_wait_etcd_healthy(Run *run, int64_t min_revision, int64_t *ret_revision) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + run->timeout_usec;
        _cleanup_free_ char *why = NULL;
        int64_t rev = 0;

        for (;;) {
                if (probe_etcd(run, min_revision, &rev, &why) > 0) {
                        if (ret_revision)
                                *ret_revision = rev;
                        return 0;
                }
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return free_and_format(&run->error, "etcd is not healthy after %" PRIu64 " s: %s",
                                         run->timeout_usec / USEC_PER_SEC, why ? why : "no answer"), -ETIMEDOUT;
                sleep_usec(PROBE_INTERVAL_USEC);
        }
}

static int wait_dir_free(Run *run, const char *dir) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + run->timeout_usec;

        for (;;) {
                pid_t pid = proc_find_open_below(dir);
                if (pid == 0)
                        return 0;
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return free_and_format(&run->error, "process %d still has files open in %s", (int) pid, dir),
                               -EBUSY;
                sleep_usec(PROBE_INTERVAL_USEC);
        }
}

static int wait_etcd_gone(Run *run) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + run->timeout_usec;

        for (;;) {
                _cleanup_free_ char *why = NULL;
                EtcdStatus st = {};
                int r;

                r = etcd_status(&run->tls, run->p->endpoint, PROBE_CONNECT_TIMEOUT_USEC, PROBE_TIMEOUT_USEC, &st, &why);
                etcd_status_done(&st);
                /* -EAGAIN (no leader) and -EIO (another error of etcd's) are answers too. */
                if (r < 0 && r != -EAGAIN && r != -EIO)
                        break;
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return free_and_format(&run->error, "%s still answers %" PRIu64 " s after etcd was stopped",
                                         run->p->endpoint, run->timeout_usec / USEC_PER_SEC), -ETIMEDOUT;
                sleep_usec(PROBE_INTERVAL_USEC);
        }
        return wait_dir_free(run, run->p->data_dir);
}

static int step_stop_apiserver(Run *run) {
        RestorePlan *p = run->p;
        _cleanup_free_ char *err = NULL;
        uint64_t took = 0;
        int r;

        if (!p->apiserver_running) {
                restore_report(run->fn, run->userdata, RESTORE_STEP_STOP_APISERVER, RESTORE_STEP_SKIPPED,
                       "kube-apiserver is not running here: nothing to stop");
                return 0;
        }
        restore_report(run->fn, run->userdata, RESTORE_STEP_STOP_APISERVER, RESTORE_STEP_RUNNING, "stopping kube-apiserver");
        if (p->mode == RESTORE_MODE_STATIC_POD) {
                r = run_ensure_held_dir(run);
                if (r < 0)
                        return r;
                r = static_pod_manifest_move(p->manifests_dir, p->held_dir, APISERVER_MANIFEST);
                if (r < 0)
                        return free_and_format(&run->error, "cannot move %s/%s to %s: %s", p->manifests_dir,
                                         APISERVER_MANIFEST, p->held_dir, strerror(-r)), r;
                run->apiserver_held = true;
                r = wait_port(run, false, &took);
                if (r < 0)
                        return r;
                restore_report(run->fn, run->userdata, RESTORE_STEP_STOP_APISERVER, RESTORE_STEP_DONE,
                       "%s moved to %s; %s port %u closed after %" PRIu64 " ms", APISERVER_MANIFEST, p->held_dir,
                       p->apiserver_address, p->apiserver_port, took / USEC_PER_MSEC);
                return 0;
        }
        run->apiserver_held = true;
        r = units_stop(p->bus, p->apiserver_unit, run->timeout_usec, &err);
        if (r < 0)
                return free_and_format(&run->error, "%s", err ? err : strerror(-r)), r;
        restore_report(run->fn, run->userdata, RESTORE_STEP_STOP_APISERVER, RESTORE_STEP_DONE, "%s stopped",
               p->apiserver_unit);
        return 0;
}

static int step_stop_etcd(Run *run) {
        RestorePlan *p = run->p;
        _cleanup_free_ char *err = NULL;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        int r;

        restore_report(run->fn, run->userdata, RESTORE_STEP_STOP_ETCD, RESTORE_STEP_RUNNING, "stopping etcd");
        if (p->mode == RESTORE_MODE_STATIC_POD) {
                r = run_ensure_held_dir(run);
                if (r < 0)
                        return r;
                r = static_pod_manifest_move(p->manifests_dir, p->held_dir, ETCD_MANIFEST);
                if (r < 0)
                        return free_and_format(&run->error, "cannot move %s/%s to %s: %s", p->manifests_dir,
                                         ETCD_MANIFEST, p->held_dir, strerror(-r)), r;
                run->etcd_held = true;
        } else {
                run->etcd_held = true;
                r = units_stop(p->bus, p->etcd_unit, run->timeout_usec, &err);
                if (r < 0)
                        return free_and_format(&run->error, "%s", err ? err : strerror(-r)), r;
        }
        r = wait_etcd_gone(run);
        if (r < 0)
                return r;
        restore_report(run->fn, run->userdata, RESTORE_STEP_STOP_ETCD, RESTORE_STEP_DONE,
               "etcd stopped: %s no longer answers and nothing has %s open (%" PRIu64 " ms)", p->endpoint,
               p->data_dir, (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC);
        return 0;
}

int run_etcd_start(Run *run, char **ret_error) {
        RestorePlan *p = run->p;
        int r;

        if (p->mode == RESTORE_MODE_STATIC_POD) {
                r = static_pod_manifest_move(p->held_dir, p->manifests_dir, ETCD_MANIFEST);
                if (r < 0)
                        return free_and_format(ret_error, "cannot move %s back into %s: %s", ETCD_MANIFEST,
                                         p->manifests_dir, strerror(-r)), r;
                run->etcd_held = false;
                return 0;
        }
        run->etcd_held = false;
        return units_start(p->bus, p->etcd_unit, run->timeout_usec, ret_error);
}

int run_etcd_stop(Run *run, char **ret_error) {
        RestorePlan *p = run->p;
        int r;

        if (p->mode == RESTORE_MODE_STATIC_POD) {
                r = run_ensure_held_dir(run);
                if (r < 0)
                        return free_and_format(ret_error, "%s", run->error), r;
                r = static_pod_manifest_move(p->manifests_dir, p->held_dir, ETCD_MANIFEST);
                if (r < 0)
                        return free_and_format(ret_error, "cannot move %s out of %s: %s", ETCD_MANIFEST,
                                         p->manifests_dir, strerror(-r)), r;
        } else {
                r = units_stop(p->bus, p->etcd_unit, run->timeout_usec, ret_error);
                if (r < 0)
                        return r;
        }
        run->etcd_held = true;
        r = wait_etcd_gone(run);
        if (r < 0)
                return free_and_format(ret_error, "%s", run->error), r;
        return 0;
}

int run_apiserver_start(Run *run, char **ret_error) {
        RestorePlan *p = run->p;
        uint64_t took;
        int r;

        if (p->mode == RESTORE_MODE_STATIC_POD) {
                r = static_pod_manifest_move(p->held_dir, p->manifests_dir, APISERVER_MANIFEST);
                if (r < 0)
                        return free_and_format(ret_error, "cannot move %s back into %s: %s", APISERVER_MANIFEST,
                                         p->manifests_dir, strerror(-r)), r;
                run->apiserver_held = false;
                r = wait_port(run, true, &took);
                if (r < 0)
                        return free_and_format(ret_error, "kube-apiserver: %s", run->error), r;
                return 0;
        }
        run->apiserver_held = false;
        return units_start(p->bus, p->apiserver_unit, run->timeout_usec, ret_error);
}

static int step_start_etcd(Run *run, int64_t *ret_revision) {
        RestorePlan *p = run->p;
        _cleanup_free_ char *err = NULL;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        int r;

        restore_report(run->fn, run->userdata, RESTORE_STEP_START_ETCD, RESTORE_STEP_RUNNING, "starting etcd");
        run->etcd_on_new = true;
        r = run_etcd_start(run, &err);
        if (r < 0)
                return free_and_format(&run->error, "%s", err ? err : strerror(-r)), r;
        run->etcd_start_ok = true;
        restore_report(run->fn, run->userdata, RESTORE_STEP_START_ETCD, RESTORE_STEP_DONE, p->mode == RESTORE_MODE_STATIC_POD ?
               "%s moved back into %s" : "%s started", p->mode == RESTORE_MODE_STATIC_POD ? ETCD_MANIFEST :
               p->etcd_unit, p->manifests_dir);
        restore_report(run->fn, run->userdata, RESTORE_STEP_WAIT_ETCD, RESTORE_STEP_RUNNING,
               "waiting for %s to answer with a leader at revision >= %" PRId64, p->endpoint, p->revision);
        r = run_wait_etcd_healthy(run, p->revision, ret_revision);
        if (r < 0)
                return r;
        restore_report(run->fn, run->userdata, RESTORE_STEP_WAIT_ETCD, RESTORE_STEP_DONE,
               "etcd is healthy at revision %" PRId64 " (%" PRIu64 " ms)", *ret_revision,
               (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC);
        return 0;
}

static int step_start_apiserver(Run *run) {
        RestorePlan *p = run->p;
        _cleanup_free_ char *err = NULL;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        int r;

        if (!run->apiserver_held) {
                restore_report(run->fn, run->userdata, RESTORE_STEP_START_APISERVER, RESTORE_STEP_SKIPPED,
                       "kube-apiserver was not running: left alone");
                return 0;
        }
        restore_report(run->fn, run->userdata, RESTORE_STEP_START_APISERVER, RESTORE_STEP_RUNNING, "starting kube-apiserver");
        r = run_apiserver_start(run, &err);
        if (r < 0)
                return free_and_format(&run->error, "%s", err ? err : strerror(-r)), r;
        if (p->mode == RESTORE_MODE_STATIC_POD)
                restore_report(run->fn, run->userdata, RESTORE_STEP_START_APISERVER, RESTORE_STEP_DONE,
                       "%s back in %s; %s port %u answers (%" PRIu64 " ms)", APISERVER_MANIFEST,
                       p->manifests_dir, p->apiserver_address, p->apiserver_port,
                       (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC);
        else
                restore_report(run->fn, run->userdata, RESTORE_STEP_START_APISERVER, RESTORE_STEP_DONE,
                       "%s started (%" PRIu64 " ms)", p->apiserver_unit, (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC);
        return 0;
}

int restore_run(RestorePlan *p, const Config *c, RestoreProgressFn fn, void *userdata, RestoreResult *ret) {
        Run run = { .p = p, .c = c, .fn = fn, .userdata = userdata, .tls = etcd_tls_from_config(&c->etcd),
                    .timeout_usec = c->restore.health_timeout_usec };
        RestoreResult res = {};
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        const char *step = NULL;
        int r;

        r = step_stop_apiserver(&run);
        if (r < 0)
                step = RESTORE_STEP_STOP_APISERVER;
        if (r >= 0 && (r = step_stop_etcd(&run)) < 0)
                step = RESTORE_STEP_STOP_ETCD;
        if (r >= 0 && (r = tool_snapshot_restore(&run)) < 0)
                step = RESTORE_STEP_SNAPSHOT;
        if (r >= 0 && (r = swap_data_dir(&run)) < 0)
                step = RESTORE_STEP_SWAP;
        if (r >= 0 && (r = step_start_etcd(&run, &res.etcd_revision)) < 0)
                step = run.etcd_start_ok ? RESTORE_STEP_WAIT_ETCD : RESTORE_STEP_START_ETCD;
        if (r >= 0 && (r = step_start_apiserver(&run)) < 0)
                step = RESTORE_STEP_START_APISERVER;

        if (r < 0) {
                const char *why = run.error ? run.error : strerror(-r);
                restore_report(fn, userdata, step, RESTORE_STEP_FAILED, "%s", why);
                if (asprintf(&res.error, "%s: %s", step, why) < 0)
                        res.error = NULL;
                rollback_restore(&run, &res);
        } else if (run.held_dir_made)
                (void) rmdir(p->held_dir);
        free(run.error);
        res.duration_usec = now_usec(CLOCK_MONOTONIC) - t0;
        *ret = res;
        return r < 0 ? r : 0;
}
