/* SPDX-License-Identifier: MIT */
/*
 * test-str.c — util/str: string vectors and their builder, prefix and suffix tests, hex,
 * path joining and the replace-a-string helpers.
 */

#include <errno.h>
#include <stdlib.h>

#include "test.h"
#include "util/str.h"

static void test_strv(void) {
        _cleanup_strv_free_ char **l = NULL;

        check_int_eq(strv_length(NULL), 0);
        check(!strv_contains(NULL, "a"));
        check_int_eq(strv_extend(&l, "a"), 0);
        check_int_eq(strv_extend(&l, "b"), 0);
        check_int_eq(strv_consume(&l, strdup("c")), 0);
        check_int_eq(strv_length(l), 3);
        check_str_eq(l[0], "a");
        check_str_eq(l[2], "c");
        check(l[3] == NULL);
        check(strv_contains(l, "b"));
        check(!strv_contains(l, "d"));
        check(!strv_contains(l, ""));
        check(strv_free(NULL) == NULL);
}

static void test_strv_builder(void) {
        _cleanup_(strv_builder_done) StrvBuilder b = {};

        check_int_eq(strv_builder_consume(&b, NULL), -ENOMEM);
        check(!b.v && b.n == 0);
        for (unsigned i = 0; i < 1000; i++) {
                char s[16];

                snprintf(s, sizeof s, "%u", i);
                check_int_eq(i % 2 ? strv_builder_extend(&b, s) : strv_builder_consume(&b, strdup(s)), 0);
                check(b.v[i + 1] == NULL);
        }
        check_int_eq(b.n, 1000);
        check_int_eq(strv_length(b.v), 1000);
        check_str_eq(b.v[0], "0");
        check_str_eq(b.v[999], "999");
        check(b.allocated >= 1001 && b.allocated <= 2048);      /* doubled, not grown by one */
        strv_builder_done(&b);
        check(!b.v && b.n == 0 && b.allocated == 0);
        check_int_eq(strv_builder_extend(&b, "again"), 0);
        check(b.n == 1 && streq(b.v[0], "again") && !b.v[1]);
}

static void test_startswith_endswith(void) {
        const char *s = "https://host";

        check(startswith(s, "https://") == s + 8);
        check(startswith(s, "") == s);
        check(!startswith(s, "http:/x"));
        check(!startswith("ht", "http"));
        check(endswith("a.db.zst", ".zst"));
        check(endswith("a.db.zst", ""));
        check(!endswith("zst", ".zst"));
        check(!endswith("a.db.zst.json", ".zst"));
}

static void test_hexencode(void) {
        const unsigned char data[] = { 0x00, 0x01, 0xab, 0xff };
        char out[2 * sizeof data + 1];

        check_str_eq(hexencode(data, sizeof data, out), "0001abff");
        check_str_eq(hexencode(data, 0, out), "");
}

static void test_path_join(void) {
        static const struct {
                const char *a, *b, *joined;
        } cases[] = {
                { "/var/lib", "x", "/var/lib/x" },
                { "/var/lib/", "x", "/var/lib/x" },
                { "/var/lib//", "/x", "/var/lib/x" },
                { "dir", "a/b", "dir/a/b" },
                { "/", "x", "/x" },
                { "/", "/x", "/x" },
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                _cleanup_free_ char *j = path_join(cases[i].a, cases[i].b);
                check_str_eq(j, cases[i].joined);
        }
}

static void test_replace(void) {
        _cleanup_free_ char *s = NULL;

        check(strdup_or_null(NULL) == NULL);
        check_int_eq(free_and_strdup(&s, "one"), 0);
        check_str_eq(s, "one");
        check_int_eq(free_and_strdup(&s, NULL), 0);
        check(s == NULL);
        check_int_eq(free_and_format(&s, "%s-%d", "two", 2), 0);
        check_str_eq(s, "two-2");
        check_int_eq(free_and_format(&s, "%s", "three"), 0);
        check_str_eq(s, "three");
        check_int_eq(free_and_format(NULL, "%s", "ignored"), 0);
}

static void test_append_format(void) {
        _cleanup_free_ char *s = NULL;

        append_format(&s, "first %d", 1);
        check_str_eq(s, "first 1");
        append_format(&s, "%s", "second");
        check_str_eq(s, "first 1; second");
        append_format(&s, "%s", "");
        check_str_eq(s, "first 1; second; ");
}

