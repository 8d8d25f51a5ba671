/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * manifest.h — the one reader of Kubernetes static-pod manifests (kubeadm's
 * kube-apiserver.yaml, etcd.yaml, kube-controller-manager.yaml,
 * kube-scheduler.yaml), parsed with libyaml. It keeps what etcd-backupd needs
 * from a pod: the first container's command line (its `command:` list
 * followed by its `args:` list, as the kubelet runs them) split into the
 * program name and flags, the container's volumeMounts and the pod's volumes
 * with their hostPath, so that a path the program sees inside the pod can be
 * turned into the path on the node. Manifests are untrusted input: their size
 * and nesting are bounded, every shape is checked, and an error names the
 * file, the line and what was expected there. No I/O beyond reading the file
 * in manifest_load(); no logging.
 */

#include <stdbool.h>
#include <stddef.h>

#include "util/macro.h"

/* Largest manifest read; kubeadm's are a few KiB. */
#define MANIFEST_MAX_BYTES ((size_t) 1024 * 1024)
/* Deepest nesting of mappings and sequences accepted. */
#define MANIFEST_MAX_DEPTH 64
/* Most command-line words, volumeMounts and volumes accepted. */
#define MANIFEST_MAX_ITEMS 4096
/* What the walk copies out of the document at most: a YAML alias repeats a
 * node, and a 1 MiB manifest could name one large scalar thousands of
 * times. */
#define MANIFEST_MAX_COPIED (4 * MANIFEST_MAX_BYTES)

typedef struct ManifestFlag {
        char *name;     /* without its leading dashes: "data-dir" */
        char *value;    /* "" for a flag given without a value */
        unsigned line;  /* 1-based line of the flag in the manifest */
        const char *from; /* the name of Manifest.env_from that a "$(NAME)" left in value refers to, or NULL */
} ManifestFlag;

typedef struct ManifestMount {
        char *name;
        char *mount_path;
        char *sub_path; /* NULL unless subPath: is given */
        bool read_only;
} ManifestMount;

typedef struct ManifestVolume {
        char *name;
        char *host_path; /* NULL for a volume that is not a hostPath */
        char *host_path_type; /* NULL when hostPath.type is not given */
} ManifestVolume;

typedef struct Manifest {
        char *file;      /* the name errors are reported under */
        char *pod_name;  /* metadata.name, or NULL */
        char *container; /* spec.containers[0].name, or NULL */
        char *program;   /* command[0], or NULL when the pod has no command */
        char **argv;     /* command + args, NULL-terminated (program first when given), $(VAR) expanded */
        char **env;      /* spec.containers[0].env with a value: "NAME=VALUE", in order; NULL when none */
        char **env_from; /* names env sets by valueFrom (not known here; "$(NAME)" stays as written) */
        size_t argc;
        ManifestFlag *flags;
        size_t n_flags;
        ManifestMount *mounts;
        size_t n_mounts;
        ManifestVolume *volumes;
        size_t n_volumes;
} Manifest;

/* Free a manifest (NULL is fine); returns NULL. */
Manifest *manifest_free(Manifest *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manifest *, manifest_free);

/* Parse size bytes of YAML as a Pod; file is the name used in messages
 * ("etcd.yaml" or a full path). Returns 0 and *ret (manifest_free()), or
 * -EBADMSG (not YAML, or not a pod of the expected shape), -EFBIG (over
 * MANIFEST_MAX_BYTES), -E2BIG (too deep, too many items, or aliases repeating
 * more than MANIFEST_MAX_COPIED), -ENOMEM; on failure *ret_error (caller
 * frees, may be NULL) says "etcd.yaml:12: spec.containers[0].command is not
 * a list". */
int manifest_parse(const char *file, const void *data, size_t size, Manifest **ret, char **ret_error);

/* Read the file at path (at most MANIFEST_MAX_BYTES) and parse it, errors
 * reported under path. Returns what manifest_parse() returns, or the -errno
 * of opening or reading the file (with *ret_error saying so). */
int manifest_load(const char *path, Manifest **ret, char **ret_error);

/* A Manifest with no pod around it for a command line argv (program
 * first), such as a systemd unit's ExecStart=: the same flag lookup, no
 * volumes. file names it in messages. Returns 0, -E2BIG or -ENOMEM. */
int manifest_from_argv(const char *file, char *const *argv, Manifest **ret);

/* Kubernetes' own programs (kube-apiserver, kube-controller-manager,
 * kube-scheduler) read '_' in a flag's name as '-' (component-base's
 * WordSepNormalizeFunc): --etcd_cafile is --etcd-cafile, and the later of
 * the two wins. Call this on their manifests and command lines, not on
 * etcd's (Go's flag package takes names as written). NULL is fine. */
void manifest_kubernetes_flag_names(Manifest *m);

/* m->env, an empty list when the pod has none (never NULL: for
 * member_setting(), whose NULL means "no environment is read"). */
char *const *manifest_env(const Manifest *m);

/* The variable of m->env_from (set by valueFrom, not known here) that a
 * "$(NAME)" left in flag's value refers to (its last occurrence's, as
 * manifest_flag() gives it; with every, any occurrence's), or NULL when it
 * depends on none: "$$(NAME)" is the text "$(NAME)" and refers to none. */
const char *manifest_flag_unresolved(const Manifest *m, const char *flag, bool every);

/* The value of a flag ("--data-dir", "-data-dir" and "data-dir" are the same
 * name) as the program sees it: the last occurrence wins, as with Go's flag
 * parsers. NULL when the flag is not given; "" when it is given without a
 * value. When ret_line is not NULL it receives the flag's line (0 when absent). */
const char *manifest_flag(const Manifest *m, const char *flag, unsigned *ret_line);

/* Every value of a repeated flag, in order. Returns the number of values
 * and *ret (a NULL-terminated list, strv_free(); NULL when there is none),
 * or -ENOMEM. */
int manifest_flag_all(const Manifest *m, const char *flag, char ***ret);

/* The path on the node for path as the container sees it (absolute, no "."
 * or ".." components): the volumeMount with the longest mountPath that
 * contains it, through that volume's hostPath (and subPath). Returns 0 and
 * *ret (caller frees), -EINVAL for a path that is not absolute and clean,
 * -ENOENT when no volumeMount covers it (the file is inside the image),
 * -ENXIO when the mount names no volume of the pod, -EMEDIUMTYPE when the
 * volume is not a hostPath; *ret_mount (optional) receives the mount used
 * (also on -ENXIO and -EMEDIUMTYPE), for messages. */
int manifest_host_path(const Manifest *m, const char *path, char **ret, const ManifestMount **ret_mount);

/* The first volumeMount of the container strictly inside path (a path in the
 * pod), or NULL. */
const ManifestMount *manifest_mount_inside(const Manifest *m, const char *path);
