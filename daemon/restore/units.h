/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * units.h — stopping and starting what runs etcd and kube-apiserver on a
 * control-plane node, in the two shapes a node comes in: systemd units,
 * driven over D-Bus with sd-bus (org.freedesktop.systemd1.Manager's
 * LoadUnit, StopUnit and StartUnit with mode "replace", then the unit's
 * ActiveState polled until it settles, bounded by a timeout), and static
 * pods, where the kubelet runs whatever manifest sits in its manifests
 * directory: moving a manifest out stops the pod, moving it back starts it.
 * Manifests are only moved (rename without replacing, both directories
 * fsynced), never rewritten; the one thing read from a manifest is a port
 * flag such as kube-apiserver's --secure-port, by a plain text scan, so
 * that the caller can tell when the pod has gone. Blocking; no logging:
 * every failure comes back as a -errno and, where useful, a message.
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "util/macro.h"

/* Longest manifest read when scanning it for a flag. */
#define UNITS_MANIFEST_MAX_BYTES ((size_t) 1024 * 1024)
/* How often unit states and endpoints are polled while waiting. */
#define UNITS_POLL_USEC (100 * USEC_PER_MSEC)

/* Connect to the system bus. Returns 0 and *ret (release with
 * sd_bus_flush_close_unref()), or a -errno with *ret_error (caller frees)
 * saying why systemd cannot be reached. */
int units_bus_open(sd_bus **ret, char **ret_error);

/* What systemd says about unit: its LoadState ("loaded", "not-found",
 * "masked", …) and ActiveState ("active", "inactive", "failed",
 * "activating", …). Loads the unit if systemd has not yet. Returns 0 with
 * both strings (caller frees), or a -errno with *ret_error (caller frees). */
int units_get_state(sd_bus *bus, const char *unit, char **ret_load_state, char **ret_active_state,
                    char **ret_error);

/* StopUnit(unit, "replace"), then wait until the unit is "inactive" or
 * "failed", at most timeout_usec. Returns 0, -ETIMEDOUT, or another -errno;
 * on failure *ret_error (caller frees) says why. */
int units_stop(sd_bus *bus, const char *unit, uint64_t timeout_usec, char **ret_error);

/* StartUnit(unit, "replace"), then wait until the unit is "active" (0),
 * "failed" or back to "inactive" once its job is gone (-EIO), or
 * timeout_usec passed (-ETIMEDOUT). On failure *ret_error (caller frees)
 * says why. */
int units_start(sd_bus *bus, const char *unit, uint64_t timeout_usec, char **ret_error);

/* Move from_dir/file to to_dir/file (same file system), never replacing an
 * existing file (-EEXIST), then fsync both directories. -ENOENT when the
 * manifest is not there, -EXDEV across file systems. */
int units_manifest_move(const char *from_dir, const char *to_dir, const char *file);

/* Scan the manifest at path for `flag` ("--secure-port") followed by '='
 * and a port number; the first occurrence counts. *ret is default_port when
 * the flag is absent. Returns 0, -EBADMSG for a flag with a bad number,
 * -EFBIG for a manifest over UNITS_MANIFEST_MAX_BYTES, or an open/read
 * error. */
int units_manifest_port(const char *path, const char *flag, uint16_t default_port, uint16_t *ret);

/* The same for an address flag ("--bind-address"): *ret (caller frees) is
 * where a local client reaches the listener: the flag's IPv4 or IPv6
 * literal, "127.0.0.1" when the flag is absent or 0.0.0.0, "::1" for ::.
 * -EBADMSG when the value is not an IP address. */
int units_manifest_address(const char *path, const char *flag, char **ret);

/* Try one TCP connection to address (an IPv4 or IPv6 literal) and port,
 * giving up after timeout_usec. Returns 1 when it was accepted, 0 when it
 * was refused, reset or timed out (nothing answers), -EINVAL for an address
 * that is not a literal, or another -errno. */
int units_tcp_probe(const char *address, uint16_t port, uint64_t timeout_usec);
