/* SPDX-License-Identifier: MIT */
/*
 * fuzz-manifest.c — libFuzzer target for what the static-pod restore reads
 * out of kube-apiserver's manifest: --secure-port and --bind-address. An
 * address it returns must be an IP literal the probe accepts.
 */

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "restore/static-pod.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int fd = -1;
        unsigned char buf[sizeof(struct in6_addr)];
        char path[64], *address = NULL;
        uint16_t port = 0;

        if (fd < 0)
                fd = memfd_create("manifest", MFD_CLOEXEC);
        if (fd < 0 || ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t) size)
                abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        if (static_pod_manifest_port(path, "--secure-port", 6443, &port) == 0 && port == 0)
                abort();
        if (static_pod_manifest_address(path, "--bind-address", &address) == 0) {
                if (!address || (inet_pton(AF_INET, address, buf) != 1 && inet_pton(AF_INET6, address, buf) != 1))
                        abort();
                free(address);
        }
        return 0;
}
