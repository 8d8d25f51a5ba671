/* SPDX-License-Identifier: MIT */
/*
 * test-age.c — age v1 against the real thing: identities come from
 * age-keygen, files we encrypt (fed in random-sized writes, sizes around the
 * 64 KiB chunk) must open with `age -d` byte for byte, and files from
 * `age -r` must open here, also with several recipients. Then the hostile
 * side: wrong identities (-EACCES), every byte of a header and payload
 * flipped, every truncation point of the header and the interesting ones of
 * the payload, oversized and malformed headers, armored files, trailing data
 * (always an error, never a crash, never unauthenticated output). Files
 * forged here with a small independent implementation (OpenSSL directly)
 * cover what age itself never writes: unknown stanzas with multi-line bodies,
 * an empty final chunk after a full one, low-order shares. Bech32 uses the
 * BIP 173 vectors and the key pair from the age specification. Without age
 * installed, the interoperability parts are skipped and the rest still runs.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "backup/age-keyfile.h"
#include "format/age.h"
#include "test.h"
#include "util/io.h"
#include "util/macro.h"

#define CHUNK AGE_CHUNK_BYTES
#define CT_CHUNK (CHUNK + 16)

static char tmp_dir[] = "/tmp/test-age.XXXXXX";
static bool have_age;

/* ---- helpers --------------------------------------------------------------- */

typedef struct Buf {
        uint8_t *data;
        size_t size;
        size_t alloc;
} Buf;

static void buf_done(Buf *b) {
        free(b->data);
        *b = (Buf) {};
}

static void buf_add(Buf *b, const void *p, size_t n) {
        if (b->size + n + 1 > b->alloc) {
                size_t na = MAX(b->alloc * 2, b->size + n + 1);
                b->data = realloc(b->data, na);
                check(b->data);
                b->alloc = na;
        }
        if (n > 0)
                memcpy(b->data + b->size, p, n);
        b->size += n;
        b->data[b->size] = 0;
}

static void buf_adds(Buf *b, const char *s) {
        buf_add(b, s, strlen(s));
}

static int on_buf(const void *p, size_t n, void *userdata) {
        check(n > 0);
        buf_add(userdata, p, n);
        return 0;
}

static int on_fail(const void *p, size_t n, void *userdata) {
        return -ENOSPC;
}

/* xorshift64*: fixed seeds give the same data and splits on every run. */
static uint64_t rng_next(uint64_t *s) {
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        return *s * UINT64_C(2685821657736338717);
}

static uint8_t *make_data(size_t n, uint64_t seed) {
        uint8_t *p = malloc(n + 1);

        check(p);
        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t) (rng_next(&seed) >> 56);
        return p;
}

/* A piece size for split feeding: mostly small and odd, sometimes large. */
static size_t piece(uint64_t *seed) {
        uint64_t x = rng_next(seed);

        switch (x % 4) {
        case 0:
                return 1 + (size_t) (x >> 8) % 17;
        case 1:
                return 1 + (size_t) (x >> 8) % 4096;
        default:
                return 1 + (size_t) (x >> 8) % (3 * CHUNK);
        }
}

static _printf_(1, 2) int run(const char *fmt, ...) {
        char cmd[4096];
        va_list ap;
        int st;

        va_start(ap, fmt);
        check(vsnprintf(cmd, sizeof cmd, fmt, ap) < (int) sizeof cmd);
        va_end(ap);
        st = system(cmd);
        return st == -1 ? -1 : WEXITSTATUS(st);
}

static char *tmp_path(const char *name) {
        char *p = NULL;

        check(asprintf(&p, "%s/%s", tmp_dir, name) > 0);
        return p;
}

static void write_file(const char *path, const void *p, size_t n) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        check(fd >= 0);
        check_int_eq(loop_write(fd, p, n), 0);
}

static void read_file(const char *path, Buf *ret) {
        char *p = NULL;
        size_t n = 0;

        check_int_eq(read_full_file(path, 64u << 20, &p, &n), 0);
        buf_done(ret);
        ret->data = (uint8_t *) p;
        ret->size = ret->alloc = n;
}

typedef struct Key {
        char name[16];
        char *path;
        AgeIdentity id;
        AgeRecipient recipient;
        char pub[AGE_RECIPIENT_STRING_SIZE];
} Key;

/* A key pair from age-keygen (or, without age, from our own encoder),
 * cross-checked: the public key we compute equals `age-keygen -y`. */
static void key_make(Key *k, const char *name) {
        AgeIdentity *ids = NULL;
        size_t n = 0;

        snprintf(k->name, sizeof k->name, "%s", name);
        k->path = tmp_path(name);
        if (have_age) {
                char line[256] = "";
                FILE *f;

                char cmd[512];

                check_int_eq(run("age-keygen -o '%s' 2>/dev/null", k->path), 0);
                snprintf(cmd, sizeof cmd, "age-keygen -y '%s'", k->path);
                f = popen(cmd, "r");
                check(f);
                check(fgets(line, sizeof line, f));
                check_int_eq(pclose(f), 0);
                line[strcspn(line, "\n")] = 0;
                check(strlen(line) < sizeof k->pub);
                memcpy(k->pub, line, strlen(line) + 1);
        } else {
                uint8_t secret[32];
                char s[AGE_IDENTITY_STRING_SIZE];
                AgeIdentity id;
                AgeRecipient r;
                Buf b = {};

                check(RAND_bytes(secret, sizeof secret) == 1);
                check_int_eq(age_bech32_encode("age-secret-key-", secret, 32, true, s, sizeof s), 0);
                check_int_eq(age_identity_parse(s, &id), 0);
                check_int_eq(age_identity_to_recipient(&id, &r), 0);
                age_recipient_to_string(&r, k->pub);
                buf_adds(&b, "# created by test-age\n");
                buf_adds(&b, s);
                buf_adds(&b, "\n");
                write_file(k->path, b.data, b.size);
                buf_done(&b);
        }
        check_int_eq(age_identity_load_file(k->path, &ids, &n, NULL), 0);
        check_int_eq(n, 1);
        k->id = ids[0];
        age_identities_free(ids, n);
        check_int_eq(age_recipient_parse(k->pub, &k->recipient), 0);
        {
                AgeRecipient r;
                char s[AGE_RECIPIENT_STRING_SIZE];

                check_int_eq(age_identity_to_recipient(&k->id, &r), 0);
                check(memcmp(r.public_key, k->recipient.public_key, 32) == 0);
                age_recipient_to_string(&r, s);
                check_str_eq(s, k->pub);
        }
}

static Key keys[3], stranger;

static void key_done(Key *k) {
        age_identity_wipe(&k->id);
        k->path = mfree(k->path);
}

/* Encrypt with ours in pieces picked by seed (0: one write). */
static void encrypt_ours(const AgeRecipient *rs, size_t n, const uint8_t *data, size_t size,
                         uint64_t seed, Buf *out) {
        _cleanup_(age_encryptor_freep) AgeEncryptor *e = NULL;

        out->size = 0;
        check_int_eq(age_encryptor_new(rs, n, on_buf, out, &e), 0);
        for (size_t i = 0; i < size;) {
                size_t k = seed ? piece(&seed) : size;

                k = MIN(k, size - i);
                check_int_eq(age_encryptor_write(e, data + i, k), 0);
                i += k;
        }
        check_int_eq(age_encryptor_finish(e), 0);
        check_int_eq(age_encryptor_finish(e), 0);
        check_int_eq(age_encryptor_write(e, "x", 1), -EINVAL);
}

