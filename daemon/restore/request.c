/* SPDX-License-Identifier: MIT */
/*
 * request.c — the one request the restore socket serves,
 * {"method":"Restore","backup":"…","dry_run":bool}, and the operator's
 * answer to its plan, {"method":"Confirm","backup":"…"} or
 * {"method":"Cancel"}, each read from one line of the JSON-lines protocol
 * (format/jsonl). Pure: no I/O.
 */

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "format/jsonl.h"
#include "restore/restore.h"
#include "util/macro.h"

void restore_request_done(RestoreRequest *r) {
        if (!r)
                return;
        r->backup = mfree(r->backup);
}

int restore_request_parse(const char *line, size_t n, RestoreRequest *ret, const char **ret_code,
                          const char **ret_message) {
        struct json_object *o = NULL, *j;
        const char *method, *backup;
        size_t len;
        bool dry_run = false;
        char *copy;
        int r;

        if (n > RESTORE_REQUEST_MAX_BYTES)
                return *ret_code = "too_large", *ret_message = "requests are at most 64 KiB", -E2BIG;
        r = jsonl_parse_request(line, n, &o, &method, ret_code, ret_message);
        if (r < 0)
                return r;
        if (!streq(method, "Restore")) {
                json_object_put(o);
                return *ret_code = "unknown_method", *ret_message = "this socket only serves \"Restore\"", -EBADMSG;
        }
        if (!json_object_object_get_ex(o, "backup", &j) || !json_object_is_type(j, json_type_string)) {
                json_object_put(o);
                return *ret_code = "invalid_request",
                       *ret_message = "\"backup\" must be a string: a backup name, \"latest\" or an absolute path",
                       -EBADMSG;
        }
        backup = json_object_get_string(j);
        len = (size_t) json_object_get_string_len(j);
        if (len == 0 || len > RESTORE_BACKUP_ARG_MAX || strlen(backup) != len) {
                json_object_put(o);
                return *ret_code = "invalid_request",
                       *ret_message = "\"backup\" must be 1 to 4096 bytes without NUL", -EBADMSG;
        }
        for (size_t i = 0; i < len; i++)
                if ((unsigned char) backup[i] < 0x20 || backup[i] == 0x7f) {
                        json_object_put(o);
                        return *ret_code = "invalid_request",
                               *ret_message = "\"backup\" contains a control character", -EBADMSG;
                }
        if (strchr(backup, '/') && backup[0] != '/') {
                json_object_put(o);
                return *ret_code = "invalid_request",
                       *ret_message = "\"backup\" must be a name, \"latest\" or an absolute path", -EBADMSG;
        }
        if (json_object_object_get_ex(o, "dry_run", &j) && j) {
                if (!json_object_is_type(j, json_type_boolean)) {
                        json_object_put(o);
                        return *ret_code = "invalid_request", *ret_message = "\"dry_run\" must be true or false",
                               -EBADMSG;
                }
                dry_run = json_object_get_boolean(j);
        }
        copy = strdup(backup);
        json_object_put(o);
        if (!copy)
                return *ret_code = "internal", *ret_message = "out of memory", -ENOMEM;
        *ret = (RestoreRequest) { .backup = copy, .dry_run = dry_run };
        return 0;
}

int restore_confirm_parse(const char *line, size_t n, const char *plan_backup, const char **ret_code,
                          const char **ret_message) {
        struct json_object *o = NULL, *j;
        const char *method;
        int r;

        if (n > RESTORE_REQUEST_MAX_BYTES)
                return *ret_code = "too_large", *ret_message = "requests are at most 64 KiB", -E2BIG;
        r = jsonl_parse_request(line, n, &o, &method, ret_code, ret_message);
        if (r < 0)
                return r;
        if (streq(method, "Cancel")) {
                json_object_put(o);
                return 0;
        }
        if (!streq(method, "Confirm")) {
                json_object_put(o);
                return *ret_code = "unknown_method",
                       *ret_message = "after the plan this socket only takes \"Confirm\" or \"Cancel\"", -EBADMSG;
        }
        if (!json_object_object_get_ex(o, "backup", &j) || !json_object_is_type(j, json_type_string) ||
            !streq_ptr(json_object_get_string(j), plan_backup)) {
                json_object_put(o);
                return *ret_code = "invalid_request",
                       *ret_message = "\"Confirm\" must name the plan's backup (its \"backup\" path)", -EBADMSG;
        }
        json_object_put(o);
        return 1;
}
