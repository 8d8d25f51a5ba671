/* SPDX-License-Identifier: MIT */
/*
 * test-manifest.c — the static-pod manifest reader on kubeadm v1.28's four
 * control-plane manifests (tests/fixtures/kubeadm/), on the flag forms the
 * kubelet passes through (--f=v, --f v, repeated, -f, args:), on the mapping
 * of in-pod paths to host paths, and on malformed input: every error names
 * the file and line, nothing crashes.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "restore/manifest.h"
#include "util/str.h"

static Manifest *load_fixture(const char *name) {
        _cleanup_free_ char *path = test_fixture_path(name), *error = NULL;
        Manifest *m = NULL;
        int r = manifest_load(path, &m, &error);

        if (r < 0)
                fprintf(stderr, "%s: %s\n", name, error ? error : strerror(-r));
        check_int_eq(r, 0);
        check(m);
        return m;
}

static Manifest *parse_ok(const char *text) {
        _cleanup_free_ char *error = NULL;
        Manifest *m = NULL;
        int r = manifest_parse("t.yaml", text, strlen(text), &m, &error);

        if (r < 0)
                fprintf(stderr, "unexpected: %s\n", error ? error : strerror(-r));
        check_int_eq(r, 0);
        return m;
}

/* Parse text, expect error r and exactly the message want. */
static void parse_bad_n(const char *text, size_t size, int want_r, const char *want) {
        _cleanup_free_ char *error = NULL;
        Manifest *m = NULL;
        int r = manifest_parse("t.yaml", text, size, &m, &error);

        check_int_eq(r, want_r);
        check(!m);
        check(error);
        if (want && !strstr(error, want)) {
                fprintf(stderr, "message \"%s\" lacks \"%s\"\n", error, want);
                check(false);
        }
}

static void parse_bad(const char *text, int want_r, const char *want) {
        parse_bad_n(text, strlen(text), want_r, want);
}

static void check_host(const Manifest *m, const char *in_pod, const char *want) {
        _cleanup_free_ char *host = NULL;

        check_int_eq(manifest_host_path(m, in_pod, &host, NULL), 0);
        check_str_eq(host, want);
}

static void test_kubeadm_etcd(void) {
        _cleanup_(manifest_freep) Manifest *m = load_fixture("kubeadm/etcd.yaml");
        unsigned line = 0;

        check_str_eq(m->pod_name, "etcd");
        check_str_eq(m->container, "etcd");
        check_str_eq(m->program, "etcd");
        check_int_eq(m->argc, 20);
        check_int_eq(m->n_flags, 19);
        check_str_eq(manifest_flag(m, "--data-dir", &line), "/var/lib/etcd");
        check_int_eq(line, 19);
        check_str_eq(manifest_flag(m, "--name", NULL), "cp1");
        check_str_eq(manifest_flag(m, "--initial-cluster", NULL), "cp1=https://192.168.122.10:2380");
        check_str_eq(manifest_flag(m, "--initial-advertise-peer-urls", NULL), "https://192.168.122.10:2380");
        check_str_eq(manifest_flag(m, "--listen-client-urls", NULL), "https://127.0.0.1:2379,https://192.168.122.10:2379");
        check_str_eq(manifest_flag(m, "trusted-ca-file", NULL), "/etc/kubernetes/pki/etcd/ca.crt");
        check(!manifest_flag(m, "--initial-cluster-token", &line));
        check_int_eq(line, 0);
        /* A flag name is whole: --data is not --data-dir. */
        check(!manifest_flag(m, "--data", NULL));

        check_int_eq(m->n_mounts, 2);
        check_str_eq(m->mounts[0].name, "etcd-data");
        check_str_eq(m->mounts[0].mount_path, "/var/lib/etcd");
        check(!m->mounts[0].read_only);
        check_int_eq(m->n_volumes, 2);
        check_str_eq(m->volumes[0].name, "etcd-certs");
        check_str_eq(m->volumes[0].host_path, "/etc/kubernetes/pki/etcd");
        check_str_eq(m->volumes[0].host_path_type, "DirectoryOrCreate");

        check_host(m, manifest_flag(m, "--data-dir", NULL), "/var/lib/etcd");
        check_host(m, "/var/lib/etcd/member/snap/db", "/var/lib/etcd/member/snap/db");
        check_host(m, manifest_flag(m, "--cert-file", NULL), "/etc/kubernetes/pki/etcd/server.crt");
        check_host(m, manifest_flag(m, "--peer-key-file", NULL), "/etc/kubernetes/pki/etcd/peer.key");
}

