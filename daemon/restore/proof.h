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

#include <stdint.h>
#include <sys/types.h>

/* The port of an etcd client URL ("https://127.0.0.1:2379",
 * "https://[::1]:2379", "https://node"): the number after the host, 2379
 * when there is none. 0, or -EINVAL for a URL without "://" or with a bad
 * port. */
int proof_url_port(const char *url, uint16_t *ret);

/* The processes that listen on TCP port (any local address, IPv4 or IPv6:
 * several members of a cluster on one host share a port on different
 * addresses): their PIDs into pids (at most max), in /proc's order. Returns
 * how many, 0 when no listening socket on that port is held by a process we
 * can see, or -errno when /proc/net/tcp cannot be read. */
ssize_t proof_listener_pids(uint16_t port, pid_t *pids, size_t max);

/* Whether process pid has the file (dev, ino) open. Returns 1 yes, 0 no,
 * -ESRCH when the process is gone, or another -errno (its fds cannot be
 * read). */
int proof_holds_file(pid_t pid, dev_t dev, ino_t ino);
