/* SPDX-License-Identifier: MIT */
/*
 * fuzz-k8s-ctl.c — libFuzzer target for what etcd-backupctl prints of a
 * backup's Kubernetes objects: `get -o json|yaml|manifest` (as one key and
 * as a list), `objects` (table and JSON) and the encryption part of `audit
 * --encryption-config`, over keys and values as a backup would hand them
 * over. The input is a series of records, each a key (2-byte big-endian
 * length, then the key) and a value (4-byte length, then the value); the
 * values are read with an EncryptionConfiguration that knows the keys of
 * the encryption-config corpus (key1, gcm1, box1). What the commands print
 * (stdio's stdout and stderr, while they run) goes to /dev/null; libFuzzer's
 * and the sanitizers' reports do not. Every command must return its exit
 * code: objects 0 (writing to /dev/null cannot fail), audit the same count
 * of unreadable Secrets with and without JSON.
 */

#include <errno.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/k8s.h"
#include "util/macro.h"
#include "fuzz.h"

#define MAX_KVS 256
#define SECRETS "/registry/secrets/"

static const char config_text[] =
        "apiVersion: apiserver.config.k8s.io/v1\n"
        "kind: EncryptionConfiguration\n"
        "resources:\n"
        "  - resources: [secrets, configmaps, '*.apps']\n"
        "    providers:\n"
        "      - aescbc:\n"
        "          keys:\n"
        "            - name: key1\n"
        "              secret: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
        "      - aesgcm:\n"
        "          keys:\n"
        "            - name: gcm1\n"
        "              secret: ZGVmZ2hpamtsbW5vcHFycw==\n"
        "      - secretbox:\n"
        "          keys:\n"
        "            - name: box1\n"
        "              secret: MjM0NTY3ODk6Ozw9Pj9AQUJDREVGR0hJSktMTU5PUFE=\n"
        "      - identity: {}\n";

static EncryptionConfig *config(void) {
        static EncryptionConfig *c = NULL;
        char err[ENCRYPTION_ERROR_MAX];

        if (!c)
                require(encryption_config_parse(config_text, sizeof config_text - 1, &c, err) == 0);
        return c;
}

/* stdio's stdout and stderr to /dev/null (on) or back (off). */
static void quiet(bool on) {
        static FILE *null = NULL, *out = NULL, *err = NULL;

        if (!null) {
                null = fopen("/dev/null", "we");
                require(null);
                out = stdout;
                err = stderr;
        }
        stdout = on ? null : out;
        stderr = on ? null : err;
}

static uint64_t be(const uint8_t *p, size_t n) {
        uint64_t v = 0;

        for (size_t i = 0; i < n; i++)
                v = v << 8 | p[i];
        return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const EncryptionConfig *c = config();
        MvccKv kvs[MAX_KVS], secrets[MAX_KVS];
        size_t n = 0, n_secrets = 0, o = 0;
        int r;

        while (n < MAX_KVS && o + 2 <= size) {
                size_t key_size = (size_t) be(data + o, 2), value_size;

                o += 2;
                if (key_size == 0 || key_size > size - o || size - o - key_size < 4)
                        break;
                value_size = (size_t) be(data + o + key_size, 4);
                if (value_size > size - o - key_size - 4)
                        break;
                kvs[n] = (MvccKv) {
                        .key = data + o, .key_size = key_size,
                        .create_revision = (int64_t) n + 1, .mod_revision = (int64_t) n + 2, .version = 1,
                        .value = data + o + key_size + 4, .value_size = value_size,
                };
                if (key_size > strlen(SECRETS) && memcmp(data + o, SECRETS, strlen(SECRETS)) == 0)
                        secrets[n_secrets++] = kvs[n];
                o += key_size + 4 + value_size;
                n++;
        }

        quiet(true);
        for (int out = CTL_K8S_OUTPUT_JSON; out < _CTL_K8S_OUTPUT_MAX; out++) {
                r = ctl_k8s_print("get", kvs, n, true, (CtlK8sOutput) out, c);
                require(r == 0 || r == 1);
                if (n > 0) {
                        r = ctl_k8s_print("get", kvs, 1, false, (CtlK8sOutput) out, NULL);
                        require(r == 0 || r == 1);
                }
        }
        for (int json = 0; json < 2; json++) {
                require(ctl_k8s_objects("objects", kvs, n, NULL, NULL, json) == 0);
                require(ctl_k8s_objects("objects", kvs, n, "secrets", "default", json) == 0);
        }
        {
                json_object *j = json_object_new_object();
                int unreadable;

                require(j);
                unreadable = ctl_k8s_audit_encryption(secrets, n_secrets, c, "fuzz.yaml", j);
                require(unreadable >= 0 && (size_t) unreadable <= n_secrets);
                json_object_put(j);
                r = ctl_k8s_audit_encryption(secrets, n_secrets, c, "fuzz.yaml", NULL);
                require(r == unreadable);
        }
        quiet(false);
        return 0;
}
