/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * age-internal.h — what the files of the age module share: the format's
 * constants, base64 as age writes it, and the primitives over OpenSSL
 * (X25519, HKDF-SHA-256, the header MAC, ChaCha20-Poly1305, the payload's
 * nonces). Not for other modules.
 */

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format/age.h"
#include "util/macro.h"


#define AGE_VERSION_LINE "age-encryption.org/v1"
#define AGE_ARMOR_BEGIN "-----BEGIN AGE ENCRYPTED FILE-----"
#define AGE_X25519_LABEL "age-encryption.org/v1/X25519"

#define AGE_FILE_KEY_BYTES 16U
#define AGE_NONCE_BYTES 16U
#define AGE_TAG_BYTES 16U
#define AGE_MAC_BYTES 32U
#define AGE_CHUNK_CT_BYTES (AGE_CHUNK_BYTES + AGE_TAG_BYTES)

/* Base64 of 32 bytes, unpadded; header body lines wrap at this many columns. */
#define AGE_B64_KEY_CHARS 43U
#define AGE_BODY_COLUMNS 64U

/* The first line is read up to this length: enough to recognise an armored
 * file's BEGIN line and tell the caller so. */
#define AGE_FIRST_LINE_MAX_BYTES 64U

/* Longest Bech32 string we look at (age's post-quantum keys are ~2000). */
#define AGE_BECH32_MAX_CHARS 4096U

/* A line of an identity file longer than this cannot be an identity. */
#define AGE_IDENTITY_LINE_MAX_BYTES 256U

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY_CTX *, EVP_PKEY_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_KDF *, EVP_KDF_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_KDF_CTX *, EVP_KDF_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_CIPHER_CTX *, EVP_CIPHER_CTX_free);

/* ---- age.c: base64 ---- */

/* The value of a base64 character, -1 for any other byte. */
int age_b64_value(uint8_t c);

/* Writes (4n + 2) / 3 characters, no NUL. */
void age_b64_encode(const uint8_t *in, size_t n, char *out);

/* Decode len characters; with skip_lf, line feeds between them are ignored
 * (stanza bodies). Rejects padding, other characters, an impossible length
 * and set trailing bits, so every value has exactly one accepted encoding.
 * Returns 0 or -EINVAL (also when more than out_size bytes would result). */
int age_b64_decode(const char *in, size_t len, bool skip_lf, uint8_t *out, size_t out_size,
                      size_t *ret_n);

/* ---- age-crypto.c ---- */

int age_x25519_public(const uint8_t secret[static AGE_KEY_BYTES],
                         uint8_t ret[static AGE_KEY_BYTES]);

/* X25519(secret, peer). -EDOM when the result is all zero (peer is a
 * low-order point; OpenSSL refuses those itself), -EIO for other failures. */
int age_x25519_shared(const uint8_t secret[static AGE_KEY_BYTES],
                         const uint8_t peer[static AGE_KEY_BYTES],
                         uint8_t ret[static AGE_KEY_BYTES]);

/* HKDF-SHA-256 with 32 bytes of output; an empty salt is the RFC's default. */
int age_hkdf_sha256(const void *ikm, size_t ikm_len, const void *salt, size_t salt_len,
                       const char *info, uint8_t ret[static 32]);

/* The header MAC over hdr[0, n) with the key derived from the file key. */
int age_header_mac(const uint8_t file_key[static AGE_FILE_KEY_BYTES], const void *hdr,
                      size_t n, uint8_t ret[static AGE_MAC_BYTES]);

/* ChaCha20-Poly1305 in place: n plaintext bytes at buf become ciphertext
 * followed by the tag (buf must have room for n + 16). */
int age_aead_seal(EVP_CIPHER_CTX *ctx, const uint8_t key[static 32],
                     const uint8_t nonce[static 12], uint8_t *buf, size_t n);

/* The reverse of aead_seal(): n bytes of ciphertext and tag at buf become
 * n - 16 bytes of plaintext. -EBADMSG when the tag does not match (buf then
 * holds garbage that must not be used). */
int age_aead_open(EVP_CIPHER_CTX *ctx, const uint8_t key[static 32],
                     const uint8_t nonce[static 12], uint8_t *buf, size_t n);

/* STREAM nonce: 11-byte big-endian counter, then the last-chunk flag. */
void age_stream_nonce(uint64_t counter, bool last, uint8_t nonce[static 12]);

int age_random_bytes(void *buf, size_t n);
