/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * time.h — clock reads and the timestamp layouts the project prints:
 * RFC 3339 in UTC for sidecars and JSON, the compact UTC form used in backup
 * names, and their parsers.
 */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

uint64_t now_usec(clockid_t clock);
/* Sleeps usec, resuming after signals. */
void sleep_usec(uint64_t usec);

/* "2026-11-21T02:00:03Z" (UTC); buf must hold FORMAT_RFC3339_MAX. */
char *format_rfc3339(char *buf, size_t n, uint64_t realtime_usec);
/* "20261121T020003Z"; buf must hold FORMAT_COMPACT_MAX. */
char *format_compact_utc(char *buf, size_t n, uint64_t realtime_usec);
/* Parses the compact form back; 0 or -EINVAL. */
int parse_compact_utc(const char *s, uint64_t *ret_usec);
/* Parses "YYYY-mm-ddTHH:MM:SS[.frac](Z|±HH:MM)"; 0 or -EINVAL. */
int parse_rfc3339(const char *s, uint64_t *ret_usec);

#define FORMAT_RFC3339_MAX 32
#define FORMAT_COMPACT_MAX 24
