/* SPDX-License-Identifier: MIT */
/*
 * test-zone.c — the zone module against glibc as the judge: for several
 * zones (and POSIX TZ strings) this process sets TZ and compares
 * zone_localtime() with localtime_r() every hour from 1900 to 2100 and at
 * the second of every change and either side of it,
 * zone_mktime() with mktime() for every local wall-clock hour from 1970 to
 * 2040 and every half hour of the days around a change with tm_isdst -1
 * (so every gap and repeated hour of those years; for the zones after the
 * first six, the days around every change and every 7th day), with 0 and 1
 * on the days around every change and on every 29th day, and for random
 * out-of-range fields; the guess that
 * glibc keeps between mktime() calls is carried along in the same order.
 * Then the decoder's refusals: every truncation of a real file, bad
 * indices, counts, order, leap seconds and bad TZ strings.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/zone-load.h"
#include "format/zone.h"
#include "test.h"
#include "util/io.h"
#include "util/macro.h"

#define ZONEINFO "/usr/share/zoneinfo/"

static unsigned failures;
static unsigned long n_localtime, n_mktime;

static bool tm_equal(const struct tm *a, const struct tm *b) {
        return a->tm_year == b->tm_year && a->tm_mon == b->tm_mon && a->tm_mday == b->tm_mday &&
               a->tm_hour == b->tm_hour && a->tm_min == b->tm_min && a->tm_sec == b->tm_sec &&
               a->tm_wday == b->tm_wday && a->tm_yday == b->tm_yday && a->tm_isdst == b->tm_isdst &&
               a->tm_gmtoff == b->tm_gmtoff && a->tm_zone && b->tm_zone && streq(a->tm_zone, b->tm_zone);
}

static void report(const char *what, const char *zone, const struct tm *in, const struct tm *want, long long want_t,
                   const struct tm *got, long long got_t) {
        if (++failures > 20)
                return;
        fprintf(stderr,
                "%s %s: in %d-%02d-%02d %02d:%02d:%02d isdst=%d: glibc %lld %d-%02d-%02d %02d:%02d:%02d "
                "isdst=%d off=%ld %s, zone %lld %d-%02d-%02d %02d:%02d:%02d isdst=%d off=%ld %s\n",
                what, zone, in->tm_year + 1900, in->tm_mon + 1, in->tm_mday, in->tm_hour, in->tm_min, in->tm_sec,
                in->tm_isdst, want_t, want->tm_year + 1900, want->tm_mon + 1, want->tm_mday, want->tm_hour,
                want->tm_min, want->tm_sec, want->tm_isdst, want->tm_gmtoff, want->tm_zone ? want->tm_zone : "-",
                got_t, got->tm_year + 1900, got->tm_mon + 1, got->tm_mday, got->tm_hour, got->tm_min,
                got->tm_sec, got->tm_isdst, got->tm_gmtoff, got->tm_zone ? got->tm_zone : "-");
}

/* Loads the zone as the programs do (zone_load_local() from TZ) and sets
 * the same TZ for glibc. */
static Zone *use_tz(const char *tz) {
        Zone *z = NULL;

        check(setenv("TZ", tz, 1) == 0);
        tzset();
        check_int_eq(zone_load_local(&z, NULL), 0);
        /* tzname[], timezone and daylight right after reading the zone. */
        check_str_eq(zone_abbreviation(z, 0), tzname[0]);
        check_str_eq(zone_abbreviation(z, 1), tzname[1]);
        check(zone_is_utc_at(z, INT64_MIN) == (timezone == 0 && daylight == 0));
        return z;
}

