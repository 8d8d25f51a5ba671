/* SPDX-License-Identifier: MIT */
/*
 * ctl/calendar.c — `etcd-backupctl calendar [--iterations N] [--base-time
 * TIME] EXPR…`: for each expression the original and normalized forms and
 * the next elapses, laid out like systemd 252's `systemd-analyze calendar`
 * (a right-aligned label column, timestamps as "Sat 2024-03-30 12:00:00 CET",
 * "(in UTC)" lines unless glibc takes the local zone for UTC at the last
 * time it converted (show_one()), "From now" relative to the
 * real clock even with --base-time, as systemd does). --base-time takes the
 * timestamps systemd-analyze takes: "YYYY-MM-DD HH:MM[:SS[.frac]]" with an
 * optional weekday in front and "UTC", the local zone abbreviation or (an
 * addition of ours) an IANA zone name behind, "YY-MM-DD …", the journal's
 * "Mon DD HH:MM:SS[.frac]" (this year), "HH:MM[:SS]",
 * "now", "today", "yesterday", "tomorrow", "@EPOCH[.frac]", "+SPAN",
 * "-SPAN", "SPAN ago", "SPAN left". The local zone is read once at the
 * start (config/zone-load.h) and passed down; a zone named in an expression
 * or in --base-time is loaded when it is parsed. CLI output: this file
 * prints.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>

#include "config/zone-load.h"
#include "ctl/json-print.h"
#include "format/calendar.h"
#include "format/zone.h"
#include "ctl/calendar.h"
#include "util/macro.h"
#include "util/parse.h"
#include "util/time.h"

#define TIMESTAMP_MAX_USEC UINT64_C(253402214399999999)
#define USEC_PER_WEEK (UINT64_C(7) * USEC_PER_DAY)
#define USEC_PER_MONTH (UINT64_C(2629800) * USEC_PER_SEC)
#define USEC_PER_YEAR (UINT64_C(31557600) * USEC_PER_SEC)
/* systemd's buffer for a formatted timestamp; longer zone names are dropped. */
#define TIMESTAMP_TEXT_MAX 38

static const char *const weekday_names[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };

/* ---- timestamps out ------------------------------------------------------ */

/* "Sat 2024-03-30 12:00:00 CET" (in zone) or "… UTC" (zone NULL). */
static char *format_timestamp(char *buf, size_t n, uint64_t usec, const Zone *zone) {
        time_t t = (time_t) (usec / USEC_PER_SEC);
        bool utc = !zone;
        struct tm tm;
        size_t len;

        if (usec > TIMESTAMP_MAX_USEC || zone_localtime(utc ? zone_utc() : zone, t, &tm) < 0 ||
            tm.tm_wday < 0 || tm.tm_wday > 6) {
                snprintf(buf, n, "n/a");
                return buf;
        }
        memcpy(buf, weekday_names[tm.tm_wday], 4);
        if (strftime(buf + 3, n - 3, " %Y-%m-%d %H:%M:%S", &tm) == 0) {
                snprintf(buf, n, "n/a");
                return buf;
        }
        len = strlen(buf);
        if (utc)
                snprintf(buf + len, n - len, " UTC");
        else if (tm.tm_zone && *tm.tm_zone && len + 1 + strlen(tm.tm_zone) + 1 <= TIMESTAMP_TEXT_MAX)
                snprintf(buf + len, n - len, " %s", tm.tm_zone);
        return buf;
}

