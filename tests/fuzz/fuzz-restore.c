/* SPDX-License-Identifier: MIT */
/*
 * fuzz-restore.c — libFuzzer target for the restore service's parsers of
 * what a client sends, restore_request_parse() and, for the answer to a
 * plan, restore_confirm_parse(): any bytes, split into lines as the service
 * reads them. A parsed request must hold a backup argument within its
 * bounds; a confirmation must be of the plan's backup — the line, read as
 * JSON (escapes such as "\/" decoded), says "Confirm" and names exactly that
 * path; a refused line must come with an error code and a message.
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "restore/restore.h"
#include "fuzz.h"

#define PLAN_BACKUP "/var/lib/etcd-backupd/b.db"

/* Whether line (n bytes) is a JSON object with "method": "Confirm" and
 * "backup": plan. */
static bool confirms(const char *line, size_t n, const char *plan) {
        struct json_tokener *tok = json_tokener_new();
        struct json_object *o, *m, *b;
        bool yes;

        if (!tok)
                abort();
        o = json_tokener_parse_ex(tok, line, (int) n);
        json_tokener_free(tok);
        yes = o && json_object_object_get_ex(o, "method", &m) && json_object_is_type(m, json_type_string) &&
              strcmp(json_object_get_string(m), "Confirm") == 0 && json_object_object_get_ex(o, "backup", &b) &&
              json_object_is_type(b, json_type_string) && strcmp(json_object_get_string(b), plan) == 0;
        json_object_put(o);
        return yes;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *p = (const char *) data, *end = p + size;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p)), *code = NULL, *message = NULL;
                size_t n = nl ? (size_t) (nl - p) : (size_t) (end - p);
                RestoreRequest req = {};
                int r;
                char *line = malloc(n + 1);

                if (!line)
                        return 0;
                memcpy(line, p, n);
                line[n] = '\0';
                if (restore_request_parse(line, n, &req, &code, &message) == 0) {
                        size_t len;
                        if (!req.backup)
                                abort();
                        len = strlen(req.backup);
                        if (len == 0 || len > RESTORE_BACKUP_ARG_MAX || (strchr(req.backup, '/') && req.backup[0] != '/'))
                                abort();
                        for (size_t i = 0; i < len; i++)
                                if ((unsigned char) req.backup[i] < 0x20)
                                        abort();
                        restore_request_done(&req);
                } else if (!code || !message)
                        abort();
                code = message = NULL;
                r = restore_confirm_parse(line, n, PLAN_BACKUP, &code, &message);
                if (r < 0 ? !code || !message : r > 1)
                        abort();
                if (r == 1 && !confirms(line, n, PLAN_BACKUP))
                        abort();
                free(line);
                p += n + 1;
        }
        return 0;
}
