/* SPDX-License-Identifier: MIT */
/*
 * age-encrypt.c — the streaming encryptor: a header with one X25519 stanza
 * per recipient and its MAC, then the payload in 64 KiB chunks sealed with
 * ChaCha20-Poly1305, pushed to the sink in constant memory.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "format/age-internal.h"

/* ---- encryptor ---- */

struct AgeEncryptor {
        SinkFn sink;
        void *userdata;
        EVP_CIPHER_CTX *aead;

        uint8_t *header; /* header text and payload nonce, until sent */
        size_t header_size;

        uint8_t payload_key[32];
        uint8_t *chunk; /* AGE_CHUNK_CT_BYTES: plaintext, sealed in place */
        size_t chunk_have;
        uint64_t counter;

        int error;
        bool finished;
};

/* Append one X25519 stanza for recipient wrapping file_key at *pos. */
static int encryptor_stanza(const AgeRecipient *recipient,
                            const uint8_t file_key[static AGE_FILE_KEY_BYTES], char *out,
                            size_t *pos) {
        static const uint8_t zero_nonce[12] = {};
        _cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *ctx = NULL;
        uint8_t secret[AGE_KEY_BYTES], shared[AGE_KEY_BYTES], wrap_key[32];
        uint8_t salt[2 * AGE_KEY_BYTES], body[AGE_FILE_KEY_BYTES + AGE_TAG_BYTES];
        int r;

        ctx = EVP_CIPHER_CTX_new();
        if (!ctx)
                return -ENOMEM;
        r = age_random_bytes(secret, sizeof secret);
        if (r >= 0)
                r = age_x25519_public(secret, salt);
        if (r >= 0) {
                r = age_x25519_shared(secret, recipient->public_key, shared);
                if (r == -EDOM)
                        r = -EINVAL;
        }
        if (r >= 0) {
                memcpy(salt + AGE_KEY_BYTES, recipient->public_key, AGE_KEY_BYTES);
                r = age_hkdf_sha256(shared, sizeof shared, salt, sizeof salt, AGE_X25519_LABEL,
                                wrap_key);
        }
        if (r >= 0) {
                memcpy(body, file_key, AGE_FILE_KEY_BYTES);
                r = age_aead_seal(ctx, wrap_key, zero_nonce, body, AGE_FILE_KEY_BYTES);
        }
        if (r >= 0) {
                /* The 32-byte body is 43 columns: one final line, no wrapping. */
                memcpy(out + *pos, "-> X25519 ", 10);
                *pos += 10;
                age_b64_encode(salt, AGE_KEY_BYTES, out + *pos);
                *pos += AGE_B64_KEY_CHARS;
                out[(*pos)++] = '\n';
                age_b64_encode(body, sizeof body, out + *pos);
                *pos += AGE_B64_KEY_CHARS;
                out[(*pos)++] = '\n';
        }
        OPENSSL_cleanse(secret, sizeof secret);
        OPENSSL_cleanse(shared, sizeof shared);
        OPENSSL_cleanse(wrap_key, sizeof wrap_key);
        OPENSSL_cleanse(body, sizeof body);
        return r;
}

static int encryptor_header(AgeEncryptor *e, const AgeRecipient *recipients, size_t n) {
        static const size_t stanza_size = 10 + AGE_B64_KEY_CHARS + 1 + AGE_B64_KEY_CHARS + 1;
        uint8_t file_key[AGE_FILE_KEY_BYTES], mac[AGE_MAC_BYTES], *nonce = NULL;
        size_t size, pos = 0;
        char *out;
        int r;

        size = sizeof AGE_VERSION_LINE + n * stanza_size + 4 + AGE_B64_KEY_CHARS + 1 +
               AGE_NONCE_BYTES;
        e->header = malloc(size);
        if (!e->header)
                return -ENOMEM;
        out = (char *) e->header;

        r = age_random_bytes(file_key, sizeof file_key);
        if (r < 0)
                return r;
        memcpy(out, AGE_VERSION_LINE "\n", sizeof AGE_VERSION_LINE);
        pos = sizeof AGE_VERSION_LINE;
        for (size_t i = 0; i < n && r >= 0; i++)
                r = encryptor_stanza(&recipients[i], file_key, out, &pos);
        if (r >= 0) {
                memcpy(out + pos, "---", 3);
                pos += 3;
                r = age_header_mac(file_key, out, pos, mac);
        }
        if (r >= 0) {
                out[pos++] = ' ';
                age_b64_encode(mac, sizeof mac, out + pos);
                pos += AGE_B64_KEY_CHARS;
                out[pos++] = '\n';
                nonce = e->header + pos;
                r = age_random_bytes(nonce, AGE_NONCE_BYTES);
        }
        if (r >= 0) {
                r = age_hkdf_sha256(file_key, sizeof file_key, nonce, AGE_NONCE_BYTES, "payload",
                                e->payload_key);
                pos += AGE_NONCE_BYTES;
                e->header_size = pos;
        }
        OPENSSL_cleanse(file_key, sizeof file_key);
        return r;
}

