/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * json-yaml.h — a json-c tree written as a YAML document with libyaml's
 * emitter, in the block style kubectl prints. Strings that a YAML 1.1 reader
 * would take for another type (true, no, 123, 1e3, ~, 2024-01-01, "") are
 * quoted, so that `kubectl apply` and PyYAML read back exactly the strings
 * that went in; multi-line strings use the literal style when libyaml
 * allows it. Pure: the document is built in memory.
 */

#include <stddef.h>

#include <json-c/json.h>

/* Write o as one YAML document ("---"-less, ending in a newline). On success
 * *ret is a new NUL-terminated string and *ret_size its length. Returns 0,
 * -ENOMEM, or -EINVAL when libyaml refuses a value (e.g. a string that is
 * not UTF-8). */
int json_yaml_emit(json_object *o, char **ret, size_t *ret_size);
