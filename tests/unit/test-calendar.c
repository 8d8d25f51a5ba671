/* SPDX-License-Identifier: MIT */
/*
 * test-calendar.c — the calendar-event module against results taken from
 * systemd 252's `systemd-analyze calendar`: a parse/normalize table, a
 * next-elapse table in UTC (TZ=UTC), the rejects with their error codes,
 * expressions that name a zone (and leave TZ as it was), and a check that
 * expressions which never elapse give up quickly. The full comparison with
 * the real systemd-analyze lives in tests/integration/calendar-parity.sh.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/zone-load.h"
#include "format/calendar.h"
#include "test.h"
#include "util/macro.h"

/* The local zone, read at the edge as the programs do. */
static Zone *local;

static void set_tz(const char *tz) {
        if (tz)
                check(setenv("TZ", tz, 1) == 0);
        else
                check(unsetenv("TZ") == 0);
        local = zone_free(local);
        check_int_eq(zone_load_local(&local, NULL), 0);
}

/* Whether the zone loader knows name. */
static bool zone_exists(const char *name) {
        _cleanup_(zone_freep) Zone *z = NULL;
        return zone_load(name, &z) == 0;
}

/* "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC → usec. */
static uint64_t utc(const char *s) {
        struct tm tm = {};
        unsigned frac = 0;
        int n = sscanf(s, "%d-%d-%d %d:%d:%d.%6u", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                       &tm.tm_min, &tm.tm_sec, &frac);
        time_t t;

        check(n == 6 || n == 7);
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        t = timegm(&tm);
        check(t != (time_t) -1);
        return (uint64_t) t * USEC_PER_SEC + frac;
}

static const char *fmt_utc(uint64_t usec) {
        static char buf[64];
        time_t t = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;

        check(gmtime_r(&t, &tm));
        check(strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm) > 0);
        if (usec % USEC_PER_SEC)
                snprintf(buf + strlen(buf), sizeof buf - strlen(buf), ".%06u",
                         (unsigned) (usec % USEC_PER_SEC));
        return buf;
}

static void check_normalized(const char *in, const char *want) {
        _cleanup_(calendar_spec_freep) CalendarSpec *spec = NULL;
        _cleanup_free_ char *got = NULL;
        int r = calendar_spec_from_string(in, local, &zone_loader_system, &spec);

        if (r < 0) {
                fprintf(stderr, "cannot parse \"%s\": %s\n", in, strerror(-r));
                abort();
        }
        check_int_eq(calendar_spec_to_string(spec, &got), 0);
        check_str_eq(got, want);
}

