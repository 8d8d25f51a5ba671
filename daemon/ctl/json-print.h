/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * json-print.h — JSON on standard output as etcd-backupctl prints it: what a
 * terminal would act on written as escapes (fwrite_for_terminal()), the
 * same strings to a reader (but for bytes that are not UTF-8, which no valid
 * JSON holds: U+FFFD).
 */

#include <json-c/json.h>
#include <stdbool.h>

/* Print o as JSON text (json-c's flags) and a newline, and flush. 0; or
 * -ENOMEM (nothing printed) or the write's -errno, said on stderr as
 * "etcd-backupctl CMD: cannot print JSON: …". */
int json_print(const char *cmd, struct json_object *o, int flags);

/* Whether a json_print() of this process failed (etcd-backupctl then exits 1 whatever the command did). */
bool json_print_failed(void);