static void compare_localtime_at(const Zone *z, const char *tz, time_t x) {
        struct tm want = {}, got = {};

        check(localtime_r(&x, &want));
        check_int_eq(zone_localtime(z, x, &got), 0);
        n_localtime++;
        if (!tm_equal(&want, &got))
                report("localtime", tz, &want, &want, (long long) x, &got, (long long) x);
        /* tzname[], timezone and daylight as glibc leaves them after converting x. */
        for (int k = 0; k <= 1; k++) {
                const char *ours = zone_abbreviation_at(z, k, x);

                if (!streq(ours ?: "", tzname[k] ?: "") && ++failures <= 20)
                        fprintf(stderr, "tzname[%d] %s at %lld: glibc \"%s\", zone \"%s\"\n", k, tz, (long long) x,
                                tzname[k] ?: "(null)", ours ?: "(null)");
        }
        if (zone_is_utc_at(z, x) != (timezone == 0 && daylight == 0) && ++failures <= 20)
                fprintf(stderr, "is UTC %s at %lld: glibc timezone=%ld daylight=%d, zone says %s\n", tz,
                        (long long) x, timezone, daylight, zone_is_utc_at(z, x) ? "UTC" : "not UTC");
}

/* Every hour from 1900 to 2100 UTC, and the exact second of every change
 * (found by bisecting glibc's answers) with the seconds on either side. */
static void compare_localtime(const Zone *z, const char *tz) {
        struct tm prev = {};

        for (int64_t t = INT64_C(-2208988800); t < INT64_C(4102444800); t += 3600) {
                struct tm tm;
                time_t x = (time_t) t;

                check(localtime_r(&x, &tm));
                compare_localtime_at(z, tz, x);
                if (t > INT64_C(-2208988800) &&
                    (tm.tm_gmtoff != prev.tm_gmtoff || tm.tm_isdst != prev.tm_isdst || !streq(tm.tm_zone, prev.tm_zone))) {
                        time_t lo = x - 3600, hi = x; /* lo before the change, hi after */

                        while (hi - lo > 1) {
                                time_t mid = lo + (hi - lo) / 2;
                                struct tm m;

                                check(localtime_r(&mid, &m));
                                if (m.tm_gmtoff == tm.tm_gmtoff && m.tm_isdst == tm.tm_isdst &&
                                    streq(m.tm_zone, tm.tm_zone))
                                        hi = mid;
                                else
                                        lo = mid;
                        }
                        compare_localtime_at(z, tz, lo);
                        compare_localtime_at(z, tz, hi);
                        compare_localtime_at(z, tz, hi + 1);
                }
                check(localtime_r(&x, &prev));
        }
}

static void compare_mktime_one(const Zone *z, const char *tz, const struct tm *in, int64_t *guess) {
        struct tm want = *in, got = *in;
        time_t tw, tg = -1;
        int r;

        tw = mktime(&want);
        r = zone_mktime(z, &got, guess, &tg);
        n_mktime++;
        if (tw == (time_t) -1 && r < 0)
                return;
        if (r < 0 || tw != tg || !tm_equal(&want, &got))
                report("mktime", tz, in, &want, (long long) tw, &got, r < 0 ? (long long) r : (long long) tg);
}

static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static int rnd(int lo, int hi) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return lo + (int) (rng_state % (uint64_t) (hi - lo + 1));
}

/* Days from 1970-01-01 to year-mon-mday (proleptic Gregorian). */
static int64_t day_number(int year, int mon, int mday) {
        struct tm tm = { .tm_year = year - 1900, .tm_mon = mon, .tm_mday = mday, .tm_hour = 12 };
        return (int64_t) timegm(&tm) / 86400;
}

#define DAYS (71 * 366 + 10)

/* every_day: every day from 1970 to 2040, else the days around a change
 * and every 7th. */