static void test_normalize(void) {
        static const struct {
                const char *in, *out;
        } table[] = {
                { "minutely", "*-*-* *:*:00" },
                { "hourly", "*-*-* *:00:00" },
                { "daily", "*-*-* 00:00:00" },
                { "DAILY", "*-*-* 00:00:00" },
                { "weekly", "Mon *-*-* 00:00:00" },
                { "monthly", "*-*-01 00:00:00" },
                { "yearly", "*-01-01 00:00:00" },
                { "annually", "*-01-01 00:00:00" },
                { "quarterly", "*-01,04,07,10-01 00:00:00" },
                { "semiannually", "*-01,07-01 00:00:00" },
                { "semi-annually", "*-01,07-01 00:00:00" },
                { "bi-annually", "*-01,07-01 00:00:00" },
                { "*-*-* 02:00:00", "*-*-* 02:00:00" },
                { "*-*-* 02:00", "*-*-* 02:00:00" },
                { "2:00", "*-*-* 02:00:00" },
                { "1:2:3", "*-*-* 01:02:03" },
                { "*:0/15", "*-*-* *:00/15:00" },
                { "*:*", "*-*-* *:*:00" },
                { "*:*:*", "*-*-* *:*:*" },
                { "*-*", "*-*-* 00:00:00" },
                { "12-1", "*-12-01 00:00:00" },
                { "Mon..Fri 9:00", "Mon..Fri *-*-* 09:00:00" },
                { "Mon,Tue,Wed 12:00", "Mon..Wed *-*-* 12:00:00" },
                { "Mon,Wed,Fri,Sat,Sun 12:00", "Mon,Wed,Fri..Sun *-*-* 12:00:00" },
                { "Sun,Mon 12:00", "Mon,Sun *-*-* 12:00:00" },
                { "Sat,Sun 10:00", "Sat,Sun *-*-* 10:00:00" },
                { "MONDAY,sun 9:00", "Mon,Sun *-*-* 09:00:00" },
                { "Mon-Wed 9:00", "Mon..Wed *-*-* 09:00:00" },
                { "Mon..Sun 12:00", "*-*-* 12:00:00" },
                { "Mon, 9:00", "Mon *-*-* 09:00:00" },
                { "Mon", "Mon *-*-* 00:00:00" },
                { "*-02~01", "*-02~01 00:00:00" },
                { "*~01", "*-*~01 00:00:00" },
                { "*-*~07/1", "*-*~07/1 00:00:00" },
                { "*-*~1..3", "*-*~01..03 00:00:00" },
                { "*-*~*", "*-*-* 00:00:00" },
                { "*-*-1..31/1", "*-*-01..31 00:00:00" },
                { "*-*-* 01..01:00", "*-*-* 01:00:00" },
                { "*-*-* 1..3/5:00", "*-*-* 01:00:00" },
                { "*:0..59/60", "*-*-* *:00:00" },
                { "9..17/2:00", "*-*-* 09..17/2:00:00" },
                { "*-*-* 5,3,3,1:00", "*-*-* 01,03,05:00:00" },
                { "*:*:0/0.5", "*-*-* *:*:00/0.500000" },
                { "*:*:1.1234567", "*-*-* *:*:01.123457" },
                { "*:*:59.999999", "*-*-* *:*:59.999999" },
                { "*:*:0..1", "*-*-* *:*:00..01" },
                { "*:*:0.5..1.5", "*-*-* *:*:00.500000..01.500000" },
                { "*:*:0..1/0.25", "*-*-* *:*:00..01/0.250000" },
                { "13:*:31/7.5,0/1", "*-*-* 13:*:*" }, /* "every second" covers the rest */
                { "70-01-01", "1970-01-01 00:00:00" },
                { "00-01-01", "2000-01-01 00:00:00" },
                { "69-1-1", "2069-01-01 00:00:00" },
                { "99..01-1-1", "1999..2001-01-01 00:00:00" },
                { "2024-02~1", "2024-02~01 00:00:00" },
                { "@0", "1970-01-01 00:00:00 UTC" },
                { "@1700000000", "2023-11-14 22:13:20 UTC" },
                { "Mon @5", "Mon 1970-01-01 00:00:05 UTC" },
                { "daily UTC", "*-*-* 00:00:00 UTC" },
                { "daily utc", "*-*-* 00:00:00 UTC" },
                { "*-*-* 02:00 Europe/Berlin", "*-*-* 02:00:00 Europe/Berlin" },
                { "weekly Etc/GMT+5", "Mon *-*-* 00:00:00 Etc/GMT+5" },
        };

        set_tz("UTC");
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                check_normalized(table[i].in, table[i].out);

        /* The local zone's own abbreviations are kept and printed back. */
        set_tz("Europe/Berlin");
        check_normalized("*-*-* 02:00 CET", "*-*-* 02:00:00 CET");
        check_normalized("daily cest", "*-*-* 00:00:00 CEST");
        set_tz("UTC");
}

