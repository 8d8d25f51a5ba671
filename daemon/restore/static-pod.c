/* SPDX-License-Identifier: MIT */
/*
 * static-pod.c — static pods: the kubelet runs whatever manifest sits in its
 * manifests directory, so moving a manifest out stops the pod and moving it
 * back starts it. Manifests are only moved (rename without replacing, both
 * directories fsynced), never rewritten; the flags read from a manifest
 * (kube-apiserver's --secure-port and --bind-address) come from the
 * manifest reader (manifest.h), as kube-apiserver reads its command line.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "restore/manifest.h"
#include "restore/static-pod.h"
#include "util/io.h"
#include "util/path.h"
#include "util/str.h"

int static_pod_manifest_move(const char *from_dir, const char *to_dir, const char *file, bool *ret_moved) {
        _cleanup_close_ int from_fd = -EBADF, to_fd = -EBADF;

        *ret_moved = false;
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
        *ret_moved = true;
        /* Durable before anyone relies on it: a crash must not resurrect the pod. */
        if (fsync(to_fd) < 0 || fsync(from_fd) < 0)
                return -errno;
        return 0;
}

const char *static_pod_move_reason(int r, bool moved, char *buf, size_t size) {
        if (!moved)
                return strerror(-r);
        snprintf(buf, size, "the file moved, but the directories could not be synced: %s", strerror(-r));
        return buf;
}

int command_port(const Manifest *m, const char *flag, uint16_t default_port, bool allow_zero, uint16_t *ret,
                 char **ret_error) {
        unsigned line = 0;
        const char *value = manifest_flag(m, flag, &line);
        uint32_t port = 0;
        size_t digits = 0;

        if (!value) {
                *ret = default_port;
                return 0;
        }
        for (const char *p = value; *p; p++, digits++) {
                if (*p < '0' || *p > '9' || digits >= 5)
                        break;
                port = port * 10 + (uint32_t) (*p - '0');
        }
        if (digits == 0 || value[digits] || (port == 0 && !allow_zero) || port > 65535)
                return free_and_format(ret_error, "%s%s%.0u: %s=%s is not a port number", m->file, line ? ":" : "",
                                       line, flag, value), -EBADMSG;
        *ret = (uint16_t) port;
        return 0;
}

int command_address(const Manifest *m, const char *flag, char **ret, char **ret_error) {
        unsigned line = 0;
        const char *value = manifest_flag(m, flag, &line);
        struct in6_addr a6;
        struct in_addr a4;

        if (!value || inet_pton(AF_INET, value, &a4) == 1) {
                if (!value || a4.s_addr == htonl(INADDR_ANY))
                        return (*ret = strdup("127.0.0.1")) ? 0 : -ENOMEM;
        } else if (inet_pton(AF_INET6, value, &a6) == 1) {
                if (IN6_IS_ADDR_UNSPECIFIED(&a6))
                        return (*ret = strdup("::1")) ? 0 : -ENOMEM;
        } else
                return free_and_format(ret_error, "%s%s%.0u: %s=%s is not an IP address", m->file, line ? ":" : "",
                                       line, flag, value), -EBADMSG;
        *ret = strdup(value);
        return *ret ? 0 : -ENOMEM;
}

int static_pod_serving(const char *dir, const char *file, uint16_t default_port, bool *ret_present,
                       uint16_t *ret_port, char **ret_address, char **ret_error) {
        _cleanup_(manifest_freep) Manifest *m = NULL;
        _cleanup_free_ char *path = path_join(dir, file);
        int r;

        if (!path)
                return -ENOMEM;
        *ret_address = NULL;
        r = access(path, F_OK) < 0 ? -errno : 0;
        *ret_present = r == 0;
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return free_and_format(ret_error, "cannot look for %s: %s", path, strerror(-r)), r;
        r = manifest_load(path, &m, ret_error);
        if (r >= 0) {
                manifest_kubernetes_flag_names(m);
                r = command_port(m, "--secure-port", default_port, true, ret_port, ret_error);
        }
        if (r >= 0)
                r = command_address(m, "--bind-address", ret_address, ret_error);
        return r;
}
