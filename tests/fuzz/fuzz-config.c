/* SPDX-License-Identifier: MIT */
/*
 * fuzz-config.c — libFuzzer target for the configuration loader: any bytes
 * are loaded as a configuration file; it must never crash, leak or hang.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(config_freep) Config *c = NULL;
        ConfigDiags diags = {};
        char *text;

        if (size > 64 * 1024)
                return 0;
        text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        (void) config_load_string(text, "fuzz.conf", &c, &diags);
        config_diags_done(&diags);
        free(text);
        return 0;
}
