/* SPDX-License-Identifier: MIT */
/*
 * calendar.c — systemd.time(7) calendar events, behaving like systemd 252:
 * the parser (weekdays, year-month-day with '~' for days from the end of the
 * month, hour:minute:second with fractions, lists, ranges, repetitions, the
 * shorthands, "@EPOCH", a trailing zone), the normalized form, and the
 * next-elapse search. The search walks the fields from year down to
 * microsecond and lets mktime()/timegm() normalize each candidate, exactly
 * as systemd does, so that nonexistent and ambiguous local times around DST
 * changes resolve the same way; it gives up after the year 2199 or after
 * 1000 steps, so every input finishes quickly. Expressions naming a zone are
 * evaluated with TZ switched to that zone for the duration of the call.
 * Nothing here logs or reads the clock.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
#define ZONEINFO_DIR "/usr/share/zoneinfo/"

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
        int dst;           /* -1, or 0/1 when tzname[0]/tzname[1] was given */
        char *zone;        /* IANA zone name, or NULL for local time */
};

static const char *const weekday_abbrev[7] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };

static void field_done(CalendarField *f) {
        f->items = mfree(f->items);
        f->n = 0;
}

CalendarSpec *calendar_spec_free(CalendarSpec *spec) {
        if (!spec)
                return NULL;
        for (size_t i = 0; i < _FIELD_MAX; i++)
                field_done(&spec->field[i]);
        free(spec->zone);
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

bool calendar_timezone_is_valid(const char *name) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        bool slash = false;
        struct stat st;
        char magic[4];
        size_t len;

        if (!name || !*name)
                return false;
        if (streq(name, "UTC"))
                return true;
        if (name[0] == '/')
                return false;
        for (const char *p = name; *p; p++) {
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      *p == '-' || *p == '_' || *p == '+' || *p == '/'))
                        return false;
                if (*p == '/') {
                        if (slash)
                                return false;
                        slash = true;
                } else
                        slash = false;
        }
        if (slash)
                return false;
        len = strlen(name);
        if (len >= PATH_MAX)
                return false;

        if (asprintf(&path, ZONEINFO_DIR "%s", name) < 0) {
                path = NULL;
                return false;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return false;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return false;
        if (read(fd, magic, sizeof magic) != (ssize_t) sizeof magic)
                return false;
        return memcmp(magic, "TZif", 4) == 0;
}

bool calendar_local_zone_is_utc(void) {
        tzset();
        return timezone == 0 && daylight == 0;
}

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

/* Strips a trailing " UTC", local zone abbreviation or IANA zone name from
 * s into c; returns the remaining expression in *ret_body (a new string). */
static int split_zone(const char *s, CalendarSpec *c, char **ret_body) {
        const char *e, *space;
        size_t keep = strlen(s);

        e = endswith_nocase(s, " UTC");
        if (e) {
                c->utc = true;
                keep = (size_t) (e - s);
        } else {
                int j;

                tzset();
                for (j = 0; j <= 1; j++) {
                        if (!tzname[j] || !*tzname[j])
                                continue;
                        e = endswith_nocase(s, tzname[j]);
                        if (e && e != s && e[-1] == ' ')
                                break;
                }
                if (j <= 1) {
                        c->dst = j;
                        keep = (size_t) (e - s - 1);
                } else if ((space = strrchr(s, ' ')) && calendar_timezone_is_valid(space + 1)) {
                        c->zone = strdup(space + 1);
                        if (!c->zone)
                                return -ENOMEM;
                        keep = (size_t) (space - s);
                }
        }
        *ret_body = strndup(s, keep);
        return *ret_body ? 0 : -ENOMEM;
}

int calendar_spec_from_string(const char *s, CalendarSpec **ret) {
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

        r = split_zone(s, c, &body);
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

/* ---- formatting ---------------------------------------------------------- */

static void format_weekdays(FILE *f, int bits) {
        bool first = true;

        for (int d = 0; d < 7;) {
                int end = d;

                if (!(bits & (1 << d))) {
                        d++;
                        continue;
                }
                while (end + 1 < 7 && (bits & (1 << (end + 1))))
                        end++;
                if (!first)
                        fputc(',', f);
                first = false;
                fputs(weekday_abbrev[d], f);
                if (end == d + 1)
                        fprintf(f, ",%s", weekday_abbrev[end]);
                else if (end > d + 1)
                        fprintf(f, "..%s", weekday_abbrev[end]);
                d = end + 1;
        }
}

/* "*" when the field is empty, or when one item of the seconds field is
 * "every second" (which covers whatever else is listed). */
static bool field_is_star(const CalendarField *fl, bool usec) {
        if (fl->n == 0)
                return true;
        if (usec)
                for (size_t i = 0; i < fl->n; i++)
                        if (fl->items[i].start == 0 && fl->items[i].stop < 0 &&
                            fl->items[i].repeat == SECOND_USEC)
                                return true;
        return false;
}

static void format_field(FILE *f, int width, const CalendarField *fl, bool usec) {
        int d = usec ? SECOND_USEC : 1;

        if (field_is_star(fl, usec)) {
                fputc('*', f);
                return;
        }
        for (size_t i = 0; i < fl->n; i++) {
                const CalendarItem *it = &fl->items[i];

                if (i > 0)
                        fputc(',', f);
                fprintf(f, "%0*d", width, it->start / d);
                if (it->start % d > 0)
                        fprintf(f, ".%06d", it->start % d);
                if (it->stop > 0) {
                        fprintf(f, "..%0*d", width, it->stop / d);
                        if (it->stop % d > 0)
                                fprintf(f, ".%06d", it->stop % d);
                }
                /* A range's default step (1, or 1 s) goes unsaid. */
                if (it->repeat > 0 && !(it->stop > 0 && it->repeat == d))
                        fprintf(f, "/%d", it->repeat / d);
                if (it->repeat % d > 0)
                        fprintf(f, ".%06d", it->repeat % d);
        }
}

int calendar_spec_to_string(const CalendarSpec *c, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (!c || !ret)
                return -EINVAL;
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        if (c->weekdays > 0 && c->weekdays < WEEKDAYS_ALL) {
                format_weekdays(f, c->weekdays);
                fputc(' ', f);
        }
        format_field(f, 4, &c->field[FIELD_YEAR], false);
        fputc('-', f);
        format_field(f, 2, &c->field[FIELD_MONTH], false);
        fputc(c->end_of_month ? '~' : '-', f);
        format_field(f, 2, &c->field[FIELD_DAY], false);
        fputc(' ', f);
        format_field(f, 2, &c->field[FIELD_HOUR], false);
        fputc(':', f);
        format_field(f, 2, &c->field[FIELD_MINUTE], false);
        fputc(':', f);
        format_field(f, 2, &c->field[FIELD_USEC], true);

        if (c->utc)
                fputs(" UTC", f);
        else if (c->zone)
                fprintf(f, " %s", c->zone);
        else if (c->dst == 0 || c->dst == 1) {
                tzset();
                if (tzname[c->dst] && *tzname[c->dst])
                        fprintf(f, " %s", tzname[c->dst]);
        }

        if (fflush(f) != 0 || ferror(f)) {
                fclose(f);
                return -ENOMEM;
        }
        fclose(f);
        if (!buf)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* ---- the search ---------------------------------------------------------- */

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
