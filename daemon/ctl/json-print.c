/* SPDX-License-Identifier: MIT */
/*
 * json-print.c — JSON on standard output, escaped for a terminal.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ctl/json-print.h"
#include "util/str.h"

static bool failed;

int json_print(const char *cmd, struct json_object *o, int flags) {
        const char *text = json_object_to_json_string_ext(o, flags);
        int r = 0;

        errno = 0;
        if (!text)
                r = -ENOMEM;
        else if (fwrite_for_terminal(text, strlen(text), stdout) < 0 || putchar('\n') == EOF || fflush(stdout) != 0)
                r = errno > 0 ? -errno : -EIO;  /* a full disk or a closed pipe, found now rather than at exit */
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl %s: cannot print JSON: %s\n", cmd, strerror(-r));
                failed = true;
        }
        return r;
}

bool json_print_failed(void) {
        return failed;
}