static void compare_mktime(const Zone *z, const char *tz, bool every_day) {
        static bool near_change[DAYS];
        int64_t guess = 0;
        struct tm prime, prev = {};
        time_t t0 = 86400;

        /* The local days around each change of offset or DST (from glibc). */
        memset(near_change, 0, sizeof near_change);
        for (time_t t = -86400; t < (time_t) INT64_C(2240611200); t += 900) {
                struct tm tm;

                check(localtime_r(&t, &tm));
                if (t > -86400 && (tm.tm_gmtoff != prev.tm_gmtoff || tm.tm_isdst != prev.tm_isdst))
                        for (int64_t d = -1; d <= 1; d++) {
                                int64_t day = (t + tm.tm_gmtoff) / 86400 + d;
                                if (day >= 0 && day < DAYS)
                                        near_change[day] = true;
                        }
                prev = tm;
        }

        /* glibc keeps the offset of its last mktime() result as the next
         * guess; an unambiguous first call puts both on the same footing. */
        check(localtime_r(&t0, &prime));
        compare_mktime_one(z, tz, &prime, &guess);

        /* Every wall-clock hour from 1970 to 2040 with tm_isdst -1, and the
         * half hours on the days around a change; with 0 and 1 the days
         * around a change and every 29th day (far from a change, asking
         * for the other kind of time sends both on a long search). */
        for (int year = 1970; year <= 2040; year++)
                for (int mon = 0; mon < 12; mon++)
                        for (int mday = 1; mday <= 31; mday++) {
                                int64_t day = day_number(year, mon, mday);
                                bool near = day >= 0 && day < DAYS && near_change[day];
                                bool all = near || day % 29 == 0;

                                if (!every_day && !near && day % 7 != 0)
                                        continue;

                                for (int hour = 0; hour < 24; hour++)
                                        for (int min = 0; min < 60; min += near ? 30 : 60)
                                                for (int isdst = -1; isdst <= (all ? 1 : -1); isdst++) {
                                                        struct tm in = {
                                                                .tm_year = year - 1900, .tm_mon = mon,
                                                                .tm_mday = mday, .tm_hour = hour,
                                                                .tm_min = min, .tm_isdst = isdst,
                                                        };
                                                        compare_mktime_one(z, tz, &in, &guess);
                                                }
                        }

        /* Fields out of range, normalized by both. */
        for (int i = 0; i < 20000; i++) {
                struct tm in = {
                        .tm_year = rnd(50, 160), .tm_mon = rnd(-30, 40), .tm_mday = rnd(-70, 100),
                        .tm_hour = rnd(-60, 90), .tm_min = rnd(-200, 200), .tm_sec = rnd(-200, 200),
                        .tm_isdst = rnd(-1, 1),
                };
                compare_mktime_one(z, tz, &in, &guess);
        }
}

static void test_against_glibc(void) {
        /* The first six every day, the others on the days around their
         * changes and every 7th day. */
        static const char *const zones[] = {
                "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Pacific/Apia", "Asia/Kolkata",
                "UTC", "Africa/Casablanca", "America/Sao_Paulo", "Europe/Dublin", "EST5EDT",
                /* UTC by their TZ string, not by their last transitions. */
                "America/Danmarkshavn", "Africa/Accra",
                /* POSIX TZ strings, not files. */
                "CET-1CEST,M3.5.0,M10.5.0/3", "<+0530>-5:30", "AEST-10AEDT,M10.1.0,M4.1.0/3",
                "IST-2IDT,M3.4.4/26,M10.5.0", "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", "XXX3EDT4,0/0,J365/25",
                "NZST-12NZDT,J60,J300/3", "WART4WARST,J1/0,J365/25",
        };
        const char *only = getenv("TEST_ZONE_ONLY");

        for (size_t i = 0; i < ELEMENTSOF(zones); i++) {
                _cleanup_(zone_freep) Zone *z = NULL;

                if (only && !streq(only, zones[i]))
                        continue;
                z = use_tz(zones[i]);
                n_localtime = n_mktime = 0;
                compare_localtime(z, zones[i]);
                compare_mktime(z, zones[i], i < 6);
                printf("  %s: %s (%lu localtime, %lu mktime)\n", zones[i], failures ? "DIFFERS" : "as glibc",
                       n_localtime, n_mktime);
                check_int_eq(failures, 0);
        }
        check(unsetenv("TZ") == 0);
        tzset();
}

static void test_utc(void) {
        const Zone *u = zone_utc();
        _cleanup_(zone_freep) Zone *z = NULL;
        struct tm tm, g;
        time_t t;

        check(zone_is_utc_at(u, 0));
        check_str_eq(zone_name(u), "UTC");
        check_str_eq(zone_abbreviation(u, 0), "UTC");
        check_int_eq(zone_new_utc(&z), 0);
        check(zone_is_utc_at(z, 0));
        for (t = -INT64_C(5000000000); t < INT64_C(5000000000); t += 7777777) {
                check_int_eq(zone_localtime(u, t, &tm), 0);
                check(gmtime_r(&t, &g));
                check_int_eq(tm.tm_year, g.tm_year);
                check_int_eq(tm.tm_yday, g.tm_yday);
                check_int_eq(tm.tm_wday, g.tm_wday);
                check_int_eq(tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec, g.tm_hour * 3600 + g.tm_min * 60 + g.tm_sec);
        }
        /* Beyond what a broken-down year holds. */
        check_int_eq(zone_localtime(u, (time_t) INT64_MAX, &tm), -EOVERFLOW);
}

