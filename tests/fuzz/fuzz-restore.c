/* SPDX-License-Identifier: MIT */
/*
 * fuzz-restore.c — libFuzzer target for the restore service's parsers of
 * what a client sends, restore_request_parse() and, for the answer to a
 * plan, restore_confirm_parse(): any bytes, split into lines as the service
 * reads them. A parsed request must hold a backup argument within its
 * bounds; a confirmation must be of the plan's backup; a refused line must
 * come with an error code and a message.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "restore/restore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
                r = restore_confirm_parse(line, n, "/var/lib/etcd-backupd/b.db", &code, &message);
                if (r < 0 ? !code || !message : r > 1)
                        abort();
                if (r == 1 && !strstr(line, "/var/lib/etcd-backupd/b.db"))
                        abort();
                free(line);
                p += n + 1;
        }
        return 0;
}
