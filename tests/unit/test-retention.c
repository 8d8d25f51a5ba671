/* SPDX-License-Identifier: MIT */
/*
 * test-retention.c — the retention planner: hand-written cases for each rule
 * and edge (empty, ties, ISO week 53, DST hours, the forced newest verified
 * backup), then a comparison with a reference planner written here the
 * obvious way (strftime bucket strings, a list of buckets seen) over a few
 * hundred irregular backups and random policies, in three time zones.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/zone-load.h"
#include "format/retention.h"
#include "test.h"
#include "util/macro.h"

/* The zone the planner is given, read at the edge from TZ as the daemon
 * does; the reference planner below uses glibc's localtime_r() on the same
 * TZ. */
static Zone *local;

static void set_tz(const char *tz) {
        check(setenv("TZ", tz, 1) == 0);
        tzset();
        local = zone_free(local);
        check_int_eq(zone_load_local(&local, NULL), 0);
}

static uint64_t utc(int year, int mon, int day, int hour, int min, int sec) {
        struct tm tm = {
                .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day,
                .tm_hour = hour, .tm_min = min, .tm_sec = sec,
        };
        time_t t = timegm(&tm);
        check(t != (time_t) -1);
        return (uint64_t) t * USEC_PER_SEC;
}

/* "name:reasons name:- …" in the planned order, for compact expectations. */
static const char *describe(const RetentionItem *items, size_t n) {
        static char out[4096];
        size_t used = 0;

        out[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                char reasons[RETENTION_REASONS_MAX];
                int r;

                check(items[i].keep == (items[i].reasons != 0));
                retention_reasons_to_string(items[i].reasons, reasons, sizeof reasons);
                r = snprintf(out + used, sizeof out - used, "%s%s:%s", i > 0 ? " " : "",
                             items[i].name, items[i].keep ? reasons : "-");
                check(r > 0 && (size_t) r < sizeof out - used);
                used += (size_t) r;
        }
        return out;
}

static void test_reasons_to_string(void) {
        char buf[RETENTION_REASONS_MAX], small[8];

        check_str_eq(retention_reasons_to_string(0, buf, sizeof buf), "");
        check_str_eq(retention_reasons_to_string(RETENTION_KEEP_LAST | RETENTION_KEEP_DAILY, buf, sizeof buf),
                     "last,daily");
        check_str_eq(retention_reasons_to_string(RETENTION_KEEP_NEWEST_VERIFIED, buf, sizeof buf),
                     "newest-verified");
        check_str_eq(retention_reasons_to_string(~0u, buf, sizeof buf),
                     "last,hourly,daily,weekly,monthly,yearly,newest-verified,all,earlier-history,new-history,future");
        check_str_eq(retention_reasons_to_string(1u << 20, buf, sizeof buf), "");
        check_str_eq(retention_reasons_to_string(RETENTION_KEEP_ALL, buf, sizeof buf), "all");

        /* Too small: truncated, terminated, and never past the end. */
        check(retention_reasons_to_string(RETENTION_KEEP_LAST | RETENTION_KEEP_MONTHLY, small, sizeof small) == small);
        check_str_eq(small, "last,mo");
        check(retention_reasons_to_string(RETENTION_KEEP_LAST, small, 1) == small);
        check_str_eq(small, "");
        check(retention_reasons_to_string(RETENTION_KEEP_LAST, NULL, 0) == NULL);
}

static void test_disabled_and_invalid(void) {
        RetentionPolicy zero = {}, daily = { .keep_daily = 1 };
        RetentionItem items[] = {
                { .name = "a", .created_usec = utc(2021, 1, 1, 0, 0, 0), .verified = true },
                { .name = "b", .created_usec = utc(2021, 1, 2, 0, 0, 0) },
                { .name = "c", .created_usec = utc(2021, 1, 3, 0, 0, 0) },
        };
        RetentionItem unnamed[] = {
                { .name = "a", .created_usec = 2 },
                { .name = NULL, .created_usec = 1 },
        };

        check(retention_policy_is_disabled(&zero));
        check(retention_policy_is_disabled(NULL));
        check(!retention_policy_is_disabled(&daily));
        check(!retention_policy_is_disabled(&(RetentionPolicy) { .keep_last = 1 }));
        check(!retention_policy_is_disabled(&(RetentionPolicy) { .keep_hourly = 1 }));
        check(!retention_policy_is_disabled(&(RetentionPolicy) { .keep_weekly = 1 }));
        check(!retention_policy_is_disabled(&(RetentionPolicy) { .keep_monthly = 1 }));
        check(!retention_policy_is_disabled(&(RetentionPolicy) { .keep_yearly = 1 }));

        check_int_eq(retention_plan(NULL, local, items, ELEMENTSOF(items)), -EINVAL);
        check_int_eq(retention_plan(&daily, NULL, items, ELEMENTSOF(items)), -EINVAL);
        check_int_eq(retention_plan(&daily, local, NULL, 1), -EINVAL);
        check_int_eq(retention_plan(&daily, local, NULL, 0), 0);
        check_int_eq(retention_plan(&zero, local, NULL, 0), 0);

        /* A nameless item is refused before anything is touched. */
        check_int_eq(retention_plan(&daily, local, unnamed, ELEMENTSOF(unnamed)), -EINVAL);
        check_str_eq(unnamed[0].name, "a");
        check(!unnamed[0].keep);

        /* All zero keeps everything; the newest verified is still marked. */
        check_int_eq(retention_plan(&zero, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)), "c:all b:all a:newest-verified,all");
}