static void test_loader(void) {
        _cleanup_(zone_freep) Zone *z = NULL;
        static const char *const bad[] = {
                "", "/etc/passwd", "../zoneinfo/UTC", "Europe//Berlin", "Europe/", "/Europe", "Europe",
                "Europe/Nowhere", "Europe/Berlin ", "a b",
        };

        check_int_eq(zone_load("Europe/Berlin", &z), 0);
        check_str_eq(zone_name(z), "Europe/Berlin");
        check_str_eq(zone_abbreviation(z, 0), "CET");
        check_str_eq(zone_abbreviation(z, 1), "CEST");
        check(!zone_is_utc_at(z, 0));
        z = zone_free(z);
        check_int_eq(zone_load("UTC", &z), 0);
        check(zone_is_utc_at(z, 0));
        z = zone_free(z);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                check_int_eq(zone_load(bad[i], &z), -ENOENT);
                check(!z);
        }
        check(zone_name_is_valid("America/Argentina/Buenos_Aires"));
        check(zone_name_is_valid("Etc/GMT+5"));
        check(!zone_name_is_valid("Etc/../UTC"));
        check(!zone_name_is_valid(".."));

        /* TZ as glibc reads it: empty is UTC, garbage is UTC, ":" a file. */
        check(setenv("TZ", "", 1) == 0);
        check_int_eq(zone_load_local(&z, NULL), 0);
        check(zone_is_utc_at(z, 0));
        z = zone_free(z);
        check(setenv("TZ", "!!nonsense", 1) == 0);
        check_int_eq(zone_load_local(&z, NULL), 0);
        check(zone_is_utc_at(z, 0));
        z = zone_free(z);
        check(setenv("TZ", ":Asia/Kolkata", 1) == 0);
        check_int_eq(zone_load_local(&z, NULL), 0);
        check_str_eq(zone_abbreviation(z, 0), "IST");
        z = zone_free(z);
        check(setenv("TZ", ZONEINFO "Europe/Berlin", 1) == 0);
        check_int_eq(zone_load_local(&z, NULL), 0);
        check_str_eq(zone_abbreviation(z, 1), "CEST");
        check_str_eq(zone_name(z), "Europe/Berlin");
        z = zone_free(z);
        check(setenv("TZ", ZONEINFO "posix/Europe/Berlin", 1) == 0);
        check_int_eq(zone_load_local(&z, NULL), 0);
        check_str_eq(zone_name(z), "Europe/Berlin");
        z = zone_free(z);
        /* A TZ string is named as given; /etc/localtime by its link into
         * the zoneinfo directory (a copy is "localtime"). */
        check(setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1) == 0);
        check_int_eq(zone_load_local(&z, NULL), 0);
        check_str_eq(zone_name(z), "CET-1CEST,M3.5.0,M10.5.0/3");
        z = zone_free(z);
        check(unsetenv("TZ") == 0);
        {
                char target[4096];
                ssize_t n = readlink("/etc/localtime", target, sizeof target - 1);
                const char *in = n > 0 ? (target[n] = 0, strstr(target, "/zoneinfo/")) : NULL;

                check(zone_local_is_localtime());
                check_int_eq(zone_load_local(&z, NULL), 0);
                check_str_eq(zone_name(z), in ? in + strlen("/zoneinfo/") : "localtime");
                z = zone_free(z);
                /* TZ naming /etc/localtime is /etc/localtime, named and followed the same. */
                for (size_t i = 0; i < 2; i++) {
                        check(setenv("TZ", i == 0 ? ":/etc/localtime" : "/etc/localtime", 1) == 0);
                        check(zone_local_is_localtime());
                        check_int_eq(zone_load_local(&z, NULL), 0);
                        check_str_eq(zone_name(z), in ? in + strlen("/zoneinfo/") : "localtime");
                        z = zone_free(z);
                }
                check(setenv("TZ", ":/etc/localtime.old", 1) == 0);
                check(!zone_local_is_localtime());
                check(unsetenv("TZ") == 0);
        }
        /* A zone with leap seconds is UTC, and that is said (it is no
         * missing file: the schedule would run hours off without a word). */
        {
                _cleanup_free_ char *reason = NULL;

                check(setenv("TZ", "!!nonsense", 1) == 0);
                check_int_eq(zone_load_local(&z, &reason), 0);
                check(reason == NULL);
                z = zone_free(z);
                check(setenv("TZ", "right/Europe/Berlin", 1) == 0);
                check_int_eq(zone_load_local(&z, &reason), 0);
                check(zone_is_utc_at(z, 0));
                check(reason && strstr(reason, "TZ=right/Europe/Berlin") && strstr(reason, "leap seconds") &&
                      strstr(reason, "use UTC instead"));
                z = zone_free(z);
        }
        check(unsetenv("TZ") == 0);
}

