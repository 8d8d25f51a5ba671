/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * proof.h — which process answers, and what it has open: the checks that
 * prove etcd runs on the data a restore put in place. The process that
 * listens on etcd's client port is found through /proc/net/tcp{,6} (the
 * listening socket's inode) and /proc/<pid>/fd (the process holding that
 * socket); whether it holds a file open is told by the device and inode of
 * each of its descriptors. Reads /proc of this network and PID namespace;
 * no logging.
 */

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* An IPv4 or IPv6 address, as a client URL's host may be written. */
typedef struct ProofAddress {
        int family;                     /* AF_INET or AF_INET6 */
        union {
                struct in_addr in;
                struct in6_addr in6;
        };
} ProofAddress;

/* The port of an etcd client URL ("https://127.0.0.1:2379",
 * "https://[::1]:2379", "https://node"): the number after the host, 2379
 * when there is none. 0, or -EINVAL for a URL without "://" or with a bad
 * port. */
int proof_url_port(const char *url, uint16_t *ret);

/* The host of an etcd client URL when it is an IP literal
 * ("https://127.0.0.2:2379", "https://[::1]:2379"; an IPv6 zone,
 * "[fe80::1%eth0]", is left out; an IPv4-mapped IPv6 address is the IPv4
 * address a connection to it goes to): returns 1 and fills *ret; 0 when it
 * is a name ("https://node:2379"), -EINVAL for a URL without "://". */
int proof_url_address(const char *url, ProofAddress *ret);

/* Whether a is an address of this host (its network namespace): loopback
 * (127.0.0.0/8, ::1), or an address of one of its interfaces. false when
 * the interfaces cannot be listed. */
bool proof_address_is_local(const ProofAddress *a);
/* The same, telling "not" from "cannot tell": 1 local, 0 not, -errno when
 * the interfaces cannot be listed. */
int proof_address_locality(const ProofAddress *a);

/* The processes that listen on TCP port, IPv4 or IPv6 (several members of
 * a cluster on one host share a port on different addresses): with address
 * NULL on any local address, else those a connection to address reaches
 * (bound to it, to its family's any-address, or to "::" for IPv4 too). Their
 * PIDs into pids (at most max), in /proc's order. Returns how many, 0 when
 * no such listening socket is held by a process we can see, or -errno when
 * /proc/net/tcp cannot be read. */
ssize_t proof_listener_pids(uint16_t port, const ProofAddress *address, pid_t *pids, size_t max);

/* Whether process pid has the file (dev, ino) open. Returns 1 yes, 0 no,
 * -ESRCH when the process is gone, or another -errno (its fds cannot be
 * read). */
int proof_holds_file(pid_t pid, dev_t dev, ino_t ino);

/* The etcd db that process pid holds open: a file whose path, as that
 * process sees it (its mount namespace), ends in "/member/snap/db". Where
 * it holds several, one that is still linked first. Returns 1 with its path
 * (" (deleted)" removed; cut to size) and its stat (st_nlink 0: it is no
 * longer linked), 0 when it holds none, -ESRCH when the process is gone, or
 * another -errno (its fds cannot be read). */
int proof_held_db(pid_t pid, char *path, size_t size, struct stat *ret_st);
