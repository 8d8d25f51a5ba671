/* SPDX-License-Identifier: MIT */
/*
 * age-keyfile.c — reads an age identity file with read_secret_file() (one
 * buffer, never grown, wiped on failure), parses it, and wipes the buffer.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "backup/age-keyfile.h"
#include "util/io.h"
#include "util/str.h"

int age_identity_load_file(const char *path, AgeIdentity **ret, size_t *ret_n, char **ret_error) {
        const char *why = NULL;
        size_t line = 0, size;
        char *buf;
        int r;

        if (!path || !ret || !ret_n)
                return -EINVAL;
        r = read_secret_file(path, AGE_IDENTITY_FILE_MAX_BYTES, &buf, &size);
        if (r >= 0) {
                r = age_identities_parse(buf, size, ret, ret_n, &line, &why);
                OPENSSL_clear_free(buf, size);
        }
        if (r >= 0 || !ret_error)
                return r;
        if (r == -EBADMSG && line > 0 && why)
                (void) free_and_format(ret_error, "line %zu: %s", line, why);
        else if (r == -ENOKEY)
                (void) free_and_format(ret_error, "no age identity in it (only comments and blank lines)");
        else if (r == -EFBIG)
                (void) free_and_format(ret_error, "larger than %zu bytes: not an age identity file",
                                       AGE_IDENTITY_FILE_MAX_BYTES);
        else
                (void) free_and_format(ret_error, "%s", strerror(-r));
        return r;
}