/* Each expression with a base time and the elapses after it (UTC). */
static void test_next_utc(void) {
        static const struct {
                const char *expr, *base;
                const char *next[5]; /* NULL-terminated; none: never */
        } table[] = {
                { "daily", "2024-03-30 12:00:00",
                  { "2024-03-31 00:00:00", "2024-04-01 00:00:00", "2024-04-02 00:00:00" } },
                { "*-*-* 02:00", "2024-12-31 02:00:00", { "2025-01-01 02:00:00", "2025-01-02 02:00:00" } },
                { "Mon..Fri 9:00", "2024-03-29 09:00:00", /* a Friday */
                  { "2024-04-01 09:00:00", "2024-04-02 09:00:00" } },
                { "Sat,Sun 10:00", "2024-03-30 12:00:00", { "2024-03-31 10:00:00", "2024-04-06 10:00:00" } },
                { "*-02~01", "2024-01-01 00:00:00",
                  { "2024-02-29 00:00:00", "2025-02-28 00:00:00", "2026-02-28 00:00:00" } },
                { "*-*~07/1", "2024-02-28 12:00:00",
                  { "2024-02-29 00:00:00", "2024-03-25 00:00:00", "2024-03-26 00:00:00" } },
                { "*-*~04/2", "2024-03-30 12:00:00", { "2024-04-27 00:00:00", "2024-04-29 00:00:00" } },
                { "*-*~1..3", "2024-03-30 12:00:00", { "2024-03-31 00:00:00", "2024-04-28 00:00:00" } },
                { "*-02-29", "2024-03-01 00:00:00", { "2028-02-29 00:00:00", "2032-02-29 00:00:00" } },
                { "Mon *-02-29", "1970-01-02 00:00:00",
                  { "1988-02-29 00:00:00", "2016-02-29 00:00:00", "2044-02-29 00:00:00" } },
                { "*-*-31", "1970-01-02 00:00:00", { "1970-01-31 00:00:00", "1970-03-31 00:00:00" } },
                { "*-*-1/10 06:00", "2024-02-28 12:00:00", /* Feb 31 must not skip Mar 1 */
                  { "2024-03-01 06:00:00", "2024-03-11 06:00:00", "2024-03-21 06:00:00",
                    "2024-03-31 06:00:00", "2024-04-01 06:00:00" } },
                { "*:0/25", "2024-01-01 01:55:00", { "2024-01-01 02:00:00", "2024-01-01 02:25:00" } },
                { "*:*:0/25", "2024-01-01 01:59:55", { "2024-01-01 02:00:25", "2024-01-01 02:00:50" } },
                { "*:*:0/0.5", "2024-03-30 12:00:00",
                  { "2024-03-30 12:00:00.500000", "2024-03-30 12:00:01", "2024-03-30 12:00:01.500000" } },
                { "*:*:*", "2024-12-31 23:59:59", { "2025-01-01 00:00:00", "2025-01-01 00:00:01" } },
                { "hourly", "2024-03-30 12:00:00.000001", { "2024-03-30 13:00:00" } },
                { "quarterly", "2024-03-30 12:00:00", { "2024-04-01 00:00:00", "2024-07-01 00:00:00" } },
                { "24-12-31 23:59:59", "2024-01-01 00:00:00", { "2024-12-31 23:59:59" } },
                { "2199-12-31 23:59:59", "2199-12-31 00:00:00", { "2199-12-31 23:59:59" } },
                { "2020-01-01", "2024-01-01 00:00:00", { NULL } },
                { "*-02-30", "1970-01-02 00:00:00", { NULL } },
                { "@1700000000", "2023-01-01 00:00:00", { "2023-11-14 22:13:20" } },
                { "@1700000000", "2023-11-14 22:13:20", { NULL } },
                { "2024..2026-03-31", "2025-06-01 00:00:00", { "2026-03-31 00:00:00" } },
        };

        set_tz("UTC");
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_(calendar_spec_freep) CalendarSpec *spec = NULL;
                uint64_t t = utc(table[i].base), next = 0;
                size_t k;

                check_int_eq(calendar_spec_from_string(table[i].expr, local, &zone_loader_system, &spec), 0);
                for (k = 0; k < ELEMENTSOF(table[i].next) && table[i].next[k]; k++) {
                        int r = calendar_spec_next_usec(spec, local, t, &next);
                        if (r < 0 || next != utc(table[i].next[k])) {
                                fprintf(stderr, "%s from %s #%zu: got %s (%s), want %s\n", table[i].expr,
                                        table[i].base, k + 1, r < 0 ? "-" : fmt_utc(next),
                                        strerror(r < 0 ? -r : 0), table[i].next[k]);
                                abort();
                        }
                        t = next;
                }
                if (k == 0)
                        check_int_eq(calendar_spec_next_usec(spec, local, t, &next), -ENOENT);
        }
}

