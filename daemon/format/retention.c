/* SPDX-License-Identifier: MIT */
/*
 * retention.c — the retention planner: given the list of backups and a
 * RetentionPolicy, decide which to keep and why, with the semantics of
 * restic's `forget` (each keep_* rule counts its own buckets, the newest
 * backup of a bucket stands for it, a backup kept by any rule is kept) plus
 * rules of our own: the newest verified backup is never deleted, nor the
 * pair around a break of etcd's history, nor one named later than now
 * (retention_set_aside_future()). Buckets
 * are computed in the zone the caller passes, which decides where a day
 * begins. Pure: it
 * neither reads the clock nor touches a file; deleting is the caller's job.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format/retention.h"
#include "util/macro.h"

enum {
        RULE_HOURLY,
        RULE_DAILY,
        RULE_WEEKLY,
        RULE_MONTHLY,
        RULE_YEARLY,
        _RULE_MAX,
};

static const unsigned rule_reason[_RULE_MAX] = {
        [RULE_HOURLY] = RETENTION_KEEP_HOURLY,
        [RULE_DAILY] = RETENTION_KEEP_DAILY,
        [RULE_WEEKLY] = RETENTION_KEEP_WEEKLY,
        [RULE_MONTHLY] = RETENTION_KEEP_MONTHLY,
        [RULE_YEARLY] = RETENTION_KEEP_YEARLY,
};

bool retention_policy_is_disabled(const RetentionPolicy *p) {
        return !p || (p->keep_last == 0 && p->keep_hourly == 0 && p->keep_daily == 0 &&
                      p->keep_weekly == 0 && p->keep_monthly == 0 &&
                      p->keep_yearly == 0);
}

static int item_local_tm(const Zone *zone, const RetentionItem *item, struct tm *ret) {
        uint64_t sec = item->created_usec / USEC_PER_SEC;
        time_t t = (time_t) sec;

        if (t < 0 || (uint64_t) t != sec)
                return -EOVERFLOW;
        if (zone_localtime(zone, t, ret) < 0)
                return -EOVERFLOW;
        return 0;
}

static int64_t days_in_year(int64_t year) {
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        return leap ? 366 : 365;
}

/* The ISO 8601 week holding tm as week-year * 100 + week: the week belongs
 * to the year that holds its Thursday, and is numbered from the week that
 * holds that year's first Thursday. */
static int64_t iso_week_key(const struct tm *tm) {
        int64_t year = (int64_t) tm->tm_year + 1900;
        int64_t monday_based = (tm->tm_wday + 6) % 7;            /* Monday = 0 */
        int64_t thursday_yday = tm->tm_yday - monday_based + 3; /* may leave the year */

        if (thursday_yday < 0) {
                year--;
                thursday_yday += days_in_year(year);
        } else if (thursday_yday >= days_in_year(year)) {
                thursday_yday -= days_in_year(year);
                year++;
        }
        return year * 100 + thursday_yday / 7 + 1;
}

static void bucket_keys(const struct tm *tm, int64_t keys[static _RULE_MAX]) {
        int64_t year = (int64_t) tm->tm_year + 1900;
        int64_t month = year * 100 + tm->tm_mon + 1;
        int64_t day = month * 100 + tm->tm_mday;

        keys[RULE_YEARLY] = year;
        keys[RULE_MONTHLY] = month;
        keys[RULE_DAILY] = day;
        keys[RULE_HOURLY] = day * 100 + tm->tm_hour;
        keys[RULE_WEEKLY] = iso_week_key(tm);
}

static int item_compare(const void *a, const void *b) {
        const RetentionItem *x = a, *y = b;
        int r;

        if (x->just_made != y->just_made)
                return x->just_made ? -1 : 1;
        if (x->created_usec != y->created_usec)
                return x->created_usec > y->created_usec ? -1 : 1;
        if (x->revision != y->revision)
                return x->revision > y->revision ? -1 : 1;
        r = strcmp(x->name, y->name);
        if (r != 0)
                return r > 0 ? -1 : 1;
        return (int) y->verified - (int) x->verified;
}

