/* SPDX-License-Identifier: MIT */
/*
 * run.c — carry out a plan: stop kube-apiserver and etcd, `snapshot
 * restore` into <data_dir>.restore-<ts>, swap it in, start etcd, wait for a
 * leader at the revision etcd takes from the backup, start kube-apiserver;
 * on the first failure hand over to the rollback. Every wait is bounded by
 * restore.health_timeout.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "restore/internal.h"
#include "restore/proof.h"
#include "restore/readyz.h"
#include "restore/static-pod.h"
#include "restore/units.h"
#include "util/io.h"
#include "util/path.h"
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
        _cleanup_free_ char *parent = NULL;
        int r;

        if (mkdir(run->p->held_dir, 0700) < 0) {
                r = -errno;
                return free_and_format(&run->error, "cannot create %s: %s", run->p->held_dir, strerror(-r)), r;
        }
        run->held_dir_made = true;
        /* The manifests moved into it must not vanish with it at a power loss. */
        parent = path_dirname(run->p->held_dir);
        r = parent ? fsync_directory(parent) : -ENOMEM;
        if (r < 0)
                return free_and_format(&run->error, "cannot sync the directory of %s: %s", run->p->held_dir,
                                       strerror(-r)), r;
        return 0;
}

/* Those a connection to address:port reaches (a listener on another address, say an `ssh -L` on 127.0.0.1 beside
 * a kube-apiserver bound to the node's address, is none of them). */
static void port_holders(const char *address, uint16_t port, PortHolders *ret) {
        pid_t pids[ELEMENTSOF(ret->h)];
        char url[128];
        ProofAddress a;
        ssize_t n;

        snprintf(url, sizeof url, strchr(address, ':') ? "https://[%s]:%u" : "https://%s:%u", address, port);
        n = proof_listener_pids(port, proof_url_address(url, &a) > 0 ? &a : NULL, pids, ELEMENTSOF(pids));
        ret->n = 0;
        for (ssize_t i = 0; i < n; i++) {
                char dir[32];
                struct stat st;

                snprintf(dir, sizeof dir, "/proc/%d", (int) pids[i]);
                if (stat(dir, &st) < 0)
                        continue;       /* gone meanwhile */
                ret->h[ret->n].pid = pids[i];
                ret->h[ret->n].uid = st.st_uid;
                (void) proc_name(pids[i], ret->h[ret->n].name, sizeof ret->h[ret->n].name);
                ret->n++;
        }
}

/* A process that listens on port now and is not among before, nor another of the same name and user (the same
 * program, started again): any local user may bind kube-apiserver's port once it is free, and kube-apiserver then
 * cannot. Returns -EADDRINUSE with run->error naming that process, by PID, user and name; 0 when there is none,
 * and always in the rollback, which waits for the operator to end that process. */
static int port_taken(Run *run, const char *address, uint16_t port, const PortHolders *before) {
        PortHolders now = {};

        if (run->rolling_back || before->n == 0)
                return 0;       /* (none seen before: nothing to tell a stranger from) */
        port_holders(address, port, &now);
        for (size_t i = 0; i < now.n; i++) {
                bool known = false;

                for (size_t j = 0; j < before->n && !known; j++)
                        known = now.h[i].pid == before->h[j].pid ||
                                (now.h[i].uid == before->h[j].uid && streq(now.h[i].name, before->h[j].name));
                if (known)
                        continue;
                return free_and_format(&run->error, "%s port %u is held by another process than before the restore: "
                                       "pid %d (%s, uid %u), where %s (uid %u) listened; a local user may bind the "
                                       "port once kube-apiserver has left it, and kube-apiserver cannot bind it then. "
                                       "End that process", address, port, (int) now.h[i].pid, now.h[i].name,
                                       (unsigned) now.h[i].uid, before->h[0].name, (unsigned) before->h[0].uid),
                       -EADDRINUSE;
        }
        return 0;
}

/* Wait until address:port answers (want) or stops answering, at most until deadline (CLOCK_MONOTONIC). Waiting
 * for it to close, a port another process than those in before (NULL: none) has taken is said at once
 * (port_taken()), not after a wait until the deadline that would end in a rollback whose kube-apiserver could not
 * bind the port either. */
static int wait_tcp(Run *run, const char *address, uint16_t port, bool want, const PortHolders *before,
                    uint64_t deadline) {
        uint64_t delay = POLL_FIRST_USEC;

        for (;;) {
                int r = tcp_probe(address, port, PROBE_CONNECT_TIMEOUT_USEC);
                if (r < 0)
                        return free_and_format(&run->error, "cannot probe %s port %u: %s", address, port,
                                               strerror(-r)), r;
                if ((r > 0) == want)
                        return 0;
                if (r > 0 && before) {
                        r = port_taken(run, address, port, before);
                        if (r < 0)
                                return r;
                }
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return free_and_format(&run->error, "%s port %u still %s after %" PRIu64 " s", address, port,
                                               want ? "does not answer" : "answers", run->timeout_usec / USEC_PER_SEC),
                               -ETIMEDOUT;
                sleep_backoff(&delay, PROBE_INTERVAL_USEC);
        }
}