static void test_one_item(void) {
        RetentionItem item = { .name = "only", .created_usec = utc(2021, 5, 5, 5, 5, 5) };
        const RetentionPolicy policies[] = {
                { .keep_last = 1 }, { .keep_hourly = 1 }, { .keep_daily = 3 },
                { .keep_weekly = 1 }, { .keep_monthly = 100 }, { .keep_yearly = 2 },
        };
        const char *expected[] = { "only:last", "only:hourly", "only:daily", "only:weekly", "only:monthly",
                                   "only:yearly" };

        for (size_t i = 0; i < ELEMENTSOF(policies); i++) {
                item.keep = false;
                item.reasons = 0;
                check_int_eq(retention_plan(&policies[i], local, &item, 1), 0);
                check_str_eq(describe(&item, 1), expected[i]);
        }

        item.verified = true;
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_last = 1 }, local, &item, 1), 0);
        check_str_eq(describe(&item, 1), "only:last,newest-verified");
}

static void test_keep_last(void) {
        RetentionItem items[] = {
                { .name = "b", .created_usec = utc(2021, 3, 1, 10, 0, 0) },
                { .name = "e", .created_usec = utc(2021, 3, 1, 13, 0, 0) },
                { .name = "a", .created_usec = utc(2021, 3, 1, 9, 0, 0) },
                { .name = "d", .created_usec = utc(2021, 3, 1, 12, 0, 0) },
                { .name = "c", .created_usec = utc(2021, 3, 1, 11, 0, 0) },
        };

        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_last = 2 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)), "e:last d:last c:- b:- a:-");

        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_last = 9 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)), "e:last d:last c:last b:last a:last");

        /* Stale output from an earlier plan is overwritten. */
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_last = 1 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)), "e:last d:- c:- b:- a:-");
}

static void test_daily(void) {
        RetentionItem items[] = {
                { .name = "d1-a", .created_usec = utc(2021, 3, 1, 1, 0, 0) },
                { .name = "d1-b", .created_usec = utc(2021, 3, 1, 12, 0, 0) },
                { .name = "d1-c", .created_usec = utc(2021, 3, 1, 23, 59, 59) },
                { .name = "d2-a", .created_usec = utc(2021, 3, 2, 0, 0, 0) },
                { .name = "d2-b", .created_usec = utc(2021, 3, 2, 6, 0, 0) },
                { .name = "d4-a", .created_usec = utc(2021, 3, 4, 8, 0, 0) },
                { .name = "d4-b", .created_usec = utc(2021, 3, 4, 9, 30, 0) },
                { .name = "d4-c", .created_usec = utc(2021, 3, 4, 9, 45, 0) },
        };

        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_daily = 2 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)),
                     "d4-c:daily d4-b:- d4-a:- d2-b:daily d2-a:- d1-c:- d1-b:- d1-a:-");

        /* More days asked for than exist: the newest of each day. */
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_daily = 7 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)),
                     "d4-c:daily d4-b:- d4-a:- d2-b:daily d2-a:- d1-c:daily d1-b:- d1-a:-");

        /* Rules count on their own: "last" does not use up a day. */
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_last = 2, .keep_daily = 2, .keep_hourly = 2 }, local,
                                    items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)),
                     "d4-c:last,hourly,daily d4-b:last d4-a:hourly d2-b:daily d2-a:- d1-c:- d1-b:- d1-a:-");
}

