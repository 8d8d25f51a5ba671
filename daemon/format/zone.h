/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * zone.h — a time zone as a value: decoded from TZif bytes (RFC 8536,
 * versions 1 to 4, with the POSIX TZ string of v2+ for times after the last
 * transition), from a POSIX TZ string alone, or UTC; and the two
 * conversions the calendar and retention need, with the results of glibc
 * 2.36's localtime_r() and mktime(). Pure: the bytes come from the caller
 * (config/zone-load.c reads them); nothing here reads a file, the clock or
 * the environment.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/macro.h"

typedef struct Zone Zone;

/* A zone name as TZ and systemd take it: "UTC", or a relative name of
 * letters, digits, '-', '_', '+' and single '/' (no "..", no leading or
 * trailing '/'). Says nothing about whether such a zone exists. */
bool zone_name_is_valid(const char *name);

/* Decodes a TZif file's bytes (data, size) into a new zone named name.
 * Zones with leap-second records ("right/…") are refused. Returns 0 and
 * *ret (free with zone_free()), -EBADMSG (not TZif, truncated, a count,
 * index or abbreviation out of bounds, transitions out of order, a bad TZ
 * string), -EOPNOTSUPP (leap seconds), -ENOMEM. */
int zone_from_tzif(const uint8_t *data, size_t size, const char *name, Zone **ret);

/* A zone from a POSIX TZ string alone, e.g. "CET-1CEST,M3.5.0,M10.5.0/3"
 * or "<+0530>-5:30". A string with a daylight name but no rules takes the
 * US rules (M3.2.0,M11.1.0), as glibc's default "posixrules" file does.
 * Returns 0, -EINVAL (not a TZ string), -ENOMEM. */
int zone_from_rule(const char *rule, Zone **ret);

/* UTC: offset 0, abbreviation "UTC", no DST. Returns 0 or -ENOMEM. */
int zone_new_utc(Zone **ret);

/* The built-in UTC zone, never to be freed: what gmtime_r()/timegm()
 * compute. */
const Zone *zone_utc(void);

/* Frees z; accepts NULL. Returns NULL. */
Zone *zone_free(Zone *z);
DEFINE_TRIVIAL_CLEANUP_FUNC(Zone *, zone_free);

/* The name given when the zone was made ("Europe/Berlin", "UTC", the TZ
 * string). */
const char *zone_name(const Zone *z);

/* The zone's standard (isdst 0) or daylight (isdst 1) abbreviation as
 * glibc's tzname[] holds it right after reading the zone: the abbreviation
 * of the last transition to a time type of that kind (the standard one
 * when the zone has no daylight time). */
const char *zone_abbreviation(const Zone *z, int isdst);

/* glibc's tzname[isdst] right after converting t (UTC seconds) to local
 * time: the TZ string's names at or after the zone's last transition;
 * before it the abbreviation in effect and, for the other kind, that of
 * the next transition to it (the standard one when there is none); before
 * the first transition glibc's pick among the types. INT64_MIN gives
 * zone_abbreviation(), as read. Asia/Tokyo's daylight name: "JDT" as read,
 * "JST" after converting a time of today (its TZ string has no DST). */
const char *zone_abbreviation_at(const Zone *z, int isdst, int64_t t);

/* Whether the zone is UTC as glibc sees it right after converting t (UTC
 * seconds) to local time: its timezone == 0 && daylight == 0, which
 * systemd-analyze asks to decide its "(in UTC)" lines. From the zone's TZ
 * string at or after its last transition (Accra's "GMT0" after a history of
 * +0030 summers), else from the offsets of its last standard and daylight
 * transitions, as glibc reads them from the file (America/Danmarkshavn, on
 * GMT since 1996, had -02 summers: not UTC before 1996). INT64_MIN gives
 * glibc's values before any conversion, right after reading the zone. */
bool zone_is_utc_at(const Zone *z, int64_t t);

/* t as local time in z, like localtime_r(): all fields of *ret, with
 * tm_isdst, tm_gmtoff and tm_zone (pointing into z; valid while z lives).
 * Returns 0 or -EOVERFLOW when the year does not fit an int. */
int zone_localtime(const Zone *z, time_t t, struct tm *ret);

/* Local time *tm in z to a time_t, with the results of glibc's mktime():
 * out-of-range fields are normalized, tm_isdst -1 lets the zone decide, 0
 * or 1 asks for standard or daylight time (a time in the other kind is
 * moved by the difference), a time in a gap moves by the gap's size.
 * *tm is rewritten to the normalized local time. glibc remembers the
 * offset of its last result as the first guess of the next call, and in
 * a repeated hour with tm_isdst -1 that guess decides which of the two
 * times is returned; *guess carries it from one call to the next (start
 * with 0, as glibc does; NULL for a guess of 0 every time). Returns 0 and
 * *ret, or -EOVERFLOW (the time does not fit). */
int zone_mktime(const Zone *z, struct tm *tm, int64_t *guess, time_t *ret);

/* A loader the parsers that accept a zone name are given: load() returns 0
 * and a new zone, -ENOENT when there is no zone of that name, or another
 * -errno. */
typedef struct ZoneLoader {
        int (*load)(const char *name, Zone **ret, void *userdata);
        void *userdata;
} ZoneLoader;