static void test_kubeadm_apiserver(void) {
        _cleanup_(manifest_freep) Manifest *m = load_fixture("kubeadm/kube-apiserver.yaml");
        const ManifestMount *mount = NULL;
        _cleanup_free_ char *host = NULL;
        unsigned line = 0;

        check_str_eq(m->program, "kube-apiserver");
        check_str_eq(manifest_flag(m, "--etcd-servers", &line), "https://127.0.0.1:2379");
        check_int_eq(line, 25);
        check_str_eq(manifest_flag(m, "--secure-port", NULL), "6443");
        check_str_eq(manifest_flag(m, "--authorization-mode", NULL), "Node,RBAC");
        check(!manifest_flag(m, "--bind-address", NULL));
        check_int_eq(m->n_mounts, 5);
        check_int_eq(m->n_volumes, 5);
        for (size_t i = 0; i < m->n_mounts; i++)
                check(m->mounts[i].read_only);

        check_int_eq(manifest_host_path(m, manifest_flag(m, "--etcd-certfile", NULL), &host, &mount), 0);
        check_str_eq(host, "/etc/kubernetes/pki/apiserver-etcd-client.crt");
        check_str_eq(mount->name, "k8s-certs");
        check_host(m, manifest_flag(m, "--etcd-cafile", NULL), "/etc/kubernetes/pki/etcd/ca.crt");
        check_host(m, manifest_flag(m, "--etcd-keyfile", NULL), "/etc/kubernetes/pki/apiserver-etcd-client.key");
        /* In the image, not on the node. */
        check_int_eq(manifest_host_path(m, "/usr/local/bin/kube-apiserver", &host, NULL), -ENOENT);
}

static void test_kubeadm_controllers(void) {
        _cleanup_(manifest_freep) Manifest *cm = load_fixture("kubeadm/kube-controller-manager.yaml");
        _cleanup_(manifest_freep) Manifest *s = load_fixture("kubeadm/kube-scheduler.yaml");

        check_str_eq(cm->program, "kube-controller-manager");
        check_str_eq(manifest_flag(cm, "--controllers", NULL), "*,bootstrapsigner,tokencleaner");
        check_int_eq(cm->n_mounts, 7);
        /* A file mounted on its own: the mount is the whole path. */
        check_host(cm, "/etc/kubernetes/controller-manager.conf", "/etc/kubernetes/controller-manager.conf");
        check_str_eq(cm->volumes[4].host_path_type, "FileOrCreate");
        check_host(cm, "/etc/kubernetes/pki/sa.key", "/etc/kubernetes/pki/sa.key");

        check_str_eq(s->program, "kube-scheduler");
        check_str_eq(manifest_flag(s, "--kubeconfig", NULL), "/etc/kubernetes/scheduler.conf");
        check_str_eq(manifest_flag(s, "--bind-address", NULL), "127.0.0.1");
        check_host(s, "/etc/kubernetes/scheduler.conf", "/etc/kubernetes/scheduler.conf");
}

