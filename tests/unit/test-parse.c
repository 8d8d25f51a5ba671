/* SPDX-License-Identifier: MIT */
/*
 * test-parse.c — util/parse: the strict number, size and duration parsers
 * and the formatters whose output reads back; util/time's poll backoff.
 */

#include <errno.h>

#include "test.h"
#include "util/macro.h"
#include "util/parse.h"
#include "util/time.h"

static void test_safe_atou64(void) {
        uint64_t v = 7;

        check_int_eq(safe_atou64("0", &v), 0);
        check_u64_eq(v, 0);
        check_int_eq(safe_atou64("18446744073709551615", &v), 0);
        check_u64_eq(v, UINT64_MAX);
        v = 7;
        check_int_eq(safe_atou64("18446744073709551616", &v), -ERANGE);
        check_int_eq(safe_atou64("", &v), -EINVAL);
        check_int_eq(safe_atou64(NULL, &v), -EINVAL);
        check_int_eq(safe_atou64("-1", &v), -EINVAL);
        check_int_eq(safe_atou64("+1", &v), -EINVAL);
        check_int_eq(safe_atou64(" 1", &v), -EINVAL);
        check_int_eq(safe_atou64("1 ", &v), -EINVAL);
        check_int_eq(safe_atou64("12x", &v), -EINVAL);
        check_int_eq(safe_atou64("0x10", &v), -EINVAL);
        check_u64_eq(v, 7); /* untouched on failure */
}

static void test_parse_size(void) {
        static const struct {
                const char *s;
                uint64_t bytes;
        } good[] = {
                { "0", 0 }, { "4096", 4096 }, { "1B", 1 }, { "512K", 512 * 1024 }, { "1KiB", 1024 },
                { "64M", UINT64_C(64) << 20 }, { "64MB", UINT64_C(64) << 20 }, { "1G", UINT64_C(1) << 30 },
                { "1GiB", UINT64_C(1) << 30 }, { "2T", UINT64_C(2) << 40 },
                { "16777215T", UINT64_C(16777215) << 40 },
        };
        static const struct {
                const char *s;
                int r;
        } bad[] = {
                { "", -EINVAL }, { "M", -EINVAL }, { "1 M", -EINVAL }, { "1m", -EINVAL }, { "1.5G", -EINVAL },
                { "-1", -EINVAL }, { "1P", -EINVAL }, { "1GiBs", -EINVAL }, { "16777216T", -ERANGE },
                { "99999999999999999999", -ERANGE },
        };
        uint64_t v;

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                v = 1;
                check_int_eq(parse_size(good[i].s, &v), 0);
                check_u64_eq(v, good[i].bytes);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                v = 1;
                if (parse_size(bad[i].s, &v) != bad[i].r) {
                        fprintf(stderr, "parse_size(\"%s\") did not return %d\n", bad[i].s, bad[i].r);
                        check(false);
                }
                check_u64_eq(v, 1);
        }
        check_int_eq(parse_size(NULL, &v), -EINVAL);
}

static void test_parse_duration(void) {
        static const struct {
                const char *s;
                uint64_t usec;
        } good[] = {
                { "0", 0 }, { "30s", 30 * USEC_PER_SEC }, { "5min", 5 * USEC_PER_MINUTE },
                { "2h", 2 * USEC_PER_HOUR }, { "7d", 7 * USEC_PER_DAY }, { "1w", 7 * USEC_PER_DAY },
                { "1h30min", USEC_PER_HOUR + 30 * USEC_PER_MINUTE }, { "1h 30min", 90 * USEC_PER_MINUTE },
                { "250ms", 250 * USEC_PER_MSEC }, { "10us", 10 }, { "3sec", 3 * USEC_PER_SEC },
                { "2m", 2 * USEC_PER_MINUTE }, { "1 day", USEC_PER_DAY },
        };
        static const struct {
                const char *s;
                int r;
        } bad[] = {
                { "", -EINVAL }, { "5", -EINVAL }, { "s", -EINVAL }, { "5x", -EINVAL }, { "5mins", -EINVAL },
                { "-5s", -EINVAL }, { "1.5h", -EINVAL }, { "30s junk", -EINVAL },
                { "999999999999999999d", -ERANGE }, { "18446744073709551615us 1us", -ERANGE },
        };
        uint64_t v;

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                v = 1;
                if (parse_duration(good[i].s, &v) != 0 || v != good[i].usec) {
                        fprintf(stderr, "parse_duration(\"%s\") = %" PRIu64 "\n", good[i].s, v);
                        check(false);
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                v = 1;
                if (parse_duration(bad[i].s, &v) != bad[i].r) {
                        fprintf(stderr, "parse_duration(\"%s\") did not return %d\n", bad[i].s, bad[i].r);
                        check(false);
                }
                check_u64_eq(v, 1);
        }
        check_int_eq(parse_duration(NULL, &v), -EINVAL);
}

