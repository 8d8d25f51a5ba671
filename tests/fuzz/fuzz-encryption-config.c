/* SPDX-License-Identifier: MIT */
/*
 * fuzz-encryption-config.c — libFuzzer target for the EncryptionConfiguration
 * reader and the value decryption. The input is a configuration; when it
 * parses, its tail after the last "\n#value:" line (if any) is decrypted as a
 * stored value with it, both ways (every entry's keys; as kube-apiserver,
 * the entry of the key's resource alone) under a Secret's, a Deployment's, a
 * custom resource's and a key outside /registry/, and is classified and
 * labelled as the audit and `objects` do. Checks: a failure always has a
 * message and never an object, keys have the sizes their providers allow,
 * decryption never returns success for an authenticated provider with the
 * wrong bytes, a value kube-apiserver's way reads is not said to lack its
 * key, the split value stays inside the input, labels are printable.
 */

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/encryption-config.h"
#include "format/secrets.h"
#include "util/macro.h"
#include "fuzz.h"

static const char *const etcd_keys[] = {
        "/registry/secrets/default/s1",
        "/registry/deployments/default/d1",
        "/registry/example.com/widgets/default/w1",
        "/other/key",
};

static void check_label(const char *label, size_t size) {
        size_t n = strnlen(label, size);

        require(n < size);
        for (size_t i = 0; i < n; i++)
                require(isalnum((unsigned char) label[i]) || strchr("._-:?", label[i]));
}

static void check_split(const EncValue *v, const uint8_t *value, size_t size) {
        if (!v->encrypted)
                return;
        require(v->provider && (const uint8_t *) v->provider >= value);
        require((const uint8_t *) v->provider + v->provider_size <= value + size);
        if (v->key_name) {
                require((const uint8_t *) v->key_name >= (const uint8_t *) v->provider + v->provider_size);
                require((const uint8_t *) v->key_name + v->key_name_size <= value + size);
                require(v->data >= (const uint8_t *) v->key_name + v->key_name_size);
        }
        if (v->data)
                require(v->data + v->data_size == value + size);
}

static void check_value(const EncryptionConfig *c, const char *key, const uint8_t *value, size_t size) {
        _cleanup_free_ char *resource = encryption_resource_of_key(key, strlen(key));
        char err[ENCRYPTION_ERROR_MAX], label[SECRETS_LABEL_MAX];
        EncValue v, vc;
        int r;

        if (!resource)
                return;
        enc_value_parse(value, size, &v);
        check_split(&v, value, size);
        encryption_config_value_parse(c, value, size, &vc);
        check_split(&vc, value, size);
        require(v.encrypted == vc.encrypted);
        require(enc_value_label(&vc, label, sizeof label) == vc.encrypted);
        if (vc.encrypted)
                check_label(label, sizeof label);
        if (secrets_classify(value, size, label, sizeof label) == SECRETS_STORAGE_ENCRYPTED)
                require(v.encrypted);
        check_label(label, sizeof label);

        for (int apiserver = 0; apiserver < 2; apiserver++) {
                _cleanup_free_ uint8_t *out = NULL;
                size_t out_size = 0;

                err[0] = 0;
                r = (apiserver ? encryption_config_decrypt_as_apiserver : encryption_config_decrypt)(
                        c, key, strlen(key), value, size, &out, &out_size, err);
                if (r < 0) {
                        require(!out && err[0] && strlen(err) < ENCRYPTION_ERROR_MAX);
                        continue;
                }
                require(out);
                if (!v.encrypted)
                        require(out_size == size && memcmp(out, value, size) == 0);
                else
                        require(out_size < size);
                /* What kube-apiserver reads with c it does not lack the key for. */
                if (apiserver)
                        require(!encryption_config_lacks_key(c, resource, value, size));
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(encryption_config_freep) EncryptionConfig *c = NULL;
        static const char marker[] = "\n#value:";
        char err[ENCRYPTION_ERROR_MAX];
        const uint8_t *value = NULL;
        size_t config_size = size, value_size = 0;
        int r;

        for (size_t i = 0; i + sizeof marker - 1 <= size; i++)
                if (memcmp(data + i, marker, sizeof marker - 1) == 0) {
                        config_size = i;
                        value = data + i + sizeof marker - 1;
                        value_size = size - i - (sizeof marker - 1);
                }

        r = encryption_config_parse(data, config_size, &c, err);
        if (r < 0) {
                require(!c);
                require(err[0] != 0 && strlen(err) < ENCRYPTION_ERROR_MAX);
                return 0;
        }
        require(c && c->n_resources > 0);
        for (size_t i = 0; i < c->n_resources; i++)
                for (size_t j = 0; j < c->resources[i].n_providers; j++) {
                        const EncProvider *p = &c->resources[i].providers[j];

                        for (size_t k = 0; k < p->n_keys; k++) {
                                if (p->type == ENC_PROVIDER_SECRETBOX)
                                        require(p->keys[k].size == 32);
                                else
                                        require(p->keys[k].size == 16 || p->keys[k].size == 24 ||
                                                p->keys[k].size == 32);
                        }
                }

        if (value)
                for (size_t i = 0; i < ELEMENTSOF(etcd_keys); i++)
                        check_value(c, etcd_keys[i], value, value_size);
        return 0;
}
