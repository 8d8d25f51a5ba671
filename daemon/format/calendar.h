/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * calendar.h — systemd.time(7) calendar events: parse, normalize, compute
 * the next elapse, with the results of systemd 252's `systemd-analyze
 * calendar`. The caller passes the time to start from; nothing here reads
 * the clock, a file or the environment: local time is the zone the caller
 * passes (read once at the edge, config/zone-load.h), and an expression that
 * names a zone gets it at parse time from the caller's ZoneLoader and keeps
 * it. The arithmetic is glibc's localtime_r/mktime (format/zone.h).
 */

#include <stdbool.h>
#include <stdint.h>

#include "format/zone.h"
#include "util/macro.h"

typedef struct CalendarSpec CalendarSpec;

/* Parse an expression such as "Mon..Fri *-*-* 09:00", "*-02~01", "daily",
 * "*:0/15 Europe/Berlin" or "@1700000000". A trailing "UTC", the local
 * zone's standard or daylight abbreviation (zone_abbreviation(local, 0/1),
 * glibc's tzname[]) or a zone name that loader loads is accepted; the spec
 * keeps the loaded zone. local may be NULL (then no abbreviation is
 * recognized), so may loader (then no zone name is). Returns 0 and a new
 * spec in *ret (owned by the caller, free with calendar_spec_free()), or
 * -EINVAL (bad syntax or values), -ERANGE (a number out of range), -ENOBUFS
 * (more than 241 items in one field), -ENOMEM. */
int calendar_spec_from_string(const char *s, const Zone *local, const ZoneLoader *loader, CalendarSpec **ret);

/* calendar_spec_from_string() with the local zone's abbreviations as
 * glibc's tzname[] has them after it converted the time converted
 * (zone_abbreviation_at(); INT64_MIN: as read), as systemd-analyze
 * recognizes them after the expressions before. */
int calendar_spec_from_string_at(const char *s, const Zone *local, int64_t converted, const ZoneLoader *loader,
                                 CalendarSpec **ret);

/* Frees spec; accepts NULL. Returns NULL. */
CalendarSpec *calendar_spec_free(CalendarSpec *spec);
DEFINE_TRIVIAL_CLEANUP_FUNC(CalendarSpec *, calendar_spec_free);

/* The normalized form, as `systemd-analyze calendar` prints it, e.g.
 * "Mon..Fri *-*-* 09:00:00" or "*-*-* *:00/15:00 UTC". Returns 0 and a new
 * string in *ret (caller frees), or -ENOMEM. */
int calendar_spec_to_string(const CalendarSpec *spec, char **ret);

/* The local zone's abbreviation the expression ends in ("CET" in
 * "02:00 CET"), with *ret_isdst saying which half of the year it names;
 * NULL when it ends in none. */
const char *calendar_spec_local_abbreviation(const CalendarSpec *spec, int *ret_isdst);

/* The first elapse strictly after after_usec (CLOCK_REALTIME usec) in
 * *ret_next, in local time (the zone local), in UTC or in the zone the
 * expression names. Returns 0, -ENOENT if the expression never elapses again
 * (the search stops after the year 2199), -EINVAL if after_usec lies beyond
 * the year 9999 or local time is needed and local is NULL, -EDEADLK if the
 * search gives up after 1000 steps (as systemd does; only odd zone/DST
 * combinations get there). The work per call is bounded. */
int calendar_spec_next_usec(const CalendarSpec *spec, const Zone *local, uint64_t after_usec, uint64_t *ret_next);

/* calendar_spec_next_usec(), and *converted (whatever the result) the last
 * time the search converted in local time, as glibc's localtime()/mktime()
 * would have (its timezone, daylight and tzname[] follow that time); left
 * as it was when the expression is in UTC or in a named zone, which
 * convert nothing locally (systemd computes those in a child process). */
int calendar_spec_next_usec_traced(const CalendarSpec *spec, const Zone *local, uint64_t after_usec,
                                   uint64_t *ret_next, int64_t *converted);
