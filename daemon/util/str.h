/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * str.h — string helpers: NULL-terminated string vectors (strv), prefix and
 * suffix tests, hex encoding, path joining. Allocating helpers return NULL
 * on out-of-memory; none of them logs.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/macro.h"

char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

size_t strv_length(char *const *l);
/* Appends a copy of s; returns 0 or -ENOMEM. */
int strv_extend(char ***l, const char *s);
/* Appends s itself, taking ownership (freed on failure too). */
int strv_consume(char ***l, char *s);

/* A list built by appending, each in amortised constant time (strv_extend() walks the list and reallocates it
 * each time: a directory of 100000 backups made that quadratic). v is the NULL-terminated list (NULL while empty),
 * n its length; take v when done, or strv_builder_done(). */
typedef struct StrvBuilder {
        char **v;
        size_t n, allocated;
} StrvBuilder;
/* Appends s itself, taking ownership (freed on failure too); returns 0 or -ENOMEM. */
int strv_builder_consume(StrvBuilder *b, char *s);
/* Appends a copy of s; returns 0 or -ENOMEM. */
int strv_builder_extend(StrvBuilder *b, const char *s);
void strv_builder_done(StrvBuilder *b);

/* The value of name in env ("KEY=VALUE" entries, may be NULL): the last
 * assignment wins, as in systemd's environment. NULL when not there. */
const char *strv_env_get(char *const *env, const char *name);
bool strv_contains(char *const *l, const char *s);

/* Returns a pointer past the prefix, or NULL. */
const char *startswith(const char *s, const char *prefix);
bool endswith(const char *s, const char *suffix);

/* Lower-case hex of n bytes; out must hold 2*n+1 bytes. Returns out. */
char *hexencode(const void *data, size_t n, char *out);

/* "a" + "/" + "b" (one slash between); NULL on ENOMEM. */
char *path_join(const char *a, const char *b);

/* strdup() that accepts NULL and returns NULL for it. */
char *strdup_or_null(const char *s);

/* Replace *dst (freed) with a newly formatted string; on ENOMEM *dst
 * becomes NULL. dst may be NULL (nothing happens). Returns 0 and leaves
 * errno as it was (also on ENOMEM: test *dst for that), so that
 * `return free_and_format(ret_error, "…"), -EIO;`
 * reads naturally, and `…, -errno;` still returns the caller's error. */
int free_and_format(char **dst, const char *fmt, ...) _printf_(2, 3);

/* Append a newly formatted string to *dst, after "; " when *dst is not
 * NULL (a list of problems, each said once). On ENOMEM *dst stays as it
 * was. errno is left as it was. */
void append_format(char **dst, const char *fmt, ...) _printf_(2, 3);

/* Replace *dst with a copy of src (src may be NULL). 0 or -ENOMEM. */
int free_and_strdup(char **dst, const char *src);

/* A copy of s in which every byte that does not start a valid UTF-8
 * sequence (overlong forms, surrogates and code points past U+10FFFF are
 * invalid) is replaced by U+FFFD. Caller frees; NULL on ENOMEM. */
char *utf8_sanitize(const char *s);

/* The length of s's longest prefix of at most max bytes that does not end
 * within a UTF-8 character (for cutting text that must stay valid UTF-8). */
size_t utf8_prefix_len(const char *s, size_t max);

/* Makes s, in place, safe to print on a terminal: every control character
 * (C0, DEL, C1), bidi embedding, override, isolate or mark, and every byte that
 * does not start valid UTF-8 becomes '?' (one per byte). Other UTF-8 is
 * kept. Returns whether anything was replaced. */
bool str_make_terminal_safe(char *s);

/* Whether the n bytes at s hold a code point a terminal acts on rather than
 * shows, C0 controls aside (DEL, C1, a bidi control or mark), or a byte
 * that does not start valid UTF-8. */
bool str_needs_terminal_escape(const char *s, size_t n);

/* Write JSON or YAML text (n bytes) to f with each code point
 * str_needs_terminal_escape() finds written as the escape \uXXXX (a byte
 * that starts no UTF-8 as \ufffd). Both read it back as the same string
 * where it stands within a JSON string or a double-quoted YAML scalar, and a
 * terminal shows it as it is. C0 controls are left: JSON and libyaml's
 * writers escape them within strings, and outside them they are the text's
 * own line breaks. Nothing is copied. 0, or -EIO when f fails. */
int fwrite_for_terminal(const char *text, size_t n, FILE *f);

/* Untrusted text (n bytes at s) for a message, in buf: printable ASCII
 * only (anything else '?'), cut short with "..." to fit bufsize (> 4).
 * Returns buf. */
const char *str_printable(char *buf, size_t bufsize, const void *s, size_t n);