/* Decrypt with ours in pieces picked by seed (0: one write, 1: byte by
 * byte); the first error, else finish()'s result. */
static int decrypt_ours(const AgeIdentity *ids, size_t n, const uint8_t *data, size_t size,
                        uint64_t seed, Buf *out) {
        _cleanup_(age_decryptor_freep) AgeDecryptor *d = NULL;
        int r;

        out->size = 0;
        check_int_eq(age_decryptor_new(ids, n, on_buf, out, &d), 0);
        for (size_t i = 0; i < size;) {
                size_t k = seed == 0 ? size - i : seed == 1 ? 1 : piece(&seed);

                k = MIN(k, size - i);
                r = age_decryptor_write(d, data + i, k);
                if (r < 0) {
                        check_int_eq(age_decryptor_write(d, data, 1), r);
                        check_int_eq(age_decryptor_finish(d), r);
                        return r;
                }
                i += k;
        }
        r = age_decryptor_finish(d);
        check_int_eq(age_decryptor_finish(d), r);
        return r;
}

/* Every output of a failed decryption must be a prefix of the plaintext
 * made of whole chunks: only authenticated data reaches the sink. */
static void check_prefix(const Buf *out, const uint8_t *data, size_t size) {
        check(out->size <= size);
        check(out->size % CHUNK == 0);
        check(out->size == 0 || memcmp(out->data, data, out->size) == 0);
}

static size_t header_size(const Buf *f) {
        const uint8_t *p = memmem(f->data, f->size, "\n--- ", 5);
        const uint8_t *lf;

        check(p);
        lf = memchr(p + 1, '\n', f->size - (size_t) (p + 1 - f->data));
        check(lf);
        return (size_t) (lf - f->data) + 1;
}

/* ---- an independent little age writer, for files age never makes -------- */

static void t_hkdf(const void *ikm, size_t ikm_len, const void *salt, size_t salt_len,
                   const char *info, uint8_t out[32]) {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
        size_t len = 32;

        check(ctx);
        check(EVP_PKEY_derive_init(ctx) == 1);
        check(EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) == 1);
        if (salt_len > 0)
                check(EVP_PKEY_CTX_set1_hkdf_salt(ctx, salt, (int) salt_len) == 1);
        check(EVP_PKEY_CTX_set1_hkdf_key(ctx, ikm, (int) ikm_len) == 1);
        check(EVP_PKEY_CTX_add1_hkdf_info(ctx, (const unsigned char *) info, (int) strlen(info)) == 1);
        check(EVP_PKEY_derive(ctx, out, &len) == 1 && len == 32);
        EVP_PKEY_CTX_free(ctx);
}

static void t_seal(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *in, size_t n,
                   uint8_t *out) {
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        int len = 0;

        check(ctx);
        check(EVP_EncryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, nonce) == 1);
        if (n > 0)
                check(EVP_EncryptUpdate(ctx, out, &len, in, (int) n) == 1 && (size_t) len == n);
        check(EVP_EncryptFinal_ex(ctx, out + n, &len) == 1);
        check(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + n) == 1);
        EVP_CIPHER_CTX_free(ctx);
}

static void t_b64(const uint8_t *p, size_t n, Buf *out) {
        char tmp[256];
        int k;

        check(n <= 180);
        k = EVP_EncodeBlock((unsigned char *) tmp, p, (int) n);
        while (k > 0 && tmp[k - 1] == '=')
                k--;
        buf_add(out, tmp, (size_t) k);
}

/* Body lines wrapped at 64 columns, ending with a shorter (maybe empty) line. */
static void t_b64_body(const uint8_t *p, size_t n, Buf *out) {
        Buf all = {};
        size_t i = 0;

        t_b64(p, n, &all);
        for (; all.size - i >= 64; i += 64) {
                buf_add(out, all.data + i, 64);
                buf_adds(out, "\n");
        }
        buf_add(out, all.data + i, all.size - i);
        buf_adds(out, "\n");
        buf_done(&all);
}

/* An X25519 stanza; share_override replaces the ephemeral share (and the
 * key agreement is then skipped: the body is junk). */
static void t_x25519_stanza(const uint8_t file_key[16], const uint8_t pub[32],
                            const uint8_t *share_override, Buf *out) {
        static const uint8_t zero_nonce[12] = {};
        uint8_t secret[32], salt[64], shared[32], key[32], body[32];
        EVP_PKEY *sk, *pk;
        EVP_PKEY_CTX *ctx;
        size_t len = 32;

        check(RAND_bytes(secret, 32) == 1);
        sk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, secret, 32);
        pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, 32);
        check(sk && pk);
        check(EVP_PKEY_get_raw_public_key(sk, salt, &len) == 1);
        ctx = EVP_PKEY_CTX_new(sk, NULL);
        check(ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, pk) == 1);
        check(EVP_PKEY_derive(ctx, shared, &len) == 1);
        memcpy(salt + 32, pub, 32);
        t_hkdf(shared, 32, salt, 64, "age-encryption.org/v1/X25519", key);
        t_seal(key, zero_nonce, file_key, 16, body);
        if (share_override)
                memcpy(salt, share_override, 32);
        buf_adds(out, "-> X25519 ");
        t_b64(salt, 32, out);
        buf_adds(out, "\n");
        t_b64_body(body, 32, out);
        EVP_PKEY_CTX_free(ctx);
        EVP_PKEY_free(sk);
        EVP_PKEY_free(pk);
}

/* Header (version, stanzas, MAC) and STREAM payload. With empty_tail, a
 * plaintext of whole chunks ends in an extra empty final chunk. */
static void t_forge(const char *stanzas, const uint8_t file_key[16], const uint8_t *pt, size_t n,
                    bool empty_tail, Buf *out) {
        uint8_t key[32], mac[32], nonce[16], cn[12] = {}, *ct;
        unsigned int mac_len = 0;
        uint64_t counter = 0;
        size_t off = 0;

        out->size = 0;
        buf_adds(out, "age-encryption.org/v1\n");
        buf_adds(out, stanzas);
        buf_adds(out, "---");
        t_hkdf(file_key, 16, NULL, 0, "header", key);
        check(HMAC(EVP_sha256(), key, 32, out->data, out->size, mac, &mac_len));
        buf_adds(out, " ");
        t_b64(mac, 32, out);
        buf_adds(out, "\n");
        check(RAND_bytes(nonce, 16) == 1);
        buf_add(out, nonce, 16);
        t_hkdf(file_key, 16, nonce, 16, "payload", key);
        ct = malloc(CT_CHUNK);
        check(ct);
        do {
                size_t take = MIN(CHUNK, n - off);
                bool last = off + take == n && !(empty_tail && take == CHUNK);

                for (unsigned i = 0; i < 8; i++)
                        cn[10 - i] = (uint8_t) (counter >> (8 * i));
                cn[11] = last;
                t_seal(key, cn, pt + off, take, ct);
                buf_add(out, ct, take + 16);
                off += take;
                counter++;
                if (off == n && !last) {
                        for (unsigned i = 0; i < 8; i++)
                                cn[10 - i] = (uint8_t) (counter >> (8 * i));
                        cn[11] = 1;
                        t_seal(key, cn, NULL, 0, ct);
                        buf_add(out, ct, 16);
                        break;
                }
        } while (off < n);
        free(ct);
}

/* ---- tests ----------------------------------------------------------------- */

