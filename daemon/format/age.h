/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * age.h — encryption of backups in the age v1 format (age-encryption.org/v1)
 * for X25519 recipients, so that a backup written by the daemon opens with
 * the stock `age -d -i KEY` and a file made by `age -r` opens here. Keys are
 * the usual Bech32 strings: `age1…` public keys (recipients) on the node and
 * `AGE-SECRET-KEY-1…` identities, kept off it except for verify and restore.
 * The encryptor and decryptor are push APIs in constant memory with the sink
 * of util/sink.h; the decryptor hands on only authenticated plaintext. Only
 * the binary format is read: armored (PEM) files are refused.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/sink.h"

#define AGE_KEY_BYTES 32U

/* Payload plaintext per STREAM chunk (the format fixes it). */
#define AGE_CHUNK_BYTES ((size_t) 64 * 1024)

/* Limits on headers the decryptor reads: total size, stanzas, the length of a
 * stanza's argument line. Body lines are bounded by the format (64 columns). */
#define AGE_HEADER_MAX_BYTES ((size_t) 64 * 1024)
#define AGE_STANZAS_MAX 64U
#define AGE_ARG_LINE_MAX_BYTES 4096U

/* Identity files larger than this are refused (-EFBIG). */
#define AGE_IDENTITY_FILE_MAX_BYTES ((size_t) 64 * 1024)

/* Buffer sizes, NUL included, for age_recipient_to_string() and
 * age_identity_to_string(). */
#define AGE_RECIPIENT_STRING_SIZE 63U
#define AGE_IDENTITY_STRING_SIZE 75U

/* An X25519 public key: where backups are encrypted to. */
typedef struct AgeRecipient {
        uint8_t public_key[AGE_KEY_BYTES];
} AgeRecipient;

/* An X25519 secret key and its public key. Secret: wipe with
 * age_identity_wipe() or free arrays with age_identities_free(). */
typedef struct AgeIdentity {
        uint8_t secret_key[AGE_KEY_BYTES];
        uint8_t public_key[AGE_KEY_BYTES];
} AgeIdentity;

typedef struct AgeEncryptor AgeEncryptor;
typedef struct AgeDecryptor AgeDecryptor;

/* Parse an `age1…` public key (lower case, as age prints it). Returns 0,
 * -EINVAL for anything else: bad Bech32 or checksum, another prefix, a length
 * other than 32 bytes, or a low-order point no key exchange can use. */
int age_recipient_parse(const char *s, AgeRecipient *ret);

/* Parse an `AGE-SECRET-KEY-1…` identity (upper case, as age-keygen writes
 * it) and compute its public key. Returns 0 or -EINVAL; -ENOMEM or -EIO if
 * OpenSSL fails. */
int age_identity_parse(const char *s, AgeIdentity *ret);

/* The identities of an age key file's text (size bytes, need not be
 * NUL-terminated): one identity per line; lines starting with '#' and blank
 * lines are skipped, a trailing CR is ignored. Returns 0 with a new array in
 * *ret (free with age_identities_free()) and its length in *ret_n; -EBADMSG
 * when a line is anything else (also a public key or an armored or binary
 * file), with its number (from 1) in *ret_line and why in *ret_why (a static
 * string that quotes nothing of the line; both optional), -ENOKEY when the
 * text holds no identity, -ENOMEM. */
int age_identities_parse(const char *text, size_t size, AgeIdentity **ret, size_t *ret_n, size_t *ret_line,
                         const char **ret_why);

/* The public key of an identity. Returns 0 or -EINVAL for NULL. */
int age_identity_to_recipient(const AgeIdentity *id, AgeRecipient *ret);

/* Format as `age1…` into out (AGE_RECIPIENT_STRING_SIZE bytes). */
void age_recipient_to_string(const AgeRecipient *r, char out[static AGE_RECIPIENT_STRING_SIZE]);

/* Format as `AGE-SECRET-KEY-1…` into out (AGE_IDENTITY_STRING_SIZE bytes);
 * the caller wipes out when done. */
void age_identity_to_string(const AgeIdentity *id, char out[static AGE_IDENTITY_STRING_SIZE]);

/* Wipe the secret in *id. Accepts NULL. */
void age_identity_wipe(AgeIdentity *id);

/* Wipe and free an array of n identities. Accepts NULL; returns NULL. */
AgeIdentity *age_identities_free(AgeIdentity *ids, size_t n);

