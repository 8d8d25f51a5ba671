/* SPDX-License-Identifier: MIT */
/*
 * age.c — age v1 encryption and decryption for X25519 recipients on top of
 * OpenSSL 3 (see age.h). A file is a text header followed by a binary payload.
 * The header wraps a random 16-byte file key once per recipient: an ephemeral
 * X25519 key agreement, HKDF-SHA-256 over the shared secret salted with both
 * public keys, and ChaCha20-Poly1305 with a zero nonce; it ends with an
 * HMAC-SHA-256 over everything before it, keyed from the file key. The
 * payload is a 16-byte nonce and STREAM chunks: 64 KiB of plaintext each under
 * ChaCha20-Poly1305 with the chunk counter and a last-chunk flag as nonce, so
 * truncation and reordering are caught. The decryptor takes the header line by
 * line with hard limits (it comes from a file we did not write), learns the
 * file key only from a stanza one of its identities opens, checks the MAC
 * before trusting any of it, and then holds back one ciphertext chunk at a
 * time: a chunk is opened as non-final once more input follows it, and the
 * last one only at finish. Secrets (identities, file, wrap and payload keys,
 * plaintext buffers) are wiped with OPENSSL_cleanse before their memory goes.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "format/age.h"
#include "util/io.h"
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

/* ---- base64 (RFC 4648 standard alphabet, no padding, canonical only) ---- */

static const char b64_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(uint8_t c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

/* Writes (4n + 2) / 3 characters, no NUL. */
static void b64_encode(const uint8_t *in, size_t n, char *out) {
        uint32_t acc = 0;
        unsigned bits = 0;

        for (size_t i = 0; i < n; i++) {
                acc = acc << 8 | in[i];
                bits += 8;
                while (bits >= 6) {
                        bits -= 6;
                        *out++ = b64_alphabet[(acc >> bits) & 63];
                }
                acc &= (1u << bits) - 1;
        }
        if (bits > 0)
                *out++ = b64_alphabet[(acc << (6 - bits)) & 63];
}

/* Decode len characters; with skip_lf, line feeds between them are ignored
 * (stanza bodies). Rejects padding, other characters, an impossible length
 * and set trailing bits, so every value has exactly one accepted encoding.
 * Returns 0 or -EINVAL (also when more than out_size bytes would result). */
static int b64_decode(const char *in, size_t len, bool skip_lf, uint8_t *out, size_t out_size,
                      size_t *ret_n) {
        uint32_t acc = 0;
        unsigned bits = 0;
        size_t chars = 0, k = 0;

        for (size_t i = 0; i < len; i++) {
                int v;

                if (skip_lf && in[i] == '\n')
                        continue;
                v = b64_value((uint8_t) in[i]);
                if (v < 0)
                        return -EINVAL;
                chars++;
                acc = acc << 6 | (uint32_t) v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        if (k >= out_size)
                                return -EINVAL;
                        out[k++] = (uint8_t) (acc >> bits);
                        acc &= (1u << bits) - 1;
                }
        }
        if (chars % 4 == 1 || acc != 0)
                return -EINVAL;
        *ret_n = k;
        return 0;
}

/* ---- Bech32 (BIP 173, no length limit) ---- */

static const char bech32_charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t bech32_step(uint32_t chk) {
        static const uint32_t gen[5] = { 0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd,
                                         0x2a1462b3 };
        uint32_t top = chk >> 25;

        chk = (chk & 0x1ffffff) << 5;
        for (unsigned i = 0; i < 5; i++)
                if ((top >> i) & 1)
                        chk ^= gen[i];
        return chk;
}

static char ascii_lower(char c) {
        return c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
}

static char ascii_upper(char c) {
        return c >= 'a' && c <= 'z' ? (char) (c - 'a' + 'A') : c;
}

static uint32_t bech32_hrp_checksum(const char *hrp, size_t hrp_len) {
        uint32_t chk = 1;

        for (size_t i = 0; i < hrp_len; i++)
                chk = bech32_step(chk) ^ ((uint8_t) ascii_lower(hrp[i]) >> 5);
        chk = bech32_step(chk);
        for (size_t i = 0; i < hrp_len; i++)
                chk = bech32_step(chk) ^ ((uint8_t) ascii_lower(hrp[i]) & 31);
        return chk;
}

static int bech32_value(char c) {
        const char *p;

        c = ascii_lower(c);
        if (c == 0)
                return -1;
        p = strchr(bech32_charset, c);
        return p ? (int) (p - bech32_charset) : -1;
}

