/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * static-pod.h — static pods: the kubelet runs whatever manifest sits in its
 * manifests directory; moving a manifest out stops the pod, moving it back
 * starts it. Manifests are only moved, never rewritten; the flags the
 * restore needs (kube-apiserver's port and address) are read from them.
 * Blocking; no logging.
 */

#include <stdint.h>

/* Longest manifest read when scanning it for a flag. */
#define STATIC_POD_MANIFEST_MAX_BYTES ((size_t) 1024 * 1024)

/* Move from_dir/file to to_dir/file (same file system), never replacing an
 * existing file (-EEXIST), then fsync both directories. -ENOENT when the
 * manifest is not there, -EXDEV across file systems. */
int static_pod_manifest_move(const char *from_dir, const char *to_dir, const char *file);

/* Scan the manifest at path for `flag` ("--secure-port") followed by '='
 * and a port number; the first occurrence counts. *ret is default_port when
 * the flag is absent. Returns 0, -EBADMSG for a flag with a bad number,
 * -EFBIG for a manifest over STATIC_POD_MANIFEST_MAX_BYTES, or an open/read
 * error. */
int static_pod_manifest_port(const char *path, const char *flag, uint16_t default_port, uint16_t *ret);

/* The same for an address flag ("--bind-address"): *ret (caller frees) is
 * where a local client reaches the listener: the flag's IPv4 or IPv6
 * literal, "127.0.0.1" when the flag is absent or 0.0.0.0, "::1" for ::.
 * -EBADMSG when the value is not an IP address. */
int static_pod_manifest_address(const char *path, const char *flag, char **ret);
