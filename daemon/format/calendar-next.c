/* SPDX-License-Identifier: MIT */
/*
 * calendar-next.c — the next elapse of a calendar event, behaving like
 * systemd 252. The search walks the fields from year down to microsecond
 * and lets mktime()/timegm() normalize each candidate, exactly as systemd
 * does, so that nonexistent and ambiguous local times around DST changes
 * resolve the same way; it gives up after the year 2199 or after 1000
 * steps, so every input finishes quickly. Expressions naming a zone are
 * evaluated with TZ switched to that zone for the duration of the call.
 * Nothing here logs or reads the clock.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format/calendar-internal.h"

static time_t tm_normalize(struct tm *tm, bool utc) {
        return utc ? timegm(tm) : mktime(tm);
}

/* Day of month of the day-th day counted back from the end of tm's month
 * (day 1 = the last day), or -1 if that falls outside the month. */
static int end_of_month_day(const struct tm *tm, bool utc, int day) {
        struct tm t = *tm;

        t.tm_mon++;
        t.tm_mday = 1 - day;
        if (tm_normalize(&t, utc) < 0 || t.tm_mon != tm->tm_mon)
                return -1;
        return t.tm_mday;
}

/* Moves *val to the smallest value >= *val that field f allows. Returns 1
 * if *val changed, 0 if it already matched (or f is "*"), -ENOENT if no
 * value >= *val matches. tm is used only for end-of-month days. */
static int field_next(const CalendarSpec *spec, const CalendarField *f, const struct tm *tm, int *val) {
        bool eom = spec->end_of_month && f == &spec->field[FIELD_DAY];
        bool found = false;
        int best = -1;

        if (f->n == 0)
                return 0;

        for (size_t i = 0; i < f->n; i++) {
                const CalendarItem *it = &f->items[i];
                int start = it->start, stop = it->stop;

                if (eom) {
                        start = end_of_month_day(tm, spec->utc, it->start);
                        stop = end_of_month_day(tm, spec->utc, it->stop);
                        if (stop > 0) {
                                int t = start;
                                start = stop;
                                stop = t;
                        }
                }
                if (start >= *val) {
                        if (!found || start < best) {
                                best = start;
                                found = true;
                        }
                } else if (it->repeat > 0) {
                        int k = start + it->repeat * ((*val - start + it->repeat - 1) / it->repeat);

                        if ((!found || k < best) && (stop < 0 || k <= stop)) {
                                best = k;
                                found = true;
                        }
                }
        }
        if (!found)
                return -ENOENT;
        if (best == *val)
                return 0;
        *val = best;
        return 1;
}

/* Lets mktime normalize *tm. Returns 1 if it was a valid time already, 0 if
 * it was moved forward (then *tm holds the new time, with the field below
 * the first changed one reset so that nothing in between is skipped), <0 if
 * it is beyond the year 2199, cannot be represented, or normalization would
 * move it backwards. */
static int tm_settle(struct tm *tm, bool utc) {
        struct tm t;
        int cmp = 0;

        if (tm->tm_year + 1900 > YEAR_MAX)
                return -ERANGE;
        t = *tm;
        if (tm_normalize(&t, utc) < 0)
                return -EINVAL;

        if (t.tm_year != tm->tm_year) {
                cmp = t.tm_year < tm->tm_year ? -1 : 1;
                t.tm_mon = 0;
        } else if (t.tm_mon != tm->tm_mon) {
                cmp = t.tm_mon < tm->tm_mon ? -1 : 1;
                t.tm_mday = 1;
        } else if (t.tm_mday != tm->tm_mday) {
                cmp = t.tm_mday < tm->tm_mday ? -1 : 1;
                t.tm_hour = 0;
        } else if (t.tm_hour != tm->tm_hour) {
                cmp = t.tm_hour < tm->tm_hour ? -1 : 1;
                t.tm_min = 0;
        } else if (t.tm_min != tm->tm_min) {
                cmp = t.tm_min < tm->tm_min ? -1 : 1;
                t.tm_sec = 0;
        } else if (t.tm_sec != tm->tm_sec)
                cmp = t.tm_sec < tm->tm_sec ? -1 : 1;

        if (cmp < 0)
                return -EDEADLK;
        if (cmp > 0) {
                *tm = t;
                return 0;
        }
        return 1;
}