int age_bech32_decode(const char *s, char *hrp, size_t hrp_size, uint8_t *data, size_t data_size,
                      size_t *ret_n) {
        bool lower = false, upper = false;
        size_t len, sep = SIZE_MAX, k = 0;
        uint32_t chk, acc = 0;
        unsigned bits = 0;

        if (!s || !hrp || !ret_n || (!data && data_size > 0))
                return -EINVAL;
        len = strnlen(s, AGE_BECH32_MAX_CHARS + 1);
        if (len > AGE_BECH32_MAX_CHARS)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                uint8_t c = (uint8_t) s[i];

                if (c < 33 || c > 126)
                        return -EINVAL;
                if (c >= 'a' && c <= 'z')
                        lower = true;
                if (c >= 'A' && c <= 'Z')
                        upper = true;
                if (c == '1')
                        sep = i;
        }
        if (lower && upper)
                return -EINVAL;
        /* Non-empty human-readable part, six checksum characters. */
        if (sep == SIZE_MAX || sep == 0 || len - sep - 1 < 6)
                return -EINVAL;
        if (sep >= hrp_size)
                return -EINVAL;

        chk = bech32_hrp_checksum(s, sep);
        for (size_t i = sep + 1; i < len; i++) {
                int v = bech32_value(s[i]);
                if (v < 0)
                        return -EINVAL;
                chk = bech32_step(chk) ^ (uint32_t) v;
        }
        if (chk != 1)
                return -EINVAL;

        for (size_t i = sep + 1; i < len - 6; i++) {
                acc = (acc << 5 | (uint32_t) bech32_value(s[i])) & 0xfff;
                bits += 5;
                if (bits >= 8) {
                        bits -= 8;
                        if (k >= data_size)
                                return -EINVAL;
                        data[k++] = (uint8_t) (acc >> bits);
                }
        }
        /* At most four bits of zero padding. */
        if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0)
                return -EINVAL;

        memcpy(hrp, s, sep);
        hrp[sep] = 0;
        *ret_n = k;
        return 0;
}

int age_bech32_encode(const char *hrp, const uint8_t *data, size_t n, bool upper, char *out,
                      size_t out_size) {
        size_t hrp_len, need, o = 0;
        uint32_t chk, acc = 0;
        unsigned bits = 0;

        if (!hrp || !out || (!data && n > 0))
                return -EINVAL;
        hrp_len = strnlen(hrp, AGE_BECH32_MAX_CHARS);
        if (hrp_len == 0 || hrp_len >= AGE_BECH32_MAX_CHARS || n > AGE_BECH32_MAX_CHARS)
                return -EINVAL;
        for (size_t i = 0; i < hrp_len; i++)
                if ((uint8_t) hrp[i] < 33 || (uint8_t) hrp[i] > 126 ||
                    (hrp[i] >= 'A' && hrp[i] <= 'Z'))
                        return -EINVAL;
        need = hrp_len + 1 + (n * 8 + 4) / 5 + 6 + 1;
        if (out_size < need)
                return -EINVAL;

        memcpy(out, hrp, hrp_len);
        o = hrp_len;
        out[o++] = '1';
        chk = bech32_hrp_checksum(hrp, hrp_len);
        for (size_t i = 0; i < n; i++) {
                acc = (acc << 8 | data[i]) & 0xfff;
                bits += 8;
                while (bits >= 5) {
                        uint32_t v;
                        bits -= 5;
                        v = (acc >> bits) & 31;
                        chk = bech32_step(chk) ^ v;
                        out[o++] = bech32_charset[v];
                }
        }
        if (bits > 0) {
                uint32_t v = (acc << (5 - bits)) & 31;
                chk = bech32_step(chk) ^ v;
                out[o++] = bech32_charset[v];
        }
        for (unsigned i = 0; i < 6; i++)
                chk = bech32_step(chk);
        chk ^= 1;
        for (unsigned i = 0; i < 6; i++)
                out[o++] = bech32_charset[(chk >> (5 * (5 - i))) & 31];
        out[o] = 0;
        if (upper)
                for (size_t i = 0; i < o; i++)
                        out[i] = ascii_upper(out[i]);
        return 0;
}

/* ---- primitives over OpenSSL ---- */

