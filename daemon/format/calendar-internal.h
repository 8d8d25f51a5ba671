/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * calendar-internal.h — what the calendar module's files share: the limits,
 * the field indices and the parsed spec. Included only by calendar.c (the
 * parser), calendar-format.c (the normalized form) and calendar-next.c (the
 * next-elapse search).
 */

#include <stdbool.h>
#include <stddef.h>

#include "format/calendar.h"
#include "util/macro.h"

#define YEAR_MIN 1970
#define YEAR_MAX 2199
#define WEEKDAYS_ALL 127
/* Items per field: systemd accepts 241 and refuses more with ENOBUFS. */
#define FIELD_ITEMS_MAX 241
#define SEARCH_STEPS_MAX 1000
#define SECOND_USEC ((int) USEC_PER_SEC)
/* 9999-12-30 23:59:59.999999 UTC, the last instant systemd formats. */
#define TIMESTAMP_MAX_USEC UINT64_C(253402214399999999)

enum {
        FIELD_YEAR,
        FIELD_MONTH,
        FIELD_DAY,
        FIELD_HOUR,
        FIELD_MINUTE,
        FIELD_USEC, /* seconds, in microseconds */
        _FIELD_MAX,
};

/* start[..stop][/repeat]; stop < 0: open-ended; repeat 0: just start. */
typedef struct CalendarItem {
        int start;
        int stop;
        int repeat;
} CalendarItem;

/* n == 0 means "*" (any value). */
typedef struct CalendarField {
        CalendarItem *items;
        size_t n;
} CalendarField;

struct CalendarSpec {
        CalendarField field[_FIELD_MAX];
        int weekdays;      /* bit 0 = Monday … bit 6 = Sunday; -1 = any day */
        bool end_of_month; /* day items count back from the month's end */
        bool utc;
        int dst;           /* -1, or 0/1 when the local zone's standard/daylight
                            * abbreviation was given */
        char *dst_name;    /* that abbreviation, as the zone spells it */
        char *zone;        /* IANA zone name, or NULL for local time */
        Zone *tz;          /* that zone, loaded at parse time */
};