static void test_weekly_year_boundary(void) {
        /* 2020 has 53 ISO weeks: 2020-12-28 (Mon) .. 2021-01-03 (Sun) is
         * 2020-W53, 2021-01-04 starts 2021-W01. 2024-12-30 (Mon) is already
         * 2025-W01, 2024-12-29 (Sun) is 2024-W52. */
        RetentionItem items[] = {
                { .name = "w52-sun", .created_usec = utc(2020, 12, 27, 23, 0, 0) },
                { .name = "w53-mon", .created_usec = utc(2020, 12, 28, 0, 0, 0) },
                { .name = "w53-thu", .created_usec = utc(2020, 12, 31, 23, 59, 0) },
                { .name = "w53-fri", .created_usec = utc(2021, 1, 1, 0, 1, 0) },
                { .name = "w53-sun", .created_usec = utc(2021, 1, 3, 23, 59, 59) },
                { .name = "w01-mon", .created_usec = utc(2021, 1, 4, 0, 0, 0) },
                { .name = "w01-sun", .created_usec = utc(2021, 1, 10, 12, 0, 0) },
        };
        RetentionItem items2[] = {
                { .name = "2024-w52", .created_usec = utc(2024, 12, 29, 12, 0, 0) },
                { .name = "2025-w01-mon", .created_usec = utc(2024, 12, 30, 12, 0, 0) },
                { .name = "2025-w01-wed", .created_usec = utc(2025, 1, 1, 12, 0, 0) },
                { .name = "2025-w02", .created_usec = utc(2025, 1, 6, 0, 0, 0) },
        };
        RetentionItem items3[] = {
                /* 2021-01-01 is a Friday of 2020-W53; 2022-01-02 a Sunday of 2021-W52. */
                { .name = "2021-w52-sun", .created_usec = utc(2022, 1, 2, 12, 0, 0) },
                { .name = "2021-w52-mon", .created_usec = utc(2021, 12, 27, 12, 0, 0) },
                { .name = "2022-w01", .created_usec = utc(2022, 1, 3, 12, 0, 0) },
        };

        set_tz("UTC");
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_weekly = 3 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)),
                     "w01-sun:weekly w01-mon:- w53-sun:weekly w53-fri:- w53-thu:- w53-mon:- w52-sun:weekly");

        /* Monthly and weekly disagree across New Year: the week spans it. */
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_weekly = 2, .keep_monthly = 2 }, local, items,
                                    ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)),
                     "w01-sun:weekly,monthly w01-mon:- w53-sun:weekly w53-fri:- w53-thu:monthly w53-mon:- w52-sun:-");

        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_weekly = 5 }, local, items2, ELEMENTSOF(items2)), 0);
        check_str_eq(describe(items2, ELEMENTSOF(items2)),
                     "2025-w02:weekly 2025-w01-wed:weekly 2025-w01-mon:- 2024-w52:weekly");

        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_weekly = 5 }, local, items3, ELEMENTSOF(items3)), 0);
        check_str_eq(describe(items3, ELEMENTSOF(items3)), "2022-w01:weekly 2021-w52-sun:weekly 2021-w52-mon:-");
}

static void test_monthly(void) {
        RetentionItem items[] = {
                { .name = "jan-a", .created_usec = utc(2021, 1, 1, 0, 0, 0) },
                { .name = "jan-b", .created_usec = utc(2021, 1, 31, 23, 59, 59) },
                { .name = "feb-a", .created_usec = utc(2021, 2, 1, 0, 0, 0) },
                { .name = "feb-b", .created_usec = utc(2021, 2, 28, 0, 0, 0) },
                { .name = "apr-a", .created_usec = utc(2021, 4, 10, 0, 0, 0) },
                { .name = "dec-a", .created_usec = utc(2020, 12, 31, 12, 0, 0) },
        };

        set_tz("UTC");
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_monthly = 3 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)), "apr-a:monthly feb-b:monthly feb-a:- jan-b:monthly jan-a:- dec-a:-");

        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_monthly = 12, .keep_last = 1 }, local, items,
                                    ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)),
                     "apr-a:last,monthly feb-b:monthly feb-a:- jan-b:monthly jan-a:- dec-a:monthly");
}

/* restic's yearly bucket is the calendar year of the local time ("2006"),
 * not the ISO week-year: 2021-01-01 (ISO week 2020-W53) is in 2021. */
static void test_yearly(void) {
        RetentionItem items[] = {
                { .name = "2019-jun", .created_usec = utc(2019, 6, 1, 0, 0, 0) },
                { .name = "2020-dec31", .created_usec = utc(2020, 12, 31, 23, 0, 0) },
                { .name = "2020-jan", .created_usec = utc(2020, 1, 2, 0, 0, 0) },
                { .name = "2021-jan01", .created_usec = utc(2021, 1, 1, 0, 30, 0) },
                { .name = "2021-mar", .created_usec = utc(2021, 3, 1, 0, 0, 0) },
        };

        set_tz("UTC");
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_yearly = 2 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)),
                     "2021-mar:yearly 2021-jan01:- 2020-dec31:yearly 2020-jan:- 2019-jun:-");

        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_yearly = 10, .keep_monthly = 1 }, local, items,
                                    ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)),
                     "2021-mar:monthly,yearly 2021-jan01:- 2020-dec31:yearly 2020-jan:- 2019-jun:yearly");

        /* In New York 2021-01-01 00:30 UTC is still 2020: the year is local. */
        set_tz("America/New_York");
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_yearly = 2 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)),
                     "2021-mar:yearly 2021-jan01:yearly 2020-dec31:- 2020-jan:- 2019-jun:-");
        set_tz("UTC");
}

