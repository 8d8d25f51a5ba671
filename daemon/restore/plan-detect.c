/* SPDX-License-Identifier: MIT */
/*
 * plan-detect.c — how etcd and kube-apiserver run on this node, for the
 * plan: static pods (etcd.yaml in the manifests directory) or systemd units
 * (loaded, running), and where kube-apiserver's /readyz is asked — its
 * address, port and CA, from its own flags in its manifest or its unit's
 * ExecStart=. Changes nothing.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "restore/internal.h"
#include "restore/manifest.h"
#include "restore/proof.h"
#include "restore/static-pod.h"
#include "restore/units.h"
#include "util/path.h"
#include "util/proc.h"
#include "util/str.h"
#include "util/tcp.h"

#define APISERVER_PORT_FLAG "--secure-port"
#define APISERVER_ADDRESS_FLAG "--bind-address"
#define APISERVER_DEFAULT_PORT 6443
#define KUBELET_UNIT "kubelet.service"

static bool is_running_state(const char *active) {
        return !streq(active, "inactive") && !streq(active, "failed");
}

/* Where kube-apiserver's /readyz is asked, from its own flags (m: its
 * static pod's manifest when pod, else its unit's ExecStart=): the address
 * and port it serves on, and the CA its serving certificate is verified
 * with: restore.apiserver_cacert, else its --client-ca-file (the cluster CA,
 * which signs that certificate; in a pod mapped to the node through its
 * hostPath volumes). */
static int plan_apiserver(RestorePlan *p, const Config *c, const Manifest *m, bool pod, char **ret_error) {
        _cleanup_free_ char *error = NULL;
        const char *ca;
        unsigned line = 0;
        int r;

        r = command_port(m, APISERVER_PORT_FLAG, APISERVER_DEFAULT_PORT, false, &p->apiserver_port, &error);
        if (r >= 0)
                r = command_address(m, APISERVER_ADDRESS_FLAG, &p->apiserver_address, &error);
        if (r < 0)
                return free_and_format(ret_error, "cannot read kube-apiserver's address: %s",
                                       error ? error : strerror(-r)), r;
        if (c->restore.apiserver_cacert) {
                p->apiserver_cacert = strdup(c->restore.apiserver_cacert);
                p->apiserver_cacert_source = strdup("restore.apiserver_cacert");
                return p->apiserver_cacert && p->apiserver_cacert_source ? 0 : -ENOMEM;
        }
        ca = manifest_flag(m, "client-ca-file", &line);
        if (!ca || !*ca)
                return free_and_format(ret_error, "%s has no --client-ca-file to verify kube-apiserver's /readyz "
                                       "with: set restore.apiserver_cacert", m->file), -EBADMSG;
        if (pod) {
                r = manifest_host_path(m, ca, &p->apiserver_cacert, NULL);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return free_and_format(ret_error, "%s:%u: --client-ca-file=%s is on no hostPath volume of "
                                               "the pod: set restore.apiserver_cacert", m->file, line, ca), -EBADMSG;
                r = asprintf(&p->apiserver_cacert_source, "%s:%u: --client-ca-file=%s", m->file, line, ca);
        } else {
                if (ca[0] != '/')
                        return free_and_format(ret_error, "%s: ExecStart= --client-ca-file=%s is not an absolute "
                                               "path: set restore.apiserver_cacert", m->file, ca), -EBADMSG;
                p->apiserver_cacert = strdup(ca);
                r = asprintf(&p->apiserver_cacert_source, "%s: ExecStart= --client-ca-file", m->file);
        }
        if (r < 0 || !p->apiserver_cacert)
                return -ENOMEM;
        if (access(p->apiserver_cacert, R_OK) < 0)
                return free_and_format(ret_error, "%s (%s): %s", p->apiserver_cacert, p->apiserver_cacert_source,
                                       strerror(errno)), -errno;
        return 0;
}

/* Manifests are moved out of the manifests dir and back, into a holding dir
 * beside it: both must be on one file system for the kubelet to see a
 * manifest leave and come back whole. */
static int plan_manifests_movable(RestorePlan *p, char **ret_error) {
        _cleanup_free_ char *parent = path_dirname(p->manifests_dir);
        struct stat st, pst;

        if (!parent)
                return -ENOMEM;
        if (stat(p->manifests_dir, &st) < 0 || stat(parent, &pst) < 0)
                return free_and_format(ret_error, "cannot use %s: %s", p->manifests_dir, strerror(errno)), -errno;
        if (st.st_dev != pst.st_dev)
                return free_and_format(ret_error, "%s is a mount point: manifests cannot be moved next to it "
                                 "atomically", p->manifests_dir), -EXDEV;
        return 0;
}

