/* SPDX-License-Identifier: MIT */
/*
 * secrets.c — the Secrets audit: classify each stored Secret by the prefix
 * kube-apiserver gave its value, and count them per label.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "format/mvcc-kv.h"
#include "format/secrets.h"
#include "util/macro.h"

/* Distinct audit labels kept; more (only a hostile backup has them) are
 * counted under one "other" label. */
#define AUDIT_LABELS_MAX 256

/* The field of p (n bytes) up to the next ':'; -1 if there is none. */
static ssize_t field_len(const uint8_t *p, size_t n) {
        const uint8_t *c = memchr(p, ':', n);

        return c ? c - p : -1;
}

/* Append n bytes of p to label (size bytes, NUL-terminated), as printable
 * name characters, cut to fit. */
static void label_append(char *label, size_t size, const void *p, size_t n) {
        size_t len = strlen(label);
        const uint8_t *s = p;

        for (size_t i = 0; i < n && len + 1 < size; i++) {
                uint8_t c = s[i];
                bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
                label[len++] = safe ? (char) c : '?';
        }
        label[len] = '\0';
}

static void label_colon(char *label, size_t size) {
        size_t len = strlen(label);

        if (len + 1 < size) {
                label[len] = ':';
                label[len + 1] = '\0';
        }
}

SecretsStorage secrets_classify(const void *value, size_t size, char *label, size_t label_size) {
        static const char enc[] = "k8s:enc:";
        const uint8_t *p = value;
        ssize_t provider, version, name;
        size_t off;

        if (!label || label_size == 0)
                return SECRETS_STORAGE_UNKNOWN;
        label[0] = '\0';
        if (!p)
                size = 0;

        if (size >= strlen(enc) && memcmp(p, enc, strlen(enc)) == 0) {
                /* k8s:enc:<provider>:<version>:<key name>:<ciphertext> */
                off = strlen(enc);
                provider = field_len(p + off, size - off);
                if (provider <= 0)
                        goto unknown;
                off += (size_t) provider + 1;
                version = field_len(p + off, size - off);
                if (version <= 0)
                        goto unknown;
                name = field_len(p + off + (size_t) version + 1, size - off - (size_t) version - 1);
                if (name <= 0)
                        goto unknown;
                label_append(label, label_size, p + strlen(enc), (size_t) provider);
                /* v1 is every provider's format but KMS's second one, which
                 * is a different provider in all but name: "kmsv2". */
                if (!((size_t) version == 2 && memcmp(p + off, "v1", 2) == 0))
                        label_append(label, label_size, p + off, (size_t) version);
                label_colon(label, label_size);
                label_append(label, label_size, p + off + (size_t) version + 1, (size_t) name);
                return SECRETS_STORAGE_ENCRYPTED;
        }
        if ((size >= 4 && memcmp(p, "k8s\0", 4) == 0) || (size >= 1 && p[0] == '{')) {
                snprintf(label, label_size, "plaintext");
                return SECRETS_STORAGE_PLAINTEXT;
        }
unknown:
        snprintf(label, label_size, "unknown");
        return SECRETS_STORAGE_UNKNOWN;
}

void secrets_audit_done(SecretsAudit *a) {
        for (size_t i = 0; i < a->n_entries; i++)
                free(a->entries[i].label);
        free(a->entries);
        *a = (SecretsAudit) {};
}

static int audit_count(SecretsAudit *a, const char *label) {
        SecretsAuditEntry *e;

        for (size_t i = 0; i < a->n_entries; i++)
                if (streq(a->entries[i].label, label)) {
                        a->entries[i].count++;
                        return 0;
                }
        if (a->n_entries >= AUDIT_LABELS_MAX && !streq(label, "other"))
                return audit_count(a, "other");
        e = reallocarray(a->entries, a->n_entries + 1, sizeof *e);
        if (!e)
                return -ENOMEM;
        a->entries = e;
        e[a->n_entries] = (SecretsAuditEntry) { .label = strdup(label), .count = 1 };
        if (!e[a->n_entries].label)
                return -ENOMEM;
        a->n_entries++;
        return 0;
}

static int audit_entry_compare(const void *a, const void *b) {
        const SecretsAuditEntry *x = a, *y = b;

        return strcmp(x->label, y->label);
}

int secrets_audit(Bbolt *db, SecretsAudit *ret) {
        _cleanup_(secrets_audit_done) SecretsAudit a = {};
        _cleanup_free_ MvccKv *kvs = NULL;
        char label[SECRETS_LABEL_MAX];
        size_t n = 0;
        int r;

        if (!db || !ret)
                return -EINVAL;
        r = mvcc_kv_get(db, SECRETS_PREFIX, strlen(SECRETS_PREFIX), true, &kvs, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                SecretsStorage s = secrets_classify(kvs[i].value, kvs[i].value_size, label,
                                                          sizeof label);
                a.secrets++;
                if (s == SECRETS_STORAGE_PLAINTEXT)
                        a.plaintext++;
                else if (s == SECRETS_STORAGE_UNKNOWN)
                        a.unknown++;
                r = audit_count(&a, label);
                if (r < 0)
                        return r;
        }
        if (a.n_entries > 1)
                qsort(a.entries, a.n_entries, sizeof *a.entries, audit_entry_compare);
        *ret = a;
        a = (SecretsAudit) {};
        return 0;
}