static void test_format_bytes(void) {
        char buf[FORMAT_BYTES_MAX];

        check_str_eq(format_bytes(buf, sizeof buf, 0), "0 B");
        check_str_eq(format_bytes(buf, sizeof buf, 1023), "1023 B");
        check_str_eq(format_bytes(buf, sizeof buf, 1024), "1.0 KiB");
        check_str_eq(format_bytes(buf, sizeof buf, 1536), "1.5 KiB");
        check_str_eq(format_bytes(buf, sizeof buf, UINT64_C(41) << 20), "41.0 MiB");
        check_str_eq(format_bytes(buf, sizeof buf, UINT64_C(1) << 30), "1.0 GiB");
        check_str_eq(format_bytes(buf, sizeof buf, UINT64_MAX), "16.0 EiB");
}

static void test_format_duration(void) {
        const uint64_t values[] = { 5 * USEC_PER_SEC, 90 * USEC_PER_MINUTE, USEC_PER_DAY + USEC_PER_HOUR,
                                    250 * USEC_PER_MSEC, 7, 59 * USEC_PER_SEC };
        char buf[FORMAT_DURATION_MAX];
        uint64_t back;

        check_str_eq(format_duration(buf, sizeof buf, 0), "0");
        check_str_eq(format_duration(buf, sizeof buf, 5 * USEC_PER_SEC), "5s");
        check_str_eq(format_duration(buf, sizeof buf, 90 * USEC_PER_MINUTE), "1h 30min");
        check_str_eq(format_duration(buf, sizeof buf, 250 * USEC_PER_MSEC), "250ms");
        check_str_eq(format_duration(buf, sizeof buf, 1500 * USEC_PER_MSEC), "1s 500ms");
        /* Sub-second parts are dropped once there are minutes. */
        check_str_eq(format_duration(buf, sizeof buf, USEC_PER_MINUTE + 1), "1min");
        /* What is printed reads back. */
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                check_int_eq(parse_duration(format_duration(buf, sizeof buf, values[i]), &back), 0);
                check_u64_eq(back, values[i]);
        }
        /* Too small a buffer: cut, terminated. */
        check_str_eq(format_duration(buf, 4, 90 * USEC_PER_MINUTE), "1h");
}

static void test_backoff_next(void) {
        uint64_t d = POLL_FIRST_USEC, sum = 0;
        unsigned n = 0;

        check_u64_eq(backoff_next(10000, 200000), 20000);
        check_u64_eq(backoff_next(80000, 200000), 160000);
        check_u64_eq(backoff_next(160000, 200000), 200000);
        check_u64_eq(backoff_next(200000, 200000), 200000);
        check_u64_eq(backoff_next(UINT64_MAX, 200000), 200000);
        check_u64_eq(backoff_next(0, 200000), POLL_FIRST_USEC);   /* never stuck at 0 */
        check_u64_eq(backoff_next(0, 1000), 1000);
        /* A change 1 s in is seen at most one max wait late. */
        while (sum < 1000000) {
                sum += d;
                d = backoff_next(d, 200000);
                n++;
        }
        check_u64_eq(sum, 1110000);
        check_int_eq((int) n, 9);
}

int main(void) {
        TEST_RUN(test_safe_atou64);
        TEST_RUN(test_parse_size);
        TEST_RUN(test_parse_duration);
        TEST_RUN(test_format_bytes);
        TEST_RUN(test_format_duration);
        TEST_RUN(test_backoff_next);
        return 0;
}