/* etcd a static pod: the restore stops and starts it (and kube-apiserver) by moving their manifests, which only a
 * running kubelet acts on; without one, etcd would go on running, and the restore would wait out its time limit and
 * roll back. Refused where systemd says the kubelet's unit is loaded and not running (inactive, failed, or waiting
 * to be restarted after it exited: a kubelet that keeps crashing), and no process of root's named kubelet runs
 * (one under another unit, beside a kubelet.service left installed; anyone may name a process so, but the kubelet
 * runs as root). Where systemd cannot be asked, or knows no such unit, the restore goes on as before. The
 * connection is this check's alone: static-pod mode asks systemd nothing else. */
static int plan_kubelet_runs(RestorePlan *p, char **ret_error) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *load = NULL, *active = NULL, *sub = NULL, *err = NULL;
        int r;

        r = units_bus_open(&bus, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;
        r = units_get_state(bus, KUBELET_UNIT, &load, &active, &err);
        if (r >= 0 && streq(load, "loaded") && streq(active, "activating"))
                r = units_get_sub_state(bus, KUBELET_UNIT, &sub, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !streq(load, "loaded") || (is_running_state(active) && !streq_ptr(sub, "auto-restart")) ||
            proc_find_named("kubelet", 0) > 0)
                return 0;
        return free_and_format(ret_error, "etcd runs as a static pod here (%s), but %s is not running "
                               "(ActiveState=%s%s%s) and no process of root's named kubelet runs: the restore stops "
                               "and starts etcd and kube-apiserver by moving their manifests out of %s and back, "
                               "which only a running kubelet acts on. Start it (systemctl start %s; journalctl -u %s "
                               "says why it stopped), wait until etcd's pod answers, then restore again",
                               p->mode_reason, KUBELET_UNIT, active, sub ? ", SubState=" : "", sub ? sub : "",
                               p->manifests_dir, KUBELET_UNIT, KUBELET_UNIT), -ENODEV;
}

/* kube-apiserver as a static pod, from its manifest in the manifests dir. */
static int plan_apiserver_pod(RestorePlan *p, const Config *c, const char *manifest, char **ret_error) {
        _cleanup_(manifest_freep) Manifest *m = NULL;
        int r;

        r = manifest_load(manifest, &m, ret_error);
        if (r < 0)
                return r == -EFBIG || r == -E2BIG ? -EBADMSG : r;
        manifest_kubernetes_flag_names(m);
        return plan_apiserver(p, c, m, true, ret_error);
}

/* etcd runs as a unit. kube-apiserver runs as its unit, or, where that is
 * not running and its manifest is in the manifests dir, as a static pod, as
 * on nodes whose installer runs etcd on the host and the control plane in
 * pods (kubespray's default): the controllers then are static pods too, and
 * kube-apiserver runs when its port answers. */
