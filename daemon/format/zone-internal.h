/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * zone-internal.h — what the zone module's files share: the decoded zone
 * and the POSIX TZ rule. Included only by zone-tzif.c (decoding),
 * zone-rule.c (the TZ string) and zone.c (the conversions).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "format/zone.h"

/* Longest abbreviation kept from a TZ string ("<+0530>" is 5). */
#define ZONE_ABBR_MAX 31

/* One day of a TZ string's rule: 'J' Julian day 1…365 without Feb 29,
 * 'D' zero-based day 0…365, 'M' month.week.weekday; secs is the local time
 * of the change (-167 h … 167 h). */
typedef struct ZoneRuleDate {
        char kind;
        int day;   /* J: 1…365, D: 0…365, M: weekday 0 (Sunday)…6 */
        int month; /* M: 1…12 */
        int week;  /* M: 1…5 (5: the last) */
        int32_t secs;
} ZoneRuleDate;

/* A POSIX TZ string: [0] standard time, [1] daylight time (the same as [0]
 * without DST); date[0] starts DST (in standard time), date[1] ends it (in
 * daylight time). Offsets are seconds east of UTC. */
typedef struct ZoneRule {
        char name[2][ZONE_ABBR_MAX + 1];
        int32_t offset[2];
        bool has_dst;
        ZoneRuleDate date[2];
} ZoneRule;

typedef struct ZoneType {
        int32_t utoff; /* seconds east of UTC */
        bool isdst;
        size_t abbr;   /* index into Zone.abbrs */
} ZoneType;

struct Zone {
        char *name;
        int64_t *trans;      /* transition times, strictly ascending */
        uint8_t *trans_type; /* the type each transition switches to */
        size_t n_trans;
        ZoneType *types;     /* at least one */
        size_t n_types;
        char *abbrs;         /* NUL-terminated strings, one NUL more at the end */
        size_t n_abbrs;
        bool has_rule;       /* TZif: the TZ string for after the last transition */
        bool rule_only;      /* made from a TZ string alone */
        ZoneRule rule;
        const char *tzname[2];
        int32_t std_offset, dst_offset; /* glibc's rule_stdoff/rule_dstoff */
};

/* Parses a POSIX TZ string of len bytes (no NUL needed) into *ret.
 * Returns 0 or -EINVAL. */
int zone_rule_parse(const char *s, size_t len, ZoneRule *ret);

/* Whether t (UTC seconds) is daylight time under the rule; year is t's
 * year in UTC. */
bool zone_rule_is_dst(const ZoneRule *rule, int64_t year, int64_t t);

/* Days from 1970-01-01 to January 1st of the (full) year y. */
int64_t zone_days_before_year(int64_t y);

/* Whether the (full) year y is a leap year. */
bool zone_is_leap_year(int64_t y);

/* Days before each month (0…12) in a normal and a leap year. */
extern const uint16_t zone_mon_yday[2][13];
