/* SPDX-License-Identifier: MIT */
/*
 * test-encryption-config.c — the EncryptionConfiguration reader and the
 * decryption of stored values. The ciphertexts below were produced by an
 * independent implementation (Python's cryptography for aescbc and aesgcm,
 * PyNaCl for secretbox) from the keys in CONFIG, fixed nonces, and the
 * plaintext PLAIN; aesgcm with the etcd key /registry/secrets/default/s1 as
 * additional data, as kube-apiserver does.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "format/encryption-config.h"
#include "tests/test.h"
#include "util/macro.h"

static const char CONFIG[] =
        "apiVersion: apiserver.config.k8s.io/v1\n"
        "kind: EncryptionConfiguration\n"
        "resources:\n"
        "  - resources:\n"
        "      - secrets\n"
        "    providers:\n"
        "      - aescbc:\n"
        "          keys:\n"
        "            - name: key1\n"
        "              secret: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
        "            - name: old\n"
        "              secret: ZGVmZ2hpamtsbW5vcHFycw==\n"
        "      - aesgcm:\n"
        "          keys:\n"
        "            - name: gcm1\n"
        "              secret: ZGVmZ2hpamtsbW5vcHFycw==\n"
        "      - secretbox:\n"
        "          keys:\n"
        "            - name: box1\n"
        "              secret: MjM0NTY3ODk6Ozw9Pj9AQUJDREVGR0hJSktMTU5PUFE=\n"
        "      - identity: {}\n"
        "  - resources: ['*.*']\n"
        "    providers:\n"
        "      - identity: {}\n";

static const char PLAIN[] = "k8s\x00\n\x0c\n\x02v1\x12\x06Secret\x12\x00";
#define PLAIN_SIZE (sizeof(PLAIN) - 1)

static const char CBC[] =
        "k8s:enc:aescbc:v1:key1:\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x7b\x6d\xc6\x4c"
        "\xb3\xbf\x63\xab\x06\x81\x6e\x24\x5d\x7b\x86\xc5\x46\xf9\xa5\xaa\x9a\x60\xb7\x58\x21\xcf\xc2\x58\xc7\xe4"
        "\xbb\x4b";
static const char GCM[] =
        "k8s:enc:aesgcm:v1:gcm1:\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\xe0\xa4\xc2\x96\x16\x82\xac\xb5"
        "\xb7\x4f\xb8\x31\xef\x84\x71\x6e\x08\x3d\x33\xfd\xe8\x81\x64\x18\x56\xcc\xc7\x15\xe7\x52\x4e\xae\xa1\xc1"
        "\xd1\xa6";
static const char BOX[] =
        "k8s:enc:secretbox:v1:box1:\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12"
        "\x13\x14\x15\x16\x17\x7d\x9f\xee\x8d\x41\x4e\x75\x00\x37\x0e\x1d\xae\xe9\x5b\xe4\xc0\x86\x0b\x65\x06\x2d"
        "\xd3\x68\x29\xe8\x80\x8d\x8f\x29\x2a\x72\x5b\xfc\xa7\x82\x9f";

static const char KEY[] = "/registry/secrets/default/s1";

static EncryptionConfig *load(const char *text, int expect, char *err) {
        EncryptionConfig *c = NULL;

        check_int_eq(encryption_config_parse(text, strlen(text), &c, err), expect);
        return c;
}

static void decrypt_ok(EncryptionConfig *c, const char *v, size_t n) {
        _cleanup_free_ uint8_t *out = NULL;
        char err[ENCRYPTION_ERROR_MAX];
        size_t out_size = 0;

        check_int_eq(encryption_config_decrypt(c, KEY, strlen(KEY), v, n, &out, &out_size, err), 0);
        check_int_eq(out_size, PLAIN_SIZE);
        check(memcmp(out, PLAIN, PLAIN_SIZE) == 0);
}

static int decrypt_fail(EncryptionConfig *c, const char *key, const void *v, size_t n, char *err) {
        _cleanup_free_ uint8_t *out = NULL;
        size_t out_size = 0;
        int r = encryption_config_decrypt(c, key, strlen(key), v, n, &out, &out_size, err);

        check(r < 0);
        check(!out);
        check(err[0]);
        return r;
}

static void test_parse_and_decrypt(void) {
        _cleanup_(encryption_config_freep) EncryptionConfig *c = NULL;
        char err[ENCRYPTION_ERROR_MAX];
        uint8_t buf[256];

        c = load(CONFIG, 0, err);
        check_int_eq(c->n_resources, 2);
        check_int_eq(c->resources[0].n_providers, 4);
        check(c->resources[0].providers[0].type == ENC_PROVIDER_AESCBC);
        check_int_eq(c->resources[0].providers[0].n_keys, 2);
        check_str_eq(c->resources[0].providers[0].keys[1].name, "old");
        check_int_eq(c->resources[0].providers[0].keys[1].size, 16);
        check(c->resources[0].providers[3].type == ENC_PROVIDER_IDENTITY);
        check(c->resources[1].providers[0].type == ENC_PROVIDER_IDENTITY);

        decrypt_ok(c, CBC, sizeof CBC - 1);
        decrypt_ok(c, GCM, sizeof GCM - 1);
        decrypt_ok(c, BOX, sizeof BOX - 1);
        decrypt_ok(c, PLAIN, PLAIN_SIZE); /* identity */

        /* aesgcm authenticates the etcd key: the same value under another key fails. */
        check_int_eq(decrypt_fail(c, "/registry/secrets/default/s2", GCM, sizeof GCM - 1, err), -EBADMSG);
        check(strstr(err, "aesgcm key \"gcm1\""));
        check(strstr(err, "wrong key or tampered"));

        /* Tampered tag, tampered body, for each provider. */
        memcpy(buf, GCM, sizeof GCM - 1);
        buf[sizeof GCM - 2] ^= 1;
        check_int_eq(decrypt_fail(c, KEY, buf, sizeof GCM - 1, err), -EBADMSG);
        memcpy(buf, BOX, sizeof BOX - 1);
        buf[sizeof BOX - 10] ^= 0x40;
        check_int_eq(decrypt_fail(c, KEY, buf, sizeof BOX - 1, err), -EBADMSG);
        check(strstr(err, "secretbox key \"box1\""));
        memcpy(buf, CBC, sizeof CBC - 1);
        buf[strlen("k8s:enc:aescbc:v1:key1:") + 2] ^= 0x55; /* the IV: first block garbles */
        check_int_eq(decrypt_fail(c, KEY, buf, sizeof CBC - 1, err), -EBADMSG);
        check(strstr(err, "aescbc key \"key1\""));

        /* The wrong key: the CBC value under the name of the other key. */
        memcpy(buf, "k8s:enc:aescbc:v1:old:", 22);
        memcpy(buf + 22, CBC + 23, sizeof CBC - 1 - 23);
        check_int_eq(decrypt_fail(c, KEY, buf, 22 + sizeof CBC - 1 - 23, err), -EBADMSG);

        /* A key the configuration does not have. */
        memcpy(buf, "k8s:enc:aescbc:v1:gone:", 23);
        memcpy(buf + 23, CBC + 23, sizeof CBC - 1 - 23);
        check_int_eq(decrypt_fail(c, KEY, buf, sizeof CBC - 1, err), -ENOKEY);
        check(strstr(err, "\"gone\""));

        /* Shorter than the nonce. */
        check_int_eq(decrypt_fail(c, KEY, "k8s:enc:secretbox:v1:box1:abc", 29, err), -EBADMSG);
        check(strstr(err, "shorter"));
        check_int_eq(decrypt_fail(c, KEY, "k8s:enc:aesgcm:v1:gcm1:", 23, err), -EBADMSG);
        /* A provider that does not exist; kms. */
        check_int_eq(decrypt_fail(c, KEY, "k8s:enc:rot13:v1:k:xxxx", 23, err), -EPROTONOSUPPORT);
        check(strstr(err, "rot13"));
        check_int_eq(decrypt_fail(c, KEY, "k8s:enc:kms:v1:vault:xxxx", 25, err), -EOPNOTSUPP);
        check(strstr(err, "KMS plugin \"vault\""));
        check_int_eq(decrypt_fail(c, KEY, "k8s:enc:kms:v2:vault:\x0a\x01", 23, err), -EOPNOTSUPP);
}

