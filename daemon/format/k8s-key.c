/* SPDX-License-Identifier: MIT */
/*
 * k8s-key.c — splits kube-apiserver's etcd keys; see k8s-key.h.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "format/k8s-key.h"
#include "util/macro.h"

void k8s_key_clear(K8sKey *k) {
        if (!k)
                return;
        free(k->resource);
        free(k->namespace);
        free(k->name);
        *k = (K8sKey) {};
}

int k8s_key_parse(const void *key, size_t n, K8sKey *ret) {
        static const char prefix[] = "/registry/";
        const char *seg[8], *s = key, *end = s + n;
        size_t len[8], k = 0, first = 1;
        _cleanup_(k8s_key_clear) K8sKey out = {};

        if (n < sizeof prefix - 1 || memcmp(s, prefix, sizeof prefix - 1) != 0 || memchr(s, 0, n))
                return -EINVAL;
        for (const char *p = s + sizeof prefix - 1; p < end && k < ELEMENTSOF(seg);) {
                const char *slash = memchr(p, '/', (size_t) (end - p));
                const char *e = slash ? slash : end;

                if (e == p)
                        return -EINVAL; /* empty segment */
                seg[k] = p;
                len[k++] = (size_t) (e - p);
                p = slash ? slash + 1 : end;
                if (slash && p == end)
                        return -EINVAL; /* trailing slash */
        }
        if (k < 2 || k == ELEMENTSOF(seg))
                return -EINVAL;

        if (memchr(seg[0], '.', len[0])) {
                /* /registry/<group>/<resource>/… */
                if (k < 3)
                        return -EINVAL;
                if (asprintf(&out.resource, "%.*s.%.*s", (int) len[1], seg[1], (int) len[0], seg[0]) < 0)
                        return -ENOMEM;
                first = 2;
        } else if (k >= 3 && len[0] == 8 && memcmp(seg[0], "services", 8) == 0 &&
                   ((len[1] == 5 && memcmp(seg[1], "specs", 5) == 0) ||
                    (len[1] == 9 && memcmp(seg[1], "endpoints", 9) == 0))) {
                out.resource = strndup(seg[1][0] == 's' ? "services" : "endpoints", 9);
                first = 2;
        } else
                out.resource = strndup(seg[0], len[0]);
        if (!out.resource)
                return -ENOMEM;

        switch (k - first) {
        case 1:
                out.name = strndup(seg[k - 1], len[k - 1]);
                break;
        case 2:
                out.namespace = strndup(seg[k - 2], len[k - 2]);
                if (!out.namespace)
                        return -ENOMEM;
                out.name = strndup(seg[k - 1], len[k - 1]);
                break;
        default:
                return -EINVAL;
        }
        if (!out.name)
                return -ENOMEM;
        *ret = out;
        out = (K8sKey) {};
        return 0;
}
