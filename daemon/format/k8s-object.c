/* SPDX-License-Identifier: MIT */
/*
 * k8s-object.c — decodes what kube-apiserver writes into etcd: the protobuf
 * envelope (runtime.Unknown), ObjectMeta, and the bodies of the kinds the
 * schema table below lists, into json-c trees; stored JSON is parsed as is.
 * The field numbers are those of the Kubernetes API's generated.proto files
 * (k8s.io/apimachinery meta/v1, runtime; k8s.io/api core/v1). The decoder is
 * table-driven: a message is a list of (number, JSON name, type), so adding
 * a kind is adding rows. See k8s-object.h for the contract.
 */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "format/k8s-object.h"
#include "format/pb.h"
#include "util/macro.h"
#include "util/str.h"

typedef enum FieldType {
        FT_STRING,      /* string → JSON string */
        FT_BYTES,       /* bytes → JSON string holding base64 */
        FT_INT,         /* int32/int64 varint → JSON integer */
        FT_BOOL,        /* bool varint → JSON boolean */
        FT_TIME,        /* meta/v1 Time {seconds 1, nanos 2} → RFC 3339 */
        FT_MAP_STRING,  /* map<string, string> → JSON object */
        FT_MAP_BYTES,   /* map<string, bytes> → JSON object of base64 */
        FT_MESSAGE,     /* nested message (see .message) */
        FT_FIELDS_V1,   /* meta/v1 FieldsV1 {Raw 1: JSON bytes} → parsed JSON */
} FieldType;

typedef struct Message Message;

typedef struct Field {
        uint32_t number;
        const char *name;
        FieldType type;
        bool repeated;
        const Message *message;
        /* kube-apiserver's protobuf writes every string and integer that is
         * not a pointer, empty or not, where its JSON leaves out an empty
         * one (omitempty); so an empty string or a 0 is left out, as
         * kubectl shows the object, unless the field is kept: one without
         * omitempty, or a pointer, which is written only when set. */
        bool keep_zero;
} Field;

struct Message {
        const char *name;
        const Field *fields;
        size_t n_fields;
};

