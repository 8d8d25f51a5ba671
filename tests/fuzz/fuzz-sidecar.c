/* SPDX-License-Identifier: MIT */
/*
 * fuzz-sidecar.c — libFuzzer target for the sidecar JSON parser and the
 * backup-name parser: backup directories hold untrusted files.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backup/store.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Sidecar s = {};
        StoreName n;
        const char *why;
        char *text;

        text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        if (sidecar_from_json(text, size, &s, &why) == 0)
                sidecar_done(&s);
        (void) store_name_parse(text, &n);
        free(text);
        return 0;
}