static int x25519_public(const uint8_t secret[static AGE_KEY_BYTES],
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
static int x25519_shared(const uint8_t secret[static AGE_KEY_BYTES],
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
static int hkdf_sha256(const void *ikm, size_t ikm_len, const void *salt, size_t salt_len,
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
static int header_mac(const uint8_t file_key[static AGE_FILE_KEY_BYTES], const void *hdr,
                      size_t n, uint8_t ret[static AGE_MAC_BYTES]) {
        uint8_t key[32];
        size_t len = 0;
        int r;

        r = hkdf_sha256(file_key, AGE_FILE_KEY_BYTES, NULL, 0, "header", key);
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
static int aead_seal(EVP_CIPHER_CTX *ctx, const uint8_t key[static 32],
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

/* The reverse of aead_seal(): n bytes of ciphertext and tag at buf become
 * n - 16 bytes of plaintext. -EBADMSG when the tag does not match (buf then
 * holds garbage that must not be used). */
static int aead_open(EVP_CIPHER_CTX *ctx, const uint8_t key[static 32],
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
static void stream_nonce(uint64_t counter, bool last, uint8_t nonce[static 12]) {
        memset(nonce, 0, 12);
        for (unsigned i = 0; i < 8; i++)
                nonce[10 - i] = (uint8_t) (counter >> (8 * i));
        nonce[11] = last ? 1 : 0;
}

static int random_bytes(void *buf, size_t n) {
        if (n > INT32_MAX || RAND_bytes(buf, (int) n) != 1)
                return -EIO;
        return 0;
}

/* ---- keys ---- */

int age_recipient_parse(const char *s, AgeRecipient *ret) {
        /* A fixed scalar: clamping makes it a multiple of the cofactor, so the
         * key exchange yields zero exactly for the low-order points. */
        static const uint8_t probe[AGE_KEY_BYTES] = {
                0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
                0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
                0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
        };
        uint8_t key[AGE_KEY_BYTES], shared[AGE_KEY_BYTES];
        char hrp[8];
        size_t n = 0;
        int r;

        if (!s || !ret)
                return -EINVAL;
        if (age_bech32_decode(s, hrp, sizeof hrp, key, sizeof key, &n) < 0)
                return -EINVAL;
        if (!streq(hrp, "age") || n != AGE_KEY_BYTES)
                return -EINVAL;
        r = x25519_shared(probe, key, shared);
        OPENSSL_cleanse(shared, sizeof shared);
        if (r == -EDOM)
                return -EINVAL;
        if (r < 0)
                return r;
        memcpy(ret->public_key, key, AGE_KEY_BYTES);
        return 0;
}

int age_identity_parse(const char *s, AgeIdentity *ret) {
        AgeIdentity id = {};
        char hrp[24];
        size_t n = 0;
        int r;

        if (!s || !ret)
                return -EINVAL;
        r = age_bech32_decode(s, hrp, sizeof hrp, id.secret_key, sizeof id.secret_key, &n);
        if (r < 0 || !streq(hrp, "AGE-SECRET-KEY-") || n != AGE_KEY_BYTES) {
                age_identity_wipe(&id);
                return -EINVAL;
        }
        r = x25519_public(id.secret_key, id.public_key);
        if (r >= 0)
                *ret = id;
        age_identity_wipe(&id);
        return r;
}

int age_identity_to_recipient(const AgeIdentity *id, AgeRecipient *ret) {
        if (!id || !ret)
                return -EINVAL;
        memcpy(ret->public_key, id->public_key, AGE_KEY_BYTES);
        return 0;
}

void age_recipient_to_string(const AgeRecipient *r, char out[static AGE_RECIPIENT_STRING_SIZE]) {
        if (age_bech32_encode("age", r->public_key, AGE_KEY_BYTES, false, out,
                              AGE_RECIPIENT_STRING_SIZE) < 0)
                out[0] = 0;
}

void age_identity_to_string(const AgeIdentity *id, char out[static AGE_IDENTITY_STRING_SIZE]) {
        if (age_bech32_encode("age-secret-key-", id->secret_key, AGE_KEY_BYTES, true, out,
                              AGE_IDENTITY_STRING_SIZE) < 0)
                out[0] = 0;
}

void age_identity_wipe(AgeIdentity *id) {
        if (id)
                OPENSSL_cleanse(id, sizeof *id);
}

AgeIdentity *age_identities_free(AgeIdentity *ids, size_t n) {
        if (ids)
                OPENSSL_clear_free(ids, n * sizeof *ids);
        return NULL;
}

/* Next line of text[0, size) from *pos without its line feed and trailing
 * blanks and CR. false at the end. */
static bool next_line(const char *text, size_t size, size_t *pos, const char **ret,
                      size_t *ret_len) {
        const char *start, *lf;
        size_t len;

        if (*pos >= size)
                return false;
        start = text + *pos;
        lf = memchr(start, '\n', size - *pos);
        len = lf ? (size_t) (lf - start) : size - *pos;
        *pos += len + (lf ? 1 : 0);
        while (len > 0 && (start[len - 1] == '\r' || start[len - 1] == ' ' ||
                           start[len - 1] == '\t'))
                len--;
        *ret = start;
        *ret_len = len;
        return true;
}

static bool identity_line_skipped(const char *line, size_t len) {
        return len == 0 || line[0] == '#';
}

static int identities_parse(const char *text, size_t size, AgeIdentity **ret, size_t *ret_n) {
        AgeIdentity *ids = NULL;
        const char *line;
        size_t pos = 0, len, count = 0, i = 0;
        int r = 0;

        /* Count first: growing the array would leave copies of keys behind. */
        while (next_line(text, size, &pos, &line, &len))
                if (!identity_line_skipped(line, len))
                        count++;
        if (count == 0)
                return -ENOKEY;
        ids = calloc(count, sizeof *ids);
        if (!ids)
                return -ENOMEM;

        pos = 0;
        while (next_line(text, size, &pos, &line, &len)) {
                char buf[AGE_IDENTITY_LINE_MAX_BYTES];

                if (identity_line_skipped(line, len))
                        continue;
                if (len >= sizeof buf || memchr(line, 0, len)) {
                        r = -EBADMSG;
                        break;
                }
                memcpy(buf, line, len);
                buf[len] = 0;
                r = age_identity_parse(buf, &ids[i]);
                OPENSSL_cleanse(buf, sizeof buf);
                if (r < 0) {
                        r = r == -EINVAL ? -EBADMSG : r;
                        break;
                }
                i++;
        }
        if (r < 0) {
                age_identities_free(ids, count);
                return r;
        }
        *ret = ids;
        *ret_n = count;
        return 0;
}

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
                r = identities_parse(buf, (size_t) k, ret, ret_n);
        OPENSSL_clear_free(buf, AGE_IDENTITY_FILE_MAX_BYTES + 1);
        return r;
}

int age_detect(const void *head, size_t n) {
        static const char magic[] = AGE_VERSION_LINE "\n";

        if (!head && n > 0)
                return -EINVAL;
        return n >= sizeof magic - 1 && memcmp(head, magic, sizeof magic - 1) == 0;
}

/* ---- encryptor ---- */

struct AgeEncryptor {
        CodecSinkFn sink;
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
        r = random_bytes(secret, sizeof secret);
        if (r >= 0)
                r = x25519_public(secret, salt);
        if (r >= 0) {
                r = x25519_shared(secret, recipient->public_key, shared);
                if (r == -EDOM)
                        r = -EINVAL;
        }
        if (r >= 0) {
                memcpy(salt + AGE_KEY_BYTES, recipient->public_key, AGE_KEY_BYTES);
                r = hkdf_sha256(shared, sizeof shared, salt, sizeof salt, AGE_X25519_LABEL,
                                wrap_key);
        }
        if (r >= 0) {
                memcpy(body, file_key, AGE_FILE_KEY_BYTES);
                r = aead_seal(ctx, wrap_key, zero_nonce, body, AGE_FILE_KEY_BYTES);
        }
        if (r >= 0) {
                /* The 32-byte body is 43 columns: one final line, no wrapping. */
                memcpy(out + *pos, "-> X25519 ", 10);
                *pos += 10;
                b64_encode(salt, AGE_KEY_BYTES, out + *pos);
                *pos += AGE_B64_KEY_CHARS;
                out[(*pos)++] = '\n';
                b64_encode(body, sizeof body, out + *pos);
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

        r = random_bytes(file_key, sizeof file_key);
        if (r < 0)
                return r;
        memcpy(out, AGE_VERSION_LINE "\n", sizeof AGE_VERSION_LINE);
        pos = sizeof AGE_VERSION_LINE;
        for (size_t i = 0; i < n && r >= 0; i++)
                r = encryptor_stanza(&recipients[i], file_key, out, &pos);
        if (r >= 0) {
                memcpy(out + pos, "---", 3);
                pos += 3;
                r = header_mac(file_key, out, pos, mac);
        }
        if (r >= 0) {
                out[pos++] = ' ';
                b64_encode(mac, sizeof mac, out + pos);
                pos += AGE_B64_KEY_CHARS;
                out[pos++] = '\n';
                nonce = e->header + pos;
                r = random_bytes(nonce, AGE_NONCE_BYTES);
        }
        if (r >= 0) {
                r = hkdf_sha256(file_key, sizeof file_key, nonce, AGE_NONCE_BYTES, "payload",
                                e->payload_key);
                pos += AGE_NONCE_BYTES;
                e->header_size = pos;
        }
        OPENSSL_cleanse(file_key, sizeof file_key);
        return r;
}

int age_encryptor_new(const AgeRecipient *recipients, size_t n, CodecSinkFn sink, void *userdata,
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
        stream_nonce(e->counter, last, nonce);
        r = aead_seal(e->aead, e->payload_key, nonce, e->chunk, e->chunk_have);
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

/* ---- decryptor ---- */

typedef enum AgeDecryptorState {
        AGE_DEC_VERSION,  /* expecting the version line */
        AGE_DEC_STANZA,   /* expecting "-> …" or, after a stanza, "--- MAC" */
        AGE_DEC_BODY,     /* inside a stanza body */
        AGE_DEC_NONCE,
        AGE_DEC_PAYLOAD,
        AGE_DEC_DONE,
} AgeDecryptorState;

/* A stanza's place in the header buffer: the argument line after "-> "
 * (without its LF) and the body lines with their LFs. */
typedef struct AgeStanza {
        size_t args, args_len;
        size_t body, body_end;
} AgeStanza;

struct AgeDecryptor {
        CodecSinkFn sink;
        void *userdata;
        EVP_CIPHER_CTX *aead;

        AgeIdentity *ids; /* wiped once the header is read */
        size_t n_ids;

        AgeDecryptorState state;
        uint8_t *hdr; /* header text so far, for the MAC */
        size_t hdr_size, hdr_alloc, line_start;
        AgeStanza stanzas[AGE_STANZAS_MAX];
        size_t n_stanzas;

        uint8_t file_key[AGE_FILE_KEY_BYTES]; /* from the header until the nonce is in */
        uint8_t nonce[AGE_NONCE_BYTES];
        size_t nonce_have;
        uint8_t payload_key[32];
        uint8_t *chunk; /* AGE_CHUNK_CT_BYTES: ciphertext, opened in place */
        size_t chunk_have;
        uint64_t counter;

        int error;
        bool finished;
};

int age_decryptor_new(const AgeIdentity *ids, size_t n, CodecSinkFn sink, void *userdata,
                      AgeDecryptor **ret) {
        _cleanup_(age_decryptor_freep) AgeDecryptor *d = NULL;

        if (!ids || n == 0 || n > SIZE_MAX / sizeof *ids || !sink || !ret)
                return -EINVAL;
        d = calloc(1, sizeof *d);
        if (!d)
                return -ENOMEM;
        d->sink = sink;
        d->userdata = userdata;
        d->aead = EVP_CIPHER_CTX_new();
        d->ids = malloc(n * sizeof *ids);
        if (!d->aead || !d->ids)
                return -ENOMEM;
        memcpy(d->ids, ids, n * sizeof *ids);
        d->n_ids = n;
        *ret = TAKE_PTR(d);
        return 0;
}

static void decryptor_drop_header(AgeDecryptor *d) {
        d->ids = age_identities_free(d->ids, d->n_ids);
        d->n_ids = 0;
        d->hdr = mfree(d->hdr);
        d->hdr_size = d->hdr_alloc = d->line_start = 0;
}

static int decryptor_fail(AgeDecryptor *d, int error) {
        d->error = error;
        decryptor_drop_header(d);
        OPENSSL_cleanse(d->file_key, sizeof d->file_key);
        OPENSSL_cleanse(d->payload_key, sizeof d->payload_key);
        return error;
}

static bool is_vchar(char c) {
        return (uint8_t) c >= 0x21 && (uint8_t) c <= 0x7e;
}

/* Split an argument line (after "-> ") into at most max arguments; every
 * argument is 1*VCHAR and they are separated by exactly one space. Returns
 * the number of arguments (which may exceed max; only max are stored) or
 * -EBADMSG. */
static int split_args(const char *s, size_t len, const char **args, size_t *lens, size_t max) {
        size_t count = 0, start = 0;

        if (len == 0)
                return -EBADMSG;
        for (size_t i = 0; i <= len; i++) {
                if (i < len && s[i] != ' ') {
                        if (!is_vchar(s[i]))
                                return -EBADMSG;
                        continue;
                }
                if (i == start)
                        return -EBADMSG;
                if (count < max) {
                        args[count] = s + start;
                        lens[count] = i - start;
                }
                count++;
                start = i + 1;
        }
        return count > INT32_MAX ? -EBADMSG : (int) count;
}

static bool arg_is(const char *arg, size_t len, const char *s) {
        return len == strlen(s) && memcmp(arg, s, len) == 0;
}

/* Try every identity on one X25519 stanza. 1 and the file key when one
 * opens it, 0 when none does, -EBADMSG for a malformed stanza. */
static int decryptor_unwrap_x25519(AgeDecryptor *d, const AgeStanza *s, int nargs,
                                   const char *share_b64, size_t share_len,
                                   uint8_t file_key[static AGE_FILE_KEY_BYTES]) {
        static const uint8_t zero_nonce[12] = {};
        _cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *ctx = NULL;
        uint8_t salt[2 * AGE_KEY_BYTES], body[AGE_FILE_KEY_BYTES + AGE_TAG_BYTES];
        size_t n = 0;
        int r = 0;

        if (nargs != 2)
                return -EBADMSG;
        if (b64_decode(share_b64, share_len, false, salt, AGE_KEY_BYTES, &n) < 0 ||
            n != AGE_KEY_BYTES)
                return -EBADMSG;
        /* Exactly 32 bytes before any decryption is tried. */
        if (b64_decode((const char *) d->hdr + s->body, s->body_end - s->body, true, body,
                       sizeof body, &n) < 0 ||
            n != sizeof body)
                return -EBADMSG;
        ctx = EVP_CIPHER_CTX_new();
        if (!ctx)
                return -ENOMEM;

        for (size_t i = 0; i < d->n_ids && r == 0; i++) {
                uint8_t shared[AGE_KEY_BYTES], wrap_key[32], tmp[sizeof body];

                r = x25519_shared(d->ids[i].secret_key, salt, shared);
                if (r == -EDOM)
                        r = -EBADMSG; /* a low-order share: never made honestly */
                if (r >= 0) {
                        memcpy(salt + AGE_KEY_BYTES, d->ids[i].public_key, AGE_KEY_BYTES);
                        r = hkdf_sha256(shared, sizeof shared, salt, sizeof salt,
                                        AGE_X25519_LABEL, wrap_key);
                }
                if (r >= 0) {
                        memcpy(tmp, body, sizeof tmp);
                        r = aead_open(ctx, wrap_key, zero_nonce, tmp, sizeof tmp);
                        if (r == 0) {
                                memcpy(file_key, tmp, AGE_FILE_KEY_BYTES);
                                r = 1;
                        } else if (r == -EBADMSG)
                                r = 0; /* addressed to someone else */
                }
                OPENSSL_cleanse(shared, sizeof shared);
                OPENSSL_cleanse(wrap_key, sizeof wrap_key);
                OPENSSL_cleanse(tmp, sizeof tmp);
        }
        return r;
}

/* The header is complete (mac_mark is where "---" ends): find the file key
 * in a stanza one of our identities opens, then check the MAC with it. The
 * file key is written to file_key also on failure; the caller wipes it. */
static int decryptor_header_done(AgeDecryptor *d, size_t mac_mark,
                                 const uint8_t mac[static AGE_MAC_BYTES],
                                 uint8_t file_key[static AGE_FILE_KEY_BYTES]) {
        uint8_t want[AGE_MAC_BYTES];
        int r = 0;

        for (size_t i = 0; i < d->n_stanzas && r == 0; i++) {
                const AgeStanza *s = &d->stanzas[i];
                const char *args[2];
                size_t lens[2];
                int nargs;

                nargs = split_args((const char *) d->hdr + s->args, s->args_len, args, lens, 2);
                if (nargs < 0)
                        return nargs;
                /* Other recipient types are not ours to judge; the MAC covers them. */
                if (!arg_is(args[0], lens[0], "X25519"))
                        continue;
                r = decryptor_unwrap_x25519(d, s, nargs, nargs >= 2 ? args[1] : NULL,
                                            nargs >= 2 ? lens[1] : 0, file_key);
        }
        if (r < 0)
                return r;
        if (r == 0)
                return -EACCES;

        r = header_mac(file_key, d->hdr, mac_mark, want);
        if (r < 0)
                return r;
        if (CRYPTO_memcmp(want, mac, AGE_MAC_BYTES) != 0)
                return -EBADMSG;
        return 0;
}

/* Whether the first line (its first bytes at least) opens an armored file. */
static bool is_armor_line(const char *line, size_t len) {
        while (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
                line++;
                len--;
        }
        return len >= strlen(AGE_ARMOR_BEGIN) &&
               memcmp(line, AGE_ARMOR_BEGIN, strlen(AGE_ARMOR_BEGIN)) == 0;
}

/* The same for a first line that is too long, whose start is split between
 * the header buffer and the input at hand. */
static bool is_armor_start(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
        char line[AGE_FIRST_LINE_MAX_BYTES];
        size_t n = MIN(an, sizeof line), m;

        if (n > 0)
                memcpy(line, a, n);
        m = MIN(bn, sizeof line - n);
        if (m > 0)
                memcpy(line + n, b, m);
        return is_armor_line(line, n + m);
}

/* One complete header line (its LF is the last byte of hdr). */
static int decryptor_header_line(AgeDecryptor *d) {
        const char *line = (const char *) d->hdr + d->line_start;
        size_t len = d->hdr_size - d->line_start - 1;
        int r;

        switch (d->state) {
        case AGE_DEC_VERSION:
                if (arg_is(line, len, AGE_VERSION_LINE))
                        d->state = AGE_DEC_STANZA;
                else
                        return is_armor_line(line, len) ? -EPROTONOSUPPORT : -EBADMSG;
                break;

        case AGE_DEC_STANZA:
                if (len >= 3 && memcmp(line, "-> ", 3) == 0) {
                        AgeStanza *s;
                        const char *a[1];
                        size_t l[1];

                        if (d->n_stanzas >= AGE_STANZAS_MAX)
                                return -EBADMSG;
                        r = split_args(line + 3, len - 3, a, l, 1);
                        if (r < 0)
                                return r;
                        s = &d->stanzas[d->n_stanzas++];
                        s->args = d->line_start + 3;
                        s->args_len = len - 3;
                        s->body = s->body_end = d->hdr_size;
                        d->state = AGE_DEC_BODY;
                } else if (len >= 3 && memcmp(line, "---", 3) == 0) {
                        uint8_t mac[AGE_MAC_BYTES];
                        size_t n = 0;

                        if (d->n_stanzas == 0 || len != 4 + AGE_B64_KEY_CHARS || line[3] != ' ')
                                return -EBADMSG;
                        if (b64_decode(line + 4, AGE_B64_KEY_CHARS, false, mac, sizeof mac,
                                       &n) < 0 || n != sizeof mac)
                                return -EBADMSG;
                        r = decryptor_header_done(d, d->line_start + 3, mac, d->file_key);
                        if (r < 0)
                                return r;
                        d->state = AGE_DEC_NONCE;
                        decryptor_drop_header(d);
                        return 0;
                } else
                        return -EBADMSG;
                break;

        case AGE_DEC_BODY:
                if (len > AGE_BODY_COLUMNS)
                        return -EBADMSG;
                for (size_t i = 0; i < len; i++)
                        if (b64_value((uint8_t) line[i]) < 0)
                                return -EBADMSG;
                d->stanzas[d->n_stanzas - 1].body_end = d->hdr_size;
                /* A body ends with its first line shorter than 64 columns. */
                if (len < AGE_BODY_COLUMNS)
                        d->state = AGE_DEC_STANZA;
                break;

        default:
                return -EINVAL;
        }
        d->line_start = d->hdr_size;
        return 0;
}

static size_t decryptor_line_max(const AgeDecryptor *d) {
        switch (d->state) {
        case AGE_DEC_VERSION:
                return AGE_FIRST_LINE_MAX_BYTES;
        case AGE_DEC_BODY:
                return AGE_BODY_COLUMNS;
        default:
                return AGE_ARG_LINE_MAX_BYTES;
        }
}

/* Take header bytes from *p up to the end of the header. */
static int decryptor_feed_header(AgeDecryptor *d, const uint8_t **p, size_t *n) {
        while (*n > 0 && d->state <= AGE_DEC_BODY) {
                const uint8_t *lf = memchr(*p, '\n', *n);
                size_t take = lf ? (size_t) (lf - *p) + 1 : *n;
                size_t line_len = d->hdr_size - d->line_start + take - (lf ? 1 : 0);
                int r;

                if (line_len > decryptor_line_max(d)) {
                        if (d->state == AGE_DEC_VERSION &&
                            is_armor_start(d->hdr, d->hdr_size, *p, take))
                                return -EPROTONOSUPPORT;
                        return -EBADMSG;
                }
                if (d->hdr_size + take > AGE_HEADER_MAX_BYTES)
                        return -EBADMSG;
                if (d->hdr_size + take > d->hdr_alloc) {
                        size_t na = MAX(d->hdr_alloc * 2, (size_t) 1024);
                        uint8_t *nb;

                        while (na < d->hdr_size + take)
                                na *= 2;
                        na = MIN(na, AGE_HEADER_MAX_BYTES);
                        nb = realloc(d->hdr, na);
                        if (!nb)
                                return -ENOMEM;
                        d->hdr = nb;
                        d->hdr_alloc = na;
                }
                memcpy(d->hdr + d->hdr_size, *p, take);
                d->hdr_size += take;
                *p += take;
                *n -= take;
                if (lf) {
                        r = decryptor_header_line(d);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Authenticate the buffered chunk as final or not and pass its plaintext on. */
static int decryptor_open_chunk(AgeDecryptor *d, bool last) {
        uint8_t nonce[12];
        size_t m;
        int r;

        if (d->chunk_have < AGE_TAG_BYTES || d->counter == UINT64_MAX)
                return -EBADMSG;
        stream_nonce(d->counter, last, nonce);
        r = aead_open(d->aead, d->payload_key, nonce, d->chunk, d->chunk_have);
        if (r < 0)
                return r;
        m = d->chunk_have - AGE_TAG_BYTES;
        /* Only an empty file has an empty (and then only) chunk. */
        if (last && m == 0 && d->counter > 0)
                return -EBADMSG;
        d->counter++;
        d->chunk_have = 0;
        if (m > 0) {
                r = d->sink(d->chunk, m, d->userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int decryptor_feed_payload(AgeDecryptor *d, const uint8_t *p, size_t n) {
        int r;

        if (d->state == AGE_DEC_NONCE && n > 0) {
                size_t take = MIN(AGE_NONCE_BYTES - d->nonce_have, n);

                memcpy(d->nonce + d->nonce_have, p, take);
                d->nonce_have += take;
                p += take;
                n -= take;
                if (d->nonce_have < AGE_NONCE_BYTES)
                        return 0;
                r = hkdf_sha256(d->file_key, sizeof d->file_key, d->nonce, sizeof d->nonce,
                                "payload", d->payload_key);
                OPENSSL_cleanse(d->file_key, sizeof d->file_key);
                if (r < 0)
                        return r;
                d->chunk = malloc(AGE_CHUNK_CT_BYTES);
                if (!d->chunk)
                        return -ENOMEM;
                d->state = AGE_DEC_PAYLOAD;
        }
        while (n > 0) {
                size_t take;

                if (d->state != AGE_DEC_PAYLOAD)
                        return -EBADMSG;
                /* More input after a full chunk: it was not the last one. */
                if (d->chunk_have == AGE_CHUNK_CT_BYTES) {
                        r = decryptor_open_chunk(d, false);
                        if (r < 0)
                                return r;
                }
                take = MIN(AGE_CHUNK_CT_BYTES - d->chunk_have, n);
                memcpy(d->chunk + d->chunk_have, p, take);
                d->chunk_have += take;
                p += take;
                n -= take;
        }
        return 0;
}

int age_decryptor_write(AgeDecryptor *d, const void *data, size_t n) {
        const uint8_t *p = data;
        int r;

        if (!d || (!data && n > 0))
                return -EINVAL;
        if (d->error < 0)
                return d->error;
        if (d->finished)
                return -EINVAL;
        r = decryptor_feed_header(d, &p, &n);
        if (r >= 0)
                r = decryptor_feed_payload(d, p, n);
        if (r < 0)
                return decryptor_fail(d, r);
        return 0;
}

int age_decryptor_finish(AgeDecryptor *d) {
        int r;

        if (!d)
                return -EINVAL;
        if (d->error < 0 || d->finished)
                return d->error;
        /* Ended in the header, in the nonce, or right after a non-final chunk. */
        if (d->state != AGE_DEC_PAYLOAD || d->chunk_have == 0)
                return decryptor_fail(d, -EBADMSG);
        r = decryptor_open_chunk(d, true);
        if (r < 0)
                return decryptor_fail(d, r);
        d->state = AGE_DEC_DONE;
        d->finished = true;
        OPENSSL_cleanse(d->payload_key, sizeof d->payload_key);
        return 0;
}

AgeDecryptor *age_decryptor_free(AgeDecryptor *d) {
        if (!d)
                return NULL;
        decryptor_drop_header(d);
        EVP_CIPHER_CTX_free(d->aead);
        if (d->chunk)
                OPENSSL_clear_free(d->chunk, AGE_CHUNK_CT_BYTES);
        OPENSSL_cleanse(d, sizeof *d);
        free(d);
        return NULL;
}