static void test_flag_forms(void) {
        _cleanup_(manifest_freep) Manifest *m = parse_ok(
                "kind: Pod\n"
                "spec:\n"
                "  containers:\n"
                "  - name: etcd\n"
                "    command: [\"/usr/local/bin/etcd\", \"--name\", \"node-a\", '--data-dir=/data']\n"
                "    args:\n"
                "    - --listen-client-urls\n"
                "    - https://[::1]:2379,https://127.0.0.1:2379\n"
                "    - -initial-cluster-state=new\n"
                "    - --client-cert-auth\n"
                "    - --experimental-peer-skip-client-san-verification\n"
                "    - --cors=a\n"
                "    - --cors\n"
                "    - b\n"
                "    - \"--empty=\"\n"
                "    - --\n"
                "    - --after-terminator=x\n");
        _cleanup_strv_free_ char **all = NULL;
        unsigned line = 0;

        check_str_eq(m->program, "/usr/local/bin/etcd");
        check_str_eq(manifest_flag(m, "--name", &line), "node-a");
        check_int_eq(line, 5);
        check_str_eq(manifest_flag(m, "--data-dir", NULL), "/data");
        check_str_eq(manifest_flag(m, "--listen-client-urls", &line), "https://[::1]:2379,https://127.0.0.1:2379");
        check_int_eq(line, 7);
        check_str_eq(manifest_flag(m, "--initial-cluster-state", NULL), "new");
        check_str_eq(manifest_flag(m, "--client-cert-auth", NULL), "");
        check_str_eq(manifest_flag(m, "--experimental-peer-skip-client-san-verification", NULL), "");
        check_str_eq(manifest_flag(m, "--cors", NULL), "b");
        check_int_eq(manifest_flag_all(m, "--cors", &all), 2);
        check_str_eq(all[0], "a");
        check_str_eq(all[1], "b");
        check(!all[2]);
        check_str_eq(manifest_flag(m, "--empty", NULL), "");
        check(!manifest_flag(m, "--after-terminator", NULL));
        all = strv_free(all);
        check_int_eq(manifest_flag_all(m, "--nothing", &all), 0);
        check(!all);

        /* No command: the image's entrypoint, flags only from args. */
        _cleanup_(manifest_freep) Manifest *a = parse_ok(
                "spec:\n  containers:\n  - args: [--data-dir=/x, --name, y]\n");
        check(!a->program);
        check_str_eq(manifest_flag(a, "--data-dir", NULL), "/x");
        check_str_eq(manifest_flag(a, "--name", NULL), "y");

        /* Kubernetes' programs read '_' as '-' in a flag's name, the later one winning; etcd does not. */
        _cleanup_(manifest_freep) Manifest *k = parse_ok(
                "spec:\n  containers:\n  - command: [kube-apiserver, --etcd-cafile=/a, --etcd_cafile=/b,\n"
                "      --etcd-servers=https://x:2379, --etcd_servers=https://y:2379]\n");
        check_str_eq(manifest_flag(k, "--etcd-cafile", NULL), "/a");
        manifest_kubernetes_flag_names(k);
        check_str_eq(manifest_flag(k, "--etcd-cafile", &line), "/b");
        check_int_eq(line, 3);
        check_int_eq(manifest_flag_all(k, "--etcd-servers", &all), 2);
        check_str_eq(all[1], "https://y:2379");
        all = strv_free(all);
        manifest_kubernetes_flag_names(NULL);
}

