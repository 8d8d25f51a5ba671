/* SPDX-License-Identifier: MIT */
/*
 * age-decrypt.c — the streaming decryptor: reads the header line by line
 * (bounded), unwraps the file key with the first identity that opens a
 * stanza, checks the header MAC, then opens the payload chunk by chunk and
 * hands on only authenticated plaintext.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "format/age-internal.h"

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
        SinkFn sink;
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

int age_decryptor_new(const AgeIdentity *ids, size_t n, SinkFn sink, void *userdata,
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
        if (age_b64_decode(share_b64, share_len, false, salt, AGE_KEY_BYTES, &n) < 0 ||
            n != AGE_KEY_BYTES)
                return -EBADMSG;
        /* Exactly 32 bytes before any decryption is tried. */
        if (age_b64_decode((const char *) d->hdr + s->body, s->body_end - s->body, true, body,
                       sizeof body, &n) < 0 ||
            n != sizeof body)
                return -EBADMSG;
        ctx = EVP_CIPHER_CTX_new();
        if (!ctx)
                return -ENOMEM;

        for (size_t i = 0; i < d->n_ids && r == 0; i++) {
                uint8_t shared[AGE_KEY_BYTES], wrap_key[32], tmp[sizeof body];

                r = age_x25519_shared(d->ids[i].secret_key, salt, shared);
                if (r == -EDOM)
                        r = -EBADMSG; /* a low-order share: never made honestly */
                if (r >= 0) {
                        memcpy(salt + AGE_KEY_BYTES, d->ids[i].public_key, AGE_KEY_BYTES);
                        r = age_hkdf_sha256(shared, sizeof shared, salt, sizeof salt,
                                        AGE_X25519_LABEL, wrap_key);
                }
                if (r >= 0) {
                        memcpy(tmp, body, sizeof tmp);
                        r = age_aead_open(ctx, wrap_key, zero_nonce, tmp, sizeof tmp);
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

        r = age_header_mac(file_key, d->hdr, mac_mark, want);
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
                        if (age_b64_decode(line + 4, AGE_B64_KEY_CHARS, false, mac, sizeof mac,
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
                /* Canonical base64 for every stanza, opened or not (a line of 64 columns is 48 bytes whole, so
                 * line by line is the body whole): what age itself refuses is refused here too. */
                {
                        uint8_t scratch[AGE_BODY_COLUMNS / 4 * 3];
                        size_t n;
                        if (age_b64_decode(line, len, false, scratch, sizeof scratch, &n) < 0)
                                return -EBADMSG;
                }
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
        age_stream_nonce(d->counter, last, nonce);
        r = age_aead_open(d->aead, d->payload_key, nonce, d->chunk, d->chunk_have);
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
                r = age_hkdf_sha256(d->file_key, sizeof d->file_key, d->nonce, sizeof d->nonce,
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