/* Wait until kube-apiserver's /readyz answers 200, verified with the
 * plan's CA. */
static int wait_readyz(Run *run, uint64_t *ret_usec) {
        RestorePlan *p = run->p;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC), deadline = t0 + run->timeout_usec, delay = POLL_FIRST_USEC;

        for (;;) {
                _cleanup_free_ char *why = NULL;
                int r = readyz_probe(p->apiserver_address, p->apiserver_port, p->apiserver_cacert,
                                     PROBE_TIMEOUT_USEC, &why);
                if (r < 0)
                        return free_and_format(&run->error, "cannot probe kube-apiserver: %s",
                                               why ? why : strerror(-r)), r;
                if (r > 0) {
                        *ret_usec = now_usec(CLOCK_MONOTONIC) - t0;
                        return 0;
                }
                /* The port taken while kube-apiserver was down: it will not come up. */
                r = port_taken(run, p->apiserver_address, p->apiserver_port, &run->apiserver_holders);
                if (r < 0)
                        return r;
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return free_and_format(&run->error, "https://%s:%u/readyz is not ready after %" PRIu64 " s: %s",
                                               p->apiserver_address, p->apiserver_port,
                                               run->timeout_usec / USEC_PER_SEC, why ? why : "no answer"),
                               -ETIMEDOUT;
                sleep_backoff(&delay, PROBE_INTERVAL_USEC);
        }
}

/* Probe the member once. 1 healthy (leader, revision >= min_revision), 0 not
 * (yet), with *ret_why. */
static int probe_etcd(Run *run, int64_t min_revision, int64_t *ret_revision, char **ret_why) {
        _cleanup_free_ char *err = NULL;
        char want[PLAN_REVISION_MAX];
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
        else if (st.revision < min_revision) {
                if (min_revision == run->p->etcd_revision)
                        plan_expected_revision(run->p, true, want, sizeof want);
                else
                        snprintf(want, sizeof want, "%" PRId64, min_revision);
                r = free_and_format(ret_why, "%s answers at revision %" PRId64 ", below %s", run->p->endpoint,
                                    st.revision, want);
        } else {
                run->nospace_alarm = st.nospace_alarm;
                r = 1;
        }
        etcd_status_done(&st);
        return r;
}

int run_wait_etcd_healthy(Run *run, int64_t min_revision, int64_t *ret_revision) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + run->timeout_usec, delay = POLL_FIRST_USEC;
        _cleanup_free_ char *why = NULL;
        int64_t rev = 0;

        for (;;) {
                if (probe_etcd(run, min_revision, &rev, &why) > 0) {
                        if (ret_revision)
                                *ret_revision = rev;
                        return 0;
                }
                if (now_usec(CLOCK_MONOTONIC) >= deadline) {
                        bool pod = run->p->mode == RESTORE_MODE_STATIC_POD;

                        return free_and_format(&run->error, "etcd is not healthy after %" PRIu64 " s: %s (%s%s%s)",
                                               run->timeout_usec / USEC_PER_SEC, why ? why : "no answer",
                                               pod ? "`crictl ps -a --name etcd` shows etcd's container, `crictl "
                                               "logs <CONTAINER-ID>` what it said; one that keeps failing is "
                                               "started again by the kubelet after a back-off of up to 5 minutes" :
                                               "`journalctl -u ", pod ? "" : run->p->etcd_unit,
                                               pod ? "" : "` shows what etcd said"),
                               -ETIMEDOUT;
                }
                sleep_backoff(&delay, PROBE_INTERVAL_USEC);
        }
}

static int wait_dir_free(Run *run, const char *dir) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + run->timeout_usec, delay = POLL_FIRST_USEC;

        for (;;) {
                pid_t pid = proc_find_open_below(dir);
                char name[64];

                if (pid == 0)
                        return 0;
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return free_and_format(&run->error, "process %d (%s) still has files open in %s", (int) pid,
                                               proc_name(pid, name, sizeof name), dir), -EBUSY;
                sleep_backoff(&delay, PROBE_INTERVAL_USEC);
        }
}

static int wait_etcd_gone(Run *run) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + run->timeout_usec, delay = POLL_FIRST_USEC;

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
                sleep_backoff(&delay, PROBE_INTERVAL_USEC);
        }
        return wait_dir_free(run, run->p->data_dir);
}

