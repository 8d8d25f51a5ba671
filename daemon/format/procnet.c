/* SPDX-License-Identifier: MIT */
/*
 * procnet.c — parse a line of /proc/net/tcp{,6} (procnet.h). The kernel
 * prints each address as 32-bit words in host order (%08X of the word as it
 * lies in memory), so the bytes of the parsed word, copied as they are, are
 * the address in network order on any host.
 */

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "format/procnet.h"

static int hex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* Exactly len hex digits at *p (len <= 16), advancing *p. */
static int hex_fixed(const char **p, const char *end, size_t len, uint64_t *ret) {
        uint64_t v = 0;

        if ((size_t) (end - *p) < len)
                return -EBADMSG;
        for (size_t i = 0; i < len; i++) {
                int d = hex_digit((*p)[i]);
                if (d < 0)
                        return -EBADMSG;
                v = v << 4 | (uint64_t) d;
        }
        *p += len;
        *ret = v;
        return 0;
}

/* One or more digits in base (10 or 16), at most 16 of them, advancing *p. */
static int number(const char **p, const char *end, unsigned base, uint64_t *ret) {
        uint64_t v = 0;
        size_t k = 0;

        while (*p < end && k < 20) {
                int d = hex_digit(**p);
                if (d < 0 || (unsigned) d >= base)
                        break;
                if (v > (UINT64_MAX - (uint64_t) d) / base)
                        return -EBADMSG;
                v = v * base + (uint64_t) d;
                (*p)++, k++;
        }
        if (k == 0 || (*p < end && hex_digit(**p) >= 0 && (unsigned) hex_digit(**p) < base))
                return -EBADMSG;
        *ret = v;
        return 0;
}

static void skip_spaces(const char **p, const char *end) {
        while (*p < end && (**p == ' ' || **p == '\t'))
                (*p)++;
}

/* A field of non-blanks. */
static int skip_field(const char **p, const char *end) {
        const char *s = *p;

        while (*p < end && **p != ' ' && **p != '\t' && **p != '\n')
                (*p)++;
        return *p > s ? 0 : -EBADMSG;
}

static int expect(const char **p, const char *end, char c) {
        if (*p >= end || **p != c)
                return -EBADMSG;
        (*p)++;
        return 0;
}

int procnet_tcp_parse_line(const char *line, size_t n, ProcNetTcp *ret) {
        const char *p = line, *end = line + n, *addr;
        ProcNetTcp t = {};
        size_t addr_len;
        uint64_t v;

        skip_spaces(&p, end);
        if (number(&p, end, 10, &v) < 0 || expect(&p, end, ':') < 0)
                return -EBADMSG;        /* also the header: "sl  local_address ..." */
        skip_spaces(&p, end);
        addr = p;
        while (p < end && hex_digit(*p) >= 0)
                p++;
        addr_len = (size_t) (p - addr);
        if (addr_len == 8) {
                uint32_t w;
                const char *q = addr;
                t.family = AF_INET;
                if (hex_fixed(&q, p, 8, &v) < 0)
                        return -EBADMSG;
                w = (uint32_t) v;
                memcpy(&t.local.in, &w, sizeof w);
        } else if (addr_len == 32) {
                const char *q = addr;
                t.family = AF_INET6;
                for (size_t i = 0; i < 4; i++) {
                        uint32_t w;
                        if (hex_fixed(&q, p, 8, &v) < 0)
                                return -EBADMSG;
                        w = (uint32_t) v;
                        memcpy((uint8_t *) &t.local.in6 + 4 * i, &w, sizeof w);
                }
        } else
                return -EBADMSG;
        if (expect(&p, end, ':') < 0 || hex_fixed(&p, end, 4, &v) < 0)
                return -EBADMSG;
        t.local_port = (uint16_t) v;
        skip_spaces(&p, end);
        if (skip_field(&p, end) < 0)            /* remote address:port */
                return -EBADMSG;
        skip_spaces(&p, end);
        if (hex_fixed(&p, end, 2, &v) < 0)      /* st */
                return -EBADMSG;
        t.state = (unsigned) v;
        /* tx_queue:rx_queue, tr:tm->when, retrnsmt, uid, timeout, then the inode. */
        for (int i = 0; i < 5; i++) {
                skip_spaces(&p, end);
                if (skip_field(&p, end) < 0)
                        return -EBADMSG;
        }
        skip_spaces(&p, end);
        if (number(&p, end, 10, &t.inode) < 0)
                return -EBADMSG;
        if (p < end && *p != ' ' && *p != '\t' && *p != '\n')
                return -EBADMSG;
        *ret = t;
        return 0;
}
