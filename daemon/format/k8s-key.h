/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * k8s-key.h — the etcd keys kube-apiserver stores objects under
 * (/registry/<resource>/[<namespace>/]<name>), split into resource,
 * namespace and name, as `objects` lists them and as EncryptionConfiguration
 * names resources. Pure.
 */

#include <stddef.h>

/* An etcd key under kube-apiserver's prefix, split. */
typedef struct K8sKey {
        char *resource;         /* "secrets", "widgets.example.com" */
        char *namespace;        /* NULL for cluster-scoped objects */
        char *name;
} K8sKey;

/* Split a key /registry/<resource>/[<namespace>/]<name>, or
 * /registry/<group>/<resource>/[<namespace>/]<name> for groups whose name
 * has a dot (custom resources), into resource ("<resource>.<group>" for
 * those, as EncryptionConfiguration names them), namespace and name.
 * Services live under services/specs and endpoints under services/endpoints.
 * Returns 0 and fills *ret (release with k8s_key_clear()), -EINVAL for a key
 * outside /registry/ or without a name, -ENOMEM. */
int k8s_key_parse(const void *key, size_t n, K8sKey *ret);

void k8s_key_clear(K8sKey *k);