int run_apiserver_stop(Run *run, uint64_t *ret_took_usec, char **ret_error) {
        RestorePlan *p = run->p;
        uint64_t start = now_usec(CLOCK_MONOTONIC);
        int r;

        if (p->apiserver_pod) {
                char reason[160];
                bool moved;

                if (!run->rolling_back)
                        port_holders(p->apiserver_address, p->apiserver_port, &run->apiserver_holders);
                r = run_ensure_held_dir(run);
                if (r < 0)
                        return free_and_format(ret_error, "%s", run->error), r;
                r = static_pod_manifest_move(p->manifests_dir, p->held_dir, APISERVER_MANIFEST, &moved);
                if (moved)
                        run->apiserver_held = true;
                if (r < 0)
                        return free_and_format(ret_error, "cannot move %s/%s to %s: %s", p->manifests_dir,
                                               APISERVER_MANIFEST, p->held_dir,
                                               static_pod_move_reason(r, moved, reason, sizeof reason)), r;
                r = wait_tcp(run, p->apiserver_address, p->apiserver_port, false, &run->apiserver_holders,
                             start + run->timeout_usec);
                if (r < 0)
                        return free_and_format(ret_error, "%s", run->error), r;
        } else {
                run->apiserver_held = true;
                r = units_stop(p->bus, p->apiserver_unit, run->timeout_usec, ret_error);
                if (r < 0)
                        return r;
        }
        *ret_took_usec = now_usec(CLOCK_MONOTONIC) - start;
        return 0;
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
        r = run_apiserver_stop(run, &took, &err);
        if (r < 0)
                return free_and_format(&run->error, "%s", err ? err : strerror(-r)), r;
        if (p->apiserver_pod)
                restore_report(run->fn, run->userdata, RESTORE_STEP_STOP_APISERVER, RESTORE_STEP_DONE,
                       "%s moved to %s; %s port %u closed after %" PRIu64 " ms", APISERVER_MANIFEST, p->held_dir,
                       p->apiserver_address, p->apiserver_port, took / USEC_PER_MSEC);
        else
                restore_report(run->fn, run->userdata, RESTORE_STEP_STOP_APISERVER, RESTORE_STEP_DONE, "%s stopped",
                       p->apiserver_unit);
        return 0;
}

static uint16_t port_of(const char *url) {
        uint16_t port = 0;
        return proof_url_port(url, &port) < 0 ? 0 : port;
}

/* Before etcd is stopped: whether the etcd on its port holds the data dir's
 * member/snap/db open, so that a rollback can prove etcd back on it. Where
 * etcd runs on other data than its settings name, it is not: the rollback
 * then starts it as it was without that proof (the proof after the
 * restore's own start is what catches it). */
static void note_old_db(Run *run) {
        _cleanup_free_ char *db = path_join(run->p->data_dir, "member/snap/db");
        uint16_t port = port_of(run->p->endpoint);
        pid_t pids[16];
        struct stat st;
        ssize_t n;

        if (!db || port == 0 || stat(db, &st) < 0 || !S_ISREG(st.st_mode))
                return;
        n = proof_listener_pids(port, NULL, pids, ELEMENTSOF(pids));
        for (ssize_t i = 0; i < n; i++)
                if (proof_holds_file(pids[i], st.st_dev, st.st_ino) > 0) {
                        run->etcd_ran_on_data_dir = true;
                        return;
                }
}

static int step_stop_etcd(Run *run) {
        RestorePlan *p = run->p;
        _cleanup_free_ char *err = NULL;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        int r;

        restore_report(run->fn, run->userdata, RESTORE_STEP_STOP_ETCD, RESTORE_STEP_RUNNING, "stopping etcd");
        note_old_db(run);
        if (p->mode == RESTORE_MODE_STATIC_POD) {
                char reason[160];
                bool moved;

                r = run_ensure_held_dir(run);
                if (r < 0)
                        return r;
                r = static_pod_manifest_move(p->manifests_dir, p->held_dir, ETCD_MANIFEST, &moved);
                run->etcd_held = moved;
                if (r < 0)
                        return free_and_format(&run->error, "cannot move %s/%s to %s: %s", p->manifests_dir,
                                         ETCD_MANIFEST, p->held_dir, static_pod_move_reason(r, moved, reason, sizeof reason)),
                               r;
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
                char reason[160];
                bool moved;

                r = static_pod_manifest_move(p->held_dir, p->manifests_dir, ETCD_MANIFEST, &moved);
                run->etcd_held = !moved;
                if (r < 0)
                        return free_and_format(ret_error, "cannot move %s back into %s: %s", ETCD_MANIFEST,
                                         p->manifests_dir, static_pod_move_reason(r, moved, reason, sizeof reason)), r;
                return 0;
        }
        run->etcd_held = false;
        return units_start(p->bus, p->etcd_unit, run->timeout_usec, ret_error);
}

