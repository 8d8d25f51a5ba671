/* SPDX-License-Identifier: MIT */
/*
 * calendar.c — interim stand-in until the full systemd.time(7) parser lands:
 * it accepts only "*-*-* HH:MM[:SS]" and the shorthands hourly/daily, in
 * local time, and rejects everything else.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calendar.h"
#include "util/macro.h"

struct CalendarSpec {
        int hour; /* -1 = every hour */
        int minute;
        int second;
};

int calendar_spec_from_string(const char *s, CalendarSpec **ret) {
        CalendarSpec c = { .second = 0 };
        char tail;

        if (streq(s, "hourly"))
                c = (CalendarSpec) { -1, 0, 0 };
        else if (streq(s, "daily"))
                c = (CalendarSpec) { 0, 0, 0 };
        else if (sscanf(s, "*-*-* %2d:%2d:%2d%c", &c.hour, &c.minute, &c.second, &tail) == 3 ||
                 sscanf(s, "*-*-* %2d:%2d%c", &c.hour, &c.minute, &tail) == 2) {
                if (c.hour < 0 || c.hour > 23 || c.minute < 0 || c.minute > 59 || c.second < 0 || c.second > 59)
                        return -EINVAL;
        } else
                return -EINVAL;
        *ret = malloc(sizeof c);
        if (!*ret)
                return -ENOMEM;
        **ret = c;
        return 0;
}

CalendarSpec *calendar_spec_free(CalendarSpec *spec) {
        free(spec);
        return NULL;
}

int calendar_spec_to_string(const CalendarSpec *spec, char **ret) {
        int r;
        if (spec->hour < 0)
                r = asprintf(ret, "*-*-* *:%02d:%02d", spec->minute, spec->second);
        else
                r = asprintf(ret, "*-*-* %02d:%02d:%02d", spec->hour, spec->minute, spec->second);
        return r < 0 ? -ENOMEM : 0;
}

int calendar_spec_next_usec(const CalendarSpec *spec, uint64_t after_usec, uint64_t *ret_next) {
        time_t t = (time_t) (after_usec / USEC_PER_SEC) + 1;
        for (int i = 0; i < 2 * 24 * 3600; i++, t++) {
                struct tm tm;
                if (!localtime_r(&t, &tm))
                        return -EINVAL;
                if ((spec->hour < 0 || tm.tm_hour == spec->hour) && tm.tm_min == spec->minute &&
                    tm.tm_sec == spec->second) {
                        *ret_next = (uint64_t) t * USEC_PER_SEC;
                        return 0;
                }
        }
        return -ENOENT;
}
