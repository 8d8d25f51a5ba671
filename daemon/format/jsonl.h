/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * jsonl.h — the control protocol's line format, shared by the daemon's
 * control socket and the restore socket: one JSON object per line, with a
 * string "method". Pure: no I/O.
 */

#include <json-c/json.h>
#include <stddef.h>

/* A request line is at most this long (SPEC.md, control socket). */
#define JSONL_REQUEST_MAX_BYTES (64 * 1024)

/* Parse one request line (without its newline): a JSON object with a
 * string "method", nested at most 16 deep. 0 with *ret (caller puts it) and
 * *ret_method (inside *ret); or a negative errno with the error code and
 * message to send (static strings): -E2BIG (over JSONL_REQUEST_MAX_BYTES),
 * -EBADMSG, -ENOMEM. */
int jsonl_parse_request(const char *line, size_t n, struct json_object **ret, const char **ret_method,
                        const char **ret_code, const char **ret_message);
