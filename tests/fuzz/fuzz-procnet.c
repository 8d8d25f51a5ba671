/* SPDX-License-Identifier: MIT */
/*
 * fuzz-procnet.c — libFuzzer target for the /proc/net/tcp{,6} line parser:
 * any bytes, split into lines as proof.c splits the file. A parsed line has
 * a family of AF_INET or AF_INET6 and a state that fits the two hex digits
 * it came from. The same bytes, up to a NUL, as an etcd client URL (the
 * configuration's endpoint) for proof.c's port and address: a port is
 * never 0, an address has one of the two families. And the bytes as
 * /proc/self/mountinfo for util/proc.c: a mount found below /var/lib/etcd
 * is strictly below it.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "format/procnet.h"
#include "fuzz.h"
#include "restore/proof.h"
#include "util/proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *p = (const char *) data, *end = p + size;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t n = nl ? (size_t) (nl - p) : (size_t) (end - p);
                ProcNetTcp t;

                if (procnet_tcp_parse_line(p, n, &t) == 0 &&
                    ((t.family != AF_INET && t.family != AF_INET6) || t.state > 0xff))
                        abort();
                p += n + 1;
        }

        FILE *f = size ? fmemopen((void *) data, size, "r") : NULL;
        char *mount = NULL;

        if (f) {
                if (proc_mount_below(f, "/var/lib/etcd", &mount) == 1 &&
                    (strncmp(mount, "/var/lib/etcd/", 14) != 0 || !mount[14]))
                        abort();
                free(mount);
                fclose(f);
        }

        char *url = strndup((const char *) data, size);
        ProofAddress a;
        uint16_t port;

        if (!url)
                return 0;
        if (proof_url_port(url, &port) == 0 && port == 0)
                abort();
        if (proof_url_address(url, &a) == 1 && a.family != AF_INET && a.family != AF_INET6)
                abort();
        free(url);
        return 0;
}
