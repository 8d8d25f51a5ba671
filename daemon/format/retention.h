/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * retention.h — which backups to keep: restic/borg semantics for keep_last,
 * keep_hourly, keep_daily, keep_weekly, keep_monthly and keep_yearly (pure
 * planning).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format/zone.h"

typedef struct RetentionPolicy {
        unsigned keep_last;
        unsigned keep_hourly;
        unsigned keep_daily;
        unsigned keep_weekly;
        unsigned keep_monthly;
        unsigned keep_yearly;
} RetentionPolicy;

/* Why an item is kept; RetentionItem.reasons is an OR of these. */
enum {
        RETENTION_KEEP_LAST = 1u << 0,            /* one of the keep_last newest */
        RETENTION_KEEP_HOURLY = 1u << 1,          /* newest of one of keep_hourly hours */
        RETENTION_KEEP_DAILY = 1u << 2,           /* newest of one of keep_daily days */
        RETENTION_KEEP_WEEKLY = 1u << 3,          /* newest of one of keep_weekly ISO weeks */
        RETENTION_KEEP_MONTHLY = 1u << 4,         /* newest of one of keep_monthly months */
        RETENTION_KEEP_NEWEST_VERIFIED = 1u << 5, /* the newest verified backup, always */
        RETENTION_KEEP_ALL = 1u << 6,             /* the policy is disabled (all zero) */
        RETENTION_KEEP_YEARLY = 1u << 7,          /* newest of one of keep_yearly years */
        RETENTION_KEEP_EARLIER_HISTORY = 1u << 8, /* the newest verified backup of a history that ended */
        RETENTION_KEEP_FUTURE = 1u << 9,          /* named later than now (retention_set_aside_future()) */
        RETENTION_KEEP_NEW_HISTORY = 1u << 10,    /* the first backup of a history that followed another */
};

/* One backup as the planner sees it. name and created_usec (CLOCK_REALTIME)
 * are input; the planner does not copy or free name. keep and reasons are
 * output: keep is true exactly when reasons is not 0. */
typedef struct RetentionItem {
        const char *name;
        uint64_t created_usec;
        int64_t revision;       /* the name's: two backups in one second are ordered by it, as list and restore do */
        uint64_t cluster_id;    /* the name's */
        bool verified;
        bool just_made;         /* this run's own backup (set on one item at most) */
        bool keep;
        unsigned reasons;
        size_t tag;             /* the caller's (an index into its own list): retention_plan() sorts the items */
} RetentionItem;

/* The breaks of etcd's history retention_plan() keeps a pair of backups for, newest first. */
#define RETENTION_HISTORY_BREAKS_MAX 3

/* "last,hourly,daily,weekly,monthly,yearly,newest-verified,all,earlier-history,new-history,future" fits in this. */
#define RETENTION_REASONS_MAX 128

/* True if every keep_* is 0 (or p is NULL): retention is disabled and every
 * backup is kept. */
bool retention_policy_is_disabled(const RetentionPolicy *p);

/* Plan which of n items to keep. Sorts items in place, newest first: the
 * item with just_made first, whatever its time (the backup this run made is
 * the newest even when the clock has stepped back since older ones were
 * named), then by created_usec descending, equal times by name descending
 * (strcmp), then verified before unverified. Then fills keep and reasons
 * of every item:
 *
 * - keep_last N keeps the N newest items.
 * - keep_hourly/daily/weekly/monthly/yearly N walk newest to oldest and keep an item
 *   when its bucket differs from the bucket of the item that rule kept last,
 *   until the rule has kept N items. Buckets are the LOCAL calendar hour,
 *   day, ISO 8601 week (week-based year + week number, Monday first, as
 *   strftime's "%G-%V"), month and calendar year (not the ISO week-year)
 *   in the zone `zone` (local time, read at the edge), which decides where
 *   a day or a week begins; across a DST
 *   fall-back the repeated local hour is one hourly bucket.
 * - Every rule looks at every item, verified or not, and counts on its own:
 *   an item kept by one rule still uses up a bucket of the others.
 * - The newest item with verified set is always kept.
 * - A history that ended is kept by its newest verified item: walking newest
 *   to oldest, an item whose cluster_id differs from the newer one's, or
 *   whose revision is higher (etcd's revision went down: it was restored,
 *   or started anew on an empty data dir, which gives a re-made cluster its
 *   old id), begins an earlier history, and the first verified item from
 *   there on is kept (RETENTION_KEEP_EARLIER_HISTORY) whatever the rules
 *   say, and so is the item before the break (RETENTION_KEEP_NEW_HISTORY),
 *   the first of the history that followed: backups of the new history
 *   never rotate the last of the data before it away, also once their
 *   revisions have passed its revision (the pair stays, and shows the
 *   break, until removed by hand). Only the newest
 *   RETENTION_HISTORY_BREAKS_MAX breaks count: a name's revision is its
 *   newest key's, which also goes down when a compaction drops deletions at
 *   the top and nothing is written after, and such breaks, repeated, must
 *   not keep backups without end.
 * - A disabled policy (retention_policy_is_disabled()) keeps every item.
 *
 * Pure: no clock, no files, no allocation. Returns 0; -EINVAL if p or zone is NULL,
 * items is NULL with n > 0 or an item has no name; -EOVERFLOW if a time does
 * not fit time_t or a broken-down time (checked only when the policy is not
 * disabled). On error items is left untouched. */
int retention_plan(const RetentionPolicy *p, const Zone *zone, RetentionItem *items, size_t n);

/* Moves the items of items[0..n) created more than slack_usec after now_usec
 * (the clock set back since they were taken, or ahead then) to the end,
 * each kept (RETENTION_KEEP_FUTURE), and returns how many are not: the
 * caller plans over those (retention_plan() orders them) and keeps the
 * others, which would otherwise count as newer than every backup taken
 * from now on, and have the policy remove those one after the other. */
size_t retention_set_aside_future(RetentionItem *items, size_t n, uint64_t now_usec, uint64_t slack_usec);

/* Whether a backup created at created_usec lies more than slack_usec after now_usec. */
bool retention_is_future(uint64_t created_usec, uint64_t now_usec, uint64_t slack_usec);

/* How far ahead of the clock a name may be before retention stops (an NTP
 * step back). */
#define RETENTION_FUTURE_SLACK_USEC (UINT64_C(10) * 60 * 1000000)

/* Writes the names of the bits in reasons, comma-separated in the order
 * last,hourly,daily,weekly,monthly,yearly,newest-verified,all,earlier-history,new-history,future (unknown bits are
 * ignored, 0 gives ""), into buf of size n; RETENTION_REASONS_MAX always
 * suffices, a smaller buf gets a truncated, NUL-terminated string. Returns
 * buf. */
char *retention_reasons_to_string(unsigned reasons, char *buf, size_t n);