/* Bech32 (BIP 173 without its 90-character limit) as age uses it. Decode s,
 * all lower or all upper case, into its human-readable part (copied as
 * written into hrp, hrp_size bytes with the NUL) and its data converted from
 * 5-bit groups to bytes (at most data_size, length in *ret_n). Returns 0 or
 * -EINVAL (bad character, mixed case, no separator, empty part, bad checksum,
 * non-zero padding, a buffer too small). Exposed for the tests. */
int age_bech32_decode(const char *s, char *hrp, size_t hrp_size, uint8_t *data, size_t data_size,
                      size_t *ret_n);

/* Encode hrp (lower case characters 33–126) and n data bytes as Bech32 into
 * out (out_size bytes with the NUL), upper-cased if upper. Returns 0 or
 * -EINVAL (bad hrp, out too small). */
int age_bech32_encode(const char *hrp, const uint8_t *data, size_t n, bool upper, char *out,
                      size_t out_size);

/* Create an encryptor to n (1…AGE_STANZAS_MAX) recipients that passes the
 * encrypted file to sink(…, userdata): the header and payload nonce at the
 * first age_encryptor_write() or age_encryptor_finish(), then one 64 KiB
 * chunk (plus its 16-byte tag) at a time; the sink is only called from those
 * two functions. A fresh file key, ephemeral keys and nonce come from the
 * system CSPRNG. Returns 0 and the encryptor in *ret; -EINVAL for NULL
 * arguments, n out of range or a low-order recipient; -ENOMEM; -EIO when
 * OpenSSL or the random generator fails. */
int age_encryptor_new(const AgeRecipient *recipients, size_t n, SinkFn sink, void *userdata,
                      AgeEncryptor **ret);

/* Encrypt n bytes. Returns 0, the sink's negative return, -EIO (OpenSSL),
 * -EINVAL after age_encryptor_finish(). After an error every later call
 * returns the same error. */
int age_encryptor_write(AgeEncryptor *e, const void *data, size_t n);

/* Encrypt the final chunk and pass it on; the file is complete when this
 * returns 0. Returns as age_encryptor_write(); calling it again returns the
 * same result. */
int age_encryptor_finish(AgeEncryptor *e);

/* Wipe the keys and the plaintext buffer and free. Accepts NULL; returns NULL. */
AgeEncryptor *age_encryptor_free(AgeEncryptor *e);

/* Create a decryptor that tries the n identities (copied, wiped when freed
 * or once the header is read) and passes the plaintext to sink(…, userdata).
 * Returns 0, -EINVAL (NULL arguments, n == 0) or -ENOMEM. */
int age_decryptor_new(const AgeIdentity *ids, size_t n, SinkFn sink, void *userdata,
                      AgeDecryptor **ret);

/* Feed n bytes of the file. The header is read line by line within the
 * limits above; stanzas of other types than X25519 are skipped, but the header
 * MAC covers them. The sink gets each chunk only after its tag is verified,
 * and the last chunk only from age_decryptor_finish(): until that returns 0
 * the output may be incomplete. Returns 0; -EACCES when no identity opens
 * any stanza ("no identity matches"); -EBADMSG for a malformed, tampered or
 * oversized header, a bad MAC, a chunk that fails authentication or data after
 * the final chunk; -EPROTONOSUPPORT for an armored (PEM) file; the sink's
 * negative return; -ENOMEM; -EIO (OpenSSL); -EINVAL after
 * age_decryptor_finish(). After an error every later call returns the same
 * error. */
int age_decryptor_write(AgeDecryptor *d, const void *data, size_t n);

/* Declare the end of the file: verify and pass on the final chunk. Returns 0
 * when the whole file was authentic; -EBADMSG when it ended early (inside the
 * header, the nonce or before a final chunk); otherwise as
 * age_decryptor_write(). Calling it again returns the same result. */
int age_decryptor_finish(AgeDecryptor *d);

/* Wipe keys, identities and buffers and free. Accepts NULL; returns NULL. */
AgeDecryptor *age_decryptor_free(AgeDecryptor *d);

/* 1 if the n bytes at head start with the age v1 version line
 * ("age-encryption.org/v1\n"), 0 otherwise (also when too short), -EINVAL
 * for head == NULL with n > 0. */
int age_detect(const void *head, size_t n);

static inline void age_encryptor_freep(AgeEncryptor **e) {
        if (*e)
                age_encryptor_free(*e);
}

static inline void age_decryptor_freep(AgeDecryptor **d) {
        if (*d)
                age_decryptor_free(*d);
}