static void test_host_paths(void) {
        _cleanup_(manifest_freep) Manifest *m = parse_ok(
                "spec:\n"
                "  containers:\n"
                "  - command: [etcd]\n"
                "    volumeMounts:\n"
                "    - {name: root-data, mountPath: /var/lib}\n"
                "    - {name: etcd-data, mountPath: /var/lib/etcd/}\n"
                "    - {name: certs, mountPath: /certs, subPath: pki/etcd, readOnly: \"True\"}\n"
                "    - {name: scratch, mountPath: /tmp}\n"
                "    - {name: nowhere, mountPath: /nowhere}\n"
                "  volumes:\n"
                "  - name: root-data\n"
                "    hostPath: {path: /srv/lib}\n"
                "  - name: etcd-data\n"
                "    hostPath: {path: /mnt/etcd/, type: Directory}\n"
                "  - name: certs\n"
                "    hostPath: {path: /etc/kubernetes}\n"
                "  - name: scratch\n"
                "    emptyDir: {}\n");
        const ManifestMount *mount = NULL;
        _cleanup_free_ char *host = NULL;

        check(m->mounts[2].read_only);
        check(!m->volumes[3].host_path);
        /* The longest mountPath wins, on whole components. */
        check_host(m, "/var/lib/etcd", "/mnt/etcd");
        check_host(m, "/var/lib/etcd/member", "/mnt/etcd/member");
        check_host(m, "/var/lib/etcd2", "/srv/lib/etcd2");
        check_host(m, "/var/lib", "/srv/lib");
        check_host(m, "/certs/server.crt", "/etc/kubernetes/pki/etcd/server.crt");
        check_int_eq(manifest_host_path(m, "/var", &host, NULL), -ENOENT);
        check_int_eq(manifest_host_path(m, "/tmp/x", &host, &mount), -EMEDIUMTYPE);
        check_str_eq(mount->name, "scratch");
        check_int_eq(manifest_host_path(m, "/nowhere/x", &host, &mount), -ENXIO);
        check_str_eq(mount->name, "nowhere");
        check_int_eq(manifest_host_path(m, "var/lib/etcd", &host, NULL), -EINVAL);
        check(!host);

        /* A volume that is not a hostPath, before the ones that are, is read past. */
        _cleanup_(manifest_freep) Manifest *e = parse_ok(
                "spec:\n"
                "  containers:\n"
                "  - command: [etcd]\n"
                "    volumeMounts:\n"
                "    - {name: scratch, mountPath: /tmp}\n"
                "    - {name: etcd-data, mountPath: /var/lib/etcd}\n"
                "  volumes:\n"
                "  - name: scratch\n"
                "    emptyDir: {}\n"
                "  - name: etcd-data\n"
                "    hostPath: {path: /mnt/etcd, type: DirectoryOrCreate}\n");
        check_int_eq(e->n_volumes, 2);
        check_str_eq(e->volumes[1].host_path, "/mnt/etcd");
        check_str_eq(e->volumes[1].host_path_type, "DirectoryOrCreate");
        check_host(e, "/var/lib/etcd/member", "/mnt/etcd/member");
        check_int_eq(manifest_host_path(m, "/var/lib/etcd/../../../etc/shadow", &host, NULL), -EINVAL);
        check_int_eq(manifest_host_path(m, "/var/lib/./etcd", &host, NULL), -EINVAL);
        check_int_eq(manifest_host_path(m, "/var//lib", &host, NULL), -EINVAL);
        check(!host);

        /* A mountPath as the runtime mounts it (clean): the deeper mount wins over /var. */
        _cleanup_(manifest_freep) Manifest *c = parse_ok(
                "spec:\n  containers:\n  - command: [etcd]\n    volumeMounts:\n"
                "    - {name: var, mountPath: /var}\n    - {name: etcd-data, mountPath: '/var//lib/./etcd/.'}\n"
                "  volumes:\n  - {name: var, hostPath: {path: /srv/other}}\n"
                "  - {name: etcd-data, hostPath: {path: /var/lib/etcd}}\n");
        check_str_eq(c->mounts[1].mount_path, "/var/lib/etcd");
        check_host(c, "/var/lib/etcd/data", "/var/lib/etcd/data");
        /* ".." resolved as the runtime resolves it, never above "/". */
        _cleanup_(manifest_freep) Manifest *dd = parse_ok(
                "spec:\n  containers:\n  - command: [etcd]\n    volumeMounts:\n"
                "    - {name: a, mountPath: /x/../var/lib/etcd/sub/..}\n    - {name: b, mountPath: '/../../..'}\n"
                "    - {name: c, mountPath: /a/b/../../c}\n");
        check_str_eq(dd->mounts[0].mount_path, "/var/lib/etcd");
        check_str_eq(dd->mounts[1].mount_path, "/");
        check_str_eq(dd->mounts[2].mount_path, "/c");

        /* What the kubelet refuses: a subPath that climbs or is absolute, a hostPath with "..". */
        parse_bad("spec:\n  containers:\n  - volumeMounts:\n    - {name: d, mountPath: /var/lib/etcd, subPath: "
                  "../../../root}\n", -EBADMSG, "t.yaml:4: spec.containers[0].volumeMounts[0].subPath "
                  "\"../../../root\" is not a relative path below the volume");
        parse_bad("spec:\n  containers:\n  - volumeMounts:\n    - {name: d, mountPath: /x, subPath: /etc}\n",
                  -EBADMSG, "subPath \"/etc\" is not a relative path below the volume");
        parse_bad("spec:\n  containers:\n  - command: [etcd]\n  volumes:\n  - name: d\n    hostPath: {path: "
                  "/var/lib/etcd/../../root}\n", -EBADMSG, "t.yaml:6: spec.volumes[0].hostPath.path "
                  "\"/var/lib/etcd/../../root\" has a '..' component");
}