int age_encryptor_new(const AgeRecipient *recipients, size_t n, SinkFn sink, void *userdata,
                      AgeEncryptor **ret) {
        _cleanup_(age_encryptor_freep) AgeEncryptor *e = NULL;
        int r;

        if (!recipients || n == 0 || n > AGE_STANZAS_MAX || !sink || !ret)
                return -EINVAL;
        e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        e->sink = sink;
        e->userdata = userdata;
        e->aead = EVP_CIPHER_CTX_new();
        e->chunk = malloc(AGE_CHUNK_CT_BYTES);
        if (!e->aead || !e->chunk)
                return -ENOMEM;
        r = encryptor_header(e, recipients, n);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(e);
        return 0;
}

static int encryptor_fail(AgeEncryptor *e, int error) {
        e->error = error;
        return error;
}

static int encryptor_send_header(AgeEncryptor *e) {
        int r;

        if (!e->header)
                return 0;
        r = e->sink(e->header, e->header_size, e->userdata);
        e->header = mfree(e->header);
        return r < 0 ? r : 0;
}

static int encryptor_seal(AgeEncryptor *e, bool last) {
        uint8_t nonce[12];
        int r;

        if (e->counter == UINT64_MAX)
                return -EFBIG;
        age_stream_nonce(e->counter, last, nonce);
        r = age_aead_seal(e->aead, e->payload_key, nonce, e->chunk, e->chunk_have);
        if (r < 0)
                return r;
        r = e->sink(e->chunk, e->chunk_have + AGE_TAG_BYTES, e->userdata);
        if (r < 0)
                return r;
        e->counter++;
        e->chunk_have = 0;
        return 0;
}

int age_encryptor_write(AgeEncryptor *e, const void *data, size_t n) {
        const uint8_t *p = data;
        int r;

        if (!e || (!data && n > 0))
                return -EINVAL;
        if (e->error < 0)
                return e->error;
        if (e->finished)
                return -EINVAL;
        r = encryptor_send_header(e);
        if (r < 0)
                return encryptor_fail(e, r);
        while (n > 0) {
                size_t take;

                /* A full chunk is sealed only once more data shows it is not the last. */
                if (e->chunk_have == AGE_CHUNK_BYTES) {
                        r = encryptor_seal(e, false);
                        if (r < 0)
                                return encryptor_fail(e, r);
                }
                take = MIN(AGE_CHUNK_BYTES - e->chunk_have, n);
                memcpy(e->chunk + e->chunk_have, p, take);
                e->chunk_have += take;
                p += take;
                n -= take;
        }
        return 0;
}

int age_encryptor_finish(AgeEncryptor *e) {
        int r;

        if (!e)
                return -EINVAL;
        if (e->error < 0 || e->finished)
                return e->error;
        r = encryptor_send_header(e);
        if (r >= 0)
                r = encryptor_seal(e, true);
        if (r < 0)
                return encryptor_fail(e, r);
        e->finished = true;
        OPENSSL_cleanse(e->payload_key, sizeof e->payload_key);
        return 0;
}

AgeEncryptor *age_encryptor_free(AgeEncryptor *e) {
        if (!e)
                return NULL;
        EVP_CIPHER_CTX_free(e->aead);
        free(e->header);
        if (e->chunk)
                OPENSSL_clear_free(e->chunk, AGE_CHUNK_CT_BYTES);
        OPENSSL_cleanse(e, sizeof *e);
        free(e);
        return NULL;
}
