/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * test.h — the unit-test vocabulary: check macros that print FILE:LINE and
 * the failing expression, then abort (so ASan/UBSan runs and meson see the
 * failure), and a runner macro that prints one line per test case.
 */

#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define check(expr)                                                                   \
        do {                                                                          \
                if (!(expr)) {                                                        \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,        \
                                __LINE__, #expr);                                     \
                        abort();                                                      \
                }                                                             \
        } while (0)

#define check_int_eq(a, b)                                                            \
        do {                                                                          \
                long long _a = (long long) (a), _b = (long long) (b);                 \
                if (_a != _b) {                                                       \
                        fprintf(stderr, "%s:%d: check failed: %s == %s (%lld != %lld)\n", \
                                __FILE__, __LINE__, #a, #b, _a, _b);                  \
                        abort();                                                      \
                }                                                                     \
        } while (0)

#define check_u64_eq(a, b)                                                            \
        do {                                                                          \
                uint64_t _a = (uint64_t) (a), _b = (uint64_t) (b);                    \
                if (_a != _b) {                                                       \
                        fprintf(stderr, "%s:%d: check failed: %s == %s (%" PRIu64     \
                                " != %" PRIu64 ")\n", __FILE__, __LINE__, #a, #b, _a, _b); \
                        abort();                                                      \
                }                                                                     \
        } while (0)

#define check_str_eq(a, b)                                                            \
        do {                                                                          \
                const char *_a = (a), *_b = (b);                                      \
                if (!_a || !_b || strcmp(_a, _b) != 0) {                              \
                        fprintf(stderr, "%s:%d: check failed: %s == %s (\"%s\" != \"%s\")\n", \
                                __FILE__, __LINE__, #a, #b, _a ? _a : "(null)",       \
                                _b ? _b : "(null)");                                  \
                        abort();                                                      \
                }                                                                     \
        } while (0)

/* Run one test function and report it. */
#define TEST_RUN(fn)                              \
        do {                                      \
                fn();                             \
                printf("ok %s\n", #fn);           \
        } while (0)

/* The path of tests/fixtures/<name> (caller frees): from TOP_SRCDIR, which
 * meson sets, else beside this header. */
static inline char *test_fixture_path(const char *name) {
        const char *top = getenv("TOP_SRCDIR");
        char *path = NULL;

        if (top && *top)
                check(asprintf(&path, "%s/tests/fixtures/%s", top, name) >= 0);
        else {
                char *src = strdup(__FILE__);
                check(src);
                check(asprintf(&path, "%s/fixtures/%s", dirname(src), name) >= 0);
                free(src);
        }
        return path;
}
