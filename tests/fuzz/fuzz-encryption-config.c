/* SPDX-License-Identifier: MIT */
/*
 * fuzz-encryption-config.c — libFuzzer target for the EncryptionConfiguration
 * reader and the value decryption. The input is a configuration; when it
 * parses, its tail after the last "\n#value:" line (if any) is decrypted as a
 * stored value with it. Checks: a failure always has a message and never an
 * object, keys have the sizes their providers allow, decryption never
 * returns success for an authenticated provider with the wrong bytes.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/encryption-config.h"
#include "util/macro.h"
#include "fuzz.h"

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

        if (value) {
                static const char key[] = "/registry/secrets/default/s1";
                _cleanup_free_ uint8_t *out = NULL;
                size_t out_size = 0;
                EncValue v;

                enc_value_parse(value, value_size, &v);
                r = encryption_config_decrypt(c, key, sizeof key - 1, value, value_size, &out, &out_size, err);
                if (r < 0) {
                        require(!out && err[0]);
                } else {
                        require(out);
                        if (!v.encrypted)
                                require(out_size == value_size && memcmp(out, value, value_size) == 0);
                        else
                                require(out_size < value_size);
                }
        }
        return 0;
}