static void test_ties(void) {
        uint64_t t = utc(2021, 6, 1, 12, 0, 0);
        RetentionItem items[] = {
                { .name = "bb", .created_usec = t },
                { .name = "a", .created_usec = t },
                { .name = "c", .created_usec = t },
                { .name = "older", .created_usec = t - 1 },
                { .name = "newer", .created_usec = t + 1 },
        };
        RetentionItem twins[] = {
                { .name = "x", .created_usec = t, .verified = false },
                { .name = "x", .created_usec = t, .verified = true },
        };

        set_tz("UTC");
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_last = 2 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)), "newer:last c:last bb:- a:- older:-");

        /* The same time is the same bucket: only the first in order counts. */
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_daily = 5, .keep_hourly = 5 }, local, items,
                                    ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)), "newer:hourly,daily c:- bb:- a:- older:hourly");

        /* Equal time: the higher revision is the newer, as list and restore latest have it (not r9 before r10 by
         * name). */
        {
                RetentionItem same_second[] = {
                        { .name = "etcd-1-20261201T020003Z-r9.db.gz", .created_usec = t, .revision = 9 },
                        { .name = "etcd-1-20261201T020003Z-r10.db.gz", .created_usec = t, .revision = 10 },
                };

                check_int_eq(retention_plan(&(RetentionPolicy) { .keep_last = 1 }, local, same_second, 2), 0);
                check_str_eq(describe(same_second, 2), "etcd-1-20261201T020003Z-r10.db.gz:last "
                                                       "etcd-1-20261201T020003Z-r9.db.gz:-");
        }

        /* Equal time and name: the verified one sorts first. */
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_last = 1 }, local, twins, ELEMENTSOF(twins)), 0);
        check(twins[0].verified && !twins[1].verified);
        check_str_eq(describe(twins, ELEMENTSOF(twins)), "x:last,newest-verified x:-");
}

static void test_newest_verified(void) {
        RetentionItem items[] = {
                { .name = "1", .created_usec = utc(2021, 6, 1, 1, 0, 0), .verified = true },
                { .name = "2", .created_usec = utc(2021, 6, 1, 2, 0, 0), .verified = true },
                { .name = "3", .created_usec = utc(2021, 6, 1, 3, 0, 0), .verified = false },
                { .name = "4", .created_usec = utc(2021, 6, 1, 4, 0, 0), .verified = false },
                { .name = "5", .created_usec = utc(2021, 6, 1, 5, 0, 0), .verified = false },
        };

        set_tz("UTC");
        /* The newest are unverified: the newest verified is kept on top. */
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_last = 2 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)), "5:last 4:last 3:- 2:newest-verified 1:-");

        /* Unverified items still fill buckets; the forced keep is extra. */
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_daily = 1 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)), "5:daily 4:- 3:- 2:newest-verified 1:-");

        /* Already kept by a rule: both reasons are reported. */
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_last = 4 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)), "5:last 4:last 3:last 2:last,newest-verified 1:-");

        /* Nothing verified: nothing forced. */
        for (size_t i = 0; i < ELEMENTSOF(items); i++)
                items[i].verified = false;
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_last = 1 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)), "5:last 4:- 3:- 2:- 1:-");
}

/* etcd began anew (restored, or started on an empty data dir: the same cluster id, the revision lower) or
 * another cluster took over the directory: the last verified backup before and the first one after are kept,
 * whatever the rules say. */
static void test_earlier_history(void) {
        RetentionItem items[] = {
                { .name = "a1", .created_usec = utc(2025, 6, 8, 2, 0, 0), .revision = 900000, .cluster_id = 7,
                  .verified = true },
                { .name = "a2", .created_usec = utc(2025, 6, 9, 2, 0, 0), .revision = 910000, .cluster_id = 7,
                  .verified = true },
                { .name = "a3", .created_usec = utc(2025, 6, 10, 2, 0, 0), .revision = 920000, .cluster_id = 7,
                  .verified = false },
                { .name = "b1", .created_usec = utc(2025, 6, 11, 2, 0, 0), .revision = 100, .cluster_id = 7,
                  .verified = true },
                { .name = "b2", .created_usec = utc(2025, 6, 12, 2, 0, 0), .revision = 120, .cluster_id = 7,
                  .verified = true },
                { .name = "c1", .created_usec = utc(2025, 6, 13, 2, 0, 0), .revision = 130, .cluster_id = 9,
                  .verified = true },
                { .name = "c2", .created_usec = utc(2025, 6, 14, 2, 0, 0), .revision = 140, .cluster_id = 9,
                  .verified = true, .just_made = true },
        };

        set_tz("UTC");
        /* a3 (unverified) is not what is kept of the first history: a2 is; b1, after it, is kept as the first of
         * its history, however unverified a3 is. */
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_last = 1 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)),
                     "c2:last,newest-verified c1:new-history b2:earlier-history b1:new-history a3:- "
                     "a2:earlier-history a1:-");
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_daily = 3 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)),
                     "c2:daily,newest-verified c1:daily,new-history b2:daily,earlier-history b1:new-history a3:- "
                     "a2:earlier-history a1:-");
        /* A disabled policy keeps everything anyway; the reason is said all the same. */
        check_int_eq(retention_plan(&(RetentionPolicy) {}, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)),
                     "c2:newest-verified,all c1:all,new-history b2:all,earlier-history b1:all,new-history a3:all "
                     "a2:all,earlier-history a1:all");
        /* One history, revisions that rise, or stay (no write between two backups): nothing more is kept.
         * (The items are in the plan's order by now: items[0] and items[1] are c2 and c1.) */
        for (size_t i = 0; i < ELEMENTSOF(items); i++)
                items[i].cluster_id = 7,
                items[i].revision = (int64_t) (items[i].created_usec / USEC_PER_HOUR);
        items[0].revision = items[1].revision;
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_last = 1 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)), "c2:last,newest-verified c1:- b2:- b1:- a3:- a2:- a1:-");
}

