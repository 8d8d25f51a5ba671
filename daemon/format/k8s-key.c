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

/* The built-in resources kube-apiserver stores without their group
 * (/registry/deployments/…), as of Kubernetes 1.34 (alpha and beta
 * resources included): the first segment of the key, the resource's name
 * where it differs (the storage factory's special prefixes), and its group
 * ("" for the core group). A built-in group stored with its group
 * (apiregistration.k8s.io, apiextensions.k8s.io) needs no row. */
static const struct {
        const char *prefix, *resource, *group;
} builtin[] = {
        { "configmaps", NULL, "" },
        { "controllers", "replicationcontrollers", "" },
        { "events", NULL, "" },
        { "limitranges", NULL, "" },
        { "minions", "nodes", "" },
        { "namespaces", NULL, "" },
        { "persistentvolumeclaims", NULL, "" },
        { "persistentvolumes", NULL, "" },
        { "pods", NULL, "" },
        { "podtemplates", NULL, "" },
        { "resourcequotas", NULL, "" },
        { "secrets", NULL, "" },
        { "serviceaccounts", NULL, "" },
        { "controllerrevisions", NULL, "apps" },
        { "daemonsets", NULL, "apps" },
        { "deployments", NULL, "apps" },
        { "replicasets", NULL, "apps" },
        { "statefulsets", NULL, "apps" },
        { "cronjobs", NULL, "batch" },
        { "jobs", NULL, "batch" },
        { "horizontalpodautoscalers", NULL, "autoscaling" },
        { "poddisruptionbudgets", NULL, "policy" },
        { "podsecuritypolicy", "podsecuritypolicies", "policy" },
        { "mutatingadmissionpolicies", NULL, "admissionregistration.k8s.io" },
        { "mutatingadmissionpolicybindings", NULL, "admissionregistration.k8s.io" },
        { "mutatingwebhookconfigurations", NULL, "admissionregistration.k8s.io" },
        { "validatingadmissionpolicies", NULL, "admissionregistration.k8s.io" },
        { "validatingadmissionpolicybindings", NULL, "admissionregistration.k8s.io" },
        { "validatingwebhookconfigurations", NULL, "admissionregistration.k8s.io" },
        { "certificatesigningrequests", NULL, "certificates.k8s.io" },
        { "clustertrustbundles", NULL, "certificates.k8s.io" },
        { "podcertificaterequests", NULL, "certificates.k8s.io" },
        { "leasecandidates", NULL, "coordination.k8s.io" },
        { "leases", NULL, "coordination.k8s.io" },
        { "endpointslices", NULL, "discovery.k8s.io" },
        { "flowschemas", NULL, "flowcontrol.apiserver.k8s.io" },
        { "prioritylevelconfigurations", NULL, "flowcontrol.apiserver.k8s.io" },
        { "storageversions", NULL, "internal.apiserver.k8s.io" },
        { "clustercidrs", NULL, "networking.k8s.io" },
        { "ingress", "ingresses", "networking.k8s.io" },
        { "ingressclasses", NULL, "networking.k8s.io" },
        { "ipaddresses", NULL, "networking.k8s.io" },
        { "networkpolicies", NULL, "networking.k8s.io" },
        { "servicecidrs", NULL, "networking.k8s.io" },
        { "runtimeclasses", NULL, "node.k8s.io" },
        { "clusterrolebindings", NULL, "rbac.authorization.k8s.io" },
        { "clusterroles", NULL, "rbac.authorization.k8s.io" },
        { "rolebindings", NULL, "rbac.authorization.k8s.io" },
        { "roles", NULL, "rbac.authorization.k8s.io" },
        { "deviceclasses", NULL, "resource.k8s.io" },
        { "devicetaintrules", NULL, "resource.k8s.io" },
        { "podschedulingcontexts", NULL, "resource.k8s.io" },
        { "resourceclaimparameters", NULL, "resource.k8s.io" },
        { "resourceclaims", NULL, "resource.k8s.io" },
        { "resourceclaimtemplates", NULL, "resource.k8s.io" },
        { "resourceclasses", NULL, "resource.k8s.io" },
        { "resourceclassparameters", NULL, "resource.k8s.io" },
        { "resourceslices", NULL, "resource.k8s.io" },
        { "priorityclasses", NULL, "scheduling.k8s.io" },
        { "csidrivers", NULL, "storage.k8s.io" },
        { "csinodes", NULL, "storage.k8s.io" },
        { "csistoragecapacities", NULL, "storage.k8s.io" },
        { "storageclasses", NULL, "storage.k8s.io" },
        { "volumeattachments", NULL, "storage.k8s.io" },
        { "volumeattributesclasses", NULL, "storage.k8s.io" },
        { "storageversionmigrations", NULL, "storagemigration.k8s.io" },
};

/* "<resource>[.<group>]" for the first segment of a key without a group. */
static char *builtin_resource(const char *s, size_t n) {
        char *out;

        for (size_t i = 0; i < ELEMENTSOF(builtin); i++) {
                const char *name;

                if (strlen(builtin[i].prefix) != n || memcmp(builtin[i].prefix, s, n) != 0)
                        continue;
                name = builtin[i].resource ? builtin[i].resource : builtin[i].prefix;
                if (asprintf(&out, "%s%s%s", name, builtin[i].group[0] ? "." : "", builtin[i].group) < 0)
                        return NULL;
                return out;
        }
        return strndup(s, n); /* the core group's, or one this table does not know */
}

bool k8s_resource_is_known(const char *resource) {
        const char *dot = strchr(resource, '.');
        size_t n = dot ? (size_t) (dot - resource) : strlen(resource);

        for (size_t i = 0; i < ELEMENTSOF(builtin); i++) {
                const char *name = builtin[i].resource ? builtin[i].resource : builtin[i].prefix;

                if (strlen(name) == n && memcmp(name, resource, n) == 0 &&
                    streq(dot ? dot + 1 : "", builtin[i].group))
                        return true;
        }
        return streq(resource, "services") || streq(resource, "endpoints");
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
                out.resource = builtin_resource(seg[0], len[0]);
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
