/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * parse.h — strict parsers for the numbers users type: sizes with K/M/G
 * suffixes, durations with s/min/h/d suffixes, and plain unsigned integers.
 * Every parser rejects trailing junk, signs, empty strings and overflow, and
 * writes its result only on success. Formatters for the same units live here
 * too so that what we print reads back.
 */

#include <stddef.h>
#include <stdint.h>

/* "123" → 123. Decimal only; no sign, no spaces, no trailing junk.
 * Returns 0, -EINVAL or -ERANGE. */
int safe_atou64(const char *s, uint64_t *ret);

/* "64M", "1G", "512K", "4096" → bytes (binary multiples: K = 1024).
 * A suffix may be followed by "B" or "iB" ("1GiB", "64MB"). Returns 0,
 * -EINVAL or -ERANGE. */
int parse_size(const char *s, uint64_t *ret_bytes);

/* "30s", "5min", "2h", "7d", "1h30min", "0" → microseconds. A bare number
 * other than 0 is rejected (ambiguous unit). Also accepts "ms" and "us".
 * Returns 0, -EINVAL or -ERANGE. */
int parse_duration(const char *s, uint64_t *ret_usec);

/* "41.2 MiB" style; writes into buf (size n), returns buf. */
char *format_bytes(char *buf, size_t n, uint64_t bytes);

/* "1h 30min", "5s", "250ms"; writes into buf (size n), returns buf. */
char *format_duration(char *buf, size_t n, uint64_t usec);

#define FORMAT_BYTES_MAX 32
#define FORMAT_DURATION_MAX 64
