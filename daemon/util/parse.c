/* SPDX-License-Identifier: MIT */
/*
 * parse.c — strict number, size and duration parsing (see parse.h).
 */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/macro.h"
#include "util/parse.h"

int safe_atou64(const char *s, uint64_t *ret) {
        char *end = NULL;
        unsigned long long v;

        if (!s || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (errno != 0 || !end || *end != '\0')
                return -EINVAL;
        *ret = (uint64_t) v;
        return 0;
}

/* Reads the leading decimal digits of *p; advances *p. */
static int read_number(const char **p, uint64_t *ret) {
        uint64_t v = 0;
        const char *s = *p;

        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        for (; isdigit((unsigned char) *s); s++) {
                unsigned d = (unsigned) (*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *p = s;
        *ret = v;
        return 0;
}

int parse_size(const char *s, uint64_t *ret_bytes) {
        static const struct {
                const char *suffix;
                uint64_t factor;
        } table[] = {
                { "",    1 },
                { "B",   1 },
                { "K",   UINT64_C(1) << 10 }, { "KB", UINT64_C(1) << 10 }, { "KiB", UINT64_C(1) << 10 },
                { "M",   UINT64_C(1) << 20 }, { "MB", UINT64_C(1) << 20 }, { "MiB", UINT64_C(1) << 20 },
                { "G",   UINT64_C(1) << 30 }, { "GB", UINT64_C(1) << 30 }, { "GiB", UINT64_C(1) << 30 },
                { "T",   UINT64_C(1) << 40 }, { "TB", UINT64_C(1) << 40 }, { "TiB", UINT64_C(1) << 40 },
        };
        uint64_t v;
        int r;

        if (!s)
                return -EINVAL;
        r = read_number(&s, &v);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                if (!streq(s, table[i].suffix))
                        continue;
                if (v > UINT64_MAX / table[i].factor)
                        return -ERANGE;
                *ret_bytes = v * table[i].factor;
                return 0;
        }
        return -EINVAL;
}

int parse_duration(const char *s, uint64_t *ret_usec) {
        static const struct {
                const char *suffix;
                uint64_t factor;
        } table[] = {
                /* Longest suffixes first so "min" is not read as "m" + junk, "ms" not as "m". */
                { "usec", 1 }, { "msec", USEC_PER_MSEC }, { "sec", USEC_PER_SEC },
                { "min", USEC_PER_MINUTE }, { "hour", USEC_PER_HOUR }, { "day", USEC_PER_DAY },
                { "us", 1 }, { "ms", USEC_PER_MSEC }, { "s", USEC_PER_SEC },
                { "m", USEC_PER_MINUTE }, { "h", USEC_PER_HOUR }, { "d", USEC_PER_DAY },
                { "w", 7 * USEC_PER_DAY },
        };
        uint64_t total = 0;
        int r;

        if (!s || !*s)
                return -EINVAL;
        if (streq(s, "0")) {
                *ret_usec = 0;
                return 0;
        }
        while (*s) {
                uint64_t v, factor = 0;
                size_t len = 0;

                while (*s == ' ')
                        s++;
                r = read_number(&s, &v);
                if (r < 0)
                        return r;
                while (*s == ' ')
                        s++;
                for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                        size_t l = strlen(table[i].suffix);
                        if (strncmp(s, table[i].suffix, l) != 0)
                                continue;
                        /* The suffix must end here or be followed by a digit/space. */
                        if (s[l] != '\0' && s[l] != ' ' && !isdigit((unsigned char) s[l]))
                                continue;
                        factor = table[i].factor;
                        len = l;
                        break;
                }
                if (factor == 0)
                        return -EINVAL;
                if (v > UINT64_MAX / factor || total > UINT64_MAX - v * factor)
                        return -ERANGE;
                total += v * factor;
                s += len;
                while (*s == ' ')
                        s++;
        }
        *ret_usec = total;
        return 0;
}

char *format_bytes(char *buf, size_t n, uint64_t bytes) {
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
        double v = (double) bytes;
        size_t u = 0;

        if (bytes < 1024) {
                snprintf(buf, n, "%" PRIu64 " B", bytes);
                return buf;
        }
        while (v >= 1024.0 && u + 1 < ELEMENTSOF(units)) {
                v /= 1024.0;
                u++;
        }
        snprintf(buf, n, "%.1f %s", v, units[u]);
        return buf;
}

char *format_duration(char *buf, size_t n, uint64_t usec) {
        static const struct {
                const char *suffix;
                uint64_t factor;
        } table[] = {
                { "d", USEC_PER_DAY }, { "h", USEC_PER_HOUR }, { "min", USEC_PER_MINUTE },
                { "s", USEC_PER_SEC }, { "ms", USEC_PER_MSEC }, { "us", 1 },
        };
        const uint64_t all = usec;
        size_t off = 0;

        if (n == 0)
                return buf;
        buf[0] = '\0';
        if (usec == 0) {
                snprintf(buf, n, "0");
                return buf;
        }
        for (size_t i = 0; i < ELEMENTSOF(table) && usec > 0; i++) {
                uint64_t q = usec / table[i].factor;
                int k;

                if (q == 0)
                        continue;
                /* Sub-second parts only when the whole value is below a minute. */
                if (table[i].factor < USEC_PER_SEC && all >= USEC_PER_MINUTE)
                        break;
                k = snprintf(buf + off, n - off, "%s%" PRIu64 "%s", off ? " " : "", q, table[i].suffix);
                if (k < 0 || (size_t) k >= n - off) {
                        buf[off] = '\0'; /* whole parts only */
                        break;
                }
                off += (size_t) k;
                usec -= q * table[i].factor;
        }
        return buf;
}