static void test_bech32(void) {
        static const char *const valid[] = {
                "A12UEL5L",
                "a12uel5l",
                "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
                "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
                "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
                "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
                "?1ezyfcl",
        };
        static const char *const invalid[] = {
                "\x20" "1nwldj5",   /* hrp character out of range */
                "\x7f" "1axkwrx",
                "pzry9x0s0muk",      /* no separator */
                "1pzry9x0s0muk",     /* empty hrp */
                "x1b4n0q5v",         /* invalid data character */
                "li1dgmt3",          /* checksum too short */
                "de1lg7wt\xff",      /* invalid character in checksum */
                "A1G7SGD8",          /* checksum computed on upper-case hrp */
                "10a06t8",           /* empty hrp */
                "1qzzfhee",          /* empty hrp */
                "a12UEL5L",          /* mixed case */
                "a12uel5m",          /* bad checksum */
                "",
        };
        uint8_t data[128], all[32];
        char hrp[128], s[256];
        size_t n;

        for (size_t i = 0; i < ELEMENTSOF(valid); i++) {
                check_int_eq(age_bech32_decode(valid[i], hrp, sizeof hrp, data, sizeof data, &n), 0);
                check(strlen(hrp) == (size_t) (strrchr(valid[i], '1') - valid[i]));
        }
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++)
                check_int_eq(age_bech32_decode(invalid[i], hrp, sizeof hrp, data, sizeof data, &n),
                             -EINVAL);

        /* The data part of the abcdef vector is the charset in order: 0…31. */
        check_int_eq(age_bech32_decode(valid[3], hrp, sizeof hrp, data, sizeof data, &n), 0);
        check_str_eq(hrp, "abcdef");
        check_int_eq(n, 20);
        check_int_eq(age_bech32_encode("abcdef", data, n, false, s, sizeof s), 0);
        check_str_eq(s, valid[3]);
        check_int_eq(age_bech32_encode("a", NULL, 0, true, s, sizeof s), 0);
        check_str_eq(s, "A12UEL5L");
        /* Buffers too small, bad hrp. */
        check_int_eq(age_bech32_decode(valid[3], hrp, 6, data, sizeof data, &n), -EINVAL);
        check_int_eq(age_bech32_decode(valid[3], hrp, sizeof hrp, data, 19, &n), -EINVAL);
        check_int_eq(age_bech32_encode("abcdef", data, 20, false, s, 45), -EINVAL);
        check_int_eq(age_bech32_encode("ABC", data, 1, false, s, sizeof s), -EINVAL);
        check_int_eq(age_bech32_encode("", data, 1, false, s, sizeof s), -EINVAL);

        /* Round trips of every length up to 32 bytes. */
        for (size_t len = 0; len <= 32; len++) {
                for (size_t i = 0; i < len; i++)
                        all[i] = (uint8_t) (i * 37 + len);
                check_int_eq(age_bech32_encode("test", all, len, false, s, sizeof s), 0);
                check_int_eq(age_bech32_decode(s, hrp, sizeof hrp, data, sizeof data, &n), 0);
                check_int_eq(n, len);
                check(len == 0 || memcmp(data, all, len) == 0);
        }
}

