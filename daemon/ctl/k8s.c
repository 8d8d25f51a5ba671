/* SPDX-License-Identifier: MIT */
/*
 * ctl/k8s.c — prints Kubernetes objects out of a backup: decoded (and
 * decrypted) as JSON, YAML or an applyable manifest, listed by resource and
 * namespace, and audited against an EncryptionConfiguration. The work is in
 * format/k8s-object.c and format/encryption-config.c; this file reads the
 * configuration file (refusing one others may read), prints, and names the
 * etcd key in every error.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "backup/k8s-secrets.h"
#include "ctl/json-print.h"
#include "ctl/k8s.h"
#include "format/json-yaml.h"
#include "format/k8s-key.h"
#include "format/k8s-object.h"
#include "util/macro.h"
#include "util/str.h"

static const char *const output_names[_CTL_K8S_OUTPUT_MAX] = {
        [CTL_K8S_OUTPUT_SIMPLE] = "simple",
        [CTL_K8S_OUTPUT_JSON] = "json",
        [CTL_K8S_OUTPUT_YAML] = "yaml",
        [CTL_K8S_OUTPUT_MANIFEST] = "manifest",
};

CtlK8sOutput ctl_k8s_output_from_string(const char *s) {
        for (int i = 0; i < _CTL_K8S_OUTPUT_MAX; i++)
                if (s && streq(s, output_names[i]))
                        return (CtlK8sOutput) i;
        return CTL_K8S_OUTPUT_INVALID;
}

int ctl_k8s_load_encryption_config(const char *cmd, const char *path, bool insecure, EncryptionConfig **ret) {
        char error[512] = "";
        int r;

        r = k8s_secrets_load_config(path, insecure, ret, error, sizeof error);
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl %s: --encryption-config %s%s\n", cmd,
                        error[0] ? error : strerror(-r),
                        r == -EPERM ? "; chmod 600 it, or pass --insecure-key-file" : "");
                return 1;
        }
        return 0;
}

/* Decrypt (when needed) and decode one value. Prints the error. */
static int decode_kv(const char *cmd, const MvccKv *kv, const EncryptionConfig *c, K8sObject *ret) {
        char kbuf[128], err[MAX(ENCRYPTION_ERROR_MAX, K8S_OBJECT_ERROR_MAX)];
        _cleanup_free_ uint8_t *plain = NULL;
        size_t plain_size = 0;
        EncValue v;
        int r;

        str_printable(kbuf, sizeof kbuf, kv->key, kv->key_size);
        encryption_config_value_parse(c, kv->value, kv->value_size, &v);
        if (v.encrypted) {
                char label[96];

                enc_value_label(&v, label, sizeof label);
                if (!c) {
                        fprintf(stderr, "etcd-backupctl %s: %s is encrypted (%s); pass --encryption-config FILE "
                                "with the cluster's EncryptionConfiguration\n", cmd, kbuf, label);
                        return -ENOKEY;
                }
                r = encryption_config_decrypt(c, (const char *) kv->key, kv->key_size, kv->value, kv->value_size,
                                              &plain, &plain_size, err);
                if (r < 0) {
                        fprintf(stderr, "etcd-backupctl %s: %s\n", cmd, r == -ENOMEM ? strerror(ENOMEM) : err);
                        return r;
                }
        }
        r = k8s_object_decode(plain ? plain : kv->value, plain ? plain_size : kv->value_size, ret, err);
        if (plain)
                sodium_memzero(plain, plain_size);
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl %s: %s: cannot be read as a Kubernetes object: %s\n", cmd, kbuf,
                        r == -ENOMEM ? strerror(ENOMEM) : err);
                return r;
        }
        return 0;
}

static int print_yaml(const char *cmd, json_object *o, bool separator) {
        _cleanup_free_ char *yaml = NULL;
        size_t n = 0;
        int r;

        r = json_yaml_emit(o, &yaml, &n);
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl %s: cannot write YAML: %s\n", cmd, strerror(-r));
                return r;
        }
        if (separator)
                fputs("---\n", stdout);
        /* What a terminal would act on is in double quotes (json_yaml_emit()), where its escape is the same
         * string. A failed write shows at the end (ferror()). */
        (void) fwrite_for_terminal(yaml, n, stdout);
        sodium_memzero(yaml, n);
        return 0;
}

