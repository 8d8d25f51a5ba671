/* SPDX-License-Identifier: MIT */
/*
 * test-member.c — what etcd runs with, read from kubeadm's etcd.yaml
 * (tests/fixtures/kubeadm/) and from a unit's command line and environment;
 * the restore block as overrides: agreeing values pass, a fuller
 * initial_cluster is taken, a disagreement is refused naming both values
 * and their sources; manifests without etcd flags or with a data dir inside
 * the container are refused naming the file and flag.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "restore/member.h"
#include "util/str.h"

static Manifest *load_fixture(const char *name) {
        _cleanup_free_ char *path = test_fixture_path(name), *error = NULL;
        Manifest *m = NULL;

        check_int_eq(manifest_load(path, &m, &error), 0);
        return m;
}

static void test_kubeadm_etcd(void) {
        _cleanup_(manifest_freep) Manifest *man = load_fixture("kubeadm/etcd.yaml");
        _cleanup_(member_done) EtcdMember m = {};
        _cleanup_free_ char *error = NULL;

        check_int_eq(member_from_manifest(man, &m, &error), 0);
        check_str_eq(m.name.value, "cp1");
        check(strstr(m.name.source, "etcd.yaml:") && strstr(m.name.source, ": --name"));
        check_str_eq(m.data_dir.value, "/var/lib/etcd");
        check(strstr(m.data_dir.source, "--data-dir=/var/lib/etcd, hostPath volume etcd-data"));
        check_str_eq(m.initial_advertise_peer_urls.value, "https://192.168.122.10:2380");
        check_str_eq(m.initial_cluster.value, "cp1=https://192.168.122.10:2380");
        check(m.initial_cluster.from_etcd);
        check_str_eq(m.initial_cluster_token.value, "etcd-cluster");
        check(!m.initial_cluster_token.from_etcd);
        check_str_eq(m.listen_client_urls.value, "https://127.0.0.1:2379,https://192.168.122.10:2379");
        check_str_eq(m.trusted_ca_file.value, "/etc/kubernetes/pki/etcd/ca.crt");
        check_str_eq(m.cert_file.value, "/etc/kubernetes/pki/etcd/server.crt");
        check_str_eq(m.key_file.value, "/etc/kubernetes/pki/etcd/server.key");
        check(!m.wal_dir.value); /* kubeadm keeps the WAL in the data dir */
}

/* etcd's settings from the pod's env: a flag wins over its ETCD_ variable. */
static void test_pod_env(void) {
        static const char text[] =
                "spec:\n"
                "  containers:\n"
                "  - command: [etcd, --name=cp1]\n"
                "    env:\n"
                "    - {name: ETCD_NAME, value: ignored}\n"
                "    - {name: ETCD_DATA_DIR, value: /var/lib/etcd}\n"
                "    volumeMounts: [{name: etcd-data, mountPath: /var/lib/etcd}]\n"
                "  volumes: [{name: etcd-data, hostPath: {path: /srv/etcd}}]\n";
        _cleanup_(manifest_freep) Manifest *man = NULL;
        _cleanup_(member_done) EtcdMember m = {};
        _cleanup_free_ char *error = NULL;

        check_int_eq(manifest_parse("etcd.yaml", text, strlen(text), &man, &error), 0);
        check_int_eq(member_from_manifest(man, &m, &error), 0);
        check_str_eq(m.name.value, "cp1");
        check_str_eq(m.data_dir.value, "/srv/etcd");
        check_str_eq(m.data_dir.source, "etcd.yaml: env ETCD_DATA_DIR=/var/lib/etcd, hostPath volume etcd-data");
}

static int apply(const char *file, ConfigRestore *c, char **error) {
        _cleanup_(manifest_freep) Manifest *man = load_fixture(file);
        _cleanup_(member_done) EtcdMember m = {};
        int r;

        check_int_eq(member_from_manifest(man, &m, error), 0);
        r = member_apply_config(&m, c, "/etc/etcd-backupd/etcd-backupd.conf", error);
        if (r == 0 && c->initial_cluster)
                check_str_eq(m.initial_cluster.value, c->initial_cluster);
        if (r == 0 && c->initial_cluster_token)
                check_str_eq(m.initial_cluster_token.value, c->initial_cluster_token);
        return r;
}