static void test_keys(void) {
        /* The key pair from the age specification. */
        static const char spec_id[] =
                "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX";
        static const char spec_pub[] = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj";
        AgeIdentity id;
        AgeRecipient r, r2;
        char s[AGE_IDENTITY_STRING_SIZE], bad[128];
        uint8_t zero[33] = {};

        check_int_eq(age_identity_parse(spec_id, &id), 0);
        for (unsigned i = 0; i < 32; i++)
                check_int_eq(id.secret_key[i], 0x42);
        check_int_eq(age_identity_to_recipient(&id, &r), 0);
        age_recipient_to_string(&r, s);
        check_str_eq(s, spec_pub);
        age_identity_to_string(&id, s);
        check_str_eq(s, spec_id);
        check_int_eq(age_recipient_parse(spec_pub, &r2), 0);
        check(memcmp(r.public_key, r2.public_key, 32) == 0);
        age_identity_wipe(&id);
        check(memcmp(id.secret_key, zero, 32) == 0);

        /* Bad checksum (last character changed), mixed and wrong case,
         * swapped kinds, truncation, junk. */
        snprintf(bad, sizeof bad, "%s", spec_pub);
        bad[strlen(bad) - 1] = 'q';
        check_int_eq(age_recipient_parse(bad, &r), -EINVAL);
        snprintf(bad, sizeof bad, "%s", spec_id);
        bad[strlen(bad) - 1] = 'Y';
        check_int_eq(age_identity_parse(bad, &id), -EINVAL);
        snprintf(bad, sizeof bad, "%s", spec_pub);
        bad[10] = (char) (bad[10] - 'a' + 'A');
        check_int_eq(age_recipient_parse(bad, &r), -EINVAL);
        for (char *c = bad; *c; c++)
                *c = (char) (*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
        check_int_eq(age_recipient_parse(bad, &r), -EINVAL); /* age prints keys in lower case */
        snprintf(bad, sizeof bad, "%s", spec_id);
        for (char *c = bad; *c; c++)
                *c = (char) (*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        check_int_eq(age_identity_parse(bad, &id), -EINVAL);
        check_int_eq(age_recipient_parse(spec_id, &r), -EINVAL);
        check_int_eq(age_identity_parse(spec_pub, &id), -EINVAL);
        snprintf(bad, sizeof bad, "%.*s", (int) strlen(spec_pub) - 1, spec_pub);
        check_int_eq(age_recipient_parse(bad, &r), -EINVAL);
        check_int_eq(age_recipient_parse("age1nope", &r), -EINVAL);
        check_int_eq(age_recipient_parse("", &r), -EINVAL);
        check_int_eq(age_recipient_parse(NULL, &r), -EINVAL);
        check_int_eq(age_identity_parse(NULL, &id), -EINVAL);
        /* 31 and 33 bytes. */
        check_int_eq(age_bech32_encode("age", zero, 31, false, bad, sizeof bad), 0);
        check_int_eq(age_recipient_parse(bad, &r), -EINVAL);
        check_int_eq(age_bech32_encode("age", zero, 33, false, bad, sizeof bad), 0);
        check_int_eq(age_recipient_parse(bad, &r), -EINVAL);
        /* Low-order points: 0 and 1 (no key exchange can use them). */
        check_int_eq(age_bech32_encode("age", zero, 32, false, bad, sizeof bad), 0);
        check_int_eq(age_recipient_parse(bad, &r), -EINVAL);
        zero[0] = 1;
        check_int_eq(age_bech32_encode("age", zero, 32, false, bad, sizeof bad), 0);
        check_int_eq(age_recipient_parse(bad, &r), -EINVAL);

        check_int_eq(age_detect("age-encryption.org/v1\n-> X25519", 31), 1);
        check_int_eq(age_detect("age-encryption.org/v1\n", 22), 1);
        check_int_eq(age_detect("age-encryption.org/v1", 21), 0);
        check_int_eq(age_detect("age-encryption.org/v2\n", 22), 0);
        check_int_eq(age_detect("\x1f\x8b\x08\x00", 4), 0);
        check_int_eq(age_detect(NULL, 0), 0);
        check_int_eq(age_detect(NULL, 1), -EINVAL);
}

static void test_identity_file(void) {
        const Key *k = &keys[0];
        _cleanup_free_ char *p = tmp_path("ids");
        AgeIdentity *ids = NULL;
        size_t n = 0;
        char s[AGE_IDENTITY_STRING_SIZE];
        Buf b = {};

        age_identity_to_string(&k->id, s);

        /* Comments, blank lines, CRLF, trailing blanks, two identities. */
        buf_adds(&b, "# created: today\r\n\r\n# public key: ");
        buf_adds(&b, k->pub);
        buf_adds(&b, "\r\n");
        buf_adds(&b, s);
        buf_adds(&b, " \r\n\n   \n");
        buf_adds(&b, "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX");
        write_file(p, b.data, b.size);
        check_int_eq(age_identity_load_file(p, &ids, &n, NULL), 0);
        check_int_eq(n, 2);
        check(memcmp(&ids[0], &k->id, sizeof k->id) == 0);
        check_int_eq(ids[1].secret_key[0], 0x42);
        ids = age_identities_free(ids, n);

        /* Junk: a public key, a stray word, a NUL, an armored file. */
        static const char *const junk[] = {
                "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj\n",
                "# comment\nhello\n",
                "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n",
                "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEY\n",
                " AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(junk); i++) {
                write_file(p, junk[i], strlen(junk[i]));
                check_int_eq(age_identity_load_file(p, &ids, &n, NULL), -EBADMSG);
        }
        /* The line refused is named, and why, without quoting it. */
        static const struct {
                const char *text;
                size_t line;
                const char *why;
        } refused[] = {
                { "# created\n\nage1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj\n", 3, "public key" },
                { "AGE-PLUGIN-YUBIKEY-1QQQQQQ\n", 1, "plugin" },
                { "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n", 1, "armored" },
                { "# k\r\nAGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEY\n", 2,
                  "checksum" },
                { "\n\n\n AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX", 4, "space" },
                { "# comment\nhello\n", 2, "one AGE-SECRET-KEY-1... per line" },
                { "#\nx\0y\n", 2, "NUL" },
        };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                size_t line = 0, len = strlen(refused[i].text);
                const char *why = NULL;

                if (streq(refused[i].why, "NUL"))
                        len = 6;
                check_int_eq(age_identities_parse(refused[i].text, len, &ids, &n, &line, &why), -EBADMSG);
                check_int_eq(line, refused[i].line);
                check(why && strstr(why, refused[i].why));
                check(why && !strstr(why, "zvkyg") && !strstr(why, "YUBIKEY") && !strstr(why, "GFPYY"));
        }
        b.size = 0;
        buf_adds(&b, s);
        buf_add(&b, "\0\n", 2);
        write_file(p, b.data, b.size);
        check_int_eq(age_identity_load_file(p, &ids, &n, NULL), -EBADMSG);
        /* A long line. */
        b.size = 0;
        for (unsigned i = 0; i < 300; i++)
                buf_adds(&b, "A");
        write_file(p, b.data, b.size);
        check_int_eq(age_identity_load_file(p, &ids, &n, NULL), -EBADMSG);

        /* Nothing in it. */
        write_file(p, "", 0);
        check_int_eq(age_identity_load_file(p, &ids, &n, NULL), -ENOKEY);
        write_file(p, "# only a comment\n\n", 18);
        check_int_eq(age_identity_load_file(p, &ids, &n, NULL), -ENOKEY);

        /* Too big, even if it were all comments. */
        b.size = 0;
        while (b.size <= AGE_IDENTITY_FILE_MAX_BYTES)
                buf_adds(&b, "# padding padding padding padding padding padding padding padding\n");
        write_file(p, b.data, b.size);
        check_int_eq(age_identity_load_file(p, &ids, &n, NULL), -EFBIG);
        b.size = AGE_IDENTITY_FILE_MAX_BYTES;
        write_file(p, b.data, b.size);
        check_int_eq(age_identity_load_file(p, &ids, &n, NULL), -ENOKEY);

        check_int_eq(age_identity_load_file("/nonexistent/test-age", &ids, &n, NULL), -ENOENT);
        buf_done(&b);
}

static const size_t sizes[] = { 0, 1, 1000, 65535, 65536, 65537, 3 * 65536, 3 * 65536 + 1,
                                3u << 20 | 12345 };

static void test_ours_to_age(void) {
        const Key *k = &keys[0];
        _cleanup_free_ char *in = tmp_path("ours.age"), *out = tmp_path("ours.out");
        Buf f = {}, plain = {}, got = {};

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                uint8_t *data = make_data(sizes[i], 100 + i);
                size_t chunks = sizes[i] == 0 ? 1 : (sizes[i] + CHUNK - 1) / CHUNK;

                encrypt_ours(&k->recipient, 1, data, sizes[i], 7 + i, &f);
                check(age_detect(f.data, f.size) == 1);
                check(memcmp(f.data, "age-encryption.org/v1\n-> X25519 ", 32) == 0);
                check_u64_eq(f.size, header_size(&f) + 16 + sizes[i] + 16 * chunks);

                if (have_age) {
                        write_file(in, f.data, f.size);
                        check_int_eq(run("age -d -i '%s' > '%s' < '%s'", k->path, out, in), 0);
                        read_file(out, &plain);
                        check_u64_eq(plain.size, sizes[i]);
                        check(sizes[i] == 0 || memcmp(plain.data, data, sizes[i]) == 0);
                }
                /* And back through ours, whole and in pieces. */
                check_int_eq(decrypt_ours(&k->id, 1, f.data, f.size, 0, &got), 0);
                check_u64_eq(got.size, sizes[i]);
                check(sizes[i] == 0 || memcmp(got.data, data, sizes[i]) == 0);
                check_int_eq(decrypt_ours(&k->id, 1, f.data, f.size, 99 + i, &got), 0);
                check_u64_eq(got.size, sizes[i]);
                check(sizes[i] == 0 || memcmp(got.data, data, sizes[i]) == 0);
                free(data);
        }
        /* Byte by byte. */
        {
                uint8_t *data = make_data(70000, 5);
                encrypt_ours(&k->recipient, 1, data, 70000, 1, &f);
                check_int_eq(decrypt_ours(&k->id, 1, f.data, f.size, 1, &got), 0);
                check_u64_eq(got.size, 70000);
                check(memcmp(got.data, data, 70000) == 0);
                free(data);
        }
        /* Two encryptions of the same data differ (fresh keys and nonce). */
        {
                Buf f2 = {};
                encrypt_ours(&k->recipient, 1, (const uint8_t *) "x", 1, 0, &f);
                encrypt_ours(&k->recipient, 1, (const uint8_t *) "x", 1, 0, &f2);
                check(f.size == f2.size && memcmp(f.data, f2.data, f.size) != 0);
                buf_done(&f2);
        }
        buf_done(&f);
        buf_done(&plain);
        buf_done(&got);
}

static void test_age_to_ours(void) {
        const Key *k = &keys[1];
        _cleanup_free_ char *in = tmp_path("plain"), *out = tmp_path("theirs.age");
        Buf f = {}, got = {};

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                uint8_t *data = make_data(sizes[i], 200 + i);

                write_file(in, data, sizes[i]);
                check_int_eq(run("age -r %s -o '%s' '%s'", k->pub, out, in), 0);
                read_file(out, &f);
                check_int_eq(decrypt_ours(&k->id, 1, f.data, f.size, 0, &got), 0);
                check_u64_eq(got.size, sizes[i]);
                check(sizes[i] == 0 || memcmp(got.data, data, sizes[i]) == 0);
                check_int_eq(decrypt_ours(&k->id, 1, f.data, f.size, 300 + i, &got), 0);
                check_u64_eq(got.size, sizes[i]);
                check(sizes[i] == 0 || memcmp(got.data, data, sizes[i]) == 0);
                if (sizes[i] < 100000) {
                        check_int_eq(decrypt_ours(&k->id, 1, f.data, f.size, 1, &got), 0);
                        check_u64_eq(got.size, sizes[i]);
                }
                free(data);
        }
        buf_done(&f);
        buf_done(&got);
}

