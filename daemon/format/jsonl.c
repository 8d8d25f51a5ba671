/* SPDX-License-Identifier: MIT */
/*
 * jsonl.c — one request line of the JSON-lines protocol, parsed without
 * trusting it: bounded in length and nesting, no NUL, exactly one object.
 */

#include <errno.h>
#include <string.h>

#include "format/jsonl.h"

/* Deeper nesting is refused before json-c recurses into it. */
#define JSON_DEPTH_MAX 16

int jsonl_parse_request(const char *line, size_t n, struct json_object **ret, const char **ret_method,
                        const char **ret_code, const char **ret_message) {
        struct json_tokener *tok;
        struct json_object *o, *m;

        if (n > JSONL_REQUEST_MAX_BYTES)
                return *ret_code = "too_large", *ret_message = "requests are at most 64 KiB", -E2BIG;
        if (memchr(line, '\0', n))
                return *ret_code = "invalid_json", *ret_message = "the request contains a NUL byte", -EBADMSG;
        tok = json_tokener_new_ex(JSON_DEPTH_MAX);
        if (!tok)
                return *ret_code = "internal", *ret_message = "out of memory", -ENOMEM;
        o = json_tokener_parse_ex(tok, line, (int) n);
        if (!o || json_tokener_get_error(tok) != json_tokener_success ||
            (size_t) json_tokener_get_parse_end(tok) != n) {
                json_tokener_free(tok);
                json_object_put(o);
                return *ret_code = "invalid_json",
                       *ret_message = "the request is not one JSON object on one line", -EBADMSG;
        }
        json_tokener_free(tok);
        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "method", &m) ||
            !json_object_is_type(m, json_type_string)) {
                json_object_put(o);
                return *ret_code = "invalid_request", *ret_message = "expected {\"method\": \"…\", …}", -EBADMSG;
        }
        *ret = o;
        *ret_method = json_object_get_string(m);
        return 0;
}
