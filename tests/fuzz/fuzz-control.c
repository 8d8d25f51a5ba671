/* SPDX-License-Identifier: MIT */
/*
 * fuzz-control.c — libFuzzer target for the control socket's request
 * parser: any bytes, split into lines as the server splits them.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/jsonl.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *p = (const char *) data, *end = p + size;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p)), *method, *code, *message;
                size_t n = nl ? (size_t) (nl - p) : (size_t) (end - p);
                struct json_object *o = NULL;
                char *line = malloc(n + 1);

                if (!line)
                        return 0;
                memcpy(line, p, n);
                line[n] = '\0';
                if (jsonl_parse_request(line, n, &o, &method, &code, &message) == 0) {
                        if (!method)
                                abort();
                        json_object_put(o);
                } else if (!code || !message)
                        abort();
                free(line);
                p += n + 1;
        }
        return 0;
}
