/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * secrets.h — how Kubernetes Secrets are stored in a snapshot: each live
 * Secret's value classified as kube-apiserver wrote it (plaintext protobuf
 * or JSON, or "k8s:enc:<provider>:v1:<key>:" envelopes), counted per
 * provider and key. Pure: reads only the mapping it is handed.
 */

#include <stddef.h>
#include <stdint.h>

#include "format/bbolt.h"

/* Where Kubernetes keeps Secrets (kube-apiserver's default --etcd-prefix). */
#define SECRETS_PREFIX "/registry/secrets/"
/* Longest audit label ("aescbc:key1") we build; longer key names are cut. */
#define SECRETS_LABEL_MAX 96

typedef enum SecretsStorage {
        SECRETS_STORAGE_PLAINTEXT,      /* protobuf ("k8s\0") or JSON ("{") */
        SECRETS_STORAGE_ENCRYPTED,      /* "k8s:enc:<provider>:v1:<key>:" */
        SECRETS_STORAGE_UNKNOWN,        /* none of the above */
} SecretsStorage;

/* Classify a Secret's stored value as kube-apiserver wrote it. label
 * (label_size bytes, at least SECRETS_LABEL_MAX is enough) receives
 * "plaintext", "<provider>:<key name>" ("aescbc:key1", "aesgcm:key2",
 * "secretbox:s1", "kms:vault" for KMS v1, "kmsv2:vault" for KMS v2, an
 * unknown provider under its own name) or "unknown". Names taken from the
 * value are cut to fit and characters outside [A-Za-z0-9._-] become '?', so
 * the label is safe to print. Pure. */
SecretsStorage secrets_classify(const void *value, size_t size, char *label, size_t label_size);

typedef struct SecretsAuditEntry {
        char *label;
        uint64_t count;
} SecretsAuditEntry;

typedef struct SecretsAudit {
        uint64_t secrets;               /* live Secrets */
        uint64_t plaintext;             /* of which stored in plaintext */
        uint64_t unknown;               /* of which not recognised */
        SecretsAuditEntry *entries;     /* per label, sorted by label */
        size_t n_entries;
} SecretsAudit;

/* Count the live Secrets of the snapshot (keys under
 * SECRETS_PREFIX, latest revision, not deleted) per storage label.
 * Returns 0 and fills *ret (release with secrets_audit_done()), -EBADMSG as
 * for mvcc_kv_get(), -ENOMEM. */
int secrets_audit(Bbolt *db, SecretsAudit *ret);

/* Free what an audit owns and zero it. Accepts a zeroed audit. */
void secrets_audit_done(SecretsAudit *a);