static void test_overrides(void) {
        char *error = NULL;
        ConfigRestore c = {};

        /* unset: what etcd runs with */
        check_int_eq(apply("kubeadm/etcd.yaml", &c, &error), 0);
        /* agreeing (a trailing slash is the same dir) */
        c = (ConfigRestore) { .name = (char *) "cp1", .data_dir = (char *) "/var/lib/etcd/",
                              .initial_advertise_peer_urls = (char *) "https://192.168.122.10:2380" };
        check_int_eq(apply("kubeadm/etcd.yaml", &c, &error), 0);
        /* a fuller cluster list, a token of its own */
        c = (ConfigRestore) { .initial_cluster = (char *) "cp1=https://192.168.122.10:2380,cp2=https://192.168.122.11:2380,"
                                                          "cp3=https://192.168.122.12:2380",
                              .initial_cluster_token = (char *) "restored-1" };
        check_int_eq(apply("kubeadm/etcd.yaml", &c, &error), 0);

        /* disagreements */
        c = (ConfigRestore) { .data_dir = (char *) "/srv/etcd" };
        check_int_eq(apply("kubeadm/etcd.yaml", &c, &error), -EBADMSG);
        check(strstr(error, "restore.data_dir = \"/srv/etcd\" (/etc/etcd-backupd/etcd-backupd.conf) disagrees"));
        check(strstr(error, "\"/var/lib/etcd\" (") && strstr(error, "etcd.yaml:") && strstr(error, "etcd-data"));
        error = mfree(error);
        c = (ConfigRestore) { .name = (char *) "default" };
        check_int_eq(apply("kubeadm/etcd.yaml", &c, &error), -EBADMSG);
        check(strstr(error, "restore.name = \"default\"") && strstr(error, "\"cp1\""));
        error = mfree(error);
        c = (ConfigRestore) { .initial_advertise_peer_urls = (char *) "https://127.0.0.1:2380" };
        check_int_eq(apply("kubeadm/etcd.yaml", &c, &error), -EBADMSG);
        check(strstr(error, "https://127.0.0.1:2380") && strstr(error, "https://192.168.122.10:2380"));
        error = mfree(error);
        c = (ConfigRestore) { .initial_cluster = (char *) "cp2=https://192.168.122.11:2380,cp3=https://192.168.122.12:2380" };
        check_int_eq(apply("kubeadm/etcd.yaml", &c, &error), -EBADMSG);
        check(strstr(error, "restore.initial_cluster") && strstr(error, "does not give this member cp1=https://192.168.122.10:2380"));
        error = mfree(error);
        c = (ConfigRestore) { .initial_cluster = (char *) "cp1=https://192.168.122.99:2380" };
        check_int_eq(apply("kubeadm/etcd.yaml", &c, &error), -EBADMSG);
        error = mfree(error);
}

static int from_text(const char *text, char **error) {
        _cleanup_(manifest_freep) Manifest *man = NULL;
        _cleanup_(member_done) EtcdMember m = {};

        check_int_eq(manifest_parse("etcd.yaml", text, strlen(text), &man, error), 0);
        return member_from_manifest(man, &m, error);
}

