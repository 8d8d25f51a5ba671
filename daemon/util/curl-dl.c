/* SPDX-License-Identifier: MIT */
/*
 * curl-dl.c — libcurl, loaded when it is first needed (see curl-dl.h).
 */

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

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
        CURLcode (*global_init)(long flags);
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
        *(void **) &global_init = dlsym(dl, "curl_global_init");
        if (!global_init || global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
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
