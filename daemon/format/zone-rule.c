/* SPDX-License-Identifier: MIT */
/*
 * zone-rule.c — the POSIX TZ string ("CET-1CEST,M3.5.0,M10.5.0/3"): the
 * parser, strict and bounded, and the DST decision for a time, computed as
 * glibc 2.36 computes it (the change times of the time's UTC year, with
 * glibc's treatment of the years up to 1970 as 1970).
 */

#include <errno.h>
#include <string.h>

#include "format/zone-internal.h"

typedef struct Cursor {
        const char *p, *end;
} Cursor;

static bool at(const Cursor *c, char ch) {
        return c->p < c->end && *c->p == ch;
}

static bool is_alpha(char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_digit(char ch) {
        return ch >= '0' && ch <= '9';
}

/* An unsigned decimal of at most max, at least one digit. */
static int parse_uint(Cursor *c, int max, int *ret) {
        int v = 0;

        if (c->p >= c->end || !is_digit(*c->p))
                return -EINVAL;
        while (c->p < c->end && is_digit(*c->p)) {
                v = v * 10 + (*c->p++ - '0');
                if (v > max)
                        return -EINVAL;
        }
        *ret = v;
        return 0;
}

/* "std" / "dst": three or more letters, or <three or more of [A-Za-z0-9+-]>. */
static int parse_name(Cursor *c, char name[static ZONE_ABBR_MAX + 1]) {
        const char *start;
        size_t len;
        bool quoted = at(c, '<');

        if (quoted)
                c->p++;
        start = c->p;
        while (c->p < c->end &&
               (is_alpha(*c->p) || (quoted && (is_digit(*c->p) || *c->p == '+' || *c->p == '-'))))
                c->p++;
        len = (size_t) (c->p - start);
        if (len < 3 || len > ZONE_ABBR_MAX)
                return -EINVAL;
        if (quoted) {
                if (!at(c, '>'))
                        return -EINVAL;
                c->p++;
        }
        memcpy(name, start, len);
        name[len] = 0;
        return 0;
}

/* [+-]hh[:mm[:ss]] as seconds, hh at most max_hours. */
static int parse_hms(Cursor *c, int max_hours, int32_t *ret) {
        int sign = 1, h, m = 0, s = 0;

        if (at(c, '+') || at(c, '-'))
                sign = *c->p++ == '-' ? -1 : 1;
        if (parse_uint(c, max_hours, &h) < 0)
                return -EINVAL;
        if (at(c, ':')) {
                c->p++;
                if (parse_uint(c, 59, &m) < 0)
                        return -EINVAL;
                if (at(c, ':')) {
                        c->p++;
                        if (parse_uint(c, 59, &s) < 0)
                                return -EINVAL;
                }
        }
        *ret = sign * (h * 3600 + m * 60 + s);
        return 0;
}

static int parse_date(Cursor *c, ZoneRuleDate *d) {
        *d = (ZoneRuleDate) { .secs = 2 * 3600 };

        if (at(c, 'J')) {
                c->p++;
                d->kind = 'J';
                if (parse_uint(c, 365, &d->day) < 0 || d->day < 1)
                        return -EINVAL;
        } else if (at(c, 'M')) {
                c->p++;
                d->kind = 'M';
                if (parse_uint(c, 12, &d->month) < 0 || d->month < 1 || !at(c, '.'))
                        return -EINVAL;
                c->p++;
                if (parse_uint(c, 5, &d->week) < 0 || d->week < 1 || !at(c, '.'))
                        return -EINVAL;
                c->p++;
                if (parse_uint(c, 6, &d->day) < 0)
                        return -EINVAL;
        } else {
                d->kind = 'D';
                if (parse_uint(c, 365, &d->day) < 0)
                        return -EINVAL;
        }
        if (at(c, '/')) {
                c->p++;
                /* RFC 8536 (v3+): -167 h … 167 h. */
                if (parse_hms(c, 167, &d->secs) < 0)
                        return -EINVAL;
        }
        return 0;
}

int zone_rule_parse(const char *s, size_t len, ZoneRule *ret) {
        Cursor c = { s, s + len };
        ZoneRule r = {};
        int32_t off;

        if (!s || !ret)
                return -EINVAL;
        if (parse_name(&c, r.name[0]) < 0 || parse_hms(&c, 24, &off) < 0)
                return -EINVAL;
        r.offset[0] = r.offset[1] = -off; /* POSIX counts west */
        memcpy(r.name[1], r.name[0], sizeof r.name[1]);

        if (c.p < c.end) {
                if (parse_name(&c, r.name[1]) < 0)
                        return -EINVAL;
                r.has_dst = true;
                r.offset[1] = r.offset[0] + 3600;
                if (c.p < c.end && !at(&c, ',')) {
                        if (parse_hms(&c, 24, &off) < 0)
                                return -EINVAL;
                        r.offset[1] = -off;
                }
                if (c.p < c.end) {
                        if (!at(&c, ','))
                                return -EINVAL;
                        c.p++;
                        if (parse_date(&c, &r.date[0]) < 0 || !at(&c, ','))
                                return -EINVAL;
                        c.p++;
                        if (parse_date(&c, &r.date[1]) < 0)
                                return -EINVAL;
                } else {
                        /* No rules: the US ones, like glibc's default posixrules. */
                        r.date[0] = (ZoneRuleDate) { 'M', 0, 3, 2, 2 * 3600 };
                        r.date[1] = (ZoneRuleDate) { 'M', 0, 11, 1, 2 * 3600 };
                }
        }
        if (c.p != c.end)
                return -EINVAL;
        *ret = r;
        return 0;
}

/* The UTC time of a change in year, as glibc's compute_change(). */
static int64_t change_time(const ZoneRuleDate *d, int32_t offset, int64_t year) {
        int64_t t = 0;

        if (year > 1970)
                t = zone_days_before_year(year) * 86400;

        switch (d->kind) {
        case 'J':
                t += (int64_t) (d->day - 1) * 86400;
                if (d->day >= 60 && zone_is_leap_year(year))
                        t += 86400;
                break;
        case 'D':
                t += (int64_t) d->day * 86400;
                break;
        default: {
                const uint16_t *myday = &zone_mon_yday[zone_is_leap_year(year)][d->month];
                int64_t m1 = (d->month + 9) % 12 + 1;
                int64_t yy0 = d->month <= 2 ? year - 1 : year;
                int64_t yy1 = yy0 / 100, yy2 = yy0 % 100;
                int64_t dow = ((26 * m1 - 2) / 10 + 1 + yy2 + yy2 / 4 + yy1 / 4 - 2 * yy1) % 7;
                int64_t day;

                if (dow < 0)
                        dow += 7;
                t += (int64_t) myday[-1] * 86400;
                /* The first such weekday of the month (zero-based day)… */
                day = d->day - dow;
                if (day < 0)
                        day += 7;
                /* … then week by week while the month lasts. */
                for (int i = 1; i < d->week; i++) {
                        if (day + 7 >= (int64_t) myday[0] - myday[-1])
                                break;
                        day += 7;
                }
                t += day * 86400;
                break;
        }
        }
        return t - offset + d->secs;
}

bool zone_rule_is_dst(const ZoneRule *rule, int64_t year, int64_t t) {
        int64_t start, end;

        if (!rule->has_dst)
                return false;
        start = change_time(&rule->date[0], rule->offset[0], year);
        end = change_time(&rule->date[1], rule->offset[1], year);
        /* Southern hemisphere: DST spans the turn of the year. */
        if (start > end)
                return t < end || t >= start;
        return t >= start && t < end;
}