static void test_bad_manifests(void) {
        _cleanup_(manifest_freep) Manifest *sched = load_fixture("kubeadm/kube-scheduler.yaml");
        _cleanup_(member_done) EtcdMember m = {};
        char *error = NULL;

        check_int_eq(member_from_manifest(sched, &m, &error), -EBADMSG);
        check(strstr(error, "kube-scheduler.yaml: the container's command has no --data-dir (program kube-scheduler)"));
        error = mfree(error);
        check_int_eq(from_text("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: etcd\n    command:\n"
                               "    - etcd\n    - --data-dir=/var/lib/etcd\n", &error), -EBADMSG);
        check(strstr(error, "etcd.yaml:8: --data-dir=/var/lib/etcd is on no volume of the pod"));
        error = mfree(error);
        check_int_eq(from_text("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: etcd\n    command:\n"
                               "    - etcd\n    - --data-dir=/var/lib/etcd\n    volumeMounts:\n"
                               "    - mountPath: /var/lib/etcd\n      name: etcd-data\n  volumes:\n"
                               "  - name: etcd-data\n    emptyDir: {}\n", &error), -EBADMSG);
        check(strstr(error, "volume etcd-data, which is not a hostPath volume"));
        error = mfree(error);
        /* the in-pod path mapped to another host path */
        check_int_eq(from_text("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: etcd\n    command:\n"
                               "    - etcd\n    - --data-dir\n    - /var/lib/etcd/data\n    volumeMounts:\n"
                               "    - mountPath: /var/lib/etcd\n      name: etcd-data\n  volumes:\n"
                               "  - name: etcd-data\n    hostPath:\n      path: /mnt/disk1/etcd\n", &error), 0);
}

static void test_command(void) {
        char *argv[] = { (char *) "/usr/bin/etcd", (char *) "--name", (char *) "m2", (char *) "-data-dir=/srv/etcd",
                         (char *) "--initial-advertise-peer-urls=https://127.0.0.2:2380", NULL };
        char *env[] = { (char *) "ETCD_NAME=ignored", (char *) "ETCD_INITIAL_CLUSTER=m1=https://127.0.0.1:2380,"
                        "m2=https://127.0.0.2:2380", (char *) "ETCD_DATA_DIR=/ignored",
                        (char *) "ETCD_WAL_DIR=/srv/etcd-wal", NULL };
        char *bare[] = { (char *) "/usr/bin/etcd", NULL };
        char *rel_env[] = { (char *) "ETCD_DATA_DIR=default.etcd", NULL };
        _cleanup_(member_done) EtcdMember m = {};
        char *error = NULL;

        check_int_eq(member_from_command(argv, env, "etcd.service", &m, &error), 0);
        check_str_eq(m.name.value, "m2");
        check_str_eq(m.name.source, "etcd.service: ExecStart= --name");
        check_str_eq(m.data_dir.value, "/srv/etcd");
        check_str_eq(m.initial_cluster.value, "m1=https://127.0.0.1:2380,m2=https://127.0.0.2:2380");
        check_str_eq(m.initial_cluster.source, "etcd.service: environment ETCD_INITIAL_CLUSTER");
        check_str_eq(m.wal_dir.value, "/srv/etcd-wal");
        check_str_eq(m.wal_dir.source, "etcd.service: environment ETCD_WAL_DIR");
        member_done(&m);
        check_int_eq(member_from_command(bare, NULL, "etcd.service", &m, &error), -EBADMSG);
        check(strstr(error, "etcd.service: etcd runs without a data dir"));
        error = mfree(error);
        check_int_eq(member_from_command(bare, rel_env, "etcd.service", &m, &error), -EBADMSG);
        check(strstr(error, "the data dir default.etcd is relative (etcd.service: environment ETCD_DATA_DIR)"));
        error = mfree(error);
}