static int plan_systemd(RestorePlan *p, const Config *c, const char *apiserver_manifest, char **ret_error) {
        _cleanup_free_ char *load = NULL, *active = NULL, *err = NULL, *unit_state = NULL, *address = NULL;
        char at[INET6_ADDRSTRLEN + 16] = "";
        bool present = false;
        uint16_t port = 0;
        int r;

        if (!p->bus) {
                r = units_bus_open(&p->bus, &err);
                if (r < 0)
                        return free_and_format(ret_error, "restore.mode is systemd but %s", err), -ENODEV;
        }
        r = units_get_state(p->bus, p->etcd_unit, &load, &active, &err);
        if (r < 0)
                return free_and_format(ret_error, "%s", err), r;
        if (!streq(load, "loaded"))
                return free_and_format(ret_error, "%s is not a loaded systemd unit (LoadState=%s)", p->etcd_unit, load),
                       -ENODEV;
        p->etcd_running = is_running_state(active);
        load = mfree(load);
        active = mfree(active);
        err = mfree(err);
        r = units_get_state(p->bus, p->apiserver_unit, &load, &active, &err);
        p->apiserver_running = r >= 0 && streq(load, "loaded") && is_running_state(active);
        if (p->apiserver_running) {
                _cleanup_strv_free_ char **argv = NULL, **env = NULL;
                _cleanup_(manifest_freep) Manifest *m = NULL;

                err = mfree(err);
                r = units_get_exec(p->bus, p->apiserver_unit, &argv, &env, &err);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return free_and_format(ret_error, "cannot tell where kube-apiserver serves: %s",
                                               err ? err : strerror(-r)), r;
                r = manifest_from_argv(p->apiserver_unit, argv, &m);
                manifest_kubernetes_flag_names(m);
                if (r == -E2BIG)
                        return free_and_format(ret_error, "%s: ExecStart= has too many arguments", p->apiserver_unit),
                               -EBADMSG;
                if (r < 0)
                        return r;
                return plan_apiserver(p, c, m, false, ret_error);
        }
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return free_and_format(ret_error, "cannot tell how kube-apiserver runs here: systemd cannot be asked "
                                       "about %s (%s); restore.apiserver_unit names a unit with its suffix, as "
                                       "kube-apiserver.service", p->apiserver_unit, err ? err : strerror(-r)), r;
        if (access(apiserver_manifest, F_OK) < 0)
                return 0;
        /* The control plane is static pods when kube-apiserver's manifest is there and a pod runs from it, or a
         * kubelet runs that would run it (a crash-looping kube-apiserver is left alone, the controllers' pods
         * restarted all the same); a manifest with neither is left behind, and the controllers stay units. */
        err = mfree(err);
        if (asprintf(&unit_state, "%s%s", streq(load, "loaded") ? "ActiveState=" : "LoadState=",
                     streq(load, "loaded") ? active : load) < 0)
                return -ENOMEM;
        r = static_pod_serving(p->manifests_dir, APISERVER_MANIFEST, APISERVER_DEFAULT_PORT, &present, &port,
                               &address, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return free_and_format(ret_error, "%s is not running (%s), and %s is there but cannot be read: %s. "
                                       "Mend it, or move it out of %s if no kubelet runs it", p->apiserver_unit,
                                       unit_state, apiserver_manifest, err ? err : strerror(-r), p->manifests_dir),
                       -EBADMSG;
        if (!present)
                return 0;
        p->apiserver_running = port != 0 && tcp_probe(address, port, PROBE_CONNECT_TIMEOUT_USEC) > 0;
        if (port != 0)
                snprintf(at, sizeof at, "%s port %u", address, port);
        if (!p->apiserver_running) {
                _cleanup_free_ char *kload = NULL, *kactive = NULL;

                err = mfree(err);
                r = units_get_state(p->bus, KUBELET_UNIT, &kload, &kactive, &err);
                if (r == -ENOMEM)
                        return r;
                /* Not known is not "does not run": a kubelet that runs would start kube-apiserver again under the
                 * restore. */
                if (r < 0)
                        return free_and_format(ret_error, "%s is not running (%s), and %s is there, but %s%s; whether "
                                               "%s runs it cannot be told: systemd cannot be asked about %s (%s)",
                                               p->apiserver_unit, unit_state, apiserver_manifest, port == 0 ?
                                               "it serves no port" : "nothing answers at ", at, KUBELET_UNIT,
                                               KUBELET_UNIT, err ? err : strerror(-r)), r;
                if (!streq(kload, "loaded") || !is_running_state(kactive))
                        return free_and_format(&p->mode_reason, "%s; %s is not running (%s), and %s is there, but "
                                               "%s%s and %s does not run: a manifest left behind, kube-apiserver "
                                               "is left alone", p->mode_reason, p->apiserver_unit, unit_state,
                                               apiserver_manifest, port == 0 ? "it serves no port" :
                                               "nothing answers at ", at, KUBELET_UNIT),
                               p->mode_reason ? 0 : -ENOMEM;
        }
        p->apiserver_pod = true;
        if (free_and_format(&p->mode_reason, "%s; kube-apiserver and the controllers are static pods: %s is not "
                            "running (%s), and %s is there, %s%s%s", p->mode_reason, p->apiserver_unit, unit_state,
                            apiserver_manifest, p->apiserver_running ? "its pod answering at " : port == 0 ?
                            "but it serves no port" : "but nothing answers at ", at,
                            p->apiserver_running ? "" : " (" KUBELET_UNIT " runs: kube-apiserver is left alone)"),
            !p->mode_reason)
                return -ENOMEM;
        r = plan_manifests_movable(p, ret_error);
        if (r < 0)
                return r;
        if (!p->apiserver_running)
                return 0;
        return plan_apiserver_pod(p, c, apiserver_manifest, ret_error);
}

int plan_detect(RestorePlan *p, const Config *c, char **ret_error) {
        _cleanup_free_ char *etcd_manifest = NULL, *apiserver_manifest = NULL, *err = NULL;
        _cleanup_free_ char *load = NULL, *active = NULL;
        bool has_manifest;
        int r;

        p->manifests_dir = strdup(c->restore.manifests_dir);
        p->etcd_unit = strdup(c->restore.etcd_unit);
        p->apiserver_unit = strdup(c->restore.apiserver_unit);
        p->endpoint = c->etcd.endpoints && c->etcd.endpoints[0] ? strdup(c->etcd.endpoints[0]) : NULL;
        etcd_manifest = path_join(c->restore.manifests_dir, ETCD_MANIFEST);
        apiserver_manifest = path_join(c->restore.manifests_dir, APISERVER_MANIFEST);
        if (!p->manifests_dir || !p->etcd_unit || !p->apiserver_unit || !etcd_manifest || !apiserver_manifest)
                return -ENOMEM;
        if (!p->endpoint)
                return free_and_format(ret_error, "etcd.endpoints is empty"), -EINVAL;
        /* The endpoint the runbook watches stop answering and answer again on the restored data: this node's own
         * member. Another host's would answer all along; the control plane would stay down until health_timeout,
         * then be rolled back. Refused before anything is asked, when its address is surely not this host's (a
         * name is taken as it is). */
        {
                ProofAddress address;

                if (proof_url_address(p->endpoint, &address) > 0 && proof_address_locality(&address) == 0)
                        return free_and_format(ret_error, "etcd.endpoints lists %s first, which is no address of "
                                               "this host: a restore stops etcd here, then waits for its first "
                                               "endpoint to stop answering and to answer on the restored data, "
                                               "which another host's etcd never does. List this node's own member "
                                               "first in etcd.endpoints, then restore again", p->endpoint), -EINVAL;
        }
        has_manifest = access(etcd_manifest, F_OK) >= 0;

        p->mode = c->restore.mode;
        if (p->mode == RESTORE_MODE_AUTO) {
                if (has_manifest) {
                        p->mode = RESTORE_MODE_STATIC_POD;
                        if (asprintf(&p->mode_reason, "%s exists", etcd_manifest) < 0)
                                return -ENOMEM;
                } else {
                        r = units_bus_open(&p->bus, &err);
                        if (r >= 0)
                                r = units_get_state(p->bus, p->etcd_unit, &load, &active, &err);
                        if (r < 0)
                                return free_and_format(ret_error, "cannot tell how etcd runs here: there is no %s and "
                                                 "systemd cannot be asked about %s (%s); set restore.mode",
                                                 etcd_manifest, p->etcd_unit, err ? err : strerror(-r)), -ENODEV;
                        if (!streq(load, "loaded"))
                                return free_and_format(ret_error, "cannot tell how etcd runs here: there is no %s and %s "
                                                 "is not a loaded systemd unit (LoadState=%s); set restore.mode "
                                                 "and restore.etcd_unit", etcd_manifest, p->etcd_unit, load),
                                       -ENODEV;
                        p->mode = RESTORE_MODE_SYSTEMD;
                        if (asprintf(&p->mode_reason, "no %s; %s is a loaded systemd unit", etcd_manifest,
                                     p->etcd_unit) < 0)
                                return -ENOMEM;
                }
        } else if (asprintf(&p->mode_reason, "restore.mode = %s", restore_mode_to_string(p->mode)) < 0)
                return -ENOMEM;

        if (p->mode == RESTORE_MODE_SYSTEMD)
                return plan_systemd(p, c, apiserver_manifest, ret_error);

        if (!has_manifest)
                return free_and_format(ret_error, "restore.mode is static-pod but there is no %s", etcd_manifest), -ENODEV;
        r = plan_kubelet_runs(p, ret_error);
        if (r >= 0)
                r = plan_manifests_movable(p, ret_error);
        if (r < 0)
                return r;
        p->etcd_running = true;
        p->apiserver_pod = true;
        p->apiserver_running = access(apiserver_manifest, F_OK) >= 0;
        return p->apiserver_running ? plan_apiserver_pod(p, c, apiserver_manifest, ret_error) : 0;
}
