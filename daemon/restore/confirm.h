/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * confirm.h — the operator's answer to a restore plan, on the same
 * connection as the request: after the restore service has sent the plan
 * it reads one more line, {"method":"Confirm","backup":B} (B: the plan's
 * backup path, so that what is confirmed is what was shown) or
 * {"method":"Cancel"}. Pure.
 */

#include <stddef.h>

/* Parse one answer line (without its newline, at most
 * RESTORE_REQUEST_MAX_BYTES) to the plan whose backup path is plan_backup.
 * Returns 1 for a confirmation of that backup, 0 for a cancellation; or a
 * negative errno with the error code and message to send (static strings):
 * -EBADMSG for anything else (another method, a confirmation of another
 * backup, malformed JSON), -E2BIG, -ENOMEM. */
int restore_confirm_parse(const char *line, size_t n, const char *plan_backup, const char **ret_code,
                          const char **ret_message);