static void test_value_and_resources(void) {
        _cleanup_free_ char *a = NULL, *b = NULL, *d = NULL;
        _cleanup_(encryption_config_freep) EncryptionConfig *c = NULL;
        char err[ENCRYPTION_ERROR_MAX];
        EncValue v;

        enc_value_parse(CBC, sizeof CBC - 1, &v);
        check(v.encrypted && v.type == ENC_PROVIDER_AESCBC);
        check_int_eq(v.key_name_size, 4);
        check(memcmp(v.key_name, "key1", 4) == 0);
        check_int_eq(v.data_size, 48);
        enc_value_parse(PLAIN, PLAIN_SIZE, &v);
        check(!v.encrypted);

        a = encryption_resource_of_key("/registry/secrets/ns/x", 22);
        check_str_eq(a, "secrets");
        b = encryption_resource_of_key("/registry/example.com/widgets/ns/w", 34);
        check_str_eq(b, "widgets.example.com");
        d = encryption_resource_of_key("/other", 6);
        check_str_eq(d, "");

        c = load(CONFIG, 0, err);
        {
                char label[32];

                enc_value_parse(GCM, sizeof GCM - 1, &v);
                check(enc_value_label(&v, label, sizeof label));
                check_str_eq(label, "aesgcm:gcm1");
                enc_value_parse("k8s:enc:aescbc:v1:a b:xx", 24, &v);
                check(enc_value_label(&v, label, sizeof label));
                check_str_eq(label, "aescbc:a?b");
                check(!encryption_config_lacks_key(c, "secrets", CBC, sizeof CBC - 1));
                check(!encryption_config_lacks_key(c, "secrets", PLAIN, PLAIN_SIZE));
                /* No kms provider "vault" for secrets: kube-apiserver cannot read it. */
                check(encryption_config_lacks_key(c, "secrets", "k8s:enc:kms:v1:vault:xx", 23));
                check(encryption_config_lacks_key(c, "secrets", "k8s:enc:aescbc:v1:gone:xx", 25));
                check(encryption_config_lacks_key(c, "secrets", "k8s:enc:secretbox:v1:key1:xx", 28));
        }
        check(encryption_config_lookup(c, "secrets") == &c->resources[0]);
        /* configmaps' entry has identity alone: a value under a key the
         * secrets' entry holds is not read there. */
        check(encryption_config_lacks_key(c, "configmaps", CBC, sizeof CBC - 1));
        check(!encryption_config_lacks_key(c, "configmaps", PLAIN, PLAIN_SIZE));
        check(encryption_config_lookup(c, "configmaps") == &c->resources[1]);
        check(encryption_config_has_key(c, "secrets", ENC_PROVIDER_AESGCM, "gcm1", 4));
        check(!encryption_config_has_key(c, "configmaps", ENC_PROVIDER_AESGCM, "gcm1", 4));
        check(!encryption_config_has_key(c, NULL, ENC_PROVIDER_AESCBC, "gcm1", 4));
}