/* The one lookup of etcd's settings that the restore and discover share. */
static void test_setting(void) {
        char *argv[] = { (char *) "/usr/bin/etcd", (char *) "--name=m2", (char *) "--data-dir", (char *) "/srv/etcd",
                         NULL };
        char *env[] = { (char *) "ETCD_NAME=ignored", (char *) "ETCD_INITIAL_CLUSTER_TOKEN=t1",
                        (char *) "ETCD_INITIAL_CLUSTER_TOKEN=t2", NULL };
        _cleanup_(manifest_freep) Manifest *man = NULL;
        const char *v = NULL;
        char *var = NULL;
        unsigned line = 7;

        check_int_eq(manifest_from_argv("etcd.service", argv, &man), 0);
        check_int_eq(member_setting(man, env, "name", &v, &line, &var), 0);
        check_str_eq(v, "m2");
        check(!var);
        check_int_eq(member_setting(man, env, "--data-dir", &v, NULL, &var), 0);
        check_str_eq(v, "/srv/etcd");
        check(!var);
        /* not on the command line: etcd's variable, the last assignment */
        check_int_eq(member_setting(man, env, "--initial-cluster-token", &v, &line, &var), 0);
        check_str_eq(v, "t2");
        check_str_eq(var, "ETCD_INITIAL_CLUSTER_TOKEN");
        check_int_eq(line, 0);
        var = mfree(var);
        /* without an environment (a pod) only the flag counts */
        check_int_eq(member_setting(man, NULL, "initial-cluster-token", &v, NULL, &var), 0);
        check(!v && !var);
        check_int_eq(member_setting(man, env, "initial-cluster", &v, NULL, NULL), 0);
        check(!v);
}

/* What etcd does not read as a setting, and what is not known here: an
 * empty ETCD_ variable is passed over (etcd's default name, not ""); a
 * setting from the pod's valueFrom, or a flag that uses one, is refused
 * naming the variable; etcd with a configuration file is refused. */
static void test_not_settings(void) {
        static const char head[] =
                "spec:\n  containers:\n  - command: [etcd, --data-dir=/var/lib/etcd%s]\n"
                "    env:\n%s"
                "    volumeMounts: [{name: d, mountPath: /var/lib/etcd}]\n"
                "  volumes: [{name: d, hostPath: {path: /var/lib/etcd}}]\n";
        char *cf_argv[] = { (char *) "/usr/bin/etcd", (char *) "--data-dir=/srv/etcd", NULL };
        char *cf_env[] = { (char *) "ETCD_CONFIG_FILE=/etc/etcd/etcd.conf.yml", NULL };
        char *empty_env[] = { (char *) "ETCD_NAME=", (char *) "ETCD_CONFIG_FILE=", NULL };
        _cleanup_(member_done) EtcdMember m = {};
        char text[1024], *error = NULL;

        snprintf(text, sizeof text, head, "", "    - {name: ETCD_NAME, value: ''}\n");
        {
                _cleanup_(manifest_freep) Manifest *man = NULL;
                check_int_eq(manifest_parse("etcd.yaml", text, strlen(text), &man, &error), 0);
                check_int_eq(member_from_manifest(man, &m, &error), 0);
                check_str_eq(m.name.value, "default");
                member_done(&m);
        }
        snprintf(text, sizeof text, head, "",
                 "    - name: ETCD_NAME\n      valueFrom: {fieldRef: {fieldPath: metadata.name}}\n");
        check_int_eq(from_text(text, &error), -EBADMSG);
        check(strstr(error, "etcd.yaml: etcd's --name depends on env ETCD_NAME, which the pod sets by valueFrom"));
        error = mfree(error);
        snprintf(text, sizeof text, head, ", '--initial-advertise-peer-urls=https://$(POD_IP):2380'",
                 "    - name: POD_IP\n      valueFrom: {fieldRef: {fieldPath: status.podIP}}\n");
        check_int_eq(from_text(text, &error), -EBADMSG);
        check(strstr(error, "etcd's --initial-advertise-peer-urls depends on env POD_IP"));
        error = mfree(error);
        /* A variable whose value uses one set by valueFrom: unknown as well. */
        check_int_eq(from_text("spec:\n  containers:\n  - command: [etcd]\n    env:\n"
                               "    - name: X\n      valueFrom: {fieldRef: {fieldPath: metadata.name}}\n"
                               "    - {name: ETCD_DATA_DIR, value: '/var/lib/$(X)'}\n", &error), -EBADMSG);
        check(strstr(error, "etcd's --data-dir depends on env ETCD_DATA_DIR, which the pod sets by valueFrom"));
        error = mfree(error);
        snprintf(text, sizeof text, head, ", '--name=$(X)'",
                 "    - name: X\n      valueFrom: {fieldRef: {fieldPath: metadata.name}}\n");
        check_int_eq(from_text(text, &error), -EBADMSG);
        check(strstr(error, "etcd's --name depends on env X"));
        error = mfree(error);
        /* "$$(X)" is the text "$(X)" whatever sets X: the kubelet passes it as written. */
        snprintf(text, sizeof text, head, ", '--initial-cluster-token=tok$$(X)'",
                 "    - name: X\n      valueFrom: {fieldRef: {fieldPath: metadata.name}}\n"
                 "    - {name: ETCD_NAME, value: 'n$$(X)'}\n");
        {
                _cleanup_(manifest_freep) Manifest *man = NULL;
                check_int_eq(manifest_parse("etcd.yaml", text, strlen(text), &man, &error), 0);
                check_int_eq(member_from_manifest(man, &m, &error), 0);
                check_str_eq(m.initial_cluster_token.value, "tok$(X)");
                check_str_eq(m.name.value, "n$(X)");
                member_done(&m);
        }
        snprintf(text, sizeof text, head, ", --config-file=/etc/etcd/etcd.conf.yml", "    - {name: X, value: y}\n");
        check_int_eq(from_text(text, &error), -EOPNOTSUPP);
        check(strstr(error, "etcd.yaml: etcd reads its settings from the configuration file /etc/etcd/etcd.conf.yml "
                            "(--config-file)"));
        error = mfree(error);
        check_int_eq(member_from_command(cf_argv, cf_env, "etcd.service", &m, &error), -EOPNOTSUPP);
        check(strstr(error, "etcd.service: etcd reads its settings from the configuration file "
                            "/etc/etcd/etcd.conf.yml (ETCD_CONFIG_FILE)"));
        error = mfree(error);
        check_int_eq(member_from_command(cf_argv, empty_env, "etcd.service", &m, &error), 0);
        check_str_eq(m.name.value, "default");
}