static void test_reject(void) {
        static const struct {
                const char *in;
                int error;
        } table[] = {
                { "", -EINVAL },
                { " ", -EINVAL },
                { "bad", -EINVAL },
                { "today", -EINVAL },
                { "tomorrow", -EINVAL },
                { "*", -EINVAL },
                { "12", -EINVAL },
                { "1:", -EINVAL },
                { ":1", -EINVAL },
                { "1:2:3:4", -EINVAL },
                { "*-*-* 25:00", -EINVAL },
                { "*-*-* 24:00", -EINVAL },
                { "*-*-* 23:60", -EINVAL },
                { "*:*:60", -EINVAL },
                { "*-13-1", -EINVAL },
                { "*-0-1", -EINVAL },
                { "*-1-0", -EINVAL },
                { "*-1-32", -EINVAL },
                { "1969-1-1", -EINVAL },
                { "2200-1-1", -EINVAL },
                { "100-1-1", -EINVAL },
                { "*-*-*-*", -EINVAL },
                { "*-*-~1", -EINVAL },
                { "*-*~29", -EINVAL },
                { "*-*~3..1", -EINVAL },
                { "*-*~1/2", -EINVAL },
                { "*-*~1,26", -EINVAL },
                { "2024~01-01", -EINVAL },
                { "*-*-* 4..2:00", -EINVAL },
                { "*-*-* 0/24:00", -EINVAL },
                { "*-*-* 1/23:00", -EINVAL },
                { "*:*:0..0.5", -EINVAL },
                { "*:*:1.", -EINVAL },
                { "*:*:.5", -EINVAL },
                { "*:*:1.5.5", -EINVAL },
                { "*:*:0/60", -EINVAL },
                { "*:*:2147", -EINVAL },
                { "Mon.. 9:00", -EINVAL },
                { "Wed..Mon 9:00", -EINVAL },
                { "Mon,,Tue 9:00", -EINVAL },
                { "Monx 9:00", -EINVAL },
                { "Mon-", -EINVAL },
                { "daily Europe", -EINVAL },
                { "daily europe/berlin", -EINVAL },
                { "daily  UTC", -EINVAL },
                { "daily UTC UTC", -EINVAL },
                { "UTC", -EINVAL },
                { "9:00 ", -EINVAL },
                { "  9:00", -EINVAL },
                { "Mon *-*-* 09:00:00   ", -EINVAL },
                { "*-*-* 12:00 junk", -EINVAL },
                { "12:00:00x", -EINVAL },
                { "daily daily", -EINVAL },
                { "*-*-* 1,,2:00", -EINVAL },
                { "@-1", -EINVAL },
                { "@", -EINVAL },
                { "@1.5", -EINVAL },
                { "@1700000000 12:00", -EINVAL },
                { "@99999999999", -EINVAL },
                /* overflowing numbers */
                { "*-*-* 0/0:00", -ERANGE },
                { "*:*:0/0", -ERANGE },
                { "*:*:2148", -ERANGE },
                { "*:*:1/0.0000001", -ERANGE },
                { "*-*-* 99999999999:00", -ERANGE },
                { "*-*-* 2147483648:00", -ERANGE },
                { "99999999999999999999999999-1-1", -ERANGE },
                { "@99999999999999999999999", -ERANGE },
                { "@9223372036854775808", -ERANGE },
        };

        set_tz("UTC");
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                CalendarSpec *spec = NULL;
                int r = calendar_spec_from_string(table[i].in, local, &zone_loader_system, &spec);
                if (r != table[i].error) {
                        fprintf(stderr, "\"%s\": got %d, want %d\n", table[i].in, r, table[i].error);
                        abort();
                }
                check(!spec);
        }
}

/* Huge lists and repetitions: at most 241 items per field. */
static void test_limits(void) {
        _cleanup_free_ char *ok = NULL, *many = NULL;
        _cleanup_(calendar_spec_freep) CalendarSpec *spec = NULL;
        CalendarSpec *none = NULL;
        size_t n = 241 * 2 + 8;

        set_tz("UTC");
        ok = malloc(n);
        many = malloc(n + 2);
        check(ok && many);
        ok[0] = 0;
        for (int i = 0; i < 241; i++)
                strcat(ok, i ? ",1" : "1");
        strcpy(many, ok);
        strcat(ok, ":00");
        strcat(many, ",1:00");
        check_int_eq(calendar_spec_from_string(ok, local, &zone_loader_system, &spec), 0);
        check_int_eq(calendar_spec_from_string(many, local, &zone_loader_system, &none), -ENOBUFS);
        check(!none);

        check(calendar_spec_free(NULL) == NULL);
}

