/* SPDX-License-Identifier: MIT */
/*
 * zone.c — converting between UTC and a zone's local time, with the
 * results of glibc 2.36: zone_localtime() picks the time type as glibc's
 * tzfile code does (before the first transition the first standard type,
 * from the last transition on the TZ string), zone_mktime() inverts it by
 * probing as glibc's mktime() does, so normalization, gaps, repeated hours
 * and a requested tm_isdst come out the same. Pure arithmetic on int64_t.
 */

#include <errno.h>

#include "format/zone-internal.h"

const uint16_t zone_mon_yday[2][13] = {
        { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365 },
        { 0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366 },
};

static int64_t floor_div(int64_t a, int64_t b) {
        int64_t q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

bool zone_is_leap_year(int64_t y) {
        return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

int64_t zone_days_before_year(int64_t y) {
        int64_t p = y - 1;
        return 365 * (y - 1970) + (floor_div(p, 4) - 492) - (floor_div(p, 100) - 19) + (floor_div(p, 400) - 4);
}

/* t + offset as broken-down time (like glibc's __offtime; the zone fields
 * are left alone). Returns 0 or -EOVERFLOW. */
static int offtime(int64_t t, int32_t offset, struct tm *tm) {
        int64_t s, days, rem, z, era, doe, yoe, doy, mp, y;

        if (__builtin_add_overflow(t, (int64_t) offset, &s))
                return -EOVERFLOW;
        days = floor_div(s, 86400);
        rem = s % 86400;
        if (rem < 0)
                rem += 86400;
        /* Days to a proleptic Gregorian date (era of 400 years from 0000-03-01). */
        z = days + 719468;
        era = floor_div(z, 146097);
        doe = z - era * 146097;
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        y = yoe + era * 400 + (mp >= 10);
        if (y - 1900 < INT32_MIN || y - 1900 > INT32_MAX)
                return -EOVERFLOW;

        tm->tm_year = (int) (y - 1900);
        tm->tm_mon = (int) (mp < 10 ? mp + 2 : mp - 10);
        tm->tm_mday = (int) (doy - (153 * mp + 2) / 5 + 1);
        tm->tm_yday = (int) (days - zone_days_before_year(y));
        tm->tm_wday = (int) (((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
        tm->tm_hour = (int) (rem / 3600);
        tm->tm_min = (int) (rem / 60 % 60);
        tm->tm_sec = (int) (rem % 60);
        return 0;
}

/* The type in effect at t from the transitions (not the TZ string), as
 * glibc: before the first transition the first standard type. */
static const ZoneType *type_at(const Zone *z, int64_t t) {
        size_t lo = 0, hi;

        if (z->n_trans == 0 || t < z->trans[0]) {
                for (size_t i = 0; i < z->n_types; i++)
                        if (!z->types[i].isdst)
                                return &z->types[i];
                return &z->types[0];
        }
        /* trans[lo] <= t < trans[hi] (hi = n: after the last). */
        hi = z->n_trans;
        while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;
                if (t < z->trans[mid])
                        hi = mid;
                else
                        lo = mid;
        }
        return &z->types[z->trans_type[lo]];
}

int zone_localtime(const Zone *z, time_t t, struct tm *ret) {
        struct tm tm = {};
        int32_t offset;
        const char *abbr;
        bool isdst;
        int r;

        if (!z || !ret)
                return -EINVAL;
        if (z->has_rule && (z->rule_only || (z->n_trans > 0 && t >= z->trans[z->n_trans - 1])) &&
            offtime(t, 0, &tm) >= 0) {
                isdst = zone_rule_is_dst(&z->rule, (int64_t) tm.tm_year + 1900, t);
                offset = z->rule.offset[isdst];
                abbr = z->rule.name[isdst];
        } else if (z->rule_only)
                return -EOVERFLOW;
        else {
                const ZoneType *type = type_at(z, t);

                isdst = type->isdst;
                offset = type->utoff;
                abbr = z->abbrs + type->abbr;
        }
        r = offtime(t, offset, &tm);
        if (r < 0)
                return r;
        tm.tm_isdst = isdst;
        tm.tm_gmtoff = offset;
        tm.tm_zone = abbr;
        *ret = tm;
        return 0;
}

/* (year, yday, hour, min, sec) minus *tm in seconds; year as tm_year. */
static int64_t tm_diff(int64_t year, int64_t yday, int hour, int min, int sec, const struct tm *tm) {
        int64_t days = zone_days_before_year(year + 1900) + yday -
                       (zone_days_before_year((int64_t) tm->tm_year + 1900) + tm->tm_yday);
        return ((days * 24 + hour - tm->tm_hour) * 60 + min - tm->tm_min) * 60 + sec - tm->tm_sec;
}

/* glibc's ranged_convert(): when *t cannot be converted, the nearest time
 * between 0 and *t that can. */
static int ranged_convert(const Zone *z, int64_t *t, struct tm *tm) {
        int64_t ok = 0, bad = *t;
        bool found = false;
        struct tm oktm;

        if (zone_localtime(z, (time_t) *t, tm) >= 0)
                return 0;
        for (;;) {
                int64_t mid = (ok >> 1) + (bad >> 1) + ((ok | bad) & 1);

                if (mid == ok || mid == bad)
                        break;
                if (zone_localtime(z, (time_t) mid, tm) >= 0) {
                        ok = mid;
                        oktm = *tm;
                        found = true;
                } else
                        bad = mid;
        }
        if (!found)
                return -EOVERFLOW;
        *t = ok;
        *tm = oktm;
        return 0;
}

static bool isdst_differ(int a, int b) {
        return (!a != !b) && a >= 0 && b >= 0;
}

int zone_mktime(const Zone *z, struct tm *tp, int64_t *guess, time_t *ret) {
        int remaining_probes = 6, sec, min, hour, mday, mon, isdst, sec_requested, dst2 = 0;
        int mon_remainder, negative;
        int64_t year, yday, off = guess ? *guess : 0, t0, t, t1, t2, dt;
        struct tm tm;

        if (!z || !tp || !ret)
                return -EINVAL;
        sec = tp->tm_sec;
        min = tp->tm_min;
        hour = tp->tm_hour;
        mday = tp->tm_mday;
        mon = tp->tm_mon;
        isdst = tp->tm_isdst;

        /* The month into range, the year along; the day of the year from it
         * (not in range: the probing below copes). */
        mon_remainder = mon % 12;
        negative = mon_remainder < 0;
        year = (int64_t) tp->tm_year + mon / 12 - negative;
        yday = zone_mon_yday[zone_is_leap_year(year + 1900)][mon_remainder + 12 * negative] - 1 + (int64_t) mday;

        /* Every minute has 60 seconds while probing; the rest is added at the end. */
        sec_requested = sec;
        sec = sec < 0 ? 0 : sec > 59 ? 59 : sec;

        /* First guess: the offset the last call found. */
        t0 = tm_diff(year, yday, hour, min, sec, &(struct tm) { .tm_year = 70 }) + off;
        t = t1 = t2 = t0;

        for (;;) {
                if (ranged_convert(z, &t, &tm) < 0)
                        return -EOVERFLOW;
                dt = tm_diff(year, yday, hour, min, sec, &tm);
                if (dt == 0)
                        break;
                /* Oscillating between two times: the requested one lies in a
                 * gap. Take the one whose tm_isdst differs from the request
                 * (or, with none requested, the daylight one's partner). */
                if (t == t1 && t != t2 &&
                    (tm.tm_isdst < 0 || (isdst < 0 ? dst2 <= (tm.tm_isdst != 0)
                                                   : (isdst != 0) != (tm.tm_isdst != 0))))
                        goto offset_found;
                if (--remaining_probes == 0)
                        return -EOVERFLOW;
                t1 = t2;
                t2 = t;
                if (__builtin_add_overflow(t, dt, &t))
                        return -EOVERFLOW;
                dst2 = tm.tm_isdst != 0;
        }

        if (isdst_differ(isdst, tm.tm_isdst)) {
                /* The wrong kind of time: look for the requested kind nearby
                 * and use its offset. The stride is shorter than any DST
                 * period in the tz database, the bound half the longest
                 * period with a DST difference other than one hour. */
                const int stride = 601200, duration_max = 457243200;
                const int delta_bound = duration_max / 2 + stride;
                /* +1: standard time asked, daylight found; -1 the reverse. */
                int dst_difference = (isdst == 0) - (tm.tm_isdst == 0);

                for (int delta = stride; delta < delta_bound; delta += stride)
                        for (int direction = -1; direction <= 1; direction += 2) {
                                int64_t ot, gt;
                                struct tm otm;

                                if (__builtin_add_overflow(t, (int64_t) delta * direction, &ot))
                                        continue;
                                if (ranged_convert(z, &ot, &otm) < 0)
                                        return -EOVERFLOW;
                                if (isdst_differ(isdst, otm.tm_isdst))
                                        continue;
                                if (__builtin_add_overflow(ot, tm_diff(year, yday, hour, min, sec, &otm), &gt))
                                        continue;
                                if (zone_localtime(z, (time_t) gt, &tm) >= 0) {
                                        t = gt;
                                        goto offset_found;
                                }
                        }
                /* None nearby: assume a one-hour difference. */
                if (__builtin_add_overflow(t, (int64_t) 3600 * dst_difference, &t) ||
                    zone_localtime(z, (time_t) t, &tm) < 0)
                        return -EOVERFLOW;
        }

offset_found:
        if (guess)
                *guess = t - t0 + off;
        if (sec_requested != tm.tm_sec) {
                if (__builtin_add_overflow(t, (int64_t) sec_requested - sec, &t) ||
                    zone_localtime(z, (time_t) t, &tm) < 0)
                        return -EOVERFLOW;
        }
        *tp = tm;
        *ret = (time_t) t;
        return 0;
}
