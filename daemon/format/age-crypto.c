/* SPDX-License-Identifier: MIT */
/*
 * age-crypto.c — the primitives age is built from, over OpenSSL: X25519,
 * HKDF-SHA-256, the header's HMAC, ChaCha20-Poly1305 and the STREAM
 * nonces of the payload, random bytes.
 */

#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "format/age-internal.h"

/* ---- primitives over OpenSSL ---- */

int age_x25519_public(const uint8_t secret[static AGE_KEY_BYTES],
                         uint8_t ret[static AGE_KEY_BYTES]) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        size_t len = AGE_KEY_BYTES;

        key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, secret, AGE_KEY_BYTES);
        if (!key)
                return -EIO;
        if (EVP_PKEY_get_raw_public_key(key, ret, &len) != 1 || len != AGE_KEY_BYTES)
                return -EIO;
        return 0;
}

/* X25519(secret, peer). -EDOM when the result is all zero (peer is a
 * low-order point; OpenSSL refuses those itself), -EIO for other failures. */
int age_x25519_shared(const uint8_t secret[static AGE_KEY_BYTES],
                         const uint8_t peer[static AGE_KEY_BYTES],
                         uint8_t ret[static AGE_KEY_BYTES]) {
        static const uint8_t zero[AGE_KEY_BYTES] = {};
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL, *peer_key = NULL;
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
        size_t len = AGE_KEY_BYTES;

        key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, secret, AGE_KEY_BYTES);
        peer_key = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, AGE_KEY_BYTES);
        if (!key || !peer_key)
                return -EIO;
        ctx = EVP_PKEY_CTX_new(key, NULL);
        if (!ctx || EVP_PKEY_derive_init(ctx) != 1)
                return -EIO;
        if (EVP_PKEY_derive_set_peer(ctx, peer_key) != 1)
                return -EDOM;
        if (EVP_PKEY_derive(ctx, ret, &len) != 1 || len != AGE_KEY_BYTES) {
                OPENSSL_cleanse(ret, AGE_KEY_BYTES);
                return -EDOM;
        }
        if (CRYPTO_memcmp(ret, zero, AGE_KEY_BYTES) == 0)
                return -EDOM;
        return 0;
}

/* HKDF-SHA-256 with 32 bytes of output; an empty salt is the RFC's default. */
int age_hkdf_sha256(const void *ikm, size_t ikm_len, const void *salt, size_t salt_len,
                       const char *info, uint8_t ret[static 32]) {
        _cleanup_(EVP_KDF_freep) EVP_KDF *kdf = NULL;
        _cleanup_(EVP_KDF_CTX_freep) EVP_KDF_CTX *ctx = NULL;
        OSSL_PARAM params[5], *p = params;

        kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
        if (!kdf)
                return -EIO;
        ctx = EVP_KDF_CTX_new(kdf);
        if (!ctx)
                return -ENOMEM;
        *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *) "SHA256", 0);
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *) ikm, ikm_len);
        if (salt_len > 0)
                *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *) salt,
                                                         salt_len);
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *) info,
                                                 strlen(info));
        *p = OSSL_PARAM_construct_end();
        if (EVP_KDF_derive(ctx, ret, 32, params) != 1)
                return -EIO;
        return 0;
}

/* The header MAC over hdr[0, n) with the key derived from the file key. */
int age_header_mac(const uint8_t file_key[static AGE_FILE_KEY_BYTES], const void *hdr,
                      size_t n, uint8_t ret[static AGE_MAC_BYTES]) {
        uint8_t key[32];
        size_t len = 0;
        int r;

        r = age_hkdf_sha256(file_key, AGE_FILE_KEY_BYTES, NULL, 0, "header", key);
        if (r < 0)
                return r;
        if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, sizeof key, hdr, n, ret,
                       AGE_MAC_BYTES, &len) || len != AGE_MAC_BYTES)
                r = -EIO;
        OPENSSL_cleanse(key, sizeof key);
        return r;
}

/* ChaCha20-Poly1305 in place: n plaintext bytes at buf become ciphertext
 * followed by the tag (buf must have room for n + 16). */
int age_aead_seal(EVP_CIPHER_CTX *ctx, const uint8_t key[static 32],
                     const uint8_t nonce[static 12], uint8_t *buf, size_t n) {
        int len = 0;

        if (n > INT32_MAX)
                return -EINVAL;
        if (EVP_CipherInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, nonce, 1) != 1)
                return -EIO;
        if (n > 0 && (EVP_CipherUpdate(ctx, buf, &len, buf, (int) n) != 1 || (size_t) len != n))
                return -EIO;
        if (EVP_CipherFinal_ex(ctx, buf + n, &len) != 1 || len != 0)
                return -EIO;
        if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, AGE_TAG_BYTES, buf + n) != 1)
                return -EIO;
        return 0;
}

/* The reverse of age_aead_seal(): n bytes of ciphertext and tag at buf become
 * n - 16 bytes of plaintext. -EBADMSG when the tag does not match (buf then
 * holds garbage that must not be used). */
int age_aead_open(EVP_CIPHER_CTX *ctx, const uint8_t key[static 32],
                     const uint8_t nonce[static 12], uint8_t *buf, size_t n) {
        size_t m;
        int len = 0;

        if (n < AGE_TAG_BYTES || n > INT32_MAX)
                return -EBADMSG;
        m = n - AGE_TAG_BYTES;
        if (EVP_CipherInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, nonce, 0) != 1)
                return -EIO;
        if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, AGE_TAG_BYTES, buf + m) != 1)
                return -EIO;
        if (m > 0 && (EVP_CipherUpdate(ctx, buf, &len, buf, (int) m) != 1 || (size_t) len != m))
                return -EIO;
        if (EVP_CipherFinal_ex(ctx, buf + m, &len) != 1)
                return -EBADMSG;
        return 0;
}

/* STREAM nonce: 11-byte big-endian counter, then the last-chunk flag. */
void age_stream_nonce(uint64_t counter, bool last, uint8_t nonce[static 12]) {
        memset(nonce, 0, 12);
        for (unsigned i = 0; i < 8; i++)
                nonce[10 - i] = (uint8_t) (counter >> (8 * i));
        nonce[11] = last ? 1 : 0;
}

int age_random_bytes(void *buf, size_t n) {
        if (n > INT32_MAX || RAND_bytes(buf, (int) n) != 1)
                return -EIO;
        return 0;
}