static void test_errors(void) {
        static const char deep_head[] = "spec: ";
        char big[MANIFEST_MAX_BYTES + 2], deep[512];
        size_t n = 0;

        parse_bad("spec:\n  containers:\n  - command: --etcd-servers=x\n", -EBADMSG,
                  "t.yaml:3: spec.containers[0].command is not a list");
        parse_bad("kind: Pod\nspec:\n  containers:\n  - command:\n      etcd: x\n", -EBADMSG,
                  "t.yaml:5: spec.containers[0].command is not a list");
        parse_bad("spec:\n  containers:\n  - command:\n    - [etcd]\n", -EBADMSG,
                  "t.yaml:4: spec.containers[0].command[0] is not a string");
        parse_bad("apiVersion: v1\nkind: Pod\nspec: [\n", -EBADMSG, "t.yaml:4: not YAML:");
        parse_bad("a: b: c\n", -EBADMSG, "t.yaml:1: not YAML: mapping values are not allowed");
        parse_bad("\tkind: Pod\n", -EBADMSG, "t.yaml:1: not YAML:");
        parse_bad("", -EBADMSG, "t.yaml:1: the file is empty");
        parse_bad("just text\n", -EBADMSG, "t.yaml:1: the document is not a mapping");
        parse_bad("kind: Deployment\nspec: {}\n", -EBADMSG, "t.yaml:1: kind is not Pod");
        parse_bad("kind: Pod\n", -EBADMSG, "the pod has no spec");
        parse_bad("spec: {}\n", -EBADMSG, "t.yaml:1: spec has no containers");
        parse_bad("spec: {containers: []}\n", -EBADMSG, "spec.containers is empty");
        parse_bad("spec: {containers: [7]}\n", -EBADMSG, "spec.containers[0] is not a mapping");
        parse_bad("spec:\n  containers: [{command: [a]}]\n  containers: [{command: [b]}]\n", -EBADMSG,
                  "t.yaml:3: spec.containers is given twice");
        parse_bad("base: &b\n  command: [kube-apiserver, --etcd-servers=https://a:2379]\nspec:\n  containers:\n"
                  "  - <<: *b\n    args: [--etcd-cafile=/x]\n", -EBADMSG,
                  "t.yaml:5: spec.containers[0] has a YAML merge key (<<), which this reader does not apply");
        parse_bad("<<: {spec: {}}\n", -EBADMSG, "t.yaml:1: the document has a YAML merge key");
        parse_bad("spec:\n  containers:\n  - volumeMounts:\n    - name: x\n", -EBADMSG,
                  "t.yaml:4: spec.containers[0].volumeMounts[0] has no mountPath");
        parse_bad("spec:\n  containers:\n  - volumeMounts: [{name: x, mountPath: rel}]\n", -EBADMSG,
                  "mountPath \"rel\" is not an absolute path");
        parse_bad("spec:\n  containers:\n  - volumeMounts: [{name: x, mountPath: /x, readOnly: maybe}]\n",
                  -EBADMSG, "readOnly is \"maybe\", expected true or false");
        parse_bad("spec:\n  containers: [{}]\n  volumes:\n  - name: v\n    hostPath: /x\n", -EBADMSG,
                  "t.yaml:5: spec.volumes[0].hostPath is not a mapping");
        parse_bad("spec:\n  containers: [{}]\n  volumes:\n  - hostPath: {path: /x}\n", -EBADMSG,
                  "t.yaml:4: spec.volumes[0] has no name");
        parse_bad("spec:\n  containers:\n  - command: [\"etcd\\0--x\"]\n", -EBADMSG, "contains a NUL byte");

        /* Too deep: refused before the document is built. */
        memcpy(deep, deep_head, sizeof deep_head - 1);
        n = sizeof deep_head - 1;
        for (int i = 0; i < 100; i++)
                deep[n++] = '[';
        parse_bad_n(deep, n, -E2BIG, "nested deeper than 64 levels");

        /* Too big. */
        memset(big, ' ', sizeof big);
        parse_bad_n(big, MANIFEST_MAX_BYTES + 1, -EFBIG, "larger than");

        /* Aliases only point at nodes: an alias bomb costs nothing, a cycle does not loop. */
        _cleanup_(manifest_freep) Manifest *m = parse_ok(
                "a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\n"
                "spec:\n  containers:\n  - &c0 {command: &cmd [etcd, --name=a], args: *cmd}\n");
        check_int_eq(m->argc, 4);
        check_str_eq(manifest_flag(m, "--name", NULL), "a");
        /* but what the walk copies out through them is bounded: one 600 KB scalar named 8 times in command. */
        {
                size_t big_n = 600 * 1000;
                _cleanup_free_ char *yaml = malloc(big_n + 256);
                int k;

                check(yaml != NULL);
                k = snprintf(yaml, 256, "x: &big ");
                memset(yaml + k, 'v', big_n);
                snprintf(yaml + k + big_n, 256, "\nspec:\n  containers:\n  - command: [etcd, *big, *big, *big, "
                         "*big, *big, *big, *big, *big]\n");
                parse_bad(yaml, -E2BIG, "spec.containers[0].command[7]: the manifest's aliases repeat more than 4 MiB "
                          "of text");
        }

        /* A missing file says so. */
        _cleanup_free_ char *error = NULL;
        Manifest *none = NULL;
        check_int_eq(manifest_load("/nonexistent/etcd.yaml", &none, &error), -ENOENT);
        check(error && strstr(error, "cannot read /nonexistent/etcd.yaml"));
}

