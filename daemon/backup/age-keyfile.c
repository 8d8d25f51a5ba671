/* SPDX-License-Identifier: MIT */
/*
 * age-keyfile.c — reads an age identity file into one buffer of the largest
 * size allowed, never grown (so no stray copies of the key are left in freed
 * memory), parses it, and wipes the buffer.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/types.h>

#include <openssl/crypto.h>

#include "backup/age-keyfile.h"
#include "util/io.h"
#include "util/macro.h"

int age_identity_load_file(const char *path, AgeIdentity **ret, size_t *ret_n) {
        _cleanup_close_ int fd = -EBADF;
        char *buf;
        ssize_t k;
        int r;

        if (!path || !ret || !ret_n)
                return -EINVAL;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        /* One buffer of the maximum size, never grown: no stray key copies. */
        buf = malloc(AGE_IDENTITY_FILE_MAX_BYTES + 1);
        if (!buf)
                return -ENOMEM;
        k = loop_read(fd, buf, AGE_IDENTITY_FILE_MAX_BYTES + 1);
        if (k < 0)
                r = (int) k;
        else if ((size_t) k > AGE_IDENTITY_FILE_MAX_BYTES)
                r = -EFBIG;
        else
                r = age_identities_parse(buf, (size_t) k, ret, ret_n);
        OPENSSL_clear_free(buf, AGE_IDENTITY_FILE_MAX_BYTES + 1);
        return r;
}
