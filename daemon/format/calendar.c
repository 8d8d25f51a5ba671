/* SPDX-License-Identifier: MIT */
/*
 * calendar.c — systemd.time(7) calendar events, behaving like systemd 252:
 * the parser (weekdays, year-month-day with '~' for days from the end of the
 * month, hour:minute:second with fractions, lists, ranges, repetitions, the
 * shorthands, "@EPOCH", a trailing zone), the normalization of the parsed
 * fields, and the trailing zone (UTC, the local zone's abbreviations, or a
 * name the caller's loader knows). The normalized form is in
 * calendar-format.c, the next-elapse search in calendar-next.c.
 * Nothing here logs, reads the clock or the environment.
 */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "format/calendar-internal.h"


static void field_done(CalendarField *f) {
        f->items = mfree(f->items);
        f->n = 0;
}

CalendarSpec *calendar_spec_free(CalendarSpec *spec) {
        if (!spec)
                return NULL;
        for (size_t i = 0; i < _FIELD_MAX; i++)
                field_done(&spec->field[i]);
        free(spec->dst_name);
        free(spec->zone);
        zone_free(spec->tz);
        return mfree(spec);
}

static int field_append(CalendarField *f, int start, int stop, int repeat) {
        CalendarItem *n = realloc(f->items, (f->n + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        n[f->n++] = (CalendarItem) { .start = start, .stop = stop, .repeat = repeat };
        f->items = n;
        return 0;
}

/* A field with exactly these values (used by the shorthands and @EPOCH). */
static int field_set(CalendarField *f, const int *values, size_t n) {
        field_done(f);
        for (size_t i = 0; i < n; i++) {
                int r = field_append(f, values[i], -1, 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int field_set_one(CalendarField *f, int value) {
        return field_set(f, &value, 1);
}

/* ---- time zones ---------------------------------------------------------- */

/* Pointer to the suffix of s that equals suffix ignoring case, or NULL. */
static const char *endswith_nocase(const char *s, const char *suffix) {
        size_t sl = strlen(s), xl = strlen(suffix);

        if (xl > sl)
                return NULL;
        if (strcasecmp(s + sl - xl, suffix) != 0)
                return NULL;
        return s + sl - xl;
}

/* ---- parsing ------------------------------------------------------------- */

/* Up to 6 fraction digits in microseconds, rounded on the 7th, the rest
 * skipped. At least one digit is required. */
static int parse_fraction(const char **p, unsigned *ret) {
        const char *s = *p;
        unsigned v = 0;

        for (unsigned i = 0; i < 6; i++, s++) {
                if (*s < '0' || *s > '9') {
                        if (i == 0)
                                return -EINVAL;
                        for (; i < 6; i++)
                                v *= 10;
                        break;
                }
                v = v * 10 + (unsigned) (*s - '0');
        }
        if (*s >= '5' && *s <= '9')
                v++;
        while (*s >= '0' && *s <= '9')
                s++;
        *p = s;
        *ret = v;
        return 0;
}

/* A decimal number at *p (a digit must come first); in the seconds field a
 * fraction is allowed and the value is in microseconds. */
static int parse_number(const char **p, bool usec, int *ret) {
        const char *s = *p;
        unsigned long long v = 0;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        for (; *s >= '0' && *s <= '9'; s++) {
                unsigned d = (unsigned) (*s - '0');
                if (v > (ULLONG_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        if (usec) {
                if (v > ULLONG_MAX / USEC_PER_SEC)
                        return -ERANGE;
                v *= USEC_PER_SEC;
                /* One '.' starts a fraction; ".." is a range. */
                if (s[0] == '.' && s[1] != '.') {
                        unsigned frac;
                        int r;

                        s++;
                        r = parse_fraction(&s, &frac);
                        if (r < 0)
                                return r;
                        if (v + frac < v)
                                return -ERANGE;
                        v += frac;
                }
        }
        if (v > INT_MAX)
                return -ERANGE;
        *p = s;
        *ret = (int) v;
        return 0;
}

/* One field: "*" or a comma-separated list of start[..stop][/repeat]. */
static int parse_field(const char **p, bool usec, CalendarField *f) {
        const char *s = *p;
        int r;

        field_done(f);
        if (*s == '*') {
                if (usec) {
                        r = field_append(f, 0, -1, SECOND_USEC);
                        if (r < 0)
                                return r;
                }
                *p = s + 1;
                return 0;
        }

        for (;;) {
                int start, stop = -1, repeat = 0;

                if (f->n >= FIELD_ITEMS_MAX)
                        return -ENOBUFS;
                r = parse_number(&s, usec, &start);
                if (r < 0)
                        return r;
                if (s[0] == '.' && s[1] == '.') {
                        s += 2;
                        r = parse_number(&s, usec, &stop);
                        if (r < 0)
                                return r;
                        repeat = usec ? SECOND_USEC : 1;
                }
                if (*s == '/') {
                        s++;
                        r = parse_number(&s, usec, &repeat);
                        if (r < 0)
                                return r;
                        if (repeat == 0)
                                return -ERANGE;
                } else {
                        if (start > INT_MAX - repeat)
                                return -ERANGE;
                        /* A seconds range without a repetition steps by 1 s,
                         * so it must span at least that. */
                        if (usec && stop >= 0 && start + repeat > stop)
                                return -EINVAL;
                }
                if (!strchr(" ,-~:", *s)) /* also matches the terminating NUL */
                        return -EINVAL;
                r = field_append(f, start, stop, repeat);
                if (r < 0)
                        return r;
                if (*s != ',')
                        break;
                s++;
        }
        *p = s;
        return 0;
}

static int parse_weekdays(const char **p, CalendarSpec *c) {
        static const struct {
                const char *name;
                int nr;
        } names[] = {
                { "Monday", 0 },    { "Mon", 0 }, { "Tuesday", 1 },  { "Tue", 1 }, { "Wednesday", 2 },
                { "Wed", 2 },       { "Thursday", 3 }, { "Thu", 3 }, { "Friday", 4 }, { "Fri", 4 },
                { "Saturday", 5 },  { "Sat", 5 }, { "Sunday", 6 },   { "Sun", 6 },
        };
        int range_from = -1;
        bool first = true;

        for (;;) {
                size_t i;

                for (i = 0; i < ELEMENTSOF(names); i++) {
                        size_t len = strlen(names[i].name);

                        if (strncasecmp(*p, names[i].name, len) != 0)
                                continue;
                        if (!strchr("-., ", (*p)[len])) /* or the end */
                                return -EINVAL;
                        c->weekdays |= 1 << names[i].nr;
                        if (range_from >= 0) {
                                if (range_from > names[i].nr)
                                        return -EINVAL;
                                for (int j = range_from + 1; j < names[i].nr; j++)
                                        c->weekdays |= 1 << j;
                        }
                        *p += len;
                        break;
                }
                /* No weekday at the start: the expression begins with the date. */
                if (i >= ELEMENTSOF(names))
                        return first ? 0 : -EINVAL;

                if (**p == 0)
                        return 0;
                if (**p == ' ') {
                        *p += strspn(*p, " ");
                        return 0;
                }
                if (**p == '.') {
                        if (range_from >= 0 || (*p)[1] != '.')
                                return -EINVAL;
                        range_from = names[i].nr;
                        *p += 2;
                } else if (**p == '-') { /* the old range syntax */
                        if (range_from >= 0)
                                return -EINVAL;
                        range_from = names[i].nr;
                        *p += 1;
                } else if (**p == ',') {
                        range_from = -1;
                        *p += 1;
                }
                /* A trailing comma is fine, an open range is not. */
                if (**p == 0 || **p == ' ') {
                        *p += strspn(*p, " ");
                        return range_from < 0 ? 0 : -EINVAL;
                }
                first = false;
        }
}

/* "@SECONDS": a single instant, in UTC. */
static int parse_epoch(const char **p, CalendarSpec *c) {
        unsigned long v;
        char *end = NULL;
        struct tm tm;
        time_t t;
        int r;

        /* strtoul's own rules (leading blanks, a sign) as systemd uses them. */
        errno = 0;
        v = strtoul(*p, &end, 10);
        if (errno > 0)
                return -errno;
        if (end == *p)
                return -EINVAL;
        t = (time_t) v;
        if ((unsigned long) t != v)
                return -ERANGE;
        if (!gmtime_r(&t, &tm))
                return -ERANGE;
        if (tm.tm_year > INT_MAX - 1900)
                return -ERANGE;

        if ((r = field_set_one(&c->field[FIELD_YEAR], tm.tm_year + 1900)) < 0 ||
            (r = field_set_one(&c->field[FIELD_MONTH], tm.tm_mon + 1)) < 0 ||
            (r = field_set_one(&c->field[FIELD_DAY], tm.tm_mday)) < 0 ||
            (r = field_set_one(&c->field[FIELD_HOUR], tm.tm_hour)) < 0 ||
            (r = field_set_one(&c->field[FIELD_MINUTE], tm.tm_min)) < 0 ||
            (r = field_set_one(&c->field[FIELD_USEC], tm.tm_sec * SECOND_USEC)) < 0)
                return r;
        c->utc = true;
        *p = end;
        return 0;
}

/* Returns 1 when the date part was a complete instant (@EPOCH), 0 when the
 * time part follows (or the date part was absent and *p is unchanged). */
static int parse_date(const char **p, CalendarSpec *c) {
        CalendarField first = {}, second = {}, third = {};
        const char *s = *p;
        int r;

        if (*s == 0)
                return 0;
        if (*s == '@') {
                s++;
                r = parse_epoch(&s, c);
                if (r < 0)
                        return r;
                *p = s;
                return 1;
        }

        r = parse_field(&s, false, &first);
        if (r < 0)
                goto fail;
        /* Nothing more, or a ':': this was the time, not a date. */
        if (*s == 0 || *s == ':') {
                field_done(&first);
                return 0;
        }
        if (*s == '~')
                c->end_of_month = true;
        else if (*s != '-') {
                r = -EINVAL;
                goto fail;
        }
        s++;
        r = parse_field(&s, false, &second);
        if (r < 0)
                goto fail;
        if (*s == 0 || *s == ' ') {
                /* month-day */
                *p = s + strspn(s, " ");
                c->field[FIELD_MONTH] = first;
                c->field[FIELD_DAY] = second;
                return 0;
        }
        if (c->end_of_month || (*s != '~' && *s != '-')) {
                r = -EINVAL;
                goto fail;
        }
        if (*s == '~')
                c->end_of_month = true;
        s++;
        r = parse_field(&s, false, &third);
        if (r < 0)
                goto fail;
        if (*s != 0 && *s != ' ') {
                r = -EINVAL;
                goto fail;
        }
        *p = s + strspn(s, " ");
        c->field[FIELD_YEAR] = first;
        c->field[FIELD_MONTH] = second;
        c->field[FIELD_DAY] = third;
        return 0;
fail:
        field_done(&first);
        field_done(&second);
        field_done(&third);
        return r;
}

/* hour:minute[:second]; nothing at all means 00:00:00. */
static int parse_time(const char **p, CalendarSpec *c) {
        CalendarField h = {}, m = {}, sec = {};
        const char *s = *p;
        int r;

        if (*s == 0) {
                if ((r = field_set_one(&h, 0)) < 0 || (r = field_set_one(&m, 0)) < 0 ||
                    (r = field_set_one(&sec, 0)) < 0)
                        goto fail;
                goto done;
        }
        r = parse_field(&s, false, &h);
        if (r < 0)
                goto fail;
        if (*s != ':') {
                r = -EINVAL;
                goto fail;
        }
        s++;
        r = parse_field(&s, false, &m);
        if (r < 0)
                goto fail;
        if (*s == 0) {
                r = field_set_one(&sec, 0);
                if (r < 0)
                        goto fail;
                goto done;
        }
        if (*s != ':') {
                r = -EINVAL;
                goto fail;
        }
        s++;
        r = parse_field(&s, true, &sec);
        if (r < 0)
                goto fail;
        if (*s != 0) {
                r = -EINVAL;
                goto fail;
        }
done:
        *p = s;
        c->field[FIELD_HOUR] = h;
        c->field[FIELD_MINUTE] = m;
        c->field[FIELD_USEC] = sec;
        return 0;
fail:
        field_done(&h);
        field_done(&m);
        field_done(&sec);
        return r;
}

static int parse_shorthand(const char *s, CalendarSpec *c, bool *ret_found) {
        static const int jan[] = { 1 }, quarters[] = { 1, 4, 7, 10 }, halves[] = { 1, 7 };
        static const struct {
                const char *name;
                const int *months; /* NULL: any month */
                size_t n_months;
                bool day;          /* on the 1st */
                bool hour;         /* at 00 h */
                bool minute;       /* at :00 */
                bool monday;
        } table[] = {
                { "minutely", NULL, 0, false, false, false, false },
                { "hourly", NULL, 0, false, false, true, false },
                { "daily", NULL, 0, false, true, true, false },
                { "weekly", NULL, 0, false, true, true, true },
                { "monthly", NULL, 0, true, true, true, false },
                { "yearly", jan, 1, true, true, true, false },
                { "annually", jan, 1, true, true, true, false },
                { "anually", jan, 1, true, true, true, false },
                { "quarterly", quarters, 4, true, true, true, false },
                { "semiannually", halves, 2, true, true, true, false },
                { "semi-annually", halves, 2, true, true, true, false },
                { "biannually", halves, 2, true, true, true, false },
                { "bi-annually", halves, 2, true, true, true, false },
        };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                if (strcasecmp(s, table[i].name) != 0)
                        continue;
                if (table[i].months && (r = field_set(&c->field[FIELD_MONTH], table[i].months,
                                                      table[i].n_months)) < 0)
                        return r;
                if (table[i].day && (r = field_set_one(&c->field[FIELD_DAY], 1)) < 0)
                        return r;
                if (table[i].hour && (r = field_set_one(&c->field[FIELD_HOUR], 0)) < 0)
                        return r;
                if (table[i].minute && (r = field_set_one(&c->field[FIELD_MINUTE], 0)) < 0)
                        return r;
                r = field_set_one(&c->field[FIELD_USEC], 0);
                if (r < 0)
                        return r;
                if (table[i].monday)
                        c->weekdays = 1;
                *ret_found = true;
                return 0;
        }
        *ret_found = false;
        return 0;
}

static int item_compare(const void *a, const void *b) {
        const CalendarItem *x = a, *y = b;

        if (x->start != y->start)
                return x->start < y->start ? -1 : 1;
        if (x->stop != y->stop)
                return x->stop < y->stop ? -1 : 1;
        if (x->repeat != y->repeat)
                return x->repeat < y->repeat ? -1 : 1;
        return 0;
}

static void field_normalize(CalendarField *f) {
        size_t k = 0;

        for (size_t i = 0; i < f->n; i++) {
                CalendarItem *it = &f->items[i];

                /* The range ends on its last repetition … */
                if (it->stop > it->start && it->repeat > 0)
                        it->stop -= (it->stop - it->start) % it->repeat;
                /* … and a range with one value left is just that value. */
                if ((it->stop > it->start && it->repeat > 0 && it->start + it->repeat > it->stop) ||
                    it->start == it->stop) {
                        it->repeat = 0;
                        it->stop = -1;
                }
        }
        if (f->n <= 1)
                return;
        qsort(f->items, f->n, sizeof *f->items, item_compare);
        for (size_t i = 0; i < f->n; i++)
                if (k == 0 || item_compare(&f->items[k - 1], &f->items[i]) != 0)
                        f->items[k++] = f->items[i];
        f->n = k;
}

static void normalize(CalendarSpec *c) {
        if (c->zone && streq(c->zone, "UTC")) {
                c->utc = true;
                c->zone = mfree(c->zone);
                c->tz = zone_free(c->tz);
        }
        if (c->weekdays <= 0 || c->weekdays >= WEEKDAYS_ALL)
                c->weekdays = -1;
        if (c->end_of_month && c->field[FIELD_DAY].n == 0)
                c->end_of_month = false;

        /* Two-digit years: 70…99 are 19xx, 00…69 are 20xx. */
        for (size_t i = 0; i < c->field[FIELD_YEAR].n; i++) {
                CalendarItem *it = &c->field[FIELD_YEAR].items[i];
                if (it->start >= 0 && it->start < 70)
                        it->start += 2000;
                else if (it->start >= 70 && it->start < 100)
                        it->start += 1900;
                if (it->stop >= 0 && it->stop < 70)
                        it->stop += 2000;
                else if (it->stop >= 70 && it->stop < 100)
                        it->stop += 1900;
        }
        for (size_t i = 0; i < _FIELD_MAX; i++)
                field_normalize(&c->field[i]);
}

static bool field_valid(const CalendarField *f, int from, int to, bool end_of_month) {
        for (size_t i = 0; i < f->n; i++) {
                const CalendarItem *it = &f->items[i];

                /* "~" counts at most 28 days back from the month's end; and
                 * systemd tightens that by another 3 days for each further
                 * item of the list ("~1,26" is refused), which we keep. */
                if (end_of_month)
                        to -= 3;
                if (to < from)
                        return false;

                if (it->start < from || it->start > to)
                        return false;
                if (it->repeat > to - from)
                        return false;
                if (it->stop >= 0) {
                        if (it->stop < from || it->stop > to)
                                return false;
                        if (it->start + it->repeat > it->stop)
                                return false;
                } else if (end_of_month) {
                        if (it->start - it->repeat < from)
                                return false;
                } else if (it->start + it->repeat > to)
                        return false;
        }
        return true;
}

static bool spec_valid(const CalendarSpec *c) {
        return c->weekdays <= WEEKDAYS_ALL &&
               field_valid(&c->field[FIELD_YEAR], YEAR_MIN, YEAR_MAX, false) &&
               field_valid(&c->field[FIELD_MONTH], 1, 12, false) &&
               field_valid(&c->field[FIELD_DAY], 1, 31, c->end_of_month) &&
               field_valid(&c->field[FIELD_HOUR], 0, 23, false) &&
               field_valid(&c->field[FIELD_MINUTE], 0, 59, false) &&
               field_valid(&c->field[FIELD_USEC], 0, 60 * SECOND_USEC - 1, false);
}

/* Strips a trailing " UTC", local zone abbreviation or zone name from s
 * into c; returns the remaining expression in *ret_body (a new string). */
static int split_zone(const char *s, const Zone *local, int64_t converted, const ZoneLoader *loader,
                      CalendarSpec *c, char **ret_body) {
        const char *e, *space;
        size_t keep = strlen(s);
        int r;

        e = endswith_nocase(s, " UTC");
        if (e) {
                c->utc = true;
                keep = (size_t) (e - s);
        } else {
                const char *abbr = NULL;
                int j;

                for (j = 0; local && j <= 1; j++) {
                        abbr = zone_abbreviation_at(local, j, converted);
                        if (!abbr || !*abbr)
                                continue;
                        e = endswith_nocase(s, abbr);
                        if (e && e != s && e[-1] == ' ')
                                break;
                }
                if (local && j <= 1) {
                        c->dst = j;
                        c->dst_name = strdup(abbr);
                        if (!c->dst_name)
                                return -ENOMEM;
                        keep = (size_t) (e - s - 1);
                } else if (loader && (space = strrchr(s, ' ')) && zone_name_is_valid(space + 1)) {
                        r = loader->load(space + 1, &c->tz, loader->userdata);
                        if (r == -ENOMEM)
                                return r;
                        if (r >= 0) {
                                c->zone = strdup(space + 1);
                                if (!c->zone)
                                        return -ENOMEM;
                                keep = (size_t) (space - s);
                        }
                }
        }
        *ret_body = strndup(s, keep);
        return *ret_body ? 0 : -ENOMEM;
}

int calendar_spec_from_string(const char *s, const Zone *local, const ZoneLoader *loader, CalendarSpec **ret) {
        return calendar_spec_from_string_at(s, local, INT64_MIN, loader, ret);
}

int calendar_spec_from_string_at(const char *s, const Zone *local, int64_t converted, const ZoneLoader *loader,
                                 CalendarSpec **ret) {
        _cleanup_(calendar_spec_freep) CalendarSpec *c = NULL;
        _cleanup_free_ char *body = NULL;
        const char *p;
        bool shorthand;
        int r;

        if (!s || !ret)
                return -EINVAL;
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->dst = -1;

        r = split_zone(s, local, converted, loader, c, &body);
        if (r < 0)
                return r;
        p = body;
        if (!*p)
                return -EINVAL;

        r = parse_shorthand(p, c, &shorthand);
        if (r < 0)
                return r;
        if (!shorthand) {
                r = parse_weekdays(&p, c);
                if (r < 0)
                        return r;
                r = parse_date(&p, c);
                if (r < 0)
                        return r;
                if (r == 0) {
                        r = parse_time(&p, c);
                        if (r < 0)
                                return r;
                }
                if (*p != 0)
                        return -EINVAL;
        }

        normalize(c);
        if (!spec_valid(c))
                return -EINVAL;
        *ret = TAKE_PTR(c);
        return 0;
}

const char *calendar_spec_local_abbreviation(const CalendarSpec *spec, int *ret_isdst) {
        if (spec->dst < 0)
                return NULL;
        *ret_isdst = spec->dst;
        return spec->dst_name;
}