/* Orders two broken-down times by their fields (year down to second). */
static int tm_compare(const struct tm *a, const struct tm *b) {
        const int x[] = { a->tm_year, a->tm_mon, a->tm_mday, a->tm_hour, a->tm_min, a->tm_sec };
        const int y[] = { b->tm_year, b->tm_mon, b->tm_mday, b->tm_hour, b->tm_min, b->tm_sec };

        for (size_t i = 0; i < ELEMENTSOF(x); i++)
                if (x[i] != y[i])
                        return x[i] < y[i] ? -1 : 1;
        return 0;
}

static bool weekday_matches(int bits, const struct tm *tm, bool utc) {
        struct tm t = *tm;

        if (bits < 0 || bits >= WEEKDAYS_ALL)
                return true;
        if (tm_normalize(&t, utc) < 0)
                return false;
        return bits & (1 << (t.tm_wday == 0 ? 6 : t.tm_wday - 1));
}

static void reset_below(struct tm *c, int *usec, int field) {
        switch (field) {
        case FIELD_YEAR:
                c->tm_mon = 0;
                c->tm_mday = 1;
                c->tm_hour = c->tm_min = c->tm_sec = *usec = 0;
                break;
        case FIELD_MONTH:
                c->tm_mday = 1;
                c->tm_hour = c->tm_min = c->tm_sec = *usec = 0;
                break;
        case FIELD_DAY:
                c->tm_hour = c->tm_min = c->tm_sec = *usec = 0;
                break;
        case FIELD_HOUR:
                c->tm_min = c->tm_sec = *usec = 0;
                break;
        case FIELD_MINUTE:
                c->tm_sec = *usec = 0;
                break;
        default:
                break;
        }
}

/* Walks from (*tm, *usec) to the first matching time; each step either
 * accepts a field or moves to the next candidate of the field above. */