/* ---- the decoder's refusals ------------------------------------------------ */

typedef struct Buf {
        uint8_t b[4096];
        size_t n;
} Buf;

static void put(Buf *b, const void *p, size_t n) {
        check(b->n + n <= sizeof b->b);
        memcpy(b->b + b->n, p, n);
        b->n += n;
}

static void put32(Buf *b, uint32_t v) {
        uint8_t x[4] = { (uint8_t) (v >> 24), (uint8_t) (v >> 16), (uint8_t) (v >> 8), (uint8_t) v };
        put(b, x, 4);
}

static void put64(Buf *b, uint64_t v) {
        put32(b, (uint32_t) (v >> 32));
        put32(b, (uint32_t) v);
}

typedef struct Spec {
        char version;
        uint32_t timecnt, typecnt, charcnt, leapcnt;
        int64_t times[2];
        uint8_t idx[2];
        int32_t utoff[2];
        uint8_t isdst[2], desig[2];
        const char *chars; /* charcnt bytes */
        const char *footer;
} Spec;

static void header(Buf *b, const Spec *s) {
        uint8_t zero[15] = {};

        put(b, "TZif", 4);
        put(b, &s->version, 1);
        put(b, zero, 15);
        put32(b, 0);
        put32(b, 0);
        put32(b, s->leapcnt);
        put32(b, s->timecnt);
        put32(b, s->typecnt);
        put32(b, s->charcnt);
}

static void block(Buf *b, const Spec *s, bool wide) {
        for (uint32_t i = 0; i < s->timecnt; i++)
                wide ? put64(b, (uint64_t) s->times[i]) : put32(b, (uint32_t) s->times[i]);
        put(b, s->idx, s->timecnt);
        for (uint32_t i = 0; i < s->typecnt; i++) {
                put32(b, (uint32_t) s->utoff[i]);
                put(b, &s->isdst[i], 1);
                put(b, &s->desig[i], 1);
        }
        put(b, s->chars, s->charcnt);
        for (uint32_t i = 0; i < s->leapcnt; i++) {
                wide ? put64(b, 78796800) : put32(b, 78796800);
                put32(b, 1);
        }
}

static int decode(const Spec *s) {
        _cleanup_(zone_freep) Zone *z = NULL;
        Buf b = {};
        int r;

        header(&b, s);
        block(&b, s, false);
        if (s->version) {
                header(&b, s);
                block(&b, s, true);
                put(&b, s->footer, strlen(s->footer));
        }
        r = zone_from_tzif(b.b, b.n, "test", &z);
        check((r == 0) == (z != NULL));
        return r;
}

