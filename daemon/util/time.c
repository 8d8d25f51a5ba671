/* SPDX-License-Identifier: MIT */
/*
 * time.c — clock reads and timestamp formatting/parsing (see time.h).
 */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/macro.h"
#include "util/time.h"

uint64_t now_usec(clockid_t clock) {
        struct timespec ts;
        if (clock_gettime(clock, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

void sleep_usec(uint64_t usec) {
        struct timespec ts = { .tv_sec = (time_t) (usec / USEC_PER_SEC),
                               .tv_nsec = (long) ((usec % USEC_PER_SEC) * NSEC_PER_USEC) };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

uint64_t backoff_next(uint64_t delay_usec, uint64_t max_usec) {
        if (delay_usec < POLL_FIRST_USEC / 2)
                delay_usec = POLL_FIRST_USEC / 2;
        return delay_usec > max_usec / 2 ? max_usec : 2 * delay_usec;
}

void sleep_backoff(uint64_t *delay_usec, uint64_t max_usec) {
        sleep_usec(*delay_usec < max_usec ? *delay_usec : max_usec);
        *delay_usec = backoff_next(*delay_usec, max_usec);
}

static int utc_tm(uint64_t usec, struct tm *tm) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        return gmtime_r(&t, tm) ? 0 : -EINVAL;
}

char *format_rfc3339(char *buf, size_t n, uint64_t realtime_usec) {
        struct tm tm;
        if (utc_tm(realtime_usec, &tm) < 0 || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, n, "invalid");
        return buf;
}

char *format_compact_utc(char *buf, size_t n, uint64_t realtime_usec) {
        struct tm tm;
        if (utc_tm(realtime_usec, &tm) < 0 || strftime(buf, n, "%Y%m%dT%H%M%SZ", &tm) == 0)
                snprintf(buf, n, "invalid");
        return buf;
}

static int read_digits(const char **p, unsigned count, int *ret) {
        int v = 0;
        for (unsigned i = 0; i < count; i++) {
                if (!isdigit((unsigned char) (*p)[i]))
                        return -EINVAL;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += count;
        *ret = v;
        return 0;
}

static int expect(const char **p, char c) {
        if (**p != c)
                return -EINVAL;
        (*p)++;
        return 0;
}

static int tm_to_usec(struct tm *tm, long offset_sec, uint64_t frac_usec, uint64_t *ret) {
        time_t t;
        if (tm->tm_mon < 0 || tm->tm_mon > 11 || tm->tm_mday < 1 || tm->tm_mday > 31 ||
            tm->tm_hour > 23 || tm->tm_min > 59 || tm->tm_sec > 60 || tm->tm_year < 70)
                return -EINVAL;
        t = timegm(tm);
        if (t == (time_t) -1)
                return -EINVAL;
        t -= offset_sec;
        if (t < 0)
                return -EINVAL;
        *ret = (uint64_t) t * USEC_PER_SEC + frac_usec;
        return 0;
}

int parse_compact_utc(const char *s, uint64_t *ret_usec) {
        struct tm tm = {};
        int y, mo, d, h, mi, se;

        if (read_digits(&s, 4, &y) < 0 || read_digits(&s, 2, &mo) < 0 || read_digits(&s, 2, &d) < 0 ||
            expect(&s, 'T') < 0 || read_digits(&s, 2, &h) < 0 || read_digits(&s, 2, &mi) < 0 ||
            read_digits(&s, 2, &se) < 0 || expect(&s, 'Z') < 0 || *s)
                return -EINVAL;
        tm = (struct tm) { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                           .tm_hour = h, .tm_min = mi, .tm_sec = se };
        return tm_to_usec(&tm, 0, 0, ret_usec);
}

int parse_rfc3339(const char *s, uint64_t *ret_usec) {
        struct tm tm = {};
        int y, mo, d, h, mi, se;
        uint64_t frac = 0, scale = 100000;
        long offset = 0;

        if (read_digits(&s, 4, &y) < 0 || expect(&s, '-') < 0 || read_digits(&s, 2, &mo) < 0 ||
            expect(&s, '-') < 0 || read_digits(&s, 2, &d) < 0 ||
            (*s != 'T' && *s != 't' && *s != ' ') )
                return -EINVAL;
        s++;
        if (read_digits(&s, 2, &h) < 0 || expect(&s, ':') < 0 || read_digits(&s, 2, &mi) < 0 ||
            expect(&s, ':') < 0 || read_digits(&s, 2, &se) < 0)
                return -EINVAL;
        if (*s == '.') {
                s++;
                if (!isdigit((unsigned char) *s))
                        return -EINVAL;
                for (; isdigit((unsigned char) *s); s++) {
                        frac += (uint64_t) (*s - '0') * scale;
                        scale /= 10;
                }
        }
        if (*s == 'Z' || *s == 'z')
                s++;
        else if (*s == '+' || *s == '-') {
                int oh, om, sign = *s == '-' ? -1 : 1;
                s++;
                if (read_digits(&s, 2, &oh) < 0 || expect(&s, ':') < 0 || read_digits(&s, 2, &om) < 0 ||
                    oh > 23 || om > 59)
                        return -EINVAL;
                offset = sign * (oh * 3600L + om * 60L);
        } else
                return -EINVAL;
        if (*s)
                return -EINVAL;
        tm = (struct tm) { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                           .tm_hour = h, .tm_min = mi, .tm_sec = se };
        return tm_to_usec(&tm, offset, frac, ret_usec);
}