int run_etcd_stop(Run *run, char **ret_error) {
        RestorePlan *p = run->p;
        int r;

        if (p->mode == RESTORE_MODE_STATIC_POD) {
                char reason[160];
                bool moved;

                r = run_ensure_held_dir(run);
                if (r < 0)
                        return free_and_format(ret_error, "%s", run->error), r;
                r = static_pod_manifest_move(p->manifests_dir, p->held_dir, ETCD_MANIFEST, &moved);
                if (moved)
                        run->etcd_held = true;
                if (r < 0)
                        return free_and_format(ret_error, "cannot move %s out of %s: %s", ETCD_MANIFEST,
                                         p->manifests_dir, static_pod_move_reason(r, moved, reason, sizeof reason)), r;
        } else {
                /* Held from the stop job on: one that times out still stops it. */
                run->etcd_held = true;
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

        if (p->apiserver_pod) {
                char reason[160];
                bool moved;

                r = static_pod_manifest_move(p->held_dir, p->manifests_dir, APISERVER_MANIFEST, &moved);
                run->apiserver_held = !moved;
                if (r < 0)
                        return free_and_format(ret_error, "cannot move %s back into %s: %s", APISERVER_MANIFEST,
                                         p->manifests_dir, static_pod_move_reason(r, moved, reason, sizeof reason)), r;
                r = wait_readyz(run, &took);
                if (r < 0)
                        return free_and_format(ret_error, "kube-apiserver: %s", run->error), r;
                return 0;
        }
        run->apiserver_held = false;
        r = units_start(p->bus, p->apiserver_unit, run->timeout_usec, ret_error);
        if (r < 0)
                return r;
        r = wait_readyz(run, &took);
        if (r < 0)
                return free_and_format(ret_error, "kube-apiserver: %s", run->error), r;
        return 0;
}

int run_prove_db(Run *run, dev_t dev, ino_t ino, const char *which, const char *at, pid_t *ret_pid) {
        RestorePlan *p = run->p;
        uint16_t port = port_of(p->endpoint);
        pid_t pid = 0, pids[16];
        ssize_t n;
        int r;

        if (port == 0)
                return free_and_format(&run->error, "check failed: cannot tell the port of %s", p->endpoint), -EINVAL;
        n = proof_listener_pids(port, NULL, pids, ELEMENTSOF(pids));
        if (n <= 0)
                return free_and_format(&run->error, "check failed: %sno process of this host listens on port %u of %s "
                                       "(%s)", at, (unsigned) port, p->endpoint, n < 0 ? strerror((int) -n) :
                                       "etcd answers from elsewhere"), n < 0 ? (int) n : -ESRCH;
        /* The one that holds the db, among all that listen on the port (other members, on other addresses of
         * this host, too). */
        for (ssize_t i = 0; i < n; i++) {
                r = proof_holds_file(pids[i], dev, ino);
                if (r == -ESRCH)
                        continue;       /* ended since it was listed */
                if (r < 0)
                        return free_and_format(&run->error, "check failed: %scannot read the open files of process "
                                               "%d, which listens on port %u: %s", at, (int) pids[i], (unsigned) port,
                                               strerror(-r)), r;
                if (r > 0) {
                        pid = pids[i];
                        break;
                }
        }
        if (pid == 0 && n == 1)
                return free_and_format(&run->error, "check failed: %sprocess %d, which listens on port %u, does not "
                                       "hold the %s %s/member/snap/db (inode %" PRIu64 ") open: etcd does not "
                                       "run on the %s data (is %s the data dir it uses?)", at, (int) pids[0],
                                       (unsigned) port, which, p->data_dir, (uint64_t) ino, which, p->data_dir),
                       -ESTALE;
        if (pid == 0)
                return free_and_format(&run->error, "check failed: %snone of the %zd processes that listen on port %u "
                                       "(the first %d) holds the %s %s/member/snap/db (inode %" PRIu64 ") "
                                       "open: etcd does not run on the %s data (is %s the data dir it uses?)",
                                       at, n, (unsigned) port, (int) pids[0], which, p->data_dir, (uint64_t) ino,
                                       which, p->data_dir),
                       -ESTALE;
        *ret_pid = pid;
        return 0;
}

/* After etcd answers on the restored data (at a revision >= the one etcd
 * takes from the restored db): prove that it is the restored data it
 * answers from. The process listening on its client port must hold open
 * the member/snap/db that the swap put in place (same device and inode).
 * The revision alone proves nothing: above the restored one it may be the
 * old data's later writes, or the restored cluster's own (leases that
 * expired, the kube-apiservers of members restored before this one, or of
 * other hosts); it is named when the proof fails. Cluster and member IDs
 * prove nothing either: etcd derives them from names, peer URLs and the
 * token. *ret_pid is that process. */
static int prove_restored(Run *run, int64_t revision, pid_t *ret_pid) {
        RestorePlan *p = run->p;
        _cleanup_free_ char *at = NULL;
        char want[PLAN_REVISION_MAX];

        /* The endpoint is the configuration's, of any length: formatted whole. */
        if (revision == p->etcd_revision)
                at = strdup("");
        else if (asprintf(&at, "etcd at %s answers at revision %" PRId64 ", not %s, and ", p->endpoint, revision,
                          plan_expected_revision(p, true, want, sizeof want)) < 0)
                at = NULL;
        if (!at)
                return -ENOMEM;
        return run_prove_db(run, run->db_dev, run->db_ino, "restored", at, ret_pid);
}

static int step_start_etcd(Run *run, int64_t *ret_revision) {
        RestorePlan *p = run->p;
        char want[PLAN_REVISION_MAX], shown[PLAN_REVISION_MAX + 64];
        _cleanup_free_ char *err = NULL;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        pid_t pid = 0;
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
               "waiting for %s to answer with a leader at revision >= %s", p->endpoint,
               plan_expected_revision(p, false, want, sizeof want));
        r = run_wait_etcd_healthy(run, p->etcd_revision, ret_revision);
        if (r < 0)
                return r;
        r = prove_restored(run, *ret_revision, &pid);
        if (r < 0)
                return r;
        /* Above the restored revision: the restored cluster wrote since (see prove_restored()). */
        if (*ret_revision != p->etcd_revision)
                snprintf(shown, sizeof shown, "%" PRId64 " (restored at %s; the cluster has written since)",
                         *ret_revision, plan_expected_revision(p, false, want, sizeof want));
        else
                (void) plan_expected_revision(p, false, shown, sizeof shown);
        restore_report(run->fn, run->userdata, RESTORE_STEP_WAIT_ETCD, RESTORE_STEP_DONE,
               "etcd is healthy at revision %s, and runs on the restored data (pid %d, "
               "listening on port %u, holds %s/member/snap/db inode %" PRIu64 " open) (%" PRIu64 " ms)%s",
               shown, (int) pid, (unsigned) port_of(p->endpoint),
               p->data_dir, (uint64_t) run->db_ino,
               (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC,
               run->nospace_alarm ? "; it reports the NOSPACE alarm, which came with the backup: etcd refuses "
               "writes until it is disarmed (etcdctl alarm disarm; compact and defragment first if the db is "
               "still at its --quota-backend-bytes)" : "");
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
        run->apiserver_on_new = true;
        r = run_apiserver_start(run, &err);
        if (r < 0)
                return free_and_format(&run->error, "%s", err ? err : strerror(-r)), r;
        if (p->apiserver_pod)
                restore_report(run->fn, run->userdata, RESTORE_STEP_START_APISERVER, RESTORE_STEP_DONE,
                       "%s back in %s; https://%s:%u/readyz answers 200, verified with %s (%" PRIu64 " ms)",
                       APISERVER_MANIFEST, p->manifests_dir, p->apiserver_address, p->apiserver_port,
                       p->apiserver_cacert, (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC);
        else
                restore_report(run->fn, run->userdata, RESTORE_STEP_START_APISERVER, RESTORE_STEP_DONE,
                       "%s started (%" PRIu64 " ms)", p->apiserver_unit, (now_usec(CLOCK_MONOTONIC) - t0) / USEC_PER_MSEC);
        return 0;
}

/* One static pod of the control plane being restarted. */
typedef struct Pod {
        const char *file;
        uint16_t default_port;
        bool present;   /* its manifest is in the manifests dir */
        uint16_t port;
        char *address;
        bool answered;  /* its port answered before the restore stopped anything */
        bool out;       /* its manifest is in the held dir */
} Pod;

/* Add what happened to pod to run->error (or make it the error). */
_printf_(3, 4) static void pod_error(Run *run, const Pod *pod, const char *fmt, ...) {
        _cleanup_free_ char *what = NULL;
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&what, fmt, ap);
        va_end(ap);
        if (k >= 0)
                /* free_and_format() formats before it frees: run->error may be an argument. */
                free_and_format(&run->error, "%s%s%s: %s", run->error ? run->error : "",
                                run->error ? "; and " : "", pod->file, what);
}

/* Whether pod's manifest is in the manifests dir, and where it serves: its
 * --secure-port and --bind-address. 0, or -errno with run->error. */
static int pod_read(Run *run, Pod *pod) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = static_pod_serving(run->p->manifests_dir, pod->file, pod->default_port, &pod->present, &pod->port,
                               &pod->address, &error);
        if (r < 0)
                free_and_format(&run->error, "cannot read --secure-port/--bind-address from %s/%s: %s",
                                run->p->manifests_dir, pod->file, error ? error : strerror(-r));
        return r;
}

