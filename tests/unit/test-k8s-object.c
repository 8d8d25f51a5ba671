/* SPDX-License-Identifier: MIT */
/*
 * test-k8s-object.c — the Kubernetes object decoder and the YAML emitter:
 * values built here from the API's field numbers (k8s\0 + runtime.Unknown),
 * decoded and compared field by field; unknown kinds keep their metadata and
 * an undecoded remainder; malformed values fail with a message naming the
 * field; manifests lose what the cluster owns; YAML quotes what must be.
 */

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "format/json-yaml.h"
#include "format/k8s-key.h"
#include "format/k8s-object.h"
#include "tests/test.h"
#include "util/macro.h"

/* ---- a tiny protobuf writer for building test values ---- */

typedef struct Buf {
        uint8_t data[4096];
        size_t n;
} Buf;

static void put_varint(Buf *b, uint64_t v) {
        do {
                check(b->n < sizeof b->data);
                b->data[b->n++] = (uint8_t) ((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
                v >>= 7;
        } while (v);
}

static void put_bytes(Buf *b, uint32_t field, const void *data, size_t n) {
        put_varint(b, (uint64_t) field << 3 | 2);
        put_varint(b, n);
        check(b->n + n <= sizeof b->data);
        memcpy(b->data + b->n, data, n);
        b->n += n;
}

static void put_str(Buf *b, uint32_t field, const char *s) {
        put_bytes(b, field, s, strlen(s));
}

static void put_msg(Buf *b, uint32_t field, const Buf *m) {
        put_bytes(b, field, m->data, m->n);
}

static void put_uint(Buf *b, uint32_t field, uint64_t v) {
        put_varint(b, (uint64_t) field << 3);
        put_varint(b, v);
}

static void put_map(Buf *b, uint32_t field, const char *k, const void *v, size_t vn) {
        Buf e = {};

        put_str(&e, 1, k);
        put_bytes(&e, 2, v, vn);
        put_msg(b, field, &e);
}

static void envelope(Buf *out, const char *api_version, const char *kind, const Buf *raw) {
        Buf tm = {}, u = {};

        put_str(&tm, 1, api_version);
        put_str(&tm, 2, kind);
        put_msg(&u, 1, &tm);
        put_msg(&u, 2, raw);
        put_str(&u, 3, "");
        put_str(&u, 4, "");
        memcpy(out->data, "k8s\0", 4);
        out->n = 4;
        check(out->n + u.n <= sizeof out->data);
        memcpy(out->data + 4, u.data, u.n);
        out->n += u.n;
}

static void object_meta(Buf *m, const char *name, const char *ns) {
        Buf ts = {}, owner = {}, mf = {}, fv1 = {};

        put_str(m, 1, name);
        put_str(m, 3, ns);
        put_str(m, 4, "/api/v1/namespaces/x");
        put_str(m, 5, "5f0c3c7e-1b2a-4c1e-9a43-2f0e4d1c2b3a");
        put_str(m, 6, "12345");
        put_uint(m, 7, 3);
        put_uint(&ts, 1, 1700000000);
        put_uint(&ts, 2, 123);
        put_msg(m, 8, &ts);
        put_map(m, 11, "app", "web", 3);
        put_map(m, 11, "tier", "true", 4);
        put_map(m, 12, "note", "multi\nline", 10);
        put_str(&owner, 5, "apps/v1");
        put_str(&owner, 1, "ReplicaSet");
        put_str(&owner, 3, "web-1");
        put_str(&owner, 4, "0000-1111");
        put_uint(&owner, 6, 1);
        put_msg(m, 13, &owner);
        put_str(m, 14, "example.com/cleanup");
        put_str(&mf, 1, "kubectl-client-side-apply");
        put_str(&mf, 2, "Update");
        put_str(&mf, 3, "v1");
        put_msg(&mf, 4, &ts);
        put_str(&mf, 6, "FieldsV1");
        put_str(&fv1, 1, "{\"f:data\":{\".\":{}}}");
        put_msg(&mf, 7, &fv1);
        put_msg(m, 17, &mf);
}

static const char *get_str(json_object *o, const char *path) {
        char buf[256], *save = NULL;
        json_object *cur = o;

        snprintf(buf, sizeof buf, "%s", path);
        for (char *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save))
                if (!json_object_object_get_ex(cur, t, &cur))
                        return NULL;
        return json_object_get_string(cur);
}

static void test_secret(void) {
        Buf meta = {}, body = {}, v = {};
        K8sObject o = {};
        char err[K8S_OBJECT_ERROR_MAX];
        json_object *x;
        const uint8_t bin[] = { 0, 1, 2, 0xff };

        object_meta(&meta, "db-password", "prod");
        put_msg(&body, 1, &meta);
        put_map(&body, 2, "password", "hunter2", 7);
        put_map(&body, 2, "blob", bin, sizeof bin);
        put_str(&body, 3, "Opaque");
        put_uint(&body, 5, 1);
        envelope(&v, "v1", "Secret", &body);

        check(k8s_object_encoding(v.data, v.n) == K8S_ENCODING_PROTOBUF);
        check_int_eq(k8s_object_decode(v.data, v.n, &o, err), 0);
        check(o.complete);
        check_str_eq(get_str(o.object, "apiVersion"), "v1");
        check_str_eq(get_str(o.object, "kind"), "Secret");
        check_str_eq(get_str(o.object, "metadata/name"), "db-password");
        check_str_eq(get_str(o.object, "metadata/namespace"), "prod");
        check_str_eq(get_str(o.object, "metadata/uid"), "5f0c3c7e-1b2a-4c1e-9a43-2f0e4d1c2b3a");
        check_str_eq(get_str(o.object, "metadata/resourceVersion"), "12345");
        check_str_eq(get_str(o.object, "metadata/generation"), "3");
        check_str_eq(get_str(o.object, "metadata/creationTimestamp"), "2023-11-14T22:13:20Z");
        check_str_eq(get_str(o.object, "metadata/labels/app"), "web");
        check_str_eq(get_str(o.object, "metadata/labels/tier"), "true");
        check_str_eq(get_str(o.object, "metadata/annotations/note"), "multi\nline");
        check_str_eq(get_str(o.object, "data/password"), "aHVudGVyMg==");
        check_str_eq(get_str(o.object, "data/blob"), "AAEC/w==");
        check_str_eq(get_str(o.object, "type"), "Opaque");
        check(json_object_object_get_ex(o.object, "immutable", &x) && json_object_get_boolean(x));
        check(json_object_object_get_ex(o.object, "metadata", &x));
        check(json_object_object_get_ex(x, "ownerReferences", &x));
        check_int_eq(json_object_array_length(x), 1);
        x = json_object_array_get_idx(x, 0);
        check_str_eq(get_str(x, "kind"), "ReplicaSet");
        check_str_eq(get_str(x, "apiVersion"), "apps/v1");
        check(json_object_object_get_ex(x, "controller", &x) && json_object_get_boolean(x));
        check(json_object_object_get_ex(o.object, "metadata", &x));
        check(json_object_object_get_ex(x, "managedFields", &x));
        x = json_object_array_get_idx(x, 0);
        check_str_eq(get_str(x, "manager"), "kubectl-client-side-apply");
        check(json_object_object_get_ex(x, "fieldsV1", &x) && json_object_is_type(x, json_type_object));

        /* The manifest loses what the cluster owns, keeps the rest. */
        k8s_object_strip_for_manifest(o.object);
        check(!get_str(o.object, "metadata/uid"));
        check(!get_str(o.object, "metadata/resourceVersion"));
        check(!get_str(o.object, "metadata/creationTimestamp"));
        check(!get_str(o.object, "metadata/generation"));
        check(!get_str(o.object, "metadata/managedFields"));
        check(!get_str(o.object, "metadata/selfLink"));
        check_str_eq(get_str(o.object, "metadata/name"), "db-password");
        check_str_eq(get_str(o.object, "data/password"), "aHVudGVyMg==");
        k8s_object_clear(&o);
}

/* managedFields' FieldsV1 with a raw NUL: json-c would take the object before it (here the inner one of an
 * unfinished comment) for the whole. */
static void test_fields_v1_nul(void) {
        static const char raw[] = "{\"f:data\":{\"f:x\":{}}/**";
        Buf meta = {}, body = {}, v = {}, mf = {}, fv1 = {};
        K8sObject o = {};
        char err[K8S_OBJECT_ERROR_MAX];
        int r;

        put_str(&meta, 1, "db-password");
        put_str(&meta, 3, "prod");
        put_str(&mf, 1, "kubectl");
        put_bytes(&fv1, 1, raw, sizeof raw);    /* with its NUL */
        put_msg(&mf, 7, &fv1);
        put_msg(&meta, 17, &mf);
        put_msg(&body, 1, &meta);
        put_str(&body, 3, "Opaque");
        envelope(&v, "v1", "Secret", &body);
        r = k8s_object_decode(v.data, v.n, &o, err);
        check(r == -EBADMSG || (r == 0 && !o.complete));
        check(strstr(err, "FieldsV1 has a NUL byte"));
        k8s_object_clear(&o);
}

static void test_configmap_yaml(void) {
        Buf meta = {}, body = {}, v = {};
        K8sObject o = {};
        char err[K8S_OBJECT_ERROR_MAX];
        _cleanup_free_ char *yaml = NULL;
        size_t n;

        put_str(&meta, 1, "settings");
        put_str(&meta, 3, "default");
        put_msg(&body, 1, &meta);
        put_map(&body, 2, "enabled", "yes", 3);
        put_map(&body, 2, "count", "0123", 4);
        put_map(&body, 2, "empty", "", 0);
        put_map(&body, 2, "config.ini", "[a]\nb = 1\n", 10);
        put_map(&body, 3, "raw", "\x01\x02", 2);
        envelope(&v, "v1", "ConfigMap", &body);

        check_int_eq(k8s_object_decode(v.data, v.n, &o, err), 0);
        check(o.complete);
        check_str_eq(get_str(o.object, "data/enabled"), "yes");
        check_str_eq(get_str(o.object, "binaryData/raw"), "AQI=");
        check_int_eq(json_yaml_emit(o.object, &yaml, &n), 0);
        check_int_eq(strlen(yaml), n);
        check(strstr(yaml, "apiVersion: v1\n"));
        check(strstr(yaml, "kind: ConfigMap\n"));
        check(strstr(yaml, "  enabled: 'yes'\n"));
        check(strstr(yaml, "  count: '0123'\n"));
        check(strstr(yaml, "  empty: ''\n"));
        check(strstr(yaml, "  config.ini: |\n    [a]\n    b = 1\n"));
        check(strstr(yaml, "  name: settings\n"));
        k8s_object_clear(&o);
}

static void test_namespace_serviceaccount(void) {
        Buf meta = {}, spec = {}, status = {}, cond = {}, ts = {}, body = {}, v = {};
        Buf sbody = {}, ref = {}, lref = {};
        K8sObject o = {};
        char err[K8S_OBJECT_ERROR_MAX];
        json_object *x;

        put_str(&meta, 1, "team-a");
        put_msg(&body, 1, &meta);
        put_str(&spec, 1, "kubernetes");
        put_msg(&body, 2, &spec);
        put_str(&status, 1, "Active");
        put_str(&cond, 1, "NamespaceDeletionDiscoveryFailure");
        put_str(&cond, 2, "False");
        put_uint(&ts, 1, 0);
        put_msg(&cond, 4, &ts);
        put_msg(&status, 2, &cond);
        put_msg(&body, 3, &status);
        envelope(&v, "v1", "Namespace", &body);
        check_int_eq(k8s_object_decode(v.data, v.n, &o, err), 0);
        check(o.complete);
        check_str_eq(get_str(o.object, "status/phase"), "Active");
        check(json_object_object_get_ex(o.object, "spec", &x) && json_object_object_get_ex(x, "finalizers", &x));
        check_str_eq(json_object_get_string(json_object_array_get_idx(x, 0)), "kubernetes");
        check(json_object_object_get_ex(o.object, "status", &x) && json_object_object_get_ex(x, "conditions", &x));
        check_str_eq(get_str(json_object_array_get_idx(x, 0), "lastTransitionTime"), "1970-01-01T00:00:00Z");
        k8s_object_strip_for_manifest(o.object);
        check(!get_str(o.object, "status"));
        check_str_eq(get_str(o.object, "metadata/name"), "team-a");
        k8s_object_clear(&o);

        v.n = 0;
        put_msg(&sbody, 1, &meta);
        put_str(&ref, 3, "token-abc");
        put_msg(&sbody, 2, &ref);
        put_str(&lref, 1, "registry");
        put_msg(&sbody, 3, &lref);
        put_uint(&sbody, 4, 0);
        envelope(&v, "v1", "ServiceAccount", &sbody);
        check_int_eq(k8s_object_decode(v.data, v.n, &o, err), 0);
        check(json_object_object_get_ex(o.object, "secrets", &x));
        check_str_eq(get_str(json_object_array_get_idx(x, 0), "name"), "token-abc");
        check(json_object_object_get_ex(o.object, "imagePullSecrets", &x));
        check_str_eq(get_str(json_object_array_get_idx(x, 0), "name"), "registry");
        check(json_object_object_get_ex(o.object, "automountServiceAccountToken", &x) &&
              !json_object_get_boolean(x));
        k8s_object_clear(&o);
}

static void test_unknown_kind(void) {
        Buf meta = {}, spec = {}, body = {}, v = {};
        K8sObject o = {};
        char err[K8S_OBJECT_ERROR_MAX];
        _cleanup_free_ char *api = NULL, *kind = NULL;
        json_object *u, *p;

        put_str(&meta, 1, "web-0");
        put_str(&meta, 3, "prod");
        put_msg(&body, 1, &meta);
        put_str(&spec, 9, "node-1");            /* PodSpec.nodeName */
        put_msg(&body, 2, &spec);
        envelope(&v, "v1", "Pod", &body);

        check_int_eq(k8s_object_type(v.data, v.n, &api, &kind), 0);
        check_str_eq(api, "v1");
        check_str_eq(kind, "Pod");
        check(!k8s_object_kind_known("v1", "Pod"));
        check(k8s_object_kind_known("v1", "Secret"));

        check_int_eq(k8s_object_decode(v.data, v.n, &o, err), 0);
        check(!o.complete);
        check_str_eq(get_str(o.object, "metadata/name"), "web-0");
        check(!get_str(o.object, "spec"));
        check(json_object_object_get_ex(o.object, K8S_OBJECT_UNDECODED, &u));
        check(strstr(get_str(u, "note"), "v1 Pod is not in the decoder's table"));
        check(json_object_object_get_ex(u, "protobuf", &p));
        /* field 2, length 8: { field 9 "node-1" } → base64 of 12 01 08 4a 06 "node-1"... */
        check_str_eq(get_str(p, "."), "EghKBm5vZGUtMQ==");
        k8s_object_clear(&o);
}

/* Unknown fields are kept per path, concatenated in wire order across the
 * known ones between them: 900 of them in the metadata (the buffer grows
 * many times) and two in the Secret itself. */
static void test_undecoded_paths(void) {
        Buf meta = {}, body = {}, v = {}, want = {};
        K8sObject o = {};
        char err[K8S_OBJECT_ERROR_MAX];
        json_object *u, *p, *b;

        put_str(&meta, 1, "s1");
        for (unsigned i = 0; i < 900; i++) {
                put_uint(&meta, 99, i % 100);   /* 3 bytes each: tag 99 is two */
                put_uint(&want, 99, i % 100);
                if (i == 450)
                        put_str(&meta, 3, "prod");
        }
        put_msg(&body, 1, &meta);
        put_uint(&body, 50, 1);
        put_map(&body, 2, "k", "v", 1);
        put_uint(&body, 51, 2);
        envelope(&v, "v1", "Secret", &body);

        check_int_eq(k8s_object_decode(v.data, v.n, &o, err), 0);
        check(!o.complete);
        check_str_eq(get_str(o.object, "metadata/namespace"), "prod");
        check(json_object_object_get_ex(o.object, K8S_OBJECT_UNDECODED, &u));
        check(json_object_object_get_ex(u, "protobuf", &p));
        check_int_eq(json_object_object_length(p), 2);
        /* field 50 = 1, field 51 = 2: 90 03 01 98 03 02 */
        check_str_eq(get_str(p, "."), "kAMBmAMC");
        check(json_object_object_get_ex(p, "metadata", &b));
        {
                _cleanup_free_ uint8_t *raw = malloc(json_object_get_string_len(b));
                int n = EVP_DecodeBlock(raw, (const unsigned char *) json_object_get_string(b),
                                        json_object_get_string_len(b));
                check(raw && n >= (int) want.n);
                check(memcmp(raw, want.data, want.n) == 0);
        }
        k8s_object_clear(&o);
}

static void test_json(void) {
        const char *cr = "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":"
                         "{\"name\":\"w\",\"namespace\":\"d\",\"uid\":\"u\"},\"spec\":{\"size\":3},"
                         "\"status\":{\"ok\":true}}\n";
        K8sObject o = {};
        char err[K8S_OBJECT_ERROR_MAX];

        check(k8s_object_encoding(cr, strlen(cr)) == K8S_ENCODING_JSON);
        check_int_eq(k8s_object_decode(cr, strlen(cr), &o, err), 0);
        check(o.encoding == K8S_ENCODING_JSON && o.complete);
        check_str_eq(get_str(o.object, "spec/size"), "3");
        k8s_object_strip_for_manifest(o.object);
        check(!get_str(o.object, "status"));
        check(!get_str(o.object, "metadata/uid"));
        k8s_object_clear(&o);

        check_int_eq(k8s_object_decode("{\"a\":", 5, &o, err), -EBADMSG);
        check(strstr(err, "stored JSON is malformed"));
        check_int_eq(k8s_object_decode("[1]", 3, &o, err), -EBADMSG);
        /* Something after the object is no object kube-apiserver wrote. */
        check_int_eq(k8s_object_decode("{\"a\":1} trailing", 16, &o, err), -EBADMSG);
        check(strstr(err, "8 bytes after its object"));
        check_int_eq(k8s_object_decode("{\"a\":1}{}", 9, &o, err), -EBADMSG);
        check_int_eq(k8s_object_decode("{\"a\":1}\r\n \n", 11, &o, err), 0);
        k8s_object_clear(&o);
        /* A raw NUL, after which json-c would return the inner object of an unfinished comment. */
        static const char nul[] = "{\"x\":{\"apiVersion\":\"v1\",\"kind\":\"Secret\"}/**";
        check_int_eq(k8s_object_decode(nul, sizeof nul, &o, err), -EBADMSG);
        check(strstr(err, "NUL byte"));
        check_int_eq(k8s_object_decode("{\"a\":\"\xff\"}", 9, &o, err), -EBADMSG);
        /* Overlong, surrogate and beyond-U+10FFFF forms, which json-c's own
         * check lets through and YAML's emitter would refuse. */
        static const char *const bad[] = { "{\"a\":\"\xc0\xa5\"}", "{\"a\":\"\xe0\x80\xaf\"}",
                                           "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xf4\x90\x80\x80\"}",
                                           "{\"\xc1\xbf\":1}" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                check_int_eq(k8s_object_decode(bad[i], strlen(bad[i]), &o, err), -EBADMSG);
                check(strstr(err, "not valid UTF-8"));
        }
        /* Valid multi-byte text is taken. */
        const char *good = "{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}";
        check_int_eq(k8s_object_decode(good, strlen(good), &o, err), 0);
        check_str_eq(get_str(o.object, "a"), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
        k8s_object_clear(&o);
}

/* A number beyond 64 bits keeps its digits: kube-apiserver writes a custom
 * resource's float64 of up to 21 digits without an exponent. */
static void test_json_wide_integers(void) {
        const char *cr = "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\"},"
                         "\"spec\":{\"big\":100000000000000000000,\"two64\":18446744073709552000,"
                         "\"neg\":-100000000000000000000,\"umax\":18446744073709551615,"
                         "\"imin\":-9223372036854775808,\"imax\":9223372036854775807,\"exp\":1e+21,"
                         "\"text\":\"99999999999999999999 \\\"x\\\": 1\",\"list\":[1,123456789012345678901,[2]],"
                         "\"small\":12}}\n";
        static const char *const want[][2] = {
                { "spec/big", "100000000000000000000" }, { "spec/two64", "18446744073709552000" },
                { "spec/neg", "-100000000000000000000" }, { "spec/umax", "18446744073709551615" },
                { "spec/imin", "-9223372036854775808" }, { "spec/imax", "9223372036854775807" },
                { "spec/exp", "1e+21" }, { "spec/small", "12" },
        };
        K8sObject o = {};
        char err[K8S_OBJECT_ERROR_MAX];
        _cleanup_free_ char *yaml = NULL;
        json_object *x;
        size_t n;

        check_int_eq(k8s_object_decode(cr, strlen(cr), &o, err), 0);
        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                check_str_eq(get_str(o.object, want[i][0]), want[i][1]);
        check(json_object_object_get_ex(o.object, "spec", &x) && json_object_object_get_ex(x, "list", &x));
        check_str_eq(json_object_to_json_string_ext(x, JSON_C_TO_STRING_PLAIN), "[1,123456789012345678901,[2]]");
        check_str_eq(get_str(o.object, "spec/text"), "99999999999999999999 \"x\": 1");
        check_int_eq(json_yaml_emit(o.object, &yaml, &n), 0);
        check(strstr(yaml, "  big: 100000000000000000000\n"));
        check(strstr(yaml, "  neg: -100000000000000000000\n"));
        check(strstr(yaml, "- 123456789012345678901\n"));
        k8s_object_clear(&o);

        /* The last element of an array, and a slice of a larger buffer (no NUL after it). */
        const char *sliced = "{\"l\":[1,-123456789012345678901]}XYZ";
        check_int_eq(k8s_object_decode(sliced, strlen(sliced) - 3, &o, err), 0);
        check_str_eq(json_object_to_json_string_ext(o.object, JSON_C_TO_STRING_PLAIN),
                     "{\"l\":[1,-123456789012345678901]}");
        k8s_object_clear(&o);
        /* Leading zeros (json-c takes them) are no width; beside a wide number they are no JSON to keep. */
        check_int_eq(k8s_object_decode("{\"a\":000000000000000000001}", 27, &o, err), 0);
        check_str_eq(get_str(o.object, "a"), "1");
        k8s_object_clear(&o);
        check_int_eq(k8s_object_decode("{\"a\":0100000000000000000000}", 28, &o, err), -EBADMSG);
        check(strstr(err, "not plain JSON"));

        /* A key given twice moves a value away from where its text is: refused, nested too. */
        const char *twice = "{\"s\":{\"a\":1,\"b\":100000000000000000000,\"a\":200000000000000000000}}";
        check_int_eq(k8s_object_decode(twice, strlen(twice), &o, err), -EBADMSG);
        check(strstr(err, "the number 100000000000000000000, beyond 64 bits, and a key given twice in one object"));
        /* Without a wide integer, a key twice is read as json-c reads it; the limits it holds exactly too. */
        check_int_eq(k8s_object_decode("{\"a\":1,\"a\":2}", 13, &o, err), 0);
        k8s_object_clear(&o);
        const char *limits = "{\"a\":1,\"a\":2,\"b\":-9223372036854775808,\"c\":18446744073709551615}";
        check_int_eq(k8s_object_decode(limits, strlen(limits), &o, err), 0);
        check_str_eq(get_str(o.object, "b"), "-9223372036854775808");
        check_str_eq(get_str(o.object, "c"), "18446744073709551615");
        k8s_object_clear(&o);
        /* json-c's extensions beside a wide integer: refused. */
        const char *quoted = "{'s':\"x\",\"n\":100000000000000000000}";
        check_int_eq(k8s_object_decode(quoted, strlen(quoted), &o, err), -EBADMSG);
        check(strstr(err, "not plain JSON"));
        check_int_eq(k8s_object_decode("{'s':1}", 7, &o, err), 0);
        k8s_object_clear(&o);
}

static void test_malformed(void) {
        Buf meta = {}, body = {}, v = {};
        K8sObject o = {};
        char err[K8S_OBJECT_ERROR_MAX];

        /* An envelope that says application/json and holds no Raw: no JSON, refused. */
        {
                Buf tm = {}, u = {};

                put_str(&tm, 1, "example.com/v1");
                put_str(&tm, 2, "Widget");
                put_msg(&u, 1, &tm);
                put_str(&u, 4, "application/json");
                memcpy(v.data, "k8s\0", 4);
                memcpy(v.data + 4, u.data, u.n);
                v.n = 4 + u.n;
                check_int_eq(k8s_object_decode(v.data, v.n, &o, err), -EBADMSG);
                check(strstr(err, "stored JSON is malformed"));
                v.n = 0;
        }

        put_str(&meta, 1, "x");
        put_map(&meta, 11, "k", "v", 1);
        put_msg(&body, 1, &meta);
        put_map(&body, 2, "k", "v", 1);
        envelope(&v, "v1", "Secret", &body);
        check_int_eq(k8s_object_decode(v.data, v.n, &o, err), 0);
        k8s_object_clear(&o);

        /* Every truncation fails cleanly, never crashes. */
        for (size_t n = 0; n < v.n; n++) {
                int r = k8s_object_decode(v.data, n, &o, err);
                check(r == -EBADMSG || r == 0);
                if (r == 0)
                        k8s_object_clear(&o);
                else
                        check(err[0]);
        }

        /* A length that runs past the end inside the body. */
        body.n = 0;
        put_msg(&body, 1, &meta);
        body.data[1] += 5;
        v.n = 0;
        envelope(&v, "v1", "Secret", &body);
        check_int_eq(k8s_object_decode(v.data, v.n, &o, err), -EBADMSG);
        check(strstr(err, "runs past the end"));

        /* Wrong wire type for a known field names the field. */
        body.n = 0;
        meta.n = 0;
        put_uint(&meta, 1, 7);
        put_msg(&body, 1, &meta);
        v.n = 0;
        envelope(&v, "v1", "Secret", &body);
        check_int_eq(k8s_object_decode(v.data, v.n, &o, err), -EBADMSG);
        check(strstr(err, "metadata.name"));

        /* Not UTF-8. */
        body.n = 0;
        meta.n = 0;
        put_str(&meta, 1, "\xc3\x28");
        put_msg(&body, 1, &meta);
        v.n = 0;
        envelope(&v, "v1", "ConfigMap", &body);
        check_int_eq(k8s_object_decode(v.data, v.n, &o, err), -EBADMSG);
        check(strstr(err, "UTF-8"));

        /* Neither protobuf nor JSON. */
        check_int_eq(k8s_object_decode("k8s:enc:aescbc:v1:key1:xx", 25, &o, err), -EBADMSG);
        check(strstr(err, "neither"));
}

static void test_yaml_quoting(void) {
        json_object *o = json_object_new_object();
        _cleanup_free_ char *yaml = NULL;
        size_t n;

        json_object_object_add(o, "a", json_object_new_string("null"));
        json_object_object_add(o, "b", json_object_new_string("1e3"));
        json_object_object_add(o, "c", json_object_new_string("plain text"));
        json_object_object_add(o, "d", json_object_new_int(7));
        json_object_object_add(o, "e", json_object_new_boolean(1));
        json_object_object_add(o, "f", json_object_new_array());
        json_object_object_add(o, "g", json_object_new_string("it's: tricky"));
        json_object_object_add(o, "h", json_object_new_string("="));
        /* What a terminal acts on: in double quotes (a literal block too), where its escape is the string. */
        json_object_object_add(o, "i", json_object_new_string("x\xe2\x80\xaey"));
        json_object_object_add(o, "j", json_object_new_string("two\nlines\xe2\x81\xa6"));
        json_object_object_add(o, "k\xe2\x80\x8f", json_object_new_string("key"));
        check_int_eq(json_yaml_emit(o, &yaml, &n), 0);
        check(strstr(yaml, "i: \"x\xe2\x80\xaey\"\n"));
        check(strstr(yaml, "j: \"two\\nlines\xe2\x81\xa6\"\n"));
        check(strstr(yaml, "\"k\xe2\x80\x8f\": key\n"));
        check(strstr(yaml, "a: 'null'\n"));
        check(strstr(yaml, "b: '1e3'\n"));
        check(strstr(yaml, "c: plain text\n"));
        check(strstr(yaml, "d: 7\n"));
        check(strstr(yaml, "e: true\n"));
        check(strstr(yaml, "g: 'it''s: tricky'\n"));
        check(strstr(yaml, "h: '='\n"));
        json_object_put(o);
}

static void key_case(const char *key, int expect, const char *resource, const char *ns, const char *name) {
        K8sKey k = {};

        check_int_eq(k8s_key_parse(key, strlen(key), &k), expect);
        if (expect < 0)
                return;
        check_str_eq(k.resource, resource);
        if (ns)
                check_str_eq(k.namespace, ns);
        else
                check(!k.namespace);
        check_str_eq(k.name, name);
        k8s_key_clear(&k);
}

static void test_keys(void) {
        key_case("/registry/secrets/prod/db", 0, "secrets", "prod", "db");
        key_case("/registry/namespaces/prod", 0, "namespaces", NULL, "prod");
        key_case("/registry/example.com/widgets/prod/w1", 0, "widgets.example.com", "prod", "w1");
        key_case("/registry/apiregistration.k8s.io/apiservices/v1.apps", 0, "apiservices.apiregistration.k8s.io",
                 NULL, "v1.apps");
        key_case("/registry/services/specs/default/kubernetes", 0, "services", "default", "kubernetes");
        key_case("/registry/services/endpoints/default/kubernetes", 0, "endpoints", "default", "kubernetes");
        /* Built-in resources stored without their group, and the storage's
         * own names for some (kube-apiserver's special prefixes). */
        key_case("/registry/deployments/default/web", 0, "deployments.apps", "default", "web");
        key_case("/registry/leases/kube-system/kube-scheduler", 0, "leases.coordination.k8s.io", "kube-system",
                 "kube-scheduler");
        key_case("/registry/clusterroles/admin", 0, "clusterroles.rbac.authorization.k8s.io", NULL, "admin");
        key_case("/registry/minions/node-1", 0, "nodes", NULL, "node-1");
        key_case("/registry/controllers/default/rc", 0, "replicationcontrollers", "default", "rc");
        key_case("/registry/ingress/default/web", 0, "ingresses.networking.k8s.io", "default", "web");
        key_case("/registry/clustercidrs/c1", 0, "clustercidrs.networking.k8s.io", NULL, "c1");
        key_case("/registry/ranges/serviceips", 0, "ranges", NULL, "serviceips"); /* not in the table */
        key_case("/registry/secrets", -EINVAL, NULL, NULL, NULL);
        key_case("/registry/secrets/", -EINVAL, NULL, NULL, NULL);
        key_case("/registry//x", -EINVAL, NULL, NULL, NULL);
        key_case("/other/secrets/a/b", -EINVAL, NULL, NULL, NULL);
        key_case("/registry/a/b/c/d", -EINVAL, NULL, NULL, NULL);
}

int main(void) {
        TEST_RUN(test_keys);
        TEST_RUN(test_secret);
        TEST_RUN(test_fields_v1_nul);
        TEST_RUN(test_configmap_yaml);
        TEST_RUN(test_namespace_serviceaccount);
        TEST_RUN(test_unknown_kind);
        TEST_RUN(test_undecoded_paths);
        TEST_RUN(test_json);
        TEST_RUN(test_json_wide_integers);
        TEST_RUN(test_malformed);
        TEST_RUN(test_yaml_quoting);
        return 0;
}