static void test_multi(void) {
        size_t n_keys = ELEMENTSOF(keys);
        _cleanup_free_ char *in = tmp_path("multi.age"), *out = tmp_path("multi.out"),
                            *plain_path = tmp_path("multi.plain");
        AgeRecipient rs[3];
        AgeIdentity two[2];
        uint8_t *data = make_data(200000, 9);
        Buf f = {}, got = {};

        check(n_keys == 3);
        for (size_t i = 0; i < n_keys; i++)
                rs[i] = keys[i].recipient;
        encrypt_ours(rs, n_keys, data, 200000, 3, &f);
        check(memmem(f.data, header_size(&f), "-> X25519", 9));
        for (size_t i = 0; i < n_keys; i++) {
                check_int_eq(decrypt_ours(&keys[i].id, 1, f.data, f.size, 40 + i, &got), 0);
                check(got.size == 200000 && memcmp(got.data, data, 200000) == 0);
                if (have_age) {
                        write_file(in, f.data, f.size);
                        check_int_eq(run("age -d -i '%s' > '%s' < '%s'", keys[i].path, out, in), 0);
                        read_file(out, &got);
                        check(got.size == 200000 && memcmp(got.data, data, 200000) == 0);
                }
        }
        /* Identity lists: a stranger first does not hurt. */
        two[0] = stranger.id;
        two[1] = keys[2].id;
        check_int_eq(decrypt_ours(two, 2, f.data, f.size, 0, &got), 0);
        check(got.size == 200000);
        check_int_eq(decrypt_ours(&stranger.id, 1, f.data, f.size, 0, &got), -EACCES);
        check_int_eq(got.size, 0);

        if (have_age) {
                write_file(plain_path, data, 200000);
                check_int_eq(run("age -r %s -r %s -o '%s' '%s'", keys[0].pub, keys[1].pub, in,
                                 plain_path), 0);
                read_file(in, &f);
                for (size_t i = 0; i < 2; i++) {
                        check_int_eq(decrypt_ours(&keys[i].id, 1, f.data, f.size, 0, &got), 0);
                        check(got.size == 200000 && memcmp(got.data, data, 200000) == 0);
                }
                check_int_eq(decrypt_ours(&keys[2].id, 1, f.data, f.size, 0, &got), -EACCES);
                /* And stock age refuses ours for a stranger the same way. */
                encrypt_ours(rs, 2, data, 1000, 0, &f);
                write_file(in, f.data, f.size);
                check(run("age -d -i '%s' > '%s' < '%s' 2>/dev/null", keys[2].path, out, in) != 0);
        }
        free(data);
        buf_done(&f);
        buf_done(&got);
}

/* Flip every byte of a file (three masks) and decrypt with id: never 0, and
 * nothing but whole authenticated chunks of data reaches the sink. Flips
 * inside [soft_from, soft_to) — the stanza addressed to id — may also give
 * -EACCES: a changed share or body is just a stanza for someone else. */
static void flip_all(const AgeIdentity *id, const Buf *f, const uint8_t *data, size_t size,
                     size_t soft_from, size_t soft_to, size_t step) {
        static const uint8_t masks[] = { 0x01, 0x20, 0x80 };
        uint8_t *copy = malloc(f->size);
        Buf got = {};

        check(copy);
        memcpy(copy, f->data, f->size);
        for (size_t i = 0; i < f->size; i += (i < 512 ? 1 : step)) {
                for (size_t m = 0; m < ELEMENTSOF(masks); m++) {
                        int r;

                        copy[i] ^= masks[m];
                        r = decrypt_ours(id, 1, copy, f->size, 0, &got);
                        copy[i] ^= masks[m];
                        if (i >= soft_from && i < soft_to)
                                check(r == -EBADMSG || r == -EACCES);
                        else if (r != -EBADMSG) {
                                fprintf(stderr, "flip at %zu mask %02x: %d\n", i, masks[m], r);
                                check(r == -EBADMSG);
                        }
                        check_prefix(&got, data, size);
                }
        }
        free(copy);
        buf_done(&got);
}

static void test_tamper(void) {
        uint8_t *data = make_data(3 * CHUNK + 100, 11);
        AgeRecipient rs[2] = { keys[0].recipient, keys[1].recipient };
        Buf f = {};
        size_t hs, a_from, a_to;

        /* One recipient, one chunk: every byte, header, MAC and payload. */
        encrypt_ours(rs, 1, data, 1000, 0, &f);
        hs = header_size(&f);
        a_from = 22; /* "-> X25519 …" up to the MAC line */
        a_to = (size_t) ((uint8_t *) memmem(f.data, f.size, "\n---", 4) - f.data) + 1;
        flip_all(&keys[0].id, &f, data, 1000, a_from, a_to, 1);

        /* Two recipients, opened by the first: damage to the second stanza
         * is caught by the MAC, always -EBADMSG. */
        encrypt_ours(rs, 2, data, 1000, 0, &f);
        a_to = (size_t) ((uint8_t *) memmem(f.data + 23, f.size - 23, "\n-> ", 4) - f.data) + 1;
        flip_all(&keys[0].id, &f, data, 1000, a_from, a_to, 1);

        /* Four chunks: a flip in chunk k lets exactly chunks 0…k-1 through. */
        encrypt_ours(rs, 1, data, 3 * CHUNK + 100, 0, &f);
        hs = header_size(&f);
        flip_all(&keys[0].id, &f, data, 3 * CHUNK + 100, 22, hs - 48, 4099);
        for (size_t k = 0; k < 4; k++) {
                Buf got = {};
                size_t at = hs + 16 + k * CT_CHUNK + 5;

                f.data[at] ^= 0x10;
                check_int_eq(decrypt_ours(&keys[0].id, 1, f.data, f.size, 17, &got), -EBADMSG);
                f.data[at] ^= 0x10;
                check_u64_eq(got.size, k * CHUNK);
                check_prefix(&got, data, 3 * CHUNK + 100);
                buf_done(&got);
        }
        /* Chunks swapped: the counter is in the nonce. */
        {
                Buf got = {};
                uint8_t *tmp = malloc(CT_CHUNK);
                check(tmp);
                memcpy(tmp, f.data + hs + 16, CT_CHUNK);
                memcpy(f.data + hs + 16, f.data + hs + 16 + CT_CHUNK, CT_CHUNK);
                memcpy(f.data + hs + 16 + CT_CHUNK, tmp, CT_CHUNK);
                check_int_eq(decrypt_ours(&keys[0].id, 1, f.data, f.size, 0, &got), -EBADMSG);
                check_int_eq(got.size, 0);
                free(tmp);
                buf_done(&got);
        }
        free(data);
        buf_done(&f);
}