/* Night after night over the same directory, what each plan does not keep removed: the last backup before a
 * restore of an older one stays, also once the new history's revisions have passed it (keep_last = 3 alone
 * would have rotated it away on the fourth night after). */
static void test_earlier_history_nights(void) {
        RetentionItem items[40];
        char names[31][8];      /* by night */
        size_t n = 0;

        set_tz("UTC");
        for (int night = 1; night <= 30; night++) {
                size_t k = 0;

                /* 1000 writes a day; restored on night 11 to night 6's revision. */
                snprintf(names[night], sizeof names[night], "n%02d", night);
                for (size_t i = 0; i < n; i++)
                        items[i].just_made = false;
                items[n] = (RetentionItem) { .name = names[night], .created_usec = utc(2025, 6, night, 2, 0, 0),
                                             .revision = 1000 * (night <= 10 ? night : night - 5), .cluster_id = 7,
                                             .verified = true, .just_made = true };
                n++;
                check_int_eq(retention_plan(&(RetentionPolicy) { .keep_last = 3 }, local, items, n), 0);
                for (size_t i = 0; i < n; i++)
                        if (items[i].keep)
                                items[k++] = items[i];
                n = k;
                check(n < ELEMENTSOF(items));
        }
        check_str_eq(describe(items, n), "n30:last,newest-verified n29:last n28:last n11:new-history "
                     "n10:earlier-history");
}

/* Breaks of etcd's history over and over (a revision that goes down at every other backup, as a compaction that
 * drops deletions at the top can make it): pairs are kept for the newest three alone. */
static void test_history_breaks_bounded(void) {
        RetentionItem items[12];
        char names[12][8];

        set_tz("UTC");
        for (size_t i = 0; i < ELEMENTSOF(items); i++) {
                snprintf(names[i], sizeof names[i], "b%02zu", i);
                items[i] = (RetentionItem) { .name = names[i], .created_usec = utc(2025, 6, 1 + (int) i, 2, 0, 0),
                                             .revision = 100 + (int64_t) (i % 2 == 0 ? i : i - 2), .cluster_id = 7,
                                             .verified = true };
        }
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_last = 1 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)),
                     "b11:last,newest-verified,new-history b10:earlier-history b09:new-history b08:earlier-history "
                     "b07:new-history b06:earlier-history b05:- b04:- b03:- b02:- b01:- b00:-");
}

/* The clock stepped back: older backups are dated after the one this run
 * made. That one is still the newest, for every rule. */
static void test_just_made(void) {
        RetentionItem items[] = {
                { .name = "old-2027", .created_usec = utc(2027, 1, 2, 0, 0, 0), .verified = true },
                { .name = "old-2026b", .created_usec = utc(2026, 12, 4, 5, 0, 0), .verified = true },
                { .name = "now", .created_usec = utc(2026, 12, 4, 3, 0, 0), .verified = true, .just_made = true },
        };

        set_tz("UTC");
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_last = 1 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)), "now:last,newest-verified old-2027:- old-2026b:-");
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_last = 2 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)), "now:last,newest-verified old-2027:last old-2026b:-");
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_daily = 1 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)), "now:daily,newest-verified old-2027:- old-2026b:-");

        /* Without the mark the future-dated backup wins, and the new one goes. */
        for (size_t i = 0; i < ELEMENTSOF(items); i++)
                items[i].just_made = false;
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_last = 1 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)), "old-2027:last,newest-verified old-2026b:- now:-");
}

