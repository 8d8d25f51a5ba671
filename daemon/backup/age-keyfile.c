/* SPDX-License-Identifier: MIT */
/*
 * age-keyfile.c — reads an age identity file with read_secret_file() (one
 * buffer, never grown, wiped on failure), parses it, and wipes the buffer.
 */

#include <errno.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#include "backup/age-keyfile.h"
#include "util/io.h"

int age_identity_load_file(const char *path, AgeIdentity **ret, size_t *ret_n) {
        char *buf;
        size_t size;
        int r;

        if (!path || !ret || !ret_n)
                return -EINVAL;
        r = read_secret_file(path, AGE_IDENTITY_FILE_MAX_BYTES, &buf, &size);
        if (r < 0)
                return r;
        r = age_identities_parse(buf, size, ret, ret_n);
        OPENSSL_clear_free(buf, size);
        return r;
}
