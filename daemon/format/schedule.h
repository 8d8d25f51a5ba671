/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * schedule.h — the daemon's timer arithmetic, pure so it can be tested with
 * an injected clock: which elapse to arm next, and whether a run was missed
 * while the daemon was down. No clock is read here.
 */

#include <stdbool.h>
#include <stdint.h>

#include "format/calendar.h"

/* Local time is the zone local (calendar_spec_next_usec()). */

/* The elapse to arm after the one planned at `planned` fired (or, at start
 * and after a reload, planned = now). It is the calendar's next elapse after
 * `planned`, so the schedule never drifts with how long a job took; if that
 * is already in the past (the job outlasted it, or the wall clock jumped
 * forward over it) it is the next elapse after `now` instead: one run for
 * everything missed, never a burst, never two for one elapse. Returns 0,
 * or -ENOENT when the calendar has no further elapse. */
int schedule_next(const CalendarSpec *spec, const Zone *local, uint64_t planned, uint64_t now, uint64_t *ret_next);

/* After the wall clock was set (by hand, by NTP stepping it): the elapse to
 * arm instead of `planned` (0 = none), or `planned` itself. A clock set back
 * leaves `planned` far ahead of the new time (a clock a day ahead, then
 * corrected, would skip a day of runs), so the next elapse after `now` is
 * armed instead, unless it is `last_fired` (the elapse that ran last, 0 =
 * none): a small step back never runs one elapse twice. A clock set forward
 * changes nothing: the timer fires once for everything it jumped over.
 * Returns 0, or -ENOENT when the calendar has no elapse after `now`. */
int schedule_after_clock_change(const CalendarSpec *spec, const Zone *local, uint64_t planned, uint64_t last_fired,
                                uint64_t now, uint64_t *ret_next);

/* schedule.persistent: true when the newest backup (0 = none) is older than
 * the last elapse at or before now. */
bool schedule_missed(const CalendarSpec *spec, const Zone *local, uint64_t newest_backup, uint64_t now);