static char *format_relative(char *buf, size_t n, uint64_t usec, uint64_t now) {
        const char *dir = now > usec ? "ago" : "left";
        uint64_t d = now > usec ? now - usec : usec - now;

        if (d >= USEC_PER_YEAR) {
                uint64_t y = d / USEC_PER_YEAR, m = (d % USEC_PER_YEAR) / USEC_PER_MONTH;
                snprintf(buf, n, "%" PRIu64 " %s %" PRIu64 " %s %s", y, y == 1 ? "year" : "years", m,
                         m == 1 ? "month" : "months", dir);
        } else if (d >= USEC_PER_MONTH) {
                uint64_t m = d / USEC_PER_MONTH, dd = (d % USEC_PER_MONTH) / USEC_PER_DAY;
                snprintf(buf, n, "%" PRIu64 " %s %" PRIu64 " %s %s", m, m == 1 ? "month" : "months", dd,
                         dd == 1 ? "day" : "days", dir);
        } else if (d >= USEC_PER_WEEK) {
                uint64_t w = d / USEC_PER_WEEK, dd = (d % USEC_PER_WEEK) / USEC_PER_DAY;
                snprintf(buf, n, "%" PRIu64 " %s %" PRIu64 " %s %s", w, w == 1 ? "week" : "weeks", dd,
                         dd == 1 ? "day" : "days", dir);
        } else if (d >= 2 * USEC_PER_DAY)
                snprintf(buf, n, "%" PRIu64 " days %s", d / USEC_PER_DAY, dir);
        else if (d >= 25 * USEC_PER_HOUR)
                snprintf(buf, n, "1 day %" PRIu64 "h %s", (d - USEC_PER_DAY) / USEC_PER_HOUR, dir);
        else if (d >= 6 * USEC_PER_HOUR)
                snprintf(buf, n, "%" PRIu64 "h %s", d / USEC_PER_HOUR, dir);
        else if (d >= USEC_PER_HOUR)
                snprintf(buf, n, "%" PRIu64 "h %" PRIu64 "min %s", d / USEC_PER_HOUR,
                         (d % USEC_PER_HOUR) / USEC_PER_MINUTE, dir);
        else if (d >= 5 * USEC_PER_MINUTE)
                snprintf(buf, n, "%" PRIu64 "min %s", d / USEC_PER_MINUTE, dir);
        else if (d >= USEC_PER_MINUTE)
                snprintf(buf, n, "%" PRIu64 "min %" PRIu64 "s %s", d / USEC_PER_MINUTE,
                         (d % USEC_PER_MINUTE) / USEC_PER_SEC, dir);
        else if (d >= USEC_PER_SEC)
                snprintf(buf, n, "%" PRIu64 "s %s", d / USEC_PER_SEC, dir);
        else if (d >= USEC_PER_MSEC)
                snprintf(buf, n, "%" PRIu64 "ms %s", d / USEC_PER_MSEC, dir);
        else if (d > 0)
                snprintf(buf, n, "%" PRIu64 "us %s", d, dir);
        else
                snprintf(buf, n, "now");
        return buf;
}

/* ---- timestamps in ------------------------------------------------------- */

/* Up to 6 fraction digits as microseconds, rounded on the 7th. */
static int parse_fraction(const char **p, uint64_t *ret) {
        const char *s = *p;
        uint64_t v = 0;
        unsigned i;

        for (i = 0; i < 6 && *s >= '0' && *s <= '9'; i++, s++)
                v = v * 10 + (uint64_t) (*s - '0');
        if (i == 0)
                return -EINVAL;
        for (; i < 6; i++)
                v *= 10;
        if (*s >= '5' && *s <= '9')
                v++;
        while (*s >= '0' && *s <= '9')
                s++;
        *p = s;
        *ret = v;
        return 0;
}

/* A time span such as "5min", "1h 30min", "2.5d", "90" (seconds). */
static int parse_span(const char *s, uint64_t *ret) {
        static const struct {
                const char *name;
                uint64_t usec;
        } units[] = {
                { "seconds", USEC_PER_SEC }, { "second", USEC_PER_SEC }, { "sec", USEC_PER_SEC },
                { "s", USEC_PER_SEC },       { "minutes", USEC_PER_MINUTE }, { "minute", USEC_PER_MINUTE },
                { "min", USEC_PER_MINUTE },  { "months", USEC_PER_MONTH }, { "month", USEC_PER_MONTH },
                { "msec", USEC_PER_MSEC },   { "ms", USEC_PER_MSEC },  { "m", USEC_PER_MINUTE },
                { "hours", USEC_PER_HOUR },  { "hour", USEC_PER_HOUR }, { "hr", USEC_PER_HOUR },
                { "h", USEC_PER_HOUR },      { "days", USEC_PER_DAY },  { "day", USEC_PER_DAY },
                { "d", USEC_PER_DAY },       { "weeks", USEC_PER_WEEK }, { "week", USEC_PER_WEEK },
                { "w", USEC_PER_WEEK },      { "M", USEC_PER_MONTH },  { "years", USEC_PER_YEAR },
                { "year", USEC_PER_YEAR },   { "y", USEC_PER_YEAR },   { "usec", 1 },
                { "us", 1 },                 { "", USEC_PER_SEC },
        };
        uint64_t total = 0;
        bool any = false;

        for (;;) {
                uint64_t whole = 0, frac = 0, mult = 0, add;
                size_t ulen = 0;
                const char *u;

                s += strspn(s, " \t");
                if (!*s)
                        break;
                if (*s < '0' || *s > '9')
                        return -EINVAL;
                for (; *s >= '0' && *s <= '9'; s++) {
                        if (whole > (UINT64_MAX - 9) / 10)
                                return -ERANGE;
                        whole = whole * 10 + (uint64_t) (*s - '0');
                }
                if (*s == '.') {
                        s++;
                        if (parse_fraction(&s, &frac) < 0)
                                return -EINVAL;
                }
                s += strspn(s, " \t");
                u = s;
                while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))
                        s++;
                ulen = (size_t) (s - u);
                for (size_t i = 0; i < ELEMENTSOF(units); i++)
                        if (strlen(units[i].name) == ulen && strncmp(u, units[i].name, ulen) == 0) {
                                mult = units[i].usec;
                                break;
                        }
                if (mult == 0)
                        return -EINVAL;
                if (whole > UINT64_MAX / mult)
                        return -ERANGE;
                add = whole * mult + frac * mult / USEC_PER_SEC;
                if (add < whole * mult || total + add < total)
                        return -ERANGE;
                total += add;
                any = true;
        }
        if (!any)
                return -EINVAL;
        *ret = total;
        return 0;
}

