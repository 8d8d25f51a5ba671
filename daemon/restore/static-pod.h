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

/* The port number of `flag` ("--secure-port") in the manifest at path, as
 * kube-apiserver reads it (the last occurrence; --flag=value or --flag
 * value). *ret is default_port when the flag is absent. Returns 0, -EBADMSG
 * for a manifest that is not a pod or a flag with a bad number, -EFBIG for
 * a manifest over MANIFEST_MAX_BYTES, or an open/read error; *ret_error
 * (optional, caller frees) names the file, line and value. */
int static_pod_manifest_port(const char *path, const char *flag, uint16_t default_port, uint16_t *ret,
                             char **ret_error);

/* The same for an address flag ("--bind-address"): *ret (caller frees) is
 * where a local client reaches the listener: the flag's IPv4 or IPv6
 * literal, "127.0.0.1" when the flag is absent or 0.0.0.0, "::1" for ::.
 * -EBADMSG when the value is not an IP address. */
int static_pod_manifest_address(const char *path, const char *flag, char **ret, char **ret_error);

/* The same two for a command line already read: a pod's or, through
 * manifest_from_argv(), a systemd unit's ExecStart=. Errors name m->file
 * (and the flag's line when it has one). */
int command_port(const Manifest *m, const char *flag, uint16_t default_port, uint16_t *ret, char **ret_error);
int command_address(const Manifest *m, const char *flag, char **ret, char **ret_error);