static void test_truncate(void) {
        const Key *k = &keys[0];
        _cleanup_free_ char *in = tmp_path("trunc.plain"), *out = tmp_path("trunc.age");
        size_t size = 3 * CHUNK + 100, hs;
        uint8_t *data = make_data(size, 12);
        Buf f = {}, got = {};

        for (unsigned pass = 0; pass < 2; pass++) {
                if (pass == 0)
                        encrypt_ours(&k->recipient, 1, data, size, 0, &f);
                else if (have_age) {
                        write_file(in, data, size);
                        check_int_eq(run("age -r %s -o '%s' '%s'", k->pub, out, in), 0);
                        read_file(out, &f);
                } else
                        break;
                hs = header_size(&f);

                /* Every cut in the header, the nonce and the first bytes. */
                for (size_t cut = 0; cut < hs + 16 + 20; cut++) {
                        check_int_eq(decrypt_ours(&k->id, 1, f.data, cut, 0, &got), -EBADMSG);
                        check_int_eq(got.size, 0);
                }
                /* Chunk boundaries (dropping the last chunks), mid-chunk, the
                 * last byte, and a full chunk as the file's end. */
                for (size_t c = 0; c < 4; c++) {
                        size_t cuts[] = { hs + 16 + c * CT_CHUNK, hs + 16 + c * CT_CHUNK + 15,
                                          hs + 16 + c * CT_CHUNK + 16, hs + 16 + c * CT_CHUNK + 777,
                                          hs + 16 + (c + 1) * CT_CHUNK - 1 };
                        for (size_t j = 0; j < ELEMENTSOF(cuts); j++) {
                                if (cuts[j] >= f.size)
                                        continue;
                                check_int_eq(decrypt_ours(&k->id, 1, f.data, cuts[j], 23 + j, &got),
                                             -EBADMSG);
                                check_prefix(&got, data, size);
                                check(got.size <= (cuts[j] - hs - 16) / CT_CHUNK * CHUNK);
                        }
                }
                check_int_eq(decrypt_ours(&k->id, 1, f.data, f.size - 1, 0, &got), -EBADMSG);
                check_prefix(&got, data, size);
                check_u64_eq(got.size, 3 * CHUNK);
                check_int_eq(decrypt_ours(&k->id, 1, f.data, hs + 16 + 3 * CT_CHUNK, 0, &got),
                             -EBADMSG);
                check_u64_eq(got.size, 2 * CHUNK);
                check_int_eq(decrypt_ours(&k->id, 1, f.data, f.size, 0, &got), 0);
                check_u64_eq(got.size, size);
        }
        /* Trailing data after the final chunk, short and full-chunk final. */
        for (size_t i = 0; i < 2; i++) {
                size_t n = i == 0 ? 1000 : CHUNK;
                encrypt_ours(&k->recipient, 1, data, n, 0, &f);
                buf_add(&f, "\0", 1);
                check_int_eq(decrypt_ours(&k->id, 1, f.data, f.size, 0, &got), -EBADMSG);
                check_int_eq(got.size, 0);
                buf_add(&f, data, CT_CHUNK);
                check_int_eq(decrypt_ours(&k->id, 1, f.data, f.size, 0, &got), -EBADMSG);
                check_int_eq(got.size, 0);
        }
        /* A whole second file appended. */
        encrypt_ours(&k->recipient, 1, data, 10, 0, &f);
        {
                Buf two = {};
                buf_add(&two, f.data, f.size);
                buf_add(&two, f.data, f.size);
                check_int_eq(decrypt_ours(&k->id, 1, two.data, two.size, 0, &got), -EBADMSG);
                buf_done(&two);
        }
        free(data);
        buf_done(&f);
        buf_done(&got);
}

static void test_armor(void) {
        const Key *k = &keys[0];
        _cleanup_free_ char *in = tmp_path("armor.plain"), *out = tmp_path("armor.age");
        Buf f = {}, got = {};
        static const char pem[] = "-----BEGIN AGE ENCRYPTED FILE-----\n"
                                  "YWdlLWVuY3J5cHRpb24ub3JnL3YxCg==\n"
                                  "-----END AGE ENCRYPTED FILE-----\n";

        check_int_eq(decrypt_ours(&k->id, 1, (const uint8_t *) pem, sizeof pem - 1, 0, &got),
                     -EPROTONOSUPPORT);
        check_int_eq(decrypt_ours(&k->id, 1, (const uint8_t *) pem, sizeof pem - 1, 1, &got),
                     -EPROTONOSUPPORT);
        check_int_eq(decrypt_ours(&k->id, 1, (const uint8_t *) "  " "-----BEGIN AGE ENCRYPTED FILE-----\r\n",
                                  38, 0, &got),
                     -EPROTONOSUPPORT);
        if (have_age) {
                write_file(in, "secret", 6);
                check_int_eq(run("age -a -r %s -o '%s' '%s'", k->pub, out, in), 0);
                read_file(out, &f);
                check_int_eq(decrypt_ours(&k->id, 1, f.data, f.size, 0, &got), -EPROTONOSUPPORT);
                check(age_detect(f.data, f.size) == 0);
        }
        buf_done(&f);
        buf_done(&got);
}

/* Headers that must fail to parse, fed whole and byte by byte. */
static void expect_header(const Key *k, const char *text, size_t n, int want) {
        Buf got = {};

        check_int_eq(decrypt_ours(&k->id, 1, (const uint8_t *) text, n, 0, &got), want);
        check_int_eq(decrypt_ours(&k->id, 1, (const uint8_t *) text, n, 1, &got), want);
        check_int_eq(got.size, 0);
        buf_done(&got);
}

#define MAC_LINE "--- AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
#define SHARE43 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"

