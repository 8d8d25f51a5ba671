/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * calendar.h — systemd.time(7) calendar events: parse, normalize, compute
 * the next elapse, with the results of systemd 252's `systemd-analyze
 * calendar`. The caller passes the time to start from; nothing here reads
 * the clock. Local time means the TZ environment variable (or /etc/localtime)
 * through localtime_r/mktime; an expression that names a zone is evaluated
 * by switching TZ for the duration of the call (not thread-safe).
 */

#include <stdbool.h>
#include <stdint.h>

#include "util/macro.h"

typedef struct CalendarSpec CalendarSpec;

/* Parse an expression such as "Mon..Fri *-*-* 09:00", "*-02~01", "daily",
 * "*:0/15 Europe/Berlin" or "@1700000000". A trailing "UTC", the local
 * zone's standard or daylight abbreviation (tzname[]) or an IANA zone name
 * (checked against /usr/share/zoneinfo) is accepted. Returns 0 and a new
 * spec in *ret (owned by the caller, free with calendar_spec_free()), or
 * -EINVAL (bad syntax or values), -ERANGE (a number out of range), -ENOBUFS
 * (more than 241 items in one field), -ENOMEM. */
int calendar_spec_from_string(const char *s, CalendarSpec **ret);

/* Frees spec; accepts NULL. Returns NULL. */
CalendarSpec *calendar_spec_free(CalendarSpec *spec);
DEFINE_TRIVIAL_CLEANUP_FUNC(CalendarSpec *, calendar_spec_free);

/* The normalized form, as `systemd-analyze calendar` prints it, e.g.
 * "Mon..Fri *-*-* 09:00:00" or "*-*-* *:00/15:00 UTC". Returns 0 and a new
 * string in *ret (caller frees), or -ENOMEM. */
int calendar_spec_to_string(const CalendarSpec *spec, char **ret);

/* The first elapse strictly after after_usec (CLOCK_REALTIME usec) in
 * *ret_next. Returns 0, -ENOENT if the expression never elapses again (the
 * search stops after the year 2199), -EINVAL if after_usec lies beyond the
 * year 9999, -EDEADLK if the search gives up after 1000 steps (as systemd
 * does; only odd zone/DST combinations get there), or -errno from switching
 * TZ. The work per call is bounded. */
int calendar_spec_next_usec(const CalendarSpec *spec, uint64_t after_usec, uint64_t *ret_next);

/* Whether name is a time zone systemd would accept: "UTC", or a relative
 * name of letters, digits, '-', '_', '+' and single '/' whose file under
 * /usr/share/zoneinfo is a regular TZif file. */
bool calendar_timezone_is_valid(const char *name);

/* Whether the local zone (TZ) is UTC without daylight saving time. */
bool calendar_local_zone_is_utc(void);