int retention_plan(const RetentionPolicy *p, const Zone *zone, RetentionItem *items, size_t n) {
        struct {
                unsigned left;
                bool have_last;
                int64_t last;
        } rules[_RULE_MAX] = {};
        bool disabled, forced = false, history_ended = false;
        unsigned breaks = 0;

        if (!p || !zone || (!items && n > 0))
                return -EINVAL;

        disabled = retention_policy_is_disabled(p);

        /* Check everything before the first write, so a bad item leaves the
         * list as it was. */
        for (size_t i = 0; i < n; i++) {
                struct tm tm;
                int r;

                if (!items[i].name)
                        return -EINVAL;
                if (!disabled) {
                        r = item_local_tm(zone, items + i, &tm);
                        if (r < 0)
                                return r;
                }
        }

        if (n > 1)
                qsort(items, n, sizeof *items, item_compare);

        rules[RULE_HOURLY].left = p->keep_hourly;
        rules[RULE_DAILY].left = p->keep_daily;
        rules[RULE_WEEKLY].left = p->keep_weekly;
        rules[RULE_MONTHLY].left = p->keep_monthly;
        rules[RULE_YEARLY].left = p->keep_yearly;
        for (size_t k = 0; k < _RULE_MAX; k++)
                rules[k].have_last = false;

        for (size_t i = 0; i < n; i++) {
                RetentionItem *item = items + i;
                unsigned reasons = 0;

                if (disabled)
                        reasons |= RETENTION_KEEP_ALL;
                else {
                        int64_t keys[_RULE_MAX];
                        struct tm tm;

                        if (i < p->keep_last)
                                reasons |= RETENTION_KEEP_LAST;

                        /* Cannot fail: the same call succeeded above. */
                        if (item_local_tm(zone, item, &tm) < 0)
                                return -EOVERFLOW;
                        bucket_keys(&tm, keys);

                        /* As in restic, a bucket is new when it differs from
                         * the one this rule kept last. Walking newest first the
                         * buckets only decrease, so this means "not seen
                         * before" — except in a zone whose clock steps back
                         * across an hour or day boundary (a change at xx:30 or
                         * 00:30), where a bucket may be kept twice: the error
                         * is on the side of keeping. */
                        for (size_t k = 0; k < _RULE_MAX; k++) {
                                if (rules[k].left == 0)
                                        continue;
                                if (rules[k].have_last && rules[k].last == keys[k])
                                        continue;
                                rules[k].have_last = true;
                                rules[k].last = keys[k];
                                rules[k].left--;
                                reasons |= rule_reason[k];
                        }
                }

                if (item->verified && !forced) {
                        reasons |= RETENTION_KEEP_NEWEST_VERIFIED;
                        forced = true;
                }
                if (i > 0 && breaks < RETENTION_HISTORY_BREAKS_MAX &&
                    (item->cluster_id != items[i - 1].cluster_id || item->revision > items[i - 1].revision)) {
                        breaks++;
                        /* The newer side of the break is kept too: once the backups of the new history have
                         * passed the old one's revision, this pair alone still shows where it broke. */
                        items[i - 1].reasons |= RETENTION_KEEP_NEW_HISTORY;
                        items[i - 1].keep = true;
                        history_ended = true;
                }
                if (item->verified && history_ended) {
                        reasons |= RETENTION_KEEP_EARLIER_HISTORY;
                        history_ended = false;
                }

                item->reasons = reasons;
                item->keep = reasons != 0;
        }

        return 0;
}

char *retention_reasons_to_string(unsigned reasons, char *buf, size_t n) {
        static const struct {
                unsigned bit;
                const char *name;
        } table[] = {
                { RETENTION_KEEP_LAST, "last" },
                { RETENTION_KEEP_HOURLY, "hourly" },
                { RETENTION_KEEP_DAILY, "daily" },
                { RETENTION_KEEP_WEEKLY, "weekly" },
                { RETENTION_KEEP_MONTHLY, "monthly" },
                { RETENTION_KEEP_YEARLY, "yearly" },
                { RETENTION_KEEP_NEWEST_VERIFIED, "newest-verified" },
                { RETENTION_KEEP_ALL, "all" },
                { RETENTION_KEEP_EARLIER_HISTORY, "earlier-history" },
                { RETENTION_KEEP_NEW_HISTORY, "new-history" },
                { RETENTION_KEEP_FUTURE, "future" },
        };
        size_t used = 0;

        if (!buf || n == 0)
                return buf;
        buf[0] = '\0';

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                int r;

                if (!(reasons & table[i].bit))
                        continue;
                r = snprintf(buf + used, n - used, "%s%s", used > 0 ? "," : "", table[i].name);
                if (r < 0 || (size_t) r >= n - used)
                        break; /* truncated; snprintf terminated it */
                used += (size_t) r;
        }
        return buf;
}

bool retention_is_future(uint64_t created_usec, uint64_t now_usec, uint64_t slack_usec) {
        return created_usec > now_usec && created_usec - now_usec > slack_usec;
}

size_t retention_set_aside_future(RetentionItem *items, size_t n, uint64_t now_usec, uint64_t slack_usec) {
        size_t k = 0;

        for (size_t i = 0; i < n; i++) {
                RetentionItem t;

                if (retention_is_future(items[i].created_usec, now_usec, slack_usec))
                        continue;
                t = items[k];
                items[k++] = items[i];
                items[i] = t;
        }
        for (size_t i = k; i < n; i++) {
                items[i].keep = true;
                items[i].reasons = RETENTION_KEEP_FUTURE;
        }
        return k;
}