/* What kube-apiserver accepts and writes: a key name with ':' (its prefix
 * is k8s:enc:aescbc:v1:key:1:), a secret as a block scalar (base64 on its
 * own line, a line break after it), and a custom resource named like a core
 * one, which never stands for the core one. */
static void test_apiserver_shapes(void) {
        static const char text[] =
                "apiVersion: apiserver.config.k8s.io/v1\n"
                "kind: EncryptionConfiguration\n"
                "resources:\n"
                "  - resources: [secrets.example.com]\n"
                "    providers:\n"
                "      - identity: {}\n"
                "  - resources: [secrets, deployments.apps, ingresses.networking.k8s.io]\n"
                "    providers:\n"
                "      - aescbc:\n"
                "          keys:\n"
                "            - name: key\n"
                "              secret: ZGVmZ2hpamtsbW5vcHFycw==\n"
                "            - name: \"key:1\"\n"
                "              secret: |\n"
                "                AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
        _cleanup_(encryption_config_freep) EncryptionConfig *c = NULL;
        char err[ENCRYPTION_ERROR_MAX], value[sizeof CBC + 2], label[32];
        const size_t head = strlen("k8s:enc:aescbc:v1:key1:");
        size_t n;
        EncValue v;

        c = load(text, 0, err);
        /* CBC's ciphertext (key1's secret, no additional data) under "key:1". */
        n = (size_t) snprintf(value, sizeof value, "k8s:enc:aescbc:v1:key:1:");
        memcpy(value + n, CBC + head, sizeof CBC - 1 - head);
        n += sizeof CBC - 1 - head;
        decrypt_ok(c, value, n);
        check(!encryption_config_lacks_key(c, "secrets", value, n));
        encryption_config_value_parse(c, value, n, &v);
        check_int_eq(v.key_name_size, 5);
        check_int_eq(v.data_size, 48);
        check(enc_value_label(&v, label, sizeof label));
        check_str_eq(label, "aescbc:key?1"); /* as every unusual byte of a name is shown */
        /* Without the config, the name ends at the first ':'. */
        enc_value_parse(value, n, &v);
        check_int_eq(v.key_name_size, 3);

        check(encryption_config_lookup(c, "secrets") == &c->resources[1]);
        check(encryption_config_lookup(c, "secrets.example.com") == &c->resources[0]);
        check(encryption_config_lookup(c, "deployments.apps") == &c->resources[1]);
        check(encryption_config_lookup(c, "ingresses.networking.k8s.io") == &c->resources[1]);
        check(encryption_config_lookup(c, "configmaps") == NULL);
        check(encryption_config_lookup(c, "replicasets.apps") == NULL);
}

/* Patterns as kube-apiserver matches them against the resources of real
 * keys: "*.apps" is the group apps (stored without its group), "*." the
 * core group, and a group-qualified name of a built-in resource never
 * stands for the core one. */
static void test_resource_patterns(void) {
        static const char text[] =
                "apiVersion: apiserver.config.k8s.io/v1\n"
                "kind: EncryptionConfiguration\n"
                "resources:\n"
                "  - resources: [secrets.apps]\n"
                "    providers: [{identity: {}}]\n"
                "  - resources: ['*.apps']\n"
                "    providers: [{identity: {}}]\n"
                "  - resources: ['*.networking.k8s.io', nodes]\n"
                "    providers: [{identity: {}}]\n"
                "  - resources: ['*.']\n"
                "    providers: [{identity: {}}]\n"
                "  - resources: ['*.*']\n"
                "    providers: [{identity: {}}]\n";
        static const struct {
                const char *key;
                int entry;
        } cases[] = {
                { "/registry/deployments/default/web", 1 },
                { "/registry/controllerrevisions/default/web-5d4f", 1 },
                { "/registry/ingress/default/web", 2 },
                { "/registry/networkpolicies/default/deny", 2 },
                { "/registry/minions/node-1", 2 },
                { "/registry/secrets/default/db", 3 },
                { "/registry/controllers/default/rc", 3 },
                { "/registry/services/specs/default/kubernetes", 3 },
                { "/registry/jobs/default/backup", 4 },
                { "/registry/example.com/widgets/default/w1", 4 },
                { "/registry/apiregistration.k8s.io/apiservices/v1.apps", 4 },
        };
        _cleanup_(encryption_config_freep) EncryptionConfig *c = NULL;
        char err[ENCRYPTION_ERROR_MAX];

        c = load(text, 0, err);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *resource = encryption_resource_of_key(cases[i].key, strlen(cases[i].key));

                check(resource);
                if (encryption_config_lookup(c, resource) != &c->resources[cases[i].entry]) {
                        fprintf(stderr, "%s (%s): not entry %d\n", cases[i].key, resource, cases[i].entry);
                        check(false);
                }
        }
}

