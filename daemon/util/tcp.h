/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * tcp.h — whether something listens on an address and port.
 */

#include <stdint.h>

/* Try one TCP connection to address (an IPv4 or IPv6 literal) and port,
 * giving up after timeout_usec. Returns 1 when it was accepted, 0 when it
 * was refused, reset or timed out (nothing answers), -EINVAL for an address
 * that is not a literal, or another -errno. */
int tcp_probe(const char *address, uint16_t port, uint64_t timeout_usec);