/* kind's resource name as kube-apiserver makes it, in plural: lower case, then "es" after an s ("ingresses"),
 * "ies" for a y after a consonant ("networkpolicies"), else "s"; Endpoints is its own plural. false when it does
 * not fit. */
static bool kind_plural(const char *kind, char plural[static 128]) {
        size_t k = strlen(kind);

        if (k == 0 || k + 3 > 128)
                return false;
        for (size_t i = 0; i < k; i++)
                plural[i] = kind[i] >= 'A' && kind[i] <= 'Z' ? (char) (kind[i] - 'A' + 'a') : kind[i];
        plural[k] = '\0';
        if (streq(plural, "endpoints"))
                ;
        else if (plural[k - 1] == 's')
                strcpy(plural + k, "es");
        else if (plural[k - 1] == 'y' && k > 1 && !strchr("aeiou", plural[k - 2]))
                strcpy(plural + k - 1, "ies");
        else
                strcpy(plural + k, "s");
        return true;
}

/* Whether kind is the built-in resource named by the n bytes at resource. */
static bool kind_is_resource(const char *kind, const char *resource, size_t n) {
        char plural[128];

        return kind_plural(kind, plural) && strlen(plural) == n && memcmp(plural, resource, n) == 0;
}

/* Whether an object of kind in group (api's "<group>/" part, glen bytes) may be a built-in resource newer than
 * k8s-key.c's table, stored under a key whose first segment the table does not know: its group one of the
 * project's own (one word, or ending in .k8s.io), and its kind none of the table's resources of that group
 * (which kube-apiserver stores under their own keys). */
static bool kind_may_be_newer_builtin(const char *kind, const char *api, size_t glen) {
        static const char suffix[] = ".k8s.io";
        char plural[128], resource[256];
        bool builtin_group = glen > 0 && (!memchr(api, '.', glen) ||
                                          (glen > strlen(suffix) &&
                                           memcmp(api + glen - strlen(suffix), suffix, strlen(suffix)) == 0));

        if (!builtin_group || !kind_plural(kind, plural) ||
            snprintf(resource, sizeof resource, "%s.%.*s", plural, (int) glen, api) >= (int) sizeof resource)
                return false;
        return !k8s_resource_is_known(resource);
}

