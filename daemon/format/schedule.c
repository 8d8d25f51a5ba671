/* SPDX-License-Identifier: MIT */
/*
 * schedule.c — the daemon's timer arithmetic (see schedule.h).
 */

#include <errno.h>

#include "format/schedule.h"

int schedule_next(const CalendarSpec *spec, const Zone *local, uint64_t planned, uint64_t now, uint64_t *ret_next) {
        uint64_t next;
        int r;

        r = calendar_spec_next_usec(spec, local, planned, &next);
        if (r >= 0 && next <= now)
                r = calendar_spec_next_usec(spec, local, now, &next);
        if (r < 0)
                return r;
        *ret_next = next;
        return 0;
}

int schedule_after_clock_change(const CalendarSpec *spec, const Zone *local, uint64_t planned, uint64_t last_fired,
                                uint64_t now, uint64_t *ret_next) {
        uint64_t next;
        int r;

        r = calendar_spec_next_usec(spec, local, now, &next);
        if (r >= 0 && last_fired > 0 && next == last_fired)
                r = calendar_spec_next_usec(spec, local, next, &next);
        if (r < 0)
                return r;
        *ret_next = planned > 0 && next >= planned ? planned : next;
        return 0;
}

bool schedule_missed(const CalendarSpec *spec, const Zone *local, uint64_t newest_backup, uint64_t now) {
        uint64_t next;

        if (newest_backup == 0)
                return true;
        return calendar_spec_next_usec(spec, local, newest_backup, &next) >= 0 && next <= now;
}