/* etcd's --initial-cluster when not given: from --name and each peer URL,
 * or its default with the default name. */
static void test_default_cluster(void) {
        char *named[] = { (char *) "etcd", (char *) "--name=m1", (char *) "--data-dir=/srv/etcd",
                          (char *) "--initial-advertise-peer-urls=https://10.0.0.1:2380,https://[fd00::1]:2380", NULL };
        char *unnamed[] = { (char *) "etcd", (char *) "--data-dir=/srv/etcd", NULL };
        _cleanup_(member_done) EtcdMember m = {};
        char *error = NULL;

        check_int_eq(member_from_command(named, NULL, "etcd.service", &m, &error), 0);
        check_str_eq(m.initial_cluster.value, "m1=https://10.0.0.1:2380,m1=https://[fd00::1]:2380");
        member_done(&m);
        check_int_eq(member_from_command(unnamed, NULL, "etcd.service", &m, &error), 0);
        check_str_eq(m.initial_cluster.value, "default=http://localhost:2380");
}

static void test_cluster_names(void) {
        check(member_cluster_names("a=https://x:2380,b=https://y:2380", "b", "https://y:2380"));
        check(member_cluster_names("a=https://x:2380,a=https://x2:2380", "a", "https://x2:2380,https://x:2380"));
        check(!member_cluster_names("a=https://x:2380,a=https://x2:2380", "a", "https://x:2380"));
        check(!member_cluster_names("ab=https://x:2380", "a", "https://x:2380"));
        check(!member_cluster_names("", "a", "https://x:2380"));
}

int main(void) {
        TEST_RUN(test_kubeadm_etcd);
        TEST_RUN(test_overrides);
        TEST_RUN(test_bad_manifests);
        TEST_RUN(test_command);
        TEST_RUN(test_pod_env);
        TEST_RUN(test_setting);
        TEST_RUN(test_cluster_names);
        TEST_RUN(test_not_settings);
        TEST_RUN(test_default_cluster);
        return 0;
}
