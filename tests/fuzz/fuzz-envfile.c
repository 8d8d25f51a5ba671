/* SPDX-License-Identifier: MIT */
/*
 * fuzz-envfile.c — libFuzzer target for the EnvironmentFile= parser
 * (format/envfile.h) that `etcd-backupctl discover` and the restore read
 * units with: any bytes yield KEY=VALUE entries whose key is not empty,
 * -EBADMSG (a NUL byte, nothing appended) or -ENOMEM.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/envfile.h"
#include "util/str.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_strv_free_ char **env = NULL;
        int r;

        if (size > ENV_FILE_MAX_BYTES)
                return 0;
        r = env_file_parse((const char *) data, size, &env);
        if (r == -EBADMSG && (env || !memchr(data, '\0', size)))
                abort();
        if (r < 0 && r != -EBADMSG && r != -ENOMEM)
                abort();
        for (char **e = env; r >= 0 && e && *e; e++)
                if (!strchr(*e, '=') || **e == '=' || strchr(*e, '\n'))
                        abort();
        return 0;
}
