/* SPDX-License-Identifier: MIT */
/*
 * json-yaml.c — emits a json-c tree as YAML through libyaml's event API.
 * Mappings and sequences are block style; scalars are plain unless the plain
 * form would read back as something other than the same string, in which
 * case they are single-quoted (libyaml itself switches to double quotes for
 * text single quotes cannot carry), or double-quoted when they hold what a
 * terminal acts on (DEL, C1, bidi controls), so that its escape reads back
 * as the same string.
 */

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "format/json-yaml.h"
#include "util/macro.h"
#include "util/str.h"

/* Nesting beyond this is refused (the json-c trees we emit are shallow). */
#define JSON_YAML_DEPTH_MAX 256U

typedef struct Buffer {
        char *data;
        size_t size;
        size_t allocated;
        bool failed;
} Buffer;

static int on_write(void *userdata, unsigned char *chunk, size_t n) {
        Buffer *b = userdata;

        if (b->size + n + 1 > b->allocated) {
                size_t want = MAX(b->allocated * 2, b->size + n + 1);
                char *p = realloc(b->data, want);

                if (!p) {
                        b->failed = true;
                        return 0;
                }
                b->data = p;
                b->allocated = want;
        }
        memcpy(b->data + b->size, chunk, n);
        b->size += n;
        b->data[b->size] = 0;
        return 1;
}

/* Would a YAML 1.1 reader (PyYAML, kubectl's sigs.k8s.io/yaml) resolve this
 * plain scalar to something other than a string? Conservative: anything
 * starting like a number, or one of the special words. */
static bool plain_is_ambiguous(const char *s, size_t n) {
        static const char *const words[] = {
                "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~",
                "=",    /* YAML 1.1's value key (PyYAML resolves it so) */
        };

        if (n == 0)
                return true;
        for (size_t i = 0; i < ELEMENTSOF(words); i++)
                if (n == strlen(words[i]) && strncasecmp(s, words[i], n) == 0)
                        return true;
        if (isdigit((unsigned char) s[0]) || s[0] == '-' || s[0] == '+' || s[0] == '.')
                return true;
        if (s[0] == '<' && n >= 2 && s[1] == '<') /* merge key */
                return true;
        return false;
}

static int emit(yaml_emitter_t *e, yaml_event_t *ev) {
        return yaml_emitter_emit(e, ev) ? 0 : -EINVAL;
}

static int emit_scalar(yaml_emitter_t *e, const char *s, size_t n, bool is_string) {
        yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
        yaml_event_t ev;

        if (is_string) {
                /* What a terminal would act on is escaped after the emitter (fwrite_for_terminal()), which
                 * reads back as the same string in double quotes only. */
                if (str_needs_terminal_escape(s, n))
                        style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
                else if (memchr(s, '\n', n))
                        style = YAML_LITERAL_SCALAR_STYLE;
                else if (plain_is_ambiguous(s, n))
                        style = YAML_SINGLE_QUOTED_SCALAR_STYLE;
        }
        if (n > INT32_MAX)
                return -E2BIG;
        if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *) s, (int) n, !is_string || style == YAML_ANY_SCALAR_STYLE,
                                          is_string, style))
                return -ENOMEM;
        return emit(e, &ev);
}

static int emit_value(yaml_emitter_t *e, json_object *o, unsigned depth) {
        yaml_event_t ev;
        int r;

        if (depth > JSON_YAML_DEPTH_MAX)
                return -E2BIG;

        switch (json_object_get_type(o)) {
        case json_type_null:
                return emit_scalar(e, "null", 4, false);
        case json_type_boolean:
                return json_object_get_boolean(o) ? emit_scalar(e, "true", 4, false)
                                                  : emit_scalar(e, "false", 5, false);
        case json_type_int:
        case json_type_double: {
                const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
                return emit_scalar(e, t, strlen(t), false);
        }
        case json_type_string:
                return emit_scalar(e, json_object_get_string(o), (size_t) json_object_get_string_len(o), true);
        case json_type_array:
                if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE))
                        return -ENOMEM;
                r = emit(e, &ev);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < json_object_array_length(o); i++) {
                        r = emit_value(e, json_object_array_get_idx(o, i), depth + 1);
                        if (r < 0)
                                return r;
                }
                if (!yaml_sequence_end_event_initialize(&ev))
                        return -ENOMEM;
                return emit(e, &ev);
        case json_type_object:
                if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE))
                        return -ENOMEM;
                r = emit(e, &ev);
                if (r < 0)
                        return r;
                json_object_object_foreach(o, key, value) {
                        r = emit_scalar(e, key, strlen(key), true);
                        if (r < 0)
                                return r;
                        r = emit_value(e, value, depth + 1);
                        if (r < 0)
                                return r;
                }
                if (!yaml_mapping_end_event_initialize(&ev))
                        return -ENOMEM;
                return emit(e, &ev);
        }
        return -EINVAL;
}

int json_yaml_emit(json_object *o, char **ret, size_t *ret_size) {
        Buffer b = {};
        yaml_emitter_t e;
        yaml_event_t ev;
        int r = -ENOMEM;

        if (!yaml_emitter_initialize(&e))
                return -ENOMEM;
        yaml_emitter_set_output(&e, on_write, &b);
        yaml_emitter_set_unicode(&e, 1);
        yaml_emitter_set_width(&e, -1);
        yaml_emitter_set_indent(&e, 2);

        if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING))
                goto finish;
        if ((r = emit(&e, &ev)) < 0)
                goto finish;
        r = -ENOMEM;
        if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1))
                goto finish;
        if ((r = emit(&e, &ev)) < 0)
                goto finish;
        if ((r = emit_value(&e, o, 0)) < 0)
                goto finish;
        r = -ENOMEM;
        if (!yaml_document_end_event_initialize(&ev, 1))
                goto finish;
        if ((r = emit(&e, &ev)) < 0)
                goto finish;
        r = -ENOMEM;
        if (!yaml_stream_end_event_initialize(&ev))
                goto finish;
        if ((r = emit(&e, &ev)) < 0)
                goto finish;
        if (!yaml_emitter_flush(&e) || b.failed) {
                r = b.failed ? -ENOMEM : -EINVAL;
                goto finish;
        }
        if (!b.data) {
                r = -EINVAL;
                goto finish;
        }
        *ret_size = b.size;
        *ret = TAKE_PTR(b.data);
        r = 0;
finish:
        yaml_emitter_delete(&e);
        free(b.data);
        return r;
}
