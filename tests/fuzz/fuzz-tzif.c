/* SPDX-License-Identifier: MIT */
/*
 * fuzz-tzif.c — libFuzzer target for the zone decoders: the input as TZif
 * bytes (zone_from_tzif()) and, when short, as a POSIX TZ string
 * (zone_from_rule()); every zone that decodes is then converted both ways
 * at times around its transitions, the epoch and the far past and future,
 * with fields out of range for mktime. Nothing may crash, read out of
 * bounds or take long; a local time that converts back must give the time.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format/zone.h"
#include "util/macro.h"
#include "fuzz.h"

static void exercise(const Zone *z) {
        static const int64_t times[] = {
                INT64_MIN, -INT64_C(67768040609740800), -INT64_C(2208988800), -1, 0, 1,
                INT64_C(1711846799), INT64_C(1711846800), INT64_C(1729990800), INT64_C(2147483647),
                INT64_C(2147483648), INT64_C(4102444800), INT64_C(67767976233316800), INT64_MAX,
        };
        int64_t guess = 0;

        (void) zone_name(z);
        (void) zone_abbreviation(z, 0);
        (void) zone_abbreviation(z, 1);
        (void) zone_is_utc_at(z, INT64_MIN);
        (void) zone_is_utc_at(z, 0);
        (void) zone_is_utc_at(z, INT64_MAX);
        for (size_t i = 0; i < ELEMENTSOF(times); i++) {
                struct tm tm, again;
                time_t t;

                if (zone_localtime(z, (time_t) times[i], &tm) < 0)
                        continue;
                if (!tm.tm_zone)
                        abort();
                (void) strlen(tm.tm_zone);
                for (int isdst = -1; isdst <= 1; isdst++) {
                        again = tm;
                        again.tm_isdst = isdst;
                        (void) zone_mktime(z, &again, &guess, &t);
                }
                /* With its own tm_isdst a local time is found again, unless
                 * transitions lie so close that glibc's six probes give up. */
                again = tm;
                if (zone_mktime(z, &again, NULL, &t) >= 0 && again.tm_isdst == tm.tm_isdst &&
                    again.tm_gmtoff == tm.tm_gmtoff && again.tm_year == tm.tm_year &&
                    again.tm_yday == tm.tm_yday && again.tm_hour == tm.tm_hour && again.tm_min == tm.tm_min &&
                    again.tm_sec == tm.tm_sec && t != (time_t) times[i])
                        abort();
                /* Fields far out of range. */
                again = tm;
                again.tm_mon += 1000;
                again.tm_mday -= 100000;
                again.tm_sec = INT32_MAX;
                (void) zone_mktime(z, &again, &guess, &t);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(zone_freep) Zone *z = NULL, *r = NULL;

        if (size > 65536)
                return 0;
        if (zone_from_tzif(data, size, "fuzz", &z) >= 0)
                exercise(z);
        if (size < 256) {
                char s[256];

                memcpy(s, data, size);
                s[size] = 0;
                if (zone_from_rule(s, &r) >= 0)
                        exercise(r);
        }
        return 0;
}
