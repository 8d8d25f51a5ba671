/* SPDX-License-Identifier: MIT */
/*
 * fuzz-k8s-object.c — libFuzzer target for the Kubernetes object decoder:
 * the input is one value as etcd stores it (protobuf envelope or JSON). A
 * decoded object must be an object, survive the manifest strip, and be
 * emitted as YAML; a failure must come with a message. Besides crashes this
 * checks that the decoder never returns success without a tree.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/json-yaml.h"
#include "format/k8s-object.h"
#include "util/macro.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char err[K8S_OBJECT_ERROR_MAX];
        _cleanup_free_ char *api = NULL, *kind = NULL, *yaml = NULL;
        K8sObject o = {};
        size_t n = 0;
        int r;

        r = k8s_object_decode(data, size, &o, err);
        if (r < 0) {
                require(r == -EBADMSG || r == -E2BIG || r == -ENOMEM);
                require(err[0] != 0 && strlen(err) < K8S_OBJECT_ERROR_MAX);
        } else {
                require(o.object && json_object_is_type(o.object, json_type_object));
                require(o.complete == !json_object_object_get_ex(o.object, K8S_OBJECT_UNDECODED, NULL) ||
                        o.encoding == K8S_ENCODING_JSON);
                /* Strings are UTF-8, so the emitter takes every tree. */
                r = json_yaml_emit(o.object, &yaml, &n);
                require(r == 0 || r == -E2BIG);
                if (r == 0)
                        require(strlen(yaml) <= n);
                k8s_object_strip_for_manifest(o.object);
                require(!json_object_object_get_ex(o.object, "status", NULL));
                k8s_object_clear(&o);
        }

        if (k8s_object_type(data, size, &api, &kind) == 0)
                require(api && kind);
        return 0;
}
