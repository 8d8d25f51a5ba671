/* SPDX-License-Identifier: MIT */
/*
 * static-pod.c — static pods: the kubelet runs whatever manifest sits in its
 * manifests directory, so moving a manifest out stops the pod and moving it
 * back starts it. Manifests are only moved (rename without replacing, both
 * directories fsynced), never rewritten; the flags read from a manifest
 * (kube-apiserver's --secure-port and --bind-address) are found by a plain
 * text scan.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "restore/static-pod.h"
#include "util/io.h"
#include "util/str.h"

int static_pod_manifest_move(const char *from_dir, const char *to_dir, const char *file) {
        _cleanup_close_ int from_fd = -EBADF, to_fd = -EBADF;
        int r;

        if (strchr(file, '/') || streq(file, ".") || streq(file, ".."))
                return -EINVAL;
        from_fd = open(from_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (from_fd < 0)
                return -errno;
        to_fd = open(to_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (to_fd < 0)
                return -errno;
        if (renameat2(from_fd, file, to_fd, file, RENAME_NOREPLACE) < 0)
                return -errno;
        /* Durable before anyone relies on it: a crash must not resurrect the pod. */
        if (fsync(to_fd) < 0 || fsync(from_fd) < 0) {
                r = -errno;
                return r;
        }
        return 0;
}

/* The value of `flag=` in the manifest at path, up to a blank, quote, comma or bracket (YAML list items may be
 * quoted); *ret is NULL when the flag is not there. The first occurrence counts. */
static int manifest_flag(const char *path, const char *flag, char **ret) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0, flag_len = strlen(flag);
        const char *p;
        int r;

        r = read_full_file(path, STATIC_POD_MANIFEST_MAX_BYTES, &text, &size);
        if (r < 0)
                return r;
        for (p = text; (p = memmem(p, size - (size_t) (p - text), flag, flag_len)); p += flag_len) {
                size_t n;

                if (p[flag_len] != '=')
                        continue;
                p += flag_len + 1;
                n = strcspn(p, " \t\r\n\"',]#");
                *ret = strndup(p, n);
                return *ret ? 0 : -ENOMEM;
        }
        *ret = NULL;
        return 0;
}

int static_pod_manifest_port(const char *path, const char *flag, uint16_t default_port, uint16_t *ret) {
        _cleanup_free_ char *value = NULL;
        uint32_t port = 0;
        size_t digits = 0;
        int r;

        r = manifest_flag(path, flag, &value);
        if (r < 0)
                return r;
        if (!value) {
                *ret = default_port;
                return 0;
        }
        for (const char *p = value; *p; p++, digits++) {
                if (*p < '0' || *p > '9' || digits >= 5)
                        return -EBADMSG;
                port = port * 10 + (uint32_t) (*p - '0');
        }
        if (digits == 0 || port == 0 || port > 65535)
                return -EBADMSG;
        *ret = (uint16_t) port;
        return 0;
}

int static_pod_manifest_address(const char *path, const char *flag, char **ret) {
        _cleanup_free_ char *value = NULL;
        struct in6_addr a6;
        struct in_addr a4;
        int r;

        r = manifest_flag(path, flag, &value);
        if (r < 0)
                return r;
        if (!value || inet_pton(AF_INET, value, &a4) == 1) {
                if (!value || a4.s_addr == htonl(INADDR_ANY))
                        return (*ret = strdup("127.0.0.1")) ? 0 : -ENOMEM;
        } else if (inet_pton(AF_INET6, value, &a6) == 1) {
                if (IN6_IS_ADDR_UNSPECIFIED(&a6))
                        return (*ret = strdup("::1")) ? 0 : -ENOMEM;
        } else
                return -EBADMSG;
        *ret = TAKE_PTR(value);
        return 0;
}
