/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * encryption-config.h — kube-apiserver's EncryptionConfiguration
 * (apiserver.config.k8s.io/v1, YAML) and the values it produces in etcd:
 * `k8s:enc:<provider>:v1:<key name>:<data>`. Reads the configuration from a
 * buffer with libyaml and decrypts values offline: aescbc (16-byte IV,
 * AES-CBC, PKCS#7), aesgcm (12-byte nonce, 16-byte tag, the etcd key as
 * additional authenticated data, as kube-apiserver's etcd3 store passes
 * it), secretbox (24-byte nonce, XSalsa20-Poly1305, libsodium); identity
 * passes through; kms cannot be read without the KMS plugin.
 *
 * Key material: every key lives in memory from sodium_malloc() (locked,
 * excluded from core dumps, guard pages) and is wiped when the configuration
 * is freed; the parser's own copies of the text are wiped too. No message
 * this module writes ever contains key bytes or their base64 — only key
 * names. Pure apart from that memory handling: no file is read here (the
 * caller checks the file's mode and reads it).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENCRYPTION_ERROR_MAX 256U
#define ENCRYPTION_CONFIG_API_VERSION "apiserver.config.k8s.io/v1"
#define ENCRYPTION_VALUE_PREFIX "k8s:enc:"
/* A configuration larger than this is refused (real ones are a few KiB). */
#define ENCRYPTION_CONFIG_MAX_BYTES (1024U * 1024U)

typedef enum EncProviderType {
        ENC_PROVIDER_IDENTITY,
        ENC_PROVIDER_AESCBC,
        ENC_PROVIDER_AESGCM,
        ENC_PROVIDER_SECRETBOX,
        ENC_PROVIDER_KMS,
        _ENC_PROVIDER_MAX,
        ENC_PROVIDER_INVALID = -1,
} EncProviderType;

typedef struct EncKey {
        char *name;
        uint8_t *secret;        /* sodium_malloc()ed; never printed */
        size_t size;
} EncKey;

typedef struct EncProvider {
        EncProviderType type;
        char *kms_name;         /* kms: its name */
        EncKey *keys;
        size_t n_keys;
        unsigned line;          /* where it is in the file */
} EncProvider;

typedef struct EncResource {
        char **resources;       /* strv: "secrets", "*.apps", "*.*" */
        EncProvider *providers; /* in order: the first encrypts */
        size_t n_providers;
        unsigned line;
} EncResource;

typedef struct EncryptionConfig {
        EncResource *resources;
        size_t n_resources;
} EncryptionConfig;

/* A stored value's prefix, split (pointers into the value). */
typedef struct EncValue {
        bool encrypted;                 /* false: no k8s:enc: prefix (identity) */
        EncProviderType type;           /* ENC_PROVIDER_INVALID for a name we do not know */
        const char *provider;           /* provider name as written */
        size_t provider_size;
        const char *key_name;           /* key name (kms: the plugin's name) */
        size_t key_name_size;
        const uint8_t *data;            /* ciphertext after the prefix */
        size_t data_size;
} EncValue;

/* "aescbc", "aesgcm", "secretbox", "identity", "kms"; NULL for others. */
const char *enc_provider_type_to_string(EncProviderType t);
EncProviderType enc_provider_type_from_string(const char *s, size_t n);

/* Parse an EncryptionConfiguration. On success *ret is a new configuration
 * (free with encryption_config_free()). On failure returns -EINVAL (not
 * YAML, wrong shape, a key of the wrong size or not base64; error says
 * "line N: …" and names the key, never its bytes; as kube-apiserver, a
 * resource named after an earlier "*.<its group>" or "*.*", which would mask
 * it, or a list that names one twice or beside such a wildcard), -E2BIG or
 * -ENOMEM. The caller should wipe its copy of the text afterwards. */
int encryption_config_parse(const void *text, size_t size, EncryptionConfig **ret,
                            char error[static ENCRYPTION_ERROR_MAX]);

/* Wipe and free; accepts NULL; returns NULL. */
EncryptionConfig *encryption_config_free(EncryptionConfig *c);
static inline void encryption_config_freep(EncryptionConfig **c) {
        if (*c)
                encryption_config_free(*c);
}

/* Split a stored value's prefix. Never fails: a value without the prefix
 * is not encrypted; a prefix without its key-name part has encrypted=true,
 * type as parsed and key_name NULL. */
void enc_value_parse(const void *value, size_t size, EncValue *ret);

/* enc_value_parse(), with the key name read as c names its keys: a name
 * may hold ':' (kube-apiserver allows it and writes
 * "k8s:enc:aescbc:v1:key:1:"), so the longest name of c's keys of that
 * type that the value carries, followed by ':', is the key name. Without
 * such a key (or c NULL), as enc_value_parse(). */
void encryption_config_value_parse(const EncryptionConfig *c, const void *value, size_t size, EncValue *ret);

/* The resource ("secrets", "deployments.apps", "widgets.example.com") an etcd key under
 * /registry/ belongs to, as EncryptionConfiguration names resources (see
 * format/k8s-key.h); "" for other keys. Returns a new string or NULL (no
 * memory). */
char *encryption_resource_of_key(const char *etcd_key, size_t n);

/* The first entry whose providers apply to a resource named as
 * encryption_resource_of_key() names it, as kube-apiserver picks them (the
 * first entry whose resources match: the exact name, "*.<group>", "*." for
 * the core group, "*.*"); NULL when none matches. Later entries that name
 * the resource again apply too: encryption_config_applies(). */
const EncResource *encryption_config_lookup(const EncryptionConfig *c, const char *resource);

/* Whether kube-apiserver reads resource with the providers of entry e of c:
 * e is the entry encryption_config_lookup() gives, or a later one that names
 * the resource the same way (kube-apiserver appends the providers of every
 * entry that names it; a wildcard cannot be named again, see
 * encryption_config_parse()). */
bool encryption_config_applies(const EncryptionConfig *c, const char *resource, const EncResource *e);

/* Is there a key of this provider type and name anywhere in c (and, when
 * resource is not NULL, in the entries that apply to it)? */
bool encryption_config_has_key(const EncryptionConfig *c, const char *resource, EncProviderType type,
                               const char *name, size_t name_size);

/* Decrypt one stored value read under etcd_key. A value without the prefix
 * is returned as is (identity). On success *ret is a new buffer of
 * *ret_size bytes (plaintext: the caller treats it as secret). Errors, with
 * a message naming the key: -ENOKEY (no key of that name and provider in
 * c), -EBADMSG (wrong key or tampered value: authentication or padding
 * failed, or the plaintext is not a Kubernetes object), -EPROTONOSUPPORT
 * (a provider that does not exist), -EOPNOTSUPP (kms: needs the plugin),
 * -ENOMEM. Never returns unauthenticated garbage. */
int encryption_config_decrypt(const EncryptionConfig *c, const char *etcd_key, size_t etcd_key_size,
                              const void *value, size_t size, uint8_t **ret, size_t *ret_size,
                              char error[static ENCRYPTION_ERROR_MAX]);

/* encryption_config_decrypt() as kube-apiserver reads the value with c:
 * only the providers of the entries that apply to the key's resource
 * (encryption_config_applies(); none: identity alone), where the other
 * looks in every entry for a key that moved, and key names with ':' are
 * split by those providers' names alone. A value without the prefix then
 * needs identity among those providers, a kms value a kms provider of its
 * name: -ENOKEY otherwise. */
int encryption_config_decrypt_as_apiserver(const EncryptionConfig *c, const char *etcd_key, size_t etcd_key_size,
                                           const void *value, size_t size, uint8_t **ret, size_t *ret_size,
                                           char error[static ENCRYPTION_ERROR_MAX]);

/* The label ("aescbc:key1", "secretbox:s1") of an encrypted value's key,
 * safe to print (characters outside [A-Za-z0-9._-] become '?', cut to fit
 * label_size). Returns false for a value that is not encrypted. */
bool enc_value_label(const EncValue *v, char *label, size_t label_size);

/* Would kube-apiserver with c fail to read this value of the resource (a
 * Secret's: "secrets"), e.g. after a restore? Encrypted: when the entries
 * that apply to the resource have no key of that provider and name (or
 * none applies: identity alone); kms: when they have no kms provider of
 * the plugin's name (whether the plugin has the key is not in the file).
 * Unencrypted: when they have no identity provider. */
bool encryption_config_lacks_key(const EncryptionConfig *c, const char *resource, const void *value, size_t size);
