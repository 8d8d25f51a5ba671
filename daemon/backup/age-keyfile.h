/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * age-keyfile.h — reading an age identity file (the key that opens encrypted
 * backups for verify, get and restore).
 */

#include <stddef.h>

#include "format/age.h"

/* Read the identities of the age key file at path (see
 * age_identities_parse()). Returns 0 with a new array in *ret (free with
 * age_identities_free()) and its length in *ret_n; -EBADMSG, -ENOKEY as
 * age_identities_parse(), -EFBIG above AGE_IDENTITY_FILE_MAX_BYTES, the
 * -errno of open/read, -ENOMEM. The file's bytes are wiped before they are
 * freed. On failure *ret_error (optional) says why in words for the
 * operator (the line refused and what it looks like), never quoting the
 * file. */
int age_identity_load_file(const char *path, AgeIdentity **ret, size_t *ret_n, char **ret_error);