/* Restart the static pods of pods[n] whose manifests are there, all at
 * once: every manifest out, until each one's --secure-port closes, then
 * every one back (always, even when a wait failed), until each port answers.
 * A pod whose port did not answer before (crash-looping, say) is moved out
 * and back the same, but not waited for: what it did not do before, the
 * restore cannot be blamed for. Every wait shares one deadline. Returns how
 * many answered again, or -errno with run->error, which names every
 * manifest left in the held dir. */
static int restart_static_pods(Run *run, Pod *pods, size_t n) {
        RestorePlan *p = run->p;
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + run->timeout_usec;
        unsigned restarted = 0;
        char reason[160];
        int r = 0, k;

        for (size_t i = 0; i < n && r >= 0; i++)
                r = pod_read(run, &pods[i]);
        if (r == -ENOMEM)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++) {
                if (!pods[i].present)
                        continue;
                r = run_ensure_held_dir(run);
                if (r < 0)
                        break;
                r = static_pod_manifest_move(p->manifests_dir, p->held_dir, pods[i].file, &pods[i].out);
                if (r < 0)
                        pod_error(run, &pods[i], "cannot move it out of %s: %s", p->manifests_dir,
                                  static_pod_move_reason(r, pods[i].out, reason, sizeof reason));
        }
        for (size_t i = 0; i < n && r >= 0; i++)
                if (pods[i].out && pods[i].port != 0) {
                        r = wait_tcp(run, pods[i].address, pods[i].port, false, NULL, deadline);
                        if (r < 0) {
                                _cleanup_free_ char *why = TAKE_PTR(run->error);
                                pod_error(run, &pods[i], "%s", why ? why : strerror(-r));
                        }
                }
        for (size_t i = 0; i < n; i++) {
                bool moved;

                if (!pods[i].out)
                        continue;
                k = static_pod_manifest_move(p->held_dir, p->manifests_dir, pods[i].file, &moved);
                pods[i].out = !moved;
                if (k < 0) {
                        if (moved)
                                pod_error(run, &pods[i], "moved back into %s, but the directories could not be "
                                          "synced: %s", p->manifests_dir, strerror(-k));
                        else
                                pod_error(run, &pods[i], "cannot move it back into %s: it is in %s: %s",
                                          p->manifests_dir, p->held_dir, strerror(-k));
                        r = r < 0 ? r : k;
                }
        }
        for (size_t i = 0; i < n && r >= 0; i++) {
                if (!pods[i].present)
                        continue;
                if (pods[i].port == 0) {
                        restore_report(run->fn, run->userdata, RESTORE_STEP_RESTART_CONTROLLERS, RESTORE_STEP_RUNNING,
                                       "%s is back in %s; its --secure-port is 0 (it serves no port): not waited "
                                       "for", pods[i].file, p->manifests_dir);
                        continue;
                }
                if (!pods[i].answered) {
                        restore_report(run->fn, run->userdata, RESTORE_STEP_RESTART_CONTROLLERS, RESTORE_STEP_RUNNING,
                                       "%s is back in %s; its %s port %u did not answer before the restore either: "
                                       "not waited for", pods[i].file, p->manifests_dir, pods[i].address,
                                       pods[i].port);
                        continue;
                }
                r = wait_tcp(run, pods[i].address, pods[i].port, true, NULL, deadline);
                if (r < 0) {
                        _cleanup_free_ char *why = TAKE_PTR(run->error);
                        pod_error(run, &pods[i], "%s", why ? why : strerror(-r));
                        break;
                }
                restore_report(run->fn, run->userdata, RESTORE_STEP_RESTART_CONTROLLERS, RESTORE_STEP_RUNNING,
                               "%s restarted: %s port %u answers again", pods[i].file, pods[i].address,
                               pods[i].port);
                restarted++;
        }
        return r < 0 ? r : (int) restarted;
}

