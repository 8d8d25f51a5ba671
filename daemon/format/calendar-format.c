/* SPDX-License-Identifier: MIT */
/*
 * calendar-format.c — a parsed calendar event in its normalized form, as
 * systemd 252's `systemd-analyze calendar` prints it ("Normalized form:").
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "format/calendar-internal.h"

static const char *const weekday_abbrev[7] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };

static void format_weekdays(FILE *f, int bits) {
        bool first = true;

        for (int d = 0; d < 7;) {
                int end = d;

                if (!(bits & (1 << d))) {
                        d++;
                        continue;
                }
                while (end + 1 < 7 && (bits & (1 << (end + 1))))
                        end++;
                if (!first)
                        fputc(',', f);
                first = false;
                fputs(weekday_abbrev[d], f);
                if (end == d + 1)
                        fprintf(f, ",%s", weekday_abbrev[end]);
                else if (end > d + 1)
                        fprintf(f, "..%s", weekday_abbrev[end]);
                d = end + 1;
        }
}

/* "*" when the field is empty, or when one item of the seconds field is
 * "every second" (which covers whatever else is listed). */
static bool field_is_star(const CalendarField *fl, bool usec) {
        if (fl->n == 0)
                return true;
        if (usec)
                for (size_t i = 0; i < fl->n; i++)
                        if (fl->items[i].start == 0 && fl->items[i].stop < 0 &&
                            fl->items[i].repeat == SECOND_USEC)
                                return true;
        return false;
}

static void format_field(FILE *f, int width, const CalendarField *fl, bool usec) {
        int d = usec ? SECOND_USEC : 1;

        if (field_is_star(fl, usec)) {
                fputc('*', f);
                return;
        }
        for (size_t i = 0; i < fl->n; i++) {
                const CalendarItem *it = &fl->items[i];

                if (i > 0)
                        fputc(',', f);
                fprintf(f, "%0*d", width, it->start / d);
                if (it->start % d > 0)
                        fprintf(f, ".%06d", it->start % d);
                if (it->stop > 0) {
                        fprintf(f, "..%0*d", width, it->stop / d);
                        if (it->stop % d > 0)
                                fprintf(f, ".%06d", it->stop % d);
                }
                /* A range's default step (1, or 1 s) goes unsaid. */
                if (it->repeat > 0 && !(it->stop > 0 && it->repeat == d))
                        fprintf(f, "/%d", it->repeat / d);
                if (it->repeat % d > 0)
                        fprintf(f, ".%06d", it->repeat % d);
        }
}

int calendar_spec_to_string(const CalendarSpec *c, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (!c || !ret)
                return -EINVAL;
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        if (c->weekdays > 0 && c->weekdays < WEEKDAYS_ALL) {
                format_weekdays(f, c->weekdays);
                fputc(' ', f);
        }
        format_field(f, 4, &c->field[FIELD_YEAR], false);
        fputc('-', f);
        format_field(f, 2, &c->field[FIELD_MONTH], false);
        fputc(c->end_of_month ? '~' : '-', f);
        format_field(f, 2, &c->field[FIELD_DAY], false);
        fputc(' ', f);
        format_field(f, 2, &c->field[FIELD_HOUR], false);
        fputc(':', f);
        format_field(f, 2, &c->field[FIELD_MINUTE], false);
        fputc(':', f);
        format_field(f, 2, &c->field[FIELD_USEC], true);

        if (c->utc)
                fputs(" UTC", f);
        else if (c->zone)
                fprintf(f, " %s", c->zone);
        else if (c->dst_name && *c->dst_name)
                fprintf(f, " %s", c->dst_name);

        if (fflush(f) != 0 || ferror(f)) {
                fclose(f);
                return -ENOMEM;
        }
        fclose(f);
        if (!buf)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}
