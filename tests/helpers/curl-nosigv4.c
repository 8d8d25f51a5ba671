/* SPDX-License-Identifier: MIT */
/*
 * curl-nosigv4.c — a libcurl.so.4 for tests that is the real one
 * ($REAL_LIBCURL, a path) except that it refuses SigV4
 * (CURLOPT_AWS_SIGV4 and CURLAUTH_AWS_SIGV4), as a libcurl older than 7.75
 * or built without AWS support does. Found by LD_LIBRARY_PATH under the
 * name libcurl.so.4; every function the program loads is passed on.
 */

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void *real(const char *name) {
        static void *dl;
        void *f;

        if (!dl) {
                const char *path = getenv("REAL_LIBCURL");

                dl = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
                if (!dl) {
                        fprintf(stderr, "curl-nosigv4: cannot load $REAL_LIBCURL (%s)\n", path ? dlerror() : "unset");
                        abort();
                }
        }
        f = dlsym(dl, name);
        if (!f)
                abort();
        return f;
}

#define PASS(type, name, params, args) \
        type name params { return ((type (*) params) real(#name)) args; }

PASS(CURL *, curl_easy_init, (void), ())
PASS(CURLcode, curl_easy_perform, (CURL *c), (c))
PASS(void, curl_easy_reset, (CURL *c), (c))
PASS(void, curl_easy_cleanup, (CURL *c), (c))
PASS(const char *, curl_easy_strerror, (CURLcode code), (code))
PASS(struct curl_slist *, curl_slist_append, (struct curl_slist *l, const char *s), (l, s))
PASS(void, curl_slist_free_all, (struct curl_slist *l), (l))
PASS(CURLcode, curl_global_init_mem, (long flags, curl_malloc_callback m, curl_free_callback f,
                                      curl_realloc_callback r, curl_strdup_callback s, curl_calloc_callback c),
     (flags, m, f, r, s, c))

CURLcode curl_easy_getinfo(CURL *c, CURLINFO info, ...) {
        va_list ap;
        void *p;

        va_start(ap, info);
        p = va_arg(ap, void *);
        va_end(ap);
        return ((CURLcode (*)(CURL *, CURLINFO, ...)) real("curl_easy_getinfo"))(c, info, p);
}

/* Each option takes one argument, of the type its number's range says. */
CURLcode curl_easy_setopt(CURL *c, CURLoption o, ...) {
        CURLcode (*f)(CURL *, CURLoption, ...) = (CURLcode (*)(CURL *, CURLoption, ...)) real("curl_easy_setopt");
        CURLcode r;
        va_list ap;

        va_start(ap, o);
        if (o < CURLOPTTYPE_OBJECTPOINT) {
                long v = va_arg(ap, long);
                r = o == CURLOPT_HTTPAUTH && (v & CURLAUTH_AWS_SIGV4) ? CURLE_NOT_BUILT_IN : f(c, o, v);
        } else if (o >= CURLOPTTYPE_OFF_T && o < CURLOPTTYPE_BLOB)
                r = f(c, o, va_arg(ap, curl_off_t));
        else {
                void *v = va_arg(ap, void *);   /* a pointer (to data or a function) */
                r = o == CURLOPT_AWS_SIGV4 ? CURLE_UNKNOWN_OPTION : f(c, o, v);
        }
        va_end(ap);
        return r;
}