static const char *endswith_nocase_ptr(const char *s, const char *suffix) {
        size_t sl = strlen(s), xl = strlen(suffix);

        if (xl > sl || strcasecmp(s + sl - xl, suffix) != 0)
                return NULL;
        return s + sl - xl;
}

/* The timestamp forms of systemd's parse_timestamp(), in zone z. A date or
 * time of day (not "now", "@…", a span, or a time in UTC) converts the
 * clock's time in z, then the result: *glibc_at follows (also when the
 * text turns out not to be a timestamp). */
static int parse_base_time_in(const char *s, const Zone *z, uint64_t now, uint64_t *ret, int64_t *glibc_at) {
        static const struct {
                const char *name;
                int wday;
        } days[] = {
                { "Sunday", 0 }, { "Sun", 0 }, { "Monday", 1 }, { "Mon", 1 }, { "Tuesday", 2 },
                { "Tue", 2 }, { "Wednesday", 3 }, { "Wed", 3 }, { "Thursday", 4 }, { "Thu", 4 },
                { "Friday", 5 }, { "Fri", 5 }, { "Saturday", 6 }, { "Sat", 6 },
        };
        static const struct {
                const char *format;
                bool seconds; /* may be followed by a fraction */
                int zero;     /* fields to clear: 1 seconds, 3 the whole time */
        } formats[] = {
                { "%y-%m-%d %H:%M:%S", true, 0 }, { "%Y-%m-%d %H:%M:%S", true, 0 },
                { "%b %d %H:%M:%S", true, 0 },     /* the journal's short form, this year */
                { "%y-%m-%d %H:%M", false, 1 },   { "%Y-%m-%d %H:%M", false, 1 },
                { "%y-%m-%d", false, 3 },         { "%Y-%m-%d", false, 3 },
                { "%H:%M:%S", true, 0 },          { "%H:%M", false, 1 },
        };
        _cleanup_free_ char *copy = NULL;
        uint64_t span, frac = 0, v;
        const char *e;
        bool utc = false;
        int dst = -1, wday = -1;
        struct tm tm, saved;
        int64_t guess = 0; /* a fresh process's mktime() */
        time_t t;

        if (!*s)
                return -EINVAL;
        if (s[0] == '@')
                return parse_span(s + 1, ret);
        if (streq(s, "now")) {
                *ret = now;
                return 0;
        }
        if (s[0] == '+' || s[0] == '-') {
                if (parse_span(s + 1, &span) < 0)
                        return -EINVAL;
                if (s[0] == '+') {
                        if (now + span < now)
                                return -EINVAL;
                        *ret = now + span;
                } else
                        *ret = now > span ? now - span : 0;
                return 0;
        }
        if ((e = endswith_nocase_ptr(s, " ago")) || (e = endswith_nocase_ptr(s, " left"))) {
                bool ago = e[1] == 'a' || e[1] == 'A';

                copy = strndup(s, (size_t) (e - s));
                if (!copy)
                        return -ENOMEM;
                if (parse_span(copy, &span) < 0)
                        return -EINVAL;
                if (!ago) {
                        if (now + span < now)
                                return -EINVAL;
                        *ret = now + span;
                } else
                        *ret = now > span ? now - span : 0;
                return 0;
        }

        if ((e = endswith_nocase_ptr(s, " UTC"))) {
                utc = true;
                copy = strndup(s, (size_t) (e - s));
                if (!copy)
                        return -ENOMEM;
                s = copy;
        } else {
                for (int j = 0; j <= 1; j++) {
                        /* tzname[] as it is then, after the conversions before. */
                        const char *abbr = zone_abbreviation_at(z, j, *glibc_at);

                        if (!abbr || !*abbr)
                                continue;
                        e = endswith_nocase_ptr(s, abbr);
                        if (!e || e == s || e[-1] != ' ')
                                continue;
                        copy = strndup(s, (size_t) (e - s - 1));
                        if (!copy)
                                return -ENOMEM;
                        s = copy;
                        dst = j;
                        break;
                }
        }

        if (utc)
                z = zone_utc();
        t = (time_t) (now / USEC_PER_SEC);
        if (zone_localtime(z, t, &tm) < 0)
                return -EINVAL;
        if (!utc)
                *glibc_at = t;
        tm.tm_isdst = dst;

        if (streq(s, "today") || streq(s, "yesterday") || streq(s, "tomorrow")) {
                tm.tm_mday += streq(s, "yesterday") ? -1 : streq(s, "tomorrow") ? 1 : 0;
                tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
                goto from_tm;
        }

        for (size_t i = 0; i < ELEMENTSOF(days); i++) {
                size_t len = strlen(days[i].name);
                if (strncasecmp(s, days[i].name, len) == 0 && s[len] == ' ') {
                        wday = days[i].wday;
                        s += len + 1;
                        break;
                }
        }

        saved = tm;
        for (size_t i = 0; i < ELEMENTSOF(formats); i++) {
                const char *k;

                tm = saved;
                k = strptime(s, formats[i].format, &tm);
                if (!k)
                        continue;
                if (formats[i].seconds && *k == '.') {
                        k++;
                        if (parse_fraction(&k, &frac) < 0 || *k)
                                return -EINVAL;
                        goto from_tm;
                }
                if (*k)
                        continue;
                if (formats[i].zero >= 1)
                        tm.tm_sec = 0;
                if (formats[i].zero >= 3)
                        tm.tm_min = tm.tm_hour = 0;
                goto from_tm;
        }
        return -EINVAL;

from_tm:
        if (wday >= 0 && tm.tm_wday != wday)
                return -EINVAL;
        if (utc)
                tm.tm_isdst = 0; /* as timegm() */
        if (zone_mktime(z, &tm, &guess, &t) < 0)
                return -EINVAL;
        if (!utc)
                *glibc_at = t;
        if (t < 0)
                return -EINVAL;
        v = (uint64_t) t * USEC_PER_SEC + frac;
        if (v > TIMESTAMP_MAX_USEC)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* "2024-03-30 12:00:00 Europe/Berlin" in that zone, anything else in the
 * local zone; *glibc_at follows the conversions in the local zone
 * (systemd converts in another zone in a child process). */
static int parse_base_time(const char *s, const Zone *local, uint64_t now, uint64_t *ret, int64_t *glibc_at) {
        const char *space = strrchr(s, ' ');
        _cleanup_(zone_freep) Zone *zone = NULL;
        _cleanup_free_ char *body = NULL;
        int64_t elsewhere = INT64_MIN;
        int r;

        if (!space || endswith_nocase_ptr(s, " UTC"))
                return parse_base_time_in(s, local, now, ret, glibc_at);
        r = zone_load(space + 1, &zone);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return parse_base_time_in(s, local, now, ret, glibc_at);
        body = strndup(s, (size_t) (space - s));
        if (!body)
                return -ENOMEM;
        return parse_base_time_in(body, zone, now, ret, &elsewhere);
}

/* ---- the table ----------------------------------------------------------- */

typedef struct Row {
        char *label;
        char *value;
} Row;

typedef struct Table {
        Row *rows;
        size_t n;
} Table;

static void table_done(Table *t) {
        for (size_t i = 0; i < t->n; i++) {
                free(t->rows[i].label);
                free(t->rows[i].value);
        }
        t->rows = mfree(t->rows);
        t->n = 0;
}

static int table_add(Table *t, const char *label, const char *value) {
        Row *rows = realloc(t->rows, (t->n + 1) * sizeof *rows);
        Row row = { strdup(label), strdup(value) };

        if (rows)
                t->rows = rows;
        if (!rows || !row.label || !row.value) {
                free(row.label);
                free(row.value);
                return -ENOMEM;
        }
        t->rows[t->n++] = row;
        return 0;
}

static void table_print(const Table *t) {
        int width = 0;

        for (size_t i = 0; i < t->n; i++)
                width = MAX(width, (int) strlen(t->rows[i].label) + 1);
        for (size_t i = 0; i < t->n; i++) {
                const char *v = t->rows[i].value;
                size_t len = strlen(v);
                char label[64];

                /* Like systemd's tables: no trailing blanks in the last column. */
                while (len > 0 && strchr(" \t\n\r", v[len - 1]))
                        len--;
                snprintf(label, sizeof label, "%s:", t->rows[i].label);
                printf("%*s %.*s\n", width, label, (int) len, v);
        }
}

/* *glibc_at: the time glibc last converted to local time (INT64_MIN: none
 * yet), whose timezone and daylight decide systemd-analyze's "(in UTC)"
 * lines (zone_is_utc_at()). The search for an elapse in local time
 * converts times (calendar_spec_next_usec_traced() says which was last);
 * so does printing the table, which systemd does after the elapses are
 * computed; an expression in UTC or in a named zone converts nothing
 * (systemd computes the latter in a child process). */
/* With json (an array), the expression's object goes there instead of the
 * table: {"expression", "normalized", "next": [RFC 3339, UTC]}, or
 * {"expression", "error"}. */
static int show_one(const char *expr, const Zone *local, uint64_t base, unsigned iterations, uint64_t now,
                    int64_t *glibc_at, json_object *json) {
        _cleanup_(calendar_spec_freep) CalendarSpec *spec = NULL;
        _cleanup_free_ char *normalized = NULL;
        _cleanup_(table_done) Table table = {};
        json_object *obj = NULL, *next = NULL;
        uint64_t n = base, printed = 0;
        int r;

        if (json) {
                obj = json_object_new_object();
                if (!obj || json_object_array_add(json, obj) < 0) {
                        json_object_put(obj);
                        fprintf(stderr, "Out of memory.\n");
                        return -ENOMEM;
                }
                json_object_object_add(obj, "expression", json_object_new_string(expr));
        }

        r = calendar_spec_from_string_at(expr, local, *glibc_at, &zone_loader_system, &spec);
        if (r < 0) {
                uint64_t ignored;

                /* systemd then tries it as a timestamp, for a hint. */
                if (r != -ENOMEM)
                        (void) parse_base_time(expr, local, now, &ignored, glibc_at);
                fflush(stdout); /* keep stdout and stderr in order on a terminal */
                fprintf(stderr, "Failed to parse calendar specification '%s': %s\n", expr, strerror(-r));
                if (obj)
                        json_object_object_add(obj, "error", json_object_new_string(strerror(-r)));
                return r;
        }
        r = calendar_spec_to_string(spec, &normalized);
        if (r < 0) {
                fprintf(stderr, "Failed to format calendar specification '%s': %s\n", expr, strerror(-r));
                return r;
        }

        if (json) {
                next = json_object_new_array();
                json_object_object_add(obj, "normalized", json_object_new_string(normalized));
                if (!next || json_object_object_add(obj, "next", next) < 0) {
                        json_object_put(next);
                        r = -ENOMEM;
                        goto oom;
                }
        } else {
                if (!streq(normalized, expr) && (r = table_add(&table, "Original form", expr)) < 0)
                        goto oom;
                if ((r = table_add(&table, "Normalized form", normalized)) < 0)
                        goto oom;
        }

        for (unsigned i = 0; i < iterations; i++) {
                char label[32], when[64], rel[64];
                uint64_t elapse;

                r = calendar_spec_next_usec_traced(spec, local, n, &elapse, glibc_at);
                if (r == -ENOENT) {
                        if (!json && i == 0 && (r = table_add(&table, "Next elapse", "never")) < 0)
                                goto oom;
                        break;
                }
                if (r < 0) {
                        fflush(stdout);
                        fprintf(stderr, "Failed to determine next elapse for '%s': %s\n", expr, strerror(-r));
                        if (obj)
                        if (obj)
                                json_object_object_add(obj, "error", json_object_new_string(strerror(-r)));
                        return r;
                }
                if (json) {
                        if (json_object_array_add(next, json_object_new_string(format_rfc3339(when, sizeof when,
                                                                                              elapse))) < 0) {
                                r = -ENOMEM;
                                goto oom;
                        }
                        n = printed = elapse;
                        continue;
                }
                if (i == 0)
                        snprintf(label, sizeof label, "Next elapse");
                else
                        snprintf(label, sizeof label, "Iter. #%u", i + 1);
                if ((r = table_add(&table, label, format_timestamp(when, sizeof when, elapse, local))) < 0)
                        goto oom;
                if (!zone_is_utc_at(local, *glibc_at) &&
                    (r = table_add(&table, "(in UTC)", format_timestamp(when, sizeof when, elapse, NULL))) < 0)
                        goto oom;
                if ((r = table_add(&table, "From now", format_relative(rel, sizeof rel, elapse, now))) < 0)
                        goto oom;
                n = printed = elapse;
        }
        if (printed > 0 && !json)
                *glibc_at = (int64_t) (printed / USEC_PER_SEC);
        if (!json)
                table_print(&table);
        return 0;
oom:
        fprintf(stderr, "Out of memory.\n");
        return r;
}

static void help(void) {
        printf("Usage: etcd-backupctl calendar [--iterations N] [--base-time TIME] EXPR...\n"
               "\n"
               "Print the normalized form and the next elapses of systemd.time(7) calendar\n"
               "expressions, in the layout and with the results of `systemd-analyze calendar`.\n"
               "\n"
               "  --iterations N     show N elapses (default 1)\n"
               "  --base-time TIME   count from TIME instead of now, e.g. \"2026-11-21 02:00:00\",\n"
               "                     \"2026-11-21 02:00:00 UTC\" or \"@1795226400\"\n"
               "  -h, --help         show this help\n");
}

int ctl_calendar_main(int argc, char **argv, bool json) {
        enum { OPT_ITERATIONS = 0x100, OPT_BASE_TIME };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "iterations", required_argument, NULL, OPT_ITERATIONS },
                { "base-time", required_argument, NULL, OPT_BASE_TIME },
                {},
        };
        _cleanup_(zone_freep) Zone *local = NULL;
        const char *base_arg = NULL;
        unsigned iterations = 1;
        int64_t glibc_at = INT64_MIN;
        uint64_t now, base, v;
        json_object *out = NULL;
        int c, ret = 0;

        optind = 0; /* the caller may have run getopt already */
        opterr = 1;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case OPT_ITERATIONS:
                        if (safe_atou64(optarg, &v) < 0 || v > UINT_MAX) {
                                fprintf(stderr, "Failed to parse --iterations= parameter: %s\n", optarg);
                                return 2;
                        }
                        iterations = (unsigned) v;
                        break;
                case OPT_BASE_TIME:
                        base_arg = optarg;
                        break;
                default:
                        return 2;
                }

        if (optind >= argc) {
                fprintf(stderr, "calendar: at least one calendar expression is needed "
                                "(etcd-backupctl calendar --help)\n");
                return 2;
        }

        {
                _cleanup_free_ char *zone_warning = NULL;

                if (zone_load_local(&local, &zone_warning) < 0) {
                        fprintf(stderr, "Out of memory.\n");
                        return 1;
                }
                if (zone_warning)
                        fprintf(stderr, "calendar: warning: %s\n", zone_warning);
        }

        /* The same base for every expression; "From now" always uses the clock. */
        now = now_usec(CLOCK_REALTIME);
        base = now;
        if (base_arg) {
                if (parse_base_time(base_arg, local, now, &base, &glibc_at) < 0) {
                        fprintf(stderr, "Failed to parse --base-time= parameter: %s\n", base_arg);
                        return 2;
                }
        }

        if (json && !(out = json_object_new_array())) {
                fprintf(stderr, "Out of memory.\n");
                return 1;
        }
        for (int i = optind; i < argc; i++) {
                if (show_one(argv[i], local, base, iterations, now, &glibc_at, out) < 0)
                        ret = 1;
                if (!json && i + 1 < argc)
                        putchar('\n');
        }
        if (json) {
                if (json_print("calendar", out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE) < 0)
                        ret = 1;
                json_object_put(out);
        }
        return fflush(stdout) == 0 ? ret : 1;
}