/* The container's env, and $(VAR) in command and args, as the kubelet
 * expands them. */
static void test_env(void) {
        _cleanup_(manifest_freep) Manifest *m = parse_ok(
                "spec:\n"
                "  containers:\n"
                "  - command: [$(BIN), --name=$(NODE), --data-dir, /var/lib/$(DIR), --cost=$$(NODE), --x=$(NONE),\n"
                "              --s=a$(SECRET)b, --t, $$(SECRET), --u=$(SECRETS)$(NODE)]\n"
                "    env:\n"
                "    - {name: BIN, value: etcd}\n"
                "    - {name: NODE, value: cp1}\n"
                "    - name: SECRET\n"
                "      valueFrom: {secretKeyRef: {name: s, key: k}}\n"
                "    - {name: DIR, value: $(NODE)-etcd}\n"
                "    - {name: ETCD_NAME, value: from-env}\n");

        check_str_eq(m->program, "etcd");
        check_str_eq(manifest_flag(m, "--name", NULL), "cp1");
        check_str_eq(manifest_flag(m, "--data-dir", NULL), "/var/lib/cp1-etcd");
        check_str_eq(manifest_flag(m, "--cost", NULL), "$(NODE)");
        check_str_eq(manifest_flag(m, "--x", NULL), "$(NONE)");
        check_int_eq(strv_length(m->env), 4);
        check_str_eq(strv_env_get(m->env, "DIR"), "cp1-etcd");
        check_str_eq(strv_env_get(m->env, "ETCD_NAME"), "from-env");
        check(!strv_env_get(m->env, "SECRET"));
        parse_bad("spec:\n  containers:\n  - command: [etcd]\n    env: [{value: x}]\n", -EBADMSG,
                  "t.yaml:4: spec.containers[0].env[0] has no name");
        check(strv_contains(m->env_from, "SECRET"));
        check_str_eq(manifest_flag_unresolved(m, "--s", false), "SECRET");
        check_str_eq(manifest_flag(m, "--s", NULL), "a$(SECRET)b");
        /* "$$(SECRET)" is the text "$(SECRET)", as the kubelet passes it: no use of SECRET. */
        check_str_eq(manifest_flag(m, "--t", NULL), "$(SECRET)");
        check(!manifest_flag_unresolved(m, "--t", false));
        check(!manifest_flag_unresolved(m, "--u", false));
        check(!manifest_flag_unresolved(m, "--name", false));
}

