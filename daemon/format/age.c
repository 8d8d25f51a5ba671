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

#include "format/age-internal.h"
#include "util/macro.h"
/* ---- base64 (RFC 4648 standard alphabet, no padding, canonical only) ---- */

static const char b64_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int age_b64_value(uint8_t c) {
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
void age_b64_encode(const uint8_t *in, size_t n, char *out) {
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
int age_b64_decode(const char *in, size_t len, bool skip_lf, uint8_t *out, size_t out_size,
                      size_t *ret_n) {
        uint32_t acc = 0;
        unsigned bits = 0;
        size_t chars = 0, k = 0;

        for (size_t i = 0; i < len; i++) {
                int v;

                if (skip_lf && in[i] == '\n')
                        continue;
                v = age_b64_value((uint8_t) in[i]);
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
        r = age_x25519_shared(probe, key, shared);
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
        r = age_x25519_public(id.secret_key, id.public_key);
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

/* Why a line is not an identity, in words that quote nothing of it (it may
 * be a key with a typo). */
static const char *identity_line_refused(const char *line, size_t len) {
        if (memchr(line, 0, len))
                return "it holds a NUL byte (a binary file?)";
        if (len >= AGE_IDENTITY_LINE_MAX_BYTES)
                return "it is longer than any age identity";
        if (line[0] == ' ' || line[0] == '\t')
                return "it begins with a space or a tab, which age does not take either";
        if (len >= 4 && memcmp(line, "age1", 4) == 0)
                return "it is a public key (age1...), which cannot open a backup; the identity is the "
                       "AGE-SECRET-KEY-1... line age-keygen wrote";
        if (len >= 11 && memcmp(line, "AGE-PLUGIN-", 11) == 0)
                return "it is an age plugin's identity (AGE-PLUGIN-...), and plugins are not supported; use an "
                       "X25519 identity (AGE-SECRET-KEY-1...)";
        if (len >= 10 && memcmp(line, "-----BEGIN", 10) == 0)
                return "it begins an armored age file, not a key";
        if (len >= 16 && memcmp(line, "AGE-SECRET-KEY-1", 16) == 0)
                return "it is not a valid AGE-SECRET-KEY-1... identity (its checksum or length is wrong: a typo, "
                       "or cut?)";
        return "it is not an age identity (one AGE-SECRET-KEY-1... per line, as age-keygen writes them)";
}

int age_identities_parse(const char *text, size_t size, AgeIdentity **ret, size_t *ret_n, size_t *ret_line,
                         const char **ret_why) {
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
        for (size_t number = 1; next_line(text, size, &pos, &line, &len); number++) {
                char buf[AGE_IDENTITY_LINE_MAX_BYTES];

                if (identity_line_skipped(line, len))
                        continue;
                if (len >= sizeof buf || memchr(line, 0, len))
                        r = -EBADMSG;
                else {
                        memcpy(buf, line, len);
                        buf[len] = 0;
                        r = age_identity_parse(buf, &ids[i]);
                        OPENSSL_cleanse(buf, sizeof buf);
                }
                if (r < 0) {
                        if (r == -EINVAL || r == -EBADMSG) {
                                r = -EBADMSG;
                                if (ret_line)
                                        *ret_line = number;
                                if (ret_why)
                                        *ret_why = identity_line_refused(line, len);
                        }
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

int age_detect(const void *head, size_t n) {
        static const char magic[] = AGE_VERSION_LINE "\n";

        if (!head && n > 0)
                return -EINVAL;
        return n >= sizeof magic - 1 && memcmp(head, magic, sizeof magic - 1) == 0;
}