static const char *object_string(json_object *o, const char *a, const char *b) {
        json_object *v = NULL;

        if (!json_object_object_get_ex(o, a, &v) || (b && !json_object_object_get_ex(v, b, &v)) ||
            !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

/* kube-apiserver stores an object under its own key only: /registry/<resource>/[<namespace>/]<name>. An object
 * whose name or namespace is not its key's, of a group that is not its key's resource's, or of a kind that is not
 * that built-in resource's, was not stored there by kube-apiserver (a crafted backup), and a manifest of it would
 * create what the operator did not ask for (a ClusterRoleBinding among a namespace's ConfigMaps). NULL when they
 * agree, or for a key kube-apiserver does not store objects under; else what differs, in buf (printable). */
static const char *key_mismatch(const MvccKv *kv, json_object *o, char *buf, size_t size) {
        _cleanup_(k8s_key_clear) K8sKey k = {};
        const char *kind = object_string(o, "kind", NULL), *api = object_string(o, "apiVersion", NULL),
                   *name = object_string(o, "metadata", "name"), *ns = object_string(o, "metadata", "namespace");
        const char *dot, *slash, *kgroup;
        char t[7][96];
        bool same_group;
        size_t glen;

        if (k8s_key_parse(kv->key, kv->key_size, &k) < 0 || !kind || !api)
                return NULL;
        dot = strchr(k.resource, '.');
        kgroup = dot ? dot + 1 : "";
        slash = strchr(api, '/');
        glen = slash ? (size_t) (slash - api) : 0;      /* the group: "" for "v1" */
        if (ns && !*ns)
                ns = NULL;
        same_group = strlen(kgroup) == glen && memcmp(api, kgroup, glen) == 0;
        /* Objects last written by kube-apiserver 1.15 and before may still be stored in the group they had then. */
        if (glen == strlen("extensions") && memcmp(api, "extensions", glen) == 0 &&
            (streq(kgroup, "apps") || streq(kgroup, "networking.k8s.io") || streq(kgroup, "policy")))
                same_group = true;
        /* A built-in resource newer than the table is stored without its group, as those in it are: its key's
         * group cannot be told, so it is not compared. */
        if (!dot && !same_group && !k8s_resource_is_known(k.resource) && kind_may_be_newer_builtin(kind, api, glen))
                same_group = true;
        if ((!name || streq(name, k.name)) && streq_ptr(ns, k.namespace) && same_group &&
            (!k8s_resource_is_known(k.resource) ||
             kind_is_resource(kind, k.resource, dot ? (size_t) (dot - k.resource) : strlen(k.resource))))
                return NULL;
        snprintf(buf, size, "holds kind %s%s%s%s named %s%s%s, where its key names %s %s%s%s",
                 str_printable(t[0], sizeof t[0], kind, strlen(kind)), glen ? " (" : "",
                 glen ? str_printable(t[1], sizeof t[1], api, glen) : "", glen ? ")" : "",
                 ns ? str_printable(t[2], sizeof t[2], ns, strlen(ns)) : "", ns ? "/" : "",
                 name ? str_printable(t[3], sizeof t[3], name, strlen(name)) : "(none)",
                 str_printable(t[4], sizeof t[4], k.resource, strlen(k.resource)),
                 k.namespace ? str_printable(t[5], sizeof t[5], k.namespace, strlen(k.namespace)) : "",
                 k.namespace ? "/" : "", str_printable(t[6], sizeof t[6], k.name, strlen(k.name)));
        return buf;
}

int ctl_k8s_print(const char *cmd, const MvccKv *kvs, size_t n, bool list, CtlK8sOutput output,
                  const EncryptionConfig *c) {
        json_object *items = NULL;
        bool failed = false;
        size_t printed = 0;
        int r;

        if (output == CTL_K8S_OUTPUT_JSON && list) {
                items = json_object_new_array();
                if (!items) {
                        fprintf(stderr, "etcd-backupctl %s: out of memory\n", cmd);
                        return 1;
                }
        }

        for (size_t i = 0; i < n; i++) {
                _cleanup_(k8s_object_clear) K8sObject o = {};
                char kbuf[128], why[768];
                const char *mismatch;

                if (decode_kv(cmd, &kvs[i], c, &o) < 0) {
                        failed = true;
                        continue;
                }
                mismatch = key_mismatch(&kvs[i], o.object, why, sizeof why);
                if (mismatch && output == CTL_K8S_OUTPUT_MANIFEST) {
                        fprintf(stderr, "etcd-backupctl %s: %s: %s: kube-apiserver stores an object under its own "
                                "key only, so this backup holds what it did not write there; not printed as a "
                                "manifest (-o yaml shows it as it is)\n", cmd,
                                str_printable(kbuf, sizeof kbuf, kvs[i].key, kvs[i].key_size), mismatch);
                        failed = true;
                        continue;
                }
                if (mismatch)
                        fprintf(stderr, "etcd-backupctl %s: warning: %s: %s: kube-apiserver did not store it there\n",
                                cmd, str_printable(kbuf, sizeof kbuf, kvs[i].key, kvs[i].key_size), mismatch);
                if (output == CTL_K8S_OUTPUT_MANIFEST) {
                        if (!o.complete) {
                                const char *kind = object_string(o.object, "kind", NULL);
                                char kind_text[128];

                                fprintf(stderr, "etcd-backupctl %s: %s: only the metadata of a %s can be decoded; "
                                        "a manifest would lose the rest (see -o yaml)\n", cmd,
                                        str_printable(kbuf, sizeof kbuf, kvs[i].key, kvs[i].key_size),
                                        kind ? str_printable(kind_text, sizeof kind_text, kind, strlen(kind)) :
                                               "kind the decoder does not know");
                                failed = true;
                                continue;
                        }
                        k8s_object_strip_for_manifest(o.object);
                }
                switch (output) {
                case CTL_K8S_OUTPUT_JSON:
                        if (items) {
                                if (json_object_array_add(items, json_object_get(o.object)) < 0) {
                                        json_object_put(o.object);
                                        failed = true;
                                }
                        } else if (json_print(cmd, o.object, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE) < 0) {
                                /* Said; the next would only say it again. */
                                return 1;
                        }
                        break;
                default:
                        r = print_yaml(cmd, o.object, printed > 0);
                        if (r < 0)
                                failed = true;
                }
                printed++;
        }

        if (items) {
                json_object *l = json_object_new_object();

                if (!l || json_object_object_add(l, "apiVersion", json_object_new_string("v1")) < 0 ||
                    json_object_object_add(l, "kind", json_object_new_string("List")) < 0 ||
                    json_object_object_add(l, "items", items) < 0) {
                        json_object_put(l);
                        fprintf(stderr, "etcd-backupctl %s: out of memory\n", cmd);
                        return 1;
                }
                r = json_print(cmd, l, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                       JSON_C_TO_STRING_NOSLASHESCAPE);
                json_object_put(l);
                if (r < 0)
                        return 1;       /* said */
        }
        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "etcd-backupctl %s: cannot write to standard output: %s\n", cmd, strerror(errno));
                return 1;
        }
        return failed ? 1 : 0;
}

