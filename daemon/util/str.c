/* SPDX-License-Identifier: MIT */
/*
 * str.c — string vectors and small string helpers (see str.h).
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"

char **strv_free(char **l) {
        if (!l)
                return NULL;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l) {
        size_t n = 0;
        if (!l)
                return 0;
        while (l[n])
                n++;
        return n;
}

int strv_consume(char ***l, char *s) {
        size_t n = strv_length(*l);
        char **nl;

        if (!s)
                return -ENOMEM;
        nl = realloc(*l, sizeof(char *) * (n + 2));
        if (!nl) {
                free(s);
                return -ENOMEM;
        }
        nl[n] = s;
        nl[n + 1] = NULL;
        *l = nl;
        return 0;
}

int strv_builder_consume(StrvBuilder *b, char *s) {
        if (!s)
                return -ENOMEM;
        if (b->n + 2 > b->allocated) {
                size_t a = MAX(b->allocated * 2, (size_t) 16);
                char **nv = reallocarray(b->v, a, sizeof *nv);

                if (!nv) {
                        free(s);
                        return -ENOMEM;
                }
                b->v = nv;
                b->allocated = a;
        }
        b->v[b->n++] = s;
        b->v[b->n] = NULL;
        return 0;
}

int strv_builder_extend(StrvBuilder *b, const char *s) {
        return strv_builder_consume(b, strdup(s));
}

void strv_builder_done(StrvBuilder *b) {
        strv_free(b->v);
        *b = (StrvBuilder) {};
}

const char *strv_env_get(char *const *env, const char *name) {
        size_t n = strlen(name);

        for (size_t i = strv_length(env); i > 0; i--)
                if (strncmp(env[i - 1], name, n) == 0 && env[i - 1][n] == '=')
                        return env[i - 1] + n + 1;
        return NULL;
}

int strv_extend(char ***l, const char *s) {
        return strv_consume(l, strdup(s));
}

bool strv_contains(char *const *l, const char *s) {
        if (!l)
                return false;
        for (char *const *i = l; *i; i++)
                if (streq(*i, s))
                        return true;
        return false;
}

const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        if (strncmp(s, prefix, l) != 0)
                return NULL;
        return s + l;
}

bool endswith(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

char *hexencode(const void *data, size_t n, char *out) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *p = data;

        for (size_t i = 0; i < n; i++) {
                out[2 * i] = hex[p[i] >> 4];
                out[2 * i + 1] = hex[p[i] & 15];
        }
        out[2 * n] = '\0';
        return out;
}

char *path_join(const char *a, const char *b) {
        size_t la = strlen(a), lb;
        char *r;

        while (la > 1 && a[la - 1] == '/')
                la--;
        while (*b == '/')
                b++;
        lb = strlen(b);
        r = malloc(la + 1 + lb + 1);
        if (!r)
                return NULL;
        /* "/" + "x" is "/x", not "//x". */
        if (la == 1 && a[0] == '/')
                la = 0;
        memcpy(r, a, la);
        r[la] = '/';
        memcpy(r + la + 1, b, lb + 1);
        return r;
}

char *strdup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

int free_and_strdup(char **dst, const char *src) {
        char *c = NULL;
        if (src) {
                c = strdup(src);
                if (!c)
                        return -ENOMEM;
        }
        free(*dst);
        *dst = c;
        return 0;
}

int free_and_format(char **dst, const char *fmt, ...) {
        int saved_errno = errno;
        va_list ap;
        char *s = NULL;

        if (!dst)
                return 0;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        free(*dst);
        *dst = s;
        errno = saved_errno;
        return 0;
}

void append_format(char **dst, const char *fmt, ...) {
        int saved_errno = errno;
        va_list ap;
        char *s = NULL, *joined;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        if (s && !*dst) {
                *dst = s;
                s = NULL;
        } else if (s && asprintf(&joined, "%s; %s", *dst, s) >= 0) {
                free(*dst);
                *dst = joined;
        }
        free(s);
        errno = saved_errno;
}