/* The kubelet's rules at their edges: "$$" is "$" in a pod without env; a
 * reference that is not expanded is kept as written up to its ")" and what
 * it holds is not looked at again; "$()" and an unclosed "$(" stay; a name
 * without value is set to ""; a later entry replaces an earlier one (a
 * valueFrom one too). */
static void test_env_edges(void) {
        /* $(NAME) with '=' in NAME is no variable's: left as written, not found through "A=B=…". */
        _cleanup_(manifest_freep) Manifest *eq = parse_ok(
                "spec:\n  containers:\n  - command: [etcd, '--data-dir=$(A=B)']\n    env:\n"
                "    - {name: A, value: B=/var/lib/evil}\n");
        check_str_eq(manifest_flag(eq, "--data-dir", NULL), "$(A=B)");
        /* value "" beside valueFrom: the kubelet takes valueFrom, so the value is not known here. */
        _cleanup_(manifest_freep) Manifest *vf = parse_ok(
                "spec:\n  containers:\n  - command: [etcd, '--data-dir=$(DD)']\n    env:\n"
                "    - name: DD\n      value: ''\n      valueFrom: {fieldRef: {fieldPath: metadata.name}}\n");
        check(!strv_env_get(vf->env, "DD") && strv_contains(vf->env_from, "DD"));
        check_str_eq(manifest_flag_unresolved(vf, "--data-dir", false), "DD");
        _cleanup_(manifest_freep) Manifest *plain = parse_ok(
                "spec:\n  containers:\n  - command: [etcd, --initial-cluster-token=tok$$en, --x=$(A)]\n");
        _cleanup_(manifest_freep) Manifest *m = parse_ok(
                "spec:\n"
                "  containers:\n"
                "  - command: [etcd, '--a=$(UNDEF$(B))', '--b=$(U$$V)', '--c=$()$(B', '--d=$(EMPTY)x', '--e=$(B)$',\n"
                "              '--f=$(IP)', '--g=$(TWICE)', --h=1, '--h=$(IP)', --i=1, --i=2, '--j=$(IP)', --j=3]\n"
                "    env:\n"
                "    - {name: B, value: b}\n"
                "    - name: EMPTY\n"
                "    - {name: TWICE, value: one}\n"
                "    - name: IP\n"
                "      valueFrom: {fieldRef: {fieldPath: status.podIP}}\n"
                "    - {name: TWICE, value: two}\n"
                "    - {name: D, value: /var/lib}\n"
                "    - {name: D, value: $(D)/etcd}\n"
                "    - {name: PEER, value: 'https://$(IP):2380'}\n"
                "    - {name: LITERAL, value: 'https://$$(IP):2380'}\n");

        check_str_eq(manifest_flag(plain, "--initial-cluster-token", NULL), "tok$en");
        check_str_eq(manifest_flag(plain, "--x", NULL), "$(A)");
        check_str_eq(manifest_flag(m, "--a", NULL), "$(UNDEF$(B))");
        check_str_eq(manifest_flag(m, "--b", NULL), "$(U$$V)");
        check_str_eq(manifest_flag(m, "--c", NULL), "$()$(B");
        check_str_eq(manifest_flag(m, "--d", NULL), "x");
        check_str_eq(manifest_flag(m, "--e", NULL), "b$");
        check_str_eq(manifest_flag(m, "--f", NULL), "$(IP)");
        check_str_eq(manifest_flag(m, "--g", NULL), "two");
        check_str_eq(strv_env_get(m->env, "EMPTY"), "");
        check_str_eq(strv_env_get(m->env, "D"), "/var/lib/etcd");   /* the earlier D, as the kubelet has it */
        check(!strv_env_get(m->env, "PEER") && strv_contains(m->env_from, "PEER"));  /* uses IP: unknown too */
        check_str_eq(strv_env_get(m->env, "LITERAL"), "https://$(IP):2380");  /* escaped: known */
        check_int_eq(strv_length(m->env), 5);
        check_str_eq(manifest_flag_unresolved(m, "--f", false), "IP");
        /* The last occurrence, as manifest_flag() gives the value; with every, any. */
        check_str_eq(manifest_flag_unresolved(m, "--h", false), "IP");
        check(!manifest_flag_unresolved(m, "--i", true));
        check(!manifest_flag_unresolved(m, "--j", false));
        check_str_eq(manifest_flag_unresolved(m, "--j", true), "IP");
        check(!manifest_flag_unresolved(m, "--none", true));
}