static void test_header_limits(void) {
        const Key *k = &keys[0];
        static const struct {
                const char *text;
                int want;
        } cases[] = {
                { "", -EBADMSG },
                { "age-encryption.org/v1\n", -EBADMSG },
                { "age-encryption.org/v1\n" MAC_LINE, -EBADMSG },        /* no stanza */
                { "age-encryption.org/v2\n-> x\n\n" MAC_LINE, -EBADMSG },
                { "age-encryption.org/v1\r\n-> x\n\n" MAC_LINE, -EBADMSG },
                { "AGE-ENCRYPTION.ORG/V1\n-> x\n\n" MAC_LINE, -EBADMSG },
                { "age-encryption.org/v1\n-> x\n\n" MAC_LINE, -EACCES },  /* well formed */
                { "age-encryption.org/v1\n-> x\n\n" MAC_LINE "\x01\x02", -EACCES },
                { "age-encryption.org/v1\n-> x\n" MAC_LINE, -EBADMSG },  /* no final body line */
                { "age-encryption.org/v1\n->\n\n" MAC_LINE, -EBADMSG },
                { "age-encryption.org/v1\n-> \n\n" MAC_LINE, -EBADMSG },
                { "age-encryption.org/v1\n->  x\n\n" MAC_LINE, -EBADMSG },
                { "age-encryption.org/v1\n-> x \n\n" MAC_LINE, -EBADMSG },
                { "age-encryption.org/v1\n-> x\ty\n\n" MAC_LINE, -EBADMSG },
                { "age-encryption.org/v1\n-> x\xc3\xa9\n\n" MAC_LINE, -EBADMSG },
                { "age-encryption.org/v1\n->x\n\n" MAC_LINE, -EBADMSG },
                { "age-encryption.org/v1\n-> x\nA=\n" MAC_LINE, -EBADMSG },
                { "age-encryption.org/v1\n-> x\nA B\n" MAC_LINE, -EBADMSG },
                /* A stanza not opened still has a canonical body (age refuses "QUF": a bit set past the data). */
                { "age-encryption.org/v1\n-> x\nQUF\n" MAC_LINE, -EBADMSG },
                { "age-encryption.org/v1\n-> x\nQUE\n" MAC_LINE, -EACCES },
                { "age-encryption.org/v1\n-> x\nQ\n" MAC_LINE, -EBADMSG },
                { "age-encryption.org/v1\n-> x\n\n--- AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n", -EBADMSG },
                { "age-encryption.org/v1\n-> x\n\n--- AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB\n", -EBADMSG },
                { "age-encryption.org/v1\n-> x\n\n--- AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", -EBADMSG },
                { "age-encryption.org/v1\n-> x\n\n---AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n", -EBADMSG },
                { "age-encryption.org/v1\n-> x\n\n---\n", -EBADMSG },
                { "age-encryption.org/v1\n-> x\n\n-- AAAA\n", -EBADMSG },
                /* X25519 stanzas that break the rules. */
                { "age-encryption.org/v1\n-> X25519\n" SHARE43 "\n" MAC_LINE, -EBADMSG },
                { "age-encryption.org/v1\n-> X25519 " SHARE43 " extra\n" SHARE43 "\n" MAC_LINE, -EBADMSG },
                { "age-encryption.org/v1\n-> X25519 " SHARE43 "=\n" SHARE43 "\n" MAC_LINE, -EBADMSG },
                { "age-encryption.org/v1\n-> X25519 " SHARE43 "A\n" SHARE43 "\n" MAC_LINE, -EBADMSG },
                { "age-encryption.org/v1\n-> X25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB\n" SHARE43 "\n" MAC_LINE, -EBADMSG },
                { "age-encryption.org/v1\n-> X25519 " SHARE43 "\n" SHARE43 "AA\n" MAC_LINE, -EBADMSG },
                { "age-encryption.org/v1\n-> X25519 " SHARE43 "\nAAAA\n" MAC_LINE, -EBADMSG },
                { "age-encryption.org/v1\n-> X25519 " SHARE43 "\n\n" MAC_LINE, -EBADMSG },
                /* The all-zero share: a low-order point. */
                { "age-encryption.org/v1\n-> X25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n" SHARE43 "\n" MAC_LINE, -EBADMSG },
                /* Well formed, just not for us (x25519 is a different type). */
                { "age-encryption.org/v1\n-> x25519 " SHARE43 "\n" SHARE43 "\n" MAC_LINE, -EACCES },
                { "age-encryption.org/v1\n-> X25519 " SHARE43 "\n" SHARE43 "\n" MAC_LINE, -EACCES },
                { "\x89PNG\r\n\x1a\n", -EBADMSG },
        };
        Buf b = {};

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                expect_header(k, cases[i].text, strlen(cases[i].text), cases[i].want);

        /* 64 stanzas are fine, 65 are too many. */
        buf_adds(&b, "age-encryption.org/v1\n");
        for (unsigned i = 0; i < AGE_STANZAS_MAX; i++)
                buf_adds(&b, "-> grease\n\n");
        buf_adds(&b, MAC_LINE);
        expect_header(k, (const char *) b.data, b.size, -EACCES);
        b.size -= strlen(MAC_LINE);
        buf_adds(&b, "-> grease\n\n" MAC_LINE);
        expect_header(k, (const char *) b.data, b.size, -EBADMSG);

        /* Body lines: 64 columns then a short line is fine; 65 is not. */
        b.size = 0;
        buf_adds(&b, "age-encryption.org/v1\n-> x\n");
        for (unsigned i = 0; i < 64; i++)
                buf_adds(&b, "A");
        buf_adds(&b, "\nAA\n" MAC_LINE);
        expect_header(k, (const char *) b.data, b.size, -EACCES);
        b.size = 0;
        buf_adds(&b, "age-encryption.org/v1\n-> x\n");
        for (unsigned i = 0; i < 65; i++)
                buf_adds(&b, "A");
        buf_adds(&b, "\n\n" MAC_LINE);
        expect_header(k, (const char *) b.data, b.size, -EBADMSG);

        /* An argument line at the limit and over it. */
        for (unsigned over = 0; over < 2; over++) {
                b.size = 0;
                buf_adds(&b, "age-encryption.org/v1\n-> ");
                for (unsigned i = 3; i < AGE_ARG_LINE_MAX_BYTES + over; i++)
                        buf_adds(&b, "a");
                buf_adds(&b, "\n\n" MAC_LINE);
                expect_header(k, (const char *) b.data, b.size, over ? -EBADMSG : -EACCES);
        }

        /* A header over 64 KiB: an endless stanza body. */
        b.size = 0;
        buf_adds(&b, "age-encryption.org/v1\n-> x\n");
        while (b.size <= AGE_HEADER_MAX_BYTES)
                buf_adds(&b, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
        buf_adds(&b, "\n" MAC_LINE);
        expect_header(k, (const char *) b.data, b.size, -EBADMSG);

        /* A first line that never ends; random binary data. */
        b.size = 0;
        for (unsigned i = 0; i < 1000; i++)
                buf_adds(&b, "a");
        expect_header(k, (const char *) b.data, b.size, -EBADMSG);
        {
                uint8_t *junk = make_data(100000, 77);
                expect_header(k, (const char *) junk, 100000, -EBADMSG);
                free(junk);
        }
        buf_done(&b);
}

static void test_forged(void) {
        const Key *k = &keys[0], *other = &stranger;
        _cleanup_free_ char *in = tmp_path("forged.age"), *out = tmp_path("forged.out");
        static const uint8_t low_order[32] = { 1 };
        uint8_t file_key[16], grease_body[100], *data = make_data(2 * CHUNK, 13);
        Buf st = {}, f = {}, got = {};

        check(RAND_bytes(file_key, 16) == 1);
        check(RAND_bytes(grease_body, sizeof grease_body) == 1);

        /* Unknown stanzas around ours, with bodies of 0, 48 (a full line and
         * an empty final line) and 100 bytes, and a stranger's X25519. */
        buf_adds(&st, "-> unknown-grease a b c\n\n");
        buf_adds(&st, "-> example.com/enigma !#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\n");
        t_b64_body(grease_body, 48, &st);
        t_x25519_stanza(file_key, other->recipient.public_key, NULL, &st);
        t_x25519_stanza(file_key, k->recipient.public_key, NULL, &st);
        buf_adds(&st, "-> zz\n");
        t_b64_body(grease_body, sizeof grease_body, &st);
        for (size_t i = 0; i < 3; i++) {
                size_t n = i == 0 ? 0 : i == 1 ? 1000 : 2 * CHUNK;

                t_forge((const char *) st.data, file_key, data, n, false, &f);
                check_int_eq(decrypt_ours(&k->id, 1, f.data, f.size, 0, &got), 0);
                check(got.size == n && (n == 0 || memcmp(got.data, data, n) == 0));
                check_int_eq(decrypt_ours(&other->id, 1, f.data, f.size, 5, &got), 0);
                check(got.size == n);
                if (have_age) {
                        write_file(in, f.data, f.size);
                        check_int_eq(run("age -d -i '%s' > '%s' < '%s'", k->path, out, in), 0);
                        read_file(out, &got);
                        check(got.size == n && (n == 0 || memcmp(got.data, data, n) == 0));
                }
        }

        /* An unknown stanza is covered by the MAC: change one of its bytes. */
        t_forge((const char *) st.data, file_key, data, 1000, false, &f);
        f.data[30] ^= 1; /* inside "unknown-grease" */
        check_int_eq(decrypt_ours(&k->id, 1, f.data, f.size, 0, &got), -EBADMSG);

        /* An empty final chunk after a full one is not allowed. */
        t_forge((const char *) st.data, file_key, data, CHUNK, true, &f);
        check_int_eq(decrypt_ours(&k->id, 1, f.data, f.size, 0, &got), -EBADMSG);
        check_u64_eq(got.size, CHUNK); /* authentic, but the end is refused */
        check_prefix(&got, data, CHUNK);
        if (have_age) {
                write_file(in, f.data, f.size);
                check(run("age -d -i '%s' > '%s' < '%s' 2>/dev/null", k->path, out, in) != 0);
        }
        t_forge((const char *) st.data, file_key, data, 2 * CHUNK, true, &f);
        check_int_eq(decrypt_ours(&k->id, 1, f.data, f.size, 0, &got), -EBADMSG);
        check_u64_eq(got.size, 2 * CHUNK);

        /* A low-order share in a stanza before ours: refused, not skipped. */
        st.size = 0;
        t_x25519_stanza(file_key, k->recipient.public_key, low_order, &st);
        t_x25519_stanza(file_key, k->recipient.public_key, NULL, &st);
        t_forge((const char *) st.data, file_key, data, 10, false, &f);
        check_int_eq(decrypt_ours(&k->id, 1, f.data, f.size, 0, &got), -EBADMSG);

        /* The right key, a wrong MAC. */
        st.size = 0;
        t_x25519_stanza(file_key, k->recipient.public_key, NULL, &st);
        t_forge((const char *) st.data, file_key, data, 10, false, &f);
        check_int_eq(decrypt_ours(&k->id, 1, f.data, f.size, 0, &got), 0);
        file_key[0] ^= 1;
        {
                Buf g = {};
                /* Same stanza (old file key), MAC and payload keyed with another. */
                t_forge((const char *) st.data, file_key, data, 10, false, &g);
                check_int_eq(decrypt_ours(&k->id, 1, g.data, g.size, 0, &got), -EBADMSG);
                buf_done(&g);
        }
        free(data);
        buf_done(&st);
        buf_done(&f);
        buf_done(&got);
}

static void test_api(void) {
        const Key *k = &keys[0];
        _cleanup_(age_encryptor_freep) AgeEncryptor *e = NULL;
        _cleanup_(age_decryptor_freep) AgeDecryptor *d = NULL;
        AgeRecipient rs[AGE_STANZAS_MAX + 1];
        Buf f = {}, got = {};

        check_int_eq(age_encryptor_new(&k->recipient, 0, on_buf, &f, &e), -EINVAL);
        check_int_eq(age_encryptor_new(NULL, 1, on_buf, &f, &e), -EINVAL);
        check_int_eq(age_encryptor_new(&k->recipient, 1, NULL, &f, &e), -EINVAL);
        for (size_t i = 0; i < ELEMENTSOF(rs); i++)
                rs[i] = k->recipient;
        check_int_eq(age_encryptor_new(rs, ELEMENTSOF(rs), on_buf, &f, &e), -EINVAL);
        check_int_eq(age_decryptor_new(&k->id, 0, on_buf, &f, &d), -EINVAL);
        check_int_eq(age_decryptor_new(NULL, 1, on_buf, &f, &d), -EINVAL);
        check(!e && !d);

        /* 64 recipients (all the same key) work and stay readable. */
        {
                uint8_t *data = make_data(100, 1);
                encrypt_ours(rs, AGE_STANZAS_MAX, data, 100, 0, &f);
                check_int_eq(decrypt_ours(&k->id, 1, f.data, f.size, 0, &got), 0);
                check_int_eq(got.size, 100);
                free(data);
        }

        /* A failing sink: the error comes back and sticks. */
        check_int_eq(age_encryptor_new(&k->recipient, 1, on_fail, NULL, &e), 0);
        check_int_eq(age_encryptor_write(e, "abc", 3), -ENOSPC);
        check_int_eq(age_encryptor_write(e, "abc", 3), -ENOSPC);
        check_int_eq(age_encryptor_finish(e), -ENOSPC);
        e = age_encryptor_free(e);
        check_int_eq(age_encryptor_new(&k->recipient, 1, on_fail, NULL, &e), 0);
        check_int_eq(age_encryptor_finish(e), -ENOSPC);
        e = age_encryptor_free(e);
        /* Freeing an unfinished encryptor, and one never written to. */
        check_int_eq(age_encryptor_new(&k->recipient, 1, on_buf, &f, &e), 0);
        check_int_eq(age_encryptor_write(e, "abc", 3), 0);
        e = age_encryptor_free(e);
        check_int_eq(age_encryptor_new(&k->recipient, 1, on_buf, &f, &e), 0);
        e = age_encryptor_free(e);

        encrypt_ours(&k->recipient, 1, (const uint8_t *) "hello", 5, 0, &f);
        check_int_eq(age_decryptor_new(&k->id, 1, on_fail, NULL, &d), 0);
        check_int_eq(age_decryptor_write(d, f.data, f.size), 0);
        check_int_eq(age_decryptor_finish(d), -ENOSPC);
        check_int_eq(age_decryptor_finish(d), -ENOSPC);
        check_int_eq(age_decryptor_write(d, f.data, 1), -ENOSPC);
        d = age_decryptor_free(d);
        check_int_eq(age_decryptor_new(&k->id, 1, on_buf, &got, &d), 0);
        check_int_eq(age_decryptor_write(d, f.data, f.size), 0);
        check_int_eq(age_decryptor_write(d, NULL, 0), 0);
        check_int_eq(age_decryptor_finish(d), 0);
        check_int_eq(age_decryptor_write(d, f.data, 1), -EINVAL);
        /* Freeing a decryptor mid-header. */
        d = age_decryptor_free(d);
        check_int_eq(age_decryptor_new(&k->id, 1, on_buf, &got, &d), 0);
        check_int_eq(age_decryptor_write(d, f.data, 30), 0);
        d = age_decryptor_free(d);
        check(!age_encryptor_free(NULL) && !age_decryptor_free(NULL) && !age_identities_free(NULL, 3));
        buf_done(&f);
        buf_done(&got);
}

int main(void) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        check(mkdtemp(tmp_dir));
        have_age = run("command -v age >/dev/null 2>&1 && command -v age-keygen >/dev/null 2>&1") == 0;
        if (!have_age)
                printf("# age/age-keygen not installed: interoperability checks skipped\n");
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                char name[16];
                snprintf(name, sizeof name, "key%zu", i);
                key_make(&keys[i], name);
        }
        key_make(&stranger, "stranger");

        TEST_RUN(test_bech32);
        TEST_RUN(test_keys);
        TEST_RUN(test_identity_file);
        TEST_RUN(test_ours_to_age);
        if (have_age)
                TEST_RUN(test_age_to_ours);
        TEST_RUN(test_multi);
        TEST_RUN(test_tamper);
        TEST_RUN(test_truncate);
        TEST_RUN(test_armor);
        TEST_RUN(test_header_limits);
        TEST_RUN(test_forged);
        TEST_RUN(test_api);

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                key_done(&keys[i]);
        key_done(&stranger);
        check_int_eq(run("rm -rf '%s'", tmp_dir), 0);
        return 0;
}