static void test_bad_configs(void) {
        static const struct {
                const char *text;
                const char *message;
        } bad[] = {
                { "resources: [", "not YAML" },
                { "- a\n- b\n", "not a mapping" },
                { "", "empty document" },
                { "apiVersion: v1\nkind: EncryptionConfiguration\nresources: []\n", "apiVersion must be" },
                { "apiVersion: apiserver.config.k8s.io/v1\nkind: Pod\n", "kind must be" },
                { "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources: []\n",
                  "non-empty list" },
                { "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                  "- resources: [secrets]\n  providers:\n  - rot13: {}\n", "line 6: unknown provider \"rot13\"" },
                { "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                  "- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n      - name: k1\n"
                  "        secret: c2hvcnQ=\n", "aescbc key \"k1\" is 5 bytes" },
                { "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                  "- resources: [secrets]\n  providers:\n  - secretbox:\n      keys:\n      - name: k1\n"
                  "        secret: ZGVmZ2hpamtsbW5vcHFycw==\n", "secretbox needs 32" },
                { "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                  "- resources: [secrets]\n  providers:\n  - aesgcm:\n      keys:\n      - name: k1\n"
                  "        secret: '%%%notbase64'\n", "not base64" },
                { "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                  "- resources: [secrets]\n  providers:\n  - aesgcm:\n      keys: []\n", "non-empty list of keys" },
                { "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                  "- resources: [secrets]\n  providers:\n  - kms: {endpoint: unix:///x}\n", "kms name" },
                /* A key given twice: kube-apiserver takes the last or refuses the file, never the first. */
                { "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                  "- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n      - name: k1\n"
                  "        secret: ZGVmZ2hpamtsbW5vcHFycw==\n        secret: MTIzNDU2Nzg5MDEyMzQ1Ng==\n",
                  "line 10: secret is given twice" },
                { "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                  "- resources: [secrets]\n  providers: [{identity: {}}]\n  resources: [configmaps]\n",
                  "line 6: resources is given twice" },
                /* Masked by an earlier wildcard: kube-apiserver refuses the file. */
                { "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                  "- resources: ['*.']\n  providers: [{identity: {}}]\n"
                  "- resources: [configmaps, secrets]\n  providers: [{identity: {}}]\n",
                  "line 6: resource \"configmaps\" is masked by \"*.\" of the entry at line 4" },
                { "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                  "- resources: ['*.*']\n  providers: [{identity: {}}]\n"
                  "- resources: [deployments.apps]\n  providers: [{identity: {}}]\n",
                  "resource \"deployments.apps\" is masked by \"*.*\"" },
                { "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                  "- resources: ['*.apps']\n  providers: [{identity: {}}]\n"
                  "- resources: ['*.apps']\n  providers: [{identity: {}}]\n",
                  "resource \"*.apps\" is masked by \"*.apps\"" },
                /* Overlaps within one list, which kube-apiserver's validation refuses. */
                { "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                  "- resources: [secrets, configmaps, secrets]\n  providers: [{identity: {}}]\n",
                  "line 4: \"secrets\" and \"secrets\" in one list of resources are the same" },
                { "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                  "- resources: [secrets, '*.']\n  providers: [{identity: {}}]\n",
                  "\"secrets\" and \"*.\" in one list of resources overlap" },
                { "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                  "- resources: ['*.apps', deployments.apps]\n  providers: [{identity: {}}]\n",
                  "\"*.apps\" and \"deployments.apps\" in one list of resources overlap" },
                { "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                  "- resources: [widgets.example.com, '*.*']\n  providers: [{identity: {}}]\n",
                  "\"*.*\" and \"widgets.example.com\" in one list of resources overlap" },
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char err[ENCRYPTION_ERROR_MAX];
                EncryptionConfig *c = NULL;
                int r = encryption_config_parse(bad[i].text, strlen(bad[i].text), &c, err);

                if (r != -EINVAL || !strstr(err, bad[i].message)) {
                        fprintf(stderr, "case %zu: r=%d err=%s\n", i, r, err);
                        check(false);
                }
                check(!c);
                /* No message ever carries key material. */
                check(!strstr(err, "c2hvcnQ") && !strstr(err, "ZGVm"));
        }
}

/* As kube-apiserver reads a Secret with a configuration: only the providers
 * of the entry for secrets, identity alone when none names them, and a
 * plaintext value only with identity among them. */
static void test_as_apiserver(void) {
        static const char moved[] =     /* key1 only under '*.*' */
                "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                "- resources: [secrets]\n  providers:\n  - aesgcm: {keys: [{name: gcm1, secret: ZGVmZ2hpamtsbW5vcHFycw==}]}\n"
                "- resources: ['*.*']\n  providers:\n"
                "  - aescbc: {keys: [{name: key1, secret: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}]}\n"
                "  - identity: {}\n";
        static const char no_secrets[] =
                "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                "- resources: [configmaps]\n  providers:\n"
                "  - aescbc: {keys: [{name: key1, secret: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}]}\n";
        _cleanup_(encryption_config_freep) EncryptionConfig *m = NULL, *n = NULL;
        char err[ENCRYPTION_ERROR_MAX];
        _cleanup_free_ uint8_t *out = NULL;
        size_t out_size = 0;

        m = load(moved, 0, err);
        /* get still finds key1 in the other entry; kube-apiserver would not. */
        check_int_eq(encryption_config_decrypt(m, KEY, strlen(KEY), CBC, sizeof CBC - 1, &out, &out_size, err), 0);
        out = mfree(out);
        check_int_eq(encryption_config_decrypt_as_apiserver(m, KEY, strlen(KEY), CBC, sizeof CBC - 1, &out,
                                                            &out_size, err), -ENOKEY);
        check(!out && strstr(err, "key1"));
        check(strstr(err, "has in another entry, not among the providers for secrets"));
        check(encryption_config_lacks_key(m, "secrets", CBC, sizeof CBC - 1));
        /* No identity for secrets: a plaintext Secret cannot be read. */
        check(encryption_config_lacks_key(m, "secrets", PLAIN, PLAIN_SIZE));
        check_int_eq(encryption_config_decrypt_as_apiserver(m, KEY, strlen(KEY), PLAIN, PLAIN_SIZE, &out,
                                                            &out_size, err), -ENOKEY);
        check(strstr(err, "no identity"));
        check_int_eq(encryption_config_decrypt(m, KEY, strlen(KEY), PLAIN, PLAIN_SIZE, &out, &out_size, err), 0);
        out = mfree(out);

        /* No entry names secrets: identity alone. */
        n = load(no_secrets, 0, err);
        check(encryption_config_lacks_key(n, "secrets", CBC, sizeof CBC - 1));
        check(!encryption_config_lacks_key(n, "secrets", PLAIN, PLAIN_SIZE));
        check_int_eq(encryption_config_decrypt_as_apiserver(n, KEY, strlen(KEY), CBC, sizeof CBC - 1, &out,
                                                            &out_size, err), -ENOKEY);
        check(strstr(err, "no entry"));
        check_int_eq(encryption_config_decrypt_as_apiserver(n, KEY, strlen(KEY), PLAIN, PLAIN_SIZE, &out,
                                                            &out_size, err), 0);
        out = mfree(out);
        /* The resource comes from etcd's key: shown escaped, and a key of no resource is called so. */
        check_int_eq(encryption_config_decrypt_as_apiserver(n, "/registry/w\x1b]0;x\x07\n/ns/s", 23, CBC,
                                                            sizeof CBC - 1, &out, &out_size, err), -ENOKEY);
        check(strstr(err, "names w") && !strchr(err, '\x1b') && !strchr(err, '\n') && !strchr(err, '\x07'));
        check_int_eq(encryption_config_decrypt_as_apiserver(n, "/other", 6, CBC, sizeof CBC - 1, &out, &out_size,
                                                            err), -ENOKEY);
        check(strstr(err, "(a key of no resource)"));
}

/* kms values: kube-apiserver reads one only when the providers for its
 * resource have a kms provider of its name; whether the plugin has its key
 * cannot be told offline. */
static void test_kms(void) {
        static const char text[] =
                "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                "- resources: [secrets]\n  providers:\n"
                "  - kms: {apiVersion: v2, name: vault, endpoint: unix:///run/kms.sock}\n  - identity: {}\n"
                "- resources: [configmaps]\n  providers:\n"
                "  - kms: {apiVersion: v2, name: other, endpoint: unix:///run/kms.sock}\n";
        static const char v1[] = "k8s:enc:kms:v1:vault:xxxx", v2[] = "k8s:enc:kms:v2:vault:\x0a\x01";
        _cleanup_(encryption_config_freep) EncryptionConfig *c = load(text, 0, NULL);
        _cleanup_free_ uint8_t *out = NULL;
        char err[ENCRYPTION_ERROR_MAX];
        size_t out_size = 0;

        check(!encryption_config_lacks_key(c, "secrets", v1, sizeof v1 - 1));
        check(!encryption_config_lacks_key(c, "secrets", v2, sizeof v2 - 1));
        check(encryption_config_lacks_key(c, "configmaps", v2, sizeof v2 - 1));
        check(encryption_config_lacks_key(c, "pods", v2, sizeof v2 - 1));  /* identity alone */
        check_int_eq(encryption_config_decrypt_as_apiserver(c, KEY, strlen(KEY), v2, sizeof v2 - 1, &out, &out_size,
                                                            err), -EOPNOTSUPP);
        check_int_eq(encryption_config_decrypt_as_apiserver(c, "/registry/configmaps/ns/c", 25, v2, sizeof v2 - 1,
                                                            &out, &out_size, err), -ENOKEY);
        check(strstr(err, "no kms provider of that name"));
        check(!out);
}

/* plaintext under CONFIG's aescbc key1 (bytes 0..31), IV 0..15, as kube-apiserver writes it; its size. */
static size_t cbc_value(const char *plaintext, uint8_t out[static 512]) {
        static const char prefix[] = "k8s:enc:aescbc:v1:key1:";
        uint8_t key[32], iv[16];
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        size_t n = sizeof prefix - 1;
        int k = 0, f = 0;

        for (unsigned i = 0; i < 32; i++)
                key[i] = (uint8_t) i;
        for (unsigned i = 0; i < 16; i++)
                iv[i] = (uint8_t) i;
        check(ctx && strlen(plaintext) < 400);
        memcpy(out, prefix, n);
        memcpy(out + n, iv, 16);
        n += 16;
        check(EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, iv) == 1);
        check(EVP_EncryptUpdate(ctx, out + n, &k, (const uint8_t *) plaintext, (int) strlen(plaintext)) == 1);
        check(EVP_EncryptFinal_ex(ctx, out + n + k, &f) == 1);
        EVP_CIPHER_CTX_free(ctx);
        return n + (size_t) k + (size_t) f;
}

/* plaintext under CONFIG's aesgcm gcm1 ("defghijklmnopqrs"), nonce 0..11, the etcd key KEY as additional data, as
 * kube-apiserver writes it; its size. */
static size_t gcm_value(const char *plaintext, uint8_t out[static 512]) {
        static const char prefix[] = "k8s:enc:aesgcm:v1:gcm1:";
        static const uint8_t key[] = "defghijklmnopqrs";
        uint8_t nonce[12];
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        size_t n = sizeof prefix - 1;
        int k = 0, f = 0;

        for (unsigned i = 0; i < 12; i++)
                nonce[i] = (uint8_t) i;
        check(ctx && strlen(plaintext) < 400);
        memcpy(out, prefix, n);
        memcpy(out + n, nonce, 12);
        n += 12;
        check(EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, key, nonce) == 1);
        check(EVP_EncryptUpdate(ctx, NULL, &k, (const uint8_t *) KEY, (int) strlen(KEY)) == 1);
        check(EVP_EncryptUpdate(ctx, out + n, &k, (const uint8_t *) plaintext, (int) strlen(plaintext)) == 1);
        check(EVP_EncryptFinal_ex(ctx, out + n + k, &f) == 1);
        n += (size_t) k + (size_t) f;
        check(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out + n) == 1);
        EVP_CIPHER_CTX_free(ctx);
        return n + 16;
}

