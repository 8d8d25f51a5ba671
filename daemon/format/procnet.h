/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * procnet.h — one line of the kernel's /proc/net/tcp or /proc/net/tcp6:
 * the local address and port, the state and the socket's inode (the
 * number a process's /proc/PID/fd/N link names as "socket:[INODE]"). Pure:
 * the caller reads the file.
 */

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* st column of a listening socket. */
#define PROCNET_TCP_LISTEN 0x0A

typedef struct ProcNetTcp {
        int family;                     /* AF_INET or AF_INET6 */
        union {
                struct in_addr in;
                struct in6_addr in6;
        } local;
        uint16_t local_port;
        unsigned state;
        uint64_t inode;
} ProcNetTcp;

/* Parse one line of n bytes (no newline needed): "  sl: LOCAL:PORT
 * REMOTE:PORT ST ... UID TIMEOUT INODE ...", LOCAL being 8 hex digits
 * (tcp) or 32 (tcp6), each 32-bit group the kernel's in-memory word.
 * Returns 0 and fills *ret, or -EBADMSG (the header line, or anything
 * else). */
int procnet_tcp_parse_line(const char *line, size_t n, ProcNetTcp *ret);
