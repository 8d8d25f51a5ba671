/* SPDX-License-Identifier: MIT */
/*
 * envfile.c — KEY=VALUE lines of a systemd EnvironmentFile= (envfile.h).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format/envfile.h"
#include "util/str.h"

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

/* One line of n bytes at p: its assignment appended to *env, or nothing. */
static int env_file_line(const char *p, size_t n, char ***env) {
        const char *end, *eq, *key_end, *v, *v_end;
        char *kv = NULL;

        while (n > 0 && is_blank(*p))
                p++, n--;
        if (n == 0 || *p == '#' || *p == ';')
                return 0;
        end = p + n;
        eq = memchr(p, '=', n);
        if (!eq || eq == p)
                return 0;
        for (key_end = eq; key_end > p && is_blank(key_end[-1]); key_end--)
                ;
        for (v = eq + 1; v < end && is_blank(*v); v++)
                ;
        for (v_end = end; v_end > v && (is_blank(v_end[-1]) || v_end[-1] == '\r'); v_end--)
                ;
        if (v_end - v >= 2 && (*v == '"' || *v == '\'') && v_end[-1] == *v) {
                v++;
                v_end--;
        }
        kv = malloc((size_t) (key_end - p) + 1 + (size_t) (v_end - v) + 1);
        if (!kv)
                return -ENOMEM;
        memcpy(kv, p, (size_t) (key_end - p));
        kv[key_end - p] = '=';
        memcpy(kv + (key_end - p) + 1, v, (size_t) (v_end - v));
        kv[(key_end - p) + 1 + (v_end - v)] = '\0';
        return strv_consume(env, kv);
}

int env_file_parse(const char *text, size_t size, char ***env) {
        const char *end = text + size;
        int r;

        if (memchr(text, '\0', size))
                return -EBADMSG;
        for (const char *line = text; line < end;) {
                size_t left = (size_t) (end - line);
                const char *nl = memchr(line, '\n', left);

                r = env_file_line(line, nl ? (size_t) (nl - line) : left, env);
                if (r < 0)
                        return r;
                if (!nl)
                        break;
                line = nl + 1;
        }
        return 0;
}