/* aescbc authenticates nothing: a wrong key gives valid padding and a first byte '{' about once in 65,000 values.
 * Only text that is JSON whole is taken for a decrypted object; garbage after a '{' is a wrong key. aesgcm
 * authenticates: a value its tag lets through is the stored one in whatever form (CBOR here, as kube-apiserver
 * 1.32 may store a custom resource), not a wrong key. */
static void test_decrypted_form(void) {
        _cleanup_(encryption_config_freep) EncryptionConfig *c = load(CONFIG, 0, NULL);
        _cleanup_free_ uint8_t *out = NULL;
        char err[ENCRYPTION_ERROR_MAX];
        size_t out_size = 0, n;
        uint8_t value[512];

        n = cbc_value("{\"kind\":\"Secret\",\"apiVersion\":\"v1\"}\n", value);
        check_int_eq(encryption_config_decrypt(c, KEY, strlen(KEY), value, n, &out, &out_size, err), 0);
        check_int_eq(out_size, strlen("{\"kind\":\"Secret\",\"apiVersion\":\"v1\"}\n"));
        n = cbc_value("{\x9d\x12\xee garbage \x01", value);
        check_int_eq(decrypt_fail(c, KEY, value, n, err), -EBADMSG);
        check(strstr(err, "wrong key or tampered"));
        n = cbc_value("{\"kind\":\"Secret\"} and more", value);
        check_int_eq(decrypt_fail(c, KEY, value, n, err), -EBADMSG);
        n = cbc_value("{\"k\":\"\xff\xfe\"}", value);  /* not UTF-8 */
        check_int_eq(decrypt_fail(c, KEY, value, n, err), -EBADMSG);

        out = mfree(out);
        n = gcm_value("\xd9\xd9\xf7\xa2\x64kind", value);
        check_int_eq(encryption_config_decrypt(c, KEY, strlen(KEY), value, n, &out, &out_size, err), 0);
        check(out_size == 9 && memcmp(out, "\xd9\xd9\xf7\xa2\x64kind", 9) == 0);
}