static void test_local_time(void) {
        /* 22:30 and 23:30 UTC on 2021-01-01 are one day in UTC but two in
         * Berlin (23:30 and 00:30 local). */
        RetentionItem items[] = {
                { .name = "late", .created_usec = utc(2021, 1, 1, 23, 30, 0) },
                { .name = "early", .created_usec = utc(2021, 1, 1, 22, 30, 0) },
        };
        /* Berlin falls back at 01:00 UTC on 2020-10-25: 00:30 UTC is 02:30
         * CEST and 01:30 UTC is 02:30 CET, one local hour "02". */
        RetentionItem dst[] = {
                { .name = "cest", .created_usec = utc(2020, 10, 25, 0, 30, 0) },
                { .name = "cet", .created_usec = utc(2020, 10, 25, 1, 30, 0) },
                { .name = "before", .created_usec = utc(2020, 10, 24, 23, 59, 0) },
        };
        /* New York springs forward at 07:00 UTC on 2021-03-14: 06:59 UTC is
         * 01:59 EST and 07:00 UTC is 03:00 EDT, two hours apart. */
        RetentionItem spring[] = {
                { .name = "est", .created_usec = utc(2021, 3, 14, 6, 59, 0) },
                { .name = "edt", .created_usec = utc(2021, 3, 14, 7, 0, 0) },
        };

        set_tz("UTC");
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_daily = 5 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)), "late:daily early:-");
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_hourly = 5 }, local, dst, ELEMENTSOF(dst)), 0);
        check_str_eq(describe(dst, ELEMENTSOF(dst)), "cet:hourly cest:hourly before:hourly");

        set_tz("Europe/Berlin");
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_daily = 5 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)), "late:daily early:daily");
        /* Friday 23:30 and Saturday 00:30 in Berlin: both in 2020-W53. */
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_weekly = 5 }, local, items, ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)), "late:weekly early:-");
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_hourly = 5 }, local, dst, ELEMENTSOF(dst)), 0);
        check_str_eq(describe(dst, ELEMENTSOF(dst)), "cet:hourly cest:- before:hourly");
        /* 23:59 UTC on 10-24 is 01:59 CEST on 10-25 — the same day. */
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_daily = 5 }, local, dst, ELEMENTSOF(dst)), 0);
        check_str_eq(describe(dst, ELEMENTSOF(dst)), "cet:daily cest:- before:-");

        set_tz("America/New_York");
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_hourly = 5 }, local, spring, ELEMENTSOF(spring)), 0);
        check_str_eq(describe(spring, ELEMENTSOF(spring)), "edt:hourly est:hourly");
        /* 2021-01-01 17:30 and 18:30 EST: one day, one month. */
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_daily = 5, .keep_monthly = 5 }, local, items,
                                    ELEMENTSOF(items)), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)), "late:daily,monthly early:-");

        set_tz("UTC");
}

/* ---- The reference planner: written from the rules, sharing no code. ---- */

typedef struct RefBackup {
        char name[32];
        uint64_t usec;
        int64_t revision;
        uint64_t cluster_id;
        bool verified;
        unsigned why;
} RefBackup;

static bool ref_newer(const RefBackup *a, const RefBackup *b) {
        if (a->usec != b->usec)
                return a->usec > b->usec;
        if (a->revision != b->revision)
                return a->revision > b->revision;
        return strcmp(a->name, b->name) > 0;
}

static void ref_bucket(uint64_t usec, unsigned bit, char out[static 32]) {
        time_t t = (time_t) (usec / 1000000);
        struct tm *tm = localtime(&t);
        size_t len = 0;

        check(tm);
        if (bit == RETENTION_KEEP_HOURLY)
                len = strftime(out, 32, "%Y-%m-%d %H", tm);
        else if (bit == RETENTION_KEEP_DAILY)
                len = strftime(out, 32, "%Y-%m-%d", tm);
        else if (bit == RETENTION_KEEP_WEEKLY)
                len = strftime(out, 32, "%G-%V", tm);
        else if (bit == RETENTION_KEEP_MONTHLY)
                len = strftime(out, 32, "%Y-%m", tm);
        else if (bit == RETENTION_KEEP_YEARLY)
                len = strftime(out, 32, "%Y", tm);
        check(len > 0);
}

/* Sorts b newest first (insertion sort) and sets why on each. */
static void ref_plan(const RetentionPolicy *p, RefBackup *b, size_t n) {
        const struct {
                unsigned count;
                unsigned bit;
        } rules[] = {
                { p->keep_hourly, RETENTION_KEEP_HOURLY },
                { p->keep_daily, RETENTION_KEEP_DAILY },
                { p->keep_weekly, RETENTION_KEEP_WEEKLY },
                { p->keep_monthly, RETENTION_KEEP_MONTHLY },
                { p->keep_yearly, RETENTION_KEEP_YEARLY },
        };
        bool everything = !p->keep_last && !p->keep_hourly && !p->keep_daily && !p->keep_weekly && !p->keep_monthly &&
                          !p->keep_yearly;

        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && ref_newer(&b[j], &b[j - 1]); j--) {
                        RefBackup tmp = b[j];
                        b[j] = b[j - 1];
                        b[j - 1] = tmp;
                }

        for (size_t i = 0; i < n; i++)
                b[i].why = 0;

        if (everything)
                for (size_t i = 0; i < n; i++)
                        b[i].why |= RETENTION_KEEP_ALL;
        else {
                for (size_t i = 0; i < n && i < p->keep_last; i++)
                        b[i].why |= RETENTION_KEEP_LAST;

                for (size_t r = 0; r < ELEMENTSOF(rules); r++) {
                        char (*seen)[32] = calloc(n + 1, sizeof *seen);
                        size_t nseen = 0;

                        check(seen);
                        for (size_t i = 0; i < n && nseen < rules[r].count; i++) {
                                char bucket[32];
                                bool known = false;

                                ref_bucket(b[i].usec, rules[r].bit, bucket);
                                for (size_t s = 0; s < nseen; s++)
                                        if (strcmp(seen[s], bucket) == 0)
                                                known = true;
                                if (known)
                                        continue;
                                strcpy(seen[nseen++], bucket);
                                b[i].why |= rules[r].bit;
                        }
                        free(seen);
                }
        }

        for (size_t i = 0; i < n; i++)
                if (b[i].verified) {
                        b[i].why |= RETENTION_KEEP_NEWEST_VERIFIED;
                        break;
                }

        /* Where the history breaks (older than the one before it, and another cluster or a higher revision),
         * the first verified backup from there on. */
        for (size_t j = 1, breaks = 0; j < n && breaks < RETENTION_HISTORY_BREAKS_MAX; j++) {
                if (b[j].cluster_id == b[j - 1].cluster_id && b[j].revision <= b[j - 1].revision)
                        continue;
                breaks++;
                b[j - 1].why |= RETENTION_KEEP_NEW_HISTORY;
                for (size_t i = j; i < n; i++)
                        if (b[i].verified) {
                                b[i].why |= RETENTION_KEEP_EARLIER_HISTORY;
                                break;
                        }
        }
}

