/* SPDX-License-Identifier: MIT */
/*
 * encryption-config.c — reads an EncryptionConfiguration with libyaml's
 * document loader and decrypts the values kube-apiserver wrote with it:
 * AES-CBC and AES-GCM with OpenSSL's EVP interface, XSalsa20-Poly1305 with
 * libsodium (OpenSSL has no XSalsa20). Keys are held in sodium_malloc()
 * memory. See encryption-config.h for the contract.
 */

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <yaml.h>

#include "format/encryption-config.h"
#include "format/k8s-key.h"
#include "format/k8s-object.h"
#include "util/macro.h"
#include "util/str.h"

#define AESCBC_IV_BYTES 16U
#define AESGCM_NONCE_BYTES 12U
#define AESGCM_TAG_BYTES 16U
#define KEY_MAX_BYTES 64U

static const char *const provider_names[_ENC_PROVIDER_MAX] = {
        [ENC_PROVIDER_IDENTITY] = "identity",
        [ENC_PROVIDER_AESCBC] = "aescbc",
        [ENC_PROVIDER_AESGCM] = "aesgcm",
        [ENC_PROVIDER_SECRETBOX] = "secretbox",
        [ENC_PROVIDER_KMS] = "kms",
};

const char *enc_provider_type_to_string(EncProviderType t) {
        if (t < 0 || t >= _ENC_PROVIDER_MAX)
                return NULL;
        return provider_names[t];
}

EncProviderType enc_provider_type_from_string(const char *s, size_t n) {
        for (int i = 0; i < _ENC_PROVIDER_MAX; i++)
                if (s && strlen(provider_names[i]) == n && memcmp(provider_names[i], s, n) == 0)
                        return (EncProviderType) i;
        return ENC_PROVIDER_INVALID;
}

static int fail(char *error, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(char *error, int r, const char *fmt, ...) {
        va_list ap;

        if (error) {
                va_start(ap, fmt);
                vsnprintf(error, ENCRYPTION_ERROR_MAX, fmt, ap);
                va_end(ap);
        }
        return r;
}

/* ---- freeing ---- */

static void key_clear(EncKey *k) {
        free(k->name);
        if (k->secret)
                sodium_free(k->secret);
        *k = (EncKey) {};
}

static void provider_clear(EncProvider *p) {
        for (size_t i = 0; i < p->n_keys; i++)
                key_clear(&p->keys[i]);
        free(p->keys);
        free(p->kms_name);
        *p = (EncProvider) {};
}

static void resource_clear(EncResource *r) {
        strv_free(r->resources);
        for (size_t i = 0; i < r->n_providers; i++)
                provider_clear(&r->providers[i]);
        free(r->providers);
        *r = (EncResource) {};
}

EncryptionConfig *encryption_config_free(EncryptionConfig *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_resources; i++)
                resource_clear(&c->resources[i]);
        free(c->resources);
        free(c);
        return NULL;
}

/* ---- YAML document helpers ---- */

typedef struct Parse {
        yaml_document_t *doc;
        char *error;
        const yaml_node_t *twice;       /* the first key map_get() found given twice */
} Parse;

static unsigned line_of(const yaml_node_t *n) {
        return (unsigned) n->start_mark.line + 1;
}

static bool scalar_is(const yaml_node_t *n, const char *s) {
        return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
               memcmp(n->data.scalar.value, s, n->data.scalar.length) == 0;
}

/* The value of key in a mapping node, or NULL. A key given twice is
 * recorded in p->twice (the file is refused): kube-apiserver's decoder takes
 * the last, or refuses the file when strict. */
static yaml_node_t *map_get(Parse *p, yaml_node_t *map, const char *key) {
        yaml_node_t *found = NULL;

        if (!map || map->type != YAML_MAPPING_NODE)
                return NULL;
        for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
                yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);

                if (!scalar_is(k, key))
                        continue;
                if (found) {
                        p->twice = p->twice ? p->twice : k;
                        break;
                }
                found = yaml_document_get_node(p->doc, pair->value);
        }
        return found;
}

