/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * member.h — what this node's etcd really runs with: its name, data dir,
 * peer URLs, initial cluster and token, client URLs and TLS files, each
 * with where it was read (a manifest's line and flag, a unit's ExecStart=
 * or Environment=, etcd's own default). A static pod's etcd.yaml is read
 * with the manifest reader (its command, and its container's env for the
 * ETCD_* variables, as for a unit), its --data-dir mapped through the
 * hostPath volume mounted there to the directory on the node; a systemd unit's
 * command line and environment (ETCD_* as etcd reads them: a flag on the
 * command line wins over its variable) are given by the caller. The
 * restore block of the configuration only overrides: a value it sets that
 * disagrees with what etcd runs with is refused, naming both values and
 * their sources. Pure: no I/O beyond what the caller passes in.
 */

#include <stdbool.h>

#include "config/config.h"
#include "restore/manifest.h"
#include "util/macro.h"

typedef struct MemberValue {
        char *value;            /* NULL: etcd has no such setting here */
        char *source;           /* "etcd.yaml:23: --data-dir", "restore.name in FILE", "etcd's default" */
        bool from_etcd;         /* read from what etcd runs with (not a default, not the configuration) */
} MemberValue;

typedef struct EtcdMember {
        MemberValue name;
        MemberValue data_dir;                   /* on the node (hostPath-mapped for a static pod) */
        MemberValue initial_advertise_peer_urls;
        MemberValue initial_cluster;
        MemberValue initial_cluster_token;
        MemberValue listen_client_urls;
        MemberValue trusted_ca_file, cert_file, key_file;       /* as etcd sees them */
        MemberValue wal_dir;                    /* as etcd sees it; the restore refuses a member with one */
        char *mount_inside;                     /* static pod: a volume the pod mounts inside the data dir
                                                 * ("etcd.yaml: volume etcd-wal at /var/lib/etcd/member/wal"),
                                                 * or NULL; the restore refuses a member with one */
} EtcdMember;

void member_done(EtcdMember *m);

/* Set *v to a copy of value, read from what etcd runs with or not, its source
 * formatted from fmt. 0 or -ENOMEM (*v unchanged). */
_printf_(4, 5) int member_value_set(MemberValue *v, const char *value, bool from_etcd, const char *fmt, ...);

/* What the etcd of static-pod manifest m (parsed from file, e.g.
 * "/etc/kubernetes/manifests/etcd.yaml") runs with. Refuses (-EBADMSG, with
 * *ret_error naming the file, the flag and the value) a manifest whose
 * container runs no --data-dir (not etcd's manifest, or etcd without
 * flags), and a --data-dir that no hostPath volume holds (the data would be
 * inside the container). Defaults as etcd's: name "default",
 * initial-advertise-peer-urls http://localhost:2380, initial-cluster
 * NAME=PEER-URLS, token "etcd-cluster". -ENOMEM. */
int member_from_manifest(const Manifest *m, EtcdMember *ret, char **ret_error);

/* etcd's --initial-cluster when it is not given: NAME=URL for each of its
 * peer URLs when it has a name of its own (as etcd fills it in from
 * --name), else its default, "default=http://localhost:2380". NULL: no
 * memory. */
char *member_default_initial_cluster(const char *name, const char *peer_urls);

/* etcd's setting flag ("data-dir"; "--data-dir" is the same) as etcd reads
 * it from m (a pod's container command, or a unit's ExecStart= through
 * manifest_from_argv()): the flag (the last occurrence), else, when env is
 * given (a unit's environment, NULL for a pod), its ETCD_<FLAG> variable.
 * Sets *ret_value (into m or env; NULL when etcd has no such setting),
 * *ret_line (optional: the flag's line, 0 otherwise) and *ret_var
 * (optional, caller frees: the variable's name when the value came from
 * one, else NULL). An empty variable is passed over, as etcd does.
 * Returns 0, -ENOMEM, or -ENXIO when the value is not known here: the
 * variable, or a "$(NAME)" in the value, is set by the pod's valueFrom
 * (*ret_var: that variable). Both the restore (below) and discover.h look
 * etcd's settings up with it. */
int member_setting(const Manifest *m, char *const *env, const char *flag, const char **ret_value,
                   unsigned *ret_line, char **ret_var);

/* member_setting()'s -ENXIO as an error naming the program ("etcd"), the
 * flag and the variable (-EBADMSG; -ENOMEM without var); other errors as
 * they are. */
int member_setting_error(const Manifest *m, const char *program, const char *flag, int r, const char *var,
                         char **ret_error);

/* -EOPNOTSUPP with an error when etcd runs with --config-file (or
 * ETCD_CONFIG_FILE): it then reads nothing else, and that file is not
 * read here. 0 otherwise. */
int member_config_file(const Manifest *m, char *const *env, char **ret_error);

/* The same for a command line argv (NULL-terminated, argv[0] the program)
 * and environment env (NULL-terminated "KEY=VALUE", may be NULL) of a
 * systemd unit called unit: flags as Go's flag package reads them
 * ("-flag=v", "--flag=v", "--flag v"), each ETCD_<FLAG> variable used for a
 * flag not on the command line. Refuses (-EBADMSG) a command line and
 * environment without a data dir, or with a relative one. -ENOMEM. */
int member_from_command(char *const *argv, char *const *env, const char *unit, EtcdMember *ret, char **ret_error);

/* Apply the restore block of the configuration at config_path: a key that
 * is set (not NULL) is used where etcd has no value of its own; where etcd
 * has one, the two must agree (data dirs compared as paths; for
 * initial_cluster, the configured list must name this member with the
 * peer URLs it advertises — it may name more members than etcd's own
 * list, which only mattered when the member first joined; the token is
 * always the configuration's when it sets one). A disagreement
 * is refused with -EBADMSG and *ret_error naming both values and sources.
 * -ENOMEM. */
int member_apply_config(EtcdMember *m, const ConfigRestore *c, const char *config_path, char **ret_error);

/* Whether initial_cluster ("n1=u1,n2=u2,...", a name may repeat with other
 * URLs) gives name the URLs peer_urls (comma-separated, any order). */
bool member_cluster_names(const char *initial_cluster, const char *name, const char *peer_urls);