/* splitmix64: a fixed sequence on every platform. */
static uint64_t rng_state;

static uint64_t rng_next(void) {
        uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t n) {
        return rng_next() % n;
}

static unsigned random_count(unsigned typical) {
        switch (rng_below(8)) {
        case 0:
        case 1:
        case 2:
                return 0;
        case 3:
                return 1;
        case 4:
                return 5000; /* more than there are backups */
        default:
                return 1 + (unsigned) rng_below(typical);
        }
}

static void compare_with_reference(const char *tz, unsigned rounds) {
        const uint64_t start = utc(2020, 6, 1, 0, 0, 0), end = utc(2021, 7, 1, 0, 0, 0);
        /* Where buckets are easy to get wrong: DST changes in Berlin and New
         * York, local New Year, and the edges of ISO week 2020-W53. */
        const uint64_t hot[] = {
                utc(2020, 10, 25, 1, 0, 0), utc(2021, 3, 28, 1, 0, 0),
                utc(2020, 11, 1, 6, 0, 0),  utc(2021, 3, 14, 7, 0, 0),
                utc(2020, 12, 31, 23, 0, 0), utc(2021, 1, 1, 0, 0, 0), utc(2021, 1, 1, 5, 0, 0),
                utc(2020, 12, 28, 0, 0, 0), utc(2021, 1, 4, 0, 0, 0),
                utc(2021, 1, 31, 23, 0, 0), utc(2021, 2, 28, 23, 0, 0),
        };
        const double verified_share[] = { 0.0, 0.05, 0.5, 1.0 };
        size_t breaks = 0;
        size_t compared = 0, kept = 0;

        set_tz(tz);
        for (unsigned round = 0; round < rounds; round++) {
                size_t n = 150 + (size_t) rng_below(300);
                RetentionItem *items = calloc(n, sizeof *items);
                RefBackup *ref = calloc(n, sizeof *ref);
                char (*names)[32] = calloc(n, sizeof *names); /* ref moves while sorting */
                RetentionPolicy p = {
                        .keep_last = random_count(20),
                        .keep_hourly = random_count(60),
                        .keep_daily = random_count(40),
                        .keep_weekly = random_count(30),
                        .keep_monthly = random_count(14),
                        .keep_yearly = random_count(3),
                };
                double share = verified_share[round % ELEMENTSOF(verified_share)];
                /* Up to three times when etcd began anew (the revision from 1 again), each a new cluster or not. */
                uint64_t began[3];
                size_t n_began = (size_t) rng_below(4);
                bool new_cluster[3];

                for (size_t k = 0; k < n_began; k++) {
                        began[k] = start + rng_below(end - start);
                        new_cluster[k] = rng_below(2);
                }

                check(items && ref && names);
                if (round == 0)
                        p = (RetentionPolicy) {};

                for (size_t i = 0; i < n; i++) {
                        uint64_t t;

                        switch (rng_below(10)) {
                        case 0:
                        case 1: /* near a hot spot, within ±3 hours */
                                t = hot[rng_below(ELEMENTSOF(hot))] - 3 * USEC_PER_HOUR +
                                    rng_below(6 * USEC_PER_HOUR);
                                break;
                        case 2: /* the same time as an earlier backup: a tie */
                                t = i > 0 ? ref[rng_below(i)].usec : start;
                                break;
                        case 3: /* shortly after an earlier one: crowded hours */
                                t = (i > 0 ? ref[rng_below(i)].usec : start) + rng_below(90 * USEC_PER_MINUTE);
                                break;
                        default:
                                t = start + rng_below(end - start);
                                break;
                        }
                        /* Whole seconds half the time, so ties happen inside a second too. */
                        if (rng_below(2))
                                t -= t % USEC_PER_SEC;

                        snprintf(ref[i].name, sizeof ref[i].name, "bk-%04x-%zu", (unsigned) rng_below(0x10000), i);
                        ref[i].usec = t;
                        ref[i].verified = (double) rng_below(1000) < share * 1000.0;
                        ref[i].cluster_id = 1;
                        ref[i].revision = (int64_t) ((t - start) / USEC_PER_SEC) + 1;
                        for (size_t k = 0, last = SIZE_MAX; k < n_began; k++)
                                if (began[k] <= t && (last == SIZE_MAX || began[k] > began[last])) {
                                        last = k;
                                        ref[i].revision = (int64_t) ((t - began[k]) / USEC_PER_SEC) + 1;
                                        ref[i].cluster_id = new_cluster[k] ? 2 + k : 1;
                                }
                }
                for (size_t i = 0; i < n; i++) {
                        memcpy(names[i], ref[i].name, sizeof names[i]);
                        items[i] = (RetentionItem) {
                                .name = names[i],
                                .created_usec = ref[i].usec,
                                .revision = ref[i].revision,
                                .cluster_id = ref[i].cluster_id,
                                .verified = ref[i].verified,
                                .keep = rng_below(2), /* stale output must be overwritten */
                                .reasons = (unsigned) rng_next(),
                        };
                }

                check_int_eq(retention_plan(&p, local, items, n), 0);
                ref_plan(&p, ref, n);

                for (size_t i = 0; i < n; i++) {
                        if (strcmp(items[i].name, ref[i].name) != 0 || items[i].reasons != ref[i].why ||
                            items[i].keep != (ref[i].why != 0) || items[i].created_usec != ref[i].usec) {
                                char a[RETENTION_REASONS_MAX], b[RETENTION_REASONS_MAX];
                                fprintf(stderr,
                                        "TZ=%s round %u policy last=%u hourly=%u daily=%u weekly=%u monthly=%u yearly=%u\n"
                                        "  #%zu planner %s %" PRIu64 " (%s) reference %s %" PRIu64 " (%s)\n",
                                        tz, round, p.keep_last, p.keep_hourly, p.keep_daily, p.keep_weekly,
                                        p.keep_monthly, p.keep_yearly, i, items[i].name, items[i].created_usec,
                                        retention_reasons_to_string(items[i].reasons, a, sizeof a),
                                        ref[i].name, ref[i].usec, retention_reasons_to_string(ref[i].why, b, sizeof b));
                                check(!"planner and reference disagree");
                        }
                        kept += items[i].keep;
                        breaks += !!(items[i].reasons & RETENTION_KEEP_EARLIER_HISTORY);
                }
                compared += n;
                free(items);
                free(ref);
                free(names);
        }
        printf("   TZ=%s: %zu backups in %u plans agree (%zu kept, %zu of them the last of a history)\n", tz,
               compared, rounds, kept, breaks);
        check(breaks > 0);
        set_tz("UTC");
}