/* The length of the valid UTF-8 sequence at p (n bytes left) and its code point, or 0 when p starts none. */
static size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *ret_cp) {
        size_t len;
        uint32_t cp;

        if (p[0] < 0x80) {
                *ret_cp = p[0];
                return 1;
        }
        if ((p[0] & 0xe0) == 0xc0)
                len = 2, cp = p[0] & 0x1f;
        else if ((p[0] & 0xf0) == 0xe0)
                len = 3, cp = p[0] & 0x0f;
        else if ((p[0] & 0xf8) == 0xf0)
                len = 4, cp = p[0] & 0x07;
        else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        *ret_cp = cp;
        return len;
}

static size_t utf8_len(const unsigned char *p, size_t n) {
        uint32_t cp;

        return utf8_decode(p, n, &cp);
}

/* What a terminal acts on rather than shows, beyond the C0 controls: DEL and the C1 controls (U+0080..U+009F) move
 * its cursor or start its escape sequences; the bidi embeddings, overrides and isolates (U+202A..U+202E,
 * U+2066..U+2069) reorder what is shown after them, and the bidi marks (U+200E, U+200F, U+061C) the text beside
 * them. */
static bool terminal_acts_on(uint32_t cp) {
        return cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x61c || cp == 0x200e || cp == 0x200f ||
               (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

char *utf8_sanitize(const char *s) {
        static const char replacement[] = "\xef\xbf\xbd";    /* U+FFFD */
        const unsigned char *p = (const unsigned char *) s;
        size_t n = strlen(s), k = 0;
        char *out;

        if (n > (SIZE_MAX - 1) / 3)
                return NULL;
        out = malloc(n * 3 + 1);
        if (!out)
                return NULL;
        while (n > 0) {
                size_t len = utf8_len(p, n);
                if (len == 0) {
                        memcpy(out + k, replacement, 3);
                        k += 3;
                        len = 1;
                } else {
                        memcpy(out + k, p, len);
                        k += len;
                }
                p += len;
                n -= len;
        }
        out[k] = '\0';
        return out;
}

size_t utf8_prefix_len(const char *s, size_t max) {
        size_t n = strnlen(s, max);

        /* The first byte left out continues a character: leave out its start too (at most 3 bytes back). */
        for (unsigned i = 0; i < 3 && n > 0 && s[n] && ((unsigned char) s[n] & 0xC0) == 0x80; i++)
                n--;
        return n;
}

bool str_make_terminal_safe(char *s) {
        unsigned char *p = (unsigned char *) s;
        size_t n = strlen(s);
        bool changed = false;

        while (n > 0) {
                uint32_t cp = 0;
                size_t len = utf8_decode(p, n, &cp);
                bool unsafe = len == 0 || cp < 0x20 || terminal_acts_on(cp);

                if (len == 0)
                        len = 1;
                if (unsafe) {
                        memset(p, '?', len);
                        changed = true;
                }
                p += len;
                n -= len;
        }
        return changed;
}

bool str_needs_terminal_escape(const char *s, size_t n) {
        const unsigned char *p = (const unsigned char *) s;

        while (n > 0) {
                uint32_t cp = 0;
                size_t len = utf8_decode(p, n, &cp);

                if (len == 0 || terminal_acts_on(cp))
                        return true;
                p += len;
                n -= len;
        }
        return false;
}

int fwrite_for_terminal(const char *text, size_t n, FILE *f) {
        const unsigned char *p = (const unsigned char *) text;
        size_t i = 0, run = 0;

        /* Runs of what is shown as it is go out in one fwrite(); nothing is copied. */
        while (i < n) {
                uint32_t cp = 0;
                size_t len = utf8_decode(p + i, n - i, &cp);

                if (len != 0 && !terminal_acts_on(cp)) {
                        i += len;
                        continue;
                }
                if (fwrite(p + run, 1, i - run, f) != i - run ||
                    fprintf(f, "\\u%04x", len == 0 ? 0xfffdU : (unsigned) cp) < 0)
                        return -EIO;
                i += len == 0 ? 1 : len;
                run = i;
        }
        return fwrite(p + run, 1, n - run, f) == n - run ? 0 : -EIO;
}

const char *str_printable(char *buf, size_t bufsize, const void *s, size_t n) {
        const uint8_t *p = s;
        size_t o = 0;

        for (size_t i = 0; i < n && o + 4 < bufsize; i++)
                buf[o++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char) p[i] : '?';
        if (n > 0 && o + 4 >= bufsize && o < n) {
                memcpy(buf + o, "...", 3);
                o += 3;
        }
        buf[o] = 0;
        return buf;
}
