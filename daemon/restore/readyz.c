/* SPDX-License-Identifier: MIT */
/*
 * readyz.c — one readiness probe of kube-apiserver (readyz.h).
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "build-config.h"
#include "restore/readyz.h"
#include "util/curl-dl.h"
#include "util/macro.h"
#include "util/str.h"

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata) {
        return size * nmemb;    /* the body ("ok") is not needed: the status says it */
}

int readyz_probe(const char *address, uint16_t port, const char *cacert, uint64_t timeout_usec, char **ret_why) {
        char url[128], resolve[128], errbuf[CURL_ERROR_SIZE] = "";
        struct curl_slist *pin = NULL;
        bool v6 = strchr(address, ':');
        long status = 0;
        CURL *curl;
        CURLcode rc;

        /* The name in the URL, the address in a CURLOPT_RESOLVE entry: the
         * certificate is checked for the name, the connection goes here. */
        snprintf(url, sizeof url, "https://" READYZ_SERVER_NAME ":%u/readyz", (unsigned) port);
        snprintf(resolve, sizeof resolve, READYZ_SERVER_NAME ":%u:%s%s%s", (unsigned) port, v6 ? "[" : "", address,
                 v6 ? "]" : "");
        if (curl_dl_load(ret_why) < 0)
                return -ENOENT;
        curl = sym_curl_easy_init();
        if (!curl)
                return -ENOMEM;
        pin = sym_curl_slist_append(NULL, resolve);
        if (!pin) {
                sym_curl_easy_cleanup(curl);
                return -ENOMEM;
        }
        sym_curl_easy_setopt(curl, CURLOPT_URL, url);
        sym_curl_easy_setopt(curl, CURLOPT_RESOLVE, pin);
        sym_curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
        sym_curl_easy_setopt(curl, CURLOPT_USERAGENT, "etcd-backupd/" PACKAGE_VERSION);
        sym_curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
        sym_curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
        sym_curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        sym_curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
        sym_curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
        sym_curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
        sym_curl_easy_setopt(curl, CURLOPT_CAINFO, cacert);
        sym_curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
        sym_curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long) (timeout_usec / USEC_PER_MSEC));
        sym_curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long) (timeout_usec / USEC_PER_MSEC));
        rc = sym_curl_easy_perform(curl);
        if (rc == CURLE_OK)
                sym_curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        sym_curl_easy_cleanup(curl);
        sym_curl_slist_free_all(pin);
        if (rc != CURLE_OK)
                return free_and_format(ret_why, "%s", *errbuf ? errbuf : sym_curl_easy_strerror(rc)),
                       ret_why && !*ret_why ? -ENOMEM : 0;
        if (status != 200)
                return free_and_format(ret_why, "/readyz answers HTTP %ld", status), ret_why && !*ret_why ? -ENOMEM : 0;
        return 1;
}