const struct ControllerPod controller_pods[N_CONTROLLER_PODS] = {
        { "kube-controller-manager.yaml", 10257 },
        { "kube-scheduler.yaml", 10259 },
};

/* Before the restore stops anything: which controllers' ports answer. (A
 * real kube-controller-manager or kube-scheduler exits when kube-apiserver
 * is gone for a while, and the kubelet starts it again with back-off:
 * asked later, a healthy one could be taken for one that never served.) */
static void probe_controllers(Run *run) {
        RestorePlan *p = run->p;

        if (!p->apiserver_pod || !run->c->restore.restart_controllers)
                return;
        for (size_t i = 0; i < N_CONTROLLER_PODS; i++) {
                Pod pod = { .file = controller_pods[i].file, .default_port = controller_pods[i].default_port };

                /* One that cannot be read is named by the restart step. */
                if (pod_read(run, &pod) >= 0 && pod.present && pod.port != 0)
                        run->controller_answered[i] = tcp_probe(pod.address, pod.port, PROBE_CONNECT_TIMEOUT_USEC) > 0;
                free(pod.address);
                run->error = mfree(run->error);
        }
}

/* As the Kubernetes documentation advises after a restore: restart
 * kube-controller-manager and kube-scheduler, so that they do not act on
 * what they cached from the data that is gone. Both at once: neither waits
 * for the other, and the control plane is whole again sooner. */