/* A secret whose last character before the padding has unused bits set ("…Hh9=" for "…Hh8="): Go's decoder in
 * kube-apiserver ignores them, and so does this: the same key. */
static void test_base64_unused_bits(void) {
        static const char from[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        char text[sizeof CONFIG + 8], *at;
        EncryptionConfig *c;

        memcpy(text, CONFIG, sizeof CONFIG);
        check((at = strstr(text, from)) != NULL);
        at[strlen(from) - 2] = '9';
        c = load(text, 0, NULL);
        decrypt_ok(c, CBC, sizeof CBC - 1);
        encryption_config_free(c);
}

/* A kms v1 provider's name may hold ':' (kube-apiserver forbids it for v2 only) and is written whole before the
 * data: k8s:enc:kms:v1:vault:prod:…; the longest name of the configuration is the value's. */
static void test_kms_name_with_colon(void) {
        static const char text[] =
                "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                "- resources: [secrets]\n  providers:\n"
                "  - kms: {name: \"vault:prod\", endpoint: unix:///run/kms.sock}\n  - identity: {}\n";
        static const char value[] = "k8s:enc:kms:v1:vault:prod:xxxx";
        _cleanup_(encryption_config_freep) EncryptionConfig *c = load(text, 0, NULL);
        _cleanup_free_ uint8_t *out = NULL;
        char err[ENCRYPTION_ERROR_MAX];
        size_t out_size = 0;
        EncValue v;

        encryption_config_value_parse(c, value, sizeof value - 1, &v);
        check(v.key_name && v.key_name_size == strlen("vault:prod") && memcmp(v.key_name, "vault:prod", 10) == 0);
        check(!encryption_config_lacks_key(c, "secrets", value, sizeof value - 1));
        check_int_eq(encryption_config_decrypt_as_apiserver(c, KEY, strlen(KEY), value, sizeof value - 1, &out,
                                                            &out_size, err), -EOPNOTSUPP);
        check(strstr(err, "\"vault:prod\""));
        check(!out);
}

/* A key name with ':' in another entry does not change how the value of
 * this resource is split: "a" for secrets, "a:b" for configmaps, and a
 * Secret written with "a" whose data starts with "b:". */
static void test_key_name_per_entry(void) {
        static const char text[] =
                "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                "- resources: [secrets]\n  providers:\n"
                "  - aescbc: {keys: [{name: a, secret: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}]}\n"
                "- resources: [configmaps]\n  providers:\n"
                "  - aescbc: {keys: [{name: \"a:b\", secret: ZGVmZ2hpamtsbW5vcHFycw==}]}\n";
        _cleanup_(encryption_config_freep) EncryptionConfig *c = load(text, 0, NULL);
        static const char value[] = "k8s:enc:aescbc:v1:a:b:0123456789abcdef0123456789abcdef";

        check(!encryption_config_lacks_key(c, "secrets", value, sizeof value - 1));
        check(encryption_config_lacks_key(c, "configmaps", "k8s:enc:aescbc:v1:a:xx", 22));
}

/* Every key whose name and ':' begin the value is tried, in the file's
 * order, as kube-apiserver tries them: "key" listed before "key:1" and a
 * value written with "key" whose IV begins with "1:" (the longest name
 * alone would split it as "key:1" and fail); a name given twice in one
 * provider (kube-apiserver takes the file), the value written with the
 * second's secret. The ciphertext is
 * PLAIN under key1's secret with the IV "1:abcdefghijklmn", by
 * `openssl enc -aes-256-cbc`. */
static void test_keys_tried_in_order(void) {
        static const char text[] =
                "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                "- resources: [secrets]\n  providers:\n"
                "  - aescbc:\n      keys:\n"
                "      - {name: key, secret: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}\n"
                "      - {name: \"key:1\", secret: ZGVmZ2hpamtsbW5vcHFycw==}\n"
                "      - {name: key1, secret: ZGVmZ2hpamtsbW5vcHFycw==}\n"
                "      - {name: key1, secret: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}\n";
        static const char colon[] =
                "k8s:enc:aescbc:v1:key:1:abcdefghijklmn\xf5\xf0\xcb\x78\xd4\xf3\x11\xad\xd7\x0e\x58\x13\xf9\x17"
                "\x06\x41\x2d\xbc\xc2\x46\xd7\x46\xed\x9e\x96\x3c\x97\xf7\xe0\x27\x60\x53";
        _cleanup_(encryption_config_freep) EncryptionConfig *c = load(text, 0, NULL);
        _cleanup_free_ uint8_t *out = NULL;
        char err[ENCRYPTION_ERROR_MAX];
        size_t out_size = 0;

        decrypt_ok(c, colon, sizeof colon - 1);
        check_int_eq(encryption_config_decrypt_as_apiserver(c, KEY, strlen(KEY), colon, sizeof colon - 1, &out,
                                                            &out_size, err), 0);
        check(out_size == PLAIN_SIZE && memcmp(out, PLAIN, PLAIN_SIZE) == 0);
        /* key1 twice: the first's secret is not the one CBC was written with. */
        decrypt_ok(c, CBC, sizeof CBC - 1);
}

/* Lists kube-apiserver accepts: names of one group, a wildcard of another. */
static void test_lists_accepted(void) {
        static const char text[] =
                "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                "- resources: [secrets, configmaps, '*.apps', widgets.example.com, '*.batch']\n"
                "  providers: [{identity: {}}]\n";
        _cleanup_(encryption_config_freep) EncryptionConfig *c = load(text, 0, NULL);

        check(c && c->n_resources == 1);
}

/* A resource named in two entries: kube-apiserver reads it with the
 * providers of both, in order (a wildcard after it is fine; before it, it
 * would mask it: test_bad_configs). */
static void test_resource_twice(void) {
        static const char text[] =
                "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                "- resources: [secrets, configmaps]\n  providers:\n"
                "  - aesgcm: {keys: [{name: gcm1, secret: ZGVmZ2hpamtsbW5vcHFycw==}]}\n"
                "- resources: [secrets]\n  providers:\n"
                "  - aescbc: {keys: [{name: key1, secret: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}]}\n"
                "  - identity: {}\n"
                "- resources: ['*.']\n  providers: [{identity: {}}]\n";
        _cleanup_(encryption_config_freep) EncryptionConfig *c = load(text, 0, NULL);
        _cleanup_free_ uint8_t *out = NULL;
        char err[ENCRYPTION_ERROR_MAX];
        size_t out_size = 0;

        check(encryption_config_lookup(c, "secrets") == &c->resources[0]);
        check(encryption_config_applies(c, "secrets", &c->resources[1]));
        check(!encryption_config_applies(c, "configmaps", &c->resources[1]));
        check(!encryption_config_applies(c, "secrets", &c->resources[2]));
        check(encryption_config_applies(c, "pods", &c->resources[2]));
        check_int_eq(encryption_config_decrypt_as_apiserver(c, KEY, strlen(KEY), CBC, sizeof CBC - 1, &out,
                                                            &out_size, err), 0);
        check(out && out_size == PLAIN_SIZE && memcmp(out, PLAIN, PLAIN_SIZE) == 0);
        out = mfree(out);
        check(!encryption_config_lacks_key(c, "secrets", CBC, sizeof CBC - 1));
        check(!encryption_config_lacks_key(c, "secrets", PLAIN, PLAIN_SIZE));
        check(encryption_config_has_key(c, "secrets", ENC_PROVIDER_AESCBC, "key1", 4));
        /* configmaps: the first entry alone. */
        check(encryption_config_lacks_key(c, "configmaps", CBC, sizeof CBC - 1));
        check(encryption_config_lacks_key(c, "configmaps", PLAIN, PLAIN_SIZE));
        check(!encryption_config_has_key(c, "configmaps", ENC_PROVIDER_AESCBC, "key1", 4));
        check_int_eq(encryption_config_decrypt_as_apiserver(c, "/registry/configmaps/ns/c", 25, CBC, sizeof CBC - 1,
                                                            &out, &out_size, err), -ENOKEY);
        check(!out && strstr(err, "has in another entry"));
}

/* A syntax error below the keys: refused naming the line (the keys above
 * it are wiped by the first pass, which ends at the first document). */
static void test_syntax_error(void) {
        static const char bad[] =
                "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                "- resources: [secrets]\n  providers:\n"
                "  - aescbc: {keys: [{name: a, secret: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}]}\n"
                "  - identity: {\n";
        static const char two_docs[] =
                "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                "- resources: [secrets]\n  providers:\n  - identity: {}\n---\n- [unclosed\n";
        char err[ENCRYPTION_ERROR_MAX];
        EncryptionConfig *c = load(bad, -EINVAL, err);

        check(!c);
        check(strstr(err, "line 8: not YAML"));
        c = load(two_docs, 0, err);
        check(c && c->n_resources == 1);
        encryption_config_free(c);
        /* What libyaml's loader refuses after its parser: found by the first pass too. */
        c = load("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                 "- resources: [secrets]\n  providers:\n"
                 "  - aescbc: {keys: [{name: a, secret: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}]}\n"
                 "  - identity: *nope\n", -EINVAL, err);
        check(!c && strstr(err, "line 7: not YAML: found undefined alias"));
        c = load("a: &x 1\nb: &x 2\n", -EINVAL, err);
        check(!c && strstr(err, "line 2: not YAML: found duplicate anchor"));
        {
                _cleanup_free_ char *many = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&many, &len);

                check(f);
                for (int i = 0; i < 1001; i++)
                        fprintf(f, "k%d: &a%d v\n", i, i);
                check(fclose(f) == 0);
                c = load(many, -E2BIG, err);
                check(!c && strstr(err, "line 1001: more than 1000 anchors"));
        }
}

/* Aliases: one of a key's secret is taken; lists of aliases of lists (a
 * few kilobytes that expand to millions of keys) are refused at once. */
static void test_aliases(void) {
        static const char shared[] =
                "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                "- resources: [secrets]\n  providers:\n  - aescbc: {keys: [{name: a, secret: &k MDEyMzQ1Njc4OWFiY2RlZg==}]}\n"
                "- resources: [configmaps]\n  providers:\n  - aescbc: {keys: [{name: b, secret: *k}]}\n";
        _cleanup_free_ char *bomb = NULL;
        char err[ENCRYPTION_ERROR_MAX];
        EncryptionConfig *c = NULL;
        size_t n = 0, cap = 1 << 20;

        check_int_eq(encryption_config_parse(shared, strlen(shared), &c, err), 0);
        check_int_eq((int) c->n_resources, 2);
        encryption_config_free(c);
        c = NULL;

        /* 50 keys in a provider, 2000 aliases of it in a resource, 2000
         * aliases of that resource: 200 million keys. */
        bomb = malloc(cap);
        check(bomb);
        n += (size_t) snprintf(bomb + n, cap - n, "x-prov: &p {aescbc: {keys: [");
        for (int i = 0; i < 50; i++)
                n += (size_t) snprintf(bomb + n, cap - n, "%s{name: k%d, secret: MDEyMzQ1Njc4OWFiY2RlZg==}",
                                       i ? ", " : "", i);
        n += (size_t) snprintf(bomb + n, cap - n, "]}}\nx-res: &r {resources: [secrets], providers: [");
        for (int i = 0; i < 2000; i++)
                n += (size_t) snprintf(bomb + n, cap - n, "%s*p", i ? ", " : "");
        n += (size_t) snprintf(bomb + n, cap - n, "]}\napiVersion: apiserver.config.k8s.io/v1\n"
                               "kind: EncryptionConfiguration\nresources: [");
        for (int i = 0; i < 2000; i++)
                n += (size_t) snprintf(bomb + n, cap - n, "%s*r", i ? ", " : "");
        n += (size_t) snprintf(bomb + n, cap - n, "]\n");
        check(n < cap);
        check_int_eq(encryption_config_parse(bomb, n, &c, err), -E2BIG);
        check(!c);
        check(strstr(err, "aliases"));
}

int main(void) {
        TEST_RUN(test_parse_and_decrypt);
        TEST_RUN(test_value_and_resources);
        TEST_RUN(test_apiserver_shapes);
        TEST_RUN(test_resource_patterns);
        TEST_RUN(test_bad_configs);
        TEST_RUN(test_aliases);
        TEST_RUN(test_as_apiserver);
        TEST_RUN(test_kms);
        TEST_RUN(test_kms_name_with_colon);
        TEST_RUN(test_decrypted_form);
        TEST_RUN(test_base64_unused_bits);
        TEST_RUN(test_key_name_per_entry);
        TEST_RUN(test_keys_tried_in_order);
        TEST_RUN(test_resource_twice);
        TEST_RUN(test_lists_accepted);
        TEST_RUN(test_syntax_error);
        return 0;
}