/* A scalar's text as a new string: no NUL, at most 253 bytes (names). */
static int scalar_name(Parse *p, yaml_node_t *n, const char *what, char **ret) {
        char *s;

        if (!n || n->type != YAML_SCALAR_NODE)
                return fail(p->error, -EINVAL, "line %u: %s must be a string", n ? line_of(n) : 0, what);
        if (n->data.scalar.length == 0 || n->data.scalar.length > 253 ||
            memchr(n->data.scalar.value, 0, n->data.scalar.length))
                return fail(p->error, -EINVAL, "line %u: %s must be 1 to 253 characters", line_of(n), what);
        s = strndup((const char *) n->data.scalar.value, n->data.scalar.length);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* kube-apiserver decodes a secret with Go's base64.StdEncoding, which is not strict: the unused low bits of the
 * last character before '=' padding may be set (a hand-made key: "…B=" for "…A="). libsodium refuses them;
 * cleared here, in place, the text decodes to the same bytes as in kube-apiserver. */
static void base64_clear_unused_bits(char *s, size_t n) {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t pad = 0;
        const char *at;

        while (n > 0 && s[n - 1] && strchr("\r\n", s[n - 1]))
                n--;
        while (n > 0 && s[n - 1] == '=' && pad < 2) {
                pad++;
                n--;
        }
        while (n > 0 && s[n - 1] && strchr("\r\n", s[n - 1]))
                n--;
        if (pad == 0 || n == 0 || !s[n - 1] || !(at = strchr(alphabet, s[n - 1])))
                return;
        s[n - 1] = alphabet[(at - alphabet) & (pad == 2 ? 0x30 : 0x3c)];
}

static int parse_key(Parse *p, EncProviderType type, yaml_node_t *n, EncKey *ret) {
        const char *tname = provider_names[type];
        _cleanup_free_ char *name = NULL;
        yaml_node_t *secret;
        uint8_t *bin;
        char *text;
        size_t len = 0;
        char pbuf[64];
        int r, k;

        if (!n || n->type != YAML_MAPPING_NODE)
                return fail(p->error, -EINVAL, "line %u: each %s key must be a mapping with name and secret",
                            n ? line_of(n) : 0, tname);
        r = scalar_name(p, map_get(p, n, "name"), "key name", &name);
        if (r < 0)
                return r == -EINVAL && !map_get(p, n, "name")
                               ? fail(p->error, -EINVAL, "line %u: a %s key has no name", line_of(n), tname)
                               : r;
        secret = map_get(p, n, "secret");
        if (!secret || secret->type != YAML_SCALAR_NODE)
                return fail(p->error, -EINVAL, "line %u: %s key \"%s\" has no secret", line_of(n), tname,
                            str_printable(pbuf, sizeof pbuf, name, strlen(name)));
        bin = sodium_malloc(KEY_MAX_BYTES);
        text = sodium_malloc(secret->data.scalar.length + 1);
        if (!bin || !text) {
                sodium_free(bin);
                sodium_free(text);
                return -ENOMEM;
        }
        memcpy(text, secret->data.scalar.value, secret->data.scalar.length);
        base64_clear_unused_bits(text, secret->data.scalar.length);
        /* Line breaks are ignored, as kube-apiserver's decoder does (a
         * block scalar "secret: |" ends in one). */
        k = sodium_base642bin(bin, KEY_MAX_BYTES, text, secret->data.scalar.length, "\r\n", &len, NULL,
                              sodium_base64_VARIANT_ORIGINAL);
        sodium_free(text);
        if (k < 0) {
                sodium_free(bin);
                return fail(p->error, -EINVAL, "line %u: the secret of %s key \"%s\" is not base64 of at most %u bytes",
                            line_of(secret), tname, str_printable(pbuf, sizeof pbuf, name, strlen(name)), KEY_MAX_BYTES);
        }
        if ((type == ENC_PROVIDER_SECRETBOX && len != crypto_secretbox_KEYBYTES) ||
            (type != ENC_PROVIDER_SECRETBOX && len != 16 && len != 24 && len != 32)) {
                sodium_free(bin);
                return fail(p->error, -EINVAL, "line %u: %s key \"%s\" is %zu bytes; %s needs %s", line_of(secret),
                            tname, str_printable(pbuf, sizeof pbuf, name, strlen(name)), len, tname,
                            type == ENC_PROVIDER_SECRETBOX ? "32" : "16, 24 or 32");
        }
        *ret = (EncKey) { .name = TAKE_PTR(name), .secret = bin, .size = len };
        return 0;
}

static int parse_provider(Parse *p, yaml_node_t *n, EncProvider *ret) {
        _cleanup_(provider_clear) EncProvider pr = {};
        yaml_node_t *name_node, *body, *keys;
        char pbuf[64];
        int r;

        if (!n || n->type != YAML_MAPPING_NODE || n->data.mapping.pairs.top - n->data.mapping.pairs.start != 1)
                return fail(p->error, -EINVAL, "line %u: each provider must be a mapping with exactly one of "
                            "aescbc, aesgcm, secretbox, identity, kms", n ? line_of(n) : 0);
        name_node = yaml_document_get_node(p->doc, n->data.mapping.pairs.start->key);
        body = yaml_document_get_node(p->doc, n->data.mapping.pairs.start->value);
        if (!name_node || name_node->type != YAML_SCALAR_NODE)
                return fail(p->error, -EINVAL, "line %u: a provider's name must be a string", line_of(n));
        pr.line = line_of(name_node);
        pr.type = enc_provider_type_from_string((const char *) name_node->data.scalar.value,
                                                name_node->data.scalar.length);
        if (pr.type == ENC_PROVIDER_INVALID)
                return fail(p->error, -EINVAL, "line %u: unknown provider \"%s\" (aescbc, aesgcm, secretbox, "
                            "identity, kms)", pr.line,
                            str_printable(pbuf, sizeof pbuf, name_node->data.scalar.value, name_node->data.scalar.length));

        switch (pr.type) {
        case ENC_PROVIDER_IDENTITY:
                break;
        case ENC_PROVIDER_KMS:
                r = scalar_name(p, map_get(p, body, "name"), "kms name", &pr.kms_name);
                if (r < 0)
                        return r;
                break;
        default:
                keys = map_get(p, body, "keys");
                if (!keys || keys->type != YAML_SEQUENCE_NODE ||
                    keys->data.sequence.items.top == keys->data.sequence.items.start)
                        return fail(p->error, -EINVAL, "line %u: %s needs a non-empty list of keys", pr.line,
                                    provider_names[pr.type]);
                pr.keys = calloc((size_t) (keys->data.sequence.items.top - keys->data.sequence.items.start),
                                 sizeof(EncKey));
                if (!pr.keys)
                        return -ENOMEM;
                for (yaml_node_item_t *it = keys->data.sequence.items.start; it < keys->data.sequence.items.top; it++) {
                        EncKey *k = &pr.keys[pr.n_keys];

                        r = parse_key(p, pr.type, yaml_document_get_node(p->doc, *it), k);
                        if (r < 0)
                                return r;
                        /* A name given twice is kube-apiserver's too: each key is tried in turn (decrypt()). */
                        pr.n_keys++;
                }
        }
        *ret = pr;
        pr = (EncProvider) {};
        return 0;
}

static int parse_resource(Parse *p, yaml_node_t *n, EncResource *ret) {
        _cleanup_(resource_clear) EncResource res = {};
        yaml_node_t *names, *providers;
        int r;

        if (!n || n->type != YAML_MAPPING_NODE)
                return fail(p->error, -EINVAL, "line %u: each entry of resources must be a mapping",
                            n ? line_of(n) : 0);
        res.line = line_of(n);
        names = map_get(p, n, "resources");
        providers = map_get(p, n, "providers");
        if (!names || names->type != YAML_SEQUENCE_NODE || names->data.sequence.items.top == names->data.sequence.items.start)
                return fail(p->error, -EINVAL, "line %u: an entry needs a non-empty list of resources", res.line);
        if (!providers || providers->type != YAML_SEQUENCE_NODE ||
            providers->data.sequence.items.top == providers->data.sequence.items.start)
                return fail(p->error, -EINVAL, "line %u: an entry needs a non-empty list of providers", res.line);

        for (yaml_node_item_t *it = names->data.sequence.items.start; it < names->data.sequence.items.top; it++) {
                char *s = NULL;

                r = scalar_name(p, yaml_document_get_node(p->doc, *it), "a resource", &s);
                if (r < 0)
                        return r;
                r = strv_consume(&res.resources, s);
                if (r < 0)
                        return r;
        }
        res.providers = calloc((size_t) (providers->data.sequence.items.top - providers->data.sequence.items.start),
                               sizeof(EncProvider));
        if (!res.providers)
                return -ENOMEM;
        for (yaml_node_item_t *it = providers->data.sequence.items.start; it < providers->data.sequence.items.top; it++) {
                r = parse_provider(p, yaml_document_get_node(p->doc, *it), &res.providers[res.n_providers]);
                if (r < 0)
                        return r;
                res.n_providers++;
        }
        *ret = res;
        res = (EncResource) {};
        return 0;
}

/* A pattern's group as kube-apiserver parses it ("deployments.apps": "apps",
 * "*.": "", "secrets": ""). */
static const char *pattern_group(const char *pattern) {
        const char *dot = strchr(pattern, '.');
        return dot ? dot + 1 : "";
}

/* What kube-apiserver refuses in one entry's list of resources: a name
 * given twice, "*.*" beside another, or "*.<group>" beside a name of that
 * group. */
static int check_overlap(Parse *p, const EncResource *res) {
        for (char **a = res->resources; *a; a++)
                for (char **b = res->resources; *b; b++) {
                        char abuf[64], bbuf[64];

                        if (a == b || !(streq(*a, *b) || streq(*a, "*.*") ||
                                        (streq(pattern_group(*a), pattern_group(*b)) &&
                                         (startswith(*a, "*.") || startswith(*b, "*.")))))
                                continue;
                        return fail(p->error, -EINVAL, "line %u: \"%s\" and \"%s\" in one list of resources %s "
                                    "(kube-apiserver refuses this)", res->line,
                                    str_printable(abuf, sizeof abuf, *a, strlen(*a)),
                                    str_printable(bbuf, sizeof bbuf, *b, strlen(*b)),
                                    streq(*a, *b) ? "are the same" : "overlap");
                }
        return 0;
}

/* kube-apiserver refuses a resource named after an earlier entry's "*.<its
 * group>" or "*.*" (which would mask it), and overlaps within one entry:
 * so does this reader. The same resource named again in a later entry is
 * fine; its providers are appended (applying()). */
static int check_resources(Parse *p, const EncryptionConfig *c, size_t entry) {
        const EncResource *res = &c->resources[entry];
        int r;

        r = check_overlap(p, res);
        if (r < 0)
                return r;
        for (char **s = res->resources; *s; s++) {
                _cleanup_free_ char *group_any = NULL;

                if (asprintf(&group_any, "*.%s", pattern_group(*s)) < 0)
                        return -ENOMEM;
                for (size_t i = 0; i < entry; i++)
                        for (char **e = c->resources[i].resources; *e; e++)
                                if (streq(*e, group_any) || streq(*e, "*.*")) {
                                        char sbuf[64], ebuf[64];

                                        return fail(p->error, -EINVAL, "line %u: resource \"%s\" is masked by "
                                                    "\"%s\" of the entry at line %u (kube-apiserver refuses this)",
                                                    res->line, str_printable(sbuf, sizeof sbuf, *s, strlen(*s)),
                                                    str_printable(ebuf, sizeof ebuf, *e, strlen(*e)),
                                                    c->resources[i].line);
                                }
        }
        return 0;
}

static int parse_document(Parse *p, EncryptionConfig *c) {
        yaml_node_t *root = yaml_document_get_root_node(p->doc), *v, *list;
        int r;

        if (!root)
                return fail(p->error, -EINVAL, "empty document: not an EncryptionConfiguration");
        if (root->type != YAML_MAPPING_NODE)
                return fail(p->error, -EINVAL, "line %u: not an EncryptionConfiguration (the document is not a mapping)",
                            line_of(root));
        v = map_get(p, root, "kind");
        if (!scalar_is(v, "EncryptionConfiguration"))
                return fail(p->error, -EINVAL, "line %u: kind must be EncryptionConfiguration", v ? line_of(v) : 1);
        v = map_get(p, root, "apiVersion");
        if (!scalar_is(v, ENCRYPTION_CONFIG_API_VERSION))
                return fail(p->error, -EINVAL, "line %u: apiVersion must be " ENCRYPTION_CONFIG_API_VERSION,
                            v ? line_of(v) : 1);
        list = map_get(p, root, "resources");
        if (!list || list->type != YAML_SEQUENCE_NODE || list->data.sequence.items.top == list->data.sequence.items.start)
                return fail(p->error, -EINVAL, "line %u: resources must be a non-empty list", line_of(list ? list : root));
        c->resources = calloc((size_t) (list->data.sequence.items.top - list->data.sequence.items.start),
                              sizeof(EncResource));
        if (!c->resources)
                return -ENOMEM;
        for (yaml_node_item_t *it = list->data.sequence.items.start; it < list->data.sequence.items.top; it++) {
                r = parse_resource(p, yaml_document_get_node(p->doc, *it), &c->resources[c->n_resources]);
                if (r < 0)
                        return r;
                c->n_resources++;
                r = check_resources(p, c, c->n_resources - 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Wipe every scalar of the document (the secrets' base64 is among them). */
static void document_wipe(yaml_document_t *doc) {
        for (yaml_node_t *n = doc->nodes.start; n && n < doc->nodes.top; n++)
                if (n->type == YAML_SCALAR_NODE && n->data.scalar.value)
                        sodium_memzero(n->data.scalar.value, n->data.scalar.length);
}

/* Wipe the parser's copies of the input text before it frees them. */
static void parser_wipe(yaml_parser_t *parser) {
        if (parser->raw_buffer.start)
                sodium_memzero(parser->raw_buffer.start, (size_t) (parser->raw_buffer.end - parser->raw_buffer.start));
        if (parser->buffer.start)
                sodium_memzero(parser->buffer.start, (size_t) (parser->buffer.end - parser->buffer.start));
}

/* A real file has a few anchors, if any; each alias is looked up among them. */
#define ANCHORS_MAX 1000u

/* The text parsed once as events, each scalar wiped as it goes: on a syntax
 * error yaml_parser_load() frees the part of the document it has built
 * (the keys above the error among it) without a chance to wipe it. 0, or
 * -EINVAL with the error (or -ENOMEM). */
static int syntax_check(const void *text, size_t size, char error[static ENCRYPTION_ERROR_MAX]) {
        _cleanup_strv_free_ char **anchors = NULL;
        unsigned n_anchors = 0;
        yaml_parser_t parser;
        yaml_event_t event;
        int r = 0;

        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, text, size);
        for (bool done = false; !done && r >= 0;) {
                const char *anchor = NULL;

                if (!yaml_parser_parse(&parser, &event)) {
                        r = parser.error == YAML_MEMORY_ERROR ? -ENOMEM :
                            fail(error, -EINVAL, "line %zu: not YAML: %s", parser.problem_mark.line + 1,
                                 parser.problem ? parser.problem : "parse error");
                        break;
                }
                /* The first document, as yaml_parser_load() reads it. */
                done = event.type == YAML_STREAM_END_EVENT || event.type == YAML_DOCUMENT_END_EVENT;
                /* What the loader refuses besides the parser's errors: an alias of no anchor before it, an
                 * anchor given twice. */
                if (event.type == YAML_ALIAS_EVENT && !strv_contains(anchors, (char *) event.data.alias.anchor))
                        r = fail(error, -EINVAL, "line %zu: not YAML: found undefined alias",
                                 event.start_mark.line + 1);
                anchor = (const char *) (event.type == YAML_SCALAR_EVENT ? event.data.scalar.anchor
                                         : event.type == YAML_SEQUENCE_START_EVENT ? event.data.sequence_start.anchor
                                         : event.type == YAML_MAPPING_START_EVENT ? event.data.mapping_start.anchor
                                         : NULL);
                if (anchor && n_anchors >= ANCHORS_MAX)
                        r = fail(error, -E2BIG, "line %zu: more than %u anchors (&name)", event.start_mark.line + 1,
                                 ANCHORS_MAX);
                else if (anchor && strv_contains(anchors, anchor))
                        r = fail(error, -EINVAL, "line %zu: not YAML: found duplicate anchor",
                                 event.start_mark.line + 1);
                else if (anchor && strv_extend(&anchors, anchor) < 0)
                        r = -ENOMEM;
                else if (anchor)
                        n_anchors++;
                if (event.type == YAML_SCALAR_EVENT && event.data.scalar.value)
                        sodium_memzero(event.data.scalar.value, event.data.scalar.length);
                yaml_event_delete(&event);
        }
        parser_wipe(&parser);
        yaml_parser_delete(&parser);
        return r;
}

/* A file expands to at most this many nodes through its aliases: a real one
 * has a few hundred; a small one whose aliases repeat each other (a list of
 * a thousand aliases of a list of a thousand keys) would take minutes and
 * gigabytes to walk. */
#define EXPANDED_NODES_MAX 100000u

/* 0 when the document, its aliases followed, stays within
 * EXPANDED_NODES_MAX nodes (a cycle never does), else -E2BIG (or -ENOMEM).
 * Walked with a stack of its own, never deeper than that. */
static int expansion_bounded(yaml_document_t *doc) {
        _cleanup_free_ int *stack = NULL;
        size_t n = 0, visited = 0;
        yaml_node_t *root = yaml_document_get_root_node(doc);

        if (!root)
                return 0;
        stack = malloc(sizeof *stack * (EXPANDED_NODES_MAX + 1));
        if (!stack)
                return -ENOMEM;
        stack[n++] = (int) (root - doc->nodes.start) + 1;
        while (n > 0) {
                yaml_node_t *node = yaml_document_get_node(doc, stack[--n]);

                if (!node)
                        continue;
                if (++visited > EXPANDED_NODES_MAX)
                        return -E2BIG;
                if (node->type == YAML_SEQUENCE_NODE)
                        for (yaml_node_item_t *it = node->data.sequence.items.start;
                             it < node->data.sequence.items.top; it++) {
                                if (n >= EXPANDED_NODES_MAX)
                                        return -E2BIG;
                                stack[n++] = *it;
                        }
                else if (node->type == YAML_MAPPING_NODE)
                        for (yaml_node_pair_t *pr = node->data.mapping.pairs.start;
                             pr < node->data.mapping.pairs.top; pr++) {
                                if (n + 2 > EXPANDED_NODES_MAX)
                                        return -E2BIG;
                                stack[n++] = pr->key;
                                stack[n++] = pr->value;
                        }
        }
        return 0;
}

int encryption_config_parse(const void *text, size_t size, EncryptionConfig **ret,
                            char error[static ENCRYPTION_ERROR_MAX]) {
        _cleanup_(encryption_config_freep) EncryptionConfig *c = NULL;
        yaml_parser_t parser;
        yaml_document_t doc;
        Parse p = { .doc = &doc, .error = error };
        int r;

        if (error)
                error[0] = 0;
        if (size > ENCRYPTION_CONFIG_MAX_BYTES)
                return fail(error, -E2BIG, "%zu bytes is more than an EncryptionConfiguration can be (%u)", size,
                            ENCRYPTION_CONFIG_MAX_BYTES);
        if (memchr(text, 0, size))
                return fail(error, -EINVAL, "not YAML: the text contains a NUL byte");
        if (sodium_init() < 0)
                return fail(error, -ENOMEM, "libsodium could not be initialised");
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;

        r = syntax_check(text, size, error);
        if (r < 0)
                return r;
        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, text, size);
        if (!yaml_parser_load(&parser, &doc)) {
                r = parser.error == YAML_MEMORY_ERROR ? -ENOMEM :
                    fail(error, -EINVAL, "line %zu: not YAML: %s", parser.problem_mark.line + 1,
                         parser.problem ? parser.problem : "parse error");
                parser_wipe(&parser);
                yaml_parser_delete(&parser);
                return r;
        }
        r = expansion_bounded(&doc);
        if (r == -E2BIG)
                fail(error, r, "its aliases (*name) expand it to more than %u nodes", EXPANDED_NODES_MAX);
        if (r >= 0)
                r = parse_document(&p, c);
        if (r >= 0 && p.twice)
                r = fail(error, -EINVAL, "line %u: %.*s is given twice", line_of(p.twice),
                         (int) p.twice->data.scalar.length, (const char *) p.twice->data.scalar.value);
        document_wipe(&doc);
        yaml_document_delete(&doc);
        parser_wipe(&parser);
        yaml_parser_delete(&parser);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

/* ---- values ---- */

void enc_value_parse(const void *value, size_t size, EncValue *ret) {
        const char *s = value, *end = s + size, *p, *colon;
        EncValue v = { .data = value, .data_size = size, .type = ENC_PROVIDER_IDENTITY };

        if (size < strlen(ENCRYPTION_VALUE_PREFIX) || memcmp(s, ENCRYPTION_VALUE_PREFIX, strlen(ENCRYPTION_VALUE_PREFIX)) != 0) {
                *ret = v;
                return;
        }
        v.encrypted = true;
        v.type = ENC_PROVIDER_INVALID;
        v.key_name = NULL;
        p = s + strlen(ENCRYPTION_VALUE_PREFIX);
        colon = memchr(p, ':', (size_t) (end - p));
        v.provider = p;
        v.provider_size = colon ? (size_t) (colon - p) : (size_t) (end - p);
        v.type = enc_provider_type_from_string(p, v.provider_size);
        v.data = (const uint8_t *) end;
        v.data_size = 0;
        if (!colon) {
                *ret = v;
                return;
        }
        /* version: v1 (kms also v2) */
        p = colon + 1;
        colon = memchr(p, ':', (size_t) (end - p));
        if (!colon) {
                *ret = v;
                return;
        }
        p = colon + 1;
        colon = memchr(p, ':', (size_t) (end - p));
        if (!colon) {
                if (v.type == ENC_PROVIDER_KMS) {
                        v.key_name = p; /* no name separator before the data: a name never ended */
                        v.key_name_size = 0;
                }
                *ret = v;
                return;
        }
        v.key_name = p;
        v.key_name_size = (size_t) (colon - p);
        v.data = (const uint8_t *) colon + 1;
        v.data_size = (size_t) (end - colon - 1);
        *ret = v;
}

/* The entries whose providers kube-apiserver reads a resource with: the
 * first that matches it (encryption_config_lookup()), and each later one
 * that names it the same way (kube-apiserver appends their providers).
 * first NULL: none applies. */
typedef struct Applying {
        const EncResource *first;
        const char *pattern;    /* first's pattern that matched */
} Applying;

static Applying applying(const EncryptionConfig *c, const char *resource);

static bool applies(const Applying *a, const EncResource *e) {
        return a->first && (e == a->first || (e > a->first && strv_contains(e->resources, a->pattern)));
}

/* The key name in value: the longest one of its provider that the entries
 * of only (or, NULL, any entry of c) have and that a ':' follows; for kms,
 * the longest provider name (kube-apiserver allows ':' in a kms v1 name and
 * writes k8s:enc:kms:v1:<name>:). */
static void value_parse_in(const EncryptionConfig *c, const Applying *only, const void *value, size_t size,
                           EncValue *ret) {
        const char *name, *end = (const char *) value + size;
        size_t best = 0;

        enc_value_parse(value, size, ret);
        if (!c || !ret->key_name)
                return;
        name = ret->key_name;
        for (size_t i = 0; i < c->n_resources; i++)
                for (size_t j = 0; (!only || applies(only, &c->resources[i])) && j < c->resources[i].n_providers;
                     j++) {
                        const EncProvider *pr = &c->resources[i].providers[j];
                        bool kms = pr->type == ENC_PROVIDER_KMS;

                        for (size_t k = 0; pr->type == ret->type && k < (kms ? !!pr->kms_name : pr->n_keys); k++) {
                                const char *key = kms ? pr->kms_name : pr->keys[k].name;
                                size_t n = strlen(key);

                                if (n > best && n < (size_t) (end - name) && name[n] == ':' && memcmp(name, key, n) == 0)
                                        best = n;
                        }
                }
        if (best == 0 || best == ret->key_name_size)
                return;
        ret->key_name_size = best;
        ret->data = (const uint8_t *) name + best + 1;
        ret->data_size = (size_t) (end - name) - best - 1;
}

void encryption_config_value_parse(const EncryptionConfig *c, const void *value, size_t size, EncValue *ret) {
        value_parse_in(c, NULL, value, size, ret);
}

char *encryption_resource_of_key(const char *etcd_key, size_t n) {
        _cleanup_(k8s_key_clear) K8sKey k = {};
        int r = k8s_key_parse(etcd_key, n, &k);

        if (r == -ENOMEM)
                return NULL;
        return r < 0 ? strdup("") : TAKE_PTR(k.resource);
}

static bool resource_matches(const char *pattern, const char *resource) {
        const char *dot = strchr(resource, '.');
        size_t n = strlen(resource);

        /* resource is named as kube-apiserver names it here ("secrets",
         * "deployments.apps", "widgets.example.com"; k8s_key_parse()), so
         * "*.apps" is every resource of the group apps and "*." the core
         * group's. */
        if (streq(pattern, "*.*") || streq(pattern, resource))
                return true;
        if (pattern[0] == '*' && pattern[1] == '.')
                return dot ? streq(pattern + 2, dot + 1) : pattern[2] == 0;
        /* A resource stored without its group that k8s_key_parse()'s table
         * does not know (one newer than it): "R.G" may name it when G is a
         * built-in group's name (one word, or ending in .k8s.io). Never a
         * custom resource's group: "secrets.example.com" never names the
         * core secrets. */
        return !dot && !k8s_resource_is_known(resource) && strncmp(pattern, resource, n) == 0 &&
               pattern[n] == '.' && (!strchr(pattern + n + 1, '.') || endswith(pattern + n + 1, ".k8s.io"));
}

static Applying applying(const EncryptionConfig *c, const char *resource) {
        for (size_t i = 0; c && i < c->n_resources; i++)
                for (char **s = c->resources[i].resources; s && *s; s++)
                        if (resource_matches(*s, resource))
                                return (Applying) { .first = &c->resources[i], .pattern = *s };
        return (Applying) {};
}

const EncResource *encryption_config_lookup(const EncryptionConfig *c, const char *resource) {
        return applying(c, resource).first;
}

bool encryption_config_applies(const EncryptionConfig *c, const char *resource, const EncResource *e) {
        const Applying a = applying(c, resource);

        return applies(&a, e);
}

static const EncKey *provider_find_key(const EncProvider *p, EncProviderType type, const char *name, size_t n) {
        if (p->type != type)
                return NULL;
        for (size_t i = 0; i < p->n_keys; i++)
                if (strlen(p->keys[i].name) == n && memcmp(p->keys[i].name, name, n) == 0)
                        return &p->keys[i];
        return NULL;
}

bool encryption_config_has_key(const EncryptionConfig *c, const char *resource, EncProviderType type,
                               const char *name, size_t name_size) {
        const Applying only = resource ? applying(c, resource) : (Applying) {};

        if (resource && !only.first)
                return false;
        for (size_t i = 0; c && i < c->n_resources; i++) {
                if (resource && !applies(&only, &c->resources[i]))
                        continue;
                for (size_t j = 0; j < c->resources[i].n_providers; j++)
                        if (provider_find_key(&c->resources[i].providers[j], type, name, name_size))
                                return true;
        }
        return false;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_CIPHER_CTX *, EVP_CIPHER_CTX_free);

static const EVP_CIPHER *aes_cipher(EncProviderType type, size_t key_size) {
        bool gcm = type == ENC_PROVIDER_AESGCM;

        switch (key_size) {
        case 16:
                return gcm ? EVP_aes_128_gcm() : EVP_aes_128_cbc();
        case 24:
                return gcm ? EVP_aes_192_gcm() : EVP_aes_192_cbc();
        case 32:
                return gcm ? EVP_aes_256_gcm() : EVP_aes_256_cbc();
        default:
                return NULL;
        }
}

/* try_key()'s work, into out (size + 32 bytes). */
static int decrypt_into(EncProviderType type, const EncKey *k, const uint8_t *aad, size_t aad_size,
                        const uint8_t *data, size_t size, uint8_t *out, size_t *ret_size) {
        _cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *ctx = NULL;
        int n1 = 0, n2 = 0;

        if (type == ENC_PROVIDER_SECRETBOX) {
                if (crypto_secretbox_open_easy(out, data + crypto_secretbox_NONCEBYTES,
                                               size - crypto_secretbox_NONCEBYTES, data, k->secret) != 0)
                        return -EBADMSG;
                *ret_size = size - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
                return 0;
        }

        ctx = EVP_CIPHER_CTX_new();
        if (!ctx)
                return -ENOMEM;
        if (type == ENC_PROVIDER_AESCBC) {
                if (!EVP_DecryptInit_ex(ctx, aes_cipher(type, k->size), NULL, k->secret, data) ||
                    !EVP_DecryptUpdate(ctx, out, &n1, data + AESCBC_IV_BYTES, (int) (size - AESCBC_IV_BYTES)) ||
                    !EVP_DecryptFinal_ex(ctx, out + n1, &n2))
                        return -EBADMSG;
        } else {
                size_t ct = size - AESGCM_NONCE_BYTES - AESGCM_TAG_BYTES;

                if (!EVP_DecryptInit_ex(ctx, aes_cipher(type, k->size), NULL, NULL, NULL) ||
                    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, AESGCM_NONCE_BYTES, NULL) ||
                    !EVP_DecryptInit_ex(ctx, NULL, NULL, k->secret, data) ||
                    !EVP_DecryptUpdate(ctx, NULL, &n1, aad, (int) aad_size) ||
                    !EVP_DecryptUpdate(ctx, out, &n1, data + AESGCM_NONCE_BYTES, (int) ct) ||
                    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, AESGCM_TAG_BYTES,
                                         (void *) (data + size - AESGCM_TAG_BYTES)) ||
                    !EVP_DecryptFinal_ex(ctx, out + n1, &n2))
                        return -EBADMSG;
        }
        *ret_size = (size_t) n1 + (size_t) n2;
        return 0;
}

/* One attempt with one key. Returns 0, -EBADMSG (authentication/padding
 * failed) or -ENOMEM. data/size are past the prefix; length checks are done. */
static int try_key(EncProviderType type, const EncKey *k, const uint8_t *aad, size_t aad_size,
                   const uint8_t *data, size_t size, uint8_t **ret, size_t *ret_size) {
        uint8_t *out = malloc(size + 32);
        int r;

        if (!out)
                return -ENOMEM;
        r = decrypt_into(type, k, aad, aad_size, data, size, out, ret_size);
        if (r < 0) {
                /* GCM writes the whole plaintext before its tag is checked,
                 * CBC all but the last block before the padding is. */
                sodium_memzero(out, size + 32);
                free(out);
                return r;
        }
        *ret = out;
        return 0;
}

static bool entry_has_identity(const EncryptionConfig *c, const Applying *a) {
        for (size_t i = 0; c && i < c->n_resources; i++)
                for (size_t j = 0; applies(a, &c->resources[i]) && j < c->resources[i].n_providers; j++)
                        if (c->resources[i].providers[j].type == ENC_PROVIDER_IDENTITY)
                                return true;
        return false;
}

/* Whether the entries of a have the kms provider of this name (a kms value's key_name). */
static bool entry_has_kms(const EncryptionConfig *c, const Applying *a, const char *name, size_t n) {
        for (size_t i = 0; c && name && i < c->n_resources; i++)
                for (size_t j = 0; applies(a, &c->resources[i]) && j < c->resources[i].n_providers; j++) {
                        const EncProvider *pr = &c->resources[i].providers[j];

                        if (pr->type == ENC_PROVIDER_KMS && pr->kms_name && strlen(pr->kms_name) == n &&
                            memcmp(pr->kms_name, name, n) == 0)
                                return true;
                }
        return false;
}

static size_t ciphertext_min_size(EncProviderType type) {
        return type == ENC_PROVIDER_AESCBC ? 2 * AESCBC_IV_BYTES
             : type == ENC_PROVIDER_AESGCM ? AESGCM_NONCE_BYTES + AESGCM_TAG_BYTES
             : crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES;
}

/* Whether a ciphertext of size bytes (after the key name's ':') can be one of type's: nonce or IV and tag or
 * padding, whole blocks for CBC. */
static bool ciphertext_size_ok(EncProviderType type, size_t size) {
        return size >= ciphertext_min_size(type) && size <= INT_MAX &&
               (type != ENC_PROVIDER_AESCBC || (size - AESCBC_IV_BYTES) % AESCBC_IV_BYTES == 0);
}

/* Whether decrypted bytes are a stored object: protobuf's "k8s\0" envelope (4 bytes a wrong key gives once in
 * 2^32), or JSON text whole and valid UTF-8. A wrong aescbc key yields valid padding and a '{' about once in
 * 65,000 values: the first byte alone would take that garbage for the object, and never try the right key. */
static bool plausible_object(const uint8_t *out, size_t n) {
        struct json_tokener *tok;
        json_object *o;
        bool ok;

        switch (k8s_object_encoding(out, n)) {
        case K8S_ENCODING_PROTOBUF:
                return true;
        case K8S_ENCODING_JSON:
                break;
        default:
                return false;
        }
        if (n > INT_MAX || !(tok = json_tokener_new()))
                return false;
        json_tokener_set_flags(tok, JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, (const char *) out, (int) n);
        ok = o && json_tokener_get_error(tok) == json_tokener_success;
        for (size_t i = ok ? json_tokener_get_parse_end(tok) : n; i < n; i++)
                ok = ok && strchr(" \t\r\n", out[i]) && out[i];
        json_object_put(o);
        json_tokener_free(tok);
        return ok;
}

/* Key k when its name and ':' begin rest (the value after its provider's prefix): *found set; when what follows
 * can be a ciphertext of type, *sized set and k tried. 1 with *ret when it decrypts (CBC has no authentication:
 * a wrong key that happens to leave valid padding is caught by the plaintext's shape), 0 when not, -ENOMEM. */
static int try_named_key(EncProviderType type, const EncKey *k, const char *etcd_key, size_t etcd_key_size,
                         const char *rest, size_t rest_size, bool *found, bool *sized, uint8_t **ret,
                         size_t *ret_size) {
        _cleanup_free_ uint8_t *out = NULL;
        size_t n = strlen(k->name), out_size = 0;
        int r;

        if (n >= rest_size || rest[n] != ':' || memcmp(rest, k->name, n) != 0)
                return 0;
        *found = true;
        if (!ciphertext_size_ok(type, rest_size - n - 1))
                return 0;
        *sized = true;
        r = try_key(type, k, (const uint8_t *) etcd_key, etcd_key_size, (const uint8_t *) rest + n + 1,
                    rest_size - n - 1, &out, &out_size);
        if (r == -ENOMEM)
                return r;
        /* aesgcm and secretbox authenticate: what their tag let through is the stored value, whatever its form
         * (CBOR, say, which the reader then names); aescbc's padding proves nothing. */
        if (r < 0 || (type == ENC_PROVIDER_AESCBC && !plausible_object(out, out_size))) {
                if (out)
                        sodium_memzero(out, out_size);
                return 0;
        }
        *ret = TAKE_PTR(out);
        *ret_size = out_size;
        return 1;
}

static int decrypt(const EncryptionConfig *c, bool as_apiserver, const char *etcd_key, size_t etcd_key_size,
                   const void *value, size_t size, uint8_t **ret, size_t *ret_size,
                   char error[static ENCRYPTION_ERROR_MAX]) {
        _cleanup_free_ char *resource = NULL;
        Applying preferred;
        char kbuf[96], nbuf[64], rbuf[96];
        const char *pname, *rest;
        size_t rest_size;
        bool found = false, sized = false;
        EncValue v;

        if (error)
                error[0] = 0;
        str_printable(kbuf, sizeof kbuf, etcd_key, etcd_key_size);
        resource = encryption_resource_of_key(etcd_key, etcd_key_size);
        if (!resource)
                return -ENOMEM;
        if (*resource)
                str_printable(rbuf, sizeof rbuf, resource, strlen(resource));
        else
                snprintf(rbuf, sizeof rbuf, "(a key of no resource)");
        preferred = applying(c, resource);
        /* kube-apiserver knows the key names of this resource's providers alone. */
        value_parse_in(c, as_apiserver ? &preferred : NULL, value, size, &v);
        if (as_apiserver && !v.encrypted && preferred.first && !entry_has_identity(c, &preferred))
                return fail(error, -ENOKEY, "%s: stored in plaintext, and the providers for %s have no identity "
                            "to read it", kbuf, rbuf);
        if (as_apiserver && v.encrypted && !preferred.first)
                return fail(error, -ENOKEY, "%s: encrypted, and no entry of the encryption configuration names "
                            "%s (it is then read as identity alone)", kbuf, rbuf);
        if (as_apiserver && v.type == ENC_PROVIDER_KMS &&
            !entry_has_kms(c, &preferred, v.key_name, v.key_name_size))
                return fail(error, -ENOKEY, "%s: encrypted by the KMS plugin \"%s\", and the providers for %s "
                            "have no kms provider of that name", kbuf,
                            v.key_name ? str_printable(nbuf, sizeof nbuf, v.key_name, v.key_name_size) : "?", rbuf);
        if (!v.encrypted) {
                uint8_t *copy = malloc(size ? size : 1);

                if (!copy)
                        return -ENOMEM;
                if (size)
                        memcpy(copy, value, size);
                *ret = copy;
                *ret_size = size;
                return 0;
        }
        if (v.type == ENC_PROVIDER_INVALID || v.type == ENC_PROVIDER_IDENTITY)
                return fail(error, -EPROTONOSUPPORT, "%s: encrypted with provider \"%s\", which does not exist "
                            "(aescbc, aesgcm, secretbox, kms)", kbuf,
                            str_printable(nbuf, sizeof nbuf, v.provider, v.provider_size));
        if (v.type == ENC_PROVIDER_KMS)
                return fail(error, -EOPNOTSUPP, "%s: encrypted by the KMS plugin \"%s\"; it can only be read with "
                            "that plugin, through kube-apiserver, not offline", kbuf,
                            v.key_name ? str_printable(nbuf, sizeof nbuf, v.key_name, v.key_name_size) : "?");
        pname = provider_names[v.type];
        if (!v.key_name)
                return fail(error, -EBADMSG, "%s: malformed %s prefix (no key name)", kbuf, pname);
        str_printable(nbuf, sizeof nbuf, v.key_name, v.key_name_size);

        rest = v.key_name;
        rest_size = (size_t) ((const char *) value + size - rest);

        /* Every key whose name and ':' begin the rest of the value, in the file's order, the entries that apply
         * to this resource first, then (unless read as kube-apiserver reads it) the others: a key that moved
         * between entries still decrypts. As kube-apiserver, each is tried and the first that decrypts wins (a
         * name may hold ':', so "key" and "key:1" may both fit, and a name may be given twice). */
        for (int pass = 0; pass < (as_apiserver ? 1 : 2); pass++)
                for (size_t i = 0; c && i < c->n_resources; i++) {
                        const EncResource *res = &c->resources[i];

                        if ((pass == 0) != applies(&preferred, res))
                                continue;
                        for (size_t j = 0; j < res->n_providers; j++)
                                for (size_t k = 0; res->providers[j].type == v.type && k < res->providers[j].n_keys;
                                     k++) {
                                        int r = try_named_key(v.type, &res->providers[j].keys[k], etcd_key,
                                                              etcd_key_size, rest, rest_size, &found, &sized, ret,
                                                              ret_size);
                                        if (r != 0)
                                                return r < 0 ? r : 0;
                                }
                }
        if (!found && as_apiserver && encryption_config_has_key(c, NULL, v.type, v.key_name, v.key_name_size))
                return fail(error, -ENOKEY, "%s: encrypted with %s key \"%s\", which the encryption configuration "
                            "has in another entry, not among the providers for %s (the only ones kube-apiserver "
                            "reads it with)", kbuf, pname, nbuf, rbuf);
        if (!found)
                return fail(error, -ENOKEY, "%s: encrypted with %s key \"%s\", which the encryption configuration "
                            "does not have", kbuf, pname, nbuf);
        if (!sized)
                return fail(error, -EBADMSG, "%s: %s ciphertext of %zu bytes is %s (key \"%s\")", kbuf, pname,
                            v.data_size, v.data_size < ciphertext_min_size(v.type) ?
                            "shorter than its nonce and tag/padding" : "not whole blocks", nbuf);
        return fail(error, -EBADMSG, "%s: cannot decrypt with %s key \"%s\": wrong key or tampered value "
                    "(%s)", kbuf, pname, nbuf,
                    v.type == ENC_PROVIDER_AESCBC ? "bad padding or not a Kubernetes object" : "authentication failed");
}

int encryption_config_decrypt(const EncryptionConfig *c, const char *etcd_key, size_t etcd_key_size,
                              const void *value, size_t size, uint8_t **ret, size_t *ret_size,
                              char error[static ENCRYPTION_ERROR_MAX]) {
        return decrypt(c, false, etcd_key, etcd_key_size, value, size, ret, ret_size, error);
}

int encryption_config_decrypt_as_apiserver(const EncryptionConfig *c, const char *etcd_key, size_t etcd_key_size,
                                           const void *value, size_t size, uint8_t **ret, size_t *ret_size,
                                           char error[static ENCRYPTION_ERROR_MAX]) {
        return decrypt(c, true, etcd_key, etcd_key_size, value, size, ret, ret_size, error);
}

bool enc_value_label(const EncValue *v, char *label, size_t label_size) {
        size_t o = 0;

        if (!v->encrypted || label_size == 0)
                return false;
        for (int part = 0; part < 2; part++) {
                const char *s = part == 0 ? v->provider : v->key_name;
                size_t n = part == 0 ? v->provider_size : v->key_name_size;

                if (part == 1) {
                        if (o + 1 >= label_size)
                                break;
                        label[o++] = ':';
                }
                for (size_t i = 0; s && i < n && o + 1 < label_size; i++)
                        label[o++] = (isalnum((unsigned char) s[i]) || s[i] == '.' || s[i] == '_' || s[i] == '-')
                                             ? s[i] : '?';
        }
        label[o] = 0;
        return true;
}

bool encryption_config_lacks_key(const EncryptionConfig *c, const char *resource, const void *value, size_t size) {
        const Applying entry = applying(c, resource);
        EncValue v;

        value_parse_in(c, &entry, value, size, &v);
        if (!v.encrypted)
                return entry.first && !entry_has_identity(c, &entry);
        /* Whether the plugin still has its key cannot be told offline. */
        if (v.type == ENC_PROVIDER_KMS)
                return !entry_has_kms(c, &entry, v.key_name, v.key_name_size);
        if (v.type == ENC_PROVIDER_INVALID || v.type == ENC_PROVIDER_IDENTITY || !v.key_name || !entry.first)
                return true;
        return !encryption_config_has_key(c, resource, v.type, v.key_name, v.key_name_size);
}
