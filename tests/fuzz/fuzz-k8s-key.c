/* SPDX-License-Identifier: MIT */
/*
 * fuzz-k8s-key.c — libFuzzer target for the etcd key splitter: a backup's
 * keys are untrusted. Checks: a key is split or refused, never half; what is
 * split has a resource, a name and at most a namespace, none empty or
 * holding a '/', and the key ends in [<namespace>/]<name>.
 */

#include <stdint.h>
#include <string.h>

#include "format/k8s-key.h"
#include "util/macro.h"
#include "fuzz.h"

static bool segment_ok(const char *s) {
        return s && s[0] && !strchr(s, '/');
}

/* Whether key[0..n) ends in "/" suffix. */
static bool ends_in(const uint8_t *key, size_t n, const char *suffix) {
        size_t m = strlen(suffix);
        return n > m && key[n - m - 1] == '/' && memcmp(key + n - m, suffix, m) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        K8sKey k = { .resource = (char *) 1 };   /* untouched on a refusal */

        if (k8s_key_parse(data, size, &k) < 0) {
                require(k.resource == (char *) 1);
                return 0;
        }
        require(segment_ok(k.resource) && segment_ok(k.name));
        require(!k.namespace || segment_ok(k.namespace));
        require(ends_in(data, size, k.name));
        if (k.namespace)
                require(ends_in(data, size - strlen(k.name) - 1, k.namespace));
        (void) k8s_resource_is_known(k.resource);
        k8s_key_clear(&k);
        return 0;
}
