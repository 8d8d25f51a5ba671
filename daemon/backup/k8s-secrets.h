/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * k8s-secrets.h — the Kubernetes Secrets of a snapshot checked against
 * kube-apiserver's EncryptionConfiguration: which Secrets are encrypted with
 * a key the configuration no longer has (they could not be read after a
 * restore with it). Also reads that configuration file safely for both
 * programs: refused when group or others may access it, read into locked
 * memory, wiped after parsing. No printing or logging.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format/bbolt.h"
#include "format/encryption-config.h"

/* Read and parse the EncryptionConfiguration at path. Unless insecure, a
 * file that group or others may access is refused (-EPERM). On failure
 * error (error_size bytes) says why, naming the file and never a key.
 * Returns 0 and *ret, -EPERM, -errno of open/read, -EINVAL (not a valid
 * configuration), -EFBIG, -ENOMEM. */
int k8s_secrets_load_config(const char *path, bool insecure, EncryptionConfig **ret, char *error,
                            size_t error_size);

typedef struct K8sSecretsCheck {
        uint64_t secrets;       /* live Secrets in the snapshot */
        uint64_t unreadable;    /* encrypted with a key c does not have */
        char **labels;          /* the missing keys ("aescbc:old"), each once, sorted */
} K8sSecretsCheck;

/* Check the live Secrets of the snapshot in db against c. Returns 0 and
 * fills *ret (release with k8s_secrets_check_done()), -EBADMSG for a
 * damaged snapshot (reason in bbolt_last_error(db)), -ENOMEM. */
int k8s_secrets_check(Bbolt *db, const EncryptionConfig *c, K8sSecretsCheck *ret);

void k8s_secrets_check_done(K8sSecretsCheck *k);