static void test_decoder(void) {
        const Spec good = {
                .version = '2', .timecnt = 2, .typecnt = 2, .charcnt = 8,
                .times = { 1000, 2000 }, .idx = { 1, 0 }, .utoff = { 3600, 7200 },
                .isdst = { 0, 1 }, .desig = { 0, 4 }, .chars = "CET\0CEST", .footer = "\nCET-1CEST,M3.5.0,M10.5.0/3\n",
        };
        Spec s;

        check_int_eq(decode(&good), 0);
        s = good, s.version = 0;
        check_int_eq(decode(&s), 0);
        s = good, s.version = '3', s.footer = "\n\n";
        check_int_eq(decode(&s), 0);

        s = good, s.idx[1] = 2; /* type index out of range */
        check_int_eq(decode(&s), -EBADMSG);
        s = good, s.desig[1] = 8; /* abbreviation index out of range */
        check_int_eq(decode(&s), -EBADMSG);
        s = good, s.times[1] = 1000; /* not ascending */
        check_int_eq(decode(&s), -EBADMSG);
        s = good, s.typecnt = 0, s.timecnt = 0;
        check_int_eq(decode(&s), -EBADMSG);
        s = good, s.charcnt = 0, s.desig[0] = s.desig[1] = 0;
        check_int_eq(decode(&s), -EBADMSG);
        s = good, s.isdst[0] = 2;
        check_int_eq(decode(&s), -EBADMSG);
        s = good, s.utoff[0] = INT32_MIN;
        check_int_eq(decode(&s), -EBADMSG);
        s = good, s.version = 'x';
        check_int_eq(decode(&s), -EBADMSG);
        s = good, s.leapcnt = 1;
        check_int_eq(decode(&s), -EOPNOTSUPP);
        s = good, s.footer = "\nCET-1CEST,M13.5.0\n";
        check_int_eq(decode(&s), -EBADMSG);
        s = good, s.footer = "CET-1\n";
        check_int_eq(decode(&s), -EBADMSG);
        s = good, s.footer = "\nCET-1";
        check_int_eq(decode(&s), -EBADMSG);

        /* Every truncation of real files fails cleanly. */
        static const char *const files[] = { "Europe/Berlin", "Australia/Lord_Howe", "UTC" };
        for (size_t f = 0; f < ELEMENTSOF(files); f++) {
                _cleanup_free_ char *buf = NULL, *path = NULL;
                size_t n;

                check(asprintf(&path, ZONEINFO "%s", files[f]) > 0);
                check_int_eq(read_full_file(path, 1 << 20, &buf, &n), 0);
                for (size_t k = 0; k < n; k++) {
                        Zone *z = NULL;
                        int r = zone_from_tzif((const uint8_t *) buf, k, files[f], &z);
                        check(r == -EBADMSG);
                        check(!z);
                }
        }
}

static void test_rules(void) {
        static const char *const good[] = {
                "UTC0", "EST5", "<+0530>-5:30", "CET-1CEST,M3.5.0,M10.5.0/3", "EST5EDT",
                "IST-2IDT,M3.4.4/26,M10.5.0", "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", "XXX3EDT4,0/0,J365/25",
                "AAA+01:30:15BBB-02:00:00,J1/167,J365/-167",
        };
        static const char *const bad[] = {
                "", "E5", "EST", "ESTX", "EST5EDT,", "EST5EDT,M3.2.0", "EST5EDT,M3.2.0,", "EST5EDT,M0.2.0,M11.1.0",
                "EST5EDT,M3.6.0,M11.1.0", "EST5EDT,M3.2.7,M11.1.0", "EST5EDT,J0,J365", "EST5EDT,366,0",
                "EST25", "EST5:60", "<AB>5", "<ABC5", "EST5EDT,M3.2.0/168,M11.1.0", "EST5 ",
                "ESTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT5",
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_(zone_freep) Zone *z = NULL;
                check_int_eq(zone_from_rule(good[i], &z), 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Zone *z = NULL;
                if (zone_from_rule(bad[i], &z) != -EINVAL) {
                        fprintf(stderr, "\"%s\" was accepted\n", bad[i]);
                        abort();
                }
                check(!z);
        }
}

int main(void) {
        TEST_RUN(test_utc);
        TEST_RUN(test_loader);
        TEST_RUN(test_rules);
        TEST_RUN(test_decoder);
        TEST_RUN(test_against_glibc);
        return 0;
}
