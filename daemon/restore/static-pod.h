/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * static-pod.h — static pods: the kubelet runs whatever manifest sits in its
 * manifests directory; moving a manifest out stops the pod, moving it back
 * starts it. Manifests are only moved, never rewritten; the flags the
 * restore needs (kube-apiserver's port and address) are read from them
 * with the manifest reader (manifest.h).
 * Blocking; no logging.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "restore/manifest.h"

/* Move from_dir/file to to_dir/file (same file system), never replacing an
 * existing file (-EEXIST), then fsync both directories. -ENOENT when the
 * manifest is not there, -EXDEV across file systems. *ret_moved says
 * whether the file is now in to_dir: true on success, and also when only
 * the fsync failed, so that the caller knows where the manifest is. */
int static_pod_manifest_move(const char *from_dir, const char *to_dir, const char *file, bool *ret_moved);

/* The reason a move failed, for a message: strerror(-r), or, when the file
 * did move, that it moved but the directories could not be synced. */
const char *static_pod_move_reason(int r, bool moved, char *buf, size_t size);

/* Whether manifest dir/file is there (*ret_present) and, when it is, where
 * its pod serves: *ret_port, the --secure-port as the pod reads it (the last
 * occurrence; --flag=value or --flag value; default_port when absent; 0 when
 * it is 0: the pod serves no secure port), and *ret_address (caller frees),
 * where a local client reaches it: the --bind-address IPv4 or IPv6 literal,
 * "127.0.0.1" when absent or 0.0.0.0, "::1" for ::. Returns 0, -EBADMSG for
 * a manifest that is not a pod or a flag with a bad value, -EFBIG for a
 * manifest over MANIFEST_MAX_BYTES, or an open/read error; *ret_error
 * (caller frees) names the file, line and value. */
int static_pod_serving(const char *dir, const char *file, uint16_t default_port, bool *ret_present,
                       uint16_t *ret_port, char **ret_address, char **ret_error);

/* The port and address flags of a command line already read: a pod's or,
 * through manifest_from_argv(), a systemd unit's ExecStart=, as above (a
 * port of 0 refused unless allow_zero). Errors name m->file (and the flag's
 * line when it has one). */
int command_port(const Manifest *m, const char *flag, uint16_t default_port, bool allow_zero, uint16_t *ret,
                 char **ret_error);
int command_address(const Manifest *m, const char *flag, char **ret, char **ret_error);
