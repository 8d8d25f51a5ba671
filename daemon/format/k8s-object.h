/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * k8s-object.h — Kubernetes objects as kube-apiserver stores them in etcd,
 * decoded into a json-c tree shaped like `kubectl get -o json` prints them.
 *
 * Two storage forms exist. Built-in kinds are protobuf: the four bytes
 * "k8s\0" and a runtime.Unknown message (typeMeta {apiVersion, kind}, raw,
 * contentEncoding, contentType) whose raw field is the object itself.
 * Custom resources (and anything stored with --storage-media-type=json) are
 * plain JSON. ObjectMeta is decoded for every protobuf kind; the body of a
 * kind is decoded only when the schema table in k8s-object.c lists it
 * (Secret, ConfigMap, Namespace, ServiceAccount): adding a kind is adding
 * data to that table. For a kind the table does not know, the object keeps
 * its metadata and gets an "undecoded" member with the remaining fields,
 * re-serialised as protobuf and base64-encoded, and a note saying so; no
 * field is ever guessed. Fields the table does not list inside a known kind
 * are collected the same way.
 *
 * Pure: no I/O. Input is untrusted (a backup file): every length is bounded,
 * nesting is limited, strings must be UTF-8. Errors: -EBADMSG (malformed,
 * with a message naming the field), -E2BIG (over a limit), -ENOMEM.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* The protobuf envelope's magic bytes. */
#define K8S_PROTOBUF_MAGIC "k8s\0"
#define K8S_PROTOBUF_MAGIC_BYTES 4U
/* Deepest message nesting the decoder follows (Kubernetes objects nest a few
 * levels; this is far above any real one and bounds the recursion). */
#define K8S_OBJECT_DEPTH_MAX 32U
/* Longest error message the decoder writes. */
#define K8S_OBJECT_ERROR_MAX 200U

/* The member name under which undecoded fields are put. */
#define K8S_OBJECT_UNDECODED "undecoded"

typedef enum K8sEncoding {
        K8S_ENCODING_UNKNOWN,   /* neither protobuf envelope nor JSON */
        K8S_ENCODING_PROTOBUF,
        K8S_ENCODING_JSON,
} K8sEncoding;

/* What the decoder found: the object, and whether all of it was understood. */
typedef struct K8sObject {
        json_object *object;    /* owned */
        K8sEncoding encoding;
        bool complete;          /* false: an "undecoded" member is present */
} K8sObject;

/* Which form a stored value has, from its first bytes (no decoding). */
K8sEncoding k8s_object_encoding(const void *data, size_t size);

/* Name of an encoding for tables: "protobuf", "json" or "unknown". */
const char *k8s_encoding_to_string(K8sEncoding e);

/* Decode one stored value (already decrypted). On success *ret owns a new
 * json tree (release with k8s_object_clear()). On failure returns -EBADMSG,
 * -E2BIG or -ENOMEM and, when error is not NULL, writes a NUL-terminated
 * message of at most K8S_OBJECT_ERROR_MAX bytes naming the field. */
int k8s_object_decode(const void *data, size_t size, K8sObject *ret, char error[static K8S_OBJECT_ERROR_MAX]);

/* Free what a K8sObject owns and zero it. Accepts a zeroed struct. */
void k8s_object_clear(K8sObject *o);

/* Read only apiVersion and kind of a protobuf-encoded value (for listings),
 * without decoding the object. *ret_api_version / *ret_kind are new strings
 * ("" when absent). Returns 0, -EBADMSG or -ENOMEM. */
int k8s_object_type(const void *data, size_t size, char **ret_api_version, char **ret_kind);

/* Remove what the cluster owns, so the result is fit for `kubectl apply`:
 * metadata.uid, resourceVersion, creationTimestamp, generation,
 * managedFields, selfLink, deletionTimestamp, deletionGracePeriodSeconds,
 * and the top-level status. Changes o in place. */
void k8s_object_strip_for_manifest(json_object *o);

/* Does the schema table decode the body of this apiVersion/kind? */
bool k8s_object_kind_known(const char *api_version, const char *kind);
