/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * k8s-key.h — the etcd keys kube-apiserver stores objects under
 * (/registry/<resource>/[<namespace>/]<name>), split into resource,
 * namespace and name, as `objects` lists them and as EncryptionConfiguration
 * names resources. Pure.
 */

#include <stdbool.h>
#include <stddef.h>

/* An etcd key under kube-apiserver's prefix, split. */
typedef struct K8sKey {
        char *resource;         /* "secrets", "deployments.apps", "widgets.example.com" */
        char *namespace;        /* NULL for cluster-scoped objects */
        char *name;
} K8sKey;

/* Split a key /registry/<resource>/[<namespace>/]<name>, or
 * /registry/<group>/<resource>/[<namespace>/]<name> for groups whose name
 * has a dot (custom resources), into resource, namespace and name. The
 * resource is named as EncryptionConfiguration names it:
 * "<resource>.<group>", or "<resource>" in the core group. A built-in
 * resource stored without its group gets it from a table
 * (/registry/deployments/… is "deployments.apps"), and the storage's special
 * prefixes their resource's name (minions: "nodes", controllers:
 * "replicationcontrollers", ingress: "ingresses.networking.k8s.io";
 * services/specs and services/endpoints: "services" and "endpoints").
 * A first segment the table does not know is taken as it is.
 * Returns 0 and fills *ret (release with k8s_key_clear()), -EINVAL for a key
 * outside /registry/ or without a name, -ENOMEM. */
int k8s_key_parse(const void *key, size_t n, K8sKey *ret);

/* Whether resource ("deployments.apps", "secrets") is one of the built-in
 * resources stored without their group that k8s_key_parse() knows. */
bool k8s_resource_is_known(const char *resource);

void k8s_key_clear(K8sKey *k);
