/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * tcp.h — whether something listens on an address and port, and a host
 * name's addresses looked up within a deadline.
 */

#include <netdb.h>
#include <stdint.h>

/* Try one TCP connection to address (an IPv4 or IPv6 literal) and port,
 * giving up after timeout_usec. Returns 1 when it was accepted, 0 when it
 * was refused, reset or timed out (nothing answers), -EINVAL for an address
 * that is not a literal, or another -errno. */
int tcp_probe(const char *address, uint16_t port, uint64_t timeout_usec);

/* The addresses of host (a name or an IPv4/IPv6 literal) and port (a
 * number) for a TCP connection, in getaddrinfo(3)'s order; the lookup gives
 * up at deadline (CLOCK_MONOTONIC, µs). Returns 0 with *ret set (free it
 * with freeaddrinfo()), -ETIMEDOUT when the resolver did not answer in time,
 * or -EHOSTUNREACH with *ret_gai_error the lookup's EAI_* (EAI_SYSTEM: the
 * errno in *ret_errno, or 0 when the lookup's own thread met it). */
int tcp_resolve(const char *host, const char *port, uint64_t deadline, struct addrinfo **ret, int *ret_gai_error,
                int *ret_errno);
