/* SPDX-License-Identifier: MIT */
/*
 * curl-dl.c — libcurl, loaded when it is first needed (see curl-dl.h).
 */

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/curl-dl.h"
#include "util/macro.h"
#include "util/str.h"

/* The soname of libcurl 7.x and 8.x (Debian: libcurl4). */
#define CURL_SONAME "libcurl.so.4"

CURL *(*sym_curl_easy_init)(void);
CURLcode (*sym_curl_easy_setopt)(CURL *curl, CURLoption option, ...);
CURLcode (*sym_curl_easy_perform)(CURL *curl);
CURLcode (*sym_curl_easy_getinfo)(CURL *curl, CURLINFO info, ...);
void (*sym_curl_easy_reset)(CURL *curl);
void (*sym_curl_easy_cleanup)(CURL *curl);
const char *(*sym_curl_easy_strerror)(CURLcode code);
struct curl_slist *(*sym_curl_slist_append)(struct curl_slist *list, const char *s);
void (*sym_curl_slist_free_all)(struct curl_slist *list);

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_result = -EIO;
static char load_error[512];

/*
 * libcurl's memory is wiped when libcurl frees it. It holds copies of the S3
 * secret (CURLOPT_PASSWORD, SigV4's "AWS4" + secret key and the HMAC state)
 * and frees them without wiping; a core dump or a later reader of the heap
 * would find them. Only libcurl's own allocations go through these.
 */
static void wiping_free(void *p) {
        if (!p)
                return;
        explicit_bzero(p, malloc_usable_size(p));
        free(p);
}

static void *wiping_realloc(void *p, size_t n) {
        size_t old;
        void *q;

        if (!p)
                return malloc(n);
        old = malloc_usable_size(p);
        if (n != 0 && n <= old)
                return p;
        q = malloc(n ? n : 1);
        if (!q)
                return NULL;
        memcpy(q, p, MIN(old, n));
        wiping_free(p);
        return q;
}

static void load(void) {
        const struct {
                const char *name;
                void **sym;
        } table[] = {
                { "curl_easy_init", (void **) &sym_curl_easy_init },
                { "curl_easy_setopt", (void **) &sym_curl_easy_setopt },
                { "curl_easy_perform", (void **) &sym_curl_easy_perform },
                { "curl_easy_getinfo", (void **) &sym_curl_easy_getinfo },
                { "curl_easy_reset", (void **) &sym_curl_easy_reset },
                { "curl_easy_cleanup", (void **) &sym_curl_easy_cleanup },
                { "curl_easy_strerror", (void **) &sym_curl_easy_strerror },
                { "curl_slist_append", (void **) &sym_curl_slist_append },
                { "curl_slist_free_all", (void **) &sym_curl_slist_free_all },
        };
        CURLcode (*global_init_mem)(long flags, curl_malloc_callback m, curl_free_callback f,
                                    curl_realloc_callback r, curl_strdup_callback s, curl_calloc_callback c);
        void *dl;

        /* Never closed: the library stays for the life of the process. */
        dl = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!dl) {
                snprintf(load_error, sizeof load_error, "cannot load libcurl (%s; the package libcurl4 provides it)",
                         dlerror());
                load_result = -ENOENT;
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                *table[i].sym = dlsym(dl, table[i].name);
                if (!*table[i].sym) {
                        snprintf(load_error, sizeof load_error, "cannot load libcurl: %s lacks %s", CURL_SONAME,
                                 table[i].name);
                        load_result = -ENOSYS;
                        return;
                }
        }
        *(void **) &global_init_mem = dlsym(dl, "curl_global_init_mem");
        if (!global_init_mem ||
            global_init_mem(CURL_GLOBAL_DEFAULT, malloc, wiping_free, wiping_realloc, strdup, calloc) !=
                    CURLE_OK) {
                snprintf(load_error, sizeof load_error, "cannot initialise libcurl");
                load_result = -EIO;
                return;
        }
        load_result = 0;
}

int curl_dl_load(char **ret_error) {
        (void) pthread_once(&load_once, load);
        if (load_result < 0)
                free_and_format(ret_error, "%s", load_error);
        return load_result;
}
