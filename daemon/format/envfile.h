/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * envfile.h — the text of a systemd EnvironmentFile=, read as systemd reads
 * it for a unit's environment. Pure: the caller reads the file.
 */

#include <stddef.h>

/* Longest EnvironmentFile= a caller should read. */
#define ENV_FILE_MAX_BYTES ((size_t) 1024 * 1024)

/* Parse size bytes of text, appending each assignment to *env as
 * "KEY=VALUE" (strv): lines split on '\n'; blank lines, lines starting
 * with '#' or ';' and lines without a key before '=' skipped; blanks around
 * the key and the value (and a trailing '\r') dropped; a value in matching
 * single or double quotes unquoted. Returns 0, -EBADMSG for text with a NUL
 * byte (*env untouched), or -ENOMEM. */
int env_file_parse(const char *text, size_t size, char ***env);
