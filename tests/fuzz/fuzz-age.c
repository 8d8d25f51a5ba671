/* SPDX-License-Identifier: MIT */
/*
 * fuzz-age.c — libFuzzer target for the age decryptor and key parsers.
 *
 * The input is an age file. It is decrypted with a fixed test identity
 * (generated once with age-keygen; the seed corpus holds files encrypted to
 * it, so the fuzzer starts past the header MAC) three times: in one write,
 * byte by byte through the header and then in odd-sized pieces, and in
 * pseudo-random pieces. All three must end with the same result and hand the
 * sink the same bytes, in chunks of at most 64 KiB; the result must be one of
 * the documented errors, and an error must stick. The first bytes are also
 * tried as a recipient, an identity and generic Bech32: whatever parses must
 * format back to exactly the same string. The whole input is also read as an
 * identity file.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/age.h"
#include "util/macro.h"
#include "fuzz.h"

/* Public key age1za00n6xfr5ger340r8vcx6rmurzx7s9euhaxzn93vgvw0xug39ds56m6q6;
 * a key for tests only. */
static const char fuzz_identity[] =
        "AGE-SECRET-KEY-1W40C4RTZGGP6F9A7FDVRQ6HQS6A5GK5UMT7WUYU9GM3YR7L33PQSFWW654";

typedef struct Out {
        uint64_t hash;
        uint64_t size;
} Out;

static int on_plaintext(const void *p, size_t n, void *userdata) {
        const uint8_t *b = p;
        Out *o = userdata;

        require(n > 0 && n <= AGE_CHUNK_BYTES);
        for (size_t i = 0; i < n; i++) {
                o->hash ^= b[i];
                o->hash *= UINT64_C(0x100000001b3);
        }
        o->size += n;
        return 0;
}

static uint64_t rng_next(uint64_t *s) {
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        return *s * UINT64_C(2685821657736338717);
}

static int decrypt(const AgeIdentity *id, const uint8_t *data, size_t size, unsigned pattern,
                   Out *out) {
        _cleanup_(age_decryptor_freep) AgeDecryptor *d = NULL;
        uint64_t seed = size * UINT64_C(0x9e3779b97f4a7c15) + 1;
        int r = 0;

        *out = (Out) { .hash = UINT64_C(0xcbf29ce484222325) };
        require(age_decryptor_new(id, 1, on_plaintext, out, &d) == 0);
        for (size_t i = 0; i < size;) {
                size_t k;

                switch (pattern) {
                case 0:
                        k = size;
                        break;
                case 1:
                        k = i < 300 ? 1 : 4093;
                        break;
                default:
                        k = 1 + (size_t) (rng_next(&seed) % 70001);
                        break;
                }
                k = MIN(k, size - i);
                r = age_decryptor_write(d, data + i, k);
                if (r < 0) {
                        require(age_decryptor_write(d, data, size > 0 ? 1 : 0) == r);
                        break;
                }
                i += k;
        }
        if (r == 0)
                r = age_decryptor_finish(d);
        require(age_decryptor_finish(d) == r);
        return r;
}

static void fuzz_strings(const uint8_t *data, size_t size) {
        char s[256], back[256], hrp[128];
        uint8_t bytes[160];
        size_t n = MIN(size, sizeof s - 1);
        AgeRecipient r;
        AgeIdentity id;

        memcpy(s, data, n);
        s[n] = 0;

        if (age_recipient_parse(s, &r) == 0) {
                age_recipient_to_string(&r, back);
                require(strcmp(back, s) == 0);
        }
        if (age_identity_parse(s, &id) == 0) {
                age_identity_to_string(&id, back);
                require(strcmp(back, s) == 0);
                age_identity_wipe(&id);
        }
        if (age_bech32_decode(s, hrp, sizeof hrp, bytes, sizeof bytes, &n) == 0) {
                bool upper = false;

                for (char *c = hrp; *c; c++)
                        if (*c >= 'A' && *c <= 'Z') {
                                *c = (char) (*c - 'A' + 'a');
                                upper = true;
                        }
                for (const char *c = s; *c && !upper; c++)
                        upper = *c >= 'A' && *c <= 'Z';
                require(age_bech32_encode(hrp, bytes, n, upper, back, sizeof back) == 0);
                require(strcmp(back, s) == 0);
        }
}

/* The input as an identity file: its identities, or a refused line's
 * number within the text and a reason. */
static void fuzz_identity_file(const uint8_t *data, size_t size) {
        AgeIdentity *ids = NULL;
        const char *why = NULL;
        size_t n = 0, line = 0, lines = 1;
        int r;

        r = age_identities_parse((const char *) data, size, &ids, &n, &line, &why);
        require(r == 0 || r == -EBADMSG || r == -ENOKEY);
        if (r == 0) {
                require(n > 0 && ids);
                ids = age_identities_free(ids, n);
        }
        for (size_t i = 0; i < size; i++)
                lines += data[i] == '\n';
        require(r != -EBADMSG || (line >= 1 && line <= lines && why && *why));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static AgeIdentity id;
        static bool loaded;
        Out out[3];
        int r[3];

        if (!loaded) {
                require(age_identity_parse(fuzz_identity, &id) == 0);
                loaded = true;
        }
        for (unsigned p = 0; p < 3; p++) {
                r[p] = decrypt(&id, data, size, p, &out[p]);
                require(r[p] == 0 || r[p] == -EBADMSG || r[p] == -EACCES ||
                        r[p] == -EPROTONOSUPPORT);
        }
        for (unsigned p = 1; p < 3; p++) {
                require(r[p] == r[0]);
                require(out[p].size == out[0].size && out[p].hash == out[0].hash);
        }
        if (r[0] == 0)
                require(age_detect(data, size) == 1);
        if (r[0] == -EPROTONOSUPPORT)
                require(age_detect(data, size) == 0);

        fuzz_strings(data, size);
        fuzz_identity_file(data, size);
        return 0;
}
