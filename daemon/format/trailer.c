/* SPDX-License-Identifier: MIT */
/*
 * trailer.c — SHA-256 trailer check of etcd's snapshot stream (see trailer.h).
 */

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "format/trailer.h"

struct Trailer {
        EVP_MD_CTX *md;
        uint8_t tail[TRAILER_BYTES];    /* the last bytes seen, not yet hashed */
        size_t tail_size;
        uint64_t hashed;
};

int trailer_new(Trailer **ret) {
        Trailer *t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->md = EVP_MD_CTX_new();
        if (!t->md || EVP_DigestInit_ex(t->md, EVP_sha256(), NULL) != 1) {
                trailer_free(t);
                return -ENOMEM;
        }
        *ret = t;
        return 0;
}

Trailer *trailer_free(Trailer *t) {
        if (!t)
                return NULL;
        EVP_MD_CTX_free(t->md);
        free(t);
        return NULL;
}

static int hash(Trailer *t, const void *data, size_t n) {
        if (n == 0)
                return 0;
        if (EVP_DigestUpdate(t->md, data, n) != 1)
                return -EIO;
        t->hashed += n;
        return 0;
}

int trailer_feed(Trailer *t, const void *data, size_t n) {
        const uint8_t *p = data;
        int r;

        if (n >= TRAILER_BYTES) {
                /* Everything held back is now known not to be the trailer,
                 * and so is all of p but its last 32 bytes. */
                r = hash(t, t->tail, t->tail_size);
                if (r < 0)
                        return r;
                r = hash(t, p, n - TRAILER_BYTES);
                if (r < 0)
                        return r;
                memcpy(t->tail, p + n - TRAILER_BYTES, TRAILER_BYTES);
                t->tail_size = TRAILER_BYTES;
                return 0;
        }

        /* Fewer than 32 new bytes: push out of the tail what no longer fits. */
        if (t->tail_size + n > TRAILER_BYTES) {
                size_t out = t->tail_size + n - TRAILER_BYTES;
                r = hash(t, t->tail, out);
                if (r < 0)
                        return r;
                memmove(t->tail, t->tail + out, t->tail_size - out);
                t->tail_size -= out;
        }
        memcpy(t->tail + t->tail_size, p, n);
        t->tail_size += n;
        return 0;
}

int trailer_stream_sha256(const Trailer *t, uint8_t ret[static TRAILER_BYTES]) {
        uint8_t digest[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        EVP_MD_CTX *md;
        int r = 0;

        md = EVP_MD_CTX_new();
        if (!md)
                return -ENOMEM;
        if (EVP_MD_CTX_copy_ex(md, t->md) != 1 ||
            (t->tail_size > 0 && EVP_DigestUpdate(md, t->tail, t->tail_size) != 1) ||
            EVP_DigestFinal_ex(md, digest, &len) != 1 || len != TRAILER_BYTES)
                r = -EIO;
        else
                memcpy(ret, digest, TRAILER_BYTES);
        EVP_MD_CTX_free(md);
        return r;
}

int trailer_finish(Trailer *t, uint8_t ret_db_sha256[static TRAILER_BYTES], uint64_t *ret_db_size) {
        uint8_t digest[EVP_MAX_MD_SIZE];
        unsigned len = 0;

        if (t->tail_size < TRAILER_BYTES)
                return -EPIPE;
        if (EVP_DigestFinal_ex(t->md, digest, &len) != 1 || len != TRAILER_BYTES)
                return -EIO;
        if (CRYPTO_memcmp(digest, t->tail, TRAILER_BYTES) != 0)
                return -EBADMSG;
        if (ret_db_sha256)
                memcpy(ret_db_sha256, digest, TRAILER_BYTES);
        if (ret_db_size)
                *ret_db_size = t->hashed;
        return 0;
}