/* ---- objects ---- */

typedef struct Row {
        K8sKey key;
        int64_t mod_revision;
        const char *encoding;
        char encryption[96];
} Row;

/* --resource: the resource as the table shows it ("deployments.apps"), or
 * without its group ("deployments"), as kubectl takes it. */
static bool resource_is(const char *resource, const char *wanted) {
        size_t n = strlen(wanted);

        return streq(resource, wanted) ||
               (!strchr(wanted, '.') && strncmp(resource, wanted, n) == 0 && resource[n] == '.');
}

static json_object *counts_add(json_object *counts, const char *resource) {
        json_object *v = NULL;

        if (json_object_object_get_ex(counts, resource, &v))
                return json_object_set_int64(v, json_object_get_int64(v) + 1) ? v : NULL;
        v = json_object_new_int64(1);
        if (!v || json_object_object_add(counts, resource, v) < 0)
                return NULL;
        return v;
}

/* A segment of a key as a cell of the objects table, in place of *s: what a terminal acts on becomes '?', and a
 * segment with a space (RBAC names may have them), a '"', a '\\' or anything not ASCII (no list of what a terminal
 * shows blank is complete: U+00A0, U+2800, the Hangul fillers, the zero-width ones) is put in double quotes with
 * '"' and '\\' escaped, so that where a cell ends is plain. 0 or -ENOMEM. */
static int table_cell(char **s) {
        const unsigned char *p;
        bool quote = false;
        size_t extra = 0;
        char *q, *w;

        (void) str_make_terminal_safe(*s);
        for (p = (const unsigned char *) *s; *p; p++) {
                quote = quote || *p == ' ' || *p == '"' || *p == '\\' || *p >= 0x80;
                extra += *p == '"' || *p == '\\';
        }
        if (!quote)
                return 0;
        q = malloc(strlen(*s) + extra + 3);
        if (!q)
                return -ENOMEM;
        w = q;
        *w++ = '"';
        for (const char *r = *s; *r; r++) {
                if (*r == '"' || *r == '\\')
                        *w++ = '\\';
                *w++ = *r;
        }
        *w++ = '"';
        *w = '\0';
        free(*s);
        *s = q;
        return 0;
}