/* Entries that each repeat the one before eight times: 1 KiB that would
 * expand to 137 GB. Refused once the references add 1 MiB; a long run of
 * "$(" without ")" is read in one pass. */
static void test_env_bounded(void) {
        _cleanup_free_ char *text = NULL, *opens = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        check(f);
        fprintf(f, "spec:\n  containers:\n  - command: [etcd, --name=$(A11)]\n    env:\n    - {name: A0, value: x}\n");
        for (int i = 1; i < 12; i++) {
                fprintf(f, "    - {name: A%d, value: '", i);
                for (int k = 0; k < 8; k++)
                        fprintf(f, "$(A%d)", i - 1);
                fprintf(f, "'}\n");
        }
        check(fclose(f) == 0);
        parse_bad(text, -E2BIG, "t.yaml:12: spec.containers[0].env[7] (A7): $(VAR) references add more than 1048576 "
                  "bytes to the manifest");

        opens = malloc(400000 + 64);
        check(opens);
        strcpy(opens, "spec:\n  containers:\n  - command: [etcd, '--x=");
        len = strlen(opens);
        for (int i = 0; i < 100000; i++, len += 2)
                memcpy(opens + len, "$(", 2);
        strcpy(opens + len, "']\n");
        {
                _cleanup_(manifest_freep) Manifest *m = parse_ok(opens);
                check_int_eq(strlen(manifest_flag(m, "--x", NULL)), 200000);
        }
}

/* Not a regular file: refused at once, never waited on (a FIFO with a
 * writer that never writes would block a read for ever). */
static void test_not_regular(void) {
        char dir[] = "/tmp/test-manifest.XXXXXX", fifo[sizeof dir + 16];
        _cleanup_free_ char *error = NULL;
        Manifest *m = NULL;
        int writer;

        check(mkdtemp(dir));
        snprintf(fifo, sizeof fifo, "%s/etcd.yaml", dir);
        check(mkfifo(fifo, 0600) == 0);
        writer = open(fifo, O_RDWR | O_CLOEXEC);        /* a writer, and a reader so that open does not wait */
        check(writer >= 0);
        check_int_eq(manifest_load(fifo, &m, &error), -EBADMSG);
        check(!m && error && strstr(error, "etcd.yaml is not a regular file (a FIFO, device or directory)"));
        error = mfree(error);
        check_int_eq(manifest_load(dir, &m, &error), -EBADMSG);
        check(!m && error && strstr(error, "is not a regular file"));
        close(writer);
        check(unlink(fifo) == 0 && rmdir(dir) == 0);
}

int main(void) {
        TEST_RUN(test_kubeadm_etcd);
        TEST_RUN(test_kubeadm_apiserver);
        TEST_RUN(test_kubeadm_controllers);
        TEST_RUN(test_flag_forms);
        TEST_RUN(test_host_paths);
        TEST_RUN(test_errors);
        TEST_RUN(test_env);
        TEST_RUN(test_env_edges);
        TEST_RUN(test_env_bounded);
        TEST_RUN(test_not_regular);
        return 0;
}