static void test_terminal_safe(void) {
        static const struct {
                const char *in, *out;
                bool changed;
        } cases[] = {
                { "plain text: 10% done", "plain text: 10% done", false },
                { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", false },
                { "\x1b[31mred\x1b[0m", "?[31mred?[0m", true },
                { "a\tb\nc\rd\x7f", "a?b?c?d?", true },
                { "\xc2\x9b" "2J", "??2J", true },                     /* C1 CSI */
                { "\xc2\xa0nbsp", "\xc2\xa0nbsp", false },            /* U+00A0 is not a control */
                { "x\xe2\x80\xaey", "x???y", true },                   /* U+202E RIGHT-TO-LEFT OVERRIDE */
                { "x\xe2\x81\xa6y\xe2\x81\xa9", "x???y???", true }, /* U+2066, U+2069 isolates */
                { "x\xe2\x80\xa9y", "x\xe2\x80\xa9y", false },      /* U+2029, just before them */
                { "a\xe2\x80\x8e" "b\xe2\x80\x8f" "c", "a???b???c", true }, /* U+200E, U+200F marks */
                { "a\xd8\x9c" "b", "a??b", true },                    /* U+061C ARABIC LETTER MARK */
                /* U+200D, U+2010, U+061B, U+061D: beside them, kept */
                { "\xe2\x80\x8d\xe2\x80\x90\xd8\x9b\xd8\x9d", "\xe2\x80\x8d\xe2\x80\x90\xd8\x9b\xd8\x9d", false },
                { "\xff\xfe", "??", true },
                { "\xc3", "?", true },                                  /* cut sequence */
                { "\xc0\xaf", "??", true },                            /* overlong '/' */
                { "", "", false },
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                _cleanup_free_ char *s = strdup(cases[i].in);
                check(s);
                check_int_eq(str_make_terminal_safe(s), cases[i].changed);
                check_str_eq(s, cases[i].out);
        }
}

static void test_fwrite_for_terminal(void) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                /* C0 and the rest are left: the writers escape C0 within strings; outside them it is layout */
                { "{\n  \"a\": \"caf\xc3\xa9 \xe2\x82\xac\\u001b\"\n}",
                  "{\n  \"a\": \"caf\xc3\xa9 \xe2\x82\xac\\u001b\"\n}" },
                { "\"a\x7f" "b\"", "\"a\\u007fb\"" },
                { "\"\xc2\x9b" "2J\xc2\x85\"", "\"\\u009b2J\\u0085\"" },             /* C1 CSI, NEL */
                { "\"\xc2\xa0\"", "\"\xc2\xa0\"" },                                  /* U+00A0: shown */
                { "\"x\xe2\x80\xaey\"", "\"x\\u202ey\"" },
                { "\xe2\x81\xa6\xe2\x81\xa9\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c",
                  "\\u2066\\u2069\\u200e\\u200f\\u061c" },
                { "\xe2\x80\xa9\xe2\x80\x8d\xd8\x9b", "\xe2\x80\xa9\xe2\x80\x8d\xd8\x9b" },        /* beside them */
                { "a\xff" "b\xc3", "a\\ufffdb\\ufffd" },                                /* not UTF-8 */
                { "", "" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *out = NULL;
                size_t n = 0;
                FILE *f = open_memstream(&out, &n);

                check(f != NULL);
                check_int_eq(fwrite_for_terminal(cases[i].in, strlen(cases[i].in), f), 0);
                check(fclose(f) == 0);
                check_str_eq(out, cases[i].out);
                check_int_eq(n, strlen(cases[i].out));
                check_int_eq(str_needs_terminal_escape(cases[i].in, strlen(cases[i].in)),
                             !streq(cases[i].in, cases[i].out));
                free(out);
        }
        /* A NUL inside the bytes given is kept, with what follows. */
        {
                char *out = NULL;
                size_t n = 0;
                FILE *f = open_memstream(&out, &n);

                check(f != NULL);
                check_int_eq(fwrite_for_terminal("a\0\x7f", 3, f), 0);
                check(fclose(f) == 0);
                check(n == 8 && memcmp(out, "a\0\\u007f", 8) == 0);
                free(out);
        }
        /* A stream that fails. */
        {
                FILE *f = fopen("/dev/full", "we");

                check(f != NULL);
                setvbuf(f, NULL, _IONBF, 0);
                check_int_eq(fwrite_for_terminal("plain", 5, f), -EIO);
                check_int_eq(fwrite_for_terminal("\x7f", 1, f), -EIO);
                fclose(f);
        }
}

/* A cut never ends within a character: "é" is two bytes, "€" three. */
static void test_utf8_prefix_len(void) {
        check_int_eq(utf8_prefix_len("abc", 10), 3);
        check_int_eq(utf8_prefix_len("abc", 2), 2);
        check_int_eq(utf8_prefix_len("a\xc3\xa9", 2), 1);
        check_int_eq(utf8_prefix_len("a\xc3\xa9", 3), 3);
        check_int_eq(utf8_prefix_len("\xe2\x82\xac!", 1), 0);
        check_int_eq(utf8_prefix_len("\xe2\x82\xac!", 2), 0);
        check_int_eq(utf8_prefix_len("\xe2\x82\xac!", 3), 3);
        check_int_eq(utf8_prefix_len("", 0), 0);
        /* Bytes that are no UTF-8: at most three left out. */
        check_int_eq(utf8_prefix_len("ab\x80\x80\x80\x80\x80", 6), 3);
}

int main(void) {
        TEST_RUN(test_strv);
        TEST_RUN(test_strv_builder);
        TEST_RUN(test_startswith_endswith);
        TEST_RUN(test_hexencode);
        TEST_RUN(test_path_join);
        TEST_RUN(test_replace);
        TEST_RUN(test_append_format);
        TEST_RUN(test_terminal_safe);
        TEST_RUN(test_fwrite_for_terminal);
        TEST_RUN(test_utf8_prefix_len);
        return 0;
}