static void test_zones(void) {
        _cleanup_(calendar_spec_freep) CalendarSpec *spec = NULL;
        uint64_t next = 0;

        check(zone_exists("UTC"));
        check(zone_exists("Europe/Berlin"));
        check(!zone_exists("Europe"));
        check(!zone_exists("/etc/passwd"));
        check(!zone_exists("../zoneinfo/UTC"));
        check(!zone_exists("Europe//Berlin"));
        check(!zone_exists("Europe/"));
        check(!zone_exists(""));

        /* Berlin: 02:30 does not exist on 2024-03-31; the next is 02:30 CEST on Apr 1. */
        set_tz("UTC");
        check_int_eq(calendar_spec_from_string("*-*-* 02:30 Europe/Berlin", local, &zone_loader_system, &spec), 0);
        check_int_eq(calendar_spec_next_usec(spec, local, utc("2024-03-30 12:00:00"), &next), 0);
        check_str_eq(fmt_utc(next), "2024-04-01 00:30:00");
        check_int_eq(calendar_spec_next_usec(spec, local, next, &next), 0);
        check_str_eq(fmt_utc(next), "2024-04-02 00:30:00");
        /* TZ is left as it was. */
        check_str_eq(getenv("TZ"), "UTC");

        set_tz(NULL);
        check_int_eq(calendar_spec_next_usec(spec, local, utc("2024-10-26 12:00:00"), &next), 0);
        check_str_eq(fmt_utc(next), "2024-10-27 00:30:00");
        check(!getenv("TZ"));
        set_tz("UTC");

        /* Local time: Lord Howe's half-hour DST change. */
        spec = calendar_spec_free(spec);
        set_tz("Australia/Lord_Howe");
        check_int_eq(calendar_spec_from_string("*:*:*", local, &zone_loader_system, &spec), 0);
        check_int_eq(calendar_spec_next_usec(spec, local, utc("2024-10-05 15:29:59"), &next), 0);
        check_str_eq(fmt_utc(next), "2024-10-05 15:30:00");
        check(!zone_is_utc_at(local, 0));
        set_tz("UTC");
        check(zone_is_utc_at(local, 0));
}

/* Expressions that never elapse again must give up fast. */
static void test_bounded(void) {
        static const char *const never[] = {
                "*-02-30", "*-02-31", "*-04-31 12:00", "Mon 2199-02-29", "*-11-31 UTC",
                "Sat *-02-30..31", "2199-12-31 23:59:59.999999", "2199-12-31 23:59:59 Asia/Kolkata",
        };

        set_tz("Europe/Berlin");
        for (size_t i = 0; i < ELEMENTSOF(never); i++) {
                _cleanup_(calendar_spec_freep) CalendarSpec *spec = NULL;
                struct timespec a, b;
                uint64_t t = utc("1970-01-02 00:00:00"), next;
                int r = 0;

                check_int_eq(calendar_spec_from_string(never[i], local, &zone_loader_system, &spec), 0);
                clock_gettime(CLOCK_MONOTONIC, &a);
                for (int k = 0; k < 1000 && r == 0; k++) {
                        r = calendar_spec_next_usec(spec, local, t, &next);
                        if (r == 0) {
                                check(next > t);
                                t = next;
                        }
                }
                clock_gettime(CLOCK_MONOTONIC, &b);
                check(r == -ENOENT || r == -EDEADLK);
                check(b.tv_sec - a.tv_sec < 20);
        }
        /* Beyond the year 9999 the start itself is refused. */
        {
                _cleanup_(calendar_spec_freep) CalendarSpec *spec = NULL;
                uint64_t next;
                check_int_eq(calendar_spec_from_string("daily", local, &zone_loader_system, &spec), 0);
                check_int_eq(calendar_spec_next_usec(spec, local, UINT64_MAX - 1, &next), -EINVAL);
        }
        set_tz("UTC");
}

int main(void) {
        TEST_RUN(test_normalize);
        TEST_RUN(test_next_utc);
        TEST_RUN(test_reject);
        TEST_RUN(test_limits);
        TEST_RUN(test_zones);
        TEST_RUN(test_bounded);
        zone_free(local);
        return 0;
}