#define MESSAGE(var, ...)                                                     \
        static const Field var##_fields[] = { __VA_ARGS__ };                  \
        static const Message var = { #var, var##_fields, ELEMENTSOF(var##_fields) }

/* ---- k8s.io/apimachinery/pkg/apis/meta/v1 ---- */

MESSAGE(owner_reference,
        { 5, "apiVersion", FT_STRING, false, NULL, true },
        { 1, "kind", FT_STRING, false, NULL, true },
        { 3, "name", FT_STRING, false, NULL, true },
        { 4, "uid", FT_STRING, false, NULL, true },
        { 6, "controller", FT_BOOL, false, NULL },
        { 7, "blockOwnerDeletion", FT_BOOL, false, NULL });

MESSAGE(managed_fields_entry,
        { 1, "manager", FT_STRING, false, NULL },
        { 2, "operation", FT_STRING, false, NULL },
        { 3, "apiVersion", FT_STRING, false, NULL },
        { 4, "time", FT_TIME, false, NULL },
        { 6, "fieldsType", FT_STRING, false, NULL },
        { 7, "fieldsV1", FT_FIELDS_V1, false, NULL },
        { 8, "subresource", FT_STRING, false, NULL });

MESSAGE(object_meta,
        { 1, "name", FT_STRING, false, NULL },
        { 2, "generateName", FT_STRING, false, NULL },
        { 3, "namespace", FT_STRING, false, NULL },
        { 4, "selfLink", FT_STRING, false, NULL },
        { 5, "uid", FT_STRING, false, NULL },
        { 6, "resourceVersion", FT_STRING, false, NULL },
        { 7, "generation", FT_INT, false, NULL },
        { 8, "creationTimestamp", FT_TIME, false, NULL },
        { 9, "deletionTimestamp", FT_TIME, false, NULL },
        { 10, "deletionGracePeriodSeconds", FT_INT, false, NULL, true },
        { 11, "labels", FT_MAP_STRING, false, NULL },
        { 12, "annotations", FT_MAP_STRING, false, NULL },
        { 13, "ownerReferences", FT_MESSAGE, true, &owner_reference },
        { 14, "finalizers", FT_STRING, true, NULL },
        /* Written (empty) by kube-apiserver 1.24 and before; stays in
         * every object not written since. */
        { 15, "clusterName", FT_STRING, false, NULL },
        { 17, "managedFields", FT_MESSAGE, true, &managed_fields_entry });

/* ---- k8s.io/api/core/v1 ---- */

MESSAGE(object_reference,
        { 1, "kind", FT_STRING, false, NULL },
        { 2, "namespace", FT_STRING, false, NULL },
        { 3, "name", FT_STRING, false, NULL },
        { 4, "uid", FT_STRING, false, NULL },
        { 5, "apiVersion", FT_STRING, false, NULL },
        { 6, "resourceVersion", FT_STRING, false, NULL },
        { 7, "fieldPath", FT_STRING, false, NULL });

MESSAGE(local_object_reference,
        { 1, "name", FT_STRING, false, NULL });

MESSAGE(secret,
        { 1, "metadata", FT_MESSAGE, false, &object_meta },
        { 5, "immutable", FT_BOOL, false, NULL },
        { 2, "data", FT_MAP_BYTES, false, NULL },
        { 4, "stringData", FT_MAP_STRING, false, NULL },
        { 3, "type", FT_STRING, false, NULL });

MESSAGE(config_map,
        { 1, "metadata", FT_MESSAGE, false, &object_meta },
        { 4, "immutable", FT_BOOL, false, NULL },
        { 2, "data", FT_MAP_STRING, false, NULL },
        { 3, "binaryData", FT_MAP_BYTES, false, NULL });

MESSAGE(namespace_spec,
        { 1, "finalizers", FT_STRING, true, NULL });

MESSAGE(namespace_condition,
        { 1, "type", FT_STRING, false, NULL, true },
        { 2, "status", FT_STRING, false, NULL, true },
        { 4, "lastTransitionTime", FT_TIME, false, NULL },
        { 5, "reason", FT_STRING, false, NULL },
        { 6, "message", FT_STRING, false, NULL });

MESSAGE(namespace_status,
        { 1, "phase", FT_STRING, false, NULL },
        { 2, "conditions", FT_MESSAGE, true, &namespace_condition });

MESSAGE(namespace,
        { 1, "metadata", FT_MESSAGE, false, &object_meta },
        { 2, "spec", FT_MESSAGE, false, &namespace_spec },
        { 3, "status", FT_MESSAGE, false, &namespace_status });

MESSAGE(service_account,
        { 1, "metadata", FT_MESSAGE, false, &object_meta },
        { 2, "secrets", FT_MESSAGE, true, &object_reference },
        { 3, "imagePullSecrets", FT_MESSAGE, true, &local_object_reference },
        { 4, "automountServiceAccountToken", FT_BOOL, false, NULL });

/* Every kind: only its metadata is known. */
MESSAGE(any_object,
        { 1, "metadata", FT_MESSAGE, false, &object_meta });

/* The kinds whose bodies are decoded. Add a row (and its messages above)
 * to teach the decoder a kind. */
static const struct {
        const char *api_version;
        const char *kind;
        const Message *body;
} kinds[] = {
        { "v1", "Secret", &secret },
        { "v1", "ConfigMap", &config_map },
        { "v1", "Namespace", &namespace },
        { "v1", "ServiceAccount", &service_account },
};

/* runtime.Unknown and TypeMeta. */
enum {
        UNKNOWN_TYPE_META = 1,
        UNKNOWN_RAW = 2,
        UNKNOWN_CONTENT_ENCODING = 3,
        UNKNOWN_CONTENT_TYPE = 4,
        TYPE_META_API_VERSION = 1,
        TYPE_META_KIND = 2,
        MAP_ENTRY_KEY = 1,
        MAP_ENTRY_VALUE = 2,
        TIME_SECONDS = 1,
        TIME_NANOS = 2,
        FIELDS_V1_RAW = 1,
};

/* Decoding state: where we are (for messages) and what we did not know. */
/* The fields not understood under one path, raw, in wire order. */
typedef struct Undecoded {
        char path[256];
        uint8_t *data;
        size_t size, alloc;
} Undecoded;

typedef struct Decoder {
        char *error;
        char path[256];
        Undecoded *undecoded;   /* by path, in the order first met */
        size_t n_undecoded;
} Decoder;

static void decoder_done(Decoder *d) {
        for (size_t i = 0; i < d->n_undecoded; i++)
                free(d->undecoded[i].data);
        free(d->undecoded);
        d->undecoded = NULL;
        d->n_undecoded = 0;
}

static int fail(Decoder *d, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(Decoder *d, int r, const char *fmt, ...) {
        va_list ap;
        int n;

        if (!d->error)
                return r;
        n = snprintf(d->error, K8S_OBJECT_ERROR_MAX, "%s: ", d->path[0] ? d->path : "object");
        if (n < 0 || (size_t) n >= K8S_OBJECT_ERROR_MAX)
                return r;
        va_start(ap, fmt);
        vsnprintf(d->error + n, K8S_OBJECT_ERROR_MAX - (size_t) n, fmt, ap);
        va_end(ap);
        return r;
}

/* Append ".name" to the path; returns the old length to restore. */
static size_t path_push(Decoder *d, const char *name) {
        size_t old = strlen(d->path);

        snprintf(d->path + old, sizeof(d->path) - old, "%s%s", old ? "." : "", name);
        return old;
}

static void path_pop(Decoder *d, size_t old) {
        d->path[old] = 0;
}

static bool utf8_valid(const uint8_t *s, size_t n) {
        size_t i = 0;

        while (i < n) {
                uint8_t c = s[i];
                size_t len;
                uint32_t cp;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if ((c & 0xe0) == 0xc0) {
                        len = 2;
                        cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        len = 3;
                        cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        len = 4;
                        cp = c & 0x07;
                } else
                        return false;
                if (n - i < len)
                        return false;
                for (size_t k = 1; k < len; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (s[i + k] & 0x3f);
                }
                /* Overlong forms, surrogates, beyond U+10FFFF. */
                if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                        return false;
                i += len;
        }
        return true;
}

static json_object *base64_string(const uint8_t *data, size_t n) {
        _cleanup_free_ char *out = NULL;
        int k;

        if (n > (size_t) INT_MAX / 2)
                return NULL;
        out = malloc(4 * ((n + 2) / 3) + 1);
        if (!out)
                return NULL;
        k = EVP_EncodeBlock((unsigned char *) out, data, (int) n);
        if (k < 0)
                return NULL;
        return json_object_new_string_len(out, k);
}

static int new_string(Decoder *d, const uint8_t *data, size_t n, json_object **ret) {
        json_object *s;

        if (n > INT_MAX)
                return fail(d, -E2BIG, "string of %zu bytes is too long", n);
        if (!utf8_valid(data, n))
                return fail(d, -EBADMSG, "string is not valid UTF-8");
        s = json_object_new_string_len((const char *) data, (int) n);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* Remember one field we do not understand, under the current path. Fields
 * at the same path are concatenated: their bytes are a valid protobuf
 * message of the unknown fields in wire order, base64-encoded at the end.
 * Appending doubles the buffer: a value of many unknown fields takes linear
 * time. */
static int keep_undecoded(Decoder *d, const uint8_t *start, size_t n) {
        const char *key = d->path[0] ? d->path : ".";
        Undecoded *u = NULL;

        for (size_t i = 0; i < d->n_undecoded && !u; i++)
                if (streq(d->undecoded[i].path, key))
                        u = &d->undecoded[i];
        if (!u) {
                Undecoded *a = reallocarray(d->undecoded, d->n_undecoded + 1, sizeof *a);
                if (!a)
                        return -ENOMEM;
                d->undecoded = a;
                u = &a[d->n_undecoded++];
                *u = (Undecoded) {};
                snprintf(u->path, sizeof u->path, "%s", key);
        }
        if (u->size + n > INT_MAX)
                return fail(d, -E2BIG, "too many undecoded bytes");
        if (u->size + n > u->alloc) {
                size_t alloc = MAX(u->alloc * 2, u->size + n);
                uint8_t *b = realloc(u->data, alloc);
                if (!b)
                        return -ENOMEM;
                u->data = b;
                u->alloc = alloc;
        }
        memcpy(u->data + u->size, start, n);
        u->size += n;
        return 0;
}

static int decode_message(Decoder *d, const Message *m, const uint8_t *data, size_t size, json_object *out,
                          unsigned depth);

/* meta/v1 Time as kube-apiserver prints it: RFC 3339, seconds, UTC. */
static int decode_time(Decoder *d, const uint8_t *data, size_t size, json_object **ret) {
        int64_t seconds = 0;
        PbReader r;
        PbField f;
        struct tm tm;
        char buf[32];
        time_t t;
        int k;

        pb_reader_init(&r, data, size);
        while ((k = pb_next_field(&r, &f)) > 0) {
                if (f.number == TIME_SECONDS) {
                        if (f.wire_type != PB_WIRE_VARINT)
                                return fail(d, -EBADMSG, "seconds has wire type %u, not varint", f.wire_type);
                        seconds = (int64_t) f.value;
                } else if (f.number == TIME_NANOS) {
                        if (f.wire_type != PB_WIRE_VARINT)
                                return fail(d, -EBADMSG, "nanos has wire type %u, not varint", f.wire_type);
                }
        }
        if (k < 0)
                return fail(d, -EBADMSG, "malformed Time message");
        /* 0001-01-01 .. 9999-12-31, as the API allows. */
        if (seconds < INT64_C(-62135596800) || seconds > INT64_C(253402300799))
                return fail(d, -EBADMSG, "time %" PRId64 " s is outside years 1 to 9999", seconds);
        t = (time_t) seconds;
        if (!gmtime_r(&t, &tm) || strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return fail(d, -EBADMSG, "time %" PRId64 " s cannot be formatted", seconds);
        *ret = json_object_new_string(buf);
        return *ret ? 0 : -ENOMEM;
}

static int decode_map_entry(Decoder *d, const Field *spec, const uint8_t *data, size_t size, json_object *map) {
        const uint8_t *key = NULL, *value = NULL;
        size_t key_size = 0, value_size = 0;
        _cleanup_free_ char *key_str = NULL;
        json_object *v = NULL;
        PbReader r;
        PbField f;
        int k;

        pb_reader_init(&r, data, size);
        while ((k = pb_next_field(&r, &f)) > 0) {
                if (f.number != MAP_ENTRY_KEY && f.number != MAP_ENTRY_VALUE)
                        continue;
                if (f.wire_type != PB_WIRE_LEN)
                        return fail(d, -EBADMSG, "map entry field %u has wire type %u", f.number, f.wire_type);
                if (f.number == MAP_ENTRY_KEY) {
                        key = f.data;
                        key_size = f.size;
                } else {
                        value = f.data;
                        value_size = f.size;
                }
        }
        if (k < 0)
                return fail(d, -EBADMSG, "malformed map entry");
        if (!utf8_valid(key, key_size) || memchr(key ? (const void *) key : "", 0, key_size))
                return fail(d, -EBADMSG, "map key is not valid UTF-8 text");
        key_str = strndup(key ? (const char *) key : "", key_size);
        if (!key_str)
                return -ENOMEM;
        if (spec->type == FT_MAP_BYTES) {
                v = base64_string(value, value_size);
                if (!v)
                        return -ENOMEM;
        } else {
                k = new_string(d, value, value_size, &v);
                if (k < 0)
                        return k;
        }
        if (json_object_object_add(map, key_str, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int decode_fields_v1(Decoder *d, const uint8_t *data, size_t size, json_object **ret) {
        const uint8_t *raw = NULL;
        size_t raw_size = 0;
        json_tokener *tok;
        json_object *o;
        PbReader r;
        PbField f;
        int k;

        pb_reader_init(&r, data, size);
        while ((k = pb_next_field(&r, &f)) > 0)
                if (f.number == FIELDS_V1_RAW) {
                        if (f.wire_type != PB_WIRE_LEN)
                                return fail(d, -EBADMSG, "Raw has wire type %u", f.wire_type);
                        raw = f.data;
                        raw_size = f.size;
                }
        if (k < 0)
                return fail(d, -EBADMSG, "malformed FieldsV1 message");
        if (raw_size > INT_MAX)
                return fail(d, -E2BIG, "FieldsV1 too long");
        /* json-c's own check lets overlong forms (0xc0 0xa5) through. */
        if (!utf8_valid(raw, raw_size))
                return fail(d, -EBADMSG, "FieldsV1 is not valid UTF-8");
        if (raw_size > 0 && memchr(raw, 0, raw_size))
                return fail(d, -EBADMSG, "FieldsV1 has a NUL byte");
        tok = json_tokener_new_ex(K8S_OBJECT_DEPTH_MAX);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, raw ? (const char *) raw : "", (int) raw_size);
        k = json_tokener_get_error(tok) == json_tokener_success && tok->char_offset == (int) raw_size;
        json_tokener_free(tok);
        if (!k || !o) {
                json_object_put(o);
                return fail(d, -EBADMSG, "FieldsV1 is not JSON");
        }
        *ret = o;
        return 0;
}

static const Field *find_field(const Message *m, uint32_t number) {
        for (size_t i = 0; i < m->n_fields; i++)
                if (m->fields[i].number == number)
                        return &m->fields[i];
        return NULL;
}

/* Decode one known field's value into a new JSON value (maps: into the map
 * object that already is in place). */
static int decode_value(Decoder *d, const Field *spec, const PbField *f, json_object *out, unsigned depth,
                        json_object **ret) {
        bool want_len = !(spec->type == FT_INT || spec->type == FT_BOOL);
        json_object *v = NULL;
        int r;

        if (want_len != (f->wire_type == PB_WIRE_LEN) || (!want_len && f->wire_type != PB_WIRE_VARINT))
                return fail(d, -EBADMSG, "wire type %u does not fit the field", f->wire_type);

        switch (spec->type) {
        case FT_STRING:
                r = new_string(d, f->data, f->size, &v);
                break;
        case FT_BYTES:
                v = base64_string(f->data, f->size);
                r = v ? 0 : -ENOMEM;
                break;
        case FT_INT:
                v = json_object_new_int64((int64_t) f->value);
                r = v ? 0 : -ENOMEM;
                break;
        case FT_BOOL:
                v = json_object_new_boolean(f->value != 0);
                r = v ? 0 : -ENOMEM;
                break;
        case FT_TIME:
                r = decode_time(d, f->data, f->size, &v);
                break;
        case FT_FIELDS_V1:
                r = decode_fields_v1(d, f->data, f->size, &v);
                break;
        case FT_MAP_STRING:
        case FT_MAP_BYTES: {
                json_object *map = NULL;

                if (!json_object_object_get_ex(out, spec->name, &map)) {
                        map = json_object_new_object();
                        if (!map || json_object_object_add(out, spec->name, map) < 0) {
                                json_object_put(map);
                                return -ENOMEM;
                        }
                }
                return decode_map_entry(d, spec, f->data, f->size, map);
        }
        case FT_MESSAGE:
                v = json_object_new_object();
                if (!v)
                        return -ENOMEM;
                r = decode_message(d, spec->message, f->data, f->size, v, depth + 1);
                break;
        default:
                return fail(d, -EBADMSG, "internal: unknown field type");
        }
        if (r < 0) {
                json_object_put(v);
                return r;
        }
        *ret = v;
        return 0;
}

static int decode_message(Decoder *d, const Message *m, const uint8_t *data, size_t size, json_object *out,
                          unsigned depth) {
        PbReader rd;
        PbField f;
        int k;

        if (depth > K8S_OBJECT_DEPTH_MAX)
                return fail(d, -E2BIG, "nested more than %u levels", K8S_OBJECT_DEPTH_MAX);

        pb_reader_init(&rd, data, size);
        for (;;) {
                const uint8_t *start = rd.p;
                json_object *v = NULL;
                const Field *spec;
                size_t old;

                k = pb_next_field(&rd, &f);
                if (k == 0)
                        break;
                if (k < 0)
                        return fail(d, -EBADMSG, "malformed protobuf (a length or varint runs past the end, "
                                                 "or a bad tag) at byte %zu of %zu",
                                    (size_t) (start - data), size);

                spec = find_field(m, f.number);
                if (!spec) {
                        k = keep_undecoded(d, start, (size_t) (rd.p - start));
                        if (k < 0)
                                return k;
                        continue;
                }

                old = path_push(d, spec->name);
                k = decode_value(d, spec, &f, out, depth, &v);
                path_pop(d, old);
                if (k < 0)
                        return k;
                if (!v)
                        continue; /* a map entry, already in place */
                if (!spec->repeated && !spec->keep_zero &&
                    ((spec->type == FT_STRING && json_object_get_string_len(v) == 0) ||
                     (spec->type == FT_INT && json_object_get_int64(v) == 0))) {
                        json_object_put(v);
                        json_object_object_del(out, spec->name); /* the last one counts */
                        continue; /* empty: left out, as kubectl shows it */
                }

                if (spec->repeated) {
                        json_object *arr = NULL;

                        if (!json_object_object_get_ex(out, spec->name, &arr)) {
                                arr = json_object_new_array();
                                if (!arr || json_object_object_add(out, spec->name, arr) < 0) {
                                        json_object_put(arr);
                                        json_object_put(v);
                                        return -ENOMEM;
                                }
                        }
                        if (json_object_array_add(arr, v) < 0) {
                                json_object_put(v);
                                return -ENOMEM;
                        }
                } else if (json_object_object_add(out, spec->name, v) < 0) {
                        json_object_put(v);
                        return -ENOMEM;
                }
        }
        return 0;
}

K8sEncoding k8s_object_encoding(const void *data, size_t size) {
        const uint8_t *p = data;
        size_t i = 0;

        if (size >= K8S_PROTOBUF_MAGIC_BYTES && memcmp(data, K8S_PROTOBUF_MAGIC, K8S_PROTOBUF_MAGIC_BYTES) == 0)
                return K8S_ENCODING_PROTOBUF;
        while (i < size && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
                i++;
        if (i < size && p[i] == '{')
                return K8S_ENCODING_JSON;
        return K8S_ENCODING_UNKNOWN;
}

const char *k8s_encoding_to_string(K8sEncoding e) {
        switch (e) {
        case K8S_ENCODING_PROTOBUF:
                return "protobuf";
        case K8S_ENCODING_JSON:
                return "json";
        default:
                return "unknown";
        }
}

void k8s_object_clear(K8sObject *o) {
        if (!o)
                return;
        json_object_put(o->object);
        *o = (K8sObject) {};
}

typedef struct Envelope {
        const uint8_t *api_version, *kind, *raw, *content_encoding, *content_type;
        size_t api_version_size, kind_size, raw_size, content_encoding_size, content_type_size;
} Envelope;

static int decode_envelope(Decoder *d, const uint8_t *data, size_t size, Envelope *ret) {
        Envelope e = {};
        PbReader r, tr;
        PbField f;
        int k;

        pb_reader_init(&r, data + K8S_PROTOBUF_MAGIC_BYTES, size - K8S_PROTOBUF_MAGIC_BYTES);
        while ((k = pb_next_field(&r, &f)) > 0) {
                if (f.number < UNKNOWN_TYPE_META || f.number > UNKNOWN_CONTENT_TYPE)
                        continue;
                if (f.wire_type != PB_WIRE_LEN)
                        return fail(d, -EBADMSG, "envelope field %u has wire type %u", f.number, f.wire_type);
                switch (f.number) {
                case UNKNOWN_TYPE_META:
                        pb_reader_init(&tr, f.data, f.size);
                        while ((k = pb_next_field(&tr, &f)) > 0) {
                                if (f.number != TYPE_META_API_VERSION && f.number != TYPE_META_KIND)
                                        continue;
                                if (f.wire_type != PB_WIRE_LEN)
                                        return fail(d, -EBADMSG, "typeMeta field %u has wire type %u",
                                                    f.number, f.wire_type);
                                if (f.number == TYPE_META_API_VERSION) {
                                        e.api_version = f.data;
                                        e.api_version_size = f.size;
                                } else {
                                        e.kind = f.data;
                                        e.kind_size = f.size;
                                }
                        }
                        if (k < 0)
                                return fail(d, -EBADMSG, "malformed typeMeta in the envelope");
                        break;
                case UNKNOWN_RAW:
                        e.raw = f.data;
                        e.raw_size = f.size;
                        break;
                case UNKNOWN_CONTENT_ENCODING:
                        e.content_encoding = f.data;
                        e.content_encoding_size = f.size;
                        break;
                case UNKNOWN_CONTENT_TYPE:
                        e.content_type = f.data;
                        e.content_type_size = f.size;
                        break;
                }
        }
        if (k < 0)
                return fail(d, -EBADMSG, "malformed protobuf envelope (runtime.Unknown): "
                                         "a length or varint runs past the end, or a bad tag");
        *ret = e;
        return 0;
}

static int text_dup(Decoder *d, const char *what, const uint8_t *s, size_t n, char **ret) {
        char *t;

        if (n > 253 || !utf8_valid(s, n) || (n && memchr(s, 0, n)))
                return fail(d, -EBADMSG, "%s is not a short UTF-8 text", what);
        t = strndup(s ? (const char *) s : "", n);
        if (!t)
                return -ENOMEM;
        *ret = t;
        return 0;
}

int k8s_object_type(const void *data, size_t size, char **ret_api_version, char **ret_kind) {
        _cleanup_free_ char *api_version = NULL, *kind = NULL;
        Decoder d = {};
        Envelope e;
        int r;

        if (k8s_object_encoding(data, size) != K8S_ENCODING_PROTOBUF)
                return -EBADMSG;
        r = decode_envelope(&d, data, size, &e);
        if (r < 0)
                return r;
        r = text_dup(&d, "apiVersion", e.api_version, e.api_version_size, &api_version);
        if (r < 0)
                return r;
        r = text_dup(&d, "kind", e.kind, e.kind_size, &kind);
        if (r < 0)
                return r;
        *ret_api_version = TAKE_PTR(api_version);
        *ret_kind = TAKE_PTR(kind);
        return 0;
}

bool k8s_object_kind_known(const char *api_version, const char *kind) {
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                if (streq(kinds[i].api_version, api_version) && streq(kinds[i].kind, kind))
                        return true;
        return false;
}

/* json-c reads an integer beyond 64 bits as the nearest 64-bit one
 * (100000000000000000000 as 18446744073709551615, and below -2^63 as
 * -2^63). kube-apiserver holds a custom resource's number that is no
 * int64 as a float64 and writes it as Go does, digits and no exponent
 * below 1e21: so a stored 1e20 reads back as 2^64 - 1. Such numbers keep
 * the text they were written with. The integers json-c saturated are
 * taken from the text in the order they are written, which is the tree's
 * order (json-c keeps an object's keys as they came) as long as the text
 * is plain JSON and no key came twice (json-c keeps the last value at the
 * first place); otherwise the object is refused rather than shown with a
 * number in the wrong place. Numbers at the 64-bit limits, which json-c
 * holds exactly, take their own (same) text in plain JSON, where only
 * numbers beyond them can make an object refused; in json-c's extensions
 * the two cannot be told apart, and either does. */
typedef struct WideNumbers {
        const char *text;
        struct { size_t start, len; } *num;     /* the saturating integers' texts, in order */
        size_t n, n_alloc;
        size_t n_beyond;        /* of them, beyond 64 bits (not only at its end) */
        size_t first_beyond;    /* the first of those */
        size_t n_keys;          /* keys in the text */
        bool plain;             /* nothing but RFC 8259 JSON met */
        size_t next;            /* the next text to place */
        size_t tree_keys;       /* keys in the tree */
} WideNumbers;

/* How integer digits (after an optional '-', without leading zeros)
 * compare with the 64-bit end that json-c saturates to: < 0 within it, 0 at
 * it (held exactly, but read back as saturated), > 0 beyond it. */
static int integer_vs_end(const char *s, size_t n) {
        bool neg = n > 0 && s[0] == '-';
        const char *end = neg ? "9223372036854775808" : "18446744073709551615";
        size_t m = strlen(end);

        if (neg)
                s++, n--;
        if (n != m)
                return n > m ? 1 : -1;
        return memcmp(s, end, m);
}

static int wide_scan(WideNumbers *w, const char *s, size_t size) {
        static const char *const words[] = { "true", "false", "null" };
        size_t i = 0;

        w->text = s;
        w->plain = true;
        while (i < size) {
                char c = s[i];

                if (c == '"') {
                        for (i++; i < size && s[i] != '"'; i++)
                                if (s[i] == '\\')
                                        i++;
                        for (i++; i < size && strchr(" \t\r\n", s[i]) && s[i]; i++)
                                ;
                        if (i < size && s[i] == ':')
                                w->n_keys++;
                } else if (c == '-' || (c >= '0' && c <= '9')) {
                        size_t j = i, z = i + (c == '-');
                        bool integer = true;
                        int v;

                        for (; j < size && s[j] && strchr("0123456789+-.eE", s[j]); j++)
                                if (strchr(".eE", s[j]))
                                        integer = false;
                        /* Leading zeros are json-c's, not JSON's: kept in a number's text, they would make
                         * the output no JSON (and octal to a YAML 1.1 reader). */
                        if (j - z > 1 && s[z] == '0' && s[z + 1] >= '0' && s[z + 1] <= '9') {
                                w->plain = false;
                                return 0;
                        }
                        v = integer ? integer_vs_end(s + i, j - i) : -1;
                        if (v >= 0) {
                                if (w->n == w->n_alloc) {
                                        size_t k = w->n_alloc ? w->n_alloc * 2 : 4;
                                        void *a = reallocarray(w->num, k, sizeof *w->num);

                                        if (!a)
                                                return -ENOMEM;
                                        w->num = a;
                                        w->n_alloc = k;
                                }
                                if (v > 0 && w->n_beyond++ == 0)
                                        w->first_beyond = w->n;
                                w->num[w->n].start = i;
                                w->num[w->n++].len = j - i;
                        }
                        i = j;
                } else if (c && strchr(" \t\r\n{}[],:", c))
                        i++;
                else {
                        size_t k = 0;

                        while (k < ELEMENTSOF(words) && !(size - i >= strlen(words[k]) &&
                                                          memcmp(s + i, words[k], strlen(words[k])) == 0))
                                k++;
                        if (k == ELEMENTSOF(words)) {
                                w->plain = false;       /* comments, 'strings', NaN: json-c's extensions */
                                return 0;
                        }
                        i += strlen(words[k]);
                }
        }
        return 0;
}

static bool saturated(json_object *v) {
        return json_object_is_type(v, json_type_int) &&
               (json_object_get_int64(v) == INT64_MIN || json_object_get_uint64(v) == UINT64_MAX);
}

/* The next saturating integer's text as a number that prints as it. */
static int wide_take(WideNumbers *w, json_object **ret) {
        _cleanup_free_ char *t = NULL;

        if (w->next >= w->n)
                return -EBADMSG;
        t = strndup(w->text + w->num[w->next].start, w->num[w->next].len);
        if (!t)
                return -ENOMEM;
        w->next++;
        *ret = json_object_new_double_s(strtod(t, NULL), t);
        return *ret ? 0 : -ENOMEM;
}

static int wide_place(WideNumbers *w, json_object *o);

/* Places the texts within V, or takes V's own: then *ret replaces V. */
static int wide_visit(WideNumbers *w, json_object *v, json_object **ret) {
        *ret = NULL;
        return saturated(v) ? wide_take(w, ret) : wide_place(w, v);
}

static int wide_place(WideNumbers *w, json_object *o) {
        json_object *nv;
        int r;

        if (json_object_is_type(o, json_type_object)) {
                w->tree_keys += (size_t) json_object_object_length(o);
                json_object_object_foreach(o, key, val) {
                        r = wide_visit(w, val, &nv);
                        if (r < 0)
                                return r;
                        /* Replaces the value in place: the iteration goes on. */
                        if (nv && json_object_object_add(o, key, nv) < 0) {
                                json_object_put(nv);
                                return -ENOMEM;
                        }
                }
        } else if (json_object_is_type(o, json_type_array))
                for (size_t i = 0; i < json_object_array_length(o); i++) {
                        r = wide_visit(w, json_object_array_get_idx(o, i), &nv);
                        if (r < 0)
                                return r;
                        if (nv && json_object_array_put_idx(o, i, nv) < 0) {
                                json_object_put(nv);
                                return -ENOMEM;
                        }
                }
        return 0;
}

static bool tree_has_saturated(json_object *o) {
        if (saturated(o))
                return true;
        if (json_object_is_type(o, json_type_object)) {
                json_object_object_foreach(o, key, val) {
                        (void) key;
                        if (tree_has_saturated(val))
                                return true;
                }
        } else if (json_object_is_type(o, json_type_array))
                for (size_t i = 0; i < json_object_array_length(o); i++)
                        if (tree_has_saturated(json_object_array_get_idx(o, i)))
                                return true;
        return false;
}

static int keep_wide_integers(Decoder *d, json_object *root, const uint8_t *data, size_t size) {
        WideNumbers w = {};
        char shown[48];
        int r;

        r = wide_scan(&w, (const char *) data, size);
        if (r < 0)
                goto done;
        if (!w.plain) {
                if (tree_has_saturated(root))
                        r = fail(d, -EBADMSG, "stored JSON holds a number at or beyond the 64-bit limits in a text "
                                 "that is not plain JSON (comments, single quotes or NaN, which kube-apiserver does "
                                 "not write), so which digits it was written with cannot be told; -o simple shows "
                                 "the value as stored");
                goto done;
        }
        if (w.n_beyond == 0)
                goto done;              /* the usual case; numbers at the limits json-c holds exactly */
        r = wide_place(&w, root);
        if (r == -ENOMEM)
                goto done;
        str_printable(shown, sizeof shown, (const uint8_t *) data + w.num[w.first_beyond].start,
                     w.num[w.first_beyond].len);
        if (r >= 0 && w.tree_keys != w.n_keys)
                r = fail(d, -EBADMSG, "stored JSON has the number %s, beyond 64 bits, and a key given twice in one "
                         "object, so which of its numbers is where cannot be told; -o simple shows the value as "
                         "stored", shown);
        else if (r < 0 || w.next != w.n)
                r = fail(d, -EBADMSG, "stored JSON has the number %s, beyond 64 bits, and its numbers do not match "
                         "what json-c read; -o simple shows the value as stored", shown);
done:
        free(w.num);
        return r;
}

static int parse_json_object(Decoder *d, const uint8_t *data, size_t size, json_object **ret) {
        json_tokener *tok;
        json_object *o;
        bool ok;
        int r;

        if (size > INT_MAX)
                return fail(d, -E2BIG, "JSON of %zu bytes is too long", size);
        /* JSON is UTF-8 (RFC 8259), and what kube-apiserver writes always is;
         * json-c's own check lets overlong forms (0xc0 0xa5) through. */
        if (!utf8_valid(data, size))
                return fail(d, -EBADMSG, "stored JSON is not valid UTF-8");
        /* JSON escapes a NUL (\u0000); json-c stops at a raw one, and after an
         * unfinished comment returns the inner object it had finished. */
        if (size > 0 && memchr(data, 0, size))
                return fail(d, -EBADMSG, "stored JSON has a NUL byte");
        tok = json_tokener_new_ex(K8S_OBJECT_DEPTH_MAX * 4);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, (const char *) data, (int) size);
        ok = json_tokener_get_error(tok) == json_tokener_success;
        if (!ok)
                fail(d, -EBADMSG, "stored JSON is malformed at byte %d: %s", (int) tok->char_offset,
                     json_tokener_error_desc(json_tokener_get_error(tok)));
        else {
                /* kube-apiserver ends it with a line break; nothing else may follow. */
                size_t end = (size_t) tok->char_offset;

                while (end < size && strchr(" \t\r\n", data[end]) && data[end])
                        end++;
                if (end < size) {
                        ok = false;
                        fail(d, -EBADMSG, "stored JSON has %zu bytes after its object", size - end);
                }
        }
        json_tokener_free(tok);
        if (!ok) {
                json_object_put(o);
                return -EBADMSG;
        }
        if (!json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return fail(d, -EBADMSG, "stored JSON is not an object");
        }
        r = keep_wide_integers(d, o, data, size);
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        *ret = o;
        return 0;
}

/* Turn the raw bytes kept per path into base64 and add the note. */
static int finish_undecoded(Decoder *d, json_object *root, const char *api_version, const char *kind,
                            bool kind_known) {
        json_object *u, *protobuf, *note;
        char text[300];

        protobuf = json_object_new_object();
        if (!protobuf)
                return -ENOMEM;
        for (size_t i = 0; i < d->n_undecoded; i++) {
                const Undecoded *raw = &d->undecoded[i];
                json_object *b = base64_string(raw->data, raw->size);
                if (!b || json_object_object_add(protobuf, raw->path, b) < 0) {
                        json_object_put(b);
                        json_object_put(protobuf);
                        return -ENOMEM;
                }
        }
        if (kind_known)
                snprintf(text, sizeof text, "%s %s has fields the decoder's table does not list; they are "
                         "kept here as protobuf (base64), by the path of the message that holds them",
                         api_version, kind);
        else
                snprintf(text, sizeof text, "%s %s is not in the decoder's table: only its metadata was "
                         "decoded; the rest is kept here as protobuf (base64), not guessed", api_version, kind);
        u = json_object_new_object();
        note = json_object_new_string(text);
        if (!u || !note || json_object_object_add(u, "note", note) < 0) {
                json_object_put(note);
                json_object_put(u);
                json_object_put(protobuf);
                return -ENOMEM;
        }
        if (json_object_object_add(u, "protobuf", protobuf) < 0 ||
            json_object_object_add(root, K8S_OBJECT_UNDECODED, u) < 0) {
                json_object_put(u);
                return -ENOMEM;
        }
        return 0;
}

static int decode_protobuf(Decoder *d, const uint8_t *data, size_t size, K8sObject *ret) {
        _cleanup_free_ char *api_version = NULL, *kind = NULL;
        const Message *body = &any_object;
        json_object *root = NULL, *s;
        bool kind_known = false;
        char text[68];
        Envelope e;
        int r;

        r = decode_envelope(d, data, size, &e);
        if (r < 0)
                return r;
        if (e.content_encoding_size > 0)
                return fail(d, -EBADMSG, "envelope names a content encoding (%s) the decoder does not read",
                            str_printable(text, 36, e.content_encoding, e.content_encoding_size));
        r = text_dup(d, "apiVersion", e.api_version, e.api_version_size, &api_version);
        if (r < 0)
                return r;
        r = text_dup(d, "kind", e.kind, e.kind_size, &kind);
        if (r < 0)
                return r;

        if (e.content_type_size > 0 && !(e.content_type_size == strlen("application/vnd.kubernetes.protobuf") &&
                                         memcmp(e.content_type, "application/vnd.kubernetes.protobuf",
                                                e.content_type_size) == 0)) {
                if (e.content_type_size == strlen("application/json") &&
                    memcmp(e.content_type, "application/json", e.content_type_size) == 0) {
                        r = parse_json_object(d, e.raw, e.raw_size, &root);
                        if (r < 0)
                                return r;
                        *ret = (K8sObject) { .object = root, .encoding = K8S_ENCODING_PROTOBUF, .complete = true };
                        return 0;
                }
                return fail(d, -EBADMSG, "envelope has content type %s, which the decoder does not read",
                            str_printable(text, sizeof text, e.content_type, e.content_type_size));
        }

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                if (streq(kinds[i].api_version, api_version) && streq(kinds[i].kind, kind)) {
                        body = kinds[i].body;
                        kind_known = true;
                }

        root = json_object_new_object();
        if (!root)
                return -ENOMEM;
        s = json_object_new_string(api_version);
        if (!s || json_object_object_add(root, "apiVersion", s) < 0)
                goto oom;
        s = json_object_new_string(kind);
        if (!s || json_object_object_add(root, "kind", s) < 0)
                goto oom;

        r = decode_message(d, body, e.raw, e.raw_size, root, 0);
        if (r < 0) {
                json_object_put(root);
                return r;
        }
        if (d->n_undecoded > 0) {
                r = finish_undecoded(d, root, api_version, kind, kind_known);
                if (r < 0) {
                        json_object_put(root);
                        return r;
                }
        }
        *ret = (K8sObject) { .object = root, .encoding = K8S_ENCODING_PROTOBUF, .complete = d->n_undecoded == 0 };
        return 0;
oom:
        json_object_put(s);
        json_object_put(root);
        return -ENOMEM;
}

int k8s_object_decode(const void *data, size_t size, K8sObject *ret, char error[static K8S_OBJECT_ERROR_MAX]) {
        Decoder d = { .error = error };
        json_object *o;
        int r;

        if (error)
                error[0] = 0;
        switch (k8s_object_encoding(data, size)) {
        case K8S_ENCODING_PROTOBUF:
                r = decode_protobuf(&d, data, size, ret);
                decoder_done(&d);
                return r;
        case K8S_ENCODING_JSON:
                r = parse_json_object(&d, data, size, &o);
                if (r < 0)
                        return r;
                *ret = (K8sObject) { .object = o, .encoding = K8S_ENCODING_JSON, .complete = true };
                return 0;
        default:
                return fail(&d, -EBADMSG, "value is neither a protobuf object (k8s\\0 prefix) nor JSON");
        }
}

void k8s_object_strip_for_manifest(json_object *o) {
        static const char *const owned[] = {
                "uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink",
                "deletionTimestamp", "deletionGracePeriodSeconds", "clusterName",
        };
        json_object *meta;

        if (!json_object_is_type(o, json_type_object))
                return;
        json_object_object_del(o, "status");
        if (json_object_object_get_ex(o, "metadata", &meta) && json_object_is_type(meta, json_type_object))
                for (size_t i = 0; i < ELEMENTSOF(owned); i++)
                        json_object_object_del(meta, owned[i]);
}