static void test_reference(void) {
        rng_state = UINT64_C(0x5eed0fe7cdbac0de);
        compare_with_reference("UTC", 80);
        compare_with_reference("Europe/Berlin", 80);
        compare_with_reference("America/New_York", 80);
}

/* Those named later than now plus the slack are set aside at the end, kept; at or within the slack, planned.
 * The plan over the rest does not count them as newer. */
static void test_set_aside_future(void) {
        const uint64_t now = UINT64_C(1796000000) * 1000000, slack = RETENTION_FUTURE_SLACK_USEC;
        RetentionItem items[] = {
                { .name = "d", .created_usec = UINT64_MAX, .verified = true },
                { .name = "a", .created_usec = now - 3600 * UINT64_C(1000000), .verified = true },
                { .name = "c", .created_usec = now + slack + 1, .verified = true },
                { .name = "b", .created_usec = now + slack, .verified = true },
                { .name = "e", .created_usec = now - 7200 * UINT64_C(1000000), .verified = true },
        };
        size_t k;

        check_int_eq(retention_set_aside_future(items, 0, now, slack), 0);
        k = retention_set_aside_future(items, ELEMENTSOF(items), now, slack);
        check_int_eq(k, 3);
        for (size_t i = k; i < ELEMENTSOF(items); i++) {
                check(items[i].created_usec > now + slack);
                check(items[i].keep && items[i].reasons == RETENTION_KEEP_FUTURE);
        }
        set_tz("UTC");
        check_int_eq(retention_plan(&(RetentionPolicy) { .keep_last = 1 }, local, items, k), 0);
        check_str_eq(describe(items, ELEMENTSOF(items)), "b:last,newest-verified a:- e:- d:future c:future");
        check_int_eq(retention_set_aside_future(items + 3, 2, UINT64_MAX, 0), 2);
        check_int_eq(retention_set_aside_future(items, 1, 0, 0), 0);
}

int main(void) {
        set_tz("UTC");
        TEST_RUN(test_reasons_to_string);
        TEST_RUN(test_disabled_and_invalid);
        TEST_RUN(test_one_item);
        TEST_RUN(test_keep_last);
        TEST_RUN(test_daily);
        TEST_RUN(test_weekly_year_boundary);
        TEST_RUN(test_monthly);
        TEST_RUN(test_yearly);
        TEST_RUN(test_ties);
        TEST_RUN(test_newest_verified);
        TEST_RUN(test_just_made);
        TEST_RUN(test_earlier_history);
        TEST_RUN(test_earlier_history_nights);
        TEST_RUN(test_history_breaks_bounded);
        TEST_RUN(test_local_time);
        TEST_RUN(test_reference);
        TEST_RUN(test_set_aside_future);
        zone_free(local);
        return 0;
}
