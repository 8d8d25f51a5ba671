/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * calendar.h — systemd.time(7) calendar events: parse, normalize, compute
 * the next elapse. Pure: the caller passes the time to start from.
 */

#include <stdint.h>

typedef struct CalendarSpec CalendarSpec;

/* Parse an expression. Returns 0 and a new spec, or -EINVAL (bad syntax or
 * values), -ENOMEM. */
int calendar_spec_from_string(const char *s, CalendarSpec **ret);

CalendarSpec *calendar_spec_free(CalendarSpec *spec);

/* The normalized form, as `systemd-analyze calendar` prints it. Caller frees. */
int calendar_spec_to_string(const CalendarSpec *spec, char **ret);

/* The first elapse strictly after after_usec (CLOCK_REALTIME usec).
 * -ENOENT if the expression never elapses again. */
int calendar_spec_next_usec(const CalendarSpec *spec, uint64_t after_usec, uint64_t *ret_next);
