/* SPDX-License-Identifier: MIT */
/*
 * calendar-next.c — the next elapse of a calendar event, behaving like
 * systemd 252. The search walks the fields from year down to microsecond
 * and lets mktime()/timegm() normalize each candidate, exactly as systemd
 * does (zone_mktime(), glibc's mktime on a zone passed in, with glibc's
 * memory of the last offset carried through the search), so that
 * nonexistent and ambiguous local times around DST changes resolve the same
 * way; it gives up after the year 2199 or after 1000 steps, so every input
 * finishes quickly. Nothing here logs, reads the clock or the environment.
 */

#include <errno.h>
#include <time.h>

#include "format/calendar-internal.h"

/* The zone of one search: UTC (timegm semantics), the named or the local
 * zone, and mktime's guess carried from call to call as glibc does. */
typedef struct Search {
        const Zone *zone;
        bool utc;
        bool local;             /* in the caller's local zone */
        int64_t guess;
        int64_t converted;      /* the last time converted in it */
} Search;

static time_t tm_normalize(Search *x, struct tm *tm) {
        time_t t;

        if (x->utc)
                tm->tm_isdst = 0; /* as timegm() does */
        if (zone_mktime(x->zone, tm, &x->guess, &t) < 0)
                return -1;
        if (x->local)
                x->converted = t;
        return t;
}

/* Day of month of the day-th day counted back from the end of tm's month
 * (day 1 = the last day), or -1 if that falls outside the month. */
static int end_of_month_day(Search *x, const struct tm *tm, int day) {
        struct tm t = *tm;

        t.tm_mon++;
        t.tm_mday = 1 - day;
        if (tm_normalize(x, &t) < 0 || t.tm_mon != tm->tm_mon)
                return -1;
        return t.tm_mday;
}

/* Moves *val to the smallest value >= *val that field f allows. Returns 1
 * if *val changed, 0 if it already matched (or f is "*"), -ENOENT if no
 * value >= *val matches. tm is used only for end-of-month days. */
static int field_next(Search *x, const CalendarSpec *spec, const CalendarField *f, const struct tm *tm,
                      int *val) {
        bool eom = spec->end_of_month && f == &spec->field[FIELD_DAY];
        bool found = false;
        int best = -1;

        if (f->n == 0)
                return 0;

        for (size_t i = 0; i < f->n; i++) {
                const CalendarItem *it = &f->items[i];
                int start = it->start, stop = it->stop;

                if (eom) {
                        start = end_of_month_day(x, tm, it->start);
                        stop = end_of_month_day(x, tm, it->stop);
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
static int tm_settle(Search *x, struct tm *tm) {
        struct tm t;
        int cmp = 0;

        if (tm->tm_year + 1900 > YEAR_MAX)
                return -ERANGE;
        t = *tm;
        if (tm_normalize(x, &t) < 0)
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

static bool weekday_matches(Search *x, int bits, const struct tm *tm) {
        struct tm t = *tm;

        if (bits < 0 || bits >= WEEKDAYS_ALL)
                return true;
        if (tm_normalize(x, &t) < 0)
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
static int search(Search *x, const CalendarSpec *spec, struct tm *tm, int *usec) {
        struct tm c = *tm;
        int us = *usec;
        bool mktime_decides_dst = false;
        int r;

        for (unsigned step = 0; step < SEARCH_STEPS_MAX; step++) {
                (void) tm_normalize(x, &c);
                if (!mktime_decides_dst)
                        c.tm_isdst = spec->dst;

                c.tm_year += 1900;
                r = field_next(x, spec, &spec->field[FIELD_YEAR], &c, &c.tm_year);
                c.tm_year -= 1900;
                if (r > 0)
                        reset_below(&c, &us, FIELD_YEAR);
                if (r < 0)
                        return r;
                if (tm_settle(x, &c) <= 0)
                        return -ENOENT;

                c.tm_mon += 1;
                r = field_next(x, spec, &spec->field[FIELD_MONTH], &c, &c.tm_mon);
                c.tm_mon -= 1;
                if (r > 0)
                        reset_below(&c, &us, FIELD_MONTH);
                if (r < 0 || (r = tm_settle(x, &c)) < 0) {
                        c.tm_year++;
                        reset_below(&c, &us, FIELD_YEAR);
                        continue;
                }
                if (r == 0)
                        continue;

                r = field_next(x, spec, &spec->field[FIELD_DAY], &c, &c.tm_mday);
                if (r > 0)
                        reset_below(&c, &us, FIELD_DAY);
                if (r < 0 || (r = tm_settle(x, &c)) < 0) {
                        c.tm_mon++;
                        reset_below(&c, &us, FIELD_MONTH);
                        continue;
                }
                if (r == 0)
                        continue;

                if (!weekday_matches(x, spec->weekdays, &c)) {
                        c.tm_mday++;
                        reset_below(&c, &us, FIELD_DAY);
                        continue;
                }

                r = field_next(x, spec, &spec->field[FIELD_HOUR], &c, &c.tm_hour);
                if (r > 0)
                        reset_below(&c, &us, FIELD_HOUR);
                if (r < 0 || (r = tm_settle(x, &c)) < 0) {
                        c.tm_mday++;
                        reset_below(&c, &us, FIELD_DAY);
                        continue;
                }
                if (r == 0) /* e.g. an hour skipped by a DST change */
                        continue;

                r = field_next(x, spec, &spec->field[FIELD_MINUTE], &c, &c.tm_min);
                if (r > 0)
                        reset_below(&c, &us, FIELD_MINUTE);
                if (r < 0 || (r = tm_settle(x, &c)) < 0) {
                        c.tm_hour++;
                        reset_below(&c, &us, FIELD_HOUR);
                        continue;
                }
                if (r == 0)
                        continue;

                c.tm_sec = c.tm_sec * SECOND_USEC + us;
                r = field_next(x, spec, &spec->field[FIELD_USEC], &c, &c.tm_sec);
                us = c.tm_sec % SECOND_USEC;
                c.tm_sec /= SECOND_USEC;
                if (r < 0 || (r = tm_settle(x, &c)) < 0) {
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

int calendar_spec_next_usec(const CalendarSpec *spec, const Zone *local, uint64_t after_usec, uint64_t *ret_next) {
        int64_t converted = INT64_MIN;

        return calendar_spec_next_usec_traced(spec, local, after_usec, ret_next, &converted);
}

int calendar_spec_next_usec_traced(const CalendarSpec *spec, const Zone *local, uint64_t after_usec,
                                   uint64_t *ret_next, int64_t *converted) {
        Search x = { .converted = *converted };
        struct tm tm;
        time_t t;
        int us, r;

        if (!spec || !ret_next)
                return -EINVAL;
        x.utc = spec->utc;
        x.local = !spec->utc && !spec->tz;
        x.zone = spec->utc ? zone_utc() : spec->tz ? spec->tz : local;
        if (!x.zone)
                return -EINVAL;
        if (after_usec > TIMESTAMP_MAX_USEC)
                return -EINVAL;
        after_usec++;
        t = (time_t) (after_usec / USEC_PER_SEC);
        if (zone_localtime(x.zone, t, &tm) < 0)
                return -EINVAL;
        if (x.local)
                x.converted = t;
        us = (int) (after_usec % USEC_PER_SEC);

        r = search(&x, spec, &tm, &us);
        if (r >= 0 && (t = tm_normalize(&x, &tm)) < 0)
                r = -EINVAL;
        *converted = x.converted;
        if (r < 0)
                return r;
        *ret_next = (uint64_t) t * USEC_PER_SEC + (uint64_t) us;
        return 0;
}