static int search(const CalendarSpec *spec, struct tm *tm, int *usec) {
        struct tm c = *tm;
        int us = *usec;
        bool utc = spec->utc, mktime_decides_dst = false;
        int r;

        for (unsigned step = 0; step < SEARCH_STEPS_MAX; step++) {
                (void) tm_normalize(&c, utc);
                if (!mktime_decides_dst)
                        c.tm_isdst = spec->dst;

                c.tm_year += 1900;
                r = field_next(spec, &spec->field[FIELD_YEAR], &c, &c.tm_year);
                c.tm_year -= 1900;
                if (r > 0)
                        reset_below(&c, &us, FIELD_YEAR);
                if (r < 0)
                        return r;
                if (tm_settle(&c, utc) <= 0)
                        return -ENOENT;

                c.tm_mon += 1;
                r = field_next(spec, &spec->field[FIELD_MONTH], &c, &c.tm_mon);
                c.tm_mon -= 1;
                if (r > 0)
                        reset_below(&c, &us, FIELD_MONTH);
                if (r < 0 || (r = tm_settle(&c, utc)) < 0) {
                        c.tm_year++;
                        reset_below(&c, &us, FIELD_YEAR);
                        continue;
                }
                if (r == 0)
                        continue;

                r = field_next(spec, &spec->field[FIELD_DAY], &c, &c.tm_mday);
                if (r > 0)
                        reset_below(&c, &us, FIELD_DAY);
                if (r < 0 || (r = tm_settle(&c, utc)) < 0) {
                        c.tm_mon++;
                        reset_below(&c, &us, FIELD_MONTH);
                        continue;
                }
                if (r == 0)
                        continue;

                if (!weekday_matches(spec->weekdays, &c, utc)) {
                        c.tm_mday++;
                        reset_below(&c, &us, FIELD_DAY);
                        continue;
                }

                r = field_next(spec, &spec->field[FIELD_HOUR], &c, &c.tm_hour);
                if (r > 0)
                        reset_below(&c, &us, FIELD_HOUR);
                if (r < 0 || (r = tm_settle(&c, utc)) < 0) {
                        c.tm_mday++;
                        reset_below(&c, &us, FIELD_DAY);
                        continue;
                }
                if (r == 0) /* e.g. an hour skipped by a DST change */
                        continue;

                r = field_next(spec, &spec->field[FIELD_MINUTE], &c, &c.tm_min);
                if (r > 0)
                        reset_below(&c, &us, FIELD_MINUTE);
                if (r < 0 || (r = tm_settle(&c, utc)) < 0) {
                        c.tm_hour++;
                        reset_below(&c, &us, FIELD_HOUR);
                        continue;
                }
                if (r == 0)
                        continue;

                c.tm_sec = c.tm_sec * SECOND_USEC + us;
                r = field_next(spec, &spec->field[FIELD_USEC], &c, &c.tm_sec);
                us = c.tm_sec % SECOND_USEC;
                c.tm_sec /= SECOND_USEC;
                if (r < 0 || (r = tm_settle(&c, utc)) < 0) {
                        c.tm_min++;
                        reset_below(&c, &us, FIELD_MINUTE);
                        continue;
                }
                if (r == 0)
                        continue;

                /* A DST change can lead the walk back to (or before) where it
                 * started: then step an hour on and let mktime pick the DST
                 * flag from now on. */
                r = tm_compare(tm, &c);
                if (r > 0 || (r == 0 && *usec > us)) {
                        mktime_decides_dst = true;
                        c.tm_hour++;
                        continue;
                }

                *tm = c;
                *usec = us;
                return 0;
        }
        return -EDEADLK;
}

static int next_in_current_zone(const CalendarSpec *spec, uint64_t after_usec, uint64_t *ret_next) {
        struct tm tm;
        time_t t;
        int us, r;

        if (after_usec > TIMESTAMP_MAX_USEC)
                return -EINVAL;
        after_usec++;
        t = (time_t) (after_usec / USEC_PER_SEC);
        if (!(spec->utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)))
                return -EINVAL;
        us = (int) (after_usec % USEC_PER_SEC);

        r = search(spec, &tm, &us);
        if (r < 0)
                return r;
        t = tm_normalize(&tm, spec->utc);
        if (t < 0)
                return -EINVAL;
        *ret_next = (uint64_t) t * USEC_PER_SEC + (uint64_t) us;
        return 0;
}

int calendar_spec_next_usec(const CalendarSpec *spec, uint64_t after_usec, uint64_t *ret_next) {
        _cleanup_free_ char *saved = NULL, *zone = NULL;
        const char *old;
        uint64_t next = 0;
        int r, k;

        if (!spec || !ret_next)
                return -EINVAL;
        if (!spec->zone || spec->utc) {
                r = next_in_current_zone(spec, after_usec, &next);
                if (r >= 0)
                        *ret_next = next;
                return r;
        }

        /* Evaluate in the named zone: TZ=":Zone" for the duration of the call
         * (the ':' makes glibc read the zone file). */
        old = getenv("TZ");
        if (old && !(saved = strdup(old)))
                return -ENOMEM;
        if (asprintf(&zone, ":%s", spec->zone) < 0) {
                zone = NULL;
                return -ENOMEM;
        }
        if (setenv("TZ", zone, 1) < 0)
                return negative_errno();
        tzset();
        r = next_in_current_zone(spec, after_usec, &next);
        k = saved ? setenv("TZ", saved, 1) : unsetenv("TZ");
        tzset();
        if (r < 0)
                return r;
        if (k < 0)
                return negative_errno();
        *ret_next = next;
        return 0;
}
