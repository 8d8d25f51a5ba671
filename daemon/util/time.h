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
/* One wait of a poll that should see a change soon after it happens without
 * spinning: sleeps *delay_usec (at most max_usec), then sets it to
 * backoff_next(). Start *delay_usec at POLL_FIRST_USEC. */
void sleep_backoff(uint64_t *delay_usec, uint64_t max_usec);
/* The wait after delay_usec: twice as long, at most max_usec, at least
 * POLL_FIRST_USEC unless max_usec is less. */
uint64_t backoff_next(uint64_t delay_usec, uint64_t max_usec);
#define POLL_FIRST_USEC ((uint64_t) 10000)

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