static int step_restart_controllers(Run *run) {
        RestorePlan *p = run->p;
        static const char *const units[] = { "kube-controller-manager.service", "kube-scheduler.service" };
        unsigned n = 0, moved = 0;
        int r, k;

        if (!run->c->restore.restart_controllers) {
                restore_report(run->fn, run->userdata, RESTORE_STEP_RESTART_CONTROLLERS, RESTORE_STEP_SKIPPED,
                               "restore.restart_controllers is false");
                return 0;
        }
        restore_report(run->fn, run->userdata, RESTORE_STEP_RESTART_CONTROLLERS, RESTORE_STEP_RUNNING,
                       "restarting kube-controller-manager and kube-scheduler");
        if (p->apiserver_pod) {
                Pod pods[ELEMENTSOF(controller_pods)] = {};

                for (size_t i = 0; i < ELEMENTSOF(pods); i++)
                        pods[i] = (Pod) { .file = controller_pods[i].file,
                                          .default_port = controller_pods[i].default_port,
                                          .answered = run->controller_answered[i] };
                r = restart_static_pods(run, pods, ELEMENTSOF(pods));
                for (size_t i = 0; i < ELEMENTSOF(pods); i++) {
                        free(pods[i].address);
                        moved += pods[i].present;
                }
                if (r < 0)
                        return r;
                n = (unsigned) r;
        } else {
                const char *running[ELEMENTSOF(units)];
                _cleanup_free_ char *err = NULL, *start_err = NULL;

                for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                        _cleanup_free_ char *load = NULL, *active = NULL, *e = NULL;
                        if (units_get_state(p->bus, units[i], &load, &active, &e) >= 0 && streq(load, "loaded") &&
                            streq(active, "active"))
                                running[n++] = units[i];
                }
                /* Started again even when a stop failed: neither is left
                 * stopped (starting an active unit does nothing); a rollback
                 * starts again one that still is. */
                for (size_t i = 0; i < n; i++)
                        run->controllers_stopped[run->n_controllers_stopped++] = running[i];
                r = units_stop_all(p->bus, running, n, run->timeout_usec, &err);
                k = units_start_all(p->bus, running, n, run->timeout_usec, &start_err);
                if (r < 0 || k < 0)
                        return free_and_format(&run->error, "cannot restart %s%s%s: %s%s%s", running[0],
                                               n > 1 ? " and " : "", n > 1 ? running[1] : "",
                                               r < 0 ? (err ? err : strerror(-r)) : "",
                                               r < 0 && k < 0 ? "; and " : "",
                                               k < 0 ? (start_err ? start_err : strerror(-k)) : ""), r < 0 ? r : k;
        }
        if (n == 0 && moved > 0)
                restore_report(run->fn, run->userdata, RESTORE_STEP_RESTART_CONTROLLERS, RESTORE_STEP_DONE,
                               "moved out and back; not waited for: neither answered before the restore");
        else if (n == 0)
                restore_report(run->fn, run->userdata, RESTORE_STEP_RESTART_CONTROLLERS, RESTORE_STEP_SKIPPED,
                               "neither kube-controller-manager nor kube-scheduler runs here");
        else
                restore_report(run->fn, run->userdata, RESTORE_STEP_RESTART_CONTROLLERS, RESTORE_STEP_DONE,
                               "%u restarted", n);
        return 0;
}

/* The record of a run that changes the node, kept until it has ended or
 * rolled back completely: a restore that is killed (the OOM killer, a power
 * loss) leaves it, and every later plan is refused, naming it, until the
 * operator has checked the node and removed it (plan.c). In systemd mode it
 * is the only trace of the units the run stopped. */
