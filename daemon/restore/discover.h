/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * discover.h — what etcd and kube-apiserver run with on this node, read where
 * they read it: kubeadm's static-pod manifests (kube-apiserver.yaml,
 * etcd.yaml, through manifest.h, paths mapped to the node through the pods'
 * hostPath volumes) and systemd units (ExecStart= with drop-ins,
 * Environment= and EnvironmentFile= as systemd holds them, over sd-bus;
 * etcd's ETCD_* variables). From kube-apiserver's --etcd-servers,
 * --etcd-cafile, --etcd-certfile and --etcd-keyfile come the etcd client
 * settings; from etcd's own flags the restore settings. Every value keeps
 * where it came from ("kube-apiserver.yaml: --etcd-certfile"), so that it
 * can be shown and so that two sources that disagree are named in the
 * error. Blocking; no logging.
 */

#include <stdbool.h>

#include "config/config.h"
#include "util/macro.h"

typedef struct DiscoverValue {
        char *value;    /* NULL = not found */
        char *source;   /* "kube-apiserver.yaml: --etcd-certfile" */
} DiscoverValue;

typedef struct Discovery {
        char **endpoints;                /* every URL of --etcd-servers, in order */
        DiscoverValue etcd_servers;      /* the raw flag value and its source */
        DiscoverValue etcd_servers_overrides; /* kube-apiserver's other etcds ("/events#https://…"): not backed up */
        DiscoverValue cacert, cert, key; /* host paths */
        RestoreMode mode;                /* static pod or systemd: where etcd was found */
        char *etcd_source;               /* "etcd.yaml", "etcd.service": where etcd's settings were read; NULL:
                                          * etcd was not found on this node */
        char *manifests_dir;             /* static pod, or kube-apiserver.yaml beside an etcd unit: the dir read */
        char *etcd_unit, *apiserver_unit; /* systemd: the units read */
        DiscoverValue data_dir, name, initial_cluster, initial_cluster_token, initial_advertise_peer_urls;
        /* kube-apiserver's --encryption-provider-config, a host path; or why it cannot be used (the rest is
         * discovered all the same: the backups do not need it) */
        DiscoverValue encryption_config;
        char *encryption_config_error;
} Discovery;

typedef struct DiscoverOptions {
        const char *manifests_dir;  /* NULL = /etc/kubernetes/manifests */
        const char *apiserver_unit; /* NULL = kube-apiserver.service, only if loaded */
        const char *etcd_unit;      /* NULL = etcd.service, only if loaded */
        bool units_given;           /* a unit was named: it must exist */
        bool no_bus;                /* do not ask systemd (tests, containers without a bus) */
        bool client_only;           /* kube-apiserver's etcd client settings only: etcd's own (the restore's) are
                                     * not read, and nothing wrong there stops the backups */
} DiscoverOptions;

#define DISCOVER_MANIFESTS_DIR_DEFAULT "/etc/kubernetes/manifests"

Discovery *discovery_free(Discovery *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(Discovery *, discovery_free);

/* Read the manifests and units named by o. Returns 0 and *ret
 * (discovery_free()), or a -errno with *ret_error (caller frees) naming the
 * file or unit, the flag and the value: -EBADMSG for a manifest that is not a
 * pod, -ENOENT when no source names the etcd client flags or a certificate
 * file does not exist, -EACCES for one that cannot be read, -ENOTUNIQ when
 * two sources disagree, -EINVAL for a bad value (an --etcd-servers URL that
 * is not https://host:port). */
int discover_run(const DiscoverOptions *o, Discovery **ret, char **ret_error);

/* Put what d found into c's etcd group (endpoints, cacert, cert, key),
 * leaving everything else as it is. Returns 0 or -ENOMEM. */
int discover_apply(const Discovery *d, Config *c);

/* For a configuration that says etcd.discover: discover (its manifests
 * directory, or the default for "auto"; the units when installed) and apply
 * the result. Under systemd a found file is taken from
 * $CREDENTIALS_DIRECTORY when a credential has its file name, as the
 * configuration loader does for configured files. Returns 0 with *ret_summary
 * (caller frees; NULL when the configuration does not discover) saying what
 * was found and where, or a -errno with *ret_error naming the cause. */
int discover_config(Config *c, char **ret_summary, char **ret_error);
