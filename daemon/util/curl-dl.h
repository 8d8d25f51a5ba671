/* SPDX-License-Identifier: MIT */
/*
 * curl-dl.h — libcurl, loaded when it is first needed.
 *
 * Only the S3 upload and the restore's /readyz probe speak HTTP through
 * libcurl (etcd's gRPC goes through etcd/etcd.c). libcurl brings some
 * twenty libraries (GnuTLS, Kerberos, LDAP, SSH, RTMP) that a backup
 * otherwise never maps: about 5 MiB of a backup's resident memory, and
 * code that has no business in the process holding etcd's client key. So
 * it is opened with dlopen() on first use, and the programs call it
 * through the sym_ pointers below.
 */
#pragma once

#include <curl/curl.h>

/* dlopen libcurl.so.4 and run curl_global_init(), once per process
 * (thread-safe). 0, or a negative errno with *ret_error saying why (caller
 * frees; may be NULL). */
int curl_dl_load(char **ret_error);

extern CURL *(*sym_curl_easy_init)(void);
extern CURLcode (*sym_curl_easy_setopt)(CURL *curl, CURLoption option, ...);
extern CURLcode (*sym_curl_easy_perform)(CURL *curl);
extern CURLcode (*sym_curl_easy_getinfo)(CURL *curl, CURLINFO info, ...);
extern void (*sym_curl_easy_reset)(CURL *curl);
extern void (*sym_curl_easy_cleanup)(CURL *curl);
extern const char *(*sym_curl_easy_strerror)(CURLcode code);
extern struct curl_slist *(*sym_curl_slist_append)(struct curl_slist *list, const char *s);
extern void (*sym_curl_slist_free_all)(struct curl_slist *list);
