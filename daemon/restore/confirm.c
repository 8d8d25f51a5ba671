/* SPDX-License-Identifier: MIT */
/*
 * confirm.c — parse the operator's answer to a restore plan (confirm.h).
 */

#include <errno.h>
#include <json-c/json.h>

#include "restore/confirm.h"
#include "restore/restore.h"
#include "service/control.h"
#include "util/str.h"

int restore_confirm_parse(const char *line, size_t n, const char *plan_backup, const char **ret_code,
                          const char **ret_message) {
        struct json_object *o = NULL, *j;
        const char *method;
        int r;

        if (n > RESTORE_REQUEST_MAX_BYTES)
                return *ret_code = "too_large", *ret_message = "requests are at most 64 KiB", -E2BIG;
        r = control_parse_request(line, n, &o, &method, ret_code, ret_message);
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
