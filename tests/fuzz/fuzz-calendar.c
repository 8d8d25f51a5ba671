/* SPDX-License-Identifier: MIT */
/*
 * fuzz-calendar.c — libFuzzer target for the calendar-event parser: parse
 * the input as an expression, print its normalized form, reparse that (it
 * must parse again and print the same), and compute a few elapses from a
 * fixed base time in a zone with DST. Every step must finish quickly.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/zone-load.h"
#include "format/calendar.h"
#include "util/macro.h"
#include "fuzz.h"

/* 2024-03-31 00:30:00 UTC: an hour before Europe/Berlin springs forward. */
#define BASE_USEC (UINT64_C(1711845000) * USEC_PER_SEC)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static Zone *local = NULL;
        _cleanup_(calendar_spec_freep) CalendarSpec *spec = NULL, *again = NULL;
        _cleanup_free_ char *s = NULL, *normalized = NULL, *renormalized = NULL;
        uint64_t t = BASE_USEC, next;

        if (!local && zone_load("Europe/Berlin", &local) < 0)
                abort();
        if (size > 4096)
                return 0;
        s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;

        if (calendar_spec_from_string(s, local, &zone_loader_system, &spec) < 0)
                return 0;
        if (calendar_spec_to_string(spec, &normalized) < 0)
                abort();
        /* The normalized form reads back to itself. */
        if (calendar_spec_from_string(normalized, local, &zone_loader_system, &again) < 0 ||
            calendar_spec_to_string(again, &renormalized) < 0 || !streq(normalized, renormalized))
                abort();

        for (int i = 0; i < 3; i++) {
                if (calendar_spec_next_usec(spec, local, t, &next) < 0)
                        break;
                if (next <= t)
                        abort();
                t = next;
        }
        return 0;
}