static int unfinished_write(Run *run) {
        RestorePlan *p = run->p;
        _cleanup_free_ char *text = NULL, *stops = NULL, *swap = NULL, *controllers = NULL;
        _cleanup_close_ int fd = -EBADF;
        char when[FORMAT_RFC3339_MAX], proc[64] = "";
        bool named = false;
        int r;

        if (p->mode == RESTORE_MODE_STATIC_POD)
                r = asprintf(&stops, "before it: kube-apiserver %s, etcd %s; it moves %s%s to %s while it runs",
                             p->apiserver_running ? "ran" : "did not run", p->etcd_running ? "ran" : "did not run",
                             p->apiserver_running ? APISERVER_MANIFEST " and " : "", ETCD_MANIFEST, p->held_dir);
        else if (p->apiserver_pod && p->apiserver_running)
                r = asprintf(&stops, "before it: kube-apiserver ran (a static pod), %s %s; it moves %s to %s and "
                             "stops %s while it runs", p->etcd_unit, p->etcd_running ? "active" : "not active",
                             APISERVER_MANIFEST, p->held_dir, p->etcd_unit);
        else if (p->apiserver_pod)
                r = asprintf(&stops, "before it: kube-apiserver did not answer (a static pod; its manifest stays in "
                             "place), %s %s; it stops %s while it runs", p->etcd_unit,
                             p->etcd_running ? "active" : "not active", p->etcd_unit);
        else
                r = asprintf(&stops, "before it: %s %s, %s %s; it stops %s%s%s while it runs", p->apiserver_unit,
                             p->apiserver_running ? "active" : "not active", p->etcd_unit,
                             p->etcd_running ? "active" : "not active", p->apiserver_running ? p->apiserver_unit : "",
                             p->apiserver_running ? " and " : "", p->etcd_unit);
        /* The restart step (last) stops them too: a kill there leaves them stopped. */
        if (r >= 0 && !run->c->restore.restart_controllers)
                controllers = strdup("");
        else if (r >= 0 && p->apiserver_pod)
                r = asprintf(&controllers, "last it moves kube-controller-manager.yaml and kube-scheduler.yaml (those "
                             "present) to %s and back\n", p->held_dir);
        else if (r >= 0)
                controllers = strdup("last it stops kube-controller-manager.service and kube-scheduler.service (those "
                                     "active) and starts them again\n");
        if (r < 0 || !controllers ||
            (p->data_dir_exists ? asprintf(&swap, "then puts it in place of %s, which it renames to %s\n"
                                           RECORD_OLD_DATA "%ju on device %u:%u, whatever its name", p->data_dir,
                                           p->pre_restore_dir, (uintmax_t) p->data_ino, major(p->data_dev),
                                           minor(p->data_dev)) :
                                  asprintf(&swap, "then renames it to %s, which did not exist", p->data_dir)) < 0 ||
            asprintf(&text, "started at %s by process %d, restoring %s\n%s\nit restores into %s, %s\n%s",
                     format_rfc3339(when, sizeof when, now_usec(CLOCK_REALTIME)), (int) getpid(), p->backup_path,
                     stops, p->restore_dir, swap, controllers) < 0)
                return -ENOMEM;
        /* Whole or not at all (a kill while writing leaves no half record):
         * written unnamed, then linked under its name; where the file
         * system has no O_TMPFILE, created under its name. */
        fd = open(p->parent_dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
        if (fd >= 0)
                snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        else if (errno == EOPNOTSUPP || errno == EISDIR) {
                fd = open(p->unfinished_file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                named = fd >= 0;
        }
        if (fd < 0)
                r = -errno;
        else if ((r = loop_write(fd, text, strlen(text))) < 0)
                ;
        else if (fsync(fd) < 0)
                r = -errno;
        else if (*proc && linkat(AT_FDCWD, proc, AT_FDCWD, p->unfinished_file, AT_SYMLINK_FOLLOW) < 0)
                r = -errno;
        else {
                named = true;
                r = fsync_directory(p->parent_dir);
        }
        if (r >= 0)
                return 0;
        /* The client hears that nothing was stopped: a half record left
         * behind would refuse every later restore. */
        if (named && unlink(p->unfinished_file) >= 0)
                (void) fsync_directory(p->parent_dir);
        return free_and_format(&run->error, "cannot record the restore in %s: %s; nothing was stopped",
                               p->unfinished_file, strerror(-r)), r;
}

/* Its removal failing (a disk failing between two operations on one
 * directory) is said, not a failure of the restore: the next plan names
 * the record. */
static void unfinished_remove(Run *run, const char *step) {
        if (unlink(run->p->unfinished_file) < 0 || fsync_directory(run->p->parent_dir) < 0)
                restore_report(run->fn, run->userdata, step, RESTORE_STEP_DONE,
                               "but %s, the record of this restore, cannot be removed (%s): remove it yourself, or "
                               "the next restore is refused", run->p->unfinished_file, strerror(errno));
}

int restore_run(RestorePlan *p, const Config *c, RestoreProgressFn fn, void *userdata, RestoreResult *ret) {
        Run run = { .p = p, .c = c, .fn = fn, .userdata = userdata, .tls = etcd_tls_from_config(&c->etcd),
                    .timeout_usec = c->restore.health_timeout_usec };
        RestoreResult res = {};
        uint64_t t0 = now_usec(CLOCK_MONOTONIC);
        const char *step = NULL;
        int r;

        probe_controllers(&run);
        r = unfinished_write(&run);
        if (r < 0) {
                /* Nothing is stopped yet: no rollback to speak of. */
                restore_report(fn, userdata, RESTORE_STEP_STOP_APISERVER, RESTORE_STEP_FAILED, "%s", run.error);
                res.error = TAKE_PTR(run.error);
                goto finish;
        }
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
        if (r >= 0 && (r = step_restart_controllers(&run)) < 0)
                step = RESTORE_STEP_RESTART_CONTROLLERS;

        if (r < 0) {
                const char *why = run.error ? run.error : strerror(-r);
                restore_report(fn, userdata, step, RESTORE_STEP_FAILED, "%s", why);
                if (asprintf(&res.error, "%s: %s", step, why) < 0)
                        res.error = NULL;
                rollback_restore(&run, &res);
        } else if (run.held_dir_made)
                (void) rmdir(p->held_dir);
        /* An incomplete rollback keeps it: the node needs a look first. */
        if (!res.rollback_error && path_exists(p->unfinished_file))
                unfinished_remove(&run, r < 0 ? RESTORE_STEP_ROLLBACK : RESTORE_STEP_RESTART_CONTROLLERS);
finish:
        free(run.error);
        res.duration_usec = now_usec(CLOCK_MONOTONIC) - t0;
        *ret = res;
        return r < 0 ? r : 0;
}
