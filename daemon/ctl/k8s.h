/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * ctl/k8s.h — the Kubernetes-aware parts of etcd-backupctl's offline
 * commands: `get -o json|yaml|manifest` (values decoded, decrypted with an
 * EncryptionConfiguration), `objects` (what a backup holds, by resource and
 * namespace) and the encryption checks of `audit --encryption-config`. They
 * work on keys already read out of a backup (format/mvcc-kv.h); this file
 * prints, format/k8s-object.c and format/encryption-config.c do the work.
 */

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "format/mvcc-kv.h"
#include "format/encryption-config.h"

typedef enum CtlK8sOutput {
        CTL_K8S_OUTPUT_SIMPLE,          /* as etcd stored it (today's get) */
        CTL_K8S_OUTPUT_JSON,
        CTL_K8S_OUTPUT_YAML,
        CTL_K8S_OUTPUT_MANIFEST,        /* YAML without what the cluster owns */
        _CTL_K8S_OUTPUT_MAX,
        CTL_K8S_OUTPUT_INVALID = -1,
} CtlK8sOutput;

/* "simple", "json", "yaml", "manifest" → the output; else INVALID. */
CtlK8sOutput ctl_k8s_output_from_string(const char *s);

/* Read an EncryptionConfiguration file for command cmd: refuse one that
 * group or others may access (unless insecure), read it into locked memory,
 * parse it, wipe the text. Prints the error ("etcd-backupctl get: FILE: …")
 * itself. Returns 0 and *ret, or the exit code 1. */
int ctl_k8s_load_encryption_config(const char *cmd, const char *path, bool insecure, EncryptionConfig **ret);

/* Print kvs decoded as Kubernetes objects (decrypted with c when not NULL)
 * in output (JSON, YAML or manifest). list: print a List (JSON) or several
 * YAML documents even for one key. A key that cannot be decoded or
 * decrypted is reported on stderr with its reason and skipped. Returns the
 * exit code: 0, or 1 when any key failed or stdout could not be written. */
int ctl_k8s_print(const char *cmd, const MvccKv *kvs, size_t n, bool list, CtlK8sOutput output,
                  const EncryptionConfig *c);

/* `objects`: a table (or with json an object) of the Kubernetes objects in
 * kvs — resource, namespace, name, mod revision, encoding, encryption —
 * restricted to resource and namespace when they are not NULL, with counts
 * per resource. Returns the exit code (0, or 1 when stdout failed). */
int ctl_k8s_objects(const char *cmd, const MvccKv *kvs, size_t n, const char *resource, const char *namespace,
                    bool json);

/* The encryption part of `audit --encryption-config FILE`, for the Secrets
 * in secrets: whether c decrypts each, and the warnings (identity first for
 * secrets; keys of c no Secret uses; Secrets encrypted with a key c does
 * not have, or that do not decrypt with the key of that name). With
 * json_out not NULL, adds an "encryption_config" member to it instead of
 * printing text. Returns the number of unreadable Secrets, or -ENOMEM. */
int ctl_k8s_audit_encryption(const MvccKv *secrets, size_t n, const EncryptionConfig *c, const char *config_path,
                             json_object *json_out);