int ctl_k8s_objects(const char *cmd, const MvccKv *kvs, size_t n, const char *resource, const char *namespace,
                    bool json) {
        _cleanup_free_ Row *rows = NULL;
        json_object *counts = json_object_new_object();
        size_t n_rows = 0, w_res = strlen("RESOURCE"), w_ns = strlen("NAMESPACE"), w_name = strlen("NAME");
        bool printed = true;    /* false: the JSON could not be printed */
        int r = 0;

        rows = calloc(n ? n : 1, sizeof(Row));
        if (!rows || !counts) {
                json_object_put(counts);
                fprintf(stderr, "etcd-backupctl %s: out of memory\n", cmd);
                return 1;
        }
        for (size_t i = 0; i < n; i++) {
                Row *row = &rows[n_rows];
                EncValue v;

                if (k8s_key_parse(kvs[i].key, kvs[i].key_size, &row->key) < 0)
                        continue; /* not an object key (e.g. /registry/masterleases/…) */
                if ((resource && !resource_is(row->key.resource, resource)) ||
                    (namespace && !streq_ptr(row->key.namespace, namespace))) {
                        k8s_key_clear(&row->key);
                        continue;
                }
                /* The key's segments are the backup's bytes: in the table, printed safe for a
                 * terminal, and one cell each; in JSON as they are (escaped as json_print() does). */
                if (!json && (table_cell(&row->key.resource) < 0 ||
                              (row->key.namespace && table_cell(&row->key.namespace) < 0) ||
                              table_cell(&row->key.name) < 0)) {
                        k8s_key_clear(&row->key);
                        r = -ENOMEM;
                        break;
                }
                row->mod_revision = kvs[i].mod_revision;
                enc_value_parse(kvs[i].value, kvs[i].value_size, &v);
                if (enc_value_label(&v, row->encryption, sizeof row->encryption))
                        row->encoding = "-"; /* not known before decryption */
                else {
                        strcpy(row->encryption, "-");
                        row->encoding = k8s_encoding_to_string(k8s_object_encoding(kvs[i].value, kvs[i].value_size));
                }
                if (!counts_add(counts, row->key.resource)) {
                        k8s_key_clear(&row->key);
                        r = -ENOMEM;
                        break;
                }
                w_res = MAX(w_res, strlen(row->key.resource));
                w_ns = MAX(w_ns, row->key.namespace ? strlen(row->key.namespace) : 1);
                w_name = MAX(w_name, strlen(row->key.name));
                n_rows++;
        }

        if (r == 0 && json) {
                json_object *out = json_object_new_object(), *arr = json_object_new_array();

                for (size_t i = 0; out && arr && i < n_rows; i++) {
                        json_object *o = json_object_new_object();

                        json_object_object_add(o, "resource", json_object_new_string(rows[i].key.resource));
                        json_object_object_add(o, "namespace", rows[i].key.namespace
                                                                       ? json_object_new_string(rows[i].key.namespace)
                                                                       : NULL);
                        json_object_object_add(o, "name", json_object_new_string(rows[i].key.name));
                        json_object_object_add(o, "mod_revision", json_object_new_int64(rows[i].mod_revision));
                        json_object_object_add(o, "encoding", streq(rows[i].encoding, "-") ? NULL :
                                               json_object_new_string(rows[i].encoding));
                        json_object_object_add(o, "encryption", streq(rows[i].encryption, "-") ? NULL :
                                               json_object_new_string(rows[i].encryption));
                        json_object_array_add(arr, o);
                }
                if (!out || !arr) {
                        json_object_put(arr);
                        r = -ENOMEM;
                } else {
                        json_object_object_add(out, "objects", arr);
                        json_object_object_add(out, "counts", json_object_get(counts));
                        printed = json_print(cmd, out, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) >= 0;
                }
                json_object_put(out);
        } else if (r == 0) {
                printf("%-*s  %-*s  %-*s  %12s  %-8s  %s\n", (int) w_res, "RESOURCE", (int) w_ns, "NAMESPACE",
                       (int) w_name, "NAME", "MOD REVISION", "ENCODING", "ENCRYPTION");
                for (size_t i = 0; i < n_rows; i++)
                        printf("%-*s  %-*s  %-*s  %12" PRId64 "  %-8s  %s\n", (int) w_res, rows[i].key.resource,
                               (int) w_ns, rows[i].key.namespace ? rows[i].key.namespace : "-", (int) w_name,
                               rows[i].key.name, rows[i].mod_revision, rows[i].encoding, rows[i].encryption);
                printf("\n%-*s  %s\n", (int) w_res, "RESOURCE", "OBJECTS");
                json_object_object_foreach(counts, res, count)
                        printf("%-*s  %" PRId64 "\n", (int) w_res, res, json_object_get_int64(count));
                printf("%-*s  %zu\n", (int) w_res, "TOTAL", n_rows);
        }

        for (size_t i = 0; i < n_rows; i++)
                k8s_key_clear(&rows[i].key);
        json_object_put(counts);
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl %s: out of memory\n", cmd);
                return 1;
        }
        if (!printed)
                return 1;       /* json_print() said why */
        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "etcd-backupctl %s: cannot write to standard output: %s\n", cmd, strerror(errno));
                return 1;
        }
        return 0;
}

/* ---- audit --encryption-config ---- */

/* Per storage label: how many Secrets, how many of them c cannot read. */
typedef struct LabelCount {
        uint64_t secrets;
        uint64_t missing;       /* the key is not in c */
        uint64_t failed;        /* the key is there, decryption fails */
} LabelCount;

