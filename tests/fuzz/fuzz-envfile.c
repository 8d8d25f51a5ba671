/* SPDX-License-Identifier: MIT */
/*
 * fuzz-envfile.c — libFuzzer target for the EnvironmentFile= reader of
 * `etcd-backupctl discover`: any text yields KEY=VALUE entries whose key is
 * not empty, or -ENOMEM.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "restore/discover.h"
#include "util/str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *text = NULL;

        if (size > 1024 * 1024)
                return 0;
        text = strndup((const char *) data, size);
        if (!text)
                return 0;
        if (discover_env_parse(text, &env) < 0)
                return 0;
        for (char **e = env; e && *e; e++)
                if (!strchr(*e, '=') || **e == '=')
                        abort();
        return 0;
}