static int audit_count(json_object *labels, const char *label, int outcome) {
        json_object *o = NULL, *v;
        const char *field = outcome == 0 ? "readable" : outcome == -ENOKEY ? "missing_key" : "undecryptable";

        if (!json_object_object_get_ex(labels, label, &o)) {
                o = json_object_new_object();
                if (!o || json_object_object_add(labels, label, o) < 0) {
                        json_object_put(o);
                        return -ENOMEM;
                }
                json_object_object_add(o, "secrets", json_object_new_int64(0));
                json_object_object_add(o, "readable", json_object_new_int64(0));
                json_object_object_add(o, "missing_key", json_object_new_int64(0));
                json_object_object_add(o, "undecryptable", json_object_new_int64(0));
        }
        if (!json_object_object_get_ex(o, "secrets", &v) || !json_object_set_int64(v, json_object_get_int64(v) + 1))
                return -ENOMEM;
        if (!json_object_object_get_ex(o, field, &v) || !json_object_set_int64(v, json_object_get_int64(v) + 1))
                return -ENOMEM;
        return 0;
}

int ctl_k8s_audit_encryption(const MvccKv *secrets, size_t n, const EncryptionConfig *c, const char *config_path,
                             json_object *json_out) {
        json_object *labels = json_object_new_object(), *unused = json_object_new_array(),
                    *warnings = json_object_new_array();
        const EncResource *res = encryption_config_lookup(c, "secrets");
        bool identity_first = res && res->n_providers > 0 && res->providers[0].type == ENC_PROVIDER_IDENTITY;
        uint64_t unreadable = 0;
        char text[512];
        int r = 0;

        if (!labels || !unused || !warnings) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n; i++) {
                char err[ENCRYPTION_ERROR_MAX], label[96];
                _cleanup_free_ uint8_t *plain = NULL;
                size_t plain_size = 0;
                EncValue v;
                int k;

                encryption_config_value_parse(c, secrets[i].value, secrets[i].value_size, &v);
                if (!enc_value_label(&v, label, sizeof label)) {
                        /* Plaintext (the table above counts those): read
                         * only where the providers for secrets have identity. */
                        if (!encryption_config_lacks_key(c, "secrets", secrets[i].value, secrets[i].value_size))
                                continue;
                        snprintf(label, sizeof label, "identity");
                        k = -ENOKEY;
                } else {
                        /* As kube-apiserver reads it with this file: the
                         * providers of the entry for secrets alone (kms:
                         * -ENOKEY without a kms provider of its name there,
                         * -EOPNOTSUPP with one). */
                        k = encryption_config_decrypt_as_apiserver(c, (const char *) secrets[i].key,
                                                                   secrets[i].key_size, secrets[i].value,
                                                                   secrets[i].value_size, &plain, &plain_size, err);
                        if (plain)
                                sodium_memzero(plain, plain_size);
                }
                if (k == -ENOMEM) {
                        r = k;
                        goto finish;
                }
                if (k == -EOPNOTSUPP)
                        continue; /* kms: not decidable offline */
                if (k < 0)
                        unreadable++;
                r = audit_count(labels, label, k == -ENOKEY || k == -EPROTONOSUPPORT ? -ENOKEY : k);
                if (r < 0)
                        goto finish;
        }

        /* Keys of the configuration for Secrets that no Secret uses. */
        for (size_t e = 0; e < c->n_resources; e++) {
                const EncResource *entry = &c->resources[e];

                if (!encryption_config_applies(c, "secrets", entry))
                        continue;
                for (size_t j = 0; j < entry->n_providers; j++)
                        for (size_t k = 0; k < entry->providers[j].n_keys; k++) {
                                const char *type = enc_provider_type_to_string(entry->providers[j].type);
                                const char *name = entry->providers[j].keys[k].name;
                                /* Labelled as the values stored under it are. */
                                EncValue as_stored = { .encrypted = true, .provider = type,
                                                       .provider_size = strlen(type), .key_name = name,
                                                       .key_name_size = strlen(name) };
                                char label[96];
                                json_object *o;

                                (void) enc_value_label(&as_stored, label, sizeof label);
                                if (!json_object_object_get_ex(labels, label, &o))
                                        json_object_array_add(unused, json_object_new_string(label));
                        }
        }

        if (identity_first) {
                snprintf(text, sizeof text, "identity is the first provider for secrets in %s: new Secrets are "
                         "stored in plaintext (the first provider encrypts)", config_path);
                json_object_array_add(warnings, json_object_new_string(text));
        }
        for (size_t i = 0; i < json_object_array_length(unused); i++) {
                snprintf(text, sizeof text, "key %s in %s is used by no Secret in this backup",
                         json_object_get_string(json_object_array_get_idx(unused, i)), config_path);
                json_object_array_add(warnings, json_object_new_string(text));
        }
        json_object_object_foreach(labels, lbl, counts) {
                json_object *m = NULL, *u = NULL;

                json_object_object_get_ex(counts, "missing_key", &m);
                json_object_object_get_ex(counts, "undecryptable", &u);
                if (json_object_get_int64(m) > 0 && streq(lbl, "identity")) {
                        snprintf(text, sizeof text, "%" PRId64 " Secret%s stored in plaintext, and the providers "
                                 "for secrets in %s have no identity: %s cannot be read after a restore with this "
                                 "configuration", json_object_get_int64(m), json_object_get_int64(m) == 1 ? " is" : "s are",
                                 config_path, json_object_get_int64(m) == 1 ? "it" : "they");
                        json_object_array_add(warnings, json_object_new_string(text));
                } else if (json_object_get_int64(m) > 0) {
                        snprintf(text, sizeof text, "%" PRId64 " Secret%s encrypted with %s, which the providers "
                                 "for secrets in %s do not have: %s cannot be read after a restore with this "
                                 "configuration", json_object_get_int64(m), json_object_get_int64(m) == 1 ? " is" : "s are",
                                 lbl, config_path, json_object_get_int64(m) == 1 ? "it" : "they");
                        json_object_array_add(warnings, json_object_new_string(text));
                }
                if (json_object_get_int64(u) > 0) {
                        snprintf(text, sizeof text, "%" PRId64 " Secret%s not decrypt with key %s of %s: wrong "
                                 "key or damaged value", json_object_get_int64(u),
                                 json_object_get_int64(u) == 1 ? " does" : "s do", lbl, config_path);
                        json_object_array_add(warnings, json_object_new_string(text));
                }
        }

        if (json_out) {
                json_object *o = json_object_new_object();

                if (!o) {
                        r = -ENOMEM;
                        goto finish;
                }
                json_object_object_add(o, "path", json_object_new_string(config_path));
                json_object_object_add(o, "identity_first", json_object_new_boolean(identity_first));
                json_object_object_add(o, "by_key", json_object_get(labels));
                json_object_object_add(o, "unused_keys", json_object_get(unused));
                json_object_object_add(o, "unreadable", json_object_new_int64((int64_t) unreadable));
                json_object_object_add(o, "warnings", json_object_get(warnings));
                json_object_object_add(json_out, "encryption_config", o);
        } else {
                size_t width = strlen("KEY");

                json_object_object_foreach(labels, l1, c1) {
                        (void) c1;
                        width = MAX(width, strlen(l1));
                }
                printf("\nWith %s:\n%-*s  %10s  %10s  %11s  %13s\n", config_path, (int) width, "KEY", "SECRETS",
                       "READABLE", "MISSING KEY", "UNDECRYPTABLE");
                json_object_object_foreach(labels, l2, c2) {
                        json_object *a, *b, *d, *e;

                        json_object_object_get_ex(c2, "secrets", &a);
                        json_object_object_get_ex(c2, "readable", &b);
                        json_object_object_get_ex(c2, "missing_key", &d);
                        json_object_object_get_ex(c2, "undecryptable", &e);
                        printf("%-*s  %10" PRId64 "  %10" PRId64 "  %11" PRId64 "  %13" PRId64 "\n", (int) width, l2,
                               json_object_get_int64(a), json_object_get_int64(b), json_object_get_int64(d),
                               json_object_get_int64(e));
                }
                for (size_t i = 0; i < json_object_array_length(warnings); i++)
                        printf("WARNING: %s\n", json_object_get_string(json_object_array_get_idx(warnings, i)));
        }
        r = (int) MIN(unreadable, (uint64_t) INT32_MAX);
finish:
        json_object_put(labels);
        json_object_put(unused);
        json_object_put(warnings);
        return r;
}
